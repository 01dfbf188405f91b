/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — QMP transport: sockets, streaming framing, command ids, events, deadlines. */
#include "qmp-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define QMP_READ_CHUNK   65536
#define QMP_MAX_EVENTS   1024
#define QMP_MAX_DEPTH    64
#define QMP_SNIPPET      48
#define QMP_ID_PREFIX    "qpin-"
#define QMP_RETRY_MIN_US 2000
#define QMP_RETRY_MAX_US 50000
/* The most distinct bytes of event names recorded for qmp_client_event_count(): QEMU has a
 * few hundred short names; a peer inventing more is no QMP server. */
#define QMP_MAX_EVENT_NAME_BYTES 65536
/* A wait hook that leaves its fd readable is called again at most this often. */
#define QMP_HOOK_FD_GAP_US 50000
/* qmp_client_read_available() stops after this many reads (4 MiB), so a peer that never stops
 * sending cannot hold it. */
#define QMP_AVAILABLE_MAX_READS 64
/* Deadlines: none at all, or "do not wait" (read what is there, never poll). */
#define QMP_NO_DEADLINE G_MAXINT64
#define QMP_NO_WAIT     G_MININT64

struct QmpClient {
    int fd;
    json_tokener *tok;
    gint64 timeout_ms; /* < 0: no deadline */
    gsize max_message;
    /* The deadline of the negotiation reply, when set apart from the call's (< 0: none). */
    gboolean negotiation_timeout_set;
    gint64 negotiation_timeout_ms;

    QmpWaitHook hook;
    gpointer hook_data;
    int hook_fd;
    gint64 hook_interval_ms;
    /* Monotonic times: when the interval hook is next due, and before when the hook's fd is
     * not polled (after a call that left it readable, so that it cannot spin). */
    gint64 hook_next_tick;
    gint64 hook_fd_quiet_until;

    /* Bytes handed to the tokener since the previous message ended, and the most ever held
     * for one message: the tokener never gets more than max_message + 1 of them. */
    gsize msg_bytes;
    gsize peak_msg_bytes;
    /* A non-blank byte of the current message was seen; its first bytes, for error messages. */
    gboolean msg_started;
    char head[QMP_SNIPPET];
    gsize head_len;

    char *rbuf;
    gsize rpos, rlen;
    /* Reads made by the current call: past the deadline, only the first is allowed, so a
     * peer that never stops sending (events, blank lines) cannot hold a call beyond it. */
    guint reads_this_call;

    guint64 next_id;
    guint commands_sent;

    GQueue events;
    guint64 events_dropped;
    /* Every event name received, with how often: kept when the queue drops the event. */
    GHashTable *event_counts; /* char* -> guint64* */
    gsize event_names_bytes;

    QmpGreeting *greeting;
    gboolean negotiated;

    /* Once set, the byte stream cannot be trusted (a timeout may leave a reply in flight, a
     * framing error leaves no message boundary): every later call fails. */
    gboolean broken;
    QmpError broken_code;
    char *broken_reason;

    QmpTraceFunc trace;
    gpointer trace_data;
};

typedef enum {
    STEP_OK,
    STEP_TIMEOUT,
    STEP_INTERRUPTED, /* the wait hook said stop; nothing was failed yet */
    STEP_ERROR,
} Step;

typedef enum {
    MSG_GREETING,
    MSG_EVENT,
    MSG_REPLY,
    MSG_OTHER,
} MsgKind;

static void trace_note(QmpClient *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void trace_note(QmpClient *c, const char *fmt, ...)
{
    if (!c->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->trace("--", text, c->trace_data);
}

static void trace_message(QmpClient *c, const char *direction, json_object *obj)
{
    if (c->trace)
        c->trace(direction,
                 json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE),
                 c->trace_data);
}

static gboolean client_fail(QmpClient *c, GError **error, QmpError code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Fails the current call with @code and marks the session unusable. */
static gboolean client_fail(QmpClient *c, GError **error, QmpError code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!c->broken) {
        c->broken = TRUE;
        c->broken_code = code;
        c->broken_reason = g_strdup(text);
        trace_note(c, "session unusable: %s", text);
    }
    g_set_error_literal(error, QMP_ERROR, code, text);
    return FALSE;
}

static gboolean client_usable(const QmpClient *c, GError **error)
{
    if (!c->broken)
        return TRUE;
    if (c->broken_code == QMP_ERROR_CLOSED)
        g_set_error(error, QMP_ERROR, QMP_ERROR_CLOSED, "QMP connection closed: %s",
                    c->broken_reason);
    else
        g_set_error(error, QMP_ERROR, QMP_ERROR_BROKEN,
                    "QMP session unusable after an earlier failure: %s", c->broken_reason);
    return FALSE;
}

/* The deadline @timeout_ms from now; a negative @timeout_ms means none. */
static gint64 deadline_after(gint64 timeout_ms)
{
    if (timeout_ms < 0)
        return QMP_NO_DEADLINE;
    return g_get_monotonic_time() + MIN(timeout_ms, G_MAXINT64 / 4000) * 1000;
}

/* Milliseconds until @deadline, rounded up; -1 (poll's "forever") for none. */
static int remaining_ms(gint64 deadline)
{
    if (deadline == QMP_NO_DEADLINE)
        return -1;
    gint64 left = deadline - g_get_monotonic_time();
    if (left <= 0)
        return 0;
    return (int)MIN((left + 999) / 1000, G_MAXINT);
}

/* Waits for @events on @fd until @deadline: 1 ready, 0 timed out, -1 with errno set. */
static int wait_fd(int fd, short events, gint64 deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int ms = remaining_ms(deadline);
        int r = poll(&pfd, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (r == 0 && ms == 0)
            return 0;
    }
}

typedef enum {
    WAIT_READY,
    WAIT_TIMEOUT,
    WAIT_INTERRUPTED,
    WAIT_FAILED, /* errno set */
} WaitResult;

/* Prepares the per-call state of a public call that may block. */
static void call_begin(QmpClient *c)
{
    c->reads_this_call = 0;
    c->hook_next_tick = g_get_monotonic_time() + MAX(c->hook_interval_ms, 0) * 1000;
    c->hook_fd_quiet_until = 0;
}

/* Waits for @events on the client's socket until @deadline, calling the wait hook when its fd
 * is readable or its interval elapsed. The hook comes before the socket: a peer that keeps the
 * socket readable cannot keep the hook from running. */
static WaitResult client_wait(QmpClient *c, short events, gint64 deadline)
{
    for (;;) {
        gint64 now = g_get_monotonic_time();
        gboolean ticks = c->hook && c->hook_interval_ms > 0;
        gboolean has_fd = c->hook && c->hook_fd >= 0;
        gboolean watch_fd = has_fd && now >= c->hook_fd_quiet_until;
        gint64 until = deadline;
        if (ticks)
            until = MIN(until, c->hook_next_tick);
        if (has_fd && !watch_fd)
            until = MIN(until, c->hook_fd_quiet_until);
        struct pollfd pfd[2] = {
            {.fd = c->fd, .events = events},
            {.fd = watch_fd ? c->hook_fd : -1, .events = POLLIN},
        };
        int r = poll(pfd, 2, remaining_ms(until));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return WAIT_FAILED;
        }
        now = g_get_monotonic_time();
        if (pfd[1].revents || (ticks && now >= c->hook_next_tick)) {
            if (!c->hook(c->hook_data))
                return WAIT_INTERRUPTED;
            now = g_get_monotonic_time();
            c->hook_fd_quiet_until = now + QMP_HOOK_FD_GAP_US;
            if (ticks)
                c->hook_next_tick = now + c->hook_interval_ms * 1000;
        }
        if (pfd[0].revents)
            return WAIT_READY;
        /* Checked whatever woke poll: a hook fd that stays readable must not stretch it. */
        if (deadline != QMP_NO_DEADLINE && g_get_monotonic_time() >= deadline)
            return WAIT_TIMEOUT;
    }
}

static gboolean set_fd_flags(int fd, GError **error)
{
    int fdflags = fcntl(fd, F_GETFD);
    int flflags = fcntl(fd, F_GETFL);
    if (fdflags < 0 || flflags < 0 || fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, flflags | O_NONBLOCK) < 0) {
        int saved = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "cannot set up QMP socket fd %d: %s", fd,
                    g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

static QmpClient *client_new(int fd)
{
    QmpClient *c = g_new0(QmpClient, 1);
    c->fd = fd;
    c->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
    /* Strict JSON as QEMU writes it, with whatever follows a message left for the next parse,
     * and no byte sequence that is not UTF-8 (QEMU sends ASCII with \u escapes). */
    json_tokener_set_flags(c->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                       JSON_TOKENER_VALIDATE_UTF8);
    c->timeout_ms = QMP_DEFAULT_TIMEOUT_MS;
    c->max_message = QMP_DEFAULT_MAX_MESSAGE;
    c->hook_fd = -1;
    c->rbuf = g_malloc(QMP_READ_CHUNK);
    g_queue_init(&c->events);
    c->event_counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return c;
}

QmpClient *qmp_client_new_from_fd(int fd, GError **error)
{
    if (fd < 0) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "invalid QMP socket fd %d", fd);
        return NULL;
    }
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        int saved = errno;
        g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "fd %d is not a stream socket%s%s", fd,
                    type == 0 ? ": " : "", type == 0 ? g_strerror(saved) : "");
        close(fd);
        return NULL;
    }
    if (!set_fd_flags(fd, error)) {
        close(fd);
        return NULL;
    }
    return client_new(fd);
}

static gboolean connect_errno_retryable(int err)
{
    /* ENOENT: QEMU has not bound the socket yet; ECONNREFUSED: bound but not listening yet (or
     * a stale socket file); EAGAIN: the listen backlog is full. */
    return err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
}

/* One connect attempt: the connected fd, or -1 with errno set. */
static int connect_once(const struct sockaddr_un *addr, gint64 deadline)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
        return fd;
    if (errno == EINPROGRESS || errno == EINTR) {
        /* An interrupted non-blocking connect goes on in the background. */
        int r = wait_fd(fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
            return fd;
        int saved = r == 0 ? ETIMEDOUT : (r < 0 ? errno : soerr);
        close(fd);
        errno = saved;
        return -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

QmpClient *qmp_client_connect(const char *path, gint64 timeout_ms, QmpAliveFunc alive,
                              gpointer alive_data, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    gsize len = path ? strlen(path) : 0;
    if (len == 0) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_CONNECT, "empty QMP socket path");
        return NULL;
    }
    /* The kernel would silently truncate a longer path and connect somewhere else. */
    if (len >= sizeof(addr.sun_path)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT,
                    "QMP socket path is %zu bytes long, a unix socket path must be shorter than "
                    "%zu bytes: %s",
                    len, sizeof(addr.sun_path), path);
        return NULL;
    }
    memcpy(addr.sun_path, path, len + 1);

    gint64 deadline = deadline_after(timeout_ms);
    gulong delay = QMP_RETRY_MIN_US;
    for (;;) {
        int fd = connect_once(&addr, deadline);
        if (fd >= 0)
            return client_new(fd);
        int err = errno;
        if (!connect_errno_retryable(err) || !alive) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "cannot connect to QMP socket %s: %s",
                        path, g_strerror(err));
            return NULL;
        }
        if (!alive(alive_data)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_CONNECT,
                        "QEMU exited before its QMP socket %s accepted a connection (%s)", path,
                        g_strerror(err));
            return NULL;
        }
        gint64 left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT,
                        "QMP socket %s did not accept a connection within %" G_GINT64_FORMAT
                        " ms (%s)",
                        path, timeout_ms, g_strerror(err));
            return NULL;
        }
        g_usleep(MIN((gint64)delay, left));
        delay = MIN(delay * 2, QMP_RETRY_MAX_US);
    }
}

static void greeting_free(QmpGreeting *greeting)
{
    if (!greeting)
        return;
    g_free(greeting->package);
    g_strfreev(greeting->capabilities);
    g_free(greeting);
}

void qmp_client_free(QmpClient *client)
{
    if (!client)
        return;
    if (client->fd >= 0)
        close(client->fd);
    json_tokener_free(client->tok);
    g_free(client->rbuf);
    g_queue_clear_full(&client->events, (GDestroyNotify)qmp_event_free);
    g_hash_table_destroy(client->event_counts);
    greeting_free(client->greeting);
    g_free(client->broken_reason);
    g_free(client);
}

void qmp_client_set_timeout(QmpClient *client, gint64 timeout_ms)
{
    client->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void qmp_client_set_negotiation_timeout(QmpClient *client, gint64 timeout_ms)
{
    client->negotiation_timeout_set = TRUE;
    client->negotiation_timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void qmp_client_set_wait_hook(QmpClient *client, int fd, gint64 interval_ms, QmpWaitHook hook,
                              gpointer user_data)
{
    client->hook = hook;
    client->hook_data = user_data;
    client->hook_fd = hook ? fd : -1;
    client->hook_interval_ms = hook ? interval_ms : 0;
}

int qmp_client_get_fd(const QmpClient *client)
{
    return client->fd;
}

pid_t qmp_client_peer_pid(const QmpClient *client, uid_t *uid)
{
    if (uid)
        *uid = (uid_t)-1;
    struct ucred cred = {0};
    socklen_t len = sizeof(cred);
    if (getsockopt(client->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -1;
    /* 0: no credentials (not a unix socket), or a peer outside this pid namespace. */
    if (cred.pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (uid)
        *uid = cred.uid;
    return cred.pid;
}

void qmp_client_set_max_message(QmpClient *client, gsize max_bytes)
{
    /* json_tokener_parse_ex() takes an int length. */
    client->max_message = CLAMP(max_bytes, 2, (gsize)G_MAXINT / 2);
}

void qmp_client_set_trace(QmpClient *client, QmpTraceFunc func, gpointer user_data)
{
    client->trace = func;
    client->trace_data = user_data;
}

gboolean qmp_client_is_broken(const QmpClient *client)
{
    return client->broken;
}

guint qmp_client_commands_sent(const QmpClient *client)
{
    return client->commands_sent;
}

gsize qmp_client_peak_message_bytes(const QmpClient *client)
{
    return client->peak_msg_bytes;
}

gboolean qmp_client_has_buffered_input(const QmpClient *client)
{
    return client->rpos < client->rlen;
}

const QmpGreeting *qmp_client_greeting(const QmpClient *client)
{
    return client->negotiated ? client->greeting : NULL;
}

/* ---- framing ---- */

static gboolean is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* A printable excerpt of what the peer sent, for "not a QMP server" errors. */
static char *snippet(const char *head, gsize head_len, const char *more, gsize more_len)
{
    GString *s = g_string_new(NULL);
    for (gsize i = 0; i < head_len + more_len && s->len < QMP_SNIPPET; i++) {
        guchar ch = i < head_len ? head[i] : more[i - head_len];
        if (s->len == 0 && is_blank(ch))
            continue;
        if (ch >= 0x20 && ch < 0x7f)
            g_string_append_c(s, ch);
        else if (ch == '\n')
            g_string_append(s, "\\n");
        else if (ch == '\r')
            g_string_append(s, "\\r");
        else
            g_string_append_printf(s, "\\x%02x", ch);
    }
    return g_string_free(s, FALSE);
}

/* Accounts for @n bytes the tokener consumed: a message counts from its first non-blank byte
 * (blank lines between messages cost nothing and are not part of any message). */
static void note_consumed(QmpClient *c, const char *p, gsize n)
{
    gsize i = 0;
    if (!c->msg_started) {
        while (i < n && is_blank(p[i]))
            i++;
        if (i == n)
            return;
        c->msg_started = TRUE;
    }
    for (gsize j = i; j < n && c->head_len < sizeof(c->head); j++)
        c->head[c->head_len++] = p[j];
    c->msg_bytes += n - i;
    c->peak_msg_bytes = MAX(c->peak_msg_bytes, c->msg_bytes);
}

/* json-c swallows the blanks after a complete value; they are no part of the message. */
static gsize trailing_blanks(const char *p, gsize n)
{
    gsize k = 0;
    while (k < n && is_blank(p[n - 1 - k]))
        k++;
    return k;
}

static void message_done(QmpClient *c)
{
    c->msg_bytes = 0;
    c->msg_started = FALSE;
    c->head_len = 0;
    json_tokener_reset(c->tok);
}

static const char *json_type_label(json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_array:
        return "a JSON array";
    case json_type_string:
        return "a JSON string";
    case json_type_int:
    case json_type_double:
        return "a JSON number";
    case json_type_boolean:
        return "a JSON boolean";
    case json_type_null:
        return "JSON null";
    default:
        return "a JSON object";
    }
}

static gboolean not_qmp(QmpClient *c, GError **error, const char *what, const char *excerpt)
{
    /* The usual mistake: pointing at a socket that runs the human monitor. */
    const char *hint = g_str_has_prefix(excerpt, "QEMU ") && strstr(excerpt, "monitor")
                           ? " (this is QEMU's human monitor, HMP: use -qmp or -mon mode=control)"
                           : "";
    return client_fail(c, error, QMP_ERROR_PROTOCOL, "not a QMP server: %s '%s'%s", what, excerpt,
                       hint);
}

/* Waits until the socket is readable: STEP_OK, or why not. */
static Step wait_readable(QmpClient *c, gint64 deadline, GError **error)
{
    switch (client_wait(c, POLLIN, deadline)) {
    case WAIT_READY:
        return STEP_OK;
    case WAIT_TIMEOUT:
        return STEP_TIMEOUT;
    case WAIT_INTERRUPTED:
        return STEP_INTERRUPTED;
    case WAIT_FAILED:
        break;
    }
    int saved = errno;
    client_fail(c, error, QMP_ERROR_IO, "cannot wait for the QMP socket: %s", g_strerror(saved));
    return STEP_ERROR;
}

/* Reads the next chunk into the (consumed) buffer. With QMP_NO_WAIT as @deadline, never waits:
 * STEP_TIMEOUT when nothing is readable. */
static Step read_more(QmpClient *c, gint64 deadline, GError **error)
{
    c->rpos = c->rlen = 0;
    gboolean no_wait = deadline == QMP_NO_WAIT;
    if (no_wait ? c->reads_this_call >= QMP_AVAILABLE_MAX_READS
                : c->reads_this_call > 0 && g_get_monotonic_time() >= deadline)
        return STEP_TIMEOUT;
    for (;;) {
        /* With a hook, every read goes through the hook's poll: a peer that keeps sending
         * would otherwise keep recv() busy and the hook (and the signals it watches) unheard. */
        if (c->hook && !no_wait) {
            Step s = wait_readable(c, deadline, error);
            if (s != STEP_OK)
                return s;
        }
        ssize_t n = recv(c->fd, c->rbuf, QMP_READ_CHUNK, 0);
        if (n > 0) {
            c->rlen = (gsize)n;
            c->reads_this_call++;
            return STEP_OK;
        }
        if (n == 0) {
            if (c->msg_started)
                client_fail(c, error, QMP_ERROR_CLOSED,
                            "connection closed by QEMU in the middle of a message");
            else
                client_fail(c, error, QMP_ERROR_CLOSED, "connection closed by QEMU");
            return STEP_ERROR;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            int saved = errno;
            client_fail(c, error, QMP_ERROR_IO, "cannot read from QMP socket: %s",
                        g_strerror(saved));
            return STEP_ERROR;
        }
        if (no_wait)
            return STEP_TIMEOUT;
        if (!c->hook) {
            Step s = wait_readable(c, deadline, error);
            if (s != STEP_OK)
                return s;
        }
    }
}

static Step too_big(QmpClient *c, GError **error)
{
    client_fail(c, error, QMP_ERROR_TOO_BIG, "QMP message larger than the %zu-byte limit",
                c->max_message);
    return STEP_ERROR;
}

/* The next complete top-level message, as a JSON object. A message may arrive in any number of
 * pieces, several may arrive in one read; a partial message survives a timeout. */
static Step next_message(QmpClient *c, gint64 deadline, json_object **out, GError **error)
{
    for (;;) {
        /* Never hand the tokener more than max_message + 1 bytes of one message: what it
         * holds stays bounded whatever the peer sends. Checked before waiting for more input,
         * which covers both a message that just outgrew the cap and a cap lowered while a
         * partial message was held. */
        if (c->msg_bytes > c->max_message)
            return too_big(c, error);
        if (c->rpos == c->rlen) {
            Step s = read_more(c, deadline, error);
            if (s != STEP_OK)
                return s;
        }
        gsize n = MIN(c->rlen - c->rpos, c->max_message + 1 - c->msg_bytes);
        const char *p = c->rbuf + c->rpos;
        json_object *obj = json_tokener_parse_ex(c->tok, p, (int)n);
        enum json_tokener_error jerr = json_tokener_get_error(c->tok);
        gsize used = MIN(json_tokener_get_parse_end(c->tok), n);

        if (!obj && jerr == json_tokener_success) {
            /* A complete top-level JSON null: json-c represents it as NULL. */
            note_consumed(c, p, used);
            c->rpos += used;
            g_autofree char *excerpt = snippet(c->head, c->head_len, "", 0);
            message_done(c);
            not_qmp(c, error, "received JSON null,", excerpt);
            return STEP_ERROR;
        }
        if (!obj && jerr != json_tokener_continue) {
            if (jerr == json_tokener_error_depth) {
                client_fail(c, error, QMP_ERROR_PROTOCOL,
                            "QMP message nested deeper than %d levels", QMP_MAX_DEPTH);
                return STEP_ERROR;
            }
            g_autofree char *excerpt = snippet(c->head, c->head_len, p, c->rlen - c->rpos);
            g_autofree char *what =
                g_strdup_printf("invalid JSON (%s) in", json_tokener_error_desc(jerr));
            not_qmp(c, error, what, excerpt);
            return STEP_ERROR;
        }
        note_consumed(c, p, used);
        c->rpos += used;

        if (!obj)
            continue;
        gsize size = c->msg_bytes - MIN(trailing_blanks(p, used), c->msg_bytes);
        g_autofree char *excerpt = snippet(c->head, c->head_len, "", 0);
        message_done(c);
        if (size > c->max_message) {
            json_object_put(obj);
            return too_big(c, error);
        }
        if (!json_object_is_type(obj, json_type_object)) {
            g_autofree char *what = g_strdup_printf("received %s,", json_type_label(obj));
            json_object_put(obj);
            not_qmp(c, error, what, excerpt);
            return STEP_ERROR;
        }
        trace_message(c, "<-", obj);
        *out = obj;
        return STEP_OK;
    }
}

static MsgKind classify(json_object *msg)
{
    /* A message carrying an id answers some command, even when it lacks both return and
     * error: that is a bad reply to the command, not a foreign protocol. */
    if (json_object_object_get_ex(msg, "return", NULL) ||
        json_object_object_get_ex(msg, "error", NULL) || json_object_object_get_ex(msg, "id", NULL))
        return MSG_REPLY;
    if (json_object_object_get_ex(msg, "event", NULL))
        return MSG_EVENT;
    if (json_object_object_get_ex(msg, "QMP", NULL))
        return MSG_GREETING;
    return MSG_OTHER;
}

static char *message_excerpt(json_object *msg)
{
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    return snippet(text, strlen(text), "", 0);
}

static gboolean unknown_message(QmpClient *c, json_object *msg, GError **error)
{
    g_autofree char *excerpt = message_excerpt(msg);
    return client_fail(c, error, QMP_ERROR_PROTOCOL,
                       "not a QMP server: a message that is no reply, event or greeting: '%s'",
                       excerpt);
}

static gint64 get_int_member(json_object *obj, const char *key, gboolean *ok)
{
    json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_int)) {
        *ok = FALSE;
        return -1;
    }
    return json_object_get_int64(v);
}

/* Queues an event, dropping the oldest past QMP_MAX_EVENTS: a guest that floods events must
 * not grow the launcher without bound. */
static gboolean queue_event(QmpClient *c, json_object *msg, GError **error)
{
    json_object *name = NULL, *data = NULL, *ts = NULL;
    json_object_object_get_ex(msg, "event", &name);
    if (!json_object_is_type(name, json_type_string))
        return client_fail(c, error, QMP_ERROR_PROTOCOL,
                           "not a QMP server: an event whose name is not a string");
    /* Counted before queueing: the queue may drop the event, the record of it stays. */
    const char *text = json_object_get_string(name);
    guint64 *count = g_hash_table_lookup(c->event_counts, text);
    if (!count) {
        gsize len = strlen(text) + 1;
        if (c->event_names_bytes + len > QMP_MAX_EVENT_NAME_BYTES)
            return client_fail(c, error, QMP_ERROR_PROTOCOL,
                               "not a QMP server: more than %d bytes of distinct event names",
                               QMP_MAX_EVENT_NAME_BYTES);
        c->event_names_bytes += len;
        count = g_new0(guint64, 1);
        g_hash_table_insert(c->event_counts, g_strdup(text), count);
    }
    (*count)++;
    QmpEvent *event = g_new0(QmpEvent, 1);
    event->name = g_strdup(text);
    if (json_object_object_get_ex(msg, "data", &data) && data)
        event->data = json_object_get(data);
    gboolean ok = TRUE;
    json_object_object_get_ex(msg, "timestamp", &ts);
    event->seconds = get_int_member(ts, "seconds", &ok);
    event->microseconds = get_int_member(ts, "microseconds", &ok);
    if (!ok) {
        /* QEMU always stamps events; keep the order meaningful if a peer did not. */
        gint64 now = g_get_real_time();
        event->seconds = now / G_USEC_PER_SEC;
        event->microseconds = now % G_USEC_PER_SEC;
    }
    g_queue_push_tail(&c->events, event);
    if (g_queue_get_length(&c->events) > QMP_MAX_EVENTS) {
        QmpEvent *old = g_queue_pop_head(&c->events);
        c->events_dropped++;
        trace_note(c, "event queue full: dropped the oldest event %s", old->name);
        qmp_event_free(old);
    }
    return TRUE;
}

static gboolean parse_greeting(QmpClient *c, json_object *msg, GError **error)
{
    json_object *qmp = NULL, *version = NULL, *qemu = NULL, *package = NULL, *caps = NULL;
    gboolean ok = TRUE;
    json_object_object_get_ex(msg, "QMP", &qmp);
    if (!json_object_is_type(qmp, json_type_object) ||
        !json_object_object_get_ex(qmp, "version", &version) ||
        !json_object_object_get_ex(version, "qemu", &qemu))
        return client_fail(c, error, QMP_ERROR_PROTOCOL,
                           "bad QMP greeting: no QMP.version.qemu object");
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    if (json_object_object_get_ex(qmp, "capabilities", &caps)) {
        if (!json_object_is_type(caps, json_type_array))
            return client_fail(c, error, QMP_ERROR_PROTOCOL,
                               "bad QMP greeting: capabilities is not an array");
        for (size_t i = 0; i < json_object_array_length(caps); i++) {
            json_object *cap = json_object_array_get_idx(caps, i);
            if (!json_object_is_type(cap, json_type_string))
                return client_fail(c, error, QMP_ERROR_PROTOCOL,
                                   "bad QMP greeting: a capability is not a string");
            g_ptr_array_add(names, g_strdup(json_object_get_string(cap)));
        }
    }
    g_ptr_array_add(names, NULL);
    gint64 major = get_int_member(qemu, "major", &ok);
    gint64 minor = get_int_member(qemu, "minor", &ok);
    gint64 micro = get_int_member(qemu, "micro", &ok);
    if (!ok || major < 0 || major > G_MAXINT || minor < 0 || minor > G_MAXINT || micro < 0 ||
        micro > G_MAXINT)
        return client_fail(c, error, QMP_ERROR_PROTOCOL,
                           "bad QMP greeting: QEMU version is not three non-negative integers");
    json_object_object_get_ex(version, "package", &package);
    if (package && !json_object_is_type(package, json_type_string))
        return client_fail(c, error, QMP_ERROR_PROTOCOL,
                           "bad QMP greeting: package is not a string");

    QmpGreeting *greeting = g_new0(QmpGreeting, 1);
    greeting->major = (int)major;
    greeting->minor = (int)minor;
    greeting->micro = (int)micro;
    greeting->package = g_strdup(package ? json_object_get_string(package) : "");
    greeting->capabilities = (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
    greeting_free(c->greeting);
    c->greeting = greeting;
    return TRUE;
}

/* ---- commands ---- */

static gboolean write_all(QmpClient *c, const char *buf, gsize len, const char *command,
                          gint64 deadline, gint64 timeout_ms, GError **error)
{
    gsize off = 0;
    while (off < len) {
        /* MSG_NOSIGNAL: a peer that went away is an EPIPE error, not a SIGPIPE death. */
        ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += (gsize)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            WaitResult w = client_wait(c, POLLOUT, deadline);
            if (w == WAIT_READY)
                continue;
            if (w == WAIT_TIMEOUT)
                return client_fail(c, error, QMP_ERROR_TIMEOUT,
                                   "cannot send '%s': QEMU did not read it within %" G_GINT64_FORMAT
                                   " ms",
                                   command, timeout_ms);
            /* Part of the command may be out: the stream has no boundary any more. */
            if (w == WAIT_INTERRUPTED)
                return client_fail(c, error, QMP_ERROR_INTERRUPTED,
                                   "interrupted while sending '%s'", command);
        }
        int saved = errno;
        if (saved == EPIPE || saved == ECONNRESET)
            return client_fail(c, error, QMP_ERROR_IO,
                               "cannot send '%s': QEMU closed the connection (%s)", command,
                               g_strerror(saved));
        return client_fail(c, error, QMP_ERROR_IO, "cannot send '%s': %s", command,
                           g_strerror(saved));
    }
    return TRUE;
}

static gboolean send_command(QmpClient *c, const char *command, json_object *arguments,
                             const char *id, gint64 deadline, gint64 timeout_ms, GError **error)
{
    g_autoptr(QmpJson) cmd = json_object_new_object();
    json_object_object_add(cmd, "execute", json_object_new_string(command));
    if (arguments)
        json_object_object_add(cmd, "arguments", json_object_get(arguments));
    json_object_object_add(cmd, "id", json_object_new_string(id));
    trace_message(c, "->", cmd);
    g_autofree char *text =
        g_strconcat(json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE),
                    "\r\n", NULL);
    if (!write_all(c, text, strlen(text), command, deadline, timeout_ms, error))
        return FALSE;
    c->commands_sent++;
    return TRUE;
}

/* The matched reply's `return`, or NULL with an error. */
static json_object *reply_result(json_object *reply, const char *command, GError **error)
{
    json_object *err = NULL, *ret = NULL;
    if (json_object_object_get_ex(reply, "error", &err)) {
        json_object *klass = NULL, *desc = NULL;
        if (!json_object_object_get_ex(err, "class", &klass) ||
            !json_object_is_type(klass, json_type_string) ||
            !json_object_object_get_ex(err, "desc", &desc) ||
            !json_object_is_type(desc, json_type_string)) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                        "bad reply to %s: error without a class and desc string", command);
            return NULL;
        }
        qmp_set_command_error(error, json_object_get_string(klass), json_object_get_string(desc));
        return NULL;
    }
    if (!json_object_object_get_ex(reply, "return", &ret) || !ret) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "bad reply to %s: no return value",
                    command);
        return NULL;
    }
    return json_object_get(ret);
}

/* Sends @command and waits for its reply until @deadline (@timeout_ms is what the deadline
 * came from, for the message). */
static json_object *client_execute(QmpClient *c, const char *command, json_object *arguments,
                                   gint64 deadline, gint64 timeout_ms, GError **error)
{
    g_autofree char *id = g_strdup_printf(QMP_ID_PREFIX "%" G_GUINT64_FORMAT, ++c->next_id);
    if (!send_command(c, command, arguments, id, deadline, timeout_ms, error))
        return NULL;
    for (;;) {
        g_autoptr(QmpJson) msg = NULL;
        Step s = next_message(c, deadline, &msg, error);
        if (s == STEP_TIMEOUT) {
            client_fail(c, error, QMP_ERROR_TIMEOUT,
                        "no reply to '%s' within %" G_GINT64_FORMAT " ms", command, timeout_ms);
            return NULL;
        }
        /* The reply may still come: like a timeout, this ends the session so that it can
         * never be taken for the next command's. */
        if (s == STEP_INTERRUPTED) {
            client_fail(c, error, QMP_ERROR_INTERRUPTED,
                        "interrupted while waiting for the reply to '%s'", command);
            return NULL;
        }
        if (s == STEP_ERROR)
            return NULL;
        switch (classify(msg)) {
        case MSG_EVENT:
            if (!queue_event(c, msg, error))
                return NULL;
            continue;
        case MSG_GREETING:
            client_fail(c, error, QMP_ERROR_PROTOCOL, "unexpected second QMP greeting");
            return NULL;
        case MSG_OTHER:
            unknown_message(c, msg, error);
            return NULL;
        case MSG_REPLY:
            break;
        }
        json_object *rid = NULL;
        if (!json_object_object_get_ex(msg, "id", &rid)) {
            json_object *err = NULL, *klass = NULL, *desc = NULL;
            if (!json_object_object_get_ex(msg, "error", &err)) {
                trace_note(c, "dropped a reply without id while waiting for %s", id);
                continue;
            }
            /* QEMU answers input it cannot parse with an error that carries no id; no reply
             * to this command will ever come. */
            json_object_object_get_ex(err, "class", &klass);
            json_object_object_get_ex(err, "desc", &desc);
            client_fail(c, error, QMP_ERROR_PROTOCOL,
                        "QEMU rejected '%s' without naming it (error without id): %s: %s", command,
                        klass ? json_object_get_string(klass) : "?",
                        desc ? json_object_get_string(desc) : "?");
            return NULL;
        }
        if (!json_object_is_type(rid, json_type_string) ||
            strcmp(json_object_get_string(rid), id) != 0) {
            trace_note(c, "dropped a reply with unknown id %s while waiting for %s",
                       json_object_to_json_string_ext(rid, JSON_C_TO_STRING_PLAIN), id);
            continue;
        }
        return reply_result(msg, command, error);
    }
}

static gboolean read_greeting(QmpClient *c, gint64 deadline, GError **error)
{
    while (!c->greeting) {
        g_autoptr(QmpJson) msg = NULL;
        Step s = next_message(c, deadline, &msg, error);
        if (s == STEP_TIMEOUT)
            return client_fail(c, error, QMP_ERROR_TIMEOUT,
                               "no QMP greeting within %" G_GINT64_FORMAT " ms", c->timeout_ms);
        if (s == STEP_INTERRUPTED)
            return client_fail(c, error, QMP_ERROR_INTERRUPTED,
                               "interrupted while waiting for the QMP greeting");
        if (s == STEP_ERROR)
            return FALSE;
        switch (classify(msg)) {
        case MSG_EVENT:
            /* Some QEMU versions emit events before the greeting. */
            if (!queue_event(c, msg, error))
                return FALSE;
            break;
        case MSG_GREETING:
            if (!parse_greeting(c, msg, error))
                return FALSE;
            break;
        default: {
            g_autofree char *excerpt = message_excerpt(msg);
            return not_qmp(c, error, "expected the QMP greeting, received", excerpt);
        }
        }
    }
    return TRUE;
}

gboolean qmp_client_handshake(QmpClient *client, GError **error)
{
    if (!client_usable(client, error))
        return FALSE;
    if (client->negotiated)
        return TRUE;
    call_begin(client);
    gint64 deadline = deadline_after(client->timeout_ms);
    if (!read_greeting(client, deadline, error))
        return FALSE;
    /* QEMU greets at once but answers qmp_capabilities only once the machine is built, which
     * takes long for hundreds of vCPUs: the negotiation may have a deadline of its own. */
    gint64 neg_timeout = client->timeout_ms;
    if (client->negotiation_timeout_set) {
        neg_timeout = client->negotiation_timeout_ms;
        deadline = deadline_after(neg_timeout);
    }
    g_autoptr(GError) local = NULL;
    g_autoptr(QmpJson) ret =
        client_execute(client, "qmp_capabilities", NULL, deadline, neg_timeout, &local);
    if (!ret) {
        /* A transport fault already broke the session and says why; anything else (an error
         * reply, a malformed one) means the peer cannot be negotiated with. */
        if (client->broken) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        return client_fail(client, error, QMP_ERROR_PROTOCOL, "QMP negotiation failed: %s",
                           local->message);
    }
    client->negotiated = TRUE;
    return TRUE;
}

json_object *qmp_client_execute(QmpClient *client, const char *command, json_object *arguments,
                                GError **error)
{
    if (!client_usable(client, error))
        return NULL;
    if (!command || !*command) {
        g_set_error_literal(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "empty QMP command name");
        return NULL;
    }
    if (arguments && !json_object_is_type(arguments, json_type_object)) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "the arguments of '%s' must be a JSON object", command);
        return NULL;
    }
    if (!client->negotiated) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "cannot execute '%s' before the QMP handshake", command);
        return NULL;
    }
    call_begin(client);
    return client_execute(client, command, arguments, deadline_after(client->timeout_ms),
                          client->timeout_ms, error);
}

/* ---- events ---- */

QmpEvent *qmp_client_pop_event(QmpClient *client)
{
    return g_queue_pop_head(&client->events);
}

guint qmp_client_pending_events(const QmpClient *client)
{
    return g_queue_get_length((GQueue *)&client->events);
}

static GList *find_event(const QmpClient *c, const char *name)
{
    for (GList *l = c->events.head; l; l = l->next) {
        QmpEvent *event = l->data;
        if (!name || !strcmp(event->name, name))
            return l;
    }
    return NULL;
}

const QmpEvent *qmp_client_peek_event(QmpClient *client, const char *name)
{
    GList *l = find_event(client, name);
    return l ? l->data : NULL;
}

guint64 qmp_client_event_count(const QmpClient *client, const char *name)
{
    const guint64 *count = g_hash_table_lookup(client->event_counts, name);
    return count ? *count : 0;
}

gboolean qmp_client_event_seen(const QmpClient *client, const char *name)
{
    return qmp_client_event_count(client, name) > 0;
}

static QmpEvent *take_event(QmpClient *c, const char *name)
{
    GList *l = find_event(c, name);
    if (!l)
        return NULL;
    QmpEvent *event = l->data;
    g_queue_delete_link(&c->events, l);
    return event;
}

/* Handles a message that came while no command waits for its reply: an event is queued, a
 * reply dropped, a greeting taken when none came yet. */
static gboolean dispatch_unsolicited(QmpClient *c, json_object *msg, GError **error)
{
    switch (classify(msg)) {
    case MSG_EVENT:
        return queue_event(c, msg, error);
    case MSG_REPLY:
        trace_note(c, "dropped a reply while no command was waiting");
        return TRUE;
    case MSG_GREETING:
        if (c->greeting)
            return client_fail(c, error, QMP_ERROR_PROTOCOL, "unexpected second QMP greeting");
        return parse_greeting(c, msg, error);
    case MSG_OTHER:
        break;
    }
    return unknown_message(c, msg, error);
}

QmpEvent *qmp_client_wait_event(QmpClient *client, const char *name, gint64 timeout_ms,
                                GError **error)
{
    QmpEvent *event = take_event(client, name);
    if (event)
        return event;
    if (!client_usable(client, error))
        return NULL;
    gint64 deadline = deadline_after(timeout_ms);
    call_begin(client);
    for (;;) {
        g_autoptr(QmpJson) msg = NULL;
        Step s = next_message(client, deadline, &msg, error);
        /* A partial message stays in the tokener: nothing is lost, the session goes on. */
        if (s == STEP_TIMEOUT) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT,
                        "no %s event within %" G_GINT64_FORMAT " ms", name ? name : "QMP",
                        timeout_ms);
            return NULL;
        }
        if (s == STEP_INTERRUPTED) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED,
                        "interrupted while waiting for %s event", name ? name : "a QMP");
            return NULL;
        }
        if (s == STEP_ERROR)
            return NULL;
        if (!dispatch_unsolicited(client, msg, error))
            return NULL;
        if (classify(msg) != MSG_EVENT)
            continue;
        /* The new event is at the tail (the queue may have dropped its head to make room). */
        event = g_queue_peek_tail(&client->events);
        if (!name || !strcmp(event->name, name))
            return g_queue_pop_tail(&client->events);
    }
}

gboolean qmp_client_read_available(QmpClient *client, GError **error)
{
    if (!client_usable(client, error))
        return FALSE;
    call_begin(client);
    for (;;) {
        g_autoptr(QmpJson) msg = NULL;
        Step s = next_message(client, QMP_NO_WAIT, &msg, error);
        if (s == STEP_TIMEOUT)
            return TRUE;
        if (s != STEP_OK)
            return FALSE;
        if (!dispatch_unsolicited(client, msg, error))
            return FALSE;
    }
}
