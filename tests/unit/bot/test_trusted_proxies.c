/* Trusted proxies: --trusted-proxies ranges, and the client an X-Forwarded-For names, walked from
 * the right over trusted proxies only (entries further left are the client's to forge). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "bot/trusted_proxies.h"
#include "common/err.h"

static struct trusted_proxies *parse(const char *spec)
{
    struct trusted_proxies *t;
    char err[256];
    assert_int_equal(trusted_proxies_parse(spec, &t, err, sizeof(err)), PL_OK);
    return t;
}

static void refused(const char *spec, const char *message)
{
    struct trusted_proxies *t = (struct trusted_proxies *)1;
    char err[256] = "";
    assert_int_equal(trusted_proxies_parse(spec, &t, err, sizeof(err)), PL_EINVAL);
    assert_null(t);
    assert_string_equal(err, message);
}

static bool has4(const struct trusted_proxies *t, const char *addr)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, addr, &in.sin_addr), 1);
    return trusted_proxies_has(t, (const struct sockaddr *)&in, sizeof(in));
}

static bool has6(const struct trusted_proxies *t, const char *addr)
{
    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
    return trusted_proxies_has(t, (const struct sockaddr *)&in6, sizeof(in6));
}

static void test_ranges(void **state)
{
    (void)state;
    struct trusted_proxies *t = parse(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,172.16.0.0/12");
    assert_true(has4(t, "10.0.0.1"));
    assert_true(has4(t, "10.255.255.255"));
    assert_false(has4(t, "11.0.0.0"));
    assert_true(has4(t, "192.0.2.7"));
    assert_false(has4(t, "192.0.2.8"));
    assert_true(has4(t, "172.31.255.1"));
    assert_false(has4(t, "172.32.0.1"));
    assert_true(has6(t, "2001:db8:ffff::1"));
    assert_false(has6(t, "2001:db9::1"));
    assert_true(has6(t, "::ffff:10.1.2.3")); /* IPv4-mapped: its IPv4 address */
    assert_false(has6(t, "::ffff:11.1.2.3"));
    trusted_proxies_free(t);
    t = parse("0.0.0.0/0");
    assert_true(has4(t, "203.0.113.9"));
    assert_false(has6(t, "2001:db8::1"));
    trusted_proxies_free(t);
    /* None configured: nobody is a proxy. */
    t = parse(NULL);
    assert_null(t);
    assert_false(has4(t, "127.0.0.1"));
    t = parse("");
    assert_null(t);
}

static void test_refused_at_start(void **state)
{
    (void)state;
    refused("10.0.0.0/33",
            "--trusted-proxies: \"10.0.0.0/33\" has a prefix longer than its address");
    refused("10.0.0.1/8", "--trusted-proxies: \"10.0.0.1/8\" has bits set after its prefix (write "
                          "the network address, e.g. 10.0.0.0/8)");
    refused("proxy.internal",
            "--trusted-proxies: \"proxy.internal\" is not an IPv4 or IPv6 address");
    refused("10.0.0.0/", "--trusted-proxies: \"10.0.0.0/\" has a malformed prefix length");
    refused("10.0.0.0/8x", "--trusted-proxies: \"10.0.0.0/8x\" has a malformed prefix length");
    refused(" , ", "--trusted-proxies: no address in \" , \"");
}

static enum forwarded_result client(const struct trusted_proxies *t, const char *const *values,
                                    size_t n, const char *want)
{
    char key[CONN_PEER_KEY_LEN] = "junk";
    enum forwarded_result r = trusted_proxies_client(t, values, n, key);
    assert_string_equal(key, want);
    return r;
}

static void test_walk_from_the_right(void **state)
{
    (void)state;
    struct trusted_proxies *t = parse("10.0.0.0/8");
    /* The client forged the first entry; the proxy appended the address it saw. */
    const char *one[] = {"6.6.6.6, 203.0.113.9"};
    assert_int_equal(client(t, one, 1, "203.0.113.9"), FORWARDED_CLIENT);
    /* Two trusted hops appended on the right are passed over. */
    const char *hops[] = {"1.1.1.1, 203.0.113.9, 10.1.1.1,10.2.2.2"};
    assert_int_equal(client(t, hops, 1, "203.0.113.9"), FORWARDED_CLIENT);
    /* Header lines are one list, in order. */
    const char *lines[] = {"1.1.1.1, 203.0.113.9", "10.1.1.1"};
    assert_int_equal(client(t, lines, 2, "203.0.113.9"), FORWARDED_CLIENT);
    /* Every entry a proxy: the leftmost is the client (a request from inside). */
    const char *inside[] = {"10.9.9.9, 10.1.1.1"};
    assert_int_equal(client(t, inside, 1, "10.9.9.9"), FORWARDED_CLIENT);
    /* Ports, brackets, empty elements and spaces. */
    const char *ports[] = {"203.0.113.9:5123 ,, 10.1.1.1:443"};
    assert_int_equal(client(t, ports, 1, "203.0.113.9"), FORWARDED_CLIENT);
    const char *v6[] = {"[2001:db8:1:2:3:4:5:6]:443"};
    assert_int_equal(client(t, v6, 1, "2001:db8:1:2::/64"), FORWARDED_CLIENT);
    const char *bare6[] = {"2001:db8:1:2::9"};
    assert_int_equal(client(t, bare6, 1, "2001:db8:1:2::/64"), FORWARDED_CLIENT);
    const char *mapped[] = {"::ffff:203.0.113.9"};
    assert_int_equal(client(t, mapped, 1, "203.0.113.9"), FORWARDED_CLIENT);
    /* Garbage left of the client is never read. */
    const char *forged[] = {"unknown, <script>, 203.0.113.9"};
    assert_int_equal(client(t, forged, 1, "203.0.113.9"), FORWARDED_CLIENT);
    trusted_proxies_free(t);
}

static void test_none_and_malformed(void **state)
{
    (void)state;
    struct trusted_proxies *t = parse("10.0.0.0/8");
    assert_int_equal(client(t, NULL, 0, ""), FORWARDED_NONE);
    const char *empty[] = {" , ", ""};
    assert_int_equal(client(t, empty, 2, ""), FORWARDED_NONE);
    const char *bad[] = {"203.0.113.9, unknown"};
    assert_int_equal(client(t, bad, 1, ""), FORWARDED_MALFORMED);
    const char *bad_port[] = {"203.0.113.9:80x"};
    assert_int_equal(client(t, bad_port, 1, ""), FORWARDED_MALFORMED);
    const char *v6_port[] = {"[203.0.113.9]:80"};
    assert_int_equal(client(t, v6_port, 1, ""), FORWARDED_MALFORMED);
    const char *unclosed[] = {"[2001:db8::1"};
    assert_int_equal(client(t, unclosed, 1, ""), FORWARDED_MALFORMED);
    /* More trusted hops than are looked at: the leftmost looked at is taken. */
    char many[FORWARDED_ENTRIES_MAX * 12 + 32] = "203.0.113.9";
    for (int i = 0; i < FORWARDED_ENTRIES_MAX; i++) {
        char hop[16];
        snprintf(hop, sizeof(hop), ", 10.0.0.%d", i + 1);
        size_t used = strlen(many);
        snprintf(many + used, sizeof(many) - used, "%s", hop);
    }
    const char *deep[] = {many};
    assert_int_equal(client(t, deep, 1, "10.0.0.1"), FORWARDED_CLIENT);
    trusted_proxies_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_refused_at_start),
        cmocka_unit_test(test_walk_from_the_right),
        cmocka_unit_test(test_none_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
