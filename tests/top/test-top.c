/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of qpin-top's sampler against /proc snapshots taken at two instants (a fixture tree
 * written by the test, rewritten in place between the samples as the kernel regenerates its
 * files), of its KVM exit counts against a fake QMP peer answering query-stats the way
 * qapi/stats.json shapes it, of the text and JSON it feeds, and of the Prometheus textfile
 * writer. */
#include "qpin-error.h"
#include "qpin-output-top.h"
#include "qpin-top.h"
#include "qpin-check.h"

#include "fake-qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define PID 4000
#define SEC G_GINT64_CONSTANT(1000000000)

typedef struct {
    pid_t tid;
    const char *comm;
    const char *allowed;
    guint64 utime, stime;
    int cpu;
    guint64 run_ns, delay_ns;
    guint64 migrations, nvcsw, nivcsw;
} FakeThread;

static char *root;

/* Written in place (truncate, write): top keeps its descriptors open across samples, as it
 * does on /proc, so a rename would leave it reading the old file. */
static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f, "%s: %s", path, g_strerror(errno));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_thread(const FakeThread *t)
{
    g_autofree char *dir = g_strdup_printf("%s/%d/task/%d", root, PID, (int)t->tid);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *p = NULL;
    /* The command name holds a space and a parenthesis, as "CPU 0/KVM" and odd names do. */
    g_autofree char *stat = g_strdup_printf(
        "%d (%s) S 1 %d %d 0 -1 4194368 100 0 0 0 %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
        " 0 0 20 0 4 0 1000 1000000 500 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 %d 0 "
        "0 0 0 0 0 0 0 0 0 0 0 0\n",
        (int)t->tid, t->comm, PID, PID, t->utime, t->stime, t->cpu);
    put((p = g_strdup_printf("%s/stat", dir)), stat);
    g_free(p);
    g_autofree char *schedstat =
        g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " 7\n", t->run_ns, t->delay_ns);
    put((p = g_strdup_printf("%s/schedstat", dir)), schedstat);
    g_free(p);
    g_autofree char *sched = g_strdup_printf(
        "%s (%d, #threads: 4)\n-------------------------------------------------------------\n"
        "se.exec_start                                :        123456.789012\n"
        "se.nr_migrations                             :                   %" G_GUINT64_FORMAT
        "\nnr_switches                                  :                   1\n",
        t->comm, (int)t->tid, t->migrations);
    put((p = g_strdup_printf("%s/sched", dir)), sched);
    g_free(p);
    g_autofree char *status =
        g_strdup_printf("Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t1\n"
                        "Cpus_allowed:\tff\nCpus_allowed_list:\t%s\nMems_allowed_list:\t0\n"
                        "voluntary_ctxt_switches:\t%" G_GUINT64_FORMAT "\n"
                        "nonvoluntary_ctxt_switches:\t%" G_GUINT64_FORMAT "\n",
                        t->comm, PID, (int)t->tid, t->allowed, t->nvcsw, t->nivcsw);
    put((p = g_strdup_printf("%s/status", dir)), status);
    g_free(p);
    g_autofree char *comm = g_strdup_printf("%s\n", t->comm);
    put((p = g_strdup_printf("%s/comm", dir)), comm);
}

static void put_process(char state)
{
    g_autofree char *p = g_strdup_printf("%s/%d/stat", root, PID);
    g_autofree char *stat = g_strdup_printf("%d (qemu-system-x86) %c 1 %d\n", PID, state, PID);
    put(p, stat);
    g_autofree char *s = g_strdup_printf("%s/%d/status", root, PID);
    g_autofree char *status = g_strdup_printf("Name:\tqemu-system-x86\nState:\t%c\nTgid:\t%d\n"
                                              "Pid:\t%d\nPPid:\t1\n",
                                              state, PID, PID);
    put(s, status);
}

/* Four online host CPUs, CPU 0 offline (the header names the columns); rows with one count
 * (ERR, MIS) are totals, no per-CPU counts. */
static void put_interrupts(guint64 loc1, guint64 loc2, guint64 dev2, guint64 res2)
{
    g_autofree char *p = g_build_filename(root, "interrupts", NULL);
    g_autofree char *text = g_strdup_printf(
        "           CPU1       CPU2       CPU3       CPU4       \n"
        "  0:         40          0          0          0   IO-APIC   2-edge      timer\n"
        " 24:          0 %10" G_GUINT64_FORMAT "          0          0   PCI-MSI 1-edge  nvme0q1\n"
        "NMI:          0          0          0          0   Non-maskable interrupts\n"
        "LOC: %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT
        "       9000       9000   Local timer interrupts\n"
        "RES:          1 %10" G_GUINT64_FORMAT "          3          4   Rescheduling interrupts\n"
        "ERR: %10" G_GUINT64_FORMAT "\n"
        "MIS:          0\n",
        dev2, loc1, loc2, res2, res2);
    put(p, text);
}

/* vCPU 0 on CPU 1, vCPU 1 on CPU 2, an iothread and the main thread on CPU 0. */
static FakeThread threads[] = {
    {PID, "qemu-system-x86", "0", 10, 5, 0, 0, 0, 1, 10, 0},
    {PID + 1, "CPU 0/KVM", "1", 100, 20, 1, 0, 1000, 2, 50, 5},
    {PID + 2, "CPU 1/KVM", "2", 0, 0, 2, 0, 0, 0, 0, 0},
    {PID + 3, "IO io0", "0", 1, 1, 0, 0, 0, 0, 3, 0},
};

/* QEMU's memory as a TCG guest with two backends shows it (shapes taken from QEMU 7.2):
 * m0, 64 MiB of memory-backend-ram bound to host node 0, split in two mappings (a partial
 * madvise) with @m0_pages_n1 of its pages on node 1; m1, 32 MiB of memory-backend-memfd with
 * no policy; the 2 MiB ACPI tables block; TCG's code buffer (rwx, advised too); a thread stack
 * and the heap (not advised). */
static void put_memory_map(guint64 m0_pages_n1)
{
    static const char *const smaps_flags[][2] = {
        {"56286d9d1000-56286e9ad000 rw-p 00000000 00:00 0 [heap]", "rd wr mr mw me ac"},
        {"7f2efd800000-7f2efda00000 rw-p 00000000 00:00 0", "rd wr mr mw me dc ac hg mg"},
        {"7f2efddff000-7f2effdff000 rw-s 00000000 00:01 5178 /memfd:memory-backend-memfd "
         "(deleted)",
         "rd wr sh mr mw me ms dc hg"},
        {"7f2effe00000-7f2f01e00000 rw-p 00000000 00:00 0", "rd wr mr mw me dc ac hg mg"},
        {"7f2f01e00000-7f2f03e00000 rw-p 00000000 00:00 0", "rd wr mr mw me dc ac hg mg nh"},
        {"7f2f04000000-7f2f07fff000 rwxp 00000000 00:00 0", "rd wr ex mr mw me ac hg"},
        {"7f2f4857b000-7f2f48d7b000 rw-p 00000000 00:00 0", "rd wr mr mw me ac"},
    };
    g_autoptr(GString) smaps = g_string_new(NULL), maps = g_string_new(NULL);
    for (guint i = 0; i < G_N_ELEMENTS(smaps_flags); i++) {
        g_string_append_printf(smaps,
                               "%s\nSize:               4 kB\nRss:                0 kB\n"
                               "THPeligible:    0\nVmFlags: %s \n",
                               smaps_flags[i][0], smaps_flags[i][1]);
        g_string_append_printf(maps, "%s\n", smaps_flags[i][0]);
    }
    g_autofree char *numa = g_strdup_printf(
        "56286d9d1000 default heap anon=1094 dirty=1094 N0=1094 kernelpagesize_kB=4\n"
        "7f2efd800000 default anon=512 dirty=512 N0=512 kernelpagesize_kB=4\n"
        "7f2efddff000 default file=/memfd:memory-backend-memfd\\040(deleted) dirty=100 N0=100 "
        "kernelpagesize_kB=4\n"
        "7f2effe00000 bind:0 anon=8192 dirty=8192 N0=8192 kernelpagesize_kB=4\n"
        "7f2f01e00000 bind:0 anon=8192 dirty=8192 N0=%" G_GUINT64_FORMAT " N1=%" G_GUINT64_FORMAT
        " kernelpagesize_kB=4\n"
        "7f2f04000000 default anon=512 dirty=512 N0=512 kernelpagesize_kB=4\n"
        "7f2f4857b000 default anon=2 dirty=2 N0=2 kernelpagesize_kB=4\n",
        8192 - m0_pages_n1, m0_pages_n1);
    /* numa_maps leaves out zero counts, as the kernel does. */
    g_autofree char *clean = NULL;
    {
        g_autoptr(GString) c = g_string_new(numa);
        g_string_replace(c, " N1=0", "", 0);
        clean = g_string_free(g_steal_pointer(&c), FALSE);
    }
    g_autofree char *p1 = g_strdup_printf("%s/%d/smaps", root, PID);
    put(p1, smaps->str);
    g_autofree char *p2 = g_strdup_printf("%s/%d/maps", root, PID);
    put(p2, maps->str);
    g_autofree char *p3 = g_strdup_printf("%s/%d/numa_maps", root, PID);
    put(p3, clean);
}

static void fixture_setup(void)
{
    root = g_dir_make_tmp("qpin-top-XXXXXX", NULL);
    ck_assert_ptr_nonnull(root);
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        put_thread(&threads[i]);
    put_process('S');
    put_interrupts(5000, 6000, 70, 3);
    put_memory_map(0);
}

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        g_dir_close(dir);
    }
    remove(path);
}

static void fixture_teardown(void)
{
    remove_tree(root);
    g_clear_pointer(&root, g_free);
}

static QpinTopThread *thread_of(QpinTop *top, pid_t tid)
{
    for (guint i = 0; i < top->threads->len; i++) {
        QpinTopThread *t = g_ptr_array_index(top->threads, i);
        if (t->tid == tid)
            return t;
    }
    ck_abort_msg("thread %d not found", (int)tid);
    return NULL;
}

#define ck_assert_near(x, want)                                                                    \
    ck_assert_msg(fabs((x) - (want)) < 1e-6, "%s = %g, expected %g", #x, (double)(x),              \
                  (double)(want))

START_TEST(test_discovery_by_names)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert_uint_eq(qpin_top_count(top, QPIN_TOP_VCPU), 2);
    ck_assert_uint_eq(qpin_top_count(top, QPIN_TOP_IOTHREAD), 1);
    ck_assert_uint_eq(qpin_top_count(top, QPIN_TOP_EMULATOR), 1);
    QpinTopThread *first = g_ptr_array_index(top->threads, 0);
    ck_assert_int_eq(first->kind, QPIN_TOP_VCPU);
    ck_assert_int_eq(first->index, 0);
    ck_assert_int_eq(thread_of(top, PID + 2)->index, 1);
    ck_assert_str_eq(thread_of(top, PID + 3)->id, "io0");

    /* A process without vCPU names is refused, saying what would work. */
    threads[1].comm = "worker";
    threads[2].comm = "worker";
    put_thread(&threads[1]);
    put_thread(&threads[2]);
    threads[1].comm = "CPU 0/KVM";
    threads[2].comm = "CPU 1/KVM";
    g_autoptr(QpinTop) none = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_ptr_null(none);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    ck_assert_ptr_nonnull(strstr(error->message, "debug-threads=on"));
}
END_TEST

/* Every rate from two snapshots one second apart. */
START_TEST(test_rates)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 5 * SEC, &error));
    ck_assert_ptr_null(top->ended);
    QpinTopThread *v0 = thread_of(top, PID + 1);
    ck_assert_int_eq(v0->last_cpu, 1);
    ck_assert_near(v0->usage_pct, 0);
    ck_assert_uint_eq(top->host_cpus->len, 2); /* CPUs 1 and 2: the vCPUs' plans */

    long hz = sysconf(_SC_CLK_TCK);
    FakeThread next = threads[1];
    next.utime += (guint64)hz / 2;      /* half a second of user time */
    next.stime += (guint64)hz / 4;      /* and a quarter of system time: 75% of one CPU */
    next.delay_ns += 100 * 1000 * 1000; /* 100 ms waiting on a run queue: 10% steal */
    next.migrations += 3;
    next.nvcsw += 40;
    next.nivcsw += 8;
    put_thread(&next);
    put_interrupts(5000 + 250, 6000 + 1000, 70 + 12, 3 + 30);
    ck_assert(qpin_top_sample(top, 6 * SEC, &error));
    ck_assert_near(top->interval_s, 1.0);
    ck_assert_near(v0->usage_pct, 75.0);
    ck_assert_near(v0->steal_pct, 10.0);
    ck_assert_int_eq(v0->migrations, 3);
    ck_assert_near(v0->nvcsw_per_s, 40.0);
    ck_assert_near(v0->nivcsw_per_s, 8.0);
    ck_assert(!v0->drift);
    const QpinTopHostCpu *c1 = &g_array_index(top->host_cpus, QpinTopHostCpu, 0);
    const QpinTopHostCpu *c2 = &g_array_index(top->host_cpus, QpinTopHostCpu, 1);
    ck_assert_int_eq(c1->cpu, 1);
    ck_assert_near(c1->loc_per_s, 250.0);
    ck_assert_near(c1->irq_per_s, 0.0);
    ck_assert_near(c1->other_per_s, 0.0);
    ck_assert_int_eq(c2->cpu, 2);
    ck_assert_near(c2->loc_per_s, 1000.0);
    ck_assert_near(c2->irq_per_s, 12.0);
    ck_assert_near(c2->other_per_s, 30.0);

    /* Half a second later: the rates cover the time since the previous sample. */
    next.nvcsw += 10;
    put_thread(&next);
    ck_assert(qpin_top_sample(top, 6 * SEC + SEC / 2, &error));
    ck_assert_near(v0->nvcsw_per_s, 20.0);
    ck_assert_near(v0->usage_pct, 0.0);
    ck_assert_int_eq(v0->migrations, 0);
}
END_TEST

START_TEST(test_drift)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 0, &error));
    QpinTopThread *v1 = thread_of(top, PID + 2);
    ck_assert(!v1->drift);
    ck_assert(!qpin_top_any_drift(top));

    /* Moved behind top's back: the allowed CPUs differ from the plan at the next sample. */
    FakeThread moved = threads[2];
    moved.allowed = "0-3";
    put_thread(&moved);
    ck_assert(qpin_top_sample(top, SEC, &error));
    ck_assert(v1->drift);
    ck_assert_str_eq(v1->drift_reason, "allowed CPUs 0-3, planned 2");
    ck_assert(qpin_top_any_drift(top));
    ck_assert(!thread_of(top, PID + 1)->drift);

    /* Affinity put back, but it last ran elsewhere: still drift until it runs on its CPU. */
    moved.allowed = "2";
    moved.cpu = 3;
    put_thread(&moved);
    ck_assert(qpin_top_sample(top, 2 * SEC, &error));
    ck_assert(v1->drift);
    ck_assert_str_eq(v1->drift_reason, "ran on CPU 3, planned 2");

    moved.cpu = 2;
    put_thread(&moved);
    ck_assert(qpin_top_sample(top, 3 * SEC, &error));
    ck_assert(!v1->drift);
    ck_assert_ptr_null(v1->drift_reason);
}
END_TEST

static char *write_report(const char *vcpu1_cpus, const char *vcpu1_name, const char *command)
{
    g_autofree char *text = g_strdup_printf(
        "{\"schema_version\": 1, \"command\": \"%s\", \"qemu_pid\": %d, \"map\": \"1,2\",\n"
        " \"vcpus\": [{\"index\": 0, \"thread_id\": %d, \"thread_name\": \"CPU 0/KVM\", "
        "\"cpus\": \"1\"},\n"
        "            {\"index\": 1, \"thread_id\": %d, \"thread_name\": \"%s\", \"cpus\": "
        "\"%s\"}],\n"
        " \"emulator\": {\"cpus\": \"0\", \"threads\": [{\"thread_id\": %d, \"name\": "
        "\"qemu-system-x86\", \"cpus\": \"0\"}]},\n"
        " \"iothreads\": [{\"id\": \"io0\", \"thread_id\": %d, \"name\": \"IO io0\", \"cpus\": "
        "\"0\"}],\n"
        " \"numa\": [{\"guest_node\": 0, \"backend_id\": \"qpin-mem0\", \"size_bytes\": 8192, "
        "\"host_nodes\": \"0\", \"policy\": \"bind\", \"backend\": \"ram\", \"hugepage_kib\": 0, "
        "\"prealloc\": true}]}\n",
        command, PID, PID + 1, PID + 2, vcpu1_name, vcpu1_cpus, PID, PID + 3);
    char *path = g_build_filename(root, "report.json", NULL);
    put(path, text);
    return path;
}

static void put_memory(const char *numa_maps_line)
{
    g_autofree char *maps = g_strdup_printf("%s/%d/maps", root, PID);
    put(maps, "7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n");
    g_autofree char *numa = g_strdup_printf("%s/%d/numa_maps", root, PID);
    put(numa, numa_maps_line);
}

START_TEST(test_report)
{
    g_autoptr(GError) error = NULL;
    put_memory("7f0000000000 bind:0 anon=2 dirty=2 active=0 N0=2 kernelpagesize_kB=4\n");
    /* The report's plan, not the affinity at start, is what drift is measured against. */
    g_autofree char *path = write_report("1", "CPU 1/KVM", "run");
    g_autoptr(QpinTop) top = qpin_top_new_from_report(path, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert_str_eq(top->source, "report");
    ck_assert_int_eq(top->pid, PID);
    ck_assert_uint_eq(qpin_top_count(top, QPIN_TOP_VCPU), 2);
    ck_assert_str_eq(thread_of(top, PID + 3)->id, "io0");
    g_autofree char *emu = topo_cpuset_format(top->emulator_cpus);
    ck_assert_str_eq(emu, "0");
    ck_assert(qpin_top_sample(top, 0, &error));
    QpinTopThread *v1 = thread_of(top, PID + 2);
    ck_assert(v1->drift);
    ck_assert_str_eq(v1->drift_reason, "allowed CPUs 2, planned 1");
    g_autoptr(TopoCpuSet) map = qpin_top_map_cpus(top);
    g_autofree char *list = topo_cpuset_format(map);
    ck_assert_str_eq(list, "1");
    /* The guest memory: on its bound node. */
    ck_assert_ptr_nonnull(top->memory);
    ck_assert_uint_eq(top->memory->len, 1);
    const QpinMemPlacement *m = g_ptr_array_index(top->memory, 0);
    ck_assert(m->found);
    ck_assert(m->ok);
}
END_TEST

START_TEST(test_report_memory_off_node)
{
    g_autoptr(GError) error = NULL;
    put_memory("7f0000000000 bind:0 anon=2 dirty=2 active=0 N0=1 N1=1 kernelpagesize_kB=4\n");
    g_autofree char *path = write_report("2", "CPU 1/KVM", "pin");
    g_autoptr(QpinTop) top = qpin_top_new_from_report(path, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 0, &error));
    const QpinMemPlacement *m = g_ptr_array_index(top->memory, 0);
    ck_assert(!m->ok);
    ck_assert(qpin_top_any_drift(top));
    g_autofree char *json = qpin_output_top_json(top);
    ck_assert_ptr_nonnull(strstr(json, "\"off_node\":true"));
}
END_TEST

START_TEST(test_report_refused)
{
    g_autoptr(GError) error = NULL;
    put_memory("");
    /* A thread id reused by another thread of the process. */
    g_autofree char *renamed = write_report("2", "CPU 7/KVM", "run");
    g_autoptr(QpinTop) a = qpin_top_new_from_report(renamed, root, &error);
    ck_assert_ptr_null(a);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_ptr_nonnull(strstr(error->message, "restarted"));
    g_clear_error(&error);
    /* A plan has no running guest. */
    g_autofree char *plan = write_report("2", "CPU 1/KVM", "plan");
    g_autoptr(QpinTop) b = qpin_top_new_from_report(plan, root, &error);
    ck_assert_ptr_null(b);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    g_clear_error(&error);
    /* The QEMU of the report has ended. */
    g_autofree char *report = write_report("2", "CPU 1/KVM", "run");
    g_autofree char *status = g_strdup_printf("%s/%d/status", root, PID);
    ck_assert_int_eq(remove(status), 0);
    g_autoptr(QpinTop) ended = qpin_top_new_from_report(report, root, &error);
    ck_assert_ptr_null(ended);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_ptr_nonnull(strstr(error->message, "has ended"));
    g_clear_error(&error);
    /* Not a report at all. */
    g_autofree char *junk = g_build_filename(root, "junk.json", NULL);
    put(junk, "[1, 2]");
    g_autoptr(QpinTop) c = qpin_top_new_from_report(junk, root, &error);
    ck_assert_ptr_null(c);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    ck_assert_ptr_nonnull(strstr(error->message, "not a qpin report"));
}
END_TEST

/* A vCPU thread that ends ends top, naming it; a QEMU that became a zombie is QEMU ending. */
START_TEST(test_thread_ends)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 0, &error));
    g_autofree char *stat = g_strdup_printf("%s/%d/task/%d/stat", root, PID, PID + 2);
    put(stat, "");
    ck_assert(qpin_top_sample(top, SEC, &error));
    ck_assert_ptr_nonnull(top->ended);
    ck_assert_str_eq(top->ended, "vCPU 1 (thread 4002) of QEMU (process 4000) ended");

    g_autoptr(QpinTop) again = NULL;
    put_thread(&threads[2]);
    again = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(again, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(again, 0, &error));
    put(stat, "");
    put_process('Z');
    ck_assert(qpin_top_sample(again, SEC, &error));
    ck_assert_str_eq(again->ended, "QEMU (process 4000) ended");
}
END_TEST

static const char cpus_reply[] =
    "{\"return\": [{\"thread-id\": 4001, \"props\": {\"core-id\": 0, \"thread-id\": 0, "
    "\"socket-id\": 0}, \"qom-path\": \"/machine/unattached/device[0]\", \"cpu-index\": 0, "
    "\"target\": \"x86_64\"}, {\"thread-id\": 4002, \"props\": {\"core-id\": 0, \"thread-id\": "
    "0, \"socket-id\": 1}, \"qom-path\": \"/machine/unattached/device[1]\", \"cpu-index\": 1, "
    "\"target\": \"x86_64\"}], \"id\": @ID@}\r\n";
static const char iothreads_reply[] =
    "{\"return\": [{\"poll-shrink\": 0, \"thread-id\": 4003, \"poll-grow\": 0, \"poll-max-ns\": "
    "32768, \"id\": \"io0\", \"aio-max-batch\": 0}], \"id\": @ID@}\r\n";
static const char stats_args[] = "{\"target\": \"vcpu\", \"providers\": [{\"provider\": \"kvm\"}]}";

/* A StatsResult list as qapi/stats.json shapes it: per vCPU, provider kvm, its QOM path and a
 * list of {name, value} with scalar and histogram values; "guest_mode" is a boolean, as QEMU 7.2
 * under KVM sends it although the schema says uint64. */
static char *stats_reply(guint64 exits0, guint64 exits1)
{
    return g_strdup_printf(
        "{\"return\": [{\"provider\": \"kvm\", \"qom-path\": \"/machine/unattached/device[0]\", "
        "\"stats\": [{\"name\": \"guest_mode\", \"value\": false}, {\"name\": \"halt_wait_hist\", "
        "\"value\": [1, 2, 3]}, {\"name\": \"exits\", \"value\": %" G_GUINT64_FORMAT "}]}, "
        "{\"provider\": \"kvm\", \"qom-path\": \"/machine/unattached/device[1]\", \"stats\": "
        "[{\"name\": \"exits\", \"value\": %" G_GUINT64_FORMAT "}]}], \"id\": @ID@}\r\n",
        exits0, exits1);
}

/* The fixture's QEMU as the peer of the fake socket. */
static QpinQmpPeer *fixture_peer(void)
{
    return qpin_qmp_peer_new("/run/vm.qmp", PID, PID, root);
}

static QmpClient *client_of(FakeQmp *fake)
{
    g_autoptr(GError) error = NULL;
    fake_qmp_start(fake);
    QmpClient *qmp = qmp_client_new_from_fd(fake_qmp_take_client_fd(fake), &error);
    ck_assert_msg(qmp, "%s", error ? error->message : "");
    ck_assert_msg(qmp_client_handshake(qmp, &error), "%s", error ? error->message : "");
    return qmp;
}

START_TEST(test_kvm_exits)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, "query-cpus-fast", NULL, cpus_reply);
    fake_qmp_expect(fake, "query-iothreads", NULL, iothreads_reply);
    fake_qmp_expect(fake, "query-memdev", NULL, "{\"return\": [], \"id\": @ID@}\r\n");
    g_autofree char *r1 = stats_reply(1000, 20);
    g_autofree char *r2 = stats_reply(1500, 2020);
    fake_qmp_expect(fake, "query-stats", stats_args, r1);
    fake_qmp_expect(fake, "query-stats", stats_args, r2);
    g_autoptr(QmpClient) qmp = client_of(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = fixture_peer();
    g_autoptr(QpinTop) top = qpin_top_new_from_qmp(qmp, peer, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert_str_eq(top->source, "qmp");
    ck_assert_str_eq(thread_of(top, PID + 3)->id, "io0");
    ck_assert_int_eq(thread_of(top, PID)->kind, QPIN_TOP_EMULATOR);
    ck_assert(qpin_top_sample(top, 0, &error));
    ck_assert(top->kvm_stats);
    ck_assert(qpin_top_sample(top, 2 * SEC, &error));
    QpinTopThread *v0 = thread_of(top, PID + 1), *v1 = thread_of(top, PID + 2);
    ck_assert(v0->has_exits && v1->has_exits);
    ck_assert_near(v0->exits_per_s, 250.0);
    ck_assert_near(v1->exits_per_s, 1000.0);
    g_autofree char *json = qpin_output_top_json(top);
    ck_assert_ptr_nonnull(strstr(json, "\"kvm_exits_per_s\":1000.00"));
    g_autofree char *prom = qpin_output_top_prometheus(top);
    ck_assert_ptr_nonnull(
        strstr(prom, "qpin_vcpu_kvm_exits_per_second{qemu_pid=\"4000\",vcpu=\"0\",thread_id="
                     "\"4001\"} 250\n"));
    qmp_client_free(g_steal_pointer(&qmp));
    g_autofree char *verdict = fake_qmp_finish(fake);
    ck_assert_msg(!verdict, "%s", verdict);
}
END_TEST

/* TCG: query-stats answers an empty list; top does not ask again, shows no exits. */
START_TEST(test_kvm_exits_absent)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, "query-cpus-fast", NULL, cpus_reply);
    fake_qmp_expect(fake, "query-iothreads", NULL, "{\"return\": [], \"id\": @ID@}\r\n");
    fake_qmp_expect(fake, "query-memdev", NULL, "{\"return\": [], \"id\": @ID@}\r\n");
    fake_qmp_expect(fake, "query-stats", stats_args, "{\"return\": [], \"id\": @ID@}\r\n");
    g_autoptr(QmpClient) qmp = client_of(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = fixture_peer();
    g_autoptr(QpinTop) top = qpin_top_new_from_qmp(qmp, peer, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    /* The iothread QMP did not list is an emulator thread. */
    ck_assert_int_eq(thread_of(top, PID + 3)->kind, QPIN_TOP_EMULATOR);
    for (int i = 0; i < 3; i++)
        ck_assert(qpin_top_sample(top, i * SEC, &error));
    ck_assert(!top->kvm_stats);
    ck_assert(!thread_of(top, PID + 1)->has_exits);
    g_autofree char *json = qpin_output_top_json(top);
    ck_assert_ptr_null(strstr(json, "kvm_exits_per_s"));
    qmp_client_free(g_steal_pointer(&qmp));
    g_autofree char *verdict = fake_qmp_finish(fake);
    ck_assert_msg(!verdict, "%s", verdict);
}
END_TEST

/* A vCPU thread QMP names that is no thread of the socket's process is refused. */
START_TEST(test_qmp_foreign_thread)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    g_autofree char *reply = g_strdup(cpus_reply);
    char *at = strstr(reply, "4002");
    memcpy(at, "4999", 4);
    fake_qmp_expect(fake, "query-cpus-fast", NULL, reply);
    g_autoptr(QmpClient) qmp = client_of(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = fixture_peer();
    g_autoptr(QpinTop) top = qpin_top_new_from_qmp(qmp, peer, root, &error);
    ck_assert_ptr_null(top);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_ptr_nonnull(strstr(error->message, "4999"));
    qmp_client_free(g_steal_pointer(&qmp));
    g_autofree char *verdict = fake_qmp_finish(fake);
    ck_assert_msg(!verdict, "%s", verdict);
}
END_TEST

/* A process of the fixture: its status (Tgid, PPid) and the comm of its main thread. */
static void put_other_process(pid_t pid, const char *comm, pid_t ppid)
{
    g_autofree char *dir = g_strdup_printf("%s/%d/task/%d", root, (int)pid, (int)pid);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *status = g_strdup_printf("Name:\t%s\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\n", comm,
                                              (int)pid, (int)pid, (int)ppid);
    g_autofree char *s1 = g_strdup_printf("%s/%d/status", root, (int)pid);
    put(s1, status);
    g_autofree char *s2 = g_strdup_printf("%s/status", dir);
    put(s2, status);
    g_autofree char *line = g_strdup_printf("%s\n", comm);
    g_autofree char *c = g_strdup_printf("%s/comm", dir);
    put(c, line);
}

/* The QMP socket rule: the peer; --pid when it descends from the peer (any process when the
 * peer is pid 1); else refused, naming the socket's creator. Threads of a QEMU the peer started
 * are explained as a handed-down socket. Launcher 3000 started QEMU (PID); 5000 is a stranger. */
START_TEST(test_qmp_peer_rule)
{
    put_other_process(3000, "launcher", 1);
    put_other_process(5000, "stranger", 1);
    g_autofree char *s = g_strdup_printf("%s/%d/status", root, PID);
    g_autofree char *status = g_strdup_printf("Name:\tqemu-system-x86\nState:\tS\nTgid:\t%d\n"
                                              "Pid:\t%d\nPPid:\t3000\n",
                                              PID, PID);
    put(s, status);
    /* /proc/TID/status of vCPU 0's thread, as the kernel shows every thread there too. */
    g_autofree char *tdir = g_strdup_printf("%s/%d", root, PID + 1);
    g_mkdir_with_parents(tdir, 0755);
    g_autofree char *ts = g_strdup_printf("%s/status", tdir);
    g_autofree char *tstatus =
        g_strdup_printf("Name:\tCPU 0/KVM\nTgid:\t%d\nPid:\t%d\nPPid:\t3000\n", PID, PID + 1);
    put(ts, tstatus);

    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = qpin_qmp_peer_choose("/run/vm.qmp", 3000, 0, root, &error);
    ck_assert_msg(peer, "%s", error ? error->message : "");
    ck_assert_int_eq(peer->pid, 3000);
    ck_assert(!peer->by_pid);
    ck_assert_str_eq(peer->peer_comm, "launcher");
    /* No --pid: QEMU's thread is refused, the launcher named as the socket's creator. */
    qpin_qmp_peer_thread_error(peer, "vCPU 0", PID + 1, root, &error);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_msg(strstr(error->message, "the QMP socket /run/vm.qmp was created by process 3000 "
                                         "(launcher)") &&
                      strstr(error->message, "--pid 4000 if that is QEMU"),
                  "%s", error->message);
    g_clear_error(&error);
    /* A thread of a stranger is no handed-down socket. */
    qpin_qmp_peer_thread_error(peer, "vCPU 0", 5000, root, &error);
    ck_assert_msg(error && !strstr(error->message, "--pid") &&
                      strstr(error->message, "belongs to process 5000 (stranger)"),
                  "%s", error ? error->message : "");
    g_clear_error(&error);

    g_autoptr(QpinQmpPeer) child = qpin_qmp_peer_choose("/run/vm.qmp", 3000, PID, root, &error);
    ck_assert_msg(child, "%s", error ? error->message : "");
    ck_assert_int_eq(child->pid, PID);
    ck_assert(child->by_pid);
    g_autofree char *why = qpin_qmp_peer_describe(child);
    ck_assert_msg(g_str_has_prefix(why, "QEMU is process 4000 (--pid): process 3000 (launcher) "
                                        "created the QMP socket /run/vm.qmp"),
                  "%s", why);

    g_autoptr(QpinQmpPeer) same = qpin_qmp_peer_choose("/run/vm.qmp", 3000, 3000, root, &error);
    ck_assert(same && !same->by_pid);

    g_autoptr(QpinQmpPeer) stranger = qpin_qmp_peer_choose("/run/vm.qmp", 3000, 5000, root, &error);
    ck_assert_ptr_null(stranger);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_msg(strstr(error->message, "created by process 3000 (launcher)") &&
                      strstr(error->message, "process 5000 is neither"),
                  "%s", error->message);
    g_clear_error(&error);

    g_autoptr(QpinQmpPeer) absent = qpin_qmp_peer_choose("/run/vm.qmp", 3000, 6000, root, &error);
    ck_assert_ptr_null(absent);
    ck_assert_msg(error && strstr(error->message, "no process 6000 exists"), "%s",
                  error ? error->message : "");
    g_clear_error(&error);

    /* Under systemd the peer is pid 1: every process descends from it. */
    g_autoptr(QpinQmpPeer) init = qpin_qmp_peer_choose("/run/vm.qmp", 1, 5000, root, &error);
    ck_assert_msg(init && init->pid == 5000 && init->by_pid, "%s", error ? error->message : "");
}
END_TEST

/* qpin top --qmp --pid on that launcher's QEMU: watched; a vCPU thread not of --pid refused. */
START_TEST(test_qmp_peer_pid)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    g_autofree char *reply = g_strdup(cpus_reply);
    char *at = strstr(reply, "4002");
    memcpy(at, "5000", 4);
    fake_qmp_expect(fake, "query-cpus-fast", NULL, reply);
    put_other_process(3000, "launcher", 1);
    put_other_process(5000, "stranger", 3000);
    g_autoptr(QmpClient) qmp = client_of(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = qpin_qmp_peer_new("/run/vm.qmp", 3000, PID, root);
    g_autoptr(QpinTop) top = qpin_top_new_from_qmp(qmp, peer, root, &error);
    ck_assert_ptr_null(top);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PIN));
    ck_assert_msg(strstr(error->message, "belongs to process 5000 (stranger), not to process "
                                         "4000 (--pid"),
                  "%s", error->message);
    qmp_client_free(g_steal_pointer(&qmp));
    g_autofree char *verdict = fake_qmp_finish(fake);
    ck_assert_msg(!verdict, "%s", verdict);
}
END_TEST

static const QpinMemPlacement *memory_at(const QpinTop *top, guint64 address)
{
    for (guint i = 0; top->memory && i < top->memory->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(top->memory, i);
        if (p->address == address)
            return p;
    }
    ck_abort_msg("no memory backend at 0x%" G_GINT64_MODIFIER "x", address);
    return NULL;
}

static char *bound_text(const QpinMemPlacement *p)
{
    return p->bound_nodes ? topo_cpuset_format(p->bound_nodes) : g_strdup("(none)");
}

/* --pid: no report, no QMP. The RAM blocks are found in smaps, their nodes in numa_maps. */
START_TEST(test_memory_numa_maps)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert_str_eq(top->memory_source, "numa_maps");
    /* The 2 MiB block, TCG's rwx buffer, the stack and the heap are no guest memory. */
    ck_assert_uint_eq(top->ram_blocks->len, 2);
    top->memory_every_ns = 0;
    ck_assert(qpin_top_sample(top, 0, &error));
    ck_assert_uint_eq(top->memory->len, 2);
    const QpinMemPlacement *m1 = memory_at(top, 0x7f2efddff000);
    const QpinMemPlacement *m0 = memory_at(top, 0x7f2effe00000);
    ck_assert_uint_eq(m0->size_bytes, 64 << 20);
    ck_assert_uint_eq(m0->resident_bytes, 64 << 20);
    ck_assert_str_eq(m0->policy, "bind:0");
    g_autofree char *b0 = bound_text(m0);
    ck_assert_str_eq(b0, "0");
    ck_assert(m0->ok);
    /* No policy: nothing to judge against, and said so. */
    ck_assert_uint_eq(m1->size_bytes, 32 << 20);
    ck_assert_ptr_null(m1->bound_nodes);
    ck_assert(m1->ok && m1->found);
    ck_assert_ptr_null(m1->backend_id);
    ck_assert_int_eq(m1->guest_node, -1);
    ck_assert(!qpin_top_any_drift(top));
    g_autoptr(GString) text = g_string_new(NULL);
    qpin_output_top_text(top, QPIN_TOP_SORT_INDEX, FALSE, 0, text);
    ck_assert_msg(strstr(text->str, "0x7f2efddff000") && strstr(text->str, "not judged"), "%s",
                  text->str);

    /* 100 pages of the second half moved to node 1: off node at the next read. */
    put_memory_map(100);
    ck_assert(qpin_top_sample(top, SEC, &error));
    m0 = memory_at(top, 0x7f2effe00000);
    ck_assert(!m0->ok);
    ck_assert_str_eq(m0->problem, "400.0 KiB on host node 1, outside host node 0");
    ck_assert_uint_eq(g_array_index(m0->pages_per_node, guint64, 1), 100);
    ck_assert(memory_at(top, 0x7f2efddff000)->ok);
    ck_assert(qpin_top_any_drift(top));
    g_autofree char *json = qpin_output_top_json(top);
    ck_assert_ptr_nonnull(strstr(json, "\"memory_source\":\"numa_maps\""));
    ck_assert_ptr_nonnull(strstr(json, "\"off_node\":true"));
    ck_assert_ptr_nonnull(strstr(json, "\"bound_nodes\":null"));
    g_autofree char *prom = qpin_output_top_prometheus(top);
    ck_assert_msg(strstr(prom, "qpin_memory_off_node{qemu_pid=\"4000\",guest_node=\"\","
                               "backend=\"0x7f2effe00000\"} 1\n"),
                  "%s", prom);

    /* An smaps top cannot read is a /proc file it cannot read (exit 1), not misplaced memory. */
    g_autofree char *smaps = g_strdup_printf("%s/%d/smaps", root, PID);
    ck_assert_int_eq(remove(smaps), 0);
    g_autoptr(QpinTop) unread = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_ptr_null(unread);
    ck_assert_msg(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_FAILED), "%s", error->message);
    ck_assert_ptr_nonnull(strstr(error->message, "smaps"));
}
END_TEST

/* --qmp: query-memdev (qapi/machine.json Memdev) names the backends, their sizes, policies and
 * host nodes, in the order QEMU 7.2 lists them. */
static const char memdev_reply[] =
    "{\"return\": [{\"share\": true, \"reserve\": true, \"prealloc\": false, "
    "\"host-nodes\": [], \"size\": 33554432, \"merge\": true, \"dump\": true, \"policy\": "
    "\"default\", \"id\": \"m1\"}, {\"share\": false, \"reserve\": true, \"prealloc\": true, "
    "\"host-nodes\": [0], \"size\": 67108864, \"merge\": true, \"dump\": true, \"policy\": "
    "\"bind\", \"id\": \"m0\"}, {\"share\": false, \"reserve\": true, \"prealloc\": false, "
    "\"host-nodes\": [1], \"size\": 67108864, \"merge\": true, \"dump\": true, \"policy\": "
    "\"bind\", \"id\": \"m2\"}], \"id\": @ID@}\r\n";

static const QpinMemPlacement *memory_named(const QpinTop *top, const char *id)
{
    for (guint i = 0; top->memory && i < top->memory->len; i++) {
        const QpinMemPlacement *p = g_ptr_array_index(top->memory, i);
        if (!g_strcmp0(p->backend_id, id))
            return p;
    }
    ck_abort_msg("no memory backend %s", id);
    return NULL;
}

START_TEST(test_memory_qmp)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, "query-cpus-fast", NULL, cpus_reply);
    fake_qmp_expect(fake, "query-iothreads", NULL, "{\"return\": [], \"id\": @ID@}\r\n");
    fake_qmp_expect(fake, "query-memdev", NULL, memdev_reply);
    fake_qmp_expect(fake, "query-stats", stats_args, "{\"return\": [], \"id\": @ID@}\r\n");
    g_autoptr(QmpClient) qmp = client_of(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinQmpPeer) peer = fixture_peer();
    g_autoptr(QpinTop) top = qpin_top_new_from_qmp(qmp, peer, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert_str_eq(top->memory_source, "qmp");
    top->memory_every_ns = 0;
    ck_assert(qpin_top_sample(top, 0, &error));
    ck_assert_uint_eq(top->memory->len, 3);
    const QpinMemPlacement *m0 = memory_named(top, "m0"), *m1 = memory_named(top, "m1"),
                           *m2 = memory_named(top, "m2");
    ck_assert(m0->found && m0->ok);
    ck_assert_uint_eq(m0->address, 0x7f2effe00000);
    ck_assert_uint_eq(m0->resident_bytes, 64 << 20);
    g_autofree char *b0 = bound_text(m0);
    ck_assert_str_eq(b0, "0");
    /* The memfd without policy: found by its size among the default mappings, not judged. */
    ck_assert(m1->found && m1->ok);
    ck_assert_uint_eq(m1->address, 0x7f2efddff000);
    ck_assert_ptr_null(m1->bound_nodes);
    /* QEMU says m2 is bound to node 1, but no mapping of its size has that policy. */
    ck_assert(!m2->found && !m2->ok);
    ck_assert_msg(strstr(m2->problem, "policy bind:1"), "%s", m2->problem);

    put_memory_map(8192);
    ck_assert(qpin_top_sample(top, SEC, &error));
    m0 = memory_named(top, "m0");
    ck_assert(!m0->ok);
    ck_assert_str_eq(m0->problem, "32.0 MiB on host node 1, outside host node 0");
    g_autoptr(GString) text = g_string_new(NULL);
    qpin_output_top_text(top, QPIN_TOP_SORT_INDEX, FALSE, 0, text);
    ck_assert_msg(strstr(text->str, "OFF NODE: 32.0 MiB on host node 1"), "%s", text->str);
    qmp_client_free(g_steal_pointer(&qmp));
    g_autofree char *verdict = fake_qmp_finish(fake);
    ck_assert_msg(!verdict, "%s", verdict);
}
END_TEST

/* The order of the vCPU rows for each sort key: vCPU 0 busy on CPU 1, vCPU 1 waiting on CPU 2
 * (steal) and moved, so drifted. */
static gboolean row_before(const char *text, const char *first, const char *second)
{
    const char *a = strstr(text, first), *b = strstr(text, second);
    ck_assert_msg(a && b, "%s", text);
    return a < b;
}

START_TEST(test_sort)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 0, &error));
    long hz = sysconf(_SC_CLK_TCK);
    FakeThread busy = threads[1], waiting = threads[2];
    busy.utime += (guint64)hz / 2;
    waiting.delay_ns += 300 * 1000 * 1000;
    waiting.utime += (guint64)hz / 10;
    waiting.allowed = "0-3";
    waiting.cpu = 0;
    put_thread(&busy);
    put_thread(&waiting);
    ck_assert(qpin_top_sample(top, SEC, &error));
    static const struct {
        const char *key;
        gboolean drift_first, zero_first;
    } cases[] = {
        {"index", FALSE, TRUE}, {"usage", FALSE, TRUE}, {"steal", FALSE, FALSE},
        {"cpu", FALSE, FALSE},  {"usage", TRUE, FALSE}, {"index", TRUE, FALSE},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        QpinTopSort sort;
        ck_assert(qpin_output_top_sort_parse(cases[i].key, &sort));
        ck_assert_str_eq(qpin_output_top_sort_name(sort), cases[i].key);
        g_autoptr(GString) text = g_string_new(NULL);
        qpin_output_top_text(top, sort, cases[i].drift_first, 0, text);
        ck_assert_msg(row_before(text->str, "\n0  ", "\n1  ") == cases[i].zero_first,
                      "-s %s%s:\n%s", cases[i].key, cases[i].drift_first ? " (screen)" : "",
                      text->str);
    }
    QpinTopSort sort;
    ck_assert(!qpin_output_top_sort_parse("busy", &sort));
    ck_assert(!qpin_output_top_sort_parse(NULL, &sort));
}
END_TEST

START_TEST(test_text_and_json)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QpinTop) top = qpin_top_new_from_pid(PID, root, &error);
    ck_assert_msg(top, "%s", error ? error->message : "");
    ck_assert(qpin_top_sample(top, 0, &error));
    FakeThread moved = threads[2];
    moved.allowed = "0-3";
    put_thread(&moved);
    ck_assert(qpin_top_sample(top, SEC, &error));
    g_autoptr(GString) text = g_string_new(NULL);
    qpin_output_top_text(top, QPIN_TOP_SORT_USAGE, TRUE, 0, text);
    ck_assert_ptr_nonnull(strstr(text->str, "allowed CPUs 0-3, planned 2"));
    ck_assert_ptr_nonnull(strstr(text->str, "HOST CPU"));
    /* The drifted vCPU comes first on the screen. */
    const char *row1 = strstr(text->str, "\n1 ");
    const char *row0 = strstr(text->str, "\n0 ");
    ck_assert(row1 && row0 && row1 < row0);
    g_autofree char *json = qpin_output_top_json(top);
    ck_assert_int_eq(json[strlen(json) - 1], '\n');
    ck_assert_ptr_null(strchr(json, '\n') == json + strlen(json) - 1 ? NULL : json);
    g_autoptr(QmpJson) doc = json_tokener_parse(json);
    ck_assert_ptr_nonnull(doc);
    json_object *vcpus = NULL;
    ck_assert(json_object_object_get_ex(doc, "vcpus", &vcpus));
    json_object *v1 = json_object_array_get_idx(vcpus, 1);
    json_object *drift = NULL;
    ck_assert(json_object_object_get_ex(v1, "drift", &drift));
    ck_assert(json_object_get_boolean(drift));
}
END_TEST

START_TEST(test_textfile)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(root, "qpin.prom", NULL);
    ck_assert(qpin_top_textfile_check(path, &error));
    ck_assert(qpin_top_textfile_write(path, "a 1\n", 4, &error));
    struct stat st1, st2;
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert_int_eq(st1.st_mode & 07777, 0644);
    /* Replaced, not rewritten: a reader holding the old file never sees half of the new. */
    ck_assert(qpin_top_textfile_write(path, "a 2\n", 4, &error));
    ck_assert_int_eq(stat(path, &st2), 0);
    ck_assert_uint_ne(st1.st_ino, st2.st_ino);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    ck_assert_str_eq(text, "a 2\n");
    /* Nothing left behind in the directory but the file itself (and the fixture). */
    g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name(dir)))
        ck_assert_msg(!g_str_has_prefix(name, ".qpin.prom"), "left behind: %s", name);

    /* A FIFO, a symlink (even to a regular file) and a device are never replaced. */
    g_autofree char *fifo = g_build_filename(root, "fifo.prom", NULL);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    g_autofree char *link = g_build_filename(root, "null.prom", NULL);
    ck_assert_int_eq(symlink("/dev/null", link), 0);
    const char *refused[] = {fifo, link, "/dev/null"};
    for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
        ck_assert(!qpin_top_textfile_check(refused[i], &error));
        ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
        g_clear_error(&error);
        ck_assert(!qpin_top_textfile_write(refused[i], "x\n", 2, &error));
        g_clear_error(&error);
    }
    struct stat st;
    ck_assert_int_eq(lstat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    g_autofree char *missing = g_build_filename(root, "no-such-dir", "x.prom", NULL);
    ck_assert(!qpin_top_textfile_check(missing, &error));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("top");
    TCase *tc = tcase_create("top");
    tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
    tcase_add_test(tc, test_discovery_by_names);
    tcase_add_test(tc, test_rates);
    tcase_add_test(tc, test_drift);
    tcase_add_test(tc, test_report);
    tcase_add_test(tc, test_report_memory_off_node);
    tcase_add_test(tc, test_report_refused);
    tcase_add_test(tc, test_thread_ends);
    tcase_add_test(tc, test_kvm_exits);
    tcase_add_test(tc, test_kvm_exits_absent);
    tcase_add_test(tc, test_qmp_foreign_thread);
    tcase_add_test(tc, test_qmp_peer_rule);
    tcase_add_test(tc, test_qmp_peer_pid);
    tcase_add_test(tc, test_memory_numa_maps);
    tcase_add_test(tc, test_memory_qmp);
    tcase_add_test(tc, test_sort);
    tcase_add_test(tc, test_text_and_json);
    tcase_add_test(tc, test_textfile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
