/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — sizes of memory: the one parser ("80G", as QEMU reads sizes) and the one formatter,
 * exact ("80G", "1536K") or for people ("80.0 GiB"), ASCII only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a whole number with a binary unit suffix K, M, G or T, either case ("80G", "512m").
 * Fractions ("1.5G"), bare numbers (QEMU reads a bare -m number as MiB but a bare size= as
 * bytes), other suffixes, blanks and values above 16 EiB are refused: QPIN_ERROR,
 * QPIN_ERROR_USAGE, naming @text. Zero ("0G") is accepted; the caller decides about it. */
gboolean qpin_size_parse(const char *text, guint64 *bytes, GError **error);

/* @bytes in the largest unit K, M, G or T that divides it exactly, as QEMU reads it ("80G",
 * "1536K"); a bare number of bytes when no unit divides it ("4608"), "0" for zero. */
char *qpin_size_format(guint64 bytes);

/* @bytes for people, in binary units with one decimal and an ASCII space: "80.0 GiB",
 * "64.0 MiB", "1.5 KiB"; below 1 KiB "512 bytes". */
char *qpin_size_format_human(guint64 bytes);

/* The unit qpin_size_format_human() shows @bytes in (at least KiB): its name ("GiB") and its
 * size in bytes in *@unit_bytes, so that related amounts can be shown in the same unit. */
const char *qpin_size_human_unit(guint64 bytes, guint64 *unit_bytes);

G_END_DECLS
