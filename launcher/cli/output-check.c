/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — drawing the host audit, see qpin-output-check.h. */
#include "qpin-output-check.h"

#include "qpin-cli.h"
#include "qpin-error.h"
#include "qpin-file-write.h"
#include "qpin-output-report.h"

#include <string.h>

static const char *const groups[] = {"cpu", "irq", "kthread", "workqueue", "mm", "sched"};

/* Appends @text to @out, broken at spaces (or, for a word longer than a line, anywhere) so
 * that no line passes @width; the first line starts after @first_used columns already
 * written, the others after @indent spaces. */
static void wrap(GString *out, const char *text, guint first_used, guint indent, guint width)
{
    guint used = first_used;
    const char *p = text;
    gboolean line_start = TRUE;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        gsize word = strcspn(p, " ");
        guint room = width > used ? width - used : 0;
        guint need = (guint)word + (line_start ? 0 : 1);
        if (need > room && !line_start) {
            g_string_append_c(out, '\n');
            g_string_append_printf(out, "%*s", indent, "");
            used = indent;
            line_start = TRUE;
            continue;
        }
        if (!line_start) {
            g_string_append_c(out, ' ');
            used++;
        }
        /* A word longer than a whole line is cut where the line ends. */
        guint take = (guint)word;
        if (take > width - used && width > used + 10)
            take = width - used;
        g_string_append_len(out, p, take);
        used += take;
        p += take;
        line_start = FALSE;
        if (take < word) {
            g_string_append_c(out, '\n');
            g_string_append_printf(out, "%*s", indent, "");
            used = indent;
            line_start = TRUE;
        }
    }
    g_string_append_c(out, '\n');
}

static void counts(const QpinAuditResult *r, guint n[4])
{
    memset(n, 0, 4 * sizeof(guint));
    for (guint i = 0; i < r->checks->len; i++)
        n[((QpinAuditCheck *)r->checks->pdata[i])->status]++;
}

void qpin_output_check_table(const QpinAuditResult *r, const char *source, guint width,
                             GString *out)
{
    if (!width)
        width = 80;
    g_autofree char *v = topo_cpuset_describe(r->vcpu_cpus, TRUE, "none");
    g_autofree char *h = topo_cpuset_describe(r->housekeeping_cpus, TRUE, "none");
    g_autofree char *head = g_strdup_printf(
        "host %s; map%s%s: vCPU CPUs %s, housekeeping CPUs %s%s", r->sysroot, source ? " of " : "",
        source ? source : "", v, h, r->rt ? ", real-time vCPUs" : "");
    wrap(out, head, 0, 2, width);
    for (gsize g = 0; g < G_N_ELEMENTS(groups); g++) {
        gboolean header = FALSE;
        for (guint i = 0; i < r->checks->len; i++) {
            const QpinAuditCheck *c = r->checks->pdata[i];
            if (strcmp(c->group, groups[g]))
                continue;
            if (!header) {
                g_string_append_printf(out, "\n%s\n", groups[g]);
                header = TRUE;
            }
            /* "  FAIL     cpu.isolated        observed..." */
            g_autofree char *status = g_ascii_strup(qpin_audit_status_name(c->status), -1);
            g_string_append_printf(out, "  %-8s %-18s ", status, c->id);
            wrap(out, c->observed, 30, 30, width);
            g_string_append_printf(out, "%30s", "");
            g_string_append(out, "expected: ");
            wrap(out, c->expected, 40, 32, width);
            if (c->fix) {
                g_string_append_printf(out, "%30s", "");
                g_string_append(out, "fix: ");
                wrap(out, c->fix, 35, 32, width);
            }
        }
    }
    guint n[4];
    counts(r, n);
    g_string_append_printf(out, "\nverdict: %s (%u fail, %u warn, %u unknown, %u pass)\n",
                           qpin_audit_status_name(r->verdict), n[QPIN_AUDIT_FAIL],
                           n[QPIN_AUDIT_WARN], n[QPIN_AUDIT_UNKNOWN], n[QPIN_AUDIT_PASS]);
}

json_object *qpin_output_check_json(const QpinAuditResult *r, const char *source)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "schema_version", json_object_new_int(QPIN_CHECK_SCHEMA_VERSION));
    json_object_object_add(o, "verdict",
                           json_object_new_string(qpin_audit_status_name(r->verdict)));
    json_object_object_add(o, "sysroot", json_object_new_string(r->sysroot));
    json_object_object_add(o, "source", source ? json_object_new_string(source) : NULL);
    json_object_object_add(o, "vcpu_cpus", qpin_output_json_cpuset(r->vcpu_cpus));
    json_object_object_add(o, "housekeeping_cpus", qpin_output_json_cpuset(r->housekeeping_cpus));
    json_object_object_add(o, "rt", json_object_new_boolean(r->rt));
    json_object *checks = json_object_new_array();
    for (guint i = 0; i < r->checks->len; i++) {
        const QpinAuditCheck *c = r->checks->pdata[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "id", json_object_new_string(c->id));
        json_object_object_add(j, "group", json_object_new_string(c->group));
        json_object_object_add(j, "status",
                               json_object_new_string(qpin_audit_status_name(c->status)));
        json_object_object_add(j, "observed", json_object_new_string(c->observed));
        json_object_object_add(j, "expected", json_object_new_string(c->expected));
        json_object_object_add(j, "evidence", json_object_new_string(c->evidence));
        json_object_object_add(j, "fix", c->fix ? json_object_new_string(c->fix) : NULL);
        json_object_array_add(checks, j);
    }
    json_object_object_add(o, "checks", checks);
    return o;
}

gboolean qpin_output_check(const QpinAuditResult *r, const char *source, gboolean json)
{
    g_autoptr(GString) text = g_string_new(NULL);
    if (json) {
        json_object *doc = qpin_output_check_json(r, source);
        g_string_append(text, json_object_to_json_string_ext(doc, QPIN_JSON_FLAGS));
        g_string_append_c(text, '\n');
        json_object_put(doc);
    } else {
        qpin_output_check_table(r, source, 80, text);
    }
    GError *error = NULL;
    if (!qpin_stream_write(stdout, text->str, &error)) {
        qpin_err("%s", error->message);
        g_error_free(error);
        return FALSE;
    }
    return TRUE;
}

void qpin_output_check_warnings(const QpinAuditResult *r, gboolean skip_fails)
{
    for (guint i = 0; i < r->checks->len; i++) {
        const QpinAuditCheck *c = r->checks->pdata[i];
        if (c->status == QPIN_AUDIT_PASS || (skip_fails && c->status == QPIN_AUDIT_FAIL))
            continue;
        qpin_warn("check %s %s: %s%s%s", c->id, qpin_audit_status_name(c->status), c->observed,
                  c->fix ? "; fix: " : "", c->fix ? c->fix : "");
    }
}

GError *qpin_output_check_refusal(const QpinAuditResult *r)
{
    g_autoptr(GString) text = g_string_new("the host fails the check of this map, so the guest "
                                           "is not started (--check=strict):");
    for (guint i = 0; i < r->checks->len; i++) {
        const QpinAuditCheck *c = r->checks->pdata[i];
        if (c->status != QPIN_AUDIT_FAIL)
            continue;
        g_string_append_printf(text, "\n  %s: %s; expected %s", c->id, c->observed, c->expected);
        if (c->fix)
            g_string_append_printf(text, "\n    fix: %s", c->fix);
    }
    return g_error_new_literal(QPIN_ERROR, QPIN_ERROR_CHECK, text->str);
}
