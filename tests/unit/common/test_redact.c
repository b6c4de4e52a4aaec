/* Secret removal: URL passwords, bearer and basic credentials, JWTs, API keys and fields named
 * like secrets are replaced; ordinary text (including words such as "tokens") is left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/redact.h"

static void expect(const char *in, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 16);
    pl_redact_secrets(&b, in, strlen(in));
    assert_string_equal(b.data ? b.data : "", want);
    pl_buf_cleanup(&b);
}

static void test_urls(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(pl_redact_url("redis://user:pw@h:6379/0", out, sizeof(out)),
                        "redis://user:***@h:6379/0");
    assert_string_equal(pl_redact_url("redis://:pw@h:6379/0", out, sizeof(out)),
                        "redis://:***@h:6379/0");
    assert_string_equal(pl_redact_url("redis://pw@h", out, sizeof(out)), "redis://***@h");
    /* The userinfo runs to the last '@', as the Redis client reads it. */
    assert_string_equal(pl_redact_url("redis://u:p/a@ss@h/1", out, sizeof(out)),
                        "redis://u:***@h/1");
    assert_string_equal(pl_redact_url("redis://127.0.0.1:6379/0", out, sizeof(out)),
                        "redis://127.0.0.1:6379/0");
    assert_string_equal(pl_redact_url("unix:///run/r.sock?db=2", out, sizeof(out)),
                        "unix:///run/r.sock?db=2");
    assert_string_equal(pl_redact_url("redis://u:pw@host", out, 12), "redis://u:*");
    /* In running text. */
    expect("connect redis://u:pw@h:1/0 and http://a:b@c/d?x=1 then ftp://anon@x",
           "connect redis://u:***@h:1/0 and http://a:***@c/d?x=1 then ftp://***@x");
    expect("see http://example.com/a@b", "see http://example.com/a@b");
}

static void test_credentials_and_keys(void **state)
{
    (void)state;
    expect("Authorization: Bearer abc.DEF-_~+/=", "Authorization: ***");
    expect("got bearer abc.def for x", "got bearer *** for x");
    expect("Basic dXNlcjpwYXNz", "Basic ***");
    expect("url /v1/x?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln&y=1", "url /v1/x?t=***&y=1");
    expect("key sk-ant-api03-abcdefghijklmnop end", "key sk-*** end");
    expect("a task-list-item-with-long-name", "a task-list-item-with-long-name");
    expect("sk-short", "sk-short");
}

static void test_fields(void **state)
{
    (void)state;
    expect("{\"token\":\"a.b.c\",\"x\":1}", "{\"token\":\"***\",\"x\":1}");
    expect("{\"token\": \"with \\\" quote\"}", "{\"token\": \"***\"}");
    expect("x-api-key: sk-1 next", "x-api-key: *** next");
    expect("X-Api-Key=abc&b=2", "X-Api-Key=***&b=2");
    expect("password=hunter2;", "password=***;");
    expect("jwt_secret='s s'", "jwt_secret='***'");
    expect("PARLEY_JWT_SECRET=abc", "PARLEY_JWT_SECRET=abc"); /* not a whole word: untouched */
    /* Ordinary words stay. */
    expect("tokens stop working; max_tokens: 1024; token budget", "tokens stop working; "
                                                                  "max_tokens: 1024; token budget");
    expect("the secret is out", "the secret is out");
    expect("token=", "token=");
    expect("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_credentials_and_keys),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
