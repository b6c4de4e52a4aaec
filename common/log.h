/* Logging: one line per event to stderr, as text (for people) or JSON (for collectors).
 * PL_LOG checks the level before formatting, so disabled debug lines cost a compare.
 * Every line is made safe here, whatever its arguments hold: secrets are removed (redact.h) and,
 * in both formats, control characters are escaped, so a caller's text can neither forge a line
 * nor send escape sequences to the operator's terminal. */
#ifndef PARLEY_COMMON_LOG_H
#define PARLEY_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

enum pl_log_level { PL_LOG_ERR = 0, PL_LOG_WARN, PL_LOG_NOTICE, PL_LOG_INFO, PL_LOG_DEBUG };
enum pl_log_format { PL_LOG_TEXT = 0, PL_LOG_JSON };

extern enum pl_log_level pl_log_threshold;

/** Configure the logger; call once at start-up (loop thread only). */
void pl_log_setup(enum pl_log_level level, enum pl_log_format format);
/** Parse "err|warn|notice|info|debug"; false if unknown. */
bool pl_log_level_parse(const char *s, enum pl_log_level *out);

void pl_log_emit(enum pl_log_level level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Append to `out` the line pl_log_emit writes for `msg` (borrowed, NUL-terminated), ending in
 *  '\n', with `ts` as its timestamp. Secrets in `msg` are replaced (pl_redact_secrets); then in
 *  text format "TS LEVEL COMP MSG" with \\ \n \r \t written as such escapes, other control
 *  characters (C0, DEL) and bytes that are not UTF-8 as \xHH, and C1 controls, U+2028/U+2029
 *  and the bidirectional overrides (U+202A-U+202E, U+2066-U+2069) as \uHHHH; in JSON format
 *  {"ts","level","comp","msg"} with the same characters as JSON escapes (a byte that is not UTF-8
 *  becomes \ufffd). */
void pl_log_format_line(struct pl_buf *out, enum pl_log_format format, const char *ts,
                        enum pl_log_level level, const char *comp, const char *msg);

#define PL_LOG(level, comp, ...)                                                                   \
    do {                                                                                           \
        if ((level) <= pl_log_threshold)                                                           \
            pl_log_emit((level), (comp), __VA_ARGS__);                                             \
    } while (0)

#endif
