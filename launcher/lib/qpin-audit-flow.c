/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the map of a plan, for the host audit of `plan --check`, `run --check` and
 * `qpin check -- QEMU ...`. */
#include "qpin-audit-flow.h"

#include "qpin-error.h"
#include "qpin-memory.h"
#include "qpin-session.h"

#include <sched.h>

QpinAuditMap *qpin_audit_map_from_flow(const QpinFlow *s, GError **error)
{
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_new();
    map->housekeeping_cpus = topo_cpuset_new();
    for (guint i = 0; i < s->plan_vcpus->len; i++) {
        const QpinPlanThread *v = s->plan_vcpus->pdata[i];
        if (v->cpus)
            topo_cpuset_union(map->vcpu_cpus, v->cpus);
    }
    /* Before QEMU starts, only a cpulist or groups map says where the vCPUs go. */
    if (topo_cpuset_is_empty(map->vcpu_cpus) && s->early_vcpu_cpus)
        topo_cpuset_union(map->vcpu_cpus, s->early_vcpu_cpus);
    if (topo_cpuset_is_empty(map->vcpu_cpus)) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_MAP,
                            "the plan pins no vCPU, so there is no map to audit the host "
                            "against (give --pin)");
        return NULL;
    }
    if (s->emulator_cpus)
        topo_cpuset_union(map->housekeeping_cpus, s->emulator_cpus);
    for (guint i = 0; i < s->iothread_cpus->len; i++)
        if (s->iothread_cpus->pdata[i])
            topo_cpuset_union(map->housekeeping_cpus, s->iothread_cpus->pdata[i]);
    const QpinSched *sched = &s->opt->sched;
    map->rt = sched->set && (sched->policy == SCHED_FIFO || sched->policy == SCHED_RR);
    for (guint i = 0; s->numa_nodes && i < s->numa_nodes->len; i++) {
        const QpinNumaNode *n = s->numa_nodes->pdata[i];
        if (!n->hugepage_kib)
            continue;
        guint count = n->host_nodes ? topo_cpuset_count(n->host_nodes) : 0;
        if (!count) {
            QpinAuditHugepages h = {-1, n->hugepage_kib, n->size_bytes};
            g_array_append_val(map->hugepages, h);
            continue;
        }
        /* Memory bound to several nodes is spread over them; assume evenly. */
        for (int node = topo_cpuset_first(n->host_nodes); node >= 0;
             node = topo_cpuset_next(n->host_nodes, node)) {
            QpinAuditHugepages h = {node, n->hugepage_kib, (n->size_bytes + count - 1) / count};
            g_array_append_val(map->hugepages, h);
        }
    }
    map->source = g_strdup_printf("the plan of %s", qpin_command_name(s->opt->command));
    return g_steal_pointer(&map);
}
