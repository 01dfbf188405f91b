/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest memory for people and programs: the guest NUMA nodes and the memory
 * placement read back, as JSON (through json-c) and as the human placement table. */
#pragma once

#include <qpin/host.h>

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* JSON array of the guest nodes (QpinNumaNode*), the "numa" member of plans and reports. */
json_object *qpin_output_memory_nodes_json(const GPtrArray *nodes);
/* JSON array of the host nodes holding pages ({"node", "pages", "bytes"}), from the pages per
 * node (guint64, indexed by node) of @page_kib each: the "nodes" of a placement. */
json_object *qpin_output_memory_pages_json(const GArray *pages_per_node, guint64 page_kib);
/* The same for people: "0: 64.0 MiB, 1: 2.0 GiB", or "-" when no node holds a page. */
char *qpin_output_memory_pages_text(const GArray *pages_per_node, guint64 page_kib);
/* JSON array of the placements (QpinMemPlacement*), the "memory" member of reports. */
json_object *qpin_output_memory_placement_json(const GPtrArray *placements);
/* Human table of the placements, appended to @out. */
void qpin_output_memory_placement_table(const GPtrArray *placements, GString *out);

/* The guest memory plan for people, appended to @out: one row per guest node (size, host nodes,
 * policy, backend, page size, prealloc: its thread count, "auto" when qpin chose it, and vCPUs), then the preflight: what the nodes ask of each
 * host node's free memory or hugepage pool on @host, what it has, and "ok" or "SHORT". */
void qpin_output_memory_plan(const GPtrArray *nodes, const TopoHost *host, GString *out);

G_END_DECLS
