/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — how far QEMU's preallocation of guest memory got: samples of /proc/PID/status and the
 * rate and ETA over the recent ones. Draws nothing: the command line shows it (cli/progress.c). */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Bytes QEMU has populated so far (VmRSS + HugetlbPages of /proc/PID/status), or -1 when the
 * process is gone. Under @proc_root ("/proc" when NULL), for tests. */
gint64 qpin_progress_sample(pid_t pid, const char *proc_root);

/* The preallocation of one QEMU process, measured against the bytes it is to preallocate. */
typedef struct QpinProgress QpinProgress;

typedef struct {
    guint64 done;       /* bytes populated, at most total */
    guint64 total;      /* bytes to preallocate */
    int percent;        /* 0-99: QEMU's own memory counts too, so 100 is never claimed */
    double rate;        /* bytes per second over the last 3 s; 0 until 0.5 s of samples */
    gint64 eta_seconds; /* seconds left at that rate (rounded up), -1 without a rate or when done */
} QpinProgressState;

/* Starts measuring @qemu_pid, which is to preallocate @total_bytes (> 0), from now on. */
QpinProgress *qpin_progress_new(pid_t qemu_pid, guint64 total_bytes);
void qpin_progress_free(QpinProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinProgress, qpin_progress_free)

/* Takes a sample into @state; FALSE (and @state untouched) when the process is gone. */
gboolean qpin_progress_measure(QpinProgress *progress, QpinProgressState *state);

/* Milliseconds since qpin_progress_new(). */
gint64 qpin_progress_elapsed_ms(const QpinProgress *progress);

G_END_DECLS
