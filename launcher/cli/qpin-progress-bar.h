/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the preallocation progress line on a terminal ("qpin: prealloc [###...] 48% ..."),
 * drawn from the measure of the library (qpin-progress.h). */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* QEMU's populated memory against @total_bytes, rate and ETA, on @fd. Draws nothing when @fd is
 * not a terminal (or -1) or there is nothing to preallocate. */
typedef struct QpinProgressBar QpinProgressBar;
QpinProgressBar *qpin_progress_bar_new(pid_t qemu_pid, guint64 total_bytes, int fd);
/* Redraws (call periodically, e.g. every 200 ms while waiting for the QMP greeting; at most
 * every 100 ms is drawn). Harmless after QEMU exited: the line is left as it was. */
void qpin_progress_bar_update(QpinProgressBar *bar);
/* Clears the line; returns the elapsed milliseconds. Frees @bar. */
gint64 qpin_progress_bar_finish(QpinProgressBar *bar);

G_END_DECLS
