/* Rotating the webhook secret without losing a call: with --webhook-previous-secret, events
 * signed with the former secret are accepted as well as those signed with the new one (any other
 * secret is refused), and with --webhook-session-key a conversation's session is named by that
 * key, so it stays the same session whichever secret signed its events. A key shorter than 32
 * bytes stops the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "bot/webhook_auth.h"
#include "bot/webhook_sig.h"
#include "common/alloc.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"

#define NEW_SECRET  "rotation-new-secret-0123456789abcdef-new"
#define OLD_SECRET  "rotation-old-secret-0123456789abcdef-old"
#define SESSION_KEY "rotation-session-key-0123456789abcdef-key"

static struct ts_stack st;
static const char *const parleyd_args[] = {"--webhook-secret",
                                           NEW_SECRET,
                                           "--webhook-previous-secret",
                                           OLD_SECRET,
                                           "--webhook-session-key",
                                           SESSION_KEY,
                                           "--local-pace-ms",
                                           "1",
                                           NULL};

static int setup(void **state)
{
    (void)state;
    return ts_stack_start(&st, "webhook_rotation", NULL, parleyd_args);
}

static int teardown(void **state)
{
    (void)state;
    return ts_stack_stop(&st) == 0 ? 0 : -1;
}

/* A Connect `escalate` event of contact `contact` (no model call: the answer is at once), signed
 * with `secret`; the status, and the reply's map in *map (new) when it is 200. */
static long post_connect(const char *contact, const char *reason, const char *secret, json_t **map)
{
    char body[1024], url[256], ts[24], sig[WEBHOOK_SIG_HEX_LEN + 1], sigh[80];
    snprintf(body, sizeof(body),
             "{\"Name\":\"ContactFlowEvent\",\"Details\":{\"ContactData\":{\"ContactId\":\"%s\","
             "\"InitialContactId\":\"%s\",\"Channel\":\"VOICE\"},\"Parameters\":{\"action\":"
             "\"escalate\",\"reason\":\"%s\"}}}",
             contact, contact, reason);
    snprintf(url, sizeof(url), "%s/v1/connect", st.parleyd.url);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    webhook_sign(secret, strlen(secret), ts, body, strlen(body), sig);
    snprintf(sigh, sizeof(sigh), "v1=%s", sig);
    char *out = NULL;
    long status = ts_post_signed(url, ts, sigh, body, &out);
    *map = status == 200 ? json_loads(out, 0, NULL) : NULL;
    pl_free(out);
    return status;
}

static void test_both_secrets_one_session(void **state)
{
    (void)state;
    const char *contact = "c0ffee00-0000-4000-8000-00000000r0t8";
    char want_sid[SESS_ID_LEN + 1];
    webhook_session_id(SESSION_KEY, "connect", contact, want_sid);
    json_t *m;
    /* a sender not yet moved to the new secret */
    assert_int_equal(post_connect(contact, "asked by the old flow", OLD_SECRET, &m), 200);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "session_id")), want_sid);
    json_decref(m);
    /* one moved: the same conversation, the same session */
    assert_int_equal(post_connect(contact, "asked by the new flow", NEW_SECRET, &m), 200);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "session_id")), want_sid);
    json_decref(m);
    char *state_v = ts_redis_query(&st.redis, "HGET parley:{%s}:session state", want_sid);
    assert_string_equal(state_v, "waiting_agent");
    pl_free(state_v);
    /* any other secret is refused */
    assert_int_equal(
        post_connect(contact, "forged", "someone-else-0123456789abcdef-0123456789", &m), 401);
}

static void test_short_keys_stop_the_start(void **state)
{
    (void)state;
    static const char *const flags[] = {"--webhook-previous-secret", "--webhook-session-key"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd),
                 "'%s' --listen 127.0.0.1:0 --webhook-secret %s %s short-one 2>&1; echo \"rc=$?\"",
                 ts_bin("parleyd"), NEW_SECRET, flags[i]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[4096];
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        if (!strstr(out, flags[i]) || !strstr(out, "rc=2"))
            fail_msg("%s said \"%s\"", cmd, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_secrets_one_session),
        cmocka_unit_test(test_short_keys_stop_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
