/* qpin — printing what run, plan and pin computed, see output.h. */
#include "output.h"

#include "error.h"
#include "qpin.h"

QpinOptions *qpin_output_options(QpinCommandKind command, int argc, char **argv, int *exit_code)
{
    GError *error = NULL;
    g_autoptr(QpinOptions) opt = qpin_options_parse(command, argc, argv, &error);
    if (!opt) {
        *exit_code = qpin_output_error(error, QPIN_EXIT_USAGE);
        return NULL;
    }
    if (opt->help) {
        fputs(opt->help, stdout);
        *exit_code = QPIN_EXIT_OK;
        return NULL;
    }
    return g_steal_pointer(&opt);
}

int qpin_output_error(GError *error, int fallback)
{
    int code = qpin_error_exit_code(error, fallback);
    qpin_err("%s", error->message);
    g_error_free(error);
    return code;
}

void qpin_output_warnings(const QpinFlow *s)
{
    for (guint i = 0; i < s->report->warnings->len; i++)
        qpin_warn("%s", (const char *)s->report->warnings->pdata[i]);
}

static gboolean write_report_file(const QpinFlow *s)
{
    if (!s->opt->report)
        return TRUE;
    GError *error = NULL;
    if (!qpin_report_write(s->report, s->opt->report, &error)) {
        qpin_err("%s", error->message);
        g_error_free(error);
        return FALSE;
    }
    return TRUE;
}

void qpin_output_report_file(const QpinFlow *s)
{
    write_report_file(s);
}

gboolean qpin_output(const QpinFlow *s, FILE *table)
{
    const QpinOptions *o = s->opt;
    if (!o->quiet && !(o->json && table == stdout)) {
        g_autoptr(GString) text = g_string_new(NULL);
        qpin_report_format(s->report, text);
        fputs(text->str, table);
        fflush(table);
    }
    if (o->json) {
        json_object *doc = qpin_report_to_json(s->report);
        fputs(json_object_to_json_string_ext(doc, QPIN_JSON_FLAGS), stdout);
        fputc('\n', stdout);
        fflush(stdout);
        json_object_put(doc);
    }
    return write_report_file(s);
}
