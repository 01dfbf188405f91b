/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — QMP client.
 *
 * Two layers: the transport (connect or adopt an fd, greeting, negotiation, ids, streaming
 * framing, event queue, deadlines, size caps) and typed commands that return structs.
 * Never prints, never exits; errors are GErrors in QMP_ERROR (or QMP_COMMAND_ERROR for an
 * `error` reply of QEMU).
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* json-c's object under a name of this library's own, so that g_autoptr(QmpJson) works without
 * defining a cleanup for json-c's json_object type, which another header may define too. */
typedef json_object QmpJson;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpJson, json_object_put)

#define QMP_ERROR qmp_error_quark()
GQuark qmp_error_quark(void);

typedef enum {
    QMP_ERROR_CONNECT,     /* socket missing, refused, path too long, QEMU gone while connecting */
    QMP_ERROR_IO,          /* read/write failure (EPIPE, ECONNRESET ...) */
    QMP_ERROR_CLOSED,      /* the peer closed the connection (possibly mid-message) */
    QMP_ERROR_TIMEOUT,     /* the deadline passed; the session is now broken */
    QMP_ERROR_PROTOCOL,    /* not QMP: garbage, non-object, HMP banner, bad greeting or reply */
    QMP_ERROR_TOO_BIG,     /* a message exceeded the size cap */
    QMP_ERROR_BROKEN,      /* the session was broken by an earlier timeout or fault */
    QMP_ERROR_INTERRUPTED, /* the wait hook ended a wait (see qmp_client_set_wait_hook()) */
} QmpError;

/* QEMU answered {"error": {"class": C, "desc": D}}. The GError message is "C: D"; the class
 * alone is available through qmp_command_error_class(). */
#define QMP_COMMAND_ERROR qmp_command_error_quark()
GQuark qmp_command_error_quark(void);

typedef enum {
    QMP_COMMAND_ERROR_GENERIC,           /* GenericError */
    QMP_COMMAND_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
    QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE, /* DeviceNotActive */
    QMP_COMMAND_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
    QMP_COMMAND_ERROR_KVM_MISSING_CAP,   /* KVMMissingCap */
    QMP_COMMAND_ERROR_OTHER,             /* any class this client does not know */
} QmpCommandError;

/* The class string of a QMP_COMMAND_ERROR ("GenericError", or the unknown class verbatim);
 * NULL for other errors. */
const char *qmp_command_error_class(const GError *error);
/* QEMU's `desc` of a QMP_COMMAND_ERROR; NULL for other errors. */
const char *qmp_command_error_desc(const GError *error);

#define QMP_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define QMP_DEFAULT_TIMEOUT_MS  10000

typedef struct QmpClient QmpClient;

typedef struct {
    int major, minor, micro;
    char *package;
    char **capabilities; /* NULL-terminated */
} QmpGreeting;

typedef struct {
    char *name;
    json_object *data; /* may be NULL */
    gint64 seconds;
    gint64 microseconds;
} QmpEvent;

void qmp_event_free(QmpEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpEvent, qmp_event_free)

/* Called while connecting: return FALSE when QEMU is gone, so connect stops retrying. */
typedef gboolean (*QmpAliveFunc)(gpointer user_data);

/* Connects to the unix socket @path within @timeout_ms. ENOENT and ECONNREFUSED are retried
 * only while @alive (may be NULL: then not retried) returns TRUE. Paths longer than
 * sun_path are refused. Does not read the greeting. */
QmpClient *qmp_client_connect(const char *path, gint64 timeout_ms, QmpAliveFunc alive,
                              gpointer alive_data, GError **error);

/* Adopts an already connected stream socket (e.g. a socketpair end). Takes ownership of @fd
 * (closed by qmp_client_free, or at once on failure), sets it close-on-exec and non-blocking. */
QmpClient *qmp_client_new_from_fd(int fd, GError **error);

void qmp_client_free(QmpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpClient, qmp_client_free)

/* Per-call deadline (default QMP_DEFAULT_TIMEOUT_MS; negative: no deadline, the call waits
 * until the peer answers, fails, or the wait hook ends it). */
void qmp_client_set_timeout(QmpClient *client, gint64 timeout_ms);
/* Message size cap (default QMP_DEFAULT_MAX_MESSAGE). */
void qmp_client_set_max_message(QmpClient *client, gsize max_bytes);
/* Gives the negotiation reply a deadline of its own, counted from when the greeting arrived
 * (negative: none). QEMU greets at once but answers qmp_capabilities only after building the
 * machine, which may take many seconds for hundreds of vCPUs. The greeting keeps the normal
 * timeout. Unless this is called, greeting and negotiation share one deadline of the normal
 * timeout. */
void qmp_client_set_negotiation_timeout(QmpClient *client, gint64 timeout_ms);

/* Called while the client blocks; TRUE to keep waiting, FALSE to end the wait. */
typedef gboolean (*QmpWaitHook)(gpointer user_data);
/* While the client blocks (reading the greeting, a reply, an event; writing a command) it also
 * polls @fd (-1: none) and calls @hook when @fd is readable and every @interval_ms (<= 0: only
 * when @fd is readable). A hook that returns FALSE ends the wait with QMP_ERROR_INTERRUPTED;
 * that breaks the session (like a timeout) unless the wait was qmp_client_wait_event()'s. The
 * hook should drain @fd (e.g. read the pending signals of a signalfd): a hook that returns
 * TRUE and leaves @fd readable is called again at most every 50 ms, not in a busy loop. While
 * a hook is set, it is also consulted between reads, so a peer that never stops sending cannot
 * keep it from running. The hook must not use @client. @hook NULL removes the hook.
 * qmp_client_connect() never calls it (its @alive is its hook). */
void qmp_client_set_wait_hook(QmpClient *client, int fd, gint64 interval_ms, QmpWaitHook hook,
                              gpointer user_data);

/* The socket, for a caller with a poll loop of its own (see qmp_client_has_buffered_input()).
 * It stays owned by @client: do not close it, read from it or change its flags. */
int qmp_client_get_fd(const QmpClient *client);

/* The process at the other end of the socket (SO_PEERCRED), and its uid in @uid (may be NULL;
 * (uid_t)-1 on failure). Returns -1 with errno set when unavailable (ESRCH when the kernel
 * gives no pid: not a unix socket, or a peer outside this pid namespace). The credentials are
 * those recorded when the connection was made: for a connect(), the process that called
 * listen() on the server socket; for a socketpair(), the process that created the pair (the
 * launcher itself, not the QEMU it passed an end to). */
pid_t qmp_client_peer_pid(const QmpClient *client, uid_t *uid);

/* Reads the greeting and negotiates (qmp_capabilities). Returns when the negotiation reply
 * arrived: only then is QEMU ready. */
gboolean qmp_client_handshake(QmpClient *client, GError **error);
/* The greeting, after a successful handshake; NULL before. */
const QmpGreeting *qmp_client_greeting(const QmpClient *client);

/* Executes @command with @arguments (borrowed; may be NULL). Returns a new reference to the
 * `return` value; an `error` reply is a QMP_COMMAND_ERROR. A timeout breaks the session. */
json_object *qmp_client_execute(QmpClient *client, const char *command, json_object *arguments,
                                GError **error);

/* True once a timeout or transport fault made the session unusable. */
gboolean qmp_client_is_broken(const QmpClient *client);
/* Number of commands sent on this session (including qmp_capabilities). */
guint qmp_client_commands_sent(const QmpClient *client);

/* The most bytes of one incoming message the client ever held at once (at most the size cap
 * plus one): a diagnostic that the cap bounds memory whatever the peer sends. */
gsize qmp_client_peak_message_bytes(const QmpClient *client);

/* True when bytes already read from the socket wait in the client's buffer (the rest of a
 * message, or further messages that came in the same read). poll() on the socket cannot see
 * them: a caller that polls the fd itself should also call qmp_client_wait_event(..., 0) while
 * this is true. */
gboolean qmp_client_has_buffered_input(const QmpClient *client);

/* Events: queued in arrival order (capped at 1024; the oldest are dropped past the cap, but
 * qmp_client_event_count() still counts them). */
/* Pops the oldest queued event, or NULL (does not read the socket). */
QmpEvent *qmp_client_pop_event(QmpClient *client);
/* The oldest queued event named @name (NULL: any), left in the queue, or NULL. Borrowed: valid
 * until the next call that reads the socket or takes an event. Does not read the socket. */
const QmpEvent *qmp_client_peek_event(QmpClient *client, const char *name);
/* How many events named @name arrived on this session, whether still queued, taken, or
 * dropped from a full queue. */
guint64 qmp_client_event_count(const QmpClient *client, const char *name);
/* Whether an event named @name ever arrived on this session (even if dropped since). */
gboolean qmp_client_event_seen(const QmpClient *client, const char *name);
/* Takes the oldest queued event named @name (NULL: any) if there is one, without reading;
 * else waits up to @timeout_ms (negative: no deadline) for one; events of other names stay
 * queued. Returns NULL with a QMP_ERROR_TIMEOUT error when none came, or QMP_ERROR_INTERRUPTED
 * when the wait hook ended the wait; neither breaks the session. With @timeout_ms 0 it makes
 * at most one read (of up to 64 KiB): use qmp_client_read_available() to take in everything
 * that is readable. */
QmpEvent *qmp_client_wait_event(QmpClient *client, const char *name, gint64 timeout_ms,
                                GError **error);
/* Reads and handles whatever the socket holds now, without waiting: events are queued (and
 * counted), replies that no command waits for are dropped. Stops when nothing more is readable
 * or after 4 MiB, so that a peer that never stops sending cannot hold it. FALSE with an error
 * when the session is (or now became) unusable. Does not call the wait hook. */
gboolean qmp_client_read_available(QmpClient *client, GError **error);
guint qmp_client_pending_events(const QmpClient *client);

/* The raw traffic, for a debug log: called with each message sent ("->") and received ("<-"),
 * and with "--" for the client's own notes (a reply with an unknown id dropped, an event
 * dropped from a full queue, the reason the session became unusable). */
typedef void (*QmpTraceFunc)(const char *direction, const char *json, gpointer user_data);
void qmp_client_set_trace(QmpClient *client, QmpTraceFunc func, gpointer user_data);

/* ---- typed commands ---- */

typedef struct {
    gint64 cpu_index;
    gint64 thread_id;
    char *qom_path;
    char *target;
    gboolean has_node, has_socket, has_die, has_cluster, has_core, has_thread;
    gint64 node, socket, die, cluster, core, thread;
} QmpCpuInfo;

typedef struct {
    char *id;
    gint64 thread_id;
} QmpIothread;

typedef struct {
    char *id; /* may be NULL on old QEMU */
    guint64 size;
    gboolean merge, dump, prealloc, share;
    char *policy;       /* "default", "bind", "preferred", "interleave" */
    GArray *host_nodes; /* guint */
} QmpMemdev;

void qmp_cpu_info_free(QmpCpuInfo *info);
void qmp_iothread_free(QmpIothread *iothread);
void qmp_memdev_free(QmpMemdev *memdev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpCpuInfo, qmp_cpu_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpIothread, qmp_iothread_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpMemdev, qmp_memdev_free)

/* GPtrArray of QmpCpuInfo* (free func set). Refuses malformed entries (missing cpu-index or
 * thread-id, wrong types) with QMP_ERROR_PROTOCOL. */
GPtrArray *qmp_query_cpus_fast(QmpClient *client, GError **error);
/* GPtrArray of QmpIothread*. */
GPtrArray *qmp_query_iothreads(QmpClient *client, GError **error);
/* GPtrArray of QmpMemdev*. */
GPtrArray *qmp_query_memdev(QmpClient *client, GError **error);
/* The run state ("prelaunch", "paused", "running", ...) as a new string; @running set. */
char *qmp_query_status(QmpClient *client, gboolean *running, GError **error);
gboolean qmp_cont(QmpClient *client, GError **error);
gboolean qmp_stop(QmpClient *client, GError **error);
/* Sends quit; a connection closed by QEMU right after the reply (or before it) is success. */
gboolean qmp_quit(QmpClient *client, GError **error);

G_END_DECLS
