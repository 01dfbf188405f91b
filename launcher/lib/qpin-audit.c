/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host audit, see qpin-check.h: the model, the reader, the process table, the maps
 * from a running QEMU and from a report, and the run that calls each check module. */
#include "qpin-audit-private.h"

#include "qpin-error.h"
#include "qpin-size.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <qpin/qmp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK_FILE_MAX (1024 * 1024)
/* A report larger than this is not one qpin wrote (a 8192-vCPU plan is about 3 MiB). */
#define CHECK_REPORT_MAX (64 * 1024 * 1024)

QpinAuditMap *qpin_audit_map_new(void)
{
    QpinAuditMap *map = g_new0(QpinAuditMap, 1);
    map->hugepages = g_array_new(FALSE, TRUE, sizeof(QpinAuditHugepages));
    return map;
}

void qpin_audit_map_free(QpinAuditMap *map)
{
    if (!map)
        return;
    topo_cpuset_free(map->vcpu_cpus);
    topo_cpuset_free(map->housekeeping_cpus);
    g_array_unref(map->hugepages);
    g_free(map->source);
    g_free(map);
}

static void check_free(QpinAuditCheck *check)
{
    if (!check)
        return;
    g_free(check->observed);
    g_free(check->expected);
    g_free(check->evidence);
    g_free(check->fix);
    g_free(check);
}

void qpin_audit_result_free(QpinAuditResult *result)
{
    if (!result)
        return;
    g_free(result->sysroot);
    topo_cpuset_free(result->vcpu_cpus);
    topo_cpuset_free(result->housekeeping_cpus);
    if (result->checks)
        g_ptr_array_unref(result->checks);
    g_free(result);
}

const char *qpin_audit_status_name(QpinAuditStatus status)
{
    switch (status) {
    case QPIN_AUDIT_PASS:
        return "pass";
    case QPIN_AUDIT_WARN:
        return "warn";
    case QPIN_AUDIT_FAIL:
        return "fail";
    case QPIN_AUDIT_UNKNOWN:
        return "unknown";
    }
    return "?";
}

const QpinAuditCheck *qpin_audit_find(const QpinAuditResult *result, const char *id)
{
    for (guint i = 0; result && i < result->checks->len; i++) {
        const QpinAuditCheck *check = result->checks->pdata[i];
        if (!strcmp(check->id, id))
            return check;
    }
    return NULL;
}

/* ---- reading the sysroot ---- */

char *qpin_audit_path(const QpinAuditCtx *c, const char *rel)
{
    return g_build_filename(c->sysroot, rel, NULL);
}

char *qpin_audit_read(const QpinAuditCtx *c, const char *rel, gsize *len, char **why)
{
    g_autofree char *path = qpin_audit_path(c, rel);
    if (why)
        *why = NULL;
    /* O_NONBLOCK: a FIFO without a writer opens at once and is refused below. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (why)
            *why = g_strdup(e == ENOENT || e == ENOTDIR ? "missing" : g_strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        if (why)
            *why = g_strdup("not a regular file");
        return NULL;
    }
    GString *text = g_string_new(NULL);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            g_string_free(text, TRUE);
            if (why)
                *why = g_strdup(g_strerror(e));
            return NULL;
        }
        if (n == 0)
            break;
        if (text->len + (gsize)n > CHECK_FILE_MAX) {
            close(fd);
            g_string_free(text, TRUE);
            if (why)
                *why = g_strdup("larger than 1 MiB");
            return NULL;
        }
        g_string_append_len(text, buf, n);
    }
    close(fd);
    if (len)
        *len = text->len;
    return g_string_free(text, FALSE);
}

void qpin_audit_add(QpinAuditCtx *c, const char *id, QpinAuditStatus status, char *observed,
                    char *expected, char *evidence, char *fix)
{
    QpinAuditCheck *check = g_new0(QpinAuditCheck, 1);
    check->id = id;
    const char *dot = strchr(id, '.');
    /* The group names are static strings: the part of the id before the dot. */
    static const char *const groups[] = {"cpu", "irq", "kthread", "workqueue", "mm", "sched"};
    check->group = "other";
    for (gsize i = 0; dot && i < G_N_ELEMENTS(groups); i++)
        if (strlen(groups[i]) == (gsize)(dot - id) && !strncmp(id, groups[i], dot - id))
            check->group = groups[i];
    check->status = status;
    check->observed = observed;
    check->expected = expected;
    check->evidence = evidence;
    check->fix = fix;
    g_ptr_array_add(c->checks, check);
}

char *qpin_audit_cpus(const TopoCpuSet *set)
{
    return topo_cpuset_describe(set, TRUE, "none");
}

char *qpin_audit_cmdline_value(const char *cmdline, const char *name)
{
    if (!cmdline)
        return NULL;
    g_auto(GStrv) words = g_strsplit_set(cmdline, " \t\n", -1);
    char *value = NULL;
    gsize n = strlen(name);
    for (int i = 0; words[i]; i++) {
        /* Everything after "--" is for init, not for the kernel. */
        if (!strcmp(words[i], "--"))
            break;
        if (strncmp(words[i], name, n))
            continue;
        if (words[i][n] == '=') {
            g_free(value);
            value = g_strdup(words[i] + n + 1);
        } else if (!words[i][n]) {
            g_free(value);
            value = g_strdup("");
        }
    }
    return value;
}

char *qpin_audit_kernel_fix(const char *params)
{
    return g_strdup_printf("add \"%s\" to GRUB_CMDLINE_LINUX in /etc/default/grub; update-grub; "
                           "reboot",
                           params);
}

static int proc_compare(gconstpointer a, gconstpointer b)
{
    const QpinAuditProc *x = *(QpinAuditProc *const *)a, *y = *(QpinAuditProc *const *)b;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void proc_free(QpinAuditProc *p)
{
    if (!p)
        return;
    g_free(p->comm);
    g_free(p);
}

static gboolean all_digits(const char *s)
{
    if (!*s)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isdigit(*s))
            return FALSE;
    return TRUE;
}

/* SYSROOT/proc/[0-9]* and their comm; a process that ends while it is read is left out. */
static void read_procs(QpinAuditCtx *c)
{
    c->procs = g_ptr_array_new_with_free_func((GDestroyNotify)proc_free);
    g_autofree char *dir = qpin_audit_path(c, "proc");
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!all_digits(e->d_name) || strlen(e->d_name) > 10)
            continue;
        g_autofree char *rel = g_strdup_printf("proc/%s/comm", e->d_name);
        g_autofree char *comm = qpin_audit_read(c, rel, NULL, NULL);
        if (!comm)
            continue;
        QpinAuditProc *p = g_new0(QpinAuditProc, 1);
        p->pid = g_ascii_strtoll(e->d_name, NULL, 10);
        p->comm = g_strdup(g_strchomp(comm));
        g_ptr_array_add(c->procs, p);
    }
    closedir(d);
    g_ptr_array_sort(c->procs, proc_compare);
    c->procs_read = c->procs->len > 0;
}

GPtrArray *qpin_audit_procs_named(const QpinAuditCtx *c, const char *comm, gboolean prefix)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < c->procs->len; i++) {
        QpinAuditProc *p = c->procs->pdata[i];
        if (prefix ? g_str_has_prefix(p->comm, comm) : !strcmp(p->comm, comm))
            g_ptr_array_add(out, p);
    }
    return out;
}

char **qpin_audit_proc_words(const QpinAuditCtx *c, gint64 pid, const char *file)
{
    g_autofree char *rel = g_strdup_printf("proc/%" G_GINT64_FORMAT "/%s", pid, file);
    gsize len = 0;
    g_autofree char *text = qpin_audit_read(c, rel, &len, NULL);
    if (!text)
        return NULL;
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (gsize at = 0; at < len;) {
        gsize n = strnlen(text + at, len - at);
        if (n)
            g_strv_builder_add(b, text + at);
        at += n + 1;
    }
    return g_strv_builder_end(b);
}

/* ---- the audit ---- */

QpinAuditResult *qpin_audit_run(const char *sysroot, const TopoHost *host, const QpinAuditMap *map,
                                GError **error)
{
    g_autoptr(TopoHost) own = NULL;
    if (!sysroot)
        sysroot = "/";
    if (!host) {
        GError *local = NULL;
        own = topo_host_read(sysroot, &local);
        if (!own) {
            qpin_error_propagate(error, local, QPIN_ERROR_HOST);
            return NULL;
        }
        host = own;
    }
    if (!map->vcpu_cpus || topo_cpuset_is_empty(map->vcpu_cpus)) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_MAP,
                            "the map names no vCPU CPU: nothing to audit");
        return NULL;
    }
    if (!topo_cpuset_is_subset(map->vcpu_cpus, host->online)) {
        g_autoptr(TopoCpuSet) off = topo_cpuset_copy(map->vcpu_cpus);
        topo_cpuset_subtract(off, host->online);
        g_autofree char *o = qpin_audit_cpus(off), *on = qpin_audit_cpus(host->online);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MAP,
                    "vCPU CPUs %s are not online on this host (online: %s)", o, on);
        return NULL;
    }

    QpinAuditCtx ctx = {.sysroot = sysroot, .host = host, .map = map}, *c = &ctx;
    c->vcpu = topo_cpuset_copy(map->vcpu_cpus);
    c->hk_given = map->housekeeping_cpus && !topo_cpuset_is_empty(map->housekeeping_cpus);
    if (c->hk_given) {
        c->hk = topo_cpuset_copy(map->housekeeping_cpus);
    } else {
        /* Where host work goes when nobody said: the online CPUs the vCPUs leave, less those
         * isolated for other work; all that the vCPUs leave when that is nothing, so that
         * cpu.housekeeping says what is wrong. */
        c->hk = topo_cpuset_copy(host->online);
        topo_cpuset_subtract(c->hk, c->vcpu);
        g_autoptr(TopoCpuSet) plain = topo_cpuset_copy(c->hk);
        if (host->isolated)
            topo_cpuset_subtract(plain, host->isolated);
        if (host->nohz_full)
            topo_cpuset_subtract(plain, host->nohz_full);
        if (!topo_cpuset_is_empty(plain))
            topo_cpuset_intersect(c->hk, plain);
    }
    c->checks = g_ptr_array_new_with_free_func((GDestroyNotify)check_free);
    read_procs(c);

    qpin_audit_cpu_run(c);
    qpin_audit_irq_run(c);
    qpin_audit_mm_run(c);
    qpin_audit_cpu_late_run(c);

    QpinAuditResult *r = g_new0(QpinAuditResult, 1);
    r->sysroot = g_strdup(sysroot);
    r->vcpu_cpus = c->vcpu;
    r->housekeeping_cpus = c->hk;
    r->rt = map->rt;
    r->checks = c->checks;
    r->verdict = QPIN_AUDIT_PASS;
    for (guint i = 0; i < r->checks->len; i++) {
        QpinAuditStatus s = ((QpinAuditCheck *)r->checks->pdata[i])->status;
        if (s == QPIN_AUDIT_FAIL)
            r->verdict = QPIN_AUDIT_FAIL;
        else if (s != QPIN_AUDIT_PASS && r->verdict == QPIN_AUDIT_PASS)
            r->verdict = QPIN_AUDIT_WARN;
    }
    g_ptr_array_unref(c->procs);
    return r;
}

/* ---- hex masks ---- */

char *qpin_audit_format_mask(const TopoCpuSet *set)
{
    int last = topo_cpuset_last(set);
    if (last < 0)
        return g_strdup("0");
    int groups = last / 32 + 1;
    GString *out = g_string_new(NULL);
    for (int g = groups - 1; g >= 0; g--) {
        guint32 word = 0;
        for (int b = 0; b < 32; b++)
            if (topo_cpuset_has(set, g * 32 + b))
                word |= 1u << b;
        if (g == groups - 1)
            g_string_append_printf(out, "%x", word);
        else
            g_string_append_printf(out, ",%08x", word);
    }
    return g_string_free(out, FALSE);
}

/* ---- maps ---- */

gboolean qpin_audit_map_add_hugepages(QpinAuditMap *map, const char *text, GError **error)
{
    const char *at = strchr(text, '@');
    guint64 bytes = 0, page_kib = 2048;
    g_autofree char *size = at ? g_strndup(text, at - text) : NULL;
    const char *node_text = at ? at + 1 : NULL;
    const char *colon = node_text ? strchr(node_text, ':') : NULL;
    g_autofree char *node_only =
        colon ? g_strndup(node_text, colon - node_text) : g_strdup(node_text ? node_text : "");
    char *end = NULL;
    gint64 node = node_only[0] ? g_ascii_strtoll(node_only, &end, 10) : -1;
    gboolean ok = at && size[0] && qpin_size_parse(size, &bytes, NULL) && bytes > 0 && end &&
                  !*end && g_ascii_isdigit(node_only[0]) && node < TOPO_CPU_MAX;
    if (ok && colon) {
        guint64 page_bytes = 0;
        ok = qpin_size_parse(colon + 1, &page_bytes, NULL) &&
             (page_bytes == 2ull << 20 || page_bytes == 1ull << 30);
        page_kib = page_bytes / 1024;
    }
    if (!ok) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--hugepages '%s': expected SIZE@NODE[:PAGESIZE], the guest memory backed by "
                    "hugepages on host node NODE, PAGESIZE 2M (the default) or 1G (e.g. 16G@0:1G)",
                    text);
        return FALSE;
    }
    QpinAuditHugepages h = {.node = (int)node, .page_kib = page_kib, .bytes = bytes};
    g_array_append_val(map->hugepages, h);
    return TRUE;
}

/* The policy number of field 41 of /proc/PID/task/TID/stat (after the ")" of comm). */
static int stat_policy(const char *stat)
{
    const char *p = stat ? strrchr(stat, ')') : NULL;
    if (!p)
        return -1;
    g_auto(GStrv) f = g_strsplit(p + 2, " ", -1);
    /* Fields from 3 (state) on: policy is field 41, so index 38. */
    if (g_strv_length(f) < 39)
        return -1;
    return (int)g_ascii_strtoll(f[38], NULL, 10);
}

/* "CPU 3/KVM", "CPU 3/TCG": the names QEMU gives its vCPU threads. */
static gboolean is_vcpu_comm(const char *comm)
{
    if (!g_str_has_prefix(comm, "CPU "))
        return FALSE;
    const char *p = comm + 4;
    if (!g_ascii_isdigit(*p))
        return FALSE;
    while (g_ascii_isdigit(*p))
        p++;
    return !strcmp(p, "/KVM") || !strcmp(p, "/TCG");
}

QpinAuditMap *qpin_audit_map_from_pid(const char *sysroot, gint64 pid, GError **error)
{
    QpinAuditCtx ctx = {.sysroot = sysroot ? sysroot : "/"};
    g_autofree char *rel = g_strdup_printf("proc/%" G_GINT64_FORMAT "/task", pid);
    g_autofree char *dir = qpin_audit_path(&ctx, rel);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "--pid %" G_GINT64_FORMAT ": %s: %s", pid,
                    dir, g_strerror(e));
        return NULL;
    }
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_new();
    map->housekeeping_cpus = topo_cpuset_new();
    guint vcpus = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!all_digits(e->d_name))
            continue;
        g_autofree char *base = g_strdup_printf("%s/%s", rel, e->d_name);
        g_autofree char *comm_rel = g_strdup_printf("%s/comm", base);
        g_autofree char *status_rel = g_strdup_printf("%s/status", base);
        g_autofree char *stat_rel = g_strdup_printf("%s/stat", base);
        g_autofree char *comm = qpin_audit_read(&ctx, comm_rel, NULL, NULL);
        g_autofree char *status = qpin_audit_read(&ctx, status_rel, NULL, NULL);
        /* A thread that ended while it was read has no affinity to audit. */
        if (!comm || !status)
            continue;
        g_autofree char *list = topo_proc_status_field(status, "Cpus_allowed_list");
        g_autoptr(TopoCpuSet) cpus = list ? topo_cpuset_parse(list, NULL) : NULL;
        if (!cpus)
            continue;
        if (is_vcpu_comm(g_strchomp(comm))) {
            vcpus++;
            topo_cpuset_union(map->vcpu_cpus, cpus);
            g_autofree char *stat = qpin_audit_read(&ctx, stat_rel, NULL, NULL);
            int policy = stat_policy(stat);
            if (policy == SCHED_FIFO || policy == SCHED_RR)
                map->rt = TRUE;
        } else {
            topo_cpuset_union(map->housekeeping_cpus, cpus);
        }
    }
    closedir(d);
    if (!vcpus) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--pid %" G_GINT64_FORMAT ": no vCPU thread (named \"CPU N/KVM\" or "
                    "\"CPU N/TCG\") in %s: is it QEMU?",
                    pid, dir);
        return NULL;
    }
    /* Housekeeping threads left on every CPU (an unpinned QEMU) say nothing about where the
     * host work is meant to go: the CPUs the vCPUs do not use are audited instead. */
    topo_cpuset_subtract(map->housekeeping_cpus, map->vcpu_cpus);
    map->source = g_strdup_printf("QEMU pid %" G_GINT64_FORMAT " (%u vCPU thread%s)", pid, vcpus,
                                  vcpus == 1 ? "" : "s");
    return g_steal_pointer(&map);
}

static gboolean report_fail(GError **error, const char *path, const char *what)
{
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                "--from %s: %s (expected a `qpin plan --json` or `qpin run --report` document)",
                path, what);
    return FALSE;
}

/* Adds the cpulist member @key of @o to @set; a missing or null member adds nothing. */
static gboolean report_cpus(json_object *o, const char *key, TopoCpuSet *set, const char *path,
                            const char *where, GError **error)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return TRUE;
    GError *local = NULL;
    g_autoptr(TopoCpuSet) cpus = json_object_is_type(v, json_type_string)
                                     ? topo_cpuset_parse(json_object_get_string(v), &local)
                                     : NULL;
    if (!cpus) {
        g_autofree char *what = g_strdup_printf("%s \"%s\" is not a cpulist string%s%s", where, key,
                                                local ? ": " : "", local ? local->message : "");
        g_clear_error(&local);
        return report_fail(error, path, what);
    }
    topo_cpuset_union(set, cpus);
    return TRUE;
}

QpinAuditMap *qpin_audit_map_from_report(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    GError *local = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > CHECK_REPORT_MAX)) {
        report_fail(error, path, S_ISREG(st.st_mode) ? "larger than 64 MiB" : "not a regular file");
        return NULL;
    }
    if (!g_file_get_contents(path, &text, &len, &local)) {
        report_fail(error, path, local->message);
        g_error_free(local);
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *doc = json_tokener_parse_ex(tok, text, (int)len);
    gboolean complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    g_autoptr(QmpJson) root = doc;
    if (!complete || !json_object_is_type(root, json_type_object)) {
        report_fail(error, path, "not a JSON object");
        return NULL;
    }
    json_object *v = NULL;
    if (!json_object_object_get_ex(root, "schema_version", &v) ||
        !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 1) {
        report_fail(error, path, "\"schema_version\" is not 1");
        return NULL;
    }
    json_object *vcpus = NULL;
    if (!json_object_object_get_ex(root, "vcpus", &vcpus) ||
        !json_object_is_type(vcpus, json_type_array)) {
        report_fail(error, path, "no \"vcpus\" array");
        return NULL;
    }
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    map->vcpu_cpus = topo_cpuset_new();
    map->housekeeping_cpus = topo_cpuset_new();
    for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
        json_object *vc = json_object_array_get_idx(vcpus, i), *actual = NULL;
        if (!json_object_is_type(vc, json_type_object)) {
            report_fail(error, path, "a \"vcpus\" entry is not an object");
            return NULL;
        }
        /* What the kernel held when it was read back wins over what was planned. */
        gboolean has_actual = json_object_object_get_ex(vc, "cpus_actual", &actual) && actual;
        if (!report_cpus(vc, has_actual ? "cpus_actual" : "cpus", map->vcpu_cpus, path, "vCPU",
                         error))
            return NULL;
    }
    json_object *emulator = NULL, *iothreads = NULL, *numa = NULL, *sched = NULL;
    if (json_object_object_get_ex(root, "emulator", &emulator) &&
        json_object_is_type(emulator, json_type_object) &&
        !report_cpus(emulator, "cpus", map->housekeeping_cpus, path, "emulator", error))
        return NULL;
    if (json_object_object_get_ex(root, "iothreads", &iothreads) &&
        json_object_is_type(iothreads, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(iothreads); i++) {
            json_object *io = json_object_array_get_idx(iothreads, i);
            if (json_object_is_type(io, json_type_object) &&
                !report_cpus(io, "cpus", map->housekeeping_cpus, path, "iothread", error))
                return NULL;
        }
    }
    if (json_object_object_get_ex(root, "vcpu_sched", &sched) &&
        json_object_is_type(sched, json_type_string)) {
        const char *s = json_object_get_string(sched);
        map->rt = g_str_has_prefix(s, "fifo") || g_str_has_prefix(s, "rr");
    }
    if (json_object_object_get_ex(root, "numa", &numa) &&
        json_object_is_type(numa, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(numa); i++) {
            json_object *n = json_object_array_get_idx(numa, i), *page = NULL, *size = NULL,
                        *hn = NULL;
            if (!json_object_is_type(n, json_type_object) ||
                !json_object_object_get_ex(n, "hugepage_kib", &page) ||
                json_object_get_uint64(page) == 0 ||
                !json_object_object_get_ex(n, "size_bytes", &size))
                continue;
            g_autoptr(TopoCpuSet) nodes = topo_cpuset_new();
            if (json_object_object_get_ex(n, "host_nodes", &hn) && hn &&
                !report_cpus(n, "host_nodes", nodes, path, "numa", error))
                return NULL;
            guint count = topo_cpuset_count(nodes);
            guint64 bytes = json_object_get_uint64(size);
            /* Memory bound to several nodes is spread over them; assume evenly. */
            if (!count) {
                QpinAuditHugepages h = {-1, json_object_get_uint64(page), bytes};
                g_array_append_val(map->hugepages, h);
            }
            for (int node = topo_cpuset_first(nodes); node >= 0;
                 node = topo_cpuset_next(nodes, node)) {
                QpinAuditHugepages h = {node, json_object_get_uint64(page),
                                        (bytes + count - 1) / count};
                g_array_append_val(map->hugepages, h);
            }
        }
    }
    if (topo_cpuset_is_empty(map->vcpu_cpus)) {
        report_fail(error, path, "no vCPU is pinned (every \"cpus\" is null): no map to audit");
        return NULL;
    }
    map->source = g_strdup_printf("--from %s", path);
    return g_steal_pointer(&map);
}
