/* qpin — CPU sets and cpulist text. */
#include "cpuset.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

GQuark topo_error_quark(void)
{
    return g_quark_from_static_string("topo-error-quark");
}

struct TopoCpuSet {
    cpu_set_t *mask;
};

size_t topo_cpuset_raw_size(void)
{
    return CPU_ALLOC_SIZE(TOPO_CPU_MAX);
}

TopoCpuSet *topo_cpuset_new(void)
{
    TopoCpuSet *set = g_new0(TopoCpuSet, 1);
    set->mask = CPU_ALLOC(TOPO_CPU_MAX);
    if (!set->mask)
        g_error("out of memory allocating a CPU set");
    CPU_ZERO_S(topo_cpuset_raw_size(), set->mask);
    return set;
}

void topo_cpuset_free(TopoCpuSet *set)
{
    if (!set)
        return;
    CPU_FREE(set->mask);
    g_free(set);
}

TopoCpuSet *topo_cpuset_copy(const TopoCpuSet *set)
{
    TopoCpuSet *copy = topo_cpuset_new();
    memcpy(copy->mask, set->mask, topo_cpuset_raw_size());
    return copy;
}

TopoCpuSet *topo_cpuset_new_single(int cpu)
{
    TopoCpuSet *set = topo_cpuset_new();
    topo_cpuset_add(set, cpu);
    return set;
}

bool topo_cpuset_add(TopoCpuSet *set, int cpu)
{
    if (cpu < 0 || cpu >= TOPO_CPU_MAX)
        return false;
    CPU_SET_S((size_t)cpu, topo_cpuset_raw_size(), set->mask);
    return true;
}

void topo_cpuset_remove(TopoCpuSet *set, int cpu)
{
    if (cpu < 0 || cpu >= TOPO_CPU_MAX)
        return;
    CPU_CLR_S((size_t)cpu, topo_cpuset_raw_size(), set->mask);
}

bool topo_cpuset_has(const TopoCpuSet *set, int cpu)
{
    if (!set || cpu < 0 || cpu >= TOPO_CPU_MAX)
        return false;
    return CPU_ISSET_S((size_t)cpu, topo_cpuset_raw_size(), set->mask);
}

void topo_cpuset_clear(TopoCpuSet *set)
{
    CPU_ZERO_S(topo_cpuset_raw_size(), set->mask);
}

guint topo_cpuset_count(const TopoCpuSet *set)
{
    return (guint)CPU_COUNT_S(topo_cpuset_raw_size(), set->mask);
}

bool topo_cpuset_is_empty(const TopoCpuSet *set)
{
    return topo_cpuset_count(set) == 0;
}

bool topo_cpuset_equal(const TopoCpuSet *a, const TopoCpuSet *b)
{
    return CPU_EQUAL_S(topo_cpuset_raw_size(), a->mask, b->mask);
}

bool topo_cpuset_is_subset(const TopoCpuSet *a, const TopoCpuSet *b)
{
    g_autoptr(TopoCpuSet) rest = topo_cpuset_copy(a);
    topo_cpuset_subtract(rest, b);
    return topo_cpuset_is_empty(rest);
}

bool topo_cpuset_intersects(const TopoCpuSet *a, const TopoCpuSet *b)
{
    g_autoptr(TopoCpuSet) both = topo_cpuset_copy(a);
    topo_cpuset_intersect(both, b);
    return !topo_cpuset_is_empty(both);
}

void topo_cpuset_union(TopoCpuSet *dst, const TopoCpuSet *src)
{
    CPU_OR_S(topo_cpuset_raw_size(), dst->mask, dst->mask, src->mask);
}

void topo_cpuset_intersect(TopoCpuSet *dst, const TopoCpuSet *src)
{
    CPU_AND_S(topo_cpuset_raw_size(), dst->mask, dst->mask, src->mask);
}

void topo_cpuset_subtract(TopoCpuSet *dst, const TopoCpuSet *src)
{
    /* glibc has no CPU_ANDNOT: go word by word over the opaque mask. */
    unsigned long *d = (unsigned long *)dst->mask;
    const unsigned long *s = (const unsigned long *)src->mask;
    for (size_t i = 0; i < topo_cpuset_raw_size() / sizeof(unsigned long); i++)
        d[i] &= ~s[i];
}

int topo_cpuset_next(const TopoCpuSet *set, int after)
{
    const unsigned long *w = (const unsigned long *)set->mask;
    const int bits = (int)(8 * sizeof(unsigned long));
    int cpu = after < 0 ? 0 : after + 1;
    while (cpu < TOPO_CPU_MAX) {
        unsigned long word = w[cpu / bits] >> (cpu % bits);
        if (word)
            return cpu + __builtin_ctzl(word);
        cpu = (cpu / bits + 1) * bits;
    }
    return -1;
}

int topo_cpuset_first(const TopoCpuSet *set)
{
    return topo_cpuset_next(set, -1);
}

int topo_cpuset_last(const TopoCpuSet *set)
{
    const unsigned long *w = (const unsigned long *)set->mask;
    const int bits = (int)(8 * sizeof(unsigned long));
    for (int i = TOPO_CPU_MAX / bits - 1; i >= 0; i--)
        if (w[i])
            return i * bits + bits - 1 - __builtin_clzl(w[i]);
    return -1;
}

int topo_cpuset_nth(const TopoCpuSet *set, guint n)
{
    guint i = 0;
    for (int c = topo_cpuset_first(set); c >= 0; c = topo_cpuset_next(set, c))
        if (i++ == n)
            return c;
    return -1;
}

cpu_set_t *topo_cpuset_raw(TopoCpuSet *set)
{
    return set->mask;
}

const cpu_set_t *topo_cpuset_raw_const(const TopoCpuSet *set)
{
    return set->mask;
}

/* Reads a decimal CPU number at *p. Digits only: no sign, no whitespace, no base prefix. */
static bool parse_number(const char **p, const char *text, int *out, GError **error)
{
    const char *s = *p;
    if (!g_ascii_isdigit(*s)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid cpulist '%s': expected a number at '%s' "
                    "(use e.g. '0-3,8,10-11')",
                    text, *s ? s : "end of text");
        return false;
    }
    guint64 v = 0;
    while (g_ascii_isdigit(*s)) {
        v = v * 10 + (guint64)(*s - '0');
        if (v >= TOPO_CPU_MAX) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_RANGE,
                        "invalid cpulist '%s': number too large (at most %d)", text,
                        TOPO_CPU_MAX - 1);
            return false;
        }
        s++;
    }
    *out = (int)v;
    *p = s;
    return true;
}

TopoCpuSet *topo_cpuset_parse(const char *text, GError **error)
{
    g_return_val_if_fail(text != NULL, NULL);
    g_autofree char *copy = g_strstrip(g_strdup(text));
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    const char *p = copy;

    if (*p == '\0')
        return g_steal_pointer(&set);

    for (;;) {
        int first, last, stride = 1;
        if (!parse_number(&p, text, &first, error))
            return NULL;
        last = first;
        if (*p == '-') {
            p++;
            if (!parse_number(&p, text, &last, error))
                return NULL;
            if (last < first) {
                g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                            "invalid cpulist '%s': reversed range %d-%d (write %d-%d)", text, first,
                            last, last, first);
                return NULL;
            }
            if (*p == ':') {
                p++;
                if (!parse_number(&p, text, &stride, error))
                    return NULL;
                if (stride == 0) {
                    g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                                "invalid cpulist '%s': stride must be at least 1", text);
                    return NULL;
                }
            }
        }
        for (int c = first; c <= last; c += stride)
            topo_cpuset_add(set, c);
        if (*p == '\0')
            break;
        if (*p != ',') {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                        "invalid cpulist '%s': unexpected '%c' (use e.g. '0-3,8,10-11')", text, *p);
            return NULL;
        }
        p++;
    }
    return g_steal_pointer(&set);
}

char *topo_cpuset_format(const TopoCpuSet *set)
{
    GString *out = g_string_new(NULL);
    int c = topo_cpuset_first(set);
    while (c >= 0) {
        int end = c;
        int n;
        while ((n = topo_cpuset_next(set, end)) == end + 1)
            end = n;
        if (out->len)
            g_string_append_c(out, ',');
        if (end == c)
            g_string_append_printf(out, "%d", c);
        else
            g_string_append_printf(out, "%d-%d", c, end);
        c = n;
    }
    return g_string_free(out, FALSE);
}

TopoCpuSet *topo_cpuset_parse_mask(const char *text, GError **error)
{
    g_autofree char *copy = g_strstrip(g_strdup(text));
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    int bit = 0;
    size_t len = strlen(copy);

    if (len == 0) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "invalid CPU mask: empty");
        return NULL;
    }
    /* Rightmost hex digit holds CPUs 0-3; commas separate 32-bit words. */
    for (size_t i = len; i-- > 0;) {
        char ch = copy[i];
        if (ch == ',')
            continue;
        if (!g_ascii_isxdigit(ch)) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "invalid CPU mask '%s'", text);
            return NULL;
        }
        int v = g_ascii_xdigit_value(ch);
        for (int b = 0; b < 4; b++, bit++) {
            if (!(v & (1 << b)))
                continue;
            if (!topo_cpuset_add(set, bit)) {
                g_set_error(error, TOPO_ERROR, TOPO_ERROR_RANGE, "CPU mask '%s' names CPUs past %d",
                            text, TOPO_CPU_MAX - 1);
                return NULL;
            }
        }
    }
    return g_steal_pointer(&set);
}
