/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the memory checks of the host audit: transparent hugepages, KSM, numad, automatic
 * NUMA balancing and the hugepages the guest memory needs. */
#include "qpin-audit-private.h"

#include "qpin-size.h"

#include <string.h>

#define SYSCTL_FILE "/etc/sysctl.d/90-qpin.conf"

static void check_thp(QpinAuditCtx *c)
{
    const char *rel = "sys/kernel/mm/transparent_hugepage/enabled";
    g_autofree char *why = NULL;
    g_autofree char *text = qpin_audit_read(c, rel, NULL, &why);
    /* The file lists every mode and brackets the one in force: "always [madvise] never". */
    const char *open = text ? strchr(text, '[') : NULL;
    const char *close = open ? strchr(open, ']') : NULL;
    g_autofree char *mode = close ? g_strndup(open + 1, close - open - 1) : NULL;
    g_autofree char *evidence = g_strdup_printf("/%s", rel);
    const char *expected = "never (madvise warns)";
    if (!mode) {
        qpin_audit_add(c, "mm.thp", QPIN_AUDIT_UNKNOWN,
                       g_strdup_printf("cannot read it: %s", text ? "no [mode]" : why),
                       g_strdup(expected), g_steal_pointer(&evidence), NULL);
        return;
    }
    QpinAuditStatus status = !strcmp(mode, "never")     ? QPIN_AUDIT_PASS
                             : !strcmp(mode, "madvise") ? QPIN_AUDIT_WARN
                                                        : QPIN_AUDIT_FAIL;
    qpin_audit_add(c, "mm.thp", status, g_strdup_printf("transparent hugepages: %s", mode),
                   g_strdup(expected), g_steal_pointer(&evidence),
                   status == QPIN_AUDIT_PASS
                       ? NULL
                       : g_strdup("echo never > /sys/kernel/mm/transparent_hugepage/enabled; "
                                  "persistently: add \"transparent_hugepage=never\" to "
                                  "GRUB_CMDLINE_LINUX in /etc/default/grub; update-grub"));
}

static void check_ksm(QpinAuditCtx *c)
{
    const char *rel = "sys/kernel/mm/ksm/run";
    g_autofree char *why = NULL;
    g_autofree char *text = qpin_audit_read(c, rel, NULL, &why);
    g_autoptr(GPtrArray) tuned =
        c->procs_read ? qpin_audit_procs_named(c, "ksmtuned", FALSE) : NULL;
    const char *expected = "/sys/kernel/mm/ksm/run 0, ksmtuned not running";
    g_autofree char *evidence = g_strdup_printf("/%s, /proc/PID/comm", rel);
    g_autoptr(GString) observed = g_string_new(NULL);
    gboolean running = text && strcmp(g_strstrip(text), "0");
    if (text)
        g_string_append_printf(observed, "ksm/run %s", text);
    else
        g_string_append_printf(observed, "ksm/run: %s", why);
    if (tuned && tuned->len)
        g_string_append_printf(observed, ", ksmtuned running (pid %" G_GINT64_FORMAT ")",
                               ((QpinAuditProc *)tuned->pdata[0])->pid);
    else if (tuned)
        g_string_append(observed, ", ksmtuned not running");
    else
        g_string_append(observed, ", processes not listed");
    QpinAuditStatus status;
    if (running || (tuned && tuned->len))
        status = QPIN_AUDIT_FAIL;
    else if (!text || !tuned)
        status = QPIN_AUDIT_UNKNOWN;
    else
        status = QPIN_AUDIT_PASS;
    qpin_audit_add(c, "mm.ksm", status, g_string_free(g_steal_pointer(&observed), FALSE),
                   g_strdup(expected), g_steal_pointer(&evidence),
                   status == QPIN_AUDIT_FAIL
                       ? g_strdup("systemctl disable --now ksmtuned ksm; echo 0 > "
                                  "/sys/kernel/mm/ksm/run")
                       : NULL);
}

static void check_numad(QpinAuditCtx *c)
{
    if (!c->procs_read) {
        qpin_audit_add(c, "mm.numad", QPIN_AUDIT_UNKNOWN, g_strdup("no process could be listed"),
                       g_strdup("numad not running"), g_strdup("/proc/PID/comm"), NULL);
        return;
    }
    g_autoptr(GPtrArray) found = qpin_audit_procs_named(c, "numad", FALSE);
    if (!found->len) {
        qpin_audit_add(c, "mm.numad", QPIN_AUDIT_PASS, g_strdup("numad not running"),
                       g_strdup("numad not running"), g_strdup("/proc/PID/comm"), NULL);
        return;
    }
    qpin_audit_add(c, "mm.numad", QPIN_AUDIT_FAIL,
                   g_strdup_printf("numad running (pid %" G_GINT64_FORMAT ")",
                                   ((QpinAuditProc *)found->pdata[0])->pid),
                   g_strdup("numad not running"), g_strdup("/proc/PID/comm"),
                   g_strdup("systemctl disable --now numad"));
}

static void check_numa_balancing(QpinAuditCtx *c)
{
    const char *rel = "proc/sys/kernel/numa_balancing";
    g_autofree char *why = NULL;
    g_autofree char *text = qpin_audit_read(c, rel, NULL, &why);
    g_autofree char *evidence = g_strdup_printf("/%s", rel);
    if (!text) {
        qpin_audit_add(c, "mm.numa_balancing", QPIN_AUDIT_UNKNOWN,
                       g_strdup_printf("cannot read it: %s", why), g_strdup("0"),
                       g_steal_pointer(&evidence), NULL);
        return;
    }
    g_strstrip(text);
    gboolean ok = !strcmp(text, "0");
    qpin_audit_add(c, "mm.numa_balancing", ok ? QPIN_AUDIT_PASS : QPIN_AUDIT_FAIL,
                   g_strdup_printf("kernel.numa_balancing = %s", text), g_strdup("0"),
                   g_steal_pointer(&evidence),
                   ok ? NULL
                      : g_strdup("sysctl -w kernel.numa_balancing=0; persistently: echo "
                                 "kernel.numa_balancing=0 > " SYSCTL_FILE));
}

static char *page_name(guint64 page_kib)
{
    return page_kib % (1024 * 1024) == 0
               ? g_strdup_printf("%" G_GUINT64_FORMAT "G", page_kib / (1024 * 1024))
           : page_kib % 1024 == 0 ? g_strdup_printf("%" G_GUINT64_FORMAT "M", page_kib / 1024)
                                  : g_strdup_printf("%" G_GUINT64_FORMAT "K", page_kib);
}

static void check_hugepages(QpinAuditCtx *c)
{
    const GArray *needs = c->map->hugepages;
    if (!needs->len) {
        qpin_audit_add(c, "mm.hugepages", QPIN_AUDIT_PASS,
                       g_strdup("the map backs no guest memory with hugepages"),
                       g_strdup("free hugepages for hugepage-backed guest memory"),
                       g_strdup("the map"), NULL);
        return;
    }
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(GString) expected = g_string_new(NULL);
    g_autoptr(GString) evidence = g_string_new(NULL);
    g_autoptr(GString) fix = g_string_new(NULL);
    QpinAuditStatus status = QPIN_AUDIT_PASS;
    for (guint i = 0; i < needs->len; i++) {
        const QpinAuditHugepages *need = &g_array_index(needs, QpinAuditHugepages, i);
        guint64 page_bytes = need->page_kib * 1024;
        guint64 pages = (need->bytes + page_bytes - 1) / page_bytes;
        g_autofree char *page = page_name(need->page_kib);
        g_autofree char *size = qpin_size_format(need->bytes);
        g_autofree char *where =
            need->node < 0 ? g_strdup("all nodes") : g_strdup_printf("node %d", need->node);
        g_string_append_printf(expected, "%s%" G_GUINT64_FORMAT " free %s pages on %s (%s)",
                               i ? "; " : "", pages, page, where, size);
        guint64 free_pages = 0, total = 0;
        gboolean pool = FALSE;
        for (guint n = 0; n < c->host->nodes->len; n++) {
            const TopoNode *node = c->host->nodes->pdata[n];
            if (need->node >= 0 && node->id != need->node)
                continue;
            const TopoHugepages *h = topo_node_hugepages(node, need->page_kib);
            if (h) {
                pool = TRUE;
                free_pages += h->free;
                total += h->total;
            }
        }
        const TopoNode *node = need->node >= 0 ? topo_host_node(c->host, need->node) : NULL;
        g_autofree char *path =
            need->node >= 0
                ? g_strdup_printf("/sys/devices/system/node/node%d/hugepages/"
                                  "hugepages-%" G_GUINT64_FORMAT "kB",
                                  need->node, need->page_kib)
                : g_strdup_printf("/sys/kernel/mm/hugepages/hugepages-%" G_GUINT64_FORMAT "kB",
                                  need->page_kib);
        g_string_append_printf(evidence, "%s%s/free_hugepages", i ? ", " : "", path);
        if (need->node >= 0 && !node) {
            g_string_append_printf(observed, "%shost node %d does not exist", i ? "; " : "",
                                   need->node);
            status = QPIN_AUDIT_FAIL;
            continue;
        }
        if (!pool) {
            g_string_append_printf(observed, "%sno %s hugepage pool on %s", i ? "; " : "", page,
                                   where);
            g_autofree char *count =
                need->node >= 0 ? g_strdup_printf("%d:%" G_GUINT64_FORMAT, need->node, pages)
                                : g_strdup_printf("%" G_GUINT64_FORMAT, pages);
            g_string_append_printf(fix,
                                   "%sadd \"hugepagesz=%s hugepages=%s\" to "
                                   "GRUB_CMDLINE_LINUX in /etc/default/grub; update-grub; reboot",
                                   fix->len ? "; " : "", page, count);
            status = QPIN_AUDIT_FAIL;
            continue;
        }
        g_string_append_printf(
            observed, "%s%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " %s pages free on %s",
            i ? "; " : "", free_pages, total, page, where);
        if (free_pages >= pages)
            continue;
        status = QPIN_AUDIT_FAIL;
        g_string_append_printf(fix, "%secho %" G_GUINT64_FORMAT " > %s/nr_hugepages",
                               fix->len ? "; " : "", total + (pages - free_pages), path);
    }
    if (status == QPIN_AUDIT_FAIL)
        g_string_append(fix, " (1G pages are best reserved at boot: hugepagesz=1G "
                             "hugepages=NODE:COUNT,... on the kernel command line)");
    qpin_audit_add(c, "mm.hugepages", status, g_string_free(g_steal_pointer(&observed), FALSE),
                   g_string_free(g_steal_pointer(&expected), FALSE),
                   g_string_free(g_steal_pointer(&evidence), FALSE),
                   status == QPIN_AUDIT_FAIL ? g_string_free(g_steal_pointer(&fix), FALSE) : NULL);
}

void qpin_audit_mm_run(QpinAuditCtx *c)
{
    check_thp(c);
    check_ksm(c);
    check_numad(c);
    check_numa_balancing(c);
    check_hugepages(c);
}
