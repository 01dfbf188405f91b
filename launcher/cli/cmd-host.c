/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin host — what qpin sees of the host, as a human summary or as JSON. */
#include "qpin-host-json.h"
#include "qpin-file-write.h"
#include "qpin-cli.h"
#include "qpin-help.h"
#include "qpin-output-report.h"
#include "qpin-output.h"
#include "qpin-size.h"

#include <stdio.h>
#include <string.h>

static json_object *cpu_json(const TopoCpu *cpu)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "cpu", json_object_new_int(cpu->cpu));
    json_object_object_add(obj, "package", json_object_new_int(cpu->package));
    json_object_object_add(obj, "die", json_object_new_int(cpu->die));
    json_object_object_add(obj, "core", json_object_new_int(cpu->core));
    json_object_object_add(obj, "node", json_object_new_int(cpu->node));
    json_object_object_add(obj, "siblings", qpin_output_json_cpuset(cpu->siblings));
    json_object_object_add(obj, "llc", qpin_output_json_cpuset(cpu->llc));
    return obj;
}

static json_object *node_json(const TopoNode *node)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "id", json_object_new_int(node->id));
    json_object_object_add(obj, "cpus", qpin_output_json_cpuset(node->cpus));
    json_object_object_add(obj, "memory_total_kib",
                           json_object_new_int64((int64_t)node->mem_total_kib));
    json_object_object_add(obj, "memory_free_kib",
                           json_object_new_int64((int64_t)node->mem_free_kib));
    json_object *distances = json_object_new_array();
    for (guint i = 0; i < node->distances->len; i++)
        json_object_array_add(distances,
                              json_object_new_int(g_array_index(node->distances, int, i)));
    json_object_object_add(obj, "distances", distances);
    json_object *hugepages = json_object_new_array();
    for (guint i = 0; i < node->hugepages->len; i++) {
        const TopoHugepages *hp = &g_array_index(node->hugepages, TopoHugepages, i);
        json_object *pool = json_object_new_object();
        json_object_object_add(pool, "size_kib", json_object_new_int64((int64_t)hp->size_kib));
        json_object_object_add(pool, "total", json_object_new_int64((int64_t)hp->total));
        json_object_object_add(pool, "free", json_object_new_int64((int64_t)hp->free));
        json_object_array_add(hugepages, pool);
    }
    json_object_object_add(obj, "hugepages", hugepages);
    return obj;
}

json_object *qpin_host_to_json(const TopoHost *host)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "schema_version", json_object_new_int(QPIN_HOST_SCHEMA_VERSION));
    json_object_object_add(obj, "sysroot", json_object_new_string(host->sysroot));
    json_object_object_add(obj, "cpus_online", qpin_output_json_cpuset(host->online));
    json_object_object_add(obj, "cpus_offline", qpin_output_json_cpuset(host->offline));
    json_object_object_add(obj, "cpus_allowed", qpin_output_json_cpuset(host->cpus_allowed));
    json_object_object_add(obj, "mems_allowed", qpin_output_json_cpuset(host->mems_allowed));
    json_object_object_add(obj, "nodes_with_memory",
                           qpin_output_json_cpuset(host->nodes_with_memory));
    json_object_object_add(obj, "isolated", qpin_output_json_cpuset(host->isolated));
    json_object_object_add(obj, "nohz_full", qpin_output_json_cpuset(host->nohz_full));
    json_object_object_add(obj, "cmdline", json_object_new_string(host->cmdline));
    json_object *cpus = json_object_new_array();
    for (guint i = 0; i < host->cpus->len; i++)
        json_object_array_add(cpus, cpu_json(g_ptr_array_index(host->cpus, i)));
    json_object_object_add(obj, "cpus", cpus);
    json_object *nodes = json_object_new_array();
    for (guint i = 0; i < host->nodes->len; i++)
        json_object_array_add(nodes, node_json(g_ptr_array_index(host->nodes, i)));
    json_object_object_add(obj, "nodes", nodes);
    return obj;
}

/* ---- the compact view ---- */

/* The last-level-cache groups of @host: distinct LLC sets (TopoCpuSet*, borrowed from the CPUs),
 * numbered in the order of their first CPU, the ids of the LLC column. */
static GPtrArray *llc_groups(const TopoHost *host)
{
    GPtrArray *groups = g_ptr_array_new();
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        gboolean known = FALSE;
        for (guint g = 0; g < groups->len && !known; g++)
            known = topo_cpuset_equal(groups->pdata[g], cpu->llc);
        if (!known)
            g_ptr_array_add(groups, cpu->llc);
    }
    return groups;
}

static int llc_id(const GPtrArray *groups, const TopoCpuSet *llc)
{
    for (guint g = 0; g < groups->len; g++)
        if (topo_cpuset_equal(groups->pdata[g], llc))
            return (int)g;
    return -1;
}

/* Counts of the cores, packages and most threads per core among the online CPUs of @node_id
 * (G_MININT: every node). */
static void count_cores(const TopoHost *host, int node_id, guint *cores, guint *threads,
                        guint *packages)
{
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    g_autoptr(TopoCpuSet) pkgs = topo_cpuset_new();
    *cores = *threads = 0;
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if ((node_id != G_MININT && cpu->node != node_id) || topo_cpuset_has(seen, cpu->cpu))
            continue;
        g_autoptr(TopoCpuSet) core = topo_cpuset_copy(cpu->siblings);
        topo_cpuset_intersect(core, host->online);
        topo_cpuset_union(seen, core);
        (*cores)++;
        *threads = MAX(*threads, topo_cpuset_count(core));
        if (cpu->package >= 0)
            topo_cpuset_add(pkgs, cpu->package);
    }
    if (packages)
        *packages = topo_cpuset_count(pkgs);
}

/* "34 groups of 8 CPUs, first 0-1,68-69,136-137,204-205" for the groups of node @node_id. */
static char *llc_summary(const TopoHost *host, const GPtrArray *groups, int node_id)
{
    guint n = 0, smallest = G_MAXUINT, largest = 0;
    const TopoCpuSet *example = NULL;
    for (guint g = 0; g < groups->len; g++) {
        const TopoCpuSet *llc = groups->pdata[g];
        const TopoCpu *first = topo_host_cpu(host, topo_cpuset_first(llc));
        if (node_id != G_MININT && (!first || first->node != node_id))
            continue;
        guint size = topo_cpuset_count(llc);
        smallest = MIN(smallest, size);
        largest = MAX(largest, size);
        example = example ? example : llc;
        n++;
    }
    if (!n)
        return g_strdup("no LLC");
    g_autofree char *list = topo_cpuset_describe(example, TRUE, "-");
    g_autofree char *sizes = smallest == largest ? g_strdup_printf("%u", largest)
                                                 : g_strdup_printf("%u-%u", smallest, largest);
    return g_strdup_printf("%u group%s of %s CPU%s, %s%s", n, n == 1 ? "" : "s", sizes,
                           largest == 1 ? "" : "s", n > 1 ? "first " : "", list);
}

/* "hugepages 2M 1000 of 1024 free": the pools that hold pages (the others say only what the
 * CPU supports, which --json has). */
static char *hugepages_summary(const TopoNode *node)
{
    GString *s = g_string_new(NULL);
    for (guint h = 0; h < node->hugepages->len; h++) {
        const TopoHugepages *hp = &g_array_index(node->hugepages, TopoHugepages, h);
        if (!hp->total)
            continue;
        g_autofree char *size = qpin_size_format(hp->size_kib * 1024);
        g_string_append_printf(s, "%s%s %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " free",
                               s->len ? ", " : "", size, hp->free, hp->total);
    }
    g_string_prepend(s, s->len ? "hugepages " : "no hugepages");
    return g_string_free(s, FALSE);
}

static void format_compact(GString *out, const TopoHost *host)
{
    g_autoptr(GPtrArray) groups = llc_groups(host);
    guint cores, threads, packages;
    count_cores(host, G_MININT, &cores, &threads, &packages);
    g_autofree char *online = topo_cpuset_describe(host->online, TRUE, "none");
    g_autofree char *offline = topo_cpuset_describe(host->offline, TRUE, "none");
    g_autofree char *allowed = topo_cpuset_describe(host->cpus_allowed, TRUE, "none");
    g_autofree char *mems = topo_cpuset_describe(host->mems_allowed, FALSE, "none");
    g_autofree char *isolated = topo_cpuset_describe(host->isolated, TRUE, "none");
    g_autofree char *nohz = topo_cpuset_describe(host->nohz_full, TRUE, "none");

    g_string_append_printf(out, "host: %s%s\n", host->sysroot, host->live ? " (this machine)" : "");
    g_string_append_printf(out,
                           "cpus: %s online (%u), offline %s; %u package%s, %u cores, %u "
                           "thread%s per core\n",
                           online, topo_cpuset_count(host->online), offline, packages,
                           packages == 1 ? "" : "s", cores, threads, threads == 1 ? "" : "s");
    g_string_append_printf(out, "llc: %u group%s (--cores shows them per core)\n", groups->len,
                           groups->len == 1 ? "" : "s");
    g_string_append_printf(out, "allowed: CPUs %s (%u of %u), memory nodes %s\n", allowed,
                           topo_cpuset_count(host->cpus_allowed), topo_cpuset_count(host->online),
                           mems);
    g_string_append_printf(out, "isolated: %s; nohz_full: %s\n", isolated, nohz);

    g_autoptr(TopoCpuSet) ids = topo_cpuset_new();
    for (guint i = 0; i < host->nodes->len; i++)
        topo_cpuset_add(ids, ((const TopoNode *)g_ptr_array_index(host->nodes, i))->id);
    g_autofree char *id_list = topo_cpuset_describe(ids, FALSE, "none");
    g_string_append_printf(out, "available: %u node%s (%s)\n", host->nodes->len,
                           host->nodes->len == 1 ? "" : "s", id_list);
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        g_autofree char *cpus = topo_cpuset_describe(node->cpus, TRUE, "none");
        g_autofree char *total = qpin_size_format_human(node->mem_total_kib * 1024);
        g_autofree char *free_mem = qpin_size_format_human(node->mem_free_kib * 1024);
        g_autofree char *huge = hugepages_summary(node);
        g_string_append_printf(out, "node %d cpus: %s", node->id, cpus);
        if (!topo_cpuset_is_empty(node->cpus)) {
            guint nc, nt;
            count_cores(host, node->id, &nc, &nt, NULL);
            g_autofree char *nllc = llc_summary(host, groups, node->id);
            g_string_append_printf(out, " (%u core%s x %u thread%s)\nnode %d llc: %s", nc,
                                   nc == 1 ? "" : "s", nt, nt == 1 ? "" : "s", node->id, nllc);
        }
        g_string_append_printf(out, "\nnode %d memory: %s, %s free; %s\n", node->id, total,
                               free_mem, huge);
    }

    g_string_append(out, "node distances:\nnode");
    for (guint i = 0; i < host->nodes->len; i++)
        g_string_append_printf(out, " %4d",
                               ((const TopoNode *)g_ptr_array_index(host->nodes, i))->id);
    g_string_append_c(out, '\n');
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        g_string_append_printf(out, "%3d:", node->id);
        for (guint j = 0; j < node->distances->len; j++)
            g_string_append_printf(out, " %4d", g_array_index(node->distances, int, j));
        g_string_append_c(out, '\n');
    }
}

/* ---- the core table (--cores, -o) ---- */

typedef enum {
    COL_SOCKET,
    COL_DIE,
    COL_CORE,
    COL_NODE,
    COL_CPUS,
    COL_THREADS,
    COL_LLC,
    COL_LLC_CPUS,
    COL_ALLOWED,
    COL_ISOLATED,
} CoreColumn;

static const struct {
    const char *name;
    const char *help;
    gboolean right;
} core_columns[] = {
    [COL_SOCKET] = {"SOCKET", "physical package id", TRUE},
    [COL_DIE] = {"DIE", "die id (0 when the kernel has none)", TRUE},
    [COL_CORE] = {"CORE", "core id (unique within its package and die)", TRUE},
    [COL_NODE] = {"NODE", "NUMA node, - when no node lists the CPUs", TRUE},
    [COL_CPUS] = {"CPUS", "the core's online CPUs (SMT siblings)", FALSE},
    [COL_THREADS] = {"THREADS", "how many of them", TRUE},
    [COL_LLC] = {"LLC", "last-level cache group, numbered by its first CPU", TRUE},
    [COL_LLC_CPUS] = {"LLC-CPUS", "the CPUs sharing that cache", FALSE},
    [COL_ALLOWED] = {"ALLOWED", "the core's CPUs qpin may use, - for none", FALSE},
    [COL_ISOLATED] = {"ISOLATED", "the core's isolated or nohz_full CPUs, - for none", FALSE},
};

#define DEFAULT_CORE_COLUMNS "SOCKET,DIE,CORE,NODE,CPUS,LLC"

static char *column_names(void)
{
    GString *s = g_string_new(NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(core_columns); i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", core_columns[i].name);
    return g_string_free(s, FALSE);
}

/* The columns of a -o list (case does not matter), or NULL with *error naming the bad one. */
static GArray *parse_columns(const char *text, char **error)
{
    g_autoptr(GArray) cols = g_array_new(FALSE, FALSE, sizeof(CoreColumn));
    g_auto(GStrv) names = g_strsplit(text, ",", -1);
    for (int i = 0; names[i]; i++) {
        const char *name = g_strstrip(names[i]);
        gsize c = 0;
        while (c < G_N_ELEMENTS(core_columns) && g_ascii_strcasecmp(name, core_columns[c].name))
            c++;
        if (c == G_N_ELEMENTS(core_columns)) {
            g_autofree char *valid = column_names();
            *error = *name ? g_strdup_printf("-o '%s': unknown column '%s' (valid: %s)", text, name,
                                             valid)
                           : g_strdup_printf("-o '%s': empty column name (valid: %s)", text, valid);
            return NULL;
        }
        CoreColumn col = (CoreColumn)c;
        g_array_append_val(cols, col);
    }
    return g_steal_pointer(&cols);
}

static char *core_cell(const TopoHost *host, const GPtrArray *groups, const TopoCpu *cpu,
                       const TopoCpuSet *core, CoreColumn col)
{
    switch (col) {
    case COL_SOCKET:
        return g_strdup_printf("%d", cpu->package);
    case COL_DIE:
        return g_strdup_printf("%d", cpu->die);
    case COL_CORE:
        return g_strdup_printf("%d", cpu->core);
    case COL_NODE:
        return cpu->node >= 0 ? g_strdup_printf("%d", cpu->node) : g_strdup("-");
    case COL_CPUS:
        return topo_cpuset_describe(core, FALSE, "-");
    case COL_THREADS:
        return g_strdup_printf("%u", topo_cpuset_count(core));
    case COL_LLC:
        return g_strdup_printf("%d", llc_id(groups, cpu->llc));
    case COL_LLC_CPUS:
        return topo_cpuset_describe(cpu->llc, TRUE, "-");
    case COL_ALLOWED:
    case COL_ISOLATED: {
        g_autoptr(TopoCpuSet) part = topo_cpuset_copy(core);
        if (col == COL_ALLOWED) {
            topo_cpuset_intersect(part, host->cpus_allowed);
        } else {
            g_autoptr(TopoCpuSet) quiet = topo_cpuset_copy(host->isolated);
            topo_cpuset_union(quiet, host->nohz_full);
            topo_cpuset_intersect(part, quiet);
        }
        return topo_cpuset_describe(part, FALSE, "-");
    }
    }
    return g_strdup("?");
}

/* One row per core: the CPUs of an SMT sibling group, listed once at its first CPU. */
static void format_cores(GString *out, const TopoHost *host, const GArray *cols)
{
    g_autoptr(GPtrArray) groups = llc_groups(host);
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_autofree guint *width = g_new0(guint, cols->len);
    for (guint c = 0; c < cols->len; c++) {
        const char *title = core_columns[g_array_index(cols, CoreColumn, c)].name;
        g_ptr_array_add(cells, g_strdup(title));
        width[c] = (guint)strlen(title);
    }
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if (topo_cpuset_has(seen, cpu->cpu))
            continue;
        g_autoptr(TopoCpuSet) core = topo_cpuset_copy(cpu->siblings);
        topo_cpuset_intersect(core, host->online);
        topo_cpuset_union(seen, core);
        topo_cpuset_add(seen, cpu->cpu);
        for (guint c = 0; c < cols->len; c++) {
            char *cell = core_cell(host, groups, cpu, core, g_array_index(cols, CoreColumn, c));
            width[c] = MAX(width[c], (guint)strlen(cell));
            g_ptr_array_add(cells, cell);
        }
    }
    for (guint i = 0; i < cells->len; i++) {
        guint c = i % cols->len;
        const char *cell = cells->pdata[i];
        gboolean last = c == cols->len - 1;
        if (c)
            g_string_append_c(out, ' ');
        if (core_columns[g_array_index(cols, CoreColumn, c)].right)
            g_string_append_printf(out, "%*s", (int)width[c], cell);
        else if (last)
            g_string_append(out, cell);
        else
            g_string_append_printf(out, "%-*s", (int)width[c], cell);
        if (last)
            g_string_append_c(out, '\n');
    }
}

static const char *const examples[] = {
    "qpin host",
    "qpin host --cores",
    "qpin host -o CORE,CPUS,LLC,LLC-CPUS,ALLOWED",
    "qpin host --sysroot tests/fixtures/hosts/xeon-phi-7250 --json",
    NULL,
};
static const int exits[] = {QPIN_EXIT_OK, QPIN_EXIT_FAILURE, QPIN_EXIT_USAGE, QPIN_EXIT_HOST, -1};

int qpin_cmd_host(int argc, char **argv)
{
    g_autofree char *sysroot = NULL, *columns = NULL;
    gboolean json = FALSE, cores = FALSE, want_help = FALSE;
    GOptionEntry entries[] = {
        {"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &sysroot,
         "Read /sys and /proc under DIR instead of this machine", "DIR"},
        {"cores", 0, 0, G_OPTION_ARG_NONE, &cores, "Print one row per core instead of the summary",
         NULL},
        {"output", 'o', 0, G_OPTION_ARG_STRING, &columns,
         "The columns of the core table, comma-separated (implies --cores): SOCKET, DIE, CORE, "
         "NODE, CPUS, THREADS, LLC, LLC-CPUS, ALLOWED, ISOLATED (default " DEFAULT_CORE_COLUMNS ")",
         "COLUMNS"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Write one JSON document to stdout", NULL},
        {"help", 'h', 0, G_OPTION_ARG_NONE, &want_help, "Show this help", NULL},
        {NULL},
    };
    const QpinHelp help = {
        .command = "host",
        .usage = "[--sysroot DIR] [--cores | -o COLUMNS | --json]",
        .description = "Shows what qpin sees of the host: the online, allowed, isolated and "
                       "nohz_full CPUs, then per NUMA node its CPUs (cores x threads, last-level "
                       "cache groups), memory, hugepages, and the node distances, like numactl "
                       "-H. --cores prints one row per core (SMT siblings, LLC group), like "
                       "lscpu -e. With --sysroot, a recorded tree of /sys and /proc is read "
                       "instead (see scripts/dump-host).",
        .options = entries,
        .examples = examples,
        .exit_statuses = exits,
        .see_also = "qpin(1), qpin-plan(1), numactl(8), lscpu(1)",
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_help_enabled(context, FALSE);

    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        qpin_err("host: %s (see 'qpin host --help')", error->message);
        return QPIN_EXIT_USAGE;
    }
    if (want_help)
        return qpin_help_print(&help);
    if (argc > 1) {
        qpin_err("host: unexpected argument '%s'", argv[1]);
        return QPIN_EXIT_USAGE;
    }
    g_autoptr(GArray) cols = NULL;
    if (columns || cores) {
        g_autofree char *bad = NULL;
        cols = parse_columns(columns ? columns : DEFAULT_CORE_COLUMNS, &bad);
        if (!cols) {
            qpin_err("host: %s", bad);
            return QPIN_EXIT_USAGE;
        }
        if (json) {
            qpin_err("host: --json prints the whole host; leave out --cores and -o");
            return QPIN_EXIT_USAGE;
        }
    }

    g_autoptr(TopoHost) host = topo_host_read(sysroot, &error);
    if (!host) {
        qpin_err("cannot read the host: %s", error->message);
        return QPIN_EXIT_HOST;
    }
    qpin_output_host_warnings(host);

    g_autoptr(GString) text = g_string_new(NULL);
    if (json) {
        json_object *doc = qpin_host_to_json(host);
        g_string_append_printf(
            text, "%s\n",
            json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
    } else if (cols) {
        format_cores(text, host, cols);
    } else {
        format_compact(text, host);
    }
    if (!qpin_stream_write(stdout, text->str, &error)) {
        qpin_err("%s", error->message);
        return QPIN_EXIT_FAILURE;
    }
    return QPIN_EXIT_OK;
}
