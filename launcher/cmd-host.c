/* qpin host — not implemented yet. */
#include "qpin.h"

int qpin_cmd_host(int argc, char **argv)
{
    qpin_err("'host' is not implemented yet");
    return QPIN_EXIT_FAILURE;
}
