/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the CPU checks of the host audit: isolation, tick, RCU callbacks, housekeeping,
 * frequency governor, idle states, real-time throttling and SMT siblings. */
#include "qpin-audit-private.h"

#include <dirent.h>
#include <string.h>

#define CPU_DIR "sys/devices/system/cpu"

/* CPUs in an isolated cpuset partition (cgroup v2, Linux 5.15+): the root's direct children
 * whose cpuset.cpus.partition says "isolated" and is valid. Deeper partitions need an isolated
 * parent chain and are rare enough to be left out. */
static TopoCpuSet *partition_isolated(const QpinAuditCtx *c, GString *evidence)
{
    TopoCpuSet *set = topo_cpuset_new();
    g_autofree char *root = qpin_audit_path(c, "sys/fs/cgroup");
    DIR *d = opendir(root);
    if (!d)
        return set;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        g_autofree char *rel = g_strdup_printf("sys/fs/cgroup/%s/cpuset.cpus.partition", e->d_name);
        g_autofree char *kind = qpin_audit_read(c, rel, NULL, NULL);
        if (!kind || !g_str_has_prefix(kind, "isolated") || strstr(kind, "invalid"))
            continue;
        g_autofree char *cpus_rel =
            g_strdup_printf("sys/fs/cgroup/%s/cpuset.cpus.effective", e->d_name);
        g_autofree char *cpus = qpin_audit_read(c, cpus_rel, NULL, NULL);
        g_autoptr(TopoCpuSet) set_here = cpus ? topo_cpuset_parse(cpus, NULL) : NULL;
        if (set_here) {
            topo_cpuset_union(set, set_here);
            g_string_append_printf(evidence, ", /%s", rel);
        }
    }
    closedir(d);
    return set;
}

/* The kernel parameter that would cover the vCPU CPUs: what it names now plus the vCPU CPUs,
 * less the housekeeping CPUs ("isolcpus=managed_irq,domain,2-5"). */
static char *param_for(const QpinAuditCtx *c, const char *name, const char *flags,
                       const TopoCpuSet *now)
{
    g_autoptr(TopoCpuSet) want = now ? topo_cpuset_copy(now) : topo_cpuset_new();
    topo_cpuset_union(want, c->vcpu);
    topo_cpuset_subtract(want, c->hk);
    g_autofree char *list = topo_cpuset_format(want);
    return g_strdup_printf("%s=%s%s", name, flags, list);
}

/* The fix that puts @param (NAME=VALUE) on the kernel command line, replacing the NAME= there
 * is: the kernel would read only one of two. */
static char *kernel_param_fix(const QpinAuditCtx *c, const char *name, const char *param)
{
    g_autofree char *now = qpin_audit_cmdline_value(c->host->cmdline, name);
    if (!now)
        return qpin_audit_kernel_fix(param);
    return g_strdup_printf("replace \"%s=%s\" by \"%s\" in GRUB_CMDLINE_LINUX in "
                           "/etc/default/grub; update-grub; reboot",
                           name, now, param);
}

/* "2-3 of 1-7 are not in it": the vCPU CPUs missing from @have. */
static char *missing_text(const QpinAuditCtx *c, const TopoCpuSet *have)
{
    g_autoptr(TopoCpuSet) missing = topo_cpuset_copy(c->vcpu);
    if (have)
        topo_cpuset_subtract(missing, have);
    return qpin_audit_cpus(missing);
}

static void check_isolated(QpinAuditCtx *c)
{
    const TopoHost *h = c->host;
    g_autofree char *sysfs = qpin_audit_read(c, CPU_DIR "/isolated", NULL, NULL);
    g_autoptr(GString) evidence = g_string_new(sysfs ? "/" CPU_DIR "/isolated" : "/proc/cmdline");
    g_autoptr(TopoCpuSet) isolated = partition_isolated(c, evidence);
    if (h->isolated)
        topo_cpuset_union(isolated, h->isolated);
    g_autofree char *have = qpin_audit_cpus(isolated), *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("vCPU CPUs %s isolated", want);
    if (topo_cpuset_is_subset(c->vcpu, isolated)) {
        qpin_audit_add(c, "cpu.isolated", QPIN_AUDIT_PASS, g_strdup_printf("isolated: %s", have),
                       g_steal_pointer(&expected), g_string_free(g_steal_pointer(&evidence), FALSE),
                       NULL);
        return;
    }
    g_autofree char *missing = missing_text(c, isolated);
    g_autofree char *param = param_for(c, "isolcpus", "managed_irq,domain,", h->isolated);
    qpin_audit_add(c, "cpu.isolated", QPIN_AUDIT_FAIL,
                   g_strdup_printf("isolated: %s; vCPU CPUs %s are not", have, missing),
                   g_steal_pointer(&expected), g_string_free(g_steal_pointer(&evidence), FALSE),
                   kernel_param_fix(c, "isolcpus", param));
}

static void check_nohz(QpinAuditCtx *c)
{
    const TopoHost *h = c->host;
    g_autofree char *sysfs = qpin_audit_read(c, CPU_DIR "/nohz_full", NULL, NULL);
    const char *evidence = sysfs ? "/" CPU_DIR "/nohz_full" : "/proc/cmdline";
    g_autofree char *have = qpin_audit_cpus(h->nohz_full), *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("vCPU CPUs %s in nohz_full", want);
    if (h->nohz_full && topo_cpuset_is_subset(c->vcpu, h->nohz_full)) {
        qpin_audit_add(c, "cpu.nohz_full", QPIN_AUDIT_PASS, g_strdup_printf("nohz_full: %s", have),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    g_autofree char *missing = missing_text(c, h->nohz_full);
    g_autofree char *param = param_for(c, "nohz_full", "", h->nohz_full);
    qpin_audit_add(c, "cpu.nohz_full", QPIN_AUDIT_FAIL,
                   g_strdup_printf("nohz_full: %s; vCPU CPUs %s are not", have, missing),
                   g_steal_pointer(&expected), g_strdup(evidence),
                   kernel_param_fix(c, "nohz_full", param));
}

static void check_rcu_nocbs(QpinAuditCtx *c)
{
    const TopoHost *h = c->host;
    g_autofree char *value = qpin_audit_cmdline_value(h->cmdline, "rcu_nocbs");
    g_autoptr(TopoCpuSet) nocbs = NULL;
    if (value && !strcmp(value, "all"))
        nocbs = topo_cpuset_copy(h->online);
    else if (value)
        nocbs = topo_cpuset_parse(value, NULL);
    /* RCU offloads the callbacks of nohz_full CPUs by itself (rcu_init_nohz()). */
    g_autoptr(TopoCpuSet) covered = nocbs ? topo_cpuset_copy(nocbs) : topo_cpuset_new();
    if (h->nohz_full)
        topo_cpuset_union(covered, h->nohz_full);
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    gboolean nohz = h->nohz_full && !topo_cpuset_is_empty(h->nohz_full);
    g_autofree char *nohz_list = nohz ? qpin_audit_cpus(h->nohz_full) : NULL;
    g_autofree char *observed = g_strdup_printf("rcu_nocbs=%s%s%s%s", value ? value : "(absent)",
                                                nohz ? ", nohz_full " : "", nohz ? nohz_list : "",
                                                nohz ? " (offloaded too)" : "");
    g_autofree char *expected = g_strdup_printf("vCPU CPUs %s in rcu_nocbs", want);
    if (topo_cpuset_is_subset(c->vcpu, covered)) {
        qpin_audit_add(c, "cpu.rcu_nocbs", QPIN_AUDIT_PASS, g_steal_pointer(&observed),
                       g_steal_pointer(&expected), g_strdup("/proc/cmdline"), NULL);
        return;
    }
    g_autofree char *param = param_for(c, "rcu_nocbs", "", nocbs);
    g_autofree char *missing = missing_text(c, covered);
    g_autofree char *full =
        g_strdup_printf("%s; vCPU CPUs %s are not offloaded", observed, missing);
    qpin_audit_add(c, "cpu.rcu_nocbs", QPIN_AUDIT_FAIL, g_steal_pointer(&full),
                   g_steal_pointer(&expected), g_strdup("/proc/cmdline"),
                   kernel_param_fix(c, "rcu_nocbs", param));
}

static void check_housekeeping(QpinAuditCtx *c)
{
    const TopoHost *h = c->host;
    g_autoptr(TopoCpuSet) online_hk = topo_cpuset_copy(c->hk);
    topo_cpuset_intersect(online_hk, h->online);
    g_autoptr(TopoCpuSet) quiet = topo_cpuset_new();
    if (h->isolated)
        topo_cpuset_union(quiet, h->isolated);
    if (h->nohz_full)
        topo_cpuset_union(quiet, h->nohz_full);
    topo_cpuset_intersect(quiet, c->hk);
    g_autofree char *hk = qpin_audit_cpus(c->hk);
    g_autofree char *expected = g_strdup_printf(
        "housekeeping CPUs %s%s online, neither isolated nor nohz_full", hk,
        c->hk_given ? "" : " (the online CPUs without vCPUs, isolation or nohz_full)");
    const char *evidence = "/" CPU_DIR "/online, /" CPU_DIR "/isolated, /" CPU_DIR "/nohz_full";
    if (topo_cpuset_is_empty(online_hk)) {
        qpin_audit_add(c, "cpu.housekeeping", QPIN_AUDIT_FAIL,
                       g_strdup_printf("no housekeeping CPU is online (%s)", hk),
                       g_steal_pointer(&expected), g_strdup(evidence),
                       g_strdup("leave at least one online CPU to the host: give the emulator "
                                "threads a CPU no vCPU uses (--emulator-pin)"));
        return;
    }
    if (!topo_cpuset_is_empty(quiet)) {
        g_autofree char *q = qpin_audit_cpus(quiet);
        /* The same isolation less the housekeeping CPUs; an option left with no CPU goes. */
        g_autoptr(GString) kfix = g_string_new(NULL);
        static const char *const names[] = {"isolcpus", "nohz_full"};
        const TopoCpuSet *sets[] = {h->isolated, h->nohz_full};
        for (int i = 0; i < 2; i++) {
            if (!sets[i] || !topo_cpuset_intersects(sets[i], c->hk))
                continue;
            g_autoptr(TopoCpuSet) keep = topo_cpuset_copy(sets[i]);
            topo_cpuset_subtract(keep, c->hk);
            g_autofree char *list = topo_cpuset_format(keep);
            g_autofree char *now = qpin_audit_cmdline_value(h->cmdline, names[i]);
            if (now)
                g_string_append_printf(kfix, "%sreplace \"%s=%s\" by \"%s=%s\"",
                                       kfix->len ? "; " : "", names[i], now, names[i], list);
            else
                g_string_append_printf(kfix, "%sset \"%s=%s\"", kfix->len ? "; " : "", names[i],
                                       list);
        }
        g_string_append(kfix, " in GRUB_CMDLINE_LINUX in /etc/default/grub; update-grub; reboot");
        qpin_audit_add(c, "cpu.housekeeping", QPIN_AUDIT_FAIL,
                       g_strdup_printf("housekeeping CPUs %s are isolated or nohz_full", q),
                       g_steal_pointer(&expected), g_strdup(evidence),
                       g_strdup_printf("keep the emulator and iothreads off isolated CPUs, or "
                                       "isolate fewer: %s",
                                       kfix->str));
        return;
    }
    g_autofree char *on = qpin_audit_cpus(online_hk);
    qpin_audit_add(c, "cpu.housekeeping", QPIN_AUDIT_PASS,
                   g_strdup_printf("housekeeping CPUs %s online, not isolated", on),
                   g_steal_pointer(&expected), g_strdup(evidence), NULL);
}

void qpin_audit_cpu_run(QpinAuditCtx *c)
{
    check_isolated(c);
    check_nohz(c);
    check_rcu_nocbs(c);
    check_housekeeping(c);
}

/* ---- frequency, idle, real-time, SMT ---- */

static void check_governor(QpinAuditCtx *c)
{
    g_autoptr(GHashTable) by_gov =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)topo_cpuset_free);
    g_autoptr(TopoCpuSet) slow = topo_cpuset_new();
    guint read = 0;
    for (int cpu = topo_cpuset_first(c->vcpu); cpu >= 0; cpu = topo_cpuset_next(c->vcpu, cpu)) {
        g_autofree char *rel = g_strdup_printf(CPU_DIR "/cpu%d/cpufreq/scaling_governor", cpu);
        g_autofree char *gov = qpin_audit_read(c, rel, NULL, NULL);
        if (!gov)
            continue;
        read++;
        g_strstrip(gov);
        TopoCpuSet *set = g_hash_table_lookup(by_gov, gov);
        if (!set) {
            set = topo_cpuset_new();
            g_hash_table_insert(by_gov, g_strdup(gov), set);
        }
        topo_cpuset_add(set, cpu);
        if (strcmp(gov, "performance"))
            topo_cpuset_add(slow, cpu);
    }
    const char *evidence = "/" CPU_DIR "/cpuN/cpufreq/scaling_governor";
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected = g_strdup_printf("governor performance on %s", want);
    if (!read) {
        qpin_audit_add(c, "cpu.governor", QPIN_AUDIT_UNKNOWN,
                       g_strdup("no cpufreq on the vCPU CPUs (a VM, or no cpufreq driver)"),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(by_gov), (GCompareFunc)strcmp);
    for (GList *k = keys; k; k = k->next) {
        g_autofree char *cpus = qpin_audit_cpus(g_hash_table_lookup(by_gov, k->data));
        g_string_append_printf(observed, "%s%s on %s", observed->len ? "; " : "", (char *)k->data,
                               cpus);
    }
    if (read < topo_cpuset_count(c->vcpu))
        g_string_append(observed, "; others without cpufreq");
    if (topo_cpuset_is_empty(slow)) {
        qpin_audit_add(c, "cpu.governor", QPIN_AUDIT_PASS,
                       g_string_free(g_steal_pointer(&observed), FALSE), g_steal_pointer(&expected),
                       g_strdup(evidence), NULL);
        return;
    }
    g_autofree char *list = topo_cpuset_format(slow);
    qpin_audit_add(c, "cpu.governor", QPIN_AUDIT_WARN,
                   g_string_free(g_steal_pointer(&observed), FALSE), g_steal_pointer(&expected),
                   g_strdup(evidence),
                   g_strdup_printf("cpupower -c %s frequency-set -g performance", list));
}

/* The deep idle states (index 2 and up: past POLL and C1) enabled on a vCPU CPU. */
static void check_idle(QpinAuditCtx *c)
{
    const char *cmdline = c->host->cmdline;
    g_autofree char *idle = qpin_audit_cmdline_value(cmdline, "idle");
    g_autofree char *intel = qpin_audit_cmdline_value(cmdline, "intel_idle.max_cstate");
    g_autofree char *acpi = qpin_audit_cmdline_value(cmdline, "processor.max_cstate");
    g_autofree char *want = qpin_audit_cpus(c->vcpu);
    g_autofree char *expected =
        g_strdup_printf("no C-state deeper than C1 on %s (idle=halt|poll, "
                        "intel_idle.max_cstate<=1, processor.max_cstate<=1, or the deep cpuidle "
                        "states disabled)",
                        want);
    const char *param = NULL;
    g_autofree char *value = NULL;
    if (idle && (!strcmp(idle, "poll") || !strcmp(idle, "halt")))
        param = "idle", value = g_strdup(idle);
    else if (intel && g_ascii_isdigit(intel[0]) && g_ascii_strtoll(intel, NULL, 10) <= 1)
        param = "intel_idle.max_cstate", value = g_strdup(intel);
    else if (acpi && g_ascii_isdigit(acpi[0]) && g_ascii_strtoll(acpi, NULL, 10) <= 1)
        param = "processor.max_cstate", value = g_strdup(acpi);
    if (param) {
        qpin_audit_add(c, "cpu.idle", QPIN_AUDIT_PASS, g_strdup_printf("%s=%s", param, value),
                       g_steal_pointer(&expected), g_strdup("/proc/cmdline"), NULL);
        return;
    }
    /* State index -> CPUs where it is enabled, and its name. */
    g_autoptr(GHashTable) enabled = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                          (GDestroyNotify)topo_cpuset_free);
    g_autoptr(GHashTable) names =
        g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    guint with_cpuidle = 0;
    int max_state = -1;
    for (int cpu = topo_cpuset_first(c->vcpu); cpu >= 0; cpu = topo_cpuset_next(c->vcpu, cpu)) {
        gboolean any = FALSE;
        for (int k = 0; k < 16; k++) {
            g_autofree char *rel =
                g_strdup_printf(CPU_DIR "/cpu%d/cpuidle/state%d/disable", cpu, k);
            g_autofree char *dis = qpin_audit_read(c, rel, NULL, NULL);
            if (!dis)
                break;
            any = TRUE;
            if (k < 2 || g_strstrip(dis)[0] == '1')
                continue;
            TopoCpuSet *set = g_hash_table_lookup(enabled, GINT_TO_POINTER(k));
            if (!set) {
                set = topo_cpuset_new();
                g_hash_table_insert(enabled, GINT_TO_POINTER(k), set);
                g_autofree char *nrel =
                    g_strdup_printf(CPU_DIR "/cpu%d/cpuidle/state%d/name", cpu, k);
                char *name = qpin_audit_read(c, nrel, NULL, NULL);
                g_hash_table_insert(names, GINT_TO_POINTER(k),
                                    name ? g_strstrip(name) : g_strdup_printf("state%d", k));
            }
            topo_cpuset_add(set, cpu);
            max_state = MAX(max_state, k);
        }
        with_cpuidle += any;
    }
    const char *evidence = "/proc/cmdline, /" CPU_DIR "/cpuN/cpuidle/stateK/disable";
    if (!with_cpuidle) {
        qpin_audit_add(c, "cpu.idle", QPIN_AUDIT_UNKNOWN,
                       g_strdup("no idle= or max_cstate limit; no cpuidle states on the vCPU "
                                "CPUs (a VM, or no cpuidle driver)"),
                       g_steal_pointer(&expected), g_strdup(evidence),
                       qpin_audit_kernel_fix("intel_idle.max_cstate=1 processor.max_cstate=1"));
        return;
    }
    if (max_state < 0) {
        /* Name the shallow states there are, so that "pass" shows what it rests on. */
        g_autoptr(GString) shallow = g_string_new(NULL);
        int first = topo_cpuset_first(c->vcpu);
        for (int k = 0; k < 2; k++) {
            g_autofree char *nrel =
                g_strdup_printf(CPU_DIR "/cpu%d/cpuidle/state%d/name", first, k);
            g_autofree char *name = qpin_audit_read(c, nrel, NULL, NULL);
            if (name)
                g_string_append_printf(shallow, "%s%s", shallow->len ? ", " : "", g_strstrip(name));
        }
        qpin_audit_add(
            c, "cpu.idle", QPIN_AUDIT_PASS,
            g_strdup_printf("no deep cpuidle state enabled on the vCPU CPUs (%s)", shallow->str),
            g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    g_autoptr(GString) observed = g_string_new("enabled: ");
    g_autoptr(GString) fix = g_string_new(NULL);
    g_autoptr(TopoCpuSet) all = topo_cpuset_new();
    for (int k = 2; k <= max_state; k++) {
        TopoCpuSet *set = g_hash_table_lookup(enabled, GINT_TO_POINTER(k));
        if (!set)
            continue;
        topo_cpuset_union(all, set);
        g_autofree char *cpus = qpin_audit_cpus(set);
        g_string_append_printf(observed, "%s%s (state%d) on %s", k > 2 ? ", " : "",
                               (char *)g_hash_table_lookup(names, GINT_TO_POINTER(k)), k, cpus);
    }
    g_autofree char *cpus = topo_cpuset_format(all);
    for (int k = 2; k <= max_state; k++)
        if (g_hash_table_lookup(enabled, GINT_TO_POINTER(k)))
            g_string_append_printf(fix, "%scpupower -c %s idle-set -d %d", fix->len ? "; " : "",
                                   cpus, k);
    g_string_append(fix, "; persistently: ");
    g_autofree char *kfix = qpin_audit_kernel_fix("intel_idle.max_cstate=1 processor.max_cstate=1");
    g_string_append(fix, kfix);
    qpin_audit_add(c, "cpu.idle", QPIN_AUDIT_WARN, g_string_free(g_steal_pointer(&observed), FALSE),
                   g_steal_pointer(&expected), g_strdup(evidence),
                   g_string_free(g_steal_pointer(&fix), FALSE));
}

static void check_rt_runtime(QpinAuditCtx *c)
{
    const char *rel = "proc/sys/kernel/sched_rt_runtime_us";
    g_autofree char *why = NULL;
    g_autofree char *text = qpin_audit_read(c, rel, NULL, &why);
    const char *expected = "-1 with real-time vCPUs (no RT throttling)";
    if (!c->map->rt) {
        qpin_audit_add(
            c, "sched.rt_runtime", QPIN_AUDIT_PASS,
            g_strdup_printf("%s; the vCPUs are not real-time", text ? g_strstrip(text) : "unread"),
            g_strdup("-1 only with real-time vCPUs"),
            g_strdup("/proc/sys/kernel/sched_rt_runtime_us"), NULL);
        return;
    }
    if (!text) {
        qpin_audit_add(c, "sched.rt_runtime", QPIN_AUDIT_UNKNOWN,
                       g_strdup_printf("cannot read it: %s", why), g_strdup(expected),
                       g_strdup("/proc/sys/kernel/sched_rt_runtime_us"), NULL);
        return;
    }
    g_strstrip(text);
    gboolean ok = !strcmp(text, "-1");
    qpin_audit_add(c, "sched.rt_runtime", ok ? QPIN_AUDIT_PASS : QPIN_AUDIT_FAIL,
                   g_strdup_printf("kernel.sched_rt_runtime_us = %s", text), g_strdup(expected),
                   g_strdup("/proc/sys/kernel/sched_rt_runtime_us"),
                   ok ? NULL
                      : g_strdup("sysctl -w kernel.sched_rt_runtime_us=-1; persistently: echo "
                                 "kernel.sched_rt_runtime_us=-1 > /etc/sysctl.d/90-qpin.conf"));
}

static void check_smt(QpinAuditCtx *c)
{
    g_autoptr(GString) observed = g_string_new(NULL);
    g_autoptr(TopoCpuSet) shared_hk = topo_cpuset_new();
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    for (int cpu = topo_cpuset_first(c->vcpu); cpu >= 0; cpu = topo_cpuset_next(c->vcpu, cpu)) {
        const TopoCpu *t = topo_host_cpu(c->host, cpu);
        if (!t || !t->siblings || topo_cpuset_has(seen, cpu))
            continue;
        topo_cpuset_union(seen, t->siblings);
        g_autoptr(TopoCpuSet) hk = topo_cpuset_copy(t->siblings);
        topo_cpuset_intersect(hk, c->hk);
        if (topo_cpuset_is_empty(hk))
            continue;
        topo_cpuset_union(shared_hk, hk);
        g_autoptr(TopoCpuSet) v = topo_cpuset_copy(t->siblings);
        topo_cpuset_intersect(v, c->vcpu);
        g_autofree char *vl = qpin_audit_cpus(v), *hl = qpin_audit_cpus(hk);
        if (observed->len < 400)
            g_string_append_printf(observed, "%svCPU CPU %s shares a core with housekeeping CPU %s",
                                   observed->len ? "; " : "", vl, hl);
    }
    const char *evidence = "/" CPU_DIR "/cpuN/topology/thread_siblings_list";
    g_autofree char *expected = g_strdup("no core holding both a vCPU CPU and a housekeeping CPU");
    if (topo_cpuset_is_empty(shared_hk)) {
        qpin_audit_add(c, "cpu.smt_shared", QPIN_AUDIT_PASS,
                       g_strdup("no core is shared between vCPUs and housekeeping"),
                       g_steal_pointer(&expected), g_strdup(evidence), NULL);
        return;
    }
    /* Housekeeping CPUs whose whole core is free of vCPUs. */
    g_autoptr(TopoCpuSet) better = topo_cpuset_copy(c->host->online);
    topo_cpuset_subtract(better, c->vcpu);
    for (int cpu = topo_cpuset_first(better); cpu >= 0; cpu = topo_cpuset_next(better, cpu)) {
        const TopoCpu *t = topo_host_cpu(c->host, cpu);
        if (t && t->siblings && topo_cpuset_intersects(t->siblings, c->vcpu))
            topo_cpuset_remove(better, cpu);
    }
    g_autofree char *fix = NULL;
    if (!topo_cpuset_is_empty(better)) {
        g_autofree char *b = topo_cpuset_format(better);
        fix = g_strdup_printf("pin the emulator threads and iothreads to whole cores without "
                              "vCPUs (--emulator-pin %s), and keep host work there",
                              b);
    } else {
        fix = g_strdup("leave the SMT siblings of the vCPU CPUs idle: move those vCPUs to whole "
                       "cores, or the housekeeping to a core of its own");
    }
    qpin_audit_add(c, "cpu.smt_shared", QPIN_AUDIT_FAIL,
                   g_string_free(g_steal_pointer(&observed), FALSE), g_steal_pointer(&expected),
                   g_strdup(evidence), g_steal_pointer(&fix));
}

void qpin_audit_cpu_late_run(QpinAuditCtx *c)
{
    check_governor(c);
    check_idle(c);
    check_rt_runtime(c);
    check_smt(c);
}
