/* qpin — the host model as the JSON document of `qpin host --json`. */
#pragma once

#include <qpin/host.h>

#include <json-c/json.h>

G_BEGIN_DECLS

/* A new JSON object describing @host as documented in docs/host.md (cpulists as text, node
 * memory in KiB, distances in host->nodes order). The caller owns the reference. */
json_object *qpin_host_to_json(const TopoHost *host);

G_END_DECLS
