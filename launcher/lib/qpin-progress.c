/* qpin — preallocation progress, see numa.h.
 *
 * While QEMU preallocates guest memory it does not answer on QMP, so the time between spawn and
 * the QMP greeting is the preallocation. The measure is QEMU's populated memory as the kernel
 * accounts it in /proc/PID/status: VmRSS (anonymous, file and shmem pages, so ram and memfd
 * backends) plus HugetlbPages (hugetlb pages are not part of RSS). It includes QEMU's own few
 * dozen MiB, which is why the bar stops at 99% until qpin_progress_finish(). The rate is taken
 * over the last three seconds, so it follows the preallocation threads and not QEMU's start. */
#include "qpin-numa.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_SAMPLES   64
#define PROGRESS_WINDOW_US (3 * G_USEC_PER_SEC)

struct QpinProgress {
    pid_t pid;
    guint64 total;
    int fd;
    gboolean tty;
    gboolean drawn;
    gint64 start_us;
    gint64 last_draw_us;
    /* Recent samples, oldest first, for the rate over the last PROGRESS_WINDOW_US. */
    gint64 sample_us[PROGRESS_SAMPLES];
    gint64 sample_bytes[PROGRESS_SAMPLES];
    int n_samples;
};

QpinProgress *qpin_progress_new(pid_t qemu_pid, guint64 total_bytes, int fd)
{
    QpinProgress *progress = g_new0(QpinProgress, 1);
    progress->pid = qemu_pid;
    progress->total = total_bytes;
    progress->fd = fd;
    progress->tty = fd >= 0 && total_bytes > 0 && isatty(fd);
    progress->start_us = g_get_monotonic_time();
    return progress;
}

static gint64 status_kib(const char *text, const char *key)
{
    const char *line = text;
    size_t len = strlen(key);
    while (line && *line) {
        if (strncmp(line, key, len) == 0 && line[len] == ':')
            return (gint64)g_ascii_strtoull(line + len + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

gint64 qpin_progress_sample(pid_t pid, const char *proc_root)
{
    g_autofree char *pid_text = g_strdup_printf("%d", (int)pid);
    g_autofree char *path =
        g_build_filename(proc_root ? proc_root : "/proc", pid_text, "status", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    gint64 rss = status_kib(text, "VmRSS");
    /* A zombie has no VmRSS line: the memory is gone. */
    if (rss < 0)
        return -1;
    gint64 huge = status_kib(text, "HugetlbPages");
    return (rss + (huge > 0 ? huge : 0)) * 1024;
}

static void progress_write(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

static int progress_columns(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

/* "38.6/80.0 GiB": @done in the unit of @total. */
static char *progress_amount(guint64 done, guint64 total)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double scale = 1024;
    size_t unit = 0;
    while ((double)total / scale >= 1024 * 0.9995 && unit + 1 < G_N_ELEMENTS(units)) {
        scale *= 1024;
        unit++;
    }
    return g_strdup_printf("%.1f/%.1f %s", (double)done / scale, (double)total / scale,
                           units[unit]);
}

/* "1:05:03", "4:10", "0:07". */
static char *progress_duration(gint64 seconds)
{
    if (seconds >= 3600)
        return g_strdup_printf("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                               (int)(seconds / 60 % 60), (int)(seconds % 60));
    return g_strdup_printf("%d:%02d", (int)(seconds / 60), (int)(seconds % 60));
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

void qpin_progress_update(QpinProgress *progress)
{
    if (!progress || !progress->tty)
        return;
    gint64 now = g_get_monotonic_time();
    if (progress->drawn && now - progress->last_draw_us < 100 * 1000)
        return;
    gint64 bytes = qpin_progress_sample(progress->pid, NULL);
    if (bytes < 0)
        return;

    guint64 done = MIN((guint64)bytes, progress->total);
    int percent = (int)(done * 100 / progress->total);
    if (percent > 99)
        percent = 99;
    double rate = progress_rate(progress, now, bytes);

    /* Fixed-width fields keep the bar from jumping as the numbers change. */
    g_autofree char *amount = progress_amount(done, progress->total);
    g_autoptr(GString) tail = g_string_new(NULL);
    g_string_append_printf(tail, " %3d%% %15s", percent, amount);
    if (rate > 0 && done < progress->total) {
        g_autofree char *rate_text = qpin_numa_human_size((guint64)rate);
        g_autofree char *eta =
            progress_duration((gint64)((double)(progress->total - done) / rate) + 1);
        g_string_append_printf(tail, "  %10s/s  ETA %s", rate_text, eta);
    }

    const char *label = "qpin: prealloc ";
    int budget = (int)strlen(" 100% 1023.9/1023.9 GiB  1023.9 MiB/s  ETA 10:00:00");
    int width = progress_columns(progress->fd) - 1 - (int)strlen(label) - budget - 2;
    if (width > 40)
        width = 40;
    g_autoptr(GString) line = g_string_new("\r");
    g_string_append(line, label);
    if (width >= 10) {
        int filled = width * percent / 100;
        g_string_append_c(line, '[');
        for (int i = 0; i < width; i++)
            g_string_append_c(line, i < filled ? '#' : '.');
        g_string_append_c(line, ']');
    }
    g_string_append(line, tail->str);
    g_string_append(line, "\033[K");
    progress_write(progress->fd, line->str, line->len);
    progress->drawn = TRUE;
    progress->last_draw_us = now;
}

gint64 qpin_progress_finish(QpinProgress *progress)
{
    if (!progress)
        return 0;
    gint64 ms = (g_get_monotonic_time() - progress->start_us) / 1000;
    if (progress->drawn)
        progress_write(progress->fd, "\r\033[K", 4);
    g_free(progress);
    return ms;
}
