/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — starting QEMU without a shell and supervising it: PR_SET_PDEATHSIG so that QEMU never
 * outlives qpin, signals taken through a signalfd, QEMU's exit status mirrored. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
    pid_t pid;
    gboolean reaped;
    gboolean status_known; /* FALSE when the process vanished without a wait status (ECHILD) */
    int status;            /* the wait status, once reaped and known */
} QpinQemu;

/* Blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD and returns a close-on-exec signalfd that
 * receives them; restores SIGCHLD's default disposition (an inherited SIG_IGN would make the
 * kernel reap QEMU behind qpin's back) and ignores SIGPIPE. Call before spawning. */
int qpin_signals_setup(GError **error);

/* Reads the pending signals of @sigfd without blocking; returns the last terminating signal
 * (SIGINT, SIGTERM, SIGHUP) among them, or 0. SIGCHLD is consumed: callers reap with
 * qpin_qemu_reap(). */
int qpin_signals_take(int sigfd);

/* The program @name resolves to: @name itself when it holds a '/', else the first executable
 * regular file of that name in $PATH (the default search path when PATH is unset), as execvp
 * would find it, but without execvp's /bin/sh fallback. Errors are QPIN_ERROR_QEMU_START. */
char *qpin_program_find(const char *name, GError **error);

/* Forks and executes @argv with execve after qpin_program_find() (no shell, ever: a file that
 * the kernel cannot execute, ENOEXEC, is an error). In the child every signal is unblocked,
 * PR_SET_PDEATHSIG is SIGKILL and, should qpin have died before that took effect, the child
 * exits; @keep_fd (or -1) is the only descriptor of qpin's own that QEMU inherits (its
 * close-on-exec flag is cleared in the child only). A failing exec or child set-up is
 * reported here (QPIN_ERROR_QEMU_START), not as a mysterious exit status later. */
QpinQemu *qpin_qemu_spawn(char *const *argv, int keep_fd, GError **error);
void qpin_qemu_free(QpinQemu *qemu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinQemu, qpin_qemu_free)

/* Reaps QEMU if it has exited (waits for it when @block). Never waits for any other child.
 * Returns whether QEMU is reaped. */
gboolean qpin_qemu_reap(QpinQemu *qemu, gboolean block);

typedef enum {
    QPIN_WAIT_READY,  /* @fd became readable (or hung up) */
    QPIN_WAIT_EXITED, /* QEMU exited (and is reaped) */
    QPIN_WAIT_SIGNAL, /* qpin got SIGINT, SIGTERM or SIGHUP (in *@signo) */
} QpinWaitResult;

/* Waits, without a deadline, until @fd is readable, QEMU exits or a terminating signal
 * arrives; calls @tick every @tick_ms meanwhile when @tick is not NULL. */
QpinWaitResult qpin_qemu_wait_ready(QpinQemu *qemu, int sigfd, int fd, void (*tick)(gpointer),
                                    gpointer tick_data, gint64 tick_ms, int *signo);

/* Waits up to @timeout_ms for QEMU to exit; returns whether it is reaped. A terminating
 * signal that arrives meanwhile ends the wait at once (FALSE). */
gboolean qpin_qemu_wait_exit(QpinQemu *qemu, int sigfd, gint64 timeout_ms);

/* Makes sure QEMU is gone: SIGTERM when @send_term, up to @timeout_ms for it to exit, then
 * SIGKILL (at once when the user signals qpin again meanwhile); always reaped on return. */
void qpin_qemu_stop(QpinQemu *qemu, int sigfd, gboolean send_term, gint64 timeout_ms);

/* Called when the QMP descriptor is readable during supervision; returns FALSE to stop
 * watching it. */
typedef gboolean (*QpinDrainFunc)(gpointer data);

/* Supervises the running guest until QEMU exits: SIGINT, SIGTERM and SIGHUP are forwarded;
 * @kill_timeout_ms after the first of them QEMU gets SIGKILL. @qmp_fd (or -1) is watched and
 * @drain called so that QEMU's events never pile up. Returns the status that mirrors QEMU's:
 * its own, or 128+N when QEMU died of signal N; -1 when its status is unknown. */
int qpin_qemu_supervise(QpinQemu *qemu, int sigfd, int qmp_fd, QpinDrainFunc drain,
                        gpointer drain_data, gint64 kill_timeout_ms);

/* What may end a wait on QEMU's QMP monitor besides the reply: a terminating signal on
 * @sigfd, the end of the QEMU qpin started (@qemu) or of the QEMU it attached to (@peer).
 * Used as the QMP client's wait hook (qpin_wait_guard_hook) so that no QMP wait outlives
 * QEMU or ignores the user; @tick (may be NULL) is called on every wake-up, for progress. */
typedef struct {
    int sigfd;
    QpinQemu *qemu;
    pid_t peer;
    void (*tick)(gpointer data);
    gpointer tick_data;
    int signo;     /* set when a terminating signal ended the wait */
    gboolean gone; /* set when QEMU ended during the wait */
} QpinWaitGuard;

/* The hook: FALSE (end the wait) once a terminating signal arrived or QEMU is gone. */
gboolean qpin_wait_guard_hook(gpointer data);

/* Exit status mirroring QEMU's wait status (128+N for signal N); -1 when the status is
 * unknown. */
int qpin_qemu_exit_code(const QpinQemu *qemu);
/* "exited with status 1", "was killed by signal 9 (Killed)", or that the status is unknown. */
char *qpin_qemu_describe_exit(const QpinQemu *qemu);

/* Exit status mirroring wait status @status (128+N for signal N). */
int qpin_wait_status_exit_code(int status);
/* "exited with status 1", "was killed by signal 9 (Killed)". */
char *qpin_wait_status_describe(int status);

G_END_DECLS
