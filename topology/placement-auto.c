/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — automatic topology-aware placement (--pin auto, --emulator-pin auto).
 *
 * The guest is what QEMU reports (socket, die, cluster, core, thread and node props); the host is
 * topology/host.h. Placement works top-down: a guest node gets host node(s), each guest socket (or
 * die) of it one host package and the fewest last-level-cache groups it fits in, each guest core
 * one whole host core and each guest thread one SMT sibling of that core. Every choice is a greedy
 * pick over a total order, so the map is a pure function of the inputs. docs/auto.md states the
 * rules from the user's side.
 */
#include <qpin/placement.h>

#include <string.h>

/* How well a set of guest cores fits an ordered list of host cores. */
enum {
    FIT_NONE,  /* not enough room */
    FIT_SPLIT, /* fits, but some guest core that could have one host core is spread over several */
    FIT_WHOLE, /* every guest core on one whole host core (or the fewest, when it has more threads
                  than a host core) */
};

typedef struct {
    int package;
    int node;
    int llc;        /* lowest online CPU of its last-level cache */
    GArray *cpus;   /* int: candidate CPUs (allowed, online, not reserved), ascending */
    gboolean quiet; /* every candidate CPU is isolated or nohz_full */
    gboolean boot;  /* holds CPU 0 */
    gboolean used;  /* given to a guest core */
} HostCore;

typedef struct {
    int node;
    int socket;
    int die;
    int cluster;
    int core;
    GArray *vcpus; /* guint: positions in the vcpus array, by thread */
    GArray *hosts; /* guint: HostCore indexes given to this core, in order */
} GuestCore;

typedef struct {
    int id;           /* guest node id, -1 when QEMU reports none */
    GPtrArray *cores; /* GuestCore* (borrowed), in guest order */
    guint n_vcpus;
    TopoCpuSet *bound;  /* host nodes its memory is bound to, NULL when unbound */
    TopoCpuSet *scope;  /* host nodes its vCPUs must use when bound */
    TopoCpuSet *placed; /* host nodes its vCPUs were given */
} GuestNode;

typedef struct {
    const TopoHost *host;
    const TopoPlaceCtx *ctx;
    const TopoVcpu *vcpus;
    guint n_vcpus;
    const TopoCpuSet *allowed;
    TopoCpuSet *cand;      /* allowed ∩ online − reserved */
    TopoCpuSet *quiet;     /* isolated ∪ nohz_full */
    GPtrArray *hcores;     /* HostCore*, ascending lowest CPU */
    guint host_tpc;        /* most candidate threads of a host core */
    guint host_tpc_online; /* most online threads of a host core */
    GPtrArray *gcores;     /* GuestCore*, guest order */
    GPtrArray *gnodes;     /* GuestNode*, processing order */
    guint guest_tpc;
    gboolean guest_dies; /* some guest socket has more than one die */
    gboolean iso_only;   /* this pass only takes isolated cores */
    guint degraded;      /* splits and spreads so far */
    int *cpu_of;         /* the result: host CPU of each vCPU position */
    GPtrArray *explain;
    GPtrArray *warnings;
} Placer;

static void host_core_free(gpointer data)
{
    HostCore *hc = data;
    g_array_unref(hc->cpus);
    g_free(hc);
}

static void guest_core_free(gpointer data)
{
    GuestCore *gc = data;
    g_array_unref(gc->vcpus);
    g_array_unref(gc->hosts);
    g_free(gc);
}

static void guest_node_free(gpointer data)
{
    GuestNode *g = data;
    g_ptr_array_unref(g->cores);
    topo_cpuset_free(g->bound);
    topo_cpuset_free(g->scope);
    topo_cpuset_free(g->placed);
    g_free(g);
}

static void placer_free(Placer *p)
{
    if (!p)
        return;
    topo_cpuset_free(p->cand);
    topo_cpuset_free(p->quiet);
    if (p->hcores)
        g_ptr_array_unref(p->hcores);
    if (p->gnodes)
        g_ptr_array_unref(p->gnodes);
    if (p->gcores)
        g_ptr_array_unref(p->gcores);
    g_free(p->cpu_of);
    if (p->explain)
        g_ptr_array_unref(p->explain);
    if (p->warnings)
        g_ptr_array_unref(p->warnings);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Placer, placer_free)

static HostCore *hcore(const Placer *p, guint i)
{
    return g_ptr_array_index(p->hcores, i);
}

static guint idx_at(GArray *a, guint i)
{
    return g_array_index(a, guint, i);
}

static void add_note(GPtrArray *notes, TopoNoteKind kind, const char *fmt, va_list ap)
    G_GNUC_PRINTF(3, 0);
static void add_note(GPtrArray *notes, TopoNoteKind kind, const char *fmt, va_list ap)
{
    TopoNote *note = g_new0(TopoNote, 1);
    note->kind = kind;
    note->text = g_strdup_vprintf(fmt, ap);
    g_ptr_array_add(notes, note);
}

static void explain(Placer *p, TopoNoteKind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void explain(Placer *p, TopoNoteKind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(p->explain, kind, fmt, ap);
    va_end(ap);
}

static void warn(Placer *p, TopoNoteKind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void warn(Placer *p, TopoNoteKind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(p->warnings, kind, fmt, ap);
    va_end(ap);
}

static const char *plural(guint n)
{
    return n == 1 ? "" : "s";
}

/* ---- the host: cores with their candidate CPUs ---- */

static void build_host(Placer *p)
{
    const TopoHost *host = p->host;
    g_autoptr(GHashTable) by_first = g_hash_table_new(g_direct_hash, g_direct_equal);

    p->hcores = g_ptr_array_new_with_free_func(host_core_free);
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        g_autoptr(TopoCpuSet) sib =
            cpu->siblings ? topo_cpuset_copy(cpu->siblings) : topo_cpuset_new();
        topo_cpuset_intersect(sib, host->online);
        topo_cpuset_add(sib, cpu->cpu);
        int first = topo_cpuset_first(sib);

        gpointer found;
        HostCore *hc;
        if (g_hash_table_lookup_extended(by_first, GINT_TO_POINTER(first), NULL, &found)) {
            hc = hcore(p, GPOINTER_TO_UINT(found));
        } else {
            hc = g_new0(HostCore, 1);
            hc->package = cpu->package;
            hc->node = MAX(cpu->node, 0);
            hc->llc = cpu->cpu;
            if (cpu->llc) {
                g_autoptr(TopoCpuSet) llc = topo_cpuset_copy(cpu->llc);
                topo_cpuset_intersect(llc, host->online);
                if (!topo_cpuset_is_empty(llc))
                    hc->llc = topo_cpuset_first(llc);
            }
            hc->cpus = g_array_new(FALSE, FALSE, sizeof(int));
            hc->quiet = TRUE;
            hc->boot = topo_cpuset_has(sib, 0);
            g_hash_table_insert(by_first, GINT_TO_POINTER(first), GUINT_TO_POINTER(p->hcores->len));
            g_ptr_array_add(p->hcores, hc);
        }
        if (topo_cpuset_has(p->cand, cpu->cpu)) {
            g_array_append_val(hc->cpus, cpu->cpu);
            if (!topo_cpuset_has(p->quiet, cpu->cpu))
                hc->quiet = FALSE;
        }
        p->host_tpc_online = MAX(p->host_tpc_online, topo_cpuset_count(sib));
    }
    for (guint i = 0; i < p->hcores->len; i++) {
        HostCore *hc = hcore(p, i);
        if (hc->cpus->len == 0)
            hc->quiet = FALSE;
        p->host_tpc = MAX(p->host_tpc, hc->cpus->len);
    }
}

/* ---- the guest: cores and nodes from QEMU's props ---- */

static gint vcpu_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const TopoVcpu *v = data;
    guint ia = *(const guint *)a, ib = *(const guint *)b;
    const TopoVcpu *x = &v[ia], *y = &v[ib];
    const int kx[] = {x->node, x->socket, x->die, x->cluster, x->core, x->thread, x->index};
    const int ky[] = {y->node, y->socket, y->die, y->cluster, y->core, y->thread, y->index};
    for (guint i = 0; i < G_N_ELEMENTS(kx); i++)
        if (kx[i] != ky[i])
            return kx[i] < ky[i] ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

/* Threads of one core: same node, socket, die, cluster and core. Without a core prop (no -smp
 * topology) every vCPU is its own core. */
static gboolean same_core(const TopoVcpu *x, const TopoVcpu *y)
{
    return x->core >= 0 && x->node == y->node && x->socket == y->socket && x->die == y->die &&
           x->cluster == y->cluster && x->core == y->core;
}

static void build_guest(Placer *p)
{
    g_autoptr(GArray) order = g_array_sized_new(FALSE, FALSE, sizeof(guint), p->n_vcpus);
    for (guint i = 0; i < p->n_vcpus; i++)
        g_array_append_val(order, i);
    g_array_sort_with_data(order, vcpu_cmp, (gpointer)p->vcpus);

    p->gcores = g_ptr_array_new_with_free_func(guest_core_free);
    GuestCore *gc = NULL;
    for (guint k = 0; k < order->len; k++) {
        guint i = idx_at(order, k);
        const TopoVcpu *v = &p->vcpus[i];
        if (!gc || !same_core(&p->vcpus[idx_at(gc->vcpus, 0)], v)) {
            gc = g_new0(GuestCore, 1);
            gc->node = v->node;
            gc->socket = v->socket;
            gc->die = v->die;
            gc->cluster = v->cluster;
            gc->core = v->core;
            gc->vcpus = g_array_new(FALSE, FALSE, sizeof(guint));
            gc->hosts = g_array_new(FALSE, FALSE, sizeof(guint));
            g_ptr_array_add(p->gcores, gc);
        }
        g_array_append_val(gc->vcpus, i);
        p->guest_tpc = MAX(p->guest_tpc, gc->vcpus->len);
        if (v->die > 0)
            p->guest_dies = TRUE;
    }

    g_autoptr(GPtrArray) nodes = g_ptr_array_new();
    GuestNode *g = NULL;
    for (guint k = 0; k < p->gcores->len; k++) {
        gc = g_ptr_array_index(p->gcores, k);
        if (!g || g->id != gc->node) {
            g = g_new0(GuestNode, 1);
            g->id = gc->node;
            g->cores = g_ptr_array_new();
            g_ptr_array_add(nodes, g);
        }
        g_ptr_array_add(g->cores, gc);
        g->n_vcpus += gc->vcpus->len;
    }

    const GPtrArray *binding = p->ctx->node_binding;
    for (guint k = 0; k < nodes->len; k++) {
        g = g_ptr_array_index(nodes, k);
        if (g->id >= 0 && binding && (guint)g->id < binding->len) {
            const TopoCpuSet *b = g_ptr_array_index(binding, g->id);
            if (b && !topo_cpuset_is_empty(b))
                g->bound = topo_cpuset_copy(b);
        }
    }

    /* Bound guest nodes first (they have no choice), then the largest unbound ones. */
    p->gnodes = g_ptr_array_new_with_free_func(guest_node_free);
    for (guint k = 0; k < nodes->len; k++) {
        g = g_ptr_array_index(nodes, k);
        if (g->bound)
            g_ptr_array_add(p->gnodes, g);
    }
    for (;;) {
        GuestNode *best = NULL;
        for (guint k = 0; k < nodes->len; k++) {
            g = g_ptr_array_index(nodes, k);
            if (g && !g->bound && (!best || g->n_vcpus > best->n_vcpus))
                best = g;
        }
        if (!best)
            break;
        g_ptr_array_add(p->gnodes, best);
        for (guint k = 0; k < nodes->len; k++)
            if (g_ptr_array_index(nodes, k) == best)
                nodes->pdata[k] = NULL;
    }
}

static char *vcpu_list(const Placer *p, GPtrArray *cores)
{
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    for (guint k = 0; k < cores->len; k++) {
        GuestCore *gc = g_ptr_array_index(cores, k);
        for (guint j = 0; j < gc->vcpus->len; j++)
            topo_cpuset_add(set, p->vcpus[idx_at(gc->vcpus, j)].index);
    }
    return topo_cpuset_describe(set, FALSE, "none");
}

static guint cores_threads(GPtrArray *cores)
{
    guint t = 0;
    for (guint k = 0; k < cores->len; k++) {
        GuestCore *gc = g_ptr_array_index(cores, k);
        t = MAX(t, gc->vcpus->len);
    }
    return t;
}

/* "4 cores x 2 threads, vCPUs 0-7" */
static char *cores_shape(const Placer *p, GPtrArray *cores)
{
    g_autofree char *list = vcpu_list(p, cores);
    guint t = cores_threads(cores);
    return g_strdup_printf("%u core%s x %u thread%s, vCPU%s %s", cores->len, plural(cores->len), t,
                           plural(t), strpbrk(list, ",-") ? "s" : "", list);
}

static char *node_label(const Placer *p, const GuestNode *g)
{
    if (g->id < 0)
        return g_strdup("the guest");
    return g_strdup_printf("guest node %d", g->id);
}

static char *unit_label(const Placer *p, const GuestNode *g, const GuestCore *gc)
{
    GString *s = g_string_new("guest ");
    if (g->id >= 0 && p->gnodes->len > 1)
        g_string_append_printf(s, "node %d ", g->id);
    if (gc->socket >= 0) {
        g_string_append_printf(s, "socket %d", gc->socket);
        if (p->guest_dies && gc->die >= 0)
            g_string_append_printf(s, " die %d", gc->die);
    } else {
        g_string_append(s, "vCPUs");
    }
    return g_string_free(s, FALSE);
}

/* ---- fitting guest cores onto host cores ---- */

/* Gives each guest core of @gcs host cores from @order (HostCore indexes, all free): first a
 * whole core each, best fit so that partial cores of a cgroup-confined set go to guest cores
 * with fewer threads; then guest cores left over (more threads than any host core, or no whole
 * core left) take consecutive cores of @order until they have enough threads. */
static int assign(Placer *p, GPtrArray *gcs, GArray *order, gboolean commit)
{
    guint no = order->len, ng = gcs->len;
    g_autofree gboolean *taken = g_new0(gboolean, no + 1);
    g_autofree gboolean *done = g_new0(gboolean, ng + 1);
    g_autoptr(GArray) picks = g_array_new(FALSE, FALSE, sizeof(guint) * 2);
    gboolean split = FALSE;

    for (guint i = 0; i < ng; i++) {
        GuestCore *gc = g_ptr_array_index(gcs, i);
        guint t = gc->vcpus->len, best = G_MAXUINT;
        if (t > p->host_tpc)
            continue;
        for (guint j = 0; j < no; j++) {
            const HostCore *hc = hcore(p, idx_at(order, j));
            if (taken[j] || hc->cpus->len < t)
                continue;
            const HostCore *b = best == G_MAXUINT ? NULL : hcore(p, idx_at(order, best));
            if (!b || hc->cpus->len < b->cpus->len ||
                (hc->cpus->len == b->cpus->len && b->boot && !hc->boot))
                best = j;
        }
        if (best != G_MAXUINT) {
            taken[best] = done[i] = TRUE;
            guint pair[2] = {i, best};
            g_array_append_val(picks, pair);
        }
    }
    /* Best fit chose which host cores; among guest cores of equal thread count, hand them out
     * in host order so that guest core 0 gets the first of them (maps read in order). */
    for (guint a = 0; commit && a < picks->len; a++)
        for (guint b = a + 1; b < picks->len; b++) {
            guint *pa = &g_array_index(picks, guint, 2 * a);
            guint *pb = &g_array_index(picks, guint, 2 * b);
            GuestCore *ga = g_ptr_array_index(gcs, pa[0]), *gb = g_ptr_array_index(gcs, pb[0]);
            if (ga->vcpus->len == gb->vcpus->len && pb[1] < pa[1]) {
                guint tmp = pa[1];
                pa[1] = pb[1];
                pb[1] = tmp;
            }
        }
    guint j = 0;
    for (guint i = 0; i < ng; i++) {
        GuestCore *gc = g_ptr_array_index(gcs, i);
        if (done[i])
            continue;
        guint need = gc->vcpus->len;
        if (need <= p->host_tpc)
            split = TRUE;
        while (need > 0) {
            while (j < no && taken[j])
                j++;
            if (j == no)
                return FIT_NONE;
            guint have = hcore(p, idx_at(order, j))->cpus->len;
            taken[j] = TRUE;
            guint pair[2] = {i, j};
            g_array_append_val(picks, pair);
            need -= MIN(need, have);
        }
    }
    if (commit) {
        for (guint k = 0; k < picks->len; k++) {
            const guint *pair = &g_array_index(picks, guint, 2 * k);
            GuestCore *gc = g_ptr_array_index(gcs, pair[0]);
            guint h = idx_at(order, pair[1]);
            hcore(p, h)->used = TRUE;
            g_array_append_val(gc->hosts, h);
        }
    }
    return split ? FIT_SPLIT : FIT_WHOLE;
}

/* Free host cores (indexes) on @nodes (NULL: any node), isolated ones only in the isolated pass. */
static GArray *eligible(const Placer *p, const TopoCpuSet *nodes)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < p->hcores->len; i++) {
        HostCore *hc = hcore(p, i);
        if (hc->used || hc->cpus->len == 0 || (p->iso_only && !hc->quiet) ||
            (nodes && !topo_cpuset_has(nodes, hc->node)))
            continue;
        g_array_append_val(a, i);
    }
    return a;
}

typedef enum { BY_NODE, BY_PACKAGE, BY_LLC } HostLevel;

static gint int_cmp(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static int level_of(const HostCore *hc, HostLevel level)
{
    return level == BY_NODE ? hc->node : level == BY_PACKAGE ? hc->package : hc->llc;
}

/* The distinct node/package/LLC ids of @cores, ascending. */
static GArray *distinct(const Placer *p, GArray *cores, HostLevel level)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint k = 0; k < cores->len; k++) {
        int id = level_of(hcore(p, idx_at(cores, k)), level);
        gboolean seen = FALSE;
        for (guint m = 0; m < ids->len && !seen; m++)
            seen = g_array_index(ids, int, m) == id;
        if (!seen)
            g_array_append_val(ids, id);
    }
    g_array_sort(ids, int_cmp);
    return g_steal_pointer(&ids);
}

/* The members of @cores whose node/package/LLC is @id. */
static GArray *filter(const Placer *p, GArray *cores, HostLevel level, int id)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint k = 0; k < cores->len; k++) {
        guint h = idx_at(cores, k);
        if (level_of(hcore(p, h), level) == id)
            g_array_append_val(a, h);
    }
    return a;
}

/* Isolated cores first, then host order. */
static gint core_pref_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const Placer *p = data;
    guint x = *(const guint *)a, y = *(const guint *)b;
    gboolean qx = hcore(p, x)->quiet, qy = hcore(p, y)->quiet;
    if (qx != qy)
        return qx ? -1 : 1;
    return x < y ? -1 : x > y;
}

static guint count_quiet(const Placer *p, GArray *cores)
{
    guint n = 0;
    for (guint k = 0; k < cores->len; k++)
        n += hcore(p, idx_at(cores, k))->quiet;
    return n;
}

static guint count_boot(const Placer *p, GArray *cores)
{
    guint n = 0;
    for (guint k = 0; k < cores->len; k++)
        n += hcore(p, idx_at(cores, k))->boot;
    return n;
}

/* Whether LLC group @a is a better pick than @b: fewer cores when @smaller (else more), then
 * more isolated cores, then without CPU 0 (the boot CPU keeps timers and IRQs that cannot
 * move); ties keep the lower group. */
static gboolean group_better(const Placer *p, GArray *a, GArray *b, gboolean smaller)
{
    if (!b)
        return TRUE;
    if (a->len != b->len)
        return smaller ? a->len < b->len : a->len > b->len;
    guint qa = count_quiet(p, a), qb = count_quiet(p, b);
    if (qa != qb)
        return qa > qb;
    return count_boot(p, a) < count_boot(p, b);
}

static guint count_cpus(const Placer *p, GArray *cores)
{
    guint n = 0;
    for (guint k = 0; k < cores->len; k++)
        n += hcore(p, idx_at(cores, k))->cpus->len;
    return n;
}

/* The fewest host cores @gcs can fit in. */
static guint min_cores(const Placer *p, GPtrArray *gcs)
{
    guint n = 0, tpc = MAX(p->host_tpc, 1);
    for (guint k = 0; k < gcs->len; k++) {
        GuestCore *gc = g_ptr_array_index(gcs, k);
        n += MAX(1, (gc->vcpus->len + tpc - 1) / tpc);
    }
    return n;
}

/* Concatenates the chosen @groups (plus @extra, -1 for none) in their order. */
static GArray *groups_union(GPtrArray *groups, const gboolean *chosen, int extra)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint k = 0; k < groups->len; k++) {
        if (!chosen[k] && (int)k != extra)
            continue;
        GArray *grp = g_ptr_array_index(groups, k);
        g_array_append_vals(a, grp->data, grp->len);
    }
    return a;
}

/* Orders @cores (free host cores of one package) for @unit: the fewest last-level-cache groups
 * that hold it whole, the smallest such group when one is enough (big groups stay free for big
 * guest sockets). Returns the fit level; *out gets the order, *n_groups how many groups. */
static int choose_llc(Placer *p, GPtrArray *unit, GArray *cores, GArray **out, guint *n_groups)
{
    g_autoptr(GArray) llcs = distinct(p, cores, BY_LLC);
    g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    guint need = min_cores(p, unit);
    for (guint k = 0; k < llcs->len; k++) {
        GArray *grp = filter(p, cores, BY_LLC, g_array_index(llcs, int, k));
        g_array_sort_with_data(grp, core_pref_cmp, p);
        g_ptr_array_add(groups, grp);
    }

    int best = -1;
    for (guint k = 0; k < groups->len; k++) {
        GArray *grp = g_ptr_array_index(groups, k);
        if (grp->len < need || assign(p, unit, grp, FALSE) != FIT_WHOLE)
            continue;
        if (group_better(p, grp, best < 0 ? NULL : g_ptr_array_index(groups, best), TRUE))
            best = (int)k;
    }
    if (best >= 0) {
        GArray *b = g_ptr_array_index(groups, best);
        *out = g_array_copy(b);
        *n_groups = 1;
        return FIT_WHOLE;
    }

    /* Largest groups first; the last one the smallest that completes the fit. */
    g_autofree gboolean *chosen = g_new0(gboolean, groups->len + 1);
    guint n = 0, have = 0;
    int level = FIT_NONE;
    while (n < groups->len) {
        int pick = -1;
        for (guint k = 0; k < groups->len; k++) {
            GArray *grp = g_ptr_array_index(groups, k);
            if (chosen[k] || have + grp->len < need)
                continue;
            g_autoptr(GArray) trial = groups_union(groups, chosen, (int)k);
            if (assign(p, unit, trial, FALSE) != FIT_WHOLE)
                continue;
            if (group_better(p, grp, pick < 0 ? NULL : g_ptr_array_index(groups, pick), TRUE))
                pick = (int)k;
        }
        if (pick >= 0) {
            level = FIT_WHOLE;
        } else {
            for (guint k = 0; k < groups->len; k++) {
                GArray *grp = g_ptr_array_index(groups, k);
                if (!chosen[k] &&
                    group_better(p, grp, pick < 0 ? NULL : g_ptr_array_index(groups, pick), FALSE))
                    pick = (int)k;
            }
        }
        chosen[pick] = TRUE;
        have += ((GArray *)g_ptr_array_index(groups, pick))->len;
        n++;
        if (level == FIT_WHOLE)
            break;
    }
    *out = groups_union(groups, chosen, -1);
    *n_groups = n;
    if (level != FIT_WHOLE)
        level = assign(p, unit, *out, FALSE);
    return level;
}

/* @cores ordered for a spread over packages: packages with the most free cores first, then by
 * LLC group, isolated cores first within a group. */
static GArray *spread_order(Placer *p, GArray *cores)
{
    g_autoptr(GArray) pkgs = distinct(p, cores, BY_PACKAGE);
    g_autofree gboolean *done = g_new0(gboolean, pkgs->len + 1);
    GArray *order = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint n = 0; n < pkgs->len; n++) {
        int pick = -1;
        guint pick_len = 0;
        for (guint k = 0; k < pkgs->len; k++) {
            g_autoptr(GArray) sub = filter(p, cores, BY_PACKAGE, g_array_index(pkgs, int, k));
            if (!done[k] && (pick < 0 || sub->len > pick_len)) {
                pick = (int)k;
                pick_len = sub->len;
            }
        }
        done[pick] = TRUE;
        g_autoptr(GArray) sub = filter(p, cores, BY_PACKAGE, g_array_index(pkgs, int, pick));
        g_autoptr(GArray) llcs = distinct(p, sub, BY_LLC);
        for (guint k = 0; k < llcs->len; k++) {
            g_autoptr(GArray) grp = filter(p, sub, BY_LLC, g_array_index(llcs, int, k));
            g_array_sort_with_data(grp, core_pref_cmp, p);
            g_array_append_vals(order, grp->data, grp->len);
        }
    }
    return order;
}

/* Packages holding already placed guest cores whose socket is (@same) or is not (!@same)
 * @socket. */
static TopoCpuSet *socket_packages(const Placer *p, int socket, gboolean same)
{
    TopoCpuSet *set = topo_cpuset_new();
    if (socket < 0)
        return set;
    for (guint k = 0; k < p->gcores->len; k++) {
        GuestCore *gc = g_ptr_array_index(p->gcores, k);
        if (gc->hosts->len == 0 || (gc->socket == socket) != same)
            continue;
        for (guint j = 0; j < gc->hosts->len; j++)
            topo_cpuset_add(set, MAX(hcore(p, idx_at(gc->hosts, j))->package, 0));
    }
    return set;
}

/* The host CPUs of the (placed) guest cores @gcs, also stored in p->cpu_of. */
static TopoCpuSet *cores_cpus(Placer *p, GPtrArray *gcs)
{
    TopoCpuSet *set = topo_cpuset_new();
    for (guint k = 0; k < gcs->len; k++) {
        GuestCore *gc = g_ptr_array_index(gcs, k);
        guint t = 0;
        for (guint j = 0; j < gc->hosts->len; j++) {
            HostCore *hc = hcore(p, idx_at(gc->hosts, j));
            for (guint c = 0; c < hc->cpus->len && t < gc->vcpus->len; c++, t++) {
                int cpu = g_array_index(hc->cpus, int, c);
                p->cpu_of[idx_at(gc->vcpus, t)] = cpu;
                topo_cpuset_add(set, cpu);
            }
        }
    }
    return set;
}

/* "LLC 0-3,64-67 + 4-7,68-71" of the host cores given to @gcs, or "" without cache data. */
static char *cores_llcs(const Placer *p, GPtrArray *gcs)
{
    g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(int));
    GString *s = g_string_new(NULL);
    guint shown = 0;
    for (guint k = 0; k < gcs->len; k++) {
        GuestCore *gc = g_ptr_array_index(gcs, k);
        for (guint j = 0; j < gc->hosts->len; j++) {
            HostCore *hc = hcore(p, idx_at(gc->hosts, j));
            gboolean dup = FALSE;
            for (guint m = 0; m < seen->len && !dup; m++)
                dup = g_array_index(seen, int, m) == hc->llc;
            if (dup)
                continue;
            g_array_append_val(seen, hc->llc);
            const TopoCpu *cpu = topo_host_cpu(p->host, hc->llc);
            if (!cpu || !cpu->llc || topo_cpuset_count(cpu->llc) <= 1)
                continue;
            if (shown++ < 4) {
                g_autofree char *text = topo_cpuset_describe(cpu->llc, TRUE, "none");
                g_string_append_printf(s, "%s%s", shown == 1 ? ", LLC " : " + ", text);
            }
        }
    }
    if (shown > 4)
        g_string_append_printf(s, " + %u more", shown - 4);
    return g_string_free(s, FALSE);
}

static TopoCpuSet *cores_nodes(const Placer *p, GPtrArray *gcs)
{
    TopoCpuSet *set = topo_cpuset_new();
    for (guint k = 0; k < gcs->len; k++) {
        GuestCore *gc = g_ptr_array_index(gcs, k);
        for (guint j = 0; j < gc->hosts->len; j++)
            topo_cpuset_add(set, hcore(p, idx_at(gc->hosts, j))->node);
    }
    return set;
}

typedef struct {
    int ok, affinity, level, unused, groups, quiet, id;
} PackageScore;

static gboolean package_better(const PackageScore *a, const PackageScore *b)
{
    const int ka[] = {a->ok, a->affinity, a->level, a->unused, -a->groups, a->quiet, -a->id};
    const int kb[] = {b->ok, b->affinity, b->level, b->unused, -b->groups, b->quiet, -b->id};
    for (guint i = 0; i < G_N_ELEMENTS(ka); i++)
        if (ka[i] != kb[i])
            return ka[i] > kb[i];
    return FALSE;
}

/* Places one guest socket (or die) of @g: one host package, the fewest LLC groups. */
static gboolean place_unit(Placer *p, GuestNode *g, GPtrArray *unit)
{
    GuestCore *head = g_ptr_array_index(unit, 0);
    g_autoptr(GArray) elig = eligible(p, g->placed);
    g_autoptr(GArray) pkgs = distinct(p, elig, BY_PACKAGE);
    g_autoptr(TopoCpuSet) mine = socket_packages(p, head->socket, TRUE);
    g_autoptr(TopoCpuSet) others = socket_packages(p, head->socket, FALSE);
    g_autoptr(GArray) best_order = NULL;
    PackageScore best = {0};
    gboolean have_best = FALSE;

    for (guint k = 0; k < pkgs->len; k++) {
        int id = g_array_index(pkgs, int, k);
        g_autoptr(GArray) sub = filter(p, elig, BY_PACKAGE, id);
        g_autoptr(GArray) order = NULL;
        guint groups = 0;
        int level =
            sub->len < min_cores(p, unit) ? FIT_NONE : choose_llc(p, unit, sub, &order, &groups);
        PackageScore s = {
            .ok = level != FIT_NONE,
            .affinity = topo_cpuset_has(mine, MAX(id, 0)),
            .level = level,
            .unused = !topo_cpuset_has(others, MAX(id, 0)),
            .groups = (int)groups,
            .quiet = order ? (int)count_quiet(p, order) : 0,
            .id = id,
        };
        if (!have_best || package_better(&s, &best)) {
            best = s;
            have_best = TRUE;
            if (best_order)
                g_array_unref(best_order);
            best_order = g_steal_pointer(&order);
        }
    }

    g_autofree char *label = unit_label(p, g, head);
    g_autofree char *shape = cores_shape(p, unit);
    if (have_best && best.ok) {
        assign(p, unit, best_order, TRUE);
        if (best.level == FIT_SPLIT) {
            warn(p, TOPO_NOTE_SPLIT_CORE,
                 "%s: too few whole free host cores in package %d, so some guest cores are "
                 "spread over several host cores (their threads are not SMT siblings there)",
                 label, best.id);
            p->degraded++;
        }
        if (!topo_cpuset_is_empty(mine) && !best.affinity) {
            g_autofree char *was = topo_cpuset_describe(mine, FALSE, "none");
            warn(p, TOPO_NOTE_SOCKET_MOVED,
                 "%s: does not fit in host package %s with the rest of its socket; it goes on "
                 "package %d",
                 label, was, best.id);
            p->degraded++;
        }
    } else {
        g_autoptr(GArray) order = spread_order(p, elig);
        if (assign(p, unit, order, FALSE) == FIT_NONE)
            return FALSE;
        int level = assign(p, unit, order, TRUE);
        g_autoptr(TopoCpuSet) used = topo_cpuset_new();
        for (guint k = 0; k < unit->len; k++) {
            GuestCore *gc = g_ptr_array_index(unit, k);
            for (guint j = 0; j < gc->hosts->len; j++)
                topo_cpuset_add(used, MAX(hcore(p, idx_at(gc->hosts, j))->package, 0));
        }
        g_autofree char *pk = topo_cpuset_describe(used, FALSE, "none");
        warn(p, level == FIT_SPLIT ? TOPO_NOTE_SOCKET_SPREAD_SPLIT : TOPO_NOTE_SOCKET_SPREAD,
             "%s (%u cores) does not fit in one host package: spread over packages %s%s", label,
             unit->len, pk, level == FIT_SPLIT ? ", some guest cores over several host cores" : "");
        p->degraded++;
        best.id = -1;
    }

    g_autoptr(TopoCpuSet) cpus = cores_cpus(p, unit);
    g_autoptr(TopoCpuSet) nodes = cores_nodes(p, unit);
    g_autofree char *cpus_txt = topo_cpuset_describe(cpus, TRUE, "none");
    g_autofree char *nodes_txt = topo_cpuset_describe(nodes, FALSE, "none");
    g_autofree char *llcs = cores_llcs(p, unit);
    g_autoptr(GArray) pkg_free = best.id >= 0 ? filter(p, elig, BY_PACKAGE, best.id) : NULL;
    if (best.id >= 0)
        explain(p, TOPO_NOTE_SOCKET_PLACED,
                "%s (%s) -> host package %d (node%s %s): %u free core%s%s%s -> CPUs %s", label,
                shape, best.id, plural(topo_cpuset_count(nodes)), nodes_txt, pkg_free->len,
                plural(pkg_free->len), p->iso_only ? " (isolated)" : "", llcs, cpus_txt);
    else
        explain(p, TOPO_NOTE_SOCKET_PLACED,
                "%s (%s) -> host packages spread (node%s %s)%s -> CPUs %s", label, shape,
                plural(topo_cpuset_count(nodes)), nodes_txt, llcs, cpus_txt);
    return TRUE;
}

/* ---- guest nodes onto host nodes ---- */

typedef struct {
    int mem_ok, affinity, unused;
    int near; /* minus the distance to the host nodes of the other guest nodes */
    guint64 mem_free;
    int id;
} NodeScore;

static NodeScore node_score(const Placer *p, const GuestNode *g, int id, GArray *cores)
{
    NodeScore s = {.id = id};
    const TopoNode *node = topo_host_node(p->host, id);
    s.mem_ok = !p->host->mems_allowed || topo_cpuset_has(p->host->mems_allowed, id);
    s.mem_free = node ? node->mem_free_kib : 0;
    s.unused = TRUE;
    int nearest = G_MAXINT;
    for (guint k = 0; k < p->gnodes->len; k++) {
        const GuestNode *o = g_ptr_array_index(p->gnodes, k);
        if (o == g || !o->placed)
            continue;
        if (topo_cpuset_has(o->placed, id))
            s.unused = FALSE;
        for (int n = topo_cpuset_first(o->placed); n >= 0; n = topo_cpuset_next(o->placed, n)) {
            int d = topo_host_distance(p->host, n, id);
            if (d >= 0 && d < nearest)
                nearest = d;
        }
    }
    s.near = nearest == G_MAXINT ? 0 : -nearest;
    /* A guest socket split over guest nodes stays in one package. */
    if (cores && cores->len > 0) {
        int pkg = MAX(hcore(p, idx_at(cores, 0))->package, 0);
        for (guint k = 0; k < g->cores->len && !s.affinity; k++) {
            GuestCore *gc = g_ptr_array_index(g->cores, k);
            g_autoptr(TopoCpuSet) pk = socket_packages(p, gc->socket, TRUE);
            s.affinity = topo_cpuset_has(pk, pkg);
        }
    }
    return s;
}

static gboolean node_better(const NodeScore *a, const NodeScore *b)
{
    if (a->mem_ok != b->mem_ok)
        return a->mem_ok > b->mem_ok;
    if (a->affinity != b->affinity)
        return a->affinity > b->affinity;
    if (a->unused != b->unused)
        return a->unused > b->unused;
    if (a->near != b->near)
        return a->near > b->near;
    if (a->mem_free != b->mem_free)
        return a->mem_free > b->mem_free;
    return a->id < b->id;
}

/* Host nodes for an unbound guest node: one node that holds it whole when there is one,
 * preferring nodes whose memory is allowed, that keep a guest socket in its package, that no
 * other guest node uses, nearest to the other guest nodes, with the most free memory; otherwise
 * the node with the most free cores and its nearest neighbours. */
static TopoCpuSet *choose_nodes(Placer *p, GuestNode *g, char **how)
{
    g_autoptr(GArray) elig = eligible(p, NULL);
    g_autoptr(GArray) ids = distinct(p, elig, BY_NODE);
    g_autoptr(GPtrArray) subs = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
    guint need = min_cores(p, g->cores);
    if (ids->len == 0)
        return NULL;
    /* Node locality matters more than isolation: the isolated-only pass takes one node or none. */
    gboolean single_only = p->iso_only;

    for (int want = FIT_WHOLE; want >= FIT_SPLIT; want--) {
        int pick = -1;
        NodeScore ps = {0};
        for (guint k = 0; k < ids->len; k++) {
            int id = g_array_index(ids, int, k);
            g_autoptr(GArray) sub = filter(p, elig, BY_NODE, id);
            if (sub->len < need || assign(p, g->cores, sub, FALSE) != want)
                continue;
            NodeScore s = node_score(p, g, id, sub);
            if (pick < 0 || node_better(&s, &ps)) {
                pick = id;
                ps = s;
            }
        }
        if (pick >= 0) {
            g_autoptr(GArray) sub = filter(p, elig, BY_NODE, pick);
            *how = g_strdup_printf("chosen: %u free core%s, %" G_GUINT64_FORMAT " MiB free memory",
                                   sub->len, plural(sub->len), ps.mem_free / 1024);
            return topo_cpuset_new_single(pick);
        }
    }

    if (single_only)
        return NULL;

    /* Several nodes: the one with the most free cores, then its nearest. */
    int seed = -1;
    guint seed_len = 0;
    NodeScore seed_score = {0};
    for (guint k = 0; k < ids->len; k++) {
        int id = g_array_index(ids, int, k);
        g_autoptr(GArray) sub = filter(p, elig, BY_NODE, id);
        NodeScore s = node_score(p, g, id, sub);
        if (seed < 0 || sub->len > seed_len ||
            (sub->len == seed_len && node_better(&s, &seed_score))) {
            seed = id;
            seed_len = sub->len;
            seed_score = s;
        }
    }
    g_autoptr(TopoCpuSet) chosen = topo_cpuset_new_single(seed);
    g_autoptr(GArray) acc = filter(p, elig, BY_NODE, seed);
    int level = acc->len >= need ? assign(p, g->cores, acc, FALSE) : FIT_NONE;
    g_autoptr(TopoCpuSet) first_split = level == FIT_SPLIT ? topo_cpuset_copy(chosen) : NULL;
    while (level != FIT_WHOLE && topo_cpuset_count(chosen) < ids->len) {
        int pick = -1, pick_d = 0;
        NodeScore ps = {0};
        for (guint k = 0; k < ids->len; k++) {
            int id = g_array_index(ids, int, k);
            if (topo_cpuset_has(chosen, id))
                continue;
            int d = topo_host_distance(p->host, seed, id);
            if (d < 0)
                d = G_MAXINT;
            g_autoptr(GArray) sub = filter(p, elig, BY_NODE, id);
            NodeScore s = node_score(p, g, id, sub);
            if (pick < 0 || d < pick_d || (d == pick_d && node_better(&s, &ps))) {
                pick = id;
                pick_d = d;
                ps = s;
            }
        }
        topo_cpuset_add(chosen, pick);
        g_autoptr(GArray) sub = filter(p, elig, BY_NODE, pick);
        g_array_append_vals(acc, sub->data, sub->len);
        g_array_sort(acc, int_cmp);
        level = acc->len >= need ? assign(p, g->cores, acc, FALSE) : FIT_NONE;
        if (level == FIT_SPLIT && !first_split)
            first_split = topo_cpuset_copy(chosen);
    }
    if (level == FIT_NONE)
        return NULL;
    TopoCpuSet *result =
        level == FIT_WHOLE ? g_steal_pointer(&chosen) : g_steal_pointer(&first_split);
    g_autoptr(GArray) all = eligible(p, result);
    *how = g_strdup_printf("chosen: no single node has room; %u free cores on the node with the "
                           "most and its nearest",
                           all->len);
    return result;
}

/* The host nodes a bound guest node's vCPUs use: the bound ones, or when none of them has CPUs
 * (memory-only nodes: MCDRAM, CXL, HBM), the nearest nodes that have some. */
static void bind_scope(Placer *p, GuestNode *g)
{
    g_autoptr(TopoCpuSet) with_cpus = topo_cpuset_new();
    for (guint k = 0; k < p->hcores->len; k++)
        topo_cpuset_add(with_cpus, hcore(p, k)->node);
    g->scope = topo_cpuset_copy(g->bound);
    topo_cpuset_intersect(g->scope, with_cpus);
    if (!topo_cpuset_is_empty(g->scope))
        return;

    int best = G_MAXINT;
    for (int n = topo_cpuset_first(with_cpus); n >= 0; n = topo_cpuset_next(with_cpus, n))
        for (int b = topo_cpuset_first(g->bound); b >= 0; b = topo_cpuset_next(g->bound, b)) {
            int d = topo_host_distance(p->host, b, n);
            if (d >= 0 && d < best)
                best = d;
        }
    for (int n = topo_cpuset_first(with_cpus); n >= 0; n = topo_cpuset_next(with_cpus, n))
        for (int b = topo_cpuset_first(g->bound); b >= 0; b = topo_cpuset_next(g->bound, b)) {
            int d = topo_host_distance(p->host, b, n);
            if (best == G_MAXINT || d == best)
                topo_cpuset_add(g->scope, n);
        }
    g_autofree char *label = node_label(p, g);
    g_autofree char *bound = topo_cpuset_describe(g->bound, FALSE, "none");
    g_autofree char *scope = topo_cpuset_describe(g->scope, FALSE, "none");
    warn(p, TOPO_NOTE_BOUND_NO_CPUS,
         "%s: its memory is bound to host node%s %s, which ha%s no CPUs; its vCPUs go on the "
         "nearest node%s with CPUs: %s",
         label, plural(topo_cpuset_count(g->bound)), bound,
         topo_cpuset_count(g->bound) == 1 ? "s" : "ve", plural(topo_cpuset_count(g->scope)), scope);
}

static void unplace_node(Placer *p, GuestNode *g)
{
    for (guint k = 0; k < g->cores->len; k++) {
        GuestCore *gc = g_ptr_array_index(g->cores, k);
        for (guint j = 0; j < gc->hosts->len; j++)
            hcore(p, idx_at(gc->hosts, j))->used = FALSE;
        g_array_set_size(gc->hosts, 0);
    }
    g_clear_pointer(&g->placed, topo_cpuset_free);
}

static void truncate_to(GPtrArray *a, guint len)
{
    if (a->len > len)
        g_ptr_array_remove_range(a, len, a->len - len);
}

static gboolean place_node(Placer *p, GuestNode *g)
{
    g_autofree char *how = NULL;
    g_autofree char *label = node_label(p, g);
    if (g->scope) {
        g_autoptr(GArray) elig = eligible(p, g->scope);
        if (elig->len < min_cores(p, g->cores) || assign(p, g->cores, elig, FALSE) == FIT_NONE)
            return FALSE;
        g->placed = topo_cpuset_copy(g->scope);
        how = g_strdup(topo_cpuset_equal(g->scope, g->bound) ? "its memory is bound there"
                                                             : "nearest to its memory");
    } else {
        g->placed = choose_nodes(p, g, &how);
        if (!g->placed)
            return FALSE;
    }
    g_autofree char *nodes = topo_cpuset_describe(g->placed, FALSE, "none");
    guint n_nodes = topo_cpuset_count(g->placed);
    explain(p, TOPO_NOTE_NODE_PLACED, "%s (%u vCPU%s) -> host node%s %s (%s)%s", label, g->n_vcpus,
            plural(g->n_vcpus), plural(n_nodes), nodes, how,
            p->iso_only ? ", isolated CPUs only" : "");

    guint mark_explain = p->explain->len, mark_warn = p->warnings->len, mark_deg = p->degraded;
    gboolean ok = TRUE;
    for (guint k = 0; k < g->cores->len && ok;) {
        GuestCore *head = g_ptr_array_index(g->cores, k);
        g_autoptr(GPtrArray) unit = g_ptr_array_new();
        for (; k < g->cores->len; k++) {
            GuestCore *gc = g_ptr_array_index(g->cores, k);
            if (gc->socket != head->socket || gc->die != head->die)
                break;
            g_ptr_array_add(unit, gc);
        }
        ok = place_unit(p, g, unit);
    }
    if (ok)
        return TRUE;

    /* Socket by socket left holes (packages too fragmented): place the node in one go. */
    g_autoptr(TopoCpuSet) placed = g_steal_pointer(&g->placed);
    unplace_node(p, g);
    g->placed = g_steal_pointer(&placed);
    truncate_to(p->explain, mark_explain);
    truncate_to(p->warnings, mark_warn);
    p->degraded = mark_deg;
    g_autoptr(GArray) elig = eligible(p, g->placed);
    g_autoptr(GArray) order = spread_order(p, elig);
    if (assign(p, g->cores, order, FALSE) == FIT_NONE) {
        unplace_node(p, g);
        return FALSE;
    }
    assign(p, g->cores, order, TRUE);
    g_autoptr(TopoCpuSet) cpus = cores_cpus(p, g->cores);
    g_autofree char *cpus_txt = topo_cpuset_describe(cpus, TRUE, "none");
    g_autofree char *shape = cores_shape(p, g->cores);
    warn(p, TOPO_NOTE_NODE_WHOLE,
         "%s: its sockets could not each be kept in one host package; placed as a whole", label);
    explain(p, TOPO_NOTE_NODE_CPUS, "%s (%s) -> CPUs %s", label, shape, cpus_txt);
    p->degraded++;
    return TRUE;
}

/* Tries the isolated (isolcpus, nohz_full) cores alone first; falls back to all candidates
 * when they do not hold the guest node cleanly. */
static gboolean place_node_pref(Placer *p, GuestNode *g)
{
    gboolean any_quiet = FALSE;
    for (guint k = 0; k < p->hcores->len && !any_quiet; k++)
        any_quiet = hcore(p, k)->quiet && !hcore(p, k)->used;
    if (any_quiet) {
        guint mark_explain = p->explain->len, mark_warn = p->warnings->len;
        guint mark_deg = p->degraded;
        p->iso_only = TRUE;
        gboolean ok = place_node(p, g);
        p->iso_only = FALSE;
        if (ok && p->degraded == mark_deg)
            return TRUE;
        unplace_node(p, g);
        truncate_to(p->explain, mark_explain);
        truncate_to(p->warnings, mark_warn);
        p->degraded = mark_deg;
    }
    return place_node(p, g);
}

/* ---- no fit, overcommit ---- */

/* "allowed CPUs 0-39, minus reserved CPUs 0-1" */
static char *limits_text(const Placer *p)
{
    g_autofree char *allowed = topo_cpuset_describe(p->allowed, FALSE, "none");
    g_autoptr(TopoCpuSet) reserved = topo_cpuset_copy(p->allowed);
    topo_cpuset_intersect(reserved, p->host->online);
    topo_cpuset_subtract(reserved, p->cand);
    if (topo_cpuset_is_empty(reserved))
        return g_strdup_printf("allowed CPUs %s", allowed);
    g_autofree char *res = topo_cpuset_describe(reserved, FALSE, "none");
    return g_strdup_printf("allowed CPUs %s, minus reserved CPUs %s", allowed, res);
}

/* Why the guest does not fit; with @advise, what would make it fit (--allow-overcommit only
 * when it is not given already). */
static char *nofit_message(Placer *p, GuestNode *g, gboolean advise)
{
    g_autofree char *limits = limits_text(p);
    guint total = topo_cpuset_count(p->cand);
    gboolean offer = !p->ctx->allow_overcommit;
    if (p->n_vcpus > total)
        return g_strdup_printf(
            "auto placement needs %u host CPU%s (one per vCPU) but only %u %s available (%s)%s",
            p->n_vcpus, plural(p->n_vcpus), total, total == 1 ? "is" : "are", limits,
            !advise ? ""
            : offer ? "; use fewer vCPUs, allow more CPUs (taskset, cgroup cpuset, srun -c) or "
                      "pass --allow-overcommit"
                    : "; use fewer vCPUs or allow more CPUs (taskset, cgroup cpuset, srun -c)");

    gboolean iso = p->iso_only;
    p->iso_only = FALSE;
    g_autoptr(GArray) elig = eligible(p, g->scope);
    p->iso_only = iso;
    guint avail_cpus = count_cpus(p, elig), need_cores = min_cores(p, g->cores);
    guint taken = 0;
    for (guint k = 0; k < p->hcores->len; k++) {
        HostCore *hc = hcore(p, k);
        if (hc->used && (!g->scope || topo_cpuset_has(g->scope, hc->node)))
            taken++;
    }
    g_autofree char *label = node_label(p, g);
    g_autofree char *shape = cores_shape(p, g->cores);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s,
                           "auto placement: %s (%s) needs %u host CPU%s on %u whole host core%s "
                           "(two guest cores never share a host core), but only %u CPU%s on %u "
                           "free core%s %s left (%s",
                           label, shape, g->n_vcpus, plural(g->n_vcpus), need_cores,
                           plural(need_cores), avail_cpus, plural(avail_cpus), elig->len,
                           plural(elig->len), elig->len == 1 ? "is" : "are", limits);
    if (g->scope) {
        g_autofree char *nodes = topo_cpuset_describe(g->scope, FALSE, "none");
        g_string_append_printf(s, ", on host node%s %s where its memory is bound",
                               plural(topo_cpuset_count(g->scope)), nodes);
    }
    if (taken)
        g_string_append_printf(s, ", %u core%s already given to other guest nodes", taken,
                               plural(taken));
    g_string_append(s, ")");
    if (!advise)
        return g_string_free(s, FALSE);
    if (g->n_vcpus <= avail_cpus && p->host_tpc > cores_threads(g->cores))
        g_string_append_printf(s,
                               "; give the guest %u threads per core (-smp ...,threads=%u) to use "
                               "the SMT siblings too%s",
                               p->host_tpc, p->host_tpc,
                               offer ? ", or pass --allow-overcommit" : "");
    else if (g->scope)
        g_string_append(s, offer ? "; bind it to more host nodes (--numa SIZE@NODES), allow more "
                                   "CPUs or pass --allow-overcommit"
                                 : "; bind it to more host nodes (--numa SIZE@NODES) or allow "
                                   "more CPUs");
    else
        g_string_append(s, offer ? "; use fewer vCPUs, allow more CPUs (taskset, cgroup cpuset, "
                                   "srun -c) or pass --allow-overcommit"
                                 : "; use fewer vCPUs or allow more CPUs (taskset, cgroup cpuset, "
                                   "srun -c)");
    return g_string_free(s, FALSE);
}

static gint topo_order_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const Placer *p = data;
    guint x = *(const guint *)a, y = *(const guint *)b;
    const HostCore *hx = hcore(p, x), *hy = hcore(p, y);
    if (hx->package != hy->package)
        return hx->package < hy->package ? -1 : 1;
    if (hx->llc != hy->llc)
        return hx->llc < hy->llc ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Host nodes for an unbound guest node when sharing: one node with enough unloaded CPUs, else
 * the node with the most and its nearest, else every node. */
static TopoCpuSet *choose_nodes_shared(Placer *p, GuestNode *g, const guint *load)
{
    g_autoptr(GArray) all = eligible(p, NULL);
    g_autoptr(GArray) ids = distinct(p, all, BY_NODE);
    g_autofree guint *free_cpus = g_new0(guint, ids->len + 1);
    for (guint k = 0; k < ids->len; k++) {
        g_autoptr(GArray) sub = filter(p, all, BY_NODE, g_array_index(ids, int, k));
        for (guint j = 0; j < sub->len; j++) {
            HostCore *hc = hcore(p, idx_at(sub, j));
            for (guint c = 0; c < hc->cpus->len; c++)
                free_cpus[k] += load[g_array_index(hc->cpus, int, c)] == 0;
        }
    }
    int pick = -1, seed = -1;
    NodeScore ps = {0};
    for (guint k = 0; k < ids->len; k++) {
        NodeScore s = node_score(p, g, g_array_index(ids, int, k), NULL);
        if (free_cpus[k] >= g->n_vcpus && (pick < 0 || node_better(&s, &ps))) {
            pick = (int)k;
            ps = s;
        }
        if (seed < 0 || free_cpus[k] > free_cpus[seed])
            seed = (int)k;
    }
    if (pick >= 0)
        return topo_cpuset_new_single(g_array_index(ids, int, pick));
    TopoCpuSet *chosen = topo_cpuset_new();
    if (seed < 0)
        return chosen;
    int seed_id = g_array_index(ids, int, seed);
    topo_cpuset_add(chosen, seed_id);
    guint have = free_cpus[seed];
    while (have < g->n_vcpus && topo_cpuset_count(chosen) < ids->len) {
        int next = -1, next_d = 0;
        for (guint k = 0; k < ids->len; k++) {
            int id = g_array_index(ids, int, k);
            int d = topo_host_distance(p->host, seed_id, id);
            if (d < 0)
                d = G_MAXINT;
            if (!topo_cpuset_has(chosen, id) && (next < 0 || d < next_d)) {
                next = (int)k;
                next_d = d;
            }
        }
        topo_cpuset_add(chosen, g_array_index(ids, int, next));
        have += free_cpus[next];
    }
    if (have < g->n_vcpus)
        for (guint k = 0; k < ids->len; k++)
            topo_cpuset_add(chosen, g_array_index(ids, int, k));
    return chosen;
}

/* --allow-overcommit: vCPUs of each guest node spread evenly, in guest order, over the host CPUs
 * of its nodes in topology order (package, LLC group, core, thread), unloaded CPUs first, so
 * neighbouring vCPUs share or neighbour each other and no CPU carries two more than another. */
static gboolean place_shared(Placer *p, const char *why, GError **error)
{
    for (guint k = 0; k < p->hcores->len; k++)
        hcore(p, k)->used = FALSE;
    for (guint k = 0; k < p->gnodes->len; k++)
        unplace_node(p, g_ptr_array_index(p->gnodes, k));

    g_autofree guint *load = g_new0(guint, TOPO_CPU_MAX);
    g_autoptr(GArray) cores = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint k = 0; k < p->hcores->len; k++)
        if (hcore(p, k)->cpus->len > 0)
            g_array_append_val(cores, k);
    g_array_sort_with_data(cores, topo_order_cmp, p);

    warn(p, TOPO_NOTE_OVERCOMMIT, "%s: vCPUs share host %s (--allow-overcommit)", why,
         p->n_vcpus > topo_cpuset_count(p->cand) ? "CPUs" : "cores");
    for (guint k = 0; k < p->gnodes->len; k++) {
        GuestNode *g = g_ptr_array_index(p->gnodes, k);
        g_autoptr(TopoCpuSet) nodes =
            g->scope ? topo_cpuset_copy(g->scope) : choose_nodes_shared(p, g, load);
        g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GArray) unloaded = g_array_new(FALSE, FALSE, sizeof(int));
        for (guint j = 0; j < cores->len; j++) {
            HostCore *hc = hcore(p, idx_at(cores, j));
            if (!topo_cpuset_has(nodes, hc->node))
                continue;
            for (guint c = 0; c < hc->cpus->len; c++) {
                int cpu = g_array_index(hc->cpus, int, c);
                g_array_append_val(all, cpu);
                if (load[cpu] == 0)
                    g_array_append_val(unloaded, cpu);
            }
        }
        g_autofree char *label = node_label(p, g);
        g_autofree char *nodes_txt = topo_cpuset_describe(nodes, FALSE, "none");
        if (all->len == 0) {
            g_autofree char *limits = limits_text(p);
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_NOFIT,
                        "auto placement: %s has no CPU to run on: host node%s %s where its memory "
                        "is bound %s none of the %s",
                        label, plural(topo_cpuset_count(nodes)), nodes_txt,
                        topo_cpuset_count(nodes) == 1 ? "has" : "have", limits);
            return FALSE;
        }
        GArray *use = unloaded->len >= g->n_vcpus ? unloaded : all;
        guint n = g->n_vcpus, m = use->len, i = 0;
        g_autoptr(TopoCpuSet) cpus = topo_cpuset_new();
        for (guint c = 0; c < g->cores->len; c++) {
            GuestCore *gc = g_ptr_array_index(g->cores, c);
            for (guint t = 0; t < gc->vcpus->len; t++, i++) {
                int cpu = g_array_index(use, int, (guint)((guint64)i * m / n));
                p->cpu_of[idx_at(gc->vcpus, t)] = cpu;
                load[cpu]++;
                topo_cpuset_add(cpus, cpu);
            }
        }
        g->placed = g_steal_pointer(&nodes);
        g_autofree char *cpus_txt = topo_cpuset_describe(cpus, TRUE, "none");
        g_autofree char *shape = cores_shape(p, g->cores);
        explain(p, TOPO_NOTE_NODE_SHARED,
                "%s (%s) -> host node%s %s, shared: %u vCPU%s on %u CPU%s %s", label, shape,
                plural(topo_cpuset_count(g->placed)), nodes_txt, n, plural(n),
                topo_cpuset_count(cpus), plural(topo_cpuset_count(cpus)), cpus_txt);
    }

    /* What the sharing costs, for the warning. */
    guint most = 0, shared_cores = 0;
    g_autofree int *owner = g_new(int, p->hcores->len + 1);
    g_autofree int *core_of = g_new(int, TOPO_CPU_MAX);
    for (guint k = 0; k < p->hcores->len; k++) {
        owner[k] = -1;
        HostCore *hc = hcore(p, k);
        for (guint c = 0; c < hc->cpus->len; c++)
            core_of[g_array_index(hc->cpus, int, c)] = (int)k;
    }
    for (guint k = 0; k < p->gcores->len; k++) {
        GuestCore *gc = g_ptr_array_index(p->gcores, k);
        for (guint t = 0; t < gc->vcpus->len; t++) {
            int cpu = p->cpu_of[idx_at(gc->vcpus, t)];
            int h = core_of[cpu];
            most = MAX(most, load[cpu]);
            if (owner[h] == -1)
                owner[h] = (int)k;
            else if (owner[h] != (int)k && owner[h] >= 0) {
                owner[h] = -2;
                shared_cores++;
            }
        }
    }
    if (most > 1)
        warn(p, TOPO_NOTE_OVERCOMMIT_CPUS, "overcommit: up to %u vCPUs share one host CPU", most);
    else if (shared_cores)
        warn(p, TOPO_NOTE_OVERCOMMIT_CORES,
             "overcommit: %u host core%s run threads of more than one guest core", shared_cores,
             plural(shared_cores));
    return TRUE;
}

/* ---- entry points ---- */

static void describe(Placer *p)
{
    const TopoHost *host = p->host;
    g_autoptr(TopoCpuSet) packages = topo_cpuset_new();
    for (guint k = 0; k < p->hcores->len; k++)
        topo_cpuset_add(packages, MAX(hcore(p, k)->package, 0));
    guint n_pkg = topo_cpuset_count(packages), n_nodes = host->nodes ? host->nodes->len : 0;
    guint n_online = topo_cpuset_count(host->online);
    explain(p, TOPO_NOTE_HOST,
            "host: %u online CPU%s, %u core%s (up to %u thread%s each), %u package%s, %u node%s",
            n_online, plural(n_online), p->hcores->len, plural(p->hcores->len), p->host_tpc_online,
            plural(p->host_tpc_online), n_pkg, plural(n_pkg), n_nodes, plural(n_nodes));

    g_autofree char *limits = limits_text(p);
    g_autofree char *cand = topo_cpuset_describe(p->cand, TRUE, "none");
    g_autoptr(TopoCpuSet) quiet = topo_cpuset_copy(p->quiet);
    topo_cpuset_intersect(quiet, p->cand);
    g_autofree char *quiet_txt = topo_cpuset_describe(quiet, FALSE, "none");
    explain(p, TOPO_NOTE_CANDIDATES, "vCPU candidates: %s (%s)%s%s", cand, limits,
            topo_cpuset_is_empty(quiet) ? "" : "; isolated CPUs preferred: ",
            topo_cpuset_is_empty(quiet) ? "" : quiet_txt);

    g_autoptr(TopoCpuSet) sockets = topo_cpuset_new();
    g_autoptr(TopoCpuSet) gnodes = topo_cpuset_new();
    for (guint i = 0; i < p->n_vcpus; i++) {
        if (p->vcpus[i].socket >= 0)
            topo_cpuset_add(sockets, p->vcpus[i].socket);
        if (p->vcpus[i].node >= 0)
            topo_cpuset_add(gnodes, p->vcpus[i].node);
    }
    g_autofree char *gn = topo_cpuset_describe(gnodes, FALSE, "none");
    guint n_sock = topo_cpuset_count(sockets);
    if (n_sock == 0)
        explain(p, TOPO_NOTE_GUEST,
                "guest: %u vCPU%s without -smp topology (each its own core)%s%s", p->n_vcpus,
                plural(p->n_vcpus), topo_cpuset_is_empty(gnodes) ? "" : ", guest nodes ",
                topo_cpuset_is_empty(gnodes) ? "" : gn);
    else
        explain(p, TOPO_NOTE_GUEST,
                "guest: %u vCPU%s, %u socket%s, %u core%s, up to %u thread%s per core, %s%s",
                p->n_vcpus, plural(p->n_vcpus), n_sock, plural(n_sock), p->gcores->len,
                plural(p->gcores->len), p->guest_tpc, plural(p->guest_tpc),
                topo_cpuset_is_empty(gnodes) ? "no guest NUMA nodes" : "guest nodes ",
                topo_cpuset_is_empty(gnodes) ? "" : gn);
}

TopoMap *topo_place_auto(const TopoVcpu *vcpus, guint n_vcpus, const TopoPlaceCtx *ctx,
                         GError **error)
{
    g_return_val_if_fail(ctx != NULL && ctx->host != NULL, NULL);
    g_return_val_if_fail(vcpus != NULL || n_vcpus == 0, NULL);
    const TopoHost *host = ctx->host;

    g_autoptr(Placer) p = g_new0(Placer, 1);
    p->host = host;
    p->ctx = ctx;
    p->vcpus = vcpus;
    p->n_vcpus = n_vcpus;
    p->allowed = ctx->allowed ? ctx->allowed : host->cpus_allowed;
    p->cand = topo_cpuset_copy(p->allowed ? p->allowed : host->online);
    if (!p->allowed)
        p->allowed = host->online;
    topo_cpuset_intersect(p->cand, host->online);
    if (ctx->reserved)
        topo_cpuset_subtract(p->cand, ctx->reserved);
    p->quiet = topo_cpuset_new();
    if (host->isolated)
        topo_cpuset_union(p->quiet, host->isolated);
    if (host->nohz_full)
        topo_cpuset_union(p->quiet, host->nohz_full);
    p->cpu_of = g_new(int, n_vcpus + 1);
    for (guint i = 0; i < n_vcpus; i++)
        p->cpu_of[i] = -1;
    p->explain = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
    p->warnings = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);

    build_host(p);
    build_guest(p);
    describe(p);
    if (p->host_tpc > 0 && p->guest_tpc > p->host_tpc)
        warn(p, TOPO_NOTE_THREADS_PER_CORE,
             "the guest has %u threads per core but the host offers at most %u per core: each "
             "guest core spans %u host cores",
             p->guest_tpc, p->host_tpc, (p->guest_tpc + p->host_tpc - 1) / p->host_tpc);
    for (guint k = 0; k < p->gnodes->len; k++) {
        GuestNode *g = g_ptr_array_index(p->gnodes, k);
        if (g->bound)
            bind_scope(p, g);
    }

    guint mark_explain = p->explain->len, mark_warn = p->warnings->len;
    GuestNode *failed = NULL;
    if (n_vcpus > topo_cpuset_count(p->cand) && p->gnodes->len > 0)
        failed = g_ptr_array_index(p->gnodes, 0);
    for (guint k = 0; k < p->gnodes->len && !failed; k++) {
        GuestNode *g = g_ptr_array_index(p->gnodes, k);
        if (!place_node_pref(p, g))
            failed = g;
    }
    if (failed) {
        if (!ctx->allow_overcommit || topo_cpuset_is_empty(p->cand)) {
            g_autofree char *why = nofit_message(p, failed, TRUE);
            g_set_error_literal(error, TOPO_ERROR, TOPO_ERROR_NOFIT, why);
            return NULL;
        }
        g_autofree char *why = nofit_message(p, failed, FALSE);
        truncate_to(p->explain, mark_explain);
        truncate_to(p->warnings, mark_warn);
        if (!place_shared(p, why, error))
            return NULL;
    } else {
        topo_cpuset_free(cores_cpus(p, p->gcores));
    }

    TopoMap *map = g_new0(TopoMap, 1);
    map->cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    for (guint i = 0; i < n_vcpus; i++) {
        g_assert(p->cpu_of[i] >= 0);
        g_ptr_array_add(map->cpus, topo_cpuset_new_single(p->cpu_of[i]));
    }
    map->explain = g_steal_pointer(&p->explain);
    map->warnings = g_steal_pointer(&p->warnings);
    return map;
}

/* ---- --emulator-pin auto ---- */

static void add_line(GPtrArray *notes, TopoNoteKind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void add_line(GPtrArray *notes, TopoNoteKind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(notes, kind, fmt, ap);
    va_end(ap);
}

/* The online CPUs of the host nodes in @nodes (a CPU no node lists counts as node 0). */
static TopoCpuSet *cpus_of_nodes(const TopoHost *host, const TopoCpuSet *nodes)
{
    TopoCpuSet *cpus = topo_cpuset_new();
    for (guint i = 0; i < host->cpus->len; i++) {
        const TopoCpu *cpu = g_ptr_array_index(host->cpus, i);
        if (topo_cpuset_has(nodes, MAX(cpu->node, 0)))
            topo_cpuset_add(cpus, cpu->cpu);
    }
    topo_cpuset_intersect(cpus, host->online);
    return cpus;
}

/* The smallest distance from any node of @from to @to; G_MAXINT when unknown. */
static int nodes_distance(const TopoHost *host, const TopoCpuSet *from, int to)
{
    int best = G_MAXINT;
    for (int n = topo_cpuset_first(from); n >= 0; n = topo_cpuset_next(from, n)) {
        int d = topo_host_distance(host, n, to);
        if (d >= 0)
            best = MIN(best, d);
    }
    return best;
}

/* The node of @pool's CPUs, outside @vnodes, nearest to @vnodes: the smallest distance, then
 * one sharing a package with the vCPUs (@vpkgs), then the lowest id; -1 when none. */
static int nearest_node(const TopoHost *host, const TopoCpuSet *pool, const TopoCpuSet *vnodes,
                        const TopoCpuSet *vpkgs, int *distance, gboolean *same_package)
{
    g_autoptr(TopoCpuSet) nodes = topo_cpuset_new();
    g_autoptr(TopoCpuSet) near_pkg = topo_cpuset_new();
    for (int c = topo_cpuset_first(pool); c >= 0; c = topo_cpuset_next(pool, c)) {
        const TopoCpu *cpu = topo_host_cpu(host, c);
        if (!cpu || topo_cpuset_has(vnodes, MAX(cpu->node, 0)))
            continue;
        topo_cpuset_add(nodes, MAX(cpu->node, 0));
        if (topo_cpuset_has(vpkgs, MAX(cpu->package, 0)))
            topo_cpuset_add(near_pkg, MAX(cpu->node, 0));
    }
    int best = -1, best_d = G_MAXINT;
    gboolean best_pkg = FALSE;
    for (int n = topo_cpuset_first(nodes); n >= 0; n = topo_cpuset_next(nodes, n)) {
        int d = nodes_distance(host, vnodes, n);
        gboolean pkg = topo_cpuset_has(near_pkg, n);
        if (best < 0 || d < best_d || (d == best_d && pkg && !best_pkg)) {
            best = n;
            best_d = d;
            best_pkg = pkg;
        }
    }
    *distance = best_d;
    *same_package = best_pkg;
    return best;
}

/* Leaves out of @set the reserved CPUs (I/O threads, --reserve), then the SMT siblings of CPUs
 * running vCPUs (@busy), each only when that leaves some; @notes says what was left out. */
static TopoCpuSet *emulator_refine(const TopoCpuSet *set, const TopoCpuSet *reserved,
                                   const TopoCpuSet *busy, GString *notes)
{
    TopoCpuSet *out = topo_cpuset_copy(set);
    const struct {
        const TopoCpuSet *drop;
        const char *why;
    } steps[] = {{reserved, "reserved"}, {busy, "SMT siblings of vCPUs"}};
    for (guint k = 0; k < G_N_ELEMENTS(steps); k++) {
        if (!steps[k].drop)
            continue;
        g_autoptr(TopoCpuSet) rest = topo_cpuset_copy(out);
        topo_cpuset_subtract(rest, steps[k].drop);
        if (topo_cpuset_is_empty(rest) || topo_cpuset_count(rest) == topo_cpuset_count(out))
            continue;
        g_autoptr(TopoCpuSet) dropped = topo_cpuset_copy(out);
        topo_cpuset_subtract(dropped, rest);
        g_autofree char *text = topo_cpuset_format_compact(dropped);
        g_string_append_printf(notes, "%sCPU%s %s (%s)", notes->len ? ", " : "; left out: ",
                               plural(topo_cpuset_count(dropped)), text, steps[k].why);
        topo_cpuset_free(out);
        out = g_steal_pointer(&rest);
    }
    return out;
}

TopoCpuSet *topo_place_emulator_auto(TopoMap *map, const TopoPlaceCtx *ctx, GError **error)
{
    g_return_val_if_fail(map != NULL && ctx != NULL && ctx->host != NULL, NULL);
    const TopoHost *host = ctx->host;
    const TopoCpuSet *allowed = ctx->allowed ? ctx->allowed : host->cpus_allowed;
    g_autoptr(TopoCpuSet) base = topo_cpuset_copy(allowed ? allowed : host->online);
    topo_cpuset_intersect(base, host->online);
    if (topo_cpuset_is_empty(base)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_NOFIT,
                    "--emulator-pin auto: no allowed CPU is online");
        return NULL;
    }
    if (!map->explain)
        map->explain = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
    if (!map->warnings)
        map->warnings = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);

    /* Where the vCPUs run: their CPUs, the whole host cores of those, nodes and packages. */
    g_autoptr(TopoCpuSet) used = topo_cpuset_new();
    for (guint i = 0; map->cpus && i < map->cpus->len; i++) {
        const TopoCpuSet *set = g_ptr_array_index(map->cpus, i);
        if (set)
            topo_cpuset_union(used, set);
    }
    g_autoptr(TopoCpuSet) busy = topo_cpuset_new();
    g_autoptr(TopoCpuSet) vnodes = topo_cpuset_new();
    g_autoptr(TopoCpuSet) vpkgs = topo_cpuset_new();
    for (int c = topo_cpuset_first(used); c >= 0; c = topo_cpuset_next(used, c)) {
        const TopoCpu *cpu = topo_host_cpu(host, c);
        if (!cpu)
            continue;
        topo_cpuset_add(busy, c);
        if (cpu->siblings)
            topo_cpuset_union(busy, cpu->siblings);
        topo_cpuset_add(vnodes, MAX(cpu->node, 0));
        topo_cpuset_add(vpkgs, MAX(cpu->package, 0));
    }
    g_autoptr(TopoCpuSet) local =
        topo_cpuset_is_empty(vnodes) ? topo_cpuset_copy(host->online) : cpus_of_nodes(host, vnodes);
    g_autoptr(TopoCpuSet) quiet = topo_cpuset_new();
    if (host->isolated)
        topo_cpuset_union(quiet, host->isolated);
    if (host->nohz_full)
        topo_cpuset_union(quiet, host->nohz_full);
    g_autofree char *vnodes_txt = topo_cpuset_describe(vnodes, FALSE, "none");
    guint n_vnodes = topo_cpuset_count(vnodes);

    /* Housekeeping CPUs first: isolated ones get no load balancing (isolcpus) or are kept for
     * the vCPUs (nohz_full). Within each kind, the vCPUs' own nodes, else the single nearest
     * node that has some, so that the emulator stays close and on few CPUs. */
    for (int pass = 0; pass < 2; pass++) {
        gboolean isolated = pass == 1;
        g_autoptr(TopoCpuSet) pool = topo_cpuset_copy(base);
        if (isolated)
            topo_cpuset_intersect(pool, quiet);
        else
            topo_cpuset_subtract(pool, quiet);
        topo_cpuset_subtract(pool, used);
        if (topo_cpuset_is_empty(pool))
            continue;
        const char *kind = isolated ? "isolated" : "housekeeping";
        g_autoptr(GString) notes = g_string_new(NULL);
        g_autoptr(TopoCpuSet) here = topo_cpuset_copy(pool);
        topo_cpuset_intersect(here, local);
        g_autoptr(TopoCpuSet) chosen = NULL;
        g_autofree char *where = NULL;
        if (!topo_cpuset_is_empty(here)) {
            chosen = emulator_refine(here, ctx->reserved, busy, notes);
            where = g_strdup_printf("free %s CPUs of host node%s %s, where the vCPUs run", kind,
                                    plural(n_vnodes), vnodes_txt);
        } else {
            int d;
            gboolean same_pkg;
            int node = nearest_node(host, pool, vnodes, vpkgs, &d, &same_pkg);
            g_autoptr(TopoCpuSet) one = topo_cpuset_new_single(MAX(node, 0));
            g_autoptr(TopoCpuSet) there = cpus_of_nodes(host, one);
            topo_cpuset_intersect(there, pool);
            chosen = emulator_refine(there, ctx->reserved, busy, notes);
            GString *near = g_string_new(NULL);
            if (d != G_MAXINT)
                g_string_append_printf(near, "distance %d", d);
            if (same_pkg)
                g_string_append_printf(near, "%ssame package", near->len ? ", " : "");
            g_autofree char *near_txt = g_string_free(near, FALSE);
            where =
                g_strdup_printf("free %s CPUs of host node %d, the nearest node with some%s%s%s: "
                                "host node%s %s, where the vCPUs run, %s none free",
                                kind, node, *near_txt ? " (" : "", near_txt, *near_txt ? ")" : "",
                                plural(n_vnodes), vnodes_txt, n_vnodes == 1 ? "has" : "have");
        }
        if (topo_cpuset_is_empty(chosen))
            continue;
        g_autofree char *chosen_txt = topo_cpuset_format_compact(chosen);
        add_line(map->explain, TOPO_NOTE_EMULATOR, "emulator threads -> CPU%s %s: %s%s",
                 plural(topo_cpuset_count(chosen)), chosen_txt, where, notes->str);
        if (isolated)
            add_line(map->warnings, TOPO_NOTE_EMULATOR_ISOLATED,
                     "--emulator-pin auto: every allowed housekeeping CPU runs a vCPU, so the "
                     "emulator threads run on isolated CPU%s %s",
                     plural(topo_cpuset_count(chosen)), chosen_txt);
        return g_steal_pointer(&chosen);
    }

    /* Every allowed CPU runs a vCPU (a one-CPU Slurm step, an overcommitted guest): share the
     * vCPUs' CPUs, housekeeping ones first. */
    g_autoptr(TopoCpuSet) shared = topo_cpuset_copy(used);
    topo_cpuset_intersect(shared, base);
    g_autoptr(TopoCpuSet) loud = topo_cpuset_copy(shared);
    topo_cpuset_subtract(loud, quiet);
    if (!topo_cpuset_is_empty(loud)) {
        topo_cpuset_free(shared);
        shared = topo_cpuset_copy(loud);
    }
    if (topo_cpuset_is_empty(shared)) {
        topo_cpuset_free(shared);
        shared = topo_cpuset_copy(base);
    }
    g_autoptr(GString) notes = g_string_new(NULL);
    g_autoptr(TopoCpuSet) chosen = emulator_refine(shared, ctx->reserved, NULL, notes);
    g_autofree char *chosen_txt = topo_cpuset_format_compact(chosen);
    add_line(map->explain, TOPO_NOTE_EMULATOR,
             "emulator threads -> CPU%s %s: every allowed CPU runs a vCPU, so they share %s%s",
             plural(topo_cpuset_count(chosen)), chosen_txt,
             topo_cpuset_is_empty(loud) ? "the vCPUs' CPUs" : "the vCPUs' housekeeping CPUs",
             notes->str);
    add_line(map->warnings, TOPO_NOTE_EMULATOR_SHARED,
             "--emulator-pin auto: every allowed CPU runs a vCPU, so the emulator threads share "
             "CPU%s %s with vCPUs",
             plural(topo_cpuset_count(chosen)), chosen_txt);
    return g_steal_pointer(&chosen);
}
