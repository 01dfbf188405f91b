/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — plans and reports as the JSON document, the human table and the --report file, see
 * qpin-output-report.h. */
#include "qpin-output-report.h"

#include "qpin-file-write.h"
#include "qpin-output-grid.h"
#include "qpin-hugepages.h"
#include "qpin-output-memory.h"

#include <string.h>

/* The host nodes and the SMT siblings of @cpus on @host (NULL when unknown). */
static void host_facts(const TopoHost *host, const TopoCpuSet *cpus, TopoCpuSet **nodes,
                       TopoCpuSet **siblings)
{
    *nodes = *siblings = NULL;
    if (!host || !cpus || topo_cpuset_is_empty(cpus))
        return;
    TopoCpuSet *n = topo_cpuset_new(), *s = topo_cpuset_new();
    for (int c = topo_cpuset_first(cpus); c >= 0; c = topo_cpuset_next(cpus, c)) {
        const TopoCpu *cpu = topo_host_cpu(host, c);
        if (!cpu)
            continue;
        if (cpu->node >= 0)
            topo_cpuset_add(n, cpu->node);
        if (cpu->siblings)
            topo_cpuset_union(s, cpu->siblings);
    }
    *nodes = n;
    *siblings = s;
}

/* ---- JSON ---- */

json_object *qpin_output_json_cpuset(const TopoCpuSet *set)
{
    if (!set)
        return NULL;
    g_autofree char *text = topo_cpuset_format(set);
    return json_object_new_string(text);
}

static json_object *json_string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *json_ms(double ms)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(buf, sizeof buf, "%.3f", ms);
    return json_object_new_double_s(g_ascii_strtod(buf, NULL), buf);
}

static json_object *json_strings(const GPtrArray *strings)
{
    json_object *a = json_object_new_array();
    for (guint i = 0; i < strings->len; i++)
        json_object_array_add(a, json_object_new_string(strings->pdata[i]));
    return a;
}

static json_object *vcpu_to_json(const QpinReport *r, const QpinReportVcpu *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "index", json_object_new_int(v->index));
    json_object_object_add(o, "thread_id", json_object_new_int64(v->thread_id));
    if (v->thread_name)
        json_object_object_add(o, "thread_name", json_object_new_string(v->thread_name));
    json_object *props = json_object_new_object();
    const struct {
        const char *name;
        int value;
    } p[] = {
        {"socket", v->props.socket}, {"die", v->props.die},       {"cluster", v->props.cluster},
        {"core", v->props.core},     {"thread", v->props.thread}, {"node", v->props.node},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(p); i++)
        if (p[i].value >= 0)
            json_object_object_add(props, p[i].name, json_object_new_int(p[i].value));
    json_object_object_add(o, "props", props);
    json_object_object_add(o, "cpus", qpin_output_json_cpuset(v->cpus));
    if (v->cpus_actual)
        json_object_object_add(o, "cpus_actual", qpin_output_json_cpuset(v->cpus_actual));
    g_autoptr(TopoCpuSet) nodes = NULL, siblings = NULL;
    host_facts(r->host, v->cpus ? v->cpus : v->cpus_actual, &nodes, &siblings);
    if (nodes)
        json_object_object_add(o, "host_nodes", qpin_output_json_cpuset(nodes));
    if (siblings)
        json_object_object_add(o, "siblings", qpin_output_json_cpuset(siblings));
    if (v->sched)
        json_object_object_add(o, "sched", json_object_new_string(v->sched));
    if (v->sched_actual)
        json_object_object_add(o, "sched_actual", json_object_new_string(v->sched_actual));
    return o;
}

static json_object *thread_to_json(const QpinReportThread *t, gboolean with_cpus)
{
    json_object *o = json_object_new_object();
    if (t->id)
        json_object_object_add(o, "id", json_object_new_string(t->id));
    json_object_object_add(o, "thread_id", json_object_new_int64(t->thread_id));
    if (t->name)
        json_object_object_add(o, "name", json_object_new_string(t->name));
    if (with_cpus)
        json_object_object_add(o, "cpus", qpin_output_json_cpuset(t->cpus));
    if (t->cpus_actual)
        json_object_object_add(o, "cpus_actual", qpin_output_json_cpuset(t->cpus_actual));
    return o;
}

static char *numactl_line(const QpinReport *r)
{
    return r->bare_metal ? g_strjoinv(" ", r->bare_metal->numactl) : NULL;
}

static json_object *json_argv(char **argv)
{
    json_object *a = json_object_new_array();
    for (int i = 0; argv && argv[i]; i++)
        json_object_array_add(a, json_object_new_string(argv[i]));
    return a;
}

/* --mirror: the shape derived from the host. Its bare_metal member holds the numactl and
 * taskset argv of the document's bare_metal object, as documents of this schema_version have
 * always had them there. */
static json_object *mirror_to_json(const QpinReport *r)
{
    const QpinMirror *m = r->mirror;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "spec", json_object_new_string(m->spec));
    json_object_object_add(o, "host_nodes", qpin_output_json_cpuset(m->host_nodes));
    json_object_object_add(o, "cpus", qpin_output_json_cpuset(m->cpus));
    json_object_object_add(o, "smp", json_object_new_string(m->smp));
    json_object_object_add(o, "sockets", json_object_new_int(m->sockets));
    json_object_object_add(o, "dies", json_object_new_int(m->dies));
    json_object_object_add(o, "cores", json_object_new_int(m->cores));
    json_object_object_add(o, "threads", json_object_new_int(m->threads));
    if (r->bare_metal) {
        json_object *bare = json_object_new_object();
        json_object_object_add(bare, "numactl", json_argv(r->bare_metal->numactl));
        json_object_object_add(bare, "taskset", json_argv(r->bare_metal->taskset));
        json_object_object_add(o, "bare_metal", bare);
    }
    return o;
}

/* The bare-metal twin: what gives a host process the guest's CPUs and memory. */
static json_object *bare_metal_to_json(const QpinBareMetal *b)
{
    if (!b)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cpus", qpin_output_json_cpuset(b->cpus));
    json_object_object_add(o, "mems", qpin_output_json_cpuset(b->mems));
    json_object_object_add(
        o, "policy", b->mems ? json_object_new_string(qpin_memory_policy_name(b->policy)) : NULL);
    json_object_object_add(o, "numactl", json_argv(b->numactl));
    json_object_object_add(o, "taskset", json_argv(b->taskset));
    json_object_object_add(o, "srun", json_argv(b->srun));
    json_object *offline = NULL;
    if (b->offline) {
        offline = json_object_new_object();
        json_object_object_add(offline, "cpus", qpin_output_json_cpuset(b->offline));
        json_object_object_add(offline, "argv", json_argv(b->chcpu_offline));
        json_object_object_add(offline, "restore", json_argv(b->chcpu_online));
        json_object_object_add(offline, "kept", qpin_output_json_cpuset(b->kept));
        json_object_object_add(offline, "destructive", json_object_new_boolean(TRUE));
    }
    json_object_object_add(o, "offline_others", offline);
    return o;
}

void qpin_output_bare_metal_text(const QpinBareMetal *b, GString *out)
{
    if (!b) {
        g_string_append(out, "bare metal: no vCPU is pinned, so the guest has no host CPUs of "
                             "its own to give a host process (give --pin or --mirror)\n");
        return;
    }
    g_autofree char *numactl = g_strjoinv(" ", b->numactl);
    g_autofree char *taskset = g_strjoinv(" ", b->taskset);
    g_autofree char *srun = g_strjoinv(" ", b->srun);
    g_string_append(out, "bare metal, the guest's CPUs and memory for a host process:\n");
    g_string_append_printf(out, "  %s COMMAND\n", numactl);
    g_string_append_printf(out, "  %s COMMAND\n", taskset);
    g_string_append_printf(out, "  %s COMMAND\n", srun);
    if (b->offline) {
        g_autofree char *down = g_strjoinv(" ", b->chcpu_offline);
        g_autofree char *up = g_strjoinv(" ", b->chcpu_online);
        g_string_append_printf(out,
                               "  %s\n    (destructive, never run by qpin: offlines every other "
                               "CPU of the host; %s brings them back)\n",
                               down, up);
        if (b->kept) {
            g_autofree char *kept = topo_cpuset_format(b->kept);
            gboolean one = topo_cpuset_count(b->kept) == 1;
            g_string_append_printf(out,
                                   "    (CPU%s %s stay%s online: the kernel cannot take %s offline, "
                                   "%s no online file)\n",
                                   one ? "" : "s", kept, one ? "s" : "", one ? "it" : "them",
                                   one ? "it has" : "they have");
        }
    }
}

json_object *qpin_output_report_json(const QpinReport *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "schema_version", json_object_new_int(QPIN_REPORT_SCHEMA_VERSION));
    json_object_object_add(o, "command", json_object_new_string(r->command));
    if (r->qemu_pid > 0)
        json_object_object_add(o, "qemu_pid", json_object_new_int64(r->qemu_pid));
    if (r->qemu_version)
        json_object_object_add(o, "qemu_version", json_object_new_string(r->qemu_version));
    if (r->qemu_argv) {
        json_object *argv = json_object_new_array();
        for (int i = 0; r->qemu_argv[i]; i++)
            json_object_array_add(argv, json_object_new_string(r->qemu_argv[i]));
        json_object_object_add(o, "qemu_argv", argv);
    }
    if (r->qmp)
        json_object_object_add(o, "qmp", json_object_new_string(r->qmp));
    json_object_object_add(o, "map", json_string_or_null(r->map));
    json_object_object_add(o, "vcpu_sched", json_string_or_null(r->vcpu_sched));
    if (r->host) {
        json_object *host = json_object_new_object();
        json_object_object_add(host, "sysroot", json_string_or_null(r->host->sysroot));
        json_object_object_add(host, "cpus_allowed",
                               qpin_output_json_cpuset(r->host->cpus_allowed));
        json_object_object_add(host, "mems_allowed",
                               qpin_output_json_cpuset(r->host->mems_allowed));
        json_object_object_add(o, "host", host);
    }

    json_object *vcpus = json_object_new_array();
    for (guint i = 0; i < r->vcpus->len; i++)
        json_object_array_add(vcpus, vcpu_to_json(r, r->vcpus->pdata[i]));
    json_object_object_add(o, "vcpus", vcpus);

    json_object *emulator = json_object_new_object();
    json_object_object_add(emulator, "cpus", qpin_output_json_cpuset(r->emulator_cpus));
    json_object *threads = json_object_new_array();
    for (guint i = 0; i < r->emulator->len; i++)
        json_object_array_add(threads, thread_to_json(r->emulator->pdata[i], FALSE));
    json_object_object_add(emulator, "threads", threads);
    json_object_object_add(o, "emulator", emulator);

    json_object *iothreads = json_object_new_array();
    for (guint i = 0; i < r->iothreads->len; i++)
        json_object_array_add(iothreads, thread_to_json(r->iothreads->pdata[i], TRUE));
    json_object_object_add(o, "iothreads", iothreads);

    if (r->numa_nodes)
        json_object_object_add(o, "numa", qpin_output_memory_nodes_json(r->numa_nodes));
    if (r->mirror)
        json_object_object_add(o, "mirror", mirror_to_json(r));
    if (strcmp(r->command, "pin"))
        json_object_object_add(o, "bare_metal", bare_metal_to_json(r->bare_metal));
    if (r->hugepages) {
        json_object *pools = json_object_new_array();
        for (guint i = 0; i < r->hugepages->len; i++) {
            const QpinHugepageGrant *g = &g_array_index(r->hugepages, QpinHugepageGrant, i);
            json_object *p = json_object_new_object();
            json_object_object_add(p, "node", json_object_new_int(g->node));
            json_object_object_add(p, "size_kib", json_object_new_int64((gint64)g->page_kib));
            json_object_object_add(p, "needed", json_object_new_int64((gint64)g->needed));
            json_object_object_add(p, "free_before", json_object_new_int64((gint64)g->free));
            json_object_object_add(p, "nr_before", json_object_new_int64((gint64)g->before));
            json_object_object_add(p, "added", json_object_new_int64((gint64)g->added));
            json_object_object_add(p, "nr_after", json_object_new_int64((gint64)g->after));
            json_object_array_add(pools, p);
        }
        json_object_object_add(o, "hugepages_reserved", pools);
    }
    if (r->memory_placements)
        json_object_object_add(o, "memory",
                               qpin_output_memory_placement_json(r->memory_placements));

    json_object *timings = json_object_new_object();
    for (guint i = 0; i < r->timings->len; i++) {
        const QpinTiming *t = &g_array_index(r->timings, QpinTiming, i);
        json_object_object_add(timings, t->name, json_ms(t->ms));
    }
    json_object_object_add(o, "timings_ms", timings);
    json_object_object_add(o, "qmp_commands", json_object_new_int((int)r->qmp_commands));
    if (r->state)
        json_object_object_add(o, "state", json_object_new_string(r->state));
    json_object_object_add(o, "warnings", json_strings(r->warnings));
    json_object *notes = json_object_new_array();
    for (guint i = 0; i < r->notes->len; i++) {
        const QpinNote *note = r->notes->pdata[i];
        json_object *n = json_object_new_object();
        json_object_object_add(n, "kind", json_object_new_string(note->kind));
        json_object_object_add(n, "text", json_object_new_string(note->text));
        json_object_array_add(notes, n);
    }
    json_object_object_add(o, "notes", notes);
    if (r->explain->len)
        json_object_object_add(o, "explain", json_strings(r->explain));
    if (r->error)
        json_object_object_add(o, "error", json_object_new_string(r->error));
    return o;
}

/* ---- the document as text: --json and the --report file ---- */

char *qpin_output_report_text(const QpinReport *report)
{
    json_object *doc = qpin_output_report_json(report);
    char *text = g_strconcat(json_object_to_json_string_ext(doc, QPIN_JSON_FLAGS), "\n", NULL);
    json_object_put(doc);
    return text;
}

gboolean qpin_output_report_write(const QpinReport *report, const char *path, GError **error)
{
    g_autofree char *text = qpin_output_report_text(report);
    if (!qpin_file_write(path, text, strlen(text), error)) {
        g_prefix_error(error, "cannot write the report ");
        return FALSE;
    }
    return TRUE;
}

/* ---- the human table ---- */

typedef struct {
    guint columns;
    const char *right; /* per column: 'r' right-aligned, 'l' left */
    GPtrArray *cells;  /* char*, row-major */
} Table;

static Table *table_new(const char *const *header, const char *align)
{
    Table *t = g_new0(Table, 1);
    t->columns = g_strv_length((char **)header);
    t->right = align;
    t->cells = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < t->columns; i++)
        g_ptr_array_add(t->cells, g_strdup(header[i]));
    return t;
}

static void table_add(Table *t, guint column, char *cell)
{
    (void)column;
    g_ptr_array_add(t->cells, cell ? cell : g_strdup("-"));
}

static void table_render(Table *t, const char *indent, GString *out)
{
    g_autofree guint *width = g_new0(guint, t->columns);
    for (guint i = 0; i < t->cells->len; i++) {
        guint w = (guint)g_utf8_strlen(t->cells->pdata[i], -1);
        width[i % t->columns] = MAX(width[i % t->columns], w);
    }
    for (guint i = 0; i < t->cells->len; i++) {
        guint col = i % t->columns;
        const char *cell = t->cells->pdata[i];
        guint pad = width[col] - (guint)g_utf8_strlen(cell, -1);
        gboolean last = col == t->columns - 1;
        if (col == 0)
            g_string_append(out, indent);
        else
            g_string_append(out, "  ");
        if (t->right[col] == 'r') {
            for (guint k = 0; k < pad; k++)
                g_string_append_c(out, ' ');
            g_string_append(out, cell);
        } else {
            g_string_append(out, cell);
            if (!last)
                for (guint k = 0; k < pad; k++)
                    g_string_append_c(out, ' ');
        }
        if (last)
            g_string_append_c(out, '\n');
    }
    g_ptr_array_unref(t->cells);
    g_free(t);
}

static char *cell_int(int v)
{
    return v >= 0 ? g_strdup_printf("%d", v) : NULL;
}

static char *cell_cpus(const TopoCpuSet *set)
{
    return set ? topo_cpuset_format(set) : NULL;
}

static void report_headline(const QpinReport *r, GString *out)
{
    if (r->qemu_pid > 0)
        g_string_append_printf(out, "QEMU pid %" G_GINT64_FORMAT, r->qemu_pid);
    else
        g_string_append(out, "QEMU");
    if (r->qemu_version)
        g_string_append_printf(out, " (%s)", r->qemu_version);
    g_string_append_printf(out, ": %u vCPU%s, map %s", r->vcpus->len, r->vcpus->len == 1 ? "" : "s",
                           r->map ? r->map : "none (vCPUs not pinned)");
    if (r->host && r->host->sysroot && !r->host->live)
        g_string_append_printf(out, ", host %s", r->host->sysroot);
    if (r->state)
        g_string_append_printf(out, ", guest %s", r->state);
    g_string_append_c(out, '\n');
}

static void vcpu_table(const QpinReport *r, GString *out)
{
    gboolean has_die = FALSE, has_cluster = FALSE, has_sched = FALSE;
    for (guint i = 0; i < r->vcpus->len; i++) {
        const QpinReportVcpu *v = r->vcpus->pdata[i];
        has_die |= v->props.die >= 0;
        has_cluster |= v->props.cluster >= 0;
        has_sched |= v->sched || v->sched_actual;
    }

    /* Columns: vCPU TID [name] socket [die] [cluster] core thread node CPUs host-node siblings
     * [sched]; optional ones are filled or skipped consistently below. */
    GPtrArray *header = g_ptr_array_new();
    GString *align = g_string_new(NULL);
#define COLUMN(title, a)                                                                           \
    do {                                                                                           \
        g_ptr_array_add(header, (gpointer)(title));                                                \
        g_string_append_c(align, (a));                                                             \
    } while (0)
    COLUMN("vCPU", 'r');
    COLUMN("TID", 'r');
    COLUMN("name", 'l');
    COLUMN("socket", 'r');
    if (has_die)
        COLUMN("die", 'r');
    if (has_cluster)
        COLUMN("cluster", 'r');
    COLUMN("core", 'r');
    COLUMN("thread", 'r');
    COLUMN("node", 'r');
    COLUMN("host CPUs", 'l');
    COLUMN("host node", 'l');
    COLUMN("siblings", 'l');
    if (has_sched)
        COLUMN("sched", 'l');
#undef COLUMN
    g_ptr_array_add(header, NULL);
    Table *t = table_new((const char *const *)header->pdata, align->str);
    for (guint i = 0; i < r->vcpus->len; i++) {
        const QpinReportVcpu *v = r->vcpus->pdata[i];
        const TopoCpuSet *cpus = v->cpus_actual ? v->cpus_actual : v->cpus;
        g_autoptr(TopoCpuSet) nodes = NULL, siblings = NULL;
        host_facts(r->host, cpus, &nodes, &siblings);
        guint c = 0;
        table_add(t, c++, cell_int(v->index));
        table_add(t, c++, g_strdup_printf("%" G_GINT64_FORMAT, v->thread_id));
        table_add(t, c++, g_strdup(v->thread_name));
        table_add(t, c++, cell_int(v->props.socket));
        if (has_die)
            table_add(t, c++, cell_int(v->props.die));
        if (has_cluster)
            table_add(t, c++, cell_int(v->props.cluster));
        table_add(t, c++, cell_int(v->props.core));
        table_add(t, c++, cell_int(v->props.thread));
        table_add(t, c++, cell_int(v->props.node));
        table_add(t, c++, cell_cpus(cpus));
        table_add(t, c++, cell_cpus(nodes));
        table_add(t, c++, cell_cpus(siblings));
        if (has_sched)
            table_add(t, c++, g_strdup(v->sched_actual ? v->sched_actual : v->sched));
    }
    table_render(t, "", out);
    g_ptr_array_unref(header);
    g_string_free(align, TRUE);
}

static void emulator_and_iothreads(const QpinReport *r, GString *out)
{
    /* Compact (0-78:2) where it is shorter: the emulator CPUs of a mirrored node are often every
     * other CPU of the host. */
    g_autofree char *emu =
        r->emulator_cpus ? topo_cpuset_format_compact(r->emulator_cpus) : NULL;
    g_string_append_printf(out, "emulator threads: %s%s\n", emu ? "CPUs " : "",
                           emu ? emu : "not pinned");
    if (r->emulator->len) {
        static const char *const eh[] = {"TID", "name", "host CPUs", NULL};
        Table *et = table_new(eh, "rll");
        for (guint i = 0; i < r->emulator->len; i++) {
            const QpinReportThread *th = r->emulator->pdata[i];
            table_add(et, 0, g_strdup_printf("%" G_GINT64_FORMAT, th->thread_id));
            table_add(et, 1, g_strdup(th->name));
            table_add(et, 2, cell_cpus(th->cpus_actual ? th->cpus_actual : th->cpus));
        }
        table_render(et, "  ", out);
    }
    if (r->iothreads->len) {
        g_string_append(out, "iothreads:\n");
        static const char *const ih[] = {"id", "TID", "name", "host CPUs", NULL};
        Table *it = table_new(ih, "lrll");
        for (guint i = 0; i < r->iothreads->len; i++) {
            const QpinReportThread *th = r->iothreads->pdata[i];
            table_add(it, 0, g_strdup(th->id));
            table_add(it, 1, g_strdup_printf("%" G_GINT64_FORMAT, th->thread_id));
            table_add(it, 2, g_strdup(th->name));
            const TopoCpuSet *cpus = th->cpus_actual ? th->cpus_actual : th->cpus;
            char *cell = cell_cpus(cpus);
            if (!th->cpus) {
                /* A plan reads nothing back: there is no mask to show for it. */
                char *unpinned =
                    cell ? g_strdup_printf("%s (not pinned)", cell) : g_strdup("not pinned");
                g_free(cell);
                cell = unpinned;
            }
            table_add(it, 3, cell);
        }
        table_render(it, "  ", out);
    }
}

void qpin_output_report_human(const QpinReport *r, QpinShow show, guint width, gboolean colour,
                              GString *out)
{
    if (show == QPIN_SHOW_AUTO)
        /* Without a host or a map there is no placement to draw: every cell would be free. */
        show = !r->host || !r->map                    ? QPIN_SHOW_TABLE
               : r->vcpus->len > QPIN_SHOW_TABLE_MAX ? QPIN_SHOW_GRID
                                                     : QPIN_SHOW_BOTH;
    report_headline(r, out);
    if (show == QPIN_SHOW_TABLE || show == QPIN_SHOW_BOTH)
        vcpu_table(r, out);
    if (show == QPIN_SHOW_GRID || show == QPIN_SHOW_BOTH)
        qpin_output_grid(r, width, colour, out);

    emulator_and_iothreads(r, out);
    if (r->numa_nodes && r->numa_nodes->len)
        qpin_output_memory_plan(r->numa_nodes, r->host, out);
    if (r->mirror) {
        g_autofree char *cpus = topo_cpuset_format(r->mirror->cpus);
        g_autofree char *numactl = numactl_line(r);
        g_string_append_printf(out, "mirror %s: -smp %s on host CPUs %s\n", r->mirror->spec,
                               r->mirror->smp, cpus);
        g_string_append_printf(out, "bare metal, same CPUs and memory: %s COMMAND\n",
                               numactl ? numactl : "numactl");
    }
    if (r->memory_placements)
        qpin_output_memory_placement_table(r->memory_placements, out);
    for (guint i = 0; i < r->notes->len; i++)
        g_string_append_printf(out, "note: %s\n", ((const QpinNote *)r->notes->pdata[i])->text);
    for (guint i = 0; i < r->explain->len; i++)
        g_string_append_printf(out, "explain: %s\n", (const char *)r->explain->pdata[i]);
    if (r->timings->len) {
        g_string_append(out, "timings (ms):");
        for (guint i = 0; i < r->timings->len; i++) {
            const QpinTiming *tm = &g_array_index(r->timings, QpinTiming, i);
            g_string_append_printf(out, "%s %s %.1f", i ? "," : "", tm->name, tm->ms);
        }
        g_string_append_printf(out, "; %u QMP commands\n", r->qmp_commands);
    }
}

void qpin_output_report_table(const QpinReport *r, GString *out)
{
    qpin_output_report_human(r, QPIN_SHOW_TABLE, 80, FALSE, out);
}

/* One row per vCPU. */
