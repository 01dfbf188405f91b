/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The floors for `qpin run` and `qpin pin`: the least a launcher can do for a pinned start.
 *
 *   min-launch CPUS QEMU [ARGS...]
 *   min-launch --attach SOCKET CPUS
 *
 * The first form starts QEMU paused with a socketpair QMP channel, negotiates, asks
 * query-cpus-fast, pins vCPU i to CPU (i % CPUS) with sched_setaffinity, issues cont, then
 * quit. The second connects to the QMP socket of a running QEMU, negotiates, asks
 * query-cpus-fast and pins vCPU i to CPU (2 + i/4 + i%4*68) % CPUS, the formula of the manual
 * dance, then leaves. No validation, no read-back, no report: what is left is QEMU's own work
 * plus the QMP round trips. Prints one JSON object with the phase timings in milliseconds on
 * stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_tokener *tok;
static char buf[1 << 16];
static size_t buf_len, buf_off;

/* Next complete JSON message from @fd; NULL on EOF or error. */
static json_object *next_message(int fd)
{
    for (;;) {
        while (buf_off < buf_len) {
            if (buf[buf_off] == '\r' || buf[buf_off] == '\n' || buf[buf_off] == ' ') {
                buf_off++;
                continue;
            }
            json_object *obj = json_tokener_parse_ex(tok, buf + buf_off, (int)(buf_len - buf_off));
            enum json_tokener_error err = json_tokener_get_error(tok);
            if (err == json_tokener_continue) {
                buf_off = buf_len;
                break;
            }
            buf_off += json_tokener_get_parse_end(tok);
            if (err != json_tokener_success)
                return NULL;
            return obj;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        buf_len = (size_t)n;
        buf_off = 0;
    }
}

/* Set when the last command went out, whatever came back. */
static int last_sent;

/* Sends @command and returns its reply (events skipped). */
static json_object *execute(int fd, const char *command)
{
    char line[256];
    int len = snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\r\n", command);
    /* The guest may have shut QEMU down already: no SIGPIPE death. */
    last_sent = send(fd, line, (size_t)len, MSG_NOSIGNAL) == len;
    if (!last_sent)
        return NULL;
    for (;;) {
        json_object *msg = next_message(fd);
        if (!msg)
            return NULL;
        if (json_object_object_get_ex(msg, "return", NULL) ||
            json_object_object_get_ex(msg, "error", NULL))
            return msg;
        json_object_put(msg);
    }
}

/* Pins vCPU i of the query-cpus-fast reply @cpus to CPU @formula(i) % @ncpus; returns how
 * many were pinned. */
static int pin_vcpus(json_object *cpus, int ncpus, int dance)
{
    json_object *ret = NULL;
    int pinned = 0;
    if (!cpus || !json_object_object_get_ex(cpus, "return", &ret))
        return 0;
    size_t count = json_object_array_length(ret);
    for (size_t i = 0; i < count; i++) {
        json_object *cpu = json_object_array_get_idx(ret, i), *tid;
        if (!json_object_object_get_ex(cpu, "thread-id", &tid))
            continue;
        int n = (int)i, target = dance ? 2 + n / 4 + n % 4 * 68 : n;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(target % ncpus, &set);
        if (sched_setaffinity(json_object_get_int(tid), sizeof(set), &set) == 0)
            pinned++;
    }
    return pinned;
}

static int attach(const char *path, int ncpus)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (ncpus <= 0 || strlen(path) >= sizeof(addr.sun_path))
        return 2;
    strcpy(addr.sun_path, path);
    double t0 = now_ms();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return 1;
    tok = json_tokener_new();
    json_object *greeting = next_message(fd);
    json_object *caps = greeting ? execute(fd, "qmp_capabilities") : NULL;
    double t_ready = now_ms();
    json_object *cpus = caps ? execute(fd, "query-cpus-fast") : NULL;
    double t_query = now_ms();
    int pinned = pin_vcpus(cpus, ncpus, 1);
    double t_pin = now_ms();
    close(fd);
    int ok = greeting && caps && cpus && pinned > 0;
    printf("{\"ok\": %s, \"vcpus_pinned\": %d, \"qmp_commands\": 2, \"timings_ms\": "
           "{\"connect\": %.3f, \"query\": %.3f, \"pin\": %.3f, \"total\": %.3f}}\n",
           ok ? "true" : "false", pinned, t_ready - t0, t_query - t_ready, t_pin - t_query,
           t_pin - t0);
    json_object_put(greeting);
    json_object_put(caps);
    json_object_put(cpus);
    json_tokener_free(tok);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--attach"))
        return attach(argv[2], atoi(argv[3]));
    if (argc < 3) {
        fprintf(stderr, "usage: min-launch CPUS QEMU [ARGS...]\n"
                        "       min-launch --attach SOCKET CPUS\n");
        return 2;
    }
    int ncpus = atoi(argv[1]);
    int sv[2];
    if (ncpus <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;

    char fdarg[64];
    snprintf(fdarg, sizeof(fdarg), "socket,id=qmp,fd=%d", sv[1]);
    char **qargv = calloc((size_t)argc + 8, sizeof(char *));
    int n = 0;
    for (int i = 2; i < argc; i++)
        qargv[n++] = argv[i];
    qargv[n++] = "-S";
    qargv[n++] = "-chardev";
    qargv[n++] = fdarg;
    qargv[n++] = "-mon";
    qargv[n++] = "chardev=qmp,mode=control";
    qargv[n] = NULL;

    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        fcntl(sv[1], F_SETFD, 0);
        execvp(qargv[0], qargv);
        _exit(127);
    }
    close(sv[1]);
    tok = json_tokener_new();

    json_object *greeting = next_message(sv[0]);
    json_object *caps = greeting ? execute(sv[0], "qmp_capabilities") : NULL;
    double t_ready = now_ms();
    json_object *cpus = caps ? execute(sv[0], "query-cpus-fast") : NULL;
    double t_query = now_ms();
    int pinned = pin_vcpus(cpus, ncpus, 0);
    double t_pin = now_ms();
    json_object *cont = pinned ? execute(sv[0], "cont") : NULL;
    /* A guest that shuts QEMU down at once may do so before QEMU's reply to cont is read: the
     * guest ran, so cont counts as done, as it does for qpin run. */
    int cont_done = cont != NULL || (pinned && last_sent);
    double t_cont = now_ms();
    json_object *quit = execute(sv[0], "quit");

    int status = 0;
    struct timespec limit = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
        nanosleep(&limit, NULL);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }

    int ok = greeting && caps && cpus && cont_done && pinned > 0;
    printf("{\"ok\": %s, \"vcpus_pinned\": %d, \"qmp_commands\": 4, \"timings_ms\": "
           "{\"ready\": %.3f, \"query\": %.3f, \"pin\": %.3f, \"cont\": %.3f, \"total\": %.3f}}\n",
           ok ? "true" : "false", pinned, t_ready - t0, t_query - t_ready, t_pin - t_query,
           t_cont - t_pin, t_cont - t0);
    json_object_put(greeting);
    json_object_put(caps);
    json_object_put(cpus);
    json_object_put(cont);
    json_object_put(quit);
    json_tokener_free(tok);
    free(qargv);
    return ok ? 0 : 1;
}
