/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — qpin top's frame, JSON line and textfile, see qpin-output-top.h. */
#include "qpin-output-top.h"

#include "qpin-size.h"
#include "qpin-output-memory.h"
#include "qpin-output-report.h"

#include <json-c/json.h>

#include <math.h>
#include <string.h>

/* ---- text ---- */

static char *cpus_text(const TopoCpuSet *set)
{
    return set ? topo_cpuset_format(set) : g_strdup("-");
}

static const char *const sort_names[] = {
    [QPIN_TOP_SORT_INDEX] = "index",
    [QPIN_TOP_SORT_USAGE] = "usage",
    [QPIN_TOP_SORT_STEAL] = "steal",
    [QPIN_TOP_SORT_CPU] = "cpu",
};

gboolean qpin_output_top_sort_parse(const char *name, QpinTopSort *sort)
{
    for (guint i = 0; name && i < G_N_ELEMENTS(sort_names); i++)
        if (!strcmp(name, sort_names[i])) {
            *sort = (QpinTopSort)i;
            return TRUE;
        }
    return FALSE;
}

const char *qpin_output_top_sort_name(QpinTopSort sort)
{
    return (guint)sort < G_N_ELEMENTS(sort_names) ? sort_names[sort] : "index";
}

typedef struct {
    QpinTopSort sort;
    gboolean drift_first;
} SortBy;

static int cmp_desc(double x, double y)
{
    return x > y ? -1 : x < y;
}

static gint by_key(gconstpointer a, gconstpointer b, gpointer data)
{
    const QpinTopThread *x = *(QpinTopThread *const *)a, *y = *(QpinTopThread *const *)b;
    const SortBy *by = data;
    if (by->drift_first && x->drift != y->drift)
        return x->drift ? -1 : 1;
    int c = 0;
    switch (by->sort) {
    case QPIN_TOP_SORT_USAGE:
        c = cmp_desc(x->usage_pct, y->usage_pct);
        break;
    case QPIN_TOP_SORT_STEAL:
        c = cmp_desc(x->steal_pct, y->steal_pct);
        break;
    case QPIN_TOP_SORT_CPU:
        c = x->last_cpu < y->last_cpu ? -1 : x->last_cpu > y->last_cpu;
        break;
    case QPIN_TOP_SORT_INDEX:
        break;
    }
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void thread_row(const QpinTopThread *t, const char *first, GString *out)
{
    g_autofree char *cpus = cpus_text(t->cpus);
    g_autofree char *migr =
        t->migrations < 0 ? g_strdup("-") : g_strdup_printf("%" G_GINT64_FORMAT, t->migrations);
    g_autofree char *exits = t->has_exits ? g_strdup_printf("%.0f", t->exits_per_s) : g_strdup("-");
    g_string_append_printf(out, "%-16s %8d %-12s %4d %6.1f %6.1f %5s %8.1f %8.1f %9s  %s\n", first,
                           (int)t->tid, cpus, t->last_cpu, t->usage_pct, t->steal_pct, migr,
                           t->nvcsw_per_s, t->nivcsw_per_s, exits, t->drift ? t->drift_reason : "");
}

static const char thread_header[] = "%-16s %8s %-12s %4s %6s %6s %5s %8s %8s %9s  %s\n";

/* The backend's QEMU object id, else its address in QEMU: stable while QEMU runs. */
static char *memory_name(const QpinMemPlacement *p)
{
    if (p->backend_id)
        return g_strdup(p->backend_id);
    return g_strdup_printf("0x%" G_GINT64_MODIFIER "x", p->address);
}

static const char *memory_status(const QpinMemPlacement *p)
{
    if (!p->ok)
        return "OFF NODE";
    if (!p->found)
        return "not found";
    return p->bound_nodes ? "ok" : "not judged";
}

/* Per guest memory backend: where its pages lie per host node, and whether any lie off the
 * nodes it is bound to. */
static void memory_table(const QpinTop *top, GString *out)
{
    g_string_append_printf(out, "\n%-16s %5s %9s %-14s %-6s %9s  %-24s %s\n", "MEMORY", "GUEST",
                           "SIZE", "POLICY", "BOUND", "RESIDENT", "HOST NODES", "STATUS");
    for (guint i = 0; top->memory && i < top->memory->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(top->memory, i);
        g_autofree char *name = memory_name(p);
        g_autofree char *guest =
            p->guest_node >= 0 ? g_strdup_printf("%d", p->guest_node) : g_strdup("-");
        g_autofree char *size = qpin_size_format_human(p->size_bytes);
        g_autofree char *bound = p->bound_nodes ? topo_cpuset_format(p->bound_nodes) : NULL;
        g_autofree char *resident = qpin_size_format_human(p->resident_bytes);
        g_autofree char *per = qpin_output_memory_pages_text(p->pages_per_node, p->page_kib);
        g_string_append_printf(out, "%-16s %5s %9s %-14s %-6s %9s  %-24s %s%s%s\n", name, guest,
                               size, p->policy ? p->policy : "-", bound ? bound : "?",
                               p->found ? resident : "-", per,
                               memory_status(p), p->problem ? ": " : "",
                               p->problem ? p->problem : "");
    }
    if (!top->memory || !top->memory->len)
        g_string_append(out, "(no guest memory backend found)\n");
}

void qpin_output_top_text(const QpinTop *top, QpinTopSort sort, gboolean drift_first,
                          guint max_vcpus, GString *out)
{
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(top->time_ns / 1000000000);
    g_autofree char *clock = when ? g_date_time_format(when, "%H:%M:%S") : g_strdup("?");
    guint drifted = 0;
    for (guint i = 0; i < top->threads->len; i++)
        drifted += ((const QpinTopThread *)g_ptr_array_index(top->threads, i))->drift;
    g_string_append_printf(
        out,
        "qpin top - %s UTC  QEMU %d  interval %.2f s  vCPUs %u  emulator %u  "
        "iothreads %u  drift %u\n\n",
        clock, (int)top->pid, top->interval_s, qpin_top_count(top, QPIN_TOP_VCPU),
        qpin_top_count(top, QPIN_TOP_EMULATOR), qpin_top_count(top, QPIN_TOP_IOTHREAD), drifted);

    g_autoptr(GPtrArray) vcpus = g_ptr_array_new();
    g_autoptr(GPtrArray) others = g_ptr_array_new();
    for (guint i = 0; i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        g_ptr_array_add(t->kind == QPIN_TOP_VCPU ? vcpus : others, t);
    }
    SortBy by = {sort, drift_first};
    g_ptr_array_sort_with_data(vcpus, by_key, &by);
    g_string_append_printf(out, thread_header, "VCPU", "TID", "CPUS", "LAST", "USAGE%", "STEAL%",
                           "MIGR", "VCSW/s", "IVCSW/s", "EXITS/s", "DRIFT");
    guint shown = max_vcpus && max_vcpus < vcpus->len ? max_vcpus : vcpus->len;
    for (guint i = 0; i < shown; i++) {
        const QpinTopThread *t = g_ptr_array_index(vcpus, i);
        g_autofree char *first = g_strdup_printf("%d", t->index);
        thread_row(t, first, out);
    }
    if (shown < vcpus->len)
        g_string_append_printf(out, "... %u more vCPUs (sorted by %s)\n", vcpus->len - shown,
                               qpin_output_top_sort_name(sort));

    g_string_append_c(out, '\n');
    g_string_append_printf(out, thread_header, "THREAD", "TID", "CPUS", "LAST", "USAGE%", "STEAL%",
                           "MIGR", "VCSW/s", "IVCSW/s", "", "DRIFT");
    for (guint i = 0; i < others->len; i++) {
        const QpinTopThread *t = g_ptr_array_index(others, i);
        g_autofree char *first = t->kind == QPIN_TOP_IOTHREAD
                                     ? g_strdup_printf("io %s", t->id ? t->id : "?")
                                     : g_strdup_printf("%.16s", t->name ? t->name : "?");
        thread_row(t, first, out);
    }

    if (top->host_cpus->len) {
        g_string_append_printf(out, "\n%-8s %10s %10s %10s\n", "HOST CPU", "LOC/s", "IRQ/s",
                               "OTHER/s");
        for (guint i = 0; i < top->host_cpus->len; i++) {
            const QpinTopHostCpu *h = &g_array_index(top->host_cpus, QpinTopHostCpu, i);
            g_string_append_printf(out, "%-8d %10.1f %10.1f %10.1f\n", h->cpu, h->loc_per_s,
                                   h->irq_per_s, h->other_per_s);
        }
    }
    if (top->memory_source)
        memory_table(top, out);
}

/* ---- JSON ---- */

static json_object *json_rate(double value)
{
    if (!isfinite(value))
        value = 0;
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(text, sizeof(text), "%.2f", value);
    return json_object_new_double_s(value, text);
}

static json_object *thread_json(const QpinTopThread *t)
{
    json_object *o = json_object_new_object();
    if (t->kind == QPIN_TOP_VCPU) {
        json_object_object_add(o, "index", json_object_new_int(t->index));
    } else {
        json_object_object_add(o, "kind", json_object_new_string(qpin_top_kind_name(t->kind)));
        json_object_object_add(o, "id", t->id ? json_object_new_string(t->id) : NULL);
        json_object_object_add(o, "name", json_object_new_string(t->name ? t->name : ""));
    }
    json_object_object_add(o, "thread_id", json_object_new_int64(t->tid));
    json_object_object_add(o, "cpus", qpin_output_json_cpuset(t->cpus));
    json_object_object_add(o, "plan", qpin_output_json_cpuset(t->plan));
    json_object_object_add(o, "last_cpu", json_object_new_int(t->last_cpu));
    json_object_object_add(o, "usage_pct", json_rate(t->usage_pct));
    json_object_object_add(o, "steal_pct", json_rate(t->steal_pct));
    json_object_object_add(o, "migrations",
                           t->migrations < 0 ? NULL : json_object_new_int64(t->migrations));
    json_object_object_add(o, "nvcsw_per_s", json_rate(t->nvcsw_per_s));
    json_object_object_add(o, "nivcsw_per_s", json_rate(t->nivcsw_per_s));
    json_object_object_add(o, "drift", json_object_new_boolean(t->drift));
    json_object_object_add(o, "drift_reason",
                           t->drift_reason ? json_object_new_string(t->drift_reason) : NULL);
    if (t->kind == QPIN_TOP_VCPU && t->has_exits)
        json_object_object_add(o, "kvm_exits_per_s", json_rate(t->exits_per_s));
    return o;
}

static json_object *memory_json(const QpinMemPlacement *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "guest_node",
                           p->guest_node >= 0 ? json_object_new_int(p->guest_node) : NULL);
    json_object_object_add(o, "backend_id",
                           p->backend_id ? json_object_new_string(p->backend_id) : NULL);
    g_autofree char *address = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", p->address);
    json_object_object_add(o, "address", p->found ? json_object_new_string(address) : NULL);
    json_object_object_add(o, "size_bytes", json_object_new_uint64(p->size_bytes));
    json_object_object_add(o, "found", json_object_new_boolean(p->found));
    json_object_object_add(o, "policy", json_object_new_string(p->policy ? p->policy : ""));
    json_object_object_add(o, "bound_nodes", qpin_output_json_cpuset(p->bound_nodes));
    json_object_object_add(o, "resident_bytes", json_object_new_uint64(p->resident_bytes));
    json_object_object_add(o, "nodes",
                           qpin_output_memory_pages_json(p->pages_per_node, p->page_kib));
    json_object_object_add(o, "off_node", json_object_new_boolean(!p->ok));
    json_object_object_add(o, "problem", p->problem ? json_object_new_string(p->problem) : NULL);
    return o;
}

char *qpin_output_top_json(const QpinTop *top)
{
    g_autoptr(QmpJson) o = json_object_new_object();
    json_object_object_add(o, "schema_version", json_object_new_int(QPIN_TOP_SCHEMA_VERSION));
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(top->time_ns / 1000000000);
    g_autofree char *secs = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%S") : NULL;
    g_autofree char *time = g_strdup_printf("%s.%03dZ", secs ? secs : "1970-01-01T00:00:00",
                                            (int)(top->time_ns % 1000000000 / 1000000));
    json_object_object_add(o, "time", json_object_new_string(time));
    json_object_object_add(o, "interval_s", json_rate(top->interval_s));
    json_object_object_add(o, "qemu_pid", json_object_new_int(top->pid));
    json_object_object_add(o, "source", json_object_new_string(top->source));
    json_object *vcpus = json_object_new_array();
    json_object *emulator = json_object_new_array();
    for (guint i = 0; i < top->threads->len; i++) {
        const QpinTopThread *t = g_ptr_array_index(top->threads, i);
        json_object_array_add(t->kind == QPIN_TOP_VCPU ? vcpus : emulator, thread_json(t));
    }
    json_object_object_add(o, "vcpus", vcpus);
    json_object_object_add(o, "emulator", emulator);
    json_object *hosts = json_object_new_array();
    for (guint i = 0; i < top->host_cpus->len; i++) {
        const QpinTopHostCpu *h = &g_array_index(top->host_cpus, QpinTopHostCpu, i);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "cpu", json_object_new_int(h->cpu));
        json_object_object_add(e, "loc_per_s", json_rate(h->loc_per_s));
        json_object_object_add(e, "irq_per_s", json_rate(h->irq_per_s));
        json_object_object_add(e, "other_per_s", json_rate(h->other_per_s));
        json_object_array_add(hosts, e);
    }
    json_object_object_add(o, "host_cpus", hosts);
    json_object *memory = json_object_new_array();
    for (guint i = 0; top->memory && i < top->memory->len; i++)
        json_object_array_add(memory, memory_json(g_ptr_array_index(top->memory, i)));
    json_object_object_add(o, "memory", memory);
    json_object_object_add(o, "memory_source",
                           top->memory_source ? json_object_new_string(top->memory_source) : NULL);
    json_object_object_add(o, "kvm_stats", json_object_new_boolean(top->kvm_stats));
    return g_strconcat(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        "\n", NULL);
}

/* ---- Prometheus textfile ---- */

/* Label values escape \, " and newline (the exposition format's rule). */
static void label_value(GString *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(out, '\\');
        if (*p == '\n') {
            g_string_append(out, "\\n");
            continue;
        }
        g_string_append_c(out, *p);
    }
}

typedef struct {
    const char *name;
    const char *help;
    double (*value)(const QpinTopThread *t, gboolean *present);
} ThreadMetric;

static double m_usage(const QpinTopThread *t, gboolean *ok)
{
    return t->usage_pct / 100;
}
static double m_steal(const QpinTopThread *t, gboolean *ok)
{
    return t->steal_pct / 100;
}
static double m_last(const QpinTopThread *t, gboolean *ok)
{
    return t->last_cpu;
}
static double m_vcsw(const QpinTopThread *t, gboolean *ok)
{
    return t->nvcsw_per_s;
}
static double m_ivcsw(const QpinTopThread *t, gboolean *ok)
{
    return t->nivcsw_per_s;
}
static double m_drift(const QpinTopThread *t, gboolean *ok)
{
    return t->drift;
}
static double m_migr(const QpinTopThread *t, gboolean *ok)
{
    *ok = t->migrations >= 0;
    return (double)t->migrations;
}
static double m_exits(const QpinTopThread *t, gboolean *ok)
{
    *ok = t->has_exits;
    return t->exits_per_s;
}

static const ThreadMetric thread_metrics[] = {
    {"usage_ratio", "share of one host CPU the thread used over the interval", m_usage},
    {"steal_ratio", "share of the interval the thread waited on a run queue", m_steal},
    {"last_cpu", "host CPU the thread last ran on", m_last},
    {"migrations", "migrations between host CPUs in the interval", m_migr},
    {"voluntary_switches_per_second", "voluntary context switches per second", m_vcsw},
    {"involuntary_switches_per_second", "involuntary context switches per second", m_ivcsw},
    {"drift", "1 when the allowed CPUs or the last CPU left the plan", m_drift},
    {"kvm_exits_per_second", "KVM exits per second (query-stats)", m_exits},
};

static void thread_labels(GString *out, const QpinTop *top, const QpinTopThread *t)
{
    g_string_append_printf(out, "{qemu_pid=\"%d\",", (int)top->pid);
    if (t->kind == QPIN_TOP_VCPU) {
        g_string_append_printf(out, "vcpu=\"%d\"", t->index);
    } else {
        g_string_append_printf(out, "kind=\"%s\",name=\"", qpin_top_kind_name(t->kind));
        label_value(out, t->kind == QPIN_TOP_IOTHREAD ? t->id : t->name);
        g_string_append_c(out, '"');
    }
    g_string_append_printf(out, ",thread_id=\"%d\"}", (int)t->tid);
}

static void metric_value(GString *out, double v)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, " %s\n", g_ascii_formatd(text, sizeof(text), "%.6g", v));
}

static void thread_family(GString *out, const QpinTop *top, const ThreadMetric *m, gboolean vcpus)
{
    const char *prefix = vcpus ? "qpin_vcpu_" : "qpin_thread_";
    gboolean header = FALSE;
    for (guint i = 0; i < top->threads->len; i++) {
        const QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if ((t->kind == QPIN_TOP_VCPU) != vcpus)
            continue;
        gboolean present = TRUE;
        double v = m->value(t, &present);
        if (!present)
            continue;
        if (!header) {
            g_string_append_printf(out, "# HELP %s%s %s %s.\n# TYPE %s%s gauge\n", prefix, m->name,
                                   vcpus ? "vCPU:" : "QEMU thread:", m->help, prefix, m->name);
            header = TRUE;
        }
        g_string_append_printf(out, "%s%s", prefix, m->name);
        thread_labels(out, top, t);
        metric_value(out, v);
    }
}

/* guest_node is empty when unknown (QMP and numa_maps do not say); backend the object id, or
 * the address of the mapping. */
static void memory_labels(GString *out, const QpinTop *top, const QpinMemPlacement *p)
{
    g_autofree char *name = memory_name(p);
    g_string_append_printf(out, "{qemu_pid=\"%d\",guest_node=\"", (int)top->pid);
    if (p->guest_node >= 0)
        g_string_append_printf(out, "%d", p->guest_node);
    g_string_append(out, "\",backend=\"");
    label_value(out, name);
    g_string_append(out, "\"}");
}

char *qpin_output_top_prometheus(const QpinTop *top)
{
    GString *out = g_string_new(NULL);
    for (guint m = 0; m < G_N_ELEMENTS(thread_metrics); m++)
        thread_family(out, top, &thread_metrics[m], TRUE);
    for (guint m = 0; m < G_N_ELEMENTS(thread_metrics); m++)
        thread_family(out, top, &thread_metrics[m], FALSE);

    static const struct {
        const char *name, *help;
        gsize offset;
    } host[] = {
        {"local_timer_interrupts_per_second", "LOC interrupts per second",
         G_STRUCT_OFFSET(QpinTopHostCpu, loc_per_s)},
        {"device_interrupts_per_second", "device interrupts per second",
         G_STRUCT_OFFSET(QpinTopHostCpu, irq_per_s)},
        {"other_interrupts_per_second", "other interrupts (RES, CAL, TLB ...) per second",
         G_STRUCT_OFFSET(QpinTopHostCpu, other_per_s)},
    };
    for (guint m = 0; top->host_cpus->len && m < G_N_ELEMENTS(host); m++) {
        g_string_append_printf(out,
                               "# HELP qpin_host_cpu_%s Host CPU of the map: %s.\n"
                               "# TYPE qpin_host_cpu_%s gauge\n",
                               host[m].name, host[m].help, host[m].name);
        for (guint i = 0; i < top->host_cpus->len; i++) {
            const QpinTopHostCpu *h = &g_array_index(top->host_cpus, QpinTopHostCpu, i);
            g_string_append_printf(out, "qpin_host_cpu_%s{qemu_pid=\"%d\",cpu=\"%d\"}",
                                   host[m].name, (int)top->pid, h->cpu);
            metric_value(out, G_STRUCT_MEMBER(double, h, host[m].offset));
        }
    }
    if (top->memory && top->memory->len) {
        g_string_append(out, "# HELP qpin_memory_resident_bytes Guest memory backend: resident "
                             "bytes per host node.\n# TYPE qpin_memory_resident_bytes gauge\n");
        for (guint i = 0; i < top->memory->len; i++) {
            const QpinMemPlacement *p = g_ptr_array_index(top->memory, i);
            for (guint n = 0; n < p->pages_per_node->len; n++) {
                guint64 pages = g_array_index(p->pages_per_node, guint64, n);
                if (!pages)
                    continue;
                g_string_append(out, "qpin_memory_resident_bytes");
                memory_labels(out, top, p);
                g_string_truncate(out, out->len - 1);
                g_string_append_printf(out, ",host_node=\"%u\"}", n);
                metric_value(out, (double)(pages * p->page_kib * 1024));
            }
        }
        g_string_append(out, "# HELP qpin_memory_off_node Guest memory backend: 1 when pages "
                             "lie off its bound host nodes.\n# TYPE qpin_memory_off_node gauge\n");
        for (guint i = 0; i < top->memory->len; i++) {
            const QpinMemPlacement *p = g_ptr_array_index(top->memory, i);
            g_string_append(out, "qpin_memory_off_node");
            memory_labels(out, top, p);
            metric_value(out, !p->ok);
        }
    }
    g_string_append_printf(out,
                           "# HELP qpin_top_sample_timestamp_seconds When qpin top took "
                           "this sample.\n# TYPE qpin_top_sample_timestamp_seconds gauge\n"
                           "qpin_top_sample_timestamp_seconds{qemu_pid=\"%d\"}",
                           (int)top->pid);
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, " %s\n",
                           g_ascii_formatd(text, sizeof(text), "%.3f", (double)top->time_ns / 1e9));
    return g_string_free(out, FALSE);
}
