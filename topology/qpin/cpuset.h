/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — CPU sets and cpulist text.
 *
 * A TopoCpuSet is a CPU bitmap able to hold CPU numbers 0..TOPO_CPU_MAX-1, laid out as the
 * cpu_set_t of CPU_ALLOC(TOPO_CPU_MAX). It is handed to sched_setaffinity()/sched_getaffinity()
 * directly through topo_cpuset_raw() and topo_cpuset_raw_size(). The same type is used for sets
 * of NUMA node ids.
 */
#pragma once

#include <glib.h>
#include <sched.h>

G_BEGIN_DECLS

/* Highest CPU (or node) number + 1 a set can hold; numbers at or past it are refused. */
#define TOPO_CPU_MAX 8192

#define TOPO_ERROR topo_error_quark()
GQuark topo_error_quark(void);

typedef enum {
    TOPO_ERROR_PARSE,   /* malformed text (cpulist, map, expression, size ...) */
    TOPO_ERROR_RANGE,   /* a number past TOPO_CPU_MAX or overflowing */
    TOPO_ERROR_IO,      /* a file could not be read */
    TOPO_ERROR_MISSING, /* a required file is missing */
    TOPO_ERROR_INVALID, /* a request the host cannot satisfy */
    TOPO_ERROR_NOFIT,   /* auto placement found no map */
} TopoError;

typedef struct TopoCpuSet TopoCpuSet;

/* A new empty set. Never fails. */
TopoCpuSet *topo_cpuset_new(void);
/* Frees @set; NULL is accepted. */
void topo_cpuset_free(TopoCpuSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TopoCpuSet, topo_cpuset_free)

TopoCpuSet *topo_cpuset_copy(const TopoCpuSet *set);
/* A set holding the single CPU @cpu (which must be < TOPO_CPU_MAX). */
TopoCpuSet *topo_cpuset_new_single(int cpu);

/* Adds/removes @cpu; numbers outside 0..TOPO_CPU_MAX-1 are ignored by remove and refused
 * (returns false) by add. */
gboolean topo_cpuset_add(TopoCpuSet *set, int cpu);
void topo_cpuset_remove(TopoCpuSet *set, int cpu);
gboolean topo_cpuset_has(const TopoCpuSet *set, int cpu);
void topo_cpuset_clear(TopoCpuSet *set);

guint topo_cpuset_count(const TopoCpuSet *set);
gboolean topo_cpuset_is_empty(const TopoCpuSet *set);
gboolean topo_cpuset_equal(const TopoCpuSet *a, const TopoCpuSet *b);
/* True when every member of @a is in @b. */
gboolean topo_cpuset_is_subset(const TopoCpuSet *a, const TopoCpuSet *b);
gboolean topo_cpuset_intersects(const TopoCpuSet *a, const TopoCpuSet *b);

/* In-place set algebra on @dst. */
void topo_cpuset_union(TopoCpuSet *dst, const TopoCpuSet *src);
void topo_cpuset_intersect(TopoCpuSet *dst, const TopoCpuSet *src);
void topo_cpuset_subtract(TopoCpuSet *dst, const TopoCpuSet *src);

/* Lowest member, or -1 when empty. */
int topo_cpuset_first(const TopoCpuSet *set);
/* Lowest member greater than @after, or -1. Iterate with
 * for (int c = topo_cpuset_first(s); c >= 0; c = topo_cpuset_next(s, c)) */
int topo_cpuset_next(const TopoCpuSet *set, int after);
/* Highest member, or -1 when empty. */
int topo_cpuset_last(const TopoCpuSet *set);
/* The @n-th (0-based) member in ascending order, or -1. */
int topo_cpuset_nth(const TopoCpuSet *set, guint n);

/* The underlying CPU_ALLOC mask and its size in bytes, for sched_{set,get}affinity. */
cpu_set_t *topo_cpuset_raw(TopoCpuSet *set);
const cpu_set_t *topo_cpuset_raw_const(const TopoCpuSet *set);
size_t topo_cpuset_raw_size(void);

/* Parses a cpulist: comma-joined `N`, `N-M` or `N-M:STRIDE` items. Leading/trailing
 * whitespace (sysfs files end in a newline) is tolerated; "" (or only whitespace) is the empty
 * set. Garbage, reversed ranges, zero stride, empty items, numbers >= TOPO_CPU_MAX and overflow
 * are errors (TOPO_ERROR_PARSE / TOPO_ERROR_RANGE); never a partial result. */
TopoCpuSet *topo_cpuset_parse(const char *text, GError **error);

/* Most CPUs an ordered cpulist may expand to: a map longer than this fits no guest QEMU can
 * start, and the cap keeps "0-8191,0-8191,..." from costing unbounded memory. */
#define TOPO_CPULIST_ORDERED_MAX (4 * TOPO_CPU_MAX)

/* Why cpulist text was refused: the grammar's verdict, for callers that word the message in
 * their own terms (the --pin map). */
typedef enum {
    TOPO_CPULIST_EXPECTED_NUMBER, /* no digit where a number belongs (TOPO_ERROR_PARSE) */
    TOPO_CPULIST_TOO_LARGE,       /* a number >= TOPO_CPU_MAX, however long (TOPO_ERROR_RANGE) */
    TOPO_CPULIST_REVERSED,        /* N-M with M < N (TOPO_ERROR_PARSE) */
    TOPO_CPULIST_ZERO_STRIDE,     /* N-M:0 (TOPO_ERROR_PARSE) */
    TOPO_CPULIST_UNEXPECTED,      /* a character other than ',' after an item (TOPO_ERROR_PARSE) */
    TOPO_CPULIST_TOO_LONG,        /* more than TOPO_CPULIST_ORDERED_MAX CPUs (TOPO_ERROR_RANGE) */
} TopoCpulistFault;

typedef struct {
    TopoCpulistFault fault;
    gsize offset;    /* byte offset of the fault in the text as given */
    gsize rest;      /* bytes from there to the end of the list, trailing whitespace not counted;
                        0 when the list ended where something was expected */
    int first, last; /* TOPO_CPULIST_REVERSED: the range as written */
} TopoCpulistRefusal;

/* Parses a cpulist whose order and repeats matter (an explicit --pin map: vCPU i gets the i-th
 * CPU written): the same grammar, whitespace rule, caps and errors as topo_cpuset_parse(), but
 * returns the CPUs (int) in the order written, repeats kept ("3,1,1" is 3, 1, 1; "0-6:3,1" is
 * 0, 3, 6, 1), at most TOPO_CPULIST_ORDERED_MAX of them. When it fails and @refusal is not NULL,
 * *@refusal says where and why. */
GArray *topo_cpulist_parse_ordered(const char *text, TopoCpulistRefusal *refusal, GError **error);

/* Canonical shortest cpulist ("0-3,8,10-11"); "" for the empty set. Never NULL. */
char *topo_cpuset_format(const TopoCpuSet *set);

/* A cpulist for people: runs of three or more CPUs an equal step (> 1) apart written N-M:S
 * ("1-79:2", the odd CPUs of a package whose CPUs alternate between sockets), but only when
 * that makes the whole text shorter than topo_cpuset_format()'s, which it is otherwise; "" for
 * the empty set. topo_cpuset_parse() reads it back. Never NULL. */
char *topo_cpuset_format_compact(const TopoCpuSet *set);

/* The one "set or placeholder" for text meant for people: topo_cpuset_format_compact() with
 * @compact, else topo_cpuset_format(), and @empty (e.g. "none", "-") when the set is empty or
 * NULL. */
char *topo_cpuset_describe(const TopoCpuSet *set, gboolean compact, const char *empty);

/* Parses a Linux hex mask as in /proc/PID/status `Cpus_allowed:` ("ff,ffffffff"). */
TopoCpuSet *topo_cpuset_parse_mask(const char *text, GError **error);

G_END_DECLS
