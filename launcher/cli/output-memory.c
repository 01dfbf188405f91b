/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest memory as JSON and as the placement table, see qpin-output-memory.h. Owns
 * the "numa" and "memory" members of plans and reports and the GUEST/BACKEND/... table. */
#include "qpin-output-memory.h"

#include "qpin-memory.h"
#include "qpin-output-report.h"
#include "qpin-placement-check.h"
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

void qpin_output_memory_nodes_text(const GPtrArray *nodes, GString *out)
{
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_autofree char *size = qpin_size_format(node->size_bytes);
        g_string_append_printf(out, "guest node %d: %s", node->guest_node, size);
        if (node->host_nodes) {
            g_autofree char *hn = topo_cpuset_format(node->host_nodes);
            g_string_append_printf(out, " on host node %s (%s%s)", hn,
                                   node->host_nodes_auto ? "auto, " : "",
                                   qpin_memory_policy_name(node->policy));
        }
        if (node->hugepage_kib) {
            g_autofree char *page = qpin_size_format(node->hugepage_kib * 1024);
            g_string_append_printf(out, ", %s pages", page);
        }
        if (node->prealloc && node->prealloc_threads)
            g_string_append_printf(out, ", preallocated by %d thread%s (%s)",
                                   node->prealloc_threads, node->prealloc_threads == 1 ? "" : "s",
                                   node->prealloc_threads_auto ? "qpin's choice" : "given");
        else if (node->prealloc)
            g_string_append(out, ", preallocated by QEMU's default thread count");
        g_string_append_c(out, '\n');
    }
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
        json_object *per = json_object_new_array();
        for (guint n = 0; n < p->pages_per_node->len; n++) {
            guint64 pages = g_array_index(p->pages_per_node, guint64, n);
            if (!pages)
                continue;
            json_object *e = json_object_new_object();
            json_object_object_add(e, "node", json_object_new_int((int)n));
            json_object_object_add(e, "pages", json_object_new_uint64(pages));
            json_object_object_add(e, "bytes", json_object_new_uint64(pages * p->page_kib * 1024));
            json_object_array_add(per, e);
        }
        json_object_object_add(o, "nodes", per);
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
        GString *per = g_string_new(NULL);
        for (guint n = 0; n < p->pages_per_node->len; n++) {
            guint64 pages = g_array_index(p->pages_per_node, guint64, n);
            if (!pages)
                continue;
            g_autofree char *bytes = qpin_size_format_human(pages * p->page_kib * 1024);
            g_string_append_printf(per, "%s%u: %s", per->len ? ", " : "", n, bytes);
        }
        if (!per->len)
            g_string_append(per, "-");
        const char *status = p->problem ? p->problem : !p->found ? "not found" : "ok";
        g_string_append_printf(out, "%-6d %-10s %-14s %-6s %-11s %-28s %s%s\n", p->guest_node,
                               p->backend_id, p->policy ? p->policy : "", page,
                               p->found ? resident : "-", per->str, p->ok ? "" : "WRONG: ", status);
        g_string_free(per, TRUE);
    }
}
