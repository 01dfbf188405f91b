/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the report model of run, plan and pin, see qpin-report.h. */
#include "qpin-report.h"

#include "qpin-file-write.h"

#include <stdarg.h>
#include <string.h>

static void report_vcpu_free(QpinReportVcpu *v)
{
    if (!v)
        return;
    g_free(v->thread_name);
    topo_cpuset_free(v->cpus);
    topo_cpuset_free(v->cpus_actual);
    g_free(v->sched);
    g_free(v->sched_actual);
    g_free(v);
}

static void report_thread_free(QpinReportThread *t)
{
    if (!t)
        return;
    g_free(t->id);
    g_free(t->name);
    topo_cpuset_free(t->cpus);
    topo_cpuset_free(t->cpus_actual);
    g_free(t);
}

QpinNote *qpin_note_new(const char *kind, const char *fmt, ...)
{
    QpinNote *note = g_new0(QpinNote, 1);
    va_list ap;
    va_start(ap, fmt);
    note->kind = kind;
    note->text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return note;
}

void qpin_note_free(QpinNote *note)
{
    if (!note)
        return;
    g_free(note->text);
    g_free(note);
}

QpinReport *qpin_report_new(const char *command)
{
    QpinReport *r = g_new0(QpinReport, 1);
    r->command = g_strdup(command);
    r->vcpus = g_ptr_array_new_with_free_func((GDestroyNotify)report_vcpu_free);
    r->emulator = g_ptr_array_new_with_free_func((GDestroyNotify)report_thread_free);
    r->iothreads = g_ptr_array_new_with_free_func((GDestroyNotify)report_thread_free);
    r->timings = g_array_new(FALSE, FALSE, sizeof(QpinTiming));
    r->warnings = g_ptr_array_new_with_free_func(g_free);
    r->notes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_note_free);
    r->explain = g_ptr_array_new_with_free_func(g_free);
    return r;
}

void qpin_report_free(QpinReport *r)
{
    if (!r)
        return;
    g_free(r->command);
    g_free(r->qemu_version);
    g_strfreev(r->qemu_argv);
    g_free(r->qmp);
    g_free(r->map);
    g_free(r->vcpu_sched);
    g_ptr_array_unref(r->vcpus);
    topo_cpuset_free(r->emulator_cpus);
    g_ptr_array_unref(r->emulator);
    g_ptr_array_unref(r->iothreads);
    g_array_unref(r->timings);
    g_ptr_array_unref(r->warnings);
    g_ptr_array_unref(r->notes);
    qpin_bare_metal_free(r->bare_metal);
    g_ptr_array_unref(r->explain);
    g_free(r->state);
    g_free(r->error);
    if (r->memory_placements)
        g_ptr_array_unref(r->memory_placements);
    g_free(r);
}

QpinReportVcpu *qpin_report_add_vcpu(QpinReport *report)
{
    QpinReportVcpu *v = g_new0(QpinReportVcpu, 1);
    v->props = (TopoVcpu){
        .index = -1, .socket = -1, .die = -1, .cluster = -1, .core = -1, .thread = -1, .node = -1};
    g_ptr_array_add(report->vcpus, v);
    return v;
}

QpinReportThread *qpin_report_add_thread(GPtrArray *threads)
{
    QpinReportThread *t = g_new0(QpinReportThread, 1);
    g_ptr_array_add(threads, t);
    return t;
}

void qpin_report_timing(QpinReport *report, const char *name, double ms)
{
    for (guint i = 0; i < report->timings->len; i++) {
        QpinTiming *t = &g_array_index(report->timings, QpinTiming, i);
        if (!strcmp(t->name, name)) {
            t->ms = ms;
            return;
        }
    }
    QpinTiming t = {name, ms};
    g_array_append_val(report->timings, t);
}

gboolean qpin_report_path_check(const char *path, GError **error)
{
    if (!qpin_file_write_check(path, error)) {
        g_prefix_error(error, "--report ");
        return FALSE;
    }
    return TRUE;
}
