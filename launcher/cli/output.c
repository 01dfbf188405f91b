/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — printing what run, plan and pin computed, see qpin-output.h. */
#include "qpin-output.h"

#include "qpin-error.h"
#include "qpin-file-write.h"
#include "qpin-output-report.h"
#include "qpin-cli.h"

QpinOptions *qpin_output_options(QpinCommandKind command, int argc, char **argv, int *exit_code)
{
    GError *error = NULL;
    g_autoptr(QpinOptions) opt = qpin_options_parse(command, argc, argv, &error);
    if (!opt) {
        *exit_code = qpin_output_error(error, QPIN_EXIT_USAGE);
        return NULL;
    }
    if (opt->help) {
        *exit_code = qpin_stream_write(stdout, opt->help, &error)
                         ? QPIN_EXIT_OK
                         : qpin_output_error(error, QPIN_EXIT_FAILURE);
        return NULL;
    }
    return g_steal_pointer(&opt);
}

int qpin_output_error(GError *error, int fallback)
{
    int code = qpin_exit_status(error, fallback);
    qpin_err("%s", error->message);
    g_error_free(error);
    return code;
}

void qpin_output_warnings(const QpinFlow *s)
{
    for (guint i = 0; i < s->report->warnings->len; i++)
        qpin_warn("%s", (const char *)s->report->warnings->pdata[i]);
}

gboolean qpin_output_report_file(const QpinFlow *s)
{
    if (!s->opt->report)
        return TRUE;
    GError *error = NULL;
    if (!qpin_output_report_write(s->report, s->opt->report, &error)) {
        qpin_output_error(error, QPIN_EXIT_FAILURE);
        return FALSE;
    }
    return TRUE;
}

gboolean qpin_output(const QpinFlow *s, FILE *table)
{
    const QpinOptions *o = s->opt;
    gboolean ok = TRUE;
    GError *error = NULL;
    /* --bare-metal adds its commands to the table; with -q they are all that is printed. */
    if ((!o->quiet || o->bare_metal) && !(o->json && table == stdout)) {
        g_autoptr(GString) text = g_string_new(NULL);
        if (!o->quiet)
            qpin_output_report_table(s->report, text);
        if (o->bare_metal)
            qpin_output_bare_metal_text(s->report->bare_metal, text);
        if (!qpin_stream_write(table, text->str, &error)) {
            /* When the table goes to a broken stderr, saying so there is lost as well: the
             * warning also reaches the JSON document and the --report file written next. */
            if (table == stderr)
                g_ptr_array_add(s->report->warnings, g_strdup(error->message));
            qpin_output_error(error, QPIN_EXIT_FAILURE);
            ok = FALSE;
        }
    }
    if (o->json) {
        g_autofree char *text = qpin_output_report_text(s->report);
        if (!qpin_stream_write(stdout, text, &error)) {
            qpin_output_error(error, QPIN_EXIT_FAILURE);
            ok = FALSE;
        }
    }
    /* Written even when the table or the document could not be: it is a separate file. */
    if (!qpin_output_report_file(s))
        ok = FALSE;
    return ok;
}

void qpin_output_host_warnings(const TopoHost *host)
{
    for (guint i = 0; host && host->warnings && i < host->warnings->len; i++)
        qpin_warn("%s", (const char *)host->warnings->pdata[i]);
}

int qpin_output_failure(QpinFlow *s, GError *error, gboolean name_threads,
                        QpinAftermathFunc aftermath, gpointer data)
{
    int code = qpin_exit_status(error, QPIN_EXIT_FAILURE);
    qpin_err("%s", error->message);
    g_free(s->report->error);
    s->report->error = g_strdup(error->message);
    g_error_free(error);
    if (name_threads && s->opt->report)
        qpin_flow_name_threads(s);
    else
        qpin_flow_fill_report(s);
    if (aftermath)
        code = aftermath(data, code);
    qpin_output_report_file(s);
    return code;
}
