/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — CPU sets and cpulist text. */
#include <stdbool.h>
#include <qpin/cpuset.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

GQuark topo_error_quark(void)
{
    return g_quark_from_static_string("topo-error-quark");
}

/* The mask is stored inline, laid out as the cpu_set_t of CPU_ALLOC(TOPO_CPU_MAX) (an array of
 * unsigned long, bit N of word N / bits): one allocation per set, and every operation is a loop
 * over words that stops as soon as its answer is known. */
#define WORD_BITS ((int)(8 * sizeof(unsigned long)))
#define NWORDS    (TOPO_CPU_MAX / WORD_BITS)

G_STATIC_ASSERT(TOPO_CPU_MAX % (4 * WORD_BITS) == 0);
G_STATIC_ASSERT(sizeof(unsigned long[NWORDS]) == CPU_ALLOC_SIZE(TOPO_CPU_MAX));

struct TopoCpuSet {
    unsigned long w[NWORDS];
};

/* The first word at or after @i that is not zero, or NWORDS. Sets are mostly zero words past
 * the host's CPUs, and every iteration ends by crossing them: four words per test. */
static int nonzero_word(const TopoCpuSet *set, int i)
{
    while (i % 4 && i < NWORDS) {
        if (set->w[i])
            return i;
        i++;
    }
    while (i < NWORDS && !(set->w[i] | set->w[i + 1] | set->w[i + 2] | set->w[i + 3]))
        i += 4;
    while (i < NWORDS && !set->w[i])
        i++;
    return i;
}

size_t topo_cpuset_raw_size(void)
{
    return sizeof(((TopoCpuSet *)NULL)->w);
}

TopoCpuSet *topo_cpuset_new(void)
{
    return g_new0(TopoCpuSet, 1);
}

void topo_cpuset_free(TopoCpuSet *set)
{
    g_free(set);
}

TopoCpuSet *topo_cpuset_copy(const TopoCpuSet *set)
{
    return g_memdup2(set, sizeof(*set));
}

TopoCpuSet *topo_cpuset_new_single(int cpu)
{
    TopoCpuSet *set = topo_cpuset_new();
    topo_cpuset_add(set, cpu);
    return set;
}

gboolean topo_cpuset_add(TopoCpuSet *set, int cpu)
{
    if (cpu < 0 || cpu >= TOPO_CPU_MAX)
        return false;
    set->w[cpu / WORD_BITS] |= 1UL << (cpu % WORD_BITS);
    return true;
}

void topo_cpuset_remove(TopoCpuSet *set, int cpu)
{
    if (cpu < 0 || cpu >= TOPO_CPU_MAX)
        return;
    set->w[cpu / WORD_BITS] &= ~(1UL << (cpu % WORD_BITS));
}

gboolean topo_cpuset_has(const TopoCpuSet *set, int cpu)
{
    if (!set || cpu < 0 || cpu >= TOPO_CPU_MAX)
        return false;
    return (set->w[cpu / WORD_BITS] >> (cpu % WORD_BITS)) & 1;
}

void topo_cpuset_clear(TopoCpuSet *set)
{
    memset(set->w, 0, sizeof(set->w));
}

guint topo_cpuset_count(const TopoCpuSet *set)
{
    guint n = 0;
    for (int i = 0; i < NWORDS; i++)
        n += (guint)__builtin_popcountl(set->w[i]);
    return n;
}

gboolean topo_cpuset_is_empty(const TopoCpuSet *set)
{
    return nonzero_word(set, 0) == NWORDS;
}

gboolean topo_cpuset_equal(const TopoCpuSet *a, const TopoCpuSet *b)
{
    return memcmp(a->w, b->w, sizeof(a->w)) == 0;
}

gboolean topo_cpuset_is_subset(const TopoCpuSet *a, const TopoCpuSet *b)
{
    for (int i = 0; i < NWORDS; i++)
        if (a->w[i] & ~b->w[i])
            return false;
    return true;
}

gboolean topo_cpuset_intersects(const TopoCpuSet *a, const TopoCpuSet *b)
{
    for (int i = 0; i < NWORDS; i++)
        if (a->w[i] & b->w[i])
            return true;
    return false;
}

void topo_cpuset_union(TopoCpuSet *dst, const TopoCpuSet *src)
{
    for (int i = 0; i < NWORDS; i++)
        dst->w[i] |= src->w[i];
}

void topo_cpuset_intersect(TopoCpuSet *dst, const TopoCpuSet *src)
{
    for (int i = 0; i < NWORDS; i++)
        dst->w[i] &= src->w[i];
}

void topo_cpuset_subtract(TopoCpuSet *dst, const TopoCpuSet *src)
{
    for (int i = 0; i < NWORDS; i++)
        dst->w[i] &= ~src->w[i];
}

int topo_cpuset_next(const TopoCpuSet *set, int after)
{
    int cpu = after < 0 ? 0 : after + 1;
    if (cpu >= TOPO_CPU_MAX)
        return -1;
    int i = cpu / WORD_BITS;
    unsigned long word = set->w[i] >> (cpu % WORD_BITS);
    if (word)
        return cpu + __builtin_ctzl(word);
    i = nonzero_word(set, i + 1);
    return i < NWORDS ? i * WORD_BITS + __builtin_ctzl(set->w[i]) : -1;
}

int topo_cpuset_first(const TopoCpuSet *set)
{
    int i = nonzero_word(set, 0);
    return i < NWORDS ? i * WORD_BITS + __builtin_ctzl(set->w[i]) : -1;
}

int topo_cpuset_last(const TopoCpuSet *set)
{
    for (int i = NWORDS - 1; i >= 0; i--)
        if (set->w[i])
            return i * WORD_BITS + WORD_BITS - 1 - __builtin_clzl(set->w[i]);
    return -1;
}

int topo_cpuset_nth(const TopoCpuSet *set, guint n)
{
    for (int i = 0; i < NWORDS; i++) {
        unsigned long word = set->w[i];
        guint here = (guint)__builtin_popcountl(word);
        if (n >= here) {
            n -= here;
            continue;
        }
        while (n--)
            word &= word - 1;
        return i * WORD_BITS + __builtin_ctzl(word);
    }
    return -1;
}

cpu_set_t *topo_cpuset_raw(TopoCpuSet *set)
{
    return (cpu_set_t *)set->w;
}

const cpu_set_t *topo_cpuset_raw_const(const TopoCpuSet *set)
{
    return (const cpu_set_t *)set->w;
}

/* Reads a decimal CPU number at *p, before @end. Digits only: no sign, no whitespace, no base
 * prefix. Stops at the first digit that takes it past the cap, so no length overflows. */
static bool scan_number(const char **p, const char *end, int *out, TopoCpulistFault *fault)
{
    const char *s = *p;
    if (s == end || !g_ascii_isdigit(*s)) {
        *fault = TOPO_CPULIST_EXPECTED_NUMBER;
        return false;
    }
    int v = 0;
    while (s < end && g_ascii_isdigit(*s)) {
        v = v * 10 + (*s - '0');
        if (v >= TOPO_CPU_MAX) {
            *fault = TOPO_CPULIST_TOO_LARGE;
            return false;
        }
        s++;
    }
    *out = v;
    *p = s;
    return true;
}

/* Takes one item first..last step @stride in the order written; false when the caller's cap is
 * reached. */
typedef bool (*ItemFunc)(int first, int last, int stride, void *data);

/* The one cpulist grammar: comma-joined `N`, `N-M` or `N-M:S` items, whitespace around the whole
 * list skipped (sysfs files end in a newline). Hands the items to @take in the order written;
 * on the first fault fills *@why and returns false. */
static bool cpulist_scan(const char *text, ItemFunc take, void *data, TopoCpulistRefusal *why)
{
    const char *p = text, *end = text + strlen(text);
    while (p < end && g_ascii_isspace(*p))
        p++;
    while (end > p && g_ascii_isspace(end[-1]))
        end--;
    if (p == end)
        return true;

    TopoCpulistFault fault;
    for (;;) {
        const char *item = p;
        int first, last, stride = 1;
        if (!scan_number(&p, end, &first, &fault))
            goto refused;
        last = first;
        if (p < end && *p == '-') {
            p++;
            if (!scan_number(&p, end, &last, &fault))
                goto refused;
            if (last < first) {
                *why = (TopoCpulistRefusal){.fault = TOPO_CPULIST_REVERSED,
                                            .offset = (gsize)(item - text),
                                            .rest = (gsize)(end - item),
                                            .first = first,
                                            .last = last};
                return false;
            }
            if (p < end && *p == ':') {
                p++;
                const char *at = p;
                if (!scan_number(&p, end, &stride, &fault))
                    goto refused;
                if (stride == 0) {
                    p = at;
                    fault = TOPO_CPULIST_ZERO_STRIDE;
                    goto refused;
                }
            }
        }
        if (!take(first, last, stride, data)) {
            p = item;
            fault = TOPO_CPULIST_TOO_LONG;
            goto refused;
        }
        if (p == end)
            return true;
        if (*p != ',') {
            fault = TOPO_CPULIST_UNEXPECTED;
            goto refused;
        }
        p++;
    }
refused:
    *why = (TopoCpulistRefusal){.fault = fault,
                                .offset = (gsize)(p - text),
                                .rest = (gsize)(end - p),
                                .first = -1,
                                .last = -1};
    return false;
}

/* The GError of a refused cpulist, in the words of topo_cpuset_parse(). */
static void cpulist_error(const char *text, const TopoCpulistRefusal *why, GError **error)
{
    const char *at = text + why->offset;
    switch (why->fault) {
    case TOPO_CPULIST_EXPECTED_NUMBER:
        if (why->rest == 0)
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                        "invalid cpulist '%s': expected a number at 'end of text' "
                        "(use e.g. '0-3,8,10-11')",
                        text);
        else
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                        "invalid cpulist '%s': expected a number at '%.*s' "
                        "(use e.g. '0-3,8,10-11')",
                        text, (int)why->rest, at);
        return;
    case TOPO_CPULIST_TOO_LARGE:
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_RANGE,
                    "invalid cpulist '%s': number too large (at most %d)", text, TOPO_CPU_MAX - 1);
        return;
    case TOPO_CPULIST_REVERSED:
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid cpulist '%s': reversed range %d-%d (write %d-%d)", text, why->first,
                    why->last, why->last, why->first);
        return;
    case TOPO_CPULIST_ZERO_STRIDE:
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid cpulist '%s': stride must be at least 1", text);
        return;
    case TOPO_CPULIST_UNEXPECTED:
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "invalid cpulist '%s': unexpected '%c' (use e.g. '0-3,8,10-11')", text, *at);
        return;
    case TOPO_CPULIST_TOO_LONG:
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_RANGE, "invalid cpulist '%s': more than %d CPUs",
                    text, TOPO_CPULIST_ORDERED_MAX);
        return;
    }
    g_assert_not_reached();
}

/* Adds first..last step @stride; a whole word at a time for the plain ranges sysfs prints. */
static bool add_range(int first, int last, int stride, void *data)
{
    TopoCpuSet *set = data;
    if (stride != 1) {
        for (int c = first; c <= last; c += stride)
            topo_cpuset_add(set, c);
        return true;
    }
    while (first <= last) {
        int i = first / WORD_BITS, lo = first % WORD_BITS;
        int hi = MIN(last - i * WORD_BITS, WORD_BITS - 1);
        unsigned long bits = ~0UL >> (WORD_BITS - 1 - hi + lo) << lo;
        set->w[i] |= bits;
        first = (i + 1) * WORD_BITS;
    }
    return true;
}

TopoCpuSet *topo_cpuset_parse(const char *text, GError **error)
{
    g_return_val_if_fail(text != NULL, NULL);
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    TopoCpulistRefusal why;
    if (!cpulist_scan(text, add_range, set, &why)) {
        cpulist_error(text, &why, error);
        return NULL;
    }
    return g_steal_pointer(&set);
}

static bool append_range(int first, int last, int stride, void *data)
{
    GArray *list = data;
    for (int c = first; c <= last; c += stride) {
        if (list->len >= TOPO_CPULIST_ORDERED_MAX)
            return false;
        g_array_append_val(list, c);
    }
    return true;
}

GArray *topo_cpulist_parse_ordered(const char *text, TopoCpulistRefusal *refusal, GError **error)
{
    g_return_val_if_fail(text != NULL, NULL);
    g_autoptr(GArray) list = g_array_new(FALSE, FALSE, sizeof(int));
    TopoCpulistRefusal why;
    if (!cpulist_scan(text, append_range, list, &why)) {
        if (refusal)
            *refusal = why;
        cpulist_error(text, &why, error);
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* Writes the decimal @n ending at @end; returns where it starts. No printf: a host model
 * formats thousands of these. */
static char *format_number(char *end, int n)
{
    do {
        *--end = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return end;
}

/* The lowest number greater than @after that is not in @set (TOPO_CPU_MAX when none is). */
static int next_absent(const TopoCpuSet *set, int after)
{
    int cpu = after + 1;
    if (cpu >= TOPO_CPU_MAX)
        return TOPO_CPU_MAX;
    int i = cpu / WORD_BITS;
    unsigned long word = ~set->w[i] >> (cpu % WORD_BITS);
    if (word)
        return cpu + __builtin_ctzl(word);
    for (i++; i < NWORDS; i++)
        if (~set->w[i])
            return i * WORD_BITS + __builtin_ctzl(~set->w[i]);
    return TOPO_CPU_MAX;
}

char *topo_cpuset_format(const TopoCpuSet *set)
{
    /* Items are collected in a stack buffer and moved to the heap in chunks. */
    char buf[512];
    size_t len = 0;
    GString *out = NULL;
    for (int c = topo_cpuset_first(set); c >= 0;) {
        int end = next_absent(set, c) - 1;
        char item[32];
        char *p = item + sizeof(item);
        if (end != c) {
            p = format_number(p, end);
            *--p = '-';
        }
        p = format_number(p, c);
        if (len || out)
            *--p = ',';
        size_t n = (size_t)(item + sizeof(item) - p);
        if (len + n > sizeof(buf)) {
            if (!out)
                out = g_string_sized_new(2 * sizeof(buf));
            g_string_append_len(out, buf, (gssize)len);
            len = 0;
        }
        memcpy(buf + len, p, n);
        len += n;
        c = topo_cpuset_next(set, end);
    }
    if (!out)
        return g_strndup(buf, len);
    g_string_append_len(out, buf, (gssize)len);
    return g_string_free(out, FALSE);
}

char *topo_cpuset_format_compact(const TopoCpuSet *set)
{
    char *canonical = topo_cpuset_format(set);
    guint n = topo_cpuset_count(set);
    if (n < 3)
        return canonical;
    g_autofree int *a = g_new(int, n);
    guint k = 0;
    for (int c = topo_cpuset_first(set); c >= 0; c = topo_cpuset_next(set, c))
        a[k++] = c;
    /* Greedy, left to right: each item the longest run of one step from where it starts. */
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n;) {
        guint j = i + 1;
        int d = i + 1 < n ? a[i + 1] - a[i] : 0;
        while (j < n && a[j] - a[j - 1] == d)
            j++;
        if (s->len)
            g_string_append_c(s, ',');
        if (d == 1 && j - i >= 2) {
            g_string_append_printf(s, "%d-%d", a[i], a[j - 1]);
        } else if (d > 1 && j - i >= 3) {
            g_string_append_printf(s, "%d-%d:%d", a[i], a[j - 1], d);
        } else {
            g_string_append_printf(s, "%d", a[i]);
            j = i + 1;
        }
        i = j;
    }
    if (s->len < strlen(canonical)) {
        g_free(canonical);
        return g_string_free(s, FALSE);
    }
    g_string_free(s, TRUE);
    return canonical;
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

char *topo_cpuset_describe(const TopoCpuSet *set, gboolean compact, const char *empty)
{
    if (!set || topo_cpuset_is_empty(set))
        return g_strdup(empty);
    return compact ? topo_cpuset_format_compact(set) : topo_cpuset_format(set);
}
