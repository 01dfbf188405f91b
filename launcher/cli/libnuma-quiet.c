/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — keeping libnuma quiet. libnuma reports failures of its system calls by printing to
 * stderr (and may be told to exit). These definitions take precedence over libnuma's weak ones
 * in the qpin program; the topology library checks every libnuma result instead, and, being a
 * library, leaves this choice to the program that links it. */
#include <numa.h>

void numa_error(char *where)
{
    (void)where;
}

void numa_warn(int num, char *fmt, ...)
{
    (void)num;
    (void)fmt;
}
