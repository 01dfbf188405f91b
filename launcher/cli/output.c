/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — printing what run, plan and pin computed, see qpin-output.h. */
#include "qpin-output.h"

#include "qpin-error.h"
#include "qpin-file-write.h"
#include "qpin-output-report.h"
#include "qpin-cli.h"
#include "qpin-help.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

QpinOptions *qpin_output_options(QpinCommandKind command, int argc, char **argv,
                                 const QpinHelp *help, int *exit_code)
{
    GError *error = NULL;
    g_autoptr(QpinOptions) opt = qpin_options_parse(command, argc, argv, &error);
    if (!opt) {
        *exit_code = qpin_output_error(error, QPIN_EXIT_USAGE);
        return NULL;
    }
    if (opt->help) {
        g_autofree GOptionEntry *entries = qpin_options_entries(command);
        QpinHelp full = help ? *help : (QpinHelp){.command = qpin_command_name(command)};
        full.options = entries;
        *exit_code = qpin_help_print(&full);
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

/* Whether the grid may use colour on @stream: a terminal, unless NO_COLOR is set
 * (https://no-color.org) or TERM says it cannot. */
static gboolean output_colour(FILE *stream)
{
    int fd = fileno(stream);
    const char *term = g_getenv("TERM");
    return fd >= 0 && isatty(fd) && !g_getenv("NO_COLOR") && term && *term &&
           strcmp(term, "dumb") != 0;
}

/* The width the grid may use: the terminal's when @stream is one, else 80. */
static guint output_width(FILE *stream)
{
    struct winsize ws;
    int fd = fileno(stream);
    if (fd >= 0 && isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

gboolean qpin_output(const QpinFlow *s, FILE *table)
{
    const QpinOptions *o = s->opt;
    gboolean ok = TRUE;
    GError *error = NULL;
    /* --bare-metal adds its commands to the table; with -q they are all that is printed. */
    if ((!o->quiet || o->bare_metal) && !(o->json && table == stdout)) {
        g_autoptr(GString) text = g_string_new(NULL);
        if (!o->quiet) {
            QpinShow show = QPIN_SHOW_AUTO;
            if (o->show)
                qpin_show_parse(o->show, &show);
            qpin_output_report_human(s->report, show, output_width(table), output_colour(table),
                                     text);
        }
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
