/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin host — what qpin sees of the host, as a human summary or as JSON. */
#include "qpin-host-json.h"
#include "qpin-file-write.h"
#include "qpin-cli.h"
#include "qpin-output-report.h"
#include "qpin-output.h"
#include "qpin-size.h"

#include <stdio.h>

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

static void format_nodes(GString *out, const TopoHost *host)
{
    g_string_append(out, "NUMA nodes:\n");
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        g_autofree char *cpus = topo_cpuset_describe(node->cpus, FALSE, "-");
        g_autofree char *total = qpin_size_format_human(node->mem_total_kib * 1024);
        g_autofree char *free_mem = qpin_size_format_human(node->mem_free_kib * 1024);
        g_string_append_printf(out, "  node %d: cpus %s (%u), memory %s, %s free\n", node->id, cpus,
                               topo_cpuset_count(node->cpus), total, free_mem);
        for (guint h = 0; h < node->hugepages->len; h++) {
            const TopoHugepages *hp = &g_array_index(node->hugepages, TopoHugepages, h);
            g_autofree char *size = qpin_size_format(hp->size_kib * 1024);
            g_string_append_printf(
                out, "    hugepages %s: %" G_GUINT64_FORMAT " total, %" G_GUINT64_FORMAT " free\n",
                size, hp->total, hp->free);
        }
    }

    g_string_append_printf(out, "\nNode distances:\n  %6s", "node");
    for (guint i = 0; i < host->nodes->len; i++)
        g_string_append_printf(out, " %4d",
                               ((const TopoNode *)g_ptr_array_index(host->nodes, i))->id);
    g_string_append_c(out, '\n');
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        g_string_append_printf(out, "  %5d:", node->id);
        for (guint j = 0; j < node->distances->len; j++)
            g_string_append_printf(out, " %4d", g_array_index(node->distances, int, j));
        g_string_append_c(out, '\n');
    }
}

/* One line per core: the CPUs of an SMT sibling group, listed once at its first CPU. */
static void format_cores(GString *out, const TopoHost *host)
{
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    g_string_append_printf(out, "\nCores (%u CPUs online):\n", host->cpus->len);
    g_string_append_printf(out, "  %7s %4s %5s %5s  %-20s %s\n", "package", "die", "core", "node",
                           "cpus", "llc");
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if (topo_cpuset_has(seen, cpu->cpu))
            continue;
        topo_cpuset_union(seen, cpu->siblings);
        topo_cpuset_add(seen, cpu->cpu);
        g_autofree char *siblings = topo_cpuset_describe(cpu->siblings, FALSE, "-");
        g_autofree char *llc = topo_cpuset_describe(cpu->llc, FALSE, "-");
        g_string_append_printf(out, "  %7d %4d %5d %5d  %-20s %s\n", cpu->package, cpu->die,
                               cpu->core, cpu->node, siblings, llc);
    }
}

static void format_human(GString *out, const TopoHost *host)
{
    g_autofree char *online = topo_cpuset_describe(host->online, FALSE, "-");
    g_autofree char *offline = topo_cpuset_describe(host->offline, FALSE, "-");
    g_autofree char *isolated = topo_cpuset_describe(host->isolated, FALSE, "-");
    g_autofree char *nohz = topo_cpuset_describe(host->nohz_full, FALSE, "-");
    g_autofree char *allowed = topo_cpuset_describe(host->cpus_allowed, FALSE, "-");
    g_autofree char *mems = topo_cpuset_describe(host->mems_allowed, FALSE, "-");

    g_string_append_printf(out, "Host:         %s%s\n", host->sysroot,
                           host->live ? " (this machine)" : "");
    g_string_append_printf(out, "CPUs online:  %s (%u)\n", online, topo_cpuset_count(host->online));
    g_string_append_printf(out, "CPUs offline: %s\n", offline);
    g_string_append_printf(out, "Isolated:     %s\n", isolated);
    g_string_append_printf(out, "nohz_full:    %s\n", nohz);
    g_string_append_printf(out, "Allowed CPUs: %s (%u)\n", allowed,
                           topo_cpuset_count(host->cpus_allowed));
    g_string_append_printf(out, "Allowed memory nodes: %s\n\n", mems);
    format_nodes(out, host);
    format_cores(out, host);
}

int qpin_cmd_host(int argc, char **argv)
{
    g_autofree char *sysroot = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &sysroot,
         "Read /sys and /proc under DIR instead of this machine", "DIR"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Write one JSON document to stdout", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- show what qpin sees of the host");
    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_summary(
        context, "CPUs, cores, SMT siblings, last-level caches, NUMA nodes with memory,\n"
                 "hugepages and distances, isolated CPUs, and the CPUs and memory nodes\n"
                 "this process may use.");
    g_set_prgname("qpin host");

    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        qpin_err("host: %s", error->message);
        return QPIN_EXIT_USAGE;
    }
    if (argc > 1) {
        qpin_err("host: unexpected argument '%s'", argv[1]);
        return QPIN_EXIT_USAGE;
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
    } else {
        format_human(text, host);
    }
    if (!qpin_stream_write(stdout, text->str, &error)) {
        qpin_err("%s", error->message);
        return QPIN_EXIT_FAILURE;
    }
    return QPIN_EXIT_OK;
}
