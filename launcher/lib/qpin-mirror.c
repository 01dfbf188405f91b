/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — guests shaped like the host, see qpin-mirror.h. */
#include "qpin-mirror.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <string.h>

void qpin_mirror_free(QpinMirror *m)
{
    if (!m)
        return;
    g_free(m->spec);
    topo_cpuset_free(m->host_nodes);
    topo_cpuset_free(m->cpus);
    g_free(m->vcpu_cpu);
    if (m->node_vcpus)
        g_ptr_array_unref(m->node_vcpus);
    g_free(m->smp);
    g_free(m->pin);
    g_free(m);
}

/* One host core of the mirror: its threads (ascending CPUs) and where it sits. */
typedef struct {
    int package, die, node_pos, first;
    GArray *cpus; /* int */
} MirrorCore;

static void mirror_core_free(MirrorCore *c)
{
    g_array_unref(c->cpus);
    g_free(c);
}

static gint mirror_core_cmp(gconstpointer a, gconstpointer b)
{
    const MirrorCore *x = *(MirrorCore *const *)a, *y = *(MirrorCore *const *)b;
    if (x->package != y->package)
        return x->package < y->package ? -1 : 1;
    if (x->die != y->die)
        return x->die < y->die ? -1 : 1;
    if (x->node_pos != y->node_pos)
        return x->node_pos < y->node_pos ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static gboolean mirror_nodes(const TopoHost *host, const char *spec, TopoCpuSet **nodes,
                             GError **error)
{
    if (strcmp(spec, "host") == 0) {
        *nodes = topo_cpuset_new();
        for (guint i = 0; i < host->nodes->len; i++) {
            const TopoNode *hn = g_ptr_array_index(host->nodes, i);
            if (hn->cpus && !topo_cpuset_is_empty(hn->cpus) &&
                (!host->cpus_allowed || topo_cpuset_intersects(hn->cpus, host->cpus_allowed)))
                topo_cpuset_add(*nodes, hn->id);
        }
        return TRUE;
    }
    if (!g_str_has_prefix(spec, "node=")) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror '%s': expected node=N[,N...] (host nodes, e.g. node=1 or node=0-1) "
                    "or host",
                    spec);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    *nodes = topo_cpuset_parse(spec + 5, &local);
    if (!*nodes || topo_cpuset_is_empty(*nodes)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror '%s': '%s' is not a list of host node ids%s%s; write e.g. node=1 "
                    "or node=0,2",
                    spec, spec + 5, local ? ": " : "", local ? local->message : "");
        return FALSE;
    }
    return TRUE;
}

/* Checks that every element of @counts (a GHashTable of key -> count) is the same; @what
 * names the count ("threads per core"), @unit the key ("core"). */
static gboolean mirror_uniform(GHashTable *counts, const char *spec, const char *what, int *value,
                               GError **error)
{
    GHashTableIter it;
    gpointer key, val;
    const char *first_key = NULL;
    int first = -1;
    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        int n = GPOINTER_TO_INT(val);
        if (first < 0) {
            first = n;
            first_key = key;
        } else if (n != first) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--mirror %s: the chosen CPUs have no uniform shape: %s has %d %s, %s has "
                        "%d (a guest's -smp gives every one the same); choose other nodes, or "
                        "give -smp and --pin yourself",
                        spec, first_key, first, what, (const char *)key, n);
            return FALSE;
        }
    }
    *value = first;
    return TRUE;
}

static void count_add(GHashTable *counts, char *key)
{
    int n = GPOINTER_TO_INT(g_hash_table_lookup(counts, key));
    g_hash_table_replace(counts, key, GINT_TO_POINTER(n + 1));
}

static char *cpulist_in_order(const int *cpus, guint n)
{
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < n;) {
        guint j = i;
        while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
            j++;
        if (out->len)
            g_string_append_c(out, ',');
        if (j > i)
            g_string_append_printf(out, "%d-%d", cpus[i], cpus[j]);
        else
            g_string_append_printf(out, "%d", cpus[i]);
        i = j + 1;
    }
    return g_string_free(out, FALSE);
}

QpinMirror *qpin_mirror_derive(const TopoHost *host, const char *spec, GError **error)
{
    g_autoptr(QpinMirror) m = g_new0(QpinMirror, 1);
    m->spec = g_strdup(spec);
    if (!mirror_nodes(host, spec, &m->host_nodes, error))
        return NULL;
    if (topo_cpuset_is_empty(m->host_nodes)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror %s: no host node has allowed CPUs", spec);
        return NULL;
    }
    m->cpus = topo_cpuset_new();
    int pos = 0;
    g_autoptr(GHashTable) node_pos = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (int n = topo_cpuset_first(m->host_nodes); n >= 0;
         n = topo_cpuset_next(m->host_nodes, n), pos++) {
        const TopoNode *hn = topo_host_node(host, n);
        g_autoptr(TopoCpuSet) cpus = hn && hn->cpus ? topo_cpuset_copy(hn->cpus) : NULL;
        if (cpus && host->cpus_allowed)
            topo_cpuset_intersect(cpus, host->cpus_allowed);
        if (!cpus || topo_cpuset_is_empty(cpus)) {
            g_autofree char *allowed =
                host->cpus_allowed ? topo_cpuset_format(host->cpus_allowed) : g_strdup("all");
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--mirror %s: host node %d %s (allowed CPUs: %s)", spec, n,
                        hn ? "has no online, allowed CPU" : "does not exist", allowed);
            return NULL;
        }
        topo_cpuset_union(m->cpus, cpus);
        g_hash_table_insert(node_pos, GINT_TO_POINTER(n), GINT_TO_POINTER(pos));
    }

    /* Cores: the chosen CPUs grouped by package, die and core. */
    g_autoptr(GHashTable) cores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)mirror_core_free);
    for (int c = topo_cpuset_first(m->cpus); c >= 0; c = topo_cpuset_next(m->cpus, c)) {
        const TopoCpu *cpu = topo_host_cpu(host, c);
        if (!cpu)
            continue;
        char *key = g_strdup_printf("%d/%d/%d", cpu->package, cpu->die, cpu->core);
        MirrorCore *core = g_hash_table_lookup(cores, key);
        if (!core) {
            core = g_new0(MirrorCore, 1);
            core->package = cpu->package;
            core->die = cpu->die;
            core->node_pos =
                GPOINTER_TO_INT(g_hash_table_lookup(node_pos, GINT_TO_POINTER(cpu->node)));
            core->first = c;
            core->cpus = g_array_new(FALSE, FALSE, sizeof(int));
            g_hash_table_insert(cores, key, core);
            g_ptr_array_add(list, core);
        } else {
            g_free(key);
        }
        g_array_append_val(core->cpus, c);
    }
    g_ptr_array_sort(list, mirror_core_cmp);

    g_autoptr(GHashTable) threads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) die_cores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) pkg_dies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) dies_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < list->len; i++) {
        const MirrorCore *core = list->pdata[i];
        g_hash_table_replace(threads, g_strdup_printf("core with CPU %d", core->first),
                             GINT_TO_POINTER((int)core->cpus->len));
        count_add(die_cores, g_strdup_printf("die %d of package %d", core->die, core->package));
        char *die = g_strdup_printf("%d/%d", core->package, core->die);
        if (!g_hash_table_contains(dies_seen, die)) {
            g_hash_table_add(dies_seen, die);
            count_add(pkg_dies, g_strdup_printf("package %d", core->package));
        } else {
            g_free(die);
        }
    }
    if (!mirror_uniform(threads, spec, "threads per core", &m->threads, error) ||
        !mirror_uniform(die_cores, spec, "cores", &m->cores, error) ||
        !mirror_uniform(pkg_dies, spec, "dies", &m->dies, error))
        return NULL;
    m->sockets = (int)g_hash_table_size(pkg_dies);
    m->n_vcpus = (guint)(m->sockets * m->dies * m->cores * m->threads);
    m->vcpu_cpu = g_new(int, m->n_vcpus);
    m->node_vcpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (int n = 0; n < pos; n++)
        g_ptr_array_add(m->node_vcpus, topo_cpuset_new());
    /* Sorted by package, die, node, lowest CPU: the list order is QEMU's core order. */
    guint v = 0;
    for (guint i = 0; i < list->len; i++) {
        const MirrorCore *core = list->pdata[i];
        for (guint t = 0; t < core->cpus->len; t++, v++) {
            m->vcpu_cpu[v] = g_array_index(core->cpus, int, t);
            topo_cpuset_add(m->node_vcpus->pdata[core->node_pos], (int)v);
        }
    }
    if (m->dies > 1)
        m->smp = g_strdup_printf("%u,sockets=%d,dies=%d,cores=%d,threads=%d", m->n_vcpus,
                                 m->sockets, m->dies, m->cores, m->threads);
    else
        m->smp = g_strdup_printf("%u,sockets=%d,cores=%d,threads=%d", m->n_vcpus, m->sockets,
                                 m->cores, m->threads);
    m->pin = cpulist_in_order(m->vcpu_cpu, m->n_vcpus);
    return g_steal_pointer(&m);
}

GPtrArray *qpin_mirror_numa_nodes(const QpinMirror *m, const char *memory, GError **error)
{
    if (!memory || !*memory) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror %s needs --mirror-memory SIZE[:split][:KEY=VALUE...], the memory of "
                    "each guest node (e.g. 16G, or 160G:hugepages=1G:prealloc)",
                    m->spec);
        return NULL;
    }
    g_auto(GStrv) parts = g_strsplit(memory, ":", 2);
    gboolean split = FALSE;
    GString *rest = g_string_new(NULL);
    if (parts[1]) {
        g_auto(GStrv) keys = g_strsplit(parts[1], ":", -1);
        for (int i = 0; keys[i]; i++) {
            if (strcmp(keys[i], "split") == 0) {
                split = TRUE;
                continue;
            }
            if (g_str_has_prefix(keys[i], "vcpus=") || g_str_has_prefix(keys[i], "host-nodes=")) {
                g_string_free(rest, TRUE);
                g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "--mirror-memory '%s': %s is the mirror's to set (each guest node gets "
                            "the vCPUs and host node it mirrors)",
                            memory, keys[i]);
                return NULL;
            }
            g_string_append_printf(rest, ":%s", keys[i]);
        }
    }
    g_autofree char *keys = g_string_free(rest, FALSE);
    guint64 size = 0;
    g_autoptr(GError) local = NULL;
    if (!qpin_size_parse(parts[0], &size, &local) || size == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror-memory '%s': '%s' is not a size%s%s; write e.g. 16G or 512M", memory,
                    parts[0], local ? ": " : "", local ? local->message : "");
        return NULL;
    }
    guint n = topo_cpuset_count(m->host_nodes);
    guint64 unit = 2 * 1024 * 1024;
    /* The keys alone, to learn the page size that units the split; on a host node, since
     * policy= needs one. */
    {
        g_autofree char *probe_spec = g_strdup_printf("1G@0%s", keys);
        g_autoptr(QpinNumaNode) probe = qpin_memory_node_parse(probe_spec, 0, error);
        if (!probe) {
            g_prefix_error(error, "--mirror-memory '%s': ", memory);
            return NULL;
        }
        if (probe->hugepage_kib)
            unit = probe->hugepage_kib * 1024;
    }
    if (split && (size % unit || size / unit < n)) {
        g_autofree char *u = qpin_size_format(unit);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror-memory '%s': split over %u nodes, the size must be a multiple of %s "
                    "and at least %u of them",
                    memory, n, u, n);
        return NULL;
    }
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    guint i = 0;
    for (int h = topo_cpuset_first(m->host_nodes); h >= 0;
         h = topo_cpuset_next(m->host_nodes, h), i++) {
        guint64 bytes = split ? (size / unit / n + (i < size / unit % n)) * unit : size;
        g_autofree char *text = qpin_size_format(bytes);
        g_autofree char *vcpus = topo_cpuset_format(m->node_vcpus->pdata[i]);
        g_autofree char *spec = g_strdup_printf("%s@%d:vcpus=%s%s", text, h, vcpus, keys);
        QpinNumaNode *node = qpin_memory_node_parse(spec, (int)i, error);
        if (!node) {
            g_prefix_error(error, "--mirror-memory '%s': ", memory);
            return NULL;
        }
        g_free(node->origin);
        node->origin = g_strdup_printf("--mirror %s --mirror-memory '%s'", m->spec, memory);
        g_ptr_array_add(nodes, node);
    }
    return g_steal_pointer(&nodes);
}
