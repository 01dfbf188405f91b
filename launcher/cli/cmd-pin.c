/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin pin — attach to a QEMU someone else started, through its QMP socket: prove whom the
 * socket leads to, pin, verify, and resume the guest if asked. A QEMU qpin did not start is
 * never killed: on failure or interruption every thread gets back what it had and the guest
 * stays as it was. */
#include "qpin-error.h"
#include "qpin-options.h"
#include "qpin-output.h"
#include "qpin-cli.h"
#include "qpin-session.h"
#include "qpin-process.h"
#include "qpin-threads.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The process behind the QMP socket: its peer (SO_PEERCRED), or --pid when that descends from
 * the peer (a socket created by a launcher and handed down to QEMU). The threads QMP names must
 * belong to it (qpin_flow_plan()). */
static gboolean find_peer(QpinFlow *s, QmpClient *qmp, GError **error)
{
    s->peer = qpin_qmp_peer_find(qmp, s->opt->qmp, s->opt->pid, NULL, error);
    if (!s->peer)
        return FALSE;
    s->pid = s->peer->pid;
    return TRUE;
}

/* "running" or "paused" as QEMU says now, NULL when it cannot be asked. */
static const char *guest_state(QmpClient *qmp)
{
    gboolean running = FALSE;
    if (!qmp || qmp_client_is_broken(qmp))
        return NULL;
    g_autofree char *status = qmp_query_status(qmp, &running, NULL);
    return !status ? NULL : running ? "running" : "paused";
}

typedef struct {
    QpinFlow *s;
    QmpClient *qmp;
    const char *state;
} PinFailure;

/* After a failure: rolls back what was changed and says how the guest was left. */
static int roll_back_after_failure(gpointer data, int code)
{
    PinFailure *f = data;
    QpinFlow *s = f->s;
    g_autofree char *summary = NULL;
    gboolean changed = s->saved->len > 0;
    if (!qpin_flow_rollback(s, &summary))
        code = QPIN_EXIT_PIN;
    if (s->pid > 0) {
        g_autofree char *who = qpin_flow_process_label(s);
        const char *now = f->state ? f->state : guest_state(f->qmp);
        qpin_err("%s was not started by qpin and is left %s%s%s", who, now ? now : "as it was",
                 changed ? "; " : "", changed ? summary : "");
    }
    return code;
}

/* Says why, rolls back, says what it did and how the guest was left; returns the exit
 * status. */
static int pin_failed(QpinFlow *s, GError *error, QmpClient *qmp, const char *state)
{
    PinFailure f = {s, qmp, state};
    return qpin_output_failure(s, error, TRUE, roll_back_after_failure, &f);
}

/* A QMP failure: a signal that ended the wait is what happened. */
static GError *qmp_error(GError *error, const QpinWaitGuard *guard, const char *what)
{
    GError *wrapped = NULL;
    if (guard->signo) {
        wrapped = g_error_new(QPIN_ERROR, QPIN_ERROR_INTERRUPTED,
                              "interrupted by signal %d (%s) while waiting for QEMU (%s)",
                              guard->signo, strsignal(guard->signo), error->message);
        g_error_free(error);
        return wrapped;
    }
    if (guard->gone) {
        wrapped = g_error_new(QPIN_ERROR, QPIN_ERROR_QMP, "QEMU (process %d) ended during %s",
                              (int)guard->peer, what);
        g_error_free(error);
        return wrapped;
    }
    g_prefix_error(&error, "%s: ", what);
    qpin_error_propagate(&wrapped, error, qpin_qmp_error_code(error));
    return wrapped;
}

static const char *const pin_examples[] = {
    "qpin pin --qmp /run/vm.qmp --pin auto --emulator-pin auto",
    "qpin pin --qmp /run/vm.qmp --pin 2-5 --cont --report /tmp/pin.json",
    NULL,
};
static const int pin_exits[] = {
    QPIN_EXIT_OK,          QPIN_EXIT_FAILURE, QPIN_EXIT_USAGE, QPIN_EXIT_HOST,        QPIN_EXIT_QMP,
    QPIN_EXIT_QMP_COMMAND, QPIN_EXIT_MAP,     QPIN_EXIT_PIN,   QPIN_EXIT_INTERRUPTED, -1,
};
static const QpinHelp pin_help = {
    .command = "pin",
    .usage = "--qmp SOCKET [OPTIONS]",
    .description = "Pins the threads of a QEMU started by someone else, through its QMP socket: "
                   "proves that the threads QMP names belong to the socket's peer (or to --pid, "
                   "a process the peer started, when the socket was handed to QEMU), applies the "
                   "map, reads every thread back, and on any failure puts back what each thread "
                   "had. The guest is left paused or running as it was, unless --cont.",
    .examples = pin_examples,
    .exit_statuses = pin_exits,
    .see_also = "qpin(1), qpin-run(1), qpin-qmp(1)",
};

int qpin_cmd_pin(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt =
        qpin_output_options(QPIN_COMMAND_PIN, argc, argv, &pin_help, &code);
    if (!opt)
        return code;

    GError *error = NULL;
    g_autoptr(QpinFlow) s = qpin_flow_new(opt);
    s->report->qmp = g_strdup(opt->qmp);
    if (!qpin_flow_prepare(s, &error))
        return qpin_output_error(error, QPIN_EXIT_FAILURE);
    qpin_output_host_warnings(s->host);

    /* From here until qpin exits, SIGINT, SIGTERM and SIGHUP are only read from the signalfd:
     * an interruption rolls back what was changed instead of leaving a half-pinned guest. */
    int sigfd = qpin_signals_setup(&error);
    if (sigfd < 0)
        return qpin_output_error(error, QPIN_EXIT_FAILURE);
    s->sigfd = sigfd;
    QpinWaitGuard guard = {.sigfd = sigfd};

    gint64 t0 = g_get_monotonic_time();
    g_autoptr(QmpClient) qmp =
        qmp_client_connect(opt->qmp, opt->qmp_timeout_ms, NULL, NULL, &error);
    if (qmp) {
        qmp_client_set_timeout(qmp, opt->qmp_timeout_ms);
        qmp_client_set_wait_hook(qmp, sigfd, 1000, qpin_wait_guard_hook, &guard);
    }
    /* Both name the socket: the client's connect errors do, and so do find_peer()'s. */
    if (!qmp || !find_peer(s, qmp, &error)) {
        GError *wrapped = NULL;
        qpin_error_propagate(&wrapped, error, QPIN_ERROR_QMP);
        code = pin_failed(s, wrapped, NULL, NULL);
        close(sigfd);
        return code;
    }
    /* The greeting has the QMP timeout (QEMU serves one client per socket: a busy socket
     * never greets); the negotiation reply waits as long as QEMU is alive. */
    guard.peer = s->pid;
    qmp_client_set_negotiation_timeout(qmp, -1);
    if (!qmp_client_handshake(qmp, &error)) {
        if (!guard.signo && g_error_matches(error, QMP_ERROR, QMP_ERROR_TIMEOUT))
            g_prefix_error(&error, "(QEMU serves one QMP client per socket: is another one "
                                   "connected?) ");
        code = pin_failed(s, qmp_error(error, &guard, opt->qmp), NULL, NULL);
        close(sigfd);
        return code;
    }
    s->qmp = qmp;
    qpin_report_timing(s->report, "connect", qpin_ms_since(t0));

    /* The run state decides --cont, tells whether someone resumed the guest while qpin pinned
     * it, and is shown in the table and the report. */
    gboolean running = FALSE;
    g_autofree char *status = qmp_query_status(qmp, &running, &error);
    if (!status) {
        code = pin_failed(s, qmp_error(error, &guard, "query-status"), NULL, NULL);
        close(sigfd);
        return code;
    }
    gboolean was_running = running;

    if (!qpin_flow_query(s, &error)) {
        code = pin_failed(s, qmp_error(error, &guard, "query"), qmp, NULL);
        close(sigfd);
        return code;
    }
    if (!qpin_flow_plan(s, TRUE, &error)) {
        code = pin_failed(s, error, qmp, NULL);
        close(sigfd);
        return code;
    }
    qpin_output_warnings(s);
    if (was_running)
        qpin_warn("the guest was already running: qpin pins it while it runs");
    /* An interruption up to the end of the read-back (and of the question whether someone
     * resumed the guest meanwhile) undoes every change. */
    gboolean resumed = FALSE;
    gboolean pinned = qpin_flow_apply(s, &error) && qpin_flow_verify(s, &error);
    if (pinned && !was_running && !qpin_flow_resumed_behind(s, &resumed, &error)) {
        error = qmp_error(error, &guard, "query-status");
        pinned = FALSE;
    }
    int signo = pinned ? qpin_signals_take(sigfd) : 0;
    if (signo) {
        g_set_error(&error, QPIN_ERROR, QPIN_ERROR_INTERRUPTED, "interrupted by signal %d (%s)",
                    signo, strsignal(signo));
        pinned = FALSE;
    }
    if (!pinned) {
        code = pin_failed(s, error, qmp, NULL);
        close(sigfd);
        return code;
    }
    /* Done: from here on nothing is rolled back. */
    g_array_set_size(s->saved, 0);

    if (resumed) {
        running = TRUE;
        const char *what = "the guest was resumed by someone else while qpin pinned it, so it "
                           "ran unpinned for a moment; its threads are pinned and verified now";
        g_ptr_array_add(s->report->warnings, g_strdup(what));
        if (opt->cont) {
            qpin_err("%s", what);
            code = QPIN_EXIT_RESUMED;
        } else {
            qpin_warn("%s", what);
        }
    }
    if (opt->cont && !running) {
        gint64 t1 = g_get_monotonic_time();
        if (!qmp_cont(qmp, &error)) {
            s->report->state = g_strdup("paused");
            code = pin_failed(s, qmp_error(error, &guard, "cont"), qmp,
                              "paused (pinned and verified)");
            close(sigfd);
            return code;
        }
        qpin_report_timing(s->report, "cont", qpin_ms_since(t1));
        running = TRUE;
    }
    s->report->state = g_strdup(running ? "running" : "paused");
    s->report->qmp_commands = qmp_client_commands_sent(qmp);
    qpin_flow_name_threads(s);
    if (!qpin_output(s, stdout))
        code = QPIN_EXIT_FAILURE;
    close(sigfd);
    return code;
}
