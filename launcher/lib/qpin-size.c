/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — sizes of memory, see qpin-size.h. Owns the size grammar (K, M, G, T suffixes) and the
 * exact and human formats; nothing else in the launcher formats sizes by itself. */
#include "qpin-size.h"

#include "qpin-error.h"

static const struct {
    char suffix;
    int shift;
} size_units[] = {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}};

static const char *const human_units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

static void size_not_a_size(GError **error, const char *text)
{
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                "'%s' is not a size; write a whole number with a unit suffix K, M, G or T "
                "(binary units, as QEMU reads them), e.g. 80G",
                text);
}

gboolean qpin_size_parse(const char *text, guint64 *bytes, GError **error)
{
    const char *p = text;
    guint64 value = 0;

    if (!g_ascii_isdigit(*p)) {
        size_not_a_size(error, text);
        return FALSE;
    }
    for (; g_ascii_isdigit(*p); p++) {
        guint digit = (guint)(*p - '0');
        if (value > (G_MAXUINT64 - digit) / 10) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "size '%s' is too large", text);
            return FALSE;
        }
        value = value * 10 + digit;
    }
    int shift = -1;
    for (size_t i = 0; i < G_N_ELEMENTS(size_units); i++)
        if (g_ascii_toupper(*p) == size_units[i].suffix)
            shift = size_units[i].shift;
    if (shift < 0 || p[1] != '\0') {
        size_not_a_size(error, text);
        return FALSE;
    }
    if (value > (G_MAXUINT64 >> shift)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "size '%s' is too large", text);
        return FALSE;
    }
    *bytes = value << shift;
    return TRUE;
}

char *qpin_size_format(guint64 bytes)
{
    for (size_t i = 0; i < G_N_ELEMENTS(size_units); i++) {
        guint64 unit = G_GUINT64_CONSTANT(1) << size_units[i].shift;
        if (bytes != 0 && bytes % unit == 0)
            return g_strdup_printf("%" G_GUINT64_FORMAT "%c", bytes / unit, size_units[i].suffix);
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

const char *qpin_size_human_unit(guint64 bytes, guint64 *unit_bytes)
{
    /* Move up a unit once the value would round to 1024.0 in the smaller one. */
    double value = (double)bytes / 1024;
    size_t unit = 0;
    while (value >= 1024 * 0.9995 && unit + 1 < G_N_ELEMENTS(human_units)) {
        value /= 1024;
        unit++;
    }
    *unit_bytes = G_GUINT64_CONSTANT(1) << (10 * (unit + 1));
    return human_units[unit];
}

/* Not g_format_size(): it separates number and unit by a no-break space, even in the C locale,
 * and qpin's tables and messages are ASCII. */
char *qpin_size_format_human(guint64 bytes)
{
    if (bytes < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
    guint64 unit_bytes = 0;
    const char *unit = qpin_size_human_unit(bytes, &unit_bytes);
    return g_strdup_printf("%.1f %s", (double)bytes / (double)unit_bytes, unit);
}
