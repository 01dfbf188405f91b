/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the host model: every fixture tree against its expected `qpin host --json`, key
 * facts of each machine through topo_host_read(), the live machine, degraded trees and errors. */
#include <stdbool.h>
#include <qpin/host.h>
#include "qpin-check.h"

#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <numa.h>
#include <sched.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static GPtrArray *fixtures; /* names of tests/fixtures/hosts/NAME.json with a NAME/ tree */

static char *fixture_dir(void)
{
    const char *src = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_msg(src != NULL, "QPIN_SOURCE_ROOT is not set (run through meson test)");
    return g_build_filename(src, "tests", "fixtures", "hosts", NULL);
}

static char *fixture_path(const char *name)
{
    g_autofree char *dir = fixture_dir();
    return g_build_filename(dir, name, NULL);
}

static TopoHost *read_fixture(const char *name)
{
    g_autofree char *path = fixture_path(name);
    GError *error = NULL;
    TopoHost *host = topo_host_read(path, &error);
    ck_assert_msg(host != NULL, "%s: %s", name, error ? error->message : "?");
    return host;
}

static void assert_set(const TopoCpuSet *set, const char *expected, const char *what)
{
    g_autofree char *text = topo_cpuset_format(set);
    ck_assert_msg(!strcmp(text, expected), "%s: '%s', expected '%s'", what, text, expected);
}

/* Joins host->warnings, for messages. */
static char *warnings_text(const TopoHost *host)
{
    GString *text = g_string_new(NULL);
    for (guint i = 0; i < host->warnings->len; i++)
        g_string_append_printf(text, "%s[%s]", i ? " " : "",
                               (const char *)g_ptr_array_index(host->warnings, i));
    return g_string_free(text, FALSE);
}

/* Runs $QPIN with @argv (after argv[0]); returns its exit status and its output. */
static int run_qpin(const char *const *args, char **out, char **err)
{
    const char *qpin = g_getenv("QPIN");
    ck_assert_msg(qpin != NULL, "QPIN is not set (run through meson test)");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)qpin);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    int status = 0;
    GError *error = NULL;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
                               err, &status, &error);
    ck_assert_msg(ok, "cannot run %s: %s", qpin, error ? error->message : "?");
    ck_assert_msg(WIFEXITED(status), "qpin died (status %d)", status);
    return WEXITSTATUS(status);
}

/* The first difference between two JSON values, as a path, for failure messages. */
static char *json_difference(json_object *a, json_object *b, const char *at)
{
    if (json_object_equal(a, b))
        return NULL;
    if (json_object_is_type(a, json_type_object) && json_object_is_type(b, json_type_object)) {
        json_object_object_foreach(a, key, va)
        {
            json_object *vb = NULL;
            g_autofree char *sub = g_strdup_printf("%s.%s", at, key);
            if (!json_object_object_get_ex(b, key, &vb))
                return g_strdup_printf("%s missing in qpin's output", sub);
            char *diff = json_difference(va, vb, sub);
            if (diff)
                return diff;
        }
        json_object_object_foreach(b, key2, vb2)
        {
            (void)vb2;
            if (!json_object_object_get_ex(a, key2, NULL))
                return g_strdup_printf("%s.%s not expected", at, key2);
        }
    }
    if (json_object_is_type(a, json_type_array) && json_object_is_type(b, json_type_array) &&
        json_object_array_length(a) == json_object_array_length(b)) {
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            g_autofree char *sub = g_strdup_printf("%s[%zu]", at, i);
            char *diff = json_difference(json_object_array_get_idx(a, i),
                                         json_object_array_get_idx(b, i), sub);
            if (diff)
                return diff;
        }
    }
    return g_strdup_printf("%s: expected %s, qpin says %s", at,
                           json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                           json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
}

START_TEST(test_fixture_json)
{
    const char *name = g_ptr_array_index(fixtures, _i);
    g_autofree char *tree = fixture_path(name);
    g_autofree char *expected_path = g_strconcat(tree, ".json", NULL);
    const char *args[] = {"host", "--sysroot", tree, "--json", NULL};
    g_autofree char *out = NULL, *err = NULL;
    int rc = run_qpin(args, &out, &err);
    ck_assert_msg(rc == 0, "%s: qpin host exited %d: %s", name, rc, err);
    ck_assert_msg(err[0] == '\0', "%s: qpin host wrote to stderr: %s", name, err);

    json_object *got = json_tokener_parse(out);
    ck_assert_msg(got != NULL, "%s: qpin's output is not JSON", name);
    json_object *expected = json_object_from_file(expected_path);
    ck_assert_msg(expected != NULL, "%s: cannot load %s", name, expected_path);

    /* The sysroot is echoed as given; the expected file holds the path relative to the source
     * tree. */
    json_object *sysroot = NULL;
    ck_assert(json_object_object_get_ex(got, "sysroot", &sysroot));
    ck_assert_str_eq(json_object_get_string(sysroot), tree);
    json_object_object_del(got, "sysroot");
    json_object_object_del(expected, "sysroot");

    g_autofree char *diff = json_difference(expected, got, name);
    ck_assert_msg(diff == NULL, "%s", diff);
    json_object_put(got);
    json_object_put(expected);
}
END_TEST

START_TEST(test_fixture_set)
{
    /* The machines the host model is specified against must all be there. */
    static const char *const required[] = {"this-machine", "xeon-phi-7250", "xeon-gold-6148-2s",
                                           "offline-isolated", "old-kernel"};
    for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
        bool found = false;
        for (guint j = 0; j < fixtures->len; j++)
            found = found || !strcmp(g_ptr_array_index(fixtures, j), required[i]);
        ck_assert_msg(found, "fixture %s (tree and .json) is missing", required[i]);
    }
    /* Every tree has its expected document. */
    g_autofree char *dir = fixture_dir();
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    ck_assert(d != NULL);
    const char *entry;
    while ((entry = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, entry, NULL);
        g_autofree char *json = g_strconcat(path, ".json", NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            ck_assert_msg(g_file_test(json, G_FILE_TEST_IS_REGULAR), "%s has no %s.json", entry,
                          entry);
    }
}
END_TEST

/* No fixture machine has a command line the kernel ignores in part. */
START_TEST(test_fixture_no_warnings)
{
    const char *name = g_ptr_array_index(fixtures, _i);
    g_autoptr(TopoHost) host = read_fixture(name);
    ck_assert_ptr_nonnull(host->warnings);
    g_autofree char *warnings = warnings_text(host);
    ck_assert_msg(host->warnings->len == 0, "%s: %s", name, warnings);
}
END_TEST

START_TEST(test_xeon_phi)
{
    g_autoptr(TopoHost) host = read_fixture("xeon-phi-7250");
    ck_assert(!host->live);
    ck_assert_uint_eq(host->cpus->len, 272);
    assert_set(host->online, "0-271", "online");
    assert_set(host->offline, "", "offline");
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        ck_assert_int_eq(cpu->cpu, (int)i);
        ck_assert_int_eq(cpu->package, 0);
        ck_assert_int_eq(cpu->die, 0);
        ck_assert_int_eq(cpu->core, cpu->cpu % 68);
        ck_assert_int_eq(cpu->node, 0);
        ck_assert_uint_eq(topo_cpuset_count(cpu->siblings), 4);
        for (int k = 0; k < 4; k++)
            ck_assert(topo_cpuset_has(cpu->siblings, cpu->cpu % 68 + 68 * k));
        /* A tile: two cores sharing the L2, no L3. */
        ck_assert_uint_eq(topo_cpuset_count(cpu->llc), 8);
        int tile = cpu->core / 2;
        for (int k = 0; k < 4; k++) {
            ck_assert(topo_cpuset_has(cpu->llc, 2 * tile + 68 * k));
            ck_assert(topo_cpuset_has(cpu->llc, 2 * tile + 1 + 68 * k));
        }
    }
    assert_set(topo_host_cpu(host, 0)->siblings, "0,68,136,204", "siblings of 0");
    assert_set(topo_host_cpu(host, 205)->siblings, "1,69,137,205", "siblings of 205");
    assert_set(topo_host_cpu(host, 0)->llc, "0-1,68-69,136-137,204-205", "llc of 0");
    ck_assert_ptr_null(topo_host_cpu(host, 272));

    ck_assert_uint_eq(host->nodes->len, 2);
    const TopoNode *ddr = topo_host_node(host, 0), *mcdram = topo_host_node(host, 1);
    ck_assert_ptr_nonnull(ddr);
    ck_assert_ptr_nonnull(mcdram);
    assert_set(ddr->cpus, "0-271", "node 0 cpus");
    ck_assert(topo_cpuset_is_empty(mcdram->cpus));
    /* 96 GiB of DDR and 16 GiB of MCDRAM, less what the firmware and kernel keep. */
    ck_assert(ddr->mem_total_kib > 90ull << 20 && ddr->mem_total_kib <= 96ull << 20);
    ck_assert(mcdram->mem_total_kib > 15ull << 20 && mcdram->mem_total_kib <= 16ull << 20);
    ck_assert(mcdram->mem_free_kib <= mcdram->mem_total_kib);
    ck_assert_int_eq(topo_host_distance(host, 0, 0), 10);
    ck_assert_int_eq(topo_host_distance(host, 0, 1), 31);
    ck_assert_int_eq(topo_host_distance(host, 1, 0), 31);
    ck_assert_int_eq(topo_host_distance(host, 1, 1), 10);
    ck_assert_int_eq(topo_host_distance(host, 0, 2), -1);
    const TopoHugepages *hp = topo_node_hugepages(mcdram, 2048);
    ck_assert_ptr_nonnull(hp);
    ck_assert_uint_eq(hp->total, 0);
    ck_assert_ptr_null(topo_node_hugepages(mcdram, 4096));

    /* No proc/self/status in the tree: everything online, every node with memory. */
    assert_set(host->cpus_allowed, "0-271", "cpus_allowed");
    assert_set(host->mems_allowed, "0-1", "mems_allowed");
    assert_set(host->isolated, "", "isolated");
    assert_set(host->nohz_full, "", "nohz_full");
}
END_TEST

START_TEST(test_xeon_gold)
{
    g_autoptr(TopoHost) host = read_fixture("xeon-gold-6148-2s");
    ck_assert_uint_eq(host->cpus->len, 80);
    g_autoptr(TopoCpuSet) even = topo_cpuset_new();
    for (int c = 0; c < 80; c += 2)
        topo_cpuset_add(even, c);
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        ck_assert_int_eq(cpu->package, cpu->cpu % 2);
        ck_assert_int_eq(cpu->node, cpu->cpu % 2);
        ck_assert_uint_eq(topo_cpuset_count(cpu->siblings), 2);
        ck_assert(topo_cpuset_has(cpu->siblings, cpu->cpu % 40));
        ck_assert(topo_cpuset_has(cpu->siblings, cpu->cpu % 40 + 40));
        /* The sibling shares the core id; L3 spans the package. */
        const TopoCpu *sib = topo_host_cpu(host, (cpu->cpu + 40) % 80);
        ck_assert_int_eq(sib->core, cpu->core);
        ck_assert_uint_eq(topo_cpuset_count(cpu->llc), 40);
        ck_assert(topo_cpuset_has(cpu->llc, cpu->cpu));
        ck_assert(topo_cpuset_equal(cpu->llc, even) == (cpu->cpu % 2 == 0));
    }
    assert_set(topo_host_cpu(host, 3)->siblings, "3,43", "siblings of 3");
    ck_assert(topo_cpuset_equal(topo_host_node(host, 0)->cpus, even));
    ck_assert_uint_eq(topo_cpuset_count(topo_host_node(host, 1)->cpus), 40);
    ck_assert(!topo_cpuset_intersects(topo_host_node(host, 1)->cpus, even));
    ck_assert_int_eq(topo_host_distance(host, 0, 1), 21);

    guint64 total = 0;
    for (int n = 0; n < 2; n++) {
        const TopoNode *node = topo_host_node(host, n);
        ck_assert(node->mem_total_kib > 180ull << 20 && node->mem_total_kib <= 192ull << 20);
        const TopoHugepages *gig = topo_node_hugepages(node, 1048576);
        ck_assert_ptr_nonnull(gig);
        ck_assert_uint_eq(gig->total, 173);
        ck_assert(gig->free <= gig->total);
        total += gig->total;
        /* Pools come in ascending size. */
        ck_assert_uint_eq(g_array_index(node->hugepages, TopoHugepages, 0).size_kib, 2048);
    }
    ck_assert_uint_eq(total, 346);
    /* The kernel prints "(null)" for an unset nohz_full mask. */
    assert_set(host->nohz_full, "", "nohz_full");
    assert_set(host->cpus_allowed, "0-79", "cpus_allowed");
}
END_TEST

START_TEST(test_offline_isolated)
{
    g_autoptr(TopoHost) host = read_fixture("offline-isolated");
    assert_set(host->online, "0-11", "online");
    assert_set(host->offline, "12-15", "offline");
    ck_assert_uint_eq(host->cpus->len, 12);
    ck_assert_ptr_null(topo_host_cpu(host, 12));
    ck_assert_ptr_nonnull(topo_host_cpu(host, 11));
    assert_set(host->isolated, "2-5", "isolated");
    assert_set(host->nohz_full, "2-5", "nohz_full");
    ck_assert_ptr_nonnull(strstr(host->cmdline, "isolcpus=domain,managed_irq,2-5"));
    /* Cpus_allowed_list 0-1,6-15 names offline CPUs: only online ones are usable. */
    assert_set(host->cpus_allowed, "0-1,6-11", "cpus_allowed");
    assert_set(host->mems_allowed, "0", "mems_allowed");
    assert_set(topo_host_cpu(host, 0)->siblings, "0,8", "siblings of 0");
    assert_set(topo_host_cpu(host, 4)->siblings, "4", "siblings of 4 (sibling 12 offline)");
    assert_set(topo_host_cpu(host, 4)->llc, "0-11", "llc");
    const TopoHugepages *hp = topo_node_hugepages(topo_host_node(host, 0), 2048);
    ck_assert_uint_eq(hp->total, 1024);
    ck_assert_uint_eq(hp->free, 1000);
}
END_TEST

START_TEST(test_old_kernel)
{
    g_autoptr(TopoHost) host = read_fixture("old-kernel");
    assert_set(host->online, "0-3", "online");
    /* No offline file: present minus online. */
    assert_set(host->offline, "4-5", "offline");
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        ck_assert_int_eq(cpu->die, 0);
        ck_assert_int_eq(cpu->package, cpu->cpu / 2);
        ck_assert_int_eq(cpu->node, 0);
        g_autoptr(TopoCpuSet) self = topo_cpuset_new_single(cpu->cpu);
        ck_assert(topo_cpuset_equal(cpu->llc, self));
    }
    ck_assert_uint_eq(host->nodes->len, 1);
    const TopoNode *node = topo_host_node(host, 0);
    assert_set(node->cpus, "0-3", "node 0 cpus");
    ck_assert_uint_eq(node->mem_total_kib, 8167548);
    ck_assert_uint_eq(node->mem_free_kib, 6021880);
    ck_assert_int_eq(topo_host_distance(host, 0, 0), 10);
    const TopoHugepages *hp = topo_node_hugepages(node, 2048);
    ck_assert_ptr_nonnull(hp);
    ck_assert_uint_eq(hp->total, 16);
    ck_assert_uint_eq(hp->free, 12);
    /* No sysfs isolated file: isolcpus= of the command line, not the one after "--". */
    assert_set(host->isolated, "3", "isolated");
    assert_set(host->nohz_full, "", "nohz_full");
    assert_set(host->mems_allowed, "0", "mems_allowed");
}
END_TEST

START_TEST(test_live)
{
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(NULL, &error);
    ck_assert_msg(host != NULL, "%s", error ? error->message : "?");
    ck_assert(host->live);
    ck_assert_str_eq(host->sysroot, "/");
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_int_eq(topo_cpuset_count(host->online), online);
    ck_assert_int_eq(host->cpus->len, online);

    g_autoptr(TopoCpuSet) affinity = topo_cpuset_new();
    ck_assert_int_eq(sched_getaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(affinity)), 0);
    topo_cpuset_intersect(affinity, host->online);
    ck_assert(topo_cpuset_equal(host->cpus_allowed, affinity));

    ck_assert(!topo_cpuset_is_empty(host->mems_allowed));
    ck_assert(host->nodes->len >= 1);
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        ck_assert(topo_cpuset_has(cpu->siblings, cpu->cpu));
        ck_assert(topo_cpuset_has(cpu->llc, cpu->cpu));
        ck_assert_ptr_nonnull(topo_host_node(host, cpu->node));
    }

    g_autoptr(TopoHost) slash = topo_host_read("/", &error);
    ck_assert_ptr_nonnull(slash);
    ck_assert(slash->live);
    ck_assert(topo_cpuset_equal(slash->online, host->online));
}
END_TEST

/* Runs @fn with stderr redirected to a file and returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), "qpin-test-host-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    return text;
}

static void live_read_and_numa_complaints(void)
{
    g_autoptr(TopoHost) host = topo_host_read(NULL, NULL);
    ck_assert_ptr_nonnull(host);
    /* What libnuma reports through numa_warn/numa_error, and a parse that makes it complain. */
    numa_warn(0, "warning from libnuma %d", 1);
    numa_error("error from libnuma");
    if (numa_available() >= 0) {
        struct bitmask *mask = numa_parse_nodestring("no-such-node");
        if (mask)
            numa_bitmask_free(mask);
    }
}

START_TEST(test_libnuma_silent)
{
    g_autofree char *err = capture_stderr(live_read_and_numa_complaints);
    ck_assert_msg(err[0] == '\0', "stderr got: %s", err);
}
END_TEST

/* --- trees built by the tests -------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *root)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *root, const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
}

static void drop(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    rm_tree(path);
}

#define CPU  "sys/devices/system/cpu/"
#define NODE "sys/devices/system/node/"

/* @n single-thread cores of one package on a kernel without NUMA, cache or die files. */
static char *flat_tree(int n)
{
    char *root = g_dir_make_tmp("qpin-test-host-XXXXXX", NULL);
    ck_assert_ptr_nonnull(root);
    g_autofree char *online = g_strdup_printf("0-%d\n", n - 1);
    put(root, CPU "online", online);
    for (int c = 0; c < n; c++) {
        g_autofree char *pkg = g_strdup_printf(CPU "cpu%d/topology/physical_package_id", c);
        g_autofree char *core = g_strdup_printf(CPU "cpu%d/topology/core_id", c);
        g_autofree char *sib = g_strdup_printf(CPU "cpu%d/topology/thread_siblings_list", c);
        g_autofree char *num = g_strdup_printf("%d\n", c);
        put(root, pkg, "0\n");
        put(root, core, num);
        put(root, sib, num);
    }
    put(root, "proc/meminfo", "MemTotal:        2048000 kB\nMemFree:         1024000 kB\n");
    return root;
}

/* Two single-thread cores on a kernel without NUMA, cache or die files. */
static char *minimal_tree(void)
{
    return flat_tree(2);
}

/* minimal_tree plus two NUMA nodes, one CPU each. */
static char *numa_tree(void)
{
    char *root = minimal_tree();
    put(root, NODE "online", "0-1\n");
    for (int n = 0; n < 2; n++) {
        g_autofree char *cpulist = g_strdup_printf(NODE "node%d/cpulist", n);
        g_autofree char *meminfo = g_strdup_printf(NODE "node%d/meminfo", n);
        g_autofree char *distance = g_strdup_printf(NODE "node%d/distance", n);
        g_autofree char *cpus = g_strdup_printf("%d\n", n);
        g_autofree char *mem = g_strdup_printf("Node %d MemTotal:       %8d kB\n"
                                               "Node %d MemFree:        %8d kB\n",
                                               n, 1000 * (n + 1), n, 500);
        put(root, cpulist, cpus);
        put(root, meminfo, mem);
        put(root, distance, n == 0 ? "10 12\n" : "12 10\n");
    }
    return root;
}

static void assert_read_fails(const char *root, int code, const char *needle)
{
    GError *error = NULL;
    TopoHost *host = topo_host_read(root, &error);
    ck_assert_msg(host == NULL, "reading the tree must fail (%s)", needle);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(error->domain == TOPO_ERROR && error->code == code,
                  "wrong error code %d, expected %d: %s", error->code, code, error->message);
    ck_assert_msg(strstr(error->message, needle), "message '%s' lacks '%s'", error->message,
                  needle);
    g_error_free(error);
}

START_TEST(test_degraded_minimal)
{
    g_autofree char *root = minimal_tree();
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(root, &error);
    ck_assert_msg(host != NULL, "%s", error ? error->message : "?");
    ck_assert(!host->live);
    ck_assert_uint_eq(host->nodes->len, 1);
    const TopoNode *node = topo_host_node(host, 0);
    assert_set(node->cpus, "0-1", "node 0");
    ck_assert_uint_eq(node->mem_total_kib, 2048000);
    ck_assert_uint_eq(node->hugepages->len, 0);
    for (int c = 0; c < 2; c++) {
        const TopoCpu *cpu = topo_host_cpu(host, c);
        ck_assert_int_eq(cpu->die, 0);
        ck_assert_int_eq(cpu->node, 0);
        ck_assert_uint_eq(topo_cpuset_count(cpu->llc), 1);
        ck_assert(topo_cpuset_has(cpu->llc, c));
    }
    assert_set(host->offline, "", "offline");
    ck_assert_str_eq(host->cmdline, "");
    assert_set(host->isolated, "", "isolated");
    assert_set(host->cpus_allowed, "0-1", "cpus_allowed");
    assert_set(host->mems_allowed, "0", "mems_allowed");
    rm_tree(root);
}
END_TEST

START_TEST(test_degraded_numa)
{
    g_autofree char *root = numa_tree();
    /* A status without the allowed lists and a cache directory without a unified cache. */
    put(root, "proc/self/status", "Name:\tcat\nPid:\t1\n");
    put(root, CPU "cpu0/cache/index0/level", "1\n");
    put(root, CPU "cpu0/cache/index0/type", "Data\n");
    put(root, CPU "cpu0/cache/index0/shared_cpu_list", "0\n");
    put(root, CPU "cpu1/cache/index0/level", "2\n");
    put(root, CPU "cpu1/cache/index0/type", "Unified\n");
    put(root, CPU "cpu1/cache/index0/shared_cpu_list", "0-1\n");
    put(root, CPU "cpu1/cache/index1/level", "1\n");
    put(root, CPU "cpu1/cache/index1/type", "Unified\n");
    put(root, CPU "cpu1/cache/index1/shared_cpu_list", "1\n");
    drop(root, NODE "node1/distance");
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(root, &error);
    ck_assert_msg(host != NULL, "%s", error ? error->message : "?");
    ck_assert_int_eq(topo_host_cpu(host, 0)->node, 0);
    ck_assert_int_eq(topo_host_cpu(host, 1)->node, 1);
    assert_set(topo_host_cpu(host, 0)->llc, "0", "llc of 0 (no unified cache)");
    assert_set(topo_host_cpu(host, 1)->llc, "0-1", "llc of 1 (highest unified level)");
    ck_assert_int_eq(topo_host_distance(host, 0, 1), 12);
    /* The kernel's defaults when there is no distance table. */
    ck_assert_int_eq(topo_host_distance(host, 1, 0), 20);
    ck_assert_int_eq(topo_host_distance(host, 1, 1), 10);
    ck_assert_uint_eq(topo_host_node(host, 1)->mem_total_kib, 2000);
    assert_set(host->cpus_allowed, "0-1", "cpus_allowed");
    assert_set(host->mems_allowed, "0-1", "mems_allowed");
    rm_tree(root);
}
END_TEST

/* Writes cache index @index of @cpu. */
static void put_cache(const char *root, int cpu, int index, const char *level, const char *type,
                      const char *shared)
{
    const char *files[][2] = {{"level", level}, {"type", type}, {"shared_cpu_list", shared}};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *rel =
            g_strdup_printf(CPU "cpu%d/cache/index%d/%s", cpu, index, files[i][0]);
        g_autofree char *text = g_strconcat(files[i][1], "\n", NULL);
        put(root, rel, text);
    }
}

/* CPUs whose cache directories do not all look alike: the layout of one CPU is a guess for the
 * next, never a substitute for reading it, and a CPU listed in an LLC read before has that
 * LLC. */
START_TEST(test_llc_layouts)
{
    g_autofree char *root = flat_tree(6);
    /* cpu0: the L3 at index3 holds 0-1; cpu1 has no cache directory of its own. */
    put_cache(root, 0, 0, "1", "Data", "0");
    put_cache(root, 0, 3, "3", "Unified", "0-1");
    /* cpu2: index3 is only an L2 here, the L3 is index4. */
    put_cache(root, 2, 3, "2", "Unified", "2");
    put_cache(root, 2, 4, "3", "Unified", "2-3");
    put_cache(root, 3, 4, "3", "Unified", "2-3");
    /* cpu4 has cpu2's layout; cpu5's index4 is no unified cache, its only one is an L1. */
    put_cache(root, 4, 4, "3", "Unified", "4");
    put_cache(root, 5, 4, "3", "Data", "5");
    put_cache(root, 5, 0, "1", "Unified", "5");
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(root, &error);
    ck_assert_msg(host != NULL, "%s", error ? error->message : "?");
    static const char *const llc[] = {"0-1", "0-1", "2-3", "2-3", "4", "5"};
    for (int c = 0; c < 6; c++) {
        g_autofree char *what = g_strdup_printf("llc of %d", c);
        assert_set(topo_host_cpu(host, c)->llc, llc[c], what);
    }
    /* An empty shared_cpu_list of a CPU read on the shorter path is still an error. */
    put_cache(root, 4, 4, "3", "Unified", "");
    assert_read_fails(root, TOPO_ERROR_PARSE, "index4/shared_cpu_list: empty for online CPU 4");
    rm_tree(root);
}
END_TEST

/* isolcpus= and nohz_full= of the command line stand in for the sysfs files a kernel without
 * them lacks, read with the kernel's own CPU-list syntax on an 8-CPU host. What the kernel
 * ignores, in whole or in part, is one warning naming the option and its value, with or without
 * the sysfs files; the read never fails for it. */
START_TEST(test_cmdline_fallback)
{
    static const struct {
        const char *cmdline, *isolated, *nohz;
        const char *warning; /* NULL: none */
    } cases[] = {
        {"ro isolcpus=2-3 nohz_full=1-3", "2-3", "1-3", NULL},
        {"isolcpus=domain,managed_irq,2-5 nohz_full=2-5 rcu_nocbs=2-5", "2-5", "2-5", NULL},
        {"isolcpus=managed_irq,domain,4-7", "4-7", "", NULL},
        {"isolcpus=nohz,managed_irq,2-5", "", "", NULL},
        {"isolcpus=1 isolcpus=4-5", "4-5", "", NULL},
        {"quiet -- isolcpus=1 nohz_full=1", "", "", NULL},
        /* The kernel's N-M:USED/GROUP, N for the last CPU, "all", empty items. */
        {"isolcpus=1-7:2/4", "1-2,5-6", "", NULL},
        {"isolcpus=6-N nohz_full=all:1/2", "6-7", "0,2,4,6", NULL},
        {"isolcpus=1,,3, nohz_full=N", "1,3", "7", NULL},
        {"", "", "", NULL},
        /* Skipped since Linux 5.7, with the default domain isolation. */
        {"isolcpus=bogus,2-5", "2-5", "",
         "isolcpus=bogus,2-5 on the kernel command line: unknown flag 'bogus' (the flags are "
         "nohz, domain, managed_irq); Linux 5.7 and later skip it"},
        /* Ignored by the kernel. */
        {"isolcpus=zz nohz_full=2", "", "2",
         "isolcpus=zz on the kernel command line: no CPU list after 'zz'; the kernel ignores the "
         "option"},
        {"isolcpus=domain", "", "", "isolcpus=domain on the kernel command line: no CPU list"},
        {"isolcpus=nohz,managed_irq,zz", "", "", "no CPU list after 'zz'"},
        {"isolcpus=d0main,2-5", "", "",
         "isolcpus=d0main,2-5 on the kernel command line: 'd0main' is neither a CPU list nor a "
         "flag (nohz, domain, managed_irq); the kernel ignores the option"},
        {"isolcpus=2-5x", "", "",
         "isolcpus=2-5x on the kernel command line: '2-5x' is not N, N-M or N-M:USED/GROUP; the "
         "kernel ignores the option"},
        /* qpin's stride syntax is not the kernel's. */
        {"isolcpus=0-6:2", "", "", "'0-6:2' is not N, N-M or N-M:USED/GROUP"},
        {"isolcpus=1,5-2", "", "", "'5-2' is a reversed range"},
        {"isolcpus=1-7:3/2", "", "", "'1-7:3/2' is a reversed range or a pattern of more CPUs"},
        {"isolcpus=1-7:1/0", "", "", "'1-7:1/0' is a reversed range"},
        {"isolcpus=2-9", "", "",
         "isolcpus=2-9 on the kernel command line: CPU 9 is past the last CPU of this host, 7; "
         "the kernel ignores the option"},
        {"isolcpus=", "", "",
         "isolcpus= on the kernel command line names no CPU; the kernel ignores it"},
        {"isolcpus=domain,", "", "", "isolcpus=domain, on the kernel command line names no CPU"},
        {"isolcpus=3 nohz_full=zz", "3", "",
         "nohz_full=zz on the kernel command line: 'zz' is not N, N-M or N-M:USED/GROUP; the "
         "kernel ignores the option"},
        {"nohz_full=1-99999999999", "", "",
         "nohz_full=1-99999999999 on the kernel command line: "
         "'1-99999999999' is not N, N-M"},
        {"nohz_full=", "", "", "nohz_full= on the kernel command line names no CPU"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *what = cases[i].cmdline;
        g_autofree char *root = flat_tree(8);
        g_autofree char *line = g_strconcat(cases[i].cmdline, "\n", NULL);
        put(root, "proc/cmdline", line);
        GError *error = NULL;
        g_autoptr(TopoHost) host = topo_host_read(root, &error);
        ck_assert_msg(host != NULL, "%s: %s", what, error ? error->message : "?");
        ck_assert_str_eq(host->cmdline, cases[i].cmdline);
        assert_set(host->isolated, cases[i].isolated, what);
        assert_set(host->nohz_full, cases[i].nohz, what);
        g_autofree char *warnings = warnings_text(host);
        ck_assert_msg(host->warnings->len == (cases[i].warning ? 1 : 0), "%s: warnings %s", what,
                      warnings);
        if (cases[i].warning)
            ck_assert_msg(strstr(warnings, cases[i].warning), "%s: warning %s lacks '%s'", what,
                          warnings, cases[i].warning);
        /* The sysfs files win over the command line; the warning stays. */
        put(root, CPU "isolated", "1\n");
        put(root, CPU "nohz_full", "0\n");
        g_autoptr(TopoHost) sys = topo_host_read(root, &error);
        ck_assert_ptr_nonnull(sys);
        assert_set(sys->isolated, "1", "isolated file");
        assert_set(sys->nohz_full, "0", "nohz_full file");
        g_autofree char *sys_warnings = warnings_text(sys);
        ck_assert_str_eq(sys_warnings, warnings);
        rm_tree(root);
    }

    /* Both options bad: two warnings. */
    g_autofree char *root = flat_tree(8);
    put(root, "proc/cmdline", "isolcpus=zz nohz_full=zz\n");
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(root, &error);
    ck_assert_ptr_nonnull(host);
    ck_assert_uint_eq(host->warnings->len, 2);
    ck_assert_ptr_nonnull(strstr(g_ptr_array_index(host->warnings, 0), "isolcpus=zz"));
    ck_assert_ptr_nonnull(strstr(g_ptr_array_index(host->warnings, 1), "nohz_full=zz"));
    rm_tree(root);
}
END_TEST

/* Reads the host under @root in a child process that SIGALRM ends after 10 s, so that a read
 * that blocks (a FIFO opened without O_NONBLOCK waits for a writer forever) fails the test
 * instead of hanging it. Returns "ok" or "CODE MESSAGE". */
static char *read_in_child(const char *root)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        /* Check's runner handles SIGALRM by killing the whole test; here it must end only
         * this child. */
        signal(SIGALRM, SIG_DFL);
        alarm(10);
        GError *error = NULL;
        TopoHost *host = topo_host_read(root, &error);
        char *msg = host ? g_strdup("ok") : g_strdup_printf("%d %s", error->code, error->message);
        ssize_t n = write(fds[1], msg, strlen(msg));
        _exit(n == (ssize_t)strlen(msg) ? 0 : 1);
    }
    close(fds[1]);
    GString *out = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_int_gt(n, 0);
        g_string_append_len(out, buf, n);
    }
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status) || WTERMSIG(status) != SIGALRM,
                  "reading %s hung: killed after 10 s", root);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reading child failed (%d)",
                  status);
    return g_string_free(out, FALSE);
}

static void replace_with_fifo(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    unlink(path);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
}

static void replace_with_socket(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    unlink(path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert(strlen(path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
}

static void replace_with_link(const char *root, const char *rel, const char *target)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    unlink(path);
    ck_assert_int_eq(symlink(target, path), 0);
}

/* Only regular files are read, required or optional: a FIFO in a sysroot is refused at once
 * (it used to block `qpin host` forever), and so are devices, sockets and directories. */
START_TEST(test_not_regular)
{
    static const struct {
        const char *file;
        char kind; /* p FIFO, s socket, z link to /dev/zero, d directory */
        const char *what;
        bool numa;
    } cases[] = {
        {"proc/cmdline", 'p', "a FIFO", false},
        {CPU "online", 'p', "a FIFO", false},
        {CPU "cpu1/topology/thread_siblings_list", 'p', "a FIFO", false},
        {CPU "cpu1/topology/core_id", 's', "a socket", false},
        {"proc/meminfo", 'z', "a character device", false},
        {CPU "isolated", 'z', "a character device", false},
        {NODE "node1/cpulist", 'p', "a FIFO", true},
        {NODE "node0/meminfo", 'd', "a directory", true},
        {"proc/self/status", 'p', "a FIFO", false},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *root = cases[i].numa ? numa_tree() : minimal_tree();
        put(root, cases[i].file, "0\n");
        if (cases[i].kind == 'p')
            replace_with_fifo(root, cases[i].file);
        else if (cases[i].kind == 's')
            replace_with_socket(root, cases[i].file);
        else if (cases[i].kind == 'z')
            replace_with_link(root, cases[i].file, "/dev/zero");
        else {
            drop(root, cases[i].file);
            g_autofree char *inside = g_strconcat(cases[i].file, "/x", NULL);
            put(root, inside, "");
        }
        g_autofree char *got = read_in_child(root);
        g_autofree char *path = g_build_filename(root, cases[i].file, NULL);
        g_autofree char *expected = g_strdup_printf("%d %s is not a regular file but %s",
                                                    TOPO_ERROR_IO, path, cases[i].what);
        ck_assert_msg(g_str_has_prefix(got, expected), "%s: got '%s', expected '%s'", cases[i].file,
                      got, expected);
        rm_tree(root);
    }
}
END_TEST

/* A regular file is read up to 4 MiB: a huge one is an error, not an exhausted memory. */
START_TEST(test_file_too_large)
{
    g_autofree char *root = minimal_tree();
    g_autofree char *path = g_build_filename(root, "proc/cmdline", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 5 << 20), 0);
    close(fd);
    assert_read_fails(root, TOPO_ERROR_IO, "proc/cmdline: larger than 4194304 bytes");
    ck_assert_int_eq(truncate(path, 4 << 20), 0);
    /* At the cap it is read, and then refused for its NUL bytes. */
    assert_read_fails(root, TOPO_ERROR_PARSE, "proc/cmdline: unexpected NUL byte");
    rm_tree(root);
}
END_TEST

/* Lists no kernel writes are errors naming the file, what it says and what was expected: SMT
 * siblings or cache CPUs beyond the host's CPUs or without the CPU itself, node CPU lists naming
 * CPUs the host does not have or overlapping. Offline CPUs may be named. */
START_TEST(test_impossible_lists)
{
    static const struct {
        const char *file, *text, *needle;
        bool numa;
    } cases[] = {
        {CPU "cpu1/topology/thread_siblings_list", "1,9\n",
         CPU "cpu1/topology/thread_siblings_list: says '1,9', but CPU 9 does not exist (expected "
             "CPUs of this host, online or offline: 0-3)",
         false},
        {CPU "cpu1/topology/thread_siblings_list", "0-1,4-8191\n",
         "says '0-1,4-8191', but CPUs 4-8191 do not exist", false},
        {CPU "cpu1/topology/thread_siblings_list", "0\n",
         CPU "cpu1/topology/thread_siblings_list: says '0', which leaves out CPU 1 itself "
             "(expected a list of CPUs including 1)",
         false},
        {CPU "cpu0/cache/index3/shared_cpu_list", "0-8191\n",
         CPU "cpu0/cache/index3/shared_cpu_list: says '0-8191', but CPUs 4-8191 do not exist "
             "(expected CPUs of this host, online or offline: 0-3)",
         false},
        {CPU "cpu0/cache/index3/shared_cpu_list", "1-3\n", "leaves out CPU 0 itself", false},
        /* cpu2 on the short path, with the layout of cpu0. */
        {CPU "cpu2/cache/index3/shared_cpu_list", "2-4\n",
         CPU "cpu2/cache/index3/shared_cpu_list: says '2-4', but CPU 4 does not exist", false},
        {NODE "node1/cpulist", "1,5\n",
         NODE "node1/cpulist: says '1,5', but CPU 5 does not exist (expected CPUs of this host, "
              "online or offline: 0-3)",
         true},
        {NODE "node1/cpulist", "0-1\n", NODE "node1/cpulist: says '0-1', but CPU 0 is also in ",
         true},
        /* Overlapping on offline CPUs only is still overlapping. */
        {NODE "node1/cpulist", "1,3\n", "says '1,3', but CPU 3 is also in ", true},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        /* Four CPUs, two online, two offline; node 0 holds 0 and offline 3 (as some
         * architectures leave it). */
        g_autofree char *root = cases[i].numa ? numa_tree() : flat_tree(4);
        if (cases[i].numa) {
            put(root, CPU "offline", "2-3\n");
            put(root, NODE "node0/cpulist", "0,3\n");
        }
        for (int c = 0; c < 4 && !cases[i].numa; c += 2) {
            g_autofree char *lo = g_strdup_printf("%d-%d", c, c + 1);
            put_cache(root, c, 3, "3", "Unified", lo);
        }
        put(root, cases[i].file, cases[i].text);
        g_autofree char *needle = g_str_has_prefix(cases[i].needle, "sys/")
                                      ? g_build_filename(root, cases[i].needle, NULL)
                                      : g_strdup(cases[i].needle);
        assert_read_fails(root, TOPO_ERROR_PARSE, needle);
        if (strstr(cases[i].needle, "is also in")) {
            /* The message names the other file too. */
            g_autofree char *other = g_build_filename(root, NODE "node0/cpulist", NULL);
            g_autofree char *both = g_strconcat(needle, other,
                                                " (expected node CPU lists that "
                                                "do not overlap: a CPU belongs to one NUMA node)",
                                                NULL);
            assert_read_fails(root, TOPO_ERROR_PARSE, both);
        }
        rm_tree(root);
    }

    /* Offline CPUs may be named: node 0 has offline CPU 3, CPU 1's sibling 2 is offline. */
    g_autofree char *root = numa_tree();
    put(root, CPU "offline", "2-3\n");
    put(root, NODE "node0/cpulist", "0,3\n");
    put(root, NODE "node1/cpulist", "1-2\n");
    put(root, CPU "cpu1/topology/thread_siblings_list", "1-2\n");
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(root, &error);
    ck_assert_msg(host != NULL, "%s", error ? error->message : "?");
    assert_set(topo_host_node(host, 0)->cpus, "0", "node 0 (online CPUs only)");
    assert_set(topo_host_node(host, 1)->cpus, "1", "node 1 (online CPUs only)");
    assert_set(topo_host_cpu(host, 1)->siblings, "1-2", "siblings of 1");
    ck_assert_uint_eq(host->warnings->len, 0);
    rm_tree(root);
}
END_TEST

START_TEST(test_error_sysroot)
{
    assert_read_fails("/nonexistent/qpin-sysroot", TOPO_ERROR_MISSING,
                      "/nonexistent/qpin-sysroot does not exist");
    assert_read_fails("/dev/null", TOPO_ERROR_MISSING, "/dev/null is not a directory");
    g_autofree char *root = g_dir_make_tmp("qpin-test-host-XXXXXX", NULL);
    g_autofree char *online = g_build_filename(root, CPU "online", NULL);
    assert_read_fails(root, TOPO_ERROR_MISSING, online);
    rm_tree(root);
}
END_TEST

START_TEST(test_error_missing)
{
    static const struct {
        const char *drop, *needle;
        bool numa;
    } cases[] = {
        {CPU "cpu1/topology", CPU "cpu1/topology", false},
        {CPU "cpu0/topology/core_id", CPU "cpu0/topology/core_id", false},
        {CPU "cpu1/topology/physical_package_id", CPU "cpu1/topology/physical_package_id", false},
        {CPU "cpu0/topology/thread_siblings_list", CPU "cpu0/topology/thread_siblings_list", false},
        {"proc/meminfo", "proc/meminfo", false},
        {NODE "node1/cpulist", NODE "node1/cpulist", true},
        {NODE "node0/meminfo", NODE "node0/meminfo", true},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *root = cases[i].numa ? numa_tree() : minimal_tree();
        drop(root, cases[i].drop);
        g_autofree char *needle = g_build_filename(root, cases[i].needle, NULL);
        assert_read_fails(root, TOPO_ERROR_MISSING, needle);
        rm_tree(root);
    }
}
END_TEST

START_TEST(test_error_garbage)
{
    static const struct {
        const char *file, *text, *needle;
        int code;
        bool numa;
    } cases[] = {
        {CPU "online", "0-x\n", CPU "online", TOPO_ERROR_PARSE, false},
        {CPU "online", "\n", "no CPU is online", TOPO_ERROR_PARSE, false},
        {CPU "online", "0-9000\n", CPU "online", TOPO_ERROR_RANGE, false},
        {CPU "offline", "3-1\n", CPU "offline", TOPO_ERROR_PARSE, false},
        {CPU "isolated", "garbage\n", CPU "isolated", TOPO_ERROR_PARSE, false},
        {CPU "cpu1/topology/thread_siblings_list", "1,,\n", "thread_siblings_list",
         TOPO_ERROR_PARSE, false},
        {CPU "cpu0/topology/core_id", "zero\n", "core_id", TOPO_ERROR_PARSE, false},
        {CPU "cpu0/topology/die_id", "\n", "die_id", TOPO_ERROR_PARSE, false},
        {CPU "cpu0/cache/index3/level", "three\n", "index3/level", TOPO_ERROR_PARSE, false},
        {"proc/meminfo", "MemFree: 1 kB\n", "no MemTotal line", TOPO_ERROR_PARSE, false},
        {"proc/self/status", "Cpus_allowed_list:\t0-1,oops\n", "Cpus_allowed_list",
         TOPO_ERROR_PARSE, false},
        {"proc/self/status", "Mems_allowed_list:\t9999\n", "Mems_allowed_list", TOPO_ERROR_RANGE,
         false},
        {NODE "node0/cpulist", "zero\n", NODE "node0/cpulist", TOPO_ERROR_PARSE, true},
        {NODE "node1/distance", "12\n", "1 distances for 2 online nodes", TOPO_ERROR_PARSE, true},
        {NODE "node1/distance", "12 ten\n", NODE "node1/distance", TOPO_ERROR_PARSE, true},
        {NODE "node0/meminfo", "Node 0 MemTotal: lots kB\nNode 0 MemFree: 1 kB\n", "MemTotal",
         TOPO_ERROR_PARSE, true},
        {NODE "node0/hugepages/hugepages-2048kB/nr_hugepages", "-1\n", "nr_hugepages",
         TOPO_ERROR_PARSE, true},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *root = cases[i].numa ? numa_tree() : minimal_tree();
        if (strstr(cases[i].file, "index3"))
            put(root, CPU "cpu0/cache/index3/type", "Unified\n");
        if (strstr(cases[i].file, "nr_hugepages"))
            put(root, NODE "node0/hugepages/hugepages-2048kB/free_hugepages", "0\n");
        put(root, cases[i].file, cases[i].text);
        assert_read_fails(root, cases[i].code, cases[i].needle);
        rm_tree(root);
    }
}
END_TEST

START_TEST(test_cli)
{
    g_autofree char *out = NULL, *err = NULL;
    const char *missing[] = {"host", "--sysroot", "/nonexistent/qpin-sysroot", NULL};
    ck_assert_int_eq(run_qpin(missing, &out, &err), 10); /* QPIN_EXIT_HOST */
    ck_assert_msg(strstr(err, "/nonexistent/qpin-sysroot does not exist"), "stderr: %s", err);
    ck_assert_str_eq(out, "");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    const char *bad[] = {"host", "--no-such-option", NULL};
    ck_assert_int_eq(run_qpin(bad, &out, &err), 2); /* QPIN_EXIT_USAGE */
    ck_assert_ptr_nonnull(strstr(err, "--no-such-option"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    const char *extra[] = {"host", "stray", NULL};
    ck_assert_int_eq(run_qpin(extra, &out, &err), 2);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    const char *help[] = {"host", "--help", NULL};
    ck_assert_int_eq(run_qpin(help, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "--sysroot"));
    ck_assert_ptr_nonnull(strstr(out, "--json"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);

    /* The human view of the Phi: a summary with the MCDRAM node and the distance 31; --cores
     * has one line per core. */
    g_autofree char *phi = fixture_path("xeon-phi-7250");
    const char *human[] = {"host", "--sysroot", phi, NULL};
    ck_assert_int_eq(run_qpin(human, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "cpus: 0-271 online (272)"));
    ck_assert_ptr_nonnull(strstr(out, "node 1 cpus: none\n"));
    ck_assert_ptr_nonnull(strstr(out, "   31"));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    const char *cores[] = {"host", "--sysroot", phi, "--cores", NULL};
    ck_assert_int_eq(run_qpin(cores, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "0,68,136,204"));
    ck_assert_ptr_nonnull(strstr(out, "67,135,203,271"));
    guint lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 1 + 68); /* column header, 68 cores */
}
END_TEST

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void find_fixtures(void)
{
    fixtures = g_ptr_array_new_with_free_func(g_free);
    const char *src = g_getenv("QPIN_SOURCE_ROOT");
    if (!src)
        return;
    g_autofree char *dir = g_build_filename(src, "tests", "fixtures", "hosts", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;
    while (d && (entry = g_dir_read_name(d))) {
        if (!g_str_has_suffix(entry, ".json"))
            continue;
        g_autofree char *name = g_strndup(entry, strlen(entry) - 5);
        g_autofree char *tree = g_build_filename(dir, name, NULL);
        if (g_file_test(tree, G_FILE_TEST_IS_DIR))
            g_ptr_array_add(fixtures, g_steal_pointer(&name));
    }
    g_ptr_array_sort(fixtures, compare_names);
}

static Suite *host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fixture_set);
    tcase_add_loop_test(tc, test_fixture_json, 0, (int)fixtures->len);
    tcase_add_loop_test(tc, test_fixture_no_warnings, 0, (int)fixtures->len);
    tcase_add_test(tc, test_xeon_phi);
    tcase_add_test(tc, test_xeon_gold);
    tcase_add_test(tc, test_offline_isolated);
    tcase_add_test(tc, test_old_kernel);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_live);
    tcase_add_test(tc, test_libnuma_silent);
    suite_add_tcase(s, tc);

    tc = tcase_create("trees");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_degraded_minimal);
    tcase_add_test(tc, test_degraded_numa);
    tcase_add_test(tc, test_llc_layouts);
    tcase_add_test(tc, test_cmdline_fallback);
    tcase_add_test(tc, test_not_regular);
    tcase_add_test(tc, test_file_too_large);
    tcase_add_test(tc, test_impossible_lists);
    tcase_add_test(tc, test_error_sysroot);
    tcase_add_test(tc, test_error_missing);
    tcase_add_test(tc, test_error_garbage);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    find_fixtures();
    int rc = qpin_check_run(host_suite());
    g_ptr_array_unref(fixtures);
    return rc;
}
