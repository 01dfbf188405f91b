/* Tests of plans and reports: the JSON document's fields and the human table, on a fixture
 * host (the seed's Xeon Phi 7250). */
#include "qpin-check.h"
#include "report.h"

#include <glib/gstdio.h>
#include <string.h>

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
    json_object *doc = qpin_report_to_json(r);
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
    json_object *doc = qpin_report_to_json(r);
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
    qpin_report_format(r, out);
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
    qpin_report_format(r, out);
    ck_assert_msg(strstr(out->str, "map none (vCPUs not pinned)"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "emulator threads: not pinned"), "%s", out->str);
    ck_assert_msg(strstr(out->str, "136 (not pinned)"), "%s", out->str);
    ck_assert_msg(!strstr(out->str, "sched"), "%s", out->str);
}
END_TEST

START_TEST(test_write)
{
    g_autoptr(TopoHost) host = fixture_host();
    g_autoptr(QpinReport) r = sample(host, TRUE);
    g_autofree char *dir = g_dir_make_tmp("qpin-report-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "report.json", NULL);
    GError *error = NULL;
    ck_assert_msg(qpin_report_write(r, path, &error), "%s", error ? error->message : "?");
    json_object *doc = json_object_from_file(path);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_object_array_length(jget(doc, "vcpus")), 8);
    json_object_put(doc);
    g_autofree char *bad = g_build_filename(dir, "missing", "report.json", NULL);
    ck_assert(!qpin_report_write(r, bad, &error));
    ck_assert_msg(strstr(error->message, "report"), "%s", error->message);
    g_clear_error(&error);
    g_unlink(path);
    g_rmdir(dir);
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
    tcase_add_test(tc, test_write);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
