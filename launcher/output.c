/* qpin — printing what run, plan and pin computed, see output.h. */
#include "output.h"

#include "qpin.h"

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
