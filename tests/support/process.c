/* Child-process fixtures for integration tests; see process.h. */
#include "tests/support/process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PARLEY_BIN_DIR
#define PARLEY_BIN_DIR "."
#endif

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    poll(NULL, 0, ms);
}

const char *ts_bin(const char *name)
{
    static char path[512];
    const char *dir = getenv("PARLEY_BIN_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : PARLEY_BIN_DIR, name);
    return path;
}

const char *ts_workdir(const char *test_name)
{
    static char dir[512];
    const char *base = getenv("PARLEY_BIN_DIR");
    snprintf(dir, sizeof(dir), "%s/test-work/%s-%d", base ? base : PARLEY_BIN_DIR, test_name,
             (int)getpid());
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot create %s\n", dir);
    return dir;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int ts_free_port(void)
{
    /* Bind to port 0 and read back the port; the kernel does not hand it out again at once. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
        abort();
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int ts_proc_spawn(struct ts_proc *p, const char *name, char *const argv[], char *const env[],
                  const char *log_path)
{
    return ts_proc_spawn_nofile(p, name, argv, env, log_path, 0);
}

int ts_proc_spawn_nofile(struct ts_proc *p, const char *name, char *const argv[], char *const env[],
                         const char *log_path, int nofile)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->log_path, sizeof(p->log_path), "%s", log_path);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        for (size_t i = 0; env && env[i]; i++)
            putenv(env[i]);
        struct rlimit rl = {.rlim_cur = (rlim_t)nofile, .rlim_max = (rlim_t)nofile};
        if (nofile > 0 && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "setrlimit(RLIMIT_NOFILE, %d): %s\n", nofile, strerror(errno));
            _exit(127);
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return 0;
}

int ts_wait_port(struct ts_proc *p, int port, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    p->port = port;
    while (now_ms() < end) {
        int st;
        if (p->pid && waitpid(p->pid, &st, WNOHANG) == p->pid) {
            fprintf(stderr, "%s exited before it was ready\n", p->name);
            p->pid = 0;
            ts_proc_dump_log(p);
            return -1;
        }
        if (port_open(port))
            return 0;
        pause_ms(20);
    }
    fprintf(stderr, "%s did not open port %d in %d ms\n", p->name, port, timeout_ms);
    ts_proc_dump_log(p);
    return -1;
}

int ts_proc_stop(struct ts_proc *p, int timeout_ms)
{
    if (!p->pid)
        return 0;
    kill(p->pid, SIGTERM);
    long long end = now_ms() + timeout_ms;
    int st = 0;
    while (now_ms() < end) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            return -1;
        }
        pause_ms(10);
    }
    fprintf(stderr, "%s did not stop within %d ms; killing it\n", p->name, timeout_ms);
    ts_proc_kill(p);
    return -1;
}

void ts_proc_kill(struct ts_proc *p)
{
    if (!p->pid)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

void ts_proc_dump_log(const struct ts_proc *p)
{
    char cmd[700];
    fprintf(stderr, "---- last lines of %s (%s) ----\n", p->name, p->log_path);
    snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", p->log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

bool ts_log_contains(const struct ts_proc *p, const char *needle)
{
    FILE *f = fopen(p->log_path, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}
