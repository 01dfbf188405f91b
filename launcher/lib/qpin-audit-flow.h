/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the map of a plan for the host audit (qpin-check.h). */
#pragma once

#include "qpin-audit.h"
#include "qpin-session.h"

G_BEGIN_DECLS

/* The map @s computed (after qpin_flow_plan(); after qpin_flow_prepare() a cpulist or groups
 * map's CPUs, s->early_vcpu_cpus, stand in for it): the vCPU threads' planned CPUs, the emulator
 * and iothread CPUs, --vcpu-sched fifo/rr, and the guest nodes backed by hugepages (memory
 * bound to several host nodes counted evenly on each). NULL with QPIN_ERROR_MAP when no vCPU
 * is pinned. */
QpinAuditMap *qpin_audit_map_from_flow(const QpinFlow *s, GError **error);

G_END_DECLS
