/* A stand-in for QEMU in tests: writes its argv (NUL-separated) and the list of its open
 * descriptors to the file named by $QPIN_ARGV_DUMP, then exits with $QPIN_ARGV_DUMP_STATUS
 * (default 0). With $QPIN_ARGV_DUMP_IGNORE_TERM set it then ignores SIGTERM and waits. */
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
    if (getenv("QPIN_ARGV_DUMP_IGNORE_TERM"))
        for (;;)
            pause();
    const char *status = getenv("QPIN_ARGV_DUMP_STATUS");
    return status ? atoi(status) : 0;
}
