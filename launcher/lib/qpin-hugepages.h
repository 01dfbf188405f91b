/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — hugepages on demand (run --reserve-hugepages): raising each host node's pool
 * (/sys/devices/system/node/nodeN/hugepages/hugepages-SIZEkB/nr_hugepages) by what the guest
 * lacks, reading back what the kernel gave, and giving back exactly that when QEMU is gone.
 * Writes only regular files (on sysfs, for the live host), never creates or replaces one. */
#pragma once

#include "qpin-preflight.h"

#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

/* One pool qpin raised. */
typedef struct {
    int node;
    guint64 page_kib;
    guint64 needed; /* pages the guest needs from this pool */
    guint64 free;   /* free_hugepages before */
    guint64 before; /* nr_hugepages before */
    guint64 added;  /* what the kernel gave: what qpin gives back */
    guint64 after;  /* nr_hugepages read back after raising */
    gboolean released;
    guint64 released_to; /* nr_hugepages read back after giving back */
} QpinHugepageGrant;

/* How the pools are read and written: the files themselves, or (tests only) a stand-in for a
 * kernel that gives fewer pages than asked, which no test may make a real kernel do. */
typedef struct {
    gboolean (*read)(const char *path, guint64 *value, gpointer user, GError **error);
    gboolean (*write)(const char *path, guint64 value, gpointer user, GError **error);
    gpointer user;
} QpinHugepagesIo;

typedef struct {
    char *root;     /* the host's sysroot: "/" */
    GArray *grants; /* QpinHugepageGrant, in demand order */
    QpinHugepagesIo io;
} QpinHugepages;

/* Frees @hugepages, first giving back what is still held (errors then go unsaid: call
 * qpin_hugepages_release() to hear them). NULL is accepted. */
void qpin_hugepages_free(QpinHugepages *hugepages);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinHugepages, qpin_hugepages_free)

/* For each demand of @demands (QpinHugepageDemand) whose pool on @host (its sysroot: "/" for
 * this machine) has fewer free pages than needed, raises nr_hugepages by the difference, read
 * fresh from the pool's files, after checking the node's MemFree can hold them; then reads
 * nr_hugepages back. When the kernel gave less than asked, or anything fails, gives back
 * everything added so far and fails with QPIN_ERROR_PREFLIGHT naming the node, page size and
 * the numbers (or QPIN_ERROR_FAILED for a file that cannot be read or written). The pools of
 * @host are updated to what was read back, so the preflight sees them. @io NULL: the files. */
QpinHugepages *qpin_hugepages_reserve(TopoHost *host, const GArray *demands,
                                      const QpinHugepagesIo *io, GError **error);

/* Gives back exactly what @hugepages added, pool by pool (current nr_hugepages minus the
 * pages added), and reads each back. Call once QEMU is gone: pages it still used would stay
 * as surplus until freed. A pool given back is not touched again, so this may be called
 * more than once. QPIN_ERROR_FAILED names each pool that could not be given back, with the
 * command that would. */
gboolean qpin_hugepages_release(QpinHugepages *hugepages, GError **error);

/* The pool's nr_hugepages path under @root. */
char *qpin_hugepages_path(const char *root, int node, guint64 page_kib, const char *file);

G_END_DECLS
