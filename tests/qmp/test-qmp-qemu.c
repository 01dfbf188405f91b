/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Integration: the QMP client and `qpin qmp` against the real qemu-system-x86_64, started paused
 * (-S), over a socketpair end passed as fd and over a unix socket path. Skips (77) only when
 * QEMU is not installed. Uses KVM when a quick probe shows it works, else multi-threaded TCG. */
#include <qpin/qmp.h>
#include "qpin-check.h"
#include "qpin-test-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define QEMU_BINARY  "qemu-system-x86_64"
#define CHILD_QMP_FD 3

static char *qemu_path;
static gboolean use_kvm;

typedef struct {
    GPid pid;
    gboolean reaped;
    int status;
    char *dir;  /* private socket directory, or NULL */
    char *path; /* unix socket path, or NULL */
} Qemu;

static void child_setup(gpointer data)
{
    /* QEMU must not outlive a test that dies on an assertion. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts QEMU paused with @extra arguments; @qmp_fd (or -1) becomes its fd CHILD_QMP_FD. */
static gboolean qemu_start(Qemu *qemu, gboolean kvm, const char *const *extra, int qmp_fd,
                           GError **error)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *base[] = {qemu_path, "-S",  "-display", "none", "-nodefaults", "-no-user-config",
                          "-m",      "128", "-smp",     "4",    "-machine",    "pc"};
    for (gsize i = 0; i < G_N_ELEMENTS(base); i++)
        g_ptr_array_add(argv, (char *)base[i]);
    for (const char *const *accel = qpin_test_accel_args(kvm); *accel; accel++)
        g_ptr_array_add(argv, (char *)*accel);
    for (gsize i = 0; extra && extra[i]; i++)
        g_ptr_array_add(argv, (char *)extra[i]);
    g_ptr_array_add(argv, NULL);

    int source_fds[] = {qmp_fd}, target_fds[] = {CHILD_QMP_FD};
    memset(qemu, 0, sizeof(*qemu));
    /* The fd is dup2()ed onto CHILD_QMP_FD in the child only, without close-on-exec; our own
     * copy stays close-on-exec. */
    return g_spawn_async_with_pipes_and_fds(
        NULL, (const char *const *)argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL,
        -1, -1, -1, qmp_fd >= 0 ? source_fds : NULL, qmp_fd >= 0 ? target_fds : NULL,
        qmp_fd >= 0 ? 1 : 0, &qemu->pid, NULL, NULL, NULL, error);
}

static gboolean qemu_alive(gpointer data)
{
    Qemu *qemu = data;
    if (qemu->reaped)
        return FALSE;
    pid_t r = waitpid(qemu->pid, &qemu->status, WNOHANG);
    if (r == qemu->pid)
        qemu->reaped = TRUE;
    return r == 0;
}

/* Waits up to @ms for QEMU to exit on its own; TRUE if it did. */
static gboolean qemu_wait(Qemu *qemu, int ms)
{
    for (int i = 0; i < ms / 10 && qemu_alive(qemu); i++)
        g_usleep(10000);
    return qemu->reaped;
}

static void qemu_cleanup(Qemu *qemu)
{
    if (qemu->pid > 0 && !qemu->reaped) {
        kill(qemu->pid, SIGKILL);
        waitpid(qemu->pid, &qemu->status, 0);
        qemu->reaped = TRUE;
    }
    if (qemu->path)
        unlink(qemu->path);
    if (qemu->dir)
        rmdir(qemu->dir);
    g_clear_pointer(&qemu->path, g_free);
    g_clear_pointer(&qemu->dir, g_free);
}

static void qemu_start_unix(Qemu *qemu)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-qmp-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s,server=on,wait=off", path);
    const char *extra[] = {"-qmp", spec, NULL};
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qemu_start(qemu, use_kvm, extra, -1, &error), "%s", error->message);
    qemu->dir = g_steal_pointer(&dir);
    qemu->path = g_steal_pointer(&path);
}

/* The whole life of a paused guest: negotiate, find the vCPU threads, run, stop by quit. */
static void exercise(Qemu *qemu, QmpClient *client)
{
    g_autoptr(GError) error = NULL;
    qmp_client_set_timeout(client, 20000);
    ck_assert_msg(qmp_client_handshake(client, &error), "%s", error ? error->message : "");
    const QmpGreeting *greeting = qmp_client_greeting(client);
    ck_assert_int_ge(greeting->major, 2);

    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(client, &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 4);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *cpu = g_ptr_array_index(cpus, i);
        ck_assert_int_eq(cpu->cpu_index, i);
        ck_assert(cpu->has_socket && cpu->has_core && cpu->has_thread);
        g_autofree char *task =
            g_strdup_printf("/proc/%d/task/%" G_GINT64_FORMAT, qemu->pid, cpu->thread_id);
        ck_assert_msg(g_file_test(task, G_FILE_TEST_IS_DIR), "%s does not exist", task);
        ck_assert_msg(g_hash_table_add(seen, &cpu->thread_id), "vCPU threads are shared");
    }

    gboolean running = TRUE;
    g_autofree char *status = qmp_query_status(client, &running, &error);
    ck_assert_msg(status, "%s", error ? error->message : "");
    ck_assert_str_eq(status, "prelaunch");
    ck_assert(!running);
    ck_assert_msg(qmp_cont(client, &error), "%s", error ? error->message : "");
    g_autofree char *after = qmp_query_status(client, &running, &error);
    ck_assert_msg(after, "%s", error ? error->message : "");
    ck_assert_str_eq(after, "running");
    ck_assert(running);
    g_autoptr(QmpEvent) resume = qmp_client_wait_event(client, "RESUME", 5000, &error);
    ck_assert_msg(resume, "%s", error ? error->message : "");

    ck_assert_msg(qmp_quit(client, &error), "%s", error ? error->message : "");
    ck_assert_msg(qemu_wait(qemu, 10000), "QEMU did not exit after quit");
    ck_assert_msg(WIFEXITED(qemu->status) && WEXITSTATUS(qemu->status) == 0,
                  "QEMU ended with status 0x%x", qemu->status);
    ck_assert_int_eq(kill(qemu->pid, 0), -1);
    ck_assert_int_eq(errno, ESRCH);
}

START_TEST(test_socketpair_fd)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_autofree char *chardev = g_strdup_printf("socket,id=qmp,fd=%d", CHILD_QMP_FD);
    const char *extra[] = {"-chardev", chardev, "-mon", "chardev=qmp,mode=control", NULL};
    Qemu qemu;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qemu_start(&qemu, use_kvm, extra, sv[1], &error), "%s", error->message);
    close(sv[1]);
    g_autoptr(QmpClient) client = qmp_client_new_from_fd(sv[0], &error);
    ck_assert_msg(client, "%s", error ? error->message : "");
    exercise(&qemu, client);
    qemu_cleanup(&qemu);
}
END_TEST

START_TEST(test_unix_path)
{
    Qemu qemu;
    qemu_start_unix(&qemu);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpClient) client = qmp_client_connect(qemu.path, 20000, qemu_alive, &qemu, &error);
    ck_assert_msg(client, "%s", error ? error->message : "");
    exercise(&qemu, client);
    qemu_cleanup(&qemu);
}
END_TEST

/* QEMU refusing its command line: connecting stops as soon as it is gone. */
START_TEST(test_connect_qemu_exits)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-qmp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qmp.sock", NULL);
    const char *extra[] = {"-no-such-option", NULL};
    Qemu qemu;
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qemu_start(&qemu, FALSE, extra, -1, &error), "%s", error->message);
    gint64 start = g_get_monotonic_time();
    g_autoptr(QmpClient) client = qmp_client_connect(path, 30000, qemu_alive, &qemu, &error);
    ck_assert_ptr_null(client);
    ck_assert_msg(g_error_matches(error, QMP_ERROR, QMP_ERROR_CONNECT), "%s", error->message);
    ck_assert_msg(strstr(error->message, "QEMU exited"), "%s", error->message);
    ck_assert(g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC);
    ck_assert(qemu.reaped && WIFEXITED(qemu.status) && WEXITSTATUS(qemu.status) != 0);
    qemu_cleanup(&qemu);
    rmdir(dir);
}
END_TEST

START_TEST(test_qpin_qmp_command)
{
    Qemu qemu;
    qemu_start_unix(&qemu);
    /* `qpin qmp` does not wait for QEMU to create and listen on its socket: the library's
     * connect, which retries while QEMU is alive, waits for that once, then lets go of the
     * monitor (QEMU takes the next client once this one has gone). */
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(QmpClient) first = qmp_client_connect(qemu.path, 30000, qemu_alive, &qemu, &error);
        ck_assert_msg(first, "%s", error ? error->message : "?");
    }

    const char *status_args[] = {"--qmp", qemu.path, "query-status", NULL};
    QpinTestRun ok = qpin_test_run_qpin("qmp", status_args);
    ck_assert_msg(ok.status == 0, "exit %d: %s", ok.status, ok.err);
    g_autoptr(QmpJson) doc = json_tokener_parse(ok.out);
    ck_assert_msg(json_object_is_type(doc, json_type_object), "not JSON: %s", ok.out);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(doc, "status")), "prelaunch");
    ck_assert(!json_object_get_boolean(json_object_object_get(doc, "running")));
    qpin_test_run_clear(&ok);

    const char *get_args[] = {"--qmp",     qemu.path,
                              "--timeout", "5",
                              "qom-get",   "{\"path\": \"/machine\", \"property\": \"type\"}",
                              NULL};
    QpinTestRun get = qpin_test_run_qpin("qmp", get_args);
    ck_assert_msg(get.status == 0, "exit %d: %s", get.status, get.err);
    ck_assert_msg(g_str_has_prefix(get.out, "\"pc-i440fx-") &&
                      g_str_has_suffix(get.out, "-machine\"\n"),
                  "%s", get.out);
    qpin_test_run_clear(&get);

    const char *bad_args[] = {"--qmp", qemu.path, "x-no-such-command", NULL};
    QpinTestRun bad = qpin_test_run_qpin("qmp", bad_args);
    ck_assert_int_eq(bad.status, 13);
    ck_assert_str_eq(bad.out, "");
    ck_assert_msg(strstr(bad.err, "CommandNotFound: The command x-no-such-command has not been "
                                  "found"),
                  "%s", bad.err);
    qpin_test_run_clear(&bad);

    const char *dev_args[] = {"--qmp", qemu.path, "qom-get",
                              "{\"path\": \"/nonexistent\", \"property\": \"type\"}", NULL};
    QpinTestRun dev = qpin_test_run_qpin("qmp", dev_args);
    ck_assert_int_eq(dev.status, 13);
    ck_assert_msg(strstr(dev.err, "DeviceNotFound: Device '/nonexistent' not found"), "%s",
                  dev.err);
    qpin_test_run_clear(&dev);

    const char *usage_args[] = {"--qmp", qemu.path, "qom-get", "[\"/machine\"]", NULL};
    QpinTestRun usage = qpin_test_run_qpin("qmp", usage_args);
    ck_assert_int_eq(usage.status, 2);
    ck_assert_msg(strstr(usage.err, "must be a JSON object"), "%s", usage.err);
    qpin_test_run_clear(&usage);

    g_autofree char *missing = g_build_filename(qemu.dir, "missing.sock", NULL);
    const char *missing_args[] = {"--qmp", missing, "query-status", NULL};
    QpinTestRun gone = qpin_test_run_qpin("qmp", missing_args);
    ck_assert_int_eq(gone.status, 12);
    ck_assert_msg(strstr(gone.err, "No such file or directory"), "%s", gone.err);
    ck_assert_msg(gone.seconds < 2, "took %.1f s", gone.seconds);
    qpin_test_run_clear(&gone);

    const char *quit_args[] = {"--qmp", qemu.path, "quit", NULL};
    QpinTestRun quit = qpin_test_run_qpin("qmp", quit_args);
    ck_assert_msg(quit.status == 0, "exit %d: %s", quit.status, quit.err);
    qpin_test_run_clear(&quit);
    ck_assert_msg(qemu_wait(&qemu, 10000), "QEMU did not exit after quit");
    ck_assert(WIFEXITED(qemu.status) && WEXITSTATUS(qemu.status) == 0);
    qemu_cleanup(&qemu);
}
END_TEST

int main(void)
{
    qemu_path = g_find_program_in_path(QEMU_BINARY);
    if (!qemu_path)
        QPIN_SKIP_ALL("%s is not installed", QEMU_BINARY);
    use_kvm = qpin_test_kvm_usable(qemu_path);
    printf("# QEMU %s, accelerator %s\n", qemu_path, use_kvm ? "kvm -cpu qemu64" : "tcg (multi)");
    fflush(stdout);

    Suite *s = suite_create("qmp-qemu");
    TCase *tc = tcase_create("qemu");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_socketpair_fd);
    tcase_add_test(tc, test_unix_path);
    tcase_add_test(tc, test_connect_qemu_exits);
    tcase_add_test(tc, test_qpin_qmp_command);
    suite_add_tcase(s, tc);
    int status = qpin_check_run(s);
    g_free(qemu_path);
    return status;
}
