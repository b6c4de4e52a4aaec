/* Unit tests of claim extraction's I/O-free parts: the checker against
 * prompts/claim_schema.json (read from the tree), the reader of a model's answer in each form it
 * accepts, and the offline extractor with exact JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "prompts/claim.h"
#include "prompts/claim_local.h"

/* ---- the checker agrees with the schema file ---- */

static unsigned schema_types(json_t *t)
{
    unsigned out = 0;
    json_t *one = json_is_array(t) ? NULL : t;
    size_t n = json_is_array(t) ? json_array_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(one ? one : json_array_get(t, i));
        assert_non_null(s);
        if (!strcmp(s, "string"))
            out |= CLAIM_STRING;
        else if (!strcmp(s, "null"))
            out |= CLAIM_NULL;
        else if (!strcmp(s, "number"))
            out |= CLAIM_NUMBER;
        else
            fail_msg("schema type %s unknown to the checker", s);
    }
    return out;
}

static void checker_matches_schema_file(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *schema = json_load_file(PARLEY_SOURCE_DIR "/prompts/claim_schema.json", 0, &jerr);
    if (!schema)
        fail_msg("prompts/claim_schema.json: %s (line %d)", jerr.text, jerr.line);
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    assert_true(json_is_true(json_object_get(schema, "additionalProperties")));
    json_t *props = json_object_get(schema, "properties");
    json_t *required = json_object_get(schema, "required");
    size_t n;
    const struct claim_field *f = claim_fields(&n);
    assert_int_equal(json_object_size(props), n);
    size_t n_required = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_object_get(props, f[i].name);
        if (!p)
            fail_msg("the checker knows %s, the schema does not", f[i].name);
        assert_int_equal(schema_types(json_object_get(p, "type")), f[i].types);
        json_t *max = json_object_get(p, "maxLength");
        assert_int_equal(max ? (size_t)json_integer_value(max) : 0, f[i].max_chars);
        json_t *fmt = json_object_get(p, "format");
        assert_int_equal(fmt && !strcmp(json_string_value(fmt), "date"), f[i].date);
        json_t *min = json_object_get(p, "minimum");
        assert_int_equal(min != NULL, f[i].min_zero);
        if (min)
            assert_true(json_number_value(min) == 0);
        bool req = false;
        for (size_t k = 0; k < json_array_size(required); k++)
            req |= !strcmp(json_string_value(json_array_get(required, k)), f[i].name);
        assert_int_equal(req, f[i].required);
        n_required += req;
    }
    assert_int_equal(json_array_size(required), n_required);
    json_decref(schema);
}

static const char valid[] = "{\"name\":\"John Doe\",\"policy_number\":\"12345\",\"damage_type\":"
                            "\"Vehicle accident - front bumper\",\"incident_date\":\"2024-03-14\","
                            "\"summary\":\"Rear-ended at a light.\"}";

static void expect_invalid(const char *text, const char *want_err)
{
    json_t *out = (json_t *)1;
    char err[200] = "";
    assert_int_equal(claim_parse(text, strlen(text), &out, err, sizeof(err)), PL_EINVAL);
    assert_null(out);
    assert_string_equal(err, want_err);
}

static void validator_cases(void **state)
{
    (void)state;
    char err[200];
    json_t *j = json_loads(valid, 0, NULL);
    assert_int_equal(claim_validate(j, err, sizeof(err)), PL_OK);
    json_object_set_new(j, "incident_date", json_null());
    json_object_set_new(j, "anything_else", json_pack("[i]", 1)); /* additionalProperties */
    assert_int_equal(claim_validate(j, err, sizeof(err)), PL_OK);
    json_object_set_new(j, "estimated_amount", json_real(1200.5));
    json_object_set_new(j, "location", json_string("Leeds"));
    assert_int_equal(claim_validate(j, err, sizeof(err)), PL_OK);
    json_decref(j);

    expect_invalid("{\"policy_number\":\"1\",\"damage_type\":\"x\",\"incident_date\":null,"
                   "\"summary\":\"s\"}",
                   "name: missing (required: name, policy_number, damage_type, incident_date, "
                   "summary)");
    expect_invalid("{\"name\":1,\"policy_number\":\"1\",\"damage_type\":\"x\",\"incident_date\":"
                   "null,\"summary\":\"s\"}",
                   "name: must be a string");
    expect_invalid("{\"name\":\"a\",\"policy_number\":\"1\",\"damage_type\":\"x\","
                   "\"incident_date\":\"14/03/2024\",\"summary\":\"s\"}",
                   "incident_date: must be YYYY-MM-DD (a real date) or null");
    expect_invalid("{\"name\":\"a\",\"policy_number\":\"1\",\"damage_type\":\"x\","
                   "\"incident_date\":\"2023-02-29\",\"summary\":\"s\"}",
                   "incident_date: must be YYYY-MM-DD (a real date) or null");
    expect_invalid("{\"name\":\"a\",\"policy_number\":\"1\",\"damage_type\":\"x\","
                   "\"incident_date\":5,\"summary\":\"s\"}",
                   "incident_date: must be YYYY-MM-DD or null");
    expect_invalid("{\"name\":\"a\",\"policy_number\":\"1\",\"damage_type\":\"x\","
                   "\"incident_date\":null,\"summary\":\"s\",\"estimated_amount\":-3}",
                   "estimated_amount: must not be negative");
    char longer[400];
    snprintf(longer, sizeof(longer),
             "{\"name\":\"a\",\"policy_number\":\"%065d\",\"damage_type\":\"x\","
             "\"incident_date\":null,\"summary\":\"s\"}",
             0);
    expect_invalid(longer, "policy_number: longer than 64 characters");
    /* 64 characters of two bytes each fit: lengths count characters */
    char accents[600];
    int at = snprintf(accents, sizeof(accents), "{\"name\":\"a\",\"policy_number\":\"");
    for (int i = 0; i < 64; i++)
        at += snprintf(accents + at, sizeof(accents) - (size_t)at, "\xc3\xa9");
    snprintf(accents + at, sizeof(accents) - (size_t)at,
             "\",\"damage_type\":\"x\",\"incident_date\":null,\"summary\":\"s\"}");
    json_t *out = NULL;
    assert_int_equal(claim_parse(accents, strlen(accents), &out, err, sizeof(err)), PL_OK);
    json_decref(out);
    assert_true(claim_date_valid("2024-02-29", 10));
    assert_false(claim_date_valid("1900-02-29", 10));
    assert_false(claim_date_valid("2024-13-01", 10));
}

/* ---- the reader of a model's answer ---- */

static void expect_parsed(const char *text)
{
    json_t *out = NULL;
    char err[200] = "";
    int rc = claim_parse(text, strlen(text), &out, err, sizeof(err));
    if (rc != PL_OK)
        fail_msg("%s: %s", text, err);
    char *dump = claim_dump(out);
    assert_string_equal(dump, valid);
    pl_free(dump);
    json_decref(out);
}

static void parser_forms(void **state)
{
    (void)state;
    char text[1024];
    expect_parsed(valid);
    snprintf(text, sizeof(text), "```json\n%s\n```\n", valid);
    expect_parsed(text);
    snprintf(text, sizeof(text), "Here is the claim {as asked}:\n\n%s\n\nLet me know.", valid);
    expect_parsed(text);
    /* keys in another order come back in the schema's */
    expect_parsed("{\"summary\":\"Rear-ended at a light.\",\"incident_date\":\"2024-03-14\","
                  "\"damage_type\":\"Vehicle accident - front bumper\",\"policy_number\":"
                  "\"12345\",\"name\":\"John Doe\"}");
    /* braces inside strings do not end the object */
    json_t *out = NULL;
    char err[200];
    const char *braces = "{\"name\":\"J } {\",\"policy_number\":\"1\",\"damage_type\":\"x\","
                         "\"incident_date\":null,\"summary\":\"a \\\" } b\"}";
    assert_int_equal(claim_parse(braces, strlen(braces), &out, err, sizeof(err)), PL_OK);
    assert_string_equal(json_string_value(json_object_get(out, "summary")), "a \" } b");
    json_decref(out);

    expect_invalid("I could not find a policy number.", "no JSON object in the answer");
    expect_invalid("{\"name\": \"John\"", "the JSON object is not closed");
    expect_invalid("{name: 1}", "not valid JSON: string or '}' expected near 'name'");
    expect_invalid("[1,2]", "no JSON object in the answer");
    expect_invalid("{\"name\":\"a\",\"name\":\"b\"}",
                   "not valid JSON: duplicate object key near '\"name\"'");
}

/* ---- the offline extractor ---- */

static void expect_local(const char *text, const char *want)
{
    json_t *j = claim_local_extract(text, strlen(text));
    char err[200];
    assert_int_equal(claim_validate(j, err, sizeof(err)), PL_OK);
    char *dump = claim_dump(j);
    assert_string_equal(dump, want);
    pl_free(dump);
    json_decref(j);
}

static void local_extractor_examples(void **state)
{
    (void)state;
    expect_local("Policy #12345 / Customer: John Doe / Claim: Vehicle accident, front bumper "
                 "damage",
                 "{\"name\":\"John Doe\",\"policy_number\":\"12345\",\"damage_type\":\"Vehicle "
                 "accident - front bumper\",\"incident_date\":null,\"summary\":\"Vehicle "
                 "accident, front bumper damage\"}");
    expect_local("Policy number: POL-2291\nName: Ana Pereira\nIncident date: 14 March 2024\n"
                 "Damage: Water damage; burst pipe in the kitchen. The floor is ruined.\n"
                 "Water reached the hallway too.",
                 "{\"name\":\"Ana Pereira\",\"policy_number\":\"POL-2291\",\"damage_type\":"
                 "\"Water damage - burst pipe in the kitchen\",\"incident_date\":\"2024-03-14\","
                 "\"summary\":\"Water damage; burst pipe in the kitchen. The floor is ruined. "
                 "Water reached the hallway too.\"}");
    expect_local("policy no. 88-17\r\ncustomer name:   Li  Wei\r\ndate: 03/04/2024\r\n"
                 "Claim: Hail dented the roof",
                 "{\"name\":\"Li Wei\",\"policy_number\":\"88-17\",\"damage_type\":\"Hail dented "
                 "the roof\",\"incident_date\":\"2024-03-04\",\"summary\":\"Hail dented the "
                 "roof\"}");
    expect_local("Hello, my bike was stolen outside the station.",
                 "{\"name\":\"\",\"policy_number\":\"\",\"damage_type\":\"Hello - my bike was "
                 "stolen outside the station\",\"incident_date\":null,\"summary\":\"Hello, my "
                 "bike was stolen outside the station.\"}");
    expect_local("", "{\"name\":\"\",\"policy_number\":\"\",\"damage_type\":\"\",\"incident_date\":"
                     "null,\"summary\":\"\"}");
    expect_local("Name: \xff\x01"
                 "Bad\n",
                 "{\"name\":\"? Bad\",\"policy_number\":\"\",\"damage_type\":\"\","
                 "\"incident_date\":null,\"summary\":\"\"}");
}

static void expect_date(const char *in, const char *want)
{
    char out[11] = "";
    bool ok = claim_local_date(in, strlen(in), out);
    if (!want) {
        if (ok)
            fail_msg("%s gave %s", in, out);
        return;
    }
    if (!ok)
        fail_msg("%s: no date", in);
    assert_string_equal(out, want);
}

static void local_dates(void **state)
{
    (void)state;
    expect_date("2024-03-14", "2024-03-14");
    expect_date("2024/3/4", "2024-03-04");
    expect_date("14.03.2024", "2024-03-14");
    expect_date("14-03-2024", "2024-03-14");
    expect_date("03/14/2024", "2024-03-14");
    expect_date("14/03/2024", "2024-03-14");
    expect_date("March 14, 2024", "2024-03-14");
    expect_date("Mar 14 2024", "2024-03-14");
    expect_date("14th March 2024 around 5pm", "2024-03-14");
    expect_date("1st Sept 2023", "2023-09-01");
    expect_date("2023-02-29", NULL);
    expect_date("yesterday", NULL);
    expect_date("14/03/24", NULL);
    expect_date("", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checker_matches_schema_file),
        cmocka_unit_test(validator_cases),
        cmocka_unit_test(parser_forms),
        cmocka_unit_test(local_extractor_examples),
        cmocka_unit_test(local_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
