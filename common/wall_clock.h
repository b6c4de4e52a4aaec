/* Wall-clock time in Unix milliseconds: what Redis records and clients read ("ts", "updated",
 * "waiting_since"). Not for deadlines or durations on the loop: those are uv_now's. */
#ifndef PARLEY_COMMON_WALL_CLOCK_H
#define PARLEY_COMMON_WALL_CLOCK_H

#include <stddef.h>
#include <sys/time.h>

static inline long long pl_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#endif
