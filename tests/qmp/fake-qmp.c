/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — a scripted fake QMP server, see fake-qmp.h. */
#include "fake-qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The longest a step waits for the client: generous, tests set far shorter client timeouts. */
#define STEP_LIMIT_MS 20000

typedef enum {
    STEP_SEND,
    STEP_SEND_GENERATED,
    STEP_EXPECT,
    STEP_STALL,
    STEP_CLOSE,
    STEP_SHUTDOWN_READ,
    STEP_NOTIFY,
    STEP_WAIT_FD,
} StepKind;

typedef struct {
    StepKind kind;
    GBytes *bytes;   /* SEND */
    GArray *cuts;    /* SEND: gsize offsets where a new piece starts */
    char *name;      /* EXPECT */
    char *arguments; /* EXPECT: JSON or NULL */
    char *reply;     /* EXPECT, or SEND_GENERATED head */
    char *tail;      /* SEND_GENERATED */
    char *fill;      /* SEND_GENERATED */
    guint64 count;   /* SEND_GENERATED */
    guint ms;        /* STALL */
    int fd;          /* NOTIFY, WAIT_FD */
} Step;

struct FakeQmp {
    int fd;        /* the server's end (connected) */
    int client_fd; /* socketpair: the client's end until taken */
    int listen_fd;
    char *dir;
    char *path;
    int stop_pipe[2];

    GPtrArray *steps;
    GThread *thread;
    char *last_id; /* JSON text of the last expected command's id */
    json_tokener *tok;
    GString *inbuf;

    GMutex lock;
    GCond cond;
    gboolean script_done;
    char *failure;
    guint64 sent;
};

static void step_free(gpointer data)
{
    Step *step = data;
    if (step->bytes)
        g_bytes_unref(step->bytes);
    if (step->cuts)
        g_array_unref(step->cuts);
    g_free(step->name);
    g_free(step->arguments);
    g_free(step->reply);
    g_free(step->tail);
    g_free(step->fill);
    g_free(step);
}

static FakeQmp *fake_new_common(void)
{
    FakeQmp *fake = g_new0(FakeQmp, 1);
    fake->fd = fake->client_fd = fake->listen_fd = -1;
    g_assert(pipe2(fake->stop_pipe, O_CLOEXEC) == 0);
    fake->steps = g_ptr_array_new_with_free_func(step_free);
    fake->tok = json_tokener_new();
    fake->inbuf = g_string_new(NULL);
    g_mutex_init(&fake->lock);
    g_cond_init(&fake->cond);
    return fake;
}

FakeQmp *fake_qmp_new(void)
{
    FakeQmp *fake = fake_new_common();
    int sv[2];
    g_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fake->fd = sv[0];
    fake->client_fd = sv[1];
    return fake;
}

FakeQmp *fake_qmp_new_listening(void)
{
    FakeQmp *fake = fake_new_common();
    fake->dir = g_dir_make_tmp("qpin-fake-qmp-XXXXXX", NULL);
    g_assert(fake->dir);
    g_assert(chmod(fake->dir, 0700) == 0);
    fake->path = g_build_filename(fake->dir, "qmp.sock", NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_assert(strlen(fake->path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, fake->path);
    fake->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert(fake->listen_fd >= 0);
    g_assert(bind(fake->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    g_assert(listen(fake->listen_fd, 1) == 0);
    return fake;
}

int fake_qmp_take_client_fd(FakeQmp *fake)
{
    int fd = fake->client_fd;
    fake->client_fd = -1;
    return fd;
}

const char *fake_qmp_path(const FakeQmp *fake)
{
    return fake->path;
}

guint64 fake_qmp_bytes_sent(FakeQmp *fake)
{
    g_mutex_lock(&fake->lock);
    guint64 sent = fake->sent;
    g_mutex_unlock(&fake->lock);
    return sent;
}

/* ---- script building ---- */

static Step *add_step(FakeQmp *fake, StepKind kind)
{
    g_assert(!fake->thread);
    Step *step = g_new0(Step, 1);
    step->kind = kind;
    g_ptr_array_add(fake->steps, step);
    return step;
}

void fake_qmp_send_split(FakeQmp *fake, const char *bytes, gssize len, const gsize *offsets,
                         gsize n_offsets)
{
    gsize n = len < 0 ? strlen(bytes) : (gsize)len;
    Step *step = add_step(fake, STEP_SEND);
    step->bytes = g_bytes_new(bytes, n);
    step->cuts = g_array_new(FALSE, FALSE, sizeof(gsize));
    for (gsize i = 0; i < n_offsets; i++) {
        g_assert(i == 0 || offsets[i] > offsets[i - 1]);
        if (offsets[i] > 0 && offsets[i] < n)
            g_array_append_val(step->cuts, offsets[i]);
    }
}

void fake_qmp_send(FakeQmp *fake, const char *bytes, gssize len)
{
    fake_qmp_send_split(fake, bytes, len, NULL, 0);
}

void fake_qmp_send_chunked(FakeQmp *fake, const char *bytes, gssize len, gsize chunk)
{
    gsize n = len < 0 ? strlen(bytes) : (gsize)len;
    g_autoptr(GArray) cuts = g_array_new(FALSE, FALSE, sizeof(gsize));
    for (gsize off = chunk; off < n; off += chunk)
        g_array_append_val(cuts, off);
    fake_qmp_send_split(fake, bytes, (gssize)n, (const gsize *)cuts->data, cuts->len);
}

void fake_qmp_send_generated(FakeQmp *fake, const char *head, const char *fill, guint64 count,
                             const char *tail)
{
    g_assert(*fill);
    Step *step = add_step(fake, STEP_SEND_GENERATED);
    step->reply = g_strdup(head);
    step->fill = g_strdup(fill);
    step->count = count;
    step->tail = g_strdup(tail);
}

void fake_qmp_expect(FakeQmp *fake, const char *name, const char *arguments_json, const char *reply)
{
    Step *step = add_step(fake, STEP_EXPECT);
    step->name = g_strdup(name);
    step->arguments = g_strdup(arguments_json);
    step->reply = g_strdup(reply);
}

void fake_qmp_handshake(FakeQmp *fake)
{
    fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
    fake_qmp_expect(fake, "qmp_capabilities", "{}", "{\"return\": {}, \"id\": @ID@}\r\n");
}

void fake_qmp_stall(FakeQmp *fake, guint ms)
{
    add_step(fake, STEP_STALL)->ms = ms;
}

void fake_qmp_close(FakeQmp *fake)
{
    add_step(fake, STEP_CLOSE);
}

void fake_qmp_shutdown_read(FakeQmp *fake)
{
    add_step(fake, STEP_SHUTDOWN_READ);
}

void fake_qmp_notify(FakeQmp *fake, int fd)
{
    add_step(fake, STEP_NOTIFY)->fd = fd;
}

void fake_qmp_wait_fd(FakeQmp *fake, int fd)
{
    add_step(fake, STEP_WAIT_FD)->fd = fd;
}

gboolean fake_qmp_load_transcript(FakeQmp *fake, const char *path, gsize chunk, GError **error)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_strchomp(*l);
        if (g_str_has_prefix(*l, "<- ")) {
            g_autofree char *msg = g_strconcat(*l + 3, "\r\n", NULL);
            if (chunk)
                fake_qmp_send_chunked(fake, msg, -1, chunk);
            else
                fake_qmp_send(fake, msg, -1);
        } else if (g_str_has_prefix(*l, "-> ")) {
            g_autoptr(QmpJson) cmd = json_tokener_parse(*l + 3);
            json_object *name = NULL, *args = NULL;
            if (!cmd || !json_object_object_get_ex(cmd, "execute", &name)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: bad command line: %s",
                            path, *l);
                return FALSE;
            }
            json_object_object_get_ex(cmd, "arguments", &args);
            fake_qmp_expect(fake, json_object_get_string(name),
                            args ? json_object_to_json_string(args) : "{}", NULL);
        } else if (**l && **l != '#') {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: bad line: %s", path, *l);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- the server thread ---- */

static void fail(FakeQmp *fake, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void fail(FakeQmp *fake, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&fake->lock);
    if (!fake->failure)
        fake->failure = g_steal_pointer(&text);
    g_mutex_unlock(&fake->lock);
}

static gboolean stopped(FakeQmp *fake)
{
    struct pollfd pfd = {.fd = fake->stop_pipe[0], .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* Waits for @events on the socket: 1 ready, 0 after @ms, -1 when told to stop. */
static int wait_socket(FakeQmp *fake, int fd, short events, int ms)
{
    struct pollfd pfd[2] = {
        {.fd = fd, .events = events},
        {.fd = fake->stop_pipe[0], .events = POLLIN},
    };
    for (;;) {
        int r = poll(pfd, 2, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || pfd[1].revents)
            return -1;
        return r > 0 ? 1 : 0;
    }
}

/* Writes everything; FALSE when the client is gone or the server is told to stop. */
static gboolean write_all(FakeQmp *fake, const char *p, gsize n)
{
    while (n > 0) {
        ssize_t w = send(fake->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (gsize)w;
            g_mutex_lock(&fake->lock);
            fake->sent += (guint64)w;
            g_mutex_unlock(&fake->lock);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if (wait_socket(fake, fake->fd, POLLOUT, STEP_LIMIT_MS) <= 0)
                return FALSE;
            continue;
        }
        return FALSE;
    }
    return TRUE;
}

/* Until the client has read every byte sent so far. */
static gboolean wait_consumed(FakeQmp *fake)
{
    for (int i = 0; i < STEP_LIMIT_MS * 10; i++) {
        int outq = 0;
        if (ioctl(fake->fd, SIOCOUTQ, &outq) < 0 || outq == 0)
            return TRUE;
        if (stopped(fake))
            return FALSE;
        g_usleep(100);
    }
    return FALSE;
}

static char *substitute_id(FakeQmp *fake, const char *text)
{
    if (!strstr(text, "@ID@"))
        return g_strdup(text);
    g_auto(GStrv) parts = g_strsplit(text, "@ID@", -1);
    return g_strjoinv(fake->last_id ? fake->last_id : "null", parts);
}

static gboolean run_send(FakeQmp *fake, Step *step)
{
    gsize n;
    const char *p = g_bytes_get_data(step->bytes, &n);
    gsize start = 0;
    for (guint i = 0; i <= step->cuts->len; i++) {
        gsize end = i < step->cuts->len ? g_array_index(step->cuts, gsize, i) : n;
        if (i > 0 && !wait_consumed(fake))
            return FALSE;
        if (!write_all(fake, p + start, end - start))
            return FALSE;
        start = end;
    }
    return TRUE;
}

static gboolean run_send_generated(FakeQmp *fake, Step *step)
{
    g_autofree char *head = substitute_id(fake, step->reply);
    g_autofree char *tail = substitute_id(fake, step->tail);
    if (!write_all(fake, head, strlen(head)))
        return FALSE;
    gsize unit = strlen(step->fill);
    guint64 per_block = MAX(65536 / unit, 1);
    g_autoptr(GString) block = g_string_new(NULL);
    for (guint64 i = 0; i < per_block; i++)
        g_string_append(block, step->fill);
    for (guint64 left = step->count; left > 0;) {
        guint64 n = MIN(left, per_block);
        if (!write_all(fake, block->str, n * unit))
            return FALSE;
        left -= n;
    }
    return write_all(fake, tail, strlen(tail));
}

/* The next command from the client, or NULL (with *eof set when the client closed). */
static json_object *read_command(FakeQmp *fake, int ms, gboolean *eof)
{
    *eof = FALSE;
    char buf[65536];
    for (;;) {
        /* Commands already buffered come first. */
        while (fake->inbuf->len > 0) {
            json_object *obj =
                json_tokener_parse_ex(fake->tok, fake->inbuf->str, (int)fake->inbuf->len);
            enum json_tokener_error jerr = json_tokener_get_error(fake->tok);
            gsize used = json_tokener_get_parse_end(fake->tok);
            if (!obj && jerr != json_tokener_continue) {
                fail(fake, "client sent invalid JSON: %s", fake->inbuf->str);
                g_string_truncate(fake->inbuf, 0);
                json_tokener_reset(fake->tok);
                return NULL;
            }
            g_string_erase(fake->inbuf, 0, (gssize)used);
            if (obj) {
                json_tokener_reset(fake->tok);
                return obj;
            }
        }
        int r = wait_socket(fake, fake->fd, POLLIN, ms);
        if (r <= 0)
            return NULL;
        ssize_t n = recv(fake->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            *eof = TRUE;
            return NULL;
        }
        g_string_append_len(fake->inbuf, buf, n);
    }
}

static gboolean run_expect(FakeQmp *fake, Step *step)
{
    gboolean eof;
    g_autoptr(QmpJson) cmd = read_command(fake, STEP_LIMIT_MS, &eof);
    if (!cmd) {
        if (!stopped(fake))
            fail(fake, "expected command '%s' but %s", step->name,
                 eof ? "the client closed the connection" : "none came");
        return FALSE;
    }
    json_object *name = NULL, *args = NULL, *id = NULL;
    json_object_object_get_ex(cmd, "execute", &name);
    json_object_object_get_ex(cmd, "arguments", &args);
    json_object_object_get_ex(cmd, "id", &id);
    const char *text = json_object_to_json_string(cmd);
    if (!name || strcmp(json_object_get_string(name), step->name) != 0) {
        fail(fake, "expected command '%s', got %s", step->name, text);
        return FALSE;
    }
    if (step->arguments) {
        g_autoptr(QmpJson) want = json_tokener_parse(step->arguments);
        g_autoptr(QmpJson) none = json_object_new_object();
        gboolean want_none = !want || (json_object_is_type(want, json_type_object) &&
                                       json_object_object_length(want) == 0);
        json_object *got = args ? args : none;
        if (want_none ? (args && json_object_object_length(args) > 0)
                      : !json_object_equal(want, got)) {
            fail(fake, "command '%s': expected arguments %s, got %s", step->name, step->arguments,
                 text);
            return FALSE;
        }
    }
    g_free(fake->last_id);
    fake->last_id = id ? g_strdup(json_object_to_json_string(id)) : NULL;
    if (!step->reply)
        return TRUE;
    g_autofree char *reply = substitute_id(fake, step->reply);
    return write_all(fake, reply, strlen(reply));
}

static void close_socket(FakeQmp *fake)
{
    if (fake->fd >= 0) {
        close(fake->fd);
        fake->fd = -1;
    }
}

static gpointer server_thread(gpointer data)
{
    FakeQmp *fake = data;
    if (fake->listen_fd >= 0) {
        if (wait_socket(fake, fake->listen_fd, POLLIN, STEP_LIMIT_MS) <= 0) {
            if (!stopped(fake))
                fail(fake, "no client connected");
            goto out;
        }
        fake->fd = accept4(fake->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fake->fd < 0) {
            fail(fake, "accept: %s", g_strerror(errno));
            goto out;
        }
    }
    for (guint i = 0; i < fake->steps->len; i++) {
        Step *step = g_ptr_array_index(fake->steps, i);
        gboolean ok = TRUE;
        switch (step->kind) {
        case STEP_SEND:
            ok = fake->fd >= 0 && run_send(fake, step);
            break;
        case STEP_SEND_GENERATED:
            ok = fake->fd >= 0 && run_send_generated(fake, step);
            break;
        case STEP_EXPECT:
            ok = fake->fd >= 0 && run_expect(fake, step);
            break;
        case STEP_STALL:
            wait_socket(fake, fake->stop_pipe[0], POLLIN, (int)step->ms);
            break;
        case STEP_CLOSE:
            close_socket(fake);
            break;
        case STEP_SHUTDOWN_READ:
            ok = fake->fd >= 0 && shutdown(fake->fd, SHUT_RD) == 0;
            if (!ok)
                fail(fake, "shutdown: %s", g_strerror(errno));
            break;
        case STEP_NOTIFY: {
            char byte = 'n';
            ssize_t w;
            while ((w = write(step->fd, &byte, 1)) < 0 && errno == EINTR)
                ;
            ok = w == 1;
            if (!ok)
                fail(fake, "notify: %s", g_strerror(errno));
            break;
        }
        case STEP_WAIT_FD: {
            int r = wait_socket(fake, step->fd, POLLIN, STEP_LIMIT_MS);
            ok = r > 0;
            if (r == 0)
                fail(fake, "waited for fd %d in vain", step->fd);
            break;
        }
        }
        /* A send stops quietly when the client went away (some tests make it leave); an
         * expect step has recorded its failure. Either way the remaining steps are skipped. */
        if (!ok)
            goto out;
    }
    g_mutex_lock(&fake->lock);
    fake->script_done = TRUE;
    g_cond_broadcast(&fake->cond);
    g_mutex_unlock(&fake->lock);

    /* After the script, anything but the client closing is an unexpected command. */
    while (fake->fd >= 0) {
        gboolean eof;
        g_autoptr(QmpJson) cmd = read_command(fake, -1, &eof);
        if (cmd)
            fail(fake, "unexpected command %s", json_object_to_json_string(cmd));
        else
            break;
    }
out:
    g_mutex_lock(&fake->lock);
    fake->script_done = TRUE;
    g_cond_broadcast(&fake->cond);
    g_mutex_unlock(&fake->lock);
    close_socket(fake);
    return NULL;
}

void fake_qmp_start(FakeQmp *fake)
{
    g_assert(!fake->thread);
    fake->thread = g_thread_new("fake-qmp", server_thread, fake);
}

gboolean fake_qmp_wait_script(FakeQmp *fake, guint timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_mutex_lock(&fake->lock);
    while (!fake->script_done)
        if (!g_cond_wait_until(&fake->cond, &fake->lock, end))
            break;
    gboolean done = fake->script_done;
    g_mutex_unlock(&fake->lock);
    return done;
}

char *fake_qmp_finish(FakeQmp *fake)
{
    if (fake->thread) {
        char byte = 'x';
        while (write(fake->stop_pipe[1], &byte, 1) < 0 && errno == EINTR)
            ;
        g_thread_join(fake->thread);
        fake->thread = NULL;
    }
    g_mutex_lock(&fake->lock);
    char *failure = g_strdup(fake->failure);
    if (!failure && !fake->script_done)
        failure = g_strdup("the script did not run");
    g_mutex_unlock(&fake->lock);
    return failure;
}

void fake_qmp_free(FakeQmp *fake)
{
    if (!fake)
        return;
    g_free(fake_qmp_finish(fake));
    close_socket(fake);
    if (fake->client_fd >= 0)
        close(fake->client_fd);
    if (fake->listen_fd >= 0)
        close(fake->listen_fd);
    if (fake->path)
        unlink(fake->path);
    if (fake->dir)
        rmdir(fake->dir);
    g_free(fake->path);
    g_free(fake->dir);
    close(fake->stop_pipe[0]);
    close(fake->stop_pipe[1]);
    g_ptr_array_unref(fake->steps);
    g_free(fake->last_id);
    json_tokener_free(fake->tok);
    g_string_free(fake->inbuf, TRUE);
    g_mutex_clear(&fake->lock);
    g_cond_clear(&fake->cond);
    g_free(fake->failure);
    g_free(fake);
}
