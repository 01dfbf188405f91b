/* qpin — guest NUMA memory, see numa.h. */
#include "qpin-numa.h"

#include "qpin-qemu-argv.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

GQuark qpin_numa_error_quark(void)
{
    return g_quark_from_static_string("qpin-numa-error-quark");
}

void qpin_numa_node_free(QpinNumaNode *node)
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

char *qpin_numa_backend_id(int guest_node)
{
    return g_strdup_printf("qpin-mem%d", guest_node);
}

static char *numa_context_id(int guest_node)
{
    return g_strdup_printf("qpin-tc%d", guest_node);
}

/* ---- sizes ---------------------------------------------------------------------------------- */

static const struct {
    char suffix;
    int shift;
} numa_units[] = {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}};

gboolean qpin_numa_parse_size(const char *text, guint64 *bytes, GError **error)
{
    const char *p = text;
    guint64 value = 0;

    if (!g_ascii_isdigit(*p)) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                    "'%s' is not a size; write a whole number with a unit suffix K, M, G or T "
                    "(binary units, as QEMU reads them), e.g. 80G",
                    text);
        return FALSE;
    }
    for (; g_ascii_isdigit(*p); p++) {
        guint digit = (guint)(*p - '0');
        if (value > (G_MAXUINT64 - digit) / 10) {
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE, "size '%s' is too large",
                        text);
            return FALSE;
        }
        value = value * 10 + digit;
    }
    int shift = -1;
    for (size_t i = 0; i < G_N_ELEMENTS(numa_units); i++)
        if (g_ascii_toupper(*p) == numa_units[i].suffix)
            shift = numa_units[i].shift;
    if (shift < 0 || p[1] != '\0') {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                    "'%s' is not a size; write a whole number with a unit suffix K, M, G or T "
                    "(binary units, as QEMU reads them), e.g. 80G",
                    text);
        return FALSE;
    }
    if (value > (G_MAXUINT64 >> shift)) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE, "size '%s' is too large", text);
        return FALSE;
    }
    if (value == 0) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                    "size '%s' is zero; a guest node needs memory, e.g. 1G", text);
        return FALSE;
    }
    *bytes = value << shift;
    return TRUE;
}

char *qpin_numa_format_size(guint64 bytes)
{
    for (size_t i = 0; i < G_N_ELEMENTS(numa_units); i++) {
        guint64 unit = G_GUINT64_CONSTANT(1) << numa_units[i].shift;
        if (bytes != 0 && bytes % unit == 0)
            return g_strdup_printf("%" G_GUINT64_FORMAT "%c", bytes / unit, numa_units[i].suffix);
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

/* g_format_size() separates number and unit by a no-break space; qpin's messages are ASCII. */
char *qpin_numa_human_size(guint64 bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
    double value = (double)bytes / 1024;
    size_t unit = 0;
    while (value >= 1024 * 0.9995 && unit + 1 < G_N_ELEMENTS(units)) {
        value /= 1024;
        unit++;
    }
    return g_strdup_printf("%.1f %s", value, units[unit]);
}

static char *numa_page_size_name(guint64 kib)
{
    return qpin_numa_format_size(kib * 1024);
}

guint64 qpin_numa_total_bytes(const GPtrArray *nodes)
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
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE, "%s: %s: %s", node->origin, key,
                    msg);
    else
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE, "%s: %s", node->origin, msg);
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
    g_autoptr(TopoCpuSet) set = topo_cpuset_parse(value, &local);
    if (!set) {
        numa_fail(error, node, key,
                  "'%s' is not a list of host node ids (%s); write e.g. 0, 0-1 or 0,2", value,
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
        if (!qpin_numa_parse_size(value, &node->size_bytes, &local)) {
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
        if (strcmp(value, "bind") == 0)
            node->policy = QPIN_NUMA_POLICY_BIND;
        else if (strcmp(value, "preferred") == 0)
            node->policy = QPIN_NUMA_POLICY_PREFERRED;
        else if (strcmp(value, "interleave") == 0)
            node->policy = QPIN_NUMA_POLICY_INTERLEAVE;
        else {
            numa_fail(error, node, key, "'%s' is not a policy; write bind, preferred or interleave",
                      value);
            return FALSE;
        }
        st->policy_set = TRUE;
        return TRUE;
    case KEY_BACKEND:
        if (strcmp(value, "ram") == 0)
            node->backend = QPIN_NUMA_BACKEND_RAM;
        else if (strcmp(value, "memfd") == 0)
            node->backend = QPIN_NUMA_BACKEND_MEMFD;
        else if (strcmp(value, "file") == 0)
            node->backend = QPIN_NUMA_BACKEND_FILE;
        else {
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
        if (!qpin_numa_parse_size(value, &bytes, NULL) ||
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

static const char *numa_policy_name(QpinNumaPolicy policy);

/* Defaults and the checks that need all keys of the node. */
static gboolean numa_finish_node(QpinNumaNode *node, const NumaParse *st, GError **error)
{
    if (!node->host_nodes) {
        if (st->policy_set) {
            g_autofree char *size = qpin_numa_format_size(node->size_bytes);
            numa_fail(error, node, "policy",
                      "a policy needs host nodes to apply to; write SIZE@HOSTNODES, e.g. "
                      "%s@0:policy=%s",
                      size, numa_policy_name(node->policy));
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
        g_autofree char *size = qpin_numa_format_size(node->size_bytes);
        g_autofree char *page = qpin_numa_format_size(align);
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

QpinNumaNode *qpin_numa_node_parse(const char *spec, int guest_node, GError **error)
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
        if (!qpin_numa_parse_size(head, &node->size_bytes, &local)) {
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

gboolean qpin_numa_from_keyfile(GKeyFile *keyfile, GPtrArray *nodes, GError **error)
{
    gsize n_groups = 0;
    g_auto(GStrv) groups = g_key_file_get_groups(keyfile, &n_groups);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));

    for (gsize i = 0; i < n_groups; i++) {
        if (!g_str_has_prefix(groups[i], "numa."))
            continue;
        guint64 id = 0;
        if (!g_ascii_string_to_unsigned(groups[i] + 5, 10, 0, 4095, &id, NULL)) {
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
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
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                        "[numa.%d]: guest node sections must be numbered 0, 1, 2, ... without "
                        "gaps or repeats; [numa.%u] is missing",
                        g_array_index(ids, int, i), i);
            return FALSE;
        }
    }

    g_autoptr(GPtrArray) parsed =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_numa_node_free);
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
    guint64 total = qpin_numa_total_bytes(nodes);
    /* 0: no nodes, or sizes overflowing, which qpin_numa_qemu_args() reports. */
    if (total % QEMU_RAM_STEP == 0)
        return TRUE;
    g_autofree char *size = qpin_numa_format_size(total);
    g_autofree char *step = qpin_numa_format_size(QEMU_RAM_STEP);
    g_autofree char *rounded = qpin_numa_format_size(total - total % QEMU_RAM_STEP + QEMU_RAM_STEP);
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
    g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                "%s: the guest nodes add up to %s, %s: %s, more than the nodes hold; make the "
                "sizes add up to a multiple of %s",
                origins->str, size, why, how, step);
    return FALSE;
}

gboolean qpin_numa_validate(const GPtrArray *nodes, GError **error)
{
    for (guint i = 0; i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (node->guest_node != (int)i) {
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
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
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                        "%s: vcpus: vCPU %s also in guest node %d (%s); a vCPU belongs to one "
                        "guest node",
                        node->origin, list, other->guest_node, other->origin);
            return FALSE;
        }
    }
    return numa_validate_total(nodes, error);
}

/* ---- QEMU arguments ------------------------------------------------------------------------- */

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
        if (!qpin_numa_parse_size(text, bytes, NULL)) {
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_CONFLICT,
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

static const char *numa_policy_name(QpinNumaPolicy policy)
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

static const char *numa_backend_name(QpinNumaBackend backend)
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
    g_string_append_printf(obj, "memory-backend-%s,id=%s,size=%s", numa_backend_name(node->backend),
                           mem_id, size);
    if (node->backend == QPIN_NUMA_BACKEND_FILE) {
        /* Line breaks were refused when path= was parsed, so escaping cannot fail here. */
        g_autofree char *path = qpin_qemu_escape(node->path, "path", NULL);
        g_string_append_printf(obj, ",mem-path=%s", path);
    }
    if (node->backend == QPIN_NUMA_BACKEND_MEMFD && node->hugepage_kib) {
        g_autofree char *page = numa_page_size_name(node->hugepage_kib);
        g_string_append_printf(obj, ",hugetlb=on,hugetlbsize=%s", page);
    }
    if (node->host_nodes) {
        append_ranges(obj, "host-nodes", node->host_nodes);
        g_string_append_printf(obj, ",policy=%s", numa_policy_name(node->policy));
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

static gboolean numa_qemu_args(const GPtrArray *nodes, const TopoHost *host, gboolean probe,
                               GPtrArray *qemu_argv, GError **error)
{
    if (!nodes || nodes->len == 0)
        return TRUE;
    if (!qpin_numa_validate(nodes, error))
        return FALSE;

    const char *user_m = NULL;
    char *const *words = (char *const *)qemu_argv->pdata;
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(words, (int)qemu_argv->len, &a);) {
        if (strcmp(a.name, "numa") == 0) {
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_CONFLICT,
                        "the QEMU command line already has -numa; describe the guest nodes with "
                        "--numa (or [numa.N]) only, qpin writes the -numa options");
            return FALSE;
        }
        if (strcmp(a.name, "m") == 0 && a.value >= 0)
            user_m = words[a.value];
    }

    guint64 total = qpin_numa_total_bytes(nodes);
    if (total == 0) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PARSE,
                    "the guest node sizes add up to more than 16 EiB");
        return FALSE;
    }
    g_autofree char *total_text = qpin_numa_format_size(total);
    gboolean add_m = TRUE;
    if (user_m) {
        guint64 user_bytes = 0;
        gboolean has_size = FALSE;
        if (!qemu_mem_size(user_m, &user_bytes, &has_size, error))
            return FALSE;
        if (has_size && user_bytes != total) {
            g_autofree char *user_text = qpin_numa_format_size(user_bytes);
            g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_CONFLICT,
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
        g_autofree char *mem_id = qpin_numa_backend_id(node->guest_node);
        g_autofree char *tc_id = numa_context_id(node->guest_node);
        g_autofree char *size = qpin_numa_format_size(node->size_bytes);
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
    return TRUE;
}

gboolean qpin_numa_qemu_args_host(const GPtrArray *nodes, const TopoHost *host,
                                  GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, host, FALSE, qemu_argv, error);
}

gboolean qpin_numa_qemu_args(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, NULL, FALSE, qemu_argv, error);
}

gboolean qpin_numa_qemu_args_probe(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error)
{
    return numa_qemu_args(nodes, NULL, TRUE, qemu_argv, error);
}

guint64 qpin_numa_prealloc_bytes(const GPtrArray *nodes)
{
    guint64 total = 0;
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        if (node->prealloc)
            total += node->size_bytes;
    }
    return total;
}

GPtrArray *qpin_numa_binding(const GPtrArray *nodes)
{
    GPtrArray *binding = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        g_ptr_array_add(binding, node->host_nodes ? topo_cpuset_copy(node->host_nodes) : NULL);
    }
    return binding;
}

/* ---- preflight ------------------------------------------------------------------------------ */

/* What the guest nodes ask of one host node (plain memory) or one host node's hugepage pool. */
typedef struct {
    int host_node;    /* -1: any allowed node (hugepages without a strict binding) */
    guint64 page_kib; /* 0: plain memory */
    guint64 amount;   /* KiB of plain memory, or hugepages */
    GString *who;     /* "guest node 0 (--numa '...')", joined */
    guint n_who;
} NumaDemand;

static void numa_demand_free(NumaDemand *d)
{
    g_string_free(d->who, TRUE);
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
        g_ptr_array_add(demands, d);
    }
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
        g_autofree char *page = numa_page_size_name(node->hugepage_kib);
        g_string_append_printf(problems,
                               "\nguest node %d (%s): path=%s is not on a hugetlbfs mount; mount "
                               "one (mount -t hugetlbfs -o pagesize=%s none DIR) or leave path= "
                               "out to use memfd hugepages",
                               node->guest_node, node->origin, node->path, page);
    } else if (hugetlbfs && (guint64)st.f_bsize != node->hugepage_kib * 1024) {
        g_autofree char *mount_page = qpin_numa_format_size((guint64)st.f_bsize);
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
        g_autofree char *need = qpin_numa_human_size(d->amount * 1024);
        g_autofree char *free_ = qpin_numa_human_size(hn->mem_free_kib * 1024);
        g_string_append_printf(problems,
                               "\n%s %s %s on host node %d (policy=bind), which has %s free "
                               "(MemFree of /sys/devices/system/node/node%d/meminfo); free memory "
                               "there (page cache counts as used: sync; echo 3 > "
                               "/proc/sys/vm/drop_caches) or bind elsewhere",
                               d->who->str, verb, need, d->host_node, free_, d->host_node);
        return;
    }

    g_autofree char *page = numa_page_size_name(d->page_kib);
    g_autofree char *need_bytes = qpin_numa_human_size(d->amount * d->page_kib * 1024);
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
                               "%d, which has %" G_GUINT64_FORMAT " free of %" G_GUINT64_FORMAT
                               "; reserve them with: echo %" G_GUINT64_FORMAT
                               " > /sys/devices/system/node/node%d/hugepages/"
                               "hugepages-%" G_GUINT64_FORMAT "kB/nr_hugepages",
                               d->who->str, verb, d->amount, page, need_bytes, d->host_node,
                               pool->free, pool->total, pool->total + (d->amount - pool->free),
                               d->host_node, d->page_kib);
        return;
    }

    /* Not strictly bound: the pages may come from any node qpin may allocate on. */
    guint64 free_pages = 0, total_pages = 0;
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *hn = g_ptr_array_index(host->nodes, i);
        const TopoHugepages *pool = topo_node_hugepages(hn, d->page_kib);
        if (!pool)
            continue;
        total_pages += pool->total;
        if (!host->mems_allowed || topo_cpuset_has(host->mems_allowed, hn->id))
            free_pages += pool->free;
    }
    if (d->amount <= free_pages)
        return;
    g_string_append_printf(problems,
                           "\n%s %s %" G_GUINT64_FORMAT " hugepages of %s (%s), and the host "
                           "nodes qpin may use have %" G_GUINT64_FORMAT " free; reserve them "
                           "with: echo %" G_GUINT64_FORMAT
                           " > /sys/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT
                           "kB/nr_hugepages",
                           d->who->str, verb, d->amount, page, need_bytes, free_pages,
                           total_pages + (d->amount - free_pages), d->page_kib);
}

gboolean qpin_numa_preflight(const GPtrArray *nodes, const TopoHost *host, GError **error)
{
    if (!nodes || nodes->len == 0)
        return TRUE;
    if (!qpin_numa_validate(nodes, error))
        return FALSE;

    g_autoptr(GString) problems = g_string_new(NULL);
    g_autoptr(GPtrArray) demands = g_ptr_array_new_with_free_func((GDestroyNotify)numa_demand_free);
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
    for (guint i = 0; i < demands->len; i++)
        numa_check_demand(g_ptr_array_index(demands, i), host, problems);

    if (problems->len) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PREFLIGHT,
                    "the host cannot hold the guest memory:%s", problems->str);
        return FALSE;
    }
    return TRUE;
}

/* ---- placement ------------------------------------------------------------------------------ */

void qpin_mem_placement_free(QpinMemPlacement *p)
{
    if (!p)
        return;
    g_free(p->backend_id);
    g_free(p->policy);
    if (p->pages_per_node)
        g_array_unref(p->pages_per_node);
    g_free(p->problem);
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

static gboolean numa_vma_kind_matches(const QpinNumaNode *node, const NumaVma *v)
{
    if (!v->writable)
        return FALSE;
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
                                  guint *first, guint *count)
{
    gboolean found = FALSE;
    guint64 best_resident = 0, best_start = 0;
    for (guint i = 0; i < vmas->len; i++) {
        NumaVma *v = g_ptr_array_index(vmas, i);
        if (v->used || !v->end || !numa_policy_matches(node, v->policy) ||
            !numa_vma_kind_matches(node, v))
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

/* Fills @p with the pages of @node's mapping, marking its VMAs used. */
static void numa_place(const QpinNumaNode *node, QpinMemPlacement *p, GPtrArray *vmas)
{
    guint first = 0, count = 0;
    g_autofree char *expected = numa_expected_policy(node);
    if (!numa_find_backend(node, vmas, node->prealloc, &first, &count)) {
        g_autofree char *size = qpin_numa_human_size(node->size_bytes);
        p->policy = g_strdup(expected);
        p->ok = !node->host_nodes;
        p->problem = g_strdup_printf("no %s mapping of %s with policy %s in numa_maps",
                                     numa_backend_name(node->backend), size, expected);
        return;
    }
    NumaVma *head = g_ptr_array_index(vmas, first);
    p->found = TRUE;
    p->address = head->start;
    p->policy = g_strdup(head->policy);
    p->page_kib = head->page_kib;
    for (guint k = first; k < first + count; k++) {
        NumaVma *v = g_ptr_array_index(vmas, k);
        v->used = TRUE;
        for (guint n = 0; n < v->pages->len; n++)
            if (g_array_index(v->pages, guint64, n))
                numa_pages_add(p->pages_per_node, n, g_array_index(v->pages, guint64, n));
    }
    g_autoptr(TopoCpuSet) elsewhere = topo_cpuset_new();
    guint64 outside = 0;
    for (guint n = 0; n < p->pages_per_node->len; n++) {
        guint64 pages = g_array_index(p->pages_per_node, guint64, n);
        p->resident_bytes += pages * p->page_kib * 1024;
        if (pages && node->host_nodes && !topo_cpuset_has(node->host_nodes, (int)n)) {
            topo_cpuset_add(elsewhere, (int)n);
            outside += pages * p->page_kib * 1024;
        }
    }
    if (outside) {
        g_autofree char *bytes = qpin_numa_human_size(outside);
        g_autofree char *where = topo_cpuset_format(elsewhere);
        g_autofree char *want = topo_cpuset_format(node->host_nodes);
        p->ok = FALSE;
        p->problem =
            g_strdup_printf("%s on host node %s, outside host node %s", bytes, where, want);
    }
}

GPtrArray *qpin_numa_placement_read(const GPtrArray *nodes, pid_t pid, const char *proc_root,
                                    GError **error)
{
    const char *root = proc_root ? proc_root : "/proc";
    g_autofree char *pid_text = g_strdup_printf("%d", (int)pid);
    g_autofree char *numa_path = g_build_filename(root, pid_text, "numa_maps", NULL);
    g_autofree char *maps_path = g_build_filename(root, pid_text, "maps", NULL);
    g_autoptr(GError) local = NULL;

    g_autoptr(GPtrArray) vmas = numa_read_numa_maps(numa_path, &local);
    if (!vmas) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PLACEMENT,
                    "cannot read QEMU's memory placement: %s", local->message);
        return NULL;
    }
    g_ptr_array_sort(vmas, numa_vma_cmp);
    g_autoptr(GHashTable) by_start = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < vmas->len; i++) {
        NumaVma *v = g_ptr_array_index(vmas, i);
        g_hash_table_insert(by_start, &v->start, v);
    }
    if (!numa_read_maps(maps_path, by_start, &local)) {
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PLACEMENT,
                    "cannot read QEMU's memory map: %s", local->message);
        return NULL;
    }

    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_mem_placement_free);
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        QpinMemPlacement *p = g_new0(QpinMemPlacement, 1);
        p->guest_node = node->guest_node;
        p->backend_id = qpin_numa_backend_id(node->guest_node);
        p->pages_per_node = g_array_new(FALSE, TRUE, sizeof(guint64));
        p->size_bytes = node->size_bytes;
        p->page_kib = node->hugepage_kib ? node->hugepage_kib : 4;
        p->ok = TRUE;
        g_ptr_array_add(out, p);
    }
    /* Preallocated backends choose first: their pages identify them among look-alikes. */
    for (int pass = 0; pass < 2; pass++)
        for (guint i = 0; nodes && i < nodes->len; i++) {
            const QpinNumaNode *node = g_ptr_array_index(nodes, i);
            if (!!node->prealloc == (pass == 0))
                numa_place(node, g_ptr_array_index(out, i), vmas);
        }
    return out;
}

gboolean qpin_numa_placement_check(const GPtrArray *placements, const GPtrArray *nodes,
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
        g_set_error(error, QPIN_NUMA_ERROR, QPIN_NUMA_ERROR_PLACEMENT,
                    "guest memory is not where it was asked:%s", errors->str);
        return FALSE;
    }
    return TRUE;
}

/* ---- output --------------------------------------------------------------------------------- */

static json_object *numa_json_cpuset(const TopoCpuSet *set)
{
    if (!set)
        return NULL;
    g_autofree char *text = topo_cpuset_format(set);
    return json_object_new_string(text);
}

json_object *qpin_numa_nodes_to_json(const GPtrArray *nodes)
{
    json_object *array = json_object_new_array();
    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = g_ptr_array_index(nodes, i);
        json_object *o = json_object_new_object();
        g_autofree char *id = qpin_numa_backend_id(node->guest_node);
        g_autofree char *size = qpin_numa_format_size(node->size_bytes);
        json_object_object_add(o, "guest_node", json_object_new_int(node->guest_node));
        json_object_object_add(o, "backend_id", json_object_new_string(id));
        json_object_object_add(o, "size", json_object_new_string(size));
        json_object_object_add(o, "size_bytes", json_object_new_uint64(node->size_bytes));
        json_object_object_add(o, "host_nodes", numa_json_cpuset(node->host_nodes));
        json_object_object_add(o, "policy", json_object_new_string(numa_policy_name(node->policy)));
        json_object_object_add(o, "backend",
                               json_object_new_string(numa_backend_name(node->backend)));
        json_object_object_add(o, "path", node->path ? json_object_new_string(node->path) : NULL);
        json_object_object_add(o, "hugepage_kib", json_object_new_uint64(node->hugepage_kib));
        json_object_object_add(o, "prealloc", json_object_new_boolean(node->prealloc));
        json_object_object_add(o, "prealloc_threads", json_object_new_int(node->prealloc_threads));
        json_object_object_add(o, "vcpus", numa_json_cpuset(node->vcpus));
        json_object_array_add(array, o);
    }
    return array;
}

json_object *qpin_numa_placement_to_json(const GPtrArray *placements)
{
    json_object *array = json_object_new_array();
    for (guint i = 0; placements && i < placements->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(placements, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "guest_node", json_object_new_int(p->guest_node));
        json_object_object_add(o, "backend_id", json_object_new_string(p->backend_id));
        json_object_object_add(o, "found", json_object_new_boolean(p->found));
        json_object_object_add(o, "policy", json_object_new_string(p->policy ? p->policy : ""));
        json_object_object_add(o, "page_kib", json_object_new_uint64(p->page_kib));
        json_object_object_add(o, "size_bytes", json_object_new_uint64(p->size_bytes));
        json_object_object_add(o, "resident_bytes", json_object_new_uint64(p->resident_bytes));
        json_object *per = json_object_new_array();
        for (guint n = 0; n < p->pages_per_node->len; n++) {
            guint64 pages = g_array_index(p->pages_per_node, guint64, n);
            if (!pages)
                continue;
            json_object *e = json_object_new_object();
            json_object_object_add(e, "node", json_object_new_int((int)n));
            json_object_object_add(e, "pages", json_object_new_uint64(pages));
            json_object_object_add(e, "bytes", json_object_new_uint64(pages * p->page_kib * 1024));
            json_object_array_add(per, e);
        }
        json_object_object_add(o, "nodes", per);
        json_object_object_add(o, "ok", json_object_new_boolean(p->ok));
        json_object_object_add(o, "problem",
                               p->problem ? json_object_new_string(p->problem) : NULL);
        json_object_array_add(array, o);
    }
    return array;
}

void qpin_numa_placement_format(const GPtrArray *placements, GString *out)
{
    g_string_append_printf(out, "%-6s %-10s %-14s %-6s %-11s %-28s %s\n", "GUEST", "BACKEND",
                           "POLICY", "PAGE", "RESIDENT", "HOST NODES", "STATUS");
    for (guint i = 0; placements && i < placements->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(placements, i);
        g_autofree char *page = numa_page_size_name(p->page_kib);
        g_autofree char *resident = qpin_numa_human_size(p->resident_bytes);
        GString *per = g_string_new(NULL);
        for (guint n = 0; n < p->pages_per_node->len; n++) {
            guint64 pages = g_array_index(p->pages_per_node, guint64, n);
            if (!pages)
                continue;
            g_autofree char *bytes = qpin_numa_human_size(pages * p->page_kib * 1024);
            g_string_append_printf(per, "%s%u: %s", per->len ? ", " : "", n, bytes);
        }
        if (!per->len)
            g_string_append(per, "-");
        const char *status = p->problem ? p->problem : !p->found ? "not found" : "ok";
        g_string_append_printf(out, "%-6d %-10s %-14s %-6s %-11s %-28s %s%s\n", p->guest_node,
                               p->backend_id, p->policy ? p->policy : "", page,
                               p->found ? resident : "-", per->str, p->ok ? "" : "WRONG: ", status);
        g_string_free(per, TRUE);
    }
}
