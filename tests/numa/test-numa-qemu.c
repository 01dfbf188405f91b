/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Integration: the generated memory backends on a real QEMU 7.2 (paused with -S, TCG), and the
 * placement proof read from its /proc/PID/numa_maps. This host has one NUMA node, so every
 * page must be on node 0. Exits 77 when qemu-system-x86_64 is absent. */
#include "qpin-memory.h"
#include "qpin-output-memory.h"
#include "qpin-placement-check.h"
#include "qpin-preflight.h"
#include "qpin-progress.h"
#include "qpin-qemu-numa.h"
#include "qpin-check.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static char *qemu_binary;

static void child_setup(gpointer data)
{
    /* No QEMU outlives the test, even when the test dies. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GPtrArray *nodes_parse(const char *const *specs)
{
    GPtrArray *nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    for (int i = 0; specs[i]; i++) {
        GError *error = NULL;
        QpinNumaNode *node = qpin_memory_node_parse(specs[i], i, &error);
        ck_assert_msg(node != NULL, "%s", error ? error->message : "?");
        g_ptr_array_add(nodes, node);
    }
    return nodes;
}

static GPid qemu_start(const GPtrArray *nodes, const TopoHost *host, gboolean probe)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    const char *base[] = {qemu_binary, "-S", "-display", "none", "-nodefaults", "-accel", "tcg",
                          "-smp",      "4",  "-monitor", "none", "-serial",     "none",   NULL};
    for (int i = 0; base[i]; i++)
        g_ptr_array_add(argv, g_strdup(base[i]));
    GError *error = NULL;
    gboolean ok = probe ? qpin_qemu_numa_args_probe(nodes, argv, &error)
                        : qpin_qemu_numa_args_host(nodes, host, argv, &error);
    ck_assert_msg(ok, "%s", error ? error->message : "?");
    g_ptr_array_add(argv, NULL);
    g_autofree char *joined = g_strjoinv(" ", (char **)argv->pdata);
    fprintf(stderr, "starting: %s\n", joined);
    GPid pid = 0;
    ck_assert_msg(g_spawn_async(NULL, (char **)argv->pdata, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, child_setup,
                                NULL, &pid, &error),
                  "%s", error ? error->message : "?");
    g_ptr_array_unref(argv);
    return pid;
}

static void qemu_stop(GPid pid)
{
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* Waits until every backend is found and the preallocated ones are resident in full. QEMU
 * preallocates before it starts the machine, so the mappings exist before the pages do. */
static GPtrArray *placement_wait(const GPtrArray *nodes, GPid pid)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "QEMU exited (status 0x%x)", status);
        GError *error = NULL;
        GPtrArray *pl = qpin_mem_placement_read(nodes, pid, "/proc", &error);
        ck_assert_msg(pl != NULL, "%s", error ? error->message : "?");
        gboolean ready = TRUE;
        for (guint i = 0; i < pl->len; i++) {
            const QpinMemPlacement *p = g_ptr_array_index(pl, i);
            const QpinNumaNode *node = g_ptr_array_index(nodes, i);
            if (!p->found || (node->prealloc && p->resident_bytes < node->size_bytes))
                ready = FALSE;
        }
        if (ready)
            return pl;
        ck_assert_msg(g_get_monotonic_time() < deadline, "the backends did not appear in 60 s");
        g_ptr_array_unref(pl);
        g_usleep(100 * 1000);
    }
}

static guint64 pages_on(const QpinMemPlacement *p, guint node)
{
    return node < p->pages_per_node->len ? g_array_index(p->pages_per_node, guint64, node) : 0;
}

START_TEST(test_real_qemu_placement)
{
    g_autoptr(TopoHost) host = topo_host_read("/", NULL);
    ck_assert_ptr_nonnull(host);
    static const char *const specs[] = {
        "64M@0:vcpus=0-1:prealloc",
        "32M@0:backend=memfd:vcpus=2-3:prealloc:prealloc-threads=2",
        "16M@0:policy=interleave",
        "16M",
        NULL,
    };
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    GError *error = NULL;
    ck_assert_msg(qpin_preflight_memory(nodes, host, &error), "%s", error ? error->message : "");

    GPid pid = qemu_start(nodes, host, FALSE);
    g_autoptr(GPtrArray) pl = placement_wait(nodes, pid);
    gint64 populated = qpin_progress_sample(pid, NULL);

    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    gboolean checked = qpin_mem_placement_check(pl, nodes, warnings, &error);
    g_autoptr(GString) table = g_string_new(NULL);
    qpin_output_memory_placement_table(pl, table);
    fprintf(stderr, "%s", table->str);
    qemu_stop(pid);

    ck_assert_msg(checked, "%s", error ? error->message : "");
    ck_assert_uint_eq(warnings->len, 0);
    const QpinMemPlacement *p0 = g_ptr_array_index(pl, 0), *p1 = g_ptr_array_index(pl, 1),
                           *p2 = g_ptr_array_index(pl, 2), *p3 = g_ptr_array_index(pl, 3);
    ck_assert_str_eq(p0->policy, "bind:0");
    ck_assert_uint_eq(pages_on(p0, 0), (64u << 20) / 4096);
    ck_assert_uint_eq(p0->pages_per_node->len, 1);
    ck_assert_str_eq(p1->policy, "bind:0");
    ck_assert_uint_eq(pages_on(p1, 0), (32u << 20) / 4096);
    ck_assert_str_eq(p2->policy, "interleave:0");
    ck_assert_str_eq(p3->policy, "default");
    ck_assert(p0->ok && p1->ok && p2->ok && p3->ok);
    /* The progress measure sees the preallocated memory. */
    ck_assert_int_ge(populated, (gint64)qpin_memory_prealloc_bytes(nodes));
}
END_TEST

START_TEST(test_real_qemu_probe)
{
    /* The seed's 80G + 15G guest, as `qpin plan --sysroot` starts it on this small machine. */
    static const char *const specs[] = {"80G@0:vcpus=0-3:prealloc", "15G@1", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    GPid pid = qemu_start(nodes, NULL, TRUE);
    /* As unbound plain ram they are found by size with the default policy. */
    g_autoptr(GPtrArray) plain =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    static const char *const unbound[] = {"80G:vcpus=0-3", "15G", NULL};
    for (int i = 0; unbound[i]; i++)
        g_ptr_array_add(plain, qpin_memory_node_parse(unbound[i], i, NULL));
    g_autoptr(GPtrArray) pl = placement_wait(plain, pid);
    qemu_stop(pid);
    const QpinMemPlacement *p0 = g_ptr_array_index(pl, 0);
    ck_assert_str_eq(p0->policy, "default");
    ck_assert_uint_lt(p0->resident_bytes, 1ull << 30);
}
END_TEST

/* Runs QEMU with @extra arguments and QMP on its standard input told to quit: QEMU reads QMP only
 * once the machine is built, so status 0 means it accepted the memory layout. Returns the exit
 * status; @err gets QEMU's standard error. */
static int qemu_accepts(const char *const *extra, char **err)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *base[] = {qemu_binary, "-S",   "-display", "none", "-nodefaults", "-accel", "tcg",
                          "-monitor",  "none", "-serial",  "none", "-qmp",        "stdio",  NULL};
    for (int i = 0; base[i]; i++)
        g_ptr_array_add(argv, (gpointer)base[i]);
    for (int i = 0; extra[i]; i++)
        g_ptr_array_add(argv, (gpointer)extra[i]);
    g_ptr_array_add(argv, NULL);
    GPid pid = 0;
    int in = -1, errfd = -1;
    GError *error = NULL;
    ck_assert_msg(g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                           child_setup, NULL, &pid, &in, NULL, &errfd, &error),
                  "%s", error ? error->message : "?");
    /* QEMU may have refused and exited already: no SIGPIPE for the test. */
    signal(SIGPIPE, SIG_IGN);
    static const char qmp[] = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
    ssize_t ignored = write(in, qmp, sizeof(qmp) - 1);
    (void)ignored;
    close(in);
    GString *text = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(errfd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            g_string_append_len(text, buf, n);
    close(errfd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *err = g_string_free(text, FALSE);
    ck_assert_msg(WIFEXITED(status), "QEMU died (status 0x%x): %s", status, *err);
    return WEXITSTATUS(status);
}

/* qpin's rule for the total guest memory (a multiple of 8K) is QEMU's: what qpin accepts QEMU
 * builds, what qpin refuses QEMU refuses too. */
START_TEST(test_real_qemu_ram_step)
{
    static const char *const accepted[] = {"4K", "4K", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(accepted);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(qemu_binary));
    GError *error = NULL;
    ck_assert_msg(qpin_qemu_numa_args(nodes, argv, &error), "%s", error ? error->message : "?");
    g_ptr_array_add(argv, NULL);
    g_autofree char *err = NULL;
    ck_assert_msg(qemu_accepts((const char *const *)argv->pdata + 1, &err) == 0, "%s", err);

    static const struct {
        const char *specs[3];
        const char *args[12];
    } refused[] = {
        {{"4K", NULL},
         {"-object", "memory-backend-ram,id=m0,size=4K", "-numa", "node,memdev=m0", "-m", "4K",
          NULL}},
        {{"4K", "8K", NULL},
         {"-object", "memory-backend-ram,id=m0,size=4K", "-object",
          "memory-backend-ram,id=m1,size=8K", "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
          "-m", "12K", NULL}},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(refused); k++) {
        g_autoptr(GPtrArray) bad = nodes_parse(refused[k].specs);
        ck_assert(!qpin_memory_validate(bad, NULL));
        g_autofree char *why = NULL;
        ck_assert_int_eq(qemu_accepts(refused[k].args, &why), 1);
        ck_assert_msg(strstr(why, "should equal RAM size"), "%s", why);
    }
}
END_TEST

int main(void)
{
    qemu_binary = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu_binary)
        QPIN_SKIP_ALL("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)");
    if (access("/proc/self/numa_maps", R_OK) != 0)
        QPIN_SKIP_ALL("/proc/self/numa_maps is missing (kernel without CONFIG_NUMA)");
    Suite *s = suite_create("numa-qemu");
    TCase *tc = tcase_create("qemu");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_real_qemu_placement);
    tcase_add_test(tc, test_real_qemu_probe);
    tcase_add_test(tc, test_real_qemu_ram_step);
    suite_add_tcase(s, tc);
    return qpin_check_run(s);
}
