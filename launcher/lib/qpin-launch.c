/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the QEMU of run and plan, see qpin-launch.h. */
#include "qpin-launch.h"

#include "qpin-error.h"
#include "qpin-memory.h"
#include "qpin-qemu-argv.h"
#include "qpin-qemu-numa.h"
#include "qpin-qemu-probe.h"
#include "qpin-threads.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
    /* A pidfd says when it ended, whether or not it is qpin's child (yet): no polling. */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 && errno == ESRCH) {
        waitpid(pid, NULL, WNOHANG);
        return;
    }
    kill(pid, SIGTERM);
    gint64 deadline = g_get_monotonic_time() + l->opt->kill_timeout_ms * 1000;
    gboolean ended = FALSE;
    while (pidfd >= 0 && !ended) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            break;
        struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = l->sigfd, .events = POLLIN}};
        int r = poll(p, 2, (int)MIN(left, G_MAXINT));
        if (r < 0 && errno != EINTR)
            break;
        ended = r > 0 && (p[0].revents & POLLIN);
        /* The user signals again: SIGKILL at once, as for the QEMU qpin started. */
        if (r > 0 && (p[1].revents & POLLIN) && qpin_signals_take(l->sigfd))
            break;
    }
    if (!ended) {
        kill(pid, SIGKILL);
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    /* Reparented to qpin (a child subreaper) once the wrapper ended: reap it. */
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
    /* A plan asks QEMU only about the guest's shape: the disks, KVM and host nodes of the
     * machine the plan is made for need not exist here. */
    g_autoptr(GPtrArray) shape =
        probe ? qpin_qemu_argv_probe(l->opt->qemu_argv, s->report->notes) : NULL;
    char *const *user = shape ? (char *const *)shape->pdata : l->opt->qemu_argv;
    g_autoptr(GPtrArray) argv = qpin_qemu_argv_build(user, qmp_fd, error);
    if (!argv)
        return NULL;
    if (s->mirror) {
        g_ptr_array_add(argv, g_strdup("-smp"));
        g_ptr_array_add(argv, g_strdup(s->mirror->smp));
    }
    GError *local = NULL;
    gboolean ok = probe ? qpin_qemu_numa_args_probe(s->numa_nodes, argv, &local)
                        : qpin_qemu_numa_args_host(s->numa_nodes, s->host, argv, &local);
    if (!ok) {
        qpin_error_propagate(error, local, QPIN_ERROR_USAGE);
        return NULL;
    }
    /* The probe asks about vCPUs only: the distances matter on the host the plan is for. */
    if (!probe && !l->opt->numa_dist_off)
        qpin_qemu_numa_dist_args(s->numa_nodes, s->host, argv, s->report->notes);
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

gboolean qpin_launch_start(QpinLaunch *l, const QpinLaunchObserver *observer, int *signo,
                           GError **error)
{
    QpinFlow *s = l->s;
    gboolean plan = l->opt->command == QPIN_COMMAND_PLAN;
    int fds[2];
    if (!qpin_launch_socketpair(fds, error))
        return FALSE;
    /* The argv of the plan and the report is the one `run` would use on that host; a plan
     * starts QEMU only to ask it about the guest, so it allocates nothing. */
    g_autoptr(GPtrArray) argv = qpin_launch_argv(l, fds[1], FALSE, error);
    g_autoptr(GPtrArray) probe = argv && plan ? qpin_launch_argv(l, fds[1], TRUE, error) : NULL;
    if (!argv || (plan && !probe)) {
        close(fds[0]);
        close(fds[1]);
        return FALSE;
    }
    /* Reports and tables show the command line with secret values masked. */
    s->report->qemu_argv = qpin_qemu_argv_mask_secrets((char **)argv->pdata);
    if (probe) {
        g_ptr_array_unref(argv);
        argv = g_steal_pointer(&probe);
    }

    gint64 t0 = l->spawned_us = g_get_monotonic_time();
    l->qemu = qpin_qemu_spawn((char **)argv->pdata, fds[1], error);
    close(fds[1]);
    if (!l->qemu) {
        close(fds[0]);
        return FALSE;
    }
    s->pid = l->qemu->pid;
    s->report->qemu_pid = l->qemu->pid;
    l->qmp_fd = fds[0];
    GError *local = NULL;
    /* The client owns fds[0] from here on, and has closed it when it fails. */
    l->qmp = qmp_client_new_from_fd(fds[0], &local);
    if (!l->qmp) {
        l->qmp_fd = -1;
        qpin_error_propagate(error, local, QPIN_ERROR_QMP);
        return FALSE;
    }
    s->qmp = l->qmp;

    /* QEMU preallocates guest memory before its monitor speaks: show how far it got. */
    guint64 prealloc = plan ? 0 : qpin_memory_prealloc_bytes(s->numa_nodes);
    gpointer progress = prealloc && observer
                            ? observer->begin(QPIN_LAUNCH_PREALLOC, l, prealloc, 0, observer->user)
                            : NULL;
    QpinWaitResult r = qpin_qemu_wait_ready(l->qemu, l->sigfd, l->qmp_fd,
                                            progress ? observer->tick : NULL, progress, 200, signo);
    if (progress) {
        double ms = observer->end(progress);
        if (ms >= 0)
            qpin_report_timing(s->report, "prealloc", ms);
    }
    if (r == QPIN_WAIT_SIGNAL)
        return FALSE;

    /* QEMU greets at once but answers the negotiation only once it has built every vCPU: that
     * wait lasts as long as QEMU is alive, and shows itself on a terminal after a while. */
    gpointer building = observer
                            ? observer->begin(QPIN_LAUNCH_BUILDING, l, 0,
                                              s->mirror ? s->mirror->n_vcpus
                                                        : qpin_launch_smp_vcpus(l->opt->qemu_argv),
                                              observer->user)
                            : NULL;
    l->guard = (QpinWaitGuard){.sigfd = l->sigfd,
                               .qemu = l->qemu,
                               .tick = building ? observer->tick : NULL,
                               .tick_data = building};
    qmp_client_set_wait_hook(l->qmp, l->sigfd, 1000, qpin_wait_guard_hook, &l->guard);
    qmp_client_set_timeout(l->qmp, l->opt->qmp_timeout_ms);
    qmp_client_set_negotiation_timeout(l->qmp, -1);
    gboolean ready = r == QPIN_WAIT_READY && qmp_client_handshake(l->qmp, &local);
    if (building)
        observer->end(building);
    l->guard.tick = NULL;
    if (ready) {
        qpin_report_timing(s->report, "spawn_to_ready", qpin_ms_since(t0));
        return TRUE;
    }
    /* A signal that came while the handshake waited on a hung QEMU ends it: the interruption
     * is what happened, and what is reported. */
    if (l->guard.signo || (*signo = qpin_signals_take(l->sigfd))) {
        if (l->guard.signo)
            *signo = l->guard.signo;
        g_clear_error(&local);
        return FALSE;
    }
    /* The monitor closed or never spoke: most likely QEMU is exiting after an error of its
     * own, which it printed on the stderr it shares with qpin. */
    if (r == QPIN_WAIT_EXITED || l->guard.gone ||
        qpin_qemu_wait_exit(l->qemu, l->sigfd, l->opt->kill_timeout_ms)) {
        g_autofree char *how = qpin_qemu_describe_exit(l->qemu);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QEMU_START,
                    "QEMU %s before its QMP monitor was ready (QEMU's own messages, if any, are "
                    "above)",
                    how);
        g_clear_error(&local);
        return FALSE;
    }
    g_prefix_error(&local, "QMP handshake with QEMU failed: ");
    qpin_error_propagate(error, local, QPIN_ERROR_QMP);
    return FALSE;
}
