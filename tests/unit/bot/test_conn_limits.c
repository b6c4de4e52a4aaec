/* Connection-limit arithmetic (bot/conn_limits.h): the cap from the descriptor limit, the key of
 * a client address, counts per key, and the log throttle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "bot/conn_limits.h"
#include "common/err.h"

static void test_cap_derived_from_the_descriptor_limit(void **state)
{
    (void)state;
    struct conn_cap c;
    /* 1024: 64 kept for the rest, 8 for health checks, half of the other 952 for callers. */
    assert_int_equal(conn_cap_derive(1024, 0, &c), PL_OK);
    assert_int_equal(c.ceiling, 952);
    assert_int_equal(c.cap, 476);
    assert_false(c.lowered);
    assert_int_equal(conn_cap_derive(128, 0, &c), PL_OK);
    assert_int_equal(c.cap, 28);
    assert_int_equal(conn_cap_derive(CONN_FD_MIN, 0, &c), PL_OK);
    assert_int_equal(c.cap, 1);
    assert_int_equal(conn_cap_derive(CONN_FD_MIN - 1, 0, &c), PL_EINVAL);
    assert_int_equal(conn_cap_derive(0, 5, &c), PL_EINVAL);
    /* A huge limit does not wrap. */
    assert_int_equal(conn_cap_derive(UINT64_MAX, 0, &c), PL_OK);
    assert_int_equal(c.ceiling, UINT32_MAX);
}

static void test_requested_cap_is_kept_below_the_ceiling(void **state)
{
    (void)state;
    struct conn_cap c;
    assert_int_equal(conn_cap_derive(1024, 700, &c), PL_OK);
    assert_int_equal(c.cap, 700); /* more than derived is the operator's call */
    assert_false(c.lowered);
    assert_int_equal(conn_cap_derive(1024, 952, &c), PL_OK);
    assert_int_equal(c.cap, 952);
    assert_false(c.lowered);
    assert_int_equal(conn_cap_derive(1024, 953, &c), PL_OK);
    assert_int_equal(c.cap, 952);
    assert_true(c.lowered);
    assert_int_equal(conn_cap_derive(1024, 1, &c), PL_OK);
    assert_int_equal(c.cap, 1);
}

static void key_of4(const char *ip, char *out)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(4000)};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    conn_peer_key((struct sockaddr *)&a, sizeof(a), out);
}

static void key_of6(const char *ip, char *out)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(4000)};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    conn_peer_key((struct sockaddr *)&a, sizeof(a), out);
}

static void test_peer_keys(void **state)
{
    (void)state;
    char k[CONN_PEER_KEY_LEN];
    key_of4("192.0.2.7", k);
    assert_string_equal(k, "192.0.2.7");
    key_of4("255.255.255.255", k);
    assert_string_equal(k, "255.255.255.255");
    key_of6("::ffff:198.51.100.9", k);
    assert_string_equal(k, "198.51.100.9"); /* an IPv4 client of a dual-stack socket */
    /* Every address of one /64 is one client. */
    key_of6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    key_of6("2001:db8:1:2::1", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    key_of6("2001:db8:1:3::1", k);
    assert_string_equal(k, "2001:db8:1:3::/64");
    key_of6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", k);
    assert_string_equal(k, "ffff:ffff:ffff:ffff::/64");
    key_of6("::1", k);
    assert_string_equal(k, "::/64");
    /* A unix socket has no address to count. */
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    memcpy(u.sun_path, "/tmp/x", 7);
    conn_peer_key((struct sockaddr *)&u, sizeof(u), k);
    assert_string_equal(k, "");
    /* A truncated address is not read past its length. */
    struct sockaddr_in a = {.sin_family = AF_INET};
    conn_peer_key((struct sockaddr *)&a, 4, k);
    assert_string_equal(k, "");
}

static void test_counts_per_key(void **state)
{
    (void)state;
    struct conn_counts c;
    conn_counts_init(&c);
    assert_true(conn_counts_take(&c, "a", 2));
    assert_true(conn_counts_take(&c, "a", 2));
    assert_false(conn_counts_take(&c, "a", 2)); /* the third is over the limit */
    assert_int_equal(conn_counts_get(&c, "a"), 2);
    assert_true(conn_counts_take(&c, "b", 2)); /* another key has its own count */
    assert_int_equal(conn_counts_keys(&c), 2);
    conn_counts_put(&c, "a");
    assert_int_equal(conn_counts_get(&c, "a"), 1);
    assert_true(conn_counts_take(&c, "a", 2)); /* room again */
    conn_counts_put(&c, "a");
    conn_counts_put(&c, "a");
    assert_int_equal(conn_counts_get(&c, "a"), 0);
    assert_int_equal(conn_counts_keys(&c), 1); /* a key without connections is forgotten */
    for (int i = 0; i < 1000; i++)
        assert_true(conn_counts_take(&c, "b", 0)); /* 0: no limit */
    assert_int_equal(conn_counts_get(&c, "b"), 1001);
    conn_counts_cleanup(&c);
}

static void test_throttle_logs_once_per_interval(void **state)
{
    (void)state;
    struct conn_throttle t = {.interval_ms = 10000};
    uint64_t missed = 99;
    assert_true(conn_throttle_due(&t, 5, &missed)); /* the first is logged at once */
    assert_int_equal(missed, 0);
    for (uint64_t ms = 6; ms < 10005; ms += 10)
        assert_false(conn_throttle_due(&t, ms, &missed));
    assert_true(conn_throttle_due(&t, 10005, &missed));
    assert_int_equal(missed, 1000);
    assert_true(conn_throttle_due(&t, 30000, &missed));
    assert_int_equal(missed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_derived_from_the_descriptor_limit),
        cmocka_unit_test(test_requested_cap_is_kept_below_the_ceiling),
        cmocka_unit_test(test_peer_keys),
        cmocka_unit_test(test_counts_per_key),
        cmocka_unit_test(test_throttle_logs_once_per_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
