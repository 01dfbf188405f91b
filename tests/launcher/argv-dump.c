/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for QEMU in tests: writes its argv (NUL-separated) and the list of its open
 * descriptors to the file named by $QPIN_ARGV_DUMP, then exits with $QPIN_ARGV_DUMP_STATUS
 * (default 0). With $QPIN_ARGV_DUMP_IGNORE_TERM set it then ignores SIGTERM and waits. With
 * $QPIN_ARGV_DUMP_GREET set it sends a QMP greeting on the descriptor of its
 * `-chardev socket,...,fd=N` argument and then never answers: a QEMU that hangs mid-session. */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (getenv("QPIN_ARGV_DUMP_IGNORE_TERM"))
        signal(SIGTERM, SIG_IGN);
    const char *path = getenv("QPIN_ARGV_DUMP");
    if (!path)
        return 2;
    FILE *f = fopen(path, "w");
    if (!f)
        return 2;
    for (int i = 0; i < argc; i++)
        fwrite(argv[i], 1, strlen(argv[i]) + 1, f);
    /* A second section: the open descriptors, one per line, after an empty record. */
    fputc('\0', f);
    DIR *d = opendir("/proc/self/fd");
    int self = d ? dirfd(d) : -1;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != self && atoi(e->d_name) != fileno(f))
            fprintf(f, "%s\n", e->d_name);
    if (d)
        closedir(d);
    fclose(f);
    if (getenv("QPIN_ARGV_DUMP_GREET")) {
        static const char greeting[] =
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7},"
            " \"package\": \"\"}, \"capabilities\": []}}\r\n";
        for (int i = 1; i + 1 < argc; i++) {
            const char *fd = strstr(argv[i + 1], ",fd=");
            if (strcmp(argv[i], "-chardev") == 0 && fd &&
                write(atoi(fd + 4), greeting, sizeof(greeting) - 1) < 0)
                return 2;
        }
        for (;;)
            pause();
    }
    if (getenv("QPIN_ARGV_DUMP_IGNORE_TERM"))
        for (;;)
            pause();
    const char *status = getenv("QPIN_ARGV_DUMP_STATUS");
    return status ? atoi(status) : 0;
}
