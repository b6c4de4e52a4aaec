/* libFuzzer target for the credentials endpoints' replies (connectors/aws_credentials_json.h):
 * the JSON the ECS/EKS container endpoint and EC2 instance metadata send, and the RFC 3339
 * times in them. The input is read as a whole reply, and as a time both directly and inside a
 * reply's Expiration (built with jansson). Contract: only PL_OK, PL_EPROTO and PL_ETOOBIG; on
 * success both keys present, every value terminated within its bound and free of control bytes
 * (they become request headers); on a refusal every field empty, the expiry -1 and the reason
 * one of the fixed ones; the same answer twice; a time read directly and inside a reply agree;
 * a time written back by pl_rfc3339_format reads as the same second. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "connectors/aws_credentials_json.h"
#include "tests/fuzz/fuzz_check.h"

static struct pl_aws_creds_reply first, second;

static bool fixed_reason(const char *why)
{
    static const char *const reasons[] = {"reply too long",
                                          "reply is not a JSON object",
                                          "Code is not Success",
                                          "a required key is missing",
                                          "a required key is empty",
                                          "a key is not a string",
                                          "a value is too long",
                                          "a value has a control character",
                                          "Expiration is not an RFC 3339 time"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (why && strcmp(why, reasons[i]) == 0)
            return true;
    return false;
}

static void check_value(const char *v, size_t max, bool nonempty)
{
    size_t len = strnlen(v, max + 1);
    CHECK(len <= max);
    CHECK(!nonempty || len > 0);
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)v[i] >= 0x20 && (unsigned char)v[i] != 0x7f);
}

static void check_reply(int rc, const struct pl_aws_creds_reply *r)
{
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_ETOOBIG);
    if (rc == PL_OK) {
        CHECK(r->error == NULL);
        check_value(r->access_key_id, PL_SIGV4_MAX_KEY, true);
        check_value(r->secret_access_key, PL_SIGV4_MAX_KEY, true);
        check_value(r->session_token, PL_SIGV4_MAX_TOKEN, false);
        CHECK(r->expiration_ms >= -1);
    } else {
        CHECK(fixed_reason(r->error));
        CHECK(r->access_key_id[0] == '\0' && r->secret_access_key[0] == '\0' &&
              r->session_token[0] == '\0' && r->expiration_ms == -1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    int rc = pl_aws_creds_reply_parse(text, size, &first);
    check_reply(rc, &first);
    int again = pl_aws_creds_reply_parse(text, size, &second);
    CHECK(again == rc && first.expiration_ms == second.expiration_ms &&
          strcmp(first.access_key_id, second.access_key_id) == 0 &&
          strcmp(first.secret_access_key, second.secret_access_key) == 0 &&
          strcmp(first.session_token, second.session_token) == 0);

    int64_t ms = -7;
    int trc = pl_rfc3339_parse(text, size, &ms);
    CHECK(trc == PL_OK || (trc == PL_EINVAL && ms == -7));
    if (trc == PL_OK) {
        char out[PL_RFC3339_MAX];
        pl_rfc3339_format(ms, out);
        CHECK(strlen(out) == 20);
        int64_t back = 0;
        CHECK(pl_rfc3339_parse(out, strlen(out), &back) == PL_OK);
        int64_t floor = ms >= 0 ? ms / 1000 * 1000 : -((-ms + 999) / 1000) * 1000;
        /* Within the years written (an offset can push a time just out of them). */
        if (ms >= -62135596800000LL && ms <= 253402300799999LL)
            CHECK(back == floor);
    }

    /* The same text as a reply's Expiration. */
    json_t *exp = json_stringn(text, size); /* NULL unless valid UTF-8 */
    if (exp) {
        json_t *obj = json_pack("{s:s, s:s, s:o}", "AccessKeyId", "A", "SecretAccessKey", "S",
                                "Expiration", exp);
        char *body = json_dumps(obj, 0);
        json_decref(obj);
        if (body) {
            int erc = pl_aws_creds_reply_parse(body, strlen(body), &second);
            check_reply(erc, &second);
            if (strlen(body) <= PL_AWS_CREDS_MAX_REPLY) {
                CHECK((erc == PL_OK) == (trc == PL_OK));
                CHECK(erc != PL_OK || second.expiration_ms == (ms < 0 ? 0 : ms));
            }
            free(body);
        }
    }
    return 0;
}
