/* Allowed origins: the server's own origin always, the configured list, `*` only when said; a
 * malformed --allowed-origins entry stops the server at start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bot/origin.h"
#include "common/err.h"

static struct origin_list *parse(const char *spec)
{
    struct origin_list *l;
    char err[256];
    assert_int_equal(origin_list_parse(spec, &l, err, sizeof(err)), PL_OK);
    return l;
}

static void test_own_origin_only_by_default(void **state)
{
    (void)state;
    struct origin_list *l = parse(NULL);
    assert_true(origin_allowed(l, "http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(origin_allowed(l, "HTTP://Parley.Example", "parley.example"));
    /* Behind a TLS proxy the page is https while the Host is the same. */
    assert_true(origin_allowed(l, "https://parley.example", "parley.example"));
    assert_true(origin_allowed(l, "https://parley.example", "parley.example:443"));
    assert_true(origin_allowed(l, "http://[::1]:8080", "[::1]:8080"));
    assert_false(origin_allowed(l, "http://127.0.0.1:8081", "127.0.0.1:8080"));
    assert_false(origin_allowed(l, "https://evil.example", "parley.example"));
    assert_false(origin_allowed(l, "https://parley.example.evil.example", "parley.example"));
    assert_false(origin_allowed(l, "null", "parley.example"));
    assert_false(origin_allowed(l, "", "parley.example"));
    assert_false(origin_allowed(l, "https://parley.example", ""));
    assert_false(origin_allowed(l, "ftp://parley.example", "parley.example"));
    assert_false(origin_allowed(l, "https://parley.example/path", "parley.example"));
    assert_false(origin_allowed(NULL, "https://evil.example", "parley.example"));
    assert_true(origin_allowed(NULL, "http://h:1", "h:1"));
    origin_list_free(l);
}

static void test_listed_origins(void **state)
{
    (void)state;
    struct origin_list *l =
        parse(" https://Shop.Example , http://localhost:3000,https://x.example:443");
    assert_true(origin_allowed(l, "https://shop.example", "parley.example"));
    assert_true(origin_allowed(l, "http://localhost:3000", "parley.example"));
    assert_true(origin_allowed(l, "https://x.example", "parley.example"));
    assert_false(origin_allowed(l, "http://shop.example", "parley.example"));
    assert_false(origin_allowed(l, "https://shop.example:8443", "parley.example"));
    assert_false(origin_allowed(l, "http://localhost:30000", "parley.example"));
    assert_false(origin_allowed(l, "http://localhost", "parley.example"));
    assert_false(origin_allowed(l, "https://evil.example", "parley.example"));
    origin_list_free(l);
}

static void test_star_allows_any_page(void **state)
{
    (void)state;
    struct origin_list *l = parse("*");
    assert_true(origin_allowed(l, "https://evil.example", "parley.example"));
    assert_true(origin_allowed(l, "null", "parley.example"));
    origin_list_free(l);
}

static void test_bad_entries_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"shop.example",
                                      "https://shop.example/",
                                      "https://",
                                      "https://shop.example:",
                                      "https://a:123456",
                                      "ws://shop.example",
                                      "https://u@shop.example",
                                      "https://shop.example/x",
                                      "null",
                                      "**"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct origin_list *l = (struct origin_list *)1;
        char err[256] = "";
        assert_int_equal(origin_list_parse(bad[i], &l, err, sizeof(err)), PL_EINVAL);
        assert_null(l);
        assert_non_null(strstr(err, "--allowed-origins"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_origin_only_by_default),
        cmocka_unit_test(test_listed_origins),
        cmocka_unit_test(test_star_allows_any_page),
        cmocka_unit_test(test_bad_entries_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
