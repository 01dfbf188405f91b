/* qpin — spawning and supervising QEMU, see spawn.h. */
#include "spawn.h"

#include "error.h"

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
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_FAILURE, "sigprocmask: %s", g_strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_FAILURE, "signalfd: %s", g_strerror(errno));
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

QpinQemu *qpin_qemu_spawn(char *const *argv, int keep_fd, GError **error)
{
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_QEMU_START, "pipe: %s", g_strerror(errno));
        return NULL;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_QEMU_START, "fork: %s", g_strerror(err));
        return NULL;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* The death signal fires when the forking *thread* exits; qpin forks from its only
         * thread. If qpin died before prctl took effect, the parent is already someone else. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(127);
        if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0)
            goto fail;
        execvp(argv[0], argv);
    fail:;
        int err = errno;
        ssize_t unused = write(errpipe[1], &err, sizeof err);
        (void)unused;
        _exit(127);
    }
    close(errpipe[1]);
    int child_errno = 0;
    ssize_t n;
    do
        n = read(errpipe[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(errpipe[0]);

    QpinQemu *qemu = g_new0(QpinQemu, 1);
    qemu->pid = pid;
    if (n == (ssize_t)sizeof child_errno) {
        qpin_qemu_reap(qemu, TRUE);
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_QEMU_START, "cannot execute %s: %s", argv[0],
                    exec_failure_reason(argv[0], child_errno));
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
            qemu->status = status;
            return TRUE;
        }
        if (r < 0 && errno == ECHILD) {
            /* Not ours any more: nothing to mirror but the fact that it is gone. */
            qemu->reaped = TRUE;
            qemu->status = 0;
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
        if (poll(&p, 1, left) > 0)
            qpin_signals_take(sigfd);
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

int qpin_qemu_supervise(QpinQemu *qemu, int sigfd, int qmp_fd, QpinDrainFunc drain,
                        gpointer drain_data, gint64 kill_timeout_ms)
{
    gint64 deadline = -1;
    while (!qpin_qemu_reap(qemu, FALSE)) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = qmp_fd, .events = POLLIN}};
        int r = poll(p, qmp_fd >= 0 ? 2 : 1, poll_timeout(deadline));
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && deadline >= 0 && now_ms() >= deadline) {
            kill(qemu->pid, SIGKILL);
            break;
        }
        if (r > 0 && (p[0].revents & POLLIN)) {
            struct signalfd_siginfo info;
            while (read(sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
                if (info.ssi_signo == SIGCHLD)
                    continue;
                kill(qemu->pid, (int)info.ssi_signo);
                if (deadline < 0)
                    deadline = now_ms() + kill_timeout_ms;
            }
        }
        if (r > 0 && qmp_fd >= 0 && p[1].revents) {
            if (!drain || !drain(drain_data))
                qmp_fd = -1;
        }
    }
    qpin_qemu_reap(qemu, TRUE);
    return qpin_wait_status_exit_code(qemu->status);
}

int qpin_wait_status_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return QPIN_EXIT_FAILURE;
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
