/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the proof of where the guest memory landed, see qpin-placement-check.h. Owns the
 * numa_maps and maps parsers and the matching of mappings to backends. */
#include "qpin-placement-check.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <qpin/qmp.h>

#include <stdio.h>
#include <string.h>

void qpin_mem_placement_free(QpinMemPlacement *p)
{
    if (!p)
        return;
    g_free(p->backend_id);
    g_free(p->policy);
    if (p->pages_per_node)
        g_array_unref(p->pages_per_node);
    g_free(p->problem);
    topo_cpuset_free(p->bound_nodes);
    g_free(p);
}

/* One line of numa_maps joined with its /proc/PID/maps line. */
typedef struct {
    guint64 start, end; /* end 0 when maps had no line for it */
    gboolean writable, shared;
    char *policy;          /* "bind:0", "prefer:1", "interleave:0-1", "default" */
    char *file;            /* file=, unescaped; NULL for anonymous memory */
    gboolean anon_special; /* heap or stack */
    guint64 page_kib;
    GArray *pages; /* guint64 per node id */
    gboolean used;
} NumaVma;

static void numa_vma_free(NumaVma *v)
{
    g_free(v->policy);
    g_free(v->file);
    if (v->pages)
        g_array_unref(v->pages);
    g_free(v);
}

/* numa_maps escapes blanks, tabs, newlines and '=' in file names as \ooo. */
static char *numa_unescape(const char *text)
{
    GString *out = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            g_string_append_c(out, (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
            p += 3;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

static void numa_pages_add(GArray *pages, guint node, guint64 count)
{
    if (pages->len <= node)
        g_array_set_size(pages, node + 1);
    g_array_index(pages, guint64, node) += count;
}

static gboolean numa_read_maps(const char *path, GHashTable *vmas, GError **error)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        guint64 start = 0, end = 0;
        char perms[8] = "";
        if (sscanf(lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %7s", &start, &end,
                   perms) != 3)
            continue;
        NumaVma *v = g_hash_table_lookup(vmas, &start);
        if (!v)
            continue;
        v->end = end;
        v->writable = perms[1] == 'w';
        v->shared = perms[3] == 's';
    }
    return TRUE;
}

static GPtrArray *numa_read_numa_maps(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    GPtrArray *vmas = g_ptr_array_new_with_free_func((GDestroyNotify)numa_vma_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) tok = g_strsplit(lines[i], " ", -1);
        if (!tok[0] || !*tok[0] || !tok[1])
            continue;
        NumaVma *v = g_new0(NumaVma, 1);
        v->start = g_ascii_strtoull(tok[0], NULL, 16);
        v->policy = g_strdup(tok[1]);
        v->page_kib = 4;
        v->pages = g_array_new(FALSE, TRUE, sizeof(guint64));
        for (guint t = 2; tok[t]; t++) {
            const char *w = tok[t];
            if (g_str_has_prefix(w, "file="))
                v->file = numa_unescape(w + 5);
            else if (strcmp(w, "heap") == 0 || strcmp(w, "stack") == 0)
                v->anon_special = TRUE;
            else if (g_str_has_prefix(w, "kernelpagesize_kB="))
                v->page_kib = g_ascii_strtoull(w + 18, NULL, 10);
            else if (w[0] == 'N' && g_ascii_isdigit(w[1])) {
                char *end = NULL;
                guint64 node = g_ascii_strtoull(w + 1, &end, 10);
                if (end && *end == '=' && node < TOPO_CPU_MAX)
                    numa_pages_add(v->pages, (guint)node, g_ascii_strtoull(end + 1, NULL, 10));
            }
        }
        g_ptr_array_add(vmas, v);
    }
    return vmas;
}

/* "bind=static:0-1" -> mode "bind", nodes {0,1}. */
static gboolean numa_policy_split(const char *policy, char **mode, TopoCpuSet **nodes)
{
    const char *colon = strchr(policy, ':');
    size_t len = strcspn(policy, "=:");
    *mode = g_strndup(policy, len);
    *nodes = colon ? topo_cpuset_parse(colon + 1, NULL) : topo_cpuset_new();
    return *nodes != NULL;
}

static gboolean numa_policy_matches(const QpinNumaNode *node, const char *policy)
{
    g_autofree char *mode = NULL;
    g_autoptr(TopoCpuSet) set = NULL;
    if (!numa_policy_split(policy, &mode, &set))
        return FALSE;
    switch (node->policy) {
    case QPIN_NUMA_POLICY_DEFAULT:
        return strcmp(mode, "default") == 0;
    case QPIN_NUMA_POLICY_BIND:
        return strcmp(mode, "bind") == 0 && topo_cpuset_equal(set, node->host_nodes);
    case QPIN_NUMA_POLICY_PREFERRED:
        return strcmp(mode, "prefer") == 0 && topo_cpuset_equal(set, node->host_nodes);
    case QPIN_NUMA_POLICY_INTERLEAVE:
        return strcmp(mode, "interleave") == 0 && topo_cpuset_equal(set, node->host_nodes);
    }
    return FALSE;
}

/* QEMU names every memfd after the object type, not the object id. */
#define QEMU_MEMFD_NAME "/memfd:memory-backend-memfd"

/* @any_kind: a backend QEMU described (query-memdev) without saying its type or page size:
 * any writable mapping that is not the heap or a stack. */
static gboolean numa_vma_kind_matches(const QpinNumaNode *node, const NumaVma *v, gboolean any_kind)
{
    if (!v->writable)
        return FALSE;
    if (any_kind)
        return !v->anon_special;
    guint64 page_kib = node->hugepage_kib ? node->hugepage_kib : 4;
    if (v->page_kib != page_kib)
        return FALSE;
    switch (node->backend) {
    case QPIN_NUMA_BACKEND_RAM:
        return !v->file && !v->anon_special && !v->shared;
    case QPIN_NUMA_BACKEND_MEMFD:
        return v->file && g_str_has_prefix(v->file, QEMU_MEMFD_NAME);
    case QPIN_NUMA_BACKEND_FILE:
        if (!v->file)
            return FALSE;
        /* mem-path may name the file, or a directory QEMU creates a file in. */
        if (g_str_has_prefix(v->file, node->path)) {
            char next = v->file[strlen(node->path)];
            return next == '\0' || next == '/' || next == ' ';
        }
        return FALSE;
    }
    return FALSE;
}

static gboolean numa_vma_compatible(const NumaVma *a, const NumaVma *b)
{
    return a->end == b->start && strcmp(a->policy, b->policy) == 0 &&
           g_strcmp0(a->file, b->file) == 0 && a->page_kib == b->page_kib &&
           a->shared == b->shared && a->writable == b->writable;
}

static guint64 numa_vma_resident(const NumaVma *v)
{
    guint64 pages = 0;
    for (guint n = 0; n < v->pages->len; n++)
        pages += g_array_index(v->pages, guint64, n);
    return pages * v->page_kib * 1024;
}

/* Finds the backend's mapping: one VMA of exactly its size with its policy, kind and page size,
 * or a run of adjacent identical VMAs adding up to it (madvise or partial mlock can split a
 * VMA). numa_maps has no object ids, so backends alike in all of that are told apart by their
 * pages when @by_resident (a preallocated backend is resident in full), then by address: QEMU
 * creates the backends in command-line order and the kernel maps each new one below the last.
 * Returns the index of the first VMA and the run length in @count. */
static gboolean numa_find_backend(const QpinNumaNode *node, GPtrArray *vmas, gboolean by_resident,
                                  gboolean any_kind, guint *first, guint *count)
{
    gboolean found = FALSE;
    guint64 best_resident = 0, best_start = 0;
    for (guint i = 0; i < vmas->len; i++) {
        NumaVma *v = g_ptr_array_index(vmas, i);
        if (v->used || !v->end || !numa_policy_matches(node, v->policy) ||
            !numa_vma_kind_matches(node, v, any_kind))
            continue;
        guint64 size = v->end - v->start, resident = numa_vma_resident(v);
        guint n = 1;
        while (size < node->size_bytes && i + n < vmas->len) {
            NumaVma *next = g_ptr_array_index(vmas, i + n);
            if (next->used || !numa_vma_compatible(g_ptr_array_index(vmas, i + n - 1), next))
                break;
            size += next->end - next->start;
            resident += numa_vma_resident(next);
            n++;
        }
        if (size != node->size_bytes)
            continue;
        if (by_resident ? !found || resident > best_resident ||
                              (resident == best_resident && v->start > best_start)
                        : !found || v->start > best_start) {
            found = TRUE;
            best_resident = resident;
            best_start = v->start;
            *first = i;
            *count = n;
        }
    }
    return found;
}

static char *numa_expected_policy(const QpinNumaNode *node)
{
    if (!node->host_nodes)
        return g_strdup("default");
    g_autofree char *list = topo_cpuset_format(node->host_nodes);
    const char *mode = node->policy == QPIN_NUMA_POLICY_PREFERRED    ? "prefer"
                       : node->policy == QPIN_NUMA_POLICY_INTERLEAVE ? "interleave"
                                                                     : "bind";
    return g_strdup_printf("%s:%s", mode, list);
}

static gint numa_vma_cmp(gconstpointer a, gconstpointer b)
{
    const NumaVma *x = *(NumaVma *const *)a, *y = *(NumaVma *const *)b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Fills @p with the pages of the @count VMAs from @first, marking them used. */
static void numa_take_run(QpinMemPlacement *p, GPtrArray *vmas, guint first, guint count)
{
    NumaVma *head = g_ptr_array_index(vmas, first);
    p->found = TRUE;
    p->address = head->start;
    g_free(p->policy);
    p->policy = g_strdup(head->policy);
    p->page_kib = head->page_kib;
    for (guint k = first; k < first + count; k++) {
        NumaVma *v = g_ptr_array_index(vmas, k);
        v->used = TRUE;
        for (guint n = 0; n < v->pages->len; n++)
            if (g_array_index(v->pages, guint64, n))
                numa_pages_add(p->pages_per_node, n, g_array_index(v->pages, guint64, n));
    }
    for (guint n = 0; n < p->pages_per_node->len; n++)
        p->resident_bytes += g_array_index(p->pages_per_node, guint64, n) * p->page_kib * 1024;
}

/* Sets @p->ok and the problem from the pages outside @host_nodes (NULL: nothing to judge). */
static void numa_judge(QpinMemPlacement *p, const TopoCpuSet *host_nodes)
{
    if (host_nodes && !p->bound_nodes)
        p->bound_nodes = topo_cpuset_copy(host_nodes);
    if (!host_nodes)
        return;
    g_autoptr(TopoCpuSet) elsewhere = topo_cpuset_new();
    guint64 outside = 0;
    for (guint n = 0; n < p->pages_per_node->len; n++) {
        guint64 pages = g_array_index(p->pages_per_node, guint64, n);
        if (pages && !topo_cpuset_has(host_nodes, (int)n)) {
            topo_cpuset_add(elsewhere, (int)n);
            outside += pages * p->page_kib * 1024;
        }
    }
    if (outside) {
        g_autofree char *bytes = qpin_size_format_human(outside);
        g_autofree char *where = topo_cpuset_format(elsewhere);
        g_autofree char *want = topo_cpuset_format(host_nodes);
        p->ok = FALSE;
        p->problem =
            g_strdup_printf("%s on host node %s, outside host node %s", bytes, where, want);
    }
}

/* Fills @p with the pages of @node's mapping, marking its VMAs used. */
static void numa_place(const QpinNumaNode *node, QpinMemPlacement *p, GPtrArray *vmas,
                       gboolean any_kind)
{
    guint first = 0, count = 0;
    g_autofree char *expected = numa_expected_policy(node);
    if (!numa_find_backend(node, vmas, node->prealloc, any_kind, &first, &count)) {
        g_autofree char *size = qpin_size_format_human(node->size_bytes);
        p->policy = g_strdup(expected);
        p->ok = !node->host_nodes;
        if (node->host_nodes)
            p->bound_nodes = topo_cpuset_copy(node->host_nodes);
        p->problem = g_strdup_printf(
            "no %s mapping of %s with policy %s in numa_maps",
            any_kind ? "writable" : qpin_memory_backend_name(node->backend), size, expected);
        return;
    }
    numa_take_run(p, vmas, first, count);
    numa_judge(p, node->host_nodes);
}

/* numa_maps joined with maps, sorted by address. */
static GPtrArray *numa_read_vmas(pid_t pid, const char *proc_root, GError **error)
{
    const char *root = proc_root ? proc_root : "/proc";
    g_autofree char *pid_text = g_strdup_printf("%d", (int)pid);
    g_autofree char *numa_path = g_build_filename(root, pid_text, "numa_maps", NULL);
    g_autofree char *maps_path = g_build_filename(root, pid_text, "maps", NULL);
    g_autoptr(GError) local = NULL;

    g_autoptr(GPtrArray) vmas = numa_read_numa_maps(numa_path, &local);
    if (!vmas) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MEMORY, "cannot read QEMU's memory placement: %s",
                    local->message);
        return NULL;
    }
    g_ptr_array_sort(vmas, numa_vma_cmp);
    g_autoptr(GHashTable) by_start = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < vmas->len; i++) {
        NumaVma *v = g_ptr_array_index(vmas, i);
        g_hash_table_insert(by_start, &v->start, v);
    }
    if (!numa_read_maps(maps_path, by_start, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MEMORY, "cannot read QEMU's memory map: %s",
                    local->message);
        return NULL;
    }
    return g_steal_pointer(&vmas);
}

static QpinMemPlacement *placement_new(int guest_node, char *backend_id, guint64 size_bytes,
                                       guint64 page_kib)
{
    QpinMemPlacement *p = g_new0(QpinMemPlacement, 1);
    p->guest_node = guest_node;
    p->backend_id = backend_id;
    p->pages_per_node = g_array_new(FALSE, TRUE, sizeof(guint64));
    p->size_bytes = size_bytes;
    p->page_kib = page_kib;
    p->ok = TRUE;
    return p;
}

/* Preallocated backends choose first: their pages identify them among look-alikes. */
static void numa_place_all(const GPtrArray *nodes, GPtrArray *out, GPtrArray *vmas,
                           gboolean any_kind)
{
    for (int pass = 0; pass < 2; pass++)
        for (guint i = 0; nodes && i < nodes->len; i++) {
            const QpinNumaNode *node = g_ptr_array_index(nodes, i);
            if (!!node->prealloc == (pass == 0))
                numa_place(node, g_ptr_array_index(out, i), vmas, any_kind);
        }
}

GPtrArray *qpin_mem_placement_read(const GPtrArray *nodes, pid_t pid, const char *proc_root,
                                   GError **error)
{
    g_autoptr(GPtrArray) vmas = numa_read_vmas(pid, proc_root, error);
    if (!vmas)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_ptr_array_add(
            out, placement_new(node->guest_node, qpin_memory_backend_id(node->guest_node),
                               node->size_bytes, node->hugepage_kib ? node->hugepage_kib : 4));
    }
    numa_place_all(nodes, out, vmas, FALSE);
    return out;
}

GPtrArray *qpin_mem_placement_read_memdevs(const GPtrArray *memdevs, pid_t pid,
                                           const char *proc_root, GError **error)
{
    /* No backend: nothing to walk QEMU's page tables for. */
    if (!memdevs || !memdevs->len)
        return g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    g_autoptr(GPtrArray) vmas = numa_read_vmas(pid, proc_root, error);
    if (!vmas)
        return NULL;
    /* The same matcher as for qpin's own backends, fed with what QEMU says of each. */
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    for (guint i = 0; memdevs && i < memdevs->len; i++) {
        const QmpMemdev *m = g_ptr_array_index(memdevs, i);
        QpinNumaNode *node = g_new0(QpinNumaNode, 1);
        node->guest_node = -1;
        node->size_bytes = m->size;
        /* "default" and any other name: no policy to hold the backend to. */
        node->policy = QPIN_NUMA_POLICY_DEFAULT;
        qpin_memory_policy_parse(m->policy, &node->policy);
        node->prealloc = m->prealloc;
        if (node->policy != QPIN_NUMA_POLICY_DEFAULT && m->host_nodes && m->host_nodes->len) {
            node->host_nodes = topo_cpuset_new();
            for (guint n = 0; n < m->host_nodes->len; n++)
                topo_cpuset_add(node->host_nodes, (int)g_array_index(m->host_nodes, guint, n));
        }
        g_ptr_array_add(nodes, node);
        g_ptr_array_add(out, placement_new(-1, g_strdup(m->id), m->size, 4));
    }
    numa_place_all(nodes, out, vmas, TRUE);
    return out;
}

/* smaps: the header line of each mapping, then its fields; VmFlags last. */
GArray *qpin_mem_ram_blocks_find(pid_t pid, const char *proc_root, GError **error)
{
    const char *root = proc_root ? proc_root : "/proc";
    g_autofree char *pid_text = g_strdup_printf("%d", (int)pid);
    g_autofree char *path = g_build_filename(root, pid_text, "smaps", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MEMORY, "cannot read QEMU's memory map: %s",
                    local->message);
        return NULL;
    }
    GArray *blocks = g_array_new(FALSE, FALSE, sizeof(QpinMemRamBlock));
    guint64 start = 0, end = 0;
    gboolean rw = FALSE;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char perms[8] = "";
        guint64 s = 0, e = 0;
        if (sscanf(lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %7s", &s, &e,
                   perms) == 3 &&
            strlen(perms) == 4) {
            start = s;
            end = e;
            /* Not executable: TCG's code buffers are advised like RAM, but rwx. */
            rw = perms[0] == 'r' && perms[1] == 'w' && perms[2] != 'x';
            continue;
        }
        if (!g_str_has_prefix(lines[i], "VmFlags:") || !rw)
            continue;
        g_auto(GStrv) flags = g_strsplit(lines[i] + 8, " ", -1);
        /* QEMU's ram_block_add() advises MADV_HUGEPAGE ("hg") on every RAM block; hugetlbfs
         * mappings carry "ht" instead. */
        if (!g_strv_contains((const char *const *)flags, "hg") &&
            !g_strv_contains((const char *const *)flags, "ht"))
            continue;
        QpinMemRamBlock *last =
            blocks->len ? &g_array_index(blocks, QpinMemRamBlock, blocks->len - 1) : NULL;
        /* A block split into adjacent mappings (a partial mbind or madvise) is one block. */
        if (last && last->end == start)
            last->end = end;
        else
            g_array_append_val(blocks, ((QpinMemRamBlock){start, end}));
    }
    for (guint i = blocks->len; i-- > 0;) {
        const QpinMemRamBlock *b = &g_array_index(blocks, QpinMemRamBlock, i);
        if (b->end - b->start < QPIN_MEM_RAM_BLOCK_MIN)
            g_array_remove_index(blocks, i);
    }
    return blocks;
}

GPtrArray *qpin_mem_placement_read_blocks(const GArray *blocks, pid_t pid, const char *proc_root,
                                          GError **error)
{
    if (!blocks || !blocks->len)
        return g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    g_autoptr(GPtrArray) vmas = numa_read_vmas(pid, proc_root, error);
    if (!vmas)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    for (guint b = 0; blocks && b < blocks->len; b++) {
        const QpinMemRamBlock *block = &g_array_index(blocks, QpinMemRamBlock, b);
        guint first = 0, count = 0;
        for (guint i = 0; i < vmas->len; i++) {
            const NumaVma *v = g_ptr_array_index(vmas, i);
            if (v->start < block->start || v->start >= block->end)
                continue;
            if (!count)
                first = i;
            count++;
        }
        /* Unmapped since (a hot-unplugged DIMM): nothing to show. */
        if (!count || ((NumaVma *)g_ptr_array_index(vmas, first))->start != block->start)
            continue;
        QpinMemPlacement *p = placement_new(-1, NULL, block->end - block->start, 4);
        numa_take_run(p, vmas, first, count);
        /* The mapping's own policy names its nodes ("bind:0", "interleave:0-1"); "default"
         * names none, and the task's policy (numactl --membind) cannot be read from outside,
         * so nothing is judged. */
        g_autofree char *mode = NULL;
        g_autoptr(TopoCpuSet) set = NULL;
        if (numa_policy_split(p->policy, &mode, &set) && strcmp(mode, "default") &&
            strcmp(mode, "local") && !topo_cpuset_is_empty(set))
            numa_judge(p, set);
        g_ptr_array_add(out, p);
    }
    return out;
}

gboolean qpin_mem_placement_check(const GPtrArray *placements, const GPtrArray *nodes,
                                  GPtrArray *warnings, GError **error)
{
    g_autoptr(GString) errors = g_string_new(NULL);
    for (guint i = 0; i < placements->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(placements, i);
        if (p->ok || p->guest_node < 0 || (guint)p->guest_node >= nodes->len)
            continue;
        const QpinNumaNode *node = g_ptr_array_index(nodes, p->guest_node);
        /* Only bind is strict: preferred and interleave fall back to other nodes by design,
         * and memory not preallocated may still move before the guest touches it. */
        if (node->prealloc && node->policy == QPIN_NUMA_POLICY_BIND)
            g_string_append_printf(errors, "\nguest node %d (%s, %s): %s", node->guest_node,
                                   node->origin, p->backend_id, p->problem);
        else if (warnings)
            g_ptr_array_add(warnings,
                            g_strdup_printf("guest node %d (%s, %s): %s", node->guest_node,
                                            node->origin, p->backend_id, p->problem));
    }
    if (errors->len) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MEMORY,
                    "guest memory is not where it was asked:%s", errors->str);
        return FALSE;
    }
    return TRUE;
}
