/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the QEMU that run and plan start: its command line (with the generated NUMA objects and
 * qpin's private QMP channel on a socketpair), stopping it for good (a QEMU behind a wrapper
 * included), the events it sends while the guest runs, and the question whether someone else
 * resumed the guest. The flow itself, and what it says, is the command line's. */
#pragma once

#include "qpin-options.h"
#include "qpin-process.h"
#include "qpin-session.h"

#include <glib.h>

G_BEGIN_DECLS

/* One run or plan: the options, the session, the signal descriptor, QEMU and its QMP client. */
typedef struct {
    QpinOptions *opt;
    QpinFlow *s;
    int sigfd;
    QpinQemu *qemu;
    QmpClient *qmp;
    int qmp_fd;        /* our end of the socketpair, owned by qmp once it exists */
    gint64 spawned_us; /* just before QEMU was forked */
    QpinWaitGuard guard;
} QpinLaunch;

/* What the caller shows while QEMU starts. begin() is called when a phase starts (preallocation,
 * with the bytes to populate; then building the vCPUs, with their number from -smp) and returns
 * the phase's state; tick() is called on every wake-up of the wait; end() when the phase is over,
 * returning the milliseconds to record as the phase's timing (negative: none). */
typedef enum {
    QPIN_LAUNCH_PREALLOC,
    QPIN_LAUNCH_BUILDING,
} QpinLaunchPhase;

typedef struct {
    gpointer (*begin)(QpinLaunchPhase phase, QpinLaunch *l, guint64 prealloc_bytes, guint vcpus,
                      gpointer user);
    void (*tick)(gpointer state);
    double (*end)(gpointer state);
    gpointer user;
} QpinLaunchObserver;

/* Starts QEMU (paused, on the private QMP socketpair; a plan starts the probe command line) and
 * waits until its monitor answered the negotiation: as long as QEMU is alive, with no deadline,
 * and woken by the signal descriptor. FALSE with *@signo set when a terminating signal ended
 * the wait, else with @error (QPIN_ERROR_QEMU_START, _QMP ...). @observer may be NULL. */
gboolean qpin_launch_start(QpinLaunch *l, const QpinLaunchObserver *observer, int *signo,
                           GError **error);

/* A socketpair whose QEMU end is not one of the standard descriptors. */
gboolean qpin_launch_socketpair(int fds[2], GError **error);

/* The QEMU command line with the guest NUMA objects for the host; with @probe, the stand-in
 * objects a plan starts QEMU with (same guest nodes, nothing allocated, no host binding). */
GPtrArray *qpin_launch_argv(QpinLaunch *l, int qmp_fd, gboolean probe, GError **error);

/* The number of vCPUs -smp asks for, or 0 when unknown: for the progress line only. */
guint qpin_launch_smp_vcpus(char **argv);

/* Ends QEMU for good: QMP quit when the channel still works, SIGTERM otherwise, SIGKILL after
 * the kill timeout; also a QEMU that a wrapper started without exec. Always reaps. */
void qpin_launch_stop(QpinLaunch *l);

/* Drains QEMU's events during supervision (@data is the QmpClient); FALSE to stop watching. */
gboolean qpin_launch_drain_events(gpointer data);

/* Whether a cont that failed with @error went out (@sent commands before it) and QEMU then
 * ended, or a signal ended the wait: the guest counts as started. */
gboolean qpin_launch_cont_taken(QpinLaunch *l, guint sent, const GError *error);

/* Refuses (QPIN_ERROR_RESUMED) a guest that someone else resumed before qpin had pinned it. */
gboolean qpin_launch_check_not_resumed(QpinLaunch *l, GError **error);

G_END_DECLS
