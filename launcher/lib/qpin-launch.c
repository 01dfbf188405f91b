/* qpin — the QEMU of run and plan, see qpin-launch.h. */
#include "qpin-launch.h"

#include "qpin-error.h"
#include "qpin-qemu-argv.h"
#include "qpin-qemu-numa.h"
#include "qpin-threads.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* options.c cannot see qmp.h; the two defaults must agree. */
G_STATIC_ASSERT(QPIN_DEFAULT_QMP_TIMEOUT_MS == QMP_DEFAULT_TIMEOUT_MS);

/* A QEMU that a wrapper started without exec: the quit went to it over QMP; it must not
 * outlive qpin's verdict either. Still a descendant of the process qpin started (qpin is a
 * child subreaper, so it is reparented to qpin when the wrapper ends first). */
static void stop_stray(QpinLaunch *l)
{
    pid_t pid = l->s->stray_pid;
    if (pid <= 0 || !qpin_process_descends_from(pid, getpid(), NULL))
        return;
    kill(pid, SIGTERM);
    gint64 deadline = g_get_monotonic_time() + l->opt->kill_timeout_ms * 1000;
    while (kill(pid, 0) == 0 && g_get_monotonic_time() < deadline) {
        /* A child of qpin by now (reparented): reap it; else wait for its end on the signalfd. */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct pollfd p = {.fd = l->sigfd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            qpin_signals_take(l->sigfd);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, WNOHANG);
}

/* Ends QEMU for good: QMP quit when the channel still works, SIGTERM otherwise, SIGKILL after
 * the kill timeout. Always reaps. */
void qpin_launch_stop(QpinLaunch *l)
{
    if (!l->qemu || l->qemu->reaped)
        return;
    gboolean quit = FALSE;
    /* Before the negotiation QEMU would not take the quit (and may not be reading yet). */
    if (l->qmp && qmp_client_greeting(l->qmp) && !qmp_client_is_broken(l->qmp)) {
        qmp_client_set_timeout(l->qmp, MIN(l->opt->kill_timeout_ms, l->opt->qmp_timeout_ms));
        quit = qmp_quit(l->qmp, NULL);
    }
    qpin_qemu_stop(l->qemu, l->sigfd, !quit, l->opt->kill_timeout_ms);
    stop_stray(l);
}

/* A socketpair whose QEMU end is not one of the standard descriptors, whatever qpin was
 * started with: a closed stdin would otherwise hand QEMU its QMP channel as fd 0. */
gboolean qpin_launch_socketpair(int fds[2], GError **error)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "socketpair: %s", g_strerror(errno));
        return FALSE;
    }
    if (fds[1] < 3) {
        int moved = fcntl(fds[1], F_DUPFD_CLOEXEC, 3);
        if (moved < 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START, "fcntl: %s", g_strerror(errno));
            close(fds[0]);
            close(fds[1]);
            return FALSE;
        }
        close(fds[1]);
        fds[1] = moved;
    }
    return TRUE;
}

gboolean qpin_launch_drain_events(gpointer data)
{
    QmpClient *qmp = data;
    for (;;) {
        GError *error = NULL;
        QmpEvent *event = qmp_client_wait_event(qmp, NULL, 0, &error);
        if (event) {
            qmp_event_free(event);
            continue;
        }
        gboolean timeout = g_error_matches(error, QMP_ERROR, QMP_ERROR_TIMEOUT);
        g_error_free(error);
        return timeout;
    }
}

/* Whether a cont that failed with @error went out (@sent commands before it) and QEMU then
 * ended, or the user signalled qpin while it waited for the reply: QEMU most likely resumed
 * the guest (and ended right away). From there on qpin behaves as for any started guest: it
 * mirrors QEMU's status, and a signal that ended the wait goes to QEMU through supervision. */
gboolean qpin_launch_cont_taken(QpinLaunch *l, guint sent, const GError *error)
{
    if (qmp_client_commands_sent(l->qmp) <= sent || error->domain != QMP_ERROR)
        return FALSE;
    if (error->code == QMP_ERROR_INTERRUPTED) {
        /* Blocked, so pending again: supervision forwards it, with the kill timeout. */
        if (l->guard.signo)
            raise(l->guard.signo);
        return l->guard.signo || l->guard.gone;
    }
    return error->code == QMP_ERROR_CLOSED || error->code == QMP_ERROR_IO;
}

/* The QEMU command line with the guest NUMA objects for @host; with @probe, the stand-in
 * objects a plan starts QEMU with (same guest nodes, nothing allocated, no host binding). */
GPtrArray *qpin_launch_argv(QpinLaunch *l, int qmp_fd, gboolean probe, GError **error)
{
    QpinFlow *s = l->s;
    g_autoptr(GPtrArray) argv = qpin_qemu_argv_build(l->opt->qemu_argv, qmp_fd, error);
    if (!argv)
        return NULL;
    GError *local = NULL;
    gboolean ok = probe ? qpin_qemu_numa_args_probe(s->numa_nodes, argv, &local)
                        : qpin_qemu_numa_args_host(s->numa_nodes, s->host, argv, &local);
    if (!ok) {
        qpin_error_propagate(error, local, QPIN_ERROR_USAGE);
        return NULL;
    }
    return g_steal_pointer(&argv);
}

/* The number of vCPUs -smp asks for (its leading number or cpus=N, else the product of the
 * topology it names), or 0 when unknown: for the progress line only. */
guint qpin_launch_smp_vcpus(char **argv)
{
    int i = qpin_qemu_argv_find(argv, "smp");
    if (i < 0 || !argv[i + 1])
        return 1;
    g_auto(GStrv) items = g_strsplit(argv[i + 1], ",", -1);
    guint64 product = 1, v;
    gboolean topology = FALSE;
    for (int k = 0; items[k]; k++) {
        const char *eq = strchr(items[k], '=');
        const char *value = eq ? eq + 1 : items[k];
        if (!g_ascii_string_to_unsigned(value, 10, 1, 1u << 20, &v, NULL))
            continue;
        if (!eq || g_str_has_prefix(items[k], "cpus="))
            return (guint)v;
        if (!g_str_has_prefix(items[k], "maxcpus=")) {
            product = MIN(product * v, 1u << 20);
            topology = TRUE;
        }
    }
    return topology ? (guint)product : 0;
}

/* Refuses to resume a guest that someone else resumed before qpin had pinned it. */
gboolean qpin_launch_check_not_resumed(QpinLaunch *l, GError **error)
{
    gboolean resumed = FALSE;
    if (!qpin_flow_resumed_behind(l->s, &resumed, error))
        return FALSE;
    if (resumed) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_RESUMED,
                    "the guest was resumed by someone else (a cont on another monitor or QMP "
                    "client) before qpin had pinned it, so it ran unpinned; qpin stops it. Leave "
                    "the guest paused until qpin resumes it");
        return FALSE;
    }
    return TRUE;
}
