/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — helpers shared by the test binaries, see qpin-test-util.h. */
#include "qpin-test-util.h"

#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

QpinTestRun qpin_test_run(const char *const *argv)
{
    QpinTestRun run = {0};
    int wait_status = 0;
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &run.out,
                               &run.err, &wait_status, &error),
                  "cannot run %s: %s", argv[0], error ? error->message : "?");
    run.seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
    ck_assert_msg(WIFEXITED(wait_status), "%s died with status 0x%x; stderr: %s", argv[0],
                  wait_status, run.err);
    run.status = WEXITSTATUS(wait_status);
    return run;
}

QpinTestRun qpin_test_run_qpin(const char *command, const char *const *args)
{
    const char *qpin = g_getenv("QPIN");
    ck_assert_msg(qpin, "QPIN is not set");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)qpin);
    g_ptr_array_add(argv, (char *)command);
    for (gsize i = 0; args && args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    return qpin_test_run((const char *const *)argv->pdata);
}

void qpin_test_run_clear(QpinTestRun *run)
{
    g_clear_pointer(&run->out, g_free);
    g_clear_pointer(&run->err, g_free);
}

static void die_with_parent(gpointer data)
{
    /* No probe QEMU outlives the test binary. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static guint count_matches(const char *haystack, const char *needle)
{
    guint n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* /dev/kvm can be usable for a paused QEMU and still fail once a vCPU runs, so the probe
 * resumes the guest before it quits. The QMP commands come from a file on QEMU's stdin. */
static gboolean probe_kvm(const char *qemu)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        return FALSE;
    static const char commands[] = "{\"execute\": \"qmp_capabilities\"}\n"
                                   "{\"execute\": \"cont\"}\n"
                                   "{\"execute\": \"quit\"}\n";
    g_autofree char *in_path = NULL, *out_path = NULL;
    int in = g_file_open_tmp("qpin-kvm-in-XXXXXX", &in_path, NULL);
    int out = g_file_open_tmp("qpin-kvm-out-XXXXXX", &out_path, NULL);
    gboolean ok = in >= 0 && out >= 0 &&
                  write(in, commands, strlen(commands)) == (ssize_t)strlen(commands) &&
                  lseek(in, 0, SEEK_SET) == 0;
    const char *argv[] = {qemu,   "-accel",      "kvm", "-cpu", "qemu64", "-S",    "-display",
                          "none", "-nodefaults", "-m",  "64",   "-qmp",   "stdio", NULL};
    GPid pid = 0;
    if (ok)
        ok = g_spawn_async_with_fds(NULL, (char **)argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                    die_with_parent, NULL, &pid, in, out, -1, NULL);
    int status = -1;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (ok && waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        g_usleep(10000);
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    g_autofree char *replies = NULL;
    if (out_path)
        g_file_get_contents(out_path, &replies, NULL, NULL);
    if (in_path)
        unlink(in_path);
    if (out_path)
        unlink(out_path);
    /* The replies to qmp_capabilities and cont at least; quit may end QEMU before its own. */
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 && replies &&
           count_matches(replies, "\"return\"") >= 2 && !strstr(replies, "\"error\"");
}

gboolean qpin_test_kvm_usable(const char *qemu)
{
    return g_strcmp0(g_getenv("QPIN_TEST_ACCEL"), "tcg") != 0 && probe_kvm(qemu);
}

const char *const *qpin_test_accel_args(gboolean kvm)
{
    static const char *const kvm_args[] = {"-accel", "kvm", "-cpu", "qemu64", NULL};
    static const char *const tcg_args[] = {"-accel", "tcg,thread=multi", NULL};
    return kvm ? kvm_args : tcg_args;
}
