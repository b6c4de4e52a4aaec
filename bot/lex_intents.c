/* The intents file and the verify_policy decisions; see lex_intents.h. */
#include "bot/lex_intents.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"

static const char *const action_names[] = {"answer", "verify_policy", "escalate", "delegate"};

/* The defaults of every field, as docs/lex-connect.md lists them. */
static void intent_defaults(struct lex_intent *it)
{
    it->action = LEX_INTENT_ANSWER;
    it->then = LEX_THEN_ELICIT_INTENT;
    it->policy_slot = pl_strdup("PolicyNumber");
    it->check_slot = pl_strdup("DateOfBirth");
    it->check_field = pl_strdup("holder.date_of_birth");
    it->ask_policy = pl_strdup("What is your policy number?");
    it->ask_check = pl_strdup("And your date of birth, please?");
    it->failed = pl_strdup("Sorry, I could not verify those details. What is your policy number?");
    it->verified = pl_strdup("Thank you, you are verified. How can I help?");
    it->reason = pl_strdup("the caller asked for an agent");
    it->message = pl_strdup("I am transferring you to an agent now.");
}

static void intent_cleanup(struct lex_intent *it)
{
    char **fields[] = {&it->name,       &it->policy_slot, &it->check_slot, &it->check_field,
                       &it->ask_policy, &it->ask_check,   &it->failed,     &it->verified,
                       &it->reason,     &it->message};
    for (size_t i = 0; i < PL_ARRAY_LEN(fields); i++) {
        pl_free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* A string member: 1..LEX_INTENT_TEXT_MAX bytes with no control character. */
static int set_text(char **dst, json_t *v, const char *where, const char *key, char *err,
                    size_t errlen)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    bool ok = s && n > 0 && n <= LEX_INTENT_TEXT_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok) {
        snprintf(err, errlen,
                 "%s: \"%s\" must be a string of 1 to %d characters without control characters",
                 where, key, LEX_INTENT_TEXT_MAX);
        return PL_EINVAL;
    }
    pl_free(*dst);
    *dst = pl_strdup(s);
    return PL_OK;
}

static int parse_intent(json_t *obj, const char *where, struct lex_intent *it, char *err,
                        size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s must be an object", where);
        return PL_EINVAL;
    }
    json_t *action = json_object_get(obj, "action");
    if (!json_is_string(action)) {
        snprintf(err, errlen,
                 "%s: \"action\" must be one of answer, verify_policy, escalate, "
                 "delegate",
                 where);
        return PL_EINVAL;
    }
    size_t a = 0;
    while (a < PL_ARRAY_LEN(action_names) && strcmp(action_names[a], json_string_value(action)))
        a++;
    if (a == PL_ARRAY_LEN(action_names)) {
        snprintf(err, errlen,
                 "%s: unknown action \"%.40s\" (answer, verify_policy, escalate or delegate)",
                 where, json_string_value(action));
        return PL_EINVAL;
    }
    it->action = (enum lex_intent_action)a;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int rc = PL_OK;
        if (!strcmp(key, "action")) {
            continue;
        } else if (!strcmp(key, "then") && it->action == LEX_INTENT_ANSWER) {
            const char *t = json_string_value(v);
            if (t && !strcmp(t, "close")) {
                it->then = LEX_THEN_CLOSE;
            } else if (t && !strcmp(t, "elicit_intent")) {
                it->then = LEX_THEN_ELICIT_INTENT;
            } else {
                snprintf(err, errlen, "%s: \"then\" must be close or elicit_intent", where);
                return PL_EINVAL;
            }
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "policy_slot")) {
            rc = set_text(&it->policy_slot, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "check_slot")) {
            rc = set_text(&it->check_slot, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "check_field")) {
            rc = set_text(&it->check_field, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "ask_policy")) {
            rc = set_text(&it->ask_policy, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "ask_check")) {
            rc = set_text(&it->ask_check, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "failed")) {
            rc = set_text(&it->failed, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_VERIFY_POLICY && !strcmp(key, "verified")) {
            rc = set_text(&it->verified, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_ESCALATE && !strcmp(key, "reason")) {
            rc = set_text(&it->reason, v, where, key, err, errlen);
        } else if (it->action == LEX_INTENT_ESCALATE && !strcmp(key, "message")) {
            rc = set_text(&it->message, v, where, key, err, errlen);
        } else {
            snprintf(err, errlen, "%s: \"%.40s\" is not a setting of action %s", where, key,
                     action_names[it->action]);
            return PL_EINVAL;
        }
        if (rc)
            return rc;
    }
    return PL_OK;
}

static bool intent_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > LEX_INTENT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return false;
    return true;
}

int lex_intents_parse(const char *json, size_t len, struct lex_intents *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof(*out));
    intent_defaults(&out->fallback);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = PL_OK;
    if (!root) {
        snprintf(err, errlen, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        rc = PL_EINVAL;
        goto done;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the intents file must be a JSON object");
        rc = PL_EINVAL;
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "default") != 0 && strcmp(key, "intents") != 0) {
            snprintf(err, errlen,
                     "unknown key \"%.40s\" (the file has \"default\" and "
                     "\"intents\")",
                     key);
            rc = PL_EINVAL;
            goto done;
        }
    }
    json_t *def = json_object_get(root, "default");
    if (def && (rc = parse_intent(def, "default", &out->fallback, err, errlen)))
        goto done;
    if (def && out->fallback.action != LEX_INTENT_ANSWER &&
        out->fallback.action != LEX_INTENT_DELEGATE) {
        snprintf(err, errlen, "default: the action must be answer or delegate");
        rc = PL_EINVAL;
        goto done;
    }
    json_t *intents = json_object_get(root, "intents");
    if (!intents)
        goto done;
    if (!json_is_object(intents)) {
        snprintf(err, errlen, "\"intents\" must be an object of intent names");
        rc = PL_EINVAL;
        goto done;
    }
    if (json_object_size(intents) > LEX_INTENTS_MAX) {
        snprintf(err, errlen, "\"intents\" names more than %d intents", LEX_INTENTS_MAX);
        rc = PL_EINVAL;
        goto done;
    }
    out->intents = pl_calloc(json_object_size(intents) + 1, sizeof(*out->intents));
    json_object_foreach(intents, key, v)
    {
        char where[LEX_INTENT_NAME_MAX + 24];
        if (!intent_name_ok(key, strlen(key))) {
            snprintf(err, errlen,
                     "intents: \"%.40s\" is not an intent name (1 to %d of A-Z a-z 0-9 _ -)", key,
                     LEX_INTENT_NAME_MAX);
            rc = PL_EINVAL;
            goto done;
        }
        snprintf(where, sizeof(where), "intents.%s", key);
        struct lex_intent *it = &out->intents[out->n++];
        intent_defaults(it);
        it->name = pl_strdup(key);
        if ((rc = parse_intent(v, where, it, err, errlen)))
            goto done;
    }
done:
    json_decref(root);
    if (rc)
        lex_intents_cleanup(out);
    return rc;
}

int lex_intents_load(const char *path, struct lex_intents *out, char *err, size_t errlen)
{
    if (!path || !*path)
        return lex_intents_parse("{}", 2, out, err, errlen);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--lex-intents %s: cannot be read", path);
        return PL_EINVAL;
    }
    char *buf = pl_malloc(LEX_INTENTS_FILE_MAX + 1);
    size_t n = fread(buf, 1, LEX_INTENTS_FILE_MAX + 1, f);
    fclose(f);
    int rc;
    if (n > LEX_INTENTS_FILE_MAX) {
        snprintf(err, errlen, "--lex-intents %s: larger than %d bytes", path, LEX_INTENTS_FILE_MAX);
        rc = PL_EINVAL;
    } else {
        char why[240];
        rc = lex_intents_parse(buf, n, out, why, sizeof(why));
        if (rc)
            snprintf(err, errlen, "--lex-intents %s: %s", path, why);
    }
    pl_free(buf);
    return rc;
}

void lex_intents_cleanup(struct lex_intents *in)
{
    if (!in)
        return;
    intent_cleanup(&in->fallback);
    for (size_t i = 0; i < in->n; i++)
        intent_cleanup(&in->intents[i]);
    pl_free(in->intents);
    memset(in, 0, sizeof(*in));
}

const struct lex_intent *lex_intents_find(const struct lex_intents *in, const char *name)
{
    for (size_t i = 0; name && i < in->n; i++)
        if (!strcmp(in->intents[i].name, name))
            return &in->intents[i];
    return &in->fallback;
}

enum lex_verify_step lex_verify_step(const char *policy, const char *check)
{
    if (!policy || !*policy)
        return LEX_VERIFY_ASK_POLICY;
    if (!check || !*check)
        return LEX_VERIFY_ASK_CHECK;
    return LEX_VERIFY_LOOK_UP;
}

/* `s` reduced to its letters and digits, lower case, into out (cap bytes with the NUL). */
static size_t squeeze(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        if (isalnum((unsigned char)s[i]))
            out[n++] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return n;
}

bool lex_verify_matches(const char *record, size_t len, const char *field, const char *given)
{
    if (!record || !field || !given)
        return false;
    json_t *root = json_loadb(record, len, 0, NULL);
    /* A dotted path walks nested objects: "holder.postcode". */
    json_t *v = root;
    for (const char *p = field; v && *p;) {
        size_t n = strcspn(p, ".");
        char key[LEX_INTENT_TEXT_MAX + 1];
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    char have[256], want[256];
    bool match = false;
    if (json_is_string(v) || json_is_integer(v)) {
        char num[32];
        const char *s = num;
        size_t n;
        if (json_is_string(v)) {
            s = json_string_value(v);
            n = json_string_length(v);
        } else {
            n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        }
        size_t a = squeeze(s, n, have, sizeof(have));
        size_t b = squeeze(given, strlen(given), want, sizeof(want));
        /* Cut values could falsely match: anything that long is no second factor. */
        match = a > 0 && a == b && a < sizeof(have) - 1 && !strcmp(have, want);
    }
    json_decref(root);
    return match;
}
