/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of run/plan/pin option parsing and the --config file, and which of them wins. */
#include "qpin-error.h"
#include "qpin-options.h"
#include "qpin-check.h"

#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>

static QpinOptions *parse(QpinCommandKind command, const char *const *args, GError **error)
{
    return qpin_options_parse(command, (int)g_strv_length((char **)args), (char **)args, error);
}

/* Parses @args, which must succeed. */
static QpinOptions *parse_ok(QpinCommandKind command, const char *const *args)
{
    GError *error = NULL;
    QpinOptions *o = parse(command, args, &error);
    g_autofree char *joined = g_strjoinv(" ", (char **)args);
    ck_assert_msg(o, "'%s': %s", joined, error ? error->message : "?");
    return o;
}

static void assert_fails(QpinCommandKind command, const char *const *args, const char *needle)
{
    GError *error = NULL;
    QpinOptions *o = parse(command, args, &error);
    g_autofree char *joined = g_strjoinv(" ", (char **)args);
    ck_assert_msg(!o, "'%s' parsed but must fail", joined);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(error->domain == QPIN_ERROR && error->code == QPIN_ERROR_USAGE,
                  "'%s': wrong error %d: %s", joined, error->code, error->message);
    ck_assert_msg(strstr(error->message, needle), "'%s': message '%s' lacks '%s'", joined,
                  error->message, needle);
    g_error_free(error);
}

static char *write_config(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("qpin-config-XXXXXX.ini", &path, NULL);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void assert_argv(char **got, const char *const *want)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_strv_length(got), g_strv_length((char **)want));
    for (int i = 0; want[i]; i++)
        ck_assert_str_eq(got[i], want[i]);
}

START_TEST(test_run_options)
{
    const char *args[] = {"run", "--pin", "1,0", "--emulator-pin", "0", "--iothread-pin", "io0=1",
                          "--iothread-pin=io1=0-1", "--vcpu-sched", "fifo:5", "--no-cont", "-q",
                          "--report", "r.json", "--kill-timeout", "2.5", "--reserve", "3",
                          "--allow-overcommit", "--numa", "1G", "--numa", "2G@0", "--",
                          /* Options after -- belong to QEMU even when qpin knows them. */
                          "qemu-system-x86_64", "--pin", "x", "-q", "--", NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
    ck_assert_str_eq(o->pin, "1,0");
    ck_assert_str_eq(o->emulator_pin, "0");
    ck_assert_uint_eq(o->iothread_pins->len, 2);
    QpinIothreadPin *p0 = o->iothread_pins->pdata[0], *p1 = o->iothread_pins->pdata[1];
    ck_assert_str_eq(p0->id, "io0");
    ck_assert_str_eq(p0->cpus, "1");
    ck_assert_str_eq(p1->id, "io1");
    ck_assert_str_eq(p1->cpus, "0-1");
    ck_assert(o->sched.set);
    ck_assert_int_eq(o->sched.policy, SCHED_FIFO);
    ck_assert_int_eq(o->sched.priority, 5);
    ck_assert(!o->cont);
    ck_assert(o->quiet);
    ck_assert_str_eq(o->report, "r.json");
    ck_assert_int_eq(o->kill_timeout_ms, 2500);
    ck_assert_str_eq(o->reserve, "3");
    ck_assert(o->allow_overcommit);
    const char *numa[] = {"1G", "2G@0", NULL};
    assert_argv(o->numa, numa);
    const char *qemu[] = {"qemu-system-x86_64", "--pin", "x", "-q", "--", NULL};
    assert_argv(o->qemu_argv, qemu);
}
END_TEST

START_TEST(test_defaults_and_no_separator)
{
    const char *args[] = {"run", "--pin", "auto", "qemu-system-x86_64", "-smp", "2", NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
    const char *qemu[] = {"qemu-system-x86_64", "-smp", "2", NULL};
    assert_argv(o->qemu_argv, qemu);
    ck_assert(o->cont);
    ck_assert(!o->quiet && !o->json && !o->explain && !o->allow_overcommit);
    ck_assert_int_eq(o->kill_timeout_ms, QPIN_DEFAULT_KILL_TIMEOUT_MS);
    ck_assert(!o->sched.set);
    ck_assert_ptr_null(o->emulator_pin);

    const char *pin[] = {"pin", "--qmp", "/run/vm.qmp", "--pid", "1234", "--cont", NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, pin);
    ck_assert_str_eq(p->qmp, "/run/vm.qmp");
    ck_assert_int_eq(p->pid, 1234);
    ck_assert(p->cont);
    const char *pin2[] = {"pin", "--qmp", "s", NULL};
    g_autoptr(QpinOptions) p2 = parse_ok(QPIN_COMMAND_PIN, pin2);
    ck_assert(p2 && !p2->cont);

    const char *plan[] = {"plan", "--sysroot", "/fixture", "--json", "--explain", "--", "q", NULL};
    g_autoptr(QpinOptions) pl = parse_ok(QPIN_COMMAND_PLAN, plan);
    ck_assert_str_eq(pl->sysroot, "/fixture");
    ck_assert(pl->json && pl->explain);
}
END_TEST

START_TEST(test_help)
{
    const char *args[] = {"plan", "--pin", "x", "--help", NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_PLAN, args);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(o->help);
    ck_assert_msg(strstr(o->help, "--sysroot") && strstr(o->help, "--pin"), "%s", o->help);
    /* run has no --sysroot; pin has --qmp. */
    const char *run[] = {"run", "-h", NULL};
    g_autoptr(QpinOptions) r = parse_ok(QPIN_COMMAND_RUN, run);
    ck_assert(r && r->help && !strstr(r->help, "--sysroot") && strstr(r->help, "--no-cont"));
    const char *pin[] = {"pin", "--help", NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, pin);
    ck_assert(p && p->help && strstr(p->help, "--qmp"));
}
END_TEST

START_TEST(test_errors)
{
    const char *unknown[] = {"run", "--bogus", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, unknown, "--bogus");
    const char *both[] = {"run", "--cont", "--no-cont", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, both, "contradict");
    const char *sched[] = {"run", "--vcpu-sched", "fast", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, sched, "unknown policy 'fast'");
    const char *prio[] = {"run", "--vcpu-sched", "fifo:100", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, prio, "1 to 99");
    const char *batchprio[] = {"run", "--vcpu-sched", "batch:3", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, batchprio, "only fifo and rr");
    const char *io[] = {"run", "--iothread-pin", "io0", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, io, "ID=CPUS");
    const char *io2[] = {"run", "--iothread-pin", "=1", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, io2, "ID=CPUS");
    const char *dup[] = {"run", "--iothread-pin", "a=1", "--iothread-pin", "a=2", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, dup, "given twice");
    const char *noqemu[] = {"run", "--pin", "1", NULL};
    assert_fails(QPIN_COMMAND_RUN, noqemu, "no QEMU command");
    const char *noqemu2[] = {"plan", "--", NULL};
    assert_fails(QPIN_COMMAND_PLAN, noqemu2, "no QEMU command");
    const char *noqmp[] = {"pin", "--pin", "1", NULL};
    assert_fails(QPIN_COMMAND_PIN, noqmp, "--qmp SOCKET is required");
    const char *positional[] = {"pin", "--qmp", "s", "qemu", NULL};
    assert_fails(QPIN_COMMAND_PIN, positional, "unexpected argument 'qemu'");
    const char *timeout[] = {"run", "--kill-timeout", "-1", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, timeout, "--kill-timeout '-1'");
    const char *timeout2[] = {"run", "--kill-timeout", "5s", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, timeout2, "seconds");
    const char *pid[] = {"pin", "--qmp", "s", "--pid", "0", NULL};
    assert_fails(QPIN_COMMAND_PIN, pid, "--pid '0'");
    /* Options of other commands are refused. */
    const char *sysroot[] = {"run", "--sysroot", "/x", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, sysroot, "--sysroot");
    const char *nocont[] = {"plan", "--no-cont", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_PLAN, nocont, "--no-cont");
    const char *config[] = {"run", "--config", "/nonexistent/qpin.ini", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, config, "/nonexistent/qpin.ini");
}
END_TEST

START_TEST(test_config_file)
{
    g_autofree char *path =
        write_config("# the seed's guest, shrunk\n"
                     "[qemu]\n"
                     "binary = qemu-system-x86_64\n"
                     "args = -accel kvm -name 'a,,b c\"d' -append \"x $(y) ; z\" -smp 4\n"
                     "[qpin]\n"
                     "pin = expr:2 + v/4 + v%4*68\n"
                     "emulator-pin = 0,1\n"
                     "iothread-pin = io0=2;io1=3\n"
                     "vcpu-sched = rr:7\n"
                     "reserve = 5\n"
                     "allow-overcommit = true\n"
                     "cont = false\n"
                     "kill-timeout = 3\n"
                     "report = /tmp/r.json\n"
                     "quiet = true\n"
                     "[numa.0]\n"
                     "size = 1G\n");
    const char *args[] = {"run", "--config", path, NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
    const char *qemu[] = {"qemu-system-x86_64", "-accel", "kvm", "-name", "a,,b c\"d", "-append",
                          "x $(y) ; z",         "-smp",   "4",   NULL};
    assert_argv(o->qemu_argv, qemu);
    ck_assert_str_eq(o->pin, "expr:2 + v/4 + v%4*68");
    ck_assert_str_eq(o->emulator_pin, "0,1");
    ck_assert_uint_eq(o->iothread_pins->len, 2);
    ck_assert_str_eq(((QpinIothreadPin *)o->iothread_pins->pdata[1])->cpus, "3");
    ck_assert(o->sched.set && o->sched.policy == SCHED_RR && o->sched.priority == 7);
    ck_assert_str_eq(o->reserve, "5");
    ck_assert(o->allow_overcommit);
    ck_assert(!o->cont);
    ck_assert_int_eq(o->kill_timeout_ms, 3000);
    ck_assert_str_eq(o->report, "/tmp/r.json");
    ck_assert(o->quiet);
    ck_assert_ptr_nonnull(o->keyfile);
    ck_assert(g_key_file_has_group(o->keyfile, "numa.0"));
    g_unlink(path);
}
END_TEST

START_TEST(test_command_line_overrides_config)
{
    g_autofree char *path = write_config("[qemu]\n"
                                         "args = -smp 8\n"
                                         "[qpin]\n"
                                         "pin = 0-7\n"
                                         "emulator-pin = 0\n"
                                         "iothread-pin = io0=2;io1=3\n"
                                         "vcpu-sched = batch\n"
                                         "cont = false\n"
                                         "kill-timeout = 3\n");
    const char *args[] = {"run",
                          "--config",
                          path,
                          "--pin",
                          "1,0",
                          "--cont",
                          "--iothread-pin",
                          "io1=0",
                          "--vcpu-sched",
                          "idle",
                          "--kill-timeout",
                          "0.5",
                          "--",
                          "/opt/qemu",
                          "-smp",
                          "2",
                          NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
    ck_assert_str_eq(o->pin, "1,0");
    ck_assert_str_eq(o->emulator_pin, "0"); /* not on the command line: from the file */
    ck_assert(o->cont);
    ck_assert_int_eq(o->sched.policy, SCHED_IDLE);
    ck_assert_int_eq(o->kill_timeout_ms, 500);
    /* The command line's QEMU replaces the file's binary and args as a whole. */
    const char *qemu[] = {"/opt/qemu", "-smp", "2", NULL};
    assert_argv(o->qemu_argv, qemu);
    /* Iothread pins merge by id, the command line winning. */
    ck_assert_uint_eq(o->iothread_pins->len, 2);
    for (guint i = 0; i < o->iothread_pins->len; i++) {
        QpinIothreadPin *p = o->iothread_pins->pdata[i];
        ck_assert_str_eq(p->cpus, !strcmp(p->id, "io1") ? "0" : "2");
    }

    /* --no-cont over the file's cont = true; the binary defaults when only args are given. */
    g_autofree char *path2 = write_config("[qemu]\nargs = -m 1G\n[qpin]\ncont = true\n");
    const char *args2[] = {"run", "--config", path2, "--no-cont", NULL};
    g_autoptr(QpinOptions) o2 = parse_ok(QPIN_COMMAND_RUN, args2);
    ck_assert(!o2->cont);
    const char *qemu2[] = {"qemu-system-x86_64", "-m", "1G", NULL};
    assert_argv(o2->qemu_argv, qemu2);
    g_unlink(path);
    g_unlink(path2);
}
END_TEST

START_TEST(test_config_errors)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"[qpin]\npinn = 1\n", "[qpin] pinn: unknown key"},
        {"[qemu]\nbinaryy = q\n", "[qemu] binaryy: unknown key"},
        {"[run]\npin = 1\n", "unknown section [run]"},
        {"[numa.x]\nsize = 1G\n", "[numa.N]"},
        {"[qpin]\ncont = maybe\n", "[qpin] cont: expected true or false"},
        {"[qpin]\nkill-timeout = soon\n", "[qpin] kill-timeout"},
        {"[qpin]\nvcpu-sched = fifo:0\n", "1 to 99"},
        {"[qpin]\niothread-pin = io0\n", "[qpin] iothread-pin 'io0': expected ID=CPUS"},
        {"[qemu]\nargs = -name 'unterminated\n", "[qemu] args"},
        {"not an ini file\n", "cannot read config file"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = write_config(cases[i].text);
        const char *args[] = {"run", "--config", path, "--", "q", NULL};
        assert_fails(QPIN_COMMAND_RUN, args, cases[i].needle);
        /* Every message names the file. */
        GError *error = NULL;
        ck_assert_ptr_null(parse(QPIN_COMMAND_RUN, args, &error));
        ck_assert_msg(strstr(error->message, path), "%s", error->message);
        g_error_free(error);
        g_unlink(path);
    }
}
END_TEST

START_TEST(test_config_per_command_keys)
{
    g_autofree char *path = write_config("[qpin]\nqmp = /run/vm.qmp\npid = 77\nsysroot = /fx\n"
                                         "pin = 1\n");
    const char *pin[] = {"pin", "--config", path, NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, pin);
    ck_assert_str_eq(p->qmp, "/run/vm.qmp");
    ck_assert_int_eq(p->pid, 77);
    ck_assert_ptr_null(p->sysroot);
    ck_assert_ptr_null(p->qemu_argv);
    const char *pin2[] = {"pin", "--config", path, "--qmp", "/other", "--pid", "78", NULL};
    g_autoptr(QpinOptions) p2 = parse_ok(QPIN_COMMAND_PIN, pin2);
    ck_assert_str_eq(p2->qmp, "/other");
    ck_assert_int_eq(p2->pid, 78);
    const char *plan[] = {"plan", "--config", path, "--", "q", NULL};
    g_autoptr(QpinOptions) pl = parse_ok(QPIN_COMMAND_PLAN, plan);
    ck_assert_str_eq(pl->sysroot, "/fx");
    ck_assert_ptr_null(pl->qmp);
    g_unlink(path);
}
END_TEST

/* --numa-dist, --mirror and --mirror-memory: from the command line over the file, run and plan
 * only, and a bad --numa-dist refused with what would be right. */
START_TEST(test_shape_options)
{
    g_autofree char *path = write_config("[qpin]\nnuma-dist = off\nmirror = node=1\n"
                                         "mirror-memory = 16G:prealloc\n");
    const char *plan[] = {"plan", "--config", path, "--", "q", NULL};
    g_autoptr(QpinOptions) pl = parse_ok(QPIN_COMMAND_PLAN, plan);
    ck_assert(pl->numa_dist_off);
    ck_assert_str_eq(pl->mirror, "node=1");
    ck_assert_str_eq(pl->mirror_memory, "16G:prealloc");
    const char *run[] = {"run",  "--config",        path,   "--numa-dist", "auto", "--mirror",
                         "host", "--mirror-memory", "1G",   "--",          "q",    NULL};
    g_autoptr(QpinOptions) r = parse_ok(QPIN_COMMAND_RUN, run);
    ck_assert(!r->numa_dist_off);
    ck_assert_str_eq(r->mirror, "host");
    ck_assert_str_eq(r->mirror_memory, "1G");
    const char *pin[] = {"pin", "--config", path, "--qmp", "/s", NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, pin);
    ck_assert_ptr_null(p->mirror);
    const char *bad[] = {"run", "--numa-dist", "yes", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, bad, "--numa-dist 'yes': expected auto");
    const char *pin_mirror[] = {"pin", "--qmp", "/s", "--mirror", "host", NULL};
    assert_fails(QPIN_COMMAND_PIN, pin_mirror, "--mirror");
    g_unlink(path);
    g_autofree char *bad_file = write_config("[qpin]\nnuma-dist = maybe\n");
    const char *from_file[] = {"plan", "--config", bad_file, "--", "q", NULL};
    assert_fails(QPIN_COMMAND_PLAN, from_file, "[qpin] numa-dist 'maybe'");
    g_unlink(bad_file);
}
END_TEST

/* --bare-metal is plan's, --reserve-hugepages run's; their config keys apply to those commands
 * only, and the command line wins. */
START_TEST(test_twin_and_hugepage_options)
{
    const char *plan[] = {"plan", "--bare-metal", "--", "q", NULL};
    g_autoptr(QpinOptions) pl = parse_ok(QPIN_COMMAND_PLAN, plan);
    ck_assert(pl->bare_metal);
    ck_assert(!pl->reserve_hugepages);
    const char *run[] = {"run", "--reserve-hugepages", "--", "q", NULL};
    g_autoptr(QpinOptions) r = parse_ok(QPIN_COMMAND_RUN, run);
    ck_assert(r->reserve_hugepages);
    ck_assert(!r->bare_metal);
    const char *plan_reserve[] = {"plan", "--reserve-hugepages", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_PLAN, plan_reserve, "--reserve-hugepages");
    const char *run_bare[] = {"run", "--bare-metal", "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, run_bare, "--bare-metal");
    const char *pin_reserve[] = {"pin", "--qmp", "/s", "--reserve-hugepages", NULL};
    assert_fails(QPIN_COMMAND_PIN, pin_reserve, "--reserve-hugepages");

    g_autofree char *path = write_config("[qpin]\nbare-metal = true\nreserve-hugepages = true\n");
    const char *plan_file[] = {"plan", "--config", path, "--", "q", NULL};
    g_autoptr(QpinOptions) pf = parse_ok(QPIN_COMMAND_PLAN, plan_file);
    ck_assert(pf->bare_metal);
    ck_assert(!pf->reserve_hugepages);
    const char *run_file[] = {"run", "--config", path, "--", "q", NULL};
    g_autoptr(QpinOptions) rf = parse_ok(QPIN_COMMAND_RUN, run_file);
    ck_assert(rf->reserve_hugepages);
    ck_assert(!rf->bare_metal);
    g_unlink(path);
    g_autofree char *bad = write_config("[qpin]\nreserve-hugepages = please\n");
    const char *run_bad[] = {"run", "--config", bad, "--", "q", NULL};
    assert_fails(QPIN_COMMAND_RUN, run_bad, "[qpin] reserve-hugepages");
    g_unlink(bad);
}
END_TEST

/* Parses `run --config FILE -- q` for a file holding @text and checks the whole message. */
static void assert_config_message(const char *text, const char *fmt_line)
{
    g_autofree char *path = write_config(text);
    const char *args[] = {"run", "--config", path, "--", "q", NULL};
    GError *error = NULL;
    QpinOptions *o = parse(QPIN_COMMAND_RUN, args, &error);
    ck_assert_msg(!o, "'%s' parsed but must fail", text);
    ck_assert(error->domain == QPIN_ERROR && error->code == QPIN_ERROR_USAGE);
    g_autofree char *want = g_strdup_printf("%s%s", path, fmt_line);
    ck_assert_str_eq(error->message, want);
    g_error_free(error);
    g_unlink(path);
}

START_TEST(test_config_duplicate_keys)
{
    assert_config_message("[qpin]\npin = 1\nreserve = 2\npin = 3\n",
                          ":4: key 'pin' in [qpin] is already set on line 2");
    assert_config_message("[qemu]\nargs = -smp 2\nbinary = q\nargs = -smp 4\n",
                          ":4: key 'args' in [qemu] is already set on line 2");
    /* A section given twice is one section: GKeyFile merges them, keeping the later value. */
    assert_config_message("[qpin]\n"
                          "pin = 1\n"
                          "[qemu]\n"
                          "args = -smp 2\n"
                          "[qpin]\n"
                          "# pin = 0\n"
                          "\n"
                          "pin = 2\n",
                          ":8: key 'pin' in [qpin] is already set on line 2");
    /* Spacing, CRLF line ends and a key of a [numa.N] section. */
    assert_config_message("[qpin]\n  kill-timeout=1\nkill-timeout\t =  2\n",
                          ":3: key 'kill-timeout' in [qpin] is already set on line 2");
    assert_config_message("[qpin]\r\npin = 1\r\n\r\npin = 2\r\n",
                          ":4: key 'pin' in [qpin] is already set on line 2");
    assert_config_message("[numa.0]\nsize = 1G\nsize = 2G\n",
                          ":3: key 'size' in [numa.0] is already set on line 2");
    /* GKeyFile drops or keeps a translated key depending on the locale: a repeat is an error in
     * every locale. */
    assert_config_message("[qpin]\npin[fr] = 1\npin = 2\npin[fr] = 3\n",
                          ":4: key 'pin[fr]' in [qpin] is already set on line 2");

    /* Not duplicates: a commented-out key, the same key in two sections, a section given twice
     * with different keys. */
    g_autofree char *path = write_config("[qemu]\n"
                                         "args = -smp 2\n"
                                         "[qpin]\n"
                                         "#pin = 0\n"
                                         "#pin = 0\n"
                                         "pin = 1\n"
                                         "[numa.0]\n"
                                         "size = 1G\n"
                                         "[numa.1]\n"
                                         "size = 1G\n"
                                         "[qpin]\n"
                                         "reserve = 3\n");
    const char *args[] = {"run", "--config", path, NULL};
    g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
    ck_assert_str_eq(o->pin, "1");
    ck_assert_str_eq(o->reserve, "3");
    g_unlink(path);
}
END_TEST

START_TEST(test_numbers_are_strict_decimal)
{
    static const char *const bad[] = {
        "0x10",  "1e3",       " 10",        "10 ", "+10",
        "10s",   "",          "-1",         "inf", "nan",
        ".5",    "5.",        "1.2.3",      "1,5", "99999999999999999999999",
        "86401", "86400.001", "86400.0005",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *args[] = {"run", "--kill-timeout", bad[i], "--", "q", NULL};
        g_autofree char *needle = g_strdup_printf(
            "--kill-timeout '%s': expected a decimal number of seconds from 0 to 86400", bad[i]);
        assert_fails(QPIN_COMMAND_RUN, args, needle);
    }
    static const struct {
        const char *text;
        gint64 ms;
    } good[] = {
        {"0", 0},
        {"10", 10000},
        {"007", 7000},
        {"2.5", 2500},
        {"0.0015", 2},
        {"0.0014", 1},
        {"1.23449999", 1234},
        {"86400", 86400000},
        {"86400.0004", 86400000},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        const char *args[] = {"run", "--kill-timeout", good[i].text, "--", "q", NULL};
        g_autoptr(QpinOptions) o = parse_ok(QPIN_COMMAND_RUN, args);
        ck_assert_msg(o->kill_timeout_ms == good[i].ms, "'%s': %" G_GINT64_FORMAT " ms",
                      good[i].text, o->kill_timeout_ms);
    }

    static const char *const bad_pid[] = {
        "0x10",
        "1e3",
        " 10",
        "+10",
        "10s",
        "",
        "-5",
        "0",
        "1.0",
        "2147483648",
        "99999999999999999999999",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad_pid); i++) {
        const char *args[] = {"pin", "--qmp", "s", "--pid", bad_pid[i], NULL};
        g_autofree char *needle = g_strdup_printf(
            "--pid '%s': expected a process id, a decimal number from 1 to 2147483647", bad_pid[i]);
        assert_fails(QPIN_COMMAND_PIN, args, needle);
    }
    const char *max_pid[] = {"pin", "--qmp", "s", "--pid", "2147483647", NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, max_pid);
    ck_assert_int_eq(p->pid, G_MAXINT);

    /* The same parser reads the file, and [numa.N] names. */
    static const struct {
        QpinCommandKind command;
        const char *text, *needle;
    } files[] = {
        {QPIN_COMMAND_RUN, "[qpin]\nkill-timeout = 0x10\n",
         "[qpin] kill-timeout '0x10': expected a decimal number of seconds"},
        {QPIN_COMMAND_RUN, "[qpin]\nkill-timeout = 1e3\n",
         "[qpin] kill-timeout '1e3': expected a decimal number of seconds"},
        {QPIN_COMMAND_RUN, "[qpin]\nkill-timeout = 3 \n", "[qpin] kill-timeout '3 ': expected"},
        {QPIN_COMMAND_PIN, "[qpin]\nqmp = s\npid = +77\n",
         "[qpin] pid '+77': expected a process id"},
        {QPIN_COMMAND_RUN, "[numa.01]\nsize = 1G\n", "[numa.01]: guest NUMA sections"},
        {QPIN_COMMAND_RUN, "[numa.+1]\nsize = 1G\n", "[numa.+1]: guest NUMA sections"},
        {QPIN_COMMAND_RUN, "[numa.1024]\nsize = 1G\n", "[numa.1024]: guest NUMA sections"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = write_config(files[i].text);
        const char *args[] = {
            qpin_command_name(files[i].command), "--config", path, "--", "q", NULL};
        const char *pin_args[] = {"pin", "--config", path, NULL};
        assert_fails(files[i].command, files[i].command == QPIN_COMMAND_PIN ? pin_args : args,
                     files[i].needle);
        g_unlink(path);
    }
}
END_TEST

START_TEST(test_qmp_timeout)
{
    static const char *const run[] = {"run", "--", "q", NULL};
    g_autoptr(QpinOptions) r = parse_ok(QPIN_COMMAND_RUN, run);
    ck_assert_int_eq(r->qmp_timeout_ms, QPIN_DEFAULT_QMP_TIMEOUT_MS);
    ck_assert_int_eq(QPIN_DEFAULT_QMP_TIMEOUT_MS, 10000);

    /* All three commands take it, in the kill timeout's syntax. */
    const char *run2[] = {"run", "--qmp-timeout", "2.5", "--", "q", NULL};
    g_autoptr(QpinOptions) r2 = parse_ok(QPIN_COMMAND_RUN, run2);
    ck_assert_int_eq(r2->qmp_timeout_ms, 2500);
    const char *plan[] = {"plan", "--qmp-timeout=120", "--", "q", NULL};
    g_autoptr(QpinOptions) pl = parse_ok(QPIN_COMMAND_PLAN, plan);
    ck_assert_int_eq(pl->qmp_timeout_ms, 120000);
    const char *pin[] = {"pin", "--qmp", "s", "--qmp-timeout", "0.001", NULL};
    g_autoptr(QpinOptions) p = parse_ok(QPIN_COMMAND_PIN, pin);
    ck_assert_int_eq(p->qmp_timeout_ms, 1);
    ck_assert_int_eq(p->kill_timeout_ms, QPIN_DEFAULT_KILL_TIMEOUT_MS);

    g_autofree char *path = write_config("[qemu]\nargs = -smp 2\n[qpin]\nqmp-timeout = 30\n");
    const char *file[] = {"run", "--config", path, NULL};
    g_autoptr(QpinOptions) f = parse_ok(QPIN_COMMAND_RUN, file);
    ck_assert_int_eq(f->qmp_timeout_ms, 30000);
    const char *over[] = {"run", "--config", path, "--qmp-timeout", "4", NULL};
    g_autoptr(QpinOptions) ov = parse_ok(QPIN_COMMAND_RUN, over);
    ck_assert_int_eq(ov->qmp_timeout_ms, 4000);
    g_unlink(path);

    static const char *const bad[] = {"0", "0.0", "0.0004", "soon", "10s",
                                      "",  "-1",  "0x10",   "1e3",  "86400.001"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *args[] = {"pin", "--qmp", "s", "--qmp-timeout", bad[i], NULL};
        g_autofree char *needle =
            g_strdup_printf("--qmp-timeout '%s': expected a decimal number of seconds above 0, "
                            "up to 86400",
                            bad[i]);
        assert_fails(QPIN_COMMAND_PIN, args, needle);
    }
    /* The file's value is held to the same rule. */
    g_autofree char *zero = write_config("[qpin]\nqmp = s\nqmp-timeout = 0\n");
    const char *zero_args[] = {"pin", "--config", zero, NULL};
    assert_fails(QPIN_COMMAND_PIN, zero_args, "[qpin] qmp-timeout '0': expected");
    g_unlink(zero);

    /* Every command's --help lists it. */
    const char *help_run[] = {"run", "--help", NULL};
    const char *help_plan[] = {"plan", "--help", NULL};
    const char *help_pin[] = {"pin", "--help", NULL};
    g_autoptr(QpinOptions) hr = parse_ok(QPIN_COMMAND_RUN, help_run);
    g_autoptr(QpinOptions) hl = parse_ok(QPIN_COMMAND_PLAN, help_plan);
    g_autoptr(QpinOptions) hp = parse_ok(QPIN_COMMAND_PIN, help_pin);
    ck_assert_msg(strstr(hr->help, "--qmp-timeout=SECONDS"), "%s", hr->help);
    ck_assert_msg(strstr(hl->help, "--qmp-timeout=SECONDS"), "%s", hl->help);
    ck_assert_msg(strstr(hp->help, "--qmp-timeout=SECONDS"), "%s", hp->help);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_run_options);
    tcase_add_test(tc, test_defaults_and_no_separator);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_command_line_overrides_config);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_config_per_command_keys);
    tcase_add_test(tc, test_shape_options);
    tcase_add_test(tc, test_twin_and_hugepage_options);
    tcase_add_test(tc, test_config_duplicate_keys);
    tcase_add_test(tc, test_numbers_are_strict_decimal);
    tcase_add_test(tc, test_qmp_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(suite());
}
