/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of explicit vCPU maps: --pin parsing, the expression language, map computation and
 * validation against hand-built hosts. */
#include <qpin/placement.h>
#include "qpin-check.h"

#include <string.h>

/* ---- hand-built hosts and guests ---- */

/* A host with CPUs 0..n-1 on one package; @smt threads per core numbered the way Xeon Phi and
 * most Intel machines do (CPU = core + n_cores * thread); @n_nodes nodes splitting the cores
 * evenly. @offline and @allowed are cpulists ("" = none offline, NULL = all online allowed). */
static TopoHost *host_new(int n, int smt, int n_nodes, const char *offline, const char *allowed)
{
    TopoHost *host = g_new0(TopoHost, 1);
    int n_cores = n / smt;

    host->sysroot = g_strdup("/nonexistent");
    host->offline = topo_cpuset_parse(offline ? offline : "", NULL);
    ck_assert_ptr_nonnull(host->offline);
    host->online = topo_cpuset_new();
    for (int c = 0; c < n; c++)
        if (!topo_cpuset_has(host->offline, c))
            topo_cpuset_add(host->online, c);
    host->isolated = topo_cpuset_new();
    host->nohz_full = topo_cpuset_new();
    host->cmdline = g_strdup("");
    host->cpus_allowed = allowed ? topo_cpuset_parse(allowed, NULL) : topo_cpuset_new();
    ck_assert_ptr_nonnull(host->cpus_allowed);
    if (!allowed)
        topo_cpuset_union(host->cpus_allowed, host->online);
    topo_cpuset_intersect(host->cpus_allowed, host->online);
    host->mems_allowed = topo_cpuset_new();
    host->cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpu_free);
    host->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)topo_node_free);

    for (int id = 0; id < n_nodes; id++) {
        TopoNode *node = topo_node_new(id);
        topo_cpuset_add(host->mems_allowed, id);
        g_ptr_array_add(host->nodes, node);
    }
    for (int c = 0; c < n; c++) {
        if (!topo_cpuset_has(host->online, c))
            continue;
        TopoCpu *cpu = g_new0(TopoCpu, 1);
        cpu->cpu = c;
        cpu->core = c % n_cores;
        cpu->node = cpu->core / (n_cores / n_nodes);
        cpu->siblings = topo_cpuset_new();
        for (int t = 0; t < smt; t++)
            topo_cpuset_add(cpu->siblings, cpu->core + n_cores * t);
        cpu->llc = topo_cpuset_new_single(c);
        topo_cpuset_add(((TopoNode *)g_ptr_array_index(host->nodes, cpu->node))->cpus, c);
        g_ptr_array_add(host->cpus, cpu);
    }
    return host;
}

/* The seed's host: Xeon Phi 7250, 68 cores x 4 threads, CPU = core + 68 * thread; MCDRAM as a
 * second, CPU-less node is irrelevant to CPU maps. */
static TopoHost *host_phi(void)
{
    return host_new(272, 4, 1, "", NULL);
}

/* @n vCPUs of a sockets=1 guest with @threads threads per core, in cpu-index order; die and
 * cluster absent as on x86. */
static TopoVcpu *vcpus_new(guint n, int threads)
{
    TopoVcpu *vcpus = g_new(TopoVcpu, n);
    for (guint i = 0; i < n; i++)
        vcpus[i] = (TopoVcpu){.index = (int)i,
                              .socket = 0,
                              .die = -1,
                              .cluster = -1,
                              .core = (int)i / threads,
                              .thread = (int)i % threads,
                              .node = 0};
    return vcpus;
}

static TopoPlaceCtx ctx_for(const TopoHost *host)
{
    return (TopoPlaceCtx){.host = host, .allowed = host->cpus_allowed};
}

/* The kinds of @notes are exactly @kinds, in order; every note has a text. */
static void assert_kinds_n(const GPtrArray *notes, const TopoNoteKind *kinds, guint n,
                           const char *what)
{
    GString *got = g_string_new(NULL);
    for (guint i = 0; i < notes->len; i++) {
        const TopoNote *note = g_ptr_array_index(notes, i);
        ck_assert_msg(note->text && *note->text, "%s: note %u has no text", what, i);
        g_string_append_printf(got, " %d (%s)", note->kind, note->text);
    }
    gboolean same = notes->len == n;
    for (guint i = 0; same && i < n; i++)
        same = ((const TopoNote *)g_ptr_array_index(notes, i))->kind == kinds[i];
    ck_assert_msg(same, "%s: notes%s", what, got->str);
    g_string_free(got, TRUE);
}
#define assert_kinds(notes, what, ...)                                                             \
    assert_kinds_n((notes), (const TopoNoteKind[]){__VA_ARGS__},                                   \
                   sizeof((const TopoNoteKind[]){__VA_ARGS__}) / sizeof(TopoNoteKind), (what))
#define assert_no_notes(notes, what) assert_kinds_n((notes), NULL, 0, (what))

static const char *note_text(const GPtrArray *notes, guint i)
{
    return ((const TopoNote *)g_ptr_array_index(notes, i))->text;
}

static TopoMapSpec *parse_ok(const char *text)
{
    GError *error = NULL;
    TopoMapSpec *spec = topo_map_spec_parse(text, &error);
    ck_assert_msg(spec != NULL, "'%s' must parse: %s", text, error ? error->message : "?");
    ck_assert_ptr_null(error);
    return spec;
}

static void assert_error(GError *error, int code, const char *needle, const char *what)
{
    ck_assert_msg(error != NULL, "%s: no error", what);
    ck_assert_msg(error->domain == TOPO_ERROR && error->code == code,
                  "%s: error code %d, expected %d (%s)", what, error->code, code, error->message);
    ck_assert_msg(strstr(error->message, needle), "%s: message \"%s\" lacks \"%s\"", what,
                  error->message, needle);
}

static GError *parse_fails(const char *text)
{
    GError *error = NULL;
    TopoMapSpec *spec = topo_map_spec_parse(text, &error);
    ck_assert_msg(spec == NULL, "'%s' parsed but must fail", text);
    ck_assert_ptr_nonnull(error);
    return error;
}

static TopoMap *compute_ok(const char *text, const TopoVcpu *vcpus, guint n,
                           const TopoPlaceCtx *ctx)
{
    g_autoptr(TopoMapSpec) spec = parse_ok(text);
    GError *error = NULL;
    TopoMap *map = topo_map_compute(spec, vcpus, n, ctx, &error);
    ck_assert_msg(map != NULL, "'%s' must map: %s", text, error ? error->message : "?");
    ck_assert_ptr_null(error);
    ck_assert_uint_eq(map->cpus->len, n);
    ck_assert_ptr_nonnull(map->warnings);
    ck_assert_ptr_nonnull(map->explain);
    if (topo_map_spec_kind(spec) != TOPO_MAP_AUTO)
        assert_kinds(map->explain, text, TOPO_NOTE_EXPLICIT_MAP);
    return map;
}

static GError *compute_fails(const char *text, const TopoVcpu *vcpus, guint n,
                             const TopoPlaceCtx *ctx)
{
    g_autoptr(TopoMapSpec) spec = parse_ok(text);
    GError *error = NULL;
    TopoMap *map = topo_map_compute(spec, vcpus, n, ctx, &error);
    ck_assert_msg(map == NULL, "'%s' mapped but must fail", text);
    ck_assert_ptr_nonnull(error);
    return error;
}

static char *map_cpus(const TopoMap *map, guint i)
{
    return topo_cpuset_format(g_ptr_array_index(map->cpus, i));
}

static gint64 eval_ok(const char *expr, const TopoVcpu *vcpu)
{
    GError *error = NULL;
    gint64 result = G_MININT64;
    ck_assert_msg(topo_expr_eval(expr, vcpu, &result, &error), "'%s' must evaluate: %s", expr,
                  error ? error->message : "?");
    ck_assert_ptr_null(error);
    return result;
}

static GError *eval_fails(const char *expr, const TopoVcpu *vcpu)
{
    GError *error = NULL;
    gint64 result = 12345;
    ck_assert_msg(!topo_expr_eval(expr, vcpu, &result, &error), "'%s' evaluated but must fail",
                  expr);
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(result, 12345);
    return error;
}

/* ---- parsing ---- */

START_TEST(test_parse_kinds)
{
    static const struct {
        const char *text;
        TopoMapKind kind;
    } cases[] = {
        {"auto", TOPO_MAP_AUTO},
        {"  auto\n", TOPO_MAP_AUTO},
        {"2,70,138,206,3-5", TOPO_MAP_LIST},
        {"7", TOPO_MAP_LIST},
        {"0-3@2-5;4-7@6-9", TOPO_MAP_GROUPS},
        {"0-239@0-271", TOPO_MAP_GROUPS},
        {" 0-3 @ 2-5 ; 4-7 @ 6-9 ", TOPO_MAP_GROUPS},
        {"expr:2 + v/4 + v%4*68", TOPO_MAP_EXPR},
        {"expr:v", TOPO_MAP_EXPR},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        TopoMapSpec *spec = parse_ok(cases[i].text);
        ck_assert_int_eq(topo_map_spec_kind(spec), cases[i].kind);
        ck_assert_str_eq(topo_map_spec_text(spec), cases[i].text);
        topo_map_spec_free(spec);
    }
    topo_map_spec_free(NULL);
}
END_TEST

/* The vCPUs a map names without QEMU: positions of a cpulist, the union of groups. */
START_TEST(test_spec_vcpus)
{
    static const struct {
        const char *text, *vcpus;
    } cases[] = {
        {"2,70,138,206,3-5", "0-6"}, {"0,0", "0-1"},         {"0-6:3,1", "0-3"},
        {"0-3@2-5;4-7@6-9", "0-7"},  {"8@1;2-3@0", "2-3,8"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoMapSpec) spec = parse_ok(cases[i].text);
        g_autoptr(TopoCpuSet) vcpus = topo_map_spec_vcpus(spec);
        ck_assert_msg(vcpus != NULL, "%s", cases[i].text);
        g_autofree char *text = topo_cpuset_format(vcpus);
        ck_assert_msg(!strcmp(text, cases[i].vcpus), "%s: %s, want %s", cases[i].text, text,
                      cases[i].vcpus);
    }
    g_autoptr(TopoMapSpec) automatic = parse_ok("auto");
    ck_assert_ptr_null(topo_map_spec_vcpus(automatic));
    g_autoptr(TopoMapSpec) expr = parse_ok("expr:v");
    ck_assert_ptr_null(topo_map_spec_vcpus(expr));
}
END_TEST

START_TEST(test_parse_list_errors)
{
    static const struct {
        const char *text;
        int code;
        const char *needle;
    } cases[] = {
        {"", TOPO_ERROR_PARSE, "empty --pin map"},
        {"   ", TOPO_ERROR_PARSE, "empty --pin map"},
        {"x", TOPO_ERROR_PARSE, "expected a number at \"x\""},
        {"autox", TOPO_ERROR_PARSE, "expected a number at \"autox\""},
        {"1,,2", TOPO_ERROR_PARSE, "expected a number at \",2\""},
        {"1,2,", TOPO_ERROR_PARSE, "expected a number at the end"},
        {"1-", TOPO_ERROR_PARSE, "expected a number at the end"},
        {"5-3", TOPO_ERROR_PARSE, "reversed range 5-3 (write 3-5)"},
        {"0-4:0", TOPO_ERROR_PARSE, "stride must be at least 1"},
        {"0-4:", TOPO_ERROR_PARSE, "expected a number at the end"},
        {"8192", TOPO_ERROR_RANGE, "number too large (at most 8191)"},
        {"99999999999999999999999", TOPO_ERROR_RANGE, "number too large"},
        {"1;2", TOPO_ERROR_PARSE, "unexpected ';'"},
        {"1 2", TOPO_ERROR_PARSE, "unexpected ' '"},
        {"-1", TOPO_ERROR_PARSE, "expected a number at \"-1\""},
        {"0-8191,0-8191,0-8191,0-8191,0", TOPO_ERROR_RANGE, "more than 32768 entries"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = parse_fails(cases[i].text);
        assert_error(error, cases[i].code, cases[i].needle, cases[i].text);
        /* Every message shows the whole --pin syntax. */
        ck_assert_msg(strstr(error->message, "expr:2 + v/4 + v%4*68") &&
                          strstr(error->message, "0-3@2-5;4-7@6-9") &&
                          strstr(error->message, "auto"),
                      "'%s': no syntax hint in \"%s\"", cases[i].text, error->message);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_parse_group_errors)
{
    static const struct {
        const char *text;
        int code;
        const char *needle;
    } cases[] = {
        {"0-3@", TOPO_ERROR_PARSE, "group 1 \"0-3@\" in \"0-3@\": CPUS is empty"},
        {"@2-5", TOPO_ERROR_PARSE, "VCPUS is empty"},
        {"0-3@2-5;4-7", TOPO_ERROR_PARSE, "group 2 \"4-7\" in \"0-3@2-5;4-7\": no '@'"},
        {"0-3@2-5;", TOPO_ERROR_PARSE, "group 2 \"\""},
        {"0-3@2-5;;4@1", TOPO_ERROR_PARSE, "group 2 \"\""},
        {"0-3@2@5", TOPO_ERROR_PARSE, "more than one '@'"},
        {"x@1", TOPO_ERROR_PARSE, "VCPUS: invalid cpulist 'x'"},
        {"1@3-1", TOPO_ERROR_PARSE, "CPUS: invalid cpulist '3-1': reversed range"},
        {"1@9000", TOPO_ERROR_RANGE, "CPUS: invalid cpulist '9000': number too large"},
        {"0-3@2-5;2-7@6-9", TOPO_ERROR_PARSE, "vCPUs 2-3 are named in more than one group"},
        {"0@1;1@2;0@3", TOPO_ERROR_PARSE, "vCPU 0 is named in more than one group"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = parse_fails(cases[i].text);
        assert_error(error, cases[i].code, cases[i].needle, cases[i].text);
        ck_assert_msg(strstr(error->message, "--pin"), "'%s': %s", cases[i].text, error->message);
        if (!strstr(cases[i].needle, "more than one group"))
            ck_assert_msg(strstr(error->message, "VCPUS@CPUS;VCPUS@CPUS, e.g. 0-3@2-5;4-7@6-9"),
                          "'%s': no syntax hint in \"%s\"", cases[i].text, error->message);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_parse_expr_errors)
{
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"expr:", "empty expression"},
        {"expr:   ", "empty expression"},
        {"expr:2 +", "a number, variable or '(' is missing at column 4"},
        {"expr:2 + * v", "unexpected '*' where a number, variable or '(' belongs at column 5"},
        {"expr:(v + 1", "missing ')' to close the '(' of column 1 at column 7"},
        {"expr:v)", "unmatched ')' at column 2"},
        {"expr:v + cpu", "unknown variable 'cpu' at column 5"},
        {"expr:V", "unknown variable 'V' at column 1"},
        {"expr:2 v", "unexpected 'v' where an operator or the end belongs at column 3"},
        {"expr:4v", "unexpected 'v' after a number at column 2"},
        {"expr:v ^ 2", "unexpected '^' where an operator or the end belongs at column 3"},
        {"expr:9223372036854775808",
         "\"9223372036854775808\": number 9223372036854775808 too large (at most "
         "9223372036854775807) at column 1"},
        /* 2^64 and 2*2^64+1: a literal that wrapped at 2^64 read as 0 and 1. */
        {"expr:18446744073709551616", "number 18446744073709551616 too large (at most "
                                      "9223372036854775807) at column 1"},
        {"expr:36893488147419103233+v", "number 36893488147419103233 too large"},
        {"expr:v + 18446744073709551617", "number 18446744073709551617 too large (at most "
                                          "9223372036854775807) at column 5"},
        {"expr:-99999999999999999999999999999", "number 99999999999999999999999999999 too large"},
        {"expr:1 +\n$", "unexpected '$'"},
        {"expr:()", "unexpected ')' where a number, variable or '(' belongs at column 2"},
        {"expr:v = 1", "unexpected '='"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = parse_fails(cases[i].text);
        assert_error(error, TOPO_ERROR_PARSE, cases[i].needle, cases[i].text);
        ck_assert_msg(strstr(error->message, "v, socket, die, cluster, core, thread, node"),
                      "'%s': no grammar hint in \"%s\"", cases[i].text, error->message);
        g_error_free(error);
    }

    /* Nesting is bounded so that a hostile expression cannot exhaust the stack. */
    GString *deep = g_string_new("expr:");
    for (int i = 0; i < 1000; i++)
        g_string_append_c(deep, '(');
    GError *error = parse_fails(deep->str);
    ck_assert_ptr_nonnull(strstr(error->message, "too deeply nested"));
    g_error_free(error);
    g_string_truncate(deep, 5);
    for (int i = 0; i < 1000; i++)
        g_string_append_c(deep, '-');
    g_string_append_c(deep, '1');
    error = parse_fails(deep->str);
    ck_assert_ptr_nonnull(strstr(error->message, "too deeply nested"));
    g_error_free(error);
    g_string_free(deep, TRUE);

    /* Long flat expressions are fine up to the length cap. */
    GString *flat = g_string_new("1");
    for (int i = 1; i < 2000; i++)
        g_string_append(flat, "+1");
    const TopoVcpu vcpu = {
        .index = 0, .socket = -1, .die = -1, .cluster = -1, .core = -1, .thread = -1, .node = -1};
    ck_assert_int_eq(eval_ok(flat->str, &vcpu), 2000);
    g_string_append(flat, "+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+"
                          "1+1+1+1+1+1+1+1+1+1+1+1+1+1+1");
    error = eval_fails(flat->str, &vcpu);
    assert_error(error, TOPO_ERROR_PARSE, "longer than 4096 characters", "long expression");
    g_error_free(error);
    g_string_free(flat, TRUE);

    /* Modest nesting is fine. */
    g_autoptr(TopoMapSpec) spec = parse_ok("expr:((((((((((v))))))))))+-(-(-1))");
    ck_assert_int_eq(topo_map_spec_kind(spec), TOPO_MAP_EXPR);
}
END_TEST

/* ---- expressions ---- */

START_TEST(test_expr_arithmetic)
{
    const TopoVcpu vcpu = {
        .index = 13, .socket = 1, .die = 2, .cluster = 3, .core = 5, .thread = 1, .node = 0};
    static const struct {
        const char *expr;
        gint64 value;
    } cases[] = {
        {"2+3*4", 14},
        {"(2+3)*4", 20},
        {"10-4-3", 3},
        {"10-(4-3)", 9},
        {"100/10/5", 2},
        {"100/(10/5)", 50},
        {"2*3%4", 2},
        {"2*(3%4)", 6},
        {"17%5*3", 6},
        {"1+17%5", 3},
        {"-3+5", 2},
        {"--3", 3},
        {"- - -3", -3},
        {"+4", 4},
        {"-(2+3)*2", -10},
        {"-2*-3", 6},
        {"7/2", 3},
        {"7/-2", -3},
        {"-7/2", -3},
        {"7%-3", 1},
        {"-7%3", -1},
        {"0", 0},
        {"007", 7},
        {"  1 +\t2\n", 3},
        {"v", 13},
        {"v/4", 3},
        {"v%4", 1},
        {"2 + v/4 + v%4*68", 2 + 3 + 68},
        {"socket*1000 + die*100 + cluster*10 + core", 1235},
        {"thread + node", 1},
        {"9223372036854775807", G_MAXINT64},
        {"-9223372036854775807-1", G_MININT64},
        {"4611686018427387903*2", G_MAXINT64 - 1},
        {"(0-9223372036854775807-1)/1", G_MININT64},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        gint64 got = eval_ok(cases[i].expr, &vcpu);
        ck_assert_msg(got == cases[i].value,
                      "'%s' = %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT, cases[i].expr, got,
                      cases[i].value);
    }
}
END_TEST

START_TEST(test_expr_errors)
{
    const TopoVcpu v3 = {
        .index = 3, .socket = 0, .die = -1, .cluster = -1, .core = 3, .thread = 0, .node = -1};
    static const struct {
        const char *expr;
        int code;
        const char *needle;
    } cases[] = {
        {"v/(v-3)", TOPO_ERROR_INVALID, "fails for vCPU 3: division by zero at column 2"},
        {"v % (core - 3)", TOPO_ERROR_INVALID, "fails for vCPU 3: modulo by zero at column 3"},
        {"9223372036854775807 + 1", TOPO_ERROR_INVALID,
         "vCPU 3: integer overflow in '+' at column 21"},
        {"-9223372036854775807 - 2", TOPO_ERROR_INVALID, "integer overflow in '-' at column 22"},
        {"4611686018427387904*2", TOPO_ERROR_INVALID, "integer overflow in '*' at column 20"},
        {"(0-9223372036854775807-1)/-1", TOPO_ERROR_INVALID, "integer overflow in '/'"},
        {"(0-9223372036854775807-1)%-1", TOPO_ERROR_INVALID, "integer overflow in '%'"},
        {"1 + -(0-9223372036854775807-1)", TOPO_ERROR_INVALID,
         "integer overflow in '-' at column 5"},
        /* An intermediate result past 2^63-1 is an error even when the final one would fit. */
        {"(9223372036854775807 + v) - 4", TOPO_ERROR_INVALID,
         "expression \"(9223372036854775807 + v) - 4\" fails for vCPU 3: integer overflow in '+' "
         "at column 22"},
        {"0 - 9223372036854775807 - 2 + 10", TOPO_ERROR_INVALID,
         "integer overflow in '-' at column 25"},
        {"(0-9223372036854775807-1)*-1", TOPO_ERROR_INVALID,
         "integer overflow in '*' at column 26"},
        {"-3074457345618258603*v/3", TOPO_ERROR_INVALID, "integer overflow in '*' at column 21"},
        {"-(0-9223372036854775807-1)", TOPO_ERROR_INVALID, "integer overflow in '-' at column 1"},
        {"v + die", TOPO_ERROR_INVALID,
         "fails for vCPU 3: QEMU reports no 'die' for it (it has: socket, core, thread) at "
         "column 5"},
        {"node*68", TOPO_ERROR_INVALID, "QEMU reports no 'node'"},
        {"cluster", TOPO_ERROR_INVALID, "QEMU reports no 'cluster'"},
        {"v + foo", TOPO_ERROR_PARSE,
         "vCPU 3: invalid expression \"v + foo\": unknown variable "
         "'foo' at column 5"},
        {"v + 1 )", TOPO_ERROR_PARSE, "vCPU 3: invalid expression"},
        {"v v", TOPO_ERROR_PARSE, "at column 3"},
        {"", TOPO_ERROR_PARSE, "vCPU 3: empty expression"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = eval_fails(cases[i].expr, &v3);
        assert_error(error, cases[i].code, cases[i].needle, cases[i].expr);
        g_error_free(error);
    }

    /* The error is about this vCPU only: the next one evaluates. */
    TopoVcpu v4 = v3;
    v4.index = 4;
    ck_assert_int_eq(eval_ok("v/(v-3)", &v4), 4);

    /* A vCPU without any props still has v. */
    const TopoVcpu bare = {
        .index = 0, .socket = -1, .die = -1, .cluster = -1, .core = -1, .thread = -1, .node = -1};
    GError *error = eval_fails("core", &bare);
    assert_error(error, TOPO_ERROR_INVALID, "(it has: only v)", "core on a bare vCPU");
    g_error_free(error);
}
END_TEST

/* ---- maps ---- */

/* The seed's dance: a 240-vCPU guest (sockets=1, cores=60, threads=4) on a Xeon Phi 7250, each
 * vCPU thread pinned by kvmparse.py to `2 + core + ht*68` with core = cpu/4, ht = cpu%4. */
START_TEST(test_seed_mapping)
{
    TopoHost *host = host_phi();
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(240, 4);
    TopoMap *map = compute_ok("expr:2 + v/4 + v%4*68", vcpus, 240, &ctx);

    for (guint n = 0; n < 240; n++) {
        guint core = n / 4, ht = n % 4;
        int expected = (int)(2 + core + ht * 68);
        const TopoCpuSet *got = g_ptr_array_index(map->cpus, n);
        ck_assert_uint_eq(topo_cpuset_count(got), 1);
        ck_assert_msg(topo_cpuset_first(got) == expected, "vCPU %u on CPU %d, seed says %d", n,
                      topo_cpuset_first(got), expected);
    }
    /* The same map from the guest's own props rather than the index. */
    TopoMap *by_props = compute_ok("expr:2 + core + thread*68", vcpus, 240, &ctx);
    for (guint n = 0; n < 240; n++)
        ck_assert(topo_cpuset_equal(g_ptr_array_index(map->cpus, n),
                                    g_ptr_array_index(by_props->cpus, n)));

    /* What the formula is for: one vCPU per CPU, guest SMT siblings on host SMT siblings, and
     * host cores 0-1 left free for housekeeping. */
    g_autoptr(TopoCpuSet) used = topo_cpuset_new();
    for (guint n = 0; n < 240; n++) {
        int cpu = topo_cpuset_first(g_ptr_array_index(map->cpus, n));
        ck_assert(!topo_cpuset_has(used, cpu));
        topo_cpuset_add(used, cpu);
        const TopoCpu *first = g_ptr_array_index(
            host->cpus, topo_cpuset_first(g_ptr_array_index(map->cpus, n - n % 4)));
        ck_assert(topo_cpuset_has(first->siblings, cpu));
    }
    g_autofree char *used_text = topo_cpuset_format(used);
    ck_assert_str_eq(used_text, "2-61,70-129,138-197,206-265");
    assert_no_notes(map->warnings, "seed");
    ck_assert_str_eq(note_text(map->explain, 0),
                     "explicit expression map from --pin \"expr:2 + v/4 + v%4*68\"");

    /* The housekeeping set of the plan validates on the same host. */
    g_autoptr(TopoCpuSet) emulator = topo_cpuset_parse("0,1,68,69,136,137,204,205", NULL);
    GError *error = NULL;
    ck_assert(topo_cpus_validate(emulator, &ctx, "--emulator-pin", &error));
    ck_assert_ptr_null(error);

    topo_map_free(by_props);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

START_TEST(test_list_map)
{
    TopoHost *host = host_phi();
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(7, 1);

    /* The written order counts: not sorted, not deduplicated. */
    static const char *const expected[] = {"2", "70", "138", "206", "3", "4", "5"};
    TopoMap *map = compute_ok("2,70,138,206,3-5", vcpus, 7, &ctx);
    for (guint i = 0; i < 7; i++) {
        g_autofree char *got = map_cpus(map, i);
        ck_assert_str_eq(got, expected[i]);
    }
    assert_no_notes(map->warnings, "no warnings");
    topo_map_free(map);

    map = compute_ok("3,1,2", vcpus, 3, &ctx);
    static const char *const reversed[] = {"3", "1", "2"};
    for (guint i = 0; i < 3; i++) {
        g_autofree char *got = map_cpus(map, i);
        ck_assert_str_eq(got, reversed[i]);
    }
    topo_map_free(map);

    map = compute_ok("0-6:3,1", vcpus, 4, &ctx);
    static const char *const strided[] = {"0", "3", "6", "1"};
    for (guint i = 0; i < 4; i++) {
        g_autofree char *got = map_cpus(map, i);
        ck_assert_str_eq(got, strided[i]);
    }
    topo_map_free(map);

    /* Position in QEMU's list decides, not cpu-index. */
    TopoVcpu swapped[2] = {vcpus[1], vcpus[0]};
    map = compute_ok("10,20", swapped, 2, &ctx);
    g_autofree char *first = map_cpus(map, 0);
    ck_assert_str_eq(first, "10");
    topo_map_free(map);

    /* Sharing a CPU is allowed but warned about. */
    map = compute_ok("5,6,5,7,6", vcpus, 5, &ctx);
    assert_kinds(map->warnings, "shared CPUs", TOPO_NOTE_CPU_SHARED);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

START_TEST(test_list_count)
{
    TopoHost *host = host_new(8, 1, 1, "", NULL);
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 1);

    GError *error = compute_fails("0-2", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "--pin lists 3 CPUs but the guest has 4 vCPUs",
                 "short list");
    g_error_free(error);
    error = compute_fails("0-4", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "--pin lists 5 CPUs but the guest has 4 vCPUs",
                 "long list");
    g_error_free(error);
    error = compute_fails("0", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "--pin lists 1 CPU but the guest has 4 vCPUs",
                 "one CPU");
    g_error_free(error);
    error = compute_fails("0,1", vcpus, 1, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "--pin lists 2 CPUs but the guest has 1 vCPU ",
                 "one vCPU");
    g_error_free(error);
    error = compute_fails("0", vcpus, 0, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "no vCPUs", "no vCPUs");
    g_error_free(error);
    topo_host_free(host);
}
END_TEST

START_TEST(test_group_map)
{
    TopoHost *host = host_new(16, 2, 2, "", NULL);
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(8, 2);

    /* Groups go by cpu-index: QEMU's list order does not matter. */
    TopoVcpu reversed[8];
    for (guint i = 0; i < 8; i++)
        reversed[i] = vcpus[7 - i];
    TopoMap *map = compute_ok("0-3@2-5;4-7@6-9", reversed, 8, &ctx);
    for (guint i = 0; i < 8; i++) {
        g_autofree char *got = map_cpus(map, i);
        ck_assert_str_eq(got, reversed[i].index < 4 ? "2-5" : "6-9");
    }
    /* Groups share CPUs on purpose: no warning for that. */
    assert_no_notes(map->warnings, "no warnings");
    topo_map_free(map);

    map = compute_ok("0,2,4,6@0-7:2 ; 1-7:2@1-7:2", vcpus, 8, &ctx);
    for (guint i = 0; i < 8; i++) {
        g_autofree char *got = map_cpus(map, i);
        ck_assert_str_eq(got, i % 2 ? "1,3,5,7" : "0,2,4,6");
    }
    topo_map_free(map);

    GError *error = compute_fails("0-3@2-5", vcpus, 8, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "--pin groups must name every vCPU exactly once: vCPUs 4-7 are in no group "
                 "(the guest's vCPUs are 0-7)",
                 "missing vCPUs");
    g_error_free(error);
    error = compute_fails("0-6@2-5", vcpus, 8, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "vCPU 7 is in no group", "one missing vCPU");
    g_error_free(error);
    error = compute_fails("0-9@2-5", vcpus, 8, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "exactly once: the guest has no vCPUs 8-9 (the guest's vCPUs are 0-7)",
                 "extra vCPUs");
    g_error_free(error);
    error = compute_fails("1-8@2-5", vcpus, 8, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "vCPU 0 is in no group; the guest has no vCPU 8 (the guest's vCPUs are 0-7)",
                 "both");
    g_error_free(error);
    topo_host_free(host);
}
END_TEST

START_TEST(test_expr_map_errors)
{
    TopoHost *host = host_new(8, 1, 1, "", NULL);
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 2);

    GError *error = compute_fails("expr:v - 1", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "expression \"v - 1\" gives CPU -1 for vCPU 0 (CPU numbers start at 0)",
                 "negative");
    g_error_free(error);
    error = compute_fails("expr:v*10000", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "gives CPU 10000 for vCPU 1", "too large");
    g_error_free(error);
    error = compute_fails("expr:v + 4 / (v - 2) * 0", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "fails for vCPU 2: division by zero at column 7",
                 "division by zero");
    g_error_free(error);
    error = compute_fails("expr:die", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "fails for vCPU 0: QEMU reports no 'die'", "die");
    g_error_free(error);

    TopoMap *map = compute_ok("expr:7 - v", vcpus, 4, &ctx);
    for (guint i = 0; i < 4; i++)
        ck_assert_int_eq(topo_cpuset_first(g_ptr_array_index(map->cpus, i)), 7 - (int)i);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

START_TEST(test_validation)
{
    /* CPUs 0-7, CPU 6 offline, this process allowed 0-3. */
    TopoHost *host = host_new(8, 1, 1, "6", "0-3");
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 1);

    GError *error = compute_fails("0,1,2,99", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPU 99 of --pin is not present on this host (its CPUs are 0-7); vCPU 3 is "
                 "mapped there",
                 "absent CPU");
    g_error_free(error);
    error = compute_fails("expr:v*100", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPUs 100,200,300 of --pin are not present on this host", "absent CPUs");
    g_error_free(error);
    error = compute_fails("0,1,2,6", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "CPU 6 of --pin is offline (the online CPUs are 0-5,7;",
                 "offline CPU");
    g_error_free(error);
    error = compute_fails("0,1,4,5", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPUs 4-5 of --pin are outside the allowed CPUs 0-3 (the CPUs this process "
                 "may use: check taskset, cgroup cpuset or the Slurm allocation); vCPUs 2-3 are "
                 "mapped there",
                 "outside allowed");
    g_error_free(error);
    error = compute_fails("0-1@0-4;2-3@3", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "CPU 4 of --pin is outside the allowed CPUs 0-3",
                 "group outside allowed");
    g_error_free(error);
    /* Absent beats offline beats outside: the most basic problem is named first. */
    error = compute_fails("4,6,99,0", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID, "CPU 99 of --pin is not present", "order");
    g_error_free(error);

    /* ctx->allowed narrows further than the host's own allowed set. */
    g_autoptr(TopoCpuSet) narrow = topo_cpuset_parse("0-1", NULL);
    TopoPlaceCtx narrow_ctx = ctx;
    narrow_ctx.allowed = narrow;
    error = compute_fails("0-3", vcpus, 4, &narrow_ctx);
    assert_error(error, TOPO_ERROR_INVALID, "CPUs 2-3 of --pin are outside the allowed CPUs 0-1",
                 "narrow allowed");
    g_error_free(error);

    TopoMap *map = compute_ok("3,2,1,0", vcpus, 4, &ctx);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

START_TEST(test_cpus_validate)
{
    TopoHost *host = host_new(8, 1, 1, "6", "0-3");
    TopoPlaceCtx ctx = ctx_for(host);
    static const struct {
        const char *cpus;
        const char *needle;
    } bad[] = {
        {"", "--emulator-pin names no CPU"},
        {"0,12-13", "CPUs 12-13 of --emulator-pin are not present on this host"},
        {"6", "CPU 6 of --emulator-pin is offline"},
        {"0-5", "CPUs 4-5 of --emulator-pin are outside the allowed CPUs 0-3 (the CPUs this "
                "process may use: check taskset, cgroup cpuset or the Slurm allocation)"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(bad[i].cpus, NULL);
        GError *error = NULL;
        ck_assert(!topo_cpus_validate(set, &ctx, "--emulator-pin", &error));
        assert_error(error, TOPO_ERROR_INVALID, bad[i].needle, bad[i].cpus);
        /* No vCPU suffix for a plain set. */
        ck_assert_ptr_null(strstr(error->message, "mapped there"));
        g_error_free(error);
    }
    g_autoptr(TopoCpuSet) good = topo_cpuset_parse("1-3", NULL);
    GError *error = NULL;
    ck_assert(topo_cpus_validate(good, &ctx, "--iothread-pin io0", &error));
    ck_assert_ptr_null(error);
    topo_host_free(host);
}
END_TEST

START_TEST(test_warnings)
{
    /* 16 CPUs, 2 threads per core, 2 nodes: node 0 has cores 0-3 (CPUs 0-3,8-11). */
    TopoHost *host = host_new(16, 2, 2, "", NULL);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_parse("0,8", NULL);
    g_autoptr(TopoCpuSet) node0 = topo_cpuset_new_single(0);
    g_autoptr(GPtrArray) binding = g_ptr_array_new();
    g_ptr_array_add(binding, node0);
    TopoPlaceCtx ctx = ctx_for(host);
    ctx.reserved = reserved;
    ctx.node_binding = binding;
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 2);

    /* Explicit maps may use reserved CPUs, with a warning. */
    TopoMap *map = compute_ok("0,1,2,3", vcpus, 4, &ctx);
    assert_kinds(map->warnings, "reserved", TOPO_NOTE_RESERVED_SHARED);
    topo_map_free(map);

    /* vCPUs 2-3 of guest node 0 on host node 1 (CPUs 4-7,12-15), away from their memory. */
    map = compute_ok("1,2,4,12", vcpus, 4, &ctx);
    assert_kinds(map->warnings, "cross node", TOPO_NOTE_CROSS_NODE);
    topo_map_free(map);

    /* All three at once, in that order; an expression shares as a cpulist does. */
    map = compute_ok("expr:v / 2 * 4", vcpus, 4, &ctx);
    assert_kinds(map->warnings, "all three", TOPO_NOTE_CPU_SHARED, TOPO_NOTE_RESERVED_SHARED,
                 TOPO_NOTE_CROSS_NODE);
    topo_map_free(map);

    map = compute_ok("1,9,2,10", vcpus, 4, &ctx);
    assert_no_notes(map->warnings, "clean");
    topo_map_free(map);
    topo_map_free(NULL);
    topo_host_free(host);
}
END_TEST

START_TEST(test_warnings_strided)
{
    /* 240 vCPUs alternating over CPUs 0 and 1, CPU 0 reserved: the warnings name the vCPUs in
     * the strided form, not 120 numbers. */
    TopoHost *host = host_new(16, 2, 1, "", NULL);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_new_single(0);
    TopoPlaceCtx ctx = ctx_for(host);
    ctx.reserved = reserved;
    g_autofree TopoVcpu *vcpus = vcpus_new(240, 4);
    g_autoptr(TopoMap) map = compute_ok("expr:v % 2", vcpus, 240, &ctx);
    assert_kinds(map->warnings, "strided", TOPO_NOTE_CPU_SHARED, TOPO_NOTE_RESERVED_SHARED);
    /* The wording docs/maps.md shows. */
    ck_assert_str_eq(note_text(map->warnings, 0),
                     "--pin puts more than one vCPU on CPUs 0-1 (vCPUs 0-239 share them)");
    ck_assert_str_eq(note_text(map->warnings, 1),
                     "--pin puts vCPUs 0-238:2 on CPU 0, reserved for emulator or I/O threads");

    /* docs/maps.md's cpulist example. */
    g_autofree TopoVcpu *three = vcpus_new(3, 1);
    TopoPlaceCtx plain = ctx_for(host);
    g_autoptr(TopoMap) shared = compute_ok("5,1,5", three, 3, &plain);
    assert_kinds(shared->warnings, "docs example", TOPO_NOTE_CPU_SHARED);
    ck_assert_str_eq(note_text(shared->warnings, 0),
                     "--pin puts more than one vCPU on CPU 5 (vCPUs 0,2 share them)");
    topo_host_free(host);
}
END_TEST

/* `auto` is topo_place_auto()'s answer, passed through the same validation as explicit maps:
 * the same sets when it finds a map, the same error when it does not. */
START_TEST(test_auto_dispatch)
{
    TopoHost *host = host_new(16, 2, 2, "", "2-7,10-15");
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 2);
    g_autoptr(TopoMapSpec) spec = parse_ok("auto");

    GError *direct_error = NULL, *error = NULL;
    TopoMap *direct = topo_place_auto(vcpus, 4, &ctx, &direct_error);
    TopoMap *map = topo_map_compute(spec, vcpus, 4, &ctx, &error);
    ck_assert((direct != NULL) == (map != NULL));
    if (direct) {
        ck_assert_uint_eq(map->cpus->len, 4);
        ck_assert_ptr_nonnull(map->warnings);
        ck_assert_ptr_nonnull(map->explain);
        for (guint i = 0; i < 4; i++) {
            const TopoCpuSet *set = g_ptr_array_index(map->cpus, i);
            ck_assert(topo_cpuset_equal(set, g_ptr_array_index(direct->cpus, i)));
            ck_assert(topo_cpuset_is_subset(set, host->cpus_allowed));
        }
    } else {
        ck_assert_ptr_nonnull(error);
        ck_assert_int_eq(error->code, direct_error->code);
        ck_assert_str_eq(error->message, direct_error->message);
    }
    g_clear_error(&error);
    g_clear_error(&direct_error);
    topo_map_free(direct);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

/* ---- against the fixture trees of real machines (topo_host_read) ---- */

static TopoHost *fixture_host(const char *name)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "QPIN_SOURCE_ROOT is not set (run through meson test)");
    g_autofree char *dir = g_build_filename(root, "tests", "fixtures", "hosts", name, NULL);
    GError *error = NULL;
    TopoHost *host = topo_host_read(dir, &error);
    ck_assert_msg(host != NULL, "%s: %s", dir, error ? error->message : "?");
    return host;
}

START_TEST(test_fixture_seed)
{
    TopoHost *host = fixture_host("xeon-phi-7250");
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(240, 4);
    TopoMap *map = compute_ok("expr:2 + v/4 + v%4*68", vcpus, 240, &ctx);

    for (guint n = 0; n < 240; n++) {
        int expected = (int)(2 + n / 4 + n % 4 * 68);
        int got = topo_cpuset_first(g_ptr_array_index(map->cpus, n));
        ck_assert_msg(got == expected, "vCPU %u on CPU %d, seed says %d", n, got, expected);
        /* The four threads of a guest core share one physical core of the real machine. */
        const TopoCpu *lead = NULL;
        int lead_cpu = topo_cpuset_first(g_ptr_array_index(map->cpus, n - n % 4));
        for (guint i = 0; i < host->cpus->len && !lead; i++)
            if (((const TopoCpu *)g_ptr_array_index(host->cpus, i))->cpu == lead_cpu)
                lead = g_ptr_array_index(host->cpus, i);
        ck_assert_ptr_nonnull(lead);
        ck_assert_msg(topo_cpuset_has(lead->siblings, got), "vCPU %u: CPU %d is no sibling of %d",
                      n, got, lead_cpu);
    }
    topo_map_free(map);

    /* The seed's housekeeping CPUs translated to this host: its first two cores, all threads. */
    g_autoptr(TopoCpuSet) emulator = topo_cpuset_parse("0,1,68,69,136,137,204,205", NULL);
    GError *error = NULL;
    ck_assert(topo_cpus_validate(emulator, &ctx, "--emulator-pin", &error));
    /* 272 CPUs and no more. */
    g_autofree TopoVcpu *big = vcpus_new(241, 1);
    error = compute_fails("expr:v + 32", big, 241, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPU 272 of --pin is not present on this host (its CPUs are 0-271); vCPU 240 is "
                 "mapped there",
                 "past the Xeon Phi");
    g_error_free(error);
    topo_host_free(host);
}
END_TEST

/* A machine with CPUs 12-15 offline and a process allowed only 0-1,6-11. */
START_TEST(test_fixture_offline)
{
    TopoHost *host = fixture_host("offline-isolated");
    TopoPlaceCtx ctx = ctx_for(host);
    g_autofree TopoVcpu *vcpus = vcpus_new(4, 1);

    GError *error = compute_fails("0,1,12,13", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPUs 12-13 of --pin are offline (the online CPUs are 0-11;", "offline");
    g_error_free(error);
    error = compute_fails("0-3", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPUs 2-3 of --pin are outside the allowed CPUs 0-1,6-11 (the CPUs this process "
                 "may use",
                 "not allowed");
    g_error_free(error);
    error = compute_fails("0,1,16,6", vcpus, 4, &ctx);
    assert_error(error, TOPO_ERROR_INVALID,
                 "CPU 16 of --pin is not present on this host (its CPUs are 0-15)", "absent");
    g_error_free(error);
    TopoMap *map = compute_ok("0-1@0-1;2-3@6-11", vcpus, 4, &ctx);
    topo_map_free(map);
    topo_host_free(host);
}
END_TEST

static Suite *map_suite(void)
{
    Suite *suite = suite_create("placement");
    TCase *tc = tcase_create("map");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parse_kinds);
    tcase_add_test(tc, test_spec_vcpus);
    tcase_add_test(tc, test_parse_list_errors);
    tcase_add_test(tc, test_parse_group_errors);
    tcase_add_test(tc, test_parse_expr_errors);
    tcase_add_test(tc, test_expr_arithmetic);
    tcase_add_test(tc, test_expr_errors);
    tcase_add_test(tc, test_seed_mapping);
    tcase_add_test(tc, test_list_map);
    tcase_add_test(tc, test_list_count);
    tcase_add_test(tc, test_group_map);
    tcase_add_test(tc, test_expr_map_errors);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_cpus_validate);
    tcase_add_test(tc, test_warnings);
    tcase_add_test(tc, test_warnings_strided);
    tcase_add_test(tc, test_auto_dispatch);
    tcase_add_test(tc, test_fixture_seed);
    tcase_add_test(tc, test_fixture_offline);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return qpin_check_run(map_suite());
}
