/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the host audit (qpin check) on fixture hosts: every check of the tuned real-time
 * host passes, every check of the untuned one fails or warns for a reason of its own, a host
 * tree without the evidence gives unknowns, and the maps from a report and from a running
 * QEMU's /proc entries. */
#include "qpin-audit.h"
#include "qpin-check.h"
#include "qpin-error.h"

#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define VCPUS "1-3,5-7,9-11,13-15"
#define HK    "0,4,8,12"

static char *fixture(const char *name)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    return g_build_filename(root, "tests/fixtures/hosts", name, NULL);
}

static QpinAuditMap *rt_map(void)
{
    QpinAuditMap *map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_parse(VCPUS, NULL);
    map->housekeeping_cpus = topo_cpuset_parse(HK, NULL);
    map->rt = TRUE;
    GError *error = NULL;
    ck_assert(qpin_audit_map_add_hugepages(map, "8G@0:1G", &error));
    ck_assert(qpin_audit_map_add_hugepages(map, "8G@1:1G", &error));
    return map;
}

static QpinAuditResult *audit(const char *sysroot, const QpinAuditMap *map)
{
    GError *error = NULL;
    QpinAuditResult *r = qpin_audit_run(sysroot, NULL, map, &error);
    ck_assert_msg(r, "%s", error ? error->message : "?");
    return r;
}

static const QpinAuditCheck *get(const QpinAuditResult *r, const char *id)
{
    const QpinAuditCheck *c = qpin_audit_find(r, id);
    ck_assert_msg(c, "no check %s", id);
    return c;
}

static void assert_status(const QpinAuditResult *r, const char *id, QpinAuditStatus want)
{
    const QpinAuditCheck *c = get(r, id);
    ck_assert_msg(c->status == want, "%s: %s, expected %s (observed: %s)", id,
                  qpin_audit_status_name(c->status), qpin_audit_status_name(want), c->observed);
    /* A gap always comes with its fix; a pass needs none. */
    if (want == QPIN_AUDIT_FAIL)
        ck_assert_msg(c->fix && *c->fix, "%s fails without a fix", id);
    if (want == QPIN_AUDIT_PASS)
        ck_assert_msg(!c->fix, "%s passes with a fix: %s", id, c->fix);
    ck_assert(c->observed && *c->observed && c->expected && *c->expected && c->evidence);
}

static void assert_fix_has(const QpinAuditResult *r, const char *id, const char *text)
{
    const QpinAuditCheck *c = get(r, id);
    ck_assert_msg(c->fix && strstr(c->fix, text), "%s: fix '%s' lacks '%s'", id,
                  c->fix ? c->fix : "(none)", text);
}

static void assert_observed_has(const QpinAuditResult *r, const char *id, const char *text)
{
    const QpinAuditCheck *c = get(r, id);
    ck_assert_msg(strstr(c->observed, text), "%s: observed '%s' lacks '%s'", id, c->observed, text);
}

static const char *const all_ids[] = {
    "cpu.isolated",     "cpu.nohz_full",     "cpu.rcu_nocbs",
    "cpu.housekeeping", "irq.affinity",      "irq.irqbalance",
    "kthread.rcu",      "workqueue.cpumask", "mm.thp",
    "mm.ksm",           "mm.numad",          "mm.numa_balancing",
    "mm.hugepages",     "cpu.governor",      "cpu.idle",
    "sched.rt_runtime", "cpu.smt_shared",    NULL,
};

START_TEST(test_tuned_passes)
{
    g_autofree char *root = fixture("rt-tuned-2s");
    g_autoptr(QpinAuditMap) map = rt_map();
    g_autoptr(QpinAuditResult) r = audit(root, map);
    ck_assert_uint_eq(r->checks->len, g_strv_length((char **)all_ids));
    for (int i = 0; all_ids[i]; i++)
        assert_status(r, all_ids[i], QPIN_AUDIT_PASS);
    ck_assert_int_eq(r->verdict, QPIN_AUDIT_PASS);
    /* The IRQ without a handler (60, on every CPU) and the per-CPU rcuc/1 are not counted. */
    assert_observed_has(r, "irq.affinity", "7 IRQs");
    assert_observed_has(r, "kthread.rcu", "3 RCU kthreads");
    assert_observed_has(r, "irq.irqbalance", "IRQBALANCE_BANNED_CPULIST");
    assert_observed_has(r, "cpu.idle", "idle=halt");
}
END_TEST

START_TEST(test_untuned_fails)
{
    g_autofree char *root = fixture("untuned-2s");
    g_autoptr(QpinAuditMap) map = rt_map();
    g_autoptr(QpinAuditResult) r = audit(root, map);
    static const struct {
        const char *id;
        QpinAuditStatus status;
    } want[] = {
        {"cpu.isolated", QPIN_AUDIT_FAIL},   {"cpu.nohz_full", QPIN_AUDIT_FAIL},
        {"cpu.rcu_nocbs", QPIN_AUDIT_FAIL},  {"cpu.housekeeping", QPIN_AUDIT_FAIL},
        {"irq.affinity", QPIN_AUDIT_FAIL},   {"irq.irqbalance", QPIN_AUDIT_FAIL},
        {"kthread.rcu", QPIN_AUDIT_FAIL},    {"workqueue.cpumask", QPIN_AUDIT_FAIL},
        {"mm.thp", QPIN_AUDIT_FAIL},         {"mm.ksm", QPIN_AUDIT_FAIL},
        {"mm.numad", QPIN_AUDIT_FAIL},       {"mm.numa_balancing", QPIN_AUDIT_FAIL},
        {"mm.hugepages", QPIN_AUDIT_FAIL},   {"cpu.governor", QPIN_AUDIT_WARN},
        {"cpu.idle", QPIN_AUDIT_WARN},       {"sched.rt_runtime", QPIN_AUDIT_FAIL},
        {"cpu.smt_shared", QPIN_AUDIT_FAIL},
    };
    ck_assert_uint_eq(r->checks->len, G_N_ELEMENTS(want));
    for (gsize i = 0; i < G_N_ELEMENTS(want); i++)
        assert_status(r, want[i].id, want[i].status);
    ck_assert_int_eq(r->verdict, QPIN_AUDIT_FAIL);

    /* The fixes are the commands for this host and this map. */
    assert_fix_has(r, "cpu.isolated",
                   "replace \"isolcpus=0-1\" by \"isolcpus=managed_irq,domain," VCPUS "\"");
    assert_fix_has(r, "cpu.nohz_full", "\"nohz_full=" VCPUS "\"");
    assert_fix_has(r, "cpu.rcu_nocbs", "\"rcu_nocbs=" VCPUS "\"");
    assert_fix_has(r, "cpu.housekeeping", "replace \"isolcpus=0-1\" by \"isolcpus=1\"");
    assert_fix_has(r, "irq.affinity",
                   "for irq in 0 8 9 24 25 26 27; do echo " HK " > /proc/irq/$irq/");
    assert_fix_has(r, "irq.affinity", "irqaffinity=" HK);
    assert_observed_has(r, "irq.affinity", "24 nvme0q0 (0-15)");
    assert_fix_has(r, "irq.irqbalance", "IRQBALANCE_BANNED_CPULIST=" VCPUS " ");
    assert_observed_has(r, "irq.irqbalance", "bans 0-1");
    assert_fix_has(r, "kthread.rcu", "for pid in 15 16; do taskset -pc " HK " $pid; done");
    assert_fix_has(r, "workqueue.cpumask", "echo 1111 > /sys/devices/virtual/workqueue/cpumask");
    assert_fix_has(r, "workqueue.cpumask",
                   "echo 1111 > /sys/bus/workqueue/devices/writeback/cpumask");
    assert_observed_has(r, "mm.thp", "always");
    assert_observed_has(r, "mm.ksm", "ksm/run 1, ksmtuned running (pid 741)");
    assert_fix_has(r, "mm.numad", "systemctl disable --now numad");
    assert_fix_has(r, "mm.numa_balancing", "sysctl -w kernel.numa_balancing=0");
    /* 8 pages needed, 2 of 4 free: 6 more on node 0; no 1G pool at all on node 1. */
    assert_fix_has(r, "mm.hugepages",
                   "echo 10 > /sys/devices/system/node/node0/hugepages/hugepages-1048576kB/"
                   "nr_hugepages");
    assert_fix_has(r, "mm.hugepages", "hugepagesz=1G hugepages=1:8");
    assert_fix_has(r, "cpu.governor", "cpupower -c " VCPUS " frequency-set -g performance");
    assert_fix_has(r, "cpu.idle", "cpupower -c " VCPUS " idle-set -d 2");
    assert_fix_has(r, "cpu.idle", "idle-set -d 3");
    assert_fix_has(r, "sched.rt_runtime", "sysctl -w kernel.sched_rt_runtime_us=-1");
    assert_observed_has(r, "cpu.smt_shared", "vCPU CPU 1 shares a core with housekeeping CPU 0");
}
END_TEST

/* offline-isolated carries only the topology and the command line (isolcpus, nohz_full,
 * rcu_nocbs of 2-5): what is not there is unknown, never a pass. */
START_TEST(test_missing_evidence_is_unknown)
{
    g_autofree char *root = fixture("offline-isolated");
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_parse("2-5", NULL);
    map->housekeeping_cpus = topo_cpuset_parse("0-1", NULL);
    map->rt = TRUE;
    g_autoptr(QpinAuditResult) r = audit(root, map);
    assert_status(r, "cpu.isolated", QPIN_AUDIT_PASS);
    assert_status(r, "cpu.nohz_full", QPIN_AUDIT_PASS);
    assert_status(r, "cpu.rcu_nocbs", QPIN_AUDIT_PASS);
    assert_status(r, "cpu.housekeeping", QPIN_AUDIT_PASS);
    static const char *const unknown[] = {
        "irq.affinity", "irq.irqbalance", "kthread.rcu",      "workqueue.cpumask",
        "mm.thp",       "mm.ksm",         "mm.numad",         "mm.numa_balancing",
        "cpu.governor", "cpu.idle",       "sched.rt_runtime", NULL,
    };
    for (int i = 0; unknown[i]; i++)
        assert_status(r, unknown[i], QPIN_AUDIT_UNKNOWN);
    ck_assert_int_eq(r->verdict, QPIN_AUDIT_WARN);
}
END_TEST

/* A copy of a fixture tree in a temporary directory, to change one thing in. */
static char *copy_fixture(const char *name)
{
    g_autofree char *src = fixture(name);
    char *dir = g_dir_make_tmp("qpin-audit-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    g_autofree char *from = g_strconcat(src, "/.", NULL);
    const char *argv[] = {"cp", "-a", from, dir, NULL};
    int status = -1;
    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                           &status, NULL));
    ck_assert(g_spawn_check_wait_status(status, NULL));
    return dir;
}

static void put(const char *root, const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
}

static void remove_tree(const char *dir)
{
    const char *argv[] = {"rm", "-rf", dir, NULL};
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                 NULL);
}

START_TEST(test_variations)
{
    g_autofree char *root = copy_fixture("rt-tuned-2s");
    g_autoptr(QpinAuditMap) map = rt_map();
    /* madvise warns; irqbalance with no ban of its own bans the isolated CPUs, which covers
     * the vCPUs; a FIFO where a sysctl file belongs is unknown, and is not read. */
    put(root, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
    put(root, "proc/812/environ", "LANG=C.UTF-8");
    g_autofree char *fifo = g_build_filename(root, "proc/sys/kernel/sched_rt_runtime_us", NULL);
    g_unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* One RCU kthread let onto a vCPU CPU, one IRQ too. */
    put(root, "proc/17/status", "Name:\trcuop/1\nPPid:\t2\nCpus_allowed_list:\t0-1\n");
    put(root, "proc/irq/25/smp_affinity_list", "5\n");
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        assert_status(r, "mm.thp", QPIN_AUDIT_WARN);
        assert_status(r, "irq.irqbalance", QPIN_AUDIT_PASS);
        assert_observed_has(r, "irq.irqbalance", "isolated and nohz_full");
        assert_status(r, "sched.rt_runtime", QPIN_AUDIT_UNKNOWN);
        assert_observed_has(r, "sched.rt_runtime", "not a regular file");
        assert_status(r, "kthread.rcu", QPIN_AUDIT_FAIL);
        assert_fix_has(r, "kthread.rcu", "for pid in 17; do taskset -pc " HK " $pid; done");
        assert_status(r, "irq.affinity", QPIN_AUDIT_FAIL);
        assert_observed_has(r, "irq.affinity", "1 of 7 IRQs");
        assert_fix_has(r, "irq.affinity", "for irq in 25; do");
    }
    /* Not real-time: RT throttling is fine. irqbalance banning with a hex mask that misses
     * CPU 15 fails. Deep idle states disabled but no idle= passes. */
    map->rt = FALSE;
    put(root, "proc/812/environ", "IRQBALANCE_BANNED_CPUS=00006eee");
    put(root, "proc/cmdline", "ro isolcpus=managed_irq,domain," VCPUS " nohz_full=" VCPUS "\n");
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        assert_status(r, "sched.rt_runtime", QPIN_AUDIT_PASS);
        assert_status(r, "irq.irqbalance", QPIN_AUDIT_FAIL);
        assert_observed_has(r, "irq.irqbalance", "bans 1-3,5-7,9-11,13-14");
        assert_status(r, "cpu.idle", QPIN_AUDIT_PASS);
        assert_observed_has(r, "cpu.idle", "POLL, C1");
        /* nohz_full offloads RCU callbacks by itself. */
        assert_status(r, "cpu.rcu_nocbs", QPIN_AUDIT_PASS);
    }
    /* 10 pages reserved on node 0 but only 5 free: 3 more are needed, 13 in all. */
    put(root, "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages", "5\n");
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        assert_status(r, "mm.hugepages", QPIN_AUDIT_FAIL);
        assert_observed_has(r, "mm.hugepages", "5 of 10 1G pages free on node 0");
        assert_fix_has(r, "mm.hugepages", "echo 13 > /sys/devices/system/node/node0/hugepages/");
    }
    /* Isolation through a cgroup v2 partition instead of isolcpus=; an invalid partition
     * isolates nothing. rcu_nocbs=all offloads every CPU. */
    put(root, "sys/devices/system/cpu/isolated", "\n");
    put(root, "proc/cmdline", "ro nohz_full=" VCPUS " rcu_nocbs=all\n");
    put(root, "sys/fs/cgroup/rt/cpuset.cpus.partition", "isolated\n");
    put(root, "sys/fs/cgroup/rt/cpuset.cpus.effective", VCPUS "\n");
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        assert_status(r, "cpu.isolated", QPIN_AUDIT_PASS);
        const QpinAuditCheck *c = get(r, "cpu.isolated");
        ck_assert_msg(strstr(c->evidence, "/sys/fs/cgroup/rt/cpuset.cpus.partition"), "%s",
                      c->evidence);
        assert_status(r, "cpu.rcu_nocbs", QPIN_AUDIT_PASS);
        assert_observed_has(r, "cpu.rcu_nocbs", "rcu_nocbs=all");
    }
    put(root, "sys/fs/cgroup/rt/cpuset.cpus.partition", "isolated invalid (Cpu list empty)\n");
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        assert_status(r, "cpu.isolated", QPIN_AUDIT_FAIL);
        assert_fix_has(r, "cpu.isolated", "add \"isolcpus=managed_irq,domain," VCPUS "\"");
    }
    /* Housekeeping CPUs left out: the online CPUs without vCPUs are audited. */
    g_clear_pointer(&map->housekeeping_cpus, topo_cpuset_free);
    {
        g_autoptr(QpinAuditResult) r = audit(root, map);
        g_autofree char *hk = topo_cpuset_format(r->housekeeping_cpus);
        ck_assert_str_eq(hk, HK);
    }
    remove_tree(root);
}
END_TEST

/* Without housekeeping CPUs: the CPUs the vCPUs leave, less those isolated for other work. */
START_TEST(test_derived_housekeeping)
{
    g_autofree char *root = fixture("rt-tuned-2s");
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_parse("1", NULL);
    g_autoptr(QpinAuditResult) r = audit(root, map);
    g_autofree char *hk = topo_cpuset_format(r->housekeeping_cpus);
    ck_assert_str_eq(hk, HK);
    assert_status(r, "cpu.housekeeping", QPIN_AUDIT_PASS);

    /* Every CPU the vCPUs leave is isolated: they are the housekeeping, and it fails. */
    g_autoptr(QpinAuditMap) map2 = qpin_audit_map_new();
    map2->vcpu_cpus = topo_cpuset_parse("0-1,4,8,12", NULL);
    g_autoptr(QpinAuditResult) r2 = audit(root, map2);
    g_autofree char *hk2 = topo_cpuset_format(r2->housekeeping_cpus);
    ck_assert_str_eq(hk2, "2-3,5-7,9-11,13-15");
    assert_status(r2, "cpu.housekeeping", QPIN_AUDIT_FAIL);
}
END_TEST

START_TEST(test_map_errors)
{
    g_autofree char *root = fixture("rt-tuned-2s");
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_parse("14-17", NULL);
    GError *error = NULL;
    ck_assert_ptr_null(qpin_audit_run(root, NULL, map, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_MAP));
    ck_assert_msg(strstr(error->message, "16-17"), "%s", error->message);
    g_clear_error(&error);

    static const char *const bad[] = {"8G", "8G@", "@0", "8G@x", "8G@0:4M", "0@0", "8G@0:", NULL};
    for (int i = 0; bad[i]; i++) {
        ck_assert_msg(!qpin_audit_map_add_hugepages(map, bad[i], &error), "%s accepted", bad[i]);
        ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
        g_clear_error(&error);
    }
    ck_assert(qpin_audit_map_add_hugepages(map, "1536M@1", &error));
    QpinAuditHugepages *h = &g_array_index(map->hugepages, QpinAuditHugepages, 0);
    ck_assert_int_eq(h->node, 1);
    ck_assert_uint_eq(h->page_kib, 2048);
    ck_assert_uint_eq(h->bytes, 1536ull << 20);
}
END_TEST

START_TEST(test_mask_format)
{
    static const struct {
        const char *cpus, *mask;
    } cases[] = {
        {"0,4,8,12", "1111"}, {"0-39", "ff,ffffffff"}, {"32", "1,00000000"}, {"0", "1"}, {"", "0"},
        {"1-3,5-7", "ee"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(cases[i].cpus, NULL);
        g_autofree char *mask = qpin_audit_format_mask(set);
        ck_assert_str_eq(mask, cases[i].mask);
        /* The kernel's own parser (here topo_cpuset_parse_mask) reads it back. */
        g_autoptr(TopoCpuSet) back = topo_cpuset_parse_mask(mask, NULL);
        ck_assert(back && topo_cpuset_equal(back, set));
    }
}
END_TEST

START_TEST(test_map_from_report)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-audit-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "plan.json", NULL);
    ck_assert(g_file_set_contents(
        path,
        "{\"schema_version\": 1, \"command\": \"plan\", \"vcpu_sched\": \"fifo:10\","
        " \"vcpus\": [{\"index\": 0, \"cpus\": \"2\"}, {\"index\": 1, \"cpus\": \"3\","
        " \"cpus_actual\": \"5\"}],"
        " \"emulator\": {\"cpus\": \"0\", \"threads\": []},"
        " \"iothreads\": [{\"id\": \"io0\", \"cpus\": \"1\"}],"
        " \"numa\": [{\"guest_node\": 0, \"size_bytes\": 4294967296, \"hugepage_kib\": 1048576,"
        " \"host_nodes\": \"0-1\"}, {\"guest_node\": 1, \"size_bytes\": 1024,"
        " \"hugepage_kib\": 0, \"host_nodes\": \"1\"}]}",
        -1, NULL));
    GError *error = NULL;
    g_autoptr(QpinAuditMap) map = qpin_audit_map_from_report(path, &error);
    ck_assert_msg(map, "%s", error ? error->message : "?");
    g_autofree char *v = topo_cpuset_format(map->vcpu_cpus);
    g_autofree char *h = topo_cpuset_format(map->housekeeping_cpus);
    ck_assert_str_eq(v, "2,5");
    ck_assert_str_eq(h, "0-1");
    ck_assert(map->rt);
    ck_assert_uint_eq(map->hugepages->len, 2);
    QpinAuditHugepages *hp = &g_array_index(map->hugepages, QpinAuditHugepages, 1);
    ck_assert_int_eq(hp->node, 1);
    ck_assert_uint_eq(hp->bytes, 2ull << 30);

    static const char *const bad[] = {
        "[]",
        "{\"schema_version\": 2, \"vcpus\": []}",
        "{\"schema_version\": 1}",
        "{\"schema_version\": 1, \"vcpus\": [{\"cpus\": 3}]}",
        "{\"schema_version\": 1, \"vcpus\": [{\"cpus\": null}]}",
        "{\"schema_version\": 1,",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert(g_file_set_contents(path, bad[i], -1, NULL));
        g_autoptr(QpinAuditMap) m = qpin_audit_map_from_report(path, &error);
        ck_assert_msg(!m, "accepted %s", bad[i]);
        ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
        ck_assert_msg(strstr(error->message, path), "%s", error->message);
        g_clear_error(&error);
    }
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

static void put_thread(const char *root, int pid, int tid, const char *comm, const char *cpus,
                       int policy)
{
    g_autofree char *base = g_strdup_printf("proc/%d/task/%d", pid, tid);
    g_autofree char *c = g_strdup_printf("%s/comm", base), *s = g_strdup_printf("%s/status", base),
                    *st = g_strdup_printf("%s/stat", base);
    g_autofree char *comm_text = g_strdup_printf("%s\n", comm);
    g_autofree char *status = g_strdup_printf("Name:\t%s\nCpus_allowed_list:\t%s\n", comm, cpus);
    /* Fields 3..52 of stat; policy is field 41. */
    GString *stat = g_string_new(NULL);
    g_string_append_printf(stat, "%d (%s) S", tid, comm);
    for (int f = 4; f <= 52; f++)
        g_string_append_printf(stat, " %d", f == 41 ? policy : 0);
    g_string_append_c(stat, '\n');
    put(root, c, comm_text);
    put(root, s, status);
    put(root, st, stat->str);
    g_string_free(stat, TRUE);
}

START_TEST(test_map_from_pid)
{
    g_autofree char *root = g_dir_make_tmp("qpin-audit-XXXXXX", NULL);
    put_thread(root, 500, 500, "qemu-system-x86", "0-15", SCHED_OTHER);
    put_thread(root, 500, 501, "CPU 0/KVM", "2", SCHED_FIFO);
    put_thread(root, 500, 502, "CPU 1/KVM", "3", SCHED_FIFO);
    put_thread(root, 500, 503, "IO io0", "1", SCHED_OTHER);
    put_thread(root, 500, 504, "CPU 1x/KVM", "9", SCHED_OTHER); /* not a vCPU name */
    GError *error = NULL;
    g_autoptr(QpinAuditMap) map = qpin_audit_map_from_pid(root, 500, &error);
    ck_assert_msg(map, "%s", error ? error->message : "?");
    g_autofree char *v = topo_cpuset_format(map->vcpu_cpus);
    g_autofree char *h = topo_cpuset_format(map->housekeeping_cpus);
    ck_assert_str_eq(v, "2-3");
    /* Threads on every CPU say nothing of where host work goes; the vCPU CPUs are not it. */
    ck_assert_str_eq(h, "0-1,4-15");
    ck_assert(map->rt);

    put_thread(root, 600, 600, "bash", "0-1", SCHED_OTHER);
    ck_assert_ptr_null(qpin_audit_map_from_pid(root, 600, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    ck_assert_msg(strstr(error->message, "no vCPU thread"), "%s", error->message);
    g_clear_error(&error);
    ck_assert_ptr_null(qpin_audit_map_from_pid(root, 700, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    g_clear_error(&error);
    remove_tree(root);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_add_test(tc, test_tuned_passes);
    tcase_add_test(tc, test_untuned_fails);
    tcase_add_test(tc, test_missing_evidence_is_unknown);
    tcase_add_test(tc, test_variations);
    tcase_add_test(tc, test_derived_housekeeping);
    tcase_add_test(tc, test_map_errors);
    tcase_add_test(tc, test_mask_format);
    tcase_add_test(tc, test_map_from_report);
    tcase_add_test(tc, test_map_from_pid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
