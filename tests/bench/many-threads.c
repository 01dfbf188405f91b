/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A stand-in for a large guest's QEMU as /proc shows it: N threads named "CPU n/KVM" (as QEMU's
 * debug-threads=on names vCPU threads), one "IO io0" and one "call_rcu", all blocked. Prints
 * "ready" once every thread has named itself, and ends when standard input closes.
 *
 *   many-threads N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t named_cond = PTHREAD_COND_INITIALIZER;
static int named;
static int gate[2];

static void *idle_thread(void *name)
{
    pthread_setname_np(pthread_self(), name);
    pthread_mutex_lock(&lock);
    named++;
    pthread_cond_signal(&named_cond);
    pthread_mutex_unlock(&lock);
    char c;
    /* Nothing ever writes to the gate: the thread stays blocked until the process ends. */
    while (read(gate[0], &c, 1) != 0)
        ;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc == 2 ? atoi(argv[1]) : 0;
    if (n <= 0 || n > 4096 || pipe(gate) < 0) {
        fprintf(stderr, "usage: many-threads N (1-4096)\n");
        return 2;
    }
    for (int i = 0; i < n + 2; i++) {
        char *name = malloc(16);
        if (!name)
            return 1;
        if (i < n)
            snprintf(name, 16, "CPU %d/KVM", i);
        else
            snprintf(name, 16, "%s", i == n ? "IO io0" : "call_rcu");
        pthread_t t;
        if (pthread_create(&t, NULL, idle_thread, name) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    pthread_mutex_lock(&lock);
    while (named < n + 2)
        pthread_cond_wait(&named_cond, &lock);
    pthread_mutex_unlock(&lock);
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0)
        ;
    return 0;
}
