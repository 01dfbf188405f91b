/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the CPU set and cpulist parser/formatter. */
#include <stdbool.h>
#include <qpin/cpuset.h>
#include "qpin-check.h"

#include <string.h>

static char *roundtrip(const char *text)
{
    GError *error = NULL;
    TopoCpuSet *set = topo_cpuset_parse(text, &error);
    ck_assert_msg(set != NULL, "parse '%s' failed: %s", text, error ? error->message : "?");
    char *out = topo_cpuset_format(set);
    topo_cpuset_free(set);
    return out;
}

static void assert_parse_fails(const char *text, int code, const char *needle)
{
    GError *error = NULL;
    TopoCpuSet *set = topo_cpuset_parse(text, &error);
    ck_assert_msg(set == NULL, "'%s' parsed but must fail", text);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(error->domain == TOPO_ERROR && error->code == code,
                  "'%s': wrong error code %d (%s)", text, error->code, error->message);
    ck_assert_msg(strstr(error->message, needle), "'%s': message '%s' lacks '%s'", text,
                  error->message, needle);
    g_error_free(error);
}

START_TEST(test_parse_forms)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"0", "0"},
        {"0-3", "0-3"},
        {"0-3,8,10-11", "0-3,8,10-11"},
        {"3,2,1,0", "0-3"},
        {"0-7:2", "0,2,4,6"},
        {"0-8:4", "0,4,8"},
        {"1-1", "1"},
        {"5,5,5", "5"},
        {"0-3,2-5", "0-5"},
        {"0-271", "0-271"},
        {"0-1\n", "0-1"},
        {"  4-5  ", "4-5"},
        {"", ""},
        {"\n", ""},
        {"8191", "8191"},
        {"0-10:3", "0,3,6,9"},
        {"2,70,138,206,3-5", "2-5,70,138,206"},
        {"007", "7"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *out = roundtrip(cases[i].in);
        ck_assert_str_eq(out, cases[i].out);
        g_free(out);
    }
}
END_TEST

START_TEST(test_parse_errors)
{
    assert_parse_fails("a", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("1,", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails(",1", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("1,,2", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("3-1", TOPO_ERROR_PARSE, "reversed range");
    assert_parse_fails("0-7:0", TOPO_ERROR_PARSE, "stride");
    assert_parse_fails("0-7:", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("1:2", TOPO_ERROR_PARSE, "unexpected ':'");
    assert_parse_fails("-1", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("1-", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("0x3", TOPO_ERROR_PARSE, "unexpected 'x'");
    assert_parse_fails("1 2", TOPO_ERROR_PARSE, "unexpected ' '");
    assert_parse_fails("+1", TOPO_ERROR_PARSE, "expected a number");
    assert_parse_fails("8192", TOPO_ERROR_RANGE, "too large");
    assert_parse_fails("0-8192", TOPO_ERROR_RANGE, "too large");
    assert_parse_fails("99999999999999999999999", TOPO_ERROR_RANGE, "too large");
    assert_parse_fails("18446744073709551617", TOPO_ERROR_RANGE, "too large");
    assert_parse_fails("0-3,x", TOPO_ERROR_PARSE, "expected a number");
}
END_TEST

START_TEST(test_no_partial_result)
{
    GError *error = NULL;
    ck_assert_ptr_null(topo_cpuset_parse("0-3,7-5", &error));
    ck_assert_ptr_nonnull(error);
    g_error_free(error);
}
END_TEST

START_TEST(test_random_roundtrip)
{
    GRand *rand = g_rand_new_with_seed(20261122);
    for (int round = 0; round < 2000; round++) {
        TopoCpuSet *set = topo_cpuset_new();
        int limit = g_rand_int_range(rand, 1, TOPO_CPU_MAX);
        int n = g_rand_int_range(rand, 0, 300);
        /* Mix single CPUs and runs so that ranges of every length appear. */
        for (int i = 0; i < n; i++) {
            int c = g_rand_int_range(rand, 0, limit);
            int len = g_rand_boolean(rand) ? 1 : g_rand_int_range(rand, 1, 40);
            for (int k = 0; k < len && c + k < TOPO_CPU_MAX; k++)
                topo_cpuset_add(set, c + k);
        }
        char *text = topo_cpuset_format(set);
        GError *error = NULL;
        TopoCpuSet *back = topo_cpuset_parse(text, &error);
        ck_assert_msg(back != NULL, "reparse of '%s' failed", text);
        ck_assert_msg(topo_cpuset_equal(set, back), "round trip changed '%s'", text);
        char *again = topo_cpuset_format(back);
        ck_assert_str_eq(text, again);
        /* Canonical: no two adjacent items could merge, ranges have at least two CPUs. */
        ck_assert_msg(strstr(text, "--") == NULL, "odd format '%s'", text);
        g_free(again);
        g_free(text);
        topo_cpuset_free(back);
        topo_cpuset_free(set);
    }
    g_rand_free(rand);
}
END_TEST

START_TEST(test_set_algebra)
{
    g_autoptr(TopoCpuSet) a = topo_cpuset_parse("0-7", NULL);
    g_autoptr(TopoCpuSet) b = topo_cpuset_parse("4-11", NULL);
    g_autoptr(TopoCpuSet) u = topo_cpuset_copy(a);
    topo_cpuset_union(u, b);
    g_autofree char *us = topo_cpuset_format(u);
    ck_assert_str_eq(us, "0-11");
    g_autoptr(TopoCpuSet) i = topo_cpuset_copy(a);
    topo_cpuset_intersect(i, b);
    g_autofree char *is = topo_cpuset_format(i);
    ck_assert_str_eq(is, "4-7");
    g_autoptr(TopoCpuSet) d = topo_cpuset_copy(a);
    topo_cpuset_subtract(d, b);
    g_autofree char *ds = topo_cpuset_format(d);
    ck_assert_str_eq(ds, "0-3");
    ck_assert(topo_cpuset_is_subset(i, a));
    ck_assert(!topo_cpuset_is_subset(a, b));
    ck_assert(topo_cpuset_intersects(a, b));
    ck_assert(!topo_cpuset_intersects(d, b));
    ck_assert_int_eq(topo_cpuset_count(u), 12);
    ck_assert_int_eq(topo_cpuset_first(b), 4);
    ck_assert_int_eq(topo_cpuset_last(b), 11);
    ck_assert_int_eq(topo_cpuset_nth(b, 3), 7);
    ck_assert_int_eq(topo_cpuset_nth(b, 8), -1);
    ck_assert(!topo_cpuset_add(a, TOPO_CPU_MAX));
    ck_assert(!topo_cpuset_add(a, -1));
    ck_assert(topo_cpuset_add(a, TOPO_CPU_MAX - 1));
    ck_assert_int_eq(topo_cpuset_last(a), TOPO_CPU_MAX - 1);
    ck_assert_int_eq(topo_cpuset_next(a, TOPO_CPU_MAX - 1), -1);
    g_autoptr(TopoCpuSet) e = topo_cpuset_new();
    ck_assert_int_eq(topo_cpuset_first(e), -1);
    ck_assert_int_eq(topo_cpuset_last(e), -1);
    topo_cpuset_free(NULL);
}
END_TEST

START_TEST(test_affinity_raw)
{
    /* The raw mask goes straight to the kernel. */
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    ck_assert_int_eq(sched_getaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(set)), 0);
    ck_assert_int_eq(topo_cpuset_count(set),
                     CPU_COUNT_S(topo_cpuset_raw_size(), topo_cpuset_raw(set)));
    ck_assert(!topo_cpuset_is_empty(set));
}
END_TEST

START_TEST(test_mask)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoCpuSet) set = topo_cpuset_parse_mask("00000000,80000003\n", &error);
    ck_assert_ptr_nonnull(set);
    g_autofree char *s = topo_cpuset_format(set);
    ck_assert_str_eq(s, "0-1,31");
    g_autoptr(TopoCpuSet) bad = topo_cpuset_parse_mask("zz", &error);
    ck_assert_ptr_null(bad);
}
END_TEST

/* A plain bool array model of a set, for checking the word-at-a-time implementation. */
typedef struct {
    bool has[TOPO_CPU_MAX];
} Model;

/* A random set: a few runs of random length anywhere in 0..TOPO_CPU_MAX-1, often touching
 * word boundaries, the first and the last CPU; sometimes empty. */
static void random_model(GRand *rand, Model *m, TopoCpuSet *set)
{
    memset(m, 0, sizeof(*m));
    int runs = g_rand_int_range(rand, 0, 6);
    for (int r = 0; r < runs; r++) {
        int start;
        switch (g_rand_int_range(rand, 0, 4)) {
        case 0:
            start =
                64 * g_rand_int_range(rand, 0, TOPO_CPU_MAX / 64) - g_rand_int_range(rand, 0, 3);
            break;
        case 1:
            start = TOPO_CPU_MAX - g_rand_int_range(rand, 1, 130);
            break;
        default:
            start = g_rand_int_range(rand, 0, TOPO_CPU_MAX);
        }
        start = CLAMP(start, 0, TOPO_CPU_MAX - 1);
        int len = g_rand_int_range(rand, 1, g_rand_boolean(rand) ? 4 : 200);
        int stride = g_rand_int_range(rand, 0, 4) == 0 ? g_rand_int_range(rand, 2, 5) : 1;
        for (int c = start; c < MIN(start + len, TOPO_CPU_MAX); c += stride) {
            m->has[c] = true;
            topo_cpuset_add(set, c);
        }
    }
}

static char *model_format(const Model *m)
{
    GString *out = g_string_new(NULL);
    for (int c = 0; c < TOPO_CPU_MAX; c++) {
        if (!m->has[c])
            continue;
        int end = c;
        while (end + 1 < TOPO_CPU_MAX && m->has[end + 1])
            end++;
        if (out->len)
            g_string_append_c(out, ',');
        if (end == c)
            g_string_append_printf(out, "%d", c);
        else
            g_string_append_printf(out, "%d-%d", c, end);
        c = end;
    }
    return g_string_free(out, FALSE);
}

static void assert_matches(const TopoCpuSet *set, const Model *m, const char *what)
{
    guint count = 0;
    int first = -1, last = -1;
    for (int c = 0; c < TOPO_CPU_MAX; c++) {
        if (topo_cpuset_has(set, c) != m->has[c])
            ck_abort_msg("%s: CPU %d", what, c);
        if (m->has[c]) {
            if (first < 0)
                first = c;
            last = c;
            count++;
        }
    }
    ck_assert_uint_eq(topo_cpuset_count(set), count);
    ck_assert(topo_cpuset_is_empty(set) == (count == 0));
    ck_assert_int_eq(topo_cpuset_first(set), first);
    ck_assert_int_eq(topo_cpuset_last(set), last);
    guint n = 0;
    int prev = -1;
    for (int c = topo_cpuset_first(set); c >= 0; c = topo_cpuset_next(set, c)) {
        if (c <= prev || !m->has[c])
            ck_abort_msg("%s: next gave %d after %d", what, c, prev);
        /* nth scans from the start: check a few positions, not all. */
        if (n < 3 || n % 61 == 0 || n + 1 == count)
            ck_assert_int_eq(topo_cpuset_nth(set, n), c);
        prev = c;
        n++;
    }
    ck_assert_uint_eq(n, count);
    ck_assert_int_eq(topo_cpuset_nth(set, count), -1);
    g_autofree char *text = topo_cpuset_format(set);
    g_autofree char *expected = model_format(m);
    ck_assert_str_eq(text, expected);
    g_autoptr(TopoCpuSet) back = topo_cpuset_parse(text, NULL);
    ck_assert(topo_cpuset_equal(back, set));
}

START_TEST(test_against_model)
{
    GRand *rand = g_rand_new_with_seed(20240817);
    static Model ma, mb, mr;
    for (int iter = 0; iter < 60; iter++) {
        g_autoptr(TopoCpuSet) a = topo_cpuset_new();
        g_autoptr(TopoCpuSet) b = topo_cpuset_new();
        random_model(rand, &ma, a);
        if (g_rand_int_range(rand, 0, 4) == 0) {
            /* b within a, or equal to it: the subset and equality answers must flip. */
            mb = ma;
            b = (topo_cpuset_free(b), topo_cpuset_copy(a));
            if (g_rand_boolean(rand) && topo_cpuset_last(a) >= 0) {
                mb.has[topo_cpuset_last(a)] = false;
                topo_cpuset_remove(b, topo_cpuset_last(a));
            }
        } else {
            random_model(rand, &mb, b);
        }
        assert_matches(a, &ma, "a");
        assert_matches(b, &mb, "b");

        bool subset = true, meet = false, same = true;
        for (int c = 0; c < TOPO_CPU_MAX; c++) {
            subset = subset && (!mb.has[c] || ma.has[c]);
            meet = meet || (ma.has[c] && mb.has[c]);
            same = same && ma.has[c] == mb.has[c];
        }
        ck_assert(topo_cpuset_is_subset(b, a) == subset);
        ck_assert(topo_cpuset_intersects(a, b) == meet);
        ck_assert(topo_cpuset_intersects(b, a) == meet);
        ck_assert(topo_cpuset_equal(a, b) == same);

        g_autoptr(TopoCpuSet) u = topo_cpuset_copy(a);
        topo_cpuset_union(u, b);
        for (int c = 0; c < TOPO_CPU_MAX; c++)
            mr.has[c] = ma.has[c] || mb.has[c];
        assert_matches(u, &mr, "union");
        g_autoptr(TopoCpuSet) i = topo_cpuset_copy(a);
        topo_cpuset_intersect(i, b);
        for (int c = 0; c < TOPO_CPU_MAX; c++)
            mr.has[c] = ma.has[c] && mb.has[c];
        assert_matches(i, &mr, "intersection");
        g_autoptr(TopoCpuSet) d = topo_cpuset_copy(a);
        topo_cpuset_subtract(d, b);
        for (int c = 0; c < TOPO_CPU_MAX; c++)
            mr.has[c] = ma.has[c] && !mb.has[c];
        assert_matches(d, &mr, "difference");
        topo_cpuset_clear(d);
        ck_assert(topo_cpuset_is_empty(d));
    }
    g_rand_free(rand);
}
END_TEST

START_TEST(test_word_boundaries)
{
    static const struct {
        const char *in, *out;
        guint count;
    } cases[] = {
        {"63-64", "63-64", 2},          {"0-63", "0-63", 64},       {"64-127", "64-127", 64},
        {"60-130", "60-130", 71},       {"0-8191", "0-8191", 8192}, {"8191", "8191", 1},
        {"8128-8191", "8128-8191", 64}, {"1-8190", "1-8190", 8190}, {"0-191:64", "0,64,128", 3},
        {"62-66:2", "62,64,66", 3},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(cases[i].in, NULL);
        ck_assert_ptr_nonnull(set);
        g_autofree char *text = topo_cpuset_format(set);
        ck_assert_str_eq(text, cases[i].out);
        ck_assert_uint_eq(topo_cpuset_count(set), cases[i].count);
    }
    /* Error texts quote the input as given, whatever whitespace surrounds it. */
    assert_parse_fails(" 3-x\n", TOPO_ERROR_PARSE, "expected a number at 'x'");
    assert_parse_fails("3-\n", TOPO_ERROR_PARSE, "at 'end of text'");
    assert_parse_fails("1 2", TOPO_ERROR_PARSE, "unexpected ' '");
}
END_TEST

/* ---- the ordered parse (explicit maps: order and repeats matter) ---- */

static GArray *ordered_ok(const char *text)
{
    GError *error = NULL;
    GArray *list = topo_cpulist_parse_ordered(text, NULL, &error);
    ck_assert_msg(list != NULL, "ordered parse '%s' failed: %s", text,
                  error ? error->message : "?");
    ck_assert_ptr_null(error);
    return list;
}

static char *ordered_text(const GArray *list)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < list->len; i++)
        g_string_append_printf(s, "%s%d", i ? "," : "", g_array_index(list, int, i));
    return g_string_free(s, FALSE);
}

START_TEST(test_ordered_forms)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {" \n", ""},
        {"0", "0"},
        {"3,1,2", "3,1,2"},
        {"3,1,1", "3,1,1"},
        {"5,5,5", "5,5,5"},
        {"2,70,138,206,3-5", "2,70,138,206,3,4,5"},
        {"0-6:3,1", "0,3,6,1"},
        {"0-7:2", "0,2,4,6"},
        {"0-10:3", "0,3,6,9"},
        {"0-3,2-5", "0,1,2,3,2,3,4,5"},
        {"7-7", "7"},
        {"007,08", "7,8"},
        {"  4,0-1\n", "4,0,1"},
        {"8191,0", "8191,0"},
        {"8190-8191:8191", "8190"},
        {"0-8191:8191", "0,8191"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GArray) list = ordered_ok(cases[i].in);
        g_autofree char *out = ordered_text(list);
        ck_assert_msg(!strcmp(out, cases[i].out), "'%s': %s, expected %s", cases[i].in, out,
                      cases[i].out);
        /* The same CPUs as the set parse, in the order written. */
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(cases[i].in, NULL);
        g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
        for (guint k = 0; k < list->len; k++)
            topo_cpuset_add(seen, g_array_index(list, int, k));
        ck_assert(topo_cpuset_equal(set, seen));
    }
}
END_TEST

/* Nasty inputs: the ordered parse refuses exactly what topo_cpuset_parse() refuses, with the
 * same code and message, and says where and why in its refusal. */
START_TEST(test_ordered_errors)
{
    static const struct {
        const char *text;
        int code;
        TopoCpulistFault fault;
        gsize offset, rest;
    } cases[] = {
        {"a", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 0, 1},
        {"1,", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 2, 0},
        {",1", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 0, 2},
        {"1,,2", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 2, 2},
        {"-1", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 0, 2},
        {"+1", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 0, 2},
        {"1-", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 2, 0},
        {" 3-x\n", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 3, 1},
        {"0-7:", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 4, 0},
        {"0-3:a", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 4, 1},
        {"0-3,x", TOPO_ERROR_PARSE, TOPO_CPULIST_EXPECTED_NUMBER, 4, 1},
        {"5-3", TOPO_ERROR_PARSE, TOPO_CPULIST_REVERSED, 0, 3},
        {"1,9-8,0", TOPO_ERROR_PARSE, TOPO_CPULIST_REVERSED, 2, 5},
        {"0-7:0", TOPO_ERROR_PARSE, TOPO_CPULIST_ZERO_STRIDE, 4, 1},
        {"0-7:00", TOPO_ERROR_PARSE, TOPO_CPULIST_ZERO_STRIDE, 4, 2},
        {"1:2", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 1, 2},
        {"0x3", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 1, 2},
        {"1 2", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 1, 2},
        {"1;2", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 1, 2},
        {"1-2-3", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 3, 2},
        {"1-3:2:1", TOPO_ERROR_PARSE, TOPO_CPULIST_UNEXPECTED, 5, 2},
        {"8192", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 0, 4},
        {"0-8192", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 2, 4},
        {"0-9:8192", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 4, 4},
        {"99999999999999999999999", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 0, 23},
        /* 2^64 + 1 and 2^32: a number that wrapped would read as 1 and 0. */
        {"18446744073709551617", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 0, 20},
        {"1,4294967296", TOPO_ERROR_RANGE, TOPO_CPULIST_TOO_LARGE, 2, 10},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *text = cases[i].text;
        GError *error = NULL, *set_error = NULL;
        TopoCpulistRefusal why = {.fault = -1};
        GArray *list = topo_cpulist_parse_ordered(text, &why, &error);
        ck_assert_msg(list == NULL, "'%s' parsed but must fail", text);
        ck_assert_msg(error && error->domain == TOPO_ERROR && error->code == cases[i].code,
                      "'%s': error %d, expected %d", text, error ? error->code : -1, cases[i].code);
        ck_assert_msg(why.fault == cases[i].fault && why.offset == cases[i].offset &&
                          why.rest == cases[i].rest,
                      "'%s': refusal %d at %zu (%zu left), expected %d at %zu (%zu left)", text,
                      why.fault, why.offset, why.rest, cases[i].fault, cases[i].offset,
                      cases[i].rest);
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(text, &set_error);
        ck_assert_msg(set == NULL, "'%s': the set parse accepts it", text);
        ck_assert_str_eq(error->message, set_error->message);
        g_error_free(error);
        g_error_free(set_error);
    }
    /* The refusal names the range as written. */
    TopoCpulistRefusal why;
    ck_assert_ptr_null(topo_cpulist_parse_ordered("0,9-8", &why, NULL));
    ck_assert_int_eq(why.first, 9);
    ck_assert_int_eq(why.last, 8);
    assert_parse_fails("9-8", TOPO_ERROR_PARSE, "reversed range 9-8 (write 8-9)");
}
END_TEST

/* Huge expansions stop at the cap, before costing memory: exactly TOPO_CPULIST_ORDERED_MAX CPUs
 * parse, one more is refused, and so is a text of megabytes that would expand to billions. */
START_TEST(test_ordered_cap)
{
    g_autoptr(GArray) all = ordered_ok("0-8191");
    ck_assert_uint_eq(all->len, TOPO_CPU_MAX);
    ck_assert_int_eq(g_array_index(all, int, TOPO_CPU_MAX - 1), TOPO_CPU_MAX - 1);

    g_autoptr(GString) text = g_string_new(NULL);
    for (int k = 0; k < TOPO_CPULIST_ORDERED_MAX / TOPO_CPU_MAX; k++)
        g_string_append_printf(text, "%s0-8191", k ? "," : "");
    g_autoptr(GArray) full = ordered_ok(text->str);
    ck_assert_uint_eq(full->len, TOPO_CPULIST_ORDERED_MAX);

    gsize before = text->len;
    g_string_append(text, ",5");
    GError *error = NULL;
    TopoCpulistRefusal why;
    ck_assert_ptr_null(topo_cpulist_parse_ordered(text->str, &why, &error));
    ck_assert(g_error_matches(error, TOPO_ERROR, TOPO_ERROR_RANGE));
    ck_assert_msg(strstr(error->message, "more than 32768 CPUs"), "%s", error->message);
    ck_assert_int_eq(why.fault, TOPO_CPULIST_TOO_LONG);
    ck_assert_uint_eq(why.offset, before + 1);
    g_clear_error(&error);
    /* The set parse has no cap to reach: the same text is CPUs 0-8191. */
    g_autoptr(TopoCpuSet) set = topo_cpuset_parse(text->str, NULL);
    ck_assert_uint_eq(topo_cpuset_count(set), TOPO_CPU_MAX);

    g_autoptr(GString) huge = g_string_new(NULL);
    for (int k = 0; k < 200000; k++)
        g_string_append(huge, "0-8191,");
    g_string_append(huge, "0");
    ck_assert_ptr_null(topo_cpulist_parse_ordered(huge->str, &why, NULL));
    ck_assert_int_eq(why.fault, TOPO_CPULIST_TOO_LONG);
    ck_assert_uint_eq(why.offset, 4 * strlen("0-8191,"));
}
END_TEST

/* Random lists (repeats, ranges, strides, any order) written out and read back give the same
 * sequence, and name the set topo_cpuset_parse() reads from the same text. */
START_TEST(test_ordered_roundtrip)
{
    GRand *rand = g_rand_new_with_seed(20250311);
    for (int round = 0; round < 1000; round++) {
        g_autoptr(GArray) want = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GString) text = g_string_new(NULL);
        int items = g_rand_int_range(rand, 0, 40);
        for (int i = 0; i < items; i++) {
            int first = g_rand_int_range(rand, 0, TOPO_CPU_MAX);
            int kind = g_rand_int_range(rand, 0, 3);
            int span = kind ? g_rand_int_range(rand, 0, 50) : 0;
            int last = MIN(first + span, TOPO_CPU_MAX - 1);
            int stride = kind == 2 ? g_rand_int_range(rand, 1, 9) : 1;
            if (text->len)
                g_string_append_c(text, ',');
            if (kind == 0)
                g_string_append_printf(text, "%d", first);
            else if (kind == 1)
                g_string_append_printf(text, "%d-%d", first, last);
            else
                g_string_append_printf(text, "%d-%d:%d", first, last, stride);
            for (int c = first; c <= last; c += stride)
                g_array_append_val(want, c);
        }
        GError *error = NULL;
        g_autoptr(GArray) got = topo_cpulist_parse_ordered(text->str, NULL, &error);
        ck_assert_msg(got != NULL, "'%s': %s", text->str, error ? error->message : "?");
        /* memcmp() must not see the NULL data of an empty array, even for 0 bytes. */
        ck_assert_msg(got->len == want->len &&
                          (!want->len || !memcmp(got->data, want->data, want->len * sizeof(int))),
                      "'%s' read back in another order", text->str);
        /* Written out one CPU per item, it reads back the same again. */
        g_autofree char *flat = ordered_text(got);
        g_autoptr(GArray) again = ordered_ok(flat);
        ck_assert(again->len == got->len &&
                  (!got->len || !memcmp(again->data, got->data, got->len * sizeof(int))));
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(text->str, NULL);
        g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
        for (guint k = 0; k < got->len; k++)
            topo_cpuset_add(seen, g_array_index(got, int, k));
        ck_assert(topo_cpuset_equal(set, seen));
    }
    g_rand_free(rand);
}
END_TEST

/* ---- the compact formatter ---- */

START_TEST(test_format_compact)
{
    /* Strided runs where they make the text shorter; the canonical list when not (ties too). */
    static const struct {
        const char *set, *expect;
    } cases[] = {
        {"", ""},
        {"5", "5"},
        {"0,2", "0,2"},
        {"4,6,8", "4,6,8"},
        {"0,2,4,6", "0-6:2"},
        {"0-238:2", "0-238:2"},
        {"1-79:2", "1-79:2"},
        {"0-3", "0-3"},
        {"0-9", "0-9"},
        {"0,4,8,12,16", "0-16:4"},
        {"0,2,4,7", "0,2,4,7"},
        {"0,2,4,6,9,11", "0-6:2,9,11"},
        {"2,70,138,206", "2-206:68"},
        {"100,200,300", "100,200,300"},
        {"100,200,300,400", "100-400:100"},
        {"1-79:2,100-120", "1-79:2,100-120"},
        {"0-1,3,5", "0-1,3,5"},
        {"0-3,10-30:10,40-41", "0-3,10-40:10,41"},
        {"12-15,44-47", "12-15,44-47"},
        {"0-8191:2", "0-8190:2"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(cases[i].set, NULL);
        ck_assert_ptr_nonnull(set);
        g_autofree char *text = topo_cpuset_format_compact(set);
        ck_assert_msg(!strcmp(text, cases[i].expect), "%s: \"%s\", expected \"%s\"", cases[i].set,
                      text, cases[i].expect);
    }
}
END_TEST

START_TEST(test_format_compact_random)
{
    GRand *rand = g_rand_new_with_seed(20250312);
    for (int round = 0; round < 2000; round++) {
        g_autoptr(TopoCpuSet) set = topo_cpuset_new();
        int runs = g_rand_int_range(rand, 0, 8);
        for (int r = 0; r < runs; r++) {
            int c = g_rand_int_range(rand, 0, TOPO_CPU_MAX);
            int stride = g_rand_int_range(rand, 1, 6), len = g_rand_int_range(rand, 1, 30);
            for (int k = 0; k < len && c + k * stride < TOPO_CPU_MAX; k++)
                topo_cpuset_add(set, c + k * stride);
        }
        g_autofree char *text = topo_cpuset_format_compact(set);
        g_autofree char *canonical = topo_cpuset_format(set);
        ck_assert_msg(strlen(text) <= strlen(canonical), "'%s' longer than '%s'", text, canonical);
        GError *error = NULL;
        g_autoptr(TopoCpuSet) back = topo_cpuset_parse(text, &error);
        ck_assert_msg(back != NULL, "'%s': %s", text, error ? error->message : "?");
        ck_assert_msg(topo_cpuset_equal(back, set), "'%s' is not '%s'", text, canonical);
    }
    g_rand_free(rand);
}
END_TEST

/* The one "set or placeholder" helper: the placeholder for an empty or absent set, the canonical
 * or compact list otherwise. */
START_TEST(test_describe)
{
    g_autoptr(TopoCpuSet) empty = topo_cpuset_new();
    g_autofree char *a = topo_cpuset_describe(empty, FALSE, "none");
    g_autofree char *b = topo_cpuset_describe(NULL, TRUE, "-");
    ck_assert_str_eq(a, "none");
    ck_assert_str_eq(b, "-");
    g_autoptr(TopoCpuSet) odd = topo_cpuset_parse("1,3,5,7,9", NULL);
    g_autofree char *c = topo_cpuset_describe(odd, FALSE, "none");
    g_autofree char *d = topo_cpuset_describe(odd, TRUE, "none");
    ck_assert_str_eq(c, "1,3,5,7,9");
    ck_assert_str_eq(d, "1-9:2");
}
END_TEST

static Suite *cpuset_suite(void)
{
    Suite *s = suite_create("cpuset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_forms);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_no_partial_result);
    tcase_add_test(tc, test_random_roundtrip);
    tcase_add_test(tc, test_set_algebra);
    tcase_add_test(tc, test_affinity_raw);
    tcase_add_test(tc, test_mask);
    tcase_add_test(tc, test_against_model);
    tcase_add_test(tc, test_word_boundaries);
    tcase_add_test(tc, test_ordered_forms);
    tcase_add_test(tc, test_ordered_errors);
    tcase_add_test(tc, test_ordered_cap);
    tcase_add_test(tc, test_ordered_roundtrip);
    tcase_add_test(tc, test_format_compact);
    tcase_add_test(tc, test_format_compact_random);
    tcase_add_test(tc, test_describe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(cpuset_suite());
}
