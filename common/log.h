/* Logging: one line per event to stderr, as text (for people) or JSON (for collectors).
 * PL_LOG checks the level before formatting, so disabled debug lines cost a compare. */
#ifndef PARLEY_COMMON_LOG_H
#define PARLEY_COMMON_LOG_H

#include <stdbool.h>

enum pl_log_level { PL_LOG_ERR = 0, PL_LOG_WARN, PL_LOG_NOTICE, PL_LOG_INFO, PL_LOG_DEBUG };
enum pl_log_format { PL_LOG_TEXT = 0, PL_LOG_JSON };

extern enum pl_log_level pl_log_threshold;

/** Configure the logger; call once at start-up (loop thread only). */
void pl_log_setup(enum pl_log_level level, enum pl_log_format format);
/** Parse "err|warn|notice|info|debug"; false if unknown. */
bool pl_log_level_parse(const char *s, enum pl_log_level *out);

void pl_log_emit(enum pl_log_level level, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PL_LOG(level, comp, ...)                                                                   \
    do {                                                                                           \
        if ((level) <= pl_log_threshold)                                                           \
            pl_log_emit((level), (comp), __VA_ARGS__);                                             \
    } while (0)

#endif
