/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — spawning and supervising QEMU, see qpin-process.h. */
#include "qpin-process.h"

#include "qpin-error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void terminating_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGCHLD);
}

int qpin_signals_setup(GError **error)
{
    sigset_t set;
    terminating_signals(&set);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "sigprocmask: %s", g_strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "signalfd: %s", g_strerror(errno));
        return -1;
    }
    return fd;
}

int qpin_signals_take(int sigfd)
{
    int last = 0;
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(sigfd, &info, sizeof info);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof info)
            break;
        if (info.ssi_signo != SIGCHLD)
            last = (int)info.ssi_signo;
    }
    return last;
}

/* execve says EACCES both for a directory and for a file without execute permission: name
 * which, since "Permission denied" alone sends people after their user rights. */
static const char *exec_failure_reason(const char *path, int err)
{
    struct stat st;
    if (err != EACCES || !strchr(path, '/') || stat(path, &st) < 0)
        return g_strerror(err);
    if (S_ISDIR(st.st_mode))
        return "it is a directory, not an executable (give the QEMU binary, e.g. "
               "qemu-system-x86_64)";
    if (S_ISREG(st.st_mode) && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
        return "the file is not executable (no execute permission: chmod +x)";
    return g_strerror(err);
}

/* Whether @path names a regular file qpin may execute. */
static gboolean executable_file(const char *path, int *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        *err = errno;
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
        return FALSE;
    }
    if (access(path, X_OK) < 0) {
        *err = errno;
        return FALSE;
    }
    return TRUE;
}

char *qpin_program_find(const char *name, GError **error)
{
    if (!name || !*name) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "no program to execute");
        return NULL;
    }
    if (strchr(name, '/'))
        return g_strdup(name);
    const char *path = g_getenv("PATH");
    /* The search path execvp uses when PATH is unset, without the current directory. */
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    g_auto(GStrv) dirs = g_strsplit(path, ":", -1);
    int first_err = ENOENT;
    for (int i = 0; dirs[i]; i++) {
        /* An empty entry means the current directory, as for execvp. */
        g_autofree char *candidate = g_build_filename(*dirs[i] ? dirs[i] : ".", name, NULL);
        int err = 0;
        if (executable_file(candidate, &err))
            return g_steal_pointer(&candidate);
        /* execvp reports EACCES when a file of that name exists but cannot be executed. */
        if (err == EACCES && first_err == ENOENT)
            first_err = EACCES;
    }
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "cannot execute %s: %s", name,
                first_err == ENOENT ? "no such program in PATH"
                                    : "found in PATH, but not executable (no execute permission)");
    return NULL;
}

/* What a failing child reports through the error pipe: which step failed, and errno. */
typedef struct {
    int step;
    int err;
} ChildFailure;

enum { CHILD_EXEC, CHILD_PDEATHSIG, CHILD_KEEP_FD };

static char *child_failure_message(const char *program, const char *path, const ChildFailure *f)
{
    switch (f->step) {
    case CHILD_PDEATHSIG:
        return g_strdup_printf("cannot start %s: prctl(PR_SET_PDEATHSIG) failed in the child: %s",
                               program, g_strerror(f->err));
    case CHILD_KEEP_FD:
        return g_strdup_printf("cannot start %s: cannot pass the QMP descriptor: %s", program,
                               g_strerror(f->err));
    }
    if (f->err == ENOEXEC)
        return g_strdup_printf("cannot execute %s: not an executable: add a #! line or name "
                               "the real binary (qpin never runs a program through a shell)",
                               path);
    return g_strdup_printf("cannot execute %s: %s", path, exec_failure_reason(path, f->err));
}

QpinQemu *qpin_qemu_spawn(char *const *argv, int keep_fd, GError **error)
{
    g_autofree char *path = qpin_program_find(argv[0], error);
    if (!path)
        return NULL;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "pipe: %s", g_strerror(errno));
        return NULL;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "fork: %s", g_strerror(err));
        return NULL;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        ChildFailure f = {CHILD_EXEC, 0};
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* The death signal fires when the forking *thread* exits; qpin forks from its only
         * thread. If qpin died before prctl took effect, the parent is already someone else
         * and nobody reads the error pipe. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
            f = (ChildFailure){CHILD_PDEATHSIG, errno};
            goto fail;
        }
        if (getppid() != parent)
            _exit(127);
        if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0) {
            f = (ChildFailure){CHILD_KEEP_FD, errno};
            goto fail;
        }
        /* execve, not execvp: no /bin/sh fallback for a file without #!. */
        execve(path, argv, environ);
        f.err = errno;
    fail:;
        ssize_t unused = write(errpipe[1], &f, sizeof f);
        (void)unused;
        _exit(127);
    }
    close(errpipe[1]);
    ChildFailure f;
    ssize_t n;
    do
        n = read(errpipe[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    close(errpipe[0]);

    QpinQemu *qemu = g_new0(QpinQemu, 1);
    qemu->pid = pid;
    if (n == (ssize_t)sizeof f) {
        qpin_qemu_reap(qemu, TRUE);
        g_autofree char *message = child_failure_message(argv[0], path, &f);
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, message);
        g_free(qemu);
        return NULL;
    }
    return qemu;
}

void qpin_qemu_free(QpinQemu *qemu)
{
    g_free(qemu);
}

gboolean qpin_qemu_reap(QpinQemu *qemu, gboolean block)
{
    if (qemu->reaped)
        return TRUE;
    for (;;) {
        int status;
        pid_t r = waitpid(qemu->pid, &status, block ? 0 : WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == qemu->pid) {
            qemu->reaped = TRUE;
            qemu->status_known = TRUE;
            qemu->status = status;
            return TRUE;
        }
        if (r < 0 && errno == ECHILD) {
            /* Not ours any more (reaped behind qpin's back): it is gone, but its status is
             * unknown, which must never read as success. */
            qemu->reaped = TRUE;
            qemu->status_known = FALSE;
            return TRUE;
        }
        return FALSE;
    }
}

static gint64 now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static int poll_timeout(gint64 deadline)
{
    if (deadline < 0)
        return -1;
    gint64 left = deadline - now_ms();
    return left < 0 ? 0 : (int)MIN(left, G_MAXINT);
}

QpinWaitResult qpin_qemu_wait_ready(QpinQemu *qemu, int sigfd, int fd, void (*tick)(gpointer),
                                    gpointer tick_data, gint64 tick_ms, int *signo)
{
    *signo = 0;
    for (;;) {
        if (qpin_qemu_reap(qemu, FALSE))
            return QPIN_WAIT_EXITED;
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
        int r = poll(p, 2, tick ? (int)tick_ms : -1);
        if (r < 0 && errno != EINTR)
            return QPIN_WAIT_READY; /* let the QMP handshake report the problem */
        if (r > 0 && (p[0].revents & POLLIN)) {
            int sig = qpin_signals_take(sigfd);
            if (sig) {
                *signo = sig;
                return QPIN_WAIT_SIGNAL;
            }
            continue;
        }
        if (r > 0 && p[1].revents)
            return QPIN_WAIT_READY;
        if (tick)
            tick(tick_data);
    }
}

gboolean qpin_qemu_wait_exit(QpinQemu *qemu, int sigfd, gint64 timeout_ms)
{
    gint64 deadline = now_ms() + timeout_ms;
    for (;;) {
        if (qpin_qemu_reap(qemu, FALSE))
            return TRUE;
        int left = poll_timeout(deadline);
        if (left == 0)
            return FALSE;
        struct pollfd p = {.fd = sigfd, .events = POLLIN};
        int r = poll(&p, sigfd >= 0 ? 1 : 0, MIN(left, 1000));
        if (r > 0 && qpin_signals_take(sigfd))
            return qpin_qemu_reap(qemu, FALSE);
    }
}

void qpin_qemu_stop(QpinQemu *qemu, int sigfd, gboolean send_term, gint64 timeout_ms)
{
    if (qpin_qemu_reap(qemu, FALSE))
        return;
    if (send_term)
        kill(qemu->pid, SIGTERM);
    if (qpin_qemu_wait_exit(qemu, sigfd, timeout_ms))
        return;
    kill(qemu->pid, SIGKILL);
    qpin_qemu_reap(qemu, TRUE);
}

/* Forwards terminating signal @signo to QEMU; the first one starts the kill timeout. */
static void forward_signal(QpinQemu *qemu, int signo, gint64 *deadline, gint64 kill_timeout_ms)
{
    kill(qemu->pid, signo);
    if (*deadline < 0)
        *deadline = now_ms() + kill_timeout_ms;
}

int qpin_qemu_supervise(QpinQemu *qemu, int sigfd, int qmp_fd, QpinDrainFunc drain,
                        gpointer drain_data, gint64 kill_timeout_ms)
{
    gint64 deadline = -1;
    while (!qpin_qemu_reap(qemu, FALSE)) {
        if (deadline >= 0 && now_ms() >= deadline) {
            kill(qemu->pid, SIGKILL);
            break;
        }
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = qmp_fd, .events = POLLIN}};
        int r = poll(p, qmp_fd >= 0 ? 2 : 1, poll_timeout(deadline));
        if (r < 0 && errno != EINTR) {
            /* poll itself failed (ENOMEM): keep forwarding signals and the kill-timeout
             * escalation by waiting for the signals directly, a second at a time. */
            sigset_t set;
            terminating_signals(&set);
            int left = poll_timeout(deadline);
            struct timespec ts = {.tv_sec = left < 0 || left > 1000 ? 1 : 0,
                                  .tv_nsec = left >= 0 && left < 1000 ? left * 1000000L : 0};
            int signo = sigtimedwait(&set, NULL, &ts);
            if (signo > 0 && signo != SIGCHLD)
                forward_signal(qemu, signo, &deadline, kill_timeout_ms);
            continue;
        }
        if (r > 0 && (p[0].revents & POLLIN)) {
            struct signalfd_siginfo info;
            while (read(sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo == SIGCHLD)
                    continue;
                forward_signal(qemu, (int)info.ssi_signo, &deadline, kill_timeout_ms);
            }
        }
        if (r > 0 && qmp_fd >= 0 && p[1].revents) {
            if (!drain || !drain(drain_data))
                qmp_fd = -1;
        }
    }
    qpin_qemu_reap(qemu, TRUE);
    return qpin_qemu_exit_code(qemu);
}

gboolean qpin_wait_guard_hook(gpointer data)
{
    QpinWaitGuard *g = data;
    int signo = g->sigfd >= 0 ? qpin_signals_take(g->sigfd) : 0;
    if (signo) {
        g->signo = signo;
        return FALSE;
    }
    if (g->qemu && qpin_qemu_reap(g->qemu, FALSE))
        g->gone = TRUE;
    if (g->peer > 0 && kill(g->peer, 0) < 0 && errno == ESRCH)
        g->gone = TRUE;
    if (g->gone)
        return FALSE;
    if (g->tick)
        g->tick(g->tick_data);
    return TRUE;
}

int qpin_qemu_exit_code(const QpinQemu *qemu)
{
    if (!qemu->reaped || !qemu->status_known)
        return -1;
    return qpin_wait_status_exit_code(qemu->status);
}

char *qpin_qemu_describe_exit(const QpinQemu *qemu)
{
    if (!qemu->reaped)
        return g_strdup("is still running");
    if (!qemu->status_known)
        return g_strdup("ended, but its exit status could not be collected (it was reaped "
                        "elsewhere)");
    return qpin_wait_status_describe(qemu->status);
}

int qpin_wait_status_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

char *qpin_wait_status_describe(int status)
{
    if (WIFEXITED(status))
        return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return g_strdup_printf("was killed by signal %d (%s)", WTERMSIG(status),
                               strsignal(WTERMSIG(status)));
    return g_strdup_printf("ended with wait status 0x%x", status);
}
