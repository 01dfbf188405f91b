/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — hugepages on demand, see qpin-hugepages.h. */
#include "qpin-hugepages.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

char *qpin_hugepages_path(const char *root, int node, guint64 page_kib, const char *file)
{
    g_autofree char *dir = g_strdup_printf("node%d", node);
    g_autofree char *pool = g_strdup_printf("hugepages-%" G_GUINT64_FORMAT "kB", page_kib);
    return g_build_filename(root ? root : "/", "sys/devices/system/node", dir, "hugepages", pool,
                            file, NULL);
}

/* Opens a pool file as qpin may touch one: an existing regular file (on sysfs for the live
 * host), reached without a symlink; a FIFO put in its place fails at once (O_NONBLOCK). */
static int pool_open(const char *path, int flags, gboolean live, GError **error)
{
    int fd = open(path, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
        return -1;
    }
    struct stat st;
    struct statfs fs;
    const char *wrong = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        wrong = "not a regular file";
    else if (live && (fstatfs(fd, &fs) < 0 || fs.f_type != SYSFS_MAGIC))
        wrong = "not a sysfs file";
    if (wrong) {
        close(fd);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED,
                    "%s: %s; qpin reads and writes the hugepage pools only through the kernel's "
                    "own files",
                    path, wrong);
        return -1;
    }
    return fd;
}

static gboolean file_read(const char *path, guint64 *value, gpointer user, GError **error)
{
    int fd = pool_open(path, O_RDONLY, GPOINTER_TO_INT(user), error);
    if (fd < 0)
        return FALSE;
    char text[32];
    ssize_t n = read(fd, text, sizeof text - 1);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n < 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: %s", path, g_strerror(err));
        return FALSE;
    }
    text[n] = 0;
    if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT64, value, NULL)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: '%s' is not a page count", path,
                    text);
        return FALSE;
    }
    return TRUE;
}

/* Writes the number at once and checks every result: a sysfs write is taken whole or not. */
static gboolean file_write(const char *path, guint64 value, gpointer user, GError **error)
{
    int fd = pool_open(path, O_WRONLY, GPOINTER_TO_INT(user), error);
    if (fd < 0)
        return FALSE;
    char text[32];
    int len = g_snprintf(text, sizeof text, "%" G_GUINT64_FORMAT "\n", value);
    ssize_t n = write(fd, text, (size_t)len);
    int err = n < 0 ? errno : 0;
    if (close(fd) < 0 && !err)
        err = errno;
    if (n != len || err) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "%s: writing %" G_GUINT64_FORMAT ": %s",
                    path, value, err ? g_strerror(err) : "short write");
        return FALSE;
    }
    return TRUE;
}

static gboolean grant_give_back(QpinHugepages *h, QpinHugepageGrant *g, GError **error)
{
    if (g->released || g->added == 0) {
        g->released = TRUE;
        return TRUE;
    }
    g_autofree char *path = qpin_hugepages_path(h->root, g->node, g->page_kib, "nr_hugepages");
    guint64 now = 0, target, back = 0;
    if (!h->io.read(path, &now, h->io.user, error))
        return FALSE;
    /* Someone else may have changed the pool meanwhile: take away what qpin added, no more. */
    target = now > g->added ? now - g->added : 0;
    if (!h->io.write(path, target, h->io.user, error) ||
        !h->io.read(path, &back, h->io.user, error))
        return FALSE;
    g->released_to = back;
    if (back != target) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED,
                    "%s is %" G_GUINT64_FORMAT " after writing %" G_GUINT64_FORMAT
                    " (pages still in use stay until freed)",
                    path, back, target);
        return FALSE;
    }
    g->released = TRUE;
    return TRUE;
}

gboolean qpin_hugepages_release(QpinHugepages *h, GError **error)
{
    if (!h)
        return TRUE;
    g_autoptr(GString) problems = g_string_new(NULL);
    for (guint i = 0; i < h->grants->len; i++) {
        QpinHugepageGrant *g = &g_array_index(h->grants, QpinHugepageGrant, i);
        GError *local = NULL;
        if (!grant_give_back(h, g, &local)) {
            g_autofree char *path =
                qpin_hugepages_path(h->root, g->node, g->page_kib, "nr_hugepages");
            g_string_append_printf(
                problems,
                "%shost node %d: could not give back %" G_GUINT64_FORMAT
                " hugepages (%s); to do it by hand, lower %s by %" G_GUINT64_FORMAT,
                problems->len ? "; " : "", g->node, g->added, local->message, path, g->added);
            g_error_free(local);
        }
    }
    if (problems->len) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_FAILED, "--reserve-hugepages: %s", problems->str);
        return FALSE;
    }
    return TRUE;
}

void qpin_hugepages_free(QpinHugepages *h)
{
    if (!h)
        return;
    qpin_hugepages_release(h, NULL);
    g_free(h->root);
    g_array_unref(h->grants);
    g_free(h);
}

/* Gives back what was added before a failure, and says so in @error. */
static void undo(QpinHugepages *h, GError **error)
{
    GError *local = NULL;
    if (!qpin_hugepages_release(h, &local)) {
        g_prefix_error(error, "%s; ", local->message);
        g_error_free(local);
        return;
    }
    GString *done = g_string_new(NULL);
    for (guint i = 0; i < h->grants->len; i++) {
        const QpinHugepageGrant *g = &g_array_index(h->grants, QpinHugepageGrant, i);
        if (g->added)
            g_string_append_printf(done, "%shost node %d nr_hugepages back to %" G_GUINT64_FORMAT,
                                   done->len ? ", " : "", g->node, g->released_to);
    }
    if (done->len && error && *error) {
        char *msg =
            g_strdup_printf("%s; gave back what qpin had added (%s)", (*error)->message, done->str);
        g_free((*error)->message);
        (*error)->message = msg;
    }
    g_string_free(done, TRUE);
}

/* Re-reads @g's pool into @host's model, so the preflight counts the pages that came. */
static void host_pool_update(TopoHost *host, const QpinHugepages *h, const QpinHugepageGrant *g)
{
    const TopoNode *hn = topo_host_node(host, g->node);
    TopoHugepages *pool = (TopoHugepages *)topo_node_hugepages(hn, g->page_kib);
    if (!pool)
        return;
    g_autofree char *freep = qpin_hugepages_path(h->root, g->node, g->page_kib, "free_hugepages");
    guint64 value;
    pool->total = g->after;
    if (h->io.read(freep, &value, h->io.user, NULL))
        pool->free = value;
}

static gboolean grant_take(QpinHugepages *h, TopoHost *host, const QpinHugepageDemand *d,
                           GError **error)
{
    g_autofree char *nr = qpin_hugepages_path(h->root, d->host_node, d->page_kib, "nr_hugepages");
    g_autofree char *freep =
        qpin_hugepages_path(h->root, d->host_node, d->page_kib, "free_hugepages");
    g_autofree char *page = qpin_size_format(d->page_kib * 1024);
    QpinHugepageGrant g = {.node = d->host_node, .page_kib = d->page_kib, .needed = d->pages};
    if (!topo_host_node(host, d->host_node) ||
        !topo_node_hugepages(topo_host_node(host, d->host_node), d->page_kib))
        return TRUE; /* the preflight names a node or pool that does not exist */
    if (!h->io.read(freep, &g.free, h->io.user, error) ||
        !h->io.read(nr, &g.before, h->io.user, error))
        return FALSE;
    if (g.free >= d->pages)
        return TRUE;
    guint64 lack = d->pages - g.free;
    const TopoNode *hn = topo_host_node(host, d->host_node);
    if (lack > hn->mem_free_kib / d->page_kib) {
        g_autofree char *need = qpin_size_format_human(lack * d->page_kib * 1024);
        g_autofree char *mem = qpin_size_format_human(hn->mem_free_kib * 1024);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT,
                    "--reserve-hugepages: host node %d lacks %" G_GUINT64_FORMAT
                    " hugepages of %s (%s; the guest needs %" G_GUINT64_FORMAT
                    ", %" G_GUINT64_FORMAT
                    " are free) and has %s free (MemFree): nothing was reserved",
                    d->host_node, lack, page, need, d->pages, g.free, mem);
        return FALSE;
    }
    /* Recorded before writing: a write the kernel half-honoured is still given back. */
    guint index = h->grants->len;
    g_array_append_val(h->grants, g);
    QpinHugepageGrant *gp = &g_array_index(h->grants, QpinHugepageGrant, index);
    GError *local = NULL;
    gboolean written = h->io.write(nr, g.before + lack, h->io.user, &local);
    /* Whatever the write said, what counts is what the pool holds now. */
    if (!h->io.read(nr, &gp->after, h->io.user, error)) {
        g_clear_error(&local);
        return FALSE;
    }
    gp->added = gp->after > gp->before ? gp->after - gp->before : 0;
    if (!written) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (gp->added < lack) {
        g_set_error(
            error, QPIN_ERROR, QPIN_ERROR_PREFLIGHT,
            "--reserve-hugepages: host node %d gave %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT
            " hugepages of %s asked (nr_hugepages %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
            ", wanted %" G_GUINT64_FORMAT "; the guest needs %" G_GUINT64_FORMAT
            ", %" G_GUINT64_FORMAT " were free): its memory is too fragmented or taken; "
            "reserve them at boot (hugepages= on the kernel command line)",
            d->host_node, gp->added, lack, page, gp->before, gp->after, gp->before + lack, d->pages,
            g.free);
        return FALSE;
    }
    host_pool_update(host, h, gp);
    return TRUE;
}

QpinHugepages *qpin_hugepages_reserve(TopoHost *host, const GArray *demands,
                                      const QpinHugepagesIo *io, GError **error)
{
    g_autoptr(QpinHugepages) h = g_new0(QpinHugepages, 1);
    h->root = g_strdup(host->sysroot ? host->sysroot : "/");
    h->grants = g_array_new(FALSE, TRUE, sizeof(QpinHugepageGrant));
    h->io =
        io ? *io : (QpinHugepagesIo){file_read, file_write, GINT_TO_POINTER(host->live ? 1 : 0)};
    for (guint i = 0; demands && i < demands->len; i++) {
        if (!grant_take(h, host, &g_array_index(demands, QpinHugepageDemand, i), error)) {
            undo(h, error);
            return NULL;
        }
    }
    return g_steal_pointer(&h);
}
