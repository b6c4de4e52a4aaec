/* libFuzzer target for the --lex-intents file (bot/lex_intents.h): an operator's file, read at
 * start. It is read or refused with a message; a read one has an action of the four for every
 * intent, every text setting non-empty, and finds the default for a name it lacks; the
 * verify_policy comparison of the input as a record with the input as the answer never
 * crashes, and never matches an empty answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/lex_intents.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

static void check_intent(const struct lex_intent *it)
{
    CHECK(it->action <= LEX_INTENT_DELEGATE);
    CHECK(it->then == LEX_THEN_CLOSE || it->then == LEX_THEN_ELICIT_INTENT);
    const char *texts[] = {it->policy_slot, it->check_slot, it->check_field,
                           it->ask_policy,  it->ask_check,  it->failed,
                           it->verified,    it->reason,     it->message};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        CHECK(texts[i] && texts[i][0] && strlen(texts[i]) <= LEX_INTENT_TEXT_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct lex_intents in;
    char err[256];
    err[0] = '\0';
    if (lex_intents_parse(text, size, &in, err, sizeof(err)) != PL_OK) {
        CHECK(err[0] != '\0');
    } else {
        check_intent(&in.fallback);
        CHECK(in.n <= LEX_INTENTS_MAX);
        for (size_t i = 0; i < in.n; i++) {
            check_intent(&in.intents[i]);
            CHECK(lex_intents_find(&in, in.intents[i].name) == &in.intents[i]);
        }
        CHECK(lex_intents_find(&in, "no intent has a name with spaces") == &in.fallback);
        lex_intents_cleanup(&in);
    }
    /* The input as a policy record, asked for a few fields. */
    const char *fields[] = {"postcode", "holder.postcode", "a.b.c", ".", ""};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        CHECK(!lex_verify_matches(text, size, fields[i], ""));
        (void)lex_verify_matches(text, size, fields[i], "ZZ1 1ZZ");
    }
    return 0;
}
