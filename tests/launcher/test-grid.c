/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the placement grid (qpin plan --show grid) on fixture hosts: what each cell says,
 * how rows wrap, and the free CPUs. */
#include "qpin-check.h"
#include "qpin-memory.h"
#include "qpin-output-grid.h"
#include "qpin-output-memory.h"
#include "qpin-output-report.h"

#include <qpin/placement.h>

#include <string.h>

static TopoHost *fixture_host(const char *name)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    g_autofree char *sysroot = g_build_filename(root, "tests/fixtures/hosts", name, NULL);
    GError *error = NULL;
    TopoHost *host = topo_host_read(sysroot, &error);
    ck_assert_msg(host, "%s", error ? error->message : "?");
    return host;
}

static QpinReportVcpu *add_vcpu(QpinReport *r, int index, const char *cpus)
{
    QpinReportVcpu *v = qpin_report_add_vcpu(r);
    v->index = index;
    v->props = (TopoVcpu){index, 0, -1, -1, index, 0, 0};
    v->cpus = cpus ? topo_cpuset_parse(cpus, NULL) : NULL;
    return v;
}

static char *grid(const QpinReport *r, guint width)
{
    GString *out = g_string_new(NULL);
    qpin_output_grid(r, width, FALSE, out);
    fprintf(stderr, "%s", out->str);
    return g_string_free(out, FALSE);
}

static void assert_has(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle), "'%s' is missing from:\n%s", needle, text);
}

static void assert_width(const char *text, guint width)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++)
        ck_assert_msg(strlen(lines[i]) <= width, "line %d is %zu wide (at most %u): %s", i,
                      strlen(lines[i]), width, lines[i]);
}

/* Every kind of cell on a host with offline, isolated and disallowed CPUs. */
START_TEST(test_grid_cells)
{
    g_autoptr(TopoHost) host = fixture_host("offline-isolated");
    g_autoptr(QpinReport) r = qpin_report_new("plan");
    r->host = host;
    add_vcpu(r, 0, "6");
    add_vcpu(r, 1, "7");
    add_vcpu(r, 2, "8");
    add_vcpu(r, 3, "8");
    add_vcpu(r, 4, NULL); /* not pinned: no cell */
    r->emulator_cpus = topo_cpuset_parse("0", NULL);
    QpinReportThread *io = qpin_report_add_thread(r->iothreads);
    io->id = g_strdup("io0");
    io->cpus = topo_cpuset_parse("1", NULL);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_parse("0-1,9", NULL);
    r->reserved = reserved;
    g_autofree char *text = grid(r, 80);
    assert_width(text, 80);
    /* Threads 0 and 8, 1 and 9, 2 and 10, 3 and 11 are siblings; 4-7 have theirs offline. */
    assert_has(text, "node 0: CPUs 0-11, 8 cores x 2 threads; memory 31.2 GiB; isolated 2-5\n");
    assert_has(text, "\n   0 |E +|I R|x .|x .|x  |x  |0  |1  |\n");
    assert_has(text, "\noffline: 12-15 (not drawn)\n");
    assert_has(text, "\nfree: 2 CPUs 10-11, 0 whole cores\n");
}
END_TEST

/* Isolated CPUs qpin may use are '~' when free; the threads of a core sit side by side, and a
 * narrow width wraps the cores of a node onto more rows. */
START_TEST(test_grid_isolated_and_wrap)
{
    g_autoptr(TopoHost) host = fixture_host("epyc-7313p-nps2-isolated");
    g_autoptr(QpinReport) r = qpin_report_new("plan");
    r->host = host;
    /* Guest core k on host core 8+k: threads 8+k and 24+k. */
    for (int v = 0; v < 8; v++)
        add_vcpu(r, v, v % 2 ? (char[8]){0} : NULL);
    for (int v = 0; v < 8; v++) {
        QpinReportVcpu *x = r->vcpus->pdata[v];
        topo_cpuset_free(x->cpus);
        x->cpus = topo_cpuset_new_single(v % 2 ? 24 + v / 2 : 8 + v / 2);
    }
    r->emulator_cpus = topo_cpuset_parse("0-3,16-19", NULL);
    g_autofree char *wide = grid(r, 80);
    assert_has(wide, "\n   0 |E E|E E|E E|E E|~ ~|~ ~|~ ~|~ ~|\n");
    assert_has(wide, "\n   8 |0 1|2 3|4 5|6 7|~ ~|~ ~|~ ~|~ ~|\n");
    assert_has(wide, "core = CPUs c, c+16");
    g_autofree char *narrow = grid(r, 20);
    /* In colour: the same cells, coloured by kind, no wider. */
    g_autoptr(GString) coloured = g_string_new(NULL);
    qpin_output_grid(r, 80, TRUE, coloured);
    assert_has(coloured->str, "\n   0 |\033[33mE\033[0m \033[33mE\033[0m|");
    assert_has(coloured->str, "|0 1|2 3|");
    assert_has(coloured->str, "|\033[34m~\033[0m \033[34m~\033[0m|");
    g_autoptr(GRegex) sgr = g_regex_new("\033\\[[0-9;]*m", 0, 0, NULL);
    g_autofree char *stripped = g_regex_replace_literal(sgr, coloured->str, -1, 0, "", 0, NULL);
    ck_assert_str_eq(stripped, wide);
    assert_has(narrow, "\n   8 |0 1|2 3|4 5|\n  11 |6 7|~ ~|~ ~|\n  14 |~ ~|~ ~|\n");
}
END_TEST

/* The seed guest on the 272-CPU Xeon Phi, placed by auto: 240 vCPUs in 80 columns, each guest
 * core on the four threads of one host core, guest memory shown on the nodes holding it. */
START_TEST(test_grid_seed_auto)
{
    g_autoptr(TopoHost) host = fixture_host("xeon-phi-7250");
    TopoVcpu vcpus[240];
    for (int v = 0; v < 240; v++)
        vcpus[v] = (TopoVcpu){v, 0, -1, -1, v / 4, v % 4, -1};
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed};
    GError *error = NULL;
    g_autoptr(TopoMap) map = topo_place_auto(vcpus, 240, &ctx, &error);
    ck_assert_msg(map, "%s", error ? error->message : "?");
    g_autoptr(QpinReport) r = qpin_report_new("plan");
    r->host = host;
    for (int v = 0; v < 240; v++) {
        QpinReportVcpu *x = add_vcpu(r, v, NULL);
        x->cpus = topo_cpuset_copy(map->cpus->pdata[v]);
    }
    r->emulator_cpus = topo_place_emulator_auto(map, &ctx, &error);
    ck_assert_msg(r->emulator_cpus, "%s", error ? error->message : "?");
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    g_ptr_array_add(nodes, qpin_memory_node_parse("80G@0", 0, &error));
    g_ptr_array_add(nodes, qpin_memory_node_parse("15G@1", 1, &error));
    r->numa_nodes = nodes;
    g_autofree char *text = grid(r, 80);
    assert_width(text, 80);
    assert_has(text, "\n    4 |  8   9  10  11| 12  13  14  15| 16  17  18  19| 20  21  22  23|\n");
    assert_has(text, "\n   60 |232 233 234 235|236 237 238 239|  E   E   E   E|  E   E   E   E|\n");
    assert_has(text, "memory 93.9 GiB; holds guest node 0 (80.0 GiB)\n");
    assert_has(text, "node 1: no CPUs; memory 15.8 GiB; holds guest node 1 (15.0 GiB)\n");
    /* 17 rows of 4 cores for the 68 cores, a screen with the legend and headers. */
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    ck_assert_uint_le(g_strv_length(lines), 25);
}
END_TEST

/* The two-socket EPYC with 8 nodes: 128 vCPUs, one per host CPU, within 80 columns, a row per
 * node, each core's threads N and N+64 side by side. */
START_TEST(test_grid_epyc_width)
{
    g_autoptr(TopoHost) host = fixture_host("epyc-7452-2s-nps4");
    g_autoptr(QpinReport) r = qpin_report_new("plan");
    r->host = host;
    for (int v = 0; v < 128; v++)
        add_vcpu(r, v, NULL)->cpus = topo_cpuset_new_single(v);
    g_autofree char *text = grid(r, 80);
    assert_width(text, 80);
    assert_has(text, "\n    0 |  0  64|  1  65|  2  66|  3  67|  4  68|  5  69|  6  70|  7  71|\n");
    assert_has(text, "\n   56 | 56 120| 57 121| 58 122| 59 123| 60 124| 61 125| 62 126| 63 127|\n");
    assert_has(text, "\nfree: 0 CPUs, 0 whole cores\n");
}
END_TEST

/* The 2-socket Gold 6148, whose nodes are every other CPU: node 1 mirrored 1:1 (vCPU 2c and
 * 2c+1 on host CPUs 1+2c and 41+2c); the node headers name their CPUs compactly, so they stay
 * within 80 columns. */
START_TEST(test_grid_alternating_nodes)
{
    g_autoptr(TopoHost) host = fixture_host("xeon-gold-6148-2s");
    g_autoptr(QpinReport) r = qpin_report_new("plan");
    r->host = host;
    for (int v = 0; v < 40; v++)
        add_vcpu(r, v, NULL)->cpus = topo_cpuset_new_single(1 + v / 2 * 2 + v % 2 * 40);
    g_autofree char *text = grid(r, 80);
    assert_width(text, 80);
    assert_has(text, "node 0: CPUs 0-78:2, 20 cores x 2 threads; core = CPUs c, c+40;");
    assert_has(text, "node 1: CPUs 1-79:2, 20 cores x 2 threads; core = CPUs c, c+40;");
    assert_has(text, "\n   1 | 0  1| 2  3| 4  5| 6  7| 8  9|10 11|12 13|14 15|16 17|18 19|20 21|22 23|\n");
}
END_TEST

/* The memory plan with the preflight's figures: 1 GiB pages of a bound node against its pool,
 * plain memory against MemFree, an unbound node that asks nothing. */
START_TEST(test_memory_plan)
{
    g_autoptr(TopoHost) host = fixture_host("cgroup-subset-gold-6148");
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    GError *error = NULL;
    const char *specs[] = {"40G@0:hugepages=1G:prealloc=on", "8G@1", "2G"};
    for (int i = 0; i < 3; i++) {
        QpinNumaNode *n = qpin_memory_node_parse(specs[i], i, &error);
        ck_assert_msg(n, "%s", error ? error->message : "?");
        g_ptr_array_add(nodes, n);
    }
    g_autoptr(GString) out = g_string_new(NULL);
    qpin_output_memory_plan(nodes, host, out);
    fprintf(stderr, "%s", out->str);
    assert_has(out->str, "guest memory: 50.0 GiB in 3 nodes\n");
    ck_assert(
        g_regex_match_simple("\n  0 +40\\.0 GiB +0 +bind +memfd +1G +yes +- *\n", out->str, 0, 0));
    ck_assert(g_regex_match_simple("\n  2 +2\\.0 GiB +any +default +ram +base +no +- *\n", out->str,
                                   0, 0));
    assert_has(out->str, "preflight: host node 0: guest node 0 needs 40 x 1G pages, 45 free: ok\n");
    assert_has(out->str, "preflight: host node 1: guest node 1 needs 8.0 GiB, 13.9 GiB free: ok\n");
    ck_assert(!strstr(out->str, "guest node 2 need"));

    /* 50 pages where 45 are free: SHORT (the preflight refuses such a plan before QEMU). */
    QpinNumaNode *big = qpin_memory_node_parse("50G@0:hugepages=1G", 0, &error);
    ck_assert_msg(big, "%s", error ? error->message : "?");
    qpin_memory_node_free(g_ptr_array_index(nodes, 0));
    g_ptr_array_index(nodes, 0) = big;
    g_string_truncate(out, 0);
    qpin_output_memory_plan(nodes, host, out);
    assert_has(out->str,
               "preflight: host node 0: guest node 0 needs 50 x 1G pages, 45 free: SHORT\n");
}
END_TEST

START_TEST(test_show_parse)
{
    QpinShow show = QPIN_SHOW_TABLE;
    ck_assert(qpin_show_parse("grid", &show) && show == QPIN_SHOW_GRID);
    ck_assert(qpin_show_parse("auto", &show) && show == QPIN_SHOW_AUTO);
    ck_assert(qpin_show_parse("both", &show) && show == QPIN_SHOW_BOTH);
    ck_assert(!qpin_show_parse("Grid", &show));
    ck_assert(!qpin_show_parse("", &show));
}
END_TEST

/* The human output: auto shows the table and the grid up to 32 vCPUs, the grid alone above,
 * the table alone without a map. */
START_TEST(test_show_auto)
{
    g_autoptr(TopoHost) host = fixture_host("xeon-phi-7250");
    g_autoptr(QpinReport) small = qpin_report_new("plan");
    small->host = host;
    for (int v = 0; v < 32; v++)
        add_vcpu(small, v, NULL)->cpus = topo_cpuset_new_single(v);
    g_autoptr(QpinReport) big = qpin_report_new("plan");
    big->host = host;
    for (int v = 0; v < 33; v++)
        add_vcpu(big, v, NULL)->cpus = topo_cpuset_new_single(v);
    g_autoptr(GString) a = g_string_new(NULL), b = g_string_new(NULL);
    small->map = g_strdup("0-31");
    big->map = g_strdup("0-32");
    qpin_output_report_human(small, QPIN_SHOW_AUTO, 80, FALSE, a);
    qpin_output_report_human(big, QPIN_SHOW_AUTO, 80, FALSE, b);
    assert_has(a->str, "host CPUs  host node");
    assert_has(a->str, "one cell per hardware thread");
    assert_has(b->str, "one cell per hardware thread");
    ck_assert(!strstr(b->str, "host CPUs  host node"));
    /* Without a map (vCPUs not pinned) there is no placement to draw. */
    g_clear_pointer(&small->map, g_free);
    g_autoptr(GString) c = g_string_new(NULL);
    qpin_output_report_human(small, QPIN_SHOW_AUTO, 80, FALSE, c);
    assert_has(c->str, "host CPUs  host node");
    ck_assert(!strstr(c->str, "one cell per hardware thread"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("grid");
    TCase *tc = tcase_create("grid");
    tcase_add_test(tc, test_grid_cells);
    tcase_add_test(tc, test_grid_isolated_and_wrap);
    tcase_add_test(tc, test_grid_seed_auto);
    tcase_add_test(tc, test_grid_epyc_width);
    tcase_add_test(tc, test_grid_alternating_nodes);
    tcase_add_test(tc, test_memory_plan);
    tcase_add_test(tc, test_show_parse);
    tcase_add_test(tc, test_show_auto);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
