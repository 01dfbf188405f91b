/* qpin — the launcher's error domain, see error.h. */
#include "error.h"

G_DEFINE_QUARK(qpin - error - quark, qpin_error)

int qpin_error_exit_code(const GError *error, int fallback)
{
    if (error && error->domain == QPIN_ERROR)
        return error->code;
    return fallback;
}

void qpin_error_propagate(GError **dest, GError *src, int code)
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
