/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Integration tests of what qpin may trust and what it must not: a QMP peer that lies about its
 * threads, a --pid that is not QEMU, a wrapper that does not exec QEMU, a QEMU file that is
 * no executable, closed standard descriptors, a guest resumed by someone else, slow or hung
 * monitors and signals meanwhile, EPERM in the middle of a map, event floods, real-time vCPUs
 * and report files that are not plain files or hold secrets.
 *
 * QEMU is tests/launcher/fake-qemu ($QPIN_FAKE_QEMU): real threads named like QEMU's and a real
 * QMP monitor, steered through QPIN_FAKE_QEMU_* variables (see its header). Every test ends with
 * no fake left running: its pid file names it, and /proc must no longer show it alive.
 *
 * The tests wait on events (the fake's notification FIFO, process exits), never on sleeps;
 * the only timing assertions are generous upper bounds proving that qpin did not wait for a
 * long timeout. Cases that need root (other users' threads, real-time policies) or CPUs 0 and
 * 1 are reported as skipped when those are missing. QPIN_TRUST_ONLY=TEST_NAME runs one test. */
#include "qpin-check.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    EXIT_USAGE = 2,
    EXIT_QEMU_START = 11,
    EXIT_PIN = 15,
    EXIT_INTERRUPTED = 18,
    EXIT_RESUMED = 19,
};

/* The user the EPERM test runs qpin as and gives the fake's vCPU threads to. */
#define NOBODY 65534

static const char *qpin, *fake_bin;
static char *tmpdir;
static int counter;

/* ---- processes ---- */

typedef struct {
    char **env;           /* NAME=VALUE set on top of the test's environment, or NULL */
    gboolean close_stdio; /* start with descriptors 0 and 1 closed */
    gboolean as_nobody;   /* drop to uid and gid NOBODY, no supplementary groups */
} Spawn;

typedef struct {
    pid_t pid;
    int pidfd;       /* readable once the process exited */
    char *out, *err; /* captured stdout and stderr */
    int status;      /* exit code (128+N for signal N) once waited */
    gboolean waited;
} Proc;

static int pidfd_of(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert_msg(fd >= 0, "pidfd_open: %s", g_strerror(errno));
    return fd;
}

/* Starts @argv (argv[0] a path). The child dies with the test process (PDEATHSIG), so a failed
 * assertion never leaves it, or through it a fake, running. */
static Proc *proc_spawn(char **argv, const Spawn *how)
{
    static const Spawn plain = {0};
    if (!how)
        how = &plain;
    Proc *p = g_new0(Proc, 1);
    int n = ++counter;
    p->out = g_strdup_printf("%s/out.%d.%d", tmpdir, (int)getpid(), n);
    p->err = g_strdup_printf("%s/err.%d.%d", tmpdir, (int)getpid(), n);
    g_auto(GStrv) env = g_get_environ();
    for (int i = 0; how->env && how->env[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(how->env[i], "=", 2);
        env = g_environ_setenv(env, kv[0], kv[1] ? kv[1] : "", TRUE);
    }
    pid_t parent = getpid();
    /* Check's SIGTERM handler, inherited by a fork, would signal the whole test: the child
     * gets no signal before it has put the default actions back. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    p->pid = fork();
    if (p->pid == 0) {
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int o = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int i = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || i < 0)
            _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        dup2(e, 2);
        if (how->close_stdio) {
            close(0);
            close(1);
        }
        if (how->as_nobody && (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
            _exit(126);
        execve(argv[0], argv, env);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_ge(p->pid, 0);
    p->pidfd = pidfd_of(p->pid);
    return p;
}

/* Waits up to @timeout_ms for the exit; on timeout kills the child and fails the test. */
static int proc_wait(Proc *p, int timeout_ms)
{
    if (p->waited)
        return p->status;
    struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    int status;
    if (r == 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
        p->waited = TRUE;
        ck_abort_msg("%s did not exit within %d ms", p->err, timeout_ms);
    }
    ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
    p->waited = TRUE;
    p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return p->status;
}

static gboolean proc_exited(Proc *p)
{
    struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
    return p->waited || poll(&pfd, 1, 0) > 0;
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
    if (!p->waited) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    close(p->pidfd);
    g_unlink(p->out);
    g_unlink(p->err);
    g_free(p->out);
    g_free(p->err);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Proc, proc_free)

/* Runs @argv to completion (generous bound: a loaded 2-CPU machine). */
static Proc *run(char **argv, const Spawn *how, int timeout_ms)
{
    Proc *p = proc_spawn(argv, how);
    proc_wait(p, timeout_ms);
    return p;
}

/* A NULL-terminated copy of the arguments, up to NULL. */
static char **strv(const char *first, ...)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_strv_builder_add(b, a);
    va_end(ap);
    return g_strv_builder_end(b);
}

/* Whether @text holds the decimal number @n on its own (not as part of a longer number). */
static gboolean mentions_number(const char *text, long n)
{
    g_autofree char *digits = g_strdup_printf("%ld", n);
    size_t len = strlen(digits);
    for (const char *p = text; (p = strstr(p, digits)); p++) {
        gboolean before = p == text || !g_ascii_isdigit(p[-1]);
        gboolean after = !g_ascii_isdigit(p[len]);
        if (before && after)
            return TRUE;
    }
    return FALSE;
}

/* Whether @text holds @prefix immediately followed by the number @n, as in "process 1". */
static gboolean mentions(const char *text, const char *prefix, long n)
{
    g_autofree char *needle = g_strdup_printf("%s%ld", prefix, n);
    for (const char *p = text; (p = strstr(p, needle)); p++)
        if (!g_ascii_isdigit(p[strlen(needle)]))
            return TRUE;
    return FALSE;
}

/* ---- /proc ---- */

static char *status_field(const char *path, const char *key)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    g_autofree char *k = g_strdup_printf("\n%s:", key);
    const char *line = strstr(text, k);
    if (!line)
        return NULL;
    line += strlen(k);
    return g_strstrip(g_strndup(line, strcspn(line, "\n")));
}

/* Thread @tid's Cpus_allowed_list, or "(gone)". */
static char *cpus_allowed(pid_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)tid);
    char *cpus = status_field(path, "Cpus_allowed_list");
    return cpus ? cpus : g_strdup("(gone)");
}

/* Every thread of @pid: thread id -> "CPULIST policy" as /proc and sched_getscheduler say. */
static GHashTable *thread_states(pid_t pid)
{
    GHashTable *states = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_autofree char *task = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) dir = g_dir_open(task, 0, NULL);
    ck_assert_msg(dir, "%s is not readable", task);
    const char *e;
    while ((e = g_dir_read_name(dir))) {
        pid_t tid = atoi(e);
        g_autofree char *path = g_strdup_printf("%s/%s/status", task, e);
        g_autofree char *cpus = status_field(path, "Cpus_allowed_list");
        if (!cpus)
            continue;
        int policy = sched_getscheduler(tid);
        g_hash_table_insert(states, GINT_TO_POINTER(tid),
                            g_strdup_printf("%s policy %d", cpus, policy));
    }
    return states;
}

/* Fails unless every thread in @before still has its state (and no thread vanished). */
static void assert_threads_unchanged(pid_t pid, GHashTable *before, const char *what)
{
    g_autoptr(GHashTable) now = thread_states(pid);
    GHashTableIter it;
    gpointer tid, state;
    g_hash_table_iter_init(&it, before);
    while (g_hash_table_iter_next(&it, &tid, &state)) {
        const char *got = g_hash_table_lookup(now, tid);
        ck_assert_msg(got && strcmp(got, state) == 0, "%s: thread %d of pid %d was '%s', now '%s'",
                      what, GPOINTER_TO_INT(tid), (int)pid, (char *)state, got ? got : "(gone)");
    }
}

/* The thread ids of the fake's vCPUs, by their names "CPU k/KVM", in vCPU order. */
static GArray *vcpu_tids(pid_t pid, int n)
{
    GArray *tids = g_array_new(FALSE, TRUE, sizeof(pid_t));
    g_array_set_size(tids, (guint)n);
    g_autofree char *task = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) dir = g_dir_open(task, 0, NULL);
    ck_assert_ptr_nonnull(dir);
    const char *e;
    while ((e = g_dir_read_name(dir))) {
        g_autofree char *path = g_strdup_printf("%s/%s/comm", task, e);
        g_autofree char *comm = NULL;
        int k;
        char tail[8] = "";
        if (g_file_get_contents(path, &comm, NULL, NULL) &&
            sscanf(comm, "CPU %d/%7s", &k, tail) == 2 && k >= 0 && k < n)
            g_array_index(tids, pid_t, k) = atoi(e);
    }
    for (int k = 0; k < n; k++)
        ck_assert_msg(g_array_index(tids, pid_t, k) > 0, "pid %d has no thread 'CPU %d/KVM'",
                      (int)pid, k);
    return tids;
}

/* Whether @pid is a live (not zombie) fake-qemu. */
static gboolean fake_alive(pid_t pid)
{
    g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *comm_path = g_strdup_printf("/proc/%d/comm", (int)pid);
    g_autofree char *stat = NULL, *comm = NULL;
    if (!g_file_get_contents(stat_path, &stat, NULL, NULL) ||
        !g_file_get_contents(comm_path, &comm, NULL, NULL))
        return FALSE;
    const char *paren = strrchr(stat, ')');
    if (paren && paren[1] == ' ' && paren[2] == 'Z')
        return FALSE;
    return g_str_has_prefix(comm, "fake-qemu");
}

static gboolean cpus_0_and_1(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

/* ---- the fake ---- */

typedef struct {
    char *dir, *log, *pidfile, *notify, *sock;
    int notify_fd;    /* the FIFO, held open read-write so the fake never blocks on it */
    GString *pending; /* notification text not yet consumed */
    GPtrArray *env;   /* NAME=VALUE for the fake (through qpin or directly) */
    Proc *proc;       /* the fake itself, when the test started it */
} Fake;

static Fake *fake_new(void)
{
    Fake *f = g_new0(Fake, 1);
    f->dir = g_strdup_printf("%s/fake.%d.%d", tmpdir, (int)getpid(), ++counter);
    ck_assert_int_eq(g_mkdir(f->dir, 0755), 0);
    ck_assert_int_eq(chmod(f->dir, 0755), 0);
    f->log = g_build_filename(f->dir, "qmp.log", NULL);
    f->pidfile = g_build_filename(f->dir, "pid", NULL);
    f->notify = g_build_filename(f->dir, "notify", NULL);
    f->sock = g_build_filename(f->dir, "qmp.sock", NULL);
    ck_assert_int_eq(mkfifo(f->notify, 0600), 0);
    f->notify_fd = open(f->notify, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(f->notify_fd, 0);
    f->pending = g_string_new(NULL);
    f->env = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(f->env, g_strdup_printf("QPIN_FAKE_QEMU_LOG=%s", f->log));
    g_ptr_array_add(f->env, g_strdup_printf("QPIN_FAKE_QEMU_PIDFILE=%s", f->pidfile));
    g_ptr_array_add(f->env, g_strdup_printf("QPIN_FAKE_QEMU_NOTIFY=%s", f->notify));
    g_ptr_array_add(f->env, NULL);
    return f;
}

/* Sets QPIN_FAKE_QEMU_@knob=@value for the fake. */
static void fake_set(Fake *f, const char *knob, const char *value)
{
    g_ptr_array_remove_index(f->env, f->env->len - 1);
    g_ptr_array_add(f->env, g_strdup_printf("QPIN_FAKE_QEMU_%s=%s", knob, value));
    g_ptr_array_add(f->env, NULL);
}

static void fake_set_int(Fake *f, const char *knob, long value)
{
    g_autofree char *text = g_strdup_printf("%ld", value);
    fake_set(f, knob, text);
}

static Spawn fake_spawn(Fake *f)
{
    return (Spawn){.env = (char **)f->env->pdata};
}

/* The fake's pid from its pid file, 0 when it never started. */
static pid_t fake_pid(Fake *f)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(f->pidfile, &text, NULL, NULL))
        return 0;
    return (pid_t)atoi(text);
}

/* Waits until the fake notifies @word (its lines before that are consumed), up to
 * @timeout_ms; fails at once when @watch (qpin, or the fake) exits first. */
static void fake_wait_note(Fake *f, const char *word, Proc *watch, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        char *nl;
        while ((nl = strchr(f->pending->str, '\n'))) {
            g_autofree char *line = g_strndup(f->pending->str, (gsize)(nl - f->pending->str));
            g_string_erase(f->pending, 0, nl - f->pending->str + 1);
            if (strcmp(line, word) == 0)
                return;
        }
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        ck_assert_msg(left > 0, "the fake never said %s within %d ms", word, timeout_ms);
        struct pollfd p[2] = {{.fd = f->notify_fd, .events = POLLIN},
                              {.fd = watch ? watch->pidfd : -1, .events = POLLIN}};
        int r = poll(p, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (p[0].revents & POLLIN) {
            char buf[4096];
            ssize_t n = read(f->notify_fd, buf, sizeof buf);
            if (n > 0)
                g_string_append_len(f->pending, buf, n);
            continue;
        }
        if (watch && (p[1].revents & POLLIN)) {
            int status = proc_wait(watch, 1000);
            g_autofree char *err = slurp(watch->err);
            ck_abort_msg("exited with %d before the fake said %s: %s", status, word, err);
        }
    }
}

/* Starts the fake itself, serving QMP on f->sock, with @args (NULL-terminated), and waits
 * until it is ready. */
static void fake_start(Fake *f, const char *const *args)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add(b, fake_bin);
    g_strv_builder_addv(b, (const char **)args);
    g_autofree char *qmp = g_strdup_printf("unix:%s,server=on,wait=off", f->sock);
    g_strv_builder_add_many(b, "-qmp", qmp, NULL);
    g_auto(GStrv) argv = g_strv_builder_end(b);
    Spawn how = fake_spawn(f);
    f->proc = proc_spawn(argv, &how);
    fake_wait_note(f, "READY", f->proc, 30000);
}

/* Fails unless the fake is gone within @grace_ms (dead, or a zombie waiting for its parent);
 * a fake still alive is killed. */
static void assert_fake_gone(Fake *f, int grace_ms)
{
    pid_t pid = fake_pid(f);
    ck_assert_msg(pid > 0, "the fake never started (no %s)", f->pidfile);
    if (f->proc && f->proc->pid == pid && !f->proc->waited)
        proc_wait(f->proc, grace_ms);
    gint64 deadline = g_get_monotonic_time() + (gint64)grace_ms * 1000;
    /* Not our child: no event tells its end to us, so /proc is read until the deadline. */
    while (fake_alive(pid)) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            ck_abort_msg("the fake (pid %d) is still running", (int)pid);
        }
        g_usleep(10 * 1000);
    }
}

/* Ends a fake the test started itself (SIGTERM: it exits 0, like QEMU). */
static void fake_stop(Fake *f)
{
    ck_assert_ptr_nonnull(f->proc);
    ck_assert_msg(!proc_exited(f->proc), "the fake ended early");
    kill(f->proc->pid, SIGTERM);
    ck_assert_int_eq(proc_wait(f->proc, 10000), 0);
    assert_fake_gone(f, 0);
}

/* The lines the fake's monitors received, and the lines it added ("# ..."). */
static char **fake_log(Fake *f)
{
    g_autofree char *text = slurp(f->log);
    return g_strsplit(text, "\n", -1);
}

/* The commands the fake received, in order; any line that is not a QMP command fails. */
static GPtrArray *fake_commands(Fake *f)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) lines = fake_log(f);
    for (int i = 0; lines[i]; i++) {
        if (!lines[i][0] || g_str_has_prefix(lines[i], "# "))
            continue;
        /* One whole object per line: nothing before or after it. */
        json_tokener *tok = json_tokener_new();
        json_object *cmd = json_tokener_parse_ex(tok, lines[i], (int)strlen(lines[i]));
        const char *rest = lines[i] + json_tokener_get_parse_end(tok);
        gboolean whole = json_tokener_get_error(tok) == json_tokener_success &&
                         strspn(rest, " \t\r") == strlen(rest);
        json_tokener_free(tok);
        json_object *exec = NULL;
        gboolean ok = whole && cmd && json_object_is_type(cmd, json_type_object) &&
                      json_object_object_get_ex(cmd, "execute", &exec) &&
                      json_object_is_type(exec, json_type_string);
        if (ok)
            g_ptr_array_add(names, g_strdup(json_object_get_string(exec)));
        json_object_put(cmd);
        ck_assert_msg(ok, "the monitor received a line that is no QMP command: %.200s", lines[i]);
    }
    return names;
}

static gboolean has_command(GPtrArray *names, const char *name)
{
    for (guint i = 0; i < names->len; i++)
        if (strcmp(names->pdata[i], name) == 0)
            return TRUE;
    return FALSE;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *e;
        while (dir && (e = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, e, NULL);
            rm_rf(child);
        }
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void fake_free(Fake *f)
{
    if (!f)
        return;
    pid_t pid = fake_pid(f);
    if (pid > 0 && fake_alive(pid))
        kill(pid, SIGKILL);
    proc_free(f->proc);
    close(f->notify_fd);
    rm_rf(f->dir);
    g_free(f->dir);
    g_free(f->log);
    g_free(f->pidfile);
    g_free(f->notify);
    g_free(f->sock);
    g_string_free(f->pending, TRUE);
    g_ptr_array_unref(f->env);
    g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fake, fake_free)

/* ---- a process that has nothing to do with QEMU ---- */

typedef struct {
    pid_t pid;
    int fd; /* the write end of the pipe it blocks on */
} Bystander;

static Bystander bystander_start(void)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t parent = getpid();
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) != 0)
            ;
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_ge(pid, 0);
    close(p[0]);
    return (Bystander){.pid = pid, .fd = p[1]};
}

static void bystander_stop(Bystander *b)
{
    close(b->fd);
    int status;
    ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- a: a QMP peer lying about its vCPU threads ---- */

/* The fake reports as vCPU 0's thread a process that has nothing to do with it: qpin refuses
 * before changing anything, naming the thread and the socket's peer. */
START_TEST(test_pin_lying_peer)
{
    Bystander by = bystander_start();
    g_autofree char *by_cpus = cpus_allowed(by.pid);
    ck_assert_int_eq(sched_getscheduler(by.pid), SCHED_OTHER);
    g_autoptr(Fake) f = fake_new();
    fake_set_int(f, "LIE_TID", by.pid);
    const char *args[] = {"-S", "-smp", "2", NULL};
    fake_start(f, args);
    pid_t qemu = fake_pid(f);
    g_autoptr(GHashTable) before = thread_states(qemu);

    g_auto(GStrv) argv =
        strv(qpin, "pin", "--qmp", f->sock, "--pin", "expr:0", "--vcpu-sched", "fifo:99", NULL);
    g_autoptr(Proc) p = run(argv, NULL, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_PIN, "exit %d, want 15: %s", p->status, err);
    ck_assert_msg(mentions_number(err, by.pid), "the lying thread id %d is not named: %s",
                  (int)by.pid, err);
    ck_assert_msg(mentions_number(err, qemu), "the peer's pid %d is not named: %s", (int)qemu, err);
    g_autofree char *by_after = cpus_allowed(by.pid);
    ck_assert_str_eq(by_after, by_cpus);
    ck_assert_int_eq(sched_getscheduler(by.pid), SCHED_OTHER);
    assert_threads_unchanged(qemu, before, "the fake after a refused pin");

    fake_stop(f);
    bystander_stop(&by);
}
END_TEST

/* ---- b: --pid that is not the peer ---- */

/* A pid that could exist but does not. */
static pid_t absent_pid(void)
{
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents("/proc/sys/kernel/pid_max", &text, NULL, NULL));
    for (pid_t pid = (pid_t)atoi(text) - 1; pid > 1000; pid -= 7)
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return pid;
    ck_abort_msg("no free pid found");
    return 0;
}

/* Puts every thread of @pid back on @cpus when a broken qpin moved it, and says whether it
 * had to. */
static gboolean restore_threads(pid_t pid, GHashTable *before, const cpu_set_t *cpus)
{
    g_autoptr(GHashTable) now = thread_states(pid);
    gboolean changed = FALSE;
    GHashTableIter it;
    gpointer tid, state;
    g_hash_table_iter_init(&it, before);
    while (g_hash_table_iter_next(&it, &tid, &state)) {
        const char *got = g_hash_table_lookup(now, tid);
        if (got && strcmp(got, state) != 0) {
            sched_setaffinity(GPOINTER_TO_INT(tid), sizeof *cpus, cpus);
            changed = TRUE;
        }
    }
    return changed;
}

START_TEST(test_pin_foreign_pid)
{
    Bystander by = bystander_start();
    g_autofree char *by_cpus = cpus_allowed(by.pid);
    g_autoptr(Fake) f = fake_new();
    const char *args[] = {"-S", "-smp", "2", NULL};
    fake_start(f, args);
    pid_t qemu = fake_pid(f);
    g_autoptr(GHashTable) before = thread_states(qemu);

    /* --pid of a process that is not the socket's peer. */
    g_autofree char *by_pid = g_strdup_printf("%d", (int)by.pid);
    g_auto(GStrv) foreign =
        strv(qpin, "pin", "--qmp", f->sock, "--pid", by_pid, "--emulator-pin", "0", NULL);
    g_autoptr(Proc) p = run(foreign, NULL, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_PIN, "--pid %s: exit %d, want 15: %s", by_pid, p->status, err);
    ck_assert_msg(mentions_number(err, by.pid) && mentions_number(err, qemu),
                  "--pid %s: the message names neither that pid and the peer %d: %s", by_pid,
                  (int)qemu, err);
    g_autofree char *by_after = cpus_allowed(by.pid);
    ck_assert_str_eq(by_after, by_cpus);
    assert_threads_unchanged(qemu, before, "the fake after --pid of another process");

    /* init and a pid that does not exist: refused, and never called QEMU. */
    cpu_set_t mine;
    ck_assert_int_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    g_autoptr(GHashTable) init_before = thread_states(1);
    pid_t absent = absent_pid();
    const pid_t refused[] = {1, absent};
    for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autofree char *pid = g_strdup_printf("%d", (int)refused[i]);
        g_auto(GStrv) argv =
            strv(qpin, "pin", "--qmp", f->sock, "--pid", pid, "--emulator-pin", "0", NULL);
        g_autoptr(Proc) q = run(argv, NULL, 60000);
        g_autofree char *qerr = slurp(q->err);
        /* Before any assertion: a broken qpin must not leave init on CPU 0. */
        gboolean init_moved = refused[i] == 1 && restore_threads(1, init_before, &mine);
        ck_assert_msg(!init_moved, "--pid 1 changed the affinity of init's threads: %s", qerr);
        ck_assert_msg(q->status == EXIT_PIN, "--pid %s: exit %d, want 15: %s", pid, q->status,
                      qerr);
        ck_assert_msg(mentions(qerr, "process ", refused[i]), "--pid %s: no 'process %s': %s", pid,
                      pid, qerr);
        ck_assert_msg(!mentions(qerr, "QEMU (pid ", refused[i]), "--pid %s: called QEMU: %s", pid,
                      qerr);
    }
    assert_threads_unchanged(qemu, before, "the fake after --pid 1 and an absent pid");

    /* The peer's own pid is accepted. */
    g_autofree char *qemu_pid = g_strdup_printf("%d", (int)qemu);
    g_auto(GStrv) own =
        strv(qpin, "pin", "--qmp", f->sock, "--pid", qemu_pid, "--emulator-pin", "0", NULL);
    g_autoptr(Proc) r = run(own, NULL, 60000);
    g_autofree char *rerr = slurp(r->err);
    ck_assert_msg(r->status == 0, "--pid %s (the peer): exit %d: %s", qemu_pid, r->status, rerr);
    g_autofree char *main_cpus = cpus_allowed(qemu);
    ck_assert_str_eq(main_cpus, "0");

    fake_stop(f);
    bystander_stop(&by);
}
END_TEST

/* ---- c: wrappers ---- */

static char *write_script(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}

/* qpin run --pin 0,1 -- @qemu... -smp 2, the fake set to end by itself with status 7 after
 * cont. Returns qpin. */
static Proc *run_wrapped(Fake *f, const char *const *qemu)
{
    fake_set(f, "EXIT_AFTER_CONT", "1");
    fake_set(f, "EXIT_STATUS", "7");
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add_many(b, qpin, "run", "--pin", "0,1", "-q", "--", NULL);
    g_strv_builder_addv(b, (const char **)qemu);
    g_strv_builder_add_many(b, "-smp", "2", "-name", "wrapped", NULL);
    g_auto(GStrv) argv = g_strv_builder_end(b);
    Spawn how = fake_spawn(f);
    return run(argv, &how, 60000);
}

/* A wrapper script that starts QEMU without exec: QEMU is not the process qpin started, so
 * qpin cannot prove the threads are QEMU's, refuses before cont and says to exec QEMU. A
 * wrapper that execs, and taskset, are fine. */
START_TEST(test_run_wrapper_without_exec)
{
    g_autoptr(Fake) f = fake_new();
    g_autofree char *script =
        write_script(f->dir, "no-exec.sh", "#!/bin/sh\n\"$QPIN_FAKE_QEMU\" \"$@\"\n");
    const char *qemu[] = {script, NULL};
    g_autoptr(Proc) p = run_wrapped(f, qemu);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_PIN, "exit %d, want 15: %s", p->status, err);
    ck_assert_msg(strstr(err, "exec"), "no hint to exec QEMU in the wrapper: %s", err);
    g_autoptr(GPtrArray) cmds = fake_commands(f);
    ck_assert_msg(!has_command(cmds, "cont"), "the guest was resumed: %s", err);
    assert_fake_gone(f, 10000);

    g_autoptr(Fake) g = fake_new();
    g_autofree char *exec_script =
        write_script(g->dir, "exec.sh", "#!/bin/sh\nexec \"$QPIN_FAKE_QEMU\" \"$@\"\n");
    const char *exec_qemu[] = {exec_script, NULL};
    g_autoptr(Proc) q = run_wrapped(g, exec_qemu);
    g_autofree char *qerr = slurp(q->err);
    ck_assert_msg(q->status == 7, "exec wrapper: exit %d, want the fake's 7: %s", q->status, qerr);
    g_autoptr(GPtrArray) gcmds = fake_commands(g);
    ck_assert(has_command(gcmds, "cont"));
    assert_fake_gone(g, 10000);

    g_autofree char *taskset = g_find_program_in_path("taskset");
    ck_assert_msg(taskset, "taskset (util-linux) is needed for this test");
    g_autoptr(Fake) h = fake_new();
    /* qpin finds QEMU behind a wrapper by its name (qemu-system-*): the fake under that name. */
    g_autofree char *named = g_build_filename(h->dir, "qemu-system-x86_64", NULL);
    ck_assert_int_eq(symlink(fake_bin, named), 0);
    const char *ts_qemu[] = {taskset, "-c", "0-1", named, NULL};
    g_autoptr(Proc) r = run_wrapped(h, ts_qemu);
    g_autofree char *rerr = slurp(r->err);
    ck_assert_msg(r->status == 7, "taskset: exit %d, want the fake's 7: %s", r->status, rerr);
    assert_fake_gone(h, 10000);
}
END_TEST

/* ---- d: no shell ---- */

/* A file without "#!" is not run through a shell (execvp would): exit 11, nothing ran. */
START_TEST(test_run_no_shell)
{
    g_autoptr(Fake) f = fake_new();
    g_autofree char *marker = g_build_filename(f->dir, "marker", NULL);
    g_autofree char *text = g_strdup_printf("touch %s\n", marker);
    g_autofree char *file = write_script(f->dir, "not-qemu", text);
    g_auto(GStrv) argv = strv(qpin, "run", "--pin", "0", "--", file, "-smp", "1", NULL);
    g_autoptr(Proc) p = run(argv, NULL, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_QEMU_START, "exit %d, want 11: %s", p->status, err);
    ck_assert_msg(strstr(err, "not an executable"), "%s", err);
    ck_assert_msg(!g_file_test(marker, G_FILE_TEST_EXISTS), "the file was run by a shell");
}
END_TEST

/* ---- e: closed stdin and stdout ---- */

/* With descriptors 0 and 1 closed, qpin's own descriptors take those numbers: nothing meant
 * for stdout (the JSON plan) may reach QEMU's monitor. */
START_TEST(test_plan_closed_stdio)
{
    g_autoptr(Fake) f = fake_new();
    g_auto(GStrv) argv = strv(qpin, "plan", "--json", "--", fake_bin, "-smp", "2", NULL);
    Spawn how = fake_spawn(f);
    how.close_stdio = TRUE;
    g_autoptr(Proc) p = run(argv, &how, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    /* Every line the monitor got is a QMP command (fake_commands() fails on anything else). */
    g_autoptr(GPtrArray) cmds = fake_commands(f);
    ck_assert(has_command(cmds, "qmp_capabilities"));
    ck_assert(has_command(cmds, "query-cpus-fast"));
    g_autofree char *log = slurp(f->log);
    ck_assert_msg(!g_str_has_prefix(log, "# ") && !strstr(log, "\n# "), "%s", log);
    ck_assert_msg(!strstr(log, "\"vcpus\"") && !strstr(log, "qemu_argv"),
                  "the plan reached QEMU's monitor: %s", log);
    assert_fake_gone(f, 10000);
}
END_TEST

/* ---- f: resumed before pinning ---- */

/* Someone else resumes the guest right after qpin's negotiation, with a RESUME event or
 * silently: qpin run refuses (19) without sending cont, and QEMU is stopped. */
START_TEST(test_run_resumed_early)
{
    const char *modes[] = {"event", "silent"};
    for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autoptr(Fake) f = fake_new();
        fake_set(f, "RESUME_EARLY", modes[i]);
        /* Should qpin send cont after all, the fake ends (42) instead of running for ever. */
        fake_set(f, "EXIT_AFTER_CONT", "1");
        fake_set(f, "EXIT_STATUS", "42");
        g_auto(GStrv) argv = strv(qpin, "run", "--pin", "0,1", "--", fake_bin, "-smp", "2", NULL);
        Spawn how = fake_spawn(f);
        g_autoptr(Proc) p = run(argv, &how, 60000);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == EXIT_RESUMED, "%s: exit %d, want 19: %s", modes[i], p->status,
                      err);
        ck_assert_msg(strstr(err, "resumed"), "%s: %s", modes[i], err);
        g_autoptr(GPtrArray) cmds = fake_commands(f);
        ck_assert_msg(!has_command(cmds, "cont"), "%s: qpin sent cont", modes[i]);
        assert_fake_gone(f, 10000);
    }
}
END_TEST

/* ---- g: qpin pin on a running guest ---- */

/* A guest already running (started without -S, or resumed by someone else once qpin is
 * connected) is pinned, and qpin says it was already running. */
START_TEST(test_pin_already_running)
{
    for (int round = 0; round < 2; round++) {
        g_autoptr(Fake) f = fake_new();
        const char *no_s[] = {"-smp", "2", NULL};
        const char *with_s[] = {"-S", "-smp", "2", NULL};
        if (round == 1)
            fake_set(f, "RESUME_EARLY", "event");
        fake_start(f, round == 0 ? no_s : with_s);
        pid_t qemu = fake_pid(f);
        g_autoptr(GArray) tids = vcpu_tids(qemu, 2);
        g_auto(GStrv) argv = strv(qpin, "pin", "--qmp", f->sock, "--pin", "1,0", NULL);
        g_autoptr(Proc) p = run(argv, NULL, 60000);
        g_autofree char *out = slurp(p->out);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == 0, "round %d: exit %d: %s", round, p->status, err);
        g_autofree char *c0 = cpus_allowed(g_array_index(tids, pid_t, 0));
        g_autofree char *c1 = cpus_allowed(g_array_index(tids, pid_t, 1));
        ck_assert_str_eq(c0, "1");
        ck_assert_str_eq(c1, "0");
        ck_assert_msg(strstr(out, "already running") || strstr(err, "already running"),
                      "round %d: not said: stdout %s\nstderr %s", round, out, err);
        fake_stop(f);
    }

    /* --cont, and the guest is resumed by someone else while qpin queries it: 19. */
    g_autoptr(Fake) f = fake_new();
    fake_set(f, "RESUME_ON", "query-cpus-fast");
    const char *args[] = {"-S", "-smp", "2", NULL};
    fake_start(f, args);
    g_auto(GStrv) argv = strv(qpin, "pin", "--qmp", f->sock, "--pin", "1,0", "--cont", NULL);
    g_autoptr(Proc) p = run(argv, NULL, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == EXIT_RESUMED, "exit %d, want 19: %s", p->status, err);
    ck_assert_msg(strstr(err, "resumed"), "%s", err);
    fake_stop(f);
}
END_TEST

/* ---- h: slow negotiation ---- */

/* A QEMU that greets at once and answers qmp_capabilities only after 15 s (building hundreds
 * of vCPUs): the negotiation waits while QEMU lives, --qmp-timeout bounds the later commands. */
START_TEST(test_plan_slow_negotiation)
{
    g_autoptr(Fake) f = fake_new();
    fake_set(f, "NEGOTIATE_DELAY_MS", "15000");
    g_auto(GStrv) argv =
        strv(qpin, "plan", "--qmp-timeout", "1", "--", fake_bin, "-smp", "2", NULL);
    Spawn how = fake_spawn(f);
    g_autoptr(Proc) p = run(argv, &how, 120000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    g_autoptr(GPtrArray) cmds = fake_commands(f);
    ck_assert(has_command(cmds, "query-cpus-fast"));
    assert_fake_gone(f, 10000);
}
END_TEST

/* ---- i: signals during a hung exchange ---- */

/* Sends @sig to qpin once the fake received @command (which it answers late or never) and
 * checks that qpin exits 18 long before the 600 s QMP timeout, leaving no fake. */
static void interrupt_during(const char *knob, const char *value, const char *command, int sig)
{
    g_autoptr(Fake) f = fake_new();
    fake_set(f, knob, value);
    g_auto(GStrv) argv = strv(qpin, "run", "--qmp-timeout", "600", "--kill-timeout", "2", "--pin",
                              "0,1", "--", fake_bin, "-smp", "2", NULL);
    Spawn how = fake_spawn(f);
    g_autoptr(Proc) p = proc_spawn(argv, &how);
    fake_wait_note(f, command, p, 60000);
    gint64 t0 = g_get_monotonic_time();
    kill(p->pid, sig);
    /* The bound proves qpin did not wait for the 600 s timeout. */
    int status = proc_wait(p, 30000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(status == EXIT_INTERRUPTED, "signal %d during %s: exit %d, want 18: %s", sig,
                  command, status, err);
    fprintf(stderr, "signal %d during %s: qpin exited after %.0f ms\n", sig, command,
            (double)(g_get_monotonic_time() - t0) / 1000.0);
    g_autoptr(GPtrArray) cmds = fake_commands(f);
    ck_assert(!has_command(cmds, "cont"));
    assert_fake_gone(f, 10000);
}

START_TEST(test_run_interrupted_while_hung)
{
    interrupt_during("HANG", "query-cpus-fast", "query-cpus-fast", SIGINT);
    interrupt_during("NEGOTIATE_DELAY_MS", "600000", "qmp_capabilities", SIGTERM);
}
END_TEST

/* ---- j: SIGTERM during qpin pin, all or nothing ---- */

/* SIGTERM at varying moments of a pin of 64 vCPUs (a property, not a synchronisation): every
 * round ends either interrupted (18) with every thread exactly as before, or done (0) with
 * every thread where the map says. Never in between, never another status. The delay counts
 * from the moment the fake receives qmp_capabilities, so that the signal lands in qpin's
 * queries, pins and read-backs rather than in the dynamic loader before qpin's main. */
START_TEST(test_pin_sigterm_all_or_nothing)
{
    enum { VCPUS = 64, ROUNDS = 20 };
    g_autoptr(Fake) f = fake_new();
    g_autofree char *smp = g_strdup_printf("%d", VCPUS);
    const char *args[] = {"-S", "-smp", smp, NULL};
    fake_start(f, args);
    pid_t qemu = fake_pid(f);
    g_autoptr(GArray) tids = vcpu_tids(qemu, VCPUS);
    g_autoptr(GHashTable) before = thread_states(qemu);
    cpu_set_t original;
    ck_assert_int_eq(sched_getaffinity(qemu, sizeof original, &original), 0);
    g_autoptr(GHashTable) vcpu_index = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int k = 0; k < VCPUS; k++)
        g_hash_table_insert(vcpu_index, GINT_TO_POINTER(g_array_index(tids, pid_t, k)),
                            GINT_TO_POINTER(k + 1));
    int interrupted = 0, done = 0;
    for (int round = 0; round < ROUNDS; round++) {
        g_auto(GStrv) argv = strv(qpin, "pin", "--qmp", f->sock, "--pin", "expr:v%2",
                                  "--emulator-pin", "1", "-q", NULL);
        g_autoptr(Proc) p = proc_spawn(argv, NULL);
        fake_wait_note(f, "qmp_capabilities", p, 60000);
        g_usleep((gulong)round * 500); /* 0 to 9.5 ms: where the signal lands varies */
        kill(p->pid, SIGTERM);
        int status = proc_wait(p, 60000);
        g_autofree char *err = slurp(p->err);
        if (status == EXIT_INTERRUPTED) {
            interrupted++;
            assert_threads_unchanged(qemu, before, "interrupted pin");
        } else if (status == 0) {
            done++;
            g_autoptr(GHashTable) now = thread_states(qemu);
            GHashTableIter it;
            gpointer tid, state;
            g_hash_table_iter_init(&it, now);
            while (g_hash_table_iter_next(&it, &tid, &state)) {
                int k = GPOINTER_TO_INT(g_hash_table_lookup(vcpu_index, tid)) - 1;
                g_autofree char *want = g_strdup_printf("%d policy", k >= 0 ? k % 2 : 1);
                ck_assert_msg(g_str_has_prefix(state, want),
                              "round %d: pin done but thread %d (vCPU %d) is '%s': %s", round,
                              GPOINTER_TO_INT(tid), k, (char *)state, err);
            }
            /* Back to the start for the next round. */
            g_hash_table_iter_init(&it, before);
            while (g_hash_table_iter_next(&it, &tid, &state))
                ck_assert_int_eq(
                    sched_setaffinity(GPOINTER_TO_INT(tid), sizeof original, &original), 0);
            assert_threads_unchanged(qemu, before, "reset between rounds");
        } else {
            ck_abort_msg("round %d: exit %d, want 18 or 0: %s", round, status, err);
        }
    }
    fprintf(stderr, "SIGTERM during qpin pin: %d interrupted, %d done\n", interrupted, done);
    fake_stop(f);
}
END_TEST

/* ---- k: EPERM in the middle of a map ---- */

/* vCPU 2's thread belongs to root, the others to nobody, who runs qpin: the pin fails with
 * EPERM on vCPU 2 after vCPUs 0 and 1 were moved; qpin says so, restores those two, and says
 * which it restored. */
START_TEST(test_pin_eperm_rollback)
{
    g_autoptr(Fake) f = fake_new();
    fake_set_int(f, "THREAD_UID", NOBODY);
    fake_set(f, "ROOT_VCPU", "2");
    const char *args[] = {"-S", "-smp", "4", NULL};
    fake_start(f, args);
    pid_t qemu = fake_pid(f);
    g_autoptr(GArray) tids = vcpu_tids(qemu, 4);
    g_autoptr(GHashTable) before = thread_states(qemu);

    g_auto(GStrv) argv = strv(qpin, "pin", "--qmp", f->sock, "--pin", "1,1,1,1", NULL);
    Spawn how = {.as_nobody = TRUE};
    g_autoptr(Proc) p = run(argv, &how, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status != 126 && p->status != 127,
                  "qpin could not be started as uid %d (is %s reachable by it?)", NOBODY, qpin);
    ck_assert_msg(p->status == EXIT_PIN, "exit %d, want 15: %s", p->status, err);
    pid_t t0 = g_array_index(tids, pid_t, 0), t1 = g_array_index(tids, pid_t, 1),
          t2 = g_array_index(tids, pid_t, 2);
    ck_assert_msg(mentions_number(err, t2), "vCPU 2's thread %d is not named: %s", (int)t2, err);
    ck_assert_msg(strstr(err, "EPERM") || strstr(err, "CAP_SYS_NICE"), "%s", err);
    ck_assert_msg(strstr(err, "restor") || strstr(err, "back"), "no word of a rollback: %s", err);
    ck_assert_msg(mentions_number(err, t0) && mentions_number(err, t1),
                  "the restored threads %d and %d are not named: %s", (int)t0, (int)t1, err);
    assert_threads_unchanged(qemu, before, "after the EPERM rollback");
    fake_stop(f);
}
END_TEST

/* ---- l: event flood during supervision ---- */

START_TEST(test_run_event_flood)
{
    g_autoptr(Fake) f = fake_new();
    fake_set(f, "EVENT_FLOOD", "200000");
    fake_set(f, "EXIT_STATUS", "3");
    g_auto(GStrv) argv = strv(qpin, "run", "--pin", "0,1", "-q", "--", fake_bin, "-smp", "2", NULL);
    Spawn how = fake_spawn(f);
    g_autoptr(Proc) p = run(argv, &how, 300000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 3, "exit %d, want the fake's 3: %s", p->status, err);
    assert_fake_gone(f, 10000);
}
END_TEST

/* ---- m: --vcpu-sched fifo end to end ---- */

/* What the vCPU threads run with when the guest starts, as the fake reads it from itself. */
START_TEST(test_run_vcpu_sched_fifo)
{
    g_autoptr(Fake) f = fake_new();
    fake_set(f, "EXIT_AFTER_CONT", "1");
    fake_set(f, "EXIT_STATUS", "5");
    g_auto(GStrv) argv = strv(qpin, "run", "--pin", "0,1", "--vcpu-sched", "fifo:1", "-q", "--",
                              fake_bin, "-smp", "2", NULL);
    Spawn how = fake_spawn(f);
    g_autoptr(Proc) p = run(argv, &how, 60000);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 5, "exit %d, want the fake's 5: %s", p->status, err);
    g_autofree char *log = slurp(f->log);
    for (int k = 0; k < 2; k++) {
        g_autofree char *want = g_strdup_printf("policy SCHED_FIFO priority 1 cpus %d\n", k);
        g_autofree char *head = g_strdup_printf("# vcpu %d tid ", k);
        const char *line = strstr(log, head);
        ck_assert_msg(line, "no state of vCPU %d at cont: %s", k, log);
        const char *end = strchr(line, '\n');
        g_autofree char *whole = g_strndup(line, end ? (gsize)(end - line + 1) : strlen(line));
        ck_assert_msg(g_str_has_suffix(whole, want), "vCPU %d at cont: %s", k, whole);
    }
    assert_fake_gone(f, 10000);
}
END_TEST

/* ---- n: report files ---- */

static Proc *plan_with(Fake *f, const char *report, const char *const *extra)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_add_many(b, qpin, "plan", "--report", report, NULL);
    g_strv_builder_addv(b, (const char **)extra);
    g_auto(GStrv) argv = g_strv_builder_end(b);
    Spawn how = fake_spawn(f);
    return run(argv, &how, 60000);
}

static void assert_plan_report(const char *path)
{
    json_object *doc = json_object_from_file(path);
    ck_assert_msg(doc, "%s holds no JSON report", path);
    json_object *command = NULL;
    ck_assert(json_object_object_get_ex(doc, "command", &command));
    ck_assert_str_eq(json_object_get_string(command), "plan");
    json_object_put(doc);
}

START_TEST(test_report_files)
{
    const char *qemu[] = {"--", fake_bin, "-smp", "2", NULL};

    /* /dev/null stays the device. */
    struct stat null_before, null_after;
    ck_assert_int_eq(stat("/dev/null", &null_before), 0);
    ck_assert(S_ISCHR(null_before.st_mode));
    {
        g_autoptr(Fake) f = fake_new();
        g_autoptr(Proc) p = plan_with(f, "/dev/null", qemu);
        g_autofree char *err = slurp(p->err);
        ck_assert_int_eq(stat("/dev/null", &null_after), 0);
        if (!S_ISCHR(null_after.st_mode)) {
            /* Put the machine's /dev/null back before failing. */
            g_unlink("/dev/null");
            mknod("/dev/null", S_IFCHR | 0666, null_before.st_rdev);
            chmod("/dev/null", 0666);
            ck_abort_msg("--report /dev/null replaced the device: %s", err);
        }
        ck_assert_msg(p->status == 0, "--report /dev/null: exit %d: %s", p->status, err);
        ck_assert(null_after.st_rdev == null_before.st_rdev);
        assert_fake_gone(f, 10000);
    }

    /* A symbolic link stays a link; its target gets the report. */
    {
        g_autoptr(Fake) f = fake_new();
        g_autofree char *target = g_build_filename(f->dir, "target.json", NULL);
        g_autofree char *link = g_build_filename(f->dir, "link.json", NULL);
        ck_assert(g_file_set_contents(target, "old\n", -1, NULL));
        ck_assert_int_eq(symlink(target, link), 0);
        g_autoptr(Proc) p = plan_with(f, link, qemu);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == 0, "--report LINK: exit %d: %s", p->status, err);
        struct stat st;
        ck_assert_int_eq(lstat(link, &st), 0);
        ck_assert_msg(S_ISLNK(st.st_mode), "the link was replaced by a file");
        g_autofree char *points = g_file_read_link(link, NULL);
        ck_assert_str_eq(points, target);
        assert_plan_report(target);
        assert_fake_gone(f, 10000);
    }

    /* An existing 0600 report keeps its mode. */
    {
        g_autoptr(Fake) f = fake_new();
        g_autofree char *report = g_build_filename(f->dir, "report.json", NULL);
        int fd = open(report, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fchmod(fd, 0600), 0);
        close(fd);
        mode_t old = umask(022);
        g_autoptr(Proc) p = plan_with(f, report, qemu);
        umask(old);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
        struct stat st;
        ck_assert_int_eq(stat(report, &st), 0);
        ck_assert_msg((st.st_mode & 07777) == 0600, "the report's mode became %04o",
                      (unsigned)(st.st_mode & 07777));
        assert_plan_report(report);
        assert_fake_gone(f, 10000);
    }

    /* An empty name is a usage error, found before QEMU starts. */
    {
        g_autoptr(Fake) f = fake_new();
        g_autoptr(Proc) p = plan_with(f, "", qemu);
        g_autofree char *err = slurp(p->err);
        ck_assert_msg(p->status == EXIT_USAGE, "--report '': exit %d, want 2: %s", p->status, err);
        ck_assert_msg(!g_file_test(f->pidfile, G_FILE_TEST_EXISTS), "QEMU was started");
    }
}
END_TEST

/* Secrets on QEMU's command line never reach the report or the JSON output. */
START_TEST(test_report_masks_secrets)
{
    g_autoptr(Fake) f = fake_new();
    g_autofree char *report = g_build_filename(f->dir, "report.json", NULL);
    const char *qemu[] = {"--json",
                          "--",
                          fake_bin,
                          "-smp",
                          "2",
                          "-object",
                          "secret,id=s0,data=hunter2",
                          "-spice",
                          "port=5900,password=hunter3",
                          NULL};
    g_autoptr(Proc) p = plan_with(f, report, qemu);
    g_autofree char *out = slurp(p->out);
    g_autofree char *err = slurp(p->err);
    ck_assert_msg(p->status == 0, "exit %d: %s", p->status, err);
    g_autofree char *text = slurp(report);
    ck_assert_msg(*text, "no report written: %s", err);
    ck_assert_msg(strstr(text, "***"), "no masked value in the report: %s", text);
    ck_assert_msg(!strstr(text, "hunter2") && !strstr(text, "hunter3"), "report: %s", text);
    ck_assert_msg(*out, "no JSON on stdout: %s", err);
    ck_assert_msg(!strstr(out, "hunter2") && !strstr(out, "hunter3"), "--json: %s", out);
    assert_fake_gone(f, 10000);
}
END_TEST

/* ---- set-up ---- */

enum { NEED_ROOT = 1, NEED_CPUS_0_1 = 2 };

/* Adds @test to @tc, or to @skipped with the reason when what it needs is missing. */
static void add_test(TCase *tc, GPtrArray *skipped, const TTest *test, unsigned needs)
{
    const char *only = g_getenv("QPIN_TRUST_ONLY");
    if (only && strcmp(only, test->name) != 0)
        return;
    const char *why = NULL;
    if ((needs & NEED_ROOT) && geteuid() != 0)
        why = "needs root (threads of other users, real-time policies)";
    else if ((needs & NEED_CPUS_0_1) && !cpus_0_and_1())
        why = "needs CPUs 0 and 1 in this process's allowed set";
    if (why)
        g_ptr_array_add(skipped, g_strdup_printf("%s # SKIP %s", test->name, why));
    else
        tcase_add_test(tc, test);
}

/* Like qpin_check_run(), with the tests that could not run reported as TAP skips: Check's
 * TAP has no skip, so its plan (written last) is replaced by one that counts them. */
static int run_suite(void)
{
    Suite *s = suite_create("trust");
    TCase *tc = tcase_create("trust");
    tcase_set_timeout(tc, 300);
    g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func(g_free);
    add_test(tc, skipped, test_pin_lying_peer, NEED_CPUS_0_1);
    add_test(tc, skipped, test_pin_foreign_pid, NEED_CPUS_0_1);
    add_test(tc, skipped, test_run_wrapper_without_exec, NEED_CPUS_0_1);
    add_test(tc, skipped, test_run_no_shell, 0);
    add_test(tc, skipped, test_plan_closed_stdio, 0);
    add_test(tc, skipped, test_run_resumed_early, NEED_CPUS_0_1);
    add_test(tc, skipped, test_pin_already_running, NEED_CPUS_0_1);
    add_test(tc, skipped, test_plan_slow_negotiation, 0);
    add_test(tc, skipped, test_run_interrupted_while_hung, NEED_CPUS_0_1);
    add_test(tc, skipped, test_pin_sigterm_all_or_nothing, NEED_CPUS_0_1);
    add_test(tc, skipped, test_pin_eperm_rollback, NEED_ROOT | NEED_CPUS_0_1);
    add_test(tc, skipped, test_run_event_flood, NEED_CPUS_0_1);
    add_test(tc, skipped, test_run_vcpu_sched_fifo, NEED_ROOT | NEED_CPUS_0_1);
    add_test(tc, skipped, test_report_files, 0);
    add_test(tc, skipped, test_report_masks_secrets, 0);
    suite_add_tcase(s, tc);

    g_autofree char *tap = g_build_filename(tmpdir, "tap", NULL);
    SRunner *runner = srunner_create(s);
    srunner_set_fork_status(runner, CK_FORK);
    srunner_set_tap(runner, tap);
    srunner_run_all(runner, CK_SILENT);
    int failed = srunner_ntests_failed(runner);
    int ran = srunner_ntests_run(runner);
    srunner_free(runner);

    g_autofree char *text = slurp(tap);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    /* A failure message of several lines continues as TAP comments. */
    for (int i = 0; lines[i]; i++) {
        if (!lines[i][0] || g_str_has_prefix(lines[i], "1.."))
            continue;
        gboolean result =
            g_str_has_prefix(lines[i], "ok ") || g_str_has_prefix(lines[i], "not ok ");
        printf("%s%s\n", result ? "" : "# ", lines[i]);
    }
    for (guint i = 0; i < skipped->len; i++)
        printf("ok %d - %s\n", ran + (int)i + 1, (char *)skipped->pdata[i]);
    printf("1..%d\n", ran + (int)skipped->len);
    fflush(stdout);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(void)
{
    qpin = g_getenv("QPIN");
    fake_bin = g_getenv("QPIN_FAKE_QEMU");
    if (!qpin || !fake_bin) {
        /* TAP's way to skip a whole binary. */
        printf("1..0 # SKIP QPIN and QPIN_FAKE_QEMU are not set; run through meson test\n");
        return 0;
    }
    tmpdir = g_dir_make_tmp("qpin-trust-XXXXXX", NULL);
    if (!tmpdir) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    /* Reachable (not listable) by the unprivileged user of the EPERM test. */
    chmod(tmpdir, 0711);
    int status = run_suite();
    /* A failed assertion ends its test before the test's own clean-up: a fake whose parent
     * was a wrapper script has no death signal to end it. */
    g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
    const char *e;
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *pidfile = g_build_filename(tmpdir, e, "pid", NULL);
        g_autofree char *text = NULL;
        pid_t pid = g_file_get_contents(pidfile, &text, NULL, NULL) ? atoi(text) : 0;
        if (pid > 0 && fake_alive(pid)) {
            fprintf(stderr, "killing the fake left running by a failed test (pid %d)\n", (int)pid);
            kill(pid, SIGKILL);
        }
    }
    rm_rf(tmpdir);
    return status;
}
