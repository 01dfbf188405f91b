/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The qpin program against hostile input: expression literals past 64 bits, QEMU options whose
 * argument looks like an option, -m behind an option without argument, FIFOs and impossible data
 * in a --sysroot tree, duplicate keys in a config file, malformed durations, a --numa below
 * QEMU's minimum, and a stdout that cannot be written. Each case runs `$QPIN ...` under a
 * watchdog, so a qpin that hangs (on a FIFO, say) fails its test instead of the whole suite.
 *
 *   test-inputs        the cases that need no QEMU
 *   test-inputs qemu   the cases that start qemu-system-x86_64 (TCG); skipped without it
 */
#include "qpin-check.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define QEMU "qemu-system-x86_64"
/* Not a timing assertion: the bound after which a qpin that should have answered at once is
 * taken for hung and killed. */
#define WATCHDOG_S 60

/* Exit statuses of README.md. */
enum { EXIT_FAILURE_ = 1, EXIT_USAGE = 2, EXIT_HOST = 10, EXIT_MAP = 14 };

static const char *qpin;
static char *source_root;
static char *tmpdir;

/* A guest that starts paused under TCG with a thread per vCPU. */
static const char *const qemu_args[] = {
    QEMU, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-m", "64", "-smp",
    "2",  NULL};

typedef struct {
    int status;
    char *out;
    char *err;
} Run;

static void run_clear(Run *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}

/* Runs @argv (argv[0] a path) with stdin on /dev/null, stdout into @stdout_path when given (else
 * captured) and stderr captured. The child gets its own process group, killed whole (qpin and any
 * QEMU of it) when it has not ended after WATCHDOG_S: that fails the test. */
static Run run_argv(const char *const *argv, const char *stdout_path)
{
    int out[2] = {-1, -1}, err[2];
    int out_file = -1;
    if (stdout_path) {
        out_file = open(stdout_path, O_WRONLY | O_CLOEXEC);
        ck_assert_msg(out_file >= 0, "%s: %s", stdout_path, g_strerror(errno));
    } else {
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    }
    ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out_file >= 0 ? out_file : out[1], 1) < 0 ||
            dup2(err[1], 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (out_file >= 0)
        close(out_file);
    else
        close(out[1]);
    close(err[1]);

    GString *text[2] = {g_string_new(NULL), g_string_new(NULL)};
    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    gint64 deadline = g_get_monotonic_time() + (gint64)WATCHDOG_S * G_USEC_PER_SEC;
    gboolean hung = FALSE;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        if (left_ms <= 0) {
            hung = TRUE;
            break;
        }
        if (poll(fds, 2, (int)left_ms) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char buf[4096];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                g_string_append_len(text[i], buf, got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (hung)
        kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    Run r = {.out = g_string_free(text[0], FALSE), .err = g_string_free(text[1], FALSE)};
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
    ck_assert_msg(!hung, "%s: still running after %d s (hung?), killed; stderr: %s", cmd,
                  WATCHDOG_S, r.err);
    ck_assert_msg(WIFEXITED(status), "%s: died with status 0x%x; stderr: %s", cmd, status, r.err);
    r.status = WEXITSTATUS(status);
    return r;
}

/* `$QPIN @args...` (NULL-terminated), optionally followed by `--` and qemu_args[]. */
static Run run_qpin(const char *stdout_path, gboolean with_qemu, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)qpin);
    for (gsize i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    if (with_qemu) {
        g_ptr_array_add(argv, "--");
        for (gsize i = 0; qemu_args[i]; i++)
            g_ptr_array_add(argv, (char *)qemu_args[i]);
    }
    g_ptr_array_add(argv, NULL);
    return run_argv((const char *const *)argv->pdata, stdout_path);
}

static char *fixture(const char *name)
{
    return g_build_filename(source_root, "tests/fixtures/hosts", name, NULL);
}

/* A writable copy of the small fixture host this-machine (2 CPUs, 1 node). */
static char *host_copy(void)
{
    g_autofree char *from = fixture("this-machine");
    char *to = g_build_filename(tmpdir, "host-XXXXXX", NULL);
    ck_assert_ptr_nonnull(g_mkdtemp(to));
    g_autofree char *from_dot = g_build_filename(from, ".", NULL);
    const char *argv[] = {"/bin/cp", "-R", from_dot, to, NULL};
    Run r = run_argv(argv, NULL);
    ck_assert_msg(r.status == 0, "cp: %s", r.err);
    run_clear(&r);
    return to;
}

static void host_remove(const char *root)
{
    const char *argv[] = {"/bin/rm", "-rf", root, NULL};
    Run r = run_argv(argv, NULL);
    ck_assert_msg(r.status == 0, "rm: %s", r.err);
    run_clear(&r);
}

/* Replaces @rel under @root by a file holding @text. */
static void host_set(const char *root, const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    ck_assert_msg(g_file_set_contents(path, text, -1, NULL), "%s", path);
}

static char *write_config(const char *text)
{
    char *path = g_build_filename(tmpdir, "config-XXXXXX.ini", NULL);
    int fd = g_mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    return path;
}

#define assert_has(text, needle)                                                                   \
    ck_assert_msg(strstr((text), (needle)), "'%s' lacks '%s'", (text), (needle))

/* Whether @text holds the number @n on its own (not inside a longer number or word). */
static gboolean has_number(const char *text, int n)
{
    g_autofree char *needle = g_strdup_printf("%d", n);
    for (const char *p = text; (p = strstr(p, needle)); p++) {
        const char *end = p + strlen(needle);
        if ((p == text || !g_ascii_isalnum(p[-1])) && !g_ascii_isalnum(*end))
            return TRUE;
    }
    return FALSE;
}

/* The strings of the plan's "qemu_argv". */
static GStrv plan_qemu_argv(const Run *r)
{
    json_object *doc = json_tokener_parse(r->out), *argv = NULL;
    ck_assert_msg(doc, "no JSON on stdout: %s\nstderr: %s", r->out, r->err);
    ck_assert_msg(json_object_object_get_ex(doc, "qemu_argv", &argv) &&
                      json_object_is_type(argv, json_type_array),
                  "no qemu_argv: %s", r->out);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (size_t i = 0; i < json_object_array_length(argv); i++)
        g_strv_builder_add(b, json_object_get_string(json_object_array_get_idx(argv, i)));
    json_object_put(doc);
    return g_strv_builder_end(b);
}

/* Whether @argv holds @a immediately followed by @b. */
static gboolean has_pair(const GStrv argv, const char *a, const char *b)
{
    for (guint i = 0; argv[i] && argv[i + 1]; i++)
        if (strcmp(argv[i], a) == 0 && strcmp(argv[i + 1], b) == 0)
            return TRUE;
    return FALSE;
}

/* ---- expressions (QEMU) ------------------------------------------------------------------- */

/* `qpin plan --sysroot this-machine --pin MAP -- QEMU` of a 2-vCPU guest. */
static Run plan_map(const char *map, gboolean json)
{
    g_autofree char *sysroot = fixture("this-machine");
    const char *args[] = {"plan", "--sysroot", sysroot, "--pin", map, json ? "--json" : "-q", NULL};
    return run_qpin(NULL, TRUE, args);
}

START_TEST(test_expr_literal_2_64)
{
    /* 2^64 once wrapped to 0: both vCPUs on CPU 0 and exit 0. */
    Run r = plan_map("expr:18446744073709551616", FALSE);
    ck_assert_msg(r.status == EXIT_MAP, "exit %d, expected %d: %s", r.status, EXIT_MAP, r.err);
    assert_has(r.err, "18446744073709551616");
    run_clear(&r);
}
END_TEST

START_TEST(test_expr_literal_wrapping_to_one)
{
    /* 2*2^64+1 once wrapped to 1: the map became 1+v, refused for CPU 2 (not the literal). */
    Run r = plan_map("expr:36893488147419103233+v", FALSE);
    ck_assert_msg(r.status == EXIT_MAP, "exit %d, expected %d: %s", r.status, EXIT_MAP, r.err);
    assert_has(r.err, "36893488147419103233");
    ck_assert_msg(!strstr(r.err, "CPU 2"), "the literal was read as 1: %s", r.err);
    run_clear(&r);
}
END_TEST

START_TEST(test_expr_overflow_for_a_vcpu)
{
    /* Fits for vCPU 0, overflows for vCPU 1. */
    Run r = plan_map("expr:9223372036854775807+v", FALSE);
    ck_assert_msg(r.status == EXIT_MAP, "exit %d, expected %d: %s", r.status, EXIT_MAP, r.err);
    assert_has(r.err, "9223372036854775807+v");
    run_clear(&r);
}
END_TEST

START_TEST(test_expr_large_valid)
{
    /* The largest literal is fine when every intermediate result fits. */
    Run r = plan_map("expr:9223372036854775807 - 9223372036854775807 + 1 - v", TRUE);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *doc = json_tokener_parse(r.out), *vcpus = NULL;
    ck_assert_msg(doc && json_object_object_get_ex(doc, "vcpus", &vcpus) &&
                      json_object_array_length(vcpus) == 2,
                  "%s", r.out);
    for (int v = 0; v < 2; v++) {
        json_object *cpus = NULL;
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(vcpus, v), "cpus", &cpus));
        g_autofree char *want = g_strdup_printf("%d", 1 - v);
        ck_assert_str_eq(json_object_get_string(cpus), want);
    }
    json_object_put(doc);
    run_clear(&r);
}
END_TEST

/* ---- QEMU options whose argument looks like an option (QEMU) ------------------------------ */

/* QEMU refuses -append without -kernel; paused, it only loads the kernel, so any file does. */
static char *fake_kernel(void)
{
    char *path = g_build_filename(tmpdir, "kernel-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    ck_assert_int_ge(fd, 0);
    static const char zeros[4096];
    ck_assert_int_eq(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    return path;
}

/* `qpin plan --json -- QEMU -kernel K -append @append`. */
static Run plan_append(const char *kernel, const char *append)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *head[] = {qpin, "plan", "--json", "--"};
    for (gsize i = 0; i < G_N_ELEMENTS(head); i++)
        g_ptr_array_add(argv, (char *)head[i]);
    for (gsize i = 0; qemu_args[i]; i++)
        g_ptr_array_add(argv, (char *)qemu_args[i]);
    const char *tail[] = {"-kernel", kernel, "-append", append, NULL};
    for (gsize i = 0; i < G_N_ELEMENTS(tail); i++)
        g_ptr_array_add(argv, (char *)tail[i]);
    return run_argv((const char *const *)argv->pdata, NULL);
}

START_TEST(test_append_dash_name)
{
    g_autofree char *kernel = fake_kernel();
    Run r = plan_append(kernel, "-name");
    g_unlink(kernel);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    g_auto(GStrv) argv = plan_qemu_argv(&r);
    g_autofree char *joined = g_strjoinv(" ", argv);
    /* The kernel command line is untouched, and qpin's own -name is a separate option. */
    ck_assert_msg(has_pair(argv, "-append", "-name"), "-append -name was changed: %s", joined);
    ck_assert_msg(has_pair(argv, "-name", "debug-threads=on"),
                  "no separate -name debug-threads=on: %s", joined);
    run_clear(&r);
}
END_TEST

START_TEST(test_append_dash_daemonize)
{
    g_autofree char *kernel = fake_kernel();
    Run r = plan_append(kernel, "-daemonize");
    g_unlink(kernel);
    ck_assert_msg(r.status == 0, "-append -daemonize refused: exit %d: %s", r.status, r.err);
    g_auto(GStrv) argv = plan_qemu_argv(&r);
    g_autofree char *joined = g_strjoinv(" ", argv);
    ck_assert_msg(has_pair(argv, "-append", "-daemonize"), "-append -daemonize was changed: %s",
                  joined);
    run_clear(&r);
}
END_TEST

/* ---- stdout that cannot be written (QEMU) ------------------------------------------------- */

START_TEST(test_plan_json_to_full)
{
    const char *args[] = {"plan", "--json", NULL};
    Run r = run_qpin("/dev/full", TRUE, args);
    ck_assert_msg(r.status == EXIT_FAILURE_, "exit %d, expected %d: %s", r.status, EXIT_FAILURE_,
                  r.err);
    run_clear(&r);
}
END_TEST

static void die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

START_TEST(test_pin_json_to_full)
{
    /* The test listens on the socket itself and hands it to QEMU (-chardev fd=): qpin's connect
     * succeeds at once and waits for QEMU's greeting, without polling for the socket file. */
    g_autofree char *sock = g_build_filename(tmpdir, "qmp.sock", NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(sock), sizeof addr.sun_path);
    strcpy(addr.sun_path, sock);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(listener, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(listener, 4), 0);
    g_autofree char *chardev = g_strdup_printf("socket,id=mon,fd=%d,server=on,wait=off", listener);
    pid_t qemu = fork();
    ck_assert_int_ge(qemu, 0);
    if (qemu == 0) {
        die_with_parent();
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
            _exit(126);
        const char *argv[] = {QEMU,          "-accel",   "tcg,thread=multi",
                              "-S",          "-display", "none",
                              "-nodefaults", "-m",       "64",
                              "-smp",        "2",        "-chardev",
                              chardev,       "-mon",     "chardev=mon,mode=control",
                              NULL};
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(listener);

    const char *pin[] = {"pin", "--qmp", sock, "--pin", "0,1", "--json", NULL};
    Run r = run_qpin("/dev/full", FALSE, pin);
    /* qpin leaves a QEMU it did not start alone: quit it. */
    const char *quit[] = {"qmp", "--qmp", sock, "quit", NULL};
    Run q = run_qpin(NULL, FALSE, quit);
    if (q.status != 0)
        kill(qemu, SIGKILL);
    int status = 0;
    ck_assert_int_eq(waitpid(qemu, &status, 0), qemu);
    g_unlink(sock);
    ck_assert_msg(q.status == 0, "qpin qmp quit: exit %d: %s", q.status, q.err);
    ck_assert_msg(r.status != 0, "qpin pin --json exited 0 with its stdout on /dev/full: %s",
                  r.err);
    run_clear(&r);
    run_clear(&q);
}
END_TEST

/* ---- the QEMU command line against --numa (no QEMU needed) -------------------------------- */

START_TEST(test_m_after_option_without_argument)
{
    /* -async-teardown takes no argument: the -m after it is QEMU's -m all the same. */
    const char *args[] = {
        qpin,  "plan", "--numa", "256M",     "--",   QEMU,          "-accel",
        "tcg", "-smp", "2",      "-display", "none", "-nodefaults", "-async-teardown",
        "-m",  "512M", NULL};
    Run r = run_argv(args, NULL);
    ck_assert_msg(r.status == EXIT_USAGE, "exit %d, expected %d: %s", r.status, EXIT_USAGE, r.err);
    assert_has(r.err, "-m 512M");
    assert_has(r.err, "256M");
    run_clear(&r);
}
END_TEST

START_TEST(test_numa_below_minimum)
{
    /* A QEMU that cannot be executed: refusing --numa first is refusing it before QEMU. */
    const char *args[] = {"plan", "--numa", "4K", "--", "/nonexistent/qemu", "-smp", "2", NULL};
    Run r = run_qpin(NULL, FALSE, args);
    ck_assert_msg(r.status == EXIT_USAGE, "exit %d, expected %d: %s", r.status, EXIT_USAGE, r.err);
    assert_has(r.err, "--numa '4K'");
    assert_has(r.err, "8K");
    ck_assert_msg(!strstr(r.err, "/nonexistent/qemu"), "QEMU was started: %s", r.err);
    run_clear(&r);
}
END_TEST

/* ---- durations ---------------------------------------------------------------------------- */

/* `qpin run @option @value -- /nonexistent/qemu` is refused with exit 2 naming @option. */
static void assert_bad_duration(const char *option, const char *value)
{
    const char *args[] = {"run", option, value, "--", "/nonexistent/qemu", NULL};
    Run r = run_qpin(NULL, FALSE, args);
    ck_assert_msg(r.status == EXIT_USAGE, "%s %s: exit %d, expected %d: %s", option, value,
                  r.status, EXIT_USAGE, r.err);
    assert_has(r.err, option);
    assert_has(r.err, value);
    ck_assert_msg(!strstr(r.err, "Unknown option"), "%s", r.err);
    run_clear(&r);
}

START_TEST(test_bad_durations)
{
    assert_bad_duration("--kill-timeout", "0x10");
    assert_bad_duration("--qmp-timeout", "0");
}
END_TEST

/* ---- config files ------------------------------------------------------------------------- */

/* `qpin plan --config` of @text is refused with exit 2 naming @key and lines @first, @second. */
static void assert_duplicate(const char *text, const char *key, int first, int second)
{
    g_autofree char *config = write_config(text);
    const char *args[] = {"plan", "--config", config, NULL};
    Run r = run_qpin(NULL, FALSE, args);
    g_unlink(config);
    ck_assert_msg(r.status == EXIT_USAGE, "exit %d, expected %d: %s", r.status, EXIT_USAGE, r.err);
    assert_has(r.err, key);
    ck_assert_msg(has_number(r.err, first) && has_number(r.err, second),
                  "'%s' does not name lines %d and %d", r.err, first, second);
    run_clear(&r);
}

START_TEST(test_config_duplicate_keys)
{
    assert_duplicate("# a key given twice\n"
                     "[qemu]\n"
                     "binary = /nonexistent/qemu\n"
                     "args = -smp 2\n"
                     "\n"
                     "[qpin]\n"
                     "pin = 0,1\n"
                     "quiet = true\n"
                     "pin = 1,0\n",
                     "pin", 7, 9);
    assert_duplicate("[qemu]\n"
                     "binary = /nonexistent/qemu-a\n"
                     "args = -smp 2\n"
                     "# again\n"
                     "binary = /nonexistent/qemu-b\n",
                     "binary", 2, 5);
}
END_TEST

/* ---- hostile --sysroot trees -------------------------------------------------------------- */

/* `qpin host --sysroot @root` exits 10 naming @rel. */
static void assert_host_unreadable(const char *root, const char *rel)
{
    const char *args[] = {"host", "--sysroot", root, NULL};
    Run r = run_qpin(NULL, FALSE, args);
    ck_assert_msg(r.status == EXIT_HOST, "%s: exit %d, expected %d: %s", rel, r.status, EXIT_HOST,
                  r.err);
    assert_has(r.err, rel);
    run_clear(&r);
}

START_TEST(test_sysroot_fifo)
{
    g_autofree char *root = host_copy();
    const char *rel = "sys/devices/system/cpu/online";
    g_autofree char *path = g_build_filename(root, rel, NULL);
    ck_assert_int_eq(g_unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    /* A qpin that opens it for reading waits for a writer forever: the watchdog fails it. */
    assert_host_unreadable(root, rel);
    host_remove(root);
}
END_TEST

START_TEST(test_sysroot_cache_list_too_large)
{
    g_autofree char *root = host_copy();
    const char *rel = "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list";
    host_set(root, rel, "0-8191\n");
    assert_host_unreadable(root, rel);
    host_remove(root);
}
END_TEST

START_TEST(test_sysroot_sibling_absent)
{
    g_autofree char *root = host_copy();
    const char *rel = "sys/devices/system/cpu/cpu0/topology/thread_siblings_list";
    host_set(root, rel, "0,5\n");
    assert_host_unreadable(root, rel);
    host_remove(root);
}
END_TEST

START_TEST(test_sysroot_isolcpus_garbage)
{
    g_autofree char *root = host_copy();
    host_set(root, "proc/cmdline", "quiet isolcpus=zz console=ttyS0\n");
    const char *args[] = {"host", "--sysroot", root, NULL};
    Run r = run_qpin(NULL, FALSE, args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    assert_has(r.err, "warning");
    assert_has(r.err, "isolcpus");
    assert_has(r.err, "zz");
    run_clear(&r);
    host_remove(root);
}
END_TEST

/* ---- stdout that cannot be written -------------------------------------------------------- */

START_TEST(test_host_to_full)
{
    for (int json = 0; json < 2; json++) {
        const char *args[] = {"host", json ? "--json" : NULL, NULL};
        Run r = run_qpin("/dev/full", FALSE, args);
        ck_assert_msg(r.status == EXIT_FAILURE_, "host%s: exit %d, expected %d: %s",
                      json ? " --json" : "", r.status, EXIT_FAILURE_, r.err);
        assert_has(r.err, "No space left on device");
        run_clear(&r);
    }
}
END_TEST

static Suite *inputs_suite(void)
{
    Suite *s = suite_create("inputs");
    TCase *cmd = tcase_create("command-line");
    tcase_set_timeout(cmd, 2 * WATCHDOG_S + 30);
    tcase_add_test(cmd, test_m_after_option_without_argument);
    tcase_add_test(cmd, test_numa_below_minimum);
    tcase_add_test(cmd, test_bad_durations);
    tcase_add_test(cmd, test_config_duplicate_keys);
    suite_add_tcase(s, cmd);
    TCase *host = tcase_create("sysroot");
    tcase_set_timeout(host, 2 * WATCHDOG_S + 30);
    tcase_add_test(host, test_sysroot_fifo);
    tcase_add_test(host, test_sysroot_cache_list_too_large);
    tcase_add_test(host, test_sysroot_sibling_absent);
    tcase_add_test(host, test_sysroot_isolcpus_garbage);
    tcase_add_test(host, test_host_to_full);
    suite_add_tcase(s, host);
    return s;
}

static Suite *qemu_suite(void)
{
    Suite *s = suite_create("inputs-qemu");
    TCase *expr = tcase_create("expressions");
    tcase_set_timeout(expr, 2 * WATCHDOG_S + 30);
    tcase_add_test(expr, test_expr_literal_2_64);
    tcase_add_test(expr, test_expr_literal_wrapping_to_one);
    tcase_add_test(expr, test_expr_overflow_for_a_vcpu);
    tcase_add_test(expr, test_expr_large_valid);
    suite_add_tcase(s, expr);
    TCase *argv = tcase_create("qemu-argv");
    tcase_set_timeout(argv, 2 * WATCHDOG_S + 30);
    tcase_add_test(argv, test_append_dash_name);
    tcase_add_test(argv, test_append_dash_daemonize);
    suite_add_tcase(s, argv);
    TCase *full = tcase_create("full-stdout");
    tcase_set_timeout(full, 3 * WATCHDOG_S + 30);
    tcase_add_test(full, test_plan_json_to_full);
    tcase_add_test(full, test_pin_json_to_full);
    suite_add_tcase(s, full);
    return s;
}

int main(int argc, char **argv)
{
    qpin = g_getenv("QPIN");
    source_root = g_strdup(g_getenv("QPIN_SOURCE_ROOT"));
    if (!qpin || !source_root)
        QPIN_BAIL_OUT("QPIN and QPIN_SOURCE_ROOT must be set (run through meson test)");
    gboolean with_qemu = argc > 1 && strcmp(argv[1], "qemu") == 0;
    if (with_qemu) {
        g_autofree char *qemu = g_find_program_in_path(QEMU);
        if (!qemu)
            QPIN_SKIP_ALL("%s is not installed (apt-get install qemu-system-x86)", QEMU);
    }
    tmpdir = g_dir_make_tmp("qpin-inputs-XXXXXX", NULL);
    if (!tmpdir)
        QPIN_BAIL_OUT("cannot make a temporary directory");
    int status = qpin_check_run(with_qemu ? qemu_suite() : inputs_suite());
    /* A failed assertion ends its test before its own clean-up. */
    const char *rm[] = {"/bin/rm", "-rf", tmpdir, NULL};
    g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(tmpdir);
    g_free(source_root);
    return status;
}
