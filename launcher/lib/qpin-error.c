/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the launcher library's error domain, see qpin-error.h. */
#include "qpin-error.h"

G_DEFINE_QUARK(qpin - error - quark, qpin_error)

void qpin_error_propagate(GError **dest, GError *src, QpinErrorCode code)
{
    if (!src)
        return;
    if (src->domain == QPIN_ERROR) {
        g_propagate_error(dest, src);
        return;
    }
    g_set_error_literal(dest, QPIN_ERROR, code, src->message);
    g_error_free(src);
}
