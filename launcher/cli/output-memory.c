/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest memory as JSON and as the placement table, see qpin-output-memory.h. Owns
 * the "numa" and "memory" members of plans and reports and the GUEST/BACKEND/... table. */
#include "qpin-output-memory.h"

#include "qpin-memory.h"
#include "qpin-output-report.h"
#include "qpin-placement-check.h"
#include "qpin-preflight.h"
#include "qpin-size.h"

json_object *qpin_output_memory_nodes_json(const GPtrArray *nodes)
{
    json_object *array = json_object_new_array();
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        json_object *o = json_object_new_object();
        g_autofree char *id = qpin_memory_backend_id(node->guest_node);
        g_autofree char *size = qpin_size_format(node->size_bytes);
        json_object_object_add(o, "guest_node", json_object_new_int(node->guest_node));
        json_object_object_add(o, "backend_id", json_object_new_string(id));
        json_object_object_add(o, "size", json_object_new_string(size));
        json_object_object_add(o, "size_bytes", json_object_new_uint64(node->size_bytes));
        json_object_object_add(o, "host_nodes", qpin_output_json_cpuset(node->host_nodes));
        json_object_object_add(o, "policy",
                               json_object_new_string(qpin_memory_policy_name(node->policy)));
        json_object_object_add(o, "backend",
                               json_object_new_string(qpin_memory_backend_name(node->backend)));
        json_object_object_add(o, "path", node->path ? json_object_new_string(node->path) : NULL);
        json_object_object_add(o, "hugepage_kib", json_object_new_uint64(node->hugepage_kib));
        json_object_object_add(o, "prealloc", json_object_new_boolean(node->prealloc));
        json_object_object_add(o, "prealloc_threads", json_object_new_int(node->prealloc_threads));
        json_object_object_add(o, "prealloc_threads_auto",
                               json_object_new_boolean(node->prealloc_threads_auto));
        json_object_object_add(o, "host_nodes_auto",
                               json_object_new_boolean(node->host_nodes_auto));
        json_object_object_add(o, "vcpus", qpin_output_json_cpuset(node->vcpus));
        json_object_array_add(array, o);
    }
    return array;
}

json_object *qpin_output_memory_pages_json(const GArray *pages_per_node, guint64 page_kib)
{
    json_object *per = json_object_new_array();
    for (guint n = 0; n < pages_per_node->len; n++) {
        guint64 pages = g_array_index(pages_per_node, guint64, n);
        if (!pages)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "node", json_object_new_int((int)n));
        json_object_object_add(e, "pages", json_object_new_uint64(pages));
        json_object_object_add(e, "bytes", json_object_new_uint64(pages * page_kib * 1024));
        json_object_array_add(per, e);
    }
    return per;
}

char *qpin_output_memory_pages_text(const GArray *pages_per_node, guint64 page_kib)
{
    GString *per = g_string_new(NULL);
    for (guint n = 0; n < pages_per_node->len; n++) {
        guint64 pages = g_array_index(pages_per_node, guint64, n);
        if (!pages)
            continue;
        g_autofree char *bytes = qpin_size_format_human(pages * page_kib * 1024);
        g_string_append_printf(per, "%s%u: %s", per->len ? ", " : "", n, bytes);
    }
    if (!per->len)
        g_string_append(per, "-");
    return g_string_free(per, FALSE);
}

json_object *qpin_output_memory_placement_json(const GPtrArray *placements)
{
    json_object *array = json_object_new_array();
    for (guint i = 0; placements && i < placements->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(placements, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "guest_node", json_object_new_int(p->guest_node));
        json_object_object_add(o, "backend_id", json_object_new_string(p->backend_id));
        json_object_object_add(o, "found", json_object_new_boolean(p->found));
        json_object_object_add(o, "policy", json_object_new_string(p->policy ? p->policy : ""));
        json_object_object_add(o, "page_kib", json_object_new_uint64(p->page_kib));
        json_object_object_add(o, "size_bytes", json_object_new_uint64(p->size_bytes));
        json_object_object_add(o, "resident_bytes", json_object_new_uint64(p->resident_bytes));
        json_object_object_add(o, "nodes",
                               qpin_output_memory_pages_json(p->pages_per_node, p->page_kib));
        json_object_object_add(o, "ok", json_object_new_boolean(p->ok));
        json_object_object_add(o, "problem",
                               p->problem ? json_object_new_string(p->problem) : NULL);
        json_object_array_add(array, o);
    }
    return array;
}

void qpin_output_memory_placement_table(const GPtrArray *placements, GString *out)
{
    g_string_append_printf(out, "%-6s %-10s %-14s %-6s %-11s %-28s %s\n", "GUEST", "BACKEND",
                           "POLICY", "PAGE", "RESIDENT", "HOST NODES", "STATUS");
    for (guint i = 0; placements && i < placements->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(placements, i);
        g_autofree char *page = qpin_size_format(p->page_kib * 1024);
        g_autofree char *resident = qpin_size_format_human(p->resident_bytes);
        g_autofree char *per = qpin_output_memory_pages_text(p->pages_per_node, p->page_kib);
        const char *status = p->problem ? p->problem : !p->found ? "not found" : "ok";
        g_string_append_printf(out, "%-6d %-10s %-14s %-6s %-11s %-28s %s%s\n", p->guest_node,
                               p->backend_id, p->policy ? p->policy : "", page,
                               p->found ? resident : "-", per, p->ok ? "" : "WRONG: ", status);
    }
}

static void append_cell(GString *out, int width, const char *text, gboolean last)
{
    if (last)
        g_string_append_printf(out, "%s\n", text);
    else
        g_string_append_printf(out, "%-*s ", width, text);
}

void qpin_output_memory_plan(const GPtrArray *nodes, const TopoHost *host, GString *out)
{
    guint64 total = qpin_memory_total_bytes(nodes);
    g_autofree char *total_text = qpin_size_format_human(total);
    g_string_append_printf(out, "guest memory: %s in %u node%s\n", total_text, nodes->len,
                           nodes->len == 1 ? "" : "s");
    g_string_append_printf(out, "  %-5s %-10s %-10s %-10s %-7s %-5s %-8s %s\n", "GUEST", "SIZE",
                           "HOST NODES", "POLICY", "BACKEND", "PAGE", "PREALLOC", "vCPUs");
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *n = g_ptr_array_index(nodes, i);
        g_autofree char *guest = g_strdup_printf("%d", n->guest_node);
        g_autofree char *size = qpin_size_format_human(n->size_bytes);
        g_autofree char *hosts = n->host_nodes ? topo_cpuset_format(n->host_nodes)
                                               : g_strdup(n->host_nodes_auto ? "auto" : "any");
        if (n->host_nodes && n->host_nodes_auto) {
            char *chosen = g_strdup_printf("%s (auto)", hosts);
            g_free(hosts);
            hosts = chosen;
        }
        g_autofree char *page =
            n->hugepage_kib ? qpin_size_format(n->hugepage_kib * 1024) : g_strdup("base");
        /* "N thr" when given, "N auto" when qpin chose the thread count (prealloc-threads). */
        g_autofree char *prealloc =
            !n->prealloc ? g_strdup("no")
            : n->prealloc_threads
                ? g_strdup_printf("%d %s", n->prealloc_threads,
                                  n->prealloc_threads_auto ? "auto" : "thr")
                : g_strdup("yes");
        g_autofree char *vcpus = n->vcpus ? topo_cpuset_format(n->vcpus) : g_strdup("-");
        g_string_append(out, "  ");
        append_cell(out, 5, guest, FALSE);
        append_cell(out, 10, size, FALSE);
        append_cell(out, 10, hosts, FALSE);
        append_cell(out, 10, qpin_memory_policy_name(n->policy), FALSE);
        append_cell(out, 7, qpin_memory_backend_name(n->backend), FALSE);
        append_cell(out, 5, page, FALSE);
        append_cell(out, 8, prealloc, FALSE);
        append_cell(out, 0, vcpus, TRUE);
    }
    if (!host)
        return;
    g_autoptr(GPtrArray) demands = qpin_preflight_demands(nodes, host);
    if (!demands->len) {
        g_string_append(out, "preflight: nothing bound to check (no policy=bind, no hugepages)\n");
        return;
    }
    for (guint i = 0; i < demands->len; i++) {
        const QpinPreflightDemand *d = g_ptr_array_index(demands, i);
        g_autofree char *guests = topo_cpuset_format(d->guest_nodes);
        g_autofree char *where = d->host_node >= 0 ? g_strdup_printf("host node %d", d->host_node)
                                                   : g_strdup("allowed host nodes");
        const char *verdict = d->ok ? "ok" : "SHORT";
        if (!d->page_kib) {
            g_autofree char *need = qpin_size_format_human(d->needed * 1024);
            g_autofree char *have = qpin_size_format_human(d->available * 1024);
            g_string_append_printf(out, "preflight: %s: guest node%s %s need%s %s, %s free: %s\n",
                                   where, topo_cpuset_count(d->guest_nodes) > 1 ? "s" : "", guests,
                                   topo_cpuset_count(d->guest_nodes) > 1 ? "" : "s", need, have,
                                   verdict);
        } else {
            g_autofree char *page = qpin_size_format(d->page_kib * 1024);
            if (!d->known)
                g_string_append_printf(out, "preflight: %s: no %s hugepage pool: %s\n", where, page,
                                       verdict);
            else
                g_string_append_printf(out,
                                       "preflight: %s: guest node%s %s need%s %" G_GUINT64_FORMAT
                                       " x %s pages, %" G_GUINT64_FORMAT " free: %s\n",
                                       where, topo_cpuset_count(d->guest_nodes) > 1 ? "s" : "",
                                       guests, topo_cpuset_count(d->guest_nodes) > 1 ? "" : "s",
                                       d->needed, page, d->available, verdict);
        }
    }
}
