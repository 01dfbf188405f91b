/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — launching QEMU for run and plan, see qpin-run.h. */
#include "qpin-cli.h"
#include "qpin-run.h"
#include "qpin-launch.h"

#include "qpin-audit-flow.h"
#include "qpin-error.h"
#include "qpin-hugepages.h"
#include "qpin-size.h"
#include "qpin-memory.h"
#include "qpin-output-check.h"
#include "qpin-progress-bar.h"
#include "qpin-qemu-numa.h"
#include "qpin-output.h"
#include "qpin-qemu-argv.h"
#include "qpin-session.h"
#include "qpin-process.h"
#include "qpin-threads.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* After a failure: says what became of QEMU, and makes sure it is gone. */
static int stop_after_failure(gpointer data, int code)
{
    QpinLaunch *l = data;
    g_autofree char *who = qpin_flow_process_label(l->s);
    if (l->qemu && !l->qemu->reaped && qpin_qemu_reap(l->qemu, FALSE)) {
        /* QEMU went away by itself, which is likely why the step failed. */
        g_autofree char *how = qpin_qemu_describe_exit(l->qemu);
        qpin_err("%s %s", who, how);
    }
    gboolean had_qemu = l->qemu && !l->qemu->reaped;
    qpin_launch_stop(l);
    if (had_qemu)
        qpin_err("%s stopped; %s", who,
                 code == QPIN_EXIT_RESUMED ? "the guest had run unpinned before that"
                                           : "the guest never ran");
    return code;
}

/* A failure before the guest ran: say why, leave no QEMU behind, return the exit status. */
static int fail(QpinLaunch *l, GError *error)
{
    /* A signal that came while a QMP call was blocked on a hung QEMU surfaces as that call's
     * failure (its timeout): the user's interruption is what happened, and what is reported. */
    int signo;
    if (!g_error_matches(error, QPIN_ERROR, QPIN_ERROR_INTERRUPTED) && l->sigfd >= 0 &&
        (signo = qpin_signals_take(l->sigfd))) {
        GError *why = g_error_new(QPIN_ERROR, QPIN_ERROR_INTERRUPTED,
                                  "interrupted by signal %d (%s) before the guest started, while "
                                  "waiting for QEMU (%s)",
                                  signo, strsignal(signo), error->message);
        g_error_free(error);
        error = why;
    }
    return qpin_output_failure(l->s, error, l->qemu && !l->qemu->reaped, stop_after_failure, l);
}

static int interrupted(QpinLaunch *l, int signo)
{
    GError *error = g_error_new(QPIN_ERROR, QPIN_ERROR_INTERRUPTED,
                                "interrupted by signal %d (%s) before the guest started", signo,
                                strsignal(signo));
    return fail(l, error);
}

/* "QEMU is building 240 vCPUs..." while the negotiation waits. */
typedef struct {
    gint64 start_us;
    guint vcpus;
    int fd;
    gboolean tty;
    gboolean drawn;
} Building;

#define BUILDING_QUIET_US (3 * G_USEC_PER_SEC)
#define BUILDING_NOTE_US  (10 * G_USEC_PER_SEC)

static void building_tick(gpointer data)
{
    Building *b = data;
    gint64 elapsed = g_get_monotonic_time() - b->start_us;
    if (b->fd < 0 || elapsed < (b->tty ? BUILDING_QUIET_US : BUILDING_NOTE_US))
        return;
    if (!b->tty && b->drawn)
        return;
    g_autofree char *what = b->vcpus
                                ? g_strdup_printf("%u vCPU%s", b->vcpus, b->vcpus == 1 ? "" : "s")
                                : g_strdup("the guest's vCPUs");
    g_autofree char *line =
        b->tty ? g_strdup_printf("\rqpin: QEMU is building %s... %" G_GINT64_FORMAT " s", what,
                                 elapsed / G_USEC_PER_SEC)
               : g_strdup_printf("qpin: QEMU is still building %s after %" G_GINT64_FORMAT
                                 " s; waiting as long as it runs\n",
                                 what, elapsed / G_USEC_PER_SEC);
    ssize_t unused = write(b->fd, line, strlen(line));
    (void)unused;
    b->drawn = TRUE;
}

static void building_done(Building *b)
{
    if (b->tty && b->drawn) {
        ssize_t unused = write(b->fd, "\n", 1);
        (void)unused;
    }
}

typedef struct {
    QpinLaunchPhase phase;
    QpinProgressBar *bar;
    Building building;
} StartView;

/* What the user sees while QEMU starts: the preallocation bar, then the building note. */
static gpointer start_begin(QpinLaunchPhase phase, QpinLaunch *l, guint64 prealloc_bytes,
                            guint vcpus, gpointer user)
{
    int fd = l->opt->quiet ? -1 : STDERR_FILENO;
    if (phase == QPIN_LAUNCH_PREALLOC) {
        StartView *v = g_new0(StartView, 1);
        v->phase = phase;
        v->bar = qpin_progress_bar_new(l->qemu->pid, prealloc_bytes, fd);
        return v;
    }
    StartView *v = g_new0(StartView, 1);
    v->phase = phase;
    v->building = (Building){.start_us = g_get_monotonic_time(), .vcpus = vcpus, .fd = fd};
    v->building.tty = fd >= 0 && isatty(fd);
    return v;
}

static void start_tick(gpointer data)
{
    StartView *v = data;
    if (v->phase == QPIN_LAUNCH_PREALLOC)
        qpin_progress_bar_update(v->bar);
    else
        building_tick(&v->building);
}

static double start_end(gpointer data)
{
    g_autofree StartView *v = data;
    if (v->phase == QPIN_LAUNCH_PREALLOC)
        return (double)qpin_progress_bar_finish(v->bar);
    building_done(&v->building);
    return -1;
}

static const QpinLaunchObserver start_view = {start_begin, start_tick, start_end, NULL};

/* After a QMP call failed: a signal that ended its wait is what happened. */
static int qmp_failed(QpinLaunch *l, GError *error)
{
    if (l->guard.signo) {
        int signo = l->guard.signo;
        l->guard.signo = 0;
        g_error_free(error);
        return interrupted(l, signo);
    }
    return fail(l, error);
}

/* --check of run and plan, and `qpin check -- QEMU ...`: audits the host against the map just
 * computed, before anything is pinned. Returns the exit status when the command ends here (the
 * audit of `qpin check`, or a refusal under --check=strict), -1 to go on. */
static int check_plan(QpinLaunch *l)
{
    QpinCheckMode mode = l->opt->check;
    GError *error = NULL;
    g_autoptr(QpinAuditMap) map = qpin_audit_map_from_flow(l->s, &error);
    g_autoptr(QpinAuditResult) result =
        map ? qpin_audit_run(l->opt->sysroot, l->s->host, map, &error) : NULL;
    if (!result) {
        if (mode == QPIN_CHECK_MODE_WARN) {
            qpin_warn("host check skipped: %s", error->message);
            g_error_free(error);
            return -1;
        }
        return fail(l, error);
    }
    if (mode == QPIN_CHECK_MODE_ONLY) {
        /* The plan was only the way to the map: QEMU goes before the audit is printed. */
        qpin_launch_stop(l);
        if (!qpin_output_check(result, map->source, l->opt->json))
            return QPIN_EXIT_FAILURE;
        return result->verdict == QPIN_AUDIT_FAIL ? QPIN_EXIT_CHECK : QPIN_EXIT_OK;
    }
    gboolean refuse = mode == QPIN_CHECK_MODE_STRICT && result->verdict == QPIN_AUDIT_FAIL;
    qpin_output_check_warnings(result, refuse);
    if (refuse)
        return fail(l, qpin_output_check_refusal(result));
    return -1;
}

/* --reserve-hugepages: what the kernel gave. */
static void hugepages_reserved(QpinLaunch *l)
{
    const QpinHugepages *h = l->s->hugepages;
    for (guint i = 0; h && !l->opt->quiet && i < h->grants->len; i++) {
        const QpinHugepageGrant *g = &g_array_index(h->grants, QpinHugepageGrant, i);
        g_autofree char *page = qpin_size_format(g->page_kib * 1024);
        qpin_err("--reserve-hugepages: host node %d: %" G_GUINT64_FORMAT " hugepages of %s added "
                 "(nr_hugepages %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                 "), given back when QEMU exits",
                 g->node, g->added, page, g->before, g->after);
    }
}

/* --reserve-hugepages: gives the pages back and says how it went. The exit status stays what
 * it was (QEMU's, once the guest ran): a pool that could not be given back is said, with the
 * command that would. */
static void hugepages_given_back(QpinLaunch *l)
{
    const QpinHugepages *h = l->s->hugepages;
    if (!h)
        return;
    GError *error = NULL;
    if (!qpin_flow_release_hugepages(l->s, &error)) {
        qpin_err("%s", error->message);
        g_error_free(error);
        return;
    }
    for (guint i = 0; !l->opt->quiet && i < h->grants->len; i++) {
        const QpinHugepageGrant *g = &g_array_index(h->grants, QpinHugepageGrant, i);
        g_autofree char *page = qpin_size_format(g->page_kib * 1024);
        if (g->added)
            qpin_err("--reserve-hugepages: host node %d: %" G_GUINT64_FORMAT
                     " hugepages of %s given back (nr_hugepages %" G_GUINT64_FORMAT ")",
                     g->node, g->added, page, g->released_to);
    }
}

int qpin_launch(QpinOptions *opt)
{
    gboolean run = opt->command == QPIN_COMMAND_RUN;
    g_autoptr(QpinFlow) s = qpin_flow_new(opt);
    QpinLaunch launch = {.opt = opt, .s = s, .sigfd = -1, .qmp_fd = -1}, *l = &launch;
    GError *error = NULL;
    int signo = 0, status;

    /* Signals are taken from here on: once prepare raised a hugepage pool, an interruption
     * must still reach the code that gives the pages back. */
    l->sigfd = qpin_signals_setup(&error);
    if (l->sigfd < 0) {
        qpin_err("%s", error->message);
        status = qpin_exit_status(error, QPIN_EXIT_FAILURE);
        g_error_free(error);
        return status;
    }
    s->sigfd = l->sigfd;
    if (!qpin_flow_prepare(s, &error)) {
        qpin_err("%s", error->message);
        status = qpin_exit_status(error, QPIN_EXIT_FAILURE);
        g_error_free(error);
        goto out;
    }
    qpin_output_host_warnings(s->host);
    hugepages_reserved(l);
    /* A map that names its CPUs is audited before QEMU starts: a refusal starts nothing. */
    gboolean checked_early = opt->check == QPIN_CHECK_MODE_STRICT && s->early_vcpu_cpus;
    if (checked_early && (status = check_plan(l)) >= 0)
        goto out;
    /* A QEMU that a wrapper forked instead of exec'ing is reparented to qpin, not to init,
     * when the wrapper ends: qpin can still stop it. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (!qpin_launch_start(l, &start_view, &signo, &error)) {
        status = signo ? interrupted(l, signo) : fail(l, error);
        goto out;
    }
    if ((signo = qpin_signals_take(l->sigfd))) {
        status = interrupted(l, signo);
        goto out;
    }
    if (!qpin_flow_query(s, &error)) {
        status = qmp_failed(l, error);
        goto out;
    }
    if (!qpin_flow_plan(s, run, &error) || (run && !qpin_flow_check_memory(s, &error))) {
        status = fail(l, error);
        goto out;
    }
    qpin_output_warnings(s);
    if (opt->check != QPIN_CHECK_MODE_OFF && !checked_early && (status = check_plan(l)) >= 0)
        goto out;

    if (!run) {
        s->report->qmp_commands = qmp_client_commands_sent(l->qmp);
        qpin_flow_name_threads(s);
        qpin_launch_stop(l);
        status = qpin_output(s, stdout) ? QPIN_EXIT_OK : QPIN_EXIT_FAILURE;
        goto out;
    }

    if ((signo = qpin_signals_take(l->sigfd))) {
        status = interrupted(l, signo);
        goto out;
    }
    if (!qpin_flow_apply(s, &error) || !qpin_flow_verify(s, &error)) {
        status = fail(l, error);
        goto out;
    }
    /* Nobody else may have resumed the guest before this point: it would have run unpinned. */
    if (!qpin_launch_check_not_resumed(l, &error)) {
        status = qmp_failed(l, error);
        goto out;
    }
    /* The last moment a signal can still stop a guest that never ran. */
    if ((signo = qpin_signals_take(l->sigfd))) {
        status = interrupted(l, signo);
        goto out;
    }
    if (opt->cont) {
        gint64 t0 = g_get_monotonic_time();
        guint sent = qmp_client_commands_sent(l->qmp);
        if (!qmp_cont(l->qmp, &error) && qpin_launch_cont_taken(l, sent, error)) {
            /* The guest ran and QEMU ended before its reply could be read (a guest that
             * powers off at once): supervision reaps QEMU and mirrors its status. */
            g_clear_error(&error);
        }
        if (error) {
            g_prefix_error(&error, "cont: ");
            GError *wrapped = NULL;
            qpin_error_propagate(&wrapped, error, qpin_qmp_error_code(error));
            status = qmp_failed(l, wrapped);
            goto out;
        }
        qpin_report_timing(s->report, "cont", qpin_ms_since(t0));
    }
    /* From here on the guest runs: QMP waits only drain events, and signals are forwarded. */
    qmp_client_set_wait_hook(l->qmp, -1, 0, NULL, NULL);
    qpin_report_timing(s->report, "total", qpin_ms_since(l->spawned_us));
    s->report->state = g_strdup(opt->cont ? "running" : "paused");
    s->report->qmp_commands = qmp_client_commands_sent(l->qmp);
    /* Only now: the guest does not wait for a file read per thread. */
    qpin_flow_name_threads(s);
    /* The guest runs: an output that cannot be written is said, and QEMU keeps running. */
    qpin_output(s, stderr);

    status = qpin_qemu_supervise(l->qemu, l->sigfd, l->qmp_fd, qpin_launch_drain_events, l->qmp,
                                 opt->kill_timeout_ms);
    /* QEMU's status could not be collected: never report that as success. */
    if (status < 0)
        status = QPIN_EXIT_FAILURE;
out:
    if (l->qemu && !l->qemu->reaped)
        qpin_qemu_stop(l->qemu, l->sigfd, TRUE, opt->kill_timeout_ms);
    /* QEMU is gone: its hugepages are free again, and what qpin added goes back. */
    hugepages_given_back(l);
    qmp_client_free(l->qmp);
    qpin_qemu_free(l->qemu);
    if (l->sigfd >= 0)
        close(l->sigfd);
    return status;
}
