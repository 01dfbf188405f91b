/* SPDX-License-Identifier: GPL-2.0-or-later */
/* End-to-end: a real Linux guest, started by `qpin run --numa ...` under TCG, reports its own
 * NUMA nodes (CPU list and MemTotal of /sys/devices/system/node/node*) on the serial console,
 * and they must match the description: two nodes with vCPUs and a memory-only node.
 *
 *   test-guest-numa MKINITRAMFS_SCRIPT
 *
 * Writes TAP: one result per step (the initramfs, the run, the report, each guest node). Needs
 * qemu-system-x86_64, a kernel in /boot (linux-image-amd64), busybox-static and cpio; without
 * them it skips (`1..0 # SKIP`) and says which is missing. Anything else that goes wrong, qpin
 * not acting on --numa included, is a failure. */
#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qpin-check.h"

/* The guest: 256 MiB with vCPUs 0-1 bound to host node 0 and preallocated, 256 MiB with vCPUs
 * 2-3 bound to host node 0, 128 MiB without vCPUs nor binding (this host has one node). */
static const struct {
    const char *numa;
    const char *cpulist;
    guint64 size_kib;
    const char *policy; /* as numa_maps shows it */
} guest_nodes[] = {
    {"256M@0:vcpus=0-1:prealloc", "0-1", 256 * 1024, "bind:0"},
    {"256M@0:vcpus=2-3", "2-3", 256 * 1024, "bind:0"},
    {"128M", "", 128 * 1024, "default"},
};

/* The guest kernel keeps part of the memory for itself (its image, page tables, bounce buffers),
 * and with Debian 12's 6.1 kernel about 46 MiB of it lands on one node, not always the same one:
 * measured here, the 128 MiB node showed 63% in some boots and 98% in others. So a node may fall
 * short of its size by a fixed amount rather than a percentage, never exceed it, and the three
 * together must hold 85-100%; swapped or merged nodes (256 MiB against 128 MiB) fall outside. */
#define NODE_MAX_SHORTFALL_KIB (64 * 1024)
#define TOTAL_MIN_PERCENT      85
#define BOOT_TIMEOUT_S         240

static int failures;

/* A failed check is explained on stderr and counted; tap_step() turns the checks made since the
 * previous step into one TAP result. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int tap_tests, tap_failures_seen;

/* Prints `ok N - NAME`, or `not ok N - NAME` when a CHECK failed since the previous step. */
static void tap_step(const char *name)
{
    tap_tests++;
    printf("%s %d - %s\n", failures > tap_failures_seen ? "not ok" : "ok", tap_tests, name);
    fflush(stdout);
    tap_failures_seen = failures;
}

/* The late TAP plan and the exit status. */
static int tap_finish(void)
{
    printf("1..%d\n", tap_tests);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

static char *find_kernel(void)
{
    g_autoptr(GDir) dir = g_dir_open("/boot", 0, NULL);
    if (!dir)
        return NULL;
    g_autofree char *best = NULL;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        if (!g_str_has_prefix(name, "vmlinuz-"))
            continue;
        g_autofree char *path = g_build_filename("/boot", name, NULL);
        if (access(path, R_OK) != 0)
            continue;
        if (!best || strcmp(path, best) > 0) {
            g_free(best);
            best = g_steal_pointer(&path);
        }
    }
    return g_steal_pointer(&best);
}

static void child_own_group(gpointer data)
{
    setpgid(0, 0);
}

typedef struct {
    int status;
    gboolean timed_out;
    char *out;
    char *err;
} RunResult;

/* Runs @argv in its own process group, collecting stdout and stderr; after @timeout_s the whole
 * group (qpin and its QEMU) is killed. */
static RunResult run_collect(char **argv, int timeout_s)
{
    RunResult r = {0};
    GPid pid;
    int out_fd = -1, err_fd = -1;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, child_own_group,
                                  NULL, &pid, NULL, &out_fd, &err_fd, &error)) {
        fprintf(stderr, "FAIL: cannot start %s: %s\n", argv[0], error->message);
        exit(1);
    }
    GString *out = g_string_new(NULL), *err = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0) {
            r.timed_out = TRUE;
            break;
        }
        int n = poll(fds, 2, (int)MIN(left, 1000));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = read(fds[i].fd, buf, sizeof(buf));
            if (got > 0) {
                g_string_append_len(i == 0 ? out : err, buf, got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    if (r.timed_out) {
        kill(-pid, SIGTERM);
        g_usleep(2 * G_USEC_PER_SEC);
        kill(-pid, SIGKILL);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* Nothing of the group may outlive the test. */
    kill(-pid, SIGKILL);
    r.status = status;
    r.out = g_string_free(out, FALSE);
    r.err = g_string_free(err, FALSE);
    return r;
}

/* The placement proof of the report: each backend found with its policy, the preallocated one
 * resident on host node 0 in full. */
static void check_report_memory(json_object *doc)
{
    json_object *memory = NULL;
    if (!doc || !json_object_object_get_ex(doc, "memory", &memory) ||
        !json_object_is_type(memory, json_type_array)) {
        CHECK(FALSE, "the report has no \"memory\" array");
        return;
    }
    CHECK(json_object_array_length(memory) == G_N_ELEMENTS(guest_nodes),
          "the report's memory has %zu entries, expected %zu", json_object_array_length(memory),
          G_N_ELEMENTS(guest_nodes));
    for (size_t i = 0; i < json_object_array_length(memory) && i < G_N_ELEMENTS(guest_nodes); i++) {
        json_object *m = json_object_array_get_idx(memory, i), *v = NULL;
        json_object_object_get_ex(m, "found", &v);
        CHECK(json_object_get_boolean(v), "memory[%zu]: backend not found in numa_maps", i);
        json_object_object_get_ex(m, "ok", &v);
        CHECK(json_object_get_boolean(v), "memory[%zu]: placement not ok", i);
        json_object_object_get_ex(m, "policy", &v);
        CHECK(v && strcmp(json_object_get_string(v), guest_nodes[i].policy) == 0,
              "memory[%zu]: policy %s, expected %s", i, v ? json_object_get_string(v) : "none",
              guest_nodes[i].policy);
    }
    /* The preallocated node: every page present, all on host node 0. */
    json_object *m0 = json_object_array_get_idx(memory, 0), *nodes = NULL, *v = NULL;
    if (m0 && json_object_object_get_ex(m0, "nodes", &nodes) &&
        json_object_array_length(nodes) == 1) {
        json_object *n = json_object_array_get_idx(nodes, 0);
        json_object_object_get_ex(n, "node", &v);
        CHECK(json_object_get_int(v) == 0, "memory[0] is on host node %d", json_object_get_int(v));
        json_object_object_get_ex(n, "bytes", &v);
        CHECK(json_object_get_uint64(v) == guest_nodes[0].size_kib * 1024,
              "memory[0] has %" PRIu64 " bytes resident, preallocated %" G_GUINT64_FORMAT,
              json_object_get_uint64(v), guest_nodes[0].size_kib * 1024);
    } else {
        CHECK(FALSE, "memory[0] has no single host node entry");
    }
}

/* The distance=... of each QPIN-NODE line of @console, by node id ("10,21"). */
static GHashTable *guest_distances(const char *console)
{
    GHashTable *dist = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_auto(GStrv) lines = g_strsplit(console, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_strchomp(lines[i]);
        const char *line = strstr(lines[i], "QPIN-NODE ");
        const char *d = line ? strstr(line, "distance=") : NULL;
        unsigned id = 0;
        if (d && sscanf(line, "QPIN-NODE %u", &id) == 1)
            g_hash_table_insert(dist, GUINT_TO_POINTER(id), g_strdup(d + strlen("distance=")));
    }
    return dist;
}

/* The guest node distances qpin derives from a host: `qpin plan --sysroot` of the EPYC 7452
 * fixture (8 nodes: 12 within a socket, 32 across) with guest nodes on host nodes 0, 1 and 4
 * gives -numa dist options; a guest booted here with them (a -numa dist of the user's is kept
 * next to qpin's nodes) reports the host's distances between those nodes as its own. */
static void check_distances(const char *qpin, const char *qemu, const char *kernel,
                            const char *initrd)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    CHECK(root != NULL, "QPIN_SOURCE_ROOT is not set (run through meson test)");
    if (!root)
        return;
    g_autofree char *sysroot =
        g_build_filename(root, "tests/fixtures/hosts/epyc-7452-2s-nps4", NULL);
    char *plan_argv[] = {
        (char *)qpin,     "plan",   "--sysroot",      sysroot,  "--json", "-q", "--numa",
        "128M@0:vcpus=0", "--numa", "128M@1:vcpus=1", "--numa", "128M@4", "--", (char *)qemu,
        "-smp",           "2",      "-nodefaults",    NULL};
    RunResult plan = run_collect(plan_argv, 120);
    CHECK(WIFEXITED(plan.status) && WEXITSTATUS(plan.status) == 0, "qpin plan: %s", plan.err);
    json_object *doc = json_tokener_parse(plan.out), *qa = NULL;
    CHECK(doc && json_object_object_get_ex(doc, "qemu_argv", &qa), "no qemu_argv: %s", plan.out);
    g_autoptr(GPtrArray) dist_args = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; qa && i + 1 < json_object_array_length(qa); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(qa, i));
        const char *v = json_object_get_string(json_object_array_get_idx(qa, i + 1));
        if (!strcmp(a, "-numa") && g_str_has_prefix(v, "dist,")) {
            g_ptr_array_add(dist_args, g_strdup(a));
            g_ptr_array_add(dist_args, g_strdup(v));
        }
    }
    /* Six ordered pairs of three nodes, each the host's distance. */
    CHECK(dist_args->len == 12, "the plan has %u -numa dist words, expected 12", dist_args->len);
    tap_step("qpin plan derives -numa dist for three guest nodes from the host's distances");
    if (failures) {
        json_object_put(doc);
        return;
    }

    g_autoptr(GPtrArray) cmd = g_ptr_array_new();
    char *head[] = {(char *)qpin,
                    "run",
                    "-q",
                    "--numa",
                    "128M:vcpus=0",
                    "--numa",
                    "128M:vcpus=1",
                    "--numa",
                    "128M",
                    "--",
                    (char *)qemu,
                    "-accel",
                    "tcg,thread=multi",
                    "-smp",
                    "2",
                    "-kernel",
                    (char *)kernel,
                    "-initrd",
                    (char *)initrd,
                    "-append",
                    "console=ttyS0 panic=-1 quiet",
                    "-no-reboot",
                    "-nodefaults",
                    "-display",
                    "none",
                    "-serial",
                    "stdio",
                    NULL};
    for (int i = 0; head[i]; i++)
        g_ptr_array_add(cmd, head[i]);
    for (guint i = 0; i < dist_args->len; i++)
        g_ptr_array_add(cmd, dist_args->pdata[i]);
    g_ptr_array_add(cmd, NULL);
    g_autofree char *joined = g_strjoinv(" ", (char **)cmd->pdata);
    fprintf(stderr, "running: %s\n", joined);
    RunResult run = run_collect((char **)cmd->pdata, BOOT_TIMEOUT_S);
    fprintf(stderr, "--- qpin stderr ---\n%s--- guest console ---\n%s---\n", run.err, run.out);
    CHECK(!run.timed_out && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
          "qpin run with the plan's distances exited with status 0x%x", run.status);
    g_autoptr(GHashTable) seen = guest_distances(run.out);
    /* Host nodes 0, 1, 4 of the fixture: node0 "10 12 12 12 32 ...", node4 "32 32 32 32 10". */
    static const char *const want[] = {"10,12,32", "12,10,32", "32,32,10"};
    for (guint n = 0; n < G_N_ELEMENTS(want); n++) {
        const char *got = g_hash_table_lookup(seen, GUINT_TO_POINTER(n));
        CHECK(got && !strcmp(got, want[n]), "guest node %u reports distances '%s', expected '%s'",
              n, got ? got : "(none)", want[n]);
    }
    tap_step("the booted guest reports the host's distances between the bound nodes");
    json_object_put(doc);
    g_free(plan.out);
    g_free(plan.err);
    g_free(run.out);
    g_free(run.err);
}

/* A guest shaped like this machine: `qpin run --mirror host` with no -smp of its own boots, and
 * the guest's /sys/devices/system/cpu/cpu*\/topology shows the shape the report's mirror gives
 * (CPUs, threads per core, cores per package); its one node holds every vCPU. */
static void check_mirror(const char *qpin, const char *qemu, const char *kernel, const char *initrd,
                         const char *dir)
{
    g_autofree char *report = g_build_filename(dir, "mirror-report.json", NULL);
    /* TCG's default CPU models are AMD ones without topoext, whose guests see every thread as
     * a core of its own; an Intel vendor makes the guest read the threads from CPUID leaf 0xB. */
    char *argv[] = {(char *)qpin,
                    "run",
                    "-q",
                    "--report",
                    report,
                    "--mirror",
                    "host",
                    "--mirror-memory",
                    "256M",
                    "--",
                    (char *)qemu,
                    "-accel",
                    "tcg,thread=multi",
                    "-cpu",
                    "qemu64,vendor=GenuineIntel",
                    "-kernel",
                    (char *)kernel,
                    "-initrd",
                    (char *)initrd,
                    "-append",
                    "console=ttyS0 panic=-1 quiet",
                    "-no-reboot",
                    "-nodefaults",
                    "-display",
                    "none",
                    "-serial",
                    "stdio",
                    NULL};
    g_autofree char *joined = g_strjoinv(" ", argv);
    fprintf(stderr, "running: %s\n", joined);
    RunResult run = run_collect(argv, BOOT_TIMEOUT_S);
    fprintf(stderr, "--- qpin stderr ---\n%s--- guest console ---\n%s---\n", run.err, run.out);
    CHECK(!run.timed_out && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
          "qpin run --mirror host exited with status 0x%x", run.status);
    json_object *doc = json_object_from_file(report), *mirror = NULL, *v = NULL;
    unlink(report);
    CHECK(doc && json_object_object_get_ex(doc, "mirror", &mirror), "the report has no mirror");
    int threads = 0, cores = 0, sockets = 0;
    if (mirror) {
        if (json_object_object_get_ex(mirror, "threads", &v))
            threads = json_object_get_int(v);
        if (json_object_object_get_ex(mirror, "cores", &v))
            cores = json_object_get_int(v);
        if (json_object_object_get_ex(mirror, "sockets", &v))
            sockets = json_object_get_int(v);
    }
    tap_step("qpin run --mirror host boots a guest shaped like this machine");

    int n_cpus = 0;
    g_autoptr(GHashTable) package_cores =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(run.out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_strchomp(lines[i]);
        const char *line = strstr(lines[i], "QPIN-CPU ");
        unsigned id = 0, package = 0, core = 0;
        char siblings[128] = "";
        if (!line || sscanf(line, "QPIN-CPU %u package=%u core=%u siblings=%127s", &id, &package,
                            &core, siblings) != 4)
            continue;
        n_cpus++;
        /* "0-1" or "0,2" for two threads, "3" for one. */
        int n_siblings = 1;
        for (const char *p = siblings; *p; p++)
            n_siblings += *p == ',' || *p == '-';
        CHECK(n_siblings == threads, "guest CPU %u has siblings %s, the mirror %d threads per core",
              id, siblings, threads);
        g_hash_table_add(package_cores, g_strdup_printf("%u/%u", package, core));
    }
    CHECK(n_cpus > 0 && n_cpus == sockets * cores * threads,
          "the guest has %d CPUs, the mirror %d x %d x %d", n_cpus, sockets, cores, threads);
    CHECK((int)g_hash_table_size(package_cores) == sockets * cores,
          "the guest has %u cores, the mirror %d x %d", g_hash_table_size(package_cores), sockets,
          cores);
    g_autofree char *all = n_cpus > 1 ? g_strdup_printf("0-%d", n_cpus - 1) : g_strdup("0");
    CHECK(strstr(run.out, "QPIN-NODE 0 cpulist=") &&
              g_str_has_prefix(strstr(run.out, "QPIN-NODE 0 cpulist=") + 20, all),
          "guest node 0 does not hold CPUs %s", all);
    tap_step("the guest's CPU topology is the mirror's");
    json_object_put(doc);
    g_free(run.out);
    g_free(run.err);
}

int main(int argc, char **argv)
{
    const char *qpin = g_getenv("QPIN");
    if (argc < 2)
        QPIN_BAIL_OUT("usage: test-guest-numa MKINITRAMFS_SCRIPT");
    if (!qpin || access(qpin, X_OK) != 0)
        QPIN_BAIL_OUT("QPIN does not name the qpin binary (run through meson test)");
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    if (!qemu)
        QPIN_SKIP_ALL("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)");
    g_autofree char *kernel = find_kernel();
    if (!kernel)
        QPIN_SKIP_ALL("no readable /boot/vmlinuz-* (apt-get install linux-image-amd64)");
    g_autofree char *busybox = g_find_program_in_path("busybox");
    if (!busybox)
        QPIN_SKIP_ALL("busybox not installed (apt-get install busybox-static)");
    g_autofree char *cpio = g_find_program_in_path("cpio");
    if (!cpio)
        QPIN_SKIP_ALL("cpio not installed (apt-get install cpio)");

    g_autofree char *dir = g_dir_make_tmp("qpin-guest-XXXXXX", NULL);
    g_autofree char *initrd = g_build_filename(dir, "initrd.cpio.gz", NULL);
    g_autofree char *report = g_build_filename(dir, "report.json", NULL);
    char *mk_argv[] = {"/bin/sh", argv[1], initrd, NULL};
    RunResult mk = run_collect(mk_argv, 60);
    CHECK(WIFEXITED(mk.status) && WEXITSTATUS(mk.status) == 0, "mkinitramfs.sh: %s", mk.err);
    tap_step("the initramfs is built");
    if (failures)
        return tap_finish();

    g_autoptr(GPtrArray) cmd = g_ptr_array_new();
    g_ptr_array_add(cmd, (char *)qpin);
    g_ptr_array_add(cmd, "run");
    g_ptr_array_add(cmd, "--report");
    g_ptr_array_add(cmd, report);
    for (size_t i = 0; i < G_N_ELEMENTS(guest_nodes); i++) {
        g_ptr_array_add(cmd, "--numa");
        g_ptr_array_add(cmd, (char *)guest_nodes[i].numa);
    }
    char *qemu_args[] = {"--",         qemu,          "-accel",   "tcg,thread=multi",
                         "-smp",       "4",           "-kernel",  kernel,
                         "-initrd",    initrd,        "-append",  "console=ttyS0 panic=-1 quiet",
                         "-no-reboot", "-nodefaults", "-display", "none",
                         "-serial",    "stdio",       NULL};
    for (int i = 0; qemu_args[i]; i++)
        g_ptr_array_add(cmd, qemu_args[i]);
    g_ptr_array_add(cmd, NULL);

    g_autofree char *joined = g_strjoinv(" ", (char **)cmd->pdata);
    fprintf(stderr, "running: %s\n", joined);
    RunResult run = run_collect((char **)cmd->pdata, BOOT_TIMEOUT_S);
    fprintf(stderr, "--- qpin stderr ---\n%s--- guest console ---\n%s---\n", run.err, run.out);
    check_distances(qpin, qemu, kernel, initrd);
    check_mirror(qpin, qemu, kernel, initrd, dir);
    unlink(initrd);
    json_object *doc = json_object_from_file(report);
    unlink(report);
    g_rmdir(dir);

    CHECK(!run.timed_out, "the guest did not power off within %d s", BOOT_TIMEOUT_S);
    CHECK(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
          "qpin run exited with status 0x%x (QEMU's status after poweroff -f is 0)", run.status);
    tap_step("qpin run --numa boots the guest, which powers off, and exits 0");
    json_object *numa = NULL;
    CHECK(doc != NULL, "qpin run wrote no readable --report");
    CHECK(!doc || (json_object_object_get_ex(doc, "numa", &numa) &&
                   json_object_is_type(numa, json_type_array) &&
                   json_object_array_length(numa) == G_N_ELEMENTS(guest_nodes)),
          "the report's \"numa\" does not list the %zu guest nodes", G_N_ELEMENTS(guest_nodes));
    check_report_memory(doc);
    tap_step("the report shows each guest node's memory placed as described");
    CHECK(strstr(run.out, "QPIN-GUEST-BEGIN") && strstr(run.out, "QPIN-GUEST-END"),
          "the guest's report is missing from the console");
    tap_step("the guest reports its NUMA view on the console");

    guint seen = 0;
    guint64 total_kib = 0, total_size_kib = 0;
    g_auto(GStrv) lines = g_strsplit(run.out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_strchomp(lines[i]);
        const char *line = strstr(lines[i], "QPIN-NODE ");
        if (!line)
            continue;
        unsigned id = 0;
        char cpulist[256] = "";
        unsigned long long mem = 0;
        const char *cpus = strstr(line, "cpulist=");
        const char *memtotal = strstr(line, "memtotal_kb=");
        if (sscanf(line, "QPIN-NODE %u", &id) != 1 || !cpus || !memtotal) {
            CHECK(FALSE, "unreadable guest line '%s'", line);
            continue;
        }
        size_t len = (size_t)(memtotal - cpus) - strlen("cpulist=") - 1;
        if (len >= sizeof(cpulist))
            len = sizeof(cpulist) - 1;
        memcpy(cpulist, cpus + strlen("cpulist="), len);
        cpulist[len] = '\0';
        mem = g_ascii_strtoull(memtotal + strlen("memtotal_kb="), NULL, 10);
        if (id >= G_N_ELEMENTS(guest_nodes)) {
            CHECK(FALSE, "the guest has a node %u, only %zu were described", id,
                  G_N_ELEMENTS(guest_nodes));
            continue;
        }
        seen |= 1u << id;
        fprintf(stderr,
                "guest node %u: cpulist '%s', MemTotal %llu kB of %" G_GUINT64_FORMAT
                " kB (%llu%%)\n",
                id, cpulist, mem, guest_nodes[id].size_kib, mem * 100 / guest_nodes[id].size_kib);
        CHECK(strcmp(cpulist, guest_nodes[id].cpulist) == 0,
              "guest node %u has CPUs '%s', described '%s'", id, cpulist, guest_nodes[id].cpulist);
        CHECK(mem <= guest_nodes[id].size_kib &&
                  mem + NODE_MAX_SHORTFALL_KIB >= guest_nodes[id].size_kib,
              "guest node %u has MemTotal %llu kB, described %" G_GUINT64_FORMAT
              " kB (expected at most %d kB less)",
              id, mem, guest_nodes[id].size_kib, NODE_MAX_SHORTFALL_KIB);
        total_kib += mem;
        total_size_kib += guest_nodes[id].size_kib;
    }
    tap_step("each node the guest reports has the CPUs and memory described");
    CHECK(seen == (1u << G_N_ELEMENTS(guest_nodes)) - 1,
          "the guest reported nodes mask 0x%x, expected all %zu", seen, G_N_ELEMENTS(guest_nodes));
    CHECK(total_size_kib && total_kib * 100 >= total_size_kib * TOTAL_MIN_PERCENT,
          "the guest nodes hold %" G_GUINT64_FORMAT " kB together, described %" G_GUINT64_FORMAT
          " kB (expected %d-100%%)",
          total_kib, total_size_kib, TOTAL_MIN_PERCENT);
    tap_step("the guest has every node described, holding the memory described");

    g_free(mk.out);
    g_free(mk.err);
    g_free(run.out);
    g_free(run.err);
    json_object_put(doc);
    return tap_finish();
}
