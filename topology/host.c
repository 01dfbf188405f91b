/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host model, read from a sysroot. See host.h. */
#include <stdbool.h>
#include <qpin/host.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPU_DIR  "sys/devices/system/cpu"
#define NODE_DIR "sys/devices/system/node"
/* No sysfs or procfs file qpin reads comes near this; a larger one is not what we expect. */
#define HOST_FILE_MAX (4 * 1024 * 1024)
/* The kernel's node_distance() defaults when the firmware gives no SLIT. */
#define LOCAL_DISTANCE  10
#define REMOTE_DISTANCE 20

void topo_cpu_free(TopoCpu *cpu)
{
    if (!cpu)
        return;
    topo_cpuset_free(cpu->siblings);
    topo_cpuset_free(cpu->llc);
    g_free(cpu);
}

void topo_node_free(TopoNode *node)
{
    if (!node)
        return;
    topo_cpuset_free(node->cpus);
    if (node->distances)
        g_array_unref(node->distances);
    if (node->hugepages)
        g_array_unref(node->hugepages);
    g_free(node);
}

void topo_host_free(TopoHost *host)
{
    if (!host)
        return;
    g_free(host->sysroot);
    g_free(host->cmdline);
    topo_cpuset_free(host->online);
    topo_cpuset_free(host->offline);
    topo_cpuset_free(host->isolated);
    topo_cpuset_free(host->nohz_full);
    topo_cpuset_free(host->cpus_allowed);
    topo_cpuset_free(host->mems_allowed);
    topo_cpuset_free(host->nodes_with_memory);
    if (host->cpus)
        g_ptr_array_unref(host->cpus);
    if (host->nodes)
        g_ptr_array_unref(host->nodes);
    if (host->warnings)
        g_ptr_array_unref(host->warnings);
    g_free(host);
}

static char *host_path(const TopoHost *host, const char *rel)
{
    return g_build_filename(host->sysroot, rel, NULL);
}

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "an unknown kind of file";
}

static void set_not_regular(const char *path, mode_t mode, GError **error)
{
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO,
                "%s is not a regular file but %s (qpin reads only regular files, as sysfs and "
                "procfs files are)",
                path, file_kind(mode));
}

/* Reads the whole file @path. A missing file is an error only when @required; otherwise
 * *@out is NULL and the call succeeds. Anything but a regular file is an error, whether
 * required or not: every sysfs and procfs file qpin reads is one, and a FIFO or a device planted
 * in a sysroot would block the read forever or never end.
 *
 * One read() is enough for almost every file: a sysfs attribute or a procfs seq_file fills the
 * caller's buffer up to its size or the end of the text, and on a regular file (a sysroot dump)
 * a short read is the end of the file. Only a file that fills the buffer is read on until EOF. */
static bool read_text(const char *path, bool required, char **out, GError **error)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one;
     * the FIFO is then refused below. It changes nothing for regular files. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            if (!required)
                return true;
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_MISSING, "%s: required file is missing",
                        path);
            return false;
        }
        /* A socket cannot be opened at all (ENXIO); say what it is rather than why. */
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            set_not_regular(path, st.st_mode, error);
            return false;
        }
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "%s: %s", path, g_strerror(err));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "%s: %s", path, g_strerror(err));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        set_not_regular(path, st.st_mode, error);
        return false;
    }
    char buf[4096];
    g_autoptr(GString) text = NULL;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "%s: %s", path, g_strerror(err));
            return false;
        }
        if (!text && (size_t)n < sizeof(buf)) {
            close(fd);
            if (memchr(buf, '\0', (size_t)n)) {
                g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: unexpected NUL byte", path);
                return false;
            }
            *out = g_strndup(buf, (gsize)n);
            return true;
        }
        if (n == 0)
            break;
        if (!text)
            text = g_string_sized_new(2 * sizeof(buf));
        if (text->len + (size_t)n > HOST_FILE_MAX) {
            close(fd);
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "%s: larger than %d bytes", path,
                        HOST_FILE_MAX);
            return false;
        }
        g_string_append_len(text, buf, n);
    }
    close(fd);
    if (memchr(text->str, '\0', text->len)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: unexpected NUL byte", path);
        return false;
    }
    *out = g_string_free(g_steal_pointer(&text), FALSE);
    return true;
}

/* Parses @text, the content of @path, as a cpulist; a parse error names @path. */
static TopoCpuSet *parse_cpuset(const char *path, const char *text, GError **error)
{
    GError *local = NULL;
    TopoCpuSet *set = topo_cpuset_parse(text, &local);
    if (!set)
        g_propagate_prefixed_error(error, local, "%s: ", path);
    return set;
}

/* Reads a cpulist file (cpus or node ids); *@out is NULL when optional and missing. */
static bool read_cpuset(const char *path, bool required, TopoCpuSet **out, GError **error)
{
    g_autofree char *text = NULL;
    *out = NULL;
    if (!read_text(path, required, &text, error))
        return false;
    if (!text)
        return true;
    *out = parse_cpuset(path, text, error);
    return *out != NULL;
}

/* "CPU 5" or "CPUs 5-7,9", for messages. */
static char *cpus_phrase(const TopoCpuSet *set)
{
    g_autofree char *list = topo_cpuset_format(set);
    return g_strdup_printf("%s %s", topo_cpuset_count(set) == 1 ? "CPU" : "CPUs", list);
}

/* Refuses the CPU list @set read from @path when it names CPUs outside @known, the host's
 * online and offline CPUs: the kernel lists only CPUs that may exist, and a placement grouping
 * CPUs that do not exist would be nonsense. */
static bool check_known(const char *path, const TopoCpuSet *set, const TopoCpuSet *known,
                        GError **error)
{
    if (topo_cpuset_is_subset(set, known))
        return true;
    g_autoptr(TopoCpuSet) absent = topo_cpuset_copy(set);
    topo_cpuset_subtract(absent, known);
    g_autofree char *said = topo_cpuset_format(set);
    g_autofree char *bad = cpus_phrase(absent);
    g_autofree char *have = topo_cpuset_format(known);
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                "%s: says '%s', but %s %s not exist (expected CPUs of this host, online or "
                "offline: %s)",
                path, said, bad, topo_cpuset_count(absent) == 1 ? "does" : "do", have);
    return false;
}

/* Refuses @set, the SMT siblings or a cache's CPUs of @cpu read from @path, when it leaves out
 * @cpu itself or names CPUs the host does not have. */
static bool check_cpu_list(const char *path, const TopoCpuSet *set, int cpu,
                           const TopoCpuSet *known, GError **error)
{
    if (!topo_cpuset_has(set, cpu)) {
        g_autofree char *said = topo_cpuset_format(set);
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "%s: says '%s', which leaves out CPU %d itself (expected a list of CPUs "
                    "including %d)",
                    path, said, cpu, cpu);
        return false;
    }
    return check_known(path, set, known, error);
}

/* Parses @text, stripped in place, as a decimal in [@min, @max]. */
static bool parse_int(const char *path, char *text, gint64 min, gint64 max, gint64 *out,
                      GError **error)
{
    GError *local = NULL;
    if (!g_ascii_string_to_signed(g_strstrip(text), 10, min, max, out, &local)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: %s", path, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

/* Reads a file holding one integer; *@out = @dflt when optional and missing. */
static bool read_int(const char *path, bool required, gint64 min, gint64 max, gint64 dflt,
                     gint64 *out, GError **error)
{
    g_autofree char *text = NULL;
    if (!read_text(path, required, &text, error))
        return false;
    if (!text) {
        *out = dflt;
        return true;
    }
    return parse_int(path, text, min, max, out, error);
}

/* State shared by the reads of all CPUs of one host. */
typedef struct {
    char *path;                /* scratch path, starting with SYSROOT/CPU_DIR */
    gsize path_size;           /* bytes allocated for path */
    gsize cpu_dir_len;         /* length of SYSROOT/CPU_DIR */
    gsize len;                 /* current length of path */
    int llc_index;             /* cache index of the LLC found on an earlier CPU, -1 if none yet */
    gint64 llc_level;          /* its level */
    const TopoCpuSet **llc_of; /* [cpu]: an LLC already read that lists cpu, or NULL */
    int ncpus;                 /* entries of llc_of */
    const TopoCpuSet *known;   /* online and offline CPUs: the CPUs a list may name */
} CpuReader;

/* Appends @n bytes of @s to the scratch path. Paths of a few thousand CPUs are built per read:
 * plain copies, no printf and no allocation once the buffer has its size. */
static void path_append(CpuReader *r, const char *s, gsize n)
{
    if (r->len + n + 1 > r->path_size) {
        r->path_size = 2 * (r->len + n + 1);
        r->path = g_realloc(r->path, r->path_size);
    }
    memcpy(r->path + r->len, s, n);
    r->len += n;
    r->path[r->len] = '\0';
}

static void path_append_str(CpuReader *r, const char *s)
{
    path_append(r, s, strlen(s));
}

static void path_append_uint(CpuReader *r, guint n)
{
    char buf[16];
    char *p = buf + sizeof(buf);
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    path_append(r, p, (gsize)(buf + sizeof(buf) - p));
}

/* Sets the path to SYSROOT/CPU_DIR/cpu@cpu/@rel. */
static const char *cpu_path(CpuReader *r, int cpu, const char *rel)
{
    r->len = r->cpu_dir_len;
    path_append(r, "/cpu", 4);
    path_append_uint(r, (guint)cpu);
    path_append(r, "/", 1);
    path_append_str(r, rel);
    return r->path;
}

/* Sets the path to SYSROOT/CPU_DIR/cpu@cpu/cache/index@index/@file. */
static const char *cache_path(CpuReader *r, int cpu, int index, const char *file)
{
    cpu_path(r, cpu, "cache/index");
    path_append_uint(r, (guint)index);
    path_append(r, "/", 1);
    path_append_str(r, file);
    return r->path;
}

/* The level of cache @index of @cpu when it is a unified cache, else -1. */
static bool read_unified_level(CpuReader *r, int cpu, int index, gint64 *level, GError **error)
{
    g_autofree char *type = NULL;
    if (!read_int(cache_path(r, cpu, index, "level"), false, 0, 64, -1, level, error) ||
        !read_text(cache_path(r, cpu, index, "type"), false, &type, error))
        return false;
    if (*level >= 0 && (!type || strcmp(g_strstrip(type), "Unified") != 0))
        *level = -1;
    return true;
}

/* Finds the highest-level unified cache of @cpu by listing its cache directory: *@index is -1
 * when sysfs describes none. */
static bool scan_llc_index(CpuReader *r, int cpu, int *index, gint64 *level, GError **error)
{
    *index = -1;
    *level = -1;
    g_autoptr(GDir) dir = g_dir_open(cpu_path(r, cpu, "cache"), 0, NULL);
    if (!dir)
        return true;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        guint64 i;
        if (!g_str_has_prefix(name, "index") ||
            !g_ascii_string_to_unsigned(name + 5, 10, 0, INT_MAX, &i, NULL))
            continue;
        gint64 l;
        if (!read_unified_level(r, cpu, (int)i, &l, error))
            return false;
        if (l < 0)
            continue;
        if (l > *level || (l == *level && (int)i < *index)) {
            *level = l;
            *index = (int)i;
        }
    }
    return true;
}

/* The shared_cpu_list of the highest-level unified cache of @cpu, or NULL (and success)
 * when sysfs describes none.
 *
 * Listing every cache index of every CPU is most of the cost of reading a large host, so the
 * layout found on one CPU is tried first on the next: only the level and type of that index
 * are checked, and a CPU that differs is scanned in full. An LLC's shared_cpu_list is the same
 * for every CPU it lists, so once it is read the other CPUs of that cache need no read at all. */
static bool read_llc(CpuReader *r, int cpu, TopoCpuSet **out, GError **error)
{
    *out = NULL;
    if (cpu < r->ncpus && r->llc_of[cpu]) {
        *out = topo_cpuset_copy(r->llc_of[cpu]);
        return true;
    }

    int index = -1;
    gint64 level = -1;
    if (r->llc_index >= 0) {
        if (!read_unified_level(r, cpu, r->llc_index, &level, error))
            return false;
        if (level == r->llc_level)
            index = r->llc_index;
    }
    if (index < 0) {
        if (!scan_llc_index(r, cpu, &index, &level, error))
            return false;
        if (index < 0)
            return true;
        r->llc_index = index;
        r->llc_level = level;
    }

    const char *listpath = cache_path(r, cpu, index, "shared_cpu_list");
    if (!read_cpuset(listpath, true, out, error))
        return false;
    if (topo_cpuset_is_empty(*out)) {
        g_clear_pointer(out, topo_cpuset_free);
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: empty for online CPU %d", listpath,
                    cpu);
        return false;
    }
    if (!check_cpu_list(listpath, *out, cpu, r->known, error)) {
        g_clear_pointer(out, topo_cpuset_free);
        return false;
    }
    return true;
}

/* Notes @llc, the LLC just read for @cpu, as the LLC of the CPUs after @cpu that it lists. */
static void share_llc(CpuReader *r, int cpu, const TopoCpuSet *llc)
{
    if (!topo_cpuset_has(llc, cpu))
        return;
    for (int c = topo_cpuset_next(llc, cpu); c >= 0 && c < r->ncpus; c = topo_cpuset_next(llc, c))
        if (!r->llc_of[c])
            r->llc_of[c] = llc;
}

static TopoCpu *read_cpu(CpuReader *r, int cpu, GError **error)
{
    gint64 package, die, core;
    /* Some architectures report -1 for an unknown package or die. Kernels before 5.2 have no
     * die_id: one die per package. */
    GError *local = NULL;
    if (!read_int(cpu_path(r, cpu, "topology/physical_package_id"), true, -1, INT_MAX, 0, &package,
                  &local)) {
        if (g_error_matches(local, TOPO_ERROR, TOPO_ERROR_MISSING) &&
            !g_file_test(cpu_path(r, cpu, "topology"), G_FILE_TEST_IS_DIR)) {
            g_clear_error(&local);
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_MISSING,
                        "%s: required directory is missing (CPU %d is online)", r->path, cpu);
            return NULL;
        }
        g_propagate_error(error, local);
        return NULL;
    }
    if (!read_int(cpu_path(r, cpu, "topology/die_id"), false, -1, INT_MAX, 0, &die, error) ||
        !read_int(cpu_path(r, cpu, "topology/core_id"), true, -1, INT_MAX, 0, &core, error))
        return NULL;

    g_autoptr(TopoCpuSet) siblings = NULL;
    if (!read_cpuset(cpu_path(r, cpu, "topology/thread_siblings_list"), true, &siblings, error) ||
        !check_cpu_list(r->path, siblings, cpu, r->known, error))
        return NULL;
    g_autoptr(TopoCpuSet) llc = NULL;
    if (!read_llc(r, cpu, &llc, error))
        return NULL;

    TopoCpu *c = g_new0(TopoCpu, 1);
    c->cpu = cpu;
    c->package = (int)package;
    c->die = (int)die;
    c->core = (int)core;
    c->node = -1;
    c->siblings = g_steal_pointer(&siblings);
    c->llc = llc ? g_steal_pointer(&llc) : topo_cpuset_new_single(cpu);
    return c;
}

/* Reads every online CPU into host->cpus; lists may name CPUs of @known only. */
static bool read_cpus(TopoHost *host, const TopoCpuSet *known, GError **error)
{
    CpuReader r = {.llc_index = -1, .llc_level = -1, .known = known};
    g_autofree char *path = host_path(host, CPU_DIR);
    r.cpu_dir_len = r.len = strlen(path);
    r.path_size = r.len + 1;
    r.path = g_steal_pointer(&path);
    r.ncpus = topo_cpuset_last(host->online) + 1;
    g_autofree const TopoCpuSet **llc_of = g_new0(const TopoCpuSet *, r.ncpus);
    r.llc_of = llc_of;

    host->cpus = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpu_free);
    bool ok = true;
    for (int c = topo_cpuset_first(host->online); ok && c >= 0;
         c = topo_cpuset_next(host->online, c)) {
        TopoCpu *cpu = read_cpu(&r, c, error);
        ok = cpu != NULL;
        if (ok) {
            g_ptr_array_add(host->cpus, cpu);
            share_llc(&r, c, cpu->llc);
        }
    }
    g_free(r.path);
    return ok;
}

/* Finds "KEY:" in a meminfo text (per-node lines read "Node 0 MemTotal:   123 kB") and
 * returns its value in KiB. */
static bool meminfo_value(const char *path, const char *text, const char *key, guint64 *out,
                          GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *needle = g_strconcat(key, ":", NULL);
    for (char **l = lines; *l; l++) {
        char *p = *l;
        /* Skip a "Node N " prefix. */
        if (g_str_has_prefix(p, "Node ")) {
            p += 5;
            while (g_ascii_isdigit(*p))
                p++;
            while (*p == ' ')
                p++;
        }
        if (!g_str_has_prefix(p, needle))
            continue;
        p += strlen(needle);
        while (g_ascii_isspace(*p))
            p++;
        char *end = p;
        while (g_ascii_isdigit(*end))
            end++;
        g_autofree char *num = g_strndup(p, end - p);
        GError *local = NULL;
        if (!g_ascii_string_to_unsigned(num, 10, 0, G_MAXUINT64 / 1024, out, &local)) {
            g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: %s: %s", path, key,
                        local->message);
            g_error_free(local);
            return false;
        }
        while (*end == ' ')
            end++;
        if (*end == '\0')
            *out /= 1024; /* a bare byte count */
        return true;
    }
    g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: no %s line", path, key);
    return false;
}

static bool read_meminfo(const char *path, TopoNode *node, GError **error)
{
    g_autofree char *text = NULL;
    return read_text(path, true, &text, error) &&
           meminfo_value(path, text, "MemTotal", &node->mem_total_kib, error) &&
           meminfo_value(path, text, "MemFree", &node->mem_free_kib, error);
}

static gint hugepages_cmp(gconstpointer a, gconstpointer b)
{
    const TopoHugepages *x = a, *y = b;
    return x->size_kib < y->size_kib ? -1 : x->size_kib > y->size_kib;
}

/* Reads every hugepages-SIZEkB/ pool under @dirpath (a node's hugepages/ or the global
 * /sys/kernel/mm/hugepages); a missing directory means no hugepage support. */
static bool read_hugepages(const char *dirpath, GArray *out, GError **error)
{
    g_autoptr(GDir) dir = g_dir_open(dirpath, 0, NULL);
    if (!dir)
        return true;
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
            continue;
        g_autofree char *size = g_strndup(name + 10, strlen(name) - 12);
        TopoHugepages hp = {0};
        if (!g_ascii_string_to_unsigned(size, 10, 1, G_MAXUINT64, &hp.size_kib, NULL))
            continue;
        g_autofree char *totalpath = g_build_filename(dirpath, name, "nr_hugepages", NULL);
        g_autofree char *freepath = g_build_filename(dirpath, name, "free_hugepages", NULL);
        gint64 total, free_pages;
        if (!read_int(totalpath, true, 0, G_MAXINT64, 0, &total, error) ||
            !read_int(freepath, true, 0, G_MAXINT64, 0, &free_pages, error))
            return false;
        hp.total = (guint64)total;
        hp.free = (guint64)free_pages;
        g_array_append_val(out, hp);
    }
    g_array_sort(out, hugepages_cmp);
    return true;
}

TopoNode *topo_node_new(int id)
{
    TopoNode *node = g_new0(TopoNode, 1);
    node->id = id;
    node->cpus = topo_cpuset_new();
    node->distances = g_array_new(FALSE, TRUE, sizeof(int));
    node->hugepages = g_array_new(FALSE, TRUE, sizeof(TopoHugepages));
    return node;
}

/* A kernel without NUMA support has no node/ directory: one node 0 holds everything, its
 * memory is the system's and its hugepages the global pools. */
static bool read_single_node(TopoHost *host, GError **error)
{
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func((GDestroyNotify)topo_node_free);
    TopoNode *node = topo_node_new(0);
    g_ptr_array_add(nodes, node);
    topo_cpuset_union(node->cpus, host->online);
    int local = LOCAL_DISTANCE;
    g_array_append_val(node->distances, local);

    g_autofree char *meminfo = host_path(host, "proc/meminfo");
    g_autofree char *hugedir = host_path(host, "sys/kernel/mm/hugepages");
    if (!read_meminfo(meminfo, node, error) || !read_hugepages(hugedir, node->hugepages, error))
        return false;
    host->nodes = g_steal_pointer(&nodes);
    host->nodes_with_memory = topo_cpuset_new_single(0);
    return true;
}

/* Refuses the CPU list @cpus of a node, read from @path, when it names CPUs outside @known or
 * CPUs that an earlier node's list (@lists, with the paths @paths) already holds: a CPU belongs
 * to one NUMA node, and qpin would bind memory by a node it cannot tell. */
static bool check_node_cpus(const char *path, const TopoCpuSet *cpus, const TopoCpuSet *known,
                            GPtrArray *lists, GPtrArray *paths, GError **error)
{
    if (!check_known(path, cpus, known, error))
        return false;
    for (guint i = 0; i < lists->len; i++) {
        const TopoCpuSet *other = g_ptr_array_index(lists, i);
        if (!topo_cpuset_intersects(cpus, other))
            continue;
        g_autoptr(TopoCpuSet) both = topo_cpuset_copy(cpus);
        topo_cpuset_intersect(both, other);
        g_autofree char *said = topo_cpuset_format(cpus);
        g_autofree char *shared = cpus_phrase(both);
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                    "%s: says '%s', but %s %s also in %s (expected node CPU lists that do not "
                    "overlap: a CPU belongs to one NUMA node)",
                    path, said, shared, topo_cpuset_count(both) == 1 ? "is" : "are",
                    (const char *)g_ptr_array_index(paths, i));
        return false;
    }
    return true;
}

static bool read_nodes(TopoHost *host, const TopoCpuSet *known, GError **error)
{
    g_autofree char *nodedir = host_path(host, NODE_DIR);
    if (!g_file_test(nodedir, G_FILE_TEST_IS_DIR))
        return read_single_node(host, error);

    g_autofree char *onlinepath = g_build_filename(nodedir, "online", NULL);
    g_autoptr(TopoCpuSet) ids = NULL;
    if (!read_cpuset(onlinepath, false, &ids, error))
        return false;
    if (!ids) {
        ids = topo_cpuset_new();
        g_autoptr(GDir) dir = g_dir_open(nodedir, 0, NULL);
        const char *name;
        guint64 id;
        while (dir && (name = g_dir_read_name(dir)))
            if (g_str_has_prefix(name, "node") &&
                g_ascii_string_to_unsigned(name + 4, 10, 0, TOPO_CPU_MAX - 1, &id, NULL))
                topo_cpuset_add(ids, (int)id);
    }
    if (topo_cpuset_is_empty(ids)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_MISSING, "%s: no NUMA node is online", nodedir);
        return false;
    }

    guint nnodes = topo_cpuset_count(ids);
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func((GDestroyNotify)topo_node_free);
    /* The CPU lists as read, offline CPUs included, and their paths, for the overlap check. */
    g_autoptr(GPtrArray) lists = g_ptr_array_new_with_free_func((GDestroyNotify)topo_cpuset_free);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    for (int id = topo_cpuset_first(ids); id >= 0; id = topo_cpuset_next(ids, id)) {
        TopoNode *node = topo_node_new(id);
        g_ptr_array_add(nodes, node);
        g_autofree char *name = g_strdup_printf("node%d", id);
        g_autofree char *cpulist = g_build_filename(nodedir, name, "cpulist", NULL);
        g_autofree char *meminfo = g_build_filename(nodedir, name, "meminfo", NULL);
        g_autofree char *distance = g_build_filename(nodedir, name, "distance", NULL);
        g_autofree char *hugedir = g_build_filename(nodedir, name, "hugepages", NULL);
        g_autoptr(TopoCpuSet) cpus = NULL;
        if (!read_cpuset(cpulist, true, &cpus, error) ||
            !check_node_cpus(cpulist, cpus, known, lists, paths, error))
            return false;
        /* Some architectures leave offline CPUs in their node's mask. */
        topo_cpuset_union(node->cpus, cpus);
        topo_cpuset_intersect(node->cpus, host->online);
        g_ptr_array_add(lists, g_steal_pointer(&cpus));
        g_ptr_array_add(paths, g_strdup(cpulist));
        if (!read_meminfo(meminfo, node, error) || !read_hugepages(hugedir, node->hugepages, error))
            return false;

        g_autofree char *text = NULL;
        if (!read_text(distance, false, &text, error))
            return false;
        if (text) {
            /* One entry per online node, in node id order. */
            g_auto(GStrv) fields = g_strsplit_set(g_strstrip(text), " \t", -1);
            for (char **f = fields; *f; f++) {
                if (!**f)
                    continue;
                gint64 d;
                if (!parse_int(distance, *f, 0, 255, &d, error))
                    return false;
                int v = (int)d;
                g_array_append_val(node->distances, v);
            }
            if (node->distances->len != nnodes) {
                g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE,
                            "%s: %u distances for %u online nodes", distance, node->distances->len,
                            nnodes);
                return false;
            }
        } else {
            for (int to = topo_cpuset_first(ids); to >= 0; to = topo_cpuset_next(ids, to)) {
                int v = to == id ? LOCAL_DISTANCE : REMOTE_DISTANCE;
                g_array_append_val(node->distances, v);
            }
        }
    }

    g_autofree char *hasmem = g_build_filename(nodedir, "has_memory", NULL);
    if (!read_cpuset(hasmem, false, &host->nodes_with_memory, error))
        return false;
    if (!host->nodes_with_memory) {
        host->nodes_with_memory = topo_cpuset_new();
        for (guint i = 0; i < nodes->len; i++) {
            const TopoNode *node = g_ptr_array_index(nodes, i);
            if (node->mem_total_kib > 0)
                topo_cpuset_add(host->nodes_with_memory, node->id);
        }
    }
    host->nodes = g_steal_pointer(&nodes);
    return true;
}

/* The cpulist of the last "NAME=" on the kernel command line, before a "--" that starts
 * init's arguments; NULL when absent. */
static char *cmdline_value(const char *cmdline, const char *name)
{
    g_auto(GStrv) words = g_strsplit_set(cmdline, " \t\n", -1);
    g_autofree char *prefix = g_strconcat(name, "=", NULL);
    const char *value = NULL;
    for (char **w = words; *w; w++) {
        if (!strcmp(*w, "--"))
            break;
        if (g_str_has_prefix(*w, prefix))
            value = *w + strlen(prefix);
    }
    return value ? g_strdup(value) : NULL;
}

/* Adds a warning to host->warnings. */
G_GNUC_PRINTF(2, 3) static void host_warn(TopoHost *host, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(host->warnings, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* A number of a kernel CPU list: decimal digits, or N for @last. Returns the text after it, or
 * NULL when there is none or it is past what the kernel's unsigned int holds. */
static const char *kernel_number(const char *p, int last, gint64 *out)
{
    if (*p == 'N') {
        *out = last;
        return p + 1;
    }
    if (!g_ascii_isdigit(*p))
        return NULL;
    gint64 v = 0;
    for (; g_ascii_isdigit(*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > G_MAXUINT)
            return NULL;
    }
    *out = v;
    return p;
}

/* Parses @text as the kernel parses a CPU list of its command line (bitmap_parselist()), which
 * is not qpin's cpulist syntax: items are separated by commas, N-M:USED/GROUP takes the first
 * USED CPUs of every GROUP from N to M (there is no plain stride), a number may be N for the
 * last CPU and an item may be "all". @last is the host's last CPU, nr_cpu_ids - 1 to the
 * kernel, which refuses a list naming a CPU past it. Returns NULL and sets *@why when the kernel
 * refuses @text. */
static TopoCpuSet *kernel_cpulist(const char *text, int last, char **why)
{
    g_autoptr(TopoCpuSet) set = topo_cpuset_new();
    const char *p = text;
    for (;;) {
        while (*p == ',' || g_ascii_isspace(*p))
            p++;
        if (!*p)
            return g_steal_pointer(&set);
        const char *item = p;
        int item_len = (int)strcspn(item, ", \t\n");
        gint64 start = 0, end = last;
        bool range = true;
        if (g_str_has_prefix(p, "all")) {
            p += 3;
        } else {
            p = kernel_number(p, last, &start);
            end = start;
            range = p && *p == '-';
            if (range)
                p = kernel_number(p + 1, last, &end);
        }
        gint64 used = end + 1, group = end + 1;
        if (p && range && *p == ':') {
            p = kernel_number(p + 1, last, &used);
            p = p && *p == '/' ? kernel_number(p + 1, last, &group) : NULL;
        }
        if (!p || (*p && *p != ',' && !g_ascii_isspace(*p))) {
            *why = g_strdup_printf("'%.*s' is not N, N-M or N-M:USED/GROUP", item_len, item);
            return NULL;
        }
        if (start > end || group == 0 || used > group) {
            *why = g_strdup_printf("'%.*s' is a reversed range or a pattern of more CPUs than "
                                   "its group",
                                   item_len, item);
            return NULL;
        }
        if (end > last) {
            *why = g_strdup_printf("CPU %" G_GINT64_FORMAT " is past the last CPU of this host, %d",
                                   end, last);
            return NULL;
        }
        for (gint64 first = start; first <= end; first += group)
            for (gint64 c = first; c < first + used && c <= end; c++)
                topo_cpuset_add(set, (int)c);
    }
}

/* The CPUs of a CPU-list option @name=@value of the kernel command line, as the kernel reads
 * them; NULL with a warning when the kernel ignores the option (a list it refuses, or no CPU). */
static TopoCpuSet *cmdline_cpus(TopoHost *host, const char *name, const char *value,
                                const char *list, int last)
{
    g_autofree char *why = NULL;
    g_autoptr(TopoCpuSet) cpus = kernel_cpulist(list, last, &why);
    if (!cpus) {
        host_warn(host, "%s=%s on the kernel command line: %s; the kernel ignores the option", name,
                  value, why);
        return NULL;
    }
    if (topo_cpuset_is_empty(cpus)) {
        host_warn(host, "%s=%s on the kernel command line names no CPU; the kernel ignores it",
                  name, value);
        return NULL;
    }
    return g_steal_pointer(&cpus);
}

/* isolcpus=[FLAG,...,]CPULIST, read as Linux's kernel/sched/isolation.c does: FLAG is nohz,
 * domain or managed_irq; since Linux 5.7 an unknown FLAG of letters and '_' is skipped (older
 * kernels ignore the whole option), a FLAG with other characters voids the option. Only domain
 * isolation (explicit, or implied when no known flag is given) shows in sysfs `isolated`, and
 * that is what this returns; NULL when the option is absent or ignored. What the kernel ignores
 * in whole or in part becomes a warning, whether sysfs has `isolated` or not: a person who wrote
 * isolcpus=zz believes CPUs are isolated. */
static TopoCpuSet *cmdline_isolcpus(TopoHost *host, int last)
{
    g_autofree char *value = cmdline_value(host->cmdline, "isolcpus");
    if (!value)
        return NULL;
    const char *p = value;
    bool flags = false, domain = false;
    while (g_ascii_isalpha(*p)) {
        size_t len = strcspn(p, ",");
        g_autofree char *flag = g_strndup(p, len);
        if (flag[strspn(flag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")]) {
            host_warn(host,
                      "isolcpus=%s on the kernel command line: '%s' is neither a CPU list nor a "
                      "flag (nohz, domain, managed_irq); the kernel ignores the option",
                      value, flag);
            return NULL;
        }
        if (p[len] != ',') {
            /* The kernel wants a CPU list after the flags. Without one it reads on past the
             * option's end (a kernel bug), into the next option, which then fails as a flag. */
            host_warn(host,
                      "isolcpus=%s on the kernel command line: no CPU list after '%s'; the "
                      "kernel ignores the option",
                      value, flag);
            return NULL;
        }
        if (!strcmp(flag, "domain")) {
            domain = flags = true;
        } else if (!strcmp(flag, "nohz") || !strcmp(flag, "managed_irq")) {
            flags = true;
        } else {
            host_warn(host,
                      "isolcpus=%s on the kernel command line: unknown flag '%s' (the flags are "
                      "nohz, domain, managed_irq); Linux 5.7 and later skip it, older kernels "
                      "ignore the option",
                      value, flag);
        }
        p += len + 1;
    }
    g_autoptr(TopoCpuSet) cpus = cmdline_cpus(host, "isolcpus", value, p, last);
    if (cpus && flags && !domain)
        return topo_cpuset_new();
    return g_steal_pointer(&cpus);
}

/* nohz_full=CPULIST; NULL when absent or ignored by the kernel (with a warning). */
static TopoCpuSet *cmdline_nohz_full(TopoHost *host, int last)
{
    g_autofree char *value = cmdline_value(host->cmdline, "nohz_full");
    return value ? cmdline_cpus(host, "nohz_full", value, value, last) : NULL;
}

/* Reads CPU_DIR/@file, or when the kernel has no such file, takes *@cmdline, what the kernel
 * made of the command-line option (NULL: none). */
static bool read_isolation(TopoHost *host, const char *file, TopoCpuSet **cmdline, TopoCpuSet **out,
                           GError **error)
{
    g_autofree char *path = host_path(host, file);
    g_autofree char *text = NULL;
    *out = NULL;
    if (!read_text(path, false, &text, error))
        return false;
    if (text) {
        /* Kernels built with NO_HZ_FULL but booted without nohz_full= print a NULL mask as
         * "(null)". */
        if (!strcmp(g_strstrip(text), "(null)")) {
            *out = topo_cpuset_new();
            return true;
        }
        *out = parse_cpuset(path, text, error);
        return *out != NULL;
    }
    *out = *cmdline ? g_steal_pointer(cmdline) : topo_cpuset_new();
    return true;
}

/* "KEY:\tVALUE" of a /proc/PID/status text, or NULL. */
char *topo_proc_status_field(const char *text, const char *key)
{
    gsize klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            const char *v = line + klen + 1;
            gsize len = end ? (gsize)(end - v) : strlen(v);
            return g_strstrip(g_strndup(v, len));
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

static bool read_allowed_live(TopoHost *host, GError **error)
{
    host->cpus_allowed = topo_cpuset_new();
    if (sched_getaffinity(0, topo_cpuset_raw_size(), topo_cpuset_raw(host->cpus_allowed)) < 0) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "sched_getaffinity: %s", g_strerror(errno));
        return false;
    }
    if (numa_available() < 0) {
        /* No NUMA system calls (kernel without NUMA, or seccomp): all memory is allowed. */
        host->mems_allowed = topo_cpuset_copy(host->nodes_with_memory);
        return true;
    }
    struct bitmask *mems = numa_get_mems_allowed();
    if (!mems) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_IO, "cannot read the allowed memory nodes");
        return false;
    }
    host->mems_allowed = topo_cpuset_new();
    for (unsigned long i = 0; i < mems->size && i < TOPO_CPU_MAX; i++)
        if (numa_bitmask_isbitset(mems, (unsigned int)i))
            topo_cpuset_add(host->mems_allowed, (int)i);
    numa_bitmask_free(mems);
    return true;
}

static bool read_allowed_sysroot(TopoHost *host, GError **error)
{
    g_autofree char *path = host_path(host, "proc/self/status");
    g_autofree char *text = NULL;
    if (!read_text(path, false, &text, error))
        return false;
    g_autofree char *cpus = text ? topo_proc_status_field(text, "Cpus_allowed_list") : NULL;
    g_autofree char *mems = text ? topo_proc_status_field(text, "Mems_allowed_list") : NULL;
    GError *local = NULL;
    if (cpus) {
        host->cpus_allowed = topo_cpuset_parse(cpus, &local);
        if (!host->cpus_allowed) {
            g_propagate_prefixed_error(error, local, "%s: Cpus_allowed_list: ", path);
            return false;
        }
    } else {
        host->cpus_allowed = topo_cpuset_copy(host->online);
    }
    if (mems) {
        host->mems_allowed = topo_cpuset_parse(mems, &local);
        if (!host->mems_allowed) {
            g_propagate_prefixed_error(error, local, "%s: Mems_allowed_list: ", path);
            return false;
        }
    } else {
        host->mems_allowed = topo_cpuset_copy(host->nodes_with_memory);
    }
    return true;
}

static gint cpu_key_cmp(gconstpointer key, gconstpointer elem)
{
    int cpu = *(const int *)key;
    const TopoCpu *c = *(const TopoCpu *const *)elem;
    return cpu < c->cpu ? -1 : cpu > c->cpu;
}

const TopoCpu *topo_host_cpu(const TopoHost *host, int cpu)
{
    if (!host || !host->cpus || host->cpus->len == 0)
        return NULL;
    TopoCpu **hit =
        bsearch(&cpu, host->cpus->pdata, host->cpus->len, sizeof(gpointer), cpu_key_cmp);
    return hit ? *hit : NULL;
}

const TopoNode *topo_host_node(const TopoHost *host, int id)
{
    if (!host || !host->nodes)
        return NULL;
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        if (node->id == id)
            return node;
    }
    return NULL;
}

int topo_host_distance(const TopoHost *host, int from, int to)
{
    const TopoNode *src = topo_host_node(host, from);
    if (!src || !topo_host_node(host, to))
        return -1;
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        if (node->id == to)
            return i < src->distances->len ? g_array_index(src->distances, int, i)
                   : from == to            ? LOCAL_DISTANCE
                                           : -1;
    }
    return -1;
}

const TopoHugepages *topo_node_hugepages(const TopoNode *node, guint64 size_kib)
{
    if (!node || !node->hugepages)
        return NULL;
    for (guint i = 0; i < node->hugepages->len; i++) {
        const TopoHugepages *hp = &g_array_index(node->hugepages, TopoHugepages, i);
        if (hp->size_kib == size_kib)
            return hp;
    }
    return NULL;
}

TopoHost *topo_host_read(const char *sysroot, GError **error)
{
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    g_autoptr(TopoHost) host = g_new0(TopoHost, 1);
    host->warnings = g_ptr_array_new_with_free_func(g_free);
    host->live = sysroot == NULL || !strcmp(sysroot, "/");
    host->sysroot = g_strdup(sysroot ? sysroot : "/");
    if (!g_file_test(host->sysroot, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_MISSING,
                    g_file_test(host->sysroot, G_FILE_TEST_EXISTS) ? "sysroot %s is not a directory"
                                                                   : "sysroot %s does not exist",
                    host->sysroot);
        return NULL;
    }

    g_autofree char *online = host_path(host, CPU_DIR "/online");
    g_autofree char *offline = host_path(host, CPU_DIR "/offline");
    g_autofree char *present = host_path(host, CPU_DIR "/present");
    g_autofree char *possible = host_path(host, CPU_DIR "/possible");
    if (!read_cpuset(online, true, &host->online, error) ||
        !read_cpuset(offline, false, &host->offline, error))
        return NULL;
    if (topo_cpuset_is_empty(host->online)) {
        g_set_error(error, TOPO_ERROR, TOPO_ERROR_PARSE, "%s: no CPU is online", online);
        return NULL;
    }
    if (!host->offline) {
        g_autoptr(TopoCpuSet) known = NULL;
        if (!read_cpuset(present, false, &known, error) ||
            (!known && !read_cpuset(possible, false, &known, error)))
            return NULL;
        host->offline = known ? g_steal_pointer(&known) : topo_cpuset_new();
    }
    /* The kernel's `offline` lists possible CPUs that are not online; keep it disjoint. */
    topo_cpuset_subtract(host->offline, host->online);
    /* Every CPU the kernel knows: no other list may name a CPU outside them. */
    g_autoptr(TopoCpuSet) known = topo_cpuset_copy(host->online);
    topo_cpuset_union(known, host->offline);

    g_autofree char *cmdline = host_path(host, "proc/cmdline");
    if (!read_text(cmdline, false, &host->cmdline, error))
        return NULL;
    host->cmdline = host->cmdline ? g_strstrip(host->cmdline) : g_strdup("");
    g_autoptr(TopoCpuSet) isolcpus = cmdline_isolcpus(host, topo_cpuset_last(known));
    g_autoptr(TopoCpuSet) nohz_full = cmdline_nohz_full(host, topo_cpuset_last(known));
    if (!read_isolation(host, CPU_DIR "/isolated", &isolcpus, &host->isolated, error) ||
        !read_isolation(host, CPU_DIR "/nohz_full", &nohz_full, &host->nohz_full, error))
        return NULL;

    if (!read_cpus(host, known, error) || !read_nodes(host, known, error))
        return NULL;
    for (guint i = 0; i < host->nodes->len; i++) {
        const TopoNode *node = g_ptr_array_index(host->nodes, i);
        for (int c = topo_cpuset_first(node->cpus); c >= 0; c = topo_cpuset_next(node->cpus, c)) {
            TopoCpu *cpu = (TopoCpu *)topo_host_cpu(host, c);
            if (cpu && cpu->node < 0)
                cpu->node = node->id;
        }
    }

    if (!(host->live ? read_allowed_live(host, error) : read_allowed_sysroot(host, error)))
        return NULL;
    topo_cpuset_intersect(host->cpus_allowed, host->online);
    return g_steal_pointer(&host);
}
