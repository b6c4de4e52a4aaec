/* What POST /v1/lex does with each Lex intent (docs/lex-connect.md "The intents file"): the
 * --lex-intents JSON file read at start, and the decisions of a verify_policy intent. Pure: no
 * I/O besides lex_intents_load's read of the file; fuzzed by tests/fuzz/fuzz_lex_intents.c.
 *
 *   {"default": {"action": "answer", "then": "elicit_intent"},
 *    "intents": {"FallbackIntent": {"action": "answer", "then": "close"},
 *                "VerifyPolicy": {"action": "verify_policy", "policy_slot": "PolicyNumber",
 *                                 "check_slot": "DateOfBirth",
 *                                 "check_field": "holder.date_of_birth"},
 *                "TalkToAgent": {"action": "escalate", "reason": "the caller asked"},
 *                "OrderStatus": {"action": "delegate"}}}
 */
#ifndef PARLEY_BOT_LEX_INTENTS_H
#define PARLEY_BOT_LEX_INTENTS_H

#include <stdbool.h>
#include <stddef.h>

#define LEX_INTENTS_MAX      200
#define LEX_INTENT_NAME_MAX  100  /* Lex's own limit on an intent name */
#define LEX_INTENT_TEXT_MAX  1024 /* a message: Lex's limit on one */
#define LEX_INTENTS_FILE_MAX (256 * 1024)

enum lex_intent_action {
    LEX_INTENT_ANSWER,        /* a turn with inputTranscript; its answer in messages */
    LEX_INTENT_VERIFY_POLICY, /* check a policy number and a second slot against the record */
    LEX_INTENT_ESCALATE,      /* Close; session attributes parley_escalate, parley_session */
    LEX_INTENT_DELEGATE,      /* let Lex go on with its own dialog */
};

/* What an answer does after it: Close (Fulfilled), or ElicitIntent (the conversation stays
 * open for the caller's next question). */
enum lex_intent_then { LEX_THEN_ELICIT_INTENT, LEX_THEN_CLOSE };

struct lex_intent {
    char *name; /* NULL for the default */
    enum lex_intent_action action;
    enum lex_intent_then then; /* answer */
    /* verify_policy: the slots, the record's field the second slot is checked against, and
     * what the caller is told */
    char *policy_slot;
    char *check_slot;
    char *check_field;
    char *ask_policy;
    char *ask_check;
    char *failed;
    char *verified;
    /* escalate */
    char *reason;
    char *message;
};

struct lex_intents {
    struct lex_intent fallback; /* "default" */
    struct lex_intent *intents;
    size_t n;
};

/** Read `len` bytes of intents-file JSON. PL_OK with `out` (free with lex_intents_cleanup), or
 *  PL_EINVAL with a message naming the place in `err` (unknown key or action, a wrong type, a
 *  duplicate or over-long intent name, too many intents). */
int lex_intents_parse(const char *json, size_t len, struct lex_intents *out, char *err,
                      size_t errlen);
/** lex_intents_parse of file `path` (NULL: the defaults: every intent answered). */
int lex_intents_load(const char *path, struct lex_intents *out, char *err, size_t errlen);
void lex_intents_cleanup(struct lex_intents *in);

/** The entry for intent `name` (the default when none names it). Never NULL. */
const struct lex_intent *lex_intents_find(const struct lex_intents *in, const char *name);

/* The next step of a verify_policy intent. */
enum lex_verify_step {
    LEX_VERIFY_ASK_POLICY, /* no policy number yet: ElicitSlot policy_slot */
    LEX_VERIFY_ASK_CHECK,  /* no second factor yet: ElicitSlot check_slot */
    LEX_VERIFY_LOOK_UP,    /* both: read the record and compare */
};
/** From the slots' values (NULL or "": unfilled). */
enum lex_verify_step lex_verify_step(const char *policy, const char *check);

/** True when record `record` (`len` bytes of JSON) has string or number field `field` (a dotted
 *  path into nested objects, as "holder.postcode") equal to
 *  `given`, both compared by their letters and digits only, case ignored ("1980-01-02" matches
 *  "1980 01 02"; "" never matches). */
bool lex_verify_matches(const char *record, size_t len, const char *field, const char *given);

#endif
