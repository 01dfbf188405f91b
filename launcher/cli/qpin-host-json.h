/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host model as the JSON document of `qpin host --json`. */
#pragma once

#include <qpin/host.h>

#include <json-c/json.h>

G_BEGIN_DECLS

/* The "schema_version" of `qpin host --json`, its first member (docs/schema/host.schema.json).
 * A change of shape (a member removed or renamed, a type changed) bumps it; a new member does
 * not. */
#define QPIN_HOST_SCHEMA_VERSION 1

/* A new JSON object describing @host as documented in docs/host.md ("schema_version" first,
 * cpulists as text, node memory in KiB, distances in host->nodes order). The caller owns the
 * reference. */
json_object *qpin_host_to_json(const TopoHost *host);

G_END_DECLS
