/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host preflight of the guest memory, see qpin-preflight.h. Owns what the guest
 * nodes demand of each host node and hugepage pool, and the messages that say how to fix it. */
#include "qpin-preflight.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/statfs.h>

/* What the guest nodes ask of one host node (plain memory) or one host node's hugepage pool. */
typedef struct {
    int host_node;    /* -1: any allowed node (hugepages without a strict binding) */
    guint64 page_kib; /* 0: plain memory */
    guint64 amount;   /* KiB of plain memory, or hugepages */
    GString *who;     /* "guest node 0 (--numa '...')", joined */
    guint n_who;
    TopoCpuSet *guest_nodes;
} NumaDemand;

static void numa_demand_free(NumaDemand *d)
{
    g_string_free(d->who, TRUE);
    topo_cpuset_free(d->guest_nodes);
    g_free(d);
}

static void numa_demand_add(GPtrArray *demands, int host_node, guint64 page_kib, guint64 amount,
                            const QpinNumaNode *node)
{
    NumaDemand *d = NULL;
    for (guint i = 0; i < demands->len && !d; i++) {
        NumaDemand *c = g_ptr_array_index(demands, i);
        if (c->host_node == host_node && c->page_kib == page_kib)
            d = c;
    }
    if (!d) {
        d = g_new0(NumaDemand, 1);
        d->host_node = host_node;
        d->page_kib = page_kib;
        d->who = g_string_new(NULL);
        d->guest_nodes = topo_cpuset_new();
        g_ptr_array_add(demands, d);
    }
    topo_cpuset_add(d->guest_nodes, node->guest_node);
    d->amount += amount;
    g_string_append_printf(d->who, "%sguest node %d (%s)", d->n_who ? " and " : "",
                           node->guest_node, node->origin);
    d->n_who++;
}

static char *numa_node_list_with_memory(const TopoHost *host)
{
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *hn = g_ptr_array_index(host->nodes, i);
        if (hn->mem_total_kib > 0 &&
            (!host->mems_allowed || topo_cpuset_has(host->mems_allowed, hn->id)))
            topo_cpuset_add(set, hn->id);
    }
    return topo_cpuset_format(set);
}

static void numa_check_host_nodes(const QpinNumaNode *node, const TopoHost *host, GString *problems)
{
    for (int h = topo_cpuset_first(node->host_nodes); h >= 0;
         h = topo_cpuset_next(node->host_nodes, h)) {
        const TopoNode *hn = topo_host_node(host, h);
        g_autofree char *usable = numa_node_list_with_memory(host);
        if (!hn) {
            g_string_append_printf(problems,
                                   "\nguest node %d (%s): host node %d does not exist; host "
                                   "nodes with memory qpin may use: %s",
                                   node->guest_node, node->origin, h, *usable ? usable : "none");
        } else if (hn->mem_total_kib == 0) {
            g_string_append_printf(problems,
                                   "\nguest node %d (%s): host node %d has no memory; host nodes "
                                   "with memory qpin may use: %s",
                                   node->guest_node, node->origin, h, *usable ? usable : "none");
        } else if (host->mems_allowed && !topo_cpuset_has(host->mems_allowed, h)) {
            g_autofree char *allowed = topo_cpuset_format(host->mems_allowed);
            g_string_append_printf(problems,
                                   "\nguest node %d (%s): host node %d is not in qpin's allowed "
                                   "memory nodes (Mems_allowed_list %s, set by a cpuset cgroup or "
                                   "the batch allocation); bind to one of %s or run qpin with "
                                   "node %d allowed",
                                   node->guest_node, node->origin, h, allowed,
                                   *usable ? usable : "none", h);
        }
    }
}

/* A hugetlbfs mount for backend=file with hugepages= is checked on the live host only: a
 * --sysroot tree has no mounts. */
static void numa_check_hugetlbfs(const QpinNumaNode *node, GString *problems)
{
    struct statfs st;
    g_autofree char *dir = NULL;
    if (statfs(node->path, &st) != 0) {
        dir = g_path_get_dirname(node->path);
        if (statfs(dir, &st) != 0) {
            g_string_append_printf(problems, "\nguest node %d (%s): path=%s: %s", node->guest_node,
                                   node->origin, node->path, g_strerror(errno));
            return;
        }
    }
    gboolean hugetlbfs = (unsigned long)st.f_type == (unsigned long)HUGETLBFS_MAGIC;
    if (node->hugepage_kib && !hugetlbfs) {
        g_autofree char *page = qpin_size_format(node->hugepage_kib * 1024);
        g_string_append_printf(problems,
                               "\nguest node %d (%s): path=%s is not on a hugetlbfs mount; mount "
                               "one (mount -t hugetlbfs -o pagesize=%s none DIR) or leave path= "
                               "out to use memfd hugepages",
                               node->guest_node, node->origin, node->path, page);
    } else if (hugetlbfs && (guint64)st.f_bsize != node->hugepage_kib * 1024) {
        g_autofree char *mount_page = qpin_size_format((guint64)st.f_bsize);
        g_string_append_printf(problems,
                               "\nguest node %d (%s): path=%s is a hugetlbfs mount of %s pages; "
                               "say so with hugepages=%s so qpin checks the reservation",
                               node->guest_node, node->origin, node->path, mount_page, mount_page);
    }
}

static void numa_check_demand(const NumaDemand *d, const TopoHost *host, GString *problems)
{
    const char *verb = d->n_who > 1 ? "need together" : "needs";
    if (d->page_kib == 0) {
        const TopoNode *hn = topo_host_node(host, d->host_node);
        if (!hn || d->amount <= hn->mem_free_kib)
            return;
        g_autofree char *need = qpin_size_format_human(d->amount * 1024);
        g_autofree char *free_ = qpin_size_format_human(hn->mem_free_kib * 1024);
        g_string_append_printf(problems,
                               "\n%s %s %s on host node %d (policy=bind), which has %s free "
                               "(MemFree of /sys/devices/system/node/node%d/meminfo); free memory "
                               "there (page cache counts as used: sync; echo 3 > "
                               "/proc/sys/vm/drop_caches) or bind elsewhere",
                               d->who->str, verb, need, d->host_node, free_, d->host_node);
        return;
    }

    g_autofree char *page = qpin_size_format(d->page_kib * 1024);
    g_autofree char *need_bytes = qpin_size_format_human(d->amount * d->page_kib * 1024);
    if (d->host_node >= 0) {
        const TopoNode *hn = topo_host_node(host, d->host_node);
        if (!hn)
            return;
        const TopoHugepages *pool = topo_node_hugepages(hn, d->page_kib);
        if (!pool) {
            g_string_append_printf(problems,
                                   "\n%s %s %" G_GUINT64_FORMAT " hugepages of %s (%s) on host "
                                   "node %d, which has no %s hugepage pool "
                                   "(/sys/devices/system/node/node%d/hugepages/"
                                   "hugepages-%" G_GUINT64_FORMAT "kB is missing: the CPU or "
                                   "kernel lacks %s pages)",
                                   d->who->str, verb, d->amount, page, need_bytes, d->host_node,
                                   page, d->host_node, d->page_kib, page);
            return;
        }
        if (d->amount <= pool->free)
            return;
        g_string_append_printf(problems,
                               "\n%s %s %" G_GUINT64_FORMAT " hugepages of %s (%s) on host node "
                               "%d, which has %" G_GUINT64_FORMAT " free of %" G_GUINT64_FORMAT,
                               d->who->str, verb, d->amount, page, need_bytes, d->host_node,
                               pool->free, pool->total);
        guint64 missing = d->amount - pool->free;
        guint64 room = hn->mem_free_kib / d->page_kib;
        if (missing <= room) {
            g_string_append_printf(problems,
                                   "; reserve them with: echo %" G_GUINT64_FORMAT
                                   " > /sys/devices/system/node/node%d/hugepages/"
                                   "hugepages-%" G_GUINT64_FORMAT "kB/nr_hugepages",
                                   pool->total + missing, d->host_node, d->page_kib);
        } else {
            g_autofree char *free_ = qpin_size_format_human(hn->mem_free_kib * 1024);
            g_string_append_printf(
                problems,
                "; the node cannot hold them: %" G_GUINT64_FORMAT
                " more are missing and its %s of MemFree holds at most %" G_GUINT64_FORMAT
                " %s pages; bind the guest node to other "
                "host nodes or give it less memory",
                missing, free_, room, page);
        }
        return;
    }

    /* Not strictly bound: the pages may come from any node qpin may allocate on. */
    guint64 free_pages = 0, total_pages = 0, room = 0, mem_free_kib = 0;
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *hn = g_ptr_array_index(host->nodes, i);
        const TopoHugepages *pool = topo_node_hugepages(hn, d->page_kib);
        if (!pool)
            continue;
        total_pages += pool->total;
        if (!host->mems_allowed || topo_cpuset_has(host->mems_allowed, hn->id)) {
            free_pages += pool->free;
            /* A page is never split over nodes: each node's room counts in whole pages. */
            room += hn->mem_free_kib / d->page_kib;
            mem_free_kib += hn->mem_free_kib;
        }
    }
    if (d->amount <= free_pages)
        return;
    g_string_append_printf(problems,
                           "\n%s %s %" G_GUINT64_FORMAT " hugepages of %s (%s), and the host "
                           "nodes qpin may use have %" G_GUINT64_FORMAT " free",
                           d->who->str, verb, d->amount, page, need_bytes, free_pages);
    guint64 missing = d->amount - free_pages;
    if (missing <= room) {
        g_string_append_printf(problems,
                               "; reserve them with: echo %" G_GUINT64_FORMAT
                               " > /sys/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT
                               "kB/nr_hugepages",
                               total_pages + missing, d->page_kib);
    } else {
        g_autofree char *free_ = qpin_size_format_human(mem_free_kib * 1024);
        g_string_append_printf(
            problems,
            "; the host cannot hold them: %" G_GUINT64_FORMAT " more are "
            "missing and the %s of MemFree of those nodes holds at most %" G_GUINT64_FORMAT
            " %s pages; give the guest less memory",
            missing, free_, room, page);
    }
}

/* What @nodes ask of each host node and hugepage pool; what keeps a node from being checked at
 * all (a host node that does not exist, a wrong hugetlbfs mount) goes to @problems. */
static GPtrArray *numa_demands(const GPtrArray *nodes, const TopoHost *host, GString *problems)
{
    GPtrArray *demands = g_ptr_array_new_with_free_func((GDestroyNotify)numa_demand_free);
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        gsize before = problems->len;
        if (node->host_nodes)
            numa_check_host_nodes(node, host, problems);
        if (host->live && node->path)
            numa_check_hugetlbfs(node, problems);
        if (problems->len != before)
            continue;

        guint n = node->host_nodes ? topo_cpuset_count(node->host_nodes) : 0;
        gboolean strict =
            node->policy == QPIN_NUMA_POLICY_BIND || node->policy == QPIN_NUMA_POLICY_INTERLEAVE;
        if (node->hugepage_kib) {
            guint64 pages = node->size_bytes / (node->hugepage_kib * 1024);
            if (!strict) {
                numa_demand_add(demands, -1, node->hugepage_kib, pages, node);
                continue;
            }
            /* Split evenly; the first nodes take the remainder. */
            guint k = 0;
            for (int h = topo_cpuset_first(node->host_nodes); h >= 0;
                 h = topo_cpuset_next(node->host_nodes, h), k++)
                numa_demand_add(demands, h, node->hugepage_kib, pages / n + (k < pages % n), node);
        } else if (node->policy == QPIN_NUMA_POLICY_BIND) {
            guint64 kib = node->size_bytes / 1024;
            guint k = 0;
            for (int h = topo_cpuset_first(node->host_nodes); h >= 0;
                 h = topo_cpuset_next(node->host_nodes, h), k++)
                numa_demand_add(demands, h, 0, kib / n + (k < kib % n), node);
        }
    }
    return demands;
}

gboolean qpin_preflight_memory(const GPtrArray *nodes, const TopoHost *host, GError **error)
{
    if (!nodes || nodes->len == 0)
        return TRUE;
    if (!qpin_memory_validate(nodes, error))
        return FALSE;

    g_autoptr(GString) problems = g_string_new(NULL);
    g_autoptr(GPtrArray) demands = numa_demands(nodes, host, problems);
    for (guint i = 0; i < demands->len; i++)
        numa_check_demand(g_ptr_array_index(demands, i), host, problems);

    if (problems->len) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT,
                    "the host cannot hold the guest memory:%s", problems->str);
        return FALSE;
    }
    return TRUE;
}

GArray *qpin_preflight_hugepage_demands(const GPtrArray *nodes, const TopoHost *host,
                                        GError **error)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(QpinHugepageDemand));
    if (!nodes || nodes->len == 0)
        return out;
    g_autoptr(GString) problems = g_string_new(NULL);
    g_autoptr(GPtrArray) demands = numa_demands(nodes, host, problems);
    for (guint i = 0; i < demands->len; i++) {
        const NumaDemand *d = g_ptr_array_index(demands, i);
        if (!d->page_kib)
            continue;
        if (d->host_node < 0) {
            g_autofree char *page = qpin_size_format(d->page_kib * 1024);
            g_string_append_printf(problems,
                                   "\n%s: --reserve-hugepages raises the %s pool of the host "
                                   "nodes the guest memory is bound to, and this memory has no "
                                   "strict binding; give it host nodes with policy=bind or "
                                   "interleave (SIZE@NODES)",
                                   d->who->str, page);
            continue;
        }
        QpinHugepageDemand hd = {d->host_node, d->page_kib, d->amount};
        g_array_append_val(out, hd);
    }
    if (problems->len) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "--reserve-hugepages:%s", problems->str);
        g_array_unref(out);
        return NULL;
    }
    return out;
}

/* ---- SIZE@auto ---------------------------------------------------------------------------- */

/* What guest nodes already ask of one host node while @auto nodes are placed. */
typedef struct {
    guint64 kib;   /* plain memory */
    guint64 pages; /* hugepages of the node's page size (one size per guest node) */
    guint64 page_kib;
    guint vcpus;
    guint guests;
} AutoClaim;

/* The allowed CPUs of host node @hn that --reserve leaves. */
static guint auto_node_cpus(const TopoNode *hn, const TopoHost *host, const TopoCpuSet *reserved)
{
    if (!hn->cpus)
        return 0;
    g_autoptr(TopoCpuSet) cpus = topo_cpuset_copy(hn->cpus);
    if (host->cpus_allowed)
        topo_cpuset_intersect(cpus, host->cpus_allowed);
    if (reserved)
        topo_cpuset_subtract(cpus, reserved);
    return topo_cpuset_count(cpus);
}

/* Free memory of @hn for @node after @claim: KiB of plain memory, or free pages of the node's
 * hugepage size. */
static guint64 auto_node_free(const TopoNode *hn, const QpinNumaNode *node, const AutoClaim *claim)
{
    if (node->hugepage_kib) {
        const TopoHugepages *hp = topo_node_hugepages(hn, node->hugepage_kib);
        guint64 taken = claim->page_kib == node->hugepage_kib ? claim->pages : 0;
        return hp && hp->free > taken ? hp->free - taken : 0;
    }
    return hn->mem_free_kib > claim->kib ? hn->mem_free_kib - claim->kib : 0;
}

static void auto_claim(AutoClaim *claim, const QpinNumaNode *node, guint n_host)
{
    guint vcpus = node->vcpus ? topo_cpuset_count(node->vcpus) : 0;
    claim->vcpus += vcpus / n_host;
    claim->guests++;
    if (node->hugepage_kib) {
        claim->page_kib = node->hugepage_kib;
        claim->pages += node->size_bytes / (node->hugepage_kib * 1024) / n_host;
    } else {
        claim->kib += node->size_bytes / 1024 / n_host;
    }
}

gboolean qpin_preflight_auto_nodes(GPtrArray *nodes, const TopoHost *host,
                                   const TopoCpuSet *reserved, GPtrArray *notes, GError **error)
{
    guint n = host->nodes->len;
    g_autofree AutoClaim *claims = g_new0(AutoClaim, n);
    /* What the nodes with explicit host nodes already take. */
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (!node->host_nodes)
            continue;
        for (guint k = 0; k < n; k++) {
            const TopoNode *hn = g_ptr_array_index(host->nodes, k);
            if (topo_cpuset_has(node->host_nodes, hn->id))
                auto_claim(&claims[k], node, topo_cpuset_count(node->host_nodes));
        }
    }
    for (guint i = 0; nodes && i < nodes->len; i++) {
        QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (!node->host_nodes_auto || node->host_nodes)
            continue;
        guint need_cpus = node->vcpus ? topo_cpuset_count(node->vcpus) : 0;
        guint64 need = node->hugepage_kib ? node->size_bytes / (node->hugepage_kib * 1024)
                                          : node->size_bytes / 1024;
        int best = -1;
        guint64 best_free = 0;
        guint best_cpus = 0;
        g_autoptr(GString) seen = g_string_new(NULL);
        for (guint k = 0; k < n; k++) {
            const TopoNode *hn = g_ptr_array_index(host->nodes, k);
            if (host->mems_allowed && !topo_cpuset_has(host->mems_allowed, hn->id))
                continue;
            guint cpus = auto_node_cpus(hn, host, reserved);
            guint free_cpus = cpus > claims[k].vcpus ? cpus - claims[k].vcpus : 0;
            guint64 free = auto_node_free(hn, node, &claims[k]);
            g_autofree char *free_text = qpin_size_format_human(
                node->hugepage_kib ? free * node->hugepage_kib * 1024 : free * 1024);
            g_string_append_printf(seen, "%shost node %d: %s free, %u CPUs left",
                                   seen->len ? "; " : "", hn->id, free_text, free_cpus);
            if (free < need || free_cpus < need_cpus)
                continue;
            /* A node no other guest node uses first, then the most free memory, then CPUs. */
            gboolean better = best < 0 || (claims[k].guests == 0 && claims[best].guests > 0) ||
                              ((claims[k].guests == 0) == (claims[best].guests == 0) &&
                               (free > best_free || (free == best_free && free_cpus > best_cpus)));
            if (better) {
                best = (int)k;
                best_free = free;
                best_cpus = free_cpus;
            }
        }
        if (best < 0) {
            g_autofree char *size = qpin_size_format(node->size_bytes);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT,
                        "guest node %d (%s): no allowed host node has %s%s free and %u CPUs for "
                        "its vCPUs (%s); name the host node after '@' instead of auto",
                        node->guest_node, node->origin, size,
                        node->hugepage_kib ? " of hugepages" : "", need_cpus,
                        seen->len ? seen->str : "no allowed node with memory");
            return FALSE;
        }
        const TopoNode *chosen = g_ptr_array_index(host->nodes, best);
        node->host_nodes = topo_cpuset_new();
        topo_cpuset_add(node->host_nodes, chosen->id);
        auto_claim(&claims[best], node, 1);
        if (notes)
            g_ptr_array_add(notes, qpin_note_new(QPIN_NOTE_NUMA_AUTO,
                                                 "guest node %d: @auto chose host node %d (%s)",
                                                 node->guest_node, chosen->id, seen->str));
    }
    return TRUE;
}

void qpin_preflight_demand_free(QpinPreflightDemand *demand)
{
    if (!demand)
        return;
    topo_cpuset_free(demand->guest_nodes);
    g_free(demand);
}

GPtrArray *qpin_preflight_demands(const GPtrArray *nodes, const TopoHost *host)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_preflight_demand_free);
    if (!nodes || nodes->len == 0 || !host)
        return out;
    g_autoptr(GString) ignored = g_string_new(NULL);
    g_autoptr(GPtrArray) demands = numa_demands(nodes, host, ignored);
    for (guint i = 0; i < demands->len; i++) {
        const NumaDemand *d = g_ptr_array_index(demands, i);
        QpinPreflightDemand *v = g_new0(QpinPreflightDemand, 1);
        v->host_node = d->host_node;
        v->page_kib = d->page_kib;
        v->needed = d->amount;
        v->guest_nodes = topo_cpuset_copy(d->guest_nodes);
        /* The same figures numa_check_demand() compares. */
        if (d->host_node >= 0) {
            const TopoNode *hn = topo_host_node(host, d->host_node);
            const TopoHugepages *pool =
                hn && d->page_kib ? topo_node_hugepages(hn, d->page_kib) : NULL;
            v->known = hn && (!d->page_kib || pool);
            v->available = !v->known ? 0 : d->page_kib ? pool->free : hn->mem_free_kib;
        } else {
            for (guint n = 0; n < host->nodes->len; n++) {
                const TopoNode *hn = g_ptr_array_index(host->nodes, n);
                const TopoHugepages *pool = topo_node_hugepages(hn, d->page_kib);
                if (pool && (!host->mems_allowed || topo_cpuset_has(host->mems_allowed, hn->id)))
                    v->available += pool->free;
            }
            v->known = TRUE;
        }
        v->ok = v->known && v->needed <= v->available;
        g_ptr_array_add(out, v);
    }
    return out;
}
