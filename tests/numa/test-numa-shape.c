/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest node distances from the host's, SIZE@auto and the preallocation threads qpin chooses,
 * on the fixture trees of real machines. */
#include "qpin-bare-metal.h"
#include "qpin-check.h"
#include "qpin-error.h"
#include "qpin-memory.h"
#include "qpin-mirror.h"
#include "qpin-preflight.h"
#include "qpin-qemu-numa.h"

#include <string.h>

#ifndef QPIN_TEST_SOURCE_ROOT
#error "QPIN_TEST_SOURCE_ROOT must name the source tree"
#endif

static TopoHost *host_read(const char *name)
{
    g_autofree char *path =
        g_build_filename(QPIN_TEST_SOURCE_ROOT, "tests/fixtures/hosts", name, NULL);
    GError *error = NULL;
    TopoHost *host = topo_host_read(path, &error);
    ck_assert_msg(host != NULL, "%s: %s", path, error ? error->message : "?");
    return host;
}

static GPtrArray *nodes_parse(const char *const *specs)
{
    GPtrArray *nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    for (int i = 0; specs[i]; i++) {
        GError *error = NULL;
        QpinNumaNode *node = qpin_memory_node_parse(specs[i], i, &error);
        ck_assert_msg(node, "%s: %s", specs[i], error ? error->message : "?");
        g_ptr_array_add(nodes, node);
    }
    return nodes;
}

/* The -numa dist arguments qpin adds, space-separated, and the note kinds. */
static char *dist_args(const char *host_name, const char *const *specs, const char *const *user,
                       char **kinds)
{
    g_autoptr(TopoHost) host = host_read(host_name);
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_null_terminated(8, g_free, TRUE);
    g_ptr_array_add(argv, g_strdup("qemu-system-x86_64"));
    for (int i = 0; user && user[i]; i++)
        g_ptr_array_add(argv, g_strdup(user[i]));
    guint from = argv->len;
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_note_free);
    qpin_qemu_numa_dist_args(nodes, host, argv, notes);
    GString *k = g_string_new(NULL);
    for (guint i = 0; i < notes->len; i++)
        g_string_append_printf(k, "%s%s", i ? " " : "", ((QpinNote *)notes->pdata[i])->kind);
    *kinds = g_string_free(k, FALSE);
    GString *out = g_string_new(NULL);
    for (guint i = from; i < argv->len; i++)
        g_string_append_printf(out, "%s%s", out->len ? " " : "", (char *)argv->pdata[i]);
    return g_string_free(out, FALSE);
}

START_TEST(test_distances_two_sockets)
{
    const char *specs[] = {"1G@0", "1G@1", NULL};
    g_autofree char *kinds = NULL;
    g_autofree char *got = dist_args("xeon-gold-6148-2s", specs, NULL, &kinds);
    ck_assert_str_eq(got, "-numa dist,src=0,dst=1,val=21 -numa dist,src=1,dst=0,val=21");
    ck_assert_str_eq(kinds, "");
}
END_TEST

/* Guest node order need not follow host node order; several host nodes average. */
START_TEST(test_distances_epyc)
{
    g_autoptr(TopoHost) host = host_read("epyc-7452-2s-nps4");
    const char *specs[] = {"1G@4", "1G@0", "1G@1", "1G@0-1", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autofree char *why = NULL;
    g_autofree int *t = qpin_qemu_numa_distances(nodes, host, &why);
    ck_assert_msg(t, "%s", why);
    const int want[4][4] = {
        {10, 32, 32, 32},
        {32, 10, 12, 11}, /* host 0 to {0,1}: (10 + 12) / 2 */
        {32, 12, 10, 11},
        {32, 11, 11, 10},
    };
    /* Every entry equals the host's distances for single-node bindings. */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_msg(t[i * 4 + j] == want[i][j], "[%d][%d] = %d, want %d", i, j, t[i * 4 + j],
                          want[i][j]);
}
END_TEST

/* Means are rounded: host node 0 to {0,1} of the Gold is (10 + 21) / 2 = 15.5. */
START_TEST(test_distances_rounded)
{
    const char *specs[] = {"1G@0-1:policy=interleave", "1G@0", NULL};
    g_autofree char *kinds = NULL;
    g_autofree char *got = dist_args("xeon-gold-6148-2s", specs, NULL, &kinds);
    ck_assert_str_eq(got, "-numa dist,src=0,dst=1,val=16 -numa dist,src=1,dst=0,val=16");
}
END_TEST

START_TEST(test_distances_memory_only_node)
{
    const char *specs[] = {"80G@0:vcpus=0-239", "15G@1", NULL};
    g_autofree char *kinds = NULL;
    g_autofree char *got = dist_args("xeon-phi-7250", specs, NULL, &kinds);
    ck_assert_str_eq(got, "-numa dist,src=0,dst=1,val=31 -numa dist,src=1,dst=0,val=31");
}
END_TEST

START_TEST(test_distances_none)
{
    g_autofree char *kinds = NULL, *got = NULL;
    /* One node: nothing to say, nothing noted. */
    const char *one[] = {"1G@0", NULL};
    got = dist_args("xeon-gold-6148-2s", one, NULL, &kinds);
    ck_assert_str_eq(got, "");
    ck_assert_str_eq(kinds, "");
    g_free(got);
    g_free(kinds);
    /* A node without host nodes: no table. */
    const char *unbound[] = {"1G@0", "1G", NULL};
    got = dist_args("xeon-gold-6148-2s", unbound, NULL, &kinds);
    ck_assert_str_eq(got, "");
    ck_assert_str_eq(kinds, "numa-dist");
    g_free(got);
    g_free(kinds);
    /* Two guest nodes on one host node: 10 off the diagonal would void the guest's table. */
    const char *same[] = {"1G@0", "1G@0", NULL};
    got = dist_args("this-machine", same, NULL, &kinds);
    ck_assert_str_eq(got, "");
    ck_assert_str_eq(kinds, "numa-dist");
    g_free(got);
    g_free(kinds);
    /* The user's own table is kept, and qpin adds none. */
    const char *two[] = {"1G@0", "1G@1", NULL};
    const char *user[] = {"-numa", "dist,src=0,dst=1,val=40", NULL};
    got = dist_args("xeon-gold-6148-2s", two, user, &kinds);
    ck_assert_str_eq(got, "");
    ck_assert_str_eq(kinds, "numa-dist");
}
END_TEST

/* A user's -numa dist passes qpin's -numa check; any other -numa does not. */
START_TEST(test_user_numa_dist_allowed)
{
    const char *specs[] = {"1G@0", "1G@1", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    const char *ok_words[] = {
        "qemu-system-x86_64", "-numa", "dist,src=0,dst=1,val=30", "-smp", "2", NULL};
    const char *bad_words[] = {"qemu-system-x86_64", "-numa", "node,nodeid=0", NULL};
    for (int pass = 0; pass < 2; pass++) {
        const char *const *words = pass ? bad_words : ok_words;
        g_autoptr(GPtrArray) argv = g_ptr_array_new_null_terminated(8, g_free, TRUE);
        for (int i = 0; words[i]; i++)
            g_ptr_array_add(argv, g_strdup(words[i]));
        GError *error = NULL;
        gboolean ok = qpin_qemu_numa_args(nodes, argv, &error);
        ck_assert_msg(ok == !pass, "pass %d: %s", pass, error ? error->message : "accepted");
        g_clear_error(&error);
        if (!ok)
            continue;
        /* QEMU refuses a distance before the nodes it names: the user's goes behind them. */
        g_autofree char *line = g_strjoinv(" ", (char **)argv->pdata);
        ck_assert_msg(g_str_has_suffix(line, "-numa node,nodeid=1,memdev=qpin-mem1 -m 2G -numa "
                                             "dist,src=0,dst=1,val=30"),
                      "%s", line);
    }
}
END_TEST

/* ---- SIZE@auto ---------------------------------------------------------------------------- */

static GPtrArray *auto_nodes(const char *host_name, const char *const *specs, const char *reserve,
                             GError **error)
{
    g_autoptr(TopoHost) host = host_read(host_name);
    GPtrArray *nodes = nodes_parse(specs);
    g_autoptr(TopoCpuSet) reserved = reserve ? topo_cpuset_parse(reserve, NULL) : NULL;
    if (!qpin_preflight_auto_nodes(nodes, host, reserved, NULL, error)) {
        g_ptr_array_unref(nodes);
        return NULL;
    }
    return nodes;
}

static char *bound(const GPtrArray *nodes, guint i)
{
    const QpinNumaNode *node = nodes->pdata[i];
    return node->host_nodes ? topo_cpuset_format(node->host_nodes) : g_strdup("none");
}

START_TEST(test_auto_nodes)
{
    GError *error = NULL;
    /* Gold 6148: node 1 has the most free memory; a second @auto node takes the other node. */
    const char *two[] = {"4G@auto:vcpus=0-3", "4G@auto:vcpus=4-7", NULL};
    g_autoptr(GPtrArray) a = auto_nodes("xeon-gold-6148-2s", two, NULL, &error);
    ck_assert_msg(a, "%s", error ? error->message : "?");
    g_autofree char *a0 = bound(a, 0), *a1 = bound(a, 1);
    ck_assert_str_eq(a0, "1");
    ck_assert_str_eq(a1, "0");
    ck_assert_int_eq(((QpinNumaNode *)a->pdata[0])->policy, QPIN_NUMA_POLICY_BIND);

    /* An explicit node counts: @auto avoids the node already used, although node 1 still has
     * more free memory (12.9 GiB against 11.5). */
    const char *mixed[] = {"1G@1", "1G@auto", NULL};
    g_autoptr(GPtrArray) b = auto_nodes("xeon-gold-6148-2s", mixed, NULL, &error);
    ck_assert_msg(b, "%s", error ? error->message : "?");
    g_autofree char *b1 = bound(b, 1);
    ck_assert_str_eq(b1, "0");

    /* Too big for node 0 (11.5 GiB free): node 1 (12.9 GiB left), although another node uses it. */
    const char *big[] = {"1G@1", "12G@auto", NULL};
    g_autoptr(GPtrArray) c = auto_nodes("xeon-gold-6148-2s", big, NULL, &error);
    ck_assert_msg(c, "%s", error ? error->message : "?");
    g_autofree char *c1 = bound(c, 1);
    ck_assert_str_eq(c1, "1");

    /* vCPUs count: with node 1's CPUs reserved, a 4-vCPU node goes to node 0. */
    const char *cpus[] = {"1G@auto:vcpus=0-3", NULL};
    g_autoptr(GPtrArray) d = auto_nodes("xeon-gold-6148-2s", cpus, "1-79:2", &error);
    ck_assert_msg(d, "%s", error ? error->message : "?");
    g_autofree char *d0 = bound(d, 0);
    ck_assert_str_eq(d0, "0");
}
END_TEST

START_TEST(test_auto_nodes_refused)
{
    GError *error = NULL;
    const char *big[] = {"20G@auto", NULL};
    g_autoptr(GPtrArray) a = auto_nodes("xeon-gold-6148-2s", big, NULL, &error);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(error->code, QPIN_ERROR_PREFLIGHT);
    ck_assert_msg(strstr(error->message, "host node 1: 13.9 GiB free"), "%s", error->message);
    g_clear_error(&error);
    /* More vCPUs than a node has CPUs. */
    const char *wide[] = {"1G@auto:vcpus=0-40", NULL};
    g_autoptr(GPtrArray) b = auto_nodes("xeon-gold-6148-2s", wide, NULL, &error);
    ck_assert_ptr_null(b);
    ck_assert_msg(strstr(error->message, "41 CPUs"), "%s", error->message);
    g_clear_error(&error);
    /* 1G hugepages: the Xeon Phi has none. */
    const char *huge[] = {"2G@auto:hugepages=1G", NULL};
    g_autoptr(GPtrArray) c = auto_nodes("xeon-phi-7250", huge, NULL, &error);
    ck_assert_ptr_null(c);
    g_clear_error(&error);
}
END_TEST

/* ---- prealloc-threads --------------------------------------------------------------------- */

static int prealloc_threads(const char *host_name, const char *spec, const char *reserve,
                            gboolean *is_auto)
{
    g_autoptr(TopoHost) host = host_read(host_name);
    const char *specs[] = {spec, NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(TopoCpuSet) reserved = reserve ? topo_cpuset_parse(reserve, NULL) : NULL;
    qpin_qemu_numa_prealloc_threads(nodes, host, reserved);
    const QpinNumaNode *node = nodes->pdata[0];
    *is_auto = node->prealloc_threads_auto;
    return node->prealloc_threads;
}

START_TEST(test_prealloc_threads)
{
    gboolean is_auto = FALSE;
    /* 40 allowed CPUs on node 1: capped. */
    ck_assert_int_eq(prealloc_threads("xeon-gold-6148-2s", "4G@1:prealloc", NULL, &is_auto), 16);
    ck_assert(is_auto);
    /* --reserve takes CPUs away: 8 left on node 0 of the EPYC when 8 of its 16 are reserved. */
    ck_assert_int_eq(prealloc_threads("epyc-7452-2s-nps4", "4G@0:prealloc", "0-7", &is_auto), 8);
    /* Two nodes: their CPUs together. */
    ck_assert_int_eq(
        prealloc_threads("epyc-7452-2s-nps4", "4G@0-1:prealloc", "0-7,64-71,8-11", &is_auto), 12);
    /* MCDRAM has no CPUs: the preallocation runs on node 0, the nearest with CPUs. */
    ck_assert_int_eq(prealloc_threads("xeon-phi-7250", "4G@1:prealloc", NULL, &is_auto), 16);
    /* Everything reserved: still one thread. */
    ck_assert_int_eq(prealloc_threads("this-machine", "1G@0:prealloc", "0-1", &is_auto), 1);
    ck_assert(is_auto);
    /* The user's number stays; no prealloc or no binding: QEMU's default. */
    ck_assert_int_eq(
        prealloc_threads("xeon-gold-6148-2s", "4G@1:prealloc:prealloc-threads=3", NULL, &is_auto),
        3);
    ck_assert(!is_auto);
    ck_assert_int_eq(prealloc_threads("xeon-gold-6148-2s", "4G@1", NULL, &is_auto), 0);
    ck_assert_int_eq(prealloc_threads("xeon-gold-6148-2s", "4G:prealloc", NULL, &is_auto), 0);
}
END_TEST

/* The number reaches QEMU's command line, next to the thread-context. */
START_TEST(test_prealloc_threads_args)
{
    g_autoptr(TopoHost) host = host_read("epyc-7313p-nps2-isolated");
    const char *specs[] = {"2G@1:prealloc", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    qpin_qemu_numa_prealloc_threads(nodes, host, NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_null_terminated(8, g_free, TRUE);
    g_ptr_array_add(argv, g_strdup("qemu-system-x86_64"));
    GError *error = NULL;
    ck_assert_msg(qpin_qemu_numa_args_host(nodes, host, argv, &error), "%s",
                  error ? error->message : "?");
    g_autofree char *line = g_strjoinv(" ", (char **)argv->pdata);
    ck_assert_msg(strstr(line, "thread-context,id=qpin-tc0,node-affinity=1 "), "%s", line);
    ck_assert_msg(strstr(line, ",prealloc=on,prealloc-threads=16,prealloc-context=qpin-tc0"), "%s",
                  line);
}
END_TEST

/* ---- --mirror ---------------------------------------------------------------------------- */

/* The invariants of a mirror of @host: vCPUs = sockets x dies x cores x threads = the chosen
 * CPUs; each guest core's threads on the threads of one host core (siblings on siblings); each
 * guest node's vCPUs on its host node; the guest nodes' distances the host's. */
static void assert_mirror_invariants(const TopoHost *host, const QpinMirror *m)
{
    ck_assert_uint_eq(m->n_vcpus, (guint)(m->sockets * m->dies * m->cores * m->threads));
    ck_assert_uint_eq(m->n_vcpus, topo_cpuset_count(m->cpus));
    g_autoptr(TopoCpuSet) used = topo_cpuset_new();
    for (guint v = 0; v < m->n_vcpus; v++) {
        int cpu = m->vcpu_cpu[v];
        ck_assert_msg(topo_cpuset_has(m->cpus, cpu), "vCPU %u on CPU %d outside the mirror", v,
                      cpu);
        ck_assert_msg(topo_cpuset_add(used, cpu) && topo_cpuset_count(used) == v + 1,
                      "CPU %d given twice", cpu);
        /* Guest thread t of guest core c: host thread t of one host core. */
        guint first = v - v % (guint)m->threads;
        const TopoCpu *a = topo_host_cpu(host, m->vcpu_cpu[first]), *b = topo_host_cpu(host, cpu);
        ck_assert_msg(a && b && a->package == b->package && a->die == b->die && a->core == b->core,
                      "vCPU %u (CPU %d) and vCPU %u (CPU %d) are guest siblings, not host ones", v,
                      cpu, first, m->vcpu_cpu[first]);
        if (v > first)
            ck_assert_int_gt(cpu, m->vcpu_cpu[v - 1]);
    }
    ck_assert_uint_eq(m->node_vcpus->len, topo_cpuset_count(m->host_nodes));
    g_autoptr(GPtrArray) nodes = qpin_mirror_numa_nodes(m, "1G:prealloc", NULL);
    ck_assert_ptr_nonnull(nodes);
    guint i = 0;
    for (int h = topo_cpuset_first(m->host_nodes); h >= 0;
         h = topo_cpuset_next(m->host_nodes, h), i++) {
        const QpinNumaNode *node = nodes->pdata[i];
        ck_assert(topo_cpuset_has(node->host_nodes, h) && topo_cpuset_count(node->host_nodes) == 1);
        ck_assert(topo_cpuset_equal(node->vcpus, m->node_vcpus->pdata[i]));
        for (int v = topo_cpuset_first(node->vcpus); v >= 0; v = topo_cpuset_next(node->vcpus, v))
            ck_assert_int_eq(topo_host_cpu(host, m->vcpu_cpu[v])->node, h);
    }
    if (nodes->len > 1) {
        g_autofree char *why = NULL;
        g_autofree int *t = qpin_qemu_numa_distances(nodes, host, &why);
        ck_assert_msg(t, "%s", why);
        guint n = nodes->len, a = 0;
        for (int x = topo_cpuset_first(m->host_nodes); x >= 0;
             x = topo_cpuset_next(m->host_nodes, x), a++) {
            guint b = 0;
            for (int y = topo_cpuset_first(m->host_nodes); y >= 0;
                 y = topo_cpuset_next(m->host_nodes, y), b++)
                ck_assert_int_eq(t[a * n + b], topo_host_distance(host, x, y));
        }
    }
}

/* The bare-metal twin of a mirrored guest, from its 1:1 map. */
static QpinBareMetal *mirror_twin(const TopoHost *host, const QpinMirror *m, const GPtrArray *nodes)
{
    g_autoptr(GPtrArray) cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (guint v = 0; v < m->n_vcpus; v++)
        g_ptr_array_add(cpus, topo_cpuset_new_single(m->vcpu_cpu[v]));
    return qpin_bare_metal_new(host, (TopoCpuSet *const *)cpus->pdata, cpus->len, nodes);
}

static char *joined(char **argv)
{
    return argv ? g_strjoinv(" ", argv) : g_strdup("(none)");
}

static QpinMirror *mirror_of(const TopoHost *host, const char *spec)
{
    GError *error = NULL;
    QpinMirror *m = qpin_mirror_derive(host, spec, &error);
    ck_assert_msg(m, "%s: %s", spec, error ? error->message : "?");
    assert_mirror_invariants(host, m);
    return m;
}

START_TEST(test_mirror_gold_node1)
{
    g_autoptr(TopoHost) host = host_read("xeon-gold-6148-2s");
    g_autoptr(QpinMirror) m = mirror_of(host, "node=1");
    ck_assert_str_eq(m->smp, "40,sockets=1,cores=20,threads=2");
    /* The seed's own map: 1 + v/2*2 + v%2*40. */
    for (guint v = 0; v < m->n_vcpus; v++)
        ck_assert_int_eq(m->vcpu_cpu[v], 1 + (int)v / 2 * 2 + (int)v % 2 * 40);
    g_autoptr(GPtrArray) nodes = qpin_mirror_numa_nodes(m, "160G:hugepages=1G:prealloc", NULL);
    ck_assert_uint_eq(nodes->len, 1);
    g_autoptr(QpinBareMetal) b = mirror_twin(host, m, nodes);
    g_autofree char *line = joined(b->numactl);
    GString *odd = g_string_new("1");
    /* CPU 0 has no online file in the recording (the kernel cannot take it offline). */
    GString *even = g_string_new("2");
    GString *map = g_string_new("1,41");
    for (int c = 3; c < 80; c += 2)
        g_string_append_printf(odd, ",%d", c);
    for (int c = 4; c < 80; c += 2)
        g_string_append_printf(even, ",%d", c);
    for (int c = 3; c < 40; c += 2)
        g_string_append_printf(map, ",%d,%d", c, c + 40);
    g_autofree char *want = g_strdup_printf("numactl --physcpubind=%s --membind=1", odd->str);
    ck_assert_str_eq(line, want);
    g_autofree char *taskset = joined(b->taskset);
    g_autofree char *want_taskset = g_strdup_printf("taskset -c %s", odd->str);
    ck_assert_str_eq(taskset, want_taskset);
    /* One task per vCPU in cpu-index order, on the vCPU's CPU; all memory on node 1. */
    g_autofree char *srun = joined(b->srun);
    g_autofree char *want_srun = g_strdup_printf("srun --nodes=1 --ntasks=40 --exclusive "
                                                 "--cpu-bind=map_cpu:%s --mem-bind=map_mem:1*40",
                                                 map->str);
    ck_assert_str_eq(srun, want_srun);
    /* The seed's bare-metal run: node 0's CPUs offline, but for CPU 0. */
    g_autofree char *down = joined(b->chcpu_offline);
    g_autofree char *up = joined(b->chcpu_online);
    g_autofree char *want_down = g_strdup_printf("chcpu -d %s", even->str);
    g_autofree char *want_up = g_strdup_printf("chcpu -e %s", even->str);
    ck_assert_str_eq(down, want_down);
    ck_assert_str_eq(up, want_up);
    ck_assert_uint_eq(topo_cpuset_count(b->offline), 39);
    ck_assert(!topo_cpuset_intersects(b->offline, b->cpus));
    ck_assert(b->kept && topo_cpuset_count(b->kept) == 1 && topo_cpuset_has(b->kept, 0));
    g_string_free(odd, TRUE);
    g_string_free(even, TRUE);
    g_string_free(map, TRUE);
}
END_TEST

/* The memory side follows the guest nodes' policy; srun maps each task's memory to the host
 * node of its guest node. */
START_TEST(test_bare_metal_policies)
{
    g_autoptr(TopoHost) host = host_read("epyc-7452-2s-nps4");
    g_autoptr(QpinMirror) m = mirror_of(host, "node=0,4");
    static const struct {
        const char *memory, *mem_option, *mem_bind;
    } cases[] = {
        {"4G", "--membind=0,4", " --mem-bind=map_mem:0*16,4*16"},
        {"4G:policy=interleave", "--interleave=0,4", ""},
        {"4G:policy=preferred", "--localalloc", ""},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GPtrArray) nodes = qpin_mirror_numa_nodes(m, cases[i].memory, NULL);
        ck_assert_ptr_nonnull(nodes);
        g_autoptr(QpinBareMetal) b = mirror_twin(host, m, nodes);
        g_autofree char *numactl = joined(b->numactl);
        g_autofree char *want =
            g_strdup_printf("numactl --physcpubind=0-7,32-39,64-71,96-103 %s", cases[i].mem_option);
        ck_assert_str_eq(numactl, want);
        g_autofree char *srun = joined(b->srun);
        ck_assert_msg(g_str_has_suffix(srun, cases[i].mem_bind) &&
                          strstr(srun, "--cpu-bind=map_cpu:0,64,1,65,"),
                      "%s: %s", cases[i].memory, srun);
        ck_assert_int_eq(strstr(srun, "--mem-bind") != NULL, *cases[i].mem_bind != 0);
    }
    /* One node preferred: --preferred. */
    g_autoptr(QpinMirror) one = mirror_of(host, "node=4");
    g_autoptr(GPtrArray) nodes = qpin_mirror_numa_nodes(one, "4G:policy=preferred", NULL);
    g_autoptr(QpinBareMetal) b = mirror_twin(host, one, nodes);
    g_autofree char *numactl = joined(b->numactl);
    ck_assert_str_eq(numactl, "numactl --physcpubind=32-39,96-103 --preferred=4");
}
END_TEST

/* Groups maps give vCPUs several CPUs: srun then binds by mask; no guest memory binding means
 * no memory option; unpinned vCPUs get no task; nothing pinned, no twin. */
START_TEST(test_bare_metal_groups_and_unbound)
{
    g_autoptr(TopoHost) host = host_read("xeon-gold-6148-2s");
    g_autoptr(TopoCpuSet) a = topo_cpuset_parse("1,41", NULL);
    g_autoptr(TopoCpuSet) c = topo_cpuset_parse("64-65", NULL);
    TopoCpuSet *map[] = {a, a, NULL, c};
    g_autoptr(QpinBareMetal) b = qpin_bare_metal_new(host, map, G_N_ELEMENTS(map), NULL);
    ck_assert_ptr_nonnull(b);
    g_autofree char *numactl = joined(b->numactl);
    ck_assert_str_eq(numactl, "numactl --physcpubind=1,41,64-65");
    ck_assert_ptr_null(b->mems);
    g_autofree char *srun = joined(b->srun);
    ck_assert_str_eq(srun, "srun --nodes=1 --ntasks=3 --exclusive "
                           "--cpu-bind=mask_cpu:0x20000000002*2,0x30000000000000000");
    /* 80 CPUs, 4 of the vCPUs, CPU 0 not hot-pluggable in the recording. */
    ck_assert_uint_eq(topo_cpuset_count(b->offline), 75);
    TopoCpuSet *none[] = {NULL, NULL};
    ck_assert_ptr_null(qpin_bare_metal_new(host, none, 2, NULL));
}
END_TEST

START_TEST(test_mirror_shapes)
{
    static const struct {
        const char *host, *spec, *smp, *first_cpus;
    } cases[] = {
        {"xeon-gold-6148-2s", "host", "80,sockets=2,cores=20,threads=2", "0,40,2,42"},
        {"xeon-gold-6148-2s", "node=0", "40,sockets=1,cores=20,threads=2", "0,40,2,42"},
        {"epyc-7452-2s-nps4", "node=0,1", "32,sockets=1,cores=16,threads=2", "0,64,1,65"},
        {"epyc-7452-2s-nps4", "node=3-4", "32,sockets=2,cores=8,threads=2", "24,88,25,89"},
        {"epyc-7452-2s-nps4", "host", "128,sockets=2,cores=32,threads=2", "0,64,1,65"},
        {"xeon-phi-7250", "host", "272,sockets=1,cores=68,threads=4", "0,68,136,204"},
        {"epyc-7313p-nps2-isolated", "node=1", "16,sockets=1,cores=8,threads=2", "8,24,9,25"},
        {"this-machine", "host", NULL, NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoHost) host = host_read(cases[i].host);
        g_autoptr(QpinMirror) m = mirror_of(host, cases[i].spec);
        if (!cases[i].smp)
            continue;
        ck_assert_msg(!strcmp(m->smp, cases[i].smp), "%s %s: -smp %s, want %s", cases[i].host,
                      cases[i].spec, m->smp, cases[i].smp);
        g_autofree char *first = g_strdup_printf("%d,%d,%d,%d", m->vcpu_cpu[0], m->vcpu_cpu[1],
                                                 m->vcpu_cpu[2], m->vcpu_cpu[3]);
        ck_assert_msg(!strcmp(first, cases[i].first_cpus), "%s %s: vCPUs 0-3 on %s, want %s",
                      cases[i].host, cases[i].spec, first, cases[i].first_cpus);
    }
}
END_TEST

START_TEST(test_mirror_refused)
{
    static const struct {
        const char *host, *spec, *needle;
    } cases[] = {
        /* Offline CPUs leave cores with one thread next to cores with two. */
        {"offline-isolated", "host", "no uniform shape"},
        /* A cgroup that allows part of the cores' threads. */
        {"cgroup-subset-gold-6148", "host", "no uniform shape"},
        {"xeon-phi-7250", "node=1", "host node 1 has no online, allowed CPU"},
        {"xeon-gold-6148-2s", "node=7", "host node 7 does not exist"},
        {"xeon-gold-6148-2s", "nodes=1", "expected node=N"},
        {"xeon-gold-6148-2s", "node=x", "is not a list of host node ids"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoHost) host = host_read(cases[i].host);
        GError *error = NULL;
        g_autoptr(QpinMirror) m = qpin_mirror_derive(host, cases[i].spec, &error);
        ck_assert_msg(!m, "%s %s accepted", cases[i].host, cases[i].spec);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        ck_assert_msg(strstr(error->message, cases[i].needle), "%s", error->message);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_mirror_memory)
{
    g_autoptr(TopoHost) host = host_read("epyc-7452-2s-nps4");
    g_autoptr(QpinMirror) m = mirror_of(host, "node=0-2");
    static const struct {
        const char *memory;
        guint64 sizes_mib[3];
        const char *needle; /* error, or NULL */
    } cases[] = {
        {"4G", {4096, 4096, 4096}, NULL},
        {"6G:split", {2048, 2048, 2048}, NULL},
        /* 5 GiB in 2 MiB units: 2560 units, 854 + 853 + 853. */
        {"5G:split", {1708, 1706, 1706}, NULL},
        /* 1 GiB pages: 5 of them, 2 + 2 + 1. */
        {"5G:split:hugepages=1G", {2048, 2048, 1024}, NULL},
        {"1G:split:hugepages=1G", {0}, "at least 3"},
        {"4G:vcpus=0-3", {0}, "vcpus=0-3 is the mirror's"},
        {"4G:host-nodes=1", {0}, "the mirror's"},
        {"lots", {0}, "is not a size"},
        {"4G:colour=red", {0}, "colour"},
        {"", {0}, "needs --mirror-memory"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = NULL;
        g_autoptr(GPtrArray) nodes = qpin_mirror_numa_nodes(m, cases[i].memory, &error);
        if (cases[i].needle) {
            ck_assert_msg(!nodes, "'%s' accepted", cases[i].memory);
            ck_assert_msg(strstr(error->message, cases[i].needle), "'%s': %s", cases[i].memory,
                          error->message);
            g_error_free(error);
            continue;
        }
        ck_assert_msg(nodes, "'%s': %s", cases[i].memory, error ? error->message : "?");
        for (guint n = 0; n < 3; n++)
            ck_assert_msg(((QpinNumaNode *)nodes->pdata[n])->size_bytes ==
                              cases[i].sizes_mib[n] * 1024 * 1024,
                          "'%s': node %u has %" G_GUINT64_FORMAT " bytes", cases[i].memory, n,
                          ((QpinNumaNode *)nodes->pdata[n])->size_bytes);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("numa-shape");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, test_distances_two_sockets);
    tcase_add_test(tc, test_distances_epyc);
    tcase_add_test(tc, test_distances_rounded);
    tcase_add_test(tc, test_distances_memory_only_node);
    tcase_add_test(tc, test_distances_none);
    tcase_add_test(tc, test_user_numa_dist_allowed);
    tcase_add_test(tc, test_auto_nodes);
    tcase_add_test(tc, test_auto_nodes_refused);
    tcase_add_test(tc, test_prealloc_threads);
    tcase_add_test(tc, test_prealloc_threads_args);
    tcase_add_test(tc, test_mirror_gold_node1);
    tcase_add_test(tc, test_mirror_shapes);
    tcase_add_test(tc, test_bare_metal_policies);
    tcase_add_test(tc, test_bare_metal_groups_and_unbound);
    tcase_add_test(tc, test_mirror_refused);
    tcase_add_test(tc, test_mirror_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
