/* qpin pin — attach to a QEMU someone else started, through its QMP socket: pin, verify, and
 * resume it if asked. A QEMU qpin did not start is never killed: on failure every thread gets
 * back what it had and the guest stays as it was. */
#include "error.h"
#include "options.h"
#include "output.h"
#include "qpin.h"
#include "flow.h"
#include "threads.h"

#include <stdio.h>
#include <string.h>

/* QEMU's process: --pid, else the thread group of the first vCPU thread. */
static gboolean find_pid(QpinFlow *s, GError **error)
{
    if (s->opt->pid > 0) {
        s->pid = (pid_t)s->opt->pid;
        return TRUE;
    }
    for (guint i = 0; i < s->cpus->len; i++) {
        const QmpCpuInfo *c = s->cpus->pdata[i];
        if (c->thread_id <= 0 || c->thread_id > G_MAXINT)
            continue;
        GError *local = NULL;
        pid_t pid = qpin_thread_tgid((pid_t)c->thread_id, NULL, &local);
        if (pid < 0) {
            g_set_error(error, QPIN_ERROR, QPIN_EXIT_PIN,
                        "cannot find QEMU's process from vCPU %" G_GINT64_FORMAT
                        " (thread %" G_GINT64_FORMAT "): %s; if QEMU runs in another PID "
                        "namespace, pass --pid as seen from here",
                        c->cpu_index, c->thread_id, local->message);
            g_error_free(local);
            return FALSE;
        }
        s->pid = pid;
        return TRUE;
    }
    g_set_error_literal(error, QPIN_ERROR, QPIN_EXIT_PIN,
                        "QEMU reports no vCPU thread id: cannot find its process (pass --pid)");
    return FALSE;
}

/* "running" or "paused" as QEMU says now, NULL when it cannot be asked. */
static const char *guest_state(QmpClient *qmp)
{
    gboolean running = FALSE;
    g_autofree char *status = qmp_query_status(qmp, &running, NULL);
    return !status ? NULL : running ? "running" : "paused";
}

static int pin_failed(QpinFlow *s, GError *error, const char *state, gboolean restored)
{
    s->report->error = g_strdup(error->message);
    int code = qpin_output_error(error, QPIN_EXIT_FAILURE);
    if (s->opt->report)
        qpin_flow_name_threads(s);
    if (s->pid > 0)
        qpin_err("QEMU (pid %d) was not started by qpin and is left %s%s", (int)s->pid,
                 state ? state : "as it was",
                 restored ? "; every thread qpin touched has its previous affinity back" : "");
    qpin_output_report_file(s);
    return code;
}

int qpin_cmd_pin(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt = qpin_output_options(QPIN_COMMAND_PIN, argc, argv, &code);
    if (!opt)
        return code;

    GError *error = NULL;
    g_autoptr(QpinFlow) s = qpin_flow_new(opt);
    s->report->qmp = g_strdup(opt->qmp);
    if (!qpin_flow_prepare(s, &error))
        return qpin_output_error(error, QPIN_EXIT_FAILURE);

    gint64 t0 = g_get_monotonic_time();
    g_autoptr(QmpClient) qmp =
        qmp_client_connect(opt->qmp, QMP_DEFAULT_TIMEOUT_MS, NULL, NULL, &error);
    if (!qmp || !qmp_client_handshake(qmp, &error)) {
        if (!strstr(error->message, opt->qmp))
            g_prefix_error(&error, "%s: ", opt->qmp);
        if (g_error_matches(error, QMP_ERROR, QMP_ERROR_TIMEOUT)) {
            char *hint = g_strdup_printf("%s (QEMU serves one QMP client per socket: is another "
                                         "one connected?)",
                                         error->message);
            g_free(error->message);
            error->message = hint;
        }
        GError *wrapped = NULL;
        qpin_error_propagate(&wrapped, error, QPIN_EXIT_QMP);
        return pin_failed(s, wrapped, NULL, FALSE);
    }
    s->qmp = qmp;
    qpin_report_timing(s->report, "connect", qpin_ms_since(t0));

    /* The run state decides --cont and is shown in the table and the report. A quiet pin
     * without --cont needs it only to say, after a failure, how it left the guest. */
    gboolean running = FALSE;
    const char *state = NULL;
    if (opt->cont || qpin_flow_shows(s)) {
        g_autofree char *status = qmp_query_status(qmp, &running, &error);
        if (!status) {
            g_prefix_error(&error, "query-status: ");
            GError *wrapped = NULL;
            qpin_error_propagate(&wrapped, error, qpin_qmp_exit_code(error));
            return pin_failed(s, wrapped, NULL, FALSE);
        }
        state = running ? "running" : "paused";
    }

    if (!qpin_flow_query(s, &error) || !find_pid(s, &error) || !qpin_flow_plan(s, TRUE, &error))
        return pin_failed(s, error, state ? state : guest_state(qmp), FALSE);
    qpin_output_warnings(s);
    if (!qpin_flow_apply(s, &error) || !qpin_flow_verify(s, &error)) {
        qpin_flow_rollback(s);
        return pin_failed(s, error, state ? state : guest_state(qmp), TRUE);
    }
    if (opt->cont && !running) {
        gint64 t1 = g_get_monotonic_time();
        if (!qmp_cont(qmp, &error)) {
            g_prefix_error(&error, "cont: ");
            GError *wrapped = NULL;
            qpin_error_propagate(&wrapped, error, qpin_qmp_exit_code(error));
            return pin_failed(s, wrapped, "paused (pinned and verified)", FALSE);
        }
        qpin_report_timing(s->report, "cont", qpin_ms_since(t1));
        running = TRUE;
    }
    s->report->state = g_strdup(running ? "running" : "paused");
    s->report->qmp_commands = qmp_client_commands_sent(qmp);
    qpin_flow_name_threads(s);
    return qpin_output(s, stdout) ? QPIN_EXIT_OK : QPIN_EXIT_FAILURE;
}
