/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest memory model, see qpin-memory.h. Owns the --numa and [numa.N] grammar, the
 * defaults and the checks of one node and of the nodes together. */
#include "qpin-memory.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <stdbool.h>
#include <string.h>

void qpin_memory_node_free(QpinNumaNode *node)
{
    if (!node)
        return;
    g_free(node->spec);
    topo_cpuset_free(node->host_nodes);
    g_free(node->path);
    topo_cpuset_free(node->vcpus);
    g_free(node->origin);
    g_free(node);
}

char *qpin_memory_backend_id(int guest_node)
{
    return g_strdup_printf("qpin-mem%d", guest_node);
}

const char *qpin_memory_policy_name(QpinNumaPolicy policy)
{
    switch (policy) {
    case QPIN_NUMA_POLICY_BIND:
        return "bind";
    case QPIN_NUMA_POLICY_PREFERRED:
        return "preferred";
    case QPIN_NUMA_POLICY_INTERLEAVE:
        return "interleave";
    case QPIN_NUMA_POLICY_DEFAULT:
        break;
    }
    return "default";
}

const char *qpin_memory_backend_name(QpinNumaBackend backend)
{
    switch (backend) {
    case QPIN_NUMA_BACKEND_MEMFD:
        return "memfd";
    case QPIN_NUMA_BACKEND_FILE:
        return "file";
    case QPIN_NUMA_BACKEND_RAM:
        break;
    }
    return "ram";
}

gboolean qpin_memory_policy_parse(const char *name, QpinNumaPolicy *out)
{
    static const QpinNumaPolicy named[] = {QPIN_NUMA_POLICY_BIND, QPIN_NUMA_POLICY_PREFERRED,
                                           QPIN_NUMA_POLICY_INTERLEAVE};
    for (gsize i = 0; i < G_N_ELEMENTS(named); i++) {
        if (!g_strcmp0(name, qpin_memory_policy_name(named[i]))) {
            *out = named[i];
            return TRUE;
        }
    }
    return FALSE;
}

gboolean qpin_memory_backend_parse(const char *name, QpinNumaBackend *out)
{
    static const QpinNumaBackend named[] = {QPIN_NUMA_BACKEND_RAM, QPIN_NUMA_BACKEND_MEMFD,
                                            QPIN_NUMA_BACKEND_FILE};
    for (gsize i = 0; i < G_N_ELEMENTS(named); i++) {
        if (!g_strcmp0(name, qpin_memory_backend_name(named[i]))) {
            *out = named[i];
            return TRUE;
        }
    }
    return FALSE;
}

/* A guest node's size: qpin_size_parse(), and more than nothing. */
static gboolean memory_parse_size(const char *text, guint64 *bytes, GError **error)
{
    guint64 value = 0;
    if (!qpin_size_parse(text, &value, error))
        return FALSE;
    if (value == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "size '%s' is zero; a guest node needs memory, e.g. 1G", text);
        return FALSE;
    }
    *bytes = value;
    return TRUE;
}

guint64 qpin_memory_total_bytes(const GPtrArray *nodes)
{
    guint64 total = 0;
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (total > G_MAXUINT64 - node->size_bytes)
            return 0;
        total += node->size_bytes;
    }
    return total;
}

/* ---- parsing -------------------------------------------------------------------------------- */

enum {
    KEY_SIZE = 1 << 0,
    KEY_HOST_NODES = 1 << 1,
    KEY_VCPUS = 1 << 2,
    KEY_POLICY = 1 << 3,
    KEY_BACKEND = 1 << 4,
    KEY_PATH = 1 << 5,
    KEY_HUGEPAGES = 1 << 6,
    KEY_PREALLOC = 1 << 7,
    KEY_PREALLOC_THREADS = 1 << 8,
};

static const struct {
    const char *name;
    unsigned bit;
    gboolean config_only; /* SIZE@NODES is positional on --numa */
} numa_keys[] = {
    {"size", KEY_SIZE, TRUE},
    {"host-nodes", KEY_HOST_NODES, TRUE},
    {"vcpus", KEY_VCPUS, FALSE},
    {"policy", KEY_POLICY, FALSE},
    {"backend", KEY_BACKEND, FALSE},
    {"path", KEY_PATH, FALSE},
    {"hugepages", KEY_HUGEPAGES, FALSE},
    {"prealloc", KEY_PREALLOC, FALSE},
    {"prealloc-threads", KEY_PREALLOC_THREADS, FALSE},
};

#define NUMA_KEYS_HELP                                                                             \
    "vcpus=CPULIST, policy=bind|preferred|interleave, backend=ram|memfd|file, path=PATH, "         \
    "hugepages=2M|1G, prealloc[=on|off], prealloc-threads=N"

/* Parse state of one node: which keys were given, for defaults and duplicate detection. */
typedef struct {
    unsigned seen;
    gboolean policy_set;
    gboolean backend_set;
} NumaParse;

G_GNUC_PRINTF(4, 5)
static void numa_fail(GError **error, const QpinNumaNode *node, const char *key, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key)
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "%s: %s: %s", node->origin, key, msg);
    else
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "%s: %s", node->origin, msg);
}

static gboolean numa_parse_bool(const char *value, gboolean *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(value, yes[i]) == 0) {
            *out = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(value, no[i]) == 0) {
            *out = FALSE;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean numa_set_host_nodes(QpinNumaNode *node, const char *key, const char *value,
                                    GError **error)
{
    g_autoptr(GError) local = NULL;
    /* The host node comes from the host's free memory and allowed CPUs, once the host is read. */
    if (strcmp(value, "auto") == 0) {
        topo_cpuset_free(node->host_nodes);
        node->host_nodes = NULL;
        node->host_nodes_auto = TRUE;
        return TRUE;
    }
    g_autoptr(TopoCpuSet) set = topo_cpuset_parse(value, &local);
    if (!set) {
        numa_fail(error, node, key,
                  "'%s' is not a list of host node ids (%s); write e.g. 0, 0-1, 0,2 or auto", value,
                  local->message);
        return FALSE;
    }
    if (topo_cpuset_is_empty(set)) {
        numa_fail(error, node, key,
                  "the host node list is empty; write the node ids after '@', e.g. 80G@0");
        return FALSE;
    }
    topo_cpuset_free(node->host_nodes);
    node->host_nodes = g_steal_pointer(&set);
    node->host_nodes_auto = FALSE;
    return TRUE;
}

/* One KEY[=VALUE]; @value is NULL for a bare key. */
static gboolean numa_set_key(QpinNumaNode *node, NumaParse *st, const char *key, const char *value,
                             gboolean config, GError **error)
{
    unsigned bit = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(numa_keys); i++)
        if (strcmp(key, numa_keys[i].name) == 0 && (config || !numa_keys[i].config_only))
            bit = numa_keys[i].bit;
    if (!bit) {
        if (!config && (strcmp(key, "size") == 0 || strcmp(key, "host-nodes") == 0))
            numa_fail(error, node, key,
                      "size and host nodes are written first, as SIZE@HOSTNODES (e.g. 80G@0)");
        else
            numa_fail(error, node, key, "unknown key; the keys are %s%s", NUMA_KEYS_HELP,
                      config ? ", size=SIZE, host-nodes=NODES" : "");
        return FALSE;
    }
    if (st->seen & bit) {
        numa_fail(error, node, key, "given twice");
        return FALSE;
    }
    st->seen |= bit;

    if (bit == KEY_PREALLOC) {
        gboolean on = TRUE;
        if (value && !numa_parse_bool(value, &on)) {
            numa_fail(error, node, key,
                      "'%s' is not on or off; write prealloc, prealloc=on or "
                      "prealloc=off",
                      value);
            return FALSE;
        }
        node->prealloc = on;
        return TRUE;
    }
    if (!value || !*value) {
        numa_fail(error, node, key, "needs a value (%s=...)", key);
        return FALSE;
    }

    switch (bit) {
    case KEY_SIZE: {
        g_autoptr(GError) local = NULL;
        if (!memory_parse_size(value, &node->size_bytes, &local)) {
            numa_fail(error, node, key, "%s", local->message);
            return FALSE;
        }
        return TRUE;
    }
    case KEY_HOST_NODES:
        return numa_set_host_nodes(node, key, value, error);
    case KEY_VCPUS: {
        g_autoptr(GError) local = NULL;
        g_autoptr(TopoCpuSet) set = topo_cpuset_parse(value, &local);
        if (!set) {
            numa_fail(error, node, key, "'%s' is not a vCPU list (%s); write e.g. 0-3 or 0,2,4-7",
                      value, local->message);
            return FALSE;
        }
        if (topo_cpuset_is_empty(set)) {
            numa_fail(error, node, key,
                      "the vCPU list is empty; leave vcpus= out for a memory-only node");
            return FALSE;
        }
        node->vcpus = g_steal_pointer(&set);
        return TRUE;
    }
    case KEY_POLICY:
        if (!qpin_memory_policy_parse(value, &node->policy)) {
            numa_fail(error, node, key, "'%s' is not a policy; write bind, preferred or interleave",
                      value);
            return FALSE;
        }
        st->policy_set = TRUE;
        return TRUE;
    case KEY_BACKEND:
        if (!qpin_memory_backend_parse(value, &node->backend)) {
            numa_fail(error, node, key, "'%s' is not a backend; write ram, memfd or file", value);
            return FALSE;
        }
        st->backend_set = TRUE;
        return TRUE;
    case KEY_PATH:
        if (strpbrk(value, "\r\n")) {
            numa_fail(error, node, key,
                      "the path contains a newline (a line break), which QEMU cannot take");
            return FALSE;
        }
        node->path = g_strdup(value);
        return TRUE;
    case KEY_HUGEPAGES: {
        guint64 bytes = 0;
        if (!memory_parse_size(value, &bytes, NULL) ||
            (bytes != 2u << 20 && bytes != G_GUINT64_CONSTANT(1) << 30)) {
            numa_fail(error, node, key, "'%s' is not a hugepage size; write 2M or 1G", value);
            return FALSE;
        }
        node->hugepage_kib = bytes / 1024;
        return TRUE;
    }
    case KEY_PREALLOC_THREADS: {
        guint64 n = 0;
        if (!g_ascii_string_to_unsigned(value, 10, 1, 4096, &n, NULL)) {
            numa_fail(error, node, key, "'%s' is not a thread count; write a number from 1 to 4096",
                      value);
            return FALSE;
        }
        node->prealloc_threads = (int)n;
        return TRUE;
    }
    default:
        g_assert_not_reached();
    }
}

/* Defaults and the checks that need all keys of the node. */
static gboolean numa_finish_node(QpinNumaNode *node, const NumaParse *st, GError **error)
{
    if (!node->host_nodes && !node->host_nodes_auto) {
        if (st->policy_set) {
            g_autofree char *size = qpin_size_format(node->size_bytes);
            numa_fail(error, node, "policy",
                      "a policy needs host nodes to apply to; write SIZE@HOSTNODES, e.g. "
                      "%s@0:policy=%s",
                      size, qpin_memory_policy_name(node->policy));
            return FALSE;
        }
        node->policy = QPIN_NUMA_POLICY_DEFAULT;
    } else {
        if (!st->policy_set)
            node->policy = QPIN_NUMA_POLICY_BIND;
        /* The kernel's MPOL_PREFERRED takes a single node; QEMU 7.2 has no preferred-many. */
        if (node->policy == QPIN_NUMA_POLICY_PREFERRED && topo_cpuset_count(node->host_nodes) > 1) {
            numa_fail(error, node, "policy",
                      "policy=preferred takes a single host node; use bind or interleave for "
                      "several");
            return FALSE;
        }
    }

    if (!st->backend_set) {
        if (node->path)
            node->backend = QPIN_NUMA_BACKEND_FILE;
        else if (node->hugepage_kib)
            node->backend = QPIN_NUMA_BACKEND_MEMFD;
        else
            node->backend = QPIN_NUMA_BACKEND_RAM;
    }
    switch (node->backend) {
    case QPIN_NUMA_BACKEND_RAM:
        if (node->hugepage_kib) {
            numa_fail(error, node, "hugepages",
                      "backend=ram cannot use hugepages; leave backend= out (qpin then uses "
                      "memfd with hugetlb) or use backend=file:path=HUGETLBFS-MOUNT");
            return FALSE;
        }
        if (node->path) {
            numa_fail(error, node, "path", "backend=ram takes no path; path= is for backend=file");
            return FALSE;
        }
        break;
    case QPIN_NUMA_BACKEND_MEMFD:
        if (node->path) {
            numa_fail(error, node, "path",
                      "backend=memfd takes no path; path= is for backend=file");
            return FALSE;
        }
        break;
    case QPIN_NUMA_BACKEND_FILE:
        if (!node->path) {
            numa_fail(error, node, "backend",
                      "backend=file needs path=FILE-OR-DIRECTORY (a hugetlbfs mount for "
                      "hugepages)");
            return FALSE;
        }
        break;
    }

    if (!node->size_bytes) {
        numa_fail(error, node, "size", "missing; every guest node needs a size, e.g. size=16G");
        return FALSE;
    }
    guint64 align = node->hugepage_kib ? node->hugepage_kib * 1024 : 4096;
    if (node->size_bytes % align) {
        g_autofree char *size = qpin_size_format(node->size_bytes);
        g_autofree char *page = qpin_size_format(align);
        numa_fail(error, node, "size", "%s is not a multiple of the %s page size", size, page);
        return FALSE;
    }
    if (node->prealloc_threads && !node->prealloc) {
        numa_fail(error, node, "prealloc-threads",
                  "only applies with prealloc; add :prealloc (prealloc=on)");
        return FALSE;
    }
    return TRUE;
}

/* "vcpus=...", "prealloc", "foo=1": a segment naming a key, known or not (keys never start
 * with a digit or '/'). */
static gboolean numa_segment_is_key(const char *segment)
{
    size_t len = strcspn(segment, "=");
    if (segment[len] == '=')
        return len > 0 && g_ascii_isalpha(segment[0]);
    for (size_t i = 0; i < G_N_ELEMENTS(numa_keys); i++)
        if (strcmp(segment, numa_keys[i].name) == 0)
            return TRUE;
    return FALSE;
}

/* Whether @segment continues the last item: a cpulist stride after SIZE@NODES or vcpus=
 * ("0-7:2"), or any text after path=. */
static gboolean numa_segment_continues(GPtrArray *items, const char *segment)
{
    if (items->len == 0 || !*segment || numa_segment_is_key(segment))
        return FALSE;
    const char *last = g_ptr_array_index(items, items->len - 1);
    if (items->len > 1 && g_str_has_prefix(last, "path="))
        return TRUE;
    if (!g_ascii_isdigit(segment[0]))
        return FALSE;
    return items->len == 1 ? strchr(last, '@') != NULL : g_str_has_prefix(last, "vcpus=");
}

static QpinNumaNode *numa_node_new(int guest_node, const char *spec, char *origin)
{
    QpinNumaNode *node = g_new0(QpinNumaNode, 1);
    node->guest_node = guest_node;
    node->spec = g_strdup(spec);
    node->origin = origin;
    return node;
}

QpinNumaNode *qpin_memory_node_parse(const char *spec, int guest_node, GError **error)
{
    g_autoptr(QpinNumaNode) node =
        numa_node_new(guest_node, spec, g_strdup_printf("--numa '%s'", spec));
    NumaParse st = {0};

    if (strchr(spec, '\n')) {
        numa_fail(error, node, NULL, "contains a newline");
        return NULL;
    }
    /* ':' separates keys because values (vcpus=0-3,8) contain commas. A cpulist stride
     * (0-7:2) or a path may contain ':' too: a segment that does not start with a key continues
     * the value before it when that value is a list or a path. */
    g_auto(GStrv) split = g_strsplit(spec, ":", -1);
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; split[i]; i++) {
        if (i > 0 && numa_segment_continues(items, split[i])) {
            char *last = g_ptr_array_index(items, items->len - 1);
            g_ptr_array_index(items, items->len - 1) = g_strconcat(last, ":", split[i], NULL);
            g_free(last);
            continue;
        }
        g_ptr_array_add(items, g_strdup(split[i]));
    }

    if (items->len == 0)
        g_ptr_array_add(items, g_strdup(""));
    char *head = g_ptr_array_index(items, 0);
    char *at = strchr(head, '@');
    if (at)
        *at = '\0';
    if (!*head) {
        numa_fail(error, node, "size",
                  "missing; write SIZE[@HOSTNODES][:KEY=VALUE...], e.g. 80G@0:vcpus=0-239");
        return NULL;
    }
    {
        g_autoptr(GError) local = NULL;
        if (!memory_parse_size(head, &node->size_bytes, &local)) {
            numa_fail(error, node, "size", "%s", local->message);
            return NULL;
        }
        st.seen |= KEY_SIZE;
    }
    if (at) {
        if (!numa_set_host_nodes(node, "host nodes", at + 1, error))
            return NULL;
        st.seen |= KEY_HOST_NODES;
    }
    for (guint i = 1; i < items->len; i++) {
        char *item = g_ptr_array_index(items, i);
        if (!*item) {
            numa_fail(error, node, NULL,
                      "empty item between ':'; keys are separated by one ':' (%s)", NUMA_KEYS_HELP);
            return NULL;
        }
        char *eq = strchr(item, '=');
        if (eq)
            *eq = '\0';
        if (!numa_set_key(node, &st, item, eq ? eq + 1 : NULL, FALSE, error))
            return NULL;
    }
    if (!numa_finish_node(node, &st, error))
        return NULL;
    return g_steal_pointer(&node);
}

static gint numa_group_cmp(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

gboolean qpin_memory_from_keyfile(GKeyFile *keyfile, GPtrArray *nodes, GError **error)
{
    gsize n_groups = 0;
    g_auto(GStrv) groups = g_key_file_get_groups(keyfile, &n_groups);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));

    for (gsize i = 0; i < n_groups; i++) {
        if (!g_str_has_prefix(groups[i], "numa."))
            continue;
        guint64 id = 0;
        if (!g_ascii_string_to_unsigned(groups[i] + 5, 10, 0, 4095, &id, NULL)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "[%s]: not a guest node section; name them [numa.0], [numa.1], ...",
                        groups[i]);
            return FALSE;
        }
        int v = (int)id;
        g_array_append_val(ids, v);
    }
    g_array_sort(ids, numa_group_cmp);
    for (guint i = 0; i < ids->len; i++) {
        if (g_array_index(ids, int, i) != (int)i) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "[numa.%d]: guest node sections must be numbered 0, 1, 2, ... without "
                        "gaps or repeats; [numa.%u] is missing",
                        g_array_index(ids, int, i), i);
            return FALSE;
        }
    }

    g_autoptr(GPtrArray) parsed =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    for (guint i = 0; i < ids->len; i++) {
        g_autofree char *group = g_strdup_printf("numa.%u", i);
        g_autoptr(QpinNumaNode) node =
            numa_node_new((int)(nodes->len + i), NULL, g_strdup_printf("[%s]", group));
        NumaParse st = {0};
        gsize n_keys = 0;
        g_auto(GStrv) keys = g_key_file_get_keys(keyfile, group, &n_keys, error);
        if (!keys)
            return FALSE;
        GString *spec = g_string_new(NULL);
        for (gsize k = 0; k < n_keys; k++) {
            g_autoptr(GError) local = NULL;
            g_autofree char *value = g_key_file_get_string(keyfile, group, keys[k], &local);
            if (!value) {
                numa_fail(error, node, keys[k], "%s", local->message);
                g_string_free(spec, TRUE);
                return FALSE;
            }
            g_string_append_printf(spec, "%s%s=%s", spec->len ? " " : "", keys[k], value);
            if (!numa_set_key(node, &st, keys[k], value, TRUE, error)) {
                g_string_free(spec, TRUE);
                return FALSE;
            }
        }
        node->spec = g_string_free(spec, FALSE);
        if (!numa_finish_node(node, &st, error))
            return FALSE;
        g_ptr_array_add(parsed, g_steal_pointer(&node));
    }
    for (guint i = 0; i < parsed->len; i++)
        g_ptr_array_add(nodes, g_steal_pointer(&g_ptr_array_index(parsed, i)));
    return TRUE;
}

/* QEMU rounds the guest's RAM size (-m) up to a multiple of 8 KiB (machine_set_mem() in
 * hw/core/machine.c) and then refuses NUMA nodes that add up to less: "total memory for NUMA
 * nodes (0x1000) should equal RAM size (0x2000)". So the nodes must add up to a multiple of
 * 8 KiB, and 8 KiB is the least memory a guest can have. */
#define QEMU_RAM_STEP (G_GUINT64_CONSTANT(8) << 10)

static gboolean numa_validate_total(const GPtrArray *nodes, GError **error)
{
    guint64 total = qpin_memory_total_bytes(nodes);
    /* 0: no nodes, or sizes overflowing, which qpin_qemu_numa_args() reports. */
    if (total % QEMU_RAM_STEP == 0)
        return TRUE;
    g_autofree char *size = qpin_size_format(total);
    g_autofree char *step = qpin_size_format(QEMU_RAM_STEP);
    g_autofree char *rounded = qpin_size_format(total - total % QEMU_RAM_STEP + QEMU_RAM_STEP);
    g_autofree char *why = total < QEMU_RAM_STEP
                               ? g_strdup_printf("below QEMU's minimum guest memory of %s", step)
                               : g_strdup_printf("not a multiple of %s", step);
    g_autofree char *how = g_strdup_printf("QEMU sizes guest memory in steps of %s from a minimum "
                                           "of %s and would round -m %s up to %s",
                                           step, step, size, rounded);
    if (nodes->len == 1) {
        numa_fail(error, g_ptr_array_index(nodes, 0), "size",
                  "%s is %s: %s, more than the node holds; write a multiple of %s", size, why, how,
                  step);
        return FALSE;
    }
    g_autoptr(GString) origins = g_string_new(NULL);
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_string_append_printf(origins, "%s%s", i ? ", " : "", node->origin);
    }
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                "%s: the guest nodes add up to %s, %s: %s, more than the nodes hold; make the "
                "sizes add up to a multiple of %s",
                origins->str, size, why, how, step);
    return FALSE;
}

gboolean qpin_memory_validate(const GPtrArray *nodes, GError **error)
{
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (node->guest_node != (int)i) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s: guest node %d given at position %u; guest nodes are numbered in the "
                        "order they are given",
                        node->origin, node->guest_node, i);
            return FALSE;
        }
        if (!node->vcpus)
            continue;
        for (guint j = 0; j < i; j++) {
            const QpinNumaNode *other = g_ptr_array_index(nodes, j);
            if (!other->vcpus || !topo_cpuset_intersects(node->vcpus, other->vcpus))
                continue;
            g_autoptr(TopoCpuSet) both = topo_cpuset_copy(node->vcpus);
            topo_cpuset_intersect(both, other->vcpus);
            g_autofree char *list = topo_cpuset_format(both);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s: vcpus: vCPU %s also in guest node %d (%s); a vCPU belongs to one "
                        "guest node",
                        node->origin, list, other->guest_node, other->origin);
            return FALSE;
        }
    }
    return numa_validate_total(nodes, error);
}
guint64 qpin_memory_prealloc_bytes(const GPtrArray *nodes)
{
    guint64 total = 0;
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (node->prealloc)
            total += node->size_bytes;
    }
    return total;
}

GPtrArray *qpin_memory_binding(const GPtrArray *nodes)
{
    GPtrArray *binding = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_ptr_array_add(binding, node->host_nodes ? topo_cpuset_copy(node->host_nodes) : NULL);
    }
    return binding;
}
