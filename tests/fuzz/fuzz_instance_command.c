/* libFuzzer target for a command on an instance's control channel (bot/instance_control.h):
 * any bytes a Redis publisher could send. Accepted only as "cancel takeover " and a valid
 * session id, which is then the input's last 32 bytes; the same answer twice. */
#include <stdint.h>
#include <string.h>

#include "bot/instance_control.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a[SESS_ID_LEN + 1], b[SESS_ID_LEN + 1];
    int ra = instance_command_parse((const char *)data, size, a);
    int rb = instance_command_parse((const char *)data, size, b);
    CHECK(ra == rb);
    if (ra == PL_OK) {
        CHECK(size == 16 + SESS_ID_LEN);
        CHECK(memcmp(data, "cancel takeover ", 16) == 0);
        CHECK(memcmp(a, data + 16, SESS_ID_LEN) == 0 && a[SESS_ID_LEN] == '\0');
        CHECK(sess_id_valid(a) && strcmp(a, b) == 0);
    } else {
        CHECK(ra == PL_EINVAL);
    }
    return 0;
}
