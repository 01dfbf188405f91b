/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — which process a QMP socket leads to, for the commands that attach to a QEMU they did
 * not start (pin, top). The socket's peer (SO_PEERCRED) is the process that created the
 * listening socket: QEMU itself, or whoever bound it and handed the descriptor down to QEMU
 * (`-chardev socket,fd=N`, systemd socket activation, a supervisor). --pid names QEMU in the
 * second case and is accepted only for a descendant of the peer; either way the proof that
 * counts comes later: every thread id QMP names must be a thread of that process. */
#pragma once

#include <qpin/qmp.h>

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The report note of a pin whose QEMU is --pid, not the socket's peer: which process and why. */
#define QPIN_NOTE_QEMU_PID "qemu-pid"

typedef struct {
    char *socket;    /* the QMP socket's path, for messages */
    pid_t peer;      /* SO_PEERCRED: the process that created the listening socket */
    char *peer_comm; /* its comm, or NULL when unreadable */
    pid_t pid;       /* the process to prove QEMU: the peer, or --pid */
    gboolean by_pid; /* pid is --pid, a descendant of the peer, not the peer itself */
} QpinQmpPeer;

void qpin_qmp_peer_free(QpinQmpPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinQmpPeer, qpin_qmp_peer_free)

/* The process behind the QMP socket @socket of @qmp, read under @proc_root ("/proc" when NULL):
 * the socket's peer when @pid is 0 or the peer's pid; else @pid, only when it descends from the
 * peer (a peer of pid 1, as with systemd, lets every process through: the thread proof
 * decides). Errors are QPIN_ERROR_QMP when the peer cannot be read, QPIN_ERROR_PIN when the
 * peer lives in a PID namespace qpin cannot see into or @pid is refused. */
QpinQmpPeer *qpin_qmp_peer_find(QmpClient *qmp, const char *socket, gint64 pid,
                                const char *proc_root, GError **error);

/* The rule of qpin_qmp_peer_find() for a peer already read: @pid (0: none) is accepted when it
 * is @peer or descends from it. */
QpinQmpPeer *qpin_qmp_peer_choose(const char *socket, pid_t peer, gint64 pid, const char *proc_root,
                                  GError **error);

/* A QpinQmpPeer for a known @peer and @pid (tests, and the commands through
 * qpin_qmp_peer_find()); no check is made. */
QpinQmpPeer *qpin_qmp_peer_new(const char *socket, pid_t peer, pid_t pid, const char *proc_root);

/* Why thread @tid, which QMP names for @what ("vCPU 0", "iothread io0"), is no thread of
 * peer->pid: sets @error (QPIN_ERROR_PIN) naming whose thread it is. When the socket's peer was
 * taken for QEMU but the thread belongs to a process the peer started, the error says that the
 * peer created the socket and to pass --pid of QEMU. */
void qpin_qmp_peer_thread_error(const QpinQmpPeer *peer, const char *what, gint64 tid,
                                const char *proc_root, GError **error);

/* Which process is QEMU and why, once its threads are proven: "process N, the peer of the QMP
 * socket S" or "process N (--pid), started by process P (comm), which created the QMP socket
 * S". */
char *qpin_qmp_peer_describe(const QpinQmpPeer *peer);

G_END_DECLS
