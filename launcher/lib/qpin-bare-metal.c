/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the bare-metal twin of a guest, see qpin-bare-metal.h. */
#include "qpin-bare-metal.h"

#include <sys/stat.h>

void qpin_bare_metal_free(QpinBareMetal *b)
{
    if (!b)
        return;
    topo_cpuset_free(b->cpus);
    topo_cpuset_free(b->mems);
    g_strfreev(b->numactl);
    g_strfreev(b->taskset);
    g_strfreev(b->srun);
    topo_cpuset_free(b->offline);
    topo_cpuset_free(b->kept);
    g_strfreev(b->chcpu_offline);
    g_strfreev(b->chcpu_online);
    g_free(b);
}

static char **argv_end(GPtrArray *argv)
{
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}

/* A set as the hexadecimal mask of srun's mask_cpu ("0x" and no leading zeros). */
static char *cpuset_hex(const TopoCpuSet *set)
{
    int last = topo_cpuset_last(set);
    GString *out = g_string_new("0x");
    for (int base = last - last % 4; base >= 0; base -= 4) {
        int nibble = 0;
        for (int bit = 0; bit < 4; bit++)
            if (topo_cpuset_has(set, base + bit))
                nibble |= 1 << bit;
        g_string_append_c(out, "0123456789abcdef"[nibble]);
    }
    return g_string_free(out, FALSE);
}

/* srun's list form: "a,b,b,b" written "a,b*3" (its repetition count). */
static void list_append_run(GString *out, const char *item, guint count)
{
    if (out->len && out->str[out->len - 1] != ':')
        g_string_append_c(out, ',');
    g_string_append(out, item);
    if (count > 1)
        g_string_append_printf(out, "*%u", count);
}

static char *srun_list(const char *prefix, char **items, guint n)
{
    GString *out = g_string_new(prefix);
    for (guint i = 0; i < n;) {
        guint j = i;
        while (j + 1 < n && !g_strcmp0(items[j + 1], items[i]))
            j++;
        list_append_run(out, items[i], j - i + 1);
        i = j + 1;
    }
    return g_string_free(out, FALSE);
}

/* The host node of each vCPU's memory for srun's map_mem, or NULL when that cannot be said
 * per task: memory not bound, or a guest node on several host nodes or without a vCPU list
 * (unless all memory is on one host node). */
static char **srun_mems(const GPtrArray *nodes, const TopoCpuSet *mems, QpinNumaPolicy policy,
                        guint n)
{
    if (!mems || policy != QPIN_NUMA_POLICY_BIND)
        return NULL;
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
    if (topo_cpuset_count(mems) == 1) {
        for (guint v = 0; v < n; v++)
            g_ptr_array_add(items, g_strdup_printf("%d", topo_cpuset_first(mems)));
    } else {
        g_ptr_array_set_size(items, n);
        for (guint i = 0; i < nodes->len; i++) {
            const QpinNumaNode *node = nodes->pdata[i];
            if (!node->vcpus || !node->host_nodes)
                continue;
            if (topo_cpuset_count(node->host_nodes) != 1)
                return NULL;
            for (int v = topo_cpuset_first(node->vcpus); v >= 0 && (guint)v < n;
                 v = topo_cpuset_next(node->vcpus, v)) {
                g_free(items->pdata[v]);
                items->pdata[v] = g_strdup_printf("%d", topo_cpuset_first(node->host_nodes));
            }
        }
        for (guint v = 0; v < n; v++)
            if (!items->pdata[v])
                return NULL;
    }
    g_ptr_array_add(items, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
}

static char **srun_argv(TopoCpuSet *const *vcpu_cpus, guint n, const GPtrArray *nodes,
                        const TopoCpuSet *mems, QpinNumaPolicy policy)
{
    /* Tasks are vCPUs in cpu-index order; an unpinned vCPU has no task. */
    g_autoptr(GPtrArray) cpus = g_ptr_array_new_with_free_func(g_free);
    gboolean single = TRUE;
    guint tasks = 0;
    for (guint v = 0; v < n; v++)
        if (vcpu_cpus[v] && !topo_cpuset_is_empty(vcpu_cpus[v]))
            single = single && topo_cpuset_count(vcpu_cpus[v]) == 1;
    for (guint v = 0; v < n; v++) {
        if (!vcpu_cpus[v] || topo_cpuset_is_empty(vcpu_cpus[v]))
            continue;
        g_ptr_array_add(cpus, single ? g_strdup_printf("%d", topo_cpuset_first(vcpu_cpus[v]))
                                     : cpuset_hex(vcpu_cpus[v]));
        tasks++;
    }
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup("srun"));
    g_ptr_array_add(argv, g_strdup("--nodes=1"));
    g_ptr_array_add(argv, g_strdup_printf("--ntasks=%u", tasks));
    /* Slurm honours explicit bindings only when the step has every CPU of the node. */
    g_ptr_array_add(argv, g_strdup("--exclusive"));
    g_ptr_array_add(argv, srun_list(single ? "--cpu-bind=map_cpu:" : "--cpu-bind=mask_cpu:",
                                    (char **)cpus->pdata, cpus->len));
    g_auto(GStrv) per_task = tasks == n ? srun_mems(nodes, mems, policy, n) : NULL;
    if (per_task)
        g_ptr_array_add(argv, srun_list("--mem-bind=map_mem:", per_task, n));
    return argv_end(argv);
}

/* Whether the kernel of @host can take @cpu offline: only CPUs with a cpuN/online file can
 * (CPU 0 of most x86 machines has none). */
static gboolean cpu_can_go_offline(const TopoHost *host, int cpu)
{
    g_autofree char *name = g_strdup_printf("cpu%d", cpu);
    g_autofree char *path = g_build_filename(host->sysroot ? host->sysroot : "/", "sys", "devices",
                                             "system", "cpu", name, "online", NULL);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

QpinBareMetal *qpin_bare_metal_new(const TopoHost *host, TopoCpuSet *const *vcpu_cpus, guint n,
                                   const GPtrArray *nodes)
{
    g_autoptr(QpinBareMetal) b = g_new0(QpinBareMetal, 1);
    b->cpus = topo_cpuset_new();
    for (guint v = 0; v < n; v++)
        if (vcpu_cpus[v])
            topo_cpuset_union(b->cpus, vcpu_cpus[v]);
    if (topo_cpuset_is_empty(b->cpus))
        return NULL;

    for (guint i = 0; nodes && i < nodes->len; i++) {
        const QpinNumaNode *node = nodes->pdata[i];
        if (!node->host_nodes)
            continue;
        if (!b->mems) {
            b->mems = topo_cpuset_new();
            b->policy = node->policy;
        }
        topo_cpuset_union(b->mems, node->host_nodes);
    }

    g_autofree char *cpus = topo_cpuset_format(b->cpus);
    g_autofree char *mems = b->mems ? topo_cpuset_format(b->mems) : NULL;
    GPtrArray *numactl = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(numactl, g_strdup("numactl"));
    g_ptr_array_add(numactl, g_strdup_printf("--physcpubind=%s", cpus));
    switch (b->mems ? b->policy : QPIN_NUMA_POLICY_DEFAULT) {
    case QPIN_NUMA_POLICY_INTERLEAVE:
        g_ptr_array_add(numactl, g_strdup_printf("--interleave=%s", mems));
        break;
    case QPIN_NUMA_POLICY_PREFERRED:
        if (topo_cpuset_count(b->mems) == 1)
            g_ptr_array_add(numactl, g_strdup_printf("--preferred=%s", mems));
        else
            g_ptr_array_add(numactl, g_strdup("--localalloc"));
        break;
    case QPIN_NUMA_POLICY_BIND:
        g_ptr_array_add(numactl, g_strdup_printf("--membind=%s", mems));
        break;
    case QPIN_NUMA_POLICY_DEFAULT:
        break;
    }
    b->numactl = argv_end(numactl);

    GPtrArray *taskset = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(taskset, g_strdup("taskset"));
    g_ptr_array_add(taskset, g_strdup("-c"));
    g_ptr_array_add(taskset, g_strdup(cpus));
    b->taskset = argv_end(taskset);

    b->srun = srun_argv(vcpu_cpus, n, nodes, b->mems, b->policy);

    if (host && host->online) {
        b->offline = topo_cpuset_copy(host->online);
        topo_cpuset_subtract(b->offline, b->cpus);
        b->kept = topo_cpuset_new();
        for (int cpu = topo_cpuset_first(b->offline); cpu >= 0;
             cpu = topo_cpuset_next(b->offline, cpu))
            if (!cpu_can_go_offline(host, cpu))
                topo_cpuset_add(b->kept, cpu);
        topo_cpuset_subtract(b->offline, b->kept);
        if (topo_cpuset_is_empty(b->kept))
            g_clear_pointer(&b->kept, topo_cpuset_free);
        if (topo_cpuset_is_empty(b->offline)) {
            g_clear_pointer(&b->offline, topo_cpuset_free);
        } else {
            g_autofree char *off = topo_cpuset_format(b->offline);
            const char *const down[] = {"chcpu", "-d", off, NULL};
            const char *const up[] = {"chcpu", "-e", off, NULL};
            b->chcpu_offline = g_strdupv((char **)down);
            b->chcpu_online = g_strdupv((char **)up);
        }
    }
    return g_steal_pointer(&b);
}
