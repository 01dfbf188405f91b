/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin top — watch a pinned guest: per vCPU, where it runs, how busy it is, how long it waits
 * for its CPU, whether it migrates or left its plan; the interrupts of the host CPUs of the
 * map; the guest memory. A refreshing screen on a terminal, batch text, one JSON line per
 * interval, or a node_exporter textfile. Touches nothing of QEMU's: it only reads. */
#include "qpin-cli.h"
#include "qpin-error.h"
#include "qpin-file-write.h"
#include "qpin-help.h"
#include "qpin-output-top.h"
#include "qpin-process.h"
#include "qpin-top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

typedef struct {
    gint64 pid;
    char *report;
    char *qmp;
    double delay;
    int iterations;
    gboolean batch;
    gboolean json;
    char *prometheus;
    char *sort_name;
    QpinTopSort sort;
    gboolean sort_given;
} TopOptions;

typedef struct {
    gboolean active;
    struct termios saved;
} Screen;

/* The terminal as it was, on every way out (q, a signal, the guest ending, an error). */
static void screen_leave(Screen *screen)
{
    if (!screen->active)
        return;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &screen->saved);
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    screen->active = FALSE;
}

static gboolean screen_enter(Screen *screen)
{
    if (tcgetattr(STDIN_FILENO, &screen->saved) < 0)
        return FALSE;
    struct termios raw = screen->saved;
    /* Keys arrive one by one without echo; ^C still raises SIGINT, read from the signalfd. */
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
        return FALSE;
    screen->active = TRUE;
    fputs("\033[?1049h\033[?25l", stdout);
    return TRUE;
}

static guint screen_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
        return 24;
    return ws.ws_row;
}

static guint count_lines(const char *text)
{
    guint n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* The keys that sort the screen, as top's and xentop's single letters. */
static const struct {
    char key;
    QpinTopSort sort;
} sort_keys[] = {
    {'u', QPIN_TOP_SORT_USAGE},
    {'s', QPIN_TOP_SORT_STEAL},
    {'c', QPIN_TOP_SORT_CPU},
    {'i', QPIN_TOP_SORT_INDEX},
};

/* The frame for the screen: drifted vCPUs first, then the first by @sort, as many as fit. */
static char *screen_frame(const QpinTop *top, QpinTopSort sort)
{
    guint rows = screen_rows();
    GString *out = g_string_new(NULL);
    qpin_output_top_text(top, sort, TRUE, 0, out);
    guint lines = count_lines(out->str);
    guint vcpus = qpin_top_count(top, QPIN_TOP_VCPU);
    if (lines >= rows && vcpus > 1) {
        guint over = lines - rows + 2; /* the "... more" line and the last line */
        guint keep = over < vcpus ? vcpus - over : 1;
        g_string_truncate(out, 0);
        qpin_output_top_text(top, sort, TRUE, keep, out);
    }
    g_string_prepend(out, "\033[H\033[2J");
    g_string_append_printf(out, "(q quits; sort: u usage, s steal, c CPU, i index; now %s)",
                           qpin_output_top_sort_name(sort));
    return g_string_free(out, FALSE);
}

/* Finds which process serves the QMP socket, as qpin pin does (the peer, or --pid started by
 * it); qpin_top_new_from_qmp() proves the threads QMP names are that process's. */
static QmpClient *connect_qmp(const TopOptions *o, QpinQmpPeer **peer, GError **error)
{
    g_autoptr(QmpClient) qmp =
        qmp_client_connect(o->qmp, QMP_DEFAULT_TIMEOUT_MS, NULL, NULL, error);
    if (!qmp)
        return NULL;
    qmp_client_set_timeout(qmp, QMP_DEFAULT_TIMEOUT_MS);
    g_autoptr(QpinQmpPeer) found = qpin_qmp_peer_find(qmp, o->qmp, o->pid, NULL, error);
    if (!found)
        return NULL;
    if (!qmp_client_handshake(qmp, error)) {
        if (g_error_matches(*error, QMP_ERROR, QMP_ERROR_TIMEOUT))
            g_prefix_error(error, "(QEMU serves one QMP client per socket: is another one "
                                  "connected?) ");
        return NULL;
    }
    *peer = g_steal_pointer(&found);
    return g_steal_pointer(&qmp);
}

/* top runs where the plan puts QEMU's own housekeeping, off the vCPUs' CPUs. */
static void move_to_emulator_cpus(const QpinTop *top)
{
    if (!top->emulator_cpus || topo_cpuset_is_empty(top->emulator_cpus))
        return;
    g_autoptr(TopoCpuSet) cpus = topo_cpuset_copy(top->emulator_cpus);
    if (sched_setaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(cpus)) < 0) {
        g_autofree char *list = topo_cpuset_format(cpus);
        qpin_warn("top: cannot run on the emulator CPUs %s of the plan (%s): it runs where it "
                  "was started",
                  list, g_strerror(errno));
    }
}

static const char *const examples[] = {
    "qpin run --report /run/vm.json -- qemu-system-x86_64 ...   # then:",
    "qpin top --report /run/vm.json",
    "qpin top --pid \"$(pgrep -f 'qemu-system.*vm1')\" -b -n 5 -d 2",
    "qpin top --qmp /run/vm.qmp --prometheus /var/lib/node_exporter/qpin.prom",
    NULL,
};
static const int exits[] = {
    QPIN_EXIT_OK, QPIN_EXIT_FAILURE, QPIN_EXIT_USAGE, QPIN_EXIT_QMP, QPIN_EXIT_QMP_COMMAND,
    QPIN_EXIT_PIN, -1,
};

static gboolean parse_options(int *argc, char ***argv, TopOptions *o, int *code)
{
    gboolean help = FALSE;
    GOptionEntry entries[] = {
        {"pid", 0, 0, G_OPTION_ARG_INT64, &o->pid,
         "Watch QEMU process PID (vCPUs found by their thread names)", "PID"},
        {"report", 0, 0, G_OPTION_ARG_FILENAME, &o->report,
         "Watch the guest of a qpin run/pin --report FILE, against its plan", "FILE"},
        {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &o->qmp,
         "Find the vCPUs over QEMU's QMP socket (and KVM exits)", "SOCKET"},
        {"delay", 'd', 0, G_OPTION_ARG_DOUBLE, &o->delay, "Seconds between samples (default 1)",
         "SECS"},
        {"iterations", 'n', 0, G_OPTION_ARG_INT, &o->iterations,
         "Stop after COUNT intervals (default: until q, a signal, or the guest ends)", "COUNT"},
        {"batch", 'b', 0, G_OPTION_ARG_NONE, &o->batch, "Batch text for logs, no screen", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &o->json, "One JSON object per interval per line", NULL},
        {"prometheus", 0, 0, G_OPTION_ARG_FILENAME, &o->prometheus,
         "Also replace FILE at each interval with the node_exporter textfile", "FILE"},
        {"sort", 's', 0, G_OPTION_ARG_STRING, &o->sort_name,
         "Sort the vCPUs by usage, steal, cpu or index (default: usage on the screen, index "
         "in batch)",
         "KEY"},
        {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_option_context_set_help_enabled(context, FALSE);
    g_option_context_add_main_entries(context, entries, NULL);
    g_set_prgname("qpin top");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, argc, argv, &error)) {
        qpin_err("top: %s", error->message);
        *code = QPIN_EXIT_USAGE;
        return FALSE;
    }
    if (help) {
        const QpinHelp text = {
            .command = "top",
            .usage = "{--report FILE | --pid PID | --qmp SOCKET} [-d SECS] [-n COUNT]\n"
                     "    [-b | --json] [-s KEY] [--prometheus FILE]",
            .description =
                "Watches a running guest live against its plan: per vCPU its thread, allowed "
                "CPUs, last CPU, usage, steal (run-queue wait), migrations, context switches, "
                "KVM exits (with --qmp) and a drift flag when it left its plan; the same for "
                "the emulator threads and iothreads; local timer and device interrupts per host "
                "CPU of the map; guest memory per host node. A refreshing screen on a terminal "
                "(q quits; u, s, c, i sort), batch text with -b, one JSON object per interval "
                "with --json. The threads and the plan come from a qpin run or pin --report "
                "file, from QMP, or from QEMU's thread names (--pid). See docs/top.md.",
            .options = entries,
            .examples = examples,
            .exit_statuses = exits,
            .exit_note = "0 also when the guest or one of its threads ends, q is pressed or a "
                         "signal ends top; 15 when a thread cannot be proven QEMU's.",
            .see_also = "qpin(1), qpin-run(1), qpin-check(1), top(1), kvm_stat(1)",
        };
        *code = qpin_help_print(&text);
        return FALSE;
    }
    *code = QPIN_EXIT_USAGE;
    if (*argc > 1) {
        qpin_err("top: unexpected argument '%s'", (*argv)[1]);
        return FALSE;
    }
    int sources = (o->report != NULL) + (o->qmp != NULL) + (o->pid != 0 && !o->qmp);
    if (sources != 1) {
        qpin_err("top: give one of --report FILE, --pid PID or --qmp SOCKET");
        return FALSE;
    }
    if (o->pid < 0 || o->pid > G_MAXINT) {
        qpin_err("top: --pid %" G_GINT64_FORMAT ": give a process id above 0", o->pid);
        return FALSE;
    }
    if (!isfinite(o->delay) || o->delay < 0.01 || o->delay > 86400) {
        qpin_err("top: -d %g: give seconds between 0.01 and 86400", o->delay);
        return FALSE;
    }
    if (o->iterations < 0) {
        qpin_err("top: -n %d: give a count of 1 or more", o->iterations);
        return FALSE;
    }
    if (o->json && o->batch) {
        qpin_err("top: --json and -b are two outputs; give one");
        return FALSE;
    }
    if (o->sort_name) {
        if (!qpin_output_top_sort_parse(o->sort_name, &o->sort)) {
            qpin_err("top: -s '%s': give usage, steal, cpu or index", o->sort_name);
            return FALSE;
        }
        if (o->json) {
            qpin_err("top: -s sorts the text; --json lists the vCPUs by index");
            return FALSE;
        }
        o->sort_given = TRUE;
    }
    if (o->prometheus) {
        if (!qpin_top_textfile_check(o->prometheus, &error)) {
            qpin_err("top: --prometheus %s", error->message);
            return FALSE;
        }
    }
    *code = QPIN_EXIT_OK;
    return TRUE;
}

typedef struct {
    const TopOptions *o;
    QpinTop *top;
    QpinTopSort sort;
    Screen screen;
    char *prometheus_error; /* the last failure said, so that it is said once */
} TopRun;

/* Draws one interval; FALSE when standard output cannot be written. */
static gboolean show(TopRun *r, GError **error)
{
    if (r->o->prometheus) {
        g_autofree char *text = qpin_output_top_prometheus(r->top);
        g_autoptr(GError) local = NULL;
        if (!qpin_top_textfile_write(r->o->prometheus, text, strlen(text), &local)) {
            if (g_strcmp0(local->message, r->prometheus_error))
                qpin_warn("top: --prometheus %s", local->message);
            g_free(r->prometheus_error);
            r->prometheus_error = g_strdup(local->message);
        } else {
            g_clear_pointer(&r->prometheus_error, g_free);
        }
    }
    g_autofree char *text = NULL;
    if (r->o->json) {
        text = qpin_output_top_json(r->top);
    } else if (r->screen.active) {
        text = screen_frame(r->top, r->sort);
    } else {
        GString *out = g_string_new(NULL);
        qpin_output_top_text(r->top, r->sort, FALSE, 0, out);
        g_string_append_c(out, '\n');
        text = g_string_free(out, FALSE);
    }
    return qpin_stream_write(stdout, text, error);
}

static gint64 now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* On the screen: ^Z gives the terminal back before the stop and takes it again on fg; a new
 * window size redraws at once. */
static int screen_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTSTP);
    sigaddset(&set, SIGWINCH);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void screen_job_control(TopRun *r, int jobfd, int shown)
{
    struct signalfd_siginfo info;
    gboolean redraw = FALSE;
    while (read(jobfd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGTSTP && r->screen.active) {
            screen_leave(&r->screen);
            raise(SIGSTOP);
            /* Continued (fg): the terminal is ours again. */
            screen_enter(&r->screen);
        }
        redraw = TRUE;
    }
    if (redraw && shown && r->screen.active) {
        g_autofree char *frame = screen_frame(r->top, r->sort);
        qpin_stream_write(stdout, frame, NULL);
    }
}

/* A sort key redraws the last frame at once, in the new order. */
static void screen_key(TopRun *r, char key, int shown)
{
    for (guint i = 0; i < G_N_ELEMENTS(sort_keys); i++) {
        if (key != sort_keys[i].key && key != g_ascii_toupper(sort_keys[i].key))
            continue;
        r->sort = sort_keys[i].sort;
        if (shown) {
            g_autofree char *frame = screen_frame(r->top, r->sort);
            qpin_stream_write(stdout, frame, NULL);
        }
        return;
    }
}

static int loop(TopRun *r, int sigfd, int timerfd, int jobfd)
{
    GError *error = NULL;
    int shown = 0;
    for (;;) {
        struct pollfd fds[4] = {
            {.fd = sigfd, .events = POLLIN},
            {.fd = timerfd, .events = POLLIN},
            {.fd = r->screen.active ? STDIN_FILENO : -1, .events = POLLIN},
            {.fd = jobfd, .events = POLLIN},
        };
        if (poll(fds, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            qpin_err("top: poll: %s", g_strerror(errno));
            return QPIN_EXIT_FAILURE;
        }
        if (fds[0].revents && qpin_signals_take(sigfd))
            return QPIN_EXIT_OK;
        if (fds[3].revents)
            screen_job_control(r, jobfd, shown);
        if (fds[2].revents) {
            char key = 0;
            ssize_t n = read(STDIN_FILENO, &key, 1);
            if (n == 0 || (n == 1 && (key == 'q' || key == 'Q')))
                return QPIN_EXIT_OK;
            if (n == 1)
                screen_key(r, key, shown);
        }
        if (!fds[1].revents)
            continue;
        guint64 expirations = 0;
        if (read(timerfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
            continue;
        if (!qpin_top_sample(r->top, now_ns(), &error)) {
            screen_leave(&r->screen);
            qpin_err("top: %s", error->message);
            int code = qpin_exit_status(error, QPIN_EXIT_FAILURE);
            g_error_free(error);
            return code;
        }
        if (r->top->ended) {
            screen_leave(&r->screen);
            qpin_err("top: %s; nothing left to watch", r->top->ended);
            return QPIN_EXIT_OK;
        }
        if (!show(r, &error)) {
            screen_leave(&r->screen);
            qpin_err("top: %s", error->message);
            g_error_free(error);
            return QPIN_EXIT_FAILURE;
        }
        if (r->o->iterations && ++shown >= r->o->iterations)
            return QPIN_EXIT_OK;
    }
}

int qpin_cmd_top(int argc, char **argv)
{
    TopOptions o = {.delay = 1.0};
    int code = QPIN_EXIT_OK;
    gboolean parsed = parse_options(&argc, &argv, &o, &code);
    g_autofree char *report = o.report, *qmp_path = o.qmp, *prometheus = o.prometheus,
                    *sort_name = o.sort_name;
    if (!parsed)
        return code;

    GError *error = NULL;
    int sigfd = qpin_signals_setup(&error);
    if (sigfd < 0) {
        qpin_err("top: %s", error->message);
        g_error_free(error);
        return QPIN_EXIT_FAILURE;
    }
    g_autoptr(QmpClient) qmp = NULL;
    g_autoptr(QpinTop) top = NULL;
    if (o.report) {
        top = qpin_top_new_from_report(o.report, NULL, &error);
    } else if (o.qmp) {
        g_autoptr(QpinQmpPeer) peer = NULL;
        qmp = connect_qmp(&o, &peer, &error);
        if (qmp)
            top = qpin_top_new_from_qmp(qmp, peer, NULL, &error);
        if (top && peer->by_pid) {
            g_autofree char *why = qpin_qmp_peer_describe(peer);
            qpin_err("top: %s", why);
        }
    } else {
        top = qpin_top_new_from_pid((pid_t)o.pid, NULL, &error);
    }
    if (!top) {
        qpin_err("top: %s", error->message);
        code = qpin_exit_status(error, QPIN_EXIT_FAILURE);
        g_error_free(error);
        close(sigfd);
        return code;
    }
    move_to_emulator_cpus(top);

    int timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (timerfd < 0) {
        qpin_err("top: timerfd_create: %s", g_strerror(errno));
        close(sigfd);
        return QPIN_EXIT_FAILURE;
    }
    /* The first sample is the base of the first interval's rates. */
    if (!qpin_top_sample(top, now_ns(), &error)) {
        qpin_err("top: %s", error->message);
        code = qpin_exit_status(error, QPIN_EXIT_FAILURE);
        g_error_free(error);
        close(timerfd);
        close(sigfd);
        return code;
    }
    if (top->ended) {
        qpin_err("top: %s; nothing left to watch", top->ended);
        close(timerfd);
        close(sigfd);
        return QPIN_EXIT_OK;
    }
    gint64 ns = (gint64)(o.delay * 1e9);
    struct itimerspec spec = {
        .it_interval = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000},
        .it_value = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000},
    };
    timerfd_settime(timerfd, 0, &spec, NULL);

    TopRun r = {.o = &o, .top = top, .sort = o.sort};
    int jobfd = -1;
    if (!o.json && !o.batch && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) {
        jobfd = screen_signals();
        screen_enter(&r.screen);
        if (!o.sort_given)
            r.sort = QPIN_TOP_SORT_USAGE;
    }
    code = loop(&r, sigfd, timerfd, jobfd);
    screen_leave(&r.screen);
    if (jobfd >= 0)
        close(jobfd);
    g_free(r.prometheus_error);
    close(timerfd);
    close(sigfd);
    return code;
}
