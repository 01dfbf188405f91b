/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — building the QEMU command line, see qpin-qemu-argv.h. */
#include "qpin-qemu-argv.h"

#include "qpin-error.h"

#include <string.h>

char *qpin_qemu_escape(const char *value, const char *what, GError **error)
{
    if (strpbrk(value, "\n\r")) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
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

/* QEMU accepts every option with one or two leading dashes; a third is part of the name. */
static const char *option_name(const char *arg)
{
    return arg[1] == '-' ? arg + 2 : arg + 1;
}

/* Whether @arg names a QEMU system emulator binary: qemu-system-*, qemu-kvm, kvm. */
static gboolean is_qemu_binary(const char *arg)
{
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    return g_str_has_prefix(base, "qemu-system-") || !strcmp(base, "qemu-kvm") ||
           !strcmp(base, "kvm");
}

int qpin_qemu_argv_binary(char *const *argv, int argc)
{
    if (argc == 0 || !argv || !argv[0] || is_qemu_binary(argv[0]))
        return 0;
    for (int i = 1; (argc < 0 || i < argc) && argv[i]; i++)
        if (is_qemu_binary(argv[i]))
            return i;
    return 0;
}

gboolean qpin_qemu_argv_next(char *const *argv, int argc, QpinQemuArg *arg)
{
    int i = (arg->value >= 0 ? arg->value : arg->index) + 1;
    /* argv[0] is the binary; a line without one has nothing after it to read. */
    gboolean empty = argc == 0 || !argv[0];
    /* The first call starts after the QEMU binary, past a wrapper such as numactl. */
    if (!empty && !arg->name && arg->index == 0)
        i = qpin_qemu_argv_binary(argv, argc) + 1;
    if (i < 1)
        i = 1;
    for (; !empty && (argc < 0 || i < argc) && argv[i]; i++) {
        if (argv[i][0] != '-')
            continue;
        gboolean more = (argc < 0 || i + 1 < argc) && argv[i + 1];
        arg->index = i;
        arg->name = option_name(argv[i]);
        arg->option = qpin_qemu_option_lookup(arg->name);
        if (arg->option)
            arg->value = arg->option->has_arg && more ? i + 1 : -1;
        else
            arg->value = more && argv[i + 1][0] != '-' ? i + 1 : -1;
        return TRUE;
    }
    /* Called again, it finds the end again. */
    arg->index = empty ? 0 : i - 1;
    arg->name = NULL;
    arg->value = -1;
    arg->option = NULL;
    return FALSE;
}

int qpin_qemu_argv_find(char *const *argv, const char *name)
{
    int found = -1;
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(argv, -1, &a);)
        if (strcmp(a.name, name) == 0)
            found = a.index;
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
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "no QEMU command given (expected: -- QEMU [QEMU-ARGS...])");
        return NULL;
    }
    int name = -1;
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(user_argv, -1, &a);) {
        if (strcmp(a.name, "daemonize") == 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s: qpin supervises QEMU and cannot let it daemonize; drop the option "
                        "(run qpin itself in the background instead)",
                        user_argv[a.index]);
            return NULL;
        }
        if (a.option && a.option->has_arg && a.value < 0) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "QEMU option %s needs a value, but the command line ends after it",
                        user_argv[a.index]);
            return NULL;
        }
        if (strcmp(a.name, "name") == 0)
            name = a.value;
    }

    GPtrArray *argv = g_ptr_array_new_null_terminated(32, g_free, TRUE);
    int binary = qpin_qemu_argv_binary(user_argv, -1);
    for (int i = 0; i <= binary; i++)
        g_ptr_array_add(argv, g_strdup(user_argv[i]));
    g_ptr_array_add(argv, g_strdup("-S"));
    g_ptr_array_add(argv, g_strdup("-chardev"));
    g_ptr_array_add(argv, g_strdup_printf("socket,id=%s,fd=%d", QPIN_QMP_CHARDEV_ID, qmp_fd));
    g_ptr_array_add(argv, g_strdup("-mon"));
    g_ptr_array_add(argv, g_strdup("chardev=" QPIN_QMP_CHARDEV_ID ",mode=control"));

    if (name < 0) {
        g_ptr_array_add(argv, g_strdup("-name"));
        g_ptr_array_add(argv, g_strdup("debug-threads=on"));
    }
    for (int i = binary + 1; user_argv[i]; i++) {
        if (i == name)
            g_ptr_array_add(argv, qpin_qemu_name_value(user_argv[i]));
        else
            g_ptr_array_add(argv, g_strdup(user_argv[i]));
    }
    return argv;
}

/* ---- secrets -------------------------------------------------------------------------------- */

/* "password", "file.password", "proxy-password": a key whose value is a password. Keys naming a
 * secret object (password-secret, passwordid) end otherwise. */
static gboolean key_is_password(const char *key, gsize len)
{
    static const char word[] = "password";
    gsize wlen = sizeof(word) - 1;
    return len >= wlen && g_ascii_strncasecmp(key + len - wlen, word, wlen) == 0;
}

/* -vnc's password=on|off is a switch, not a password; keep it readable. */
static gboolean value_is_switch(const char *value, gsize len)
{
    return (len == 2 && strncmp(value, "on", 2) == 0) ||
           (len == 3 && strncmp(value, "off", 3) == 0);
}

/* A part of a value to replace by the mask: [start, end). */
typedef struct {
    gsize start, end;
    gboolean json; /* a JSON value: the mask goes in quotes, so the text stays JSON */
} SecretSpan;

static char *apply_spans(const char *value, GArray *spans)
{
    if (spans->len == 0)
        return NULL;
    GString *out = g_string_sized_new(strlen(value));
    gsize done = 0;
    for (guint i = 0; i < spans->len; i++) {
        const SecretSpan *span = &g_array_index(spans, SecretSpan, i);
        /* Inside a span already masked (a password member in a secret's data). */
        if (span->start < done)
            continue;
        g_string_append_len(out, value + done, (gssize)(span->start - done));
        g_string_append(out, span->json ? "\"" QPIN_QEMU_SECRET_MASK "\"" : QPIN_QEMU_SECRET_MASK);
        done = span->end;
    }
    g_string_append(out, value + done);
    return g_string_free(out, FALSE);
}

static void add_span(GArray *spans, gsize start, gsize end, gboolean json)
{
    SecretSpan span = {start, end, json};
    g_array_append_val(spans, span);
}

/* A QemuOpts value: the value of every password key, and data= of a secret object when the
 * value is an -object's (@object). Its type is the implied first item ("secret,id=s0,...") or
 * qom-type=secret. */
static char *mask_opts(const char *value, gboolean object)
{
    g_autoptr(GArray) items = opts_split(value);
    g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(SecretSpan));
    gboolean secret = FALSE;
    for (guint i = 0; i < items->len; i++) {
        const OptsItem *item = &g_array_index(items, OptsItem, i);
        const char *p = value + item->start;
        gsize len = item->end - item->start;
        if ((i == 0 && len == 6 && strncmp(p, "secret", 6) == 0) ||
            (len == 15 && strncmp(p, "qom-type=secret", 15) == 0))
            secret = object;
    }
    for (guint i = 0; i < items->len; i++) {
        const OptsItem *item = &g_array_index(items, OptsItem, i);
        const char *p = value + item->start;
        const char *eq = memchr(p, '=', item->end - item->start);
        if (!eq)
            continue;
        gsize klen = (gsize)(eq - p), start = (gsize)(eq + 1 - value);
        if ((key_is_password(p, klen) && !value_is_switch(eq + 1, item->end - start)) ||
            (secret && klen == 4 && strncmp(p, "data", 4) == 0))
            add_span(spans, start, item->end, FALSE);
    }
    return apply_spans(value, spans);
}

/* -set GROUP.ID.PROP=VALUE and -global DRIVER.PROP=VALUE: the value is all after the first '=',
 * commas included. */
static char *mask_property(const char *value, gboolean set)
{
    const char *eq = strchr(value, '=');
    if (!eq)
        return NULL;
    gsize klen = (gsize)(eq - value);
    gboolean secret = key_is_password(value, klen) && !value_is_switch(eq + 1, strlen(eq + 1));
    /* -set object.ID.data=... would set a secret object's data. */
    if (set && g_str_has_prefix(value, "object.") && klen > 5 && strncmp(eq - 5, ".data", 5) == 0)
        secret = TRUE;
    if (!secret)
        return NULL;
    g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(SecretSpan));
    add_span(spans, (gsize)(eq + 1 - value), strlen(value), FALSE);
    return apply_spans(value, spans);
}

/* Just enough JSON to find the extent of values: QEMU parses the text, qpin only masks it. */
static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* @p at the opening quote; returns the position after the closing one, or NULL. */
static const char *json_string_end(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

typedef struct {
    const char *text;
    GArray *spans;
} JsonMask;

static const char *json_value(JsonMask *m, const char *p, int depth);

/* An object at @p ('{'): masks password members at any depth and, at the top, the data of a
 * secret object. Returns the position after '}', or NULL when the text is no JSON. */
static const char *json_object(JsonMask *m, const char *p, int depth)
{
    gboolean secret = FALSE;
    const char *data = NULL, *data_end = NULL;
    p = json_ws(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        if (*p != '"')
            return NULL;
        const char *key = p + 1, *key_end = json_string_end(p);
        if (!key_end)
            return NULL;
        gsize klen = (gsize)(key_end - 1 - key);
        p = json_ws(key_end);
        if (*p != ':')
            return NULL;
        const char *v = json_ws(p + 1), *v_end = json_value(m, v, depth + 1);
        if (!v_end)
            return NULL;
        gsize vlen = (gsize)(v_end - v);
        if (key_is_password(key, klen) && !(vlen == 4 && strncmp(v, "true", 4) == 0) &&
            !(vlen == 5 && strncmp(v, "false", 5) == 0))
            add_span(m->spans, (gsize)(v - m->text), (gsize)(v_end - m->text), TRUE);
        if (klen == 8 && strncmp(key, "qom-type", 8) == 0 && vlen == 8 &&
            strncmp(v, "\"secret\"", 8) == 0)
            secret = TRUE;
        if (depth == 0 && klen == 4 && strncmp(key, "data", 4) == 0) {
            data = v;
            data_end = v_end;
        }
        p = json_ws(v_end);
        if (*p == ',') {
            p = json_ws(p + 1);
            continue;
        }
        if (*p != '}')
            return NULL;
        break;
    }
    if (secret && data)
        add_span(m->spans, (gsize)(data - m->text), (gsize)(data_end - m->text), TRUE);
    return p + 1;
}

static const char *json_value(JsonMask *m, const char *p, int depth)
{
    /* QEMU's own parser stops at a nesting of 1024 too. */
    if (depth > 1024)
        return NULL;
    if (*p == '{')
        return json_object(m, p, depth);
    if (*p == '"')
        return json_string_end(p);
    if (*p == '[') {
        p = json_ws(p + 1);
        if (*p == ']')
            return p + 1;
        for (;;) {
            p = json_value(m, p, depth + 1);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == ']')
                return p + 1;
            if (*p != ',')
                return NULL;
            p = json_ws(p + 1);
        }
    }
    /* A number, true, false or null. */
    const char *start = p;
    while (g_ascii_isalnum(*p) || strchr("+-.", *p))
        p++;
    return p > start ? p : NULL;
}

static gint span_cmp(gconstpointer a, gconstpointer b)
{
    const SecretSpan *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static char *mask_json(const char *value, gboolean *ok)
{
    g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(SecretSpan));
    JsonMask m = {value, spans};
    const char *end = json_object(&m, value, 0);
    *ok = end && *json_ws(end) == '\0';
    if (!*ok)
        return NULL;
    /* A secret's data is added when its object ends, after the members inside it. */
    g_array_sort(spans, span_cmp);
    return apply_spans(value, spans);
}

static char *mask_value(const char *option, const char *value)
{
    if (strcmp(option, "set") == 0 || strcmp(option, "global") == 0)
        return mask_property(value, option[0] == 's');
    if (value[0] == '{') {
        gboolean ok = FALSE;
        char *masked = mask_json(value, &ok);
        /* QEMU refuses malformed JSON; mask what QemuOpts keys there are all the same. */
        if (ok)
            return masked;
    }
    return mask_opts(value, strcmp(option, "object") == 0);
}

char **qpin_qemu_argv_mask_secrets(char *const *argv)
{
    if (!argv)
        return NULL;
    char **out = g_strdupv((char **)argv);
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(argv, -1, &a);) {
        if (a.value < 0)
            continue;
        char *masked = mask_value(a.name, argv[a.value]);
        if (masked) {
            g_free(out[a.value]);
            out[a.value] = masked;
        }
    }
    return out;
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
