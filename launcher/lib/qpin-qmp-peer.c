/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qpin-qmp-peer.h"
#include "qpin-error.h"
#include "qpin-threads.h"

#include <errno.h>

void qpin_qmp_peer_free(QpinQmpPeer *peer)
{
    if (!peer)
        return;
    g_free(peer->socket);
    g_free(peer->peer_comm);
    g_free(peer);
}

/* "1234 (systemd)", or "1234" when the comm cannot be read. */
static char *process_text(pid_t pid, const char *comm)
{
    return comm ? g_strdup_printf("%d (%s)", (int)pid, comm) : g_strdup_printf("%d", (int)pid);
}

QpinQmpPeer *qpin_qmp_peer_new(const char *socket, pid_t peer, pid_t pid, const char *proc_root)
{
    QpinQmpPeer *p = g_new0(QpinQmpPeer, 1);
    p->socket = g_strdup(socket);
    p->peer = peer;
    p->peer_comm = qpin_thread_name(peer, peer, proc_root);
    p->pid = pid;
    p->by_pid = pid != peer;
    return p;
}

QpinQmpPeer *qpin_qmp_peer_find(QmpClient *qmp, const char *socket, gint64 pid,
                                const char *proc_root, GError **error)
{
    pid_t peer = qmp_client_peer_pid(qmp, NULL);
    if (peer < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QMP,
                    "%s: cannot tell which process serves the QMP socket (SO_PEERCRED: %s)", socket,
                    g_strerror(errno));
        return NULL;
    }
    if (peer == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "%s: the process serving the QMP socket lives in a PID namespace qpin cannot "
                    "see into; run qpin in QEMU's PID namespace or an ancestor of it",
                    socket);
        return NULL;
    }
    return qpin_qmp_peer_choose(socket, peer, pid, proc_root, error);
}

QpinQmpPeer *qpin_qmp_peer_choose(const char *socket, pid_t peer, gint64 pid, const char *proc_root,
                                  GError **error)
{
    if (pid <= 0 || pid == peer)
        return qpin_qmp_peer_new(socket, peer, peer, proc_root);

    g_autoptr(QpinQmpPeer) p = qpin_qmp_peer_new(socket, peer, (pid_t)pid, proc_root);
    g_autofree char *creator = process_text(peer, p->peer_comm);
    if (pid > G_MAXINT || !qpin_thread_of((pid_t)pid, (pid_t)pid, proc_root)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "--pid %" G_GINT64_FORMAT ": no process %" G_GINT64_FORMAT
                    " exists; the QMP socket %s was created by process %s; nothing was changed",
                    pid, pid, socket, creator);
        return NULL;
    }
    /* Only the creator of a listening socket, or a process it handed the descriptor down to,
     * serves it; any other process QMP could not speak for. A descriptor passed sideways
     * (SCM_RIGHTS to a stranger) is not followed: the creator is then no ancestor. */
    if (!qpin_process_descends_from((pid_t)pid, peer, proc_root)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "--pid %" G_GINT64_FORMAT ": the QMP socket %s was created by process %s, "
                    "the socket's peer, and process %" G_GINT64_FORMAT
                    " is neither that process nor one it started; nothing was changed (give "
                    "--pid of the QEMU that process %d started, or leave --pid out)",
                    pid, socket, creator, pid, (int)peer);
        return NULL;
    }
    return g_steal_pointer(&p);
}

void qpin_qmp_peer_thread_error(const QpinQmpPeer *p, const char *what, gint64 tid,
                                const char *proc_root, GError **error)
{
    g_autofree char *creator = process_text(p->peer, p->peer_comm);
    g_autofree char *whom =
        p->by_pid
            ? g_strdup_printf("process %d (--pid; the QMP socket %s was created by "
                              "process %s)",
                              (int)p->pid, p->socket, creator)
            : g_strdup_printf("process %s, the peer of the QMP socket %s", creator, p->socket);
    pid_t owner = tid > 0 && tid <= G_MAXINT ? qpin_thread_tgid((pid_t)tid, proc_root, NULL) : -1;
    if (owner <= 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "%s: QEMU reports thread %" G_GINT64_FORMAT
                    ", which is no thread of %s (no such thread exists); nothing was changed",
                    what, tid, whom);
        return;
    }
    g_autofree char *owner_comm = qpin_thread_name(owner, owner, proc_root);
    g_autofree char *holder = process_text(owner, owner_comm);
    /* The socket was created by a launcher that handed it down to QEMU: the peer is not QEMU,
     * and only the user can say which process is. */
    if (!p->by_pid && owner != p->peer && qpin_process_descends_from(owner, p->peer, proc_root)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "%s: the QMP socket %s was created by process %s, not by the QEMU whose "
                    "threads QMP names (thread %" G_GINT64_FORMAT " belongs to process %s, "
                    "which process %d started): the socket was handed to QEMU; pass --pid with "
                    "QEMU's pid (--pid %d if that is QEMU); nothing was changed",
                    what, p->socket, creator, tid, holder, (int)p->peer, (int)owner);
        return;
    }
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                "%s: QEMU reports thread %" G_GINT64_FORMAT ", which belongs to process %s, not "
                "to %s; refusing to touch any thread",
                what, tid, holder, whom);
}

char *qpin_qmp_peer_describe(const QpinQmpPeer *p)
{
    if (!p->by_pid)
        return g_strdup_printf("QEMU is process %d, the peer of the QMP socket %s", (int)p->pid,
                               p->socket);
    g_autofree char *creator = process_text(p->peer, p->peer_comm);
    return g_strdup_printf("QEMU is process %d (--pid): process %s created the QMP socket %s "
                           "and process %d descends from it; every vCPU and iothread QMP names "
                           "is a thread of process %d",
                           (int)p->pid, creator, p->socket, (int)p->pid, (int)p->pid);
}
