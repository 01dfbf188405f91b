/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest memory for people and programs: the guest NUMA nodes and the memory
 * placement read back, as JSON (through json-c) and as the human placement table. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* JSON array of the guest nodes (QpinNumaNode*), the "numa" member of plans and reports. */
json_object *qpin_output_memory_nodes_json(const GPtrArray *nodes);
/* JSON array of the placements (QpinMemPlacement*), the "memory" member of reports. */
json_object *qpin_output_memory_placement_json(const GPtrArray *placements);
/* One line per guest node (QpinNumaNode*) for the human plan and report: size, host nodes and
 * policy, pages, and the preallocation with its thread count and whose choice it is. */
void qpin_output_memory_nodes_text(const GPtrArray *nodes, GString *out);
/* Human table of the placements, appended to @out. */
void qpin_output_memory_placement_table(const GPtrArray *placements, GString *out);

G_END_DECLS
