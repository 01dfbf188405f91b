/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — automatic placement: invariants over fixture hosts, in-memory hosts and random
 * hosts, a few fixed maps, and the no-fit and overcommit messages. */
#include <qpin/placement.h>
#include "qpin-check.h"

#include <string.h>

/* ---- in-memory hosts ---- */

typedef struct {
    int packages;
    int cores;         /* per package */
    int threads;       /* per core */
    int nodes;         /* per package */
    int llc_cores;     /* cores per last-level cache group, 0: the whole package */
    gboolean adjacent; /* siblings numbered next to each other (else thread-major, as Intel/AMD) */
    const char *allowed;   /* NULL: all */
    const char *isolated;  /* NULL: none */
    int memory_only_nodes; /* extra nodes without CPUs (MCDRAM, CXL) */
    gboolean no_distances; /* the kernel gives no node distances */
} HostSpec;

static TopoCpuSet *parse(const char *text)
{
    g_autoptr(GError) error = NULL;
    TopoCpuSet *set = topo_cpuset_parse(text, &error);
    ck_assert_msg(set != NULL, "cpulist \"%s\": %s", text, error ? error->message : "");
    return set;
}

static int spec_cpu(const HostSpec *s, int package, int core, int thread)
{
    int total = s->packages * s->cores;
    int gcore = package * s->cores + core;
    return s->adjacent ? gcore * s->threads + thread : thread * total + gcore;
}

static TopoHost *host_build(const HostSpec *s)
{
    TopoHost *host = g_new0(TopoHost, 1);
    int n_cpus = s->packages * s->cores * s->threads;
    int n_nodes = s->packages * s->nodes + s->memory_only_nodes;
    int per_node = s->cores / s->nodes;
    int llc = s->llc_cores > 0 ? s->llc_cores : s->cores;

    host->sysroot = g_strdup("(memory)");
    host->online = topo_cpuset_new();
    for (int c = 0; c < n_cpus; c++)
        topo_cpuset_add(host->online, c);
    host->offline = topo_cpuset_new();
    host->isolated = s->isolated ? parse(s->isolated) : topo_cpuset_new();
    host->nohz_full = topo_cpuset_new();
    host->cmdline = g_strdup("");
    host->cpus_allowed = s->allowed ? parse(s->allowed) : topo_cpuset_copy(host->online);
    topo_cpuset_intersect(host->cpus_allowed, host->online);
    host->mems_allowed = topo_cpuset_new();
    host->nodes_with_memory = topo_cpuset_new();
    host->cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpu_free);
    host->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)topo_node_free);

    for (int id = 0; id < n_nodes; id++) {
        TopoNode *node = topo_node_new(id);
        node->mem_total_kib = 64ull << 20;
        /* Distinct free memory so that the choice among equal nodes is visible: node 1 most. */
        node->mem_free_kib = (32ull << 20) - (guint64)(id == 1 ? 0 : 1 + id) * 1024;
        for (int to = 0; to < n_nodes; to++) {
            int same_pkg = id < s->packages * s->nodes && to < s->packages * s->nodes &&
                           id / s->nodes == to / s->nodes;
            int d = to == id ? 10 : same_pkg ? 12 : 32;
            if (!s->no_distances)
                g_array_append_val(node->distances, d);
        }
        topo_cpuset_add(host->mems_allowed, id);
        topo_cpuset_add(host->nodes_with_memory, id);
        g_ptr_array_add(host->nodes, node);
    }

    g_autofree TopoCpu **by_cpu = g_new0(TopoCpu *, n_cpus);
    for (int p = 0; p < s->packages; p++)
        for (int c = 0; c < s->cores; c++)
            for (int t = 0; t < s->threads; t++) {
                TopoCpu *cpu = g_new0(TopoCpu, 1);
                cpu->cpu = spec_cpu(s, p, c, t);
                cpu->package = p;
                cpu->core = c;
                cpu->node = p * s->nodes + MIN(c / per_node, s->nodes - 1);
                cpu->siblings = topo_cpuset_new();
                for (int u = 0; u < s->threads; u++)
                    topo_cpuset_add(cpu->siblings, spec_cpu(s, p, c, u));
                cpu->llc = topo_cpuset_new();
                for (int o = c / llc * llc; o < MIN(c / llc * llc + llc, s->cores); o++)
                    for (int u = 0; u < s->threads; u++)
                        topo_cpuset_add(cpu->llc, spec_cpu(s, p, o, u));
                TopoNode *node = g_ptr_array_index(host->nodes, cpu->node);
                topo_cpuset_add(node->cpus, cpu->cpu);
                by_cpu[cpu->cpu] = cpu;
            }
    for (int c = 0; c < n_cpus; c++)
        g_ptr_array_add(host->cpus, by_cpu[c]);
    return host;
}

/* ---- guests ---- */

typedef struct {
    const char *name;
    int sockets, dies, cores, threads; /* cores per die */
    int nodes;                         /* 0: no -numa */
    gboolean by_socket;                /* node = socket % nodes, else contiguous blocks */
    gboolean no_props;                 /* -smp N without topology: only the index */
    int bind[4];                       /* guest node -> host node + 1 (0 unbound) */
} GuestSpec;

static TopoVcpu *guest_build(const GuestSpec *g, guint *n_out)
{
    guint n = (guint)(g->sockets * MAX(g->dies, 1) * g->cores * g->threads);
    TopoVcpu *v = g_new0(TopoVcpu, n);
    guint i = 0;
    for (int s = 0; s < g->sockets; s++)
        for (int d = 0; d < MAX(g->dies, 1); d++)
            for (int c = 0; c < g->cores; c++)
                for (int t = 0; t < g->threads; t++, i++) {
                    TopoVcpu *x = &v[i];
                    x->index = (int)i;
                    x->socket = s;
                    x->die = g->dies > 0 ? d : -1;
                    x->cluster = -1;
                    x->core = c;
                    x->thread = t;
                    x->node = -1;
                    if (g->nodes > 0)
                        x->node = g->by_socket ? s % g->nodes : (int)(i * (guint)g->nodes / n);
                    if (g->no_props) {
                        x->socket = x->die = x->core = x->thread = -1;
                    }
                }
    *n_out = n;
    return v;
}

static GPtrArray *binding_build(const GuestSpec *g)
{
    GPtrArray *b = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (int k = 0; k < MAX(g->nodes, 1); k++)
        g_ptr_array_add(b, g->bind[k] > 0 ? topo_cpuset_new_single(g->bind[k] - 1) : NULL);
    return b;
}

/* ---- the invariants ---- */

static int core_key(const TopoHost *host, int c)
{
    const TopoCpu *cpu = topo_host_cpu(host, c);
    g_autoptr(TopoCpuSet) sib = topo_cpuset_copy(cpu->siblings);
    topo_cpuset_intersect(sib, host->online);
    topo_cpuset_add(sib, c);
    return topo_cpuset_first(sib);
}

/* The first note of @kind in @notes whose text holds @text (any text when NULL). Tests decide
 * by the kind; @text only checks what a note says where that is the point (a node chosen, a
 * documented example). */
static const TopoNote *find_note(const GPtrArray *notes, TopoNoteKind kind, const char *text)
{
    for (guint i = 0; i < notes->len; i++) {
        const TopoNote *note = g_ptr_array_index(notes, i);
        ck_assert_msg(note->text && *note->text, "note %u of kind %d has no text", i, note->kind);
        if (note->kind == kind && (!text || strstr(note->text, text)))
            return note;
    }
    return NULL;
}

static gboolean warned(const TopoMap *map, TopoNoteKind kind)
{
    return find_note(map->warnings, kind, NULL) != NULL;
}

static gboolean warned_as(const TopoMap *map, TopoNoteKind kind, const char *text)
{
    return find_note(map->warnings, kind, text) != NULL;
}

static char *join(const GPtrArray *notes)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < notes->len; i++) {
        const TopoNote *note = g_ptr_array_index(notes, i);
        g_string_append_printf(s, "\n    [%d] %s", note->kind, note->text);
    }
    return g_string_free(s, FALSE);
}

static char *map_text(const TopoMap *map)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < map->cpus->len; i++) {
        g_autofree char *t = topo_cpuset_format(g_ptr_array_index(map->cpus, i));
        g_string_append_printf(s, "%s%s", i ? "," : "", t);
    }
    return g_string_free(s, FALSE);
}

/* Whole candidate cores (at least @t candidate threads) on one host node, the most of any node;
 * @quiet_only counts only fully isolated cores. */
static guint best_node_cores(const TopoHost *host, const TopoCpuSet *cand, guint t,
                             gboolean quiet_only)
{
    guint best = 0;
    for (guint k = 0; k < host->nodes->len; k++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, k);
        guint n = 0;
        g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
        for (int c = topo_cpuset_first(node->cpus); c >= 0; c = topo_cpuset_next(node->cpus, c)) {
            int key = core_key(host, c);
            if (topo_cpuset_has(seen, key))
                continue;
            topo_cpuset_add(seen, key);
            const TopoCpu *cpu = topo_host_cpu(host, c);
            g_autoptr(TopoCpuSet) threads = topo_cpuset_copy(cpu->siblings);
            topo_cpuset_intersect(threads, cand);
            g_autoptr(TopoCpuSet) loud = topo_cpuset_copy(threads);
            topo_cpuset_subtract(loud, host->isolated);
            topo_cpuset_subtract(loud, host->nohz_full);
            if (topo_cpuset_count(threads) >= t && (!quiet_only || topo_cpuset_is_empty(loud)))
                n++;
        }
        best = MAX(best, n);
    }
    return best;
}

/* Checks every rule of auto placement on @map; @label names the host and guest. */
static void check_map(const char *label, const TopoVcpu *v, guint n, const TopoPlaceCtx *ctx,
                      const TopoMap *map)
{
    const TopoHost *host = ctx->host;
    g_autofree char *warnings = join(map->warnings);
    g_autofree char *text = map_text(map);
    gboolean shared = warned(map, TOPO_NOTE_OVERCOMMIT);

    ck_assert_msg(map->cpus->len == n, "%s: %u CPU sets for %u vCPUs", label, map->cpus->len, n);
    ck_assert_msg(map->explain->len >= 3, "%s: no explanation", label);
    ck_assert_msg(shared == FALSE || ctx->allow_overcommit, "%s: shared without --allow-overcommit",
                  label);

    g_autoptr(TopoCpuSet) cand = topo_cpuset_copy(ctx->allowed);
    topo_cpuset_intersect(cand, host->online);
    if (ctx->reserved)
        topo_cpuset_subtract(cand, ctx->reserved);

    g_autofree int *cpu_of = g_new(int, n + 1);
    g_autoptr(GHashTable) cpu_user = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) core_owner = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) gcore_hcores =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)topo_cpuset_free);
    g_autoptr(GHashTable) socket_pkgs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                              (GDestroyNotify)topo_cpuset_free);
    g_autoptr(GHashTable) load = g_hash_table_new(g_direct_hash, g_direct_equal);
    guint host_tpc = 0;
    for (int c = topo_cpuset_first(cand); c >= 0; c = topo_cpuset_next(cand, c)) {
        g_autoptr(TopoCpuSet) t = topo_cpuset_copy(topo_host_cpu(host, c)->siblings);
        topo_cpuset_intersect(t, cand);
        host_tpc = MAX(host_tpc, topo_cpuset_count(t));
    }

    for (guint i = 0; i < n; i++) {
        const TopoCpuSet *set = g_ptr_array_index(map->cpus, i);
        ck_assert_msg(topo_cpuset_count(set) == 1, "%s: vCPU %u has %u CPUs (map %s)", label, i,
                      topo_cpuset_count(set), text);
        int c = cpu_of[i] = topo_cpuset_first(set);
        ck_assert_msg(topo_cpuset_has(ctx->allowed, c) && topo_cpuset_has(host->online, c),
                      "%s: vCPU %u on CPU %d outside the allowed online CPUs (map %s)", label, i, c,
                      text);
        ck_assert_msg(!ctx->reserved || !topo_cpuset_has(ctx->reserved, c),
                      "%s: vCPU %u on reserved CPU %d (map %s)", label, i, c, text);
        guint used = GPOINTER_TO_UINT(g_hash_table_lookup(load, GINT_TO_POINTER(c)));
        g_hash_table_insert(load, GINT_TO_POINTER(c), GUINT_TO_POINTER(used + 1));
        if (!shared) {
            ck_assert_msg(!g_hash_table_contains(cpu_user, GINT_TO_POINTER(c)),
                          "%s: CPU %d used by vCPUs %d and %u (map %s)", label, c,
                          GPOINTER_TO_INT(g_hash_table_lookup(cpu_user, GINT_TO_POINTER(c))) - 1, i,
                          text);
            g_hash_table_insert(cpu_user, GINT_TO_POINTER(c), GINT_TO_POINTER((int)i + 1));
        }

        /* Guest core identity: its props, or the vCPU alone without a core prop. */
        g_autofree char *gkey = v[i].core >= 0
                                    ? g_strdup_printf("%d/%d/%d/%d/%d", v[i].node, v[i].socket,
                                                      v[i].die, v[i].cluster, v[i].core)
                                    : g_strdup_printf("vcpu%u", i);
        int hkey = core_key(host, c);
        if (!shared) {
            const char *owner = g_hash_table_lookup(core_owner, GINT_TO_POINTER(hkey));
            ck_assert_msg(!owner || !strcmp(owner, gkey),
                          "%s: host core of CPU %d holds guest cores %s and %s (map %s)", label, c,
                          owner ? owner : "", gkey, text);
            if (!owner)
                g_hash_table_insert(core_owner, GINT_TO_POINTER(hkey),
                                    (gpointer)g_intern_string(gkey));
        }
        TopoCpuSet *hc = g_hash_table_lookup(gcore_hcores, gkey);
        if (!hc) {
            hc = topo_cpuset_new();
            g_hash_table_insert(gcore_hcores, g_strdup(gkey), hc);
        }
        topo_cpuset_add(hc, hkey);

        if (v[i].socket >= 0) {
            int skey = v[i].socket;
            TopoCpuSet *pk = g_hash_table_lookup(socket_pkgs, GINT_TO_POINTER(skey));
            if (!pk) {
                pk = topo_cpuset_new();
                g_hash_table_insert(socket_pkgs, GINT_TO_POINTER(skey), pk);
            }
            topo_cpuset_add(pk, topo_host_cpu(host, c)->package);
        }

        /* Node locality: a bound guest node's vCPUs on its host nodes (or, when those have no
         * CPUs at all, wherever the warning says). */
        int g = v[i].node;
        const TopoCpuSet *bound = g >= 0 && ctx->node_binding && (guint)g < ctx->node_binding->len
                                      ? g_ptr_array_index(ctx->node_binding, g)
                                      : NULL;
        if (bound && !topo_cpuset_is_empty(bound)) {
            gboolean has_cpus = FALSE;
            for (int b = topo_cpuset_first(bound); b >= 0; b = topo_cpuset_next(bound, b)) {
                const TopoNode *node = topo_host_node(host, b);
                has_cpus |= node && !topo_cpuset_is_empty(node->cpus);
            }
            if (has_cpus)
                ck_assert_msg(topo_cpuset_has(bound, topo_host_cpu(host, c)->node),
                              "%s: vCPU %u of guest node %d on CPU %d of host node %d, not on "
                              "its bound nodes (map %s)",
                              label, i, g, c, topo_host_cpu(host, c)->node, text);
            else
                ck_assert_msg(warned(map, TOPO_NOTE_BOUND_NO_CPUS),
                              "%s: memory-only binding without warning", label);
        }
    }

    /* Siblings on siblings: a guest core on one host core unless a warning says why not. */
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, gcore_hcores);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (shared || topo_cpuset_count(value) == 1)
            continue;
        ck_assert_msg(
            warned(map, TOPO_NOTE_THREADS_PER_CORE) || warned(map, TOPO_NOTE_SPLIT_CORE) ||
                warned(map, TOPO_NOTE_SOCKET_SPREAD_SPLIT) || warned(map, TOPO_NOTE_NODE_WHOLE),
            "%s: guest core %s spread over host cores without a warning (map %s)%s", label,
            (const char *)key, text, warnings);
    }
    /* A guest socket in one host package unless a warning says why not. */
    g_hash_table_iter_init(&it, socket_pkgs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (shared || topo_cpuset_count(value) == 1)
            continue;
        ck_assert_msg(warned(map, TOPO_NOTE_SOCKET_MOVED) || warned(map, TOPO_NOTE_SOCKET_SPREAD) ||
                          warned(map, TOPO_NOTE_SOCKET_SPREAD_SPLIT) ||
                          warned(map, TOPO_NOTE_NODE_WHOLE),
                      "%s: guest socket %d spans host packages without a warning (map %s)%s", label,
                      GPOINTER_TO_INT(key), text, warnings);
    }

    /* Sharing is balanced: no CPU carries more than its even share (rounded up). */
    if (shared && (!ctx->node_binding || ctx->node_binding->len == 0) && v[0].node < 0) {
        guint m = topo_cpuset_count(cand), most = 0;
        g_hash_table_iter_init(&it, load);
        while (g_hash_table_iter_next(&it, &key, &value))
            most = MAX(most, GPOINTER_TO_UINT(value));
        ck_assert_msg(most <= (n + m - 1) / m, "%s: %u vCPUs on one CPU, %u vCPUs on %u CPUs",
                      label, most, n, m);
    }

    /* One unbound guest node: kept on one host node when one holds it whole, and on isolated
     * CPUs when one node has enough isolated whole cores. */
    gboolean one_unbound = !shared && (!ctx->node_binding || ctx->node_binding->len == 0);
    guint t = 0, cores = g_hash_table_size(gcore_hcores);
    for (guint i = 0; i < n; i++)
        one_unbound &= v[i].node == v[0].node;
    g_hash_table_iter_init(&it, gcore_hcores);
    for (guint i = 0; i < n; i++) {
        guint threads = 0;
        for (guint j = 0; j < n; j++)
            threads += v[j].core >= 0 && v[j].core == v[i].core && v[j].socket == v[i].socket &&
                       v[j].die == v[i].die && v[j].node == v[i].node;
        t = MAX(t, MAX(threads, 1));
    }
    if (one_unbound && t <= host_tpc) {
        g_autoptr(TopoCpuSet) nodes = topo_cpuset_new();
        g_autoptr(TopoCpuSet) loud = topo_cpuset_new();
        for (guint i = 0; i < n; i++) {
            topo_cpuset_add(nodes, topo_host_cpu(host, cpu_of[i])->node);
            if (!topo_cpuset_has(host->isolated, cpu_of[i]) &&
                !topo_cpuset_has(host->nohz_full, cpu_of[i]))
                topo_cpuset_add(loud, cpu_of[i]);
        }
        if (best_node_cores(host, cand, t, FALSE) >= cores)
            ck_assert_msg(topo_cpuset_count(nodes) == 1,
                          "%s: fits one host node but uses %u (map %s)", label,
                          topo_cpuset_count(nodes), text);
        if (best_node_cores(host, cand, t, TRUE) >= cores) {
            g_autofree char *l = topo_cpuset_format(loud);
            ck_assert_msg(topo_cpuset_is_empty(loud),
                          "%s: isolated CPUs are enough but vCPUs run on %s (map %s)", label, l,
                          text);
        }
    }
}

/* Places @v twice (the same answer both times), checks the invariants, returns the map or
 * NULL with @error. */
static TopoMap *place_checked(const char *label, const TopoVcpu *v, guint n,
                              const TopoPlaceCtx *ctx, GError **error)
{
    g_autoptr(GError) again_error = NULL;
    TopoMap *map = topo_place_auto(v, n, ctx, error);
    g_autoptr(TopoMap) again = topo_place_auto(v, n, ctx, &again_error);
    ck_assert_msg((map == NULL) == (again == NULL), "%s: not deterministic", label);
    if (!map) {
        ck_assert_msg(!strcmp((*error)->message, again_error->message),
                      "%s: error not deterministic", label);
        ck_assert_msg((*error)->domain == TOPO_ERROR && (*error)->code == TOPO_ERROR_NOFIT,
                      "%s: unexpected error %s", label, (*error)->message);
        return NULL;
    }
    g_autofree char *a = map_text(map), *b = map_text(again);
    g_autofree char *ea = join(map->explain), *eb = join(again->explain);
    g_autofree char *wa = join(map->warnings), *wb = join(again->warnings);
    ck_assert_msg(!strcmp(a, b) && !strcmp(ea, eb) && !strcmp(wa, wb),
                  "%s: not deterministic: %s vs %s", label, a, b);
    check_map(label, v, n, ctx, map);
    return map;
}

/* Whole candidate cores (at least @t threads) anywhere: when the guest (one unbound node, @t
 * threads per core) has no more cores than this, auto placement must succeed. */
static guint whole_cores(const TopoHost *host, const TopoCpuSet *cand, guint t)
{
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    guint n = 0;
    for (int c = topo_cpuset_first(cand); c >= 0; c = topo_cpuset_next(cand, c)) {
        int key = core_key(host, c);
        if (topo_cpuset_has(seen, key))
            continue;
        topo_cpuset_add(seen, key);
        g_autoptr(TopoCpuSet) threads = topo_cpuset_copy(topo_host_cpu(host, c)->siblings);
        topo_cpuset_intersect(threads, cand);
        n += topo_cpuset_count(threads) >= t;
    }
    return n;
}

/* ---- --emulator-pin auto: the invariants ---- */

static int cpu_node(const TopoHost *host, int c)
{
    return MAX(topo_host_cpu(host, c)->node, 0);
}

/* The smallest known distance from a node of @from to @to, G_MAXINT when none is known. */
static int distance_from(const TopoHost *host, const TopoCpuSet *from, int to)
{
    int best = G_MAXINT;
    for (int n = topo_cpuset_first(from); n >= 0; n = topo_cpuset_next(from, n)) {
        int d = topo_host_distance(host, n, to);
        if (d >= 0)
            best = MIN(best, d);
    }
    return best;
}

/* @set minus @drop, when that leaves any CPU. */
static void drop_if_any(TopoCpuSet **set, const TopoCpuSet *drop)
{
    if (!drop)
        return;
    g_autoptr(TopoCpuSet) rest = topo_cpuset_copy(*set);
    topo_cpuset_subtract(rest, drop);
    if (!topo_cpuset_is_empty(rest)) {
        topo_cpuset_free(*set);
        *set = g_steal_pointer(&rest);
    }
}

/* Picks the emulator CPUs after @map (twice: the same answer) and checks them: allowed and
 * online; off the vCPUs' CPUs and off isolated CPUs whenever a free housekeeping CPU exists
 * (then no warning), else on free isolated CPUs (warned), else sharing the vCPUs' CPUs (warned);
 * on the vCPUs' nodes when those have a free CPU of the kind chosen, otherwise all on the one
 * nearest node that has some (ties: same package, lowest id); every free CPU of that kind
 * there, less the reserved CPUs and the SMT siblings of vCPU CPUs when that leaves any. */
static void check_emulator(const char *label, const TopoPlaceCtx *ctx, TopoMap *map)
{
    const TopoHost *host = ctx->host;
    guint n_warn = map->warnings->len, n_explain = map->explain->len;
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoCpuSet) emu = topo_place_emulator_auto(map, ctx, &error);
    ck_assert_msg(emu != NULL, "%s: --emulator-pin auto: %s", label, error ? error->message : "");
    g_autoptr(TopoCpuSet) again = topo_place_emulator_auto(map, ctx, &error);
    g_autofree char *text = topo_cpuset_format(emu);
    g_autofree char *map_txt = map_text(map);
    ck_assert_msg(again && topo_cpuset_equal(emu, again), "%s: emulator CPUs not deterministic",
                  label);
    const TopoNote *why =
        map->explain->len == n_explain + 2 ? g_ptr_array_index(map->explain, n_explain) : NULL;
    const TopoNote *why_again = why ? g_ptr_array_index(map->explain, n_explain + 1) : NULL;
    ck_assert_msg(why && why->kind == TOPO_NOTE_EMULATOR && why_again->kind == why->kind &&
                      !strcmp(why->text, why_again->text),
                  "%s: emulator CPUs %s not explained once per call", label, text);
    /* Each call adds the same warnings: look at the first call's. */
    guint warnings = (map->warnings->len - n_warn) / 2;
    const TopoNote *warning = warnings ? g_ptr_array_index(map->warnings, n_warn) : NULL;
    const char *warning_text = warning ? warning->text : "";

    g_autoptr(TopoCpuSet) base = topo_cpuset_copy(ctx->allowed);
    topo_cpuset_intersect(base, host->online);
    ck_assert_msg(!topo_cpuset_is_empty(emu) && topo_cpuset_is_subset(emu, base),
                  "%s: emulator CPUs %s not inside the allowed CPUs", label, text);

    g_autoptr(TopoCpuSet) used = topo_cpuset_new();
    g_autoptr(TopoCpuSet) busy = topo_cpuset_new();
    g_autoptr(TopoCpuSet) vnodes = topo_cpuset_new();
    g_autoptr(TopoCpuSet) vpkgs = topo_cpuset_new();
    for (guint i = 0; i < map->cpus->len; i++)
        topo_cpuset_union(used, g_ptr_array_index(map->cpus, i));
    for (int c = topo_cpuset_first(used); c >= 0; c = topo_cpuset_next(used, c)) {
        topo_cpuset_union(busy, topo_host_cpu(host, c)->siblings);
        topo_cpuset_add(vnodes, cpu_node(host, c));
        topo_cpuset_add(vpkgs, MAX(topo_host_cpu(host, c)->package, 0));
    }
    g_autoptr(TopoCpuSet) quiet = topo_cpuset_copy(host->isolated);
    topo_cpuset_union(quiet, host->nohz_full);
    g_autoptr(TopoCpuSet) housekeeping = topo_cpuset_copy(base);
    topo_cpuset_subtract(housekeeping, quiet);
    topo_cpuset_subtract(housekeeping, used);
    g_autoptr(TopoCpuSet) isolated = topo_cpuset_copy(base);
    topo_cpuset_intersect(isolated, quiet);
    topo_cpuset_subtract(isolated, used);

    TopoCpuSet *pool = !topo_cpuset_is_empty(housekeeping) ? housekeeping
                       : !topo_cpuset_is_empty(isolated)   ? isolated
                                                           : NULL;
    g_autoptr(TopoCpuSet) expect = NULL;
    if (pool) {
        ck_assert_msg(topo_cpuset_is_subset(emu, pool),
                      "%s: emulator CPUs %s outside the free %s "
                      "CPUs (map %s)",
                      label, text, pool == housekeeping ? "housekeeping" : "isolated", map_txt);
        g_autoptr(TopoCpuSet) local = topo_cpuset_new();
        for (int c = topo_cpuset_first(pool); c >= 0; c = topo_cpuset_next(pool, c))
            if (topo_cpuset_has(vnodes, cpu_node(host, c)))
                topo_cpuset_add(local, c);
        if (!topo_cpuset_is_empty(local)) {
            expect = g_steal_pointer(&local);
        } else {
            int node = cpu_node(host, topo_cpuset_first(emu));
            int d = distance_from(host, vnodes, node);
            gboolean pkg = FALSE;
            expect = topo_cpuset_new();
            for (int c = topo_cpuset_first(pool); c >= 0; c = topo_cpuset_next(pool, c))
                if (cpu_node(host, c) == node) {
                    topo_cpuset_add(expect, c);
                    pkg |= topo_cpuset_has(vpkgs, MAX(topo_host_cpu(host, c)->package, 0));
                }
            for (int c = topo_cpuset_first(pool); c >= 0; c = topo_cpuset_next(pool, c)) {
                int other = cpu_node(host, c), od = distance_from(host, vnodes, other);
                gboolean opkg = topo_cpuset_has(vpkgs, MAX(topo_host_cpu(host, c)->package, 0));
                ck_assert_msg(od > d || (od == d && (pkg > opkg || (pkg == opkg && other >= node))),
                              "%s: emulator CPUs %s on host node %d, but node %d (CPU %d) is "
                              "nearer the vCPUs (map %s)",
                              label, text, node, other, c, map_txt);
            }
        }
        drop_if_any(&expect, ctx->reserved);
        drop_if_any(&expect, busy);
        if (pool == housekeeping)
            ck_assert_msg(warnings == 0, "%s: emulator warning %s", label, warning_text);
        else
            ck_assert_msg(warnings == 1 && warning->kind == TOPO_NOTE_EMULATOR_ISOLATED,
                          "%s: warning '%s'", label, warning_text);
    } else {
        /* Every allowed CPU runs a vCPU: the vCPUs' housekeeping CPUs, else all of theirs. */
        expect = topo_cpuset_copy(used);
        topo_cpuset_intersect(expect, base);
        drop_if_any(&expect, quiet);
        drop_if_any(&expect, ctx->reserved);
        ck_assert_msg(warnings == 1 && warning->kind == TOPO_NOTE_EMULATOR_SHARED,
                      "%s: warning '%s'", label, warning_text);
    }
    g_autofree char *want = topo_cpuset_format(expect);
    ck_assert_msg(topo_cpuset_equal(emu, expect), "%s: emulator CPUs %s, expected %s (map %s)",
                  label, text, want, map_txt);
}

/* One host, one guest shape: strict, then with overcommit; both checked. */
static void run_case(const char *hostname, const TopoHost *host, const GuestSpec *gs,
                     const TopoCpuSet *reserved)
{
    guint n;
    g_autofree TopoVcpu *v = guest_build(gs, &n);
    g_autoptr(GPtrArray) binding = binding_build(gs);
    gboolean bound = FALSE;
    for (int k = 0; k < 4; k++)
        bound |= gs->bind[k] > 0;
    TopoPlaceCtx ctx = {
        .host = host,
        .allowed = host->cpus_allowed,
        .reserved = reserved,
        .node_binding = bound ? binding : NULL,
    };
    g_autofree char *label = g_strdup_printf("host %s, guest %s", hostname, gs->name);
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoMap) map = place_checked(label, v, n, &ctx, &error);

    g_autoptr(TopoCpuSet) cand = topo_cpuset_copy(host->cpus_allowed);
    if (reserved)
        topo_cpuset_subtract(cand, reserved);
    guint t = gs->no_props ? 1 : (guint)gs->threads;
    guint guest_cores = gs->no_props ? n : n / t;
    if (!map) {
        ck_assert_msg(strstr(error->message, "needs") && strstr(error->message, "allowed CPUs") &&
                          strstr(error->message, "--allow-overcommit"),
                      "%s: unclear error: %s", label, error->message);
        ck_assert_msg(bound || gs->nodes > 1 || whole_cores(host, cand, t) < guest_cores,
                      "%s: %u whole cores of %u threads available for %u guest cores, yet: %s",
                      label, whole_cores(host, cand, t), t, guest_cores, error->message);
        ck_assert_msg(n > topo_cpuset_count(cand) || strstr(error->message, "whole host core"),
                      "%s: %s", label, error->message);
    }
    if (n > topo_cpuset_count(cand))
        ck_assert_msg(map == NULL, "%s: %u vCPUs placed on %u CPUs without overcommit", label, n,
                      topo_cpuset_count(cand));
    if (map)
        check_emulator(label, &ctx, map);

    ctx.allow_overcommit = TRUE;
    g_autoptr(GError) shared_error = NULL;
    g_autofree char *shared_label = g_strdup_printf("%s, --allow-overcommit", label);
    g_autoptr(TopoMap) shared = place_checked(shared_label, v, n, &ctx, &shared_error);
    if (map) {
        /* Overcommit changes nothing when the guest fits. */
        g_autofree char *a = map_text(map), *b = map_text(shared);
        ck_assert_msg(shared && !strcmp(a, b), "%s: overcommit changed a fitting map", label);
    } else if (!topo_cpuset_is_empty(cand) && !bound) {
        ck_assert_msg(shared != NULL, "%s: overcommit failed: %s", shared_label,
                      shared_error->message);
        ck_assert_msg(warned(shared, TOPO_NOTE_OVERCOMMIT), "%s: no overcommit warning",
                      shared_label);
    }
    if (shared)
        check_emulator(shared_label, &ctx, shared);
}

static const GuestSpec shapes[] = {
    {"1 vCPU", 1, 0, 1, 1},
    {"1 socket x 4 cores x 2 threads", 1, 0, 4, 2},
    {"1 socket x 8 cores x 1 thread", 1, 0, 8, 1},
    {"2 sockets x 4 cores x 2 threads", 2, 0, 4, 2},
    {"2 sockets x 2 cores x 2 threads, 2 nodes by socket", 2, 0, 2, 2, 2, TRUE},
    {"1 socket x 4 cores x 2 threads, 2 nodes", 1, 0, 4, 2, 2},
    {"1 socket x 2 dies x 3 cores x 2 threads", 1, 2, 3, 2},
    {"6 vCPUs without topology", 6, 0, 1, 1, 0, FALSE, TRUE},
    {"1 socket x 2 cores x 4 threads", 1, 0, 2, 4},
    {"2 sockets x 2 cores x 2 threads, nodes 0,1 bound to host 0,1",
     2,
     0,
     2,
     2,
     2,
     TRUE,
     FALSE,
     {1, 2}},
    {"2 sockets x 2 cores x 1 thread, both nodes bound to host node 0",
     2,
     0,
     2,
     1,
     2,
     TRUE,
     FALSE,
     {1, 1}},
};

/* Guests sized after the host: bigger than its largest node, and one vCPU more than it has. */
static void run_sized(const char *name, const TopoHost *host, const TopoCpuSet *reserved)
{
    guint biggest = 0;
    for (guint k = 0; k < host->nodes->len; k++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, k);
        g_autoptr(TopoCpuSet) c = topo_cpuset_copy(node->cpus);
        topo_cpuset_intersect(c, host->cpus_allowed);
        biggest = MAX(biggest, topo_cpuset_count(c));
    }
    g_autoptr(TopoCpuSet) cand = topo_cpuset_copy(host->cpus_allowed);
    if (reserved)
        topo_cpuset_subtract(cand, reserved);
    guint all = topo_cpuset_count(cand);
    if (biggest + 1 <= all) {
        GuestSpec big = {"bigger than one host node", 1, 0, (int)biggest + 1, 1};
        run_case(name, host, &big, reserved);
    }
    GuestSpec over = {"one vCPU more than the candidates", 1, 0, (int)all + 1, 1};
    run_case(name, host, &over, reserved);
}

static void run_all_shapes(const char *name, const TopoHost *host, const TopoCpuSet *reserved)
{
    for (guint s = 0; s < G_N_ELEMENTS(shapes); s++) {
        gboolean ok = TRUE;
        for (int k = 0; k < 4; k++)
            ok &= shapes[s].bind[k] == 0 || topo_host_node(host, shapes[s].bind[k] - 1) != NULL;
        if (ok)
            run_case(name, host, &shapes[s], reserved);
    }
    run_sized(name, host, reserved);
}

/* ---- in-memory hosts x guest shapes ---- */

static const struct {
    const char *name;
    HostSpec spec;
} memory_hosts[] = {
    {"2 sockets x 4 cores x 2 threads", {2, 4, 2, 1, 0}},
    {"EPYC-like 2 x 16 x 2, NPS2, 4-core CCX", {2, 16, 2, 2, 4}},
    {"EPYC-like 1 x 16 x 2, NPS4, 4-core CCX, siblings adjacent", {1, 16, 2, 4, 4, TRUE}},
    {"KNL-like 1 x 8 x 4, 2-core tiles, MCDRAM node", {1, 8, 4, 1, 2, FALSE, NULL, NULL, 1}},
    {"cgroup subset with partial cores", {2, 4, 2, 1, 0, FALSE, "1-5,9,13-14"}},
    {"isolated 4-7 and 12-15", {2, 4, 2, 1, 0, FALSE, NULL, "4-7,12-15"}},
    {"1 x 2 x 1", {1, 2, 1, 1, 0}},
    {"4 sockets x 3 cores x 1 thread", {4, 3, 1, 1, 0}},
};

START_TEST(test_memory_host)
{
    g_autoptr(TopoHost) host = host_build(&memory_hosts[_i].spec);
    run_all_shapes(memory_hosts[_i].name, host, NULL);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_new_single(topo_cpuset_first(host->cpus_allowed));
    g_autofree char *name =
        g_strdup_printf("%s, first allowed CPU reserved", memory_hosts[_i].name);
    run_all_shapes(name, host, reserved);
}
END_TEST

/* ---- fixed maps, for the reader ---- */

static TopoMap *place_ok(const TopoHost *host, const GuestSpec *gs, const TopoCpuSet *reserved,
                         const char *expect)
{
    guint n;
    g_autofree TopoVcpu *v = guest_build(gs, &n);
    g_autoptr(GPtrArray) binding = binding_build(gs);
    TopoPlaceCtx ctx = {
        .host = host, .allowed = host->cpus_allowed, .reserved = reserved, .node_binding = binding};
    g_autoptr(GError) error = NULL;
    TopoMap *map = place_checked(gs->name, v, n, &ctx, &error);
    ck_assert_msg(map != NULL, "%s: %s", gs->name, error ? error->message : "");
    g_autofree char *text = map_text(map);
    g_autofree char *why = join(map->explain);
    ck_assert_msg(!strcmp(text, expect), "%s: map %s, expected %s; explain:%s", gs->name, text,
                  expect, why);
    return map;
}

/* An explain line of @kind that says @what (the decision it names). */
static gboolean explained(const TopoMap *map, TopoNoteKind kind, const char *what)
{
    return find_note(map->explain, kind, what) != NULL;
}

START_TEST(test_fixed_two_sockets)
{
    /* CPUs t*8 + package*4 + core: package 1 holds 4-7 with siblings 12-15; node 1 has the
     * most free memory, so an unbound guest that fits goes there, siblings on siblings. */
    HostSpec s = {2, 4, 2, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"1 socket x 2 cores x 2 threads", 1, 0, 2, 2};
    g_autoptr(TopoMap) map = place_ok(host, &g, NULL, "4,12,5,13");
    ck_assert(explained(map, TOPO_NOTE_NODE_PLACED, "the guest (4 vCPUs) -> host node 1 (chosen"));
    ck_assert(explained(map, TOPO_NOTE_SOCKET_PLACED,
                        "guest socket 0 (2 cores x 2 threads, vCPUs 0-3) -> host package 1"));

    /* Two guest nodes by socket, bound to host nodes 0 and 1; the core of CPU 0 (the boot
     * CPU, with its timers and unmovable interrupts) is left alone while there is room. */
    GuestSpec two = {"2 sockets x 2 cores x 2 threads, bound", 2, 0, 2, 2, 2, TRUE, FALSE, {1, 2}};
    g_autoptr(TopoMap) map2 = place_ok(host, &two, NULL, "1,9,2,10,4,12,5,13");
    ck_assert(explained(map2, TOPO_NOTE_NODE_PLACED,
                        "guest node 1 (4 vCPUs) -> host node 1 (its memory is bound there)"));
}
END_TEST

START_TEST(test_fixed_nearest_node)
{
    /* 2 packages x 2 nodes x 2 cores. Node 1 has the most free memory, node 2 (other package)
     * the next most: the second guest node still goes next to the first one, on node 0. */
    HostSpec s = {2, 4, 1, 2, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    TopoNode *node1 = g_ptr_array_index(host->nodes, 1), *node2 = g_ptr_array_index(host->nodes, 2);
    node2->mem_free_kib = node1->mem_free_kib - 512;
    GuestSpec two = {"2 guest nodes of 2 cores", 2, 0, 2, 1, 2, TRUE};
    g_autoptr(TopoMap) map = place_ok(host, &two, NULL, "2,3,0,1");
    ck_assert(
        explained(map, TOPO_NOTE_NODE_PLACED, "guest node 1 (2 vCPUs) -> host node 0 (chosen"));
}
END_TEST

START_TEST(test_fixed_epyc_llc)
{
    /* 2 packages x 16 cores x 2 threads, NPS2 (8 cores per node), L3 per 4 cores; CPUs
     * t*32 + package*16 + core. Core 8 (CPUs 8, 40) is not allowed: on node 1 (cores 8-15,
     * the most free memory) the CCX 8-11 has 3 free cores, the CCX 12-15 has 4. */
    HostSpec s = {2, 16, 2, 2, 4, FALSE, "0-7,9-39,41-63"};
    g_autoptr(TopoHost) host = host_build(&s);

    GuestSpec four = {"1 socket x 4 cores x 2 threads", 1, 0, 4, 2};
    g_autoptr(TopoMap) m4 = place_ok(host, &four, NULL, "12,44,13,45,14,46,15,47");
    ck_assert(explained(m4, TOPO_NOTE_SOCKET_PLACED, "LLC 12-15,44-47 -> CPUs 12-15,44-47"));

    /* Three cores fit the smaller CCX exactly: the bigger one stays free. */
    GuestSpec three = {"1 socket x 3 cores x 2 threads", 1, 0, 3, 2};
    g_autoptr(TopoMap) m3 = place_ok(host, &three, NULL, "9,41,10,42,11,43");

    /* Six cores: two CCX, no fewer possible. */
    GuestSpec six = {"1 socket x 6 cores x 2 threads", 1, 0, 6, 2};
    g_autoptr(TopoMap) m6 = place_ok(host, &six, NULL, "9,41,10,42,11,43,12,44,13,45,14,46");
    ck_assert(explained(m6, TOPO_NOTE_SOCKET_PLACED, "LLC 8-11,40-43 + 12-15,44-47"));

    /* Eight cores do not fit node 1 any more: node 0 (next most free memory) holds them. */
    GuestSpec eight = {"1 socket x 8 cores x 2 threads", 1, 0, 8, 2};
    g_autoptr(TopoMap) m8 = place_ok(host, &eight, NULL, "0,32,1,33,2,34,3,35,4,36,5,37,6,38,7,39");
    ck_assert(explained(m8, TOPO_NOTE_NODE_PLACED, "-> host node 0 (chosen"));
}
END_TEST

/* The emulator CPUs topo_place_emulator_auto() picks for @map, as a cpulist. */
static char *emulator_text(TopoMap *map, const TopoPlaceCtx *ctx)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoCpuSet) emu = topo_place_emulator_auto(map, ctx, &error);
    ck_assert_msg(emu != NULL, "%s", error ? error->message : "");
    return topo_cpuset_format(emu);
}

START_TEST(test_fixed_isolated)
{
    HostSpec s = {1, 8, 1, 1, 0, FALSE, NULL, "4-7"};
    g_autoptr(TopoHost) host = host_build(&s);
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed};

    GuestSpec four = {"4 vCPUs", 1, 0, 4, 1};
    g_autoptr(TopoMap) m4 = place_ok(host, &four, NULL, "4,5,6,7");
    g_autofree char *emu_text = emulator_text(m4, &ctx);
    ck_assert_str_eq(emu_text, "0-3");

    /* More vCPUs than isolated CPUs: the isolated ones first, then housekeeping ones; the
     * emulator keeps the housekeeping CPUs left. */
    GuestSpec six = {"6 vCPUs", 1, 0, 6, 1};
    g_autoptr(TopoMap) m6 = place_ok(host, &six, NULL, "4,5,6,7,1,2");
    g_autofree char *emu6_text = emulator_text(m6, &ctx);
    ck_assert_str_eq(emu6_text, "0,3");

    /* Every CPU taken: the emulator shares the housekeeping ones. */
    GuestSpec eight = {"8 vCPUs", 1, 0, 8, 1};
    g_autoptr(TopoMap) m8 = place_ok(host, &eight, NULL, "4,5,6,7,0,1,2,3");
    g_autofree char *emu8_text = emulator_text(m8, &ctx);
    ck_assert_str_eq(emu8_text, "0-3");
}
END_TEST

START_TEST(test_emulator_nodes)
{
    /* The emulator stays on the vCPUs' node and off the reserved (I/O thread) CPUs. */
    HostSpec s = {2, 4, 1, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"2 vCPUs bound to host node 0", 1, 0, 2, 1, 1, FALSE, FALSE, {1}};
    g_autoptr(TopoMap) map = place_ok(host, &g, NULL, "1,2");
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_new_single(0);
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed, .reserved = reserved};
    g_autofree char *text = emulator_text(map, &ctx);
    ck_assert_str_eq(text, "3");
}
END_TEST

static TopoHost *fixture_host(const char *name)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    g_autofree char *path =
        g_build_filename(root ? root : ".", "tests", "fixtures", "hosts", name, NULL);
    g_autoptr(GError) error = NULL;
    TopoHost *host = topo_host_read(path, &error);
    ck_assert_msg(host != NULL, "%s: %s", path, error ? error->message : "");
    return host;
}

/* --emulator-pin auto after an explicit --pin @list (vCPUs without props); returns the CPUs,
 * leaves the explain and warning lines in *@map_out. */
static char *emulator_after(const TopoHost *host, const char *list, TopoMap **map_out)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoMapSpec) spec = topo_map_spec_parse(list, &error);
    ck_assert_msg(spec != NULL, "%s", error ? error->message : "");
    g_autoptr(TopoCpuSet) cpus = parse(list);
    guint n = topo_cpuset_count(cpus);
    g_autofree TopoVcpu *v = g_new(TopoVcpu, n);
    for (guint i = 0; i < n; i++)
        v[i] = (TopoVcpu){(int)i, -1, -1, -1, -1, -1, -1};
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed};
    TopoMap *map = topo_map_compute(spec, v, n, &ctx, &error);
    ck_assert_msg(map != NULL, "--pin %s: %s", list, error ? error->message : "");
    *map_out = map;
    return emulator_text(map, &ctx);
}

START_TEST(test_emulator_fixture)
{
    /* The guest fills host node 5 (CPUs 40-47,104-111): the emulator goes to the nearest node
     * with housekeeping CPUs, node 4 (distance 12, same package; 6 and 7 are as near, 4 is the
     * lowest), not all over the host. */
    g_autoptr(TopoHost) host = fixture_host("epyc-7452-2s-nps4");
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed};
    GuestSpec full = {"2 sockets x 4 cores x 2 threads", 2, 0, 4, 2};
    g_autoptr(TopoMap) m16 =
        place_ok(host, &full, NULL, "40,104,41,105,42,106,43,107,44,108,45,109,46,110,47,111");
    g_autofree char *text = emulator_text(m16, &ctx);
    ck_assert_str_eq(text, "32-39,96-103");
    const TopoNote *emu16 = g_ptr_array_index(m16->explain, m16->explain->len - 1);
    ck_assert_int_eq(emu16->kind, TOPO_NOTE_EMULATOR);
    /* The wording docs/auto.md shows. */
    ck_assert_str_eq(emu16->text,
                     "emulator threads -> CPUs 32-39,96-103: free housekeeping CPUs of host node "
                     "4, the nearest node with some (distance 12, same package): host node 5, "
                     "where the vCPUs run, has none free");
    ck_assert_uint_eq(m16->warnings->len, 0);

    /* An explicit map on the same CPUs: the same choice. */
    g_autoptr(TopoMap) explicit_map = NULL;
    g_autofree char *explicit_emu = emulator_after(host, "40-47,104-111", &explicit_map);
    ck_assert_str_eq(explicit_emu, "32-39,96-103");

    /* One thread per guest core leaves the SMT siblings of node 5: the emulator stays on the
     * node, on those. */
    GuestSpec eight = {"1 socket x 8 cores x 1 thread", 1, 0, 8, 1};
    g_autoptr(TopoMap) m8 = place_ok(host, &eight, NULL, "40,41,42,43,44,45,46,47");
    g_autofree char *text8 = emulator_text(m8, &ctx);
    ck_assert_str_eq(text8, "104-111");

    /* Four vCPUs on four cores: the other four whole cores of the node, not the siblings. */
    GuestSpec four = {"1 socket x 4 cores x 1 thread", 1, 0, 4, 1};
    g_autoptr(TopoMap) m4 = place_ok(host, &four, NULL, "40,41,42,43");
    g_autofree char *text4 = emulator_text(m4, &ctx);
    ck_assert_str_eq(text4, "44-47,108-111");
    const TopoNote *emu4 = g_ptr_array_index(m4->explain, m4->explain->len - 1);
    ck_assert_int_eq(emu4->kind, TOPO_NOTE_EMULATOR);
    ck_assert_str_eq(emu4->text,
                     "emulator threads -> CPUs 44-47,108-111: free housekeeping CPUs of host node "
                     "5, where the vCPUs run; left out: CPUs 104-107 (SMT siblings of vCPUs)");

    /* The Slurm step of cgroup-subset-epyc-nps4 (CPUs 4-11,68-73) all given to vCPUs: the
     * emulator shares them, with a warning. */
    g_autoptr(TopoHost) step = fixture_host("cgroup-subset-epyc-nps4");
    g_autoptr(TopoMap) step_map = NULL;
    g_autofree char *step_emu = emulator_after(step, "4-11,68-73", &step_map);
    ck_assert_str_eq(step_emu, "4-11,68-73");
    ck_assert(warned_as(step_map, TOPO_NOTE_EMULATOR_SHARED,
                        "--emulator-pin auto: every allowed CPU runs a vCPU, so the "
                        "emulator threads share CPUs 4-11,68-73 with vCPUs"));
}
END_TEST

START_TEST(test_emulator_fallbacks)
{
    /* Every housekeeping CPU runs a vCPU: free isolated CPUs, with a warning. */
    HostSpec s = {1, 8, 1, 1, 0, FALSE, NULL, "4-7"};
    g_autoptr(TopoHost) host = host_build(&s);
    g_autoptr(TopoMap) map = NULL;
    g_autofree char *emu = emulator_after(host, "0-3,7", &map);
    ck_assert_str_eq(emu, "4-6");
    ck_assert(warned_as(map, TOPO_NOTE_EMULATOR_ISOLATED,
                        "every allowed housekeeping CPU runs a vCPU, so the emulator threads run "
                        "on isolated CPUs 4-6"));

    /* No distances from the kernel: among the other nodes, the one in the vCPUs' package
     * (node 3) before the lower id (node 0). 2 packages x 2 nodes x 2 cores; node 2 is CPUs
     * 4-5. */
    HostSpec flat = {2, 4, 1, 2, 0};
    flat.no_distances = TRUE;
    g_autoptr(TopoHost) flat_host = host_build(&flat);
    g_autoptr(TopoMap) flat_map = NULL;
    g_autofree char *flat_emu = emulator_after(flat_host, "4-5", &flat_map);
    ck_assert_str_eq(flat_emu, "6-7");
    ck_assert(explained(flat_map, TOPO_NOTE_EMULATOR,
                        "host node 3, the nearest node with some (same package)"));

    /* vCPUs on two nodes of different packages, both full: the node nearest either. */
    HostSpec two = {2, 4, 1, 2, 0};
    g_autoptr(TopoHost) two_host = host_build(&two);
    g_autoptr(TopoMap) two_map = NULL;
    g_autofree char *two_emu = emulator_after(two_host, "2-5", &two_map);
    ck_assert_str_eq(two_emu, "0-1");
    ck_assert(explained(two_map, TOPO_NOTE_EMULATOR,
                        "host nodes 1-2, where the vCPUs run, have none free"));
}
END_TEST

START_TEST(test_fixed_threads)
{
    /* A guest core of 4 threads on a host of 2 threads per core: two neighbouring host cores
     * and a warning. */
    HostSpec s = {1, 4, 2, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"1 core x 4 threads", 1, 0, 1, 4};
    g_autoptr(TopoMap) map = place_ok(host, &g, NULL, "0,4,1,5");
    ck_assert(warned_as(map, TOPO_NOTE_THREADS_PER_CORE,
                        "the guest has 4 threads per core but the host offers at most 2"));
}
END_TEST

START_TEST(test_memory_only_node)
{
    /* Guest memory bound to a node without CPUs (MCDRAM): the vCPUs go on the nearest node. */
    HostSpec s = {1, 4, 2, 1, 0, FALSE, NULL, NULL, 1};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"2 vCPUs bound to MCDRAM", 1, 0, 2, 1, 1, FALSE, FALSE, {2}};
    g_autoptr(TopoMap) map = place_ok(host, &g, NULL, "1,2");
    ck_assert(warned_as(map, TOPO_NOTE_BOUND_NO_CPUS, "bound to host node 1, which has no CPUs"));
}
END_TEST

START_TEST(test_no_props)
{
    /* -smp 3 without topology: each vCPU its own core. */
    HostSpec s = {1, 4, 2, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"3 vCPUs", 3, 0, 1, 1, 0, FALSE, TRUE};
    g_autoptr(TopoMap) map = place_ok(host, &g, NULL, "1,2,3");
    ck_assert(explained(map, TOPO_NOTE_GUEST, "without -smp topology"));
}
END_TEST

START_TEST(test_fixed_epyc_fixture)
{
    /* EPYC 7452 x 2, NPS4: a 4-core guest fits one node; node 5 (socket 1, CPUs 40-47 and
     * 104-111) has the most free memory; one CCX of it holds the guest. */
    g_autoptr(TopoHost) host = fixture_host("epyc-7452-2s-nps4");
    GuestSpec four = {"1 socket x 4 cores x 2 threads", 1, 0, 4, 2};
    g_autoptr(TopoMap) m4 = place_ok(host, &four, NULL, "40,104,41,105,42,106,43,107");
    ck_assert(explained(m4, TOPO_NOTE_NODE_PLACED, "-> host node 5 (chosen: 8 free cores"));
    ck_assert(explained(m4, TOPO_NOTE_SOCKET_PLACED, "LLC 40-43,104-107 -> CPUs 40-43,104-107"));

    /* Two guest nodes of 8 cores: two host nodes of one socket, nearest each other. */
    GuestSpec two = {"2 sockets x 8 cores x 2 threads, 2 nodes", 2, 0, 8, 2, 2, TRUE};
    g_autoptr(TopoMap) m2 = place_ok(host, &two, NULL,
                                     "40,104,41,105,42,106,43,107,44,108,45,109,46,110,47,111,"
                                     "48,112,49,113,50,114,51,115,52,116,53,117,54,118,55,119");

    /* The Slurm step of cgroup-subset-epyc-nps4 (CPUs 4-11,68-73): 6 guest cores need both
     * nodes; the partial cores 10 and 11 stay unused, as guest cores need two threads. */
    g_autoptr(TopoHost) step = fixture_host("cgroup-subset-epyc-nps4");
    GuestSpec six = {"1 socket x 6 cores x 2 threads", 1, 0, 6, 2};
    g_autoptr(TopoMap) m6 = place_ok(step, &six, NULL, "4,68,5,69,6,70,7,71,8,72,9,73");
    /* With one thread per core the partial cores are used too, in order. */
    GuestSpec eight = {"1 socket x 8 cores x 1 thread", 1, 0, 8, 1};
    g_autoptr(TopoMap) m8 = place_ok(step, &eight, NULL, "4,5,6,7,8,9,10,11");
}
END_TEST

START_TEST(test_fixed_knl_seed)
{
    /* The seed guest (1 socket x 60 cores x 4 threads) on the Xeon Phi 7250: auto placement
     * finds the hand-written map of the seed, expr:2 + v/4 + v%4*68 (the tiles after the boot
     * CPU's, each guest core on the four threads of one host core). */
    g_autoptr(TopoHost) host = fixture_host("xeon-phi-7250");
    GuestSpec seed = {"1 socket x 60 cores x 4 threads", 1, 0, 60, 4};
    GString *expect = g_string_new(NULL);
    for (int v = 0; v < 240; v++)
        g_string_append_printf(expect, "%s%d", v ? "," : "", 2 + v / 4 + v % 4 * 68);
    g_autoptr(TopoMap) map = place_ok(host, &seed, NULL, expect->str);
    g_string_free(expect, TRUE);
}
END_TEST

START_TEST(test_fixed_isolated_fixture)
{
    /* EPYC 7313P with cores 4-15 isolated: a 4-core guest gets a whole isolated CCX of the
     * node with the most free memory (node 1: CPUs 8-15, 24-31); the emulator goes to the
     * housekeeping CPUs. */
    g_autoptr(TopoHost) host = fixture_host("epyc-7313p-nps2-isolated");
    GuestSpec four = {"1 socket x 4 cores x 2 threads", 1, 0, 4, 2};
    g_autoptr(TopoMap) m4 = place_ok(host, &four, NULL, "8,24,9,25,10,26,11,27");
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed};
    g_autofree char *emu_text = emulator_text(m4, &ctx);
    /* Node 1 has no housekeeping CPU: the nearest ones are node 0's. */
    ck_assert_str_eq(emu_text, "0-3,16-19");

    /* With the isolated CPUs reserved, the guest lands on the housekeeping CCX. */
    g_autoptr(TopoCpuSet) reserved = parse("4-15,20-31");
    g_autoptr(TopoMap) mr = place_ok(host, &four, reserved, "0,16,1,17,2,18,3,19");

    /* Twelve cores: every isolated core, across both nodes. */
    GuestSpec twelve = {"1 socket x 12 cores x 2 threads", 1, 0, 12, 2};
    g_autoptr(TopoMap) m12 = place_ok(host, &twelve, NULL,
                                      "4,20,5,21,6,22,7,23,8,24,9,25,10,26,11,27,12,28,13,29,"
                                      "14,30,15,31");
}
END_TEST

/* ---- errors and overcommit ---- */

static char *place_error(const TopoHost *host, const GuestSpec *gs, const TopoCpuSet *reserved,
                         gboolean overcommit)
{
    guint n;
    g_autofree TopoVcpu *v = guest_build(gs, &n);
    g_autoptr(GPtrArray) binding = binding_build(gs);
    TopoPlaceCtx ctx = {.host = host,
                        .allowed = host->cpus_allowed,
                        .reserved = reserved,
                        .node_binding = binding,
                        .allow_overcommit = overcommit};
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoMap) map = topo_place_auto(v, n, &ctx, &error);
    ck_assert_msg(map == NULL, "%s: placed", gs->name);
    ck_assert(g_error_matches(error, TOPO_ERROR, TOPO_ERROR_NOFIT));
    return g_strdup(error->message);
}

#define ck_assert_has(text, part)                                                                  \
    ck_assert_msg(strstr((text), (part)) != NULL, "\"%s\" lacks \"%s\"", (text), (part))

START_TEST(test_nofit_cpus)
{
    HostSpec s = {1, 2, 1, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"4 vCPUs", 4, 0, 1, 1, 0, FALSE, TRUE};
    g_autofree char *msg = place_error(host, &g, NULL, FALSE);
    ck_assert_has(msg, "needs 4 host CPUs (one per vCPU) but only 2 are available (allowed CPUs "
                       "0-1)");
    ck_assert_has(msg, "--allow-overcommit");
}
END_TEST

START_TEST(test_nofit_reserved)
{
    HostSpec s = {1, 4, 1, 1, 0, FALSE, "0-2"};
    g_autoptr(TopoHost) host = host_build(&s);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_new_single(0);
    GuestSpec g = {"3 vCPUs", 1, 0, 3, 1};
    g_autofree char *msg = place_error(host, &g, reserved, FALSE);
    ck_assert_has(msg, "needs 3 host CPUs (one per vCPU) but only 2 are available (allowed CPUs "
                       "0-2, minus reserved CPUs 0)");
}
END_TEST

START_TEST(test_nofit_cores)
{
    /* Enough CPUs, but guest cores do not share host cores: the hint names threads=2. */
    HostSpec s = {1, 2, 2, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"4 cores x 1 thread", 1, 0, 4, 1};
    g_autofree char *msg = place_error(host, &g, NULL, FALSE);
    ck_assert_has(msg, "needs 4 host CPUs on 4 whole host cores");
    ck_assert_has(msg, "only 4 CPUs on 2 free cores are left (allowed CPUs 0-3)");
    ck_assert_has(msg, "threads=2");
}
END_TEST

START_TEST(test_nofit_bound)
{
    HostSpec s = {2, 4, 1, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"5 vCPUs bound to host node 1", 1, 0, 5, 1, 1, FALSE, FALSE, {2}};
    g_autofree char *msg = place_error(host, &g, NULL, FALSE);
    ck_assert_has(msg, "guest node 0 (5 cores x 1 thread, vCPUs 0-4) needs 5 host CPUs");
    ck_assert_has(msg, "only 4 CPUs on 4 free cores are left (allowed CPUs 0-7, on host node 1 "
                       "where its memory is bound)");
    ck_assert_has(msg, "bind it to more host nodes");
}
END_TEST

START_TEST(test_nofit_bound_not_allowed)
{
    /* Memory bound to a node none of whose CPUs are allowed: no overcommit helps. */
    HostSpec s = {2, 4, 1, 1, 0, FALSE, "0-3"};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"1 vCPU bound to host node 1", 1, 0, 1, 1, 1, FALSE, FALSE, {2}};
    g_autofree char *msg = place_error(host, &g, NULL, FALSE);
    ck_assert_has(msg, "only 0 CPUs on 0 free cores are left (allowed CPUs 0-3, on host node 1");
    g_autofree char *shared = place_error(host, &g, NULL, TRUE);
    ck_assert_has(shared, "guest node 0 has no CPU to run on: host node 1 where its memory is "
                          "bound has none of the allowed CPUs 0-3");
}
END_TEST

START_TEST(test_nofit_nothing_allowed)
{
    HostSpec s = {1, 2, 1, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    g_autoptr(TopoCpuSet) reserved = parse("0-1");
    GuestSpec g = {"1 vCPU", 1, 0, 1, 1};
    g_autofree char *msg = place_error(host, &g, reserved, TRUE);
    ck_assert_has(msg, "but only 0 are available (allowed CPUs 0-1, minus reserved CPUs 0-1)");
}
END_TEST

START_TEST(test_overcommit)
{
    HostSpec s = {1, 2, 1, 1, 0};
    g_autoptr(TopoHost) host = host_build(&s);
    GuestSpec g = {"4 vCPUs", 1, 0, 4, 1};
    guint n;
    g_autofree TopoVcpu *v = guest_build(&g, &n);
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed, .allow_overcommit = TRUE};
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoMap) map = place_checked("overcommit 4 on 2", v, n, &ctx, &error);
    ck_assert_ptr_nonnull(map);
    g_autofree char *text = map_text(map);
    ck_assert_str_eq(text, "0,0,1,1");
    ck_assert(warned_as(map, TOPO_NOTE_OVERCOMMIT,
                        "needs 4 host CPUs (one per vCPU) but only 2 are available"));
    ck_assert(warned_as(map, TOPO_NOTE_OVERCOMMIT_CPUS, "up to 2 vCPUs share one host CPU"));

    /* Enough CPUs but not enough cores: distinct CPUs, sharing cores, in topology order. */
    HostSpec s2 = {1, 2, 2, 1, 0};
    g_autoptr(TopoHost) host2 = host_build(&s2);
    TopoPlaceCtx ctx2 = {.host = host2, .allowed = host2->cpus_allowed, .allow_overcommit = TRUE};
    g_autoptr(TopoMap) map2 = place_checked("overcommit cores", v, n, &ctx2, &error);
    ck_assert_ptr_nonnull(map2);
    g_autofree char *text2 = map_text(map2);
    ck_assert_str_eq(text2, "0,2,1,3");
    ck_assert(warned_as(map2, TOPO_NOTE_OVERCOMMIT_CORES,
                        "2 host cores run threads of more than one guest core"));
}
END_TEST

/* ---- random hosts ---- */

static int pick(GRand *r, int lo, int hi)
{
    return g_rand_int_range(r, lo, hi + 1);
}

static int divisor(GRand *r, int n)
{
    int d;
    do
        d = pick(r, 1, MIN(n, 4));
    while (n % d);
    return d;
}

START_TEST(test_random)
{
    const char *env = g_getenv("QPIN_AUTO_SEED");
    guint32 seed = (env ? (guint32)g_ascii_strtoull(env, NULL, 10) : 20240601u) + (guint32)_i;
    g_autoptr(GRand) r = g_rand_new_with_seed(seed);

    HostSpec s = {0};
    s.packages = pick(r, 1, 4);
    s.cores = pick(r, 1, 12);
    s.threads = pick(r, 1, 10) <= 3 ? 1 : pick(r, 2, 4);
    s.nodes = divisor(r, s.cores);
    s.llc_cores = pick(r, 0, 1) ? 0 : divisor(r, s.cores);
    s.adjacent = pick(r, 0, 1);
    s.memory_only_nodes = pick(r, 1, 6) == 1;
    s.no_distances = pick(r, 1, 4) == 1;
    int n_cpus = s.packages * s.cores * s.threads;

    g_autoptr(GString) allowed = g_string_new(NULL);
    g_autoptr(GString) isolated = g_string_new(NULL);
    if (pick(r, 0, 1)) {
        int keep = pick(r, 30, 90);
        for (int c = 0; c < n_cpus; c++)
            if (pick(r, 0, 99) < keep)
                g_string_append_printf(allowed, "%s%d", allowed->len ? "," : "", c);
        if (!allowed->len)
            g_string_append_printf(allowed, "%d", pick(r, 0, n_cpus - 1));
        s.allowed = allowed->str;
    }
    if (pick(r, 0, 2) == 0) {
        int a = pick(r, 0, n_cpus - 1), b = pick(r, a, n_cpus - 1);
        g_string_append_printf(isolated, "%d-%d", a, b);
        s.isolated = isolated->str;
    }
    g_autoptr(TopoHost) host = host_build(&s);
    g_autoptr(TopoCpuSet) reserved = NULL;
    if (pick(r, 0, 3) == 0) {
        reserved = topo_cpuset_new();
        for (int k = pick(r, 1, 2); k > 0; k--)
            topo_cpuset_add(reserved, pick(r, 0, n_cpus - 1));
    }

    GuestSpec g = {"random"};
    g.sockets = pick(r, 1, 3);
    g.dies = pick(r, 0, 3) == 0 ? pick(r, 1, 2) : 0;
    g.cores = pick(r, 1, 6);
    g.threads = pick(r, 1, 10) <= 5 ? 1 : pick(r, 2, 3);
    g.nodes = pick(r, 0, 1) ? 0 : pick(r, 1, 3);
    g.by_socket = pick(r, 0, 1);
    g.no_props = pick(r, 1, 10) == 1;
    if (g.no_props)
        g.threads = 1;
    int host_nodes = (int)host->nodes->len;
    for (int k = 0; k < MAX(g.nodes, 1) && k < 4; k++)
        if (g.nodes > 0 && pick(r, 0, 2) == 0)
            g.bind[k] = pick(r, 1, host_nodes);

    g_autofree char *res_text = reserved ? topo_cpuset_format(reserved) : g_strdup("none");
    g_autofree char *hostname = g_strdup_printf(
        "random seed %u: %dx%dx%d, %d nodes/pkg, llc %d, %s, +%d memory-only%s, allowed %s, "
        "isolated %s, reserved %s",
        seed, s.packages, s.cores, s.threads, s.nodes, s.llc_cores,
        s.adjacent ? "adjacent" : "thread-major", s.memory_only_nodes,
        s.no_distances ? ", no distances" : "", s.allowed ? s.allowed : "all",
        s.isolated ? s.isolated : "none", res_text);
    g_autofree char *gname = g_strdup_printf(
        "%dx%dx%dx%d, %d nodes%s%s, bind %d,%d,%d", g.sockets, MAX(g.dies, 1), g.cores, g.threads,
        g.nodes, g.by_socket ? " by socket" : "", g.no_props ? ", no props" : "", g.bind[0] - 1,
        g.bind[1] - 1, g.bind[2] - 1);
    g.name = gname;
    run_case(hostname, host, &g, reserved);

    /* An explicit map with --emulator-pin auto: the vCPUs on every allowed CPU of one host node
     * (so that the emulator has to look further) and sometimes on a few more. */
    g_autoptr(TopoCpuSet) pinned = topo_cpuset_new();
    const TopoNode *node = g_ptr_array_index(host->nodes, pick(r, 0, host_nodes - 1));
    topo_cpuset_union(pinned, node->cpus);
    topo_cpuset_intersect(pinned, host->cpus_allowed);
    for (int k = pick(r, 0, 1) ? pick(r, 1, 3) : 0; k > 0; k--) {
        int c = pick(r, 0, n_cpus - 1);
        if (topo_cpuset_has(host->cpus_allowed, c))
            topo_cpuset_add(pinned, c);
    }
    if (topo_cpuset_is_empty(pinned))
        return;
    g_autofree char *list = topo_cpuset_format(pinned);
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoMapSpec) spec = topo_map_spec_parse(list, &error);
    ck_assert_msg(spec != NULL, "%s", error ? error->message : "");
    guint n = topo_cpuset_count(pinned);
    g_autofree TopoVcpu *v = g_new(TopoVcpu, n);
    for (guint i = 0; i < n; i++)
        v[i] = (TopoVcpu){(int)i, -1, -1, -1, -1, -1, -1};
    TopoPlaceCtx ctx = {.host = host, .allowed = host->cpus_allowed, .reserved = reserved};
    g_autoptr(TopoMap) map = topo_map_compute(spec, v, n, &ctx, &error);
    ck_assert_msg(map != NULL, "%s, --pin %s: %s", hostname, list, error ? error->message : "");
    g_autofree char *label = g_strdup_printf("%s, --pin %s", hostname, list);
    check_emulator(label, &ctx, map);
}
END_TEST

/* ---- fixture hosts ---- */

static GPtrArray *fixtures;

static gint path_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *fixture_list(void)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    g_autofree char *dir = g_build_filename(root ? root : ".", "tests", "fixtures", "hosts", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add(names, g_steal_pointer(&path));
    }
    g_ptr_array_sort(names, path_cmp);
    return names;
}

START_TEST(test_fixture)
{
    const char *path = g_ptr_array_index(fixtures, _i);
    g_autofree char *name = g_path_get_basename(path);
    g_autoptr(GError) error = NULL;
    g_autoptr(TopoHost) host = topo_host_read(path, &error);
    ck_assert_msg(host != NULL, "%s: %s", path, error ? error->message : "");
    run_all_shapes(name, host, NULL);
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_new_single(topo_cpuset_first(host->cpus_allowed));
    g_autofree char *rname = g_strdup_printf("%s, first allowed CPU reserved", name);
    run_all_shapes(rname, host, reserved);
}
END_TEST

START_TEST(test_fixtures_present)
{
    /* The seed hosts must be there: an empty fixture directory would check nothing. */
    const char *want[] = {"xeon-phi-7250", "xeon-gold-6148-2s", "offline-isolated"};
    for (guint k = 0; k < G_N_ELEMENTS(want); k++) {
        gboolean found = FALSE;
        for (guint i = 0; i < fixtures->len; i++) {
            g_autofree char *base = g_path_get_basename(g_ptr_array_index(fixtures, i));
            found |= !strcmp(base, want[k]);
        }
        ck_assert_msg(found, "fixture host %s is missing", want[k]);
    }
}
END_TEST

static Suite *auto_suite(void)
{
    Suite *s = suite_create("auto");
    TCase *tc = tcase_create("fixed");
    tcase_add_test(tc, test_fixed_two_sockets);
    tcase_add_test(tc, test_fixed_epyc_llc);
    tcase_add_test(tc, test_fixed_nearest_node);
    tcase_add_test(tc, test_fixed_isolated);
    tcase_add_test(tc, test_emulator_nodes);
    tcase_add_test(tc, test_emulator_fixture);
    tcase_add_test(tc, test_emulator_fallbacks);
    tcase_add_test(tc, test_fixed_threads);
    tcase_add_test(tc, test_memory_only_node);
    tcase_add_test(tc, test_no_props);
    tcase_add_test(tc, test_fixed_epyc_fixture);
    tcase_add_test(tc, test_fixed_isolated_fixture);
    tcase_add_test(tc, test_fixed_knl_seed);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_nofit_cpus);
    tcase_add_test(tc, test_nofit_reserved);
    tcase_add_test(tc, test_nofit_cores);
    tcase_add_test(tc, test_nofit_bound);
    tcase_add_test(tc, test_nofit_bound_not_allowed);
    tcase_add_test(tc, test_nofit_nothing_allowed);
    tcase_add_test(tc, test_overcommit);
    suite_add_tcase(s, tc);

    tc = tcase_create("invariants");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_memory_host, 0, G_N_ELEMENTS(memory_hosts));
    tcase_add_loop_test(tc, test_random, 0, 300);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fixtures_present);
    if (fixtures->len)
        tcase_add_loop_test(tc, test_fixture, 0, (int)fixtures->len);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fixtures = fixture_list();
    return qpin_check_run(auto_suite());
}
