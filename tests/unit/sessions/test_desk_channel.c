/* sess_desk_parse: the session ids of a desk channel message (sessions/desk_channel.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sessions/desk_channel.h"

struct seen {
    char ids[8][SESS_ID_LEN + 1];
    size_t n;
};

static void each(void *ud, const char *sid)
{
    struct seen *s = ud;
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", sid);
}

#define A "0123456789abcdef0123456789abcdef"
#define B "fedcba9876543210fedcba9876543210"

static void gives_each_line_in_order(void **state)
{
    (void)state;
    struct seen s = {0};
    const char msg[] = A "\n" B "\n";
    assert_int_equal(sess_desk_parse(msg, strlen(msg), 8, each, &s), 2);
    assert_string_equal(s.ids[0], A);
    assert_string_equal(s.ids[1], B);
    /* the last line needs no newline */
    memset(&s, 0, sizeof(s));
    assert_int_equal(sess_desk_parse(A, strlen(A), 8, each, &s), 1);
    assert_string_equal(s.ids[0], A);
}

static void skips_what_is_not_a_session_id(void **state)
{
    (void)state;
    struct seen s = {0};
    /* upper case, short, long, empty lines, a CR: all skipped */
    const char msg[] = "0123456789ABCDEF0123456789ABCDEF\n0123\n" A "0\n\n" A "\r\n" B;
    assert_int_equal(sess_desk_parse(msg, strlen(msg), 8, each, &s), 1);
    assert_string_equal(s.ids[0], B);
    assert_int_equal(sess_desk_parse("", 0, 8, each, &s), 0);
}

static void stops_at_max(void **state)
{
    (void)state;
    struct seen s = {0};
    const char msg[] = A "\n" B "\n" A "\n";
    assert_int_equal(sess_desk_parse(msg, strlen(msg), 2, each, &s), 2);
    assert_int_equal(s.n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gives_each_line_in_order),
        cmocka_unit_test(skips_what_is_not_a_session_id),
        cmocka_unit_test(stops_at_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
