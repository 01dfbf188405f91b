/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of plans and reports: the JSON document's fields and the human table, on a fixture
 * host (the seed's Xeon Phi 7250). */
#include "qpin-error.h"
#include "qpin-check.h"
#include "qpin-file-write.h"
#include "qpin-memory.h"
#include "qpin-mirror.h"
#include "qpin-output-report.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static TopoHost *fixture_host(void)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(root);
    g_autofree char *sysroot = g_build_filename(root, "tests/fixtures/hosts/xeon-phi-7250", NULL);
    GError *error = NULL;
    TopoHost *host = topo_host_read(sysroot, &error);
    ck_assert_msg(host, "%s", error ? error->message : "?");
    return host;
}

/* A report of 8 vCPUs (1 socket, 2 cores, 4 threads) pinned by the seed's formula. */
static QpinReport *sample(const TopoHost *host, gboolean pinned)
{
    QpinReport *r = qpin_report_new("run");
    r->host = host;
    r->qemu_pid = 4242;
    r->qemu_version = g_strdup("7.2.22");
    const char *argv[] = {"qemu-system-x86_64", "-S", "-name", "a,,b c\"d,debug-threads=on", NULL};
    r->qemu_argv = g_strdupv((char **)argv);
    r->map = g_strdup("expr:2 + v/4 + v%4*68");
    r->vcpu_sched = g_strdup("fifo:1");
    for (int v = 0; v < 8; v++) {
        QpinReportVcpu *x = qpin_report_add_vcpu(r);
        x->index = v;
        x->thread_id = 5000 + v;
        x->thread_name = g_strdup_printf("CPU %d/KVM", v);
        x->props.index = v;
        x->props.socket = 0;
        x->props.core = v / 4;
        x->props.thread = v % 4;
        if (pinned) {
            x->cpus = topo_cpuset_new_single(2 + v / 4 + v % 4 * 68);
            x->cpus_actual = topo_cpuset_copy(x->cpus);
            x->sched = g_strdup("fifo:1");
            x->sched_actual = g_strdup("fifo:1");
        }
    }
    if (pinned)
        r->emulator_cpus = topo_cpuset_parse("0-1,68-69", NULL);
    const char *names[] = {"vmm", "call_rcu", "IO mon_iothread"};
    for (int i = 0; i < 3; i++) {
        QpinReportThread *t = qpin_report_add_thread(r->emulator);
        t->thread_id = 4242 + (i ? i + 1 : 0);
        t->name = g_strdup(names[i]);
        if (pinned)
            t->cpus = topo_cpuset_copy(r->emulator_cpus);
        t->cpus_actual =
            pinned ? topo_cpuset_copy(r->emulator_cpus) : topo_cpuset_parse("0-271", NULL);
    }
    QpinReportThread *io = qpin_report_add_thread(r->iothreads);
    io->id = g_strdup("io0");
    io->thread_id = 4243;
    io->name = g_strdup("IO io0");
    io->cpus = topo_cpuset_parse("136", NULL);
    io->cpus_actual = topo_cpuset_parse("136", NULL);
    qpin_report_timing(r, "spawn_to_ready", 35.25);
    qpin_report_timing(r, "query", 4.5);
    qpin_report_timing(r, "pin", 0.25);
    qpin_report_timing(r, "query", 4.125); /* replaces */
    r->qmp_commands = 4;
    r->state = g_strdup("running");
    g_ptr_array_add(r->warnings, g_strdup("a warning"));
    return r;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
    ck_assert_msg(json_object_is_type(v, json_type_string), "'%s' is not a string", key);
    return json_object_get_string(v);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
    return v;
}

START_TEST(test_json_fields)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, TRUE);
    json_object *doc = qpin_output_report_json(r);
    ck_assert_str_eq(jstr(doc, "command"), "run");
    ck_assert_int_eq(json_object_get_int(jget(doc, "qemu_pid")), 4242);
    ck_assert_str_eq(jstr(doc, "qemu_version"), "7.2.22");
    ck_assert_str_eq(jstr(doc, "map"), "expr:2 + v/4 + v%4*68");
    ck_assert_str_eq(jstr(doc, "state"), "running");
    json_object *argv = jget(doc, "qemu_argv");
    ck_assert_int_eq(json_object_array_length(argv), 4);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(argv, 3)),
                     "a,,b c\"d,debug-threads=on");

    json_object *vcpus = jget(doc, "vcpus");
    ck_assert_int_eq(json_object_array_length(vcpus), 8);
    for (int v = 0; v < 8; v++) {
        json_object *x = json_object_array_get_idx(vcpus, v);
        ck_assert_int_eq(json_object_get_int(jget(x, "index")), v);
        ck_assert_int_eq(json_object_get_int64(jget(x, "thread_id")), 5000 + v);
        g_autofree char *cpu = g_strdup_printf("%d", 2 + v / 4 + v % 4 * 68);
        ck_assert_str_eq(jstr(x, "cpus"), cpu);
        ck_assert_str_eq(jstr(x, "cpus_actual"), cpu);
        ck_assert_str_eq(jstr(x, "host_nodes"), "0");
        /* Siblings of the host core the vCPU landed on: 2,70,138,206 for core 2. */
        g_autofree char *sib =
            g_strdup_printf("%d,%d,%d,%d", 2 + v / 4, 70 + v / 4, 138 + v / 4, 206 + v / 4);
        ck_assert_str_eq(jstr(x, "siblings"), sib);
        json_object *props = jget(x, "props");
        ck_assert_int_eq(json_object_get_int(jget(props, "core")), v / 4);
        ck_assert_int_eq(json_object_get_int(jget(props, "thread")), v % 4);
        ck_assert_int_eq(json_object_get_int(jget(props, "socket")), 0);
        /* Props QEMU did not report are absent, not -1. */
        ck_assert(!json_object_object_get_ex(props, "node", NULL));
        ck_assert(!json_object_object_get_ex(props, "die", NULL));
        ck_assert_str_eq(jstr(x, "sched"), "fifo:1");
    }
    json_object *emu = jget(doc, "emulator");
    ck_assert_str_eq(jstr(emu, "cpus"), "0-1,68-69");
    json_object *threads = jget(emu, "threads");
    ck_assert_int_eq(json_object_array_length(threads), 3);
    ck_assert_str_eq(jstr(json_object_array_get_idx(threads, 2), "name"), "IO mon_iothread");
    ck_assert_str_eq(jstr(json_object_array_get_idx(threads, 0), "cpus_actual"), "0-1,68-69");
    json_object *io = json_object_array_get_idx(jget(doc, "iothreads"), 0);
    ck_assert_str_eq(jstr(io, "id"), "io0");
    ck_assert_str_eq(jstr(io, "cpus"), "136");
    ck_assert_str_eq(jstr(io, "cpus_actual"), "136");
    json_object *t = jget(doc, "timings_ms");
    ck_assert_int_eq(json_object_object_length(t), 3);
    ck_assert(json_object_get_double(jget(t, "spawn_to_ready")) == 35.25);
    ck_assert(json_object_get_double(jget(t, "query")) == 4.125);
    ck_assert_int_eq(json_object_get_int(jget(doc, "qmp_commands")), 4);
    ck_assert_int_eq(json_object_array_length(jget(doc, "warnings")), 1);
    ck_assert(!json_object_object_get_ex(doc, "error", NULL));
    ck_assert(!json_object_object_get_ex(doc, "explain", NULL));
    json_object *h = jget(doc, "host");
    ck_assert_str_eq(jstr(h, "cpus_allowed"), "0-271");
    json_object_put(doc);
}
END_TEST

START_TEST(test_json_unpinned)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, FALSE);
    g_free(r->map);
    r->map = NULL;
    r->error = g_strdup("it went wrong");
    json_object *doc = qpin_output_report_json(r);
    ck_assert(json_object_is_type(jget(doc, "map"), json_type_null));
    json_object *x = json_object_array_get_idx(jget(doc, "vcpus"), 0);
    ck_assert(json_object_is_type(jget(x, "cpus"), json_type_null));
    ck_assert(!json_object_object_get_ex(x, "cpus_actual", NULL));
    ck_assert(json_object_is_type(jget(jget(doc, "emulator"), "cpus"), json_type_null));
    ck_assert_str_eq(jstr(doc, "error"), "it went wrong");
    json_object_put(doc);
}
END_TEST

START_TEST(test_table)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, TRUE);
    g_autoptr(GString) out = g_string_new(NULL);
    qpin_output_report_table(r, out);
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    ck_assert_msg(strstr(lines[0], "QEMU pid 4242 (7.2.22): 8 vCPUs, map expr:2 + v/4 + v%4*68"),
                  "%s", lines[0]);
    ck_assert_msg(strstr(lines[0], "guest running"), "%s", lines[0]);
    const char *columns[] = {"vCPU", "TID",       "name",      "socket",   "core", "thread",
                             "node", "host CPUs", "host node", "siblings", "sched"};
    for (gsize i = 0; i < G_N_ELEMENTS(columns); i++)
        ck_assert_msg(strstr(lines[1], columns[i]), "header lacks %s: %s", columns[i], lines[1]);
    ck_assert_msg(!strstr(lines[1], "die"), "%s", lines[1]);
    /* vCPU 5: core 1 thread 1 -> host CPU 2 + 1 + 68 = 71, siblings of host core 3. */
    g_auto(GStrv) row = g_strsplit_set(g_strstrip(lines[7]), " ", -1);
    g_autoptr(GPtrArray) cells = g_ptr_array_new();
    for (int i = 0; row[i]; i++)
        if (*row[i])
            g_ptr_array_add(cells, row[i]);
    const char *want[] = {"5", "5005", "CPU", "5/KVM",        "0",     "1", "1",
                          "-", "71",   "0",   "3,71,139,207", "fifo:1"};
    ck_assert_uint_eq(cells->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < cells->len; i++)
        ck_assert_str_eq(cells->pdata[i], want[i]);
    ck_assert_msg(strstr(out->str, "emulator threads: CPUs 0-1,68-69"), "%s", out->str);
    /* Every other CPU is written compactly. */
    topo_cpuset_free(r->emulator_cpus);
    r->emulator_cpus = topo_cpuset_parse("0-78:2", NULL);
    g_autoptr(GString) alt = g_string_new(NULL);
    qpin_output_report_table(r, alt);
    ck_assert_msg(strstr(alt->str, "emulator threads: CPUs 0-78:2\n"), "%s", alt->str);
    ck_assert_msg(strstr(out->str, "IO mon_iothread"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "iothreads:"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "timings (ms): spawn_to_ready 35.2, query 4.1, pin 0.2; 4 QMP"),
                  "%s", out->str);
    /* Columns line up: each left-aligned cell starts under its header. */
    g_auto(GStrv) raw = g_strsplit(out->str, "\n", -1);
    for (int i = 2; i < 10; i++) {
        int v = i - 2;
        g_autofree char *sib =
            g_strdup_printf("%d,%d,%d,%d", 2 + v / 4, 70 + v / 4, 138 + v / 4, 206 + v / 4);
        ck_assert_int_eq(strstr(raw[i], sib) - raw[i], strstr(raw[1], "siblings") - raw[1]);
        ck_assert_int_eq(strstr(raw[i], "fifo:1") - raw[i], strstr(raw[1], "sched") - raw[1]);
    }
}
END_TEST

/* Notes, guest nodes and a mirror: in the table as lines, in JSON as structured members. */
START_TEST(test_notes_nodes_mirror)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, TRUE);
    g_ptr_array_add(r->notes, qpin_note_new("probe-tcg", "asked under %s", "TCG"));
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    QpinNumaNode *node = qpin_memory_node_parse("4G@0:prealloc", 0, NULL);
    node->prealloc_threads = 16;
    node->prealloc_threads_auto = TRUE;
    g_ptr_array_add(nodes, node);
    r->numa_nodes = nodes;
    g_autoptr(QpinMirror) m = qpin_mirror_derive(host, "host", NULL);
    ck_assert_ptr_nonnull(m);
    r->mirror = m;
    TopoCpuSet *cpus[272];
    for (guint v = 0; v < m->n_vcpus; v++)
        cpus[v] = topo_cpuset_new_single(m->vcpu_cpu[v]);
    r->bare_metal = qpin_bare_metal_new(host, cpus, m->n_vcpus, nodes);
    for (guint v = 0; v < m->n_vcpus; v++)
        topo_cpuset_free(cpus[v]);

    g_autoptr(GString) out = g_string_new(NULL);
    qpin_output_report_table(r, out);
    ck_assert_msg(strstr(out->str, "\nnote: asked under TCG\n"), "%s", out->str);
    /* The memory plan's row: qpin's choice of preallocation threads is "16 auto". */
    ck_assert_msg(g_regex_match_simple("\n  0 +4\\.0 GiB +0 +bind +ram +base +16 auto +- *\n",
                                       out->str, 0, 0),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "\nmirror host: -smp 272,sockets=1,cores=68,threads=4 on host "
                                   "CPUs 0-271\n"),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "bare metal, same CPUs and memory: numactl --physcpubind=0-271 "
                                   "--membind=0 COMMAND\n"),
                  "%s", out->str);

    json_object *doc = qpin_output_report_json(r);
    json_object *note = json_object_array_get_idx(jget(doc, "notes"), 0);
    ck_assert_str_eq(jstr(note, "kind"), "probe-tcg");
    ck_assert_str_eq(jstr(note, "text"), "asked under TCG");
    json_object *n0 = json_object_array_get_idx(jget(doc, "numa"), 0);
    ck_assert_int_eq(json_object_get_int(jget(n0, "prealloc_threads")), 16);
    ck_assert(json_object_get_boolean(jget(n0, "prealloc_threads_auto")));
    ck_assert(!json_object_get_boolean(jget(n0, "host_nodes_auto")));
    json_object *mirror = jget(doc, "mirror");
    ck_assert_str_eq(jstr(mirror, "smp"), "272,sockets=1,cores=68,threads=4");
    ck_assert_int_eq(json_object_get_int(jget(mirror, "threads")), 4);
    json_object *taskset = jget(jget(mirror, "bare_metal"), "taskset");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(taskset, 2)), "0-271");
    /* The mirror's argv are the document's bare_metal ones. */
    json_object *bare = jget(doc, "bare_metal");
    ck_assert(json_object_equal(jget(jget(mirror, "bare_metal"), "numactl"), jget(bare, "numactl")));
    ck_assert(json_object_equal(taskset, jget(bare, "taskset")));
    ck_assert_str_eq(jstr(bare, "mems"), "0");
    ck_assert_str_eq(jstr(bare, "policy"), "bind");
    /* Every CPU of the host runs a vCPU: nothing is left to offline. */
    ck_assert(json_object_object_get_ex(bare, "offline_others", NULL));
    ck_assert_ptr_null(jget(bare, "offline_others"));
    json_object *srun = jget(bare, "srun");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(srun, 2)), "--ntasks=272");
    g_autoptr(GString) text = g_string_new(NULL);
    qpin_output_bare_metal_text(r->bare_metal, text);
    ck_assert_msg(strstr(text->str, "\n  taskset -c 0-271 COMMAND\n") &&
                      !strstr(text->str, "chcpu"),
                  "%s", text->str);
    json_object_put(doc);
    r->numa_nodes = NULL;
    r->mirror = NULL;
}
END_TEST

START_TEST(test_table_unpinned)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, FALSE);
    g_free(r->map);
    r->map = NULL;
    QpinReportThread *io = r->iothreads->pdata[0];
    topo_cpuset_free(io->cpus);
    io->cpus = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    qpin_output_report_table(r, out);
    ck_assert_msg(strstr(out->str, "map none (vCPUs not pinned)"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "emulator threads: not pinned"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "136 (not pinned)"), "%s", out->str);
    ck_assert_msg(!strstr(out->str, "sched"), "%s", out->str);
}
END_TEST

/* ---- writing the report like an editor ---- */

/* A report of @nvcpus vCPUs, without a host (no fixture needed). */
static QpinReport *sized_report(int nvcpus)
{
    QpinReport *r = qpin_report_new("plan");
    const char *argv[] = {"qemu-system-x86_64", "-object", "secret,id=s0,data=hunter2", NULL};
    r->qemu_argv = g_strdupv((char **)argv);
    for (int v = 0; v < nvcpus; v++) {
        QpinReportVcpu *x = qpin_report_add_vcpu(r);
        x->index = v;
        x->thread_id = 10000 + v;
        x->thread_name = g_strdup_printf("CPU %d/KVM", v);
        x->cpus = topo_cpuset_new_single(v);
    }
    return r;
}

/* The number of vCPUs in the report document @text, or -1 when it is no such document. */
static int report_vcpus(const char *text)
{
    json_object *doc = json_tokener_parse(text);
    json_object *vcpus = NULL;
    int n = doc && json_object_object_get_ex(doc, "vcpus", &vcpus)
                ? (int)json_object_array_length(vcpus)
                : -1;
    json_object_put(doc);
    return n;
}

static int file_vcpus(const char *path)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return report_vcpus(text);
}

static void write_ok(const QpinReport *r, const char *path)
{
    GError *error = NULL;
    ck_assert_msg(qpin_output_report_write(r, path, &error), "%s: %s", path,
                  error ? error->message : "?");
    ck_assert_ptr_null(error);
}

/* Writing fails; returns the message (owned). */
static char *write_fails(const QpinReport *r, const char *path)
{
    GError *error = NULL;
    ck_assert_msg(!qpin_output_report_write(r, path, &error), "writing %s succeeded", path);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_FAILED));
    char *msg = g_strdup(error->message);
    g_error_free(error);
    return msg;
}

static char *check_fails(const char *path)
{
    GError *error = NULL;
    ck_assert_msg(!qpin_report_path_check(path, &error), "check of '%s' passed", path);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    char *msg = g_strdup(error->message);
    g_error_free(error);
    return msg;
}

static void check_ok(const char *path)
{
    GError *error = NULL;
    ck_assert_msg(qpin_report_path_check(path, &error), "%s", error ? error->message : "?");
}

static void assert_has(const char *text, const char *part)
{
    ck_assert_msg(strstr(text, part), "'%s' lacks '%s'", text, part);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            rm_rf(child);
        }
        if (dir)
            g_dir_close(dir);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

/* The number of entries in @dir: a temporary file left behind would show here. */
static guint dir_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    ck_assert_ptr_nonnull(d);
    guint n = 0;
    while (g_dir_read_name(d))
        n++;
    g_dir_close(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, g_strerror(errno));
    return st.st_mode & 07777;
}

START_TEST(test_write_new_file)
{
    g_autoptr(QpinReport) r = sized_report(8);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "report.json", NULL);
    /* A new file holds QEMU's command line: 0600, not widened by umask 0 nor narrowed. */
    mode_t old_umask = umask(0);
    write_ok(r, path);
    umask(0277);
    g_autofree char *path2 = g_build_filename(dir, "report2.json", NULL);
    write_ok(r, path2);
    umask(old_umask);
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert_int_eq(mode_of(path2), 0600);
    ck_assert_int_eq(file_vcpus(path), 8);
    ck_assert_uint_eq(dir_entries(dir), 2);
    rm_rf(dir);
}
END_TEST

START_TEST(test_write_keeps_mode)
{
    g_autoptr(QpinReport) r = sized_report(3);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    const mode_t modes[] = {0600, 0640, 0444};
    for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autofree char *path = g_strdup_printf("%s/r%u.json", dir, modes[i]);
        ck_assert(g_file_set_contents(path, "old", -1, NULL));
        ck_assert_int_eq(chmod(path, modes[i]), 0);
        struct stat before, after;
        ck_assert_int_eq(stat(path, &before), 0);
        write_ok(r, path);
        ck_assert_int_eq(stat(path, &after), 0);
        ck_assert_int_eq(after.st_mode & 07777, modes[i]);
        ck_assert_int_eq(file_vcpus(path), 3);
        /* Replaced by a rename (readers never see half a file), not rewritten in place. */
        ck_assert(after.st_ino != before.st_ino);
    }
    ck_assert_uint_eq(dir_entries(dir), G_N_ELEMENTS(modes));
    rm_rf(dir);
}
END_TEST

/* Root only: the new file must be given the old one's owner back. */
START_TEST(test_write_keeps_owner)
{
    g_autoptr(QpinReport) r = sized_report(2);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "report.json", NULL);
    ck_assert(g_file_set_contents(path, "old", -1, NULL));
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(chown(path, 65534, 65534), 0);
    write_ok(r, path);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_uid, 65534);
    ck_assert_int_eq(st.st_gid, 65534);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    ck_assert_int_eq(file_vcpus(path), 2);
    rm_rf(dir);
}
END_TEST

START_TEST(test_write_hard_link)
{
    g_autoptr(QpinReport) r = sized_report(4);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "report.json", NULL);
    g_autofree char *other = g_build_filename(dir, "other-name.json", NULL);
    ck_assert(g_file_set_contents(path, "old content, longer than nothing", -1, NULL));
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(link(path, other), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    write_ok(r, path);
    ck_assert_int_eq(stat(path, &after), 0);
    /* Rewritten in place: both names still show the same, new file. */
    ck_assert(after.st_ino == before.st_ino);
    ck_assert_int_eq(after.st_nlink, 2);
    ck_assert_int_eq(after.st_mode & 07777, 0640);
    ck_assert_int_eq(file_vcpus(other), 4);
    rm_rf(dir);
}
END_TEST

START_TEST(test_write_symlink)
{
    g_autoptr(QpinReport) r = sized_report(5);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *sub = g_build_filename(dir, "sub", NULL);
    ck_assert_int_eq(g_mkdir(sub, 0700), 0);
    g_autofree char *target = g_build_filename(sub, "target.json", NULL);
    g_autofree char *link = g_build_filename(dir, "link.json", NULL);
    ck_assert(g_file_set_contents(target, "old", -1, NULL));
    ck_assert_int_eq(chmod(target, 0640), 0);
    ck_assert_int_eq(symlink("sub/target.json", link), 0);
    write_ok(r, link);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    g_autofree char *to = g_file_read_link(link, NULL);
    ck_assert_str_eq(to, "sub/target.json");
    ck_assert_int_eq(file_vcpus(target), 5);
    ck_assert_int_eq(mode_of(target), 0640);
    ck_assert_uint_eq(dir_entries(sub), 1);

    /* A dangling link: its target is created, 0600, and the link kept. */
    g_autofree char *dangling = g_build_filename(dir, "dangling.json", NULL);
    g_autofree char *created = g_build_filename(sub, "new.json", NULL);
    ck_assert_int_eq(symlink(created, dangling), 0);
    write_ok(r, dangling);
    ck_assert_int_eq(lstat(dangling, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(file_vcpus(created), 5);
    ck_assert_int_eq(mode_of(created), 0600);
    rm_rf(dir);
}
END_TEST

START_TEST(test_write_dev_null)
{
    g_autoptr(QpinReport) r = sized_report(2);
    struct stat before, after;
    ck_assert_int_eq(stat("/dev/null", &before), 0);
    check_ok("/dev/null");
    write_ok(r, "/dev/null");
    ck_assert_int_eq(lstat("/dev/null", &after), 0);
    ck_assert(S_ISCHR(after.st_mode));
    ck_assert(after.st_rdev == before.st_rdev);
    ck_assert(after.st_ino == before.st_ino);
}
END_TEST

START_TEST(test_write_dev_full)
{
    g_autoptr(QpinReport) r = sized_report(2);
    g_autofree char *msg = write_fails(r, "/dev/full");
    assert_has(msg, "cannot write the report /dev/full: No space left on device");
    struct stat st;
    ck_assert_int_eq(lstat("/dev/full", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
}
END_TEST

/* A pipe reached through /proc/self/fd/N (what /dev/stdout is) is written, not replaced. */
START_TEST(test_write_proc_fd_pipe)
{
    g_autoptr(QpinReport) r = sized_report(3);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", p[1]);
    write_ok(r, path);
    close(p[1]);
    char buf[65536];
    gsize got = 0;
    ssize_t n;
    while ((n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (gsize)n;
    buf[got] = '\0';
    close(p[0]);
    ck_assert_int_eq(report_vcpus(buf), 3);
}
END_TEST

/* The child: opens the FIFO for reading, says so on @ready, reads to the end and exits 0 when
 * it got a report of @nvcpus vCPUs. The read end is opened O_NONBLOCK so that opening does not
 * wait for the writer; poll() then waits for data (a FIFO never written to is not at EOF). */
static int fifo_reader(const char *fifo, int ready, int nvcpus)
{
    int fd = open(fifo, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return 2;
    /* The smallest pipe buffer: the writer must wait for this reader many times. */
    fcntl(fd, F_SETPIPE_SZ, 4096);
    if (write(ready, "r", 1) != 1)
        return 3;
    close(ready);
    GString *text = g_string_new(NULL);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return 4;
        char buf[512];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return 5;
        if (n > 0)
            g_string_append_len(text, buf, n);
    }
    return report_vcpus(text->str) == nvcpus ? 0 : 6;
}

START_TEST(test_write_fifo)
{
    /* Far larger than the pipe buffer: the write has to block for the reader. */
    const int nvcpus = 2000;
    g_autoptr(QpinReport) r = sized_report(nvcpus);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *fifo = g_build_filename(dir, "report.fifo", NULL);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);

    /* Nobody reads: a clear error at once, not a hang. */
    check_ok(fifo);
    g_autofree char *msg = write_fails(r, fifo);
    assert_has(msg, "no process has the FIFO open for reading");

    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(ready[0]);
        _exit(fifo_reader(fifo, ready[1], nvcpus));
    }
    close(ready[1]);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    write_ok(r, fifo);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status %d", status);
    struct stat st;
    ck_assert_int_eq(lstat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ck_assert_uint_eq(dir_entries(dir), 1);
    rm_rf(dir);
}
END_TEST

/* A reader that goes away mid-report: an error (EPIPE), and qpin is not killed by SIGPIPE. */
START_TEST(test_write_reader_gone)
{
    g_autoptr(QpinReport) r = sized_report(2000);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fcntl(p[0], F_SETPIPE_SZ, 4096);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(p[1]);
        char c;
        _exit(read(p[0], &c, 1) == 1 ? 0 : 1);
    }
    close(p[0]);
    g_autofree char *path = g_strdup_printf("/proc/self/fd/%d", p[1]);
    g_autofree char *msg = write_fails(r, path);
    assert_has(msg, "Broken pipe");
    close(p[1]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_write_refused)
{
    g_autoptr(QpinReport) r = sized_report(1);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);

    g_autofree char *msg = write_fails(r, dir);
    assert_has(msg, "is a directory");
    g_autofree char *cmsg = check_fails(dir);
    assert_has(cmsg, "--report ");
    assert_has(cmsg, "is a directory; give the name of a file");

    g_autofree char *sock = g_build_filename(dir, "s", NULL);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_strlcpy(addr.sun_path, sock, sizeof addr.sun_path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    g_autofree char *smsg = write_fails(r, sock);
    assert_has(smsg, "is a socket");
    g_autofree char *scmsg = check_fails(sock);
    assert_has(scmsg, "is a socket");
    close(fd);
    struct stat st;
    ck_assert_int_eq(lstat(sock, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));

    g_autofree char *missing = g_build_filename(dir, "missing", "report.json", NULL);
    g_autofree char *mmsg = write_fails(r, missing);
    assert_has(mmsg, "does not exist");
    ck_assert_uint_eq(dir_entries(dir), 1);
    rm_rf(dir);
}
END_TEST

START_TEST(test_path_check)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "report.json", NULL);
    check_ok(path);
    ck_assert_uint_eq(dir_entries(dir), 0);
    ck_assert(g_file_set_contents(path, "old", -1, NULL));
    check_ok(path);

    g_autofree char *empty = check_fails("");
    assert_has(empty, "empty path");
    g_autofree char *missing = g_build_filename(dir, "missing", "report.json", NULL);
    g_autofree char *mmsg = check_fails(missing);
    g_autofree char *want = g_strdup_printf("--report %s: directory %s/missing does not exist; "
                                            "create it first",
                                            missing, dir);
    assert_has(mmsg, want);
    /* A file where the directory should be. */
    g_autofree char *under_file = g_build_filename(path, "report.json", NULL);
    g_autofree char *fmsg = check_fails(under_file);
    assert_has(fmsg, under_file);
    g_autofree char *slash = g_strconcat(dir, "/newdir/", NULL);
    g_autofree char *smsg = check_fails(slash);
    assert_has(smsg, "names a directory");
    ck_assert_uint_eq(dir_entries(dir), 1);
    rm_rf(dir);
}
END_TEST

START_TEST(test_stream_write)
{
    FILE *full = fopen("/dev/full", "w");
    ck_assert_ptr_nonnull(full);
    GError *error = NULL;
    ck_assert(!qpin_stream_write(full, "some text\n", &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_FAILED));
    ck_assert_str_eq(error->message, "cannot write to the output: No space left on device");
    g_clear_error(&error);
    fclose(full);

    FILE *null = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(null);
    ck_assert(qpin_stream_write(null, "some text\n", &error));
    ck_assert_ptr_null(error);
    fclose(null);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, test_json_fields);
    tcase_add_test(tc, test_json_unpinned);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_table_unpinned);
    tcase_add_test(tc, test_notes_nodes_mirror);
    tcase_add_test(tc, test_write_new_file);
    tcase_add_test(tc, test_write_keeps_mode);
    if (geteuid() == 0)
        tcase_add_test(tc, test_write_keeps_owner);
    else
        printf("# test_write_keeps_owner left out: only root can give a file away\n");
    tcase_add_test(tc, test_write_hard_link);
    tcase_add_test(tc, test_write_symlink);
    tcase_add_test(tc, test_write_dev_null);
    tcase_add_test(tc, test_write_dev_full);
    tcase_add_test(tc, test_write_proc_fd_pipe);
    tcase_add_test(tc, test_write_fifo);
    tcase_add_test(tc, test_write_reader_gone);
    tcase_add_test(tc, test_write_refused);
    tcase_add_test(tc, test_path_check);
    tcase_add_test(tc, test_stream_write);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
