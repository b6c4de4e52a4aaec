/* A claim extracted from a customer's text (docs/claims.md): the fields of
 * prompts/claim_schema.json, a checker for exactly that schema, and the reader of a model's
 * answer (a bare JSON object, one in a ```json fence, or one amid prose). I/O-free. */
#ifndef PARLEY_PROMPTS_CLAIM_H
#define PARLEY_PROMPTS_CLAIM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* JSON types a field may hold (a set). */
enum claim_type { CLAIM_STRING = 1, CLAIM_NULL = 2, CLAIM_NUMBER = 4 };

/* One property of the schema, as the checker applies it. */
struct claim_field {
    const char *name;
    unsigned types; /* enum claim_type bits */
    bool required;
    size_t max_chars; /* strings: maxLength in code points (0: none) */
    bool date;        /* strings: format "date", YYYY-MM-DD and a real calendar day */
    bool min_zero;    /* numbers: minimum 0 */
};

/** The schema's properties in order (required ones first); `*n` gets their count. Other keys
 *  are allowed (additionalProperties: true). */
const struct claim_field *claim_fields(size_t *n);

/** "YYYY-MM-DD" naming a real day (years 1000-9999, leap years counted). */
bool claim_date_valid(const char *s, size_t len);

/** PL_OK when `claim` is valid per the schema; else PL_EINVAL with one line naming the first
 *  field at fault in `err` ("incident_date: must be YYYY-MM-DD or null"). */
int claim_validate(const json_t *claim, char *err, size_t errlen);

/** Read a model's answer: the first balanced top-level {...} of `text` that parses as a JSON
 *  object (so a fence or prose around it is ignored), then claim_validate. PL_OK with a new
 *  reference in `*out`, or PL_EINVAL with why in `err` (no object, bad JSON, a field). */
int claim_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);

/** The claim's fields in schema order, then its other keys: the compact JSON every answer
 *  uses. New string (pl_free). */
char *claim_dump(const json_t *claim);

#endif
