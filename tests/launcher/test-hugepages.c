/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --reserve-hugepages against pool files in a temporary tree: what is raised, what is given
 * back, refusals, and the files qpin will not write. A kernel that gives fewer pages than
 * asked is a stand-in here (no test may drain a real machine's memory to make one); the real
 * pools of this machine are tested by tests/numa/test-hugepages-live.py. */
#include "qpin-check.h"
#include "qpin-error.h"
#include "qpin-hugepages.h"
#include "qpin-preflight.h"

#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *root;
    TopoHost *host;
} Tree;

static void put(const char *path, guint64 value)
{
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", value);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
}

static guint64 get(const char *path)
{
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    return g_ascii_strtoull(text, NULL, 10);
}

/* Host nodes 0 and 1, each with a 2M pool of @total pages, @free of them free, and
 * @mem_free_kib of MemFree. */
static Tree tree_new(guint64 total, guint64 free_pages, guint64 mem_free_kib)
{
    Tree t;
    t.root = g_dir_make_tmp("qpin-hugepages-XXXXXX", NULL);
    ck_assert_ptr_nonnull(t.root);
    t.host = g_new0(TopoHost, 1);
    t.host->sysroot = g_strdup(t.root);
    t.host->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)topo_node_free);
    for (int n = 0; n < 2; n++) {
        g_autofree char *dir = qpin_hugepages_path(t.root, n, 2048, "");
        ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
        g_autofree char *nr = qpin_hugepages_path(t.root, n, 2048, "nr_hugepages");
        g_autofree char *fr = qpin_hugepages_path(t.root, n, 2048, "free_hugepages");
        put(nr, total);
        put(fr, free_pages);
        TopoNode *node = topo_node_new(n);
        node->mem_total_kib = node->mem_free_kib = mem_free_kib;
        TopoHugepages pool = {2048, total, free_pages};
        g_array_append_val(node->hugepages, pool);
        g_ptr_array_add(t.host->nodes, node);
    }
    return t;
}

static void tree_free(Tree *t)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", t->root);
    /* The tree is the test's own temporary directory. */
    ck_assert_int_eq(system(cmd), 0);
    g_free(t->root);
    topo_host_free(t->host);
}

static GArray *demands(int node, guint64 pages)
{
    GArray *d = g_array_new(FALSE, TRUE, sizeof(QpinHugepageDemand));
    QpinHugepageDemand one = {node, 2048, pages};
    g_array_append_val(d, one);
    return d;
}

/* A pool file that grows as the kernel's would: free pages follow nr_hugepages, and at most
 * @cap pages exist (the rest of the write is silently not honoured, as the kernel does). */
typedef struct {
    guint64 cap;
    guint writes;
} Kernel;

static gboolean kernel_read(const char *path, guint64 *value, gpointer user, GError **error)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return FALSE;
    *value = g_ascii_strtoull(text, NULL, 10);
    return TRUE;
}

static gboolean kernel_write(const char *path, guint64 value, gpointer user, GError **error)
{
    Kernel *k = user;
    k->writes++;
    guint64 old = get(path);
    guint64 now = MIN(value, k->cap);
    put(path, now);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *fr = g_build_filename(dir, "free_hugepages", NULL);
    guint64 free_pages = get(fr);
    put(fr, now >= old ? free_pages + (now - old) : free_pages - MIN(free_pages, old - now));
    return TRUE;
}

START_TEST(test_raise_and_give_back)
{
    Tree t = tree_new(10, 4, 1024 * 1024);
    g_autoptr(GArray) d = demands(1, 20);
    Kernel k = {G_MAXUINT64, 0};
    QpinHugepagesIo io = {kernel_read, kernel_write, &k};
    GError *error = NULL;
    g_autoptr(QpinHugepages) h = qpin_hugepages_reserve(t.host, d, &io, &error);
    ck_assert_msg(h, "%s", error ? error->message : "?");
    g_autofree char *nr1 = qpin_hugepages_path(t.root, 1, 2048, "nr_hugepages");
    g_autofree char *nr0 = qpin_hugepages_path(t.root, 0, 2048, "nr_hugepages");
    /* 20 needed, 4 free: 16 more, on node 1 only. */
    ck_assert_uint_eq(get(nr1), 26);
    ck_assert_uint_eq(get(nr0), 10);
    const QpinHugepageGrant *g = &g_array_index(h->grants, QpinHugepageGrant, 0);
    ck_assert_uint_eq(g->added, 16);
    ck_assert_uint_eq(g->before, 10);
    ck_assert_uint_eq(g->after, 26);
    /* The host model now counts them, as the preflight will. */
    const TopoHugepages *pool = topo_node_hugepages(topo_host_node(t.host, 1), 2048);
    ck_assert_uint_eq(pool->total, 26);
    ck_assert_uint_eq(pool->free, 20);
    /* Someone else adds 3 meanwhile: qpin takes back its 16, not theirs. */
    put(nr1, 29);
    ck_assert(qpin_hugepages_release(h, &error));
    ck_assert_uint_eq(get(nr1), 13);
    /* Given back once only. */
    ck_assert(qpin_hugepages_release(h, &error));
    ck_assert_uint_eq(get(nr1), 13);
    ck_assert_uint_eq(k.writes, 2);
    tree_free(&t);
}
END_TEST

START_TEST(test_enough_free_touches_nothing)
{
    Tree t = tree_new(10, 10, 1024 * 1024);
    g_autoptr(GArray) d = demands(0, 10);
    Kernel k = {G_MAXUINT64, 0};
    QpinHugepagesIo io = {kernel_read, kernel_write, &k};
    g_autoptr(QpinHugepages) h = qpin_hugepages_reserve(t.host, d, &io, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->grants->len, 0);
    ck_assert_uint_eq(k.writes, 0);
    tree_free(&t);
}
END_TEST

/* The kernel gives 5 of 16: refused with the numbers, the 5 given back, and a pool raised
 * before it (node 0) given back too. */
START_TEST(test_shortfall_refused_and_undone)
{
    Tree t = tree_new(10, 0, 1024 * 1024);
    g_autoptr(GArray) d = demands(0, 4);
    QpinHugepageDemand second = {1, 2048, 16};
    g_array_append_val(d, second);
    Kernel k = {15, 0};
    QpinHugepagesIo io = {kernel_read, kernel_write, &k};
    GError *error = NULL;
    QpinHugepages *h = qpin_hugepages_reserve(t.host, d, &io, &error);
    ck_assert_ptr_null(h);
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT));
    ck_assert_msg(strstr(error->message, "host node 1 gave 5 of the 16 hugepages of 2M asked "
                                         "(nr_hugepages 10 -> 15, wanted 26;") &&
                      strstr(error->message, "gave back what qpin had added (host node 0 "
                                             "nr_hugepages back to 10, host node 1 nr_hugepages "
                                             "back to 10)"),
                  "%s", error->message);
    g_autofree char *nr0 = qpin_hugepages_path(t.root, 0, 2048, "nr_hugepages");
    g_autofree char *nr1 = qpin_hugepages_path(t.root, 1, 2048, "nr_hugepages");
    ck_assert_uint_eq(get(nr0), 10);
    ck_assert_uint_eq(get(nr1), 10);
    g_error_free(error);
    tree_free(&t);
}
END_TEST

/* More pages than the node's free memory holds: refused before anything is written. */
START_TEST(test_no_room_refused)
{
    Tree t = tree_new(0, 0, 8 * 1024);
    g_autoptr(GArray) d = demands(0, 5);
    Kernel k = {G_MAXUINT64, 0};
    QpinHugepagesIo io = {kernel_read, kernel_write, &k};
    GError *error = NULL;
    ck_assert_ptr_null(qpin_hugepages_reserve(t.host, d, &io, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT));
    ck_assert_msg(strstr(error->message, "host node 0 lacks 5 hugepages of 2M") &&
                      strstr(error->message, "nothing was reserved"),
                  "%s", error->message);
    ck_assert_uint_eq(k.writes, 0);
    g_error_free(error);
    tree_free(&t);
}
END_TEST

/* The files themselves: a symlink, a FIFO or a directory in place of nr_hugepages is never
 * written; a regular file is. */
START_TEST(test_only_regular_files)
{
    static const char *const kinds[] = {"symlink", "fifo", "directory"};
    for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
        Tree t = tree_new(0, 0, 1024 * 1024);
        g_autofree char *nr = qpin_hugepages_path(t.root, 0, 2048, "nr_hugepages");
        g_autofree char *target = g_build_filename(t.root, "elsewhere", NULL);
        put(target, 0);
        ck_assert_int_eq(unlink(nr), 0);
        if (!strcmp(kinds[i], "symlink"))
            ck_assert_int_eq(symlink(target, nr), 0);
        else if (!strcmp(kinds[i], "fifo"))
            ck_assert_int_eq(mkfifo(nr, 0600), 0);
        else
            ck_assert_int_eq(mkdir(nr, 0700), 0);
        g_autoptr(GArray) d = demands(0, 3);
        GError *error = NULL;
        ck_assert_ptr_null(qpin_hugepages_reserve(t.host, d, NULL, &error));
        ck_assert_msg(error && strstr(error->message, nr), "%s: %s", kinds[i],
                      error ? error->message : "no error");
        ck_assert_uint_eq(get(target), 0);
        g_error_free(error);
        tree_free(&t);
    }
    /* A regular file is written, and given back. */
    Tree t = tree_new(2, 0, 1024 * 1024);
    g_autofree char *nr = qpin_hugepages_path(t.root, 0, 2048, "nr_hugepages");
    g_autoptr(GArray) d = demands(0, 3);
    GError *error = NULL;
    QpinHugepages *h = qpin_hugepages_reserve(t.host, d, NULL, &error);
    ck_assert_msg(h, "%s", error ? error->message : "?");
    ck_assert_uint_eq(get(nr), 5);
    qpin_hugepages_free(h);
    ck_assert_uint_eq(get(nr), 2);
    tree_free(&t);
}
END_TEST

/* Which pools a guest needs raised: per bound node and page size, as the preflight counts. */
START_TEST(test_demands)
{
    Tree t = tree_new(0, 0, 1024 * 1024);
    g_autoptr(GPtrArray) nodes =
        g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    g_ptr_array_add(nodes, qpin_memory_node_parse("64M@0:hugepages=2M", 0, NULL));
    g_ptr_array_add(nodes,
                    qpin_memory_node_parse("20M@0-1:hugepages=2M:policy=interleave", 1, NULL));
    g_ptr_array_add(nodes, qpin_memory_node_parse("16M@1", 2, NULL));
    GError *error = NULL;
    g_autoptr(GArray) d = qpin_preflight_hugepage_demands(nodes, t.host, &error);
    ck_assert_msg(d, "%s", error ? error->message : "?");
    ck_assert_uint_eq(d->len, 2);
    const QpinHugepageDemand *a = &g_array_index(d, QpinHugepageDemand, 0);
    const QpinHugepageDemand *b = &g_array_index(d, QpinHugepageDemand, 1);
    ck_assert_int_eq(a->host_node, 0);
    ck_assert_uint_eq(a->pages, 32 + 5);
    ck_assert_int_eq(b->host_node, 1);
    ck_assert_uint_eq(b->pages, 5);
    /* Memory that may come from any node has no pool to raise. */
    g_ptr_array_add(nodes, qpin_memory_node_parse("8M:hugepages=2M", 3, NULL));
    ck_assert_ptr_null(qpin_preflight_hugepage_demands(nodes, t.host, &error));
    ck_assert(g_error_matches(error, QPIN_ERROR, QPIN_ERROR_USAGE));
    ck_assert_msg(strstr(error->message, "guest node 3"), "%s", error->message);
    g_error_free(error);
    tree_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hugepages");
    TCase *tc = tcase_create("reserve");
    tcase_add_test(tc, test_raise_and_give_back);
    tcase_add_test(tc, test_enough_free_touches_nothing);
    tcase_add_test(tc, test_shortfall_refused_and_undone);
    tcase_add_test(tc, test_no_room_refused);
    tcase_add_test(tc, test_only_regular_files);
    tcase_add_test(tc, test_demands);
    suite_add_tcase(s, tc);
    return qpin_check_run(s);
}
