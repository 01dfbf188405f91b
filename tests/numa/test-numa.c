/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of guest NUMA memory: --numa and [numa.N] parsing, the generated QEMU arguments, the
 * host preflight on fixture hosts, the numa_maps placement proof on recorded QEMU processes, and
 * the preallocation progress. */
#include "qpin-error.h"
#include "qpin-memory.h"
#include "qpin-output-memory.h"
#include "qpin-placement-check.h"
#include "qpin-preflight.h"
#include "qpin-progress.h"
#include "qpin-progress-bar.h"
#include "qpin-qemu-numa.h"
#include "qpin-size.h"
#include "qpin-check.h"

#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef QPIN_TEST_SOURCE_ROOT
#error "QPIN_TEST_SOURCE_ROOT must name the source tree"
#endif

static char *fixture_path(const char *rel)
{
    return g_build_filename(QPIN_TEST_SOURCE_ROOT, rel, NULL);
}

static QpinNumaNode *parse_ok(const char *spec, int guest_node)
{
    GError *error = NULL;
    QpinNumaNode *node = qpin_memory_node_parse(spec, guest_node, &error);
    ck_assert_msg(node != NULL, "--numa '%s' failed: %s", spec, error ? error->message : "?");
    ck_assert_ptr_null(error);
    return node;
}

/* The spec must be refused with a message holding every needle. */
static void parse_fails(const char *spec, const char *needle1, const char *needle2)
{
    GError *error = NULL;
    QpinNumaNode *node = qpin_memory_node_parse(spec, 0, &error);
    ck_assert_msg(node == NULL, "--numa '%s' parsed but must fail", spec);
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(error->domain, QPIN_ERROR);
    ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
    g_autofree char *origin = g_strdup_printf("--numa '%s'", spec);
    ck_assert_msg(strstr(error->message, origin), "'%s': message '%s' does not name the option",
                  spec, error->message);
    ck_assert_msg(strstr(error->message, needle1), "'%s': message '%s' lacks '%s'", spec,
                  error->message, needle1);
    if (needle2)
        ck_assert_msg(strstr(error->message, needle2), "'%s': message '%s' lacks '%s'", spec,
                      error->message, needle2);
    g_error_free(error);
}

static char *set_text(const TopoCpuSet *set)
{
    return set ? topo_cpuset_format(set) : g_strdup("(null)");
}

static GPtrArray *nodes_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
}

/* Parses each --numa into a node list. */
static GPtrArray *nodes_parse(const char *const *specs)
{
    GPtrArray *nodes = nodes_new();
    for (int i = 0; specs[i]; i++)
        g_ptr_array_add(nodes, parse_ok(specs[i], i));
    return nodes;
}

static GPtrArray *nodes_from_file(const char *rel)
{
    g_autofree char *path = fixture_path(rel);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    GError *error = NULL;
    ck_assert_msg(g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error), "%s: %s", path,
                  error ? error->message : "?");
    GPtrArray *nodes = nodes_new();
    ck_assert_msg(qpin_memory_from_keyfile(kf, nodes, &error), "%s: %s", path,
                  error ? error->message : "?");
    return nodes;
}

static TopoHost *host_read(const char *name)
{
    g_autofree char *rel = g_build_filename("tests/fixtures/hosts", name, NULL);
    g_autofree char *path = fixture_path(rel);
    GError *error = NULL;
    TopoHost *host = topo_host_read(path, &error);
    ck_assert_msg(host != NULL, "%s: %s", path, error ? error->message : "?");
    return host;
}

/* ---- parsing ------------------------------------------------------------------------------ */

START_TEST(test_parse_seed)
{
    g_autoptr(QpinNumaNode) n0 = parse_ok("80G@0:vcpus=0-239:prealloc", 0);
    ck_assert_int_eq(n0->guest_node, 0);
    ck_assert_str_eq(n0->spec, "80G@0:vcpus=0-239:prealloc");
    ck_assert_uint_eq(n0->size_bytes, 80ull << 30);
    g_autofree char *h0 = set_text(n0->host_nodes);
    ck_assert_str_eq(h0, "0");
    ck_assert_int_eq(n0->policy, QPIN_NUMA_POLICY_BIND);
    ck_assert_int_eq(n0->backend, QPIN_NUMA_BACKEND_RAM);
    ck_assert(n0->prealloc);
    ck_assert_int_eq(n0->prealloc_threads, 0);
    ck_assert_uint_eq(n0->hugepage_kib, 0);
    ck_assert_ptr_null(n0->path);
    g_autofree char *v0 = set_text(n0->vcpus);
    ck_assert_str_eq(v0, "0-239");

    g_autoptr(QpinNumaNode) n1 = parse_ok("16G@1", 1);
    ck_assert_int_eq(n1->guest_node, 1);
    ck_assert_int_eq(n1->policy, QPIN_NUMA_POLICY_BIND);
    ck_assert(!n1->prealloc);
    ck_assert_ptr_null(n1->vcpus);

    g_autoptr(QpinNumaNode) n2 = parse_ok("128M", 2);
    ck_assert_ptr_null(n2->host_nodes);
    ck_assert_int_eq(n2->policy, QPIN_NUMA_POLICY_DEFAULT);
    ck_assert_uint_eq(n2->size_bytes, 128ull << 20);
}
END_TEST

START_TEST(test_parse_keys)
{
    g_autoptr(QpinNumaNode) a = parse_ok("4G@0-1:vcpus=0-3,8,10-11:policy=interleave", 0);
    g_autofree char *av = set_text(a->vcpus);
    g_autofree char *ah = set_text(a->host_nodes);
    ck_assert_str_eq(av, "0-3,8,10-11");
    ck_assert_str_eq(ah, "0-1");
    ck_assert_int_eq(a->policy, QPIN_NUMA_POLICY_INTERLEAVE);

    g_autoptr(QpinNumaNode) b = parse_ok("1g@2:policy=preferred:backend=memfd", 0);
    ck_assert_uint_eq(b->size_bytes, 1ull << 30);
    ck_assert_int_eq(b->policy, QPIN_NUMA_POLICY_PREFERRED);
    ck_assert_int_eq(b->backend, QPIN_NUMA_BACKEND_MEMFD);

    g_autoptr(QpinNumaNode) c = parse_ok("2G@0:hugepages=2M", 0);
    ck_assert_int_eq(c->backend, QPIN_NUMA_BACKEND_MEMFD);
    ck_assert_uint_eq(c->hugepage_kib, 2048);

    g_autoptr(QpinNumaNode) d = parse_ok("4G@1:hugepages=1G:path=/dev/hugepages", 0);
    ck_assert_int_eq(d->backend, QPIN_NUMA_BACKEND_FILE);
    ck_assert_uint_eq(d->hugepage_kib, 1048576);
    ck_assert_str_eq(d->path, "/dev/hugepages");

    g_autoptr(QpinNumaNode) e = parse_ok("512M:backend=file:path=/var/tmp/guest.mem", 0);
    ck_assert_int_eq(e->backend, QPIN_NUMA_BACKEND_FILE);
    ck_assert_ptr_null(e->host_nodes);

    g_autoptr(QpinNumaNode) f = parse_ok("1T@0:prealloc=on:prealloc-threads=16", 0);
    ck_assert_uint_eq(f->size_bytes, 1ull << 40);
    ck_assert(f->prealloc);
    ck_assert_int_eq(f->prealloc_threads, 16);

    g_autoptr(QpinNumaNode) g = parse_ok("4096K:prealloc=off", 0);
    ck_assert_uint_eq(g->size_bytes, 4ull << 20);
    ck_assert(!g->prealloc);

    g_autoptr(QpinNumaNode) h = parse_ok("1G@0:policy=bind:backend=ram:prealloc=yes", 0);
    ck_assert_int_eq(h->policy, QPIN_NUMA_POLICY_BIND);
    ck_assert(h->prealloc);

    /* ':' inside a cpulist stride and inside a path belongs to the value. */
    g_autoptr(QpinNumaNode) i = parse_ok("1G@0-2:2:vcpus=0-7:2,9:prealloc", 0);
    g_autofree char *iv = set_text(i->vcpus);
    g_autofree char *ih = set_text(i->host_nodes);
    ck_assert_str_eq(iv, "0,2,4,6,9");
    ck_assert_str_eq(ih, "0,2");
    ck_assert(i->prealloc);
    g_autoptr(QpinNumaNode) j = parse_ok("1G:path=/srv/vm:a/mem:prealloc", 0);
    ck_assert_str_eq(j->path, "/srv/vm:a/mem");
    ck_assert(j->prealloc);
}
END_TEST

START_TEST(test_parse_sizes)
{
    static const struct {
        const char *text;
        guint64 bytes;
    } ok[] = {
        {"4K", 4096},
        {"1536K", 1536 * 1024},
        {"512M", 512ull << 20},
        {"512m", 512ull << 20},
        {"80G", 80ull << 30},
        {"3T", 3ull << 40},
        {"16777215T", 16777215ull << 40},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(ok); k++) {
        guint64 bytes = 0;
        GError *error = NULL;
        ck_assert_msg(qpin_size_parse(ok[k].text, &bytes, &error), "%s: %s", ok[k].text,
                      error ? error->message : "?");
        ck_assert_uint_eq(bytes, ok[k].bytes);
        g_autofree char *back = qpin_size_format(bytes);
        guint64 again = 0;
        ck_assert(qpin_size_parse(back, &again, NULL));
        ck_assert_uint_eq(again, bytes);
    }
    g_autofree char *f1 = qpin_size_format(96ull << 30);
    g_autofree char *f2 = qpin_size_format(1536ull << 20);
    g_autofree char *f3 = qpin_size_format(1ull << 40);
    g_autofree char *f4 = qpin_size_format(4096 + 512);
    ck_assert_str_eq(f1, "96G");
    ck_assert_str_eq(f2, "1536M");
    ck_assert_str_eq(f3, "1T");
    ck_assert_str_eq(f4, "4608");

    static const char *const bad[] = {"80",  "1.5G", "80Q",   "G",         "",
                                      "-1G", "80GB", "0x10G", "16777216T", "99999999999999999999G",
                                      " 1G"};
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
        guint64 bytes = 7;
        GError *error = NULL;
        ck_assert_msg(!qpin_size_parse(bad[k], &bytes, &error), "'%s' accepted", bad[k]);
        ck_assert_ptr_nonnull(error);
        ck_assert_uint_eq(bytes, 7);
        g_error_free(error);
    }
}
END_TEST

START_TEST(test_parse_errors)
{
    parse_fails("0G@0", "size", "zero");
    parse_fails("80@0", "size", "unit suffix");
    parse_fails("1.5G", "size", "unit suffix");
    parse_fails("17179869184G", "size", "too large");
    parse_fails("@0", "size", "missing");
    parse_fails("", "size", "missing");
    parse_fails("1G@", "host nodes", "empty");
    parse_fails("1G@x", "host nodes", "not a list of host node ids");
    parse_fails("1G@1-0", "host nodes", "reversed");
    parse_fails("1G:policy=bind", "policy", "needs host nodes");
    parse_fails("1G@0:policy=strict", "policy", "bind, preferred or interleave");
    parse_fails("1G@0-1:policy=preferred", "policy", "single host node");
    parse_fails("1G@0:foo=1", "foo", "unknown key");
    parse_fails("1G@0:size=2G", "size", "SIZE@HOSTNODES");
    parse_fails("1G@0:host-nodes=1", "host-nodes", "SIZE@HOSTNODES");
    parse_fails("1G@0:prealloc:prealloc", "prealloc", "given twice");
    parse_fails("1G@0:vcpus=0:vcpus=1", "vcpus", "given twice");
    parse_fails("1G@0::prealloc", "empty item", NULL);
    parse_fails("1G@0:", "empty item", NULL);
    parse_fails("1G@0:vcpus=", "vcpus", "needs a value");
    parse_fails("1G@0:vcpus", "vcpus", "needs a value");
    parse_fails("1G@0:vcpus=a-b", "vcpus", "not a vCPU list");
    parse_fails("1G@0:backend=disk", "backend", "ram, memfd or file");
    parse_fails("1G@0:backend=ram:hugepages=2M", "hugepages", "backend=ram cannot use");
    parse_fails("1G@0:hugepages=4M", "hugepages", "2M or 1G");
    parse_fails("1G@0:hugepages=big", "hugepages", "2M or 1G");
    parse_fails("1G@0:backend=file", "backend", "needs path=");
    parse_fails("1G@0:backend=memfd:path=/x", "path", "backend=file");
    parse_fails("1G@0:backend=ram:path=/x", "path", "backend=file");
    parse_fails("1G@0:prealloc=maybe", "prealloc", "on or off");
    parse_fails("1G@0:prealloc:prealloc-threads=0", "prealloc-threads", "1 to 4096");
    parse_fails("1G@0:prealloc:prealloc-threads=x", "prealloc-threads", "1 to 4096");
    parse_fails("1G@0:prealloc-threads=4", "prealloc-threads", "only applies with prealloc");
    parse_fails("1536M@0:hugepages=1G", "size", "multiple of the 1G page size");
    parse_fails("6K", "size", "multiple of the 4K page size");
    parse_fails("1G:path=/a\nb", "newline", NULL);
}
END_TEST

START_TEST(test_keyfile)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    const char *text = "[run]\nqemu=qemu-system-x86_64\n"
                       "[numa.1]\nsize=16G\nhost-nodes=1\n"
                       "[numa.0]\nsize=80G\nhost-nodes=0\nvcpus=0-239\nprealloc=true\n"
                       "prealloc-threads=8\n";
    ck_assert(g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, NULL));
    g_autoptr(GPtrArray) nodes = nodes_new();
    GError *error = NULL;
    ck_assert_msg(qpin_memory_from_keyfile(kf, nodes, &error), "%s", error ? error->message : "");
    ck_assert_uint_eq(nodes->len, 2);
    QpinNumaNode *n0 = g_ptr_array_index(nodes, 0), *n1 = g_ptr_array_index(nodes, 1);
    ck_assert_int_eq(n0->guest_node, 0);
    ck_assert_uint_eq(n0->size_bytes, 80ull << 30);
    ck_assert(n0->prealloc);
    ck_assert_int_eq(n0->prealloc_threads, 8);
    ck_assert_str_eq(n0->origin, "[numa.0]");
    g_autofree char *v0 = set_text(n0->vcpus);
    ck_assert_str_eq(v0, "0-239");
    ck_assert_int_eq(n1->guest_node, 1);
    ck_assert_int_eq(n1->policy, QPIN_NUMA_POLICY_BIND);
    ck_assert(qpin_memory_validate(nodes, NULL));

    static const struct {
        const char *text, *needle1, *needle2;
    } bad[] = {
        {"[numa.0]\nsize=1G\n[numa.2]\nsize=1G\n", "[numa.1] is missing", NULL},
        {"[numa.1]\nsize=1G\n", "[numa.0] is missing", NULL},
        {"[numa.x]\nsize=1G\n", "[numa.x]", "[numa.0], [numa.1]"},
        {"[numa.0]\nhost-nodes=0\n", "[numa.0]: size", "missing"},
        {"[numa.0]\nsize=1G\nhugepage=1G\n", "[numa.0]: hugepage", "unknown key"},
        {"[numa.0]\nsize=1G\npolicy=bind\n", "[numa.0]: policy", "needs host nodes"},
        {"[numa.0]\nsize=1G\nprealloc=perhaps\n", "[numa.0]: prealloc", "on or off"},
        {"[numa.0]\nsize=1Q\n", "[numa.0]: size", "not a size"},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
        g_autoptr(GKeyFile) b = g_key_file_new();
        ck_assert(g_key_file_load_from_data(b, bad[k].text, -1, G_KEY_FILE_NONE, NULL));
        g_autoptr(GPtrArray) none = nodes_new();
        GError *e = NULL;
        ck_assert_msg(!qpin_memory_from_keyfile(b, none, &e), "accepted: %s", bad[k].text);
        ck_assert_uint_eq(none->len, 0);
        ck_assert_msg(strstr(e->message, bad[k].needle1), "'%s' lacks '%s'", e->message,
                      bad[k].needle1);
        if (bad[k].needle2)
            ck_assert_msg(strstr(e->message, bad[k].needle2), "'%s' lacks '%s'", e->message,
                          bad[k].needle2);
        g_error_free(e);
    }

    /* No [numa.N] group: nothing added, no error. */
    g_autoptr(GKeyFile) empty = g_key_file_new();
    ck_assert(g_key_file_load_from_data(empty, "[run]\npin=auto\n", -1, G_KEY_FILE_NONE, NULL));
    g_autoptr(GPtrArray) none = nodes_new();
    ck_assert(qpin_memory_from_keyfile(empty, none, NULL));
    ck_assert_uint_eq(none->len, 0);
}
END_TEST

START_TEST(test_validate_overlap)
{
    static const char *const specs[] = {"1G@0:vcpus=0-3", "1G@0:vcpus=3-5,8", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    GError *error = NULL;
    ck_assert(!qpin_memory_validate(nodes, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "--numa '1G@0:vcpus=3-5,8'"));
    ck_assert_ptr_nonnull(strstr(error->message, "vCPU 3 also in guest node 0"));
    g_error_free(error);

    /* Out of order guest node ids. */
    g_autoptr(GPtrArray) swapped = nodes_new();
    g_ptr_array_add(swapped, parse_ok("1G", 1));
    ck_assert(!qpin_memory_validate(swapped, NULL));
}
END_TEST

/* ---- QEMU arguments ----------------------------------------------------------------------- */

static GPtrArray *argv_new(const char *const *words)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; words[i]; i++)
        g_ptr_array_add(argv, g_strdup(words[i]));
    return argv;
}

static char *argv_join(const GPtrArray *argv, guint from)
{
    GString *s = g_string_new(NULL);
    for (guint i = from; i < argv->len; i++)
        g_string_append_printf(s, "%s%s", i > from ? " " : "",
                               (const char *)g_ptr_array_index(argv, i));
    return g_string_free(s, FALSE);
}

/* Runs qpin_qemu_numa_args_host() on @user + the nodes; returns what was appended, or NULL with
 * the error message in @message. */
static char *args_for(const char *const *specs, const char *const *user, const TopoHost *host,
                      char **message)
{
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) argv = argv_new(user);
    guint before = argv->len;
    GError *error = NULL;
    if (!qpin_qemu_numa_args_host(nodes, host, argv, &error)) {
        ck_assert_uint_eq(argv->len, before);
        if (message)
            *message = g_strdup(error->message);
        g_error_free(error);
        return NULL;
    }
    return argv_join(argv, before);
}

/* As args_for(), with the nodes already parsed. */
static char *args_for_nodes(const GPtrArray *nodes, const char *const *user, char **message)
{
    g_autoptr(GPtrArray) argv = argv_new(user);
    guint before = argv->len;
    GError *error = NULL;
    if (!qpin_qemu_numa_args(nodes, argv, &error)) {
        ck_assert_uint_eq(argv->len, before);
        *message = g_strdup(error->message);
        g_error_free(error);
        return NULL;
    }
    return argv_join(argv, before);
}

/* QEMU sizes guest memory in steps of 8K: the nodes together need a multiple of it. */
START_TEST(test_validate_total_size)
{
    static const struct {
        const char *specs[4];
        const char *needles[3]; /* NULL: accepted */
    } cases[] = {
        {{"4K", NULL},
         {"--numa '4K': size: 4K is below QEMU's minimum guest memory of 8K",
          "round -m 4K up to 8K", NULL}},
        {{"12K", NULL}, {"--numa '12K': size: 12K is not a multiple of 8K", "up to 16K", NULL}},
        {{"4K", "8K", NULL},
         {"--numa '4K', --numa '8K': the guest nodes add up to 12K, not a multiple of 8K",
          "minimum", NULL}},
        {{"1G", "4K", NULL}, {"add up to 1048580K", "round -m 1048580K up to 1048584K", NULL}},
        {{"8K", NULL}, {NULL}},
        {{"4K", "4K", NULL}, {NULL}},
        {{"1G", "4K", "4K", NULL}, {NULL}},
        {{"2M:hugepages=2M", "1G:hugepages=1G", NULL}, {NULL}},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GPtrArray) nodes = nodes_parse(cases[k].specs);
        g_autofree char *joined = g_strjoinv(" ", (char **)cases[k].specs);
        GError *error = NULL;
        gboolean ok = qpin_memory_validate(nodes, &error);
        if (!cases[k].needles[0]) {
            ck_assert_msg(ok, "'%s' refused: %s", joined, error ? error->message : "?");
            continue;
        }
        ck_assert_msg(!ok, "'%s' accepted", joined);
        ck_assert_int_eq(error->domain, QPIN_ERROR);
        ck_assert_int_eq(error->code, QPIN_ERROR_USAGE);
        for (int n = 0; cases[k].needles[n]; n++)
            ck_assert_msg(strstr(error->message, cases[k].needles[n]), "'%s': '%s' lacks '%s'",
                          joined, error->message, cases[k].needles[n]);
        g_error_free(error);

        /* The QEMU arguments are refused alike, before anything is appended. */
        static const char *const user[] = {"qemu", NULL};
        g_autofree char *message = NULL;
        ck_assert_ptr_null(args_for_nodes(nodes, user, &message));
        ck_assert_msg(strstr(message, cases[k].needles[0]), "%s", message);
    }

    /* [numa.N] sections are held to the same rule. */
    g_autoptr(GKeyFile) kf = g_key_file_new();
    ck_assert(g_key_file_load_from_data(kf, "[numa.0]\nsize=4K\n", -1, G_KEY_FILE_NONE, NULL));
    g_autoptr(GPtrArray) nodes = nodes_new();
    ck_assert(qpin_memory_from_keyfile(kf, nodes, NULL));
    GError *error = NULL;
    ck_assert(!qpin_memory_validate(nodes, &error));
    ck_assert_msg(strstr(error->message, "[numa.0]: size: 4K is below QEMU's minimum guest "
                                         "memory of 8K"),
                  "%s", error->message);
    g_error_free(error);
}
END_TEST

/* The user's -m and -numa are found by QEMU's own option table: an option's value is never an
 * option, and flags of 7.2 and later take no value. */
START_TEST(test_args_option_values)
{
    static const char *const specs[] = {"256M", NULL};
    static const struct {
        const char *const user[8];
        gboolean ok;
        gboolean adds_m;
    } cases[] = {
        /* -async-teardown (QEMU 7.2 of Debian, 8.x) is a flag: its -m is the guest's. */
        {{"qemu", "-async-teardown", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "-async-teardown", "-m", "256M", NULL}, TRUE, FALSE},
        {{"qemu", "-no-user-config", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "-run-with", "async-teardown=on", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "--no-user-config", "--numa", "node", NULL}, FALSE, FALSE},
        /* Values that look like options. */
        {{"qemu", "-append", "-m", "-append", "-numa", NULL}, TRUE, TRUE},
        {{"qemu", "-append", "-async-teardown", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "-name", "-m", "-kernel", "-numa", NULL}, TRUE, TRUE},
        /* Options the table lacks: a value only when the next word is no option. */
        {{"qemu", "-foo-new-flag", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "-foo-new-opt", "value", "-m", "512M", NULL}, FALSE, FALSE},
        {{"qemu", "-foo-new-opt", "value", "-m", "256M", NULL}, TRUE, FALSE},
        /* A trailing -m without value (qpin_qemu_argv_build() refuses it first). */
        {{"qemu", "-S", "-m", NULL}, TRUE, TRUE},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GPtrArray) nodes = nodes_parse(specs);
        g_autofree char *message = NULL;
        g_autofree char *out = args_for_nodes(nodes, cases[k].user, &message);
        g_autofree char *joined = g_strjoinv(" ", (char **)cases[k].user);
        if (!cases[k].ok) {
            ck_assert_msg(out == NULL, "'%s' accepted: %s", joined, out);
            ck_assert_msg(strstr(message, "-m 512M (512M) disagrees") || strstr(message, "-numa"),
                          "'%s': %s", joined, message);
            continue;
        }
        ck_assert_msg(out != NULL, "'%s' refused: %s", joined, message);
        ck_assert_msg(g_str_has_suffix(out, " -m 256M") == cases[k].adds_m, "'%s' -> '%s'", joined,
                      out);
    }
}
END_TEST

START_TEST(test_args_seed)
{
    static const char *const specs[] = {"80G@0:vcpus=0-239:prealloc", "16G@1", NULL};
    static const char *const user[] = {"qemu-system-x86_64", "-enable-kvm", "-smp",
                                       "cpus=240,cores=60,threads=4,sockets=1", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) argv = argv_new(user);
    GError *error = NULL;
    ck_assert_msg(qpin_qemu_numa_args(nodes, argv, &error), "%s", error ? error->message : "");
    static const char *const expected[] = {
        "qemu-system-x86_64",
        "-enable-kvm",
        "-smp",
        "cpus=240,cores=60,threads=4,sockets=1",
        "-object",
        "thread-context,id=qpin-tc0,node-affinity=0",
        "-object",
        "memory-backend-ram,id=qpin-mem0,size=80G,host-nodes=0,policy=bind,prealloc=on,"
        "prealloc-context=qpin-tc0",
        "-numa",
        "node,nodeid=0,cpus=0-239,memdev=qpin-mem0",
        "-object",
        "memory-backend-ram,id=qpin-mem1,size=16G,host-nodes=1,policy=bind",
        "-numa",
        "node,nodeid=1,memdev=qpin-mem1",
        "-m",
        "96G",
    };
    ck_assert_uint_eq(argv->len, G_N_ELEMENTS(expected));
    for (guint i = 0; i < argv->len; i++)
        ck_assert_str_eq(g_ptr_array_index(argv, i), expected[i]);
    ck_assert_uint_eq(qpin_memory_prealloc_bytes(nodes), 80ull << 30);
    ck_assert_uint_eq(qpin_memory_total_bytes(nodes), 96ull << 30);
}
END_TEST

START_TEST(test_args_backends)
{
    static const char *const user[] = {"qemu", NULL};
    static const char *const specs[] = {
        "2G@0,2:hugepages=1G:vcpus=0-1,4,6-7:prealloc:prealloc-threads=4",
        "1G@1:policy=interleave:backend=memfd",
        "1G@0:policy=preferred:hugepages=2M:path=/mnt/huge,2M:prealloc",
        "512M:backend=file:path=/var/tmp/mem",
        NULL,
    };
    g_autofree char *out = args_for(specs, user, NULL, NULL);
    ck_assert_str_eq(out,
                     "-object thread-context,id=qpin-tc0,node-affinity=0,node-affinity=2 "
                     "-object memory-backend-memfd,id=qpin-mem0,size=2G,hugetlb=on,"
                     "hugetlbsize=1G,host-nodes=0,host-nodes=2,policy=bind,prealloc=on,"
                     "prealloc-threads=4,prealloc-context=qpin-tc0 "
                     "-numa node,nodeid=0,cpus=0-1,cpus=4,cpus=6-7,memdev=qpin-mem0 "
                     "-object memory-backend-memfd,id=qpin-mem1,size=1G,host-nodes=1,"
                     "policy=interleave "
                     "-numa node,nodeid=1,memdev=qpin-mem1 "
                     "-object thread-context,id=qpin-tc2,node-affinity=0 "
                     "-object memory-backend-file,id=qpin-mem2,size=1G,mem-path=/mnt/huge,,2M,"
                     "host-nodes=0,policy=preferred,prealloc=on,prealloc-context=qpin-tc2 "
                     "-numa node,nodeid=2,memdev=qpin-mem2 "
                     "-object memory-backend-file,id=qpin-mem3,size=512M,mem-path=/var/tmp/mem "
                     "-numa node,nodeid=3,memdev=qpin-mem3 "
                     "-m 4608M");

    /* Unbound prealloc has no node to run on: no thread-context. */
    static const char *const unbound[] = {"256M:prealloc", NULL};
    g_autofree char *out2 = args_for(unbound, user, NULL, NULL);
    ck_assert_str_eq(out2, "-object memory-backend-ram,id=qpin-mem0,size=256M,prealloc=on "
                           "-numa node,nodeid=0,memdev=qpin-mem0 -m 256M");
}
END_TEST

START_TEST(test_args_memory_size)
{
    static const char *const specs[] = {"64G@0:vcpus=0-3", "32G@1", NULL};
    static const struct {
        const char *const user[8];
        gboolean ok;
        gboolean adds_m;
    } cases[] = {
        {{"qemu", "-m", "96G", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "96g", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "98304", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "98304M", NULL}, TRUE, FALSE},
        {{"qemu", "--m", "96G", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "size=96G,slots=4,maxmem=128G", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "96G,slots=4,maxmem=128G", NULL}, TRUE, FALSE},
        {{"qemu", "-m", "slots=4,maxmem=128G", NULL}, TRUE, TRUE},
        {{"qemu", "-m", "1G", "-m", "96G", NULL}, TRUE, FALSE},
        {{"qemu", "-nographic", "-m", "96G", NULL}, TRUE, FALSE},
        /* -append takes a value: its "-m" is no -m. */
        {{"qemu", "-append", "-m", "-kernel", "vmlinuz", NULL}, TRUE, TRUE},
        {{"qemu", "-append", "-numa", NULL}, TRUE, TRUE},
        {{"qemu", "-m", "64G", NULL}, FALSE, FALSE},
        {{"qemu", "-m", "98303", NULL}, FALSE, FALSE},
        {{"qemu", "-m", "96G", "-m", "1G", NULL}, FALSE, FALSE},
        {{"qemu", "-m", "size=95G,maxmem=128G", NULL}, FALSE, FALSE},
        {{"qemu", "-m", "lots", NULL}, FALSE, FALSE},
        {{"qemu", "-numa", "node,nodeid=0", NULL}, FALSE, FALSE},
        {{"qemu", "--numa", "node", NULL}, FALSE, FALSE},
        {{"qemu", "-S", "-numa", "node", NULL}, FALSE, FALSE},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autofree char *message = NULL;
        g_autofree char *out = args_for(specs, cases[k].user, NULL, &message);
        g_autofree char *joined = g_strjoinv(" ", (char **)cases[k].user);
        if (!cases[k].ok) {
            ck_assert_msg(out == NULL, "'%s' accepted", joined);
            ck_assert_msg(strstr(message, "-m") || strstr(message, "-numa"), "%s", message);
            continue;
        }
        ck_assert_msg(out != NULL, "'%s' refused: %s", joined, message);
        ck_assert_msg(g_str_has_suffix(out, " -m 96G") == cases[k].adds_m, "'%s' -> '%s'", joined,
                      out);
    }

    g_autofree char *message = NULL;
    static const char *const user[] = {"qemu", "-m", "64G", NULL};
    ck_assert_ptr_null(args_for(specs, user, NULL, &message));
    ck_assert_str_eq(message, "QEMU's -m 64G (64G) disagrees with the guest NUMA nodes, which add "
                              "up to 96G; drop -m (qpin adds -m 96G) or write -m 96G");
}
END_TEST

START_TEST(test_args_thread_context_host)
{
    static const char *const user[] = {"qemu", NULL};
    g_autoptr(TopoHost) phi = host_read("xeon-phi-7250");
    /* MCDRAM (node 1) has no CPUs: the preallocation runs on the nearest node with CPUs. */
    static const char *const mcdram[] = {"8G@1:prealloc", NULL};
    g_autofree char *out = args_for(mcdram, user, phi, NULL);
    ck_assert_str_eq(out, "-object thread-context,id=qpin-tc0,node-affinity=0 "
                          "-object memory-backend-ram,id=qpin-mem0,size=8G,host-nodes=1,"
                          "policy=bind,prealloc=on,prealloc-context=qpin-tc0 "
                          "-numa node,nodeid=0,memdev=qpin-mem0 -m 8G");
    /* Without the host the node itself is named (QEMU would refuse it for MCDRAM). */
    g_autofree char *blind = args_for(mcdram, user, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(blind, "node-affinity=1"));

    /* qpin confined to node 1's CPUs: the preallocation for node 0 memory runs on node 1. */
    g_autoptr(TopoHost) gold = host_read("xeon-gold-6148-2s");
    topo_cpuset_free(gold->cpus_allowed);
    gold->cpus_allowed = topo_cpuset_parse("1-79:2", NULL);
    static const char *const remote[] = {"8G@0:prealloc", "8G@1:prealloc", NULL};
    g_autofree char *out2 = args_for(remote, user, gold, NULL);
    ck_assert_ptr_nonnull(strstr(out2, "thread-context,id=qpin-tc0,node-affinity=1 "));
    ck_assert_ptr_nonnull(strstr(out2, "thread-context,id=qpin-tc1,node-affinity=1 "));

    /* No CPU at all: no context. */
    topo_cpuset_clear(gold->cpus_allowed);
    g_autofree char *out3 = args_for(remote, user, gold, NULL);
    ck_assert_ptr_null(strstr(out3, "thread-context"));
    ck_assert_ptr_null(strstr(out3, "prealloc-context"));
}
END_TEST

START_TEST(test_binding)
{
    static const char *const specs[] = {"1G@0", "1G", "1G@1-2:policy=interleave", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) binding = qpin_memory_binding(nodes);
    ck_assert_uint_eq(binding->len, 3);
    g_autofree char *b0 = set_text(g_ptr_array_index(binding, 0));
    g_autofree char *b2 = set_text(g_ptr_array_index(binding, 2));
    ck_assert_str_eq(b0, "0");
    ck_assert_ptr_null(g_ptr_array_index(binding, 1));
    ck_assert_str_eq(b2, "1-2");
}
END_TEST

START_TEST(test_nodes_json)
{
    static const char *const specs[] = {"80G@0:vcpus=0-239:prealloc", "2G:hugepages=2M", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    json_object *j = qpin_output_memory_nodes_json(nodes);
    ck_assert_int_eq(json_object_array_length(j), 2);
    json_object *n0 = json_object_array_get_idx(j, 0), *n1 = json_object_array_get_idx(j, 1), *v;
    ck_assert(json_object_object_get_ex(n0, "size_bytes", &v));
    ck_assert_uint_eq(json_object_get_uint64(v), 80ull << 30);
    ck_assert(json_object_object_get_ex(n0, "host_nodes", &v));
    ck_assert_str_eq(json_object_get_string(v), "0");
    ck_assert(json_object_object_get_ex(n0, "vcpus", &v));
    ck_assert_str_eq(json_object_get_string(v), "0-239");
    ck_assert(json_object_object_get_ex(n0, "backend_id", &v));
    ck_assert_str_eq(json_object_get_string(v), "qpin-mem0");
    ck_assert(json_object_object_get_ex(n1, "backend", &v));
    ck_assert_str_eq(json_object_get_string(v), "memfd");
    ck_assert(json_object_object_get_ex(n1, "policy", &v));
    ck_assert_str_eq(json_object_get_string(v), "default");
    ck_assert(json_object_object_get_ex(n1, "host_nodes", &v));
    ck_assert_ptr_null(v);
    ck_assert(json_object_object_get_ex(n1, "hugepage_kib", &v));
    ck_assert_int_eq(json_object_get_int(v), 2048);
    json_object_put(j);
}
END_TEST

/* ---- preflight ---------------------------------------------------------------------------- */

static char *preflight_message(const GPtrArray *nodes, const TopoHost *host)
{
    GError *error = NULL;
    if (qpin_preflight_memory(nodes, host, &error))
        return NULL;
    ck_assert_int_eq(error->domain, QPIN_ERROR);
    char *message = g_strdup(error->message);
    g_error_free(error);
    return message;
}

static void assert_has(const char *message, const char *needle)
{
    ck_assert_msg(message != NULL, "accepted, expected a message with '%s'", needle);
    ck_assert_msg(strstr(message, needle), "message '%s' lacks '%s'", message, needle);
}

START_TEST(test_preflight_examples)
{
    g_autoptr(TopoHost) phi = host_read("xeon-phi-7250");
    g_autoptr(TopoHost) gold = host_read("xeon-gold-6148-2s");
    g_autoptr(GPtrArray) seed240 = nodes_from_file("examples/seed-240.ini");
    g_autoptr(GPtrArray) seed002 = nodes_from_file("examples/seed-002.ini");

    g_autofree char *ok1 = preflight_message(seed240, phi);
    ck_assert_msg(ok1 == NULL, "seed-240 refused on the Xeon Phi: %s", ok1);
    g_autofree char *ok2 = preflight_message(seed002, gold);
    ck_assert_msg(ok2 == NULL, "seed-002 refused on the Gold 6148: %s", ok2);

    /* The Gold 6148's node 0 has 11.5 GiB free, not 80. */
    g_autofree char *m1 = preflight_message(seed240, gold);
    assert_has(m1, "guest node 0 ([numa.0]) needs 80.0 GiB on host node 0 (policy=bind), which "
                   "has 11.5 GiB free");
    /* The Xeon Phi has no 1G pages reserved, and its node 1 (MCDRAM, 15.7 GiB free) cannot
     * hold 160 of them: no 'echo 160' that the kernel could never honour. */
    g_autofree char *m2 = preflight_message(seed002, phi);
    assert_has(m2, "guest node 0 ([numa.0]) needs 160 hugepages of 1G (160.0 GiB) on host node 1, "
                   "which has 0 free of 0; the node cannot hold them: 160 more are missing and "
                   "its 15.7 GiB of MemFree holds at most 15 1G pages; bind the guest node to "
                   "other host nodes or give it less memory");
    ck_assert_ptr_null(strstr(m2, "echo"));

    /* The seed's 16 GiB on MCDRAM: node 1 has 15.7 GiB free (and 15.75 GiB in total). */
    static const char *const seed_literal[] = {"80G@0:vcpus=0-239:prealloc", "16G@1", NULL};
    g_autoptr(GPtrArray) literal = nodes_parse(seed_literal);
    g_autofree char *m3 = preflight_message(literal, phi);
    assert_has(m3, "guest node 1 (--numa '16G@1') needs 16.0 GiB on host node 1 (policy=bind), "
                   "which has 15.7 GiB free");
    ck_assert_ptr_null(strstr(m3, "guest node 0"));
}
END_TEST

START_TEST(test_preflight_hugepages)
{
    g_autoptr(TopoHost) gold = host_read("xeon-gold-6148-2s");
    static const struct {
        const char *spec;
        const char *needle; /* NULL: accepted */
    } cases[] = {
        {"173G@1:hugepages=1G", NULL},
        {"45G@0:hugepages=1G", NULL},
        /* Node 1 has 13.9 GiB of MemFree: room for 13 more 1G pages, not for 27. */
        {"186G@1:hugepages=1G",
         "needs 186 hugepages of 1G (186.0 GiB) on host node 1, which has 173 free of 173; reserve "
         "them with: echo 186 > /sys/devices/system/node/node1/hugepages/hugepages-1048576kB/"
         "nr_hugepages"},
        {"187G@1:hugepages=1G",
         "needs 187 hugepages of 1G (187.0 GiB) on host node 1, which has 173 free of 173; the "
         "node cannot hold them: 14 more are missing and its 13.9 GiB of MemFree holds at most 13 "
         "1G pages; bind the guest node to other host nodes or give it less memory"},
        {"100G@0:hugepages=1G",
         "needs 100 hugepages of 1G (100.0 GiB) on host node 0, which has 45 free of 173; the node "
         "cannot hold them: 55 more are missing and its 11.5 GiB of MemFree holds at most 11 1G "
         "pages"},
        {"56G@0:hugepages=1G", "which has 45 free of 173; reserve them with: echo 184 > "
                               "/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/"
                               "nr_hugepages"},
        /* Split evenly over two bound nodes: 50 each, node 0 has 45. */
        {"100G@0-1:hugepages=1G", "needs 50 hugepages of 1G (50.0 GiB) on host node 0, which has "
                                  "45 free of 173; reserve them with: echo 178 >"},
        {"90G@0-1:hugepages=1G", NULL},
        {"2G@1:hugepages=2M", "needs 1024 hugepages of 2M (2.0 GiB) on host node 1, which has 0 "
                              "free of 0; reserve them with: echo 1024 > "
                              "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/"
                              "nr_hugepages"},
        /* Not bound: any node qpin may use (45 + 173 free). */
        {"218G:hugepages=1G", NULL},
        /* 11 + 13 more 1G pages fit in the MemFree of nodes 0 and 1. */
        {"242G:hugepages=1G", "needs 242 hugepages of 1G (242.0 GiB), and the host nodes qpin may "
                              "use have 218 free; reserve them with: echo 370 > "
                              "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"},
        {"300G:hugepages=1G", "needs 300 hugepages of 1G (300.0 GiB), and the host nodes qpin may "
                              "use have 218 free; the host cannot hold them: 82 more are missing "
                              "and the 25.5 GiB of MemFree of those nodes holds at most 24 1G "
                              "pages; give the guest less memory"},
        {"200G@1:policy=preferred:hugepages=1G", NULL},
        /* Hugepages do not come out of MemFree. */
        {"100G@1:hugepages=1G", NULL},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        const char *specs[] = {cases[k].spec, NULL};
        g_autoptr(GPtrArray) nodes = nodes_parse(specs);
        g_autofree char *message = preflight_message(nodes, gold);
        if (!cases[k].needle) {
            ck_assert_msg(message == NULL, "'%s' refused: %s", cases[k].spec, message);
            continue;
        }
        assert_has(message, cases[k].needle);
        g_autofree char *who = g_strdup_printf("guest node 0 (--numa '%s')", cases[k].spec);
        assert_has(message, who);
    }

    /* A kernel without 1G pages on the node. */
    TopoNode *n1 = g_ptr_array_index(gold->nodes, 1);
    g_array_set_size(n1->hugepages, 1);
    ck_assert_uint_eq(g_array_index(n1->hugepages, TopoHugepages, 0).size_kib, 2048);
    static const char *const one[] = {"4G@1:hugepages=1G", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(one);
    g_autofree char *message = preflight_message(nodes, gold);
    assert_has(message, "which has no 1G hugepage pool "
                        "(/sys/devices/system/node/node1/hugepages/hugepages-1048576kB is missing");
}
END_TEST

START_TEST(test_preflight_nodes)
{
    g_autoptr(TopoHost) gold = host_read("xeon-gold-6148-2s");
    static const char *const missing[] = {"1G@2", NULL};
    g_autoptr(GPtrArray) n1 = nodes_parse(missing);
    g_autofree char *m1 = preflight_message(n1, gold);
    assert_has(m1, "guest node 0 (--numa '1G@2'): host node 2 does not exist; host nodes with "
                   "memory qpin may use: 0-1");

    /* Two guest nodes on one host node add up: 8 + 8 GiB > 11.5 GiB free. */
    static const char *const both[] = {"8G@0:vcpus=0-1", "8G@0:vcpus=2-3", "8G@1", NULL};
    g_autoptr(GPtrArray) n2 = nodes_parse(both);
    g_autofree char *m2 = preflight_message(n2, gold);
    assert_has(m2, "guest node 0 (--numa '8G@0:vcpus=0-1') and guest node 1 (--numa "
                   "'8G@0:vcpus=2-3') need together 16.0 GiB on host node 0");
    ck_assert_ptr_null(strstr(m2, "guest node 2"));

    /* Bound to two nodes: half on each. 26G = 13G each; node 0 has 11.5 GiB, node 1 13.9. */
    static const char *const split[] = {"26G@0-1", NULL};
    g_autoptr(GPtrArray) n3 = nodes_parse(split);
    g_autofree char *m3 = preflight_message(n3, gold);
    assert_has(m3, "needs 13.0 GiB on host node 0");
    ck_assert_ptr_null(strstr(m3, "host node 1"));
    static const char *const split_ok[] = {"22G@0-1", NULL};
    g_autoptr(GPtrArray) n4 = nodes_parse(split_ok);
    g_autofree char *m4 = preflight_message(n4, gold);
    ck_assert_msg(m4 == NULL, "%s", m4);

    /* preferred, interleave and unbound memory may spill: no MemFree check. */
    static const char *const loose[] = {"100G@0:policy=preferred", "100G@0-1:policy=interleave",
                                        "100G", NULL};
    g_autoptr(GPtrArray) n5 = nodes_parse(loose);
    g_autofree char *m5 = preflight_message(n5, gold);
    ck_assert_msg(m5 == NULL, "%s", m5);

    /* Memory nodes outside qpin's Mems_allowed_list. */
    topo_cpuset_free(gold->mems_allowed);
    gold->mems_allowed = topo_cpuset_new_single(0);
    static const char *const other[] = {"1G@1", NULL};
    g_autoptr(GPtrArray) n6 = nodes_parse(other);
    g_autofree char *m6 = preflight_message(n6, gold);
    assert_has(m6, "host node 1 is not in qpin's allowed memory nodes (Mems_allowed_list 0");
    assert_has(m6, "bind to one of 0");

    /* A node without memory. */
    TopoNode *node0 = g_ptr_array_index(gold->nodes, 0);
    node0->mem_total_kib = 0;
    node0->mem_free_kib = 0;
    static const char *const cpu_only[] = {"1G@0", NULL};
    g_autoptr(GPtrArray) n7 = nodes_parse(cpu_only);
    g_autofree char *m7 = preflight_message(n7, gold);
    assert_has(m7, "host node 0 has no memory");

    /* Every problem is reported, not only the first. */
    static const char *const many[] = {"1G@0", "1G@1", "1G@7", NULL};
    g_autoptr(GPtrArray) n8 = nodes_parse(many);
    g_autofree char *m8 = preflight_message(n8, gold);
    assert_has(m8, "guest node 0 (--numa '1G@0'): host node 0 has no memory");
    assert_has(m8, "guest node 1 (--numa '1G@1'): host node 1 is not in");
    assert_has(m8, "guest node 2 (--numa '1G@7'): host node 7 does not exist");
}
END_TEST

START_TEST(test_preflight_this_machine)
{
    /* The live host: a hugetlbfs check of path= that is not on hugetlbfs. */
    GError *error = NULL;
    g_autoptr(TopoHost) host = topo_host_read("/", &error);
    ck_assert_msg(host != NULL, "cannot read this machine's /sys and /proc: %s",
                  error ? error->message : "no error set");
    g_autofree char *dir = g_dir_make_tmp("qpin-numa-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    g_autofree char *spec = g_strdup_printf("2M:hugepages=2M:path=%s", dir);
    const char *specs[] = {spec, NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autofree char *message = preflight_message(nodes, host);
    assert_has(message, "is not on a hugetlbfs mount; mount one (mount -t hugetlbfs -o "
                        "pagesize=2M none DIR)");
    rmdir(dir);
}
END_TEST

/* ---- placement ---------------------------------------------------------------------------- */

static char *data_dir(void)
{
    return fixture_path("tests/numa/data/proc");
}

static GPtrArray *placement_read(const GPtrArray *nodes, pid_t pid)
{
    g_autofree char *root = data_dir();
    GError *error = NULL;
    GPtrArray *p = qpin_mem_placement_read(nodes, pid, root, &error);
    ck_assert_msg(p != NULL, "%s", error ? error->message : "?");
    ck_assert_uint_eq(p->len, nodes->len);
    return p;
}

static guint64 pages_on(const QpinMemPlacement *p, guint node)
{
    return node < p->pages_per_node->len ? g_array_index(p->pages_per_node, guint64, node) : 0;
}

START_TEST(test_placement_ram_memfd)
{
    /* Recorded from: -object memory-backend-ram,id=qpin-mem0,size=64M,host-nodes=0,policy=bind,
     * prealloc=on,prealloc-context=qpin-tc0 (+ thread-context) -object memory-backend-memfd,
     * id=qpin-mem1,size=32M,host-nodes=0,policy=bind -object memory-backend-ram,id=qpin-mem2,
     * size=16M, paused with -S. */
    static const char *const specs[] = {"64M@0:vcpus=0-1:prealloc", "32M@0:backend=memfd:vcpus=2",
                                        "16M", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) pl = placement_read(nodes, 1001);

    QpinMemPlacement *p0 = g_ptr_array_index(pl, 0);
    ck_assert(p0->found);
    ck_assert(p0->ok);
    ck_assert_ptr_null(p0->problem);
    ck_assert_str_eq(p0->backend_id, "qpin-mem0");
    ck_assert_str_eq(p0->policy, "bind:0");
    ck_assert_uint_eq(p0->page_kib, 4);
    ck_assert_uint_eq(pages_on(p0, 0), 16384);
    ck_assert_uint_eq(p0->resident_bytes, 64ull << 20);
    ck_assert_uint_eq(p0->address, 0x7fa193e00000ull);

    QpinMemPlacement *p1 = g_ptr_array_index(pl, 1);
    ck_assert(p1->found);
    ck_assert(p1->ok);
    ck_assert_str_eq(p1->policy, "bind:0");
    ck_assert_uint_eq(p1->resident_bytes, 0);
    ck_assert_uint_eq(p1->address, 0x7fa1ddfff000ull);

    QpinMemPlacement *p2 = g_ptr_array_index(pl, 2);
    ck_assert(p2->found);
    ck_assert(p2->ok);
    ck_assert_str_eq(p2->policy, "default");
    ck_assert_uint_eq(p2->address, 0x7fa1dcc00000ull);

    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    ck_assert(qpin_mem_placement_check(pl, nodes, warnings, NULL));
    ck_assert_uint_eq(warnings->len, 0);

    g_autoptr(GString) table = g_string_new(NULL);
    qpin_output_memory_placement_table(pl, table);
    ck_assert_msg(strstr(table->str, "0      qpin-mem0  bind:0         4K     64.0 MiB    0: 64.0 "
                                     "MiB"),
                  "%s", table->str);
    ck_assert_ptr_nonnull(strstr(table->str, "GUEST"));

    json_object *j = qpin_output_memory_placement_json(pl), *v, *per;
    json_object *j0 = json_object_array_get_idx(j, 0);
    ck_assert(json_object_object_get_ex(j0, "nodes", &per));
    ck_assert_int_eq(json_object_array_length(per), 1);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(per, 0), "pages", &v));
    ck_assert_uint_eq(json_object_get_uint64(v), 16384);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(per, 0), "bytes", &v));
    ck_assert_uint_eq(json_object_get_uint64(v), 64ull << 20);
    ck_assert(json_object_object_get_ex(j0, "ok", &v));
    ck_assert(json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(j0, "policy", &v));
    ck_assert_str_eq(json_object_get_string(v), "bind:0");
    json_object_put(j);
}
END_TEST

START_TEST(test_placement_hugetlb_policies)
{
    /* Recorded from: memory-backend-memfd size=32M hugetlb=on hugetlbsize=2M host-nodes=0
     * policy=bind prealloc=on; memory-backend-ram size=16M policy=interleave prealloc=on;
     * memory-backend-ram size=16M policy=preferred. */
    static const char *const specs[] = {"32M@0:hugepages=2M:vcpus=0-1:prealloc",
                                        "16M@0:policy=interleave:prealloc",
                                        "16M@0:policy=preferred", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autoptr(GPtrArray) pl = placement_read(nodes, 1002);
    QpinMemPlacement *p0 = g_ptr_array_index(pl, 0), *p1 = g_ptr_array_index(pl, 1),
                     *p2 = g_ptr_array_index(pl, 2);
    ck_assert(p0->found && p0->ok);
    ck_assert_uint_eq(p0->page_kib, 2048);
    ck_assert_uint_eq(pages_on(p0, 0), 16);
    ck_assert_uint_eq(p0->resident_bytes, 32ull << 20);
    ck_assert(p1->found && p1->ok);
    ck_assert_str_eq(p1->policy, "interleave:0");
    ck_assert_uint_eq(p1->resident_bytes, 16ull << 20);
    ck_assert(p2->found && p2->ok);
    ck_assert_str_eq(p2->policy, "prefer:0");
    ck_assert_uint_eq(p2->resident_bytes, 0);

    /* Asked as plain ram, the hugetlb memfd must not match. */
    static const char *const wrong_kind[] = {"32M@0:prealloc", NULL};
    g_autoptr(GPtrArray) n2 = nodes_parse(wrong_kind);
    g_autoptr(GPtrArray) pl2 = placement_read(n2, 1002);
    QpinMemPlacement *q = g_ptr_array_index(pl2, 0);
    ck_assert(!q->found);
    ck_assert(!q->ok);
    ck_assert_str_eq(q->problem, "no ram mapping of 32.0 MiB with policy bind:0 in numa_maps");
    GError *error = NULL;
    ck_assert(!qpin_mem_placement_check(pl2, n2, NULL, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_MEMORY);
    ck_assert_ptr_nonnull(strstr(error->message, "guest node 0 (--numa '32M@0:prealloc', "
                                                 "qpin-mem0): no ram mapping"));
    g_error_free(error);
}
END_TEST

START_TEST(test_placement_wrong_node)
{
    /* pid 1003: the recording of pid 1001 with the bound backend moved to a two-node host:
     * policy bind:1, 4096 pages on node 0 and 12288 on node 1. */
    static const char *const prealloc[] = {"64M@1:vcpus=0-1:prealloc", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(prealloc);
    g_autoptr(GPtrArray) pl = placement_read(nodes, 1003);
    QpinMemPlacement *p = g_ptr_array_index(pl, 0);
    ck_assert(p->found);
    ck_assert(!p->ok);
    ck_assert_uint_eq(pages_on(p, 0), 4096);
    ck_assert_uint_eq(pages_on(p, 1), 12288);
    ck_assert_str_eq(p->problem, "16.0 MiB on host node 0, outside host node 1");

    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    GError *error = NULL;
    ck_assert(!qpin_mem_placement_check(pl, nodes, warnings, &error));
    ck_assert_str_eq(error->message,
                     "guest memory is not where it was asked:\nguest node 0 (--numa "
                     "'64M@1:vcpus=0-1:prealloc', qpin-mem0): 16.0 MiB on host node 0, outside "
                     "host node 1");
    ck_assert_uint_eq(warnings->len, 0);
    g_error_free(error);

    g_autoptr(GString) table = g_string_new(NULL);
    qpin_output_memory_placement_table(pl, table);
    ck_assert_msg(strstr(table->str, "0: 16.0 MiB, 1: 48.0 MiB"), "%s", table->str);
    ck_assert_msg(strstr(table->str, "WRONG: 16.0 MiB on host node 0"), "%s", table->str);

    /* Without prealloc the same is a warning. */
    static const char *const lazy[] = {"64M@1:vcpus=0-1", NULL};
    g_autoptr(GPtrArray) n2 = nodes_parse(lazy);
    g_autoptr(GPtrArray) pl2 = placement_read(n2, 1003);
    ck_assert(qpin_mem_placement_check(pl2, n2, warnings, NULL));
    ck_assert_uint_eq(warnings->len, 1);
    ck_assert_str_eq(g_ptr_array_index(warnings, 0),
                     "guest node 0 (--numa '64M@1:vcpus=0-1', qpin-mem0): 16.0 MiB on host node "
                     "0, outside host node 1");
}
END_TEST

START_TEST(test_placement_look_alikes)
{
    /* Two 64M backends bound to node 0, one preallocated: the resident one is the preallocated
     * one, wherever QEMU mapped it. */
    static const char *const first[] = {"64M@0:vcpus=0:prealloc", "64M@0:vcpus=1", NULL};
    static const char *const second[] = {"64M@0:vcpus=0", "64M@0:vcpus=1:prealloc", NULL};
    static const struct {
        const char *const *specs;
        pid_t pid;
        guint64 addr0, addr1;
    } cases[] = {
        {first, 1004, 0x7f91bbe00000ull, 0x7f91b7c00000ull},
        {second, 1005, 0x7f717be00000ull, 0x7f7177c00000ull},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        g_autoptr(GPtrArray) nodes = nodes_parse(cases[k].specs);
        g_autoptr(GPtrArray) pl = placement_read(nodes, cases[k].pid);
        for (guint i = 0; i < 2; i++) {
            const QpinMemPlacement *p = g_ptr_array_index(pl, i);
            const QpinNumaNode *node = g_ptr_array_index(nodes, i);
            ck_assert(p->found && p->ok);
            ck_assert_uint_eq(p->resident_bytes, node->prealloc ? 64ull << 20 : 0);
            ck_assert_uint_eq(p->address, i == 0 ? cases[k].addr0 : cases[k].addr1);
        }
    }
    /* Neither preallocated: command-line order is address order, highest first. */
    static const char *const lazy[] = {"64M@0:vcpus=0", "64M@0:vcpus=1", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(lazy);
    g_autoptr(GPtrArray) pl = placement_read(nodes, 1005);
    ck_assert_uint_eq(((QpinMemPlacement *)g_ptr_array_index(pl, 0))->address, 0x7f717be00000ull);
    ck_assert_uint_eq(((QpinMemPlacement *)g_ptr_array_index(pl, 1))->address, 0x7f7177c00000ull);
}
END_TEST

START_TEST(test_placement_unreadable)
{
    static const char *const specs[] = {"64M@0", NULL};
    g_autoptr(GPtrArray) nodes = nodes_parse(specs);
    g_autofree char *root = data_dir();
    GError *error = NULL;
    ck_assert_ptr_null(qpin_mem_placement_read(nodes, 999999, root, &error));
    ck_assert_int_eq(error->code, QPIN_ERROR_MEMORY);
    ck_assert_ptr_nonnull(strstr(error->message, "numa_maps"));
    g_error_free(error);
}
END_TEST

/* ---- progress ----------------------------------------------------------------------------- */

START_TEST(test_progress_sample)
{
    g_autofree char *root = data_dir();
    /* VmRSS 53884 kB + HugetlbPages 32768 kB. */
    ck_assert_int_eq(qpin_progress_sample(1002, root), (53884 + 32768) * 1024);
    ck_assert_int_eq(qpin_progress_sample(999999, root), -1);
    ck_assert_int_gt(qpin_progress_sample(getpid(), NULL), 0);
}
END_TEST

START_TEST(test_progress_not_a_terminal)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    QpinProgressBar *p = qpin_progress_bar_new(getpid(), 1ull << 30, fds[1]);
    for (int i = 0; i < 3; i++) {
        qpin_progress_bar_update(p);
        g_usleep(110 * 1000);
    }
    gint64 ms = qpin_progress_bar_finish(p);
    ck_assert_int_ge(ms, 300);
    char buf[64];
    ck_assert_int_eq(read(fds[0], buf, sizeof(buf)), -1);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

static int open_pty(int *slave)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    *slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    ck_assert_int_ge(*slave, 0);
    return master;
}

static char *pty_drain(int master)
{
    GString *out = g_string_new(NULL);
    int flags = fcntl(master, F_GETFL);
    fcntl(master, F_SETFL, flags | O_NONBLOCK);
    char buf[4096];
    ssize_t n;
    while ((n = read(master, buf, sizeof(buf))) > 0)
        g_string_append_len(out, buf, n);
    return g_string_free(out, FALSE);
}

START_TEST(test_progress_terminal)
{
    int slave = -1;
    int master = open_pty(&slave);
    /* This process as "QEMU", with 1 GiB more to go than it has. */
    gint64 rss = qpin_progress_sample(getpid(), NULL);
    ck_assert_int_gt(rss, 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 120};
    ck_assert_int_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
    QpinProgressBar *p = qpin_progress_bar_new(getpid(), (guint64)rss + (1ull << 30), slave);
    qpin_progress_bar_update(p);
    g_autofree char *first = pty_drain(master);
    ck_assert_msg(g_str_has_prefix(first, "\rqpin: prealloc ["), "'%s'", first);
    ck_assert_msg(strstr(first, "%"), "'%s'", first);
    ck_assert_msg(strstr(first, " GiB"), "'%s'", first);
    ck_assert_msg(strstr(first, "/"), "'%s'", first);
    ck_assert_msg(g_str_has_suffix(first, "\033[K"), "'%s'", first);
    ck_assert_ptr_null(strchr(first, '\n'));
    /* Grow by 16 MiB so the second sample has a rate and an ETA. */
    g_usleep(600 * 1000);
    char *blob = g_malloc(16 << 20);
    memset(blob, 1, 16 << 20);
    qpin_progress_bar_update(p);
    g_autofree char *second = pty_drain(master);
    ck_assert_msg(strstr(second, "/s"), "'%s'", second);
    ck_assert_msg(strstr(second, "ETA "), "'%s'", second);
    g_free(blob);
    qpin_progress_bar_finish(p);
    g_autofree char *last = pty_drain(master);
    ck_assert_str_eq(last, "\r\033[K");
    close(slave);
    close(master);
}
END_TEST

START_TEST(test_progress_process_gone)
{
    int slave = -1;
    int master = open_pty(&slave);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    QpinProgressBar *p = qpin_progress_bar_new(child, 1ull << 30, slave);
    /* A zombie and then a reaped process: nothing drawn, nothing crashes. */
    g_usleep(100 * 1000);
    qpin_progress_bar_update(p);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    qpin_progress_bar_update(p);
    ck_assert_int_ge(qpin_progress_bar_finish(p), 0);
    g_autofree char *out = pty_drain(master);
    ck_assert_str_eq(out, "");
    close(slave);
    close(master);

    /* Nothing to preallocate: nothing drawn even on a terminal. */
    master = open_pty(&slave);
    p = qpin_progress_bar_new(getpid(), 0, slave);
    qpin_progress_bar_update(p);
    qpin_progress_bar_finish(p);
    g_autofree char *none = pty_drain(master);
    ck_assert_str_eq(none, "");
    close(slave);
    close(master);
}
END_TEST

static Suite *numa_suite(void)
{
    Suite *s = suite_create("numa");
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, test_parse_seed);
    tcase_add_test(parse, test_parse_keys);
    tcase_add_test(parse, test_parse_sizes);
    tcase_add_test(parse, test_parse_errors);
    tcase_add_test(parse, test_keyfile);
    tcase_add_test(parse, test_validate_overlap);
    tcase_add_test(parse, test_validate_total_size);
    suite_add_tcase(s, parse);

    TCase *args = tcase_create("args");
    tcase_add_test(args, test_args_seed);
    tcase_add_test(args, test_args_backends);
    tcase_add_test(args, test_args_memory_size);
    tcase_add_test(args, test_args_option_values);
    tcase_add_test(args, test_args_thread_context_host);
    tcase_add_test(args, test_binding);
    tcase_add_test(args, test_nodes_json);
    suite_add_tcase(s, args);

    TCase *preflight = tcase_create("preflight");
    tcase_add_test(preflight, test_preflight_examples);
    tcase_add_test(preflight, test_preflight_hugepages);
    tcase_add_test(preflight, test_preflight_nodes);
    tcase_add_test(preflight, test_preflight_this_machine);
    suite_add_tcase(s, preflight);

    TCase *placement = tcase_create("placement");
    tcase_add_test(placement, test_placement_ram_memfd);
    tcase_add_test(placement, test_placement_hugetlb_policies);
    tcase_add_test(placement, test_placement_wrong_node);
    tcase_add_test(placement, test_placement_look_alikes);
    tcase_add_test(placement, test_placement_unreadable);
    suite_add_tcase(s, placement);

    TCase *progress = tcase_create("progress");
    tcase_add_test(progress, test_progress_sample);
    tcase_add_test(progress, test_progress_not_a_terminal);
    tcase_add_test(progress, test_progress_terminal);
    tcase_add_test(progress, test_progress_process_gone);
    suite_add_tcase(s, progress);
    return s;
}

int main(void)
{
    return qpin_check_run(numa_suite());
}
