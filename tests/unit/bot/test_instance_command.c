/* instance_command_parse: the one command of an instance's control channel
 * (bot/instance_control.h), read exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bot/instance_control.h"
#include "common/err.h"

#define SID "0123456789abcdef0123456789abcdef"

static int parse(const char *text, char *sid)
{
    return instance_command_parse(text, strlen(text), sid);
}

static void reads_a_takeover(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    assert_int_equal(parse("cancel takeover " SID, sid), PL_OK);
    assert_string_equal(sid, SID);
}

static void refuses_anything_else(void **state)
{
    (void)state;
    char sid[SESS_ID_LEN + 1];
    static const char *const bad[] = {
        "",
        "cancel takeover ",
        "cancel takeover " SID "\n",
        "cancel takeover  " SID,
        "cancel caller " SID,
        "Cancel takeover " SID,
        "cancel takeover 0123456789ABCDEF0123456789abcdef",
        "cancel takeover 0123456789abcdef0123456789abcde",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], sid), PL_EINVAL);
    assert_int_equal(instance_command_parse(NULL, 0, sid), PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_takeover),
        cmocka_unit_test(refuses_anything_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
