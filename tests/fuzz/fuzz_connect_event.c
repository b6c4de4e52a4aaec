/* libFuzzer target for Connect contact-flow events and responses (connectors/connect_proto.h): the
 * event is a stranger's body on POST /v1/connect until its signature is checked, and the answer
 * is a model's text. An event is read or refused with a message; a read one's parameters and
 * attributes are looked up without harm; the response written with the input as its answer is
 * a flat JSON object of strings under the limit, its values plain text (no control character,
 * no line break, valid UTF-8, no space at either end). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/connect_proto.h"
#include "tests/fuzz/fuzz_check.h"

static void check_value(const char *v)
{
    size_t n = strlen(v);
    CHECK(pl_utf8_valid(v, n));
    CHECK(!pl_utf8_has_control(v, n));
    if (n)
        CHECK(v[0] != ' ' && v[n - 1] != ' ');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct connect_event e;
    char err[256] = "";
    if (connect_event_parse(body, size, &e, err, sizeof(err)) == PL_OK) {
        CHECK(*connect_event_conversation_id(&e));
        connect_event_is_voice(&e);
        connect_event_parameter(&e, "action");
        connect_event_attribute(&e, "policy_number");
        connect_event_cleanup(&e);
    } else {
        CHECK(err[0] && e.root == NULL);
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const struct connect_pair pairs[] = {{"status", "done"}, {"answer", text}, {"summary", text}};
    size_t max = 64 + (size % 2048), len = 0;
    bool cut;
    char *json = connect_response_json(pairs, 3, max, &len, &cut);
    if (json) {
        CHECK(len == strlen(json) && len < max);
        json_t *root = json_loads(json, 0, NULL);
        CHECK(json_is_object(root));
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            CHECK(json_is_string(v));
            check_value(json_string_value(v));
        }
        json_decref(root);
        pl_free(json);
    }
    free(text);
    return 0;
}
