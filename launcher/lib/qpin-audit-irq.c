/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the checks of what the kernel runs on CPUs by itself: interrupts and irqbalance, RCU
 * kthreads and unbound workqueues. */
#include "qpin-audit-private.h"

#include <dirent.h>
#include <string.h>

/* How many offenders an observation names before "and N more". */
#define NAMED_MAX 8

typedef struct {
    gint64 irq;
    char *name;
    TopoCpuSet *cpus;
} IrqSeen;

static void irq_seen_free(IrqSeen *s)
{
    g_free(s->name);
    topo_cpuset_free(s->cpus);
    g_free(s);
}

static int irq_compare(gconstpointer a, gconstpointer b)
{
    const IrqSeen *x = *(IrqSeen *const *)a, *y = *(IrqSeen *const *)b;
    return x->irq < y->irq ? -1 : x->irq > y->irq;
}

/* IRQ number -> the device name of its /proc/interrupts row (its last word); only numbered
 * rows (LOC, RES ... are per-CPU and have no smp_affinity). */
static GHashTable *irq_names(const QpinAuditCtx *c)
{
    g_autofree char *text = qpin_audit_read(c, "proc/interrupts", NULL, NULL);
    if (!text)
        return NULL;
    GHashTable *names = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 1; lines[0] && lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        if (!colon)
            continue;
        g_autofree char *num = g_strstrip(g_strndup(lines[i], colon - lines[i]));
        if (!num[0] || strspn(num, "0123456789") != strlen(num))
            continue;
        g_auto(GStrv) words = g_strsplit_set(colon + 1, " \t", -1);
        const char *last = NULL;
        for (int w = 0; words[w]; w++)
            if (words[w][0])
                last = words[w];
        gint64 *key = g_new(gint64, 1);
        *key = g_ascii_strtoll(num, NULL, 10);
        g_hash_table_insert(names, key, g_strdup(last ? last : "?"));
    }
    return names;
}

static void check_irq_affinity(QpinAuditCtx *c)
{
    g_autofree char *hk = topo_cpuset_format(c->hk);
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("no IRQ allowed on vCPU CPUs %s", want);
    const char *evidence = "/proc/irq/N/smp_affinity_list, /proc/interrupts";
    g_autofree char *dir = qpin_audit_path(c, "proc/irq");
    DIR *d = opendir(dir);
    if (!d) {
        qpin_audit_add(c, "irq.affinity", QPIN_AUDIT_UNKNOWN,
                       g_strdup("/proc/irq cannot be listed"), g_steal_pointer(&expected),
                       g_strdup(evidence), NULL);
        return;
    }
    g_autoptr(GHashTable) names = irq_names(c);
    g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func((GDestroyNotify)irq_seen_free);
    guint read = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!e->d_name[0] || strspn(e->d_name, "0123456789") != strlen(e->d_name))
            continue;
        gint64 irq = g_ascii_strtoll(e->d_name, NULL, 10);
        /* An IRQ without a handler (not in /proc/interrupts) cannot fire. */
        if (names && !g_hash_table_contains(names, &irq))
            continue;
        g_autofree char *rel = g_strdup_printf("proc/irq/%s/smp_affinity_list", e->d_name);
        g_autofree char *text = qpin_audit_read(c, rel, NULL, NULL);
        g_autoptr(TopoCpuSet) cpus = text ? topo_cpuset_parse(text, NULL) : NULL;
        if (!cpus)
            continue;
        read++;
        if (!topo_cpuset_intersects(cpus, c->vcpu))
            continue;
        IrqSeen *s = g_new0(IrqSeen, 1);
        s->irq = irq;
        const char *name = names ? g_hash_table_lookup(names, &irq) : NULL;
        s->name = g_strdup(name ? name : "?");
        s->cpus = g_steal_pointer(&cpus);
        g_ptr_array_add(bad, s);
    }
    closedir(d);
    if (!read) {
        qpin_audit_add(c, "irq.affinity", QPIN_AUDIT_UNKNOWN,
                       g_strdup("no readable /proc/irq/N/smp_affinity_list"),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    if (!bad->len) {
        qpin_audit_add(c, "irq.affinity", QPIN_AUDIT_PASS,
                       g_strdup_printf("%u IRQs, none allowed on a vCPU CPU", read),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    g_ptr_array_sort(bad, irq_compare);
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(GString) list = g_string_new(NULL);
    g_string_append_printf(observed, "%u of %u IRQs allowed on vCPU CPUs: ", bad->len, read);
    for (guint i = 0; i < bad->len; i++) {
        IrqSeen *s = bad->pdata[i];
        g_string_append_printf(list, "%s%" G_GINT64_FORMAT, i ? " " : "", s->irq);
        if (i < NAMED_MAX) {
            g_autofree char *cpus = qpin_audit_cpus(s->cpus);
            g_string_append_printf(observed, "%s%" G_GINT64_FORMAT " %s (%s)", i ? ", " : "",
                                   s->irq, s->name, cpus);
        }
    }
    if (bad->len > NAMED_MAX)
        g_string_append_printf(observed, ", and %u more", bad->len - NAMED_MAX);
    g_autofree char *param = g_strdup_printf("irqaffinity=%s", hk);
    g_autofree char *kfix = qpin_audit_kernel_fix(param);
    g_autofree char *fix = g_strdup_printf(
        "for irq in %s; do echo %s > /proc/irq/$irq/smp_affinity_list; done; for new IRQs: %s",
        list->str, hk, kfix);
    qpin_audit_add(c, "irq.affinity", QPIN_AUDIT_FAIL,
                   g_string_free(g_steal_pointer(&observed), FALSE), g_steal_pointer(&expected),
                   g_strdup(evidence), g_steal_pointer(&fix));
}

/* The CPUs irqbalance @pid keeps IRQs off: --banned-cpus=LIST (or its next word),
 * IRQBALANCE_BANNED_CPULIST, IRQBALANCE_BANNED_CPUS (a hex mask); without any of them
 * irqbalance bans the isolated and nohz_full CPUs by itself. *@how says where it came from. */
static TopoCpuSet *irqbalance_banned(const QpinAuditCtx *c, gint64 pid, char **how)
{
    g_auto(GStrv) argv = qpin_audit_proc_words(c, pid, "cmdline");
    g_auto(GStrv) env = qpin_audit_proc_words(c, pid, "environ");
    for (int i = 0; argv && argv[i]; i++) {
        const char *value = NULL;
        if (g_str_has_prefix(argv[i], "--banned-cpus="))
            value = argv[i] + strlen("--banned-cpus=");
        else if (!strcmp(argv[i], "--banned-cpus") && argv[i + 1])
            value = argv[i + 1];
        TopoCpuSet *set = value ? topo_cpuset_parse(value, NULL) : NULL;
        if (set) {
            *how = g_strdup_printf("--banned-cpus=%s", value);
            return set;
        }
    }
    for (int i = 0; env && env[i]; i++) {
        if (g_str_has_prefix(env[i], "IRQBALANCE_BANNED_CPULIST=")) {
            TopoCpuSet *set = topo_cpuset_parse(strchr(env[i], '=') + 1, NULL);
            if (set) {
                *how = g_strdup(env[i]);
                return set;
            }
        }
    }
    for (int i = 0; env && env[i]; i++) {
        if (g_str_has_prefix(env[i], "IRQBALANCE_BANNED_CPUS=")) {
            TopoCpuSet *set = topo_cpuset_parse_mask(strchr(env[i], '=') + 1, NULL);
            if (set) {
                *how = g_strdup(env[i]);
                return set;
            }
        }
    }
    TopoCpuSet *set = topo_cpuset_new();
    if (c->host->isolated)
        topo_cpuset_union(set, c->host->isolated);
    if (c->host->nohz_full)
        topo_cpuset_union(set, c->host->nohz_full);
    *how = g_strdup(env ? "no banned CPUs given: the isolated and nohz_full CPUs"
                        : "environ unreadable: assuming the isolated and nohz_full CPUs");
    return set;
}

static void check_irqbalance(QpinAuditCtx *c)
{
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected =
        g_strdup_printf("irqbalance not running, or banning vCPU CPUs %s", want);
    if (!c->procs_read) {
        qpin_audit_add(c, "irq.irqbalance", QPIN_AUDIT_UNKNOWN,
                       g_strdup("no process could be listed"), g_steal_pointer(&expected),
                       g_strdup("/proc/PID/comm"), NULL);
        return;
    }
    g_autoptr(GPtrArray) found = qpin_audit_procs_named(c, "irqbalance", FALSE);
    if (!found->len) {
        qpin_audit_add(c, "irq.irqbalance", QPIN_AUDIT_PASS, g_strdup("irqbalance not running"),
                       g_steal_pointer(&expected), g_strdup("/proc/PID/comm"), NULL);
        return;
    }
    QpinAuditProc *p = found->pdata[0];
    g_autofree char *how = NULL;
    g_autoptr(TopoCpuSet) banned = irqbalance_banned(c, p->pid, &how);
    g_autofree char *b = qpin_audit_cpus(banned);
    g_autofree char *evidence = g_strdup_printf(
        "/proc/%" G_GINT64_FORMAT "/cmdline, /proc/%" G_GINT64_FORMAT "/environ", p->pid, p->pid);
    if (topo_cpuset_is_subset(c->vcpu, banned)) {
        qpin_audit_add(
            c, "irq.irqbalance", QPIN_AUDIT_PASS,
            g_strdup_printf("irqbalance (pid %" G_GINT64_FORMAT ") bans %s (%s)", p->pid, b, how),
            g_steal_pointer(&expected), g_steal_pointer(&evidence), NULL);
        return;
    }
    /* The list replaces irqbalance's own choice: the vCPU CPUs and what it bans now, never a
     * housekeeping CPU, which must take the IRQs. */
    g_autoptr(TopoCpuSet) want_banned = topo_cpuset_copy(banned);
    topo_cpuset_subtract(want_banned, c->hk);
    topo_cpuset_union(want_banned, c->vcpu);
    g_autofree char *wb = topo_cpuset_format(want_banned);
    qpin_audit_add(c, "irq.irqbalance", QPIN_AUDIT_FAIL,
                   g_strdup_printf("irqbalance (pid %" G_GINT64_FORMAT ") runs and bans %s (%s)",
                                   p->pid, b, how),
                   g_steal_pointer(&expected), g_steal_pointer(&evidence),
                   g_strdup_printf("systemctl disable --now irqbalance; or set "
                                   "IRQBALANCE_BANNED_CPULIST=%s in /etc/default/irqbalance and "
                                   "systemctl restart irqbalance",
                                   wb));
}

/* rcuo*, rcuog*, rcu_* (rcu_preempt, rcu_sched, rcu_tasks...): the RCU kthreads that may move.
 * The per-CPU rcuc/N are bound to their CPU and are left alone. */
static gboolean is_rcu_kthread(const char *comm)
{
    return g_str_has_prefix(comm, "rcuo") || g_str_has_prefix(comm, "rcu_");
}

static void check_rcu_kthreads(QpinAuditCtx *c)
{
    g_autofree char *hk = topo_cpuset_format(c->hk);
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("no RCU kthread allowed on vCPU CPUs %s", want);
    const char *evidence = "/proc/PID/comm, /proc/PID/status (Cpus_allowed_list)";
    if (!c->procs_read) {
        qpin_audit_add(c, "kthread.rcu", QPIN_AUDIT_UNKNOWN, g_strdup("no process could be listed"),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(GString) pids = g_string_new(NULL);
    guint seen = 0, bad = 0;
    for (guint i = 0; i < c->procs->len; i++) {
        QpinAuditProc *p = c->procs->pdata[i];
        if (!is_rcu_kthread(p->comm))
            continue;
        g_autofree char *rel = g_strdup_printf("proc/%" G_GINT64_FORMAT "/status", p->pid);
        g_autofree char *status = qpin_audit_read(c, rel, NULL, NULL);
        g_autofree char *list = status ? topo_proc_status_field(status, "Cpus_allowed_list") : NULL;
        g_autoptr(TopoCpuSet) cpus = list ? topo_cpuset_parse(list, NULL) : NULL;
        if (!cpus)
            continue;
        seen++;
        if (!topo_cpuset_intersects(cpus, c->vcpu))
            continue;
        if (bad < NAMED_MAX) {
            g_autofree char *l = qpin_audit_cpus(cpus);
            g_string_append_printf(observed, "%s%s (pid %" G_GINT64_FORMAT ") on %s",
                                   bad ? ", " : "", p->comm, p->pid, l);
        }
        g_string_append_printf(pids, "%s%" G_GINT64_FORMAT, bad ? " " : "", p->pid);
        bad++;
    }
    if (!seen) {
        qpin_audit_add(c, "kthread.rcu", QPIN_AUDIT_UNKNOWN,
                       g_strdup("no RCU kthread (rcuo*, rcu_*) found"), g_steal_pointer(&expected),
                       g_strdup(evidence), NULL);
        return;
    }
    if (!bad) {
        qpin_audit_add(c, "kthread.rcu", QPIN_AUDIT_PASS,
                       g_strdup_printf("%u RCU kthreads, none allowed on a vCPU CPU", seen),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    if (bad > NAMED_MAX)
        g_string_append_printf(observed, ", and %u more", bad - NAMED_MAX);
    g_autofree char *head = g_strdup_printf("%u of %u RCU kthreads on vCPU CPUs: ", bad, seen);
    g_string_prepend(observed, head);
    qpin_audit_add(c, "kthread.rcu", QPIN_AUDIT_FAIL,
                   g_string_free(g_steal_pointer(&observed), FALSE), g_steal_pointer(&expected),
                   g_strdup(evidence),
                   g_strdup_printf("for pid in %s; do taskset -pc %s $pid; done", pids->str, hk));
}

static void check_workqueue(QpinAuditCtx *c)
{
    static const char *const files[] = {
        "sys/devices/virtual/workqueue/cpumask",
        "sys/bus/workqueue/devices/writeback/cpumask",
    };
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("unbound workqueues off vCPU CPUs %s", want);
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(GString) evidence = g_string_new(NULL);
    g_autoptr(GString) fix = g_string_new(NULL);
    guint read = 0;
    gboolean bad = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_string_append_printf(evidence, "%s/%s", i ? ", " : "", files[i]);
        g_autofree char *why = NULL;
        g_autofree char *text = qpin_audit_read(c, files[i], NULL, &why);
        g_autoptr(TopoCpuSet) cpus = text ? topo_cpuset_parse_mask(g_strstrip(text), NULL) : NULL;
        const char *what = i == 0 ? "workqueue" : "writeback";
        if (!cpus) {
            g_string_append_printf(observed, "%s%s: %s", observed->len ? "; " : "", what,
                                   text ? "not a CPU mask" : why);
            continue;
        }
        read++;
        /* The mask as the file says it, and as a list for people. */
        g_autofree char *list = qpin_audit_cpus(cpus);
        g_string_append_printf(observed, "%s%s %s (%s)", observed->len ? "; " : "", what, text,
                               list);
        if (topo_cpuset_intersects(cpus, c->vcpu)) {
            bad = TRUE;
            g_autoptr(TopoCpuSet) keep = topo_cpuset_copy(cpus);
            topo_cpuset_subtract(keep, c->vcpu);
            if (topo_cpuset_is_empty(keep))
                topo_cpuset_union(keep, c->hk);
            g_autofree char *mask = qpin_audit_format_mask(keep);
            g_string_append_printf(fix, "%secho %s > /%s", fix->len ? "; " : "", mask, files[i]);
        }
    }
    QpinAuditStatus status = bad                           ? QPIN_AUDIT_FAIL
                             : read == G_N_ELEMENTS(files) ? QPIN_AUDIT_PASS
                                                           : QPIN_AUDIT_UNKNOWN;
    qpin_audit_add(c, "workqueue.cpumask", status, g_string_free(g_steal_pointer(&observed), FALSE),
                   g_steal_pointer(&expected), g_string_free(g_steal_pointer(&evidence), FALSE),
                   bad ? g_string_free(g_steal_pointer(&fix), FALSE) : NULL);
}

void qpin_audit_irq_run(QpinAuditCtx *c)
{
    check_irq_affinity(c);
    check_irqbalance(c);
    check_rcu_kthreads(c);
    check_workqueue(c);
}
