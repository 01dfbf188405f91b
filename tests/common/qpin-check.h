/* qpin tests — shared Check runner: fork mode, TAP on stdout, non-zero exit on any failure. */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs @suite (taking ownership) and returns the process exit status. Register binaries using
 * this with `protocol: 'tap'`. */
static inline int qpin_check_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_FORK);
    /* Check writes TAP to a file name; /dev/stdout keeps it in the test log. */
    srunner_set_tap(runner, "/dev/stdout");
    srunner_run_all(runner, CK_SILENT);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* For binaries that need something absent (QEMU, KVM, Slurm, a kernel): say why and skip the
 * whole binary with exit 77. Register such binaries with `protocol: 'exitcode'`. */
#define QPIN_SKIP_ALL(...)                                                                         \
    do {                                                                                           \
        fprintf(stdout, "SKIP: ");                                                                 \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fprintf(stdout, "\n");                                                                     \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(77);                                                                                  \
    } while (0)
