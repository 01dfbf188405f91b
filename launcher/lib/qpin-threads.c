/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — threads of a process: listing, affinity and policy, see qpin-threads.h. */
#include "qpin-threads.h"

#include "qpin-error.h"

#include <qpin/host.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static const char *proc(const char *proc_root)
{
    return proc_root ? proc_root : "/proc";
}

void qpin_thread_free(QpinThread *thread)
{
    if (!thread)
        return;
    g_free(thread->name);
    g_free(thread);
}

char *qpin_thread_name(pid_t pid, pid_t tid, const char *proc_root)
{
    g_autofree char *path =
        g_strdup_printf("%s/%d/task/%d/comm", proc(proc_root), (int)pid, (int)tid);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    g_strchomp(text);
    return text;
}

static gint compare_pid(gconstpointer a, gconstpointer b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

GArray *qpin_threads_ids(pid_t pid, const char *proc_root, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%d/task", proc(proc_root), (int)pid);
    GError *local = NULL;
    g_autoptr(GDir) dir = g_dir_open(path, 0, &local);
    if (!dir) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "cannot list the threads of process %d: %s",
                    (int)pid, local->message);
        g_error_free(local);
        return NULL;
    }
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    const char *entry;
    while ((entry = g_dir_read_name(dir))) {
        guint64 tid;
        if (!g_ascii_string_to_unsigned(entry, 10, 1, G_MAXINT, &tid, NULL))
            continue;
        pid_t t = (pid_t)tid;
        g_array_append_val(ids, t);
    }
    g_array_sort(ids, compare_pid);
    return ids;
}

GPtrArray *qpin_threads_list(pid_t pid, const char *proc_root, GError **error)
{
    g_autoptr(GArray) ids = qpin_threads_ids(pid, proc_root, error);
    if (!ids)
        return NULL;
    GPtrArray *threads = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_thread_free);
    for (guint i = 0; i < ids->len; i++) {
        pid_t tid = g_array_index(ids, pid_t, i);
        char *name = qpin_thread_name(pid, tid, proc_root);
        if (!name)
            continue; /* ended meanwhile */
        QpinThread *thread = g_new0(QpinThread, 1);
        thread->tid = tid;
        thread->name = name;
        g_ptr_array_add(threads, thread);
    }
    return threads;
}

gboolean qpin_thread_of(pid_t pid, pid_t tid, const char *proc_root)
{
    if (pid <= 0 || tid <= 0)
        return FALSE;
    g_autofree char *path = g_strdup_printf("%s/%d/task/%d", proc(proc_root), (int)pid, (int)tid);
    return g_file_test(path, G_FILE_TEST_IS_DIR);
}

char *qpin_proc_status_read(pid_t pid, const char *proc_root, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%d/status", proc(proc_root), (int)pid);
    char *text = NULL;
    GError *local = NULL;
    if (pid <= 0 || !g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "process or thread %d does not exist%s%s",
                    (int)pid, local ? ": " : "", local ? local->message : "");
        g_clear_error(&local);
        return NULL;
    }
    return text;
}

gboolean qpin_proc_status_value(const char *text, const char *key, guint64 *value)
{
    g_autofree char *field = topo_proc_status_field(text, key);
    if (!field || !g_ascii_isdigit(field[0]))
        return FALSE;
    char *stop = NULL;
    errno = 0;
    guint64 v = g_ascii_strtoull(field, &stop, 10);
    /* A number, alone or before a unit ("81920 kB"). */
    if (errno || (*stop && *stop != ' '))
        return FALSE;
    *value = v;
    return TRUE;
}

/* A pid field ("Tgid", "PPid") of PROC/PID/status, or -1 with @error. */
static pid_t status_pid_field(pid_t pid, const char *key, const char *proc_root, GError **error)
{
    g_autofree char *text = qpin_proc_status_read(pid, proc_root, error);
    if (!text)
        return -1;
    guint64 v;
    if (!qpin_proc_status_value(text, key, &v) || v > G_MAXINT) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "%s/%d/status has no readable %s line",
                    proc(proc_root), (int)pid, key);
        return -1;
    }
    return (pid_t)v;
}

pid_t qpin_thread_tgid(pid_t tid, const char *proc_root, GError **error)
{
    pid_t tgid = status_pid_field(tid, "Tgid", proc_root, error);
    if (tgid == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "thread %d has no thread group", (int)tid);
        return -1;
    }
    return tgid;
}

gboolean qpin_process_descends_from(pid_t pid, pid_t ancestor, const char *proc_root)
{
    /* The parent chain is short; the bound only guards against a loop in a forged tree. */
    for (int depth = 0; pid > 1 && depth < 4096; depth++) {
        pid_t parent = status_pid_field(pid, "PPid", proc_root, NULL);
        if (parent == ancestor)
            return TRUE;
        if (parent <= 0)
            return FALSE;
        pid = parent;
    }
    return FALSE;
}

static const struct {
    const char *name;
    int policy;
} policies[] = {
    {"fifo", SCHED_FIFO}, {"rr", SCHED_RR},       {"batch", SCHED_BATCH},
    {"idle", SCHED_IDLE}, {"other", SCHED_OTHER},
};

static const char *policy_name(int policy)
{
    for (gsize i = 0; i < G_N_ELEMENTS(policies); i++)
        if (policies[i].policy == policy)
            return policies[i].name;
    return NULL;
}

static gboolean is_realtime(int policy)
{
    return policy == SCHED_FIFO || policy == SCHED_RR;
}

gboolean qpin_sched_parse(const char *text, QpinSched *sched, GError **error)
{
    g_autofree char *name = g_strdup(text);
    char *colon = strchr(name, ':');
    const char *prio = NULL;
    if (colon) {
        *colon = '\0';
        prio = colon + 1;
    }
    int policy = -1;
    for (gsize i = 0; i < G_N_ELEMENTS(policies); i++)
        if (!strcmp(policies[i].name, name))
            policy = policies[i].policy;
    if (policy < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--vcpu-sched '%s': unknown policy '%s' (expected fifo, rr, batch, idle or "
                    "other, with :PRIO for fifo and rr)",
                    text, name);
        return FALSE;
    }
    int priority = is_realtime(policy) ? 1 : 0;
    if (prio) {
        if (!is_realtime(policy)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--vcpu-sched '%s': only fifo and rr take a priority", text);
            return FALSE;
        }
        guint64 v;
        if (!g_ascii_string_to_unsigned(prio, 10, 1, 99, &v, NULL)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--vcpu-sched '%s': priority must be an integer from 1 to 99", text);
            return FALSE;
        }
        priority = (int)v;
    }
    sched->set = TRUE;
    sched->policy = policy;
    sched->priority = priority;
    return TRUE;
}

char *qpin_sched_format(const QpinSched *sched)
{
    const char *name = policy_name(sched->policy);
    if (!name)
        return g_strdup_printf("policy-%d", sched->policy);
    if (is_realtime(sched->policy))
        return g_strdup_printf("%s:%d", name, sched->priority);
    return g_strdup(name);
}

gboolean qpin_sched_equal(const QpinSched *a, const QpinSched *b)
{
    if (a->policy != b->policy)
        return FALSE;
    return !is_realtime(a->policy) || a->priority == b->priority;
}

/* "CPU 5" or "CPUs 5-6,9". */
static char *cpus_phrase(const TopoCpuSet *cpus)
{
    g_autofree char *list = topo_cpuset_format(cpus);
    return g_strdup_printf("CPU%s %s", topo_cpuset_count(cpus) == 1 ? "" : "s", list);
}

static void set_affinity_error(GError **error, int err, pid_t tid, const TopoCpuSet *cpus,
                               const char *what, const TopoCpuSet *allowed)
{
    g_autofree char *list = cpus_phrase(cpus);
    switch (err) {
    case EINVAL: {
        g_autofree char *allowed_list = allowed ? cpus_phrase(allowed) : NULL;
        g_autofree char *hint =
            allowed_list ? g_strdup_printf("; qpin may use %s", allowed_list) : g_strdup("");
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot pin %s to %s: no CPU of the set is online and allowed to the "
                    "thread (outside its cpuset, batch allocation or taskset mask%s)",
                    what, list, hint);
        break;
    }
    case EPERM:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot pin %s to %s: not permitted (run qpin as the user that owns "
                    "QEMU, or give it CAP_SYS_NICE)",
                    what, list);
        break;
    case ESRCH:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot pin %s to %s: thread %d is gone (QEMU exited or the thread "
                    "ended)",
                    what, list, (int)tid);
        break;
    default:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "cannot pin %s to %s: %s", what, list,
                    g_strerror(err));
    }
}

static void set_sched_error(GError **error, int err, pid_t tid, const QpinSched *sched,
                            const char *what)
{
    g_autofree char *text = qpin_sched_format(sched);
    switch (err) {
    case EPERM:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot set scheduling policy %s on %s: not permitted (%s)", text, what,
                    is_realtime(sched->policy)
                        ? "real-time policies need CAP_SYS_NICE or an RLIMIT_RTPRIO of at least "
                          "the priority; under cgroup v1 the group also needs cpu.rt_runtime_us"
                        : "run qpin as the user that owns QEMU, or give it CAP_SYS_NICE");
        break;
    case ESRCH:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot set scheduling policy %s on %s: thread %d is gone", text, what,
                    (int)tid);
        break;
    default:
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "cannot set scheduling policy %s on %s: %s",
                    text, what, g_strerror(err));
    }
}

gboolean qpin_thread_apply(pid_t tid, const TopoCpuSet *cpus, const QpinSched *sched,
                           const char *what, const TopoCpuSet *allowed, GError **error)
{
    if (tid <= 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "refusing to touch %s: thread id %d", what,
                    (int)tid);
        return FALSE;
    }
    if (cpus) {
        if (topo_cpuset_first(cpus) < 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "cannot pin %s to an empty CPU set",
                        what);
            return FALSE;
        }
        if (sched_setaffinity(tid, topo_cpuset_raw_size(), topo_cpuset_raw_const(cpus)) < 0) {
            set_affinity_error(error, errno, tid, cpus, what, allowed);
            return FALSE;
        }
    }
    if (sched && sched->set) {
        struct sched_param param = {.sched_priority = sched->priority};
        if (sched_setscheduler(tid, sched->policy, &param) < 0) {
            set_sched_error(error, errno, tid, sched, what);
            return FALSE;
        }
    }
    return TRUE;
}

TopoCpuSet *qpin_thread_affinity(pid_t tid, const char *what, GError **error)
{
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    if (sched_getaffinity(tid, topo_cpuset_raw_size(), topo_cpuset_raw(set)) < 0) {
        int err = errno;
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "cannot read the affinity of %s: %s%s", what,
                    g_strerror(err), err == ESRCH ? " (QEMU exited or the thread ended)" : "");
        return NULL;
    }
    return g_steal_pointer(&set);
}

gboolean qpin_thread_sched(pid_t tid, QpinSched *sched, const char *what, GError **error)
{
    int policy = sched_getscheduler(tid);
    struct sched_param param = {0};
    if (policy < 0 || sched_getparam(tid, &param) < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "cannot read the scheduling policy of %s: %s", what, g_strerror(errno));
        return FALSE;
    }
    sched->set = TRUE;
    sched->policy = policy & ~SCHED_RESET_ON_FORK;
    sched->priority = param.sched_priority;
    return TRUE;
}
