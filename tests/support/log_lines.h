/* Reading a test server's log file line by line: count the lines that hold a text, wait for one
 * to appear. Test code only. */
#ifndef PARLEY_TESTS_SUPPORT_LOG_LINES_H
#define PARLEY_TESTS_SUPPORT_LOG_LINES_H

#include <stdbool.h>

#include "tests/support/process.h"

/** The whole log of `p` (new string; "" when there is none). */
char *ts_log_read(const struct ts_proc *p);
/** How many lines of the log of `p` contain `needle`. */
int ts_log_count(const struct ts_proc *p, const char *needle);
/** Wait up to `timeout_ms` until a line of the log contains `needle`. */
bool ts_log_wait(const struct ts_proc *p, const char *needle, int timeout_ms);

#endif
