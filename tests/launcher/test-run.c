/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Integration tests of qpin run, plan and pin with a real QEMU: affinities applied and read
 * back through /proc, map errors, QEMU failing at start, signals, stdio pass-through, exact
 * argument values, and no QEMU process left behind by any path.
 *
 * KVM is used when a probe shows it works here (with -cpu qemu64), else TCG with one thread
 * per vCPU. Every QEMU gets a -name holding a prefix unique to this test run, so that leftover
 * processes can be found in /proc. */
#include <qpin/qmp.h>
#include "qpin-check.h"
#include "qpin-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define QEMU "qemu-system-x86_64"

enum { EXIT_QEMU_START = 11, EXIT_MAP = 14, EXIT_PIN = 15 };

static const char *qpin;
static char prefix[64];
static gboolean kvm;
static char *tmpdir;
static int counter;

/* ---- processes ---- */

typedef struct {
    pid_t pid;
    char *out, *err; /* paths of captured stdout, stderr */
    int stdin_fd;    /* write end of the child's stdin pipe, or -1 */
    int status;      /* exit code (128+N for signal N) once waited */
} Proc;

/* Starts @argv with stdout and stderr captured to files; stdin is a pipe when @with_stdin,
 * else /dev/null; @keep_fd (-1: none) stays open in the child, as QEMU's -chardev fd=N needs.
 * The child dies with the test process (PDEATHSIG), so a failed assertion
 * never leaves qpin, and through qpin QEMU, running. */
static Proc *proc_start_keeping(char **argv, gboolean with_stdin, int keep_fd)
{
    Proc *p = g_new0(Proc, 1);
    int n = ++counter;
    p->out = g_strdup_printf("%s/out.%d.%d", tmpdir, (int)getpid(), n);
    p->err = g_strdup_printf("%s/err.%d.%d", tmpdir, (int)getpid(), n);
    int in[2] = {-1, -1};
    if (with_stdin)
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    pid_t parent = getpid();
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0)
            _exit(126);
        int o = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int i = with_stdin ? in[0] : open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || i < 0)
            _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (with_stdin) {
        close(in[0]);
        p->stdin_fd = in[1];
    } else {
        p->stdin_fd = -1;
    }
    return p;
}

/* proc_start_keeping() without a descriptor handed down. */
static Proc *proc_start(char **argv, gboolean with_stdin)
{
    return proc_start_keeping(argv, with_stdin, -1);
}

/* Waits up to @timeout_ms; on timeout kills the child and fails the test. */
static int proc_wait(Proc *p, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    int status;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            break;
        if (g_get_monotonic_time() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            ck_abort_msg("%s did not exit within %d ms", qpin, timeout_ms);
        }
        usleep(5000);
    }
    p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
    return p->status;
}

static char *slurp(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

static void proc_free(Proc *p)
{
    if (!p)
        return;
    g_unlink(p->out);
    g_unlink(p->err);
    g_free(p->out);
    g_free(p->err);
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Proc, proc_free)

/* Runs qpin to completion. */
static Proc *run_qpin(char **argv, int timeout_ms)
{
    Proc *p = proc_start(argv, FALSE);
    proc_wait(p, timeout_ms);
    return p;
}

/* ---- command lines ---- */

static char *unique_name(void)
{
    return g_strdup_printf("%s-%d-%d", prefix, (int)getpid(), ++counter);
}

/* qpin [run] ARGS... -- QEMU ACCEL -display none -nodefaults -m 64 -name NAME QEMU_ARGS... */
static char **qpin_argv(const char *const *qpin_args, const char *name,
                        const char *const *qemu_args)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add(b, qpin);
    if (!qpin_args || !qpin_args[0] || strcmp(qpin_args[0], "plan") != 0)
        g_strv_builder_add(b, "run");
    for (int i = 0; qpin_args && qpin_args[i]; i++)
        g_strv_builder_add(b, qpin_args[i]);
    g_strv_builder_add_many(b, "--", QEMU, NULL);
    g_strv_builder_addv(b, (const char **)qpin_test_accel_args(kvm));
    g_strv_builder_add_many(b, "-display", "none", "-nodefaults", "-m", "64", NULL);
    if (name)
        g_strv_builder_add_many(b, "-name", name, NULL);
    for (int i = 0; qemu_args && qemu_args[i]; i++)
        g_strv_builder_add(b, qemu_args[i]);
    return g_strv_builder_end(b);
}

/* ---- /proc ---- */

/* Pids of QEMU processes whose command line mentions @needle. */
static GArray *qemu_pids(const char *needle)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *e;
    while (dir && (e = g_dir_read_name(dir))) {
        guint64 pid;
        if (!g_ascii_string_to_unsigned(e, 10, 1, G_MAXINT, &pid, NULL))
            continue;
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", e);
        g_autofree char *data = NULL;
        gsize len = 0;
        if (!g_file_get_contents(path, &data, &len, NULL) || len == 0)
            continue;
        g_autofree char *base = g_path_get_basename(data);
        if (strcmp(base, QEMU) != 0)
            continue;
        for (gsize off = 0; off < len; off += strlen(data + off) + 1) {
            if (strstr(data + off, needle)) {
                pid_t p = (pid_t)pid;
                g_array_append_val(pids, p);
                break;
            }
        }
    }
    return pids;
}

static void assert_no_qemu(const char *needle, int grace_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)grace_ms * 1000;
    for (;;) {
        g_autoptr(GArray) pids = qemu_pids(needle);
        if (pids->len == 0)
            return;
        if (g_get_monotonic_time() > deadline) {
            pid_t p = g_array_index(pids, pid_t, 0);
            kill(p, SIGKILL);
            ck_abort_msg("QEMU pid %d (%s) is still running", (int)p, needle);
        }
        usleep(10000);
    }
}

static char *cpus_allowed(pid_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)tid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("(gone)");
    char *line = strstr(text, "Cpus_allowed_list:");
    ck_assert_ptr_nonnull(line);
    line += strlen("Cpus_allowed_list:");
    return g_strstrip(g_strndup(line, strcspn(line, "\n")));
}

static gboolean wait_for_file(const char *path, int timeout_ms, Proc *p)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (g_get_monotonic_time() < deadline) {
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return TRUE;
        if (p && waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            g_autofree char *err = slurp(p->err);
            ck_abort_msg("qpin exited early: %s", err);
        }
        usleep(5000);
    }
    return FALSE;
}

/* ---- JSON ---- */

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
    return v;
}

static const char *jstr(json_object *o, const char *key)
{
    return json_object_get_string(jget(o, key));
}

/* ---- a second QMP monitor the test owns ---- */

static char *query_status(const char *socket)
{
    GError *error = NULL;
    g_autoptr(QmpClient) c = qmp_client_connect(socket, 5000, NULL, NULL, &error);
    ck_assert_msg(c, "%s", error ? error->message : "?");
    ck_assert_msg(qmp_client_handshake(c, &error), "%s", error ? error->message : "?");
    gboolean running;
    char *status = qmp_query_status(c, &running, &error);
    ck_assert_msg(status, "%s", error ? error->message : "?");
    return status;
}

static char *query_name(const char *socket)
{
    GError *error = NULL;
    g_autoptr(QmpClient) c = qmp_client_connect(socket, 5000, NULL, NULL, &error);
    ck_assert_msg(c && qmp_client_handshake(c, &error), "%s", error ? error->message : "?");
    g_autoptr(QmpJson) r = qmp_client_execute(c, "query-name", NULL, &error);
    ck_assert_msg(r, "%s", error ? error->message : "?");
    return g_strdup(jstr(r, "name"));
}

/* A paused guest launched through qpin run --no-cont --report; returns once pinned. */
typedef struct {
    Proc *proc;
    char *name, *report, *qmp;
    json_object *doc;
    pid_t qemu;
} Guest;

static Guest *guest_start(const char *const *qpin_args, const char *name_suffix,
                          const char *const *qemu_args)
{
    Guest *g = g_new0(Guest, 1);
    int n = ++counter;
    g->name =
        g_strdup_printf("%s-%d-%d%s", prefix, (int)getpid(), n, name_suffix ? name_suffix : "");
    g->report = g_strdup_printf("%s/report.%d.%d.json", tmpdir, (int)getpid(), n);
    g->qmp = g_strdup_printf("%s/qmp.%d.%d", tmpdir, (int)getpid(), n);
    g_autofree char *qmp_opt = g_strdup_printf("unix:%s,server=on,wait=off", g->qmp);
    g_autoptr(GStrvBuilder) qa = g_strv_builder_new();
    g_strv_builder_add_many(qa, "--no-cont", "--report", g->report, NULL);
    g_strv_builder_addv(qa, (const char **)qpin_args);
    g_auto(GStrv) qargs = g_strv_builder_end(qa);
    g_autoptr(GStrvBuilder) ea = g_strv_builder_new();
    g_strv_builder_add_many(ea, "-qmp", qmp_opt, NULL);
    if (qemu_args)
        g_strv_builder_addv(ea, (const char **)qemu_args);
    g_auto(GStrv) eargs = g_strv_builder_end(ea);
    g_auto(GStrv) argv = qpin_argv((const char *const *)qargs, g->name, (const char *const *)eargs);
    g->proc = proc_start(argv, FALSE);
    ck_assert_msg(wait_for_file(g->report, 30000, g->proc), "no report from qpin");
    /* The report is replaced atomically: once it exists it is complete. */
    g->doc = json_object_from_file(g->report);
    ck_assert_ptr_nonnull(g->doc);
    g->qemu = (pid_t)json_object_get_int(jget(g->doc, "qemu_pid"));
    ck_assert_int_gt(g->qemu, 0);
    return g;
}

/* Ends the guest through qpin with @sig and returns qpin's exit status. */
static int guest_finish(Guest *g, int sig)
{
    kill(g->proc->pid, sig);
    int status = proc_wait(g->proc, 20000);
    assert_no_qemu(g->name, 0);
    return status;
}

static void guest_free(Guest *g)
{
    if (!g)
        return;
    if (g->proc && waitpid(g->proc->pid, NULL, WNOHANG) == 0) {
        kill(g->proc->pid, SIGKILL);
        waitpid(g->proc->pid, NULL, 0);
    }
    proc_free(g->proc);
    if (g->doc)
        json_object_put(g->doc);
    g_unlink(g->report);
    g_unlink(g->qmp);
    g_free(g->name);
    g_free(g->report);
    g_free(g->qmp);
    g_free(g);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Guest, guest_free)

/* Thread ids of the vCPUs in report order. */
static GArray *vcpu_tids(json_object *doc)
{
    GArray *tids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    json_object *vcpus = jget(doc, "vcpus");
    for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
        pid_t t =
            (pid_t)json_object_get_int(jget(json_object_array_get_idx(vcpus, i), "thread_id"));
        g_array_append_val(tids, t);
    }
    return tids;
}

/* ---- tests ---- */

/* vCPU, emulator and iothread affinities and the vCPU policy, checked through /proc
 * independently of qpin's own report; the guest stays paused with --no-cont; -name values
 * with commas, spaces and quotes reach QEMU intact; SIGTERM ends QEMU and its status (0 for a
 * clean shutdown on SIGTERM) is mirrored. */
START_TEST(test_run_pins_everything)
{
    const char *qargs[] = {"--pin", "1,0,1,0",      "--emulator-pin", "0", "--iothread-pin",
                           "io0=1", "--vcpu-sched", "batch",          NULL};
    const char *eargs[] = {
        "-smp", "4", "-object", "iothread,id=io0", "-smbios", "type=1,product=$(touch x) ; 'q',,r",
        NULL};
    g_autoptr(Guest) g = guest_start(qargs, ",,b c\"d'e", eargs);

    g_autoptr(GArray) tids = vcpu_tids(g->doc);
    ck_assert_uint_eq(tids->len, 4);
    const char *want[] = {"1", "0", "1", "0"};
    g_autoptr(GHashTable) special = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < tids->len; i++) {
        pid_t tid = g_array_index(tids, pid_t, i);
        g_autofree char *got = cpus_allowed(tid);
        ck_assert_msg(!strcmp(got, want[i]), "vCPU %u: Cpus_allowed_list %s, want %s", i, got,
                      want[i]);
        ck_assert_int_eq(sched_getscheduler(tid), SCHED_BATCH);
        g_hash_table_add(special, GINT_TO_POINTER(tid));
        /* The report says the same as /proc. */
        json_object *v = json_object_array_get_idx(jget(g->doc, "vcpus"), i);
        ck_assert_str_eq(jstr(v, "cpus"), want[i]);
        ck_assert_str_eq(jstr(v, "cpus_actual"), want[i]);
        /* The names, read once the pins are in place, are QEMU's (debug-threads=on). */
        g_autofree char *name = g_strdup_printf("CPU %u/%s", i, kvm ? "KVM" : "TCG");
        ck_assert_str_eq(jstr(v, "thread_name"), name);
    }
    json_object *io = json_object_array_get_idx(jget(g->doc, "iothreads"), 0);
    ck_assert_str_eq(jstr(io, "id"), "io0");
    ck_assert_str_eq(jstr(io, "name"), "IO io0");
    json_object *emu_threads = jget(jget(g->doc, "emulator"), "threads");
    ck_assert_int_gt(json_object_array_length(emu_threads), 0);
    for (size_t k = 0; k < json_object_array_length(emu_threads); k++)
        ck_assert(*jstr(json_object_array_get_idx(emu_threads, k), "name"));
    pid_t io_tid = (pid_t)json_object_get_int(jget(io, "thread_id"));
    g_autofree char *io_cpus = cpus_allowed(io_tid);
    ck_assert_str_eq(io_cpus, "1");
    g_hash_table_add(special, GINT_TO_POINTER(io_tid));
    /* Every other thread of QEMU is an emulator thread on CPU 0. */
    g_autofree char *task = g_strdup_printf("/proc/%d/task", (int)g->qemu);
    g_autoptr(GDir) dir = g_dir_open(task, 0, NULL);
    ck_assert_ptr_nonnull(dir);
    const char *e;
    guint emulator = 0;
    while ((e = g_dir_read_name(dir))) {
        pid_t tid = atoi(e);
        if (g_hash_table_contains(special, GINT_TO_POINTER(tid)))
            continue;
        g_autofree char *got = cpus_allowed(tid);
        ck_assert_msg(!strcmp(got, "0"), "emulator thread %d: %s", (int)tid, got);
        ck_assert_int_ne(sched_getscheduler(tid), SCHED_BATCH);
        emulator++;
    }
    ck_assert_uint_ge(emulator, 1);
    ck_assert_uint_eq(json_object_array_length(jget(jget(g->doc, "emulator"), "threads")),
                      emulator);
    ck_assert_str_eq(jstr(jget(g->doc, "emulator"), "cpus"), "0");

    /* --no-cont: paused, as QEMU itself says on another monitor. */
    g_autofree char *status = query_status(g->qmp);
    /* QEMU calls a guest that never ran "prelaunch". */
    ck_assert_msg(!strcmp(status, "prelaunch") || !strcmp(status, "paused"), "%s", status);
    ck_assert_str_eq(jstr(g->doc, "state"), "paused");

    /* Values with commas, spaces, quotes and shell syntax reach QEMU byte for byte. */
    g_autofree char *guest_name = query_name(g->qmp);
    g_autofree char *expected_name = g_strdup(g->name);
    /* QEMU undoes the doubled comma of the -name value. */
    char *dbl = strstr(expected_name, ",,");
    memmove(dbl, dbl + 1, strlen(dbl));
    ck_assert_str_eq(guest_name, expected_name);
    g_autofree char *cmdline_path = g_strdup_printf("/proc/%d/cmdline", (int)g->qemu);
    g_autofree char *cmdline = NULL;
    gsize len;
    ck_assert(g_file_get_contents(cmdline_path, &cmdline, &len, NULL));
    gboolean name_seen = FALSE, smbios_seen = FALSE;
    g_autofree char *want_value = g_strdup_printf("%s,debug-threads=on", g->name);
    for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
        name_seen |= !strcmp(cmdline + off, want_value);
        smbios_seen |= !strcmp(cmdline + off, "type=1,product=$(touch x) ; 'q',,r");
    }
    ck_assert_msg(name_seen, "-name %s not in QEMU's argv", want_value);
    ck_assert(smbios_seen);
    ck_assert(!g_file_test("x", G_FILE_TEST_EXISTS));
    /* The report's qemu_argv is what QEMU got. */
    json_object *argv = jget(g->doc, "qemu_argv");
    gsize off = 0;
    for (size_t i = 0; i < json_object_array_length(argv); i++) {
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(argv, i)), cmdline + off);
        off += strlen(cmdline + off) + 1;
    }
    ck_assert_uint_eq(off, len);

    ck_assert_int_eq(guest_finish(g, SIGTERM), 0);
}
END_TEST

/* Expression and group maps. */
START_TEST(test_run_expr_and_groups)
{
    const char *expr[] = {"--pin", "expr:(v + 1) % 2", "-q", NULL};
    const char *smp[] = {"-smp", "4", NULL};
    {
        g_autoptr(Guest) g = guest_start(expr, NULL, smp);
        g_autoptr(GArray) tids = vcpu_tids(g->doc);
        for (guint i = 0; i < tids->len; i++) {
            g_autofree char *got = cpus_allowed(g_array_index(tids, pid_t, i));
            g_autofree char *want = g_strdup_printf("%u", (i + 1) % 2);
            ck_assert_str_eq(got, want);
        }
        ck_assert_int_eq(guest_finish(g, SIGINT), 0);
    }
    const char *groups[] = {"--pin", "0-1@1;2-3@0-1", "-q", NULL};
    {
        g_autoptr(Guest) g = guest_start(groups, NULL, smp);
        g_autoptr(GArray) tids = vcpu_tids(g->doc);
        const char *want[] = {"1", "1", "0-1", "0-1"};
        for (guint i = 0; i < tids->len; i++) {
            g_autofree char *got = cpus_allowed(g_array_index(tids, pid_t, i));
            ck_assert_str_eq(got, want[i]);
        }
        ck_assert_int_eq(guest_finish(g, SIGHUP), 0);
    }
}
END_TEST

static void assert_map_error(const char *const *qpin_args, const char *const *qemu_args,
                             gboolean under_taskset, int code, const char *needle)
{
    g_autofree char *name = unique_name();
    g_auto(GStrv) argv = qpin_argv(qpin_args, name, qemu_args);
    g_auto(GStrv) full = NULL;
    if (under_taskset) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        g_strv_builder_add_many(b, "taskset", "-c", "0", NULL);
        g_strv_builder_addv(b, (const char **)argv);
        full = g_strv_builder_end(b);
    }
    g_autoptr(Proc) p = run_qpin(full ? full : argv, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == code, "exit %d, want %d: %s", p->status, code, err);
    ck_assert_msg(strstr(err, needle), "stderr lacks '%s': %s", needle, err);
    assert_no_qemu(name, 0);
}

START_TEST(test_run_map_errors)
{
    const char *smp4[] = {"-smp", "4", NULL};
    const char *smp1[] = {"-smp", "1", NULL};
    const char *count[] = {"--pin", "0,1", NULL};
    assert_map_error(count, smp4, FALSE, EXIT_MAP, "4 vCPUs");
    const char *absent[] = {"--pin", "7", NULL};
    assert_map_error(absent, smp1, FALSE, EXIT_MAP, "7");
    const char *div0[] = {"--pin", "expr:1 / (v - 1) + 1", NULL};
    assert_map_error(div0, smp4, FALSE, EXIT_MAP, "vCPU 1");
    /* Refused before QEMU starts. */
    const char *emu[] = {"--emulator-pin", "7", NULL};
    assert_map_error(emu, smp1, FALSE, EXIT_MAP, "--emulator-pin");
    const char *io[] = {"--iothread-pin", "nosuch=0", NULL};
    assert_map_error(io, smp1, FALSE, EXIT_MAP, "no iothread 'nosuch'");
    const char *syntax[] = {"--pin", "expr:2 +", NULL};
    assert_map_error(syntax, smp1, FALSE, EXIT_MAP, "--pin");
}
END_TEST

/* qpin's allowed set is its own affinity: a CPU outside it is refused, naming the CPU, the
 * vCPU and the set. A cpulist is refused before QEMU starts; an expression once QEMU has
 * described its vCPUs, and QEMU is then stopped before the guest ran. */
START_TEST(test_run_outside_allowed)
{
    g_autofree char *taskset = g_find_program_in_path("taskset");
    if (!taskset)
        ck_abort_msg("taskset (util-linux) is needed for this test");
    const char *smp2[] = {"-smp", "2", NULL};
    const char *list[] = {"--pin", "0,1", NULL};
    assert_map_error(list, smp2, TRUE, EXIT_MAP,
                     "CPU 1 of --pin is outside the allowed CPUs 0 (the CPUs this process may use");
    const char *expr[] = {"--pin", "expr:v", NULL};
    g_autofree char *name = unique_name();
    g_auto(GStrv) argv = qpin_argv(expr, name, smp2);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add_many(b, "taskset", "-c", "0", NULL);
    g_strv_builder_addv(b, (const char **)argv);
    g_auto(GStrv) full = g_strv_builder_end(b);
    g_autoptr(Proc) p = run_qpin(full, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_MAP, "exit %d: %s", p->status, err);
    ck_assert_msg(strstr(err, "CPU 1 of --pin is outside the allowed CPUs 0 (") &&
                      strstr(err, "; vCPU 1 is mapped there"),
                  "%s", err);
    ck_assert_msg(strstr(err, ") stopped; the guest never ran"), "%s", err);
    assert_no_qemu(name, 0);
}
END_TEST

/* Under taskset -c 0, every CPU an explicit map names without QEMU's help (a cpulist, groups,
 * --emulator-pin, --iothread-pin, --reserve) is refused before QEMU is started. The QEMU given
 * is argv-dump, which writes a marker file when executed: a refusal after the spawn would
 * leave the marker and exit 11 (QEMU ended before its monitor was ready), one before it exits
 * 14 and leaves nothing. Expression maps need QEMU's vCPUs, so they do reach the spawn; so does
 * a map inside the allowed set, which proves the marker would have shown a spawn. */
static void assert_spawned(const char *const *qpin_args, gboolean spawned, int code,
                           const char *needle, const char *needle2)
{
    const char *dump = g_getenv("QPIN_ARGV_DUMP_BIN");
    ck_assert_msg(dump && g_file_test(dump, G_FILE_TEST_IS_EXECUTABLE),
                  "QPIN_ARGV_DUMP_BIN (built by meson) is missing");
    g_autofree char *marker = g_strdup_printf("%s/spawned.%d", tmpdir, ++counter);
    g_setenv("QPIN_ARGV_DUMP", marker, TRUE);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add_many(b, "taskset", "-c", "0", qpin, NULL);
    g_strv_builder_addv(b, (const char **)qpin_args);
    if (strcmp(qpin_args[0], "pin") != 0)
        g_strv_builder_add_many(b, "--", dump, "-smp", "2", "-object", "iothread,id=io0", NULL);
    g_auto(GStrv) argv = g_strv_builder_end(b);
    g_autoptr(Proc) p = run_qpin(argv, 10000);
    g_unsetenv("QPIN_ARGV_DUMP");
    g_autofree char *err = slurp(p->err);
    g_autofree char *args = g_strjoinv(" ", (char **)qpin_args);
    ck_assert_msg(p->status == code, "%s: exit %d, want %d: %s", args, p->status, code, err);
    ck_assert_msg(g_file_test(marker, G_FILE_TEST_EXISTS) == spawned, "%s: QEMU was %sstarted: %s",
                  args, spawned ? "not " : "", err);
    ck_assert_msg(strstr(err, needle), "%s: stderr lacks '%s': %s", args, needle, err);
    ck_assert_msg(!needle2 || strstr(err, needle2), "%s: stderr lacks '%s': %s", args, needle2,
                  err);
    if (!spawned)
        ck_assert_msg(!strstr(err, "QEMU"), "%s: %s", args, err);
    g_unlink(marker);
}

START_TEST(test_run_refused_before_spawn)
{
    g_autofree char *taskset = g_find_program_in_path("taskset");
    if (!taskset)
        ck_abort_msg("taskset (util-linux) is needed for this test");
    const char *outside = "outside the allowed CPUs 0 (";

    const char *list[] = {"run", "--pin", "0,1", NULL};
    assert_spawned(list, FALSE, EXIT_MAP, "CPU 1 of --pin is outside the allowed CPUs 0 (",
                   "; vCPU 1 is mapped there");
    g_autofree char *unwritable = g_strdup_printf("%s/no-such-dir/report.json", tmpdir);
    const char *report[] = {"run", "--pin", "0,0", "--report", unwritable, NULL};
    assert_spawned(report, FALSE, 2, "--report ", "give a writable directory");
    const char *groups[] = {"run", "--pin", "0@0; 1@0-1", NULL};
    assert_spawned(groups, FALSE, EXIT_MAP, "CPU 1 of --pin is outside the allowed CPUs 0 (",
                   "; vCPU 1 is mapped there");
    const char *absent[] = {"run", "--pin", "0,4000", NULL};
    assert_spawned(absent, FALSE, EXIT_MAP, "CPU 4000 of --pin is not present on this host",
                   "; vCPU 1 is mapped there");
    const char *emu[] = {"run", "--emulator-pin", "0-1", NULL};
    assert_spawned(emu, FALSE, EXIT_MAP, "CPU 1 of --emulator-pin is outside", outside);
    const char *io[] = {"run", "--iothread-pin", "io0=1", NULL};
    assert_spawned(io, FALSE, EXIT_MAP, "CPU 1 of --iothread-pin io0 is outside", outside);
    const char *reserve[] = {"run", "--pin", "auto", "--reserve", "1", NULL};
    assert_spawned(reserve, FALSE, EXIT_MAP, "CPU 1 of --reserve is outside", outside);
    const char *plan[] = {"plan", "--pin", "0-1@1", NULL};
    assert_spawned(plan, FALSE, EXIT_MAP, "CPU 1 of --pin", outside);
    /* What automatic placement needs is known without QEMU too. */
    const char *all_reserved[] = {"run", "--pin", "auto", "--emulator-pin", "0", NULL};
    assert_spawned(all_reserved, FALSE, EXIT_MAP, "--pin auto: every allowed CPU (0) is reserved",
                   NULL);
    const char *emu_auto[] = {"run", "--emulator-pin", "auto", NULL};
    assert_spawned(emu_auto, FALSE, EXIT_MAP, "--emulator-pin auto", "it needs --pin");
    /* qpin pin does not even connect. */
    g_autofree char *sock = g_strdup_printf("%s/no-such.qmp", tmpdir);
    const char *pin[] = {"pin", "--qmp", sock, "--pin", "1,0", NULL};
    assert_spawned(pin, FALSE, EXIT_MAP, "CPU 1 of --pin", outside);

    /* The controls: these start "QEMU", which then ends before its monitor is ready. */
    const char *inside[] = {"run", "--pin", "0,0", "--emulator-pin", "0", NULL};
    assert_spawned(inside, TRUE, EXIT_QEMU_START, "before its QMP monitor was ready", NULL);
    const char *expr[] = {"run", "--pin", "expr:v", NULL};
    assert_spawned(expr, TRUE, EXIT_QEMU_START, "before its QMP monitor was ready", NULL);
}
END_TEST

START_TEST(test_run_qemu_start_failure)
{
    const char *bad[] = {"--no-such-option", NULL};
    g_autofree char *name = unique_name();
    g_auto(GStrv) argv = qpin_argv(NULL, name, bad);
    g_autoptr(Proc) p = run_qpin(argv, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_QEMU_START, "exit %d: %s", p->status, err);
    /* QEMU's own message, then qpin's with QEMU's status. */
    ck_assert_msg(strstr(err, "--no-such-option: invalid option"), "%s", err);
    ck_assert_msg(strstr(err, "QEMU exited with status 1 before its QMP monitor was ready"), "%s",
                  err);
    assert_no_qemu(name, 0);

    char *missing[] = {(char *)qpin, "run", "--", "/nonexistent/qemu-system-x86_64", NULL};
    g_autoptr(Proc) q = run_qpin(missing, 10000);
    g_autofree char *err2 = slurp(q->err);
    ck_assert_int_eq(q->status, EXIT_QEMU_START);
    ck_assert_msg(strstr(err2, "cannot execute /nonexistent/qemu-system-x86_64"), "%s", err2);
}
END_TEST

/* A running guest: SIGTERM to qpin is forwarded and QEMU's status (0) mirrored; QEMU killed
 * by a signal is mirrored as 128+N. */
START_TEST(test_run_signals_mirrored)
{
    for (int round = 0; round < 2; round++) {
        g_autofree char *name = unique_name();
        g_autofree char *report = g_strdup_printf("%s/%s.json", tmpdir, name);
        g_autofree char *qmp = g_strdup_printf("%s/%s.qmp", tmpdir, name);
        g_autofree char *qmp_opt = g_strdup_printf("unix:%s,server=on,wait=off", qmp);
        const char *qargs[] = {"--pin", "0", "--report", report, "-q", NULL};
        const char *eargs[] = {"-smp", "1", "-qmp", qmp_opt, NULL};
        g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
        g_autoptr(Proc) p = proc_start(argv, FALSE);
        ck_assert(wait_for_file(report, 30000, p));
        g_autofree char *status = query_status(qmp);
        ck_assert_str_eq(status, "running");
        g_autoptr(GArray) pids = qemu_pids(name);
        ck_assert_uint_eq(pids->len, 1);
        if (round == 0) {
            kill(p->pid, SIGTERM);
            ck_assert_int_eq(proc_wait(p, 20000), 0);
        } else {
            kill(g_array_index(pids, pid_t, 0), SIGKILL);
            ck_assert_int_eq(proc_wait(p, 20000), 128 + SIGKILL);
        }
        assert_no_qemu(name, 0);
        g_unlink(report);
        g_unlink(qmp);
    }
}
END_TEST

/* A guest that ends itself at once (a firmware writing to isa-debug-exit: QEMU exits 1): the
 * status is mirrored even when QEMU is gone before qpin reads the reply to cont. */
START_TEST(test_run_guest_exits_at_once)
{
    const char *firmware = g_getenv("QPIN_EXIT_FIRMWARE");
    ck_assert_msg(firmware && g_file_test(firmware, G_FILE_TEST_EXISTS),
                  "QPIN_EXIT_FIRMWARE (built by meson) is missing");
    for (int round = 0; round < 3; round++) {
        g_autofree char *name = unique_name();
        const char *qargs[] = {"--pin", "expr:v % 2", "-q", NULL};
        /* Many vCPUs make cont slow to answer while the first one already ends the guest. */
        const char *eargs[] = {"-smp",   "32",      "-bios",
                               firmware, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                               NULL};
        g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
        g_autoptr(Proc) p = run_qpin(argv, 30000);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == 1, "round %d: exit %d: %s", round, p->status, err);
        /* Warnings about the shared CPUs, but no error. */
        g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
        for (int i = 0; lines[i]; i++)
            ck_assert_msg(!g_str_has_prefix(lines[i], "qpin:") ||
                              g_str_has_prefix(lines[i], "qpin: warning:"),
                          "round %d: %s", round, err);
        assert_no_qemu(name, 0);
    }
}
END_TEST

/* qpin SIGKILLed: QEMU must die with it (PR_SET_PDEATHSIG). */
START_TEST(test_run_sigkill_no_orphan)
{
    const char *qargs[] = {"--pin", "0", "-q", NULL};
    const char *smp[] = {"-smp", "1", NULL};
    g_autoptr(Guest) g = guest_start(qargs, NULL, smp);
    g_autoptr(GArray) before = qemu_pids(g->name);
    ck_assert_uint_eq(before->len, 1);
    kill(g->proc->pid, SIGKILL);
    ck_assert_int_eq(proc_wait(g->proc, 5000), 128 + SIGKILL);
    assert_no_qemu(g->name, 5000);
}
END_TEST

/* A signal before the guest started: QEMU is stopped (here it is stuck waiting for a chardev
 * client, ignoring SIGTERM, so it takes the SIGKILL after --kill-timeout) and qpin exits 18. */
START_TEST(test_run_interrupted_before_cont)
{
    g_autofree char *name = unique_name();
    g_autofree char *sock = g_strdup_printf("%s/%s.wait", tmpdir, name);
    g_autofree char *chardev = g_strdup_printf("socket,id=stuck,path=%s,server=on,wait=on", sock);
    const char *qargs[] = {"--pin", "0", "--kill-timeout", "0.5", NULL};
    const char *eargs[] = {"-smp", "1", "-chardev", chardev, NULL};
    g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
    g_autoptr(Proc) p = proc_start(argv, FALSE);
    ck_assert_msg(wait_for_file(sock, 20000, p), "QEMU never opened %s", sock);
    g_autoptr(GArray) pids = qemu_pids(name);
    ck_assert_uint_eq(pids->len, 1);
    kill(p->pid, SIGTERM);
    ck_assert_int_eq(proc_wait(p, 20000), 18);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(strstr(err, "interrupted by signal 15") && strstr(err, "the guest never ran"),
                  "%s", err);
    assert_no_qemu(name, 0);
    g_unlink(sock);
}
END_TEST

/* True when an argv-dump started with QPIN_ARGV_DUMP=@marker is still alive. */
static gboolean stand_in_running(const char *marker)
{
    g_autofree char *want = g_strdup_printf("QPIN_ARGV_DUMP=%s", marker);
    g_autoptr(GDir) dir = g_dir_open("/proc", 0, NULL);
    const char *e;
    while (dir && (e = g_dir_read_name(dir))) {
        if (!g_ascii_isdigit(e[0]))
            continue;
        g_autofree char *path = g_strdup_printf("/proc/%s/environ", e);
        g_autofree char *data = NULL;
        gsize len = 0;
        if (!g_file_get_contents(path, &data, &len, NULL))
            continue;
        for (gsize off = 0; off < len; off += strlen(data + off) + 1)
            if (strcmp(data + off, want) == 0)
                return TRUE;
    }
    return FALSE;
}

/* A QEMU that greets and then hangs: a SIGTERM meanwhile is reported as the interruption it
 * is (exit 18), not as the QMP timeout it caused, and the stand-in is gone afterwards. */
START_TEST(test_run_interrupted_during_qmp)
{
    const char *dump = g_getenv("QPIN_ARGV_DUMP_BIN");
    ck_assert_msg(dump, "QPIN_ARGV_DUMP_BIN (built by meson) is missing");
    g_autofree char *marker = g_strdup_printf("%s/greeted.%d", tmpdir, ++counter);
    g_setenv("QPIN_ARGV_DUMP", marker, TRUE);
    g_setenv("QPIN_ARGV_DUMP_GREET", "1", TRUE);
    char *argv[] = {(char *)qpin, "run",  "--pin", "0", "--kill-timeout", "0.5", "--",
                    (char *)dump, "-smp", "1",     NULL};
    g_autoptr(Proc) p = proc_start(argv, FALSE);
    g_unsetenv("QPIN_ARGV_DUMP");
    g_unsetenv("QPIN_ARGV_DUMP_GREET");
    ck_assert_msg(wait_for_file(marker, 10000, p), "the stand-in never started");
    g_usleep(300 * 1000); /* qpin is now waiting for the answer to qmp_capabilities */
    kill(p->pid, SIGTERM);
    ck_assert_int_eq(proc_wait(p, 30000), 18);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(strstr(err, "interrupted by signal 15") && strstr(err, "the guest never ran"),
                  "%s", err);
    ck_assert_msg(!stand_in_running(marker), "the stand-in is still running");
    g_unlink(marker);
}
END_TEST

/* Single-threaded TCG runs every vCPU on one thread: refused, with the way out. */
START_TEST(test_run_refuses_shared_vcpu_threads)
{
    g_autofree char *name = unique_name();
    char *argv[] = {
        (char *)qpin, "run", "--pin",    "0,1",  "--",          QEMU, "-accel", "tcg,thread=single",
        "-smp",       "2",   "-display", "none", "-nodefaults", "-m", "64",     "-name",
        name,         NULL};
    g_autoptr(Proc) p = run_qpin(argv, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_PIN, "exit %d: %s", p->status, err);
    ck_assert_msg(strstr(err, "share thread") && strstr(err, "-accel tcg,thread=multi"), "%s", err);
    assert_no_qemu(name, 0);
}
END_TEST

/* QEMU's stdio stays the user's: an HMP monitor on stdio answers through qpin. */
START_TEST(test_run_stdio_passthrough)
{
    g_autofree char *name = unique_name();
    g_autofree char *report = g_strdup_printf("%s/%s.json", tmpdir, name);
    const char *qargs[] = {"--no-cont", "--pin", "0", "--report", report, NULL};
    const char *eargs[] = {"-smp", "1", "-monitor", "stdio", NULL};
    g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
    g_autoptr(Proc) p = proc_start(argv, TRUE);
    /* Typed only once qpin is done: a quit before that would race qpin's own queries. */
    ck_assert(wait_for_file(report, 30000, p));
    const char *input = "info status\nquit\n";
    ck_assert_int_eq(write(p->stdin_fd, input, strlen(input)), (ssize_t)strlen(input));
    ck_assert_int_eq(proc_wait(p, 20000), 0);
    g_autofree char *out = slurp(p->out);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(strstr(out, "VM status: paused"), "stdout: %s\nstderr: %s", out, err);
    /* qpin's table went to stderr, not into the console. */
    ck_assert_msg(!strstr(out, "vCPU") && strstr(err, "vCPU"), "stdout: %s\nstderr: %s", out, err);
    assert_no_qemu(name, 0);
    g_unlink(report);
}
END_TEST

/* The seed's 240-vCPU guest planned for its Xeon Phi 7250 host on this 2-CPU machine: every
 * vCPU n on 2 + n/4 + n%4*68, emulator threads on the housekeeping CPUs; nothing pinned. */
START_TEST(test_plan_seed_on_fixture)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    g_autofree char *sysroot = g_build_filename(root, "tests/fixtures/hosts/xeon-phi-7250", NULL);
    if (!g_file_test(sysroot, G_FILE_TEST_IS_DIR))
        ck_abort_msg("fixture %s is missing", sysroot);
    g_autofree char *name = unique_name();
    const char *qargs[] = {"plan",
                           "--sysroot",
                           sysroot,
                           "--pin",
                           "expr:2 + v/4 + v%4*68",
                           "--emulator-pin",
                           "0,1,68,69,136,137,204,205",
                           "--json",
                           NULL};
    const char *eargs[] = {"-smp", "240,sockets=1,cores=60,threads=4", NULL};
    g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(Proc) p = run_qpin(argv, 120000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    fprintf(stderr, "plan of 240 vCPUs took %.0f ms\n",
            (double)(g_get_monotonic_time() - t0) / 1000.0);
    assert_no_qemu(name, 0);
    json_object *doc = json_object_from_file(p->out);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(jstr(doc, "command"), "plan");
    json_object *vcpus = jget(doc, "vcpus");
    ck_assert_int_eq(json_object_array_length(vcpus), 240);
    for (int n = 0; n < 240; n++) {
        json_object *v = json_object_array_get_idx(vcpus, n);
        ck_assert_int_eq(json_object_get_int(jget(v, "index")), n);
        g_autofree char *want = g_strdup_printf("%d", 2 + n / 4 + n % 4 * 68);
        ck_assert_msg(!strcmp(jstr(v, "cpus"), want), "vCPU %d on %s, want %s", n, jstr(v, "cpus"),
                      want);
        /* QEMU's topology: core n/4, thread n%4. */
        ck_assert_int_eq(json_object_get_int(jget(jget(v, "props"), "core")), n / 4);
        ck_assert_int_eq(json_object_get_int(jget(jget(v, "props"), "thread")), n % 4);
        /* Nothing was pinned or read back. */
        ck_assert(!json_object_object_get_ex(v, "cpus_actual", NULL));
    }
    ck_assert_str_eq(jstr(jget(doc, "emulator"), "cpus"), "0-1,68-69,136-137,204-205");
    ck_assert_str_eq(jstr(jget(doc, "host"), "cpus_allowed"), "0-271");
    json_object_put(doc);
}
END_TEST

/* Whether the JSON document's notes have one of @kind. */
static gboolean has_note(json_object *doc, const char *kind)
{
    json_object *notes = jget(doc, "notes");
    for (size_t i = 0; i < json_object_array_length(notes); i++)
        if (!strcmp(jstr(json_object_array_get_idx(notes, i), "kind"), kind))
            return TRUE;
    return FALSE;
}

/* A plan made on a machine without the guest's disk image and without (usable) KVM: QEMU is
 * asked only about the guest's shape, under TCG, and the plan says so; its qemu_argv is still
 * the full command line run would use. */
START_TEST(test_plan_anywhere)
{
    g_autofree char *name = unique_name();
    g_autofree char *disk = g_strdup_printf("%s/%s-absent.qcow2", tmpdir, name);
    g_autofree char *drive = g_strdup_printf("file=%s,format=qcow2,if=virtio", disk);
    const char *argv[] = {
        qpin,          "plan",    "--json",     "--",      QEMU,
        "-enable-kvm", "-cpu",    "host",       "-smp",    "4,sockets=2,cores=2",
        "-m",          "128",     "-name",      name,      "-drive",
        drive,         "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
        "-serial",     "stdio",   NULL};
    g_autoptr(Proc) p = run_qpin((char **)argv, 120000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    assert_no_qemu(name, 0);
    json_object *doc = json_object_from_file(p->out);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_object_array_length(jget(doc, "vcpus")), 4);
    ck_assert(has_note(doc, "probe-tcg"));
    ck_assert(has_note(doc, "probe-cpu"));
    ck_assert(has_note(doc, "probe-dropped"));
    gboolean kvm_kept = FALSE, drive_kept = FALSE;
    json_object *qa = jget(doc, "qemu_argv");
    for (size_t i = 0; i < json_object_array_length(qa); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(qa, i));
        kvm_kept |= !strcmp(a, "-enable-kvm");
        drive_kept |= !strcmp(a, drive);
    }
    ck_assert_msg(kvm_kept && drive_kept, "qemu_argv lost the run's options");
    json_object_put(doc);
}
END_TEST

/* The header commands of the seed examples run as written, from the source tree. */
START_TEST(test_plan_examples_as_written)
{
    static const struct {
        const char *host, *config;
        int vcpus;
    } cases[] = {
        {"tests/fixtures/hosts/xeon-gold-6148-2s", "examples/seed-002.ini", 40},
        {"tests/fixtures/hosts/xeon-phi-7250", "examples/seed-240.ini", 240},
    };
    ck_assert_int_eq(chdir(g_getenv("QPIN_SOURCE_ROOT")), 0);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *argv[] = {qpin,       "plan",          "--sysroot", cases[i].host,
                              "--config", cases[i].config, "--json",    NULL};
        g_autoptr(Proc) p = run_qpin((char **)argv, 300000);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == 0, "%s: exit %d: %s", cases[i].config, p->status, err);
        json_object *doc = json_object_from_file(p->out);
        ck_assert_ptr_nonnull(doc);
        ck_assert_int_eq(json_object_array_length(jget(doc, "vcpus")), cases[i].vcpus);
        ck_assert(has_note(doc, "probe-tcg"));
        json_object_put(doc);
    }
}
END_TEST

/* The grid of a real plan of the seed guest on the Xeon Phi fixture: each guest core on the
 * four threads of one host core, the emulator on the first two cores, and every line within 80
 * columns. */
START_TEST(test_plan_grid_on_fixture)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    g_autofree char *sysroot = g_build_filename(root, "tests/fixtures/hosts/xeon-phi-7250", NULL);
    g_autofree char *name = unique_name();
    const char *qargs[] = {"plan",
                           "--sysroot",
                           sysroot,
                           "--pin",
                           "expr:2 + v/4 + v%4*68",
                           "--emulator-pin",
                           "0,1,68,69,136,137,204,205",
                           "--reserve",
                           "271",
                           "--show",
                           "grid",
                           NULL};
    const char *eargs[] = {"-smp", "240,sockets=1,cores=60,threads=4", NULL};
    g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
    g_autoptr(Proc) p = run_qpin(argv, 120000);
    g_autofree char *err = slurp(p->err);
    g_autofree char *out = slurp(p->out);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    assert_no_qemu(name, 0);
    /* The grid, from its legend on (the headline names the fixture's path). */
    const char *grid = strstr(out, "Host CPUs, one cell per hardware thread");
    ck_assert_msg(grid, "%s", out);
    /* Up to its last line, "free: ..." (the notes after it are text lines of their own). */
    g_autofree char *grid_only = g_strndup(grid, strstr(grid, "\nfree: ") - grid);
    g_auto(GStrv) lines = g_strsplit(grid_only, "\n", -1);
    for (int i = 0; lines[i]; i++)
        ck_assert_msg(strlen(lines[i]) <= 80, "line %d is %zu wide: %s", i, strlen(lines[i]),
                      lines[i]);
    /* No vCPU table: --show grid. */
    ck_assert_msg(!strstr(out, "CPU 0/"), "%s", out);
    ck_assert_msg(strstr(out, "node 0: CPUs 0-271, 68 cores x 4 threads; core = CPUs c, c+68, "
                              "c+136, c+204"),
                  "%s", out);
    ck_assert_msg(strstr(out, "\n    0 |  E   E   E   E|  E   E   E   E|  0   1   2   3|"
                              "  4   5   6   7|\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "\n   56 |216 217 218 219|220 221 222 223|224 225 226 227|"
                              "228 229 230 231|\n"),
                  "%s", out);
    /* CPUs 62-67 (cores 62-67 of the host) are free; 271 (thread 3 of core 67) is reserved. */
    ck_assert_msg(strstr(out, "\n   64 |  .   .   .   .|  .   .   .   .|  .   .   .   .|"
                              "  .   .   .   R|\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "node 1: no CPUs"), "%s", out);
    ck_assert_msg(strstr(out, "\nfree: 23 CPUs "), "%s", out);
}
END_TEST

/* A real plan on this machine: the guest memory plan and its preflight are in the human
 * output, and --show table keeps the vCPU table. */
START_TEST(test_plan_memory_shown)
{
    g_autofree char *name = unique_name();
    const char *qargs[] = {"plan",   "--pin", "0", "--numa", "64M@0:prealloc=on",
                           "--show", "table", NULL};
    const char *eargs[] = {"-smp", "1", NULL};
    g_auto(GStrv) argv = qpin_argv(qargs, name, eargs);
    g_autoptr(Proc) p = run_qpin(argv, 120000);
    g_autofree char *err = slurp(p->err);
    g_autofree char *out = slurp(p->out);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    assert_no_qemu(name, 0);
    ck_assert_msg(strstr(out, "\nguest memory: 64.0 MiB in 1 node\n"), "%s", out);
    ck_assert_msg(
        g_regex_match_simple("\n  0 +64\\.0 MiB +0 +bind +ram +base +[0-9]+ auto +- *\n", out, 0, 0), "%s",
        out);
    ck_assert_msg(g_regex_match_simple("\npreflight: host node 0: guest node 0 needs 64\\.0 MiB, "
                                       "[0-9.]+ [GM]iB free: ok\n",
                                       out, 0, 0),
                  "%s", out);
    ck_assert_msg(strstr(out, "CPU 0/"), "%s", out);
    ck_assert_msg(!strstr(out, "one cell per hardware thread"), "%s", out);
}
END_TEST

/* qpin pin on a QEMU the test started itself: pinned and verified; a failing pin changes
 * nothing and leaves QEMU alone; --cont resumes it. */
START_TEST(test_pin_attach)
{
    g_autofree char *name = unique_name();
    g_autofree char *sock = g_strdup_printf("%s/%s.qmp", tmpdir, name);
    g_autofree char *qmp_opt = g_strdup_printf("unix:%s,server=on,wait=off", sock);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add(b, QEMU);
    g_strv_builder_addv(b, (const char **)qpin_test_accel_args(kvm));
    g_strv_builder_add_many(b, "-S", "-display", "none", "-nodefaults", "-m", "64", "-smp", "2",
                            "-name", name, "-name", "debug-threads=on", "-qmp", qmp_opt, NULL);
    g_auto(GStrv) qemu_argv = g_strv_builder_end(b);
    g_autoptr(Proc) qemu = proc_start(qemu_argv, FALSE);
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!g_file_test(sock, G_FILE_TEST_EXISTS) && g_get_monotonic_time() < deadline)
        usleep(5000);
    ck_assert(g_file_test(sock, G_FILE_TEST_EXISTS));

    char *pin[] = {(char *)qpin,     "pin", "--qmp",  sock, "--pin", "1,0",
                   "--emulator-pin", "0",   "--json", NULL};
    g_autoptr(Proc) p = run_qpin(pin, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    json_object *doc = json_object_from_file(p->out);
    ck_assert_ptr_nonnull(doc);
    /* The pid was found from the vCPU thread ids. */
    ck_assert_int_eq(json_object_get_int(jget(doc, "qemu_pid")), qemu->pid);
    ck_assert_str_eq(jstr(doc, "state"), "paused");
    g_autoptr(GArray) tids = vcpu_tids(doc);
    json_object_put(doc);
    ck_assert_uint_eq(tids->len, 2);
    g_autofree char *c0 = cpus_allowed(g_array_index(tids, pid_t, 0));
    g_autofree char *c1 = cpus_allowed(g_array_index(tids, pid_t, 1));
    ck_assert_str_eq(c0, "1");
    ck_assert_str_eq(c1, "0");
    g_autofree char *main_cpus = cpus_allowed(qemu->pid);
    ck_assert_str_eq(main_cpus, "0");

    /* A map that does not fit (an expression, so only known once QEMU listed its vCPUs):
     * refused, nothing changed, QEMU alive and still paused. */
    char *bad[] = {(char *)qpin, "pin", "--qmp", sock, "--pin", "expr:v + 7", NULL};
    g_autoptr(Proc) q = run_qpin(bad, 30000);
    g_autofree char *err2 = slurp(q->err);
    ck_assert_msg(q->status == EXIT_MAP, "exit %d: %s", q->status, err2);
    ck_assert_msg(strstr(err2, "CPUs 7-8 of --pin are not present") &&
                      strstr(err2, "not started by qpin") && strstr(err2, "left paused"),
                  "%s", err2);
    ck_assert_int_eq(waitpid(qemu->pid, NULL, WNOHANG), 0);
    g_autofree char *still = query_status(sock);
    ck_assert_str_ne(still, "running");
    g_autofree char *c0b = cpus_allowed(g_array_index(tids, pid_t, 0));
    ck_assert_str_eq(c0b, "1");
    /* A wrong --pid: the vCPU threads are not its threads. */
    char *wrongpid[] = {(char *)qpin, "pin", "--qmp", sock, "--pid", "1", "--pin", "0,1", NULL};
    g_autoptr(Proc) w = run_qpin(wrongpid, 30000);
    ck_assert_int_eq(w->status, EXIT_PIN);
    g_autofree char *c1b = cpus_allowed(g_array_index(tids, pid_t, 1));
    ck_assert_str_eq(c1b, "0");
    ck_assert_int_eq(waitpid(qemu->pid, NULL, WNOHANG), 0);

    char *cont[] = {(char *)qpin, "pin", "--qmp", sock, "--cont", "-q", NULL};
    g_autoptr(Proc) r = run_qpin(cont, 30000);
    ck_assert_int_eq(r->status, 0);
    g_autofree char *status = query_status(sock);
    ck_assert_str_eq(status, "running");

    kill(qemu->pid, SIGTERM);
    proc_wait(qemu, 20000);
    assert_no_qemu(name, 0);
    g_unlink(sock);
}
END_TEST

/* Whether every thread of @pid still has the affinity @cpus. */
static gboolean threads_on(pid_t pid, const char *cpus, char **which)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    const char *e;
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *now = cpus_allowed((pid_t)atoi(e));
        if (strcmp(now, cpus) != 0) {
            *which = g_strdup_printf("thread %s of %d is on %s, was %s", e, (int)pid, now, cpus);
            return FALSE;
        }
    }
    return TRUE;
}

/* A QMP socket the test binds and listens on itself, handed to QEMU as -chardev fd=N: the
 * socket's peer (SO_PEERCRED) is the test, not QEMU. Without --pid qpin refuses, naming the
 * socket's creator and asking for --pid; --pid of QEMU, a child of the creator, pins and
 * verifies; --pid of a process the creator did not start is refused, and so is --pid of a
 * child of the creator that is not QEMU (the threads QMP names are not its threads). */
START_TEST(test_pin_handed_socket)
{
    g_autofree char *name = unique_name();
    g_autofree char *sock = g_strdup_printf("%s/%s.qmp", tmpdir, name);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(sock), sizeof addr.sun_path);
    strcpy(addr.sun_path, sock);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
    g_autofree char *mine = cpus_allowed(getpid());
    g_autofree char *comm = NULL;
    ck_assert(g_file_get_contents("/proc/self/comm", &comm, NULL, NULL));
    g_strchomp(comm);

    /* qpin connects before QEMU runs, as a client of a socket-activated service does: its
     * connection waits in the queue with the creator's credentials. Readable = queued. */
    char *nopid[] = {(char *)qpin,     "pin", "--qmp", sock, "--qmp-timeout", "120", "--pin", "1,0",
                     "--emulator-pin", "0",   NULL};
    g_autoptr(Proc) p = proc_start(nopid, FALSE);
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 60000), 1);

    g_autofree char *chardev = g_strdup_printf("socket,id=m,fd=%d,server=on,wait=off", lfd);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add(b, QEMU);
    g_strv_builder_addv(b, (const char **)qpin_test_accel_args(kvm));
    g_strv_builder_add_many(b, "-S", "-display", "none", "-nodefaults", "-m", "64", "-smp", "2",
                            "-name", name, "-name", "debug-threads=on", "-chardev", chardev, "-mon",
                            "chardev=m,mode=control", NULL);
    g_auto(GStrv) qemu_argv = g_strv_builder_end(b);
    g_autoptr(Proc) qemu = proc_start_keeping(qemu_argv, FALSE, lfd);

    proc_wait(p, 120000);
    g_autofree char *err = slurp(p->err);
    g_autofree char *creator = g_strdup_printf("the QMP socket %s was created by process %d (%s)",
                                               sock, (int)getpid(), comm);
    ck_assert_msg(p->status == EXIT_PIN, "without --pid: exit %d, want 15: %s", p->status, err);
    ck_assert_msg(strstr(err, creator) && strstr(err, "pass --pid"), "without --pid: %s", err);
    g_autofree char *qemu_text = g_strdup_printf("belongs to process %d (", (int)qemu->pid);
    ck_assert_msg(strstr(err, qemu_text), "without --pid, QEMU is not named: %s", err);
    g_autofree char *which = NULL;
    ck_assert_msg(threads_on(qemu->pid, mine, &which), "a refused pin changed %s", which);

    /* QEMU calls listen() on the descriptor it is given, which makes it the peer of clients
     * that connect later; listening again makes the test their peer, the creator above. */
    ck_assert_int_eq(listen(lfd, 8), 0);
    g_autofree char *qemu_pid = g_strdup_printf("%d", (int)qemu->pid);

    /* --pid of a process the socket's creator did not start. */
    g_autofree char *stranger = g_strdup_printf("%d", (int)getppid());
    char *foreign[] = {(char *)qpin, "pin", "--qmp", sock, "--pid", stranger, "--pin", "1,0", NULL};
    g_autoptr(Proc) f = run_qpin(foreign, 30000);
    g_autofree char *ferr = slurp(f->err);
    ck_assert_msg(f->status == EXIT_PIN, "--pid %s: exit %d, want 15: %s", stranger, f->status,
                  ferr);
    ck_assert_msg(strstr(ferr, creator) &&
                      strstr(ferr, "is neither that process nor one it started"),
                  "--pid %s: %s", stranger, ferr);
    ck_assert_msg(threads_on(qemu->pid, mine, &which), "--pid %s changed %s", stranger, which);

    /* --pid of a child of the creator that is not QEMU: accepted as a candidate, refused by
     * the proof, since the vCPU threads QMP names are QEMU's. */
    char *sleeper_argv[] = {"sleep", "600", NULL};
    g_autoptr(Proc) sleeper = proc_start(sleeper_argv, FALSE);
    g_autofree char *sleeper_pid = g_strdup_printf("%d", (int)sleeper->pid);
    char *child[] = {(char *)qpin, "pin",   "--qmp", sock, "--pid",
                     sleeper_pid,  "--pin", "1,0",   NULL};
    g_autoptr(Proc) c = run_qpin(child, 30000);
    g_autofree char *cerr = slurp(c->err);
    kill(sleeper->pid, SIGKILL);
    proc_wait(sleeper, 20000);
    ck_assert_msg(c->status == EXIT_PIN, "--pid %s: exit %d, want 15: %s", sleeper_pid, c->status,
                  cerr);
    ck_assert_msg(strstr(cerr, qemu_text) && strstr(cerr, "--pid"), "--pid %s: %s", sleeper_pid,
                  cerr);
    ck_assert_msg(threads_on(qemu->pid, mine, &which), "--pid %s changed %s", sleeper_pid, which);

    /* --pid of QEMU: pinned, read back, and the report says why that process is QEMU. */
    char *pin[] = {(char *)qpin, "pin", "--qmp",          sock, "--pid",  qemu_pid,
                   "--pin",      "1,0", "--emulator-pin", "0",  "--json", NULL};
    g_autoptr(Proc) r = run_qpin(pin, 30000);
    g_autofree char *rerr = slurp(r->err);
    ck_assert_msg(r->status == 0, "--pid %s (QEMU): exit %d: %s", qemu_pid, r->status, rerr);
    json_object *doc = json_object_from_file(r->out);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_object_get_int(jget(doc, "qemu_pid")), qemu->pid);
    g_autoptr(GArray) tids = vcpu_tids(doc);
    json_object *notes = jget(doc, "notes");
    const char *why = NULL;
    for (size_t i = 0; i < json_object_array_length(notes); i++) {
        json_object *n = json_object_array_get_idx(notes, i);
        if (!strcmp(jstr(n, "kind"), "qemu-pid"))
            why = jstr(n, "text");
    }
    g_autofree char *why_want = g_strdup_printf("QEMU is process %d (--pid): process %d (%s) "
                                                "created the QMP socket",
                                                (int)qemu->pid, (int)getpid(), comm);
    ck_assert_msg(why && g_str_has_prefix(why, why_want), "the qemu-pid note: %s",
                  why ? why : "(none)");
    json_object_put(doc);
    ck_assert_uint_eq(tids->len, 2);
    g_autofree char *c0 = cpus_allowed(g_array_index(tids, pid_t, 0));
    g_autofree char *c1 = cpus_allowed(g_array_index(tids, pid_t, 1));
    ck_assert_str_eq(c0, "1");
    ck_assert_str_eq(c1, "0");
    g_autofree char *main_cpus = cpus_allowed(qemu->pid);
    ck_assert_str_eq(main_cpus, "0");

    close(lfd);
    kill(qemu->pid, SIGTERM);
    proc_wait(qemu, 20000);
    assert_no_qemu(name, 0);
    g_unlink(sock);
}
END_TEST

/* After everything above: not one QEMU of this run is left. */
START_TEST(test_no_qemu_left)
{
    assert_no_qemu(prefix, 0);
}
END_TEST

/* ---- set-up ---- */

static Suite *suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_run_pins_everything);
    tcase_add_test(tc, test_run_expr_and_groups);
    tcase_add_test(tc, test_run_map_errors);
    tcase_add_test(tc, test_run_outside_allowed);
    tcase_add_test(tc, test_run_refused_before_spawn);
    tcase_add_test(tc, test_run_qemu_start_failure);
    tcase_add_test(tc, test_run_signals_mirrored);
    tcase_add_test(tc, test_run_guest_exits_at_once);
    tcase_add_test(tc, test_run_sigkill_no_orphan);
    tcase_add_test(tc, test_run_interrupted_before_cont);
    tcase_add_test(tc, test_run_interrupted_during_qmp);
    tcase_add_test(tc, test_run_refuses_shared_vcpu_threads);
    tcase_add_test(tc, test_run_stdio_passthrough);
    tcase_add_test(tc, test_plan_seed_on_fixture);
    tcase_add_test(tc, test_plan_anywhere);
    tcase_add_test(tc, test_plan_examples_as_written);
    tcase_add_test(tc, test_plan_grid_on_fixture);
    tcase_add_test(tc, test_plan_memory_shown);
    tcase_add_test(tc, test_pin_attach);
    tcase_add_test(tc, test_pin_handed_socket);
    tcase_add_test(tc, test_no_qemu_left);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    qpin = g_getenv("QPIN");
    if (!qpin)
        QPIN_BAIL_OUT("QPIN (the qpin binary under test) is not set; run through meson test");
    g_autofree char *qemu = g_find_program_in_path(QEMU);
    if (!qemu)
        QPIN_SKIP_ALL("%s is not installed (scripts/setup installs it)", QEMU);
    tmpdir = g_dir_make_tmp("qpin-run-XXXXXX", NULL);
    g_snprintf(prefix, sizeof prefix, "qpin-it-%d", (int)getpid());
    kvm = qpin_test_kvm_usable(qemu);
    fprintf(stderr, "accelerator: %s\n", kvm ? "kvm -cpu qemu64" : "tcg,thread=multi");
    int status = qpin_check_run(suite());
    /* A failed assertion ends its test before the test's own clean-up. */
    g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
    const char *e;
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmpdir, e, NULL);
        g_unlink(path);
    }
    g_rmdir(tmpdir);
    return status;
}
