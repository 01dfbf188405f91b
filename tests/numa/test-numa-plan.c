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
                               "prealloc=on,prealloc-context=qpin-tc0 -numa "
                               "node,nodeid=0,cpus=0-239,memdev=qpin-mem0 "),
                  "%s", argv);
    ck_assert_msg(strstr(argv, " -object memory-backend-ram,id=qpin-mem1,size=15G,host-nodes=1,"
                               "policy=bind -numa node,nodeid=1,memdev=qpin-mem1"),
                  "%s", argv);
    ck_assert_msg(strstr(argv, " -m 95G"), "%s", argv);
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
                               "prealloc-context=qpin-tc0 -numa "
                               "node,nodeid=0,cpus=0-39,memdev=qpin-mem0 "),
                  "%s", argv);
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
    suite_add_tcase(s, tc);
    return qpin_check_run(s);
}
