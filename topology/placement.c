/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — explicit vCPU maps (--pin): parsing, the `expr:` language, computation and validation.
 * Automatic placement is in placement-auto.c; this file only dispatches to it.
 */
#include <qpin/placement.h>

#include <string.h>

#define MAP_SYNTAX                                                                                 \
    "--pin takes auto, a cpulist (2,70,138,206,3-5), groups VCPUS@CPUS;VCPUS@CPUS "                \
    "(0-3@2-5;4-7@6-9) or expr:EXPR (expr:2 + v/4 + v%4*68)"
#define GROUPS_SYNTAX "use VCPUS@CPUS;VCPUS@CPUS, e.g. 0-3@2-5;4-7@6-9"
#define EXPR_SYNTAX                                                                                \
    "an expression uses integers, + - * / %, parentheses and the variables v, socket, die, "       \
    "cluster, core, thread, node"
#define ALLOWED_HINT                                                                               \
    "the CPUs this process may use: check taskset, cgroup cpuset or the Slurm allocation"

/* Caps that keep hostile or mistyped input from costing unbounded memory or stack (a cpulist map
 * is capped by topo_cpulist_parse_ordered()). */
#define EXPR_TEXT_MAX  4096
#define EXPR_DEPTH_MAX 64

/* ---- expressions: parsed once into postfix code, evaluated per vCPU ---- */

typedef enum {
    OP_NUM,
    OP_VAR,
    OP_NEG,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
} ExprOp;

enum {
    VAR_V,
    VAR_SOCKET,
    VAR_DIE,
    VAR_CLUSTER,
    VAR_CORE,
    VAR_THREAD,
    VAR_NODE,
    VAR_COUNT,
};

static const char *const expr_var_names[VAR_COUNT] = {
    "v", "socket", "die", "cluster", "core", "thread", "node",
};

typedef struct {
    ExprOp op;
    int var;    /* OP_VAR */
    gint64 num; /* OP_NUM */
    guint col;  /* 1-based column of the token in the expression text */
} ExprInsn;

typedef struct {
    char *text;
    GArray *code; /* ExprInsn, postfix */
    guint max_stack;
} MapExpr;

typedef struct {
    const char *text;
    const char *p;
    GArray *code;
    guint depth;
    guint sp;
    guint max_sp;
} ExprParser;

static void expr_free(MapExpr *expr)
{
    if (!expr)
        return;
    g_free(expr->text);
    if (expr->code)
        g_array_unref(expr->code);
    g_free(expr);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MapExpr, expr_free)

static guint expr_col(const ExprParser *ps, const char *at)
{
    return (guint)(at - ps->text) + 1;
}

static gboolean expr_fail(const ExprParser *ps, const char *at, GError **error, const char *what)
{
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                "invalid expression \"%s\": %s at column %u (%s)", ps->text, what, expr_col(ps, at),
                EXPR_SYNTAX);
    return FALSE;
}

static void expr_emit(ExprParser *ps, ExprOp op, int var, gint64 num, const char *at)
{
    ExprInsn insn = {.op = op, .var = var, .num = num, .col = expr_col(ps, at)};
    g_array_append_val(ps->code, insn);
    if (op == OP_NUM || op == OP_VAR) {
        if (++ps->sp > ps->max_sp)
            ps->max_sp = ps->sp;
    } else if (op != OP_NEG) {
        ps->sp--;
    }
}

static void expr_skip_ws(ExprParser *ps)
{
    while (g_ascii_isspace(*ps->p))
        ps->p++;
}

static gboolean expr_parse_sum(ExprParser *ps, GError **error);

static gboolean expr_parse_primary(ExprParser *ps, GError **error)
{
    expr_skip_ws(ps);
    const char *at = ps->p;
    char c = *at;

    if (g_ascii_isdigit(c)) {
        gint64 v = 0;
        gboolean overflow = FALSE;
        while (g_ascii_isdigit(*ps->p)) {
            /* Checked at every digit: 2^64 and its multiples would otherwise wrap to a small
             * number that looks valid. */
            overflow = overflow || __builtin_mul_overflow(v, (gint64)10, &v) ||
                       __builtin_add_overflow(v, (gint64)(*ps->p - '0'), &v);
            ps->p++;
        }
        if (overflow) {
            g_autofree char *what =
                g_strdup_printf("number %.*s too large (at most %" G_GINT64_FORMAT ")",
                                (int)(ps->p - at), at, G_MAXINT64);
            return expr_fail(ps, at, error, what);
        }
        if (g_ascii_isalpha(*ps->p) || *ps->p == '_') {
            g_autofree char *what = g_strdup_printf("unexpected '%c' after a number", *ps->p);
            return expr_fail(ps, ps->p, error, what);
        }
        expr_emit(ps, OP_NUM, 0, (gint64)v, at);
        return TRUE;
    }
    if (g_ascii_isalpha(c) || c == '_') {
        while (g_ascii_isalnum(*ps->p) || *ps->p == '_')
            ps->p++;
        size_t len = (size_t)(ps->p - at);
        for (int var = 0; var < VAR_COUNT; var++) {
            if (strlen(expr_var_names[var]) == len && memcmp(expr_var_names[var], at, len) == 0) {
                expr_emit(ps, OP_VAR, var, 0, at);
                return TRUE;
            }
        }
        g_autofree char *what = g_strdup_printf("unknown variable '%.*s'", (int)len, at);
        return expr_fail(ps, at, error, what);
    }
    if (c == '(') {
        if (++ps->depth > EXPR_DEPTH_MAX)
            return expr_fail(ps, at, error, "too deeply nested");
        ps->p++;
        if (!expr_parse_sum(ps, error))
            return FALSE;
        expr_skip_ws(ps);
        if (*ps->p != ')') {
            g_autofree char *what =
                g_strdup_printf("missing ')' to close the '(' of column %u", expr_col(ps, at));
            return expr_fail(ps, ps->p, error, what);
        }
        ps->p++;
        ps->depth--;
        return TRUE;
    }
    if (c == '\0')
        return expr_fail(ps, at, error, "a number, variable or '(' is missing");
    g_autofree char *what =
        g_strdup_printf("unexpected '%c' where a number, variable or '(' belongs", c);
    return expr_fail(ps, at, error, what);
}

static gboolean expr_parse_unary(ExprParser *ps, GError **error)
{
    expr_skip_ws(ps);
    const char *at = ps->p;
    if (*at != '-' && *at != '+')
        return expr_parse_primary(ps, error);
    if (++ps->depth > EXPR_DEPTH_MAX)
        return expr_fail(ps, at, error, "too deeply nested");
    ps->p++;
    if (!expr_parse_unary(ps, error))
        return FALSE;
    if (*at == '-')
        expr_emit(ps, OP_NEG, 0, 0, at);
    ps->depth--;
    return TRUE;
}

static gboolean expr_parse_product(ExprParser *ps, GError **error)
{
    if (!expr_parse_unary(ps, error))
        return FALSE;
    for (;;) {
        expr_skip_ws(ps);
        const char *at = ps->p;
        ExprOp op;
        if (*at == '*')
            op = OP_MUL;
        else if (*at == '/')
            op = OP_DIV;
        else if (*at == '%')
            op = OP_MOD;
        else
            return TRUE;
        ps->p++;
        if (!expr_parse_unary(ps, error))
            return FALSE;
        expr_emit(ps, op, 0, 0, at);
    }
}

static gboolean expr_parse_sum(ExprParser *ps, GError **error)
{
    if (!expr_parse_product(ps, error))
        return FALSE;
    for (;;) {
        expr_skip_ws(ps);
        const char *at = ps->p;
        ExprOp op;
        if (*at == '+')
            op = OP_ADD;
        else if (*at == '-')
            op = OP_SUB;
        else
            return TRUE;
        ps->p++;
        if (!expr_parse_product(ps, error))
            return FALSE;
        expr_emit(ps, op, 0, 0, at);
    }
}

static MapExpr *expr_compile(const char *text, GError **error)
{
    g_autoptr(MapExpr) expr = g_new0(MapExpr, 1);
    expr->text = g_strdup(text);
    expr->code = g_array_new(FALSE, FALSE, sizeof(ExprInsn));

    ExprParser ps = {.text = expr->text, .p = expr->text, .code = expr->code};
    if (strlen(text) > EXPR_TEXT_MAX) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid expression: longer than %d characters", EXPR_TEXT_MAX);
        return NULL;
    }
    expr_skip_ws(&ps);
    if (*ps.p == '\0') {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "empty expression (%s, e.g. %s)",
                    EXPR_SYNTAX, "2 + v/4 + v%4*68");
        return NULL;
    }
    if (!expr_parse_sum(&ps, error))
        return NULL;
    expr_skip_ws(&ps);
    if (*ps.p == ')') {
        expr_fail(&ps, ps.p, error, "unmatched ')'");
        return NULL;
    }
    if (*ps.p != '\0') {
        g_autofree char *what =
            g_strdup_printf("unexpected '%c' where an operator or the end belongs", *ps.p);
        expr_fail(&ps, ps.p, error, what);
        return NULL;
    }
    expr->max_stack = ps.max_sp;
    return g_steal_pointer(&expr);
}

static int vcpu_prop(const TopoVcpu *vcpu, int var)
{
    switch (var) {
    case VAR_V:
        return vcpu->index;
    case VAR_SOCKET:
        return vcpu->socket;
    case VAR_DIE:
        return vcpu->die;
    case VAR_CLUSTER:
        return vcpu->cluster;
    case VAR_CORE:
        return vcpu->core;
    case VAR_THREAD:
        return vcpu->thread;
    case VAR_NODE:
        return vcpu->node;
    default:
        return -1;
    }
}

static gboolean expr_eval_fail(const MapExpr *expr, const TopoVcpu *vcpu, const ExprInsn *insn,
                               GError **error, const char *what)
{
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                "expression \"%s\" fails for vCPU %d: %s at column %u", expr->text, vcpu->index,
                what, insn->col);
    return FALSE;
}

static gboolean expr_run(const MapExpr *expr, const TopoVcpu *vcpu, gint64 *result, GError **error)
{
    g_autofree gint64 *stack = g_new(gint64, MAX(expr->max_stack, 1));
    guint sp = 0;

    for (guint i = 0; i < expr->code->len; i++) {
        const ExprInsn *insn = &g_array_index(expr->code, ExprInsn, i);
        gint64 a, b, r = 0;
        gboolean overflow = FALSE;

        switch (insn->op) {
        case OP_NUM:
            stack[sp++] = insn->num;
            continue;
        case OP_VAR: {
            int value = vcpu_prop(vcpu, insn->var);
            if (value < 0) {
                /* QEMU leaves out the props a machine type has no level for (no die or
                 * cluster on most x86 machines, no node without -numa). */
                GString *have = g_string_new(NULL);
                for (int var = VAR_SOCKET; var < VAR_COUNT; var++)
                    if (vcpu_prop(vcpu, var) >= 0)
                        g_string_append_printf(have, "%s%s", have->len ? ", " : "",
                                               expr_var_names[var]);
                g_autofree char *what =
                    g_strdup_printf("QEMU reports no '%s' for it (it has: %s)",
                                    expr_var_names[insn->var], have->len ? have->str : "only v");
                g_string_free(have, TRUE);
                return expr_eval_fail(expr, vcpu, insn, error, what);
            }
            stack[sp++] = value;
            continue;
        }
        case OP_NEG:
            a = stack[sp - 1];
            overflow = __builtin_sub_overflow((gint64)0, a, &r);
            if (overflow)
                return expr_eval_fail(expr, vcpu, insn, error, "integer overflow in '-'");
            stack[sp - 1] = r;
            continue;
        default:
            break;
        }

        b = stack[--sp];
        a = stack[sp - 1];
        switch (insn->op) {
        case OP_ADD:
            overflow = __builtin_add_overflow(a, b, &r);
            break;
        case OP_SUB:
            overflow = __builtin_sub_overflow(a, b, &r);
            break;
        case OP_MUL:
            overflow = __builtin_mul_overflow(a, b, &r);
            break;
        case OP_DIV:
        case OP_MOD:
            if (b == 0)
                return expr_eval_fail(expr, vcpu, insn, error,
                                      insn->op == OP_DIV ? "division by zero" : "modulo by zero");
            if (a == G_MININT64 && b == -1) {
                overflow = TRUE;
                break;
            }
            r = insn->op == OP_DIV ? a / b : a % b;
            break;
        default:
            g_assert_not_reached();
        }
        if (overflow) {
            static const char sym[] = {
                [OP_ADD] = '+', [OP_SUB] = '-', [OP_MUL] = '*', [OP_DIV] = '/', [OP_MOD] = '%'};
            g_autofree char *what = g_strdup_printf("integer overflow in '%c'", sym[insn->op]);
            return expr_eval_fail(expr, vcpu, insn, error, what);
        }
        stack[sp - 1] = r;
    }
    g_assert(sp == 1);
    *result = stack[0];
    return TRUE;
}

gboolean topo_expr_eval(const char *expr, const TopoVcpu *vcpu, gint64 *result, GError **error)
{
    g_return_val_if_fail(expr != NULL && vcpu != NULL && result != NULL, FALSE);
    g_autoptr(GError) local = NULL;
    g_autoptr(MapExpr) compiled = expr_compile(expr, &local);
    if (!compiled) {
        g_set_error(error, local->domain, local->code, "vCPU %d: %s", vcpu->index, local->message);
        return FALSE;
    }
    return expr_run(compiled, vcpu, result, error);
}

/* ---- map specs ---- */

typedef struct {
    TopoCpuSet *vcpus; /* cpu-index values */
    TopoCpuSet *cpus;
} MapGroup;

struct TopoMapSpec {
    TopoMapKind kind;
    char *text;
    GArray *list;      /* int, TOPO_MAP_LIST: CPU of the i-th vCPU */
    GPtrArray *groups; /* MapGroup*, TOPO_MAP_GROUPS */
    MapExpr *expr;     /* TOPO_MAP_EXPR */
};

static void map_group_free(gpointer data)
{
    MapGroup *group = data;
    topo_cpuset_free(group->vcpus);
    topo_cpuset_free(group->cpus);
    g_free(group);
}

void topo_map_spec_free(TopoMapSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->text);
    if (spec->list)
        g_array_unref(spec->list);
    if (spec->groups)
        g_ptr_array_unref(spec->groups);
    expr_free(spec->expr);
    g_free(spec);
}

TopoMapKind topo_map_spec_kind(const TopoMapSpec *spec)
{
    g_return_val_if_fail(spec != NULL, TOPO_MAP_AUTO);
    return spec->kind;
}

const char *topo_map_spec_text(const TopoMapSpec *spec)
{
    g_return_val_if_fail(spec != NULL, NULL);
    return spec->text;
}

TopoCpuSet *topo_map_spec_vcpus(const TopoMapSpec *spec)
{
    g_return_val_if_fail(spec != NULL, NULL);
    TopoCpuSet *vcpus;
    switch (spec->kind) {
    case TOPO_MAP_LIST:
        vcpus = topo_cpuset_new();
        for (guint i = 0; i < spec->list->len; i++)
            topo_cpuset_add(vcpus, (int)i);
        return vcpus;
    case TOPO_MAP_GROUPS:
        vcpus = topo_cpuset_new();
        for (guint i = 0; i < spec->groups->len; i++)
            topo_cpuset_union(vcpus, ((MapGroup *)spec->groups->pdata[i])->vcpus);
        return vcpus;
    default:
        return NULL;
    }
}

/* A cpulist map: the one cpulist grammar, expanded in the order written (a map gives the i-th CPU
 * written to the i-th vCPU, so "3,1,2" is not "1-3"); refusals worded for --pin. */
static GArray *list_parse(const char *text, GError **error)
{
    TopoCpulistRefusal why;
    g_autoptr(GError) local = NULL;
    GArray *list = topo_cpulist_parse_ordered(text, &why, &local);
    if (list)
        return list;

    const char *at = text + why.offset;
    g_autofree char *what = NULL;
    switch (why.fault) {
    case TOPO_CPULIST_EXPECTED_NUMBER:
        what = why.rest ? g_strdup_printf("expected a number at \"%.*s\"", (int)why.rest, at)
                        : g_strdup("expected a number at the end");
        break;
    case TOPO_CPULIST_TOO_LARGE:
        what = g_strdup_printf("number too large (at most %d)", TOPO_CPU_MAX - 1);
        break;
    case TOPO_CPULIST_REVERSED:
        what = g_strdup_printf("reversed range %d-%d (write %d-%d)", why.first, why.last, why.last,
                               why.first);
        break;
    case TOPO_CPULIST_ZERO_STRIDE:
        what = g_strdup("stride must be at least 1");
        break;
    case TOPO_CPULIST_UNEXPECTED:
        what = g_strdup_printf("unexpected '%c'", *at);
        break;
    case TOPO_CPULIST_TOO_LONG:
        what = g_strdup_printf("more than %d entries", TOPO_CPULIST_ORDERED_MAX);
        break;
    }
    g_set_error(error, TOPO_ERROR, local->code, "invalid --pin cpulist \"%s\": %s (%s)", text, what,
                MAP_SYNTAX);
    return NULL;
}

static GPtrArray *groups_parse(const char *text, GError **error)
{
    g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func(map_group_free);
    g_auto(GStrv) items = g_strsplit(text, ";", -1);
    g_autoptr(TopoCpuSet) seen = topo_cpuset_new();
    g_autoptr(TopoCpuSet) twice = topo_cpuset_new();

    for (guint i = 0; items[i]; i++) {
        g_autofree char *item = g_strstrip(g_strdup(items[i]));
        const char *at = strchr(item, '@');
        if (!at || strchr(at + 1, '@')) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                        "invalid --pin group %u \"%s\" in \"%s\": %s (%s)", i + 1, item, text,
                        at ? "more than one '@'" : "no '@' between vCPUs and CPUs", GROUPS_SYNTAX);
            return NULL;
        }
        g_autofree char *vcpu_text = g_strndup(item, (gsize)(at - item));
        const char *cpu_text = at + 1;
        g_autoptr(GError) local = NULL;
        g_autoptr(TopoCpuSet) vcpus = topo_cpuset_parse(vcpu_text, &local);
        g_autoptr(TopoCpuSet) cpus = vcpus ? topo_cpuset_parse(cpu_text, &local) : NULL;
        if (!vcpus || !cpus) {
            g_set_error(error, TOPO_ERROR, local->code, "invalid --pin group %u \"%s\": %s %s (%s)",
                        i + 1, item, vcpus ? "CPUS:" : "VCPUS:", local->message, GROUPS_SYNTAX);
            return NULL;
        }
        if (topo_cpuset_is_empty(vcpus) || topo_cpuset_is_empty(cpus)) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                        "invalid --pin group %u \"%s\" in \"%s\": %s is empty (%s)", i + 1, item,
                        text, topo_cpuset_is_empty(vcpus) ? "VCPUS" : "CPUS", GROUPS_SYNTAX);
            return NULL;
        }
        g_autoptr(TopoCpuSet) again = topo_cpuset_copy(vcpus);
        topo_cpuset_intersect(again, seen);
        topo_cpuset_union(twice, again);
        topo_cpuset_union(seen, vcpus);

        MapGroup *group = g_new0(MapGroup, 1);
        group->vcpus = g_steal_pointer(&vcpus);
        group->cpus = g_steal_pointer(&cpus);
        g_ptr_array_add(groups, group);
    }
    if (!topo_cpuset_is_empty(twice)) {
        g_autofree char *names = topo_cpuset_format(twice);
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid --pin groups \"%s\": vCPU%s %s %s named in more than one group "
                    "(each vCPU belongs to exactly one group)",
                    text, topo_cpuset_count(twice) == 1 ? "" : "s", names,
                    topo_cpuset_count(twice) == 1 ? "is" : "are");
        return NULL;
    }
    return g_steal_pointer(&groups);
}

TopoMapSpec *topo_map_spec_parse(const char *text, GError **error)
{
    g_return_val_if_fail(text != NULL, NULL);
    g_autoptr(TopoMapSpec) spec = g_new0(TopoMapSpec, 1);
    g_autofree char *body = g_strstrip(g_strdup(text));
    spec->text = g_strdup(text);

    if (*body == '\0') {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "empty --pin map (%s)", MAP_SYNTAX);
        return NULL;
    }
    if (strcmp(body, "auto") == 0) {
        spec->kind = TOPO_MAP_AUTO;
    } else if (g_str_has_prefix(body, "expr:")) {
        g_autoptr(GError) local = NULL;
        spec->kind = TOPO_MAP_EXPR;
        spec->expr = expr_compile(body + strlen("expr:"), &local);
        if (!spec->expr) {
            g_set_error(error, TOPO_ERROR, local->code, "invalid --pin map: %s", local->message);
            return NULL;
        }
    } else if (strchr(body, '@')) {
        spec->kind = TOPO_MAP_GROUPS;
        spec->groups = groups_parse(body, error);
        if (!spec->groups)
            return NULL;
    } else {
        spec->kind = TOPO_MAP_LIST;
        spec->list = list_parse(body, error);
        if (!spec->list)
            return NULL;
    }
    return g_steal_pointer(&spec);
}

/* ---- maps ---- */

static TopoMap *map_new(void)
{
    TopoMap *map = g_new0(TopoMap, 1);
    map->cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    map->warnings = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
    map->explain = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
    return map;
}

TopoNote *topo_note_new(TopoNoteKind kind, const char *fmt, ...)
{
    TopoNote *note = g_new0(TopoNote, 1);
    va_list ap;
    note->kind = kind;
    va_start(ap, fmt);
    note->text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return note;
}

void topo_note_free(TopoNote *note)
{
    if (!note)
        return;
    g_free(note->text);
    g_free(note);
}

void topo_map_free(TopoMap *map)
{
    if (!map)
        return;
    if (map->cpus)
        g_ptr_array_unref(map->cpus);
    if (map->warnings)
        g_ptr_array_unref(map->warnings);
    if (map->explain)
        g_ptr_array_unref(map->explain);
    g_free(map);
}

/* "CPU 4 of --pin is" / "CPUs 4-5 of --pin are" */
static char *cpus_subject(const TopoCpuSet *set, const char *what)
{
    g_autofree char *list = topo_cpuset_format(set);
    gboolean one = topo_cpuset_count(set) == 1;
    return g_strdup_printf("CPU%s %s of %s %s", one ? "" : "s", list, what, one ? "is" : "are");
}

/* The vCPUs of @map that use any CPU of @bad, as a "; vCPUs 2-3 are mapped there" suffix. */
static char *map_users(const TopoMap *map, const TopoVcpu *vcpus, const TopoCpuSet *bad)
{
    if (!map)
        return g_strdup("");
    g_autoptr(TopoCpuSet) users = topo_cpuset_new();
    for (guint i = 0; i < map->cpus->len; i++)
        if (topo_cpuset_intersects(g_ptr_array_index(map->cpus, i), bad))
            topo_cpuset_add(users, vcpus[i].index);
    if (topo_cpuset_is_empty(users))
        return g_strdup("");
    g_autofree char *list = topo_cpuset_format(users);
    gboolean one = topo_cpuset_count(users) == 1;
    return g_strdup_printf("; vCPU%s %s %s mapped there", one ? "" : "s", list, one ? "is" : "are");
}

/* "vCPU 3", "vCPUs 0-1,4" or "vCPUs 0-238:2": @noun followed by the set as a cpulist. */
static char *set_phrase(const char *noun, const TopoCpuSet *set)
{
    g_autofree char *list = topo_cpuset_format_compact(set);
    return g_strdup_printf("%s%s %s", noun, topo_cpuset_count(set) == 1 ? "" : "s", list);
}

static const TopoCpuSet *ctx_allowed(const TopoPlaceCtx *ctx)
{
    return ctx->allowed ? ctx->allowed : ctx->host->cpus_allowed;
}

/* Every CPU of @used exists, is online and is allowed. @map/@vcpus (optional) name the vCPUs in
 * the message. */
static gboolean cpus_check(const TopoCpuSet *used, const TopoPlaceCtx *ctx, const char *what,
                           const TopoMap *map, const TopoVcpu *vcpus, GError **error)
{
    const TopoHost *host = ctx->host;
    g_autoptr(TopoCpuSet) exist = topo_cpuset_copy(host->online);
    if (host->offline)
        topo_cpuset_union(exist, host->offline);

    g_autoptr(TopoCpuSet) absent = topo_cpuset_copy(used);
    topo_cpuset_subtract(absent, exist);
    if (!topo_cpuset_is_empty(absent)) {
        g_autofree char *subject = cpus_subject(absent, what);
        g_autofree char *users = map_users(map, vcpus, absent);
        g_autofree char *have = topo_cpuset_describe(exist, FALSE, "none");
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                    "%s not present on this host (its CPUs are %s)%s", subject, have, users);
        return FALSE;
    }

    g_autoptr(TopoCpuSet) offline = topo_cpuset_copy(used);
    topo_cpuset_subtract(offline, host->online);
    if (!topo_cpuset_is_empty(offline)) {
        g_autofree char *subject = cpus_subject(offline, what);
        g_autofree char *users = map_users(map, vcpus, offline);
        g_autofree char *online = topo_cpuset_describe(host->online, FALSE, "none");
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                    "%s offline (the online CPUs are %s; bring a CPU online with "
                    "'echo 1 > /sys/devices/system/cpu/cpuN/online')%s",
                    subject, online, users);
        return FALSE;
    }

    const TopoCpuSet *allowed = ctx_allowed(ctx);
    g_autoptr(TopoCpuSet) outside = topo_cpuset_copy(used);
    if (allowed)
        topo_cpuset_subtract(outside, allowed);
    if (!topo_cpuset_is_empty(outside)) {
        g_autofree char *subject = cpus_subject(outside, what);
        g_autofree char *users = map_users(map, vcpus, outside);
        g_autofree char *allowed_list = topo_cpuset_describe(allowed, FALSE, "none");
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                    "%s outside the allowed CPUs %s (" ALLOWED_HINT ")%s", subject, allowed_list,
                    users);
        return FALSE;
    }
    return TRUE;
}

gboolean topo_cpus_validate(const TopoCpuSet *cpus, const TopoPlaceCtx *ctx, const char *what,
                            GError **error)
{
    g_return_val_if_fail(cpus != NULL && ctx != NULL && ctx->host != NULL, FALSE);
    if (!what)
        what = "the CPU set";
    if (topo_cpuset_is_empty(cpus)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID, "%s names no CPU", what);
        return FALSE;
    }
    return cpus_check(cpus, ctx, what, NULL, NULL, error);
}

static gboolean map_from_list(TopoMap *map, const TopoMapSpec *spec, guint n_vcpus, GError **error)
{
    if (spec->list->len != n_vcpus) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                    "--pin lists %u CPU%s but the guest has %u vCPU%s (a cpulist map gives "
                    "exactly one CPU to each vCPU, in QEMU's vCPU order)",
                    spec->list->len, spec->list->len == 1 ? "" : "s", n_vcpus,
                    n_vcpus == 1 ? "" : "s");
        return FALSE;
    }
    for (guint i = 0; i < n_vcpus; i++)
        g_ptr_array_add(map->cpus, topo_cpuset_new_single(g_array_index(spec->list, int, i)));
    return TRUE;
}

static gboolean map_from_groups(TopoMap *map, const TopoMapSpec *spec, const TopoVcpu *vcpus,
                                guint n_vcpus, GError **error)
{
    g_autoptr(TopoCpuSet) guest = topo_cpuset_new();
    g_autoptr(TopoCpuSet) missing = topo_cpuset_new();
    g_autoptr(TopoCpuSet) named = topo_cpuset_new();

    for (guint g = 0; g < spec->groups->len; g++)
        topo_cpuset_union(named, ((MapGroup *)g_ptr_array_index(spec->groups, g))->vcpus);

    for (guint i = 0; i < n_vcpus; i++) {
        const MapGroup *found = NULL;
        topo_cpuset_add(guest, vcpus[i].index);
        for (guint g = 0; g < spec->groups->len && !found; g++) {
            const MapGroup *group = g_ptr_array_index(spec->groups, g);
            if (topo_cpuset_has(group->vcpus, vcpus[i].index))
                found = group;
        }
        if (found)
            g_ptr_array_add(map->cpus, topo_cpuset_copy(found->cpus));
        else
            topo_cpuset_add(missing, vcpus[i].index);
    }

    g_autoptr(TopoCpuSet) extra = topo_cpuset_copy(named);
    topo_cpuset_subtract(extra, guest);
    if (topo_cpuset_is_empty(missing) && topo_cpuset_is_empty(extra))
        return TRUE;

    g_autoptr(GString) msg = g_string_new("--pin groups must name every vCPU exactly once: ");
    g_autofree char *guest_list = topo_cpuset_describe(guest, FALSE, "none");
    if (!topo_cpuset_is_empty(missing)) {
        g_autofree char *list = topo_cpuset_format(missing);
        gboolean one = topo_cpuset_count(missing) == 1;
        g_string_append_printf(msg, "vCPU%s %s %s in no group", one ? "" : "s", list,
                               one ? "is" : "are");
    }
    if (!topo_cpuset_is_empty(extra)) {
        g_autofree char *list = topo_cpuset_format(extra);
        gboolean one = topo_cpuset_count(extra) == 1;
        g_string_append_printf(msg, "%sthe guest has no vCPU%s %s",
                               topo_cpuset_is_empty(missing) ? "" : "; ", one ? "" : "s", list);
    }
    g_string_append_printf(msg, " (the guest's vCPUs are %s)", guest_list);
    g_set_error_literal(error, TOPO_ERROR, TOPO_ERROR_INVALID, msg->str);
    return FALSE;
}

static gboolean map_from_expr(TopoMap *map, const TopoMapSpec *spec, const TopoVcpu *vcpus,
                              guint n_vcpus, GError **error)
{
    for (guint i = 0; i < n_vcpus; i++) {
        gint64 cpu;
        if (!expr_run(spec->expr, &vcpus[i], &cpu, error))
            return FALSE;
        if (cpu < 0 || cpu >= TOPO_CPU_MAX) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                        "expression \"%s\" gives CPU %" G_GINT64_FORMAT " for vCPU %d (%s)",
                        spec->expr->text, cpu, vcpus[i].index,
                        cpu < 0 ? "CPU numbers start at 0" : "past the largest CPU number");
            return FALSE;
        }
        g_ptr_array_add(map->cpus, topo_cpuset_new_single((int)cpu));
    }
    return TRUE;
}

static const char *map_kind_name(TopoMapKind kind)
{
    switch (kind) {
    case TOPO_MAP_AUTO:
        return "automatic placement";
    case TOPO_MAP_LIST:
        return "cpulist";
    case TOPO_MAP_GROUPS:
        return "groups";
    case TOPO_MAP_EXPR:
        return "expression";
    }
    return "?";
}

/* Hints about explicit maps that are valid but probably not meant. */
static void map_warn(TopoMap *map, const TopoMapSpec *spec, const TopoVcpu *vcpus,
                     const TopoPlaceCtx *ctx)
{
    guint n = map->cpus->len;

    if (spec->kind == TOPO_MAP_LIST || spec->kind == TOPO_MAP_EXPR) {
        g_autofree guint *users = g_new0(guint, TOPO_CPU_MAX);
        g_autoptr(TopoCpuSet) shared = topo_cpuset_new();
        g_autoptr(TopoCpuSet) sharing = topo_cpuset_new();
        for (guint i = 0; i < n; i++)
            users[topo_cpuset_first(g_ptr_array_index(map->cpus, i))]++;
        for (guint i = 0; i < n; i++) {
            int cpu = topo_cpuset_first(g_ptr_array_index(map->cpus, i));
            if (users[cpu] > 1) {
                topo_cpuset_add(shared, cpu);
                topo_cpuset_add(sharing, vcpus[i].index);
            }
        }
        if (!topo_cpuset_is_empty(shared)) {
            g_autofree char *cpus = set_phrase("CPU", shared);
            g_autofree char *who = set_phrase("vCPU", sharing);
            g_ptr_array_add(map->warnings,
                            topo_note_new(TOPO_NOTE_CPU_SHARED,
                                          "--pin puts more than one vCPU on %s (%s share them)",
                                          cpus, who));
        }
    }

    if (ctx->reserved && !topo_cpuset_is_empty(ctx->reserved)) {
        g_autoptr(TopoCpuSet) both = topo_cpuset_new();
        g_autoptr(TopoCpuSet) who = topo_cpuset_new();
        for (guint i = 0; i < n; i++) {
            g_autoptr(TopoCpuSet) overlap = topo_cpuset_copy(g_ptr_array_index(map->cpus, i));
            topo_cpuset_intersect(overlap, ctx->reserved);
            if (!topo_cpuset_is_empty(overlap)) {
                topo_cpuset_union(both, overlap);
                topo_cpuset_add(who, vcpus[i].index);
            }
        }
        if (!topo_cpuset_is_empty(both)) {
            g_autofree char *cpus = set_phrase("CPU", both);
            g_autofree char *list = set_phrase("vCPU", who);
            g_ptr_array_add(map->warnings,
                            topo_note_new(TOPO_NOTE_RESERVED_SHARED,
                                          "--pin puts %s on %s, reserved for emulator or I/O "
                                          "threads",
                                          list, cpus));
        }
    }

    if (ctx->node_binding && ctx->host->cpus) {
        /* A vCPU away from the host node its guest node's memory is bound to pays remote
         * memory latency on every access: legal, but rarely wanted. */
        g_autofree int *cpu_node = g_new(int, TOPO_CPU_MAX);
        for (int c = 0; c < TOPO_CPU_MAX; c++)
            cpu_node[c] = -1;
        for (guint i = 0; i < ctx->host->cpus->len; i++) {
            const TopoCpu *cpu = g_ptr_array_index(ctx->host->cpus, i);
            if (cpu->cpu >= 0 && cpu->cpu < TOPO_CPU_MAX)
                cpu_node[cpu->cpu] = cpu->node;
        }
        for (guint gnode = 0; gnode < ctx->node_binding->len; gnode++) {
            const TopoCpuSet *bound = g_ptr_array_index(ctx->node_binding, gnode);
            if (!bound || topo_cpuset_is_empty(bound))
                continue;
            g_autoptr(TopoCpuSet) away = topo_cpuset_new();
            for (guint i = 0; i < n; i++) {
                if (vcpus[i].node != (int)gnode)
                    continue;
                const TopoCpuSet *set = g_ptr_array_index(map->cpus, i);
                for (int c = topo_cpuset_first(set); c >= 0; c = topo_cpuset_next(set, c))
                    if (cpu_node[c] >= 0 && !topo_cpuset_has(bound, cpu_node[c]))
                        topo_cpuset_add(away, vcpus[i].index);
            }
            if (!topo_cpuset_is_empty(away)) {
                g_autofree char *list = set_phrase("vCPU", away);
                g_autofree char *nodes = set_phrase("host node", bound);
                g_ptr_array_add(map->warnings,
                                topo_note_new(TOPO_NOTE_CROSS_NODE,
                                              "--pin lets %s of guest node %u run outside %s, "
                                              "where that guest node's memory is bound",
                                              list, gnode, nodes));
            }
        }
    }
}

TopoMap *topo_map_compute(const TopoMapSpec *spec, const TopoVcpu *vcpus, guint n_vcpus,
                          const TopoPlaceCtx *ctx, GError **error)
{
    g_return_val_if_fail(spec != NULL && ctx != NULL && ctx->host != NULL, NULL);
    g_return_val_if_fail(vcpus != NULL || n_vcpus == 0, NULL);
    g_autoptr(TopoMap) map = NULL;

    if (n_vcpus == 0) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID, "--pin: the guest has no vCPUs to map");
        return NULL;
    }

    if (spec->kind == TOPO_MAP_AUTO) {
        map = topo_place_auto(vcpus, n_vcpus, ctx, error);
        if (!map) {
            g_prefix_error(error, "--pin: ");
            return NULL;
        }
        if (!map->warnings)
            map->warnings = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
        if (!map->explain)
            map->explain = g_ptr_array_new_with_free_func((GDestroyNotify)topo_note_free);
        if (!map->cpus || map->cpus->len != n_vcpus) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_NOFIT,
                        "--pin: automatic placement returned %u CPU sets for %u vCPUs",
                        map->cpus ? map->cpus->len : 0, n_vcpus);
            return NULL;
        }
    } else {
        gboolean ok = FALSE;
        map = map_new();
        switch (spec->kind) {
        case TOPO_MAP_LIST:
            ok = map_from_list(map, spec, n_vcpus, error);
            break;
        case TOPO_MAP_GROUPS:
            ok = map_from_groups(map, spec, vcpus, n_vcpus, error);
            break;
        case TOPO_MAP_EXPR:
            ok = map_from_expr(map, spec, vcpus, n_vcpus, error);
            if (!ok)
                g_prefix_error(error, "--pin: ");
            break;
        case TOPO_MAP_AUTO:
            g_assert_not_reached();
        }
        if (!ok)
            return NULL;
    }

    /* The launcher pins nothing before this returns: the whole map is checked here at once. */
    g_autoptr(TopoCpuSet) used = topo_cpuset_new();
    for (guint i = 0; i < n_vcpus; i++) {
        const TopoCpuSet *set = g_ptr_array_index(map->cpus, i);
        if (!set || topo_cpuset_is_empty(set)) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_INVALID,
                        "--pin: the map gives vCPU %d no CPU", vcpus[i].index);
            return NULL;
        }
        topo_cpuset_union(used, set);
    }
    if (!cpus_check(used, ctx, "--pin", map, vcpus, error))
        return NULL;

    if (spec->kind != TOPO_MAP_AUTO) {
        map_warn(map, spec, vcpus, ctx);
        g_ptr_array_add(map->explain,
                        topo_note_new(TOPO_NOTE_EXPLICIT_MAP, "explicit %s map from --pin \"%s\"",
                                      map_kind_name(spec->kind), spec->text));
    }
    return g_steal_pointer(&map);
}
