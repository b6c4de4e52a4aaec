/* The credentials endpoints' JSON replies and RFC 3339 times (aws_credentials_json.h). */
#include "connectors/aws_credentials_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* `n` decimal digits at s[*i], advancing *i; false if any is not a digit. */
static bool digits(const char *s, size_t len, size_t *i, int n, int64_t *out)
{
    int64_t v = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

int pl_rfc3339_parse(const char *s, size_t len, int64_t *out_ms)
{
    size_t i = 0;
    int64_t y, mo, d, h, mi, sec, ms = 0;
    if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
        !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d))
        return PL_EINVAL;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return PL_EINVAL;
    i++;
    if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
        !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &sec))
        return PL_EINVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return PL_EINVAL;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 3)
                ms = ms * 10 + (s[i] - '0');
        if (i == start)
            return PL_EINVAL;
        for (size_t n = i - start; n < 3; n++)
            ms *= 10;
    }
    int64_t offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        int64_t oh, om;
        if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
            !digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
            return PL_EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return PL_EINVAL;
    }
    if (i != len)
        return PL_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out_ms = secs * 1000 + ms;
    return PL_OK;
}

void pl_rfc3339_format(int64_t ms, char out[PL_RFC3339_MAX])
{
    /* Clamped to the years pl_rfc3339_parse reads, so every field has its width. */
    const int64_t lo = days_from_civil(1, 1, 1) * 86400000;
    const int64_t hi = days_from_civil(9999, 12, 31) * 86400000 + 86399999;
    ms = ms < lo ? lo : ms > hi ? hi : ms;
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int rem = (int)(secs - days * 86400);
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, PL_RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d,
                     rem / 3600, rem / 60 % 60, rem % 60);
    if (n < 0 || n >= PL_RFC3339_MAX)
        out[0] = '\0'; /* cannot happen within the clamp */
}

static void clear(struct pl_aws_creds_reply *out)
{
    out->access_key_id[0] = '\0';
    out->secret_access_key[0] = '\0';
    out->session_token[0] = '\0';
    out->expiration_ms = -1;
    out->error = NULL;
}

static int fail(struct pl_aws_creds_reply *out, int rc, const char *why)
{
    clear(out);
    out->error = why;
    return rc;
}

/* Copy string member `name` into dst (max bytes); 1 when absent (or null, if optional), PL_OK,
 * or a failure code. */
static int take(json_t *obj, const char *name, char *dst, size_t max, bool required,
                const char **why)
{
    json_t *v = json_object_get(obj, name);
    if (!v || (json_is_null(v) && !required)) {
        *why = "a required key is missing";
        return required ? PL_EPROTO : 1;
    }
    if (!json_is_string(v)) {
        *why = "a key is not a string";
        return PL_EPROTO;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 && required) {
        *why = "a required key is empty";
        return PL_EPROTO;
    }
    if (n > max) {
        *why = "a value is too long";
        return PL_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "a value has a control character";
            return PL_EPROTO;
        }
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return PL_OK;
}

int pl_aws_creds_reply_parse(const char *body, size_t len, struct pl_aws_creds_reply *out)
{
    clear(out);
    if (len > PL_AWS_CREDS_MAX_REPLY)
        return fail(out, PL_ETOOBIG, "reply too long");
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(out, PL_EPROTO, "reply is not a JSON object");
    }
    const char *why = NULL;
    int rc = PL_OK;
    json_t *code = json_object_get(root, "Code");
    if (code && (!json_is_string(code) || strcmp(json_string_value(code), "Success") != 0)) {
        rc = PL_EPROTO;
        why = "Code is not Success";
    }
    if (!rc)
        rc = take(root, "AccessKeyId", out->access_key_id, PL_SIGV4_MAX_KEY, true, &why);
    if (!rc)
        rc = take(root, "SecretAccessKey", out->secret_access_key, PL_SIGV4_MAX_KEY, true, &why);
    if (!rc) {
        rc = take(root, "Token", out->session_token, PL_SIGV4_MAX_TOKEN, false, &why);
        rc = rc == 1 ? PL_OK : rc;
    }
    if (!rc) {
        json_t *exp = json_object_get(root, "Expiration");
        if (exp && !json_is_null(exp) &&
            (!json_is_string(exp) ||
             pl_rfc3339_parse(json_string_value(exp), json_string_length(exp),
                              &out->expiration_ms) != PL_OK)) {
            rc = PL_EPROTO;
            why = "Expiration is not an RFC 3339 time";
        } else if (exp && !json_is_null(exp) && out->expiration_ms < 0) {
            out->expiration_ms = 0; /* long expired; -1 would mean "no Expiration" */
        }
    }
    json_decref(root);
    if (rc)
        return fail(out, rc, why);
    return PL_OK;
}
