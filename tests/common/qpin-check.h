/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — shared Check runner: fork mode, TAP on stdout, non-zero exit on any failure. */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether @line is the TAP result `@word @number` ("ok 3", "not ok 3") followed by a space or
 * the end of the line. */
static inline int qpin_check_is_result(const char *line, const char *word, int number)
{
    char head[32];
    int n = snprintf(head, sizeof head, "%s %d", word, number);
    return strncmp(line, head, (size_t)n) == 0 && (line[n] == ' ' || line[n] == '\n');
}

/* Copies Check's TAP from @tap to stdout. Check writes a failure's message verbatim, so a message
 * holding newlines (a program's stderr, say) continues on lines that are no TAP: those become
 * `# ` comments. A line is a result only when it carries the next test number. Failures are
 * also copied whole to stderr, which is what `meson test --print-errorlogs` shows of TAP tests. */
static inline void qpin_check_copy_tap(FILE *tap)
{
    char line[4096];
    int next = 1;
    int continued = 0; /* the rest of a line longer than the buffer */
    int failing = 0;   /* inside the message of a failed test */
    while (fgets(line, sizeof line, tap)) {
        if (!continued) {
            if (qpin_check_is_result(line, "ok", next)) {
                next++;
                failing = 0;
            } else if (qpin_check_is_result(line, "not ok", next)) {
                next++;
                failing = 1;
            } else if (strncmp(line, "1..", 3) == 0) {
                failing = 0;
            } else {
                fputs("# ", stdout);
            }
        }
        fputs(line, stdout);
        if (failing)
            fputs(line, stderr);
        continued = strchr(line, '\n') == NULL;
    }
    if (continued) {
        fputc('\n', stdout);
        if (failing)
            fputc('\n', stderr);
    }
    fflush(stdout);
}

/* Runs @suite (taking ownership) and returns the process exit status: TAP on stdout, each test
 * in its own process. Register binaries using this with `protocol: 'tap'`. */
static inline int qpin_check_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_FORK);
    /* Check writes TAP to a file name; a temporary file lets qpin_check_copy_tap() mend it. */
    char tap_path[] = "/tmp/qpin-tap-XXXXXX";
    int fd = mkstemp(tap_path);
    if (fd < 0) {
        perror("mkstemp");
        return EXIT_FAILURE;
    }
    close(fd);
    fflush(stdout);
    srunner_set_tap(runner, tap_path);
    srunner_run_all(runner, CK_SILENT);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    FILE *tap = fopen(tap_path, "r");
    unlink(tap_path);
    if (!tap) {
        perror(tap_path);
        return EXIT_FAILURE;
    }
    qpin_check_copy_tap(tap);
    fclose(tap);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* For binaries that need something absent (QEMU, KVM, Slurm, a kernel): say why and skip the
 * whole binary, before any test has run. TAP has no exit status for a skip (meson counts any
 * non-zero exit of a TAP test as an error): the skip is the plan `1..0 # SKIP why` on stdout
 * and exit 0, which `meson test` shows as SKIP. Register such binaries with `protocol: 'tap'`. */
#define QPIN_SKIP_ALL(...)                                                                         \
    do {                                                                                           \
        fprintf(stdout, "1..0 # SKIP ");                                                           \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fprintf(stdout, "\n");                                                                     \
        fflush(stdout);                                                                            \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(EXIT_SUCCESS);                                                                        \
    } while (0)

/* For binaries that cannot run at all for a reason that is not an absent dependency (the test
 * environment is wrong): a TAP `Bail out!` on stdout, the reason on stderr, and a failure. */
#define QPIN_BAIL_OUT(...)                                                                         \
    do {                                                                                           \
        fprintf(stdout, "Bail out! ");                                                             \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fprintf(stdout, "\n");                                                                     \
        fflush(stdout);                                                                            \
        fprintf(stderr, "FAIL: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(EXIT_FAILURE);                                                                        \
    } while (0)
