/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the affinity functions and /proc thread listing against this process's own threads. */
#include "qpin-threads.h"
#include "qpin-error.h"
#include "qpin-check.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A spare thread that waits until told to end. */
typedef struct {
    pthread_t thread;
    pid_t tid;
    int pipe[2];
    GMutex lock;
    GCond ready;
} Spare;

static void *spare_main(void *data)
{
    Spare *h = data;
    pthread_setname_np(pthread_self(), "qpin-spare");
    g_mutex_lock(&h->lock);
    h->tid = gettid();
    g_cond_signal(&h->ready);
    g_mutex_unlock(&h->lock);
    char c;
    while (read(h->pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void spare_start(Spare *h)
{
    memset(h, 0, sizeof *h);
    ck_assert_int_eq(pipe(h->pipe), 0);
    g_mutex_init(&h->lock);
    g_cond_init(&h->ready);
    ck_assert_int_eq(pthread_create(&h->thread, NULL, spare_main, h), 0);
    g_mutex_lock(&h->lock);
    while (!h->tid)
        g_cond_wait(&h->ready, &h->lock);
    g_mutex_unlock(&h->lock);
    /* The name is set before the tid is published. */
}

static void spare_stop(Spare *h)
{
    ck_assert_int_eq(write(h->pipe[1], "x", 1), 1);
    pthread_join(h->thread, NULL);
    close(h->pipe[0]);
    close(h->pipe[1]);
}

static TopoCpuSet *self_allowed(void)
{
    TopoCpuSet *set = topo_cpuset_new();
    ck_assert_int_eq(sched_getaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(set)), 0);
    return set;
}

/* Cpus_allowed_list of /proc/self/task/TID/status. */
static char *proc_cpus_allowed(pid_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/status", (int)tid);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    char *line = strstr(text, "Cpus_allowed_list:");
    ck_assert_ptr_nonnull(line);
    line += strlen("Cpus_allowed_list:");
    char *end = strchr(line, '\n');
    return g_strstrip(g_strndup(line, end - line));
}

START_TEST(test_sched_parse)
{
    static const struct {
        const char *in, *out;
        int policy, priority;
    } ok[] = {
        {"fifo", "fifo:1", SCHED_FIFO, 1}, {"fifo:50", "fifo:50", SCHED_FIFO, 50},
        {"rr:99", "rr:99", SCHED_RR, 99},  {"batch", "batch", SCHED_BATCH, 0},
        {"idle", "idle", SCHED_IDLE, 0},   {"other", "other", SCHED_OTHER, 0},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
        QpinSched s = {0};
        GError *error = NULL;
        ck_assert_msg(qpin_sched_parse(ok[i].in, &s, &error), "%s", ok[i].in);
        ck_assert(s.set);
        ck_assert_int_eq(s.policy, ok[i].policy);
        ck_assert_int_eq(s.priority, ok[i].priority);
        g_autofree char *text = qpin_sched_format(&s);
        ck_assert_str_eq(text, ok[i].out);
    }
    const char *bad[] = {"",     "FIFO",   "fifo:",   "fifo:0",   "fifo:100",
                         "rr:x", "idle:1", "other:0", "fifo:1:2", "deadline"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        QpinSched s = {0};
        GError *error = NULL;
        ck_assert_msg(!qpin_sched_parse(bad[i], &s, &error), "'%s' must fail", bad[i]);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        ck_assert(!s.set);
        g_error_free(error);
    }
    QpinSched a = {TRUE, SCHED_BATCH, 0}, b = {TRUE, SCHED_BATCH, 5}, c = {TRUE, SCHED_FIFO, 1},
              d = {TRUE, SCHED_FIFO, 2};
    ck_assert(qpin_sched_equal(&a, &b));
    ck_assert(!qpin_sched_equal(&a, &c));
    ck_assert(!qpin_sched_equal(&c, &d));
}
END_TEST

/* Needs two allowed CPUs (main() skips it otherwise): each single CPU differs from the thread's
 * starting mask (all allowed CPUs), so every apply is a real change that the read-back sees. */
START_TEST(test_apply_and_read_back)
{
    Spare h;
    spare_start(&h);
    g_autoptr(TopoCpuSet) allowed = self_allowed();
    ck_assert_int_ge(topo_cpuset_count(allowed), 2);
    g_autofree char *allowed_text = topo_cpuset_format(allowed);
    GError *error = NULL;
    g_autoptr(TopoCpuSet) start = qpin_thread_affinity(h.tid, "spare", &error);
    ck_assert_msg(start, "%s", error ? error->message : "?");
    ck_assert(topo_cpuset_equal(start, allowed));
    /* Each allowed CPU in turn, then all of them. */
    g_autoptr(TopoCpuSet) previous = topo_cpuset_copy(start);
    for (int cpu = topo_cpuset_first(allowed); cpu >= 0; cpu = topo_cpuset_next(allowed, cpu)) {
        g_autoptr(TopoCpuSet) want = topo_cpuset_new_single(cpu);
        ck_assert_msg(qpin_thread_apply(h.tid, want, NULL, "spare", allowed, &error), "%s",
                      error ? error->message : "?");
        g_autoptr(TopoCpuSet) got = qpin_thread_affinity(h.tid, "spare", &error);
        ck_assert_ptr_nonnull(got);
        g_autofree char *got_text = topo_cpuset_format(got);
        g_autofree char *text = topo_cpuset_format(want);
        ck_assert_msg(topo_cpuset_equal(got, want), "applied CPU %s, read back %s", text, got_text);
        ck_assert_msg(!topo_cpuset_equal(got, start), "CPU %s: the mask is still %s", text,
                      allowed_text);
        ck_assert_msg(!topo_cpuset_equal(got, previous), "CPU %s: the mask did not change", text);
        g_autofree char *proc = proc_cpus_allowed(h.tid);
        ck_assert_str_eq(proc, text);
        g_clear_pointer(&previous, topo_cpuset_free);
        previous = g_steal_pointer(&got);
    }
    ck_assert(qpin_thread_apply(h.tid, allowed, NULL, "spare", allowed, &error));
    g_autoptr(TopoCpuSet) back = qpin_thread_affinity(h.tid, "spare", &error);
    ck_assert_ptr_nonnull(back);
    ck_assert(topo_cpuset_equal(back, allowed));
    ck_assert(!topo_cpuset_equal(back, previous));
    g_autofree char *proc = proc_cpus_allowed(h.tid);
    ck_assert_str_eq(proc, allowed_text);
    /* The main thread was not touched. */
    g_autofree char *main_proc = proc_cpus_allowed(gettid());
    ck_assert_str_eq(main_proc, allowed_text);
    spare_stop(&h);
}
END_TEST

START_TEST(test_policy_and_read_back)
{
    Spare h;
    spare_start(&h);
    QpinSched batch = {0}, got = {0};
    GError *error = NULL;
    ck_assert(qpin_sched_parse("batch", &batch, NULL));
    ck_assert_msg(qpin_thread_apply(h.tid, NULL, &batch, "spare", NULL, &error), "%s",
                  error ? error->message : "?");
    ck_assert(qpin_thread_sched(h.tid, &got, "spare", &error));
    ck_assert_int_eq(got.policy, SCHED_BATCH);
    ck_assert(qpin_sched_equal(&got, &batch));
    /* The main thread keeps its own policy. */
    ck_assert(qpin_thread_sched(gettid(), &got, "main", &error));
    ck_assert_int_ne(got.policy, SCHED_BATCH);
    spare_stop(&h);
}
END_TEST

START_TEST(test_einval_explained)
{
    Spare h;
    spare_start(&h);
    g_autoptr(TopoCpuSet) allowed = self_allowed();
    g_autoptr(TopoCpuSet) absent = topo_cpuset_new_single(TOPO_CPU_MAX - 1);
    GError *error = NULL;
    ck_assert(!qpin_thread_apply(h.tid, absent, NULL, "vCPU 3 (thread 42)", allowed, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_PIN);
    g_autofree char *allowed_text = topo_cpuset_format(allowed);
    g_autofree char *cpu = g_strdup_printf("to CPU %d:", TOPO_CPU_MAX - 1);
    ck_assert_msg(strstr(error->message, "vCPU 3 (thread 42)") && strstr(error->message, cpu) &&
                      strstr(error->message, "cpuset") && strstr(error->message, allowed_text),
                  "%s", error->message);
    g_clear_error(&error);
    /* Nothing changed. */
    g_autoptr(TopoCpuSet) got = qpin_thread_affinity(h.tid, "spare", NULL);
    ck_assert(topo_cpuset_equal(got, allowed));
    /* An empty set is refused before the kernel sees it. */
    g_autoptr(TopoCpuSet) empty = topo_cpuset_new();
    ck_assert(!qpin_thread_apply(h.tid, empty, NULL, "spare", NULL, &error));
    ck_assert_msg(strstr(error->message, "empty"), "%s", error->message);
    g_clear_error(&error);
    spare_stop(&h);
}
END_TEST

START_TEST(test_esrch_explained)
{
    Spare h;
    spare_start(&h);
    pid_t gone = h.tid;
    spare_stop(&h);
    /* pthread_join returns once the thread is done; the kernel frees the id right after. */
    for (int i = 0; i < 100 && qpin_thread_of(getpid(), gone, NULL); i++)
        usleep(1000);
    ck_assert(!qpin_thread_of(getpid(), gone, NULL));
    g_autoptr(TopoCpuSet) allowed = self_allowed();
    g_autoptr(TopoCpuSet) cpu0 = topo_cpuset_new_single(topo_cpuset_first(allowed));
    GError *error = NULL;
    ck_assert(!qpin_thread_apply(gone, cpu0, NULL, "vCPU 0", NULL, &error));
    ck_assert_msg(strstr(error->message, "is gone"), "%s", error->message);
    g_clear_error(&error);
    ck_assert_ptr_null(qpin_thread_affinity(gone, "vCPU 0", &error));
    ck_assert_msg(strstr(error->message, "vCPU 0"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(!qpin_thread_apply(0, cpu0, NULL, "vCPU 0", NULL, &error));
    ck_assert_msg(strstr(error->message, "thread id 0"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(!qpin_thread_apply(-1, cpu0, NULL, "vCPU 0", NULL, &error));
    g_clear_error(&error);
}
END_TEST

/* Another user's thread: EPERM, and the message names CAP_SYS_NICE. */
START_TEST(test_eperm_explained)
{
    pid_t target = getpid();
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t child = fork();
    if (child == 0) {
        close(out[0]);
        if (getuid() == 0) {
            struct passwd *nobody = getpwnam("nobody");
            uid_t uid = nobody ? nobody->pw_uid : 65534;
            if (setgid(uid) < 0 || setuid(uid) < 0)
                _exit(3);
        } else {
            target = 1; /* init belongs to root */
        }
        g_autoptr(TopoCpuSet) cpu0 = topo_cpuset_new_single(0);
        GError *error = NULL;
        if (qpin_thread_apply(target, cpu0, NULL, "vCPU 1 (thread 9)", NULL, &error))
            _exit(4);
        ssize_t n = write(out[1], error->message, strlen(error->message));
        _exit(n > 0 ? 0 : 5);
    }
    close(out[1]);
    char buf[1024] = {0};
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
    ck_assert_int_gt(n, 0);
    ck_assert_msg(strstr(buf, "not permitted") && strstr(buf, "CAP_SYS_NICE"), "%s", buf);
}
END_TEST

START_TEST(test_threads_list)
{
    Spare h;
    spare_start(&h);
    GError *error = NULL;
    g_autoptr(GPtrArray) threads = qpin_threads_list(getpid(), NULL, &error);
    ck_assert_msg(threads, "%s", error ? error->message : "?");
    gboolean main_seen = FALSE, spare_seen = FALSE;
    pid_t last = 0;
    for (guint i = 0; i < threads->len; i++) {
        const QpinThread *t = threads->pdata[i];
        ck_assert_int_gt(t->tid, last); /* ascending */
        last = t->tid;
        main_seen |= t->tid == getpid();
        if (t->tid == h.tid) {
            spare_seen = TRUE;
            ck_assert_str_eq(t->name, "qpin-spare");
        }
    }
    ck_assert(main_seen && spare_seen);
    g_autofree char *name = qpin_thread_name(getpid(), h.tid, NULL);
    ck_assert_str_eq(name, "qpin-spare");
    ck_assert(qpin_thread_of(getpid(), h.tid, NULL));
    ck_assert(!qpin_thread_of(getppid(), h.tid, NULL));
    ck_assert_int_eq(qpin_thread_tgid(h.tid, NULL, &error), getpid());
    spare_stop(&h);

    ck_assert_int_lt(qpin_thread_tgid(0, NULL, &error), 0);
    g_clear_error(&error);
    ck_assert_ptr_null(qpin_threads_list(0x7ffffff0, NULL, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_PIN);
    g_clear_error(&error);
}
END_TEST

/* /proc under another root: a fake tree with two threads. */
START_TEST(test_threads_proc_root)
{
    g_autofree char *root = g_dir_make_tmp("qpin-proc-XXXXXX", NULL);
    const char *files[][2] = {
        {"4242/task/4242/comm", "vmm\n"},
        {"4242/task/4250/comm", "CPU 0/KVM\n"},
        {"4242/task/999/comm", "call_rcu\n"},
        {"4250/status", "Name:\tCPU 0/KVM\nTgid:\t4242\nPid:\t4250\n"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(root, files[i][0], NULL);
        g_autofree char *dir = g_path_get_dirname(path);
        ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
        ck_assert(g_file_set_contents(path, files[i][1], -1, NULL));
    }
    g_autofree char *junk = g_build_filename(root, "4242/task/notanumber", NULL);
    ck_assert_int_eq(g_mkdir_with_parents(junk, 0700), 0);
    GError *error = NULL;
    g_autoptr(GPtrArray) threads = qpin_threads_list(4242, root, &error);
    ck_assert_msg(threads, "%s", error ? error->message : "?");
    ck_assert_uint_eq(threads->len, 3);
    ck_assert_int_eq(((QpinThread *)threads->pdata[0])->tid, 999);
    ck_assert_str_eq(((QpinThread *)threads->pdata[2])->name, "CPU 0/KVM");
    ck_assert_int_eq(qpin_thread_tgid(4250, root, &error), 4242);
    ck_assert(qpin_thread_of(4242, 4250, root));
    ck_assert(!qpin_thread_of(4242, 4251, root));
    /* Clean up the tree. */
    const char *dirs[] = {
        "4242/task/4242", "4242/task/4250", "4242/task/999", "4242/task/notanumber",
        "4242/task",      "4242",           "4250"};
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(root, files[i][0], NULL);
        unlink(path);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *path = g_build_filename(root, dirs[i], NULL);
        rmdir(path);
    }
    rmdir(root);
}
END_TEST

/* The one /proc/PID/status reader: numbers with or without a unit, missing and garbled lines. */
START_TEST(test_proc_status_value)
{
    const char *text = "Name:\tqemu\nTgid:\t4242\nPPid:\t1\nVmRSS:\t  81920 kB\nBad:\t12x\n"
                       "Empty:\t\n";
    guint64 v = 0;
    ck_assert(qpin_proc_status_value(text, "Tgid", &v));
    ck_assert_uint_eq(v, 4242);
    ck_assert(qpin_proc_status_value(text, "VmRSS", &v));
    ck_assert_uint_eq(v, 81920);
    ck_assert(!qpin_proc_status_value(text, "Bad", &v));
    ck_assert(!qpin_proc_status_value(text, "Empty", &v));
    ck_assert(!qpin_proc_status_value(text, "HugetlbPages", &v));
    /* "Tgid" is not "Tg". */
    ck_assert(!qpin_proc_status_value(text, "Tg", &v));
    g_autofree char *self = qpin_proc_status_read(getpid(), NULL, NULL);
    ck_assert_ptr_nonnull(self);
    ck_assert(qpin_proc_status_value(self, "Tgid", &v));
    ck_assert_uint_eq(v, (guint64)getpid());
    GError *error = NULL;
    ck_assert_ptr_null(qpin_proc_status_read(-1, NULL, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    g_error_free(error);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("affinity");
    TCase *tc = tcase_create("affinity");
    tcase_add_test(tc, test_sched_parse);
    tcase_add_test(tc, test_policy_and_read_back);
    tcase_add_test(tc, test_einval_explained);
    tcase_add_test(tc, test_esrch_explained);
    tcase_add_test(tc, test_eperm_explained);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("threads");
    tcase_add_test(th, test_threads_list);
    tcase_add_test(th, test_threads_proc_root);
    tcase_add_test(th, test_proc_status_value);
    suite_add_tcase(s, th);
    return s;
}

/* `test-affinity apply` runs only test_apply_and_read_back, registered as its own meson test so
 * that a machine giving this process a single CPU shows it as skipped rather than passed. */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "apply") == 0) {
        g_autoptr(TopoCpuSet) allowed = topo_cpuset_new();
        if (sched_getaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(allowed)) != 0)
            QPIN_BAIL_OUT("sched_getaffinity: %s", g_strerror(errno));
        g_autofree char *text = topo_cpuset_format(allowed);
        if (topo_cpuset_count(allowed) < 2)
            QPIN_SKIP_ALL("only CPU %s is allowed here: changing a thread's affinity and seeing it "
                          "change needs two CPUs",
                          text);
        Suite *s = suite_create("affinity-apply");
        TCase *tc = tcase_create("apply");
        tcase_add_test(tc, test_apply_and_read_back);
        suite_add_tcase(s, tc);
        return qpin_check_run(s);
    }
    return qpin_check_run(suite());
}
