/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the preallocation progress line, see qpin-progress-bar.h. Owns the drawing only: the
 * measure, rate and ETA come from the library (lib/qpin-progress.c). */
#include "qpin-progress-bar.h"

#include "qpin-progress.h"
#include "qpin-size.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct QpinProgressBar {
    QpinProgress *progress;
    int fd;
    gboolean tty;
    gboolean drawn;
    gint64 last_draw_us;
};

QpinProgressBar *qpin_progress_bar_new(pid_t qemu_pid, guint64 total_bytes, int fd)
{
    QpinProgressBar *bar = g_new0(QpinProgressBar, 1);
    bar->progress = qpin_progress_new(qemu_pid, total_bytes);
    bar->fd = fd;
    bar->tty = fd >= 0 && total_bytes > 0 && isatty(fd);
    return bar;
}

static void bar_write(int fd, const char *text, size_t len)
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

static int bar_columns(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

/* "38.6/80.0 GiB": @done in the unit of @total. */
static char *bar_amount(guint64 done, guint64 total)
{
    guint64 unit_bytes = 0;
    const char *unit = qpin_size_human_unit(total, &unit_bytes);
    return g_strdup_printf("%.1f/%.1f %s", (double)done / (double)unit_bytes,
                           (double)total / (double)unit_bytes, unit);
}

/* "1:05:03", "4:10", "0:07". */
static char *bar_duration(gint64 seconds)
{
    if (seconds >= 3600)
        return g_strdup_printf("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                               (int)(seconds / 60 % 60), (int)(seconds % 60));
    return g_strdup_printf("%d:%02d", (int)(seconds / 60), (int)(seconds % 60));
}

void qpin_progress_bar_update(QpinProgressBar *bar)
{
    if (!bar || !bar->tty)
        return;
    gint64 now = g_get_monotonic_time();
    if (bar->drawn && now - bar->last_draw_us < 100 * 1000)
        return;
    QpinProgressState st;
    if (!qpin_progress_measure(bar->progress, &st))
        return;

    /* Fixed-width fields keep the bar from jumping as the numbers change. */
    g_autofree char *amount = bar_amount(st.done, st.total);
    g_autoptr(GString) tail = g_string_new(NULL);
    g_string_append_printf(tail, " %3d%% %15s", st.percent, amount);
    if (st.eta_seconds >= 0) {
        g_autofree char *rate_text = qpin_size_format_human((guint64)st.rate);
        g_autofree char *eta = bar_duration(st.eta_seconds);
        g_string_append_printf(tail, "  %10s/s  ETA %s", rate_text, eta);
    }

    const char *label = "qpin: prealloc ";
    int budget = (int)strlen(" 100% 1023.9/1023.9 GiB  1023.9 MiB/s  ETA 10:00:00");
    int width = bar_columns(bar->fd) - 1 - (int)strlen(label) - budget - 2;
    if (width > 40)
        width = 40;
    g_autoptr(GString) line = g_string_new("\r");
    g_string_append(line, label);
    if (width >= 10) {
        int filled = width * st.percent / 100;
        g_string_append_c(line, '[');
        for (int i = 0; i < width; i++)
            g_string_append_c(line, i < filled ? '#' : '.');
        g_string_append_c(line, ']');
    }
    g_string_append(line, tail->str);
    g_string_append(line, "\033[K");
    bar_write(bar->fd, line->str, line->len);
    bar->drawn = TRUE;
    bar->last_draw_us = now;
}

gint64 qpin_progress_bar_finish(QpinProgressBar *bar)
{
    if (!bar)
        return 0;
    gint64 ms = qpin_progress_elapsed_ms(bar->progress);
    if (bar->drawn)
        bar_write(bar->fd, "\r\033[K", 4);
    qpin_progress_free(bar->progress);
    g_free(bar);
    return ms;
}
