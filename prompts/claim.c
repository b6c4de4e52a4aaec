/* The claim schema's checker and the reader of a model's answer; see claim.h. The table below
 * is prompts/claim_schema.json by hand: tests/unit/prompts/test_claim.c reads that file and
 * fails when they disagree. */
#include "prompts/claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"

static const struct claim_field fields[] = {
    {"name", CLAIM_STRING, true, 200, false, false},
    {"policy_number", CLAIM_STRING, true, 64, false, false},
    {"damage_type", CLAIM_STRING, true, 200, false, false},
    {"incident_date", CLAIM_STRING | CLAIM_NULL, true, 0, true, false},
    {"summary", CLAIM_STRING, true, 1000, false, false},
    {"location", CLAIM_STRING | CLAIM_NULL, false, 200, false, false},
    {"estimated_amount", CLAIM_NUMBER | CLAIM_NULL, false, 0, false, true},
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* Bounds the objects tried in one answer: each try parses the rest of the text. */
#define PARSE_TRIES_MAX 8

const struct claim_field *claim_fields(size_t *n)
{
    *n = N_FIELDS;
    return fields;
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool claim_date_valid(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1000 || m < 1 || m > 12 || d < 1)
        return false;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

static unsigned type_of(const json_t *v)
{
    if (json_is_string(v))
        return CLAIM_STRING;
    if (json_is_null(v))
        return CLAIM_NULL;
    if (json_is_number(v))
        return CLAIM_NUMBER;
    return 0;
}

static const char *types_text(unsigned t)
{
    switch (t) {
    case CLAIM_STRING:
        return "a string";
    case CLAIM_STRING | CLAIM_NULL:
        return "a string or null";
    case CLAIM_NUMBER | CLAIM_NULL:
        return "a number or null";
    default:
        return "a number";
    }
}

static int check_field(const struct claim_field *f, const json_t *v, char *err, size_t errlen)
{
    unsigned t = type_of(v);
    if (!(t & f->types)) {
        snprintf(err, errlen, "%s: must be %s", f->name,
                 f->date ? "YYYY-MM-DD or null" : types_text(f->types));
        return PL_EINVAL;
    }
    if (t == CLAIM_STRING) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (f->max_chars && pl_utf8_count(s, len) > f->max_chars) {
            snprintf(err, errlen, "%s: longer than %zu characters", f->name, f->max_chars);
            return PL_EINVAL;
        }
        if (f->date && !claim_date_valid(s, len)) {
            snprintf(err, errlen, "%s: must be YYYY-MM-DD (a real date) or null", f->name);
            return PL_EINVAL;
        }
    }
    if (t == CLAIM_NUMBER && f->min_zero && json_number_value(v) < 0) {
        snprintf(err, errlen, "%s: must not be negative", f->name);
        return PL_EINVAL;
    }
    return PL_OK;
}

int claim_validate(const json_t *claim, char *err, size_t errlen)
{
    if (!json_is_object(claim)) {
        snprintf(err, errlen, "the answer must be a JSON object");
        return PL_EINVAL;
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        const json_t *v = json_object_get(claim, fields[i].name);
        if (!v) {
            if (!fields[i].required)
                continue;
            snprintf(err, errlen,
                     "%s: missing (required: name, policy_number, damage_type, "
                     "incident_date, summary)",
                     fields[i].name);
            return PL_EINVAL;
        }
        if (check_field(&fields[i], v, err, errlen) != PL_OK)
            return PL_EINVAL;
    }
    return PL_OK;
}

/* Length of the balanced {...} starting at text[0] == '{' (strings and escapes skipped), or 0
 * when the text ends first. */
static size_t balanced_len(const char *text, size_t len)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{') {
            depth++;
        } else if (c == '}') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

int claim_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char first_err[160] = "";
    size_t at = 0;
    for (int tries = 0; tries < PARSE_TRIES_MAX; tries++) {
        const char *open = at < len ? memchr(text + at, '{', len - at) : NULL;
        if (!open)
            break;
        size_t start = (size_t)(open - text);
        size_t n = balanced_len(open, len - start);
        if (n == 0) {
            if (!first_err[0])
                snprintf(first_err, sizeof(first_err), "the JSON object is not closed");
            break;
        }
        json_error_t jerr;
        json_t *j = json_loadb(open, n, JSON_REJECT_DUPLICATES, &jerr);
        if (json_is_object(j)) {
            int rc = claim_validate(j, err, errlen);
            if (rc == PL_OK) {
                *out = j;
                return PL_OK;
            }
            json_decref(j);
            return rc;
        }
        json_decref(j);
        if (!first_err[0])
            snprintf(first_err, sizeof(first_err), "not valid JSON: %.100s", jerr.text);
        at = start + 1; /* a brace in prose: try the next one */
    }
    snprintf(err, errlen, "%s", first_err[0] ? first_err : "no JSON object in the answer");
    return PL_EINVAL;
}

char *claim_dump(const json_t *claim)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        json_t *v = json_object_get(claim, fields[i].name);
        if (v)
            json_object_set(o, fields[i].name, v);
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)claim, key, v)
    {
        if (!json_object_get(o, key))
            json_object_set(o, key, v);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = pl_strdup(s ? s : "{}");
    free(s);
    return copy;
}
