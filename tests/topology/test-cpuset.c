/* Tests of the CPU set and cpulist parser/formatter. */
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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(cpuset_suite());
}
