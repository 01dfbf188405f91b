/* qpin run, plan, pin — not implemented yet. */
#include "qpin.h"

int qpin_cmd_run(int argc, char **argv)
{
    qpin_err("'run' is not implemented yet");
    return QPIN_EXIT_FAILURE;
}

int qpin_cmd_plan(int argc, char **argv)
{
    qpin_err("'plan' is not implemented yet");
    return QPIN_EXIT_FAILURE;
}

int qpin_cmd_pin(int argc, char **argv)
{
    qpin_err("'pin' is not implemented yet");
    return QPIN_EXIT_FAILURE;
}
