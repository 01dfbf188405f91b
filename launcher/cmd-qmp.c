/* qpin qmp — not implemented yet. */
#include "qpin.h"

int qpin_cmd_qmp(int argc, char **argv)
{
    qpin_err("'qmp' is not implemented yet");
    return QPIN_EXIT_FAILURE;
}
