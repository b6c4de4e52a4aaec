/* SigV4 verification for the AWS doubles; see sigv4_verify.h. */
#include "tests/fakes/sigv4_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "connectors/aws_sigv4.h"

static bool fail(struct sigv4_failure *f, enum sigv4_fail kind, const char *type, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static bool fail(struct sigv4_failure *f, enum sigv4_fail kind, const char *type, const char *fmt,
                 ...)
{
    f->kind = kind;
    f->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    return false;
}

#define INCOMPLETE "IncompleteSignatureException"
#define INVALID    "InvalidSignatureException"
#define UNKNOWN    "UnrecognizedClientException"

/* The value of `key=` in the header's comma-separated parameters, copied. */
static bool auth_param(const char *auth, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (const char *p = auth; (p = strstr(p, key)) != NULL; p += kl) {
        if (p[kl] != '=' || (p != auth && p[-1] != ' ' && p[-1] != ','))
            continue;
        const char *v = p + kl + 1, *e = v;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if ((size_t)(e - v) >= outlen)
            return false;
        memcpy(out, v, (size_t)(e - v));
        out[e - v] = '\0';
        return true;
    }
    return false;
}

static bool parse_amz_date(const char *s, time_t *out)
{
    struct tm tm = {0};
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return true;
}

bool sigv4_auth_parse(const char *authorization, struct sigv4_auth *a, struct sigv4_failure *f)
{
    memset(a, 0, sizeof(*a));
    if (!authorization)
        return fail(f, SIGV4_NO_AUTH, "MissingAuthenticationTokenException",
                    "Missing Authentication Token");
    if (strncmp(authorization, "AWS4-HMAC-SHA256 ", 17) != 0)
        return fail(f, SIGV4_NOT_SIGV4, INCOMPLETE,
                    "Authorization header must be AWS4-HMAC-SHA256");
    const char *params = authorization + 17;
    if (!auth_param(params, "Credential", a->credential, sizeof(a->credential)) ||
        !auth_param(params, "SignedHeaders", a->signed_headers, sizeof(a->signed_headers)) ||
        !auth_param(params, "Signature", a->signature, sizeof(a->signature)))
        return fail(f, SIGV4_MALFORMED, INCOMPLETE,
                    "Authorization header requires Credential, SignedHeaders and Signature");
    /* AKID/date/region/service/aws4_request */
    char *parts[5] = {0};
    int np = 0;
    for (char *p = a->credential; np < 5;) {
        parts[np++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    if (np != 5 || strcmp(parts[4], "aws4_request") != 0)
        return fail(f, SIGV4_BAD_SCOPE, INCOMPLETE, "malformed Credential scope");
    a->key_id = parts[0];
    a->date = parts[1];
    a->region = parts[2];
    a->service = parts[3];
    return true;
}

/* The body's SHA-256 in lower-case hex equals `hex`. */
static bool body_hash_is(const struct sigv4_verify_request *r, const char *hex)
{
    unsigned char md[32];
    unsigned mdlen = 0;
    char mine[65];
    EVP_Digest(r->body ? r->body : "", r->body_len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(mine + 2 * i, 3, "%02x", md[i]);
    return !strcmp(mine, hex);
}

bool sigv4_auth_check(const struct sigv4_verify_request *r, const struct sigv4_auth *a,
                      struct sigv4_failure *f)
{
    if (strcmp(a->key_id, r->access_key_id) != 0)
        return fail(f, SIGV4_UNKNOWN_KEY, UNKNOWN,
                    "The security token included in the request is invalid.");
    if (strcmp(a->service, r->service) != 0)
        return fail(f, SIGV4_WRONG_SERVICE, INVALID,
                    "Credential should be scoped to correct service: '%s'.", r->service);
    if (strcmp(a->region, r->region) != 0)
        return fail(f, SIGV4_WRONG_REGION, INVALID,
                    "Credential should be scoped to a valid region, not '%s'.", a->region);
    const char *amz_date = r->header(r->header_ud, "x-amz-date");
    time_t t;
    if (!parse_amz_date(amz_date, &t))
        return fail(f, SIGV4_BAD_DATE, INCOMPLETE, "x-amz-date missing or malformed");
    if (strncmp(amz_date, a->date, 8) != 0 || strlen(a->date) != 8)
        return fail(f, SIGV4_DATE_SCOPE, INVALID,
                    "Date in Credential scope does not match x-amz-date");
    time_t now = time(NULL);
    if (t < now - r->max_skew_s || t > now + r->max_skew_s)
        return fail(f, SIGV4_SKEWED, INVALID,
                    "Signature expired: %s is now earlier or later than %ld minutes", amz_date,
                    r->max_skew_s / 60);
    const char *sha = r->header(r->header_ud, "x-amz-content-sha256");
    if (r->s3 && !sha)
        return fail(f, SIGV4_NO_PAYLOAD_HASH, INCOMPLETE,
                    "Missing required header for this request: x-amz-content-sha256");

    /* The signed headers as received, without those the signer adds itself. */
    struct pl_sigv4_header hs[PL_SIGV4_MAX_HEADERS];
    size_t n = 0;
    bool sha_signed = false, token_signed = false, host_signed = false;
    char names[sizeof(a->signed_headers)];
    snprintf(names, sizeof(names), "%s", a->signed_headers);
    for (char *name = names; name && *name;) {
        char *semi = strchr(name, ';');
        if (semi)
            *semi = '\0';
        const char *v = r->header(r->header_ud, name);
        if (!v)
            return fail(f, SIGV4_UNSIGNED_HEADER, INVALID,
                        "signed header %.64s is not in the request", name);
        if (!strcmp(name, "x-amz-content-sha256"))
            sha_signed = true;
        else if (!strcmp(name, "x-amz-security-token"))
            token_signed = true;
        else if (strcmp(name, "x-amz-date") != 0 && n < PL_SIGV4_MAX_HEADERS)
            hs[n++] = (struct pl_sigv4_header){name, v};
        host_signed |= !strcmp(name, "host");
        name = semi ? semi + 1 : NULL;
    }
    const char *token = r->header(r->header_ud, "x-amz-security-token");
    if (!host_signed || (r->s3 && !sha_signed) || (token && !token_signed))
        return fail(f, SIGV4_UNSIGNED_HEADER, INVALID,
                    "host%s and any x-amz-security-token must be signed",
                    r->s3 ? ", x-amz-content-sha256" : "");
    if (r->session_token && (!token || strcmp(token, r->session_token) != 0))
        return fail(f, SIGV4_BAD_TOKEN, UNKNOWN,
                    "The security token included in the request is invalid.");

    struct pl_sigv4_request req = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .headers = hs,
        .n_headers = n,
        .payload = r->body,
        .payload_len = r->body_len,
        .payload_sha256 = r->s3 ? sha : NULL,
        .region = r->region,
        .service = r->service,
        .time = t,
        .flags = (r->s3 ? PL_SIGV4_S3_PATH : 0) | (sha_signed ? PL_SIGV4_CONTENT_SHA256 : 0),
    };
    struct pl_sigv4_creds creds = {r->access_key_id, r->secret_access_key, token};
    struct pl_sigv4_result res;
    int rc = pl_sigv4_sign(&req, &creds, &res);
    bool ok = false;
    if (rc != PL_OK)
        fail(f, SIGV4_MISMATCH, INVALID, "request cannot be signed (error %d)", rc);
    else if (strcmp(res.signed_headers.data, a->signed_headers) != 0)
        fail(f, SIGV4_MISMATCH, INVALID, "SignedHeaders %.120s, expected %.120s", a->signed_headers,
             res.signed_headers.data);
    else if (strcmp(res.signature, a->signature) != 0)
        fail(f, SIGV4_MISMATCH, INVALID,
             "The request signature we calculated does not match the signature you "
             "provided. Check your AWS Secret Access Key and signing method.");
    else
        ok = true;
    pl_sigv4_result_cleanup(&res);
    if (!ok)
        return false;
    if (r->s3 && strcmp(sha, "UNSIGNED-PAYLOAD") != 0 && !body_hash_is(r, sha))
        return fail(f, SIGV4_PAYLOAD_HASH, INVALID,
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.");
    f->kind = SIGV4_OK;
    return true;
}

bool sigv4_verify(const struct sigv4_verify_request *r, struct sigv4_failure *f)
{
    struct sigv4_auth a;
    return sigv4_auth_parse(r->header(r->header_ud, "authorization"), &a, f) &&
           sigv4_auth_check(r, &a, f);
}
