/* Retry-After and retry-after-ms; see retry_after.h. */
#include "connectors/retry_after.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static long capped_ms(double ms)
{
    return ms < (double)RETRY_AFTER_MAX_MS ? (long)ms : RETRY_AFTER_MAX_MS;
}

long retry_after_parse_ms(const char *retry_after, const char *retry_after_ms, long long now_s)
{
    char *end;
    if (retry_after_ms) {
        double ms = strtod(retry_after_ms, &end);
        if (end != retry_after_ms && *end == '\0' && ms >= 0)
            return capped_ms(ms);
    }
    if (retry_after) {
        double s = strtod(retry_after, &end);
        if (end != retry_after && *end == '\0' && s >= 0)
            return capped_ms(s * 1000);
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *rest = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (rest && *rest == '\0') {
            long long at = (long long)timegm(&tm);
            return at > now_s ? capped_ms((double)(at - now_s) * 1000) : 0;
        }
    }
    return -1;
}
