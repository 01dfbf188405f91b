/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the shared steps of run, plan and pin, see qpin-session.h. */
#include "qpin-session.h"

#include "qpin-threads.h"
#include "qpin-error.h"
#include "qpin-memory.h"
#include "qpin-placement-check.h"
#include "qpin-hugepages.h"
#include "qpin-preflight.h"
#include "qpin-process.h"
#include "qpin-qemu-argv.h"
#include "qpin-qemu-numa.h"

#include <sched.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    pid_t tid;
    char *what; /* the thread in messages */
    TopoCpuSet *cpus;
    QpinSched sched;
} SavedThread;

static void saved_thread_clear(gpointer p)
{
    SavedThread *t = p;
    topo_cpuset_free(t->cpus);
    g_free(t->what);
}

void qpin_plan_thread_free(QpinPlanThread *t)
{
    if (!t)
        return;
    g_free(t->id);
    topo_cpuset_free(t->cpus);
    topo_cpuset_free(t->cpus_actual);
    g_free(t);
}

static QpinPlanThread *plan_thread_add(GPtrArray *threads)
{
    QpinPlanThread *t = g_new0(QpinPlanThread, 1);
    t->index = -1;
    g_ptr_array_add(threads, t);
    return t;
}

static GPtrArray *plan_threads_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)qpin_plan_thread_free);
}

QpinFlow *qpin_flow_new(const QpinOptions *opt)
{
    QpinFlow *s = g_new0(QpinFlow, 1);
    s->opt = opt;
    s->sigfd = -1;
    s->plan_vcpus = plan_threads_new();
    s->plan_emulator = plan_threads_new();
    s->plan_iothreads = plan_threads_new();
    s->report = qpin_report_new(qpin_command_name(opt->command));
    s->iothread_cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    s->saved = g_array_new(FALSE, TRUE, sizeof(SavedThread));
    g_array_set_clear_func(s->saved, saved_thread_clear);
    return s;
}

void qpin_flow_free(QpinFlow *s)
{
    if (!s)
        return;
    qpin_report_free(s->report);
    qpin_qmp_peer_free(s->peer);
    /* A last resort: every path of run gives the pages back itself, saying how it went. */
    qpin_hugepages_free(s->hugepages);
    qpin_mirror_free(s->mirror);
    topo_host_free(s->host);
    topo_cpuset_free(s->reserved);
    topo_map_spec_free(s->spec);
    topo_cpuset_free(s->emulator_cpus);
    topo_cpuset_free(s->early_vcpu_cpus);
    g_ptr_array_unref(s->iothread_cpus);
    if (s->node_binding)
        g_ptr_array_unref(s->node_binding);
    if (s->cpus)
        g_ptr_array_unref(s->cpus);
    if (s->iothreads)
        g_ptr_array_unref(s->iothreads);
    topo_map_free(s->map);
    if (s->threads)
        g_hash_table_unref(s->threads);
    g_array_unref(s->saved);
    g_ptr_array_unref(s->plan_vcpus);
    g_ptr_array_unref(s->plan_emulator);
    g_ptr_array_unref(s->plan_iothreads);
    if (s->numa_nodes)
        g_ptr_array_unref(s->numa_nodes);
    g_free(s);
}

double qpin_ms_since(gint64 start_us)
{
    return (double)(g_get_monotonic_time() - start_us) / 1000.0;
}

QpinErrorCode qpin_qmp_error_code(const GError *error)
{
    if (error && error->domain == QPIN_ERROR)
        return (QpinErrorCode)error->code;
    if (error && error->domain == QMP_COMMAND_ERROR)
        return QPIN_ERROR_QMP_COMMAND;
    return QPIN_ERROR_QMP;
}

/* Wraps a library error into a QPIN_ERROR with @code and, when @what is not NULL, a "@what: "
 * prefix. The map functions of the topology library name --pin (or --emulator-pin auto)
 * themselves: their errors pass with @what NULL. */
static gboolean fail_with(GError **error, GError *local, QpinErrorCode code, const char *what)
{
    if (what)
        g_prefix_error(&local, "%s: ", what);
    qpin_error_propagate(error, local, code);
    return FALSE;
}

static TopoCpuSet *parse_cpus(const char *text, const char *what, GError **error)
{
    GError *local = NULL;
    TopoCpuSet *set = topo_cpuset_parse(text, &local);
    if (!set) {
        fail_with(error, local, QPIN_ERROR_MAP, what);
        return NULL;
    }
    if (topo_cpuset_is_empty(set)) {
        topo_cpuset_free(set);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MAP, "%s: the CPU list is empty", what);
        return NULL;
    }
    return set;
}

/* --reserve-hugepages: the pools raised by what the guest lacks before the preflight counts
 * them. Host nodes that do not exist are left for the preflight to name. */
static gboolean reserve_hugepages(QpinFlow *s, GError **error)
{
    GError *local = NULL;
    g_autoptr(GArray) demands = qpin_preflight_hugepage_demands(s->numa_nodes, s->host, &local);
    if (!demands)
        return fail_with(error, local, QPIN_ERROR_USAGE, NULL);
    if (demands->len == 0) {
        g_ptr_array_add(s->report->warnings,
                        g_strdup("--reserve-hugepages: no guest node uses hugepages "
                                 "(hugepages=2M or 1G), so none are reserved"));
        return TRUE;
    }
    s->hugepages = qpin_hugepages_reserve(s->host, demands, NULL, &local);
    if (!s->hugepages)
        return fail_with(error, local, QPIN_ERROR_PREFLIGHT, NULL);
    s->report->hugepages = s->hugepages->grants;
    return TRUE;
}

gboolean qpin_flow_release_hugepages(QpinFlow *s, GError **error)
{
    return qpin_hugepages_release(s->hugepages, error);
}

/* The guest NUMA nodes of run and plan: --numa options, else the config's [numa.N] sections;
 * checked against the host before QEMU starts. */
static gboolean prepare_numa(QpinFlow *s, const TopoCpuSet *reserve, GError **error)
{
    const QpinOptions *o = s->opt;
    GError *local = NULL;
    s->numa_nodes = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_memory_node_free);
    if (o->command == QPIN_COMMAND_PIN)
        return TRUE;
    if (s->mirror) {
        GPtrArray *nodes = qpin_mirror_numa_nodes(s->mirror, o->mirror_memory, &local);
        if (!nodes)
            return fail_with(error, local, QPIN_ERROR_USAGE, NULL);
        g_ptr_array_extend_and_steal(s->numa_nodes, nodes);
    }
    /* The memory functions fail with QPIN_ERROR codes (usage, preflight); a GKeyFile error
     * from a [numa.N] section is a usage error too. */
    for (int i = 0; o->numa && o->numa[i]; i++) {
        QpinNumaNode *node = qpin_memory_node_parse(o->numa[i], i, &local);
        if (!node)
            return fail_with(error, local, QPIN_ERROR_USAGE, NULL);
        g_ptr_array_add(s->numa_nodes, node);
    }
    if (!s->mirror && !o->numa && o->keyfile &&
        !qpin_memory_from_keyfile(o->keyfile, s->numa_nodes, &local))
        return fail_with(error, local, QPIN_ERROR_USAGE, o->config);
    if (s->numa_nodes->len == 0)
        return TRUE;
    if (!qpin_memory_validate(s->numa_nodes, &local))
        return fail_with(error, local, QPIN_ERROR_USAGE, NULL);
    s->report->numa_nodes = s->numa_nodes;
    if (!qpin_preflight_auto_nodes(s->numa_nodes, s->host, s->reserved, s->report->notes, &local))
        return fail_with(error, local, QPIN_ERROR_PREFLIGHT, NULL);
    s->node_binding = qpin_memory_binding(s->numa_nodes);
    if (o->reserve_hugepages && o->command == QPIN_COMMAND_RUN && !reserve_hugepages(s, error))
        return FALSE;
    if (!qpin_preflight_memory(s->numa_nodes, s->host, &local))
        return fail_with(error, local, QPIN_ERROR_PREFLIGHT, NULL);
    qpin_qemu_numa_prealloc_threads(s->numa_nodes, s->host, reserve);
    return TRUE;
}

/* The bare-metal twin of the guest from the vCPU -> host CPUs map @vcpu_cpus (by cpu-index). */
static void set_bare_metal(QpinFlow *s, TopoCpuSet *const *vcpu_cpus, guint n)
{
    qpin_bare_metal_free(s->report->bare_metal);
    s->report->bare_metal = qpin_bare_metal_new(s->host, vcpu_cpus, n, s->numa_nodes);
}

/* A mirror knows its map before QEMU exists: so does its twin, also in a report of a run that
 * fails before QEMU answers. */
static void mirror_bare_metal(QpinFlow *s)
{
    g_autoptr(GPtrArray) cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (guint v = 0; v < s->mirror->n_vcpus; v++)
        g_ptr_array_add(cpus, topo_cpuset_new_single(s->mirror->vcpu_cpu[v]));
    set_bare_metal(s, (TopoCpuSet *const *)cpus->pdata, cpus->len);
}

/* The twin from the computed map, in cpu-index order (QMP lists vCPUs in its own order). */
static void map_bare_metal(QpinFlow *s)
{
    guint n = 0;
    for (guint i = 0; i < s->plan_vcpus->len; i++) {
        const QpinPlanThread *v = s->plan_vcpus->pdata[i];
        n = MAX(n, (guint)v->index + 1);
    }
    g_autofree TopoCpuSet **cpus = g_new0(TopoCpuSet *, MAX(n, 1));
    for (guint i = 0; i < s->plan_vcpus->len; i++) {
        const QpinPlanThread *v = s->plan_vcpus->pdata[i];
        if (v->index >= 0)
            cpus[v->index] = v->cpus;
    }
    set_bare_metal(s, cpus, n);
}

gboolean qpin_flow_check_memory(QpinFlow *s, GError **error)
{
    if (!s->numa_nodes || s->numa_nodes->len == 0)
        return TRUE;
    gint64 t0 = g_get_monotonic_time();
    GError *local = NULL;
    GPtrArray *placements = qpin_mem_placement_read(s->numa_nodes, s->pid, NULL, &local);
    if (!placements)
        return fail_with(error, local, QPIN_ERROR_MEMORY, NULL);
    if (s->report->memory_placements)
        g_ptr_array_unref(s->report->memory_placements);
    s->report->memory_placements = placements;
    gboolean ok = qpin_mem_placement_check(placements, s->numa_nodes, s->report->warnings, &local);
    qpin_report_timing(s->report, "memory", qpin_ms_since(t0));
    if (!ok)
        return fail_with(error, local, QPIN_ERROR_MEMORY, NULL);
    return TRUE;
}

/* The vCPUs a cpulist or groups map names by itself, as vCPUs without props. They let the
 * map's CPUs be checked against the host before QEMU exists; QEMU's own vCPU list is checked
 * against the map once it is known. NULL for auto and expressions. */
static TopoVcpu *spec_vcpus(const TopoMapSpec *spec, guint *n_vcpus)
{
    g_autoptr(TopoCpuSet) named = topo_map_spec_vcpus(spec);
    guint n = named ? topo_cpuset_count(named) : 0;
    if (n == 0)
        return NULL;
    TopoVcpu *vcpus = g_new(TopoVcpu, n);
    guint i = 0;
    for (int index = topo_cpuset_first(named); index >= 0; index = topo_cpuset_next(named, index))
        vcpus[i++] = (TopoVcpu){index, -1, -1, -1, -1, -1, -1};
    *n_vcpus = n;
    return vcpus;
}

/* Every CPU a cpulist or groups map names exists, is online and is allowed: checked before
 * QEMU is started, with the messages the full check gives once QEMU's vCPUs are known. */
static gboolean precheck_map(QpinFlow *s, GError **error)
{
    guint n = 0;
    g_autofree TopoVcpu *vcpus = s->spec ? spec_vcpus(s->spec, &n) : NULL;
    if (!vcpus)
        return TRUE;
    GError *local = NULL;
    g_autoptr(TopoMap) map = topo_map_compute(s->spec, vcpus, n, &s->ctx, &local);
    if (!map)
        return fail_with(error, local, QPIN_ERROR_MAP, NULL);
    /* What the host audit of run --check=strict can check before QEMU starts. */
    s->early_vcpu_cpus = topo_cpuset_new();
    for (guint i = 0; i < map->cpus->len; i++)
        if (map->cpus->pdata[i])
            topo_cpuset_union(s->early_vcpu_cpus, map->cpus->pdata[i]);
    return TRUE;
}

/* --mirror: the guest's -smp, nodes and map come from the host, so nothing else may give them. */
static gboolean prepare_mirror(QpinFlow *s, GError **error)
{
    const QpinOptions *o = s->opt;
    const char *other = NULL;
    g_autofree char *other_text = NULL;
    if (o->numa)
        other_text = g_strdup_printf("--numa '%s'", o->numa[0]);
    else if (o->keyfile && g_key_file_has_group(o->keyfile, "numa.0"))
        other_text = g_strdup_printf("[numa.0] of %s", o->config);
    else if (o->pin)
        other_text = g_strdup_printf("--pin '%s'", o->pin);
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT;
         !other_text && o->qemu_argv && qpin_qemu_argv_next(o->qemu_argv, -1, &a);)
        if (!strcmp(a.name, "smp") || !strcmp(a.name, "numa"))
            other_text = g_strdup_printf("the QEMU option %s %s", o->qemu_argv[a.index],
                                         a.value >= 0 ? o->qemu_argv[a.value] : "");
    other = other_text;
    if (other) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--mirror %s and %s both shape the guest; --mirror derives -smp, the NUMA "
                    "nodes and the map from the host: drop one of them (memory keys go to "
                    "--mirror-memory)",
                    o->mirror, other);
        return FALSE;
    }
    s->mirror = qpin_mirror_derive(s->host, o->mirror, error);
    if (!s->mirror)
        return FALSE;
    s->report->mirror = s->mirror;
    return TRUE;
}

gboolean qpin_flow_prepare(QpinFlow *s, GError **error)
{
    const QpinOptions *o = s->opt;
    GError *local = NULL;
    const char *sysroot = o->command == QPIN_COMMAND_PLAN ? o->sysroot : NULL;
    s->host = topo_host_read(sysroot, &local);
    if (!s->host) {
        g_autofree char *what = g_strdup_printf("cannot read the host%s%s",
                                                sysroot ? " under " : "", sysroot ? sysroot : "");
        return fail_with(error, local, QPIN_ERROR_HOST, what);
    }
    s->report->host = s->host;

    /* The report is written once qpin's part is done, after cont for run: a path that cannot
     * be written would only show once the guest runs, so it is checked before anything starts. */
    if (o->report && !qpin_report_path_check(o->report, error))
        return FALSE;

    if (o->mirror && !prepare_mirror(s, error))
        return FALSE;
    const char *map = s->mirror ? s->mirror->pin : o->pin;
    if (map) {
        s->spec = topo_map_spec_parse(map, &local);
        if (!s->spec)
            return fail_with(error, local, QPIN_ERROR_MAP, NULL);
        s->report->map = g_strdup(topo_map_spec_text(s->spec));
    }
    if (o->sched.set)
        s->report->vcpu_sched = qpin_sched_format(&o->sched);

    s->reserved = topo_cpuset_new();
    /* A mirrored guest's emulator threads go to housekeeping CPUs outside it, unless told. */
    if ((o->emulator_pin && !strcmp(o->emulator_pin, "auto")) || (s->mirror && !o->emulator_pin)) {
        s->emulator_auto = TRUE;
    } else if (o->emulator_pin) {
        g_autofree char *what = g_strdup_printf("--emulator-pin '%s'", o->emulator_pin);
        s->emulator_cpus = parse_cpus(o->emulator_pin, what, error);
        if (!s->emulator_cpus)
            return FALSE;
        topo_cpuset_union(s->reserved, s->emulator_cpus);
    }
    for (guint i = 0; i < o->iothread_pins->len; i++) {
        const QpinIothreadPin *pin = o->iothread_pins->pdata[i];
        g_autofree char *what = g_strdup_printf("--iothread-pin %s=%s", pin->id, pin->cpus);
        TopoCpuSet *set = parse_cpus(pin->cpus, what, error);
        if (!set)
            return FALSE;
        topo_cpuset_union(s->reserved, set);
        g_ptr_array_add(s->iothread_cpus, set);
    }
    g_autoptr(TopoCpuSet) reserve = NULL;
    if (o->reserve) {
        g_autofree char *what = g_strdup_printf("--reserve '%s'", o->reserve);
        reserve = parse_cpus(o->reserve, what, error);
        if (!reserve)
            return FALSE;
        topo_cpuset_union(s->reserved, reserve);
    }
    /* After the reserved CPUs: SIZE@auto and prealloc-threads leave them out. */
    if (!prepare_numa(s, reserve, error))
        return FALSE;
    if (s->mirror)
        mirror_bare_metal(s);

    s->ctx.host = s->host;
    s->ctx.allowed = s->host->cpus_allowed;
    s->ctx.reserved = s->reserved;
    s->report->reserved = s->reserved;
    s->ctx.node_binding = s->node_binding;
    s->ctx.allow_overcommit = o->allow_overcommit;

    /* Everything that names CPUs without QEMU's help is checked against the host here, so
     * that a map outside a Slurm step, cgroup or taskset never even starts QEMU. */
    if (!precheck_map(s, error))
        return FALSE;
    if (s->emulator_cpus &&
        !topo_cpus_validate(s->emulator_cpus, &s->ctx, "--emulator-pin", &local))
        return fail_with(error, local, QPIN_ERROR_MAP, NULL);
    for (guint i = 0; i < s->iothread_cpus->len; i++) {
        const QpinIothreadPin *pin = o->iothread_pins->pdata[i];
        g_autofree char *what = g_strdup_printf("--iothread-pin %s", pin->id);
        if (!topo_cpus_validate(s->iothread_cpus->pdata[i], &s->ctx, what, &local))
            return fail_with(error, local, QPIN_ERROR_MAP, NULL);
    }
    if (reserve && !topo_cpus_validate(reserve, &s->ctx, "--reserve", &local))
        return fail_with(error, local, QPIN_ERROR_MAP, NULL);
    if (s->emulator_auto && !s->spec) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_MAP,
                            "--emulator-pin auto places the emulator threads next to the vCPUs: "
                            "it needs --pin");
        return FALSE;
    }
    if (s->spec && topo_map_spec_kind(s->spec) == TOPO_MAP_AUTO &&
        !topo_cpuset_is_empty(s->ctx.allowed) &&
        topo_cpuset_is_subset(s->ctx.allowed, s->reserved)) {
        g_autofree char *allowed = topo_cpuset_format(s->ctx.allowed);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_MAP,
                    "--pin auto: every allowed CPU (%s) is reserved by --emulator-pin, "
                    "--iothread-pin or --reserve, so none is left for the vCPUs",
                    allowed);
        return FALSE;
    }
    return TRUE;
}

gboolean qpin_flow_shows(const QpinFlow *s)
{
    const QpinOptions *o = s->opt;
    return !o->quiet || o->json || o->report;
}

/* The iothreads matter to a pin of their own, to the emulator threads (every thread that is
 * neither a vCPU nor an iothread) and to whatever shows them; otherwise their query is a QMP
 * round trip for nothing. */
static gboolean needs_iothreads(const QpinFlow *s)
{
    return s->opt->iothread_pins->len || s->opt->emulator_pin || qpin_flow_shows(s);
}

gboolean qpin_flow_pins_anything(const QpinFlow *s)
{
    return s->spec || s->emulator_cpus || s->emulator_auto || s->iothread_cpus->len ||
           s->opt->sched.set;
}

static gboolean vcpus_pinned(const QpinFlow *s)
{
    return s->spec || s->opt->sched.set;
}

gboolean qpin_flow_query(QpinFlow *s, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    GError *local = NULL;
    s->cpus = qmp_query_cpus_fast(s->qmp, &local);
    if (!s->cpus) {
        g_prefix_error(&local, "query-cpus-fast: ");
        qpin_error_propagate(error, local, qpin_qmp_error_code(local));
        return FALSE;
    }
    s->iothreads = needs_iothreads(s) ? qmp_query_iothreads(s->qmp, &local) : g_ptr_array_new();
    if (!s->iothreads) {
        g_prefix_error(&local, "query-iothreads: ");
        qpin_error_propagate(error, local, qpin_qmp_error_code(local));
        return FALSE;
    }
    qpin_report_timing(s->report, "query", qpin_ms_since(t0));

    const QmpGreeting *greeting = qmp_client_greeting(s->qmp);
    if (greeting && !s->report->qemu_version)
        s->report->qemu_version =
            g_strdup_printf("%d.%d.%d", greeting->major, greeting->minor, greeting->micro);

    for (guint i = 0; i < s->cpus->len; i++) {
        const QmpCpuInfo *c = s->cpus->pdata[i];
        const gint64 values[] = {c->cpu_index, c->socket, c->die, c->cluster,
                                 c->core,      c->thread, c->node};
        for (gsize k = 0; k < G_N_ELEMENTS(values); k++) {
            if (values[k] < -1 || values[k] > G_MAXINT) {
                g_set_error(error, QPIN_ERROR, QPIN_ERROR_QMP,
                            "query-cpus-fast: vCPU %" G_GINT64_FORMAT
                            " has a topology value out of range (%" G_GINT64_FORMAT ")",
                            c->cpu_index, values[k]);
                return FALSE;
            }
        }
        QpinPlanThread *v = plan_thread_add(s->plan_vcpus);
        v->index = (int)c->cpu_index;
        v->thread_id = c->thread_id;
        v->props = (TopoVcpu){
            .index = (int)c->cpu_index,
            .socket = c->has_socket ? (int)c->socket : -1,
            .die = c->has_die ? (int)c->die : -1,
            .cluster = c->has_cluster ? (int)c->cluster : -1,
            .core = c->has_core ? (int)c->core : -1,
            .thread = c->has_thread ? (int)c->thread : -1,
            .node = c->has_node ? (int)c->node : -1,
        };
    }
    for (guint i = 0; i < s->iothreads->len; i++) {
        const QmpIothread *io = s->iothreads->pdata[i];
        QpinPlanThread *t = plan_thread_add(s->plan_iothreads);
        t->id = g_strdup(io->id);
        t->thread_id = io->thread_id;
    }
    return TRUE;
}

/* QEMU's threads now (/proc/PID/task, one pass): the check that a thread id QMP gave is a
 * thread of QEMU (ids are reused). Their names are read only for the output, once the guest
 * runs (qpin_flow_name_threads()). */
static gboolean list_threads(QpinFlow *s, GError **error)
{
    s->threads = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GArray) ids = qpin_threads_ids(s->pid, NULL, error);
    if (!ids)
        return FALSE;
    for (guint i = 0; i < ids->len; i++)
        g_hash_table_add(s->threads, GINT_TO_POINTER(g_array_index(ids, pid_t, i)));
    return TRUE;
}

/* A thread id that can name a thread: QMP carries 64-bit integers, pid_t is 32 bits. */
static gboolean valid_tid(gint64 tid)
{
    return tid > 0 && tid <= G_MAXINT;
}

static void name_thread(pid_t pid, gint64 tid, char **name)
{
    if (!*name && valid_tid(tid))
        *name = qpin_thread_name(pid, (pid_t)tid, NULL);
}

/* The report, filled from the plan and what was read back: the view of the session's state,
 * never the state itself. */
void qpin_flow_fill_report(QpinFlow *s)
{
    QpinReport *r = s->report;
    const QpinOptions *o = s->opt;
    g_ptr_array_set_size(r->vcpus, 0);
    g_ptr_array_set_size(r->emulator, 0);
    g_ptr_array_set_size(r->iothreads, 0);
    for (guint i = 0; i < s->plan_vcpus->len; i++) {
        const QpinPlanThread *p = s->plan_vcpus->pdata[i];
        QpinReportVcpu *v = qpin_report_add_vcpu(r);
        v->index = p->index;
        v->thread_id = p->thread_id;
        v->props = p->props;
        v->cpus = p->cpus ? topo_cpuset_copy(p->cpus) : NULL;
        v->cpus_actual = p->cpus_actual ? topo_cpuset_copy(p->cpus_actual) : NULL;
        if (o->sched.set)
            v->sched = qpin_sched_format(&o->sched);
        if (p->sched_actual.set)
            v->sched_actual = qpin_sched_format(&p->sched_actual);
    }
    GPtrArray *from[] = {s->plan_emulator, s->plan_iothreads};
    GPtrArray *to[] = {r->emulator, r->iothreads};
    for (gsize k = 0; k < G_N_ELEMENTS(from); k++) {
        for (guint i = 0; i < from[k]->len; i++) {
            const QpinPlanThread *p = from[k]->pdata[i];
            QpinReportThread *t = qpin_report_add_thread(to[k]);
            t->id = g_strdup(p->id);
            t->thread_id = p->thread_id;
            t->cpus = p->cpus ? topo_cpuset_copy(p->cpus) : NULL;
            t->cpus_actual = p->cpus_actual ? topo_cpuset_copy(p->cpus_actual) : NULL;
        }
    }
    topo_cpuset_free(r->emulator_cpus);
    r->emulator_cpus = s->emulator_cpus ? topo_cpuset_copy(s->emulator_cpus) : NULL;
}

void qpin_flow_name_threads(QpinFlow *s)
{
    qpin_flow_fill_report(s);
    if (s->pid <= 0 || !qpin_flow_shows(s))
        return;
    for (guint i = 0; i < s->report->vcpus->len; i++) {
        QpinReportVcpu *v = s->report->vcpus->pdata[i];
        name_thread(s->pid, v->thread_id, &v->thread_name);
    }
    for (guint i = 0; i < s->report->emulator->len; i++) {
        QpinReportThread *t = s->report->emulator->pdata[i];
        name_thread(s->pid, t->thread_id, &t->name);
    }
    for (guint i = 0; i < s->report->iothreads->len; i++) {
        QpinReportThread *t = s->report->iothreads->pdata[i];
        name_thread(s->pid, t->thread_id, &t->name);
    }
}

static gboolean thread_of_qemu(const QpinFlow *s, gint64 tid)
{
    return s->threads && valid_tid(tid) &&
           g_hash_table_contains(s->threads, GINT_TO_POINTER((int)tid));
}

/* The first vCPU whose thread an earlier vCPU (*@first) already runs on: single-threaded TCG
 * gives every vCPU the same thread. NULL when each vCPU has a thread of its own. */
static const QmpCpuInfo *shared_vcpu_thread(const QpinFlow *s, const QmpCpuInfo **first)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < s->cpus->len; i++) {
        const QmpCpuInfo *c = s->cpus->pdata[i];
        *first = g_hash_table_lookup(seen, &c->thread_id);
        if (*first)
            return c;
        g_hash_table_insert(seen, (gpointer)&c->thread_id, (gpointer)c);
    }
    return NULL;
}

char *qpin_flow_process_label(const QpinFlow *s)
{
    if (s->proven)
        return g_strdup_printf("QEMU (pid %d)", (int)s->pid);
    /* pin before the proof: the socket's peer may be a launcher that handed the socket down,
     * while what is left paused or running is the guest behind the socket. */
    if (s->peer && !s->peer->by_pid)
        return g_strdup_printf("the QEMU behind %s", s->peer->socket);
    return g_strdup_printf("process %d", (int)s->pid);
}

/* Why thread @tid, named by QMP for @what, is refused: whose thread it is. For run, a QEMU
 * started by a wrapper that did not exec is recognised (and remembered, to be stopped); for pin,
 * the QMP socket's rule says it (qpin_qmp_peer_thread_error()). */
static void foreign_thread_error(QpinFlow *s, const char *what, gint64 tid, GError **error)
{
    if (s->peer) {
        qpin_qmp_peer_thread_error(s->peer, what, tid, NULL, error);
        return;
    }
    g_autofree char *whom = g_strdup_printf("the process qpin started (pid %d)", (int)s->pid);
    pid_t owner = valid_tid(tid) ? qpin_thread_tgid((pid_t)tid, NULL, NULL) : -1;
    if (owner <= 0) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "%s: QEMU reports thread %" G_GINT64_FORMAT
                    ", which is no thread of %s (no such thread exists); nothing was changed",
                    what, tid, whom);
        return;
    }
    if (qpin_process_descends_from(owner, s->pid, NULL)) {
        s->stray_pid = owner;
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "%s: thread %" G_GINT64_FORMAT " belongs to process %d, a child of %s: the "
                    "QEMU command is a wrapper that starts QEMU without exec, so qpin cannot "
                    "supervise the real QEMU; end the wrapper with `exec qemu-system-... \"$@\"` "
                    "(numactl and taskset exec already). The guest never ran",
                    what, tid, (int)owner, whom);
        return;
    }
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                "%s: QEMU reports thread %" G_GINT64_FORMAT ", which belongs to process %d, not "
                "to %s; refusing to touch any thread",
                what, tid, (int)owner, whom);
}

/* Proves that s->pid is the QEMU that QMP speaks for: every vCPU and iothread id it reported
 * is a thread of s->pid right now (thread ids are reused). Nothing is changed before this. */
static gboolean prove_threads(QpinFlow *s, GError **error)
{
    guint proven = 0;
    for (guint i = 0; i < s->cpus->len; i++) {
        const QmpCpuInfo *c = s->cpus->pdata[i];
        if (!valid_tid(c->thread_id))
            continue; /* refused below when that vCPU is to be pinned */
        if (!thread_of_qemu(s, c->thread_id)) {
            g_autofree char *what = g_strdup_printf("vCPU %" G_GINT64_FORMAT, c->cpu_index);
            foreign_thread_error(s, what, c->thread_id, error);
            return FALSE;
        }
        proven++;
    }
    for (guint i = 0; i < s->iothreads->len; i++) {
        const QmpIothread *io = s->iothreads->pdata[i];
        if (!thread_of_qemu(s, io->thread_id)) {
            g_autofree char *what = g_strdup_printf("iothread %s", io->id);
            foreign_thread_error(s, what, io->thread_id, error);
            return FALSE;
        }
    }
    if (!proven) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "QEMU reports no vCPU thread id, so qpin cannot prove that process %d is "
                    "QEMU; nothing was changed",
                    (int)s->pid);
        return FALSE;
    }
    s->proven = TRUE;
    /* Whom qpin touches when that is not the socket's peer, and why it may. */
    if (s->peer && s->peer->by_pid) {
        g_autofree char *why = qpin_qmp_peer_describe(s->peer);
        g_ptr_array_add(s->report->notes, qpin_note_new(QPIN_NOTE_QEMU_PID, "%s", why));
    }
    return TRUE;
}

/* Refuses thread ids that cannot be pinned one by one: not positive, or shared by several
 * vCPUs (single-threaded TCG). */
static gboolean check_vcpu_threads(const QpinFlow *s, GError **error)
{
    for (guint i = 0; i < s->cpus->len; i++) {
        const QmpCpuInfo *c = s->cpus->pdata[i];
        if (!valid_tid(c->thread_id)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                        "QEMU reports thread id %" G_GINT64_FORMAT " for vCPU %" G_GINT64_FORMAT
                        ": it has no thread of its own to pin",
                        c->thread_id, c->cpu_index);
            return FALSE;
        }
    }
    const QmpCpuInfo *other = NULL;
    const QmpCpuInfo *shared = shared_vcpu_thread(s, &other);
    if (shared) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN,
                    "vCPUs %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                    " share thread %" G_GINT64_FORMAT
                    ": single-threaded TCG runs every vCPU on one thread, so vCPUs cannot be "
                    "pinned one by one; use -accel tcg,thread=multi (or KVM)",
                    other->cpu_index, shared->cpu_index, shared->thread_id);
        return FALSE;
    }
    return TRUE;
}

static const QmpIothread *find_iothread(const QpinFlow *s, const char *id)
{
    for (guint i = 0; i < s->iothreads->len; i++) {
        const QmpIothread *io = s->iothreads->pdata[i];
        if (io->id && !strcmp(io->id, id))
            return io;
    }
    return NULL;
}

gboolean qpin_flow_plan(QpinFlow *s, gboolean pinning, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    const QpinOptions *o = s->opt;
    GError *local = NULL;
    guint n = s->cpus->len;

    s->report->qemu_pid = s->pid;
    if (s->pid > 0 && !list_threads(s, error))
        return FALSE;
    if (pinning && qpin_flow_pins_anything(s) && !prove_threads(s, error))
        return FALSE;
    if (pinning && vcpus_pinned(s) && !check_vcpu_threads(s, error))
        return FALSE;
    const QmpCpuInfo *first = NULL;
    if (!pinning && vcpus_pinned(s) && shared_vcpu_thread(s, &first))
        g_ptr_array_add(s->report->warnings,
                        g_strdup("several vCPUs share one thread (single-threaded TCG): qpin run "
                                 "would refuse to pin them; use -accel tcg,thread=multi"));

    if (s->spec) {
        g_autofree TopoVcpu *vcpus = g_new0(TopoVcpu, MAX(n, 1));
        for (guint i = 0; i < n; i++)
            vcpus[i] = ((QpinPlanThread *)s->plan_vcpus->pdata[i])->props;
        s->map = topo_map_compute(s->spec, vcpus, n, &s->ctx, &local);
        if (!s->map)
            return fail_with(error, local, QPIN_ERROR_MAP, NULL);
        if (s->map->cpus->len != n) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_MAP,
                        "--pin: the map has %u entries for %u vCPUs", s->map->cpus->len, n);
            return FALSE;
        }
        /* Emulator auto adds its own warnings and reasons to the map: choose it before they
         * are copied into the report. */
        if (s->emulator_auto) {
            s->emulator_cpus = topo_place_emulator_auto(s->map, &s->ctx, &local);
            if (!s->emulator_cpus)
                return fail_with(error, local, QPIN_ERROR_MAP, NULL);
        }
        for (guint i = 0; s->map->warnings && i < s->map->warnings->len; i++)
            g_ptr_array_add(s->report->warnings,
                            g_strdup(((const TopoNote *)s->map->warnings->pdata[i])->text));
        for (guint i = 0; o->explain && s->map->explain && i < s->map->explain->len; i++)
            g_ptr_array_add(s->report->explain,
                            g_strdup(((const TopoNote *)s->map->explain->pdata[i])->text));
        for (guint i = 0; i < n; i++) {
            QpinPlanThread *v = s->plan_vcpus->pdata[i];
            v->cpus = topo_cpuset_copy(s->map->cpus->pdata[i]);
        }
        map_bare_metal(s);
    }

    for (guint i = 0; i < o->iothread_pins->len; i++) {
        const QpinIothreadPin *pin = o->iothread_pins->pdata[i];
        const QmpIothread *io = find_iothread(s, pin->id);
        if (!io) {
            GString *ids = g_string_new(NULL);
            for (guint k = 0; k < s->iothreads->len; k++)
                g_string_append_printf(ids, "%s%s", k ? ", " : "",
                                       ((QmpIothread *)s->iothreads->pdata[k])->id);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_MAP,
                        "--iothread-pin %s: QEMU has no iothread '%s' (%s%s)", pin->id, pin->id,
                        ids->len ? "it has: " : "add -object iothread,id=ID",
                        ids->len ? ids->str : "");
            g_string_free(ids, TRUE);
            return FALSE;
        }
        for (guint k = 0; k < s->plan_iothreads->len; k++) {
            QpinPlanThread *t = s->plan_iothreads->pdata[k];
            if (!g_strcmp0(t->id, pin->id))
                t->cpus = topo_cpuset_copy(s->iothread_cpus->pdata[i]);
        }
    }
    qpin_report_timing(s->report, "map", qpin_ms_since(t0));
    return TRUE;
}

/* "emulator thread 4242": names are read only for the output. */
static char *emulator_label(const QpinPlanThread *t)
{
    return g_strdup_printf("emulator thread %" G_GINT64_FORMAT, t->thread_id);
}

#define VCPU_LABEL_MAX 64

/* "vCPU 3 (thread 4242)", a vCPU in messages. Made for every vCPU while pinning and reading
 * back, but read only when something fails: kept on the stack. */
static const char *vcpu_label(char buf[VCPU_LABEL_MAX], int index, gint64 thread_id)
{
    g_snprintf(buf, VCPU_LABEL_MAX, "vCPU %d (thread %" G_GINT64_FORMAT ")", index, thread_id);
    return buf;
}

/* Remembers what thread @tid has now, for qpin_flow_rollback(). A thread whose state cannot
 * be read is not to be touched: FALSE. */
static gboolean save_thread(QpinFlow *s, pid_t tid, const char *what, GError **error)
{
    SavedThread saved = {.tid = tid};
    GError *local = NULL;
    saved.cpus = qpin_thread_affinity(tid, what, &local);
    /* Only --vcpu-sched changes a policy: there is nothing else to put back. */
    if (saved.cpus && s->opt->sched.set && !qpin_thread_sched(tid, &saved.sched, what, &local)) {
        topo_cpuset_free(saved.cpus);
        saved.cpus = NULL;
    }
    if (!saved.cpus) {
        g_propagate_prefixed_error(error, local, "%s was left untouched: ", what);
        return FALSE;
    }
    saved.what = g_strdup(what);
    g_array_append_val(s->saved, saved);
    return TRUE;
}

/* After a failed change of the thread saved last: when it still has exactly what it had, it
 * was not touched and there is nothing to put back. */
static void forget_if_untouched(QpinFlow *s)
{
    if (!s->saved->len)
        return;
    SavedThread *t = &g_array_index(s->saved, SavedThread, s->saved->len - 1);
    g_autoptr(TopoCpuSet) now = qpin_thread_affinity(t->tid, t->what, NULL);
    QpinSched sched = {0};
    if (!now || !topo_cpuset_equal(now, t->cpus))
        return;
    if (t->sched.set &&
        (!qpin_thread_sched(t->tid, &sched, t->what, NULL) || !qpin_sched_equal(&sched, &t->sched)))
        return;
    g_array_set_size(s->saved, s->saved->len - 1);
}

/* A terminating signal stops the changes before the next thread. */
static gboolean check_interrupt(QpinFlow *s, GError **error)
{
    int signo = s->sigfd >= 0 ? qpin_signals_take(s->sigfd) : 0;
    if (!signo)
        return TRUE;
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_INTERRUPTED, "interrupted by signal %d (%s)", signo,
                strsignal(signo));
    return FALSE;
}

/* Applies @cpus and @sched to one thread, saving its state first when qpin did not start QEMU
 * (pin). */
static gboolean apply_thread(QpinFlow *s, pid_t tid, const TopoCpuSet *cpus, const QpinSched *sched,
                             const char *what, GError **error)
{
    if (!check_interrupt(s, error))
        return FALSE;
    gboolean save = s->opt->command == QPIN_COMMAND_PIN;
    if (save && !save_thread(s, tid, what, error))
        return FALSE;
    if (qpin_thread_apply(tid, cpus, sched, what, s->host->cpus_allowed, error))
        return TRUE;
    if (save)
        forget_if_untouched(s);
    return FALSE;
}

gboolean qpin_flow_apply(QpinFlow *s, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    const QpinOptions *o = s->opt;

    /* The emulator threads are those present now: list again. Unpinned ones are listed only
     * for the table and the report. */
    g_autoptr(GArray) threads = s->emulator_cpus || qpin_flow_shows(s)
                                    ? qpin_threads_ids(s->pid, NULL, error)
                                    : g_array_new(FALSE, FALSE, sizeof(pid_t));
    if (!threads)
        return FALSE;
    g_autoptr(GHashTable) known = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < s->cpus->len; i++)
        g_hash_table_add(known, GINT_TO_POINTER((int)((QmpCpuInfo *)s->cpus->pdata[i])->thread_id));
    for (guint i = 0; i < s->iothreads->len; i++)
        g_hash_table_add(known,
                         GINT_TO_POINTER((int)((QmpIothread *)s->iothreads->pdata[i])->thread_id));
    g_ptr_array_set_size(s->plan_emulator, 0);
    for (guint i = 0; i < threads->len; i++) {
        pid_t tid = g_array_index(threads, pid_t, i);
        if (g_hash_table_contains(known, GINT_TO_POINTER((int)tid)))
            continue;
        QpinPlanThread *t = plan_thread_add(s->plan_emulator);
        t->thread_id = tid;
        if (s->emulator_cpus)
            t->cpus = topo_cpuset_copy(s->emulator_cpus);
    }

    if (vcpus_pinned(s)) {
        for (guint i = 0; i < s->plan_vcpus->len; i++) {
            const QpinPlanThread *v = s->plan_vcpus->pdata[i];
            char what[VCPU_LABEL_MAX];
            if (!apply_thread(s, (pid_t)v->thread_id, v->cpus, &o->sched,
                              vcpu_label(what, v->index, v->thread_id), error))
                return FALSE;
        }
    }
    if (s->emulator_cpus) {
        for (guint i = 0; i < s->plan_emulator->len; i++) {
            const QpinPlanThread *t = s->plan_emulator->pdata[i];
            g_autofree char *what = emulator_label(t);
            GError *local = NULL;
            if (!apply_thread(s, (pid_t)t->thread_id, t->cpus, NULL, what, &local)) {
                /* A worker that ended since the listing has nothing left to pin. */
                if (!g_error_matches(local, QPIN_ERROR, QPIN_ERROR_INTERRUPTED) &&
                    !qpin_thread_of(s->pid, (pid_t)t->thread_id, NULL)) {
                    g_error_free(local);
                    g_ptr_array_remove_index(s->plan_emulator, i--);
                    continue;
                }
                g_propagate_error(error, local);
                return FALSE;
            }
        }
    }
    for (guint i = 0; i < s->plan_iothreads->len; i++) {
        const QpinPlanThread *t = s->plan_iothreads->pdata[i];
        if (!t->cpus)
            continue;
        g_autofree char *what =
            g_strdup_printf("iothread %s (thread %" G_GINT64_FORMAT ")", t->id, t->thread_id);
        if (!apply_thread(s, (pid_t)t->thread_id, t->cpus, NULL, what, error))
            return FALSE;
    }
    qpin_report_timing(s->report, "pin", qpin_ms_since(t0));
    return TRUE;
}

#define MAX_PROBLEMS 8

static void problem(GString *problems, guint *count, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void problem(GString *problems, guint *count, const char *fmt, ...)
{
    if (++*count > MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_string_append(problems, "\n  ");
    g_string_append_vprintf(problems, fmt, ap);
    va_end(ap);
}

/* Notes a difference between @want and the read-back @actual. */
static void compare(const char *what, const TopoCpuSet *want, const TopoCpuSet *actual,
                    GString *problems, guint *count)
{
    if (!want || topo_cpuset_equal(want, actual))
        return;
    g_autofree char *w = topo_cpuset_format(want), *a = topo_cpuset_format(actual);
    g_autoptr(TopoCpuSet) lost = topo_cpuset_copy(want);
    topo_cpuset_subtract(lost, actual);
    g_autofree char *l = topo_cpuset_format(lost);
    guint n_lost = topo_cpuset_count(lost);
    if (n_lost)
        problem(problems, count,
                "%s: asked for CPUs %s, the kernel holds %s (CPU%s %s %s outside the thread's "
                "cpuset or offline)",
                what, w, a, n_lost == 1 ? "" : "s", l, n_lost == 1 ? "is" : "are");
    else
        problem(problems, count, "%s: asked for CPUs %s, the kernel holds %s", what, w, a);
}

gboolean qpin_flow_verify(QpinFlow *s, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    const QpinOptions *o = s->opt;
    g_autoptr(GString) problems = g_string_new(NULL);
    guint count = 0;

    for (guint i = 0; i < s->plan_vcpus->len; i++) {
        QpinPlanThread *v = s->plan_vcpus->pdata[i];
        if (v->thread_id <= 0)
            continue;
        char what[VCPU_LABEL_MAX];
        vcpu_label(what, v->index, v->thread_id);
        GError *local = NULL;
        topo_cpuset_free(v->cpus_actual);
        v->cpus_actual = qpin_thread_affinity((pid_t)v->thread_id, what, &local);
        if (!v->cpus_actual) {
            problem(problems, &count, "%s", local->message);
            g_error_free(local);
            continue;
        }
        compare(what, v->cpus, v->cpus_actual, problems, &count);
        QpinSched actual;
        if (o->sched.set && qpin_thread_sched((pid_t)v->thread_id, &actual, what, NULL)) {
            v->sched_actual = actual;
            if (!qpin_sched_equal(&o->sched, &actual)) {
                g_autofree char *want = qpin_sched_format(&o->sched);
                g_autofree char *have = qpin_sched_format(&actual);
                problem(problems, &count, "%s: asked for policy %s, it has %s", what, want, have);
            }
        }
    }
    for (guint i = 0; i < s->plan_emulator->len; i++) {
        QpinPlanThread *t = s->plan_emulator->pdata[i];
        g_autofree char *what = emulator_label(t);
        topo_cpuset_free(t->cpus_actual);
        GError *local = NULL;
        t->cpus_actual = qpin_thread_affinity((pid_t)t->thread_id, what, &local);
        if (!t->cpus_actual) {
            /* A worker thread that ended: nothing of it is left to verify. One that is still
             * there but cannot be read is a problem. */
            if (!qpin_thread_of(s->pid, (pid_t)t->thread_id, NULL)) {
                g_error_free(local);
                g_ptr_array_remove_index(s->plan_emulator, i--);
                continue;
            }
            problem(problems, &count, "%s", local->message);
            g_error_free(local);
            continue;
        }
        compare(what, t->cpus, t->cpus_actual, problems, &count);
    }
    for (guint i = 0; i < s->plan_iothreads->len; i++) {
        QpinPlanThread *t = s->plan_iothreads->pdata[i];
        if (t->thread_id <= 0)
            continue;
        g_autofree char *what =
            g_strdup_printf("iothread %s (thread %" G_GINT64_FORMAT ")", t->id, t->thread_id);
        GError *local = NULL;
        topo_cpuset_free(t->cpus_actual);
        t->cpus_actual = qpin_thread_affinity((pid_t)t->thread_id, what, &local);
        if (!t->cpus_actual) {
            problem(problems, &count, "%s", local->message);
            g_error_free(local);
            continue;
        }
        compare(what, t->cpus, t->cpus_actual, problems, &count);
    }
    qpin_report_timing(s->report, "verify", qpin_ms_since(t0));
    if (count) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_PIN, "read-back found %u problem%s:%s%s", count,
                    count == 1 ? "" : "s", problems->str, count > MAX_PROBLEMS ? "\n  ..." : "");
        return FALSE;
    }
    return TRUE;
}

/* "1234, 1235 and 1236". */
static void append_ids(GString *out, GArray *ids)
{
    for (guint i = 0; i < ids->len; i++) {
        if (i)
            g_string_append(out, i + 1 == ids->len ? " and " : ", ");
        g_string_append_printf(out, "%d", g_array_index(ids, pid_t, i));
    }
}

gboolean qpin_flow_rollback(QpinFlow *s, char **summary)
{
    g_autoptr(GArray) restored = g_array_new(FALSE, FALSE, sizeof(pid_t));
    g_autoptr(GString) failed = g_string_new(NULL);
    guint n_failed = 0;
    /* Newest first: the reverse of the order the changes were made in. */
    for (guint i = s->saved->len; i-- > 0;) {
        const SavedThread *t = &g_array_index(s->saved, SavedThread, i);
        GError *local = NULL;
        if (qpin_thread_apply(t->tid, t->cpus, t->sched.set ? &t->sched : NULL, t->what, NULL,
                              &local)) {
            g_array_prepend_val(restored, t->tid);
            continue;
        }
        n_failed++;
        g_string_append_printf(failed, "\n  not restored: %s", local->message);
        g_error_free(local);
    }
    g_array_set_size(s->saved, 0);
    if (summary) {
        GString *out = g_string_new(NULL);
        if (restored->len) {
            g_string_append_printf(out, "thread%s ", restored->len == 1 ? "" : "s");
            append_ids(out, restored);
            g_string_append_printf(
                out, " %s back the affinity%s %s had before", restored->len == 1 ? "has" : "have",
                s->opt->sched.set ? " and policy" : "", restored->len == 1 ? "it" : "they");
        } else if (!n_failed) {
            g_string_append(out, "no thread was changed");
        }
        if (n_failed)
            g_string_append_printf(out, "%s%u thread%s could not be restored:%s",
                                   out->len ? "; " : "", n_failed, n_failed == 1 ? "" : "s",
                                   failed->str);
        *summary = g_string_free(out, FALSE);
    }
    return n_failed == 0;
}

gboolean qpin_flow_resumed_behind(QpinFlow *s, gboolean *resumed, GError **error)
{
    *resumed = FALSE;
    GError *local = NULL;
    gboolean running = FALSE;
    g_autofree char *status = qmp_query_status(s->qmp, &running, &local);
    if (!status) {
        g_prefix_error(&local, "query-status: ");
        qpin_error_propagate(error, local, qpin_qmp_error_code(local));
        return FALSE;
    }
    /* The reply was read after any event QEMU sent before it: a RESUME is queued by now. */
    *resumed = running || qmp_client_event_seen(s->qmp, "RESUME");
    return TRUE;
}
