/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the live view of a pinned guest, see qpin-top.h. */
#include "qpin-top.h"

#include "qpin-error.h"
#include "qpin-file-write.h"
#include "qpin-memory.h"
#include "qpin-threads.h"

#include <json-c/json.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A report is a few kilobytes per vCPU: 16 MiB holds thousands of them. */
#define TOP_REPORT_MAX (16 * 1024 * 1024)
/* numa_maps walks QEMU's page tables, which costs milliseconds for a large guest: read it on
 * the first sample and then at most this often. */
#define TOP_MEMORY_EVERY_NS (10 * G_GINT64_CONSTANT(1000000000))

static void thread_free(QpinTopThread *t)
{
    if (!t)
        return;
    g_free(t->id);
    g_free(t->name);
    g_free(t->qom_path);
    topo_cpuset_free(t->plan);
    topo_cpuset_free(t->cpus);
    g_free(t->drift_reason);
    int *fds[] = {&t->fd_stat, &t->fd_schedstat, &t->fd_sched, &t->fd_status};
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
        if (*fds[i] >= 0)
            close(*fds[i]);
    g_free(t);
}

void qpin_top_free(QpinTop *top)
{
    if (!top)
        return;
    g_free(top->proc_root);
    g_free(top->source);
    g_ptr_array_unref(top->threads);
    g_array_unref(top->host_cpus);
    topo_cpuset_free(top->emulator_cpus);
    if (top->numa_nodes)
        g_ptr_array_unref(top->numa_nodes);
    if (top->memdevs)
        g_ptr_array_unref(top->memdevs);
    if (top->ram_blocks)
        g_array_unref(top->ram_blocks);
    if (top->memory)
        g_ptr_array_unref(top->memory);
    g_free(top->ended);
    if (top->fd_interrupts >= 0)
        close(top->fd_interrupts);
    g_free(top->buf);
    g_free(top);
}

const char *qpin_top_kind_name(QpinTopKind kind)
{
    switch (kind) {
    case QPIN_TOP_VCPU:
        return "vcpu";
    case QPIN_TOP_IOTHREAD:
        return "iothread";
    case QPIN_TOP_EMULATOR:
        break;
    }
    return "emulator";
}

static QpinTop *top_new(pid_t pid, const char *proc_root, const char *source)
{
    QpinTop *top = g_new0(QpinTop, 1);
    top->pid = pid;
    top->proc_root = g_strdup(proc_root ? proc_root : "/proc");
    top->source = g_strdup(source);
    top->threads = g_ptr_array_new_with_free_func((GDestroyNotify)thread_free);
    top->host_cpus = g_array_new(FALSE, TRUE, sizeof(QpinTopHostCpu));
    top->memory_every_ns = TOP_MEMORY_EVERY_NS;
    top->fd_interrupts = -1;
    return top;
}

static QpinTopThread *top_add(QpinTop *top, QpinTopKind kind, pid_t tid)
{
    QpinTopThread *t = g_new0(QpinTopThread, 1);
    t->kind = kind;
    t->index = -1;
    t->tid = tid;
    t->last_cpu = -1;
    t->migrations = -1;
    t->fd_stat = t->fd_schedstat = t->fd_sched = t->fd_status = -1;
    g_ptr_array_add(top->threads, t);
    return t;
}

static gint compare_threads(gconstpointer a, gconstpointer b)
{
    const QpinTopThread *x = *(QpinTopThread *const *)a, *y = *(QpinTopThread *const *)b;
    if (x->kind != y->kind)
        return x->kind == QPIN_TOP_VCPU   ? -1
               : y->kind == QPIN_TOP_VCPU ? 1
                                          : (int)x->kind - (int)y->kind;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static QpinTopThread *find_thread(const QpinTop *top, pid_t tid)
{
    for (guint i = 0; i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if (t->tid == tid)
            return t;
    }
    return NULL;
}

/* Every thread of the process that is not a vCPU or iothread yet is an emulator thread. */
static gboolean add_emulator_threads(QpinTop *top, GError **error)
{
    g_autoptr(GPtrArray) all = qpin_threads_list(top->pid, top->proc_root, error);
    if (!all)
        return FALSE;
    for (guint i = 0; i < all->len; i++) {
        const QpinThread *th = g_ptr_array_index(all, i);
        if (find_thread(top, th->tid))
            continue;
        QpinTopThread *t = top_add(top, QPIN_TOP_EMULATOR, th->tid);
        t->name = g_strdup(th->name);
    }
    g_ptr_array_sort(top->threads, compare_threads);
    return TRUE;
}

/* @code and @hint say what a missing process means to the caller: a wrong --pid, or the end
 * of the guest a report describes. */
static gboolean check_process(pid_t pid, const char *proc_root, const char *what, int code,
                              const char *hint, GError **error)
{
    g_autofree char *status = qpin_proc_status_read(pid, proc_root, NULL);
    if (!status) {
        g_set_error(error, QPIN_ERROR, code, "%s: there is no process %d%s", what, (int)pid, hint);
        return FALSE;
    }
    return TRUE;
}

/* The guest memory as QEMU's RAM blocks in smaps, for want of a report or query-memdev. */
static gboolean find_ram_blocks(QpinTop *top, GError **error)
{
    g_autoptr(GError) local = NULL;
    top->ram_blocks = qpin_mem_ram_blocks_find(top->pid, top->proc_root, &local);
    if (!top->ram_blocks) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_FAILED, local->message);
        return FALSE;
    }
    top->memory_source = "numa_maps";
    return TRUE;
}

/* ---- discovery by thread names ---- */

/* "CPU 3/KVM" or "CPU 3/TCG" -> 3; -1 for any other name. */
static int vcpu_index_of_name(const char *name)
{
    if (!g_str_has_prefix(name, "CPU "))
        return -1;
    char *end = NULL;
    errno = 0;
    long index = strtol(name + 4, &end, 10);
    if (errno || end == name + 4 || index < 0 || index > G_MAXINT)
        return -1;
    if (strcmp(end, "/KVM") && strcmp(end, "/TCG"))
        return -1;
    return (int)index;
}

QpinTop *qpin_top_new_from_pid(pid_t pid, const char *proc_root, GError **error)
{
    g_autofree char *what = g_strdup_printf("--pid %d", (int)pid);
    if (!check_process(pid, proc_root, what, QPIN_ERROR_USAGE, "; give the pid of a running QEMU",
                       error))
        return NULL;
    g_autoptr(QpinTop) top = top_new(pid, proc_root, "pid");
    g_autoptr(GPtrArray) all = qpin_threads_list(pid, top->proc_root, error);
    if (!all)
        return NULL;
    for (guint i = 0; i < all->len; i++) {
        const QpinThread *th = g_ptr_array_index(all, i);
        int index = vcpu_index_of_name(th->name);
        if (index >= 0) {
            QpinTopThread *t = top_add(top, QPIN_TOP_VCPU, th->tid);
            t->index = index;
            t->name = g_strdup(th->name);
        } else if (g_str_has_prefix(th->name, "IO ")) {
            QpinTopThread *t = top_add(top, QPIN_TOP_IOTHREAD, th->tid);
            t->id = g_strdup(th->name + 3);
            t->name = g_strdup(th->name);
        }
    }
    if (!qpin_top_count(top, QPIN_TOP_VCPU)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s: process %d has no thread named \"CPU N/KVM\" or \"CPU N/TCG\"; QEMU "
                    "names its vCPU threads so with -name debug-threads=on (qpin run sets it): "
                    "give --qmp SOCKET or --report FILE for a QEMU started without it",
                    what, (int)pid);
        return NULL;
    }
    if (!add_emulator_threads(top, error))
        return NULL;
    if (!find_ram_blocks(top, error))
        return NULL;
    return g_steal_pointer(&top);
}

/* ---- discovery over QMP ---- */

QpinTop *qpin_top_new_from_qmp(QmpClient *qmp, const QpinQmpPeer *peer, const char *proc_root,
                               GError **error)
{
    pid_t pid = peer->pid;
    g_autofree char *what = g_strdup_printf("QEMU (process %d)", (int)pid);
    if (!check_process(pid, proc_root, what, QPIN_ERROR_PIN, " any more", error))
        return NULL;
    g_autoptr(QpinTop) top = top_new(pid, proc_root, "qmp");
    top->qmp = qmp;
    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(qmp, error);
    if (!cpus) {
        g_prefix_error(error, "query-cpus-fast: ");
        return NULL;
    }
    for (guint i = 0; i < cpus->len; i++) {
        const QmpCpuInfo *c = g_ptr_array_index(cpus, i);
        if (!qpin_thread_of(pid, (pid_t)c->thread_id, top->proc_root)) {
            g_autofree char *vcpu = g_strdup_printf("vCPU %" G_GINT64_FORMAT, c->cpu_index);
            qpin_qmp_peer_thread_error(peer, vcpu, c->thread_id, top->proc_root, error);
            return NULL;
        }
        /* Under single-threaded TCG every vCPU names the same thread: one row per vCPU. */
        QpinTopThread *t = top_add(top, QPIN_TOP_VCPU, (pid_t)c->thread_id);
        t->index = (int)c->cpu_index;
        t->qom_path = g_strdup(c->qom_path);
        t->name = qpin_thread_name(pid, t->tid, top->proc_root);
    }
    g_autoptr(GPtrArray) io = qmp_query_iothreads(qmp, error);
    if (!io) {
        g_prefix_error(error, "query-iothreads: ");
        return NULL;
    }
    for (guint i = 0; i < io->len; i++) {
        const QmpIothread *o = g_ptr_array_index(io, i);
        if (!qpin_thread_of(pid, (pid_t)o->thread_id, top->proc_root)) {
            g_autofree char *iothread = g_strdup_printf("iothread %s", o->id);
            qpin_qmp_peer_thread_error(peer, iothread, o->thread_id, top->proc_root, error);
            return NULL;
        }
        QpinTopThread *t = top_add(top, QPIN_TOP_IOTHREAD, (pid_t)o->thread_id);
        t->id = g_strdup(o->id);
        t->name = qpin_thread_name(pid, t->tid, top->proc_root);
    }
    if (!add_emulator_threads(top, error))
        return NULL;
    g_autoptr(GError) local = NULL;
    top->memdevs = qmp_query_memdev(qmp, &local);
    if (!top->memdevs) {
        if (local->domain != QMP_COMMAND_ERROR) {
            g_propagate_prefixed_error(error, g_steal_pointer(&local), "query-memdev: ");
            return NULL;
        }
        /* A QEMU without query-memdev: its RAM blocks as smaps shows them. */
        if (!find_ram_blocks(top, error))
            return NULL;
    } else {
        top->memory_source = "qmp";
    }
    /* Asked at the first sample; an empty reply (TCG) or an error turns it off. */
    top->kvm_stats = TRUE;
    return g_steal_pointer(&top);
}

/* ---- discovery from a report ---- */

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A cpulist member: NULL for JSON null or absent; FALSE for a malformed one. */
static gboolean report_cpuset(json_object *o, const char *key, TopoCpuSet **set, const char *path,
                              GError **error)
{
    json_object *v = member(o, key);
    *set = NULL;
    if (!v)
        return TRUE;
    if (!json_object_is_type(v, json_type_string)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: \"%s\" must be a cpulist string such as \"0-3,8\"", path, key);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    *set = topo_cpuset_parse(json_object_get_string(v), &local);
    if (!*set) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "--report %s: \"%s\": %s", path, key,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

static gboolean report_thread(QpinTop *top, json_object *o, QpinTopKind kind, const char *path,
                              GError **error)
{
    json_object *tid = member(o, "thread_id");
    if (!tid || !json_object_is_type(tid, json_type_int) || json_object_get_int64(tid) <= 0 ||
        json_object_get_int64(tid) > G_MAXINT) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: a %s without a positive \"thread_id\"", path,
                    qpin_top_kind_name(kind));
        return FALSE;
    }
    QpinTopThread *t = top_add(top, kind, (pid_t)json_object_get_int64(tid));
    if (kind == QPIN_TOP_VCPU) {
        json_object *index = member(o, "index");
        if (!index || !json_object_is_type(index, json_type_int) ||
            json_object_get_int64(index) < 0 || json_object_get_int64(index) > G_MAXINT) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--report %s: vCPU of thread %d without an \"index\"", path, (int)t->tid);
            return FALSE;
        }
        t->index = (int)json_object_get_int64(index);
    }
    json_object *id = member(o, "id");
    if (id && json_object_is_type(id, json_type_string))
        t->id = g_strdup(json_object_get_string(id));
    if (!report_cpuset(o, "cpus", &t->plan, path, error))
        return FALSE;
    /* Thread ids are reused: a thread of the process that carries another name now is not the
     * one the report names. */
    json_object *name = member(o, kind == QPIN_TOP_VCPU ? "thread_name" : "name");
    g_autofree char *now = qpin_thread_name(top->pid, t->tid, top->proc_root);
    if (!now) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "--report %s: thread %d (%s) is no thread of process %d any more: the guest "
                    "of this report has ended or was restarted",
                    path, (int)t->tid, qpin_top_kind_name(kind), (int)top->pid);
        return FALSE;
    }
    if (name && json_object_is_type(name, json_type_string) &&
        strcmp(json_object_get_string(name), now)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "--report %s: thread %d of process %d is named \"%s\" now, not \"%s\" as in "
                    "the report: the guest of this report was restarted",
                    path, (int)t->tid, (int)top->pid, now, json_object_get_string(name));
        return FALSE;
    }
    t->name = g_steal_pointer(&now);
    return TRUE;
}

static gboolean report_numa(QpinTop *top, json_object *numa, const char *path, GError **error)
{
    if (!numa || !json_object_is_type(numa, json_type_array) || !json_object_array_length(numa))
        return TRUE;
    top->numa_nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    top->memory_source = "report";
    for (size_t i = 0; i < json_object_array_length(numa); i++) {
        json_object *o = json_object_array_get_idx(numa, i);
        json_object *size = member(o, "size_bytes");
        if (!size || !json_object_is_type(size, json_type_int)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--report %s: guest node %zu of \"numa\" has no \"size_bytes\"", path, i);
            return FALSE;
        }
        QpinNumaNode *node = g_new0(QpinNumaNode, 1);
        g_ptr_array_add(top->numa_nodes, node);
        node->guest_node = (int)i;
        node->size_bytes = json_object_get_uint64(size);
        node->policy = QPIN_NUMA_POLICY_DEFAULT;
        qpin_memory_policy_parse(json_object_get_string(member(o, "policy")), &node->policy);
        node->backend = QPIN_NUMA_BACKEND_RAM;
        qpin_memory_backend_parse(json_object_get_string(member(o, "backend")), &node->backend);
        json_object *p = member(o, "path");
        if (p && json_object_is_type(p, json_type_string))
            node->path = g_strdup(json_object_get_string(p));
        node->hugepage_kib = json_object_get_uint64(member(o, "hugepage_kib"));
        node->prealloc = json_object_get_boolean(member(o, "prealloc"));
        node->origin = g_strdup_printf("guest node %zu", i);
        node->spec = g_strdup(node->origin);
        if (!report_cpuset(o, "host_nodes", &node->host_nodes, path, error))
            return FALSE;
    }
    return TRUE;
}

QpinTop *qpin_top_new_from_report(const char *path, const char *proc_root, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "--report %s: %s", path, local->message);
        return NULL;
    }
    if (len > TOP_REPORT_MAX) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: %zu bytes is more than a qpin report holds (at most %d)", path,
                    (size_t)len, TOP_REPORT_MAX);
        return NULL;
    }
    g_autoptr(QmpJson) doc = json_tokener_parse(text);
    json_object *version = doc ? member(doc, "schema_version") : NULL;
    json_object *command = doc ? member(doc, "command") : NULL;
    if (!doc || !json_object_is_type(doc, json_type_object) || !version || !command) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: not a qpin report (give the file of qpin run --report FILE or "
                    "qpin pin --report FILE)",
                    path);
        return NULL;
    }
    if (json_object_get_int(version) != 1) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: schema_version %s is not one this qpin reads (1)", path,
                    json_object_to_json_string(version));
        return NULL;
    }
    json_object *pid = member(doc, "qemu_pid");
    if (!g_strcmp0(json_object_get_string(command), "plan") || !pid ||
        !json_object_is_type(pid, json_type_int) || json_object_get_int64(pid) <= 0 ||
        json_object_get_int64(pid) > G_MAXINT) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: a report of qpin %s without a running QEMU (\"qemu_pid\"); "
                    "top needs the report of qpin run or qpin pin",
                    path, json_object_get_string(command));
        return NULL;
    }
    json_object *err = member(doc, "error");
    if (err && json_object_is_type(err, json_type_string)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: the report of a failed qpin %s (%s): there is no pinned guest "
                    "to watch",
                    path, json_object_get_string(command), json_object_get_string(err));
        return NULL;
    }
    g_autofree char *what = g_strdup_printf("--report %s", path);
    if (!check_process((pid_t)json_object_get_int64(pid), proc_root, what, QPIN_ERROR_PIN,
                       " any more: the QEMU of this report has ended", error))
        return NULL;
    g_autoptr(QpinTop) top = top_new((pid_t)json_object_get_int64(pid), proc_root, "report");

    json_object *vcpus = member(doc, "vcpus");
    json_object *emulator = member(doc, "emulator");
    json_object *iothreads = member(doc, "iothreads");
    json_object *emulator_threads = emulator ? member(emulator, "threads") : NULL;
    if (!vcpus || !json_object_is_type(vcpus, json_type_array) || !emulator_threads ||
        !json_object_is_type(emulator_threads, json_type_array)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--report %s: no \"vcpus\" or \"emulator\" threads", path);
        return NULL;
    }
    for (size_t i = 0; i < json_object_array_length(vcpus); i++)
        if (!report_thread(top, json_object_array_get_idx(vcpus, i), QPIN_TOP_VCPU, path, error))
            return NULL;
    for (size_t i = 0; i < json_object_array_length(emulator_threads); i++)
        if (!report_thread(top, json_object_array_get_idx(emulator_threads, i), QPIN_TOP_EMULATOR,
                           path, error))
            return NULL;
    for (size_t i = 0; iothreads && json_object_is_type(iothreads, json_type_array) &&
                       i < json_object_array_length(iothreads);
         i++)
        if (!report_thread(top, json_object_array_get_idx(iothreads, i), QPIN_TOP_IOTHREAD, path,
                           error))
            return NULL;
    if (!report_cpuset(emulator, "cpus", &top->emulator_cpus, path, error) ||
        !report_numa(top, member(doc, "numa"), path, error))
        return NULL;
    /* Threads QEMU started after the report (a hot-added device's) are emulator threads. */
    if (!add_emulator_threads(top, error))
        return NULL;
    /* A guest started without --numa still has memory: QEMU's RAM blocks. */
    if (!top->numa_nodes && !find_ram_blocks(top, error))
        return NULL;
    return g_steal_pointer(&top);
}

/* ---- sampling ---- */

/* Reads the whole file behind @fd from offset 0 into top->buf: proc files are generated anew
 * at each read from the start, so one descriptor serves every interval. A read that does not
 * fill the buffer got the whole rest (seq_file hands out all it has), which saves a second
 * read per file. Returns 0 or errno; ESRCH (or an empty file in a fixture tree) means the
 * thread ended. */
static int read_fd(QpinTop *top, int fd)
{
    top->buf_len = 0;
    for (;;) {
        if (top->buf_cap - top->buf_len < 4097) {
            top->buf_cap = top->buf_cap ? top->buf_cap * 2 : 16384;
            top->buf = g_realloc(top->buf, top->buf_cap);
        }
        gsize room = top->buf_cap - top->buf_len - 1;
        ssize_t n = pread(fd, top->buf + top->buf_len, room, (off_t)top->buf_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        top->buf_len += (gsize)n;
        if ((gsize)n < room)
            break;
    }
    top->buf[top->buf_len] = '\0';
    return top->buf_len ? 0 : ESRCH;
}

static int open_task_file(const QpinTop *top, pid_t tid, const char *name)
{
    g_autofree char *path =
        g_strdup_printf("%s/%d/task/%d/%s", top->proc_root, (int)top->pid, (int)tid, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static gboolean parse_u64(const char *s, char **end, guint64 *value)
{
    errno = 0;
    char *e = NULL;
    *value = g_ascii_strtoull(s, &e, 10);
    if (end)
        *end = e;
    return !errno && e != s;
}

/* stat: fields 14 and 15 (utime, stime) and 39 (processor), counted after the command name,
 * which may itself hold spaces and parentheses. */
static gboolean parse_stat(const char *text, QpinTopCounters *c, int *last_cpu)
{
    const char *p = strrchr(text, ')');
    if (!p)
        return FALSE;
    p++;
    guint64 utime = 0, stime = 0, cpu = 0;
    for (int field = 3; field <= 39; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return FALSE;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (field == 14 && !parse_u64(start, NULL, &utime))
            return FALSE;
        if (field == 15 && !parse_u64(start, NULL, &stime))
            return FALSE;
        if (field == 39 && !parse_u64(start, NULL, &cpu))
            return FALSE;
    }
    c->ticks = utime + stime;
    *last_cpu = cpu > G_MAXINT ? -1 : (int)cpu;
    return TRUE;
}

/* The number after "KEY:" at the start of a line (status) or "KEY   :" (sched). */
static gboolean line_value(const char *text, const char *key, guint64 *value)
{
    gsize klen = strlen(key);
    for (const char *line = text; line && *line;) {
        if (!strncmp(line, key, klen) &&
            (line[klen] == ':' || line[klen] == ' ' || line[klen] == '\t')) {
            const char *p = strchr(line + klen, ':');
            if (!p)
                return FALSE;
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            return parse_u64(p, NULL, value);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return FALSE;
}

static char *line_text(const char *text, const char *key)
{
    gsize klen = strlen(key);
    for (const char *line = text; line && *line;) {
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            const char *p = line + klen + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            const char *end = strchr(p, '\n');
            return end ? g_strndup(p, (gsize)(end - p)) : g_strdup(p);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NULL;
}

static char *thread_label(const QpinTopThread *t)
{
    if (t->kind == QPIN_TOP_VCPU)
        return g_strdup_printf("vCPU %d (thread %d)", t->index, (int)t->tid);
    if (t->kind == QPIN_TOP_IOTHREAD)
        return g_strdup_printf("iothread %s (thread %d)", t->id ? t->id : "?", (int)t->tid);
    return g_strdup_printf("emulator thread %d (%s)", (int)t->tid, t->name ? t->name : "?");
}

/* Whether the process is gone or a zombie: then it is QEMU that ended, not one thread. */
static gboolean process_ended(const QpinTop *top)
{
    g_autofree char *path = g_strdup_printf("%s/%d/stat", top->proc_root, (int)top->pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL) || !*text)
        return TRUE;
    const char *p = strrchr(text, ')');
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

static void set_ended(QpinTop *top, const QpinTopThread *t)
{
    if (top->ended)
        return;
    if (process_ended(top)) {
        top->ended = g_strdup_printf("QEMU (process %d) ended", (int)top->pid);
        return;
    }
    g_autofree char *label = thread_label(t);
    top->ended = g_strdup_printf("%s of QEMU (process %d) ended", label, (int)top->pid);
}

static gboolean parse_error(const QpinTopThread *t, const char *file, GError **error)
{
    g_autofree char *label = thread_label(t);
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: cannot parse its %s file", label, file);
    return FALSE;
}

/* One thread: stat, schedstat, sched (when the kernel has it), status. FALSE with @error for
 * an unreadable file, TRUE with top->ended set when the thread ended. */
static gboolean sample_thread(QpinTop *top, QpinTopThread *t, GError **error)
{
    static const char *const names[] = {"stat", "schedstat", "sched", "status"};
    int *fds[] = {&t->fd_stat, &t->fd_schedstat, &t->fd_sched, &t->fd_status};
    QpinTopCounters c = {0};
    int last_cpu = -1;
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        if (*fds[i] == -1 && top->samples == 0) {
            *fds[i] = open_task_file(top, t->tid, names[i]);
            /* sched needs CONFIG_SCHED_DEBUG; without it migrations are not counted. */
            if (*fds[i] < 0 && errno == ENOENT && i == 2) {
                *fds[i] = -2;
                continue;
            }
            if (*fds[i] < 0) {
                if (errno == ENOENT || errno == ESRCH) {
                    set_ended(top, t);
                    return TRUE;
                }
                g_autofree char *label = thread_label(t);
                g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: cannot open its %s: %s",
                            label, names[i], g_strerror(errno));
                return FALSE;
            }
        }
        if (*fds[i] < 0)
            continue;
        int e = read_fd(top, *fds[i]);
        if (e == ESRCH || e == ENOENT) {
            set_ended(top, t);
            return TRUE;
        }
        if (e) {
            g_autofree char *label = thread_label(t);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: cannot read its %s: %s", label,
                        names[i], g_strerror(e));
            return FALSE;
        }
        const char *text = top->buf;
        switch (i) {
        case 0:
            if (!parse_stat(text, &c, &last_cpu))
                return parse_error(t, "stat", error);
            break;
        case 1: {
            guint64 run = 0;
            char *end = NULL;
            if (!parse_u64(text, &end, &run) || !parse_u64(end, NULL, &c.run_delay_ns))
                return parse_error(t, "schedstat", error);
            break;
        }
        case 2:
            c.has_migrations = line_value(text, "se.nr_migrations", &c.migrations);
            break;
        case 3: {
            g_autofree char *allowed = line_text(text, "Cpus_allowed_list");
            if (!allowed || !line_value(text, "voluntary_ctxt_switches", &c.nvcsw) ||
                !line_value(text, "nonvoluntary_ctxt_switches", &c.nivcsw))
                return parse_error(t, "status", error);
            TopoCpuSet *cpus = topo_cpuset_parse(allowed, NULL);
            if (!cpus)
                return parse_error(t, "status", error);
            topo_cpuset_free(t->cpus);
            t->cpus = cpus;
            break;
        }
        }
    }
    t->prev = t->now;
    t->now = c;
    t->last_cpu = last_cpu;
    return TRUE;
}

static guint64 delta(guint64 now, guint64 prev)
{
    /* A counter that went back belongs to a reused thread id or a rewritten fixture: no rate. */
    return now >= prev ? now - prev : 0;
}

static void thread_rates(QpinTopThread *t, double seconds, long ticks_per_s)
{
    if (seconds <= 0) {
        t->usage_pct = t->steal_pct = t->nvcsw_per_s = t->nivcsw_per_s = 0;
        t->migrations = t->now.has_migrations ? 0 : -1;
        return;
    }
    t->usage_pct = (double)delta(t->now.ticks, t->prev.ticks) / (double)ticks_per_s / seconds * 100;
    t->steal_pct = (double)delta(t->now.run_delay_ns, t->prev.run_delay_ns) / 1e9 / seconds * 100;
    t->nvcsw_per_s = (double)delta(t->now.nvcsw, t->prev.nvcsw) / seconds;
    t->nivcsw_per_s = (double)delta(t->now.nivcsw, t->prev.nivcsw) / seconds;
    t->migrations = t->now.has_migrations && t->prev.has_migrations
                        ? (gint64)delta(t->now.migrations, t->prev.migrations)
                        : -1;
}

static void thread_drift(QpinTopThread *t)
{
    g_clear_pointer(&t->drift_reason, g_free);
    t->drift = FALSE;
    if (!t->plan || !t->cpus)
        return;
    /* The reason is only written for a thread that drifted: the healthy case formats nothing. */
    gboolean moved = !topo_cpuset_equal(t->cpus, t->plan);
    gboolean outside = t->last_cpu >= 0 && !topo_cpuset_has(t->plan, t->last_cpu);
    if (!moved && !outside)
        return;
    g_autofree char *plan = topo_cpuset_format(t->plan);
    if (moved) {
        g_autofree char *now = topo_cpuset_format(t->cpus);
        t->drift_reason = g_strdup_printf("allowed CPUs %s, planned %s", now, plan);
    } else {
        t->drift_reason = g_strdup_printf("ran on CPU %d, planned %s", t->last_cpu, plan);
    }
    t->drift = TRUE;
}

TopoCpuSet *qpin_top_map_cpus(const QpinTop *top)
{
    TopoCpuSet *set = NULL;
    for (guint i = 0; i < top->threads->len; i++) {
        const QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if (t->kind != QPIN_TOP_VCPU || !t->plan)
            continue;
        if (!set)
            set = topo_cpuset_new();
        topo_cpuset_union(set, t->plan);
    }
    return set;
}

/* The header line of /proc/interrupts: for each column, the slot of its CPU in host_cpus, or
 * -1 for a CPU outside the map; NULL when the line holds no "CPUn" column. */
static GArray *interrupt_columns(const QpinTop *top, char *line)
{
    g_autoptr(GArray) slot = g_array_new(FALSE, FALSE, sizeof(int));
    for (char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!g_str_has_prefix(p, "CPU"))
            break;
        guint64 cpu = 0;
        char *end = NULL;
        if (!parse_u64(p + 3, &end, &cpu))
            return NULL;
        int s = -1;
        for (guint i = 0; i < top->host_cpus->len; i++)
            if (g_array_index(top->host_cpus, QpinTopHostCpu, i).cpu == (int)cpu)
                s = (int)i;
        g_array_append_val(slot, s);
        p = end;
    }
    return slot->len ? g_steal_pointer(&slot) : NULL;
}

/* /proc/interrupts: a header of "CPUn" columns, then one row per source. Only rows with a
 * count per column are per-CPU counts (ERR and MIS hold one total). */
static gboolean sample_interrupts(QpinTop *top, GError **error)
{
    if (!top->host_cpus->len)
        return TRUE;
    if (top->fd_interrupts < 0) {
        g_autofree char *path = g_build_filename(top->proc_root, "interrupts", NULL);
        top->fd_interrupts = open(path, O_RDONLY | O_CLOEXEC);
        if (top->fd_interrupts < 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "cannot open %s: %s", path,
                        g_strerror(errno));
            return FALSE;
        }
    }
    int e = read_fd(top, top->fd_interrupts);
    if (e) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "cannot read %s/interrupts: %s",
                    top->proc_root, g_strerror(e));
        return FALSE;
    }
    char *save = NULL;
    char *line = strtok_r(top->buf, "\n", &save);
    g_autoptr(GArray) slot = line ? interrupt_columns(top, line) : NULL;
    if (!slot) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED,
                    "%s/interrupts: no \"CPU0 CPU1 ...\" header line", top->proc_root);
        return FALSE;
    }
    guint n = top->host_cpus->len;
    g_autofree guint64 *loc = g_new0(guint64, n), *irq = g_new0(guint64, n),
                       *other = g_new0(guint64, n);
    g_autofree guint64 *row = g_new0(guint64, slot->len);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *label = g_strstrip(line);
        char *p = colon + 1;
        guint cols = 0;
        for (; cols < slot->len; cols++) {
            char *end = NULL;
            while (*p == ' ')
                p++;
            if (!parse_u64(p, &end, &row[cols]))
                break;
            p = end;
        }
        if (cols != slot->len)
            continue;
        gboolean device = *label && strspn(label, "0123456789") == strlen(label);
        guint64 *sum = !strcmp(label, "LOC") ? loc : device ? irq : other;
        for (guint c = 0; c < cols; c++) {
            int s = g_array_index(slot, int, c);
            if (s >= 0)
                sum[s] += row[c];
        }
    }
    for (guint i = 0; i < n; i++) {
        QpinTopHostCpu *h = &g_array_index(top->host_cpus, QpinTopHostCpu, i);
        double s = top->interval_s;
        h->loc_per_s = s > 0 ? (double)delta(loc[i], h->loc) / s : 0;
        h->irq_per_s = s > 0 ? (double)delta(irq[i], h->irq) / s : 0;
        h->other_per_s = s > 0 ? (double)delta(other[i], h->other) / s : 0;
        h->loc = loc[i];
        h->irq = irq[i];
        h->other = other[i];
    }
    return TRUE;
}

static QpinTopThread *vcpu_by_qom_path(const QpinTop *top, const char *path)
{
    for (guint i = 0; path && i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if (t->kind == QPIN_TOP_VCPU && !g_strcmp0(t->qom_path, path))
            return t;
    }
    return NULL;
}

/* KVM's per-vCPU "exits" counter (qapi/stats.json: query-stats, target vcpu, provider kvm,
 * a list of StatsResult {provider, qom-path, stats: [{name, value}]}). Under TCG the reply is
 * an empty list: no stats, and QEMU is not asked again. */
static gboolean sample_kvm_stats(QpinTop *top, GError **error)
{
    if (!top->qmp || !top->kvm_stats)
        return TRUE;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "target", json_object_new_string("vcpu"));
    json_object *providers = json_object_new_array();
    json_object *kvm = json_object_new_object();
    json_object_object_add(kvm, "provider", json_object_new_string("kvm"));
    json_object_array_add(providers, kvm);
    json_object_object_add(args, "providers", providers);
    g_autoptr(GError) local = NULL;
    g_autoptr(QmpJson) reply = qmp_client_execute(top->qmp, "query-stats", args, &local);
    json_object_put(args);
    if (!reply) {
        /* QEMU before 7.1 has no query-stats, or KVM none for this kernel: no exit counts. */
        if (local->domain == QMP_COMMAND_ERROR) {
            top->kvm_stats = FALSE;
            return TRUE;
        }
        if (qmp_client_is_broken(top->qmp) && process_ended(top)) {
            top->ended = g_strdup_printf("QEMU (process %d) ended", (int)top->pid);
            return TRUE;
        }
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QMP, "query-stats: %s", local->message);
        return FALSE;
    }
    if (!json_object_is_type(reply, json_type_array)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_QMP, "query-stats: the reply is not a list");
        return FALSE;
    }
    if (!json_object_array_length(reply)) {
        top->kvm_stats = FALSE;
        return TRUE;
    }
    for (size_t i = 0; i < json_object_array_length(reply); i++) {
        json_object *result = json_object_array_get_idx(reply, i);
        if (g_strcmp0(json_object_get_string(member(result, "provider")), "kvm"))
            continue;
        QpinTopThread *t =
            vcpu_by_qom_path(top, json_object_get_string(member(result, "qom-path")));
        json_object *stats = member(result, "stats");
        if (!t || !stats || !json_object_is_type(stats, json_type_array))
            continue;
        for (size_t s = 0; s < json_object_array_length(stats); s++) {
            json_object *stat = json_object_array_get_idx(stats, s);
            json_object *value = member(stat, "value");
            if (g_strcmp0(json_object_get_string(member(stat, "name")), "exits") || !value ||
                !json_object_is_type(value, json_type_int))
                continue;
            t->exits_prev = t->exits_now;
            t->exits_seen_prev = t->has_exits;
            t->exits_now = json_object_get_uint64(value);
            t->has_exits = TRUE;
        }
    }
    for (guint i = 0; i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        t->exits_per_s = t->has_exits && t->exits_seen_prev && top->interval_s > 0
                             ? (double)delta(t->exits_now, t->exits_prev) / top->interval_s
                             : 0;
    }
    return TRUE;
}

static gboolean sample_memory(QpinTop *top, gint64 mono_ns, GError **error)
{
    if (!top->memory_source ||
        (top->memory && mono_ns - top->memory_read_ns < top->memory_every_ns))
        return TRUE;
    g_autoptr(GError) local = NULL;
    GPtrArray *memory =
        top->numa_nodes ? qpin_mem_placement_read(top->numa_nodes, top->pid, top->proc_root, &local)
        : top->memdevs
            ? qpin_mem_placement_read_memdevs(top->memdevs, top->pid, top->proc_root, &local)
            : qpin_mem_placement_read_blocks(top->ram_blocks, top->pid, top->proc_root, &local);
    if (!memory) {
        if (process_ended(top)) {
            top->ended = g_strdup_printf("QEMU (process %d) ended", (int)top->pid);
            return TRUE;
        }
        /* An unreadable numa_maps is a /proc file top cannot read, not misplaced memory. */
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_FAILED, local->message);
        return FALSE;
    }
    if (top->memory)
        g_ptr_array_unref(top->memory);
    top->memory = memory;
    top->memory_read_ns = mono_ns;
    return TRUE;
}

gboolean qpin_top_sample(QpinTop *top, gint64 mono_ns, GError **error)
{
    if (top->ended)
        return TRUE;
    top->interval_s = top->samples ? (double)(mono_ns - top->mono_prev_ns) / 1e9 : 0;
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (ticks_per_s <= 0)
        ticks_per_s = 100;
    for (guint i = 0; i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if (!sample_thread(top, t, error))
            return FALSE;
        if (top->ended)
            return TRUE;
        /* Without a plan from a report, the affinity each thread had when top started is its
         * plan. */
        if (top->samples == 0 && !t->plan && t->cpus)
            t->plan = topo_cpuset_copy(t->cpus);
        thread_rates(t, top->interval_s, ticks_per_s);
        thread_drift(t);
    }
    if (top->samples == 0) {
        g_autoptr(TopoCpuSet) map = qpin_top_map_cpus(top);
        for (int cpu = map ? topo_cpuset_first(map) : -1; cpu >= 0;
             cpu = topo_cpuset_next(map, cpu)) {
            QpinTopHostCpu h = {.cpu = cpu};
            g_array_append_val(top->host_cpus, h);
        }
    }
    if (!sample_interrupts(top, error) || !sample_kvm_stats(top, error) ||
        !sample_memory(top, mono_ns, error))
        return FALSE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    top->time_ns = (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
    top->mono_prev_ns = mono_ns;
    top->samples++;
    return TRUE;
}

guint qpin_top_count(const QpinTop *top, QpinTopKind kind)
{
    guint n = 0;
    for (guint i = 0; i < top->threads->len; i++)
        if (((const QpinTopThread *)g_ptr_array_index(top->threads, i))->kind == kind)
            n++;
    return n;
}

gboolean qpin_top_any_drift(const QpinTop *top)
{
    for (guint i = 0; i < top->threads->len; i++)
        if (((const QpinTopThread *)g_ptr_array_index(top->threads, i))->drift)
            return TRUE;
    for (guint i = 0; top->memory && i < top->memory->len; i++)
        if (!((const QpinMemPlacement *)g_ptr_array_index(top->memory, i))->ok)
            return TRUE;
    return FALSE;
}

/* ---- the Prometheus textfile ---- */

static gboolean textfile_refuse(const char *path, int code, GError **error)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return FALSE;
        g_set_error(error, QPIN_ERROR, code, "%s: %s", path, g_strerror(errno));
        return TRUE;
    }
    if (S_ISREG(st.st_mode))
        return FALSE;
    g_set_error(error, QPIN_ERROR, code,
                "%s: exists and is %s, which qpin top never replaces; give the path of a "
                "regular file or of a new one (node_exporter reads *.prom files)",
                path,
                S_ISLNK(st.st_mode)    ? "a symbolic link"
                : S_ISDIR(st.st_mode)  ? "a directory"
                : S_ISFIFO(st.st_mode) ? "a FIFO"
                : S_ISSOCK(st.st_mode) ? "a socket"
                                       : "a device");
    return TRUE;
}

gboolean qpin_top_textfile_check(const char *path, GError **error)
{
    if (!path || !*path || g_str_has_suffix(path, "/")) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--prometheus '%s': give the name of a file to write", path ? path : "");
        return FALSE;
    }
    if (textfile_refuse(path, QPIN_ERROR_USAGE, error))
        return FALSE;
    g_autofree char *dir = g_path_get_dirname(path);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s: cannot create files in directory %s (%s); give a path in an existing, "
                    "writable directory",
                    path, dir, g_strerror(errno ? errno : ENOTDIR));
        return FALSE;
    }
    return TRUE;
}

gboolean qpin_top_textfile_write(const char *path, const char *data, gsize len, GError **error)
{
    /* The collector may run as another user, and the metrics hold no secret: 0644. */
    return qpin_file_replace_regular(path, data, len, 0644, error);
}
