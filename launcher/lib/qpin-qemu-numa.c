/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest NUMA memory on QEMU's command line, see qpin-qemu-numa.h. Owns QEMU's
 * spelling of the memory objects (ids, sizes, ranges, escaping) and the -m/-numa conflicts. */
#include "qpin-qemu-numa.h"

#include "qpin-error.h"
#include "qpin-qemu-argv.h"
#include "qpin-size.h"

#include <string.h>

static char *numa_context_id(int guest_node)
{
    return g_strdup_printf("qpin-tc%d", guest_node);
}

/* The size= of a -m value ("512", "512M", "size=1G,slots=2,maxmem=4G", "1G,maxmem=2G"); NULL
 * when the value has no size. A bare number is MiB, as QEMU's legacy -m syntax. */
static gboolean qemu_mem_size(const char *value, guint64 *bytes, gboolean *has_size, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);
    *has_size = FALSE;
    for (guint i = 0; parts[i]; i++) {
        const char *v = NULL;
        if (g_str_has_prefix(parts[i], "size="))
            v = parts[i] + 5;
        else if (i == 0 && !strchr(parts[i], '='))
            v = parts[i];
        if (!v)
            continue;
        g_autofree char *text = NULL;
        size_t len = strlen(v);
        if (len && g_ascii_isdigit(v[len - 1]))
            text = g_strdup_printf("%sM", v);
        else if (len && (v[len - 1] == 'B' || v[len - 1] == 'b'))
            text = g_strndup(v, len - 1);
        else
            text = g_strdup(v);
        /* Zero is no guest memory, nothing to compare the nodes with. */
        if (!qpin_size_parse(text, bytes, NULL) || *bytes == 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "cannot read QEMU's -m %s to compare it with the --numa nodes; drop -m "
                        "(qpin adds it)",
                        value);
            return FALSE;
        }
        *has_size = TRUE;
    }
    return TRUE;
}

/* Appends ",KEY=A-B" once per contiguous range: QEMU's list options take one range each. */
static void append_ranges(GString *out, const char *key, const TopoCpuSet *set)
{
    for (int first = topo_cpuset_first(set); first >= 0;) {
        int last = first;
        while (topo_cpuset_has(set, last + 1))
            last++;
        if (last == first)
            g_string_append_printf(out, ",%s=%d", key, first);
        else
            g_string_append_printf(out, ",%s=%d-%d", key, first, last);
        first = topo_cpuset_next(set, last);
    }
}

/* The host nodes whose CPUs run the preallocation threads: the bound nodes when qpin may run
 * on some of their CPUs, else the nearest nodes that have such CPUs, else NULL. */
static TopoCpuSet *numa_context_nodes(const QpinNumaNode *node, const TopoHost *host)
{
    if (!host)
        return topo_cpuset_copy(node->host_nodes);

    g_autoptr(TopoCpuSet) usable = topo_cpuset_new();
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *hn = g_ptr_array_index(host->nodes, i);
        if (hn->cpus && (host->cpus_allowed ? topo_cpuset_intersects(hn->cpus, host->cpus_allowed)
                                            : !topo_cpuset_is_empty(hn->cpus)))
            topo_cpuset_add(usable, hn->id);
    }
    g_autoptr(TopoCpuSet) chosen = topo_cpuset_copy(node->host_nodes);
    topo_cpuset_intersect(chosen, usable);
    if (!topo_cpuset_is_empty(chosen))
        return g_steal_pointer(&chosen);

    int best = -1;
    for (int u = topo_cpuset_first(usable); u >= 0; u = topo_cpuset_next(usable, u)) {
        int dist = 0;
        for (int h = topo_cpuset_first(node->host_nodes); h >= 0;
             h = topo_cpuset_next(node->host_nodes, h)) {
            int d = topo_host_distance(host, h, u);
            dist += d < 0 ? 1000 : d;
        }
        if (best < 0 || dist < best) {
            best = dist;
            topo_cpuset_clear(chosen);
        }
        if (dist == best)
            topo_cpuset_add(chosen, u);
    }
    if (topo_cpuset_is_empty(chosen))
        return NULL;
    return g_steal_pointer(&chosen);
}

static char *numa_backend_object(const QpinNumaNode *node, const char *mem_id, const char *size,
                                 const char *context_id)
{
    GString *obj = g_string_new(NULL);
    g_string_append_printf(obj, "memory-backend-%s,id=%s,size=%s",
                           qpin_memory_backend_name(node->backend), mem_id, size);
    if (node->backend == QPIN_NUMA_BACKEND_FILE) {
        /* Line breaks were refused when path= was parsed, so escaping cannot fail here. */
        g_autofree char *path = qpin_qemu_escape(node->path, "path", NULL);
        g_string_append_printf(obj, ",mem-path=%s", path);
    }
    if (node->backend == QPIN_NUMA_BACKEND_MEMFD && node->hugepage_kib) {
        g_autofree char *page = qpin_size_format(node->hugepage_kib * 1024);
        g_string_append_printf(obj, ",hugetlb=on,hugetlbsize=%s", page);
    }
    if (node->host_nodes) {
        append_ranges(obj, "host-nodes", node->host_nodes);
        g_string_append_printf(obj, ",policy=%s", qpin_memory_policy_name(node->policy));
    }
    if (node->prealloc) {
        g_string_append(obj, ",prealloc=on");
        if (node->prealloc_threads)
            g_string_append_printf(obj, ",prealloc-threads=%d", node->prealloc_threads);
        if (context_id)
            g_string_append_printf(obj, ",prealloc-context=%s", context_id);
    }
    return g_string_free(obj, FALSE);
}

/* -numa dist,...: the one kind of -numa that may stand next to qpin's nodes. */
static gboolean is_numa_dist(const char *value)
{
    return g_str_has_prefix(value, "dist,") || g_str_has_prefix(value, "type=dist,");
}

static gboolean numa_qemu_args(const GPtrArray *nodes, const TopoHost *host, gboolean probe,
                               GPtrArray *qemu_argv, GError **error)
{
    if (!nodes || nodes->len == 0)
        return TRUE;
    if (!qpin_memory_validate(nodes, error))
        return FALSE;

    const char *user_m = NULL;
    char *const *words = (char *const *)qemu_argv->pdata;
    g_autoptr(GArray) user_dist = g_array_new(FALSE, FALSE, sizeof(int));
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(words, (int)qemu_argv->len, &a);) {
        if (strcmp(a.name, "numa") == 0 && a.value >= 0 && is_numa_dist(words[a.value]))
            g_array_append_val(user_dist, a.index);
        /* The user's own distances between qpin's nodes are kept (and qpin writes none). */
        if (strcmp(a.name, "numa") == 0 && !(a.value >= 0 && is_numa_dist(words[a.value]))) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "the QEMU command line already has -numa; describe the guest nodes with "
                        "--numa (or [numa.N]) only, qpin writes the -numa options (a -numa "
                        "dist,src=I,dst=J,val=D of your own is kept)");
            return FALSE;
        }
        if (strcmp(a.name, "m") == 0 && a.value >= 0)
            user_m = words[a.value];
    }

    guint64 total = qpin_memory_total_bytes(nodes);
    if (total == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "the guest node sizes add up to more than 16 EiB");
        return FALSE;
    }
    g_autofree char *total_text = qpin_size_format(total);
    gboolean add_m = TRUE;
    if (user_m) {
        guint64 user_bytes = 0;
        gboolean has_size = FALSE;
        if (!qemu_mem_size(user_m, &user_bytes, &has_size, error))
            return FALSE;
        if (has_size && user_bytes != total) {
            g_autofree char *user_text = qpin_size_format(user_bytes);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "QEMU's -m %s (%s) disagrees with the guest NUMA nodes, which add up to "
                        "%s; drop -m (qpin adds -m %s) or write -m %s",
                        user_m, user_text, total_text, total_text, total_text);
            return FALSE;
        }
        /* A -m without size= still merges with ours (QEMU merges repeated -m). */
        add_m = !has_size;
    }

    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_autofree char *mem_id = qpin_memory_backend_id(node->guest_node);
        g_autofree char *tc_id = numa_context_id(node->guest_node);
        g_autofree char *size = qpin_size_format(node->size_bytes);
        g_ptr_array_add(qemu_argv, g_strdup("-object"));
        if (probe) {
            /* reserve=off maps with MAP_NORESERVE: an 80G guest starts on a small machine. */
            g_ptr_array_add(
                qemu_argv,
                g_strdup_printf("memory-backend-ram,id=%s,size=%s,reserve=off", mem_id, size));
        } else {
            g_autoptr(TopoCpuSet) tc_nodes =
                node->prealloc && node->host_nodes ? numa_context_nodes(node, host) : NULL;
            if (tc_nodes) {
                GString *tc = g_string_new("thread-context,id=");
                g_string_append(tc, tc_id);
                append_ranges(tc, "node-affinity", tc_nodes);
                g_ptr_array_add(qemu_argv, g_string_free(tc, FALSE));
                g_ptr_array_add(qemu_argv, g_strdup("-object"));
            }
            g_ptr_array_add(qemu_argv,
                            numa_backend_object(node, mem_id, size, tc_nodes ? tc_id : NULL));
        }

        GString *numa = g_string_new(NULL);
        g_string_append_printf(numa, "node,nodeid=%d", node->guest_node);
        if (node->vcpus)
            append_ranges(numa, "cpus", node->vcpus);
        g_string_append_printf(numa, ",memdev=%s", mem_id);
        g_ptr_array_add(qemu_argv, g_strdup("-numa"));
        g_ptr_array_add(qemu_argv, g_string_free(numa, FALSE));
    }
    if (add_m) {
        g_ptr_array_add(qemu_argv, g_strdup("-m"));
        g_ptr_array_add(qemu_argv, g_strdup(total_text));
    }
    /* QEMU reads -numa in order and refuses a distance between nodes not declared yet: the
     * user's distances move behind qpin's nodes, in their own order. */
    for (guint i = user_dist->len; i-- > 0;) {
        int at = g_array_index(user_dist, int, i);
        char *option = g_ptr_array_steal_index(qemu_argv, at);
        char *value = g_ptr_array_steal_index(qemu_argv, at);
        g_ptr_array_insert(qemu_argv, (gint)(qemu_argv->len - 2 * (user_dist->len - 1 - i)),
                           option);
        g_ptr_array_insert(qemu_argv, (gint)(qemu_argv->len - 2 * (user_dist->len - 1 - i)), value);
    }
    return TRUE;
}

gboolean qpin_qemu_numa_args_host(const GPtrArray *nodes, const TopoHost *host,
                                  GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, host, FALSE, qemu_argv, error);
}

gboolean qpin_qemu_numa_args(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, NULL, FALSE, qemu_argv, error);
}

gboolean qpin_qemu_numa_args_probe(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, NULL, TRUE, qemu_argv, error);
}

void qpin_qemu_numa_prealloc_threads(GPtrArray *nodes, const TopoHost *host,
                                     const TopoCpuSet *reserve)
{
    for (guint i = 0; nodes && host && i < nodes->len; i++) {
        QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (!node->prealloc || node->prealloc_threads || !node->host_nodes)
            continue;
        g_autoptr(TopoCpuSet) tc_nodes = numa_context_nodes(node, host);
        if (!tc_nodes)
            continue;
        /* Before the guest runs, every allowed CPU of these nodes is idle or the guest's own,
         * except those --reserve leaves to others. */
        g_autoptr(TopoCpuSet) cpus = topo_cpuset_new();
        for (int h = topo_cpuset_first(tc_nodes); h >= 0; h = topo_cpuset_next(tc_nodes, h)) {
            const TopoNode *hn = topo_host_node(host, h);
            if (hn && hn->cpus)
                topo_cpuset_union(cpus, hn->cpus);
        }
        if (host->cpus_allowed)
            topo_cpuset_intersect(cpus, host->cpus_allowed);
        if (reserve)
            topo_cpuset_subtract(cpus, reserve);
        guint n = topo_cpuset_count(cpus);
        node->prealloc_threads = (int)CLAMP(n, 1, QPIN_PREALLOC_THREADS_MAX);
        node->prealloc_threads_auto = TRUE;
    }
}

/* The distance between guest nodes bound to host nodes @a and @b: the mean of the host
 * distances between them, rounded; -1 when the host has none. */
static int guest_distance(const TopoHost *host, const TopoCpuSet *a, const TopoCpuSet *b)
{
    int sum = 0, count = 0;
    for (int x = topo_cpuset_first(a); x >= 0; x = topo_cpuset_next(a, x))
        for (int y = topo_cpuset_first(b); y >= 0; y = topo_cpuset_next(b, y)) {
            int d = topo_host_distance(host, x, y);
            if (d < 0)
                return -1;
            sum += d;
            count++;
        }
    return count ? (sum + count / 2) / count : -1;
}

int *qpin_qemu_numa_distances(const GPtrArray *nodes, const TopoHost *host, char **why)
{
    *why = NULL;
    guint n = nodes ? nodes->len : 0;
    if (n < 2 || !host)
        return NULL;
    for (guint i = 0; i < n; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (!node->host_nodes) {
            *why = g_strdup_printf("guest node %d is bound to no host node", node->guest_node);
            return NULL;
        }
    }
    g_autofree int *table = g_new0(int, n *n);
    for (guint i = 0; i < n; i++) {
        const QpinNumaNode *a = g_ptr_array_index(nodes, i);
        for (guint j = 0; j < n; j++) {
            const QpinNumaNode *b = g_ptr_array_index(nodes, j);
            int d = i == j ? 10 : guest_distance(host, a->host_nodes, b->host_nodes);
            if (d < 0) {
                *why = g_strdup("the host has no distance table");
                return NULL;
            }
            /* QEMU takes 10 between two nodes, but the guest kernel then throws the whole
             * table (ACPI SLIT) away: only the local distance may be 10. */
            if (i != j && d <= 10) {
                *why = g_strdup_printf("guest nodes %u and %u are on the same host memory "
                                       "(distance %d), which a guest cannot be told",
                                       i, j, d);
                return NULL;
            }
            table[i * n + j] = d;
        }
    }
    return g_steal_pointer(&table);
}

void qpin_qemu_numa_dist_args(const GPtrArray *nodes, const TopoHost *host, GPtrArray *qemu_argv,
                              GPtrArray *notes)
{
    guint n = nodes ? nodes->len : 0;
    if (n < 2)
        return;
    char *const *words = (char *const *)qemu_argv->pdata;
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(words, (int)qemu_argv->len, &a);)
        if (strcmp(a.name, "numa") == 0 && a.value >= 0 && is_numa_dist(words[a.value])) {
            if (notes)
                g_ptr_array_add(notes,
                                qpin_note_new(QPIN_NOTE_NUMA_DIST,
                                              "the command line sets the guest node "
                                              "distances itself (-numa dist): qpin adds none"));
            return;
        }
    g_autofree char *why = NULL;
    g_autofree int *table = qpin_qemu_numa_distances(nodes, host, &why);
    if (!table) {
        if (notes && why)
            g_ptr_array_add(notes, qpin_note_new(QPIN_NOTE_NUMA_DIST,
                                                 "the guest keeps QEMU's default node distances: "
                                                 "%s",
                                                 why));
        return;
    }
    for (guint i = 0; i < n; i++)
        for (guint j = 0; j < n; j++) {
            if (i == j)
                continue;
            const QpinNumaNode *a = g_ptr_array_index(nodes, i), *b = g_ptr_array_index(nodes, j);
            g_ptr_array_add(qemu_argv, g_strdup("-numa"));
            g_ptr_array_add(qemu_argv, g_strdup_printf("dist,src=%d,dst=%d,val=%d", a->guest_node,
                                                       b->guest_node, table[i * n + j]));
        }
}
