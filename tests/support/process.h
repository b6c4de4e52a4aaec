/* Test fixtures: child processes (redis-server, the upstream double, parleyd) started on free
 * loopback ports, their output kept in log files, stopped with SIGTERM. Blocking by design:
 * test code only, never linked into the server. */
#ifndef PARLEY_TESTS_SUPPORT_PROCESS_H
#define PARLEY_TESTS_SUPPORT_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

struct ts_proc {
    pid_t pid; /* 0 when not running */
    char name[32];
    char log_path[512];
    int port;
};

/** A fresh empty directory for one test's files (under the build tree). Returns a static
 *  string valid until the next call. */
const char *ts_workdir(const char *test_name);

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
int ts_free_port(void);

/** Start argv[0] (a path) with `env` (NULL-terminated "K=V" list added to the current
 *  environment, may be NULL); stdout and stderr go to `log_path`. Returns 0 or -1. */
int ts_proc_spawn(struct ts_proc *p, const char *name, char *const argv[], char *const env[],
                  const char *log_path);
/** The same with the child's descriptor limit (RLIMIT_NOFILE, soft and hard) set to `nofile`
 *  (0: inherited), as `ulimit -n` would before exec. */
int ts_proc_spawn_nofile(struct ts_proc *p, const char *name, char *const argv[], char *const env[],
                         const char *log_path, int nofile);
/** Wait until 127.0.0.1:port accepts connections, or the process exits, or timeout_ms passes.
 *  Returns 0 when ready. */
int ts_wait_port(struct ts_proc *p, int port, int timeout_ms);
/** SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status (0 = clean exit), or
 *  -1 if it had to be killed or died of a signal. */
int ts_proc_stop(struct ts_proc *p, int timeout_ms);
/** SIGKILL and reap. */
void ts_proc_kill(struct ts_proc *p);
/** Print the last lines of the log (for failures). */
void ts_proc_dump_log(const struct ts_proc *p);
/** True if the log file contains `needle`. */
bool ts_log_contains(const struct ts_proc *p, const char *needle);

/** Path of a built program (from the PARLEY_BIN_DIR define / environment). Static string. */
const char *ts_bin(const char *name);

#endif
