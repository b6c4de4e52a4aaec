/* libFuzzer target for a message of the desk channel (sessions/desk_channel.h): any bytes a
 * Redis publisher could send. Every id given is 32 lower-case hex characters, taken whole from
 * one line of the input; no more than `max` are given; the same input gives the same ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sessions/desk_channel.h"
#include "tests/fuzz/fuzz_check.h"

struct seen {
    const uint8_t *data;
    size_t size, n;
    char ids[16][SESS_ID_LEN + 1];
};

static void each(void *ud, const char *sid)
{
    struct seen *s = ud;
    CHECK(strlen(sid) == SESS_ID_LEN);
    CHECK(sess_id_valid(sid));
    CHECK(memmem(s->data, s->size, sid, SESS_ID_LEN) != NULL);
    CHECK(s->n < 16);
    memcpy(s->ids[s->n++], sid, SESS_ID_LEN + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen a = {.data = data, .size = size}, b = {.data = data, .size = size};
    size_t n = sess_desk_parse((const char *)data, size, 16, each, &a);
    CHECK(n == a.n);
    CHECK(sess_desk_parse((const char *)data, size, 16, each, &b) == n);
    CHECK(memcmp(a.ids, b.ids, sizeof(a.ids)) == 0);
    struct seen c = {.data = data, .size = size};
    CHECK(sess_desk_parse((const char *)data, size, 1, each, &c) == (n ? 1u : 0u));
    return 0;
}
