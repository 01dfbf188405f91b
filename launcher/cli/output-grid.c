/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the placement grid, see qpin-output-grid.h. */
#include "qpin-output-grid.h"

#include "qpin-memory.h"
#include "qpin-size.h"

#include <string.h>

gboolean qpin_show_parse(const char *text, QpinShow *show)
{
    static const char *const names[] = {
        [QPIN_SHOW_AUTO] = "auto",
        [QPIN_SHOW_TABLE] = "table",
        [QPIN_SHOW_GRID] = "grid",
        [QPIN_SHOW_BOTH] = "both",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!g_strcmp0(text, names[i])) {
            *show = (QpinShow)i;
            return TRUE;
        }
    }
    return FALSE;
}

/* What the plan put on each host CPU, indexed by CPU number. */
typedef struct {
    int n;        /* CPUs 0..n-1 */
    int *vcpu;    /* the vCPU index on the CPU (the first one when several), -1 */
    guint *vcpus; /* how many vCPUs may run there */
    TopoCpuSet *emulator, *iothreads, *reserved;
    int max_index; /* the largest vCPU index, for the cell width */
} Occupancy;

static void occupancy_clear(Occupancy *o)
{
    g_free(o->vcpu);
    g_free(o->vcpus);
    topo_cpuset_free(o->emulator);
    topo_cpuset_free(o->iothreads);
    topo_cpuset_free(o->reserved);
}

static int set_last(const TopoCpuSet *set)
{
    return set ? topo_cpuset_last(set) : -1;
}

static void occupancy_fill(Occupancy *o, const QpinReport *r)
{
    const TopoHost *host = r->host;
    o->n = MAX(set_last(host->online), set_last(host->offline)) + 1;
    for (guint i = 0; i < r->vcpus->len; i++) {
        const QpinReportVcpu *v = r->vcpus->pdata[i];
        o->n = MAX(o->n, set_last(v->cpus_actual ? v->cpus_actual : v->cpus) + 1);
    }
    o->vcpu = g_new(int, o->n);
    o->vcpus = g_new0(guint, o->n);
    for (int c = 0; c < o->n; c++)
        o->vcpu[c] = -1;
    o->max_index = 0;
    for (guint i = 0; i < r->vcpus->len; i++) {
        const QpinReportVcpu *v = r->vcpus->pdata[i];
        const TopoCpuSet *cpus = v->cpus_actual ? v->cpus_actual : v->cpus;
        o->max_index = MAX(o->max_index, v->index);
        /* An unpinned vCPU may run anywhere: it occupies no cell. */
        if (!cpus || !v->cpus)
            continue;
        for (int c = topo_cpuset_first(cpus); c >= 0; c = topo_cpuset_next(cpus, c)) {
            if (!o->vcpus[c]++)
                o->vcpu[c] = v->index;
        }
    }
    o->emulator = r->emulator_cpus ? topo_cpuset_copy(r->emulator_cpus) : topo_cpuset_new();
    o->iothreads = topo_cpuset_new();
    for (guint i = 0; i < r->iothreads->len; i++) {
        const QpinReportThread *t = r->iothreads->pdata[i];
        if (t->cpus)
            topo_cpuset_union(o->iothreads, t->cpus);
    }
    o->reserved = r->reserved ? topo_cpuset_copy(r->reserved) : topo_cpuset_new();
}

/* The cell of @cpu, @width wide, right-aligned; with @colour, in the SGR colour of its kind. */
static void append_cell(GString *out, const Occupancy *o, const TopoHost *host, int cpu,
                        guint width, gboolean colour)
{
    char buf[16];
    if (cpu < 0)
        buf[0] = ' ', buf[1] = 0;
    else if (o->vcpus[cpu] == 1)
        g_snprintf(buf, sizeof buf, "%d", o->vcpu[cpu]);
    else if (o->vcpus[cpu] > 1)
        strcpy(buf, "+");
    else if (topo_cpuset_has(o->emulator, cpu))
        strcpy(buf, "E");
    else if (topo_cpuset_has(o->iothreads, cpu))
        strcpy(buf, "I");
    else if (topo_cpuset_has(o->reserved, cpu))
        strcpy(buf, "R");
    else if (!topo_cpuset_has(host->cpus_allowed, cpu) || !topo_cpuset_has(host->online, cpu))
        strcpy(buf, "x");
    else if (topo_cpuset_has(host->isolated, cpu) || topo_cpuset_has(host->nohz_full, cpu))
        strcpy(buf, "~");
    else
        strcpy(buf, ".");
    /* Escapes take no column: the cell is padded first, then coloured. */
    static const char kinds[] = "+EIRx~.";
    static const char *const sgr_of[] = {"1;31", "33", "36", "35", "2", "34", "32"};
    const char *kind = colour && buf[0] && buf[0] != ' ' ? strchr(kinds, buf[0]) : NULL;
    const char *sgr = kind ? sgr_of[kind - kinds] : NULL;
    if (sgr)
        g_string_append_printf(out, "\033[%sm%*s\033[0m", sgr, (int)width, buf);
    else
        g_string_append_printf(out, "%*s", (int)width, buf);
}

/* The cores of node @node_id (-1: CPUs no node lists), each the sorted online CPUs of one SMT
 * sibling group (GArray of int). */
static GPtrArray *node_cores(const TopoHost *host, int node_id)
{
    GPtrArray *cores = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if (cpu->node != node_id || topo_cpuset_has(seen, cpu->cpu))
            continue;
        GArray *core = g_array_new(FALSE, FALSE, sizeof(int));
        for (int c = topo_cpuset_first(cpu->siblings); c >= 0;
             c = topo_cpuset_next(cpu->siblings, c)) {
            const TopoCpu *sib = topo_host_cpu(host, c);
            if (!sib || sib->node != node_id || topo_cpuset_has(seen, c))
                continue;
            topo_cpuset_add(seen, c);
            g_array_append_val(core, c);
        }
        g_ptr_array_add(cores, core);
    }
    return cores;
}

/* "c, c+68, c+136, c+204" when every core of @cores has its threads at the same distances from
 * its first CPU, else NULL. */
static char *thread_stride(const GPtrArray *cores)
{
    if (!cores->len)
        return NULL;
    const GArray *first = cores->pdata[0];
    if (first->len < 2)
        return NULL;
    for (guint i = 1; i < cores->len; i++) {
        const GArray *core = cores->pdata[i];
        if (core->len != first->len)
            return NULL;
        for (guint t = 1; t < core->len; t++)
            if (g_array_index(core, int, t) - g_array_index(core, int, 0) !=
                g_array_index(first, int, t) - g_array_index(first, int, 0))
                return NULL;
    }
    GString *s = g_string_new("c");
    for (guint t = 1; t < first->len; t++)
        g_string_append_printf(s, ", c+%d",
                               g_array_index(first, int, t) - g_array_index(first, int, 0));
    return g_string_free(s, FALSE);
}

/* "guest nodes 0-1 (96 GiB)" for the guest nodes bound to host node @id, or NULL. */
static char *guest_memory(const QpinReport *r, int id)
{
    g_autoptr(TopoCpuSet) guests = topo_cpuset_new();
    guint64 bytes = 0;
    for (guint i = 0; r->numa_nodes && i < r->numa_nodes->len; i++) {
        const QpinNumaNode *n = g_ptr_array_index(r->numa_nodes, i);
        if (!n->host_nodes || !topo_cpuset_has(n->host_nodes, id))
            continue;
        topo_cpuset_add(guests, n->guest_node);
        /* A node spread over several host nodes is counted in equal parts. */
        bytes += n->size_bytes / MAX(topo_cpuset_count(n->host_nodes), 1u);
    }
    if (topo_cpuset_is_empty(guests))
        return NULL;
    g_autofree char *list = topo_cpuset_format(guests);
    g_autofree char *size = qpin_size_format_human(bytes);
    return g_strdup_printf("holds guest node%s %s (%s)", topo_cpuset_count(guests) > 1 ? "s" : "",
                           list, size);
}

/* @title, then @parts joined by "; ", lines broken between parts to stay within @width, each
 * continuation indented by two spaces. */
static void append_wrapped(GString *out, const char *title, const GPtrArray *parts, guint width)
{
    gsize line_start = out->len;
    g_string_append(out, title);
    for (guint i = 0; i < parts->len; i++) {
        const char *part = parts->pdata[i];
        gsize len = strlen(part);
        if (out->len - line_start + 2 + len > width && out->len - line_start > 2) {
            if (i)
                g_string_append_c(out, ';');
            g_string_append(out, "\n ");
            line_start = out->len - 1;
        } else if (i) {
            g_string_append_c(out, ';');
        }
        g_string_append_c(out, ' ');
        g_string_append(out, part);
    }
    g_string_append_c(out, '\n');
}

/* The CPUs of @set that are on node @id. */
static TopoCpuSet *on_node(const TopoCpuSet *set, const TopoNode *node)
{
    TopoCpuSet *s = topo_cpuset_new();
    if (set && node)
        topo_cpuset_union(s, set), topo_cpuset_intersect(s, node->cpus);
    return s;
}

static void draw_node(GString *out, const QpinReport *r, const Occupancy *o, int id, guint threads,
                      guint width, gboolean colour)
{
    const TopoHost *host = r->host;
    const TopoNode *node = id >= 0 ? topo_host_node(host, id) : NULL;
    g_autoptr(GPtrArray) cores = node_cores(host, id);

    /* The header: parts joined by "; ", wrapped to the width. */
    g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
    if (node && topo_cpuset_is_empty(node->cpus)) {
        g_ptr_array_add(parts, g_strdup("no CPUs"));
    } else {
        g_autoptr(TopoCpuSet) cpus = topo_cpuset_new();
        guint most = 0;
        for (guint i = 0; i < cores->len; i++) {
            const GArray *core = cores->pdata[i];
            most = MAX(most, core->len);
            for (guint t = 0; t < core->len; t++)
                topo_cpuset_add(cpus, g_array_index(core, int, t));
        }
        /* Compact (N-M:S) so that a node of every other CPU stays one short line. */
        g_autofree char *list = topo_cpuset_describe(cpus, TRUE, "-");
        g_autofree char *stride = thread_stride(cores);
        g_ptr_array_add(parts,
                        g_strdup_printf("CPUs %s, %u core%s x %u thread%s", list, cores->len,
                                        cores->len == 1 ? "" : "s", most, most == 1 ? "" : "s"));
        if (stride)
            g_ptr_array_add(parts, g_strdup_printf("core = CPUs %s", stride));
    }
    if (node) {
        g_autofree char *mem = qpin_size_format_human(node->mem_total_kib * 1024);
        g_ptr_array_add(parts, g_strdup_printf("memory %s", mem));
        char *guest = guest_memory(r, id);
        if (guest)
            g_ptr_array_add(parts, guest);
        const struct {
            const char *what;
            const TopoCpuSet *set;
        } marks[] = {{"isolated", host->isolated}, {"nohz_full", host->nohz_full}};
        for (gsize m = 0; m < G_N_ELEMENTS(marks); m++) {
            g_autoptr(TopoCpuSet) here = on_node(marks[m].set, node);
            if (topo_cpuset_is_empty(here) ||
                (m == 1 && host->isolated && topo_cpuset_equal(marks[m].set, host->isolated)))
                continue;
            g_autofree char *l = topo_cpuset_format_compact(here);
            g_ptr_array_add(parts, g_strdup_printf("%s %s", marks[m].what, l));
        }
    }
    g_autofree char *title = id >= 0 ? g_strdup_printf("node %d:", id) : g_strdup("no node:");
    append_wrapped(out, title, parts, width);

    if (!cores->len)
        return;

    guint cell = 1;
    for (int v = o->max_index; v >= 10; v /= 10)
        cell++;
    guint label = 1;
    for (int c = o->n - 1; c >= 10; c /= 10)
        label++;
    guint core_width = threads * cell + (threads - 1);
    /* "  LABEL |core|core|": two spaces, the label, " |", then core_width + 1 per core. */
    guint fixed = 2 + label + 2;
    guint per_row = width > fixed + core_width + 1 ? (width - fixed) / (core_width + 1) : 1;
    for (guint i = 0; i < cores->len; i++) {
        const GArray *core = cores->pdata[i];
        if (i % per_row == 0)
            g_string_append_printf(out, "  %*d |", (int)label, g_array_index(core, int, 0));
        for (guint t = 0; t < threads; t++) {
            if (t)
                g_string_append_c(out, ' ');
            append_cell(out, o, host, t < core->len ? g_array_index(core, int, t) : -1, cell,
                        colour);
        }
        g_string_append_c(out, '|');
        if (i % per_row == per_row - 1 || i == cores->len - 1)
            g_string_append_c(out, '\n');
    }
}

void qpin_output_grid(const QpinReport *r, guint width, gboolean colour, GString *out)
{
    const TopoHost *host = r->host;
    if (!host) {
        g_string_append(out, "placement grid: the host is not known\n");
        return;
    }
    Occupancy o = {0};
    occupancy_fill(&o, r);

    guint threads = 1;
    gboolean unnoded = FALSE;
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        g_autoptr(TopoCpuSet) online_siblings = topo_cpuset_copy(cpu->siblings);
        topo_cpuset_intersect(online_siblings, host->online);
        threads = MAX(threads, topo_cpuset_count(online_siblings));
        unnoded |= cpu->node < 0;
    }

    g_string_append(out, "Host CPUs, one cell per hardware thread, the threads of a core between"
                         " bars,\nrows labelled by their first CPU:"
                         " N vCPU N, + several vCPUs, E emulator,\n"
                         "I iothread, R reserved, x not allowed or offline, ~ isolated, . free\n");
    for (guint i = 0; i < host->nodes->len; i++)
        draw_node(out, r, &o, ((const TopoNode *)g_ptr_array_index(host->nodes, i))->id, threads,
                  width, colour);
    if (unnoded)
        draw_node(out, r, &o, -1, threads, width, colour);
    /* Offline CPUs have no topology to draw. */
    if (!topo_cpuset_is_empty(host->offline)) {
        g_autofree char *offline = topo_cpuset_format_compact(host->offline);
        g_string_append_printf(out, "offline: %s (not drawn)\n", offline);
    }

    g_autoptr(TopoCpuSet) free_cpus = topo_cpuset_copy(host->online);
    topo_cpuset_intersect(free_cpus, host->cpus_allowed);
    for (int c = 0; c < o.n; c++)
        if (o.vcpus[c])
            topo_cpuset_remove(free_cpus, c);
    topo_cpuset_subtract(free_cpus, o.emulator);
    topo_cpuset_subtract(free_cpus, o.iothreads);
    topo_cpuset_subtract(free_cpus, o.reserved);
    guint whole = 0;
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if (cpu->cpu == topo_cpuset_first(cpu->siblings) &&
            topo_cpuset_is_subset(cpu->siblings, free_cpus))
            whole++;
    }
    g_autofree char *free_list = topo_cpuset_format_compact(free_cpus);
    g_string_append_printf(
        out, "free: %u CPU%s%s%s, %u whole core%s\n", topo_cpuset_count(free_cpus),
        topo_cpuset_count(free_cpus) == 1 ? "" : "s", topo_cpuset_is_empty(free_cpus) ? "" : " ",
        free_list, whole, whole == 1 ? "" : "s");
    occupancy_clear(&o);
}
