/* SPDX-License-Identifier: GPL-2.0-or-later */
/* End-to-end: `qpin plan --sysroot FIXTURE --config examples/...` accepts each example on the
 * machine it was written for, showing the generated memory backends in qemu_argv, and refuses
 * it with the preflight message (exit 16) on a machine that cannot hold it. The QEMU command of
 * the examples (KVM, -cpu host, a disk image) is replaced by one that starts here under TCG.
 * Skips (TAP `1..0 # SKIP`) only without QEMU; a plan that lacks the NUMA objects fails. */
#include "qpin-check.h"
#include "qpin-test-util.h"

#include <glib.h>
#include <json-c/json.h>
#include <string.h>

static const char *qpin;
static char *source_root;
static char *qemu;

/* `qpin plan --sysroot FIXTURE --config EXAMPLE --json` of a guest with @smp under TCG. */
static QpinTestRun plan_run(const char *fixture, const char *example, const char *smp)
{
    g_autofree char *sysroot = g_build_filename(source_root, "tests/fixtures/hosts", fixture, NULL);
    g_autofree char *config = g_build_filename(source_root, "examples", example, NULL);
    const char *args[] = {"--sysroot", sysroot,    "--config", config,        "--json",
                          "--",        qemu,       "-accel",   "tcg",         "-smp",
                          smp,         "-display", "none",     "-nodefaults", NULL};
    return qpin_test_run_qpin("plan", args);
}

/* The plan's qemu_argv joined with spaces. */
static char *plan_argv(const QpinTestRun *r, json_object **numa)
{
    json_object *doc = json_tokener_parse(r->out), *argv = NULL;
    ck_assert_msg(doc != NULL, "qpin plan --json wrote no JSON: %s\n%s", r->out, r->err);
    ck_assert_msg(json_object_object_get_ex(doc, "qemu_argv", &argv), "no qemu_argv: %s", r->out);
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < json_object_array_length(argv); i++)
        g_string_append_printf(s, "%s%s", i ? " " : "",
                               json_object_get_string(json_object_array_get_idx(argv, i)));
    json_object *n = NULL;
    *numa = json_object_object_get_ex(doc, "numa", &n) ? json_object_get(n) : NULL;
    json_object_put(doc);
    return g_string_free(s, FALSE);
}

START_TEST(test_seed240_on_xeon_phi)
{
    QpinTestRun r = plan_run("xeon-phi-7250", "seed-240.ini", "cpus=240,cores=60,threads=4");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *numa = NULL;
    g_autofree char *argv = plan_argv(&r, &numa);
    ck_assert_msg(numa != NULL, "the plan has no \"numa\"");
    ck_assert_int_eq(json_object_array_length(numa), 2);
    json_object_put(numa);
    ck_assert_msg(strstr(argv, " -object thread-context,id=qpin-tc0,node-affinity=0 -object "
                               "memory-backend-ram,id=qpin-mem0,size=80G,host-nodes=0,policy=bind,"
                               "prealloc=on,prealloc-threads=16,prealloc-context=qpin-tc0 -numa "
                               "node,nodeid=0,cpus=0-239,memdev=qpin-mem0 "),
                  "%s", argv);
    ck_assert_msg(strstr(argv, " -object memory-backend-ram,id=qpin-mem1,size=15G,host-nodes=1,"
                               "policy=bind -numa node,nodeid=1,memdev=qpin-mem1"),
                  "%s", argv);
    ck_assert_msg(strstr(argv, " -m 95G"), "%s", argv);
    /* DDR4 to MCDRAM is 31 on that host. */
    ck_assert_msg(g_str_has_suffix(argv, " -numa dist,src=0,dst=1,val=31 -numa dist,src=1,dst=0,"
                                         "val=31"),
                  "%s", argv);
    qpin_test_run_clear(&r);
}
END_TEST

START_TEST(test_seed002_on_gold)
{
    QpinTestRun r = plan_run("xeon-gold-6148-2s", "seed-002.ini", "cpus=40,cores=20,threads=2");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *numa = NULL;
    g_autofree char *argv = plan_argv(&r, &numa);
    json_object_put(numa);
    ck_assert_msg(strstr(argv, " -object thread-context,id=qpin-tc0,node-affinity=1 -object "
                               "memory-backend-memfd,id=qpin-mem0,size=160G,hugetlb=on,"
                               "hugetlbsize=1G,host-nodes=1,policy=bind,prealloc=on,"
                               "prealloc-threads=16,prealloc-context=qpin-tc0 -numa "
                               "node,nodeid=0,cpus=0-39,memdev=qpin-mem0 "),
                  "%s", argv);
    qpin_test_run_clear(&r);
}
END_TEST

/* --numa-dist off (and numa-dist=off in [qpin]) leaves QEMU's default distances; a bad value is
 * a usage error. */
START_TEST(test_numa_dist_off)
{
    g_autofree char *sysroot =
        g_build_filename(source_root, "tests/fixtures/hosts/xeon-gold-6148-2s", NULL);
    const char *words[] = {"off", "auto", NULL};
    for (int i = 0; words[i]; i++) {
        const char *args[] = {"--sysroot", sysroot,  "--numa-dist", words[i], "--numa",
                              "1G@0",      "--numa", "1G@1",        "--json", "-q",
                              "--",        qemu,     "-smp",        "2",      NULL};
        QpinTestRun r = qpin_test_run_qpin("plan", args);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        json_object *numa = NULL;
        g_autofree char *argv = plan_argv(&r, &numa);
        json_object_put(numa);
        gboolean has = strstr(argv, " -numa dist,src=0,dst=1,val=21") != NULL;
        ck_assert_msg(has == (i == 1), "--numa-dist %s: %s", words[i], argv);
        qpin_test_run_clear(&r);
    }
    const char *bad[] = {"--sysroot", sysroot, "--numa-dist", "on", "--", qemu, NULL};
    QpinTestRun r = qpin_test_run_qpin("plan", bad);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--numa-dist 'on': expected auto"), "%s", r.err);
    qpin_test_run_clear(&r);
}
END_TEST

/* seed 002's guest in one option: the Gold's node 1 mirrored, against real QEMU (under TCG: the
 * command line's -enable-kvm, -cpu host and absent disk are the run's, not the plan's). */
START_TEST(test_mirror_plan)
{
    g_autofree char *sysroot =
        g_build_filename(source_root, "tests/fixtures/hosts/xeon-gold-6148-2s", NULL);
    const char *args[] = {"--sysroot",
                          sysroot,
                          "--mirror",
                          "node=1",
                          "--mirror-memory",
                          "160G:hugepages=1G:prealloc",
                          "--json",
                          "-q",
                          "--",
                          qemu,
                          "-enable-kvm",
                          "-cpu",
                          "host",
                          "-drive",
                          "file=/var/lib/images/specjbb-guest.qcow2,if=virtio",
                          NULL};
    QpinTestRun r = qpin_test_run_qpin("plan", args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *doc = json_tokener_parse(r.out), *vcpus = NULL, *mirror = NULL, *v = NULL;
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "vcpus", &vcpus));
    ck_assert_int_eq(json_object_array_length(vcpus), 40);
    for (int i = 0; i < 40; i++) {
        json_object *vcpu = json_object_array_get_idx(vcpus, i), *props = NULL;
        ck_assert(json_object_object_get_ex(vcpu, "cpus", &v));
        g_autofree char *want = g_strdup_printf("%d", 1 + i / 2 * 2 + i % 2 * 40);
        ck_assert_msg(!strcmp(json_object_get_string(v), want), "vCPU %d on %s, want %s", i,
                      json_object_get_string(v), want);
        /* QEMU's own topology of the vCPU: core i/2, thread i%2, node 0. */
        ck_assert(json_object_object_get_ex(vcpu, "props", &props));
        ck_assert(json_object_object_get_ex(props, "core", &v));
        ck_assert_int_eq(json_object_get_int(v), i / 2);
        ck_assert(json_object_object_get_ex(props, "thread", &v));
        ck_assert_int_eq(json_object_get_int(v), i % 2);
        ck_assert(json_object_object_get_ex(props, "node", &v));
        ck_assert_int_eq(json_object_get_int(v), 0);
    }
    ck_assert(json_object_object_get_ex(doc, "mirror", &mirror));
    ck_assert(json_object_object_get_ex(mirror, "smp", &v));
    ck_assert_str_eq(json_object_get_string(v), "40,sockets=1,cores=20,threads=2");
    json_object *bare = NULL, *numactl = NULL;
    ck_assert(json_object_object_get_ex(mirror, "bare_metal", &bare));
    ck_assert(json_object_object_get_ex(bare, "numactl", &numactl));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(numactl, 2)), "--membind=1");
    /* The emulator threads on the other node: housekeeping outside the mirror. */
    json_object *emu = NULL;
    ck_assert(json_object_object_get_ex(doc, "emulator", &emu));
    ck_assert(json_object_object_get_ex(emu, "cpus", &v));
    GString *node0 = g_string_new("0");
    for (int c = 2; c < 80; c += 2)
        g_string_append_printf(node0, ",%d", c);
    ck_assert_str_eq(json_object_get_string(v), node0->str);
    g_string_free(node0, TRUE);
    json_object_put(doc);
    json_object *numa = NULL;
    g_autofree char *argv = plan_argv(&r, &numa);
    json_object_put(numa);
    ck_assert_msg(strstr(argv, " -smp 40,sockets=1,cores=20,threads=2 "), "%s", argv);
    ck_assert_msg(strstr(argv, "hugetlbsize=1G,host-nodes=1,policy=bind,prealloc=on,"
                               "prealloc-threads=16,prealloc-context=qpin-tc0 -numa "
                               "node,nodeid=0,cpus=0-39,memdev=qpin-mem0 -m 160G"),
                  "%s", argv);
    ck_assert_msg(strstr(argv, " -enable-kvm -cpu host -drive "), "%s", argv);
    qpin_test_run_clear(&r);
}
END_TEST

/* plan --bare-metal: with -q only the twin's commands, the seed's srun binding task i to vCPU
 * i's CPU; on this machine, the srun list follows the map in cpu-index order; without a map
 * there is no twin (null in JSON, said in text). */
START_TEST(test_bare_metal_plan)
{
    g_autofree char *sysroot =
        g_build_filename(source_root, "tests/fixtures/hosts/xeon-gold-6148-2s", NULL);
    g_autofree char *config = g_build_filename(source_root, "examples/seed-002.ini", NULL);
    const char *args[] = {"-q",       "--bare-metal", "--sysroot",   sysroot,
                          "--config", config,         "--",          qemu,
                          "-accel",   "tcg",          "-smp",        "cpus=40,cores=20,threads=2",
                          "-display", "none",         "-nodefaults", NULL};
    QpinTestRun r = qpin_test_run_qpin("plan", args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    g_auto(GStrv) lines = g_strsplit(r.out, "\n", -1);
    ck_assert_msg(g_strv_length(lines) == 8 && !strcmp(lines[7], ""), "%s", r.out);
    ck_assert_str_eq(lines[0], "bare metal, the guest's CPUs and memory for a host process:");
    /* CPU 0 has no online file in the recording: it stays, and the plan says so. */
    GString *odd = g_string_new("1"), *even = g_string_new("2"), *map = g_string_new("1,41");
    for (int c = 3; c < 80; c += 2)
        g_string_append_printf(odd, ",%d", c);
    for (int c = 4; c < 80; c += 2)
        g_string_append_printf(even, ",%d", c);
    for (int c = 3; c < 40; c += 2)
        g_string_append_printf(map, ",%d,%d", c, c + 40);
    g_autofree char *numactl =
        g_strdup_printf("  numactl --physcpubind=%s --membind=1 COMMAND", odd->str);
    g_autofree char *taskset = g_strdup_printf("  taskset -c %s COMMAND", odd->str);
    g_autofree char *srun = g_strdup_printf("  srun --nodes=1 --ntasks=40 --exclusive "
                                            "--cpu-bind=map_cpu:%s --mem-bind=map_mem:1*40 COMMAND",
                                            map->str);
    g_autofree char *chcpu = g_strdup_printf("  chcpu -d %s", even->str);
    ck_assert_str_eq(lines[1], numactl);
    ck_assert_str_eq(lines[2], taskset);
    ck_assert_str_eq(lines[3], srun);
    ck_assert_str_eq(lines[4], chcpu);
    ck_assert_msg(strstr(lines[5], "destructive, never run by qpin") &&
                      strstr(lines[5], "chcpu -e 2,4,"),
                  "%s", lines[5]);
    ck_assert_str_eq(lines[6], "    (CPU 0 stays online: the kernel cannot take it offline, it has "
                               "no online file)");
    g_string_free(odd, TRUE);
    g_string_free(even, TRUE);
    g_string_free(map, TRUE);
    qpin_test_run_clear(&r);

    /* This machine: the map 1,0 (reversed), a task per vCPU in cpu-index order. */
    const char *here[] = {"--json",
                          "-q",
                          "--pin",
                          "1,0",
                          "--allow-overcommit",
                          "--",
                          qemu,
                          "-accel",
                          "tcg,thread=multi",
                          "-smp",
                          "2",
                          "-display",
                          "none",
                          "-nodefaults",
                          NULL};
    r = qpin_test_run_qpin("plan", here);
    if (r.status == 14 && strstr(r.err, "not present")) {
        /* A one-CPU machine has no CPU 1: nothing to reverse. */
        qpin_test_run_clear(&r);
    } else {
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        json_object *doc = json_tokener_parse(r.out), *bare = NULL, *srun_argv = NULL, *v = NULL;
        ck_assert_ptr_nonnull(doc);
        ck_assert(json_object_object_get_ex(doc, "bare_metal", &bare));
        ck_assert(json_object_object_get_ex(bare, "srun", &srun_argv));
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(srun_argv, 4)),
                         "--cpu-bind=map_cpu:1,0");
        ck_assert_int_eq(json_object_array_length(srun_argv), 5);
        ck_assert(json_object_object_get_ex(bare, "mems", &v));
        ck_assert_ptr_null(v);
        ck_assert(json_object_object_get_ex(bare, "numactl", &v));
        ck_assert_int_eq(json_object_array_length(v), 2);
        json_object_put(doc);
        qpin_test_run_clear(&r);
    }

    /* No map: no twin. */
    const char *none[] = {"--json", "--bare-metal", "--",   qemu,          "-accel",
                          "tcg",    "-display",     "none", "-nodefaults", NULL};
    r = qpin_test_run_qpin("plan", none);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *doc = json_tokener_parse(r.out), *bare = (json_object *)1;
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "bare_metal", &bare));
    ck_assert_ptr_null(bare);
    json_object_put(doc);
    qpin_test_run_clear(&r);
    const char *none_text[] = {"-q",  "--bare-metal", "--",   qemu,          "-accel",
                               "tcg", "-display",     "none", "-nodefaults", NULL};
    r = qpin_test_run_qpin("plan", none_text);
    ck_assert_msg(r.status == 0 && g_str_has_prefix(r.out, "bare metal: no vCPU is pinned"),
                  "exit %d: %s", r.status, r.out);
    qpin_test_run_clear(&r);
}
END_TEST

/* --mirror and anything else that shapes the guest: a usage error naming both. */
START_TEST(test_mirror_conflicts)
{
    g_autofree char *sysroot =
        g_build_filename(source_root, "tests/fixtures/hosts/xeon-gold-6148-2s", NULL);
    static const struct {
        const char *extra[4];
        const char *qemu_extra[3];
        const char *needle;
    } cases[] = {
        {{NULL}, {"-smp", "8", NULL}, "--mirror node=1 and the QEMU option -smp 8 both shape"},
        {{NULL}, {"-numa", "node,nodeid=0", NULL}, "and the QEMU option -numa node,nodeid=0"},
        {{"--numa", "1G@1", NULL}, {NULL}, "--mirror node=1 and --numa '1G@1' both shape"},
        {{"--pin", "auto", NULL}, {NULL}, "--mirror node=1 and --pin 'auto' both shape"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GPtrArray) args = g_ptr_array_new_null_terminated(16, NULL, TRUE);
        const char *head[] = {"--sysroot", sysroot, "--mirror", "node=1", "--mirror-memory", "1G"};
        for (gsize k = 0; k < G_N_ELEMENTS(head); k++)
            g_ptr_array_add(args, (gpointer)head[k]);
        for (int k = 0; cases[i].extra[k]; k++)
            g_ptr_array_add(args, (gpointer)cases[i].extra[k]);
        g_ptr_array_add(args, "--");
        g_ptr_array_add(args, qemu);
        for (int k = 0; cases[i].qemu_extra[k]; k++)
            g_ptr_array_add(args, (gpointer)cases[i].qemu_extra[k]);
        QpinTestRun r = qpin_test_run_qpin("plan", (const char *const *)args->pdata);
        ck_assert_msg(r.status == 2, "case %zu: exit %d: %s", i, r.status, r.err);
        ck_assert_msg(strstr(r.err, cases[i].needle), "case %zu: %s", i, r.err);
        qpin_test_run_clear(&r);
    }
    const char *no_memory[] = {"--sysroot", sysroot, "--mirror", "node=1", "--", qemu, NULL};
    QpinTestRun r = qpin_test_run_qpin("plan", no_memory);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "needs --mirror-memory"), "%s", r.err);
    qpin_test_run_clear(&r);
}
END_TEST

/* The example on the fixture is refused by the preflight (exit 16), saying @needle. */
static void assert_refused(const char *fixture, const char *example, const char *smp,
                           const char *needle)
{
    QpinTestRun r = plan_run(fixture, example, smp);
    ck_assert_msg(r.status == 16, "%s on %s: exit %d, expected 16: %s", example, fixture, r.status,
                  r.err);
    ck_assert_msg(strstr(r.err, needle), "%s on %s: stderr lacks '%s': %s", example, fixture,
                  needle, r.err);
    qpin_test_run_clear(&r);
}

START_TEST(test_refused_elsewhere)
{
    assert_refused("xeon-gold-6148-2s", "seed-240.ini", "cpus=240,cores=60,threads=4",
                   "guest node 0 ([numa.0]) needs 80.0 GiB on host node 0 (policy=bind), which "
                   "has 11.5 GiB free");
    assert_refused("xeon-phi-7250", "seed-002.ini", "cpus=40,cores=20,threads=2",
                   "on host node 1, which has 0 free of 0; the node cannot hold them: 160 more "
                   "are missing and its 15.7 GiB of MemFree holds at most 15 1G pages");
}
END_TEST

int main(void)
{
    qpin = g_getenv("QPIN");
    source_root = g_strdup(g_getenv("QPIN_SOURCE_ROOT"));
    if (!qpin || !source_root)
        QPIN_BAIL_OUT("QPIN and QPIN_SOURCE_ROOT must be set (run through meson test)");
    qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu)
        QPIN_SKIP_ALL("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)");

    Suite *s = suite_create("numa-plan");
    TCase *tc = tcase_create("examples");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seed240_on_xeon_phi);
    tcase_add_test(tc, test_seed002_on_gold);
    tcase_add_test(tc, test_refused_elsewhere);
    tcase_add_test(tc, test_numa_dist_off);
    tcase_add_test(tc, test_mirror_plan);
    tcase_add_test(tc, test_mirror_conflicts);
    tcase_add_test(tc, test_bare_metal_plan);
    suite_add_tcase(s, tc);
    return qpin_check_run(s);
}
