/* The acceptor (bot/acceptor.h) on a loop of this process, whose descriptor limit is set low:
 * running out of descriptors pauses accepting instead of spinning, is logged once per interval,
 * and accepting resumes once descriptors are free; past the cap and its health-check reserve the
 * listening socket is not watched until a connection closes. Clients connect from a child
 * process, so that they do not use this process's descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "bot/acceptor.h"
#include "bot/conn_limits.h"
#include "common/log.h"
#include "tests/support/process.h"

#define FD_LIMIT 100
#define CAP      28 /* the most FD_LIMIT allows: 100 - 64 kept - 8 for health checks */
#define CLIENTS  40 /* more than CAP + CONN_HEALTH_RESERVE */
#define FREE     10 /* descriptors left free while the test holds the others */

static int held_fd[CLIENTS];
static struct acceptor_conn *held[CLIENTS];
static int n_held;

static int adopt(void *ud, int fd, struct acceptor_conn *conn)
{
    (void)ud;
    assert_true(n_held < CLIENTS);
    held_fd[n_held] = fd;
    held[n_held++] = conn;
    return 0;
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for `ms`; the CPU time this process used meanwhile, in ms. */
static long run_for(uv_loop_t *loop, int ms)
{
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, stop_loop, (uint64_t)ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    getrusage(RUSAGE_SELF, &r1);
    long us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
              (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
              (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
              (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    return us / 1000;
}

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* The child: wait for a byte on `go`, open CLIENTS connections, hold them until `go` closes. */
static void clients(int port, int go)
{
    char c;
    if (read(go, &c, 1) != 1)
        _exit(1);
    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0)
            _exit(2);
    }
    while (read(go, &c, 1) > 0) {
    }
    _exit(0);
}

static void test_descriptors_run_out_and_come_back(void **state)
{
    (void)state;
    struct rlimit rl = {.rlim_cur = FD_LIMIT, .rlim_max = FD_LIMIT};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    const char *dir = ts_workdir("acceptor");
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/acceptor.log", dir);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(log_fd >= 0);
    int saved_stderr = dup(2);
    dup2(log_fd, 2);
    close(log_fd);
    pl_log_setup(PL_LOG_INFO, PL_LOG_TEXT);

    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = ts_free_port();
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    const struct acceptor_opts opts = {
        .loop = &loop, .listen = listen, .max_connections = 1000, .adopt = adopt};
    struct acceptor *a;
    char err[256];
    assert_int_equal(acceptor_start(&opts, &a, err, sizeof(err)), 0);
    struct acceptor_stats st;
    acceptor_stats(a, &st);
    assert_int_equal(st.cap, CAP); /* 1000 lowered to what the limit allows */

    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(go[1]);
        clients(port, go[0]);
    }
    close(go[0]);

    /* Everything else holds the descriptors but FREE (the Redis connections, upstream requests
     * and files of a real server). */
    int filler[FD_LIMIT];
    int n_filler = 0;
    for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;)
        filler[n_filler++] = fd;
    assert_int_equal(errno, EMFILE);
    for (int i = 0; i < FREE; i++)
        close(filler[--n_filler]);
    assert_int_equal(write(go[1], "g", 1), 1);

    /* A second on the loop with the clients waiting: FREE are taken, then accept() says EMFILE
     * and the acceptor pauses for ACCEPTOR_PAUSE_MS each time instead of being woken at once. */
    long cpu = run_for(&loop, 1000);
    acceptor_stats(a, &st);
    fprintf(stderr, "CPU %ld ms, %d accepted, %llu accept errors in 1 s\n", cpu, n_held,
            (unsigned long long)st.accept_errors);
    assert_int_equal(n_held, FREE);
    assert_true(st.accept_errors >= 1 && st.accept_errors <= 1000 / ACCEPTOR_PAUSE_MS + 1);
    assert_true(cpu < 100);

    /* Descriptors come back: accepting resumes, up to the cap and its reserve; the listening
     * socket is then left alone, and the last clients wait. */
    uint64_t errors = st.accept_errors;
    while (n_filler)
        close(filler[--n_filler]);
    /* One line for the whole second (reading the log needs a descriptor). */
    assert_int_equal(count_lines(log_path, "Too many open files (errno 24) with 10 connections "
                                           "open; pausing accepts for 250 ms"),
                     1);
    run_for(&loop, 600);
    acceptor_stats(a, &st);
    assert_int_equal(n_held, CAP + CONN_HEALTH_RESERVE);
    assert_int_equal(st.open, CAP + CONN_HEALTH_RESERVE);
    assert_int_equal(st.accept_errors, errors);
    assert_int_equal(st.paused_at_cap, 1);
    assert_false(acceptor_conn_reserved(held[CAP - 1]));
    assert_true(acceptor_conn_reserved(held[CAP]));
    assert_int_equal(count_lines(log_path, "Too many open files"), 1);
    assert_int_equal(count_lines(log_path, "connection cap reached"), 1);

    /* Two close: two more are accepted. */
    for (int i = 0; i < 2; i++) {
        close(held_fd[i]);
        acceptor_conn_closed(held[i]);
    }
    run_for(&loop, 200);
    assert_int_equal(n_held, CLIENTS - 2);
    acceptor_stats(a, &st);
    assert_int_equal(st.accepted, CLIENTS - 2);
    assert_int_equal(st.open, CLIENTS - 4);

    close(go[1]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 2; i < n_held; i++) {
        close(held_fd[i]);
        acceptor_conn_closed(held[i]);
    }
    acceptor_stop(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    acceptor_free(a);
    assert_int_equal(uv_loop_close(&loop), 0);
    dup2(saved_stderr, 2);
    close(saved_stderr);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors_run_out_and_come_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
