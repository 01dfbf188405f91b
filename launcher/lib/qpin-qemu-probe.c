/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the probe command line of plans, see qpin-qemu-probe.h. */
#include "qpin-qemu-probe.h"

#include "qpin-qemu-argv.h"

#include <json-c/json.h>
#include <string.h>

/* Options whose value or presence shapes the guest's vCPUs or NUMA nodes and that start
 * anywhere as they are. */
static const char *const kept_as_is[] = {"smp", "numa", "m", "name", NULL};

static gboolean in_list(const char *const *list, const char *name)
{
    for (gsize i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return TRUE;
    return FALSE;
}

/* The items of a QemuOpts value, split at single commas (",," stays inside an item). */
static GPtrArray *opts_items(const char *value)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    GString *item = g_string_new(NULL);
    for (const char *p = value; *p; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append(item, ",,");
            p++;
        } else if (*p == ',') {
            g_ptr_array_add(items, g_strdup(item->str));
            g_string_truncate(item, 0);
        } else {
            g_string_append_c(item, *p);
        }
    }
    g_ptr_array_add(items, g_string_free(item, FALSE));
    return items;
}

/* The value of KEY=... among @items, or NULL. */
static const char *opts_get(GPtrArray *items, const char *key)
{
    gsize len = strlen(key);
    for (guint i = 0; i < items->len; i++) {
        const char *item = items->pdata[i];
        if (strncmp(item, key, len) == 0 && item[len] == '=')
            return item + len + 1;
    }
    return NULL;
}

/* -machine without accel= (the probe's accelerator is TCG, given by -accel). */
static char *probe_machine(const char *value, gboolean *kvm)
{
    g_autoptr(GPtrArray) items = opts_items(value);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < items->len; i++) {
        const char *item = items->pdata[i];
        if (g_str_has_prefix(item, "accel=")) {
            *kvm |= strstr(item, "kvm") != NULL;
            continue;
        }
        if (out->len)
            g_string_append_c(out, ',');
        g_string_append(out, item);
    }
    return g_string_free(out, FALSE);
}

/* The type, id and size of an -object value, QemuOpts or JSON; FALSE when it has no type. */
static gboolean object_fields(const char *value, char **type, char **id, char **size)
{
    *type = *id = *size = NULL;
    if (value[0] == '{') {
        json_object *o = json_tokener_parse(value);
        json_object *v = NULL;
        if (!o || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            return FALSE;
        }
        if (json_object_object_get_ex(o, "qom-type", &v))
            *type = g_strdup(json_object_get_string(v));
        if (json_object_object_get_ex(o, "id", &v))
            *id = g_strdup(json_object_get_string(v));
        if (json_object_object_get_ex(o, "size", &v))
            *size = g_strdup(json_object_get_string(v));
        json_object_put(o);
        return *type != NULL;
    }
    g_autoptr(GPtrArray) items = opts_items(value);
    const char *first = items->pdata[0];
    const char *t = opts_get(items, "qom-type");
    *type = g_strdup(t ? t : strchr(first, '=') ? NULL : first);
    *id = g_strdup(opts_get(items, "id"));
    *size = g_strdup(opts_get(items, "size"));
    return *type != NULL;
}

/* The -object for the probe, or NULL to leave it out. */
static char *probe_object(const char *value, gboolean *memory)
{
    g_autofree char *type = NULL, *id = NULL, *size = NULL;
    if (!object_fields(value, &type, &id, &size) || !id)
        return NULL;
    if (strcmp(type, "iothread") == 0)
        return g_strdup_printf("iothread,id=%s", id);
    if (g_str_has_prefix(type, "memory-backend-") && size) {
        *memory = TRUE;
        return g_strdup_printf("memory-backend-ram,id=%s,size=%s,reserve=off", id, size);
    }
    return NULL;
}

/* -device of a vCPU (x86_64: MODEL-x86_64-cpu), or NULL to leave it out. TCG has no host model. */
static char *probe_device(const char *value, gboolean *host_cpu)
{
    g_autoptr(GPtrArray) items = opts_items(value);
    const char *driver = opts_get(items, "driver");
    if (!driver)
        driver = strchr(items->pdata[0], '=') ? "" : items->pdata[0];
    if (!g_str_has_suffix(driver, "-cpu"))
        return NULL;
    if (!g_str_has_prefix(driver, "host-"))
        return g_strdup(value);
    *host_cpu = TRUE;
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < items->len; i++) {
        const char *item = items->pdata[i];
        if (out->len)
            g_string_append_c(out, ',');
        if (strcmp(item, driver) == 0)
            g_string_append_printf(out, "max-%s", driver + 5);
        else if (g_str_has_prefix(item, "driver=host-"))
            g_string_append_printf(out, "driver=max-%s", item + 12);
        else
            g_string_append(out, item);
    }
    return g_string_free(out, FALSE);
}

static void add_pair(GPtrArray *argv, const char *option, char *value)
{
    g_ptr_array_add(argv, g_strdup(option));
    g_ptr_array_add(argv, value);
}

GPtrArray *qpin_qemu_argv_probe(char *const *user_argv, GPtrArray *notes)
{
    GPtrArray *argv = g_ptr_array_new_null_terminated(32, g_free, TRUE);
    if (!user_argv || !user_argv[0])
        return argv;
    int binary = qpin_qemu_argv_binary(user_argv, -1);
    g_ptr_array_add(argv, g_strdup(user_argv[binary]));

    gboolean kvm = FALSE, host_cpu = FALSE, memory = FALSE;
    g_autoptr(GPtrArray) dropped = g_ptr_array_new_with_free_func(g_free);
    for (QpinQemuArg a = QPIN_QEMU_ARG_INIT; qpin_qemu_argv_next(user_argv, -1, &a);) {
        const char *value = a.value >= 0 ? user_argv[a.value] : NULL;
        const char *opt = user_argv[a.index];
        char *kept = NULL;
        if (in_list(kept_as_is, a.name) && value) {
            add_pair(argv, opt, g_strdup(value));
            continue;
        }
        if ((!strcmp(a.name, "machine") || !strcmp(a.name, "M")) && value) {
            char *machine = probe_machine(value, &kvm);
            /* `-machine accel=kvm` alone names no machine: QEMU's default is the user's too. */
            if (*machine)
                add_pair(argv, opt, machine);
            else
                g_free(machine);
            continue;
        }
        if (!strcmp(a.name, "cpu") && value) {
            /* The model is the first item; its properties are the accelerator's business. */
            g_autoptr(GPtrArray) items = opts_items(value);
            gboolean host = !strcmp(items->pdata[0], "host");
            host_cpu |= host;
            /* TCG's max model says AuthenticAMD without topoext, and QEMU warns that it
             * "doesn't support hyperthreading" for every guest with threads; the vendor does
             * not change the topology QEMU reports. */
            add_pair(argv, opt, g_strdup(host ? "max,vendor=GenuineIntel" : value));
            continue;
        }
        if (!strcmp(a.name, "object") && value && (kept = probe_object(value, &memory))) {
            add_pair(argv, opt, kept);
            continue;
        }
        if (!strcmp(a.name, "device") && value && (kept = probe_device(value, &host_cpu))) {
            add_pair(argv, opt, kept);
            continue;
        }
        if (!strcmp(a.name, "enable-kvm") ||
            (!strcmp(a.name, "accel") && value && strstr(value, "kvm")))
            kvm = TRUE;
        /* -nodefaults and -display are the probe's own (below): not dropped, only replaced. */
        if (strcmp(a.name, "accel") != 0 && strcmp(a.name, "enable-kvm") != 0 &&
            strcmp(a.name, "nodefaults") != 0 && strcmp(a.name, "display") != 0 &&
            !g_ptr_array_find_with_equal_func(dropped, opt, g_str_equal, NULL))
            g_ptr_array_add(dropped, g_strdup(opt));
    }
    g_ptr_array_add(argv, g_strdup("-accel"));
    g_ptr_array_add(argv, g_strdup("tcg,thread=multi"));
    g_ptr_array_add(argv, g_strdup("-nodefaults"));
    g_ptr_array_add(argv, g_strdup("-display"));
    g_ptr_array_add(argv, g_strdup("none"));

    if (!notes)
        return argv;
    if (kvm)
        g_ptr_array_add(notes, qpin_note_new(QPIN_NOTE_PROBE_TCG,
                                             "the plan asked QEMU about the guest under TCG: the "
                                             "command line asks for KVM, and the vCPU topology "
                                             "QEMU reports does not depend on the accelerator"));
    if (host_cpu)
        g_ptr_array_add(notes,
                        qpin_note_new(QPIN_NOTE_PROBE_CPU,
                                      "the plan asked QEMU with -cpu max instead of the "
                                      "host model, which only KVM has; run keeps -cpu host"));
    if (memory)
        g_ptr_array_add(notes,
                        qpin_note_new(QPIN_NOTE_PROBE_MEMORY,
                                      "the plan asked QEMU with the memory backends of the command "
                                      "line as RAM that is never allocated (same ids and sizes)"));
    if (dropped->len) {
        g_ptr_array_add(dropped, NULL);
        g_autofree char *list = g_strjoinv(" ", (char **)dropped->pdata);
        g_ptr_array_add(notes, qpin_note_new(QPIN_NOTE_PROBE_DROPPED,
                                             "the plan asked QEMU without the options that do not "
                                             "shape vCPUs or memory: %s",
                                             list));
    }
    return argv;
}
