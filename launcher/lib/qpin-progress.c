/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — preallocation progress, see qpin-progress.h. Owns the measure and the rate; the
 * terminal line is the command line's (cli/progress.c).
 *
 * While QEMU preallocates guest memory it does not answer on QMP, so the time between spawn and
 * the QMP greeting is the preallocation. The measure is QEMU's populated memory as the kernel
 * accounts it in /proc/PID/status: VmRSS (anonymous, file and shmem pages, so ram and memfd
 * backends) plus HugetlbPages (hugetlb pages are not part of RSS). It includes QEMU's own few
 * dozen MiB, which is why the percentage stops at 99. The rate is taken over the last three
 * seconds, so it follows the preallocation threads and not QEMU's start. */
#include "qpin-progress.h"
#include "qpin-threads.h"

#include <string.h>

#define PROGRESS_SAMPLES   64
#define PROGRESS_WINDOW_US (3 * G_USEC_PER_SEC)

struct QpinProgress {
    pid_t pid;
    guint64 total;
    gint64 start_us;
    /* Recent samples, oldest first, for the rate over the last PROGRESS_WINDOW_US. */
    gint64 sample_us[PROGRESS_SAMPLES];
    gint64 sample_bytes[PROGRESS_SAMPLES];
    int n_samples;
};

QpinProgress *qpin_progress_new(pid_t qemu_pid, guint64 total_bytes)
{
    QpinProgress *progress = g_new0(QpinProgress, 1);
    progress->pid = qemu_pid;
    progress->total = total_bytes;
    progress->start_us = g_get_monotonic_time();
    return progress;
}

void qpin_progress_free(QpinProgress *progress)
{
    g_free(progress);
}

gint64 qpin_progress_elapsed_ms(const QpinProgress *progress)
{
    return (g_get_monotonic_time() - progress->start_us) / 1000;
}

gint64 qpin_progress_sample(pid_t pid, const char *proc_root)
{
    g_autofree char *text = qpin_proc_status_read(pid, proc_root, NULL);
    guint64 rss, huge = 0;
    /* A zombie has no VmRSS line: the memory is gone. */
    if (!text || !qpin_proc_status_value(text, "VmRSS", &rss))
        return -1;
    qpin_proc_status_value(text, "HugetlbPages", &huge);
    return (gint64)((rss + huge) * 1024);
}

/* Bytes per second over the recent samples; 0 until there is half a second of them. */
static double progress_rate(QpinProgress *progress, gint64 now, gint64 bytes)
{
    while (progress->n_samples > 1 && now - progress->sample_us[1] >= PROGRESS_WINDOW_US) {
        memmove(progress->sample_us, progress->sample_us + 1,
                (size_t)(progress->n_samples - 1) * sizeof(gint64));
        memmove(progress->sample_bytes, progress->sample_bytes + 1,
                (size_t)(progress->n_samples - 1) * sizeof(gint64));
        progress->n_samples--;
    }
    if (progress->n_samples == PROGRESS_SAMPLES) {
        memmove(progress->sample_us, progress->sample_us + 1,
                (PROGRESS_SAMPLES - 1) * sizeof(gint64));
        memmove(progress->sample_bytes, progress->sample_bytes + 1,
                (PROGRESS_SAMPLES - 1) * sizeof(gint64));
        progress->n_samples--;
    }
    progress->sample_us[progress->n_samples] = now;
    progress->sample_bytes[progress->n_samples] = bytes;
    progress->n_samples++;

    double seconds = (double)(now - progress->sample_us[0]) / G_USEC_PER_SEC;
    gint64 grown = bytes - progress->sample_bytes[0];
    return seconds >= 0.5 && grown > 0 ? (double)grown / seconds : 0;
}

gboolean qpin_progress_measure(QpinProgress *progress, QpinProgressState *state)
{
    gint64 now = g_get_monotonic_time();
    gint64 bytes = qpin_progress_sample(progress->pid, NULL);
    if (bytes < 0)
        return FALSE;

    guint64 done = MIN((guint64)bytes, progress->total);
    int percent = progress->total ? (int)(done * 100 / progress->total) : 0;
    double rate = progress_rate(progress, now, bytes);
    *state = (QpinProgressState){
        .done = done,
        .total = progress->total,
        .percent = MIN(percent, 99),
        .rate = rate,
        .eta_seconds = rate > 0 && done < progress->total
                           ? (gint64)((double)(progress->total - done) / rate) + 1
                           : -1,
    };
    return TRUE;
}
