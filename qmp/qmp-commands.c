/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — typed QMP commands: QEMU's replies checked and turned into structs.
 *
 * Replies are read defensively: unknown keys are ignored, optional keys may be missing, and a
 * key of the wrong type or out of range is a QMP_ERROR_PROTOCOL naming the command, the entry
 * and the key, never a silently wrong value.
 */
#include "qmp-private.h"

#include <string.h>

static gboolean bad_reply(GError **error, const char *command, const char *where, const char *fmt,
                          ...) G_GNUC_PRINTF(4, 5);

static gboolean bad_reply_va(GError **error, const char *command, const char *where,
                             const char *fmt, va_list ap) G_GNUC_PRINTF(4, 0);

static gboolean bad_reply_va(GError **error, const char *command, const char *where,
                             const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "bad reply to %s: %s%s%s", command,
                where ? where : "", where ? ": " : "", text);
    return FALSE;
}

static gboolean bad_reply(GError **error, const char *command, const char *where, const char *fmt,
                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    bad_reply_va(error, command, where, fmt, ap);
    va_end(ap);
    return FALSE;
}

static const char *type_name(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

/* Where in a reply a check runs. The text ("entry 3", "entry 3 props") is only built when a
 * check fails: a reply of a few hundred entries passes thousands of checks. */
typedef struct {
    const char *command;
    gssize entry;   /* index in the returned array, -1 for the return value itself */
    gboolean props; /* inside the entry's "props" */
    GError **error;
} ReplyCtx;

static gboolean ctx_fail(const ReplyCtx *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean ctx_fail(const ReplyCtx *ctx, const char *fmt, ...)
{
    g_autofree char *where = NULL;
    if (ctx->entry >= 0)
        where = g_strdup_printf("entry %zd%s", ctx->entry, ctx->props ? " props" : "");
    va_list ap;
    va_start(ap, fmt);
    bad_reply_va(ctx->error, ctx->command, where, fmt, ap);
    va_end(ap);
    return FALSE;
}

static const char *expected_type(json_type type)
{
    switch (type) {
    case json_type_int:
        return "an integer";
    case json_type_string:
        return "a string";
    case json_type_boolean:
        return "a boolean";
    case json_type_array:
        return "an array";
    default:
        return "an object";
    }
}

/* Looks up member @key of @type. An absent optional member is no error: *v is then NULL. */
static gboolean get_member(const ReplyCtx *ctx, json_object *obj, const char *key,
                           gboolean required, json_type type, json_object **v)
{
    if (!json_object_object_get_ex(obj, key, v)) {
        *v = NULL;
        return required ? ctx_fail(ctx, "'%s' is missing", key) : TRUE;
    }
    if (!json_object_is_type(*v, type))
        return ctx_fail(ctx, "'%s' is %s, not %s", key, type_name(*v), expected_type(type));
    return TRUE;
}

/* An integer member in [min, max]. json-c saturates numbers beyond 64 bits, so only a range
 * check can catch them; every caller passes a range well inside int64. */
static gboolean get_int(const ReplyCtx *ctx, json_object *obj, const char *key, gboolean required,
                        gint64 min, gint64 max, gint64 *out, gboolean *present)
{
    json_object *v = NULL;
    if (present)
        *present = FALSE;
    if (!get_member(ctx, obj, key, required, json_type_int, &v))
        return FALSE;
    if (!v)
        return TRUE;
    gint64 value = json_object_get_int64(v);
    if (value < min || value > max)
        return ctx_fail(
            ctx, "'%s' is out of range (%s, expected %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")",
            key, json_object_to_json_string(v), min, max);
    *out = value;
    if (present)
        *present = TRUE;
    return TRUE;
}

static gboolean get_string(const ReplyCtx *ctx, json_object *obj, const char *key,
                           gboolean required, char **out)
{
    json_object *v = NULL;
    *out = NULL;
    if (!get_member(ctx, obj, key, required, json_type_string, &v))
        return FALSE;
    if (v)
        *out = g_strdup(json_object_get_string(v));
    return TRUE;
}

static gboolean get_bool(const ReplyCtx *ctx, json_object *obj, const char *key, gboolean required,
                         gboolean *out)
{
    json_object *v = NULL;
    *out = FALSE;
    if (!get_member(ctx, obj, key, required, json_type_boolean, &v))
        return FALSE;
    if (v)
        *out = json_object_get_boolean(v);
    return TRUE;
}

/* Thread ids are Linux pids: a value of 0 or less would make sched_setaffinity() act on the
 * caller itself, so it is refused here, not downstream. */
#define THREAD_ID_MIN 1
#define THREAD_ID_MAX G_MAXINT32
#define INDEX_MAX     G_MAXINT32

/* Fills one zeroed struct from an entry already known to be an object. */
typedef gboolean (*ParseEntryFunc)(const ReplyCtx *ctx, json_object *entry, gpointer out);

/* Executes @command, whose `return` must be an array of objects, and parses each entry into a
 * new struct of @entry_size bytes. */
static GPtrArray *query_array(QmpClient *client, const char *command, gsize entry_size,
                              GDestroyNotify free_entry, ParseEntryFunc parse, GError **error)
{
    g_autoptr(QmpJson) ret = qmp_client_execute(client, command, NULL, error);
    if (!ret)
        return NULL;
    if (!json_object_is_type(ret, json_type_array)) {
        bad_reply(error, command, NULL, "the return value is %s, not an array", type_name(ret));
        return NULL;
    }
    size_t n = json_object_array_length(ret);
    g_autoptr(GPtrArray) entries = g_ptr_array_new_full(n, free_entry);
    for (size_t i = 0; i < n; i++) {
        ReplyCtx ctx = {command, (gssize)i, FALSE, error};
        json_object *entry = json_object_array_get_idx(ret, i);
        if (!json_object_is_type(entry, json_type_object)) {
            ctx_fail(&ctx, "%s, not an object", type_name(entry));
            return NULL;
        }
        gpointer out = g_malloc0(entry_size);
        g_ptr_array_add(entries, out);
        if (!parse(&ctx, entry, out))
            return NULL;
    }
    return g_steal_pointer(&entries);
}

static gboolean parse_cpu(const ReplyCtx *ctx, json_object *entry, gpointer out)
{
    QmpCpuInfo *info = out;
    if (!get_int(ctx, entry, "cpu-index", TRUE, 0, INDEX_MAX, &info->cpu_index, NULL) ||
        !get_int(ctx, entry, "thread-id", TRUE, THREAD_ID_MIN, THREAD_ID_MAX, &info->thread_id,
                 NULL) ||
        !get_string(ctx, entry, "qom-path", FALSE, &info->qom_path) ||
        !get_string(ctx, entry, "target", FALSE, &info->target))
        return FALSE;

    json_object *props = NULL;
    if (!get_member(ctx, entry, "props", FALSE, json_type_object, &props))
        return FALSE;
    if (!props)
        return TRUE;
    ReplyCtx pctx = {ctx->command, ctx->entry, TRUE, ctx->error};
    return get_int(&pctx, props, "node-id", FALSE, 0, INDEX_MAX, &info->node, &info->has_node) &&
           get_int(&pctx, props, "socket-id", FALSE, 0, INDEX_MAX, &info->socket,
                   &info->has_socket) &&
           get_int(&pctx, props, "die-id", FALSE, 0, INDEX_MAX, &info->die, &info->has_die) &&
           get_int(&pctx, props, "cluster-id", FALSE, 0, INDEX_MAX, &info->cluster,
                   &info->has_cluster) &&
           get_int(&pctx, props, "core-id", FALSE, 0, INDEX_MAX, &info->core, &info->has_core) &&
           get_int(&pctx, props, "thread-id", FALSE, 0, INDEX_MAX, &info->thread,
                   &info->has_thread);
}

GPtrArray *qmp_query_cpus_fast(QmpClient *client, GError **error)
{
    const char *command = "query-cpus-fast";
    g_autoptr(GPtrArray) cpus = query_array(client, command, sizeof(QmpCpuInfo),
                                            (GDestroyNotify)qmp_cpu_info_free, parse_cpu, error);
    if (!cpus)
        return NULL;
    /* Everything downstream is keyed by cpu-index. */
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *info = g_ptr_array_index(cpus, i);
        if (!g_hash_table_add(seen, &info->cpu_index)) {
            ReplyCtx ctx = {command, (gssize)i, FALSE, error};
            ctx_fail(&ctx, "cpu-index %" G_GINT64_FORMAT " appears twice", info->cpu_index);
            return NULL;
        }
    }
    return g_steal_pointer(&cpus);
}

static gboolean parse_iothread(const ReplyCtx *ctx, json_object *entry, gpointer out)
{
    QmpIothread *iothread = out;
    return get_string(ctx, entry, "id", TRUE, &iothread->id) &&
           get_int(ctx, entry, "thread-id", TRUE, THREAD_ID_MIN, THREAD_ID_MAX,
                   &iothread->thread_id, NULL);
}

GPtrArray *qmp_query_iothreads(QmpClient *client, GError **error)
{
    return query_array(client, "query-iothreads", sizeof(QmpIothread),
                       (GDestroyNotify)qmp_iothread_free, parse_iothread, error);
}

static gboolean parse_memdev(const ReplyCtx *ctx, json_object *entry, gpointer out)
{
    QmpMemdev *memdev = out;
    gint64 size = 0;
    json_object *nodes = NULL;
    /* "share" only exists since QEMU 6.1, "id" since 2.9. */
    if (!get_string(ctx, entry, "id", FALSE, &memdev->id) ||
        !get_int(ctx, entry, "size", TRUE, 0, G_MAXINT64, &size, NULL) ||
        !get_bool(ctx, entry, "merge", TRUE, &memdev->merge) ||
        !get_bool(ctx, entry, "dump", TRUE, &memdev->dump) ||
        !get_bool(ctx, entry, "prealloc", TRUE, &memdev->prealloc) ||
        !get_bool(ctx, entry, "share", FALSE, &memdev->share) ||
        !get_string(ctx, entry, "policy", TRUE, &memdev->policy) ||
        !get_member(ctx, entry, "host-nodes", TRUE, json_type_array, &nodes))
        return FALSE;
    memdev->size = (guint64)size;

    size_t n = json_object_array_length(nodes);
    memdev->host_nodes = g_array_sized_new(FALSE, FALSE, sizeof(guint), n);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(nodes, i);
        gint64 node = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (node < 0 || node > INDEX_MAX)
            return ctx_fail(ctx, "'host-nodes' holds %s, not a node number",
                            json_object_to_json_string(v));
        guint value = (guint)node;
        g_array_append_val(memdev->host_nodes, value);
    }
    return TRUE;
}

GPtrArray *qmp_query_memdev(QmpClient *client, GError **error)
{
    return query_array(client, "query-memdev", sizeof(QmpMemdev), (GDestroyNotify)qmp_memdev_free,
                       parse_memdev, error);
}

char *qmp_query_status(QmpClient *client, gboolean *running, GError **error)
{
    const char *command = "query-status";
    g_autoptr(QmpJson) ret = qmp_client_execute(client, command, NULL, error);
    if (!ret)
        return NULL;
    if (!json_object_is_type(ret, json_type_object)) {
        bad_reply(error, command, NULL, "the return value is %s, not an object", type_name(ret));
        return NULL;
    }
    ReplyCtx ctx = {command, -1, FALSE, error};
    g_autofree char *status = NULL;
    gboolean is_running = FALSE;
    if (!get_string(&ctx, ret, "status", TRUE, &status) ||
        !get_bool(&ctx, ret, "running", TRUE, &is_running))
        return NULL;
    if (running)
        *running = is_running;
    return g_steal_pointer(&status);
}

static gboolean execute_simple(QmpClient *client, const char *command, GError **error)
{
    g_autoptr(QmpJson) ret = qmp_client_execute(client, command, NULL, error);
    return ret != NULL;
}

gboolean qmp_cont(QmpClient *client, GError **error)
{
    return execute_simple(client, "cont", error);
}

gboolean qmp_stop(QmpClient *client, GError **error)
{
    return execute_simple(client, "stop", error);
}

gboolean qmp_quit(QmpClient *client, GError **error)
{
    guint before = qmp_client_commands_sent(client);
    g_autoptr(GError) local = NULL;
    if (execute_simple(client, "quit", &local))
        return TRUE;
    /* QEMU closes the monitor as it exits, possibly before its reply is written or read:
     * once quit was sent, a closed or reset connection is the expected outcome. */
    if (qmp_client_commands_sent(client) > before && local->domain == QMP_ERROR &&
        (local->code == QMP_ERROR_CLOSED || local->code == QMP_ERROR_IO))
        return TRUE;
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
}
