/* The offline claim extractor (docs/claims.md "The local extractor"): labelled fields found by
 * pattern, for the `local` provider, where no model reads the text. I/O-free. */
#ifndef PARLEY_PROMPTS_CLAIM_LOCAL_H
#define PARLEY_PROMPTS_CLAIM_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/** A claim from `text` (any bytes; invalid UTF-8 becomes '?'): always a new object valid per
 *  claim_validate, "" (or null for the date) for what the text does not say. Lines, and parts
 *  of a line separated by " / " or " | ", are read one by one:
 *   Policy #, Policy number:, Policy No.        -> policy_number (the first word after it)
 *   Customer:, Customer name:, Name:, Policyholder:, Insured:  -> name
 *   Claim:, Damage:, Description:               -> the claim text (and the unlabelled lines
 *                                                  that follow it)
 *   Date:, Incident date:, Date of incident:, Date of loss:    -> incident_date
 *  Without a claim label, the first unlabelled part is the claim text. damage_type is the claim
 *  text's first sentence: its first clause, then " - " and its second clause without a final
 *  "damage"/"damaged" ("Vehicle accident, front bumper damage" -> "Vehicle accident - front
 *  bumper"). summary is the claim text's first sentences (about 300 characters at most). */
json_t *claim_local_extract(const char *text, size_t len);

/** A date as people write it into "YYYY-MM-DD" (out[11]): 2024-03-14, 2024/03/14, 14.03.2024,
 *  14-03-2024 (day first), 03/14/2024 (month first unless the first number passes 12),
 *  March 14, 2024, Mar 14 2024, 14 March 2024, 14th March 2024. Anything after the year is
 *  ignored. False when it is none of these or not a real day. */
bool claim_local_date(const char *s, size_t len, char out[11]);

#endif
