/* qpin — building the QEMU command line, see qemu-argv.h. */
#include "qemu-argv.h"

#include "error.h"

#include <string.h>

char *qpin_qemu_escape(const char *value, const char *what, GError **error)
{
    if (strpbrk(value, "\n\r")) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_USAGE,
                    "%s: a QEMU option value cannot contain a line break", what);
        return NULL;
    }
    GString *out = g_string_sized_new(strlen(value) + 8);
    for (const char *p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(out, ',');
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

static gboolean is_option(const char *arg, const char *name)
{
    if (arg[0] != '-')
        return FALSE;
    /* QEMU accepts every option with one or two leading dashes. */
    const char *p = arg[1] == '-' ? arg + 2 : arg + 1;
    return strcmp(p, name) == 0;
}

int qpin_qemu_argv_find(char *const *argv, const char *name)
{
    int found = -1;
    for (int i = 1; argv[i]; i++)
        if (is_option(argv[i], name))
            found = i;
    return found;
}

/* One item of a QemuOpts value: [start, end) in the value, commas still doubled. */
typedef struct {
    gsize start, end;
} OptsItem;

static GArray *opts_split(const char *value)
{
    GArray *items = g_array_new(FALSE, FALSE, sizeof(OptsItem));
    gsize len = strlen(value), start = 0, i = 0;
    while (i < len) {
        if (value[i] == ',') {
            if (value[i + 1] == ',') {
                i += 2;
                continue;
            }
            OptsItem item = {start, i};
            g_array_append_val(items, item);
            start = ++i;
            continue;
        }
        i++;
    }
    OptsItem last = {start, len};
    g_array_append_val(items, last);
    return items;
}

static gboolean item_is_key(const char *value, const OptsItem *item, const char *key)
{
    gsize klen = strlen(key), ilen = item->end - item->start;
    const char *p = value + item->start;
    if (ilen >= klen && strncmp(p, key, klen) == 0 && (ilen == klen || p[klen] == '='))
        return TRUE;
    /* QemuOpts' boolean shorthand: "nokey" means key=off. */
    return ilen == klen + 2 && strncmp(p, "no", 2) == 0 && strncmp(p + 2, key, klen) == 0;
}

char *qpin_qemu_name_value(const char *value)
{
    static const char key[] = "debug-threads";
    g_autoptr(GArray) items = opts_split(value);
    for (guint i = 0; i < items->len; i++) {
        const OptsItem *item = &g_array_index(items, OptsItem, i);
        /* The first item without '=' is the implied guest name, whatever it spells. */
        if (i == 0 && !memchr(value + item->start, '=', item->end - item->start))
            continue;
        if (item_is_key(value, item, key)) {
            GString *out = g_string_new_len(value, item->start);
            g_string_append(out, "debug-threads=on");
            g_string_append(out, value + item->end);
            return g_string_free(out, FALSE);
        }
    }
    if (value[0] == '\0')
        return g_strdup("debug-threads=on");
    const OptsItem *last = &g_array_index(items, OptsItem, items->len - 1);
    /* A value ending in a single separator comma already has an empty last item. */
    if (last->start == last->end)
        return g_strconcat(value, "debug-threads=on", NULL);
    return g_strconcat(value, ",debug-threads=on", NULL);
}

GPtrArray *qpin_qemu_argv_build(char *const *user_argv, int qmp_fd, GError **error)
{
    if (!user_argv || !user_argv[0] || !user_argv[0][0]) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_EXIT_USAGE,
                            "no QEMU command given (expected: -- QEMU [QEMU-ARGS...])");
        return NULL;
    }
    for (int i = 1; user_argv[i]; i++) {
        if (is_option(user_argv[i], "daemonize")) {
            g_set_error(error, QPIN_ERROR, QPIN_EXIT_USAGE,
                        "%s: qpin supervises QEMU and cannot let it daemonize; drop the option "
                        "(run qpin itself in the background instead)",
                        user_argv[i]);
            return NULL;
        }
    }

    GPtrArray *argv = g_ptr_array_new_null_terminated(32, g_free, TRUE);
    g_ptr_array_add(argv, g_strdup(user_argv[0]));
    g_ptr_array_add(argv, g_strdup("-S"));
    g_ptr_array_add(argv, g_strdup("-chardev"));
    g_ptr_array_add(argv, g_strdup_printf("socket,id=%s,fd=%d", QPIN_QMP_CHARDEV_ID, qmp_fd));
    g_ptr_array_add(argv, g_strdup("-mon"));
    g_ptr_array_add(argv, g_strdup("chardev=" QPIN_QMP_CHARDEV_ID ",mode=control"));

    int name = qpin_qemu_argv_find(user_argv, "name");
    if (name < 0) {
        g_ptr_array_add(argv, g_strdup("-name"));
        g_ptr_array_add(argv, g_strdup("debug-threads=on"));
    }
    for (int i = 1; user_argv[i]; i++) {
        if (name > 0 && i == name + 1)
            g_ptr_array_add(argv, qpin_qemu_name_value(user_argv[i]));
        else
            g_ptr_array_add(argv, g_strdup(user_argv[i]));
    }
    return argv;
}

static gboolean needs_quotes(const char *arg)
{
    if (!*arg)
        return TRUE;
    for (const char *p = arg; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr(",._+:@%/=-", *p))
            return TRUE;
    return FALSE;
}

char *qpin_qemu_argv_display(char *const *argv)
{
    GString *out = g_string_new(NULL);
    for (int i = 0; argv[i]; i++) {
        if (i)
            g_string_append_c(out, ' ');
        if (!needs_quotes(argv[i])) {
            g_string_append(out, argv[i]);
            continue;
        }
        g_string_append_c(out, '\'');
        for (const char *p = argv[i]; *p; p++) {
            if (*p == '\'')
                g_string_append(out, "'\\''");
            else
                g_string_append_c(out, *p);
        }
        g_string_append_c(out, '\'');
    }
    return g_string_free(out, FALSE);
}
