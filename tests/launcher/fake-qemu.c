/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fake-qemu — a stand-in QEMU for the launcher's trust tests: real threads named like QEMU's and
 * a real QMP monitor, plus what real QEMU cannot be made to do on demand (lie about a thread,
 * resume by itself, hang, flood events, run threads under other credentials).
 *
 * Command line: any QEMU command line is accepted; what is not understood is ignored.
 *   -S                                 start paused (status "prelaunch"); without it, "running"
 *   -smp N | N,... | cpus=N,... | sockets=S,dies=D,cores=C,threads=T
 *                                      N vCPU threads named "CPU k/KVM", blocked for ever
 *   -object iothread,id=X              a thread named "IO X" (the name is cut at 15 bytes)
 *   -chardev socket,id=ID,fd=N         a channel on the inherited descriptor N
 *   -chardev socket,id=ID,path=P,server=on   a listening socket at P
 *   -mon chardev=ID,mode=control       a QMP monitor on that chardev
 *   -qmp unix:PATH,server=on,wait=off  a QMP monitor listening at PATH
 * A thread named "call_rcu" stands for QEMU's other emulator threads. A listening monitor serves
 * one client at a time, for ever (others wait in the backlog without a greeting, as with QEMU);
 * its socket is bound under a temporary name and renamed, so once PATH exists it accepts. When
 * a monitor's client goes away the fake keeps running, like QEMU.
 *
 * QMP: the greeting of QEMU 7.2, then qmp_capabilities (the only command before it), and
 * query-status, query-cpus-fast (cpu-index, qom-path, thread-id = the real tid of thread k,
 * props {socket-id, core-id, thread-id} laid out by -smp, die-id when dies > 1, target),
 * query-iothreads, query-version, query-name, query-memdev ([]), cont (RESUME event, then the
 * reply), stop (STOP event when running), quit (reply, SHUTDOWN event, exit 0). Anything else
 * is CommandNotFound; input that is not JSON is a GenericError without id. Ids are echoed,
 * events go to every negotiated monitor, and every message ends with "\r\n".
 *
 * Environment:
 *   QPIN_FAKE_QEMU_LOG=PATH          append every line received on a monitor to PATH, as
 *                                    received; lines the fake adds itself start with "# "
 *   QPIN_FAKE_QEMU_PIDFILE=PATH      write the pid to PATH at start
 *   QPIN_FAKE_QEMU_NOTIFY=PATH       a FIFO (opened for reading by the test beforehand): "READY"
 *                                    once every thread and socket is set up, then the name of
 *                                    every command received, one per line, before it is handled
 *   QPIN_FAKE_QEMU_NEGOTIATE_DELAY_MS=N   greet at once, answer qmp_capabilities after N ms
 *   QPIN_FAKE_QEMU_HANG=COMMAND      never answer COMMAND, and read nothing more from that
 *                                    monitor (as QEMU without out-of-band: one command at a time)
 *   QPIN_FAKE_QEMU_RESUME_EARLY=event|silent   right after the first negotiation the guest is
 *                                    resumed by someone else: with a RESUME event, or silently
 *                                    (only query-status tells)
 *   QPIN_FAKE_QEMU_RESUME_ON=COMMAND emit RESUME and run when COMMAND arrives, before replying
 *   QPIN_FAKE_QEMU_LIE_TID=TID       report TID as vCPU 0's thread-id
 *   QPIN_FAKE_QEMU_EVENT_FLOOD=N     after the reply to cont, send N RTC_CHANGE events as fast as
 *                                    the peer takes them, then exit with EXIT_STATUS
 *   QPIN_FAKE_QEMU_EXIT_AFTER_CONT=1 after the reply to cont, log one line per vCPU thread,
 *                                    "# vcpu K tid TID policy SCHED_X priority P cpus LIST"
 *                                    (read from itself), then exit with EXIT_STATUS
 *   QPIN_FAKE_QEMU_EXIT_STATUS=N     the status of the two exits above (default 0)
 *   QPIN_FAKE_QEMU_THREAD_UID=UID with QPIN_FAKE_QEMU_ROOT_VCPU=K: every vCPU thread but K
 *                                    switches its own credentials to UID (gid UID, no groups)
 *                                    with the raw system calls (per thread, unlike glibc's
 *                                    wrappers); listening sockets are chowned to UID
 *   QPIN_FAKE_QEMU_MAX_SECONDS=N     a safety net: die of SIGALRM after N s (default 600)
 *
 * Signals: SIGTERM, SIGINT and SIGHUP end it like QEMU: "terminating on signal N" on stderr,
 * exit status 0. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GREETING                                                                                   \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "              \
    "\"package\": \"\"}, \"capabilities\": []}}\r\n"

typedef enum { STATE_PRELAUNCH, STATE_PAUSED, STATE_RUNNING } RunState;

typedef struct {
    char *id;
    int fd;     /* an inherited channel, or -1 */
    char *path; /* a listening socket, or NULL */
} Chardev;

typedef struct Listener Listener;

typedef struct {
    int fd;
    Listener *listener; /* NULL for an inherited channel */
    gboolean negotiated, hung, closed;
    gint64 caps_due_us;   /* when a delayed qmp_capabilities is answered, 0 if none */
    json_object *caps_id; /* its id */
    json_tokener *tok;
    GByteArray *in;   /* received, not yet handled */
    GString *partial; /* the line being received, for the log */
} Conn;

struct Listener {
    int fd;
    char *path;
    Conn *client;
};

typedef struct {
    int index;     /* vCPU index, -1 for other threads */
    char name[16]; /* as the kernel keeps it: 15 bytes at most */
    char *id;      /* an iothread's id */
    pid_t tid;
} Thread;

static struct {
    RunState state;
    Thread *vcpus;
    int n_vcpus;
    int sockets, dies, cores, threads;
    GPtrArray *iothreads; /* Thread * */
    GPtrArray *conns;     /* Conn * */
    GPtrArray *listeners; /* Listener * */
    int log_fd, notify_fd;
    const char *notify_path;
    gint64 negotiate_delay_ms;
    const char *hang, *resume_on, *resume_early;
    gboolean resumed_early;
    gint64 lie_tid;
    gint64 event_flood;
    gboolean exit_after_cont;
    int exit_status;
    gint64 thread_uid;
    int root_vcpu;
} fake = {.log_fd = -1, .notify_fd = -1, .thread_uid = -1, .root_vcpu = -1};

static void die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fake-qemu: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static gint64 env_int(const char *name, gint64 fallback)
{
    const char *v = g_getenv(name);
    if (!v || !*v)
        return fallback;
    gint64 n;
    if (!g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL))
        die("%s=%s is not a number", name, v);
    return n;
}

static void on_signal(int sig)
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "fake-qemu: terminating on signal %d\n", sig);
    ssize_t unused = write(STDERR_FILENO, msg, (size_t)n);
    (void)unused;
    _exit(0);
}

static gboolean write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= (size_t)n;
    }
    return TRUE;
}

static void log_line(const char *text)
{
    if (fake.log_fd < 0)
        return;
    g_autofree char *line = g_strdup_printf("%s\n", text);
    /* One write per line: O_APPEND keeps lines whole even with several writers. */
    write_all(fake.log_fd, line, strlen(line));
}

static void notify(const char *word)
{
    if (!fake.notify_path)
        return;
    if (fake.notify_fd < 0) {
        fake.notify_fd = open(fake.notify_path, O_WRONLY | O_CLOEXEC);
        if (fake.notify_fd < 0)
            die("cannot open %s: %s", fake.notify_path, g_strerror(errno));
    }
    g_autofree char *line = g_strdup_printf("%s\n", word);
    write_all(fake.notify_fd, line, strlen(line));
}

/* ---- the command line ---- */

/* QEMU's option syntax: key=value pairs separated by commas, ",," standing for a comma. The
 * first item may be a bare value (returned under the key ""). */
static GHashTable *parse_opts(const char *text)
{
    GHashTable *opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GString *item = g_string_new(NULL);
    for (const char *p = text;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(item, ',');
            p++;
            continue;
        }
        if (*p && *p != ',') {
            g_string_append_c(item, *p);
            continue;
        }
        char *eq = strchr(item->str, '=');
        if (eq)
            g_hash_table_replace(opts, g_strndup(item->str, (gsize)(eq - item->str)),
                                 g_strdup(eq + 1));
        else if (item->len && g_hash_table_size(opts) == 0)
            g_hash_table_replace(opts, g_strdup(""), g_strdup(item->str));
        else if (item->len)
            g_hash_table_replace(opts, g_strdup(item->str), g_strdup("on"));
        g_string_truncate(item, 0);
        if (!*p)
            break;
    }
    g_string_free(item, TRUE);
    return opts;
}

static int opt_int(GHashTable *opts, const char *key, int fallback)
{
    const char *v = g_hash_table_lookup(opts, key);
    guint64 n;
    if (!v || !g_ascii_string_to_unsigned(v, 10, 1, 4096, &n, NULL))
        return fallback;
    return (int)n;
}

static void parse_smp(const char *text)
{
    g_autoptr(GHashTable) o = parse_opts(text);
    fake.sockets = opt_int(o, "sockets", 1);
    fake.dies = opt_int(o, "dies", 1);
    fake.threads = opt_int(o, "threads", 1);
    fake.cores = opt_int(o, "cores", 0);
    int cpus = opt_int(o, "cpus", opt_int(o, "", 0));
    /* QEMU 7.2 (machine types since 6.2) fills in the cores, not the sockets: -smp N is one
     * socket of N cores. */
    if (!fake.cores)
        fake.cores = MAX(cpus / (fake.sockets * fake.dies * fake.threads), 1);
    if (!cpus)
        cpus = fake.sockets * fake.dies * fake.cores * fake.threads;
    fake.n_vcpus = cpus;
}

static Chardev *find_chardev(GPtrArray *chardevs, const char *id)
{
    for (guint i = 0; id && i < chardevs->len; i++) {
        Chardev *c = chardevs->pdata[i];
        if (c->id && strcmp(c->id, id) == 0)
            return c;
    }
    return NULL;
}

static void chardev_free(Chardev *c)
{
    g_free(c->id);
    g_free(c->path);
    g_free(c);
}

static Chardev *chardev_copy(const Chardev *c)
{
    Chardev *copy = g_new0(Chardev, 1);
    copy->id = g_strdup(c->id);
    copy->fd = c->fd;
    copy->path = g_strdup(c->path);
    return copy;
}

/* Reads the command line into the fake's state and @monitors (Chardev *, to be set up once
 * the threads exist). */
static void parse_argv(int argc, char **argv, gboolean *paused, GPtrArray *monitors)
{
    g_autoptr(GPtrArray) chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)chardev_free);
    fake.n_vcpus = 1;
    fake.sockets = fake.dies = fake.cores = fake.threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* QEMU takes --opt as -opt. */
        if (a[0] == '-' && a[1] == '-')
            a++;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-S") == 0) {
            *paused = TRUE;
        } else if (strcmp(a, "-smp") == 0 && v) {
            parse_smp(v);
            i++;
        } else if (strcmp(a, "-object") == 0 && v) {
            g_autoptr(GHashTable) o = parse_opts(v);
            const char *type = g_hash_table_lookup(o, "qom-type");
            if (!type)
                type = g_hash_table_lookup(o, "");
            const char *id = g_hash_table_lookup(o, "id");
            if (type && id && strcmp(type, "iothread") == 0) {
                Thread *t = g_new0(Thread, 1);
                g_snprintf(t->name, sizeof t->name, "IO %s", id);
                t->id = g_strdup(id);
                g_ptr_array_add(fake.iothreads, t);
            }
            i++;
        } else if (strcmp(a, "-chardev") == 0 && v) {
            g_autoptr(GHashTable) o = parse_opts(v);
            Chardev *c = g_new0(Chardev, 1);
            c->id = g_strdup(g_hash_table_lookup(o, "id"));
            const char *fd = g_hash_table_lookup(o, "fd");
            c->fd = fd ? atoi(fd) : -1;
            const char *server = g_hash_table_lookup(o, "server");
            if (!fd && server && strcmp(server, "on") == 0)
                c->path = g_strdup(g_hash_table_lookup(o, "path"));
            g_ptr_array_add(chardevs, c);
            i++;
        } else if (strcmp(a, "-mon") == 0 && v) {
            g_autoptr(GHashTable) o = parse_opts(v);
            const char *mode = g_hash_table_lookup(o, "mode");
            Chardev *c = find_chardev(chardevs, g_hash_table_lookup(o, "chardev"));
            if (c && mode && strcmp(mode, "control") == 0)
                g_ptr_array_add(monitors, chardev_copy(c));
            i++;
        } else if (strcmp(a, "-qmp") == 0 && v) {
            if (g_str_has_prefix(v, "unix:")) {
                g_autoptr(GHashTable) o = parse_opts(v + 5);
                Chardev c = {.fd = -1, .path = g_hash_table_lookup(o, "")};
                g_ptr_array_add(monitors, chardev_copy(&c));
            }
            i++;
        }
    }
}

/* ---- threads ---- */

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int ready_count;
static int block_pipe[2];

static void *thread_main(void *arg)
{
    Thread *t = arg;
    t->tid = (pid_t)syscall(SYS_gettid);
    prctl(PR_SET_NAME, t->name);
    /* Per-thread credentials: glibc's setresuid() would change every thread of the process. */
    if (fake.thread_uid >= 0 && t->index >= 0 && t->index != fake.root_vcpu) {
        if (syscall(SYS_setgroups, 0, NULL) < 0 ||
            syscall(SYS_setresgid, (gid_t)fake.thread_uid, (gid_t)fake.thread_uid,
                    (gid_t)fake.thread_uid) < 0 ||
            syscall(SYS_setresuid, (uid_t)fake.thread_uid, (uid_t)fake.thread_uid,
                    (uid_t)fake.thread_uid) < 0)
            die("%s: cannot switch to uid %" G_GINT64_FORMAT ": %s", t->name, fake.thread_uid,
                g_strerror(errno));
    }
    pthread_mutex_lock(&ready_lock);
    ready_count++;
    pthread_cond_signal(&ready_cond);
    pthread_mutex_unlock(&ready_lock);
    char c;
    for (;;)
        if (read(block_pipe[0], &c, 1) == 0)
            pause();
    return NULL;
}

static void start_threads(void)
{
    if (pipe2(block_pipe, O_CLOEXEC) < 0)
        die("pipe: %s", g_strerror(errno));
    static Thread rcu = {.index = -1, .name = "call_rcu"};
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    g_ptr_array_add(all, &rcu);
    fake.vcpus = g_new0(Thread, fake.n_vcpus);
    for (int k = 0; k < fake.n_vcpus; k++) {
        fake.vcpus[k].index = k;
        g_snprintf(fake.vcpus[k].name, sizeof fake.vcpus[k].name, "CPU %d/KVM", k);
        g_ptr_array_add(all, &fake.vcpus[k]);
    }
    for (guint i = 0; i < fake.iothreads->len; i++) {
        Thread *t = fake.iothreads->pdata[i];
        t->index = -1;
        g_ptr_array_add(all, t);
    }
    for (guint i = 0; i < all->len; i++) {
        pthread_t th;
        int err = pthread_create(&th, NULL, thread_main, all->pdata[i]);
        if (err)
            die("pthread_create: %s", g_strerror(err));
        pthread_detach(th);
    }
    pthread_mutex_lock(&ready_lock);
    while (ready_count < (int)all->len)
        pthread_cond_wait(&ready_cond, &ready_lock);
    pthread_mutex_unlock(&ready_lock);
    /* A change of credentials clears the dumpable flag, which would hide /proc/PID/task/TID
     * from the thread's own user; QEMU's threads are not like that. */
    if (fake.thread_uid >= 0)
        prctl(PR_SET_DUMPABLE, 1);
}

/* ---- monitors ---- */

static Conn *conn_new(int fd, Listener *listener)
{
    Conn *c = g_new0(Conn, 1);
    c->fd = fd;
    c->listener = listener;
    c->tok = json_tokener_new();
    c->in = g_byte_array_new();
    c->partial = g_string_new(NULL);
    g_ptr_array_add(fake.conns, c);
    if (!write_all(fd, GREETING, strlen(GREETING)))
        c->closed = TRUE;
    return c;
}

static void conn_free(Conn *c)
{
    if (c->listener)
        c->listener->client = NULL;
    close(c->fd);
    json_tokener_free(c->tok);
    g_byte_array_free(c->in, TRUE);
    g_string_free(c->partial, TRUE);
    if (c->caps_id)
        json_object_put(c->caps_id);
    g_free(c);
}

static void add_monitor(Chardev *c)
{
    if (c->fd >= 0) {
        fcntl(c->fd, F_SETFD, FD_CLOEXEC);
        conn_new(c->fd, NULL);
        return;
    }
    if (!c->path)
        return;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", c->path, (int)getpid());
    if (strlen(tmp) >= sizeof addr.sun_path)
        die("socket path too long: %s", c->path);
    strcpy(addr.sun_path, tmp);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", g_strerror(errno));
    unlink(tmp);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0)
        die("cannot listen on %s: %s", tmp, g_strerror(errno));
    if (fake.thread_uid >= 0 && chown(tmp, (uid_t)fake.thread_uid, (gid_t)fake.thread_uid) < 0)
        die("chown %s: %s", tmp, g_strerror(errno));
    /* Renamed once listening: whoever sees the path can connect. */
    if (rename(tmp, c->path) < 0)
        die("rename %s: %s", c->path, g_strerror(errno));
    Listener *l = g_new0(Listener, 1);
    l->fd = fd;
    l->path = g_strdup(c->path);
    g_ptr_array_add(fake.listeners, l);
}

static void send_json(Conn *c, json_object *msg)
{
    if (c->closed)
        return;
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    g_autofree char *line = g_strdup_printf("%s\r\n", text);
    if (!write_all(c->fd, line, strlen(line)))
        c->closed = TRUE;
}

static json_object *timestamp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "seconds", json_object_new_int64(ts.tv_sec));
    json_object_object_add(t, "microseconds", json_object_new_int64(ts.tv_nsec / 1000));
    return t;
}

static void emit_event(const char *name, json_object *data)
{
    json_object *ev = json_object_new_object();
    json_object_object_add(ev, "timestamp", timestamp());
    json_object_object_add(ev, "event", json_object_new_string(name));
    if (data)
        json_object_object_add(ev, "data", data);
    for (guint i = 0; i < fake.conns->len; i++) {
        Conn *c = fake.conns->pdata[i];
        if (c->negotiated)
            send_json(c, ev);
    }
    json_object_put(ev);
}

static void reply(Conn *c, json_object *id, json_object *ret)
{
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
    if (id)
        json_object_object_add(msg, "id", json_object_get(id));
    send_json(c, msg);
    json_object_put(msg);
}

static void reply_error(Conn *c, json_object *id, const char *klass, const char *desc)
{
    json_object *err = json_object_new_object();
    json_object_object_add(err, "class", json_object_new_string(klass));
    json_object_object_add(err, "desc", json_object_new_string(desc));
    json_object *msg = json_object_new_object();
    json_object_object_add(msg, "error", err);
    if (id)
        json_object_object_add(msg, "id", json_object_get(id));
    send_json(c, msg);
    json_object_put(msg);
}

static void set_running(void)
{
    if (fake.state == STATE_RUNNING)
        return;
    fake.state = STATE_RUNNING;
    emit_event("RESUME", NULL);
}

static void negotiated(Conn *c, json_object *id)
{
    reply(c, id, NULL);
    c->negotiated = TRUE;
    if (fake.resume_early && !fake.resumed_early) {
        fake.resumed_early = TRUE;
        if (strcmp(fake.resume_early, "silent") == 0)
            fake.state = STATE_RUNNING;
        else
            set_running();
    }
}

static json_object *query_status(void)
{
    static const char *const names[] = {"prelaunch", "paused", "running"};
    json_object *r = json_object_new_object();
    json_object_object_add(r, "status", json_object_new_string(names[fake.state]));
    json_object_object_add(r, "running", json_object_new_boolean(fake.state == STATE_RUNNING));
    json_object_object_add(r, "singlestep", json_object_new_boolean(FALSE));
    return r;
}

static json_object *query_cpus_fast(void)
{
    json_object *list = json_object_new_array();
    for (int k = 0; k < fake.n_vcpus; k++) {
        const Thread *t = &fake.vcpus[k];
        json_object *props = json_object_new_object();
        int per_socket = fake.dies * fake.cores * fake.threads;
        json_object_object_add(props, "core-id",
                               json_object_new_int((k / fake.threads) % fake.cores));
        json_object_object_add(props, "thread-id", json_object_new_int(k % fake.threads));
        if (fake.dies > 1)
            json_object_object_add(
                props, "die-id",
                json_object_new_int((k / (fake.threads * fake.cores)) % fake.dies));
        json_object_object_add(props, "socket-id", json_object_new_int(k / per_socket));
        json_object *cpu = json_object_new_object();
        json_object_object_add(
            cpu, "thread-id",
            json_object_new_int64(k == 0 && fake.lie_tid > 0 ? fake.lie_tid : t->tid));
        json_object_object_add(cpu, "props", props);
        g_autofree char *qom = g_strdup_printf("/machine/unattached/device[%d]", k);
        json_object_object_add(cpu, "qom-path", json_object_new_string(qom));
        json_object_object_add(cpu, "cpu-index", json_object_new_int(k));
        json_object_object_add(cpu, "target", json_object_new_string("x86_64"));
        json_object_array_add(list, cpu);
    }
    return list;
}

static json_object *query_iothreads(void)
{
    json_object *list = json_object_new_array();
    for (guint i = 0; i < fake.iothreads->len; i++) {
        const Thread *t = fake.iothreads->pdata[i];
        json_object *io = json_object_new_object();
        json_object_object_add(io, "id", json_object_new_string(t->id));
        json_object_object_add(io, "thread-id", json_object_new_int(t->tid));
        json_object_object_add(io, "poll-max-ns", json_object_new_int(32768));
        json_object_object_add(io, "poll-grow", json_object_new_int(0));
        json_object_object_add(io, "poll-shrink", json_object_new_int(0));
        json_object_object_add(io, "aio-max-batch", json_object_new_int(0));
        json_object_array_add(list, io);
    }
    return list;
}

static const char *policy_name(int policy)
{
    switch (policy) {
    case SCHED_OTHER:
        return "SCHED_OTHER";
    case SCHED_FIFO:
        return "SCHED_FIFO";
    case SCHED_RR:
        return "SCHED_RR";
    case SCHED_BATCH:
        return "SCHED_BATCH";
    case SCHED_IDLE:
        return "SCHED_IDLE";
    default:
        return "SCHED_UNKNOWN";
    }
}

static char *thread_cpus(pid_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/status", (int)tid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("?");
    const char *line = strstr(text, "Cpus_allowed_list:");
    if (!line)
        return g_strdup("?");
    line += strlen("Cpus_allowed_list:");
    return g_strstrip(g_strndup(line, strcspn(line, "\n")));
}

/* What the vCPU threads run with at the moment the guest starts. */
static void log_vcpu_state(void)
{
    for (int k = 0; k < fake.n_vcpus; k++) {
        pid_t tid = fake.vcpus[k].tid;
        int policy = sched_getscheduler(tid);
        struct sched_param param = {0};
        sched_getparam(tid, &param);
        g_autofree char *cpus = thread_cpus(tid);
        g_autofree char *line =
            g_strdup_printf("# vcpu %d tid %d policy %s priority %d cpus %s", k, (int)tid,
                            policy < 0 ? "?" : policy_name(policy & ~SCHED_RESET_ON_FORK),
                            param.sched_priority, cpus);
        if (fake.log_fd >= 0)
            log_line(line);
        else
            fprintf(stderr, "%s\n", line);
    }
}

static void event_flood(Conn *c)
{
    for (gint64 i = 0; i < fake.event_flood && !c->closed; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char line[256];
        int n = g_snprintf(line, sizeof line,
                           "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}, "
                           "\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": %" G_GINT64_FORMAT
                           ", \"qom-path\": \"/machine/unattached/device[8]\"}}\r\n",
                           (long long)ts.tv_sec, ts.tv_nsec / 1000, i);
        if (!write_all(c->fd, line, (size_t)n))
            c->closed = TRUE;
    }
}

static void handle_command(Conn *c, json_object *cmd)
{
    json_object *exec = NULL, *id = NULL;
    if (!json_object_is_type(cmd, json_type_object)) {
        reply_error(c, NULL, "GenericError", "QMP input must be a JSON object");
        return;
    }
    json_object_object_get_ex(cmd, "id", &id);
    if ((!json_object_object_get_ex(cmd, "execute", &exec) &&
         !json_object_object_get_ex(cmd, "exec-oob", &exec)) ||
        !json_object_is_type(exec, json_type_string)) {
        reply_error(c, id, "GenericError", "QMP input lacks member 'execute'");
        return;
    }
    const char *name = json_object_get_string(exec);
    notify(name);
    if (fake.hang && strcmp(fake.hang, name) == 0) {
        c->hung = TRUE;
        return;
    }
    if (!c->negotiated) {
        if (strcmp(name, "qmp_capabilities") != 0) {
            reply_error(c, id, "CommandNotFound",
                        "Expecting capabilities negotiation with 'qmp_capabilities'");
        } else if (fake.negotiate_delay_ms > 0) {
            c->caps_due_us = g_get_monotonic_time() + fake.negotiate_delay_ms * 1000;
            c->caps_id = id ? json_object_get(id) : NULL;
        } else {
            negotiated(c, id);
        }
        return;
    }
    if (fake.resume_on && strcmp(fake.resume_on, name) == 0)
        set_running();
    if (strcmp(name, "qmp_capabilities") == 0) {
        reply_error(c, id, "CommandNotFound",
                    "Capabilities negotiation is already complete, command ignored");
    } else if (strcmp(name, "query-status") == 0) {
        reply(c, id, query_status());
    } else if (strcmp(name, "query-cpus-fast") == 0) {
        reply(c, id, query_cpus_fast());
    } else if (strcmp(name, "query-iothreads") == 0) {
        reply(c, id, query_iothreads());
    } else if (strcmp(name, "query-memdev") == 0) {
        reply(c, id, json_object_new_array());
    } else if (strcmp(name, "query-name") == 0) {
        reply(c, id, NULL);
    } else if (strcmp(name, "query-version") == 0) {
        json_object *q = json_object_new_object();
        json_object_object_add(q, "major", json_object_new_int(7));
        json_object_object_add(q, "minor", json_object_new_int(2));
        json_object_object_add(q, "micro", json_object_new_int(0));
        json_object *v = json_object_new_object();
        json_object_object_add(v, "qemu", q);
        json_object_object_add(v, "package", json_object_new_string(""));
        reply(c, id, v);
    } else if (strcmp(name, "cont") == 0) {
        set_running();
        reply(c, id, NULL);
        if (fake.exit_after_cont) {
            log_vcpu_state();
            exit(fake.exit_status);
        }
        if (fake.event_flood > 0) {
            event_flood(c);
            exit(fake.exit_status);
        }
    } else if (strcmp(name, "stop") == 0) {
        if (fake.state == STATE_RUNNING)
            emit_event("STOP", NULL);
        fake.state = STATE_PAUSED;
        reply(c, id, NULL);
    } else if (strcmp(name, "quit") == 0) {
        reply(c, id, NULL);
        json_object *data = json_object_new_object();
        json_object_object_add(data, "guest", json_object_new_boolean(FALSE));
        json_object_object_add(data, "reason", json_object_new_string("host-qmp-quit"));
        emit_event("SHUTDOWN", data);
        exit(0);
    } else {
        g_autofree char *desc = g_strdup_printf("The command %s has not been found", name);
        reply_error(c, id, "CommandNotFound", desc);
    }
}

/* Handles what is buffered, one command at a time, until a command leaves the monitor busy. */
static void process_input(Conn *c)
{
    while (c->in->len > 0 && !c->hung && !c->caps_due_us && !c->closed) {
        json_object *obj =
            json_tokener_parse_ex(c->tok, (const char *)c->in->data, (int)c->in->len);
        enum json_tokener_error e = json_tokener_get_error(c->tok);
        size_t used = json_tokener_get_parse_end(c->tok);
        if (e == json_tokener_continue) {
            g_byte_array_set_size(c->in, 0);
            return;
        }
        if (e != json_tokener_success) {
            /* Resynchronise at the next line, so that a line of garbage is one error. */
            const guint8 *nl = memchr(c->in->data + used, '\n', c->in->len - MIN(used, c->in->len));
            used = nl ? (size_t)(nl - c->in->data) + 1 : c->in->len;
        }
        g_byte_array_remove_range(c->in, 0, (guint)MAX(used, 1));
        json_tokener_reset(c->tok);
        if (e != json_tokener_success) {
            g_autofree char *desc =
                g_strdup_printf("JSON parse error, %s", json_tokener_error_desc(e));
            reply_error(c, NULL, "GenericError", desc);
            continue;
        }
        handle_command(c, obj);
        json_object_put(obj);
    }
}

static void receive(Conn *c)
{
    char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (c->partial->len)
            log_line(c->partial->str);
        g_string_truncate(c->partial, 0);
        c->closed = TRUE;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (c->partial->len && c->partial->str[c->partial->len - 1] == '\r')
                g_string_truncate(c->partial, c->partial->len - 1);
            log_line(c->partial->str);
            g_string_truncate(c->partial, 0);
        } else {
            g_string_append_c(c->partial, buf[i]);
        }
    }
    g_byte_array_append(c->in, (const guint8 *)buf, (guint)n);
    process_input(c);
}

static void serve(void)
{
    for (;;) {
        for (guint i = 0; i < fake.conns->len;) {
            Conn *c = fake.conns->pdata[i];
            if (c->closed) {
                g_ptr_array_remove_index(fake.conns, i);
                conn_free(c);
            } else {
                i++;
            }
        }
        g_autoptr(GArray) fds = g_array_new(FALSE, TRUE, sizeof(struct pollfd));
        g_autoptr(GPtrArray) owners = g_ptr_array_new();
        gint64 due = -1;
        for (guint i = 0; i < fake.listeners->len; i++) {
            Listener *l = fake.listeners->pdata[i];
            if (l->client)
                continue;
            struct pollfd p = {.fd = l->fd, .events = POLLIN};
            g_array_append_val(fds, p);
            g_ptr_array_add(owners, NULL);
        }
        for (guint i = 0; i < fake.conns->len; i++) {
            Conn *c = fake.conns->pdata[i];
            if (c->caps_due_us && (due < 0 || c->caps_due_us < due))
                due = c->caps_due_us;
            if (c->hung || c->caps_due_us)
                continue;
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            g_array_append_val(fds, p);
            g_ptr_array_add(owners, c);
        }
        int timeout = -1;
        if (due >= 0)
            timeout = (int)MIN(MAX((due - g_get_monotonic_time() + 999) / 1000, 0), G_MAXINT);
        int r = poll((struct pollfd *)fds->data, fds->len, timeout);
        if (r < 0 && errno != EINTR)
            die("poll: %s", g_strerror(errno));
        gint64 now = g_get_monotonic_time();
        for (guint i = 0; i < fake.conns->len; i++) {
            Conn *c = fake.conns->pdata[i];
            if (c->caps_due_us && c->caps_due_us <= now) {
                c->caps_due_us = 0;
                negotiated(c, c->caps_id);
                if (c->caps_id)
                    json_object_put(c->caps_id);
                c->caps_id = NULL;
                process_input(c);
            }
        }
        for (guint i = 0; r > 0 && i < fds->len; i++) {
            struct pollfd *p = &g_array_index(fds, struct pollfd, i);
            if (!p->revents)
                continue;
            Conn *c = owners->pdata[i];
            if (c) {
                receive(c);
                continue;
            }
            for (guint k = 0; k < fake.listeners->len; k++) {
                Listener *l = fake.listeners->pdata[k];
                if (l->fd != p->fd)
                    continue;
                int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                    l->client = conn_new(fd, l);
            }
        }
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* qpin may hand over a blocked mask; QEMU's own would not block these. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    alarm((unsigned)env_int("QPIN_FAKE_QEMU_MAX_SECONDS", 600));

    const char *pidfile = g_getenv("QPIN_FAKE_QEMU_PIDFILE");
    if (pidfile) {
        g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
        g_autofree char *tmp = g_strdup_printf("%s.tmp", pidfile);
        if (!g_file_set_contents(tmp, text, -1, NULL) || rename(tmp, pidfile) < 0)
            die("cannot write %s", pidfile);
    }
    const char *log = g_getenv("QPIN_FAKE_QEMU_LOG");
    if (log) {
        fake.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fake.log_fd < 0)
            die("cannot open %s: %s", log, g_strerror(errno));
    }
    fake.notify_path = g_getenv("QPIN_FAKE_QEMU_NOTIFY");
    fake.negotiate_delay_ms = env_int("QPIN_FAKE_QEMU_NEGOTIATE_DELAY_MS", 0);
    fake.hang = g_getenv("QPIN_FAKE_QEMU_HANG");
    fake.resume_on = g_getenv("QPIN_FAKE_QEMU_RESUME_ON");
    fake.resume_early = g_getenv("QPIN_FAKE_QEMU_RESUME_EARLY");
    if (fake.resume_early && strcmp(fake.resume_early, "event") != 0 &&
        strcmp(fake.resume_early, "silent") != 0)
        die("QPIN_FAKE_QEMU_RESUME_EARLY must be 'event' or 'silent'");
    fake.lie_tid = env_int("QPIN_FAKE_QEMU_LIE_TID", 0);
    fake.event_flood = env_int("QPIN_FAKE_QEMU_EVENT_FLOOD", 0);
    fake.exit_after_cont = env_int("QPIN_FAKE_QEMU_EXIT_AFTER_CONT", 0) != 0;
    fake.exit_status = (int)env_int("QPIN_FAKE_QEMU_EXIT_STATUS", 0);
    fake.thread_uid = env_int("QPIN_FAKE_QEMU_THREAD_UID", -1);
    fake.root_vcpu = (int)env_int("QPIN_FAKE_QEMU_ROOT_VCPU", -1);

    fake.iothreads = g_ptr_array_new();
    fake.conns = g_ptr_array_new();
    fake.listeners = g_ptr_array_new();
    gboolean paused = FALSE;
    g_autoptr(GPtrArray) monitors = g_ptr_array_new_with_free_func((GDestroyNotify)chardev_free);
    parse_argv(argc, argv, &paused, monitors);
    fake.state = paused ? STATE_PRELAUNCH : STATE_RUNNING;
    /* The threads exist before any monitor speaks, as in QEMU: query-cpus-fast needs them. */
    start_threads();
    for (guint i = 0; i < monitors->len; i++)
        add_monitor(monitors->pdata[i]);
    notify("READY");
    serve();
    return 0;
}
