/* qpin — the guest memory for people and programs: the guest NUMA nodes and the memory
 * placement read back, as JSON (through json-c) and as the human placement table. */
#pragma once

#include "qpin-report.h"

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* JSON array of the guest nodes (QpinNumaNode*), the "numa" member of plans and reports. */
json_object *qpin_output_memory_nodes_json(const GPtrArray *nodes);
/* JSON array of the placements (QpinMemPlacement*), the "memory" member of reports. */
json_object *qpin_output_memory_placement_json(const GPtrArray *placements);
/* Human table of the placements, appended to @out. */
void qpin_output_memory_placement_table(const GPtrArray *placements, GString *out);

/* The report sections that render report->numa_nodes and report->memory_placements, for
 * qpin_report_to_json_full(), qpin_report_format_full() and qpin_report_write_full(). */
extern const QpinReportSections qpin_output_memory_sections;

G_END_DECLS
