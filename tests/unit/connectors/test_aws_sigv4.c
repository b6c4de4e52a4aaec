/* SigV4 signing against every case of the published AWS test suite (tests/data/sigv4: request,
 * context, expected canonical request, string to sign and signature), a Bedrock request with a
 * model id in the path, and the bounds and refusals of the canonicalisation steps. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_sigv4.h"

#define SUITE_DIR PARLEY_TEST_DATA "/sigv4"

static const struct pl_sigv4_creds example_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
static const time_t example_time = 1440938160; /* 2015-08-30T12:36:00Z */

static char *read_file(const char *dir, const char *name, size_t *len_out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    pl_buf_append(&b, "", 0);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(pl_buf_append(&b, chunk, n), PL_OK);
    fclose(f);
    if (len_out)
        *len_out = b.len;
    return pl_buf_take(&b);
}

/* One suite case, parsed from request.txt and context.json. */
struct suite_case {
    char *raw; /* request.txt, cut in place */
    char method[32];
    const char *path, *query;
    struct pl_sigv4_header headers[PL_SIGV4_MAX_HEADERS];
    struct pl_buf values[PL_SIGV4_MAX_HEADERS]; /* continuation lines joined */
    size_t n_headers;
    const char *body;
    size_t body_len;
    struct pl_buf wire_path;
};

static void parse_request(struct suite_case *c, const char *dir)
{
    size_t len;
    c->raw = read_file(dir, "request.txt", &len);
    char *line_end = strchr(c->raw, '\n');
    assert_non_null(line_end);
    *line_end = '\0';
    char *sp = strchr(c->raw, ' ');
    char *version = strstr(c->raw, " HTTP/1.1");
    assert_true(sp && version && sp < version);
    snprintf(c->method, sizeof c->method, "%.*s", (int)(sp - c->raw), c->raw);
    *version = '\0';
    c->path = sp + 1;
    char *q = strchr(sp + 1, '?');
    c->query = "";
    if (q) {
        *q = '\0';
        c->query = q + 1;
    }
    char *p = line_end + 1;
    c->body = "";
    while (*p) {
        char *eol = strchr(p, '\n');
        if (p[0] == '\n') { /* blank line: the body follows */
            c->body = p + 1;
            break;
        }
        if (eol)
            *eol = '\0';
        if (p[0] == ' ' || p[0] == '\t') { /* a continuation of the previous value */
            assert_true(c->n_headers > 0);
            pl_buf_append(&c->values[c->n_headers - 1], " ", 1);
            pl_buf_append_str(&c->values[c->n_headers - 1], p);
        } else {
            char *colon = strchr(p, ':');
            assert_non_null(colon);
            *colon = '\0';
            assert_true(c->n_headers < PL_SIGV4_MAX_HEADERS);
            c->headers[c->n_headers].name = p;
            pl_buf_init(&c->values[c->n_headers], 1 << 16);
            pl_buf_append_str(&c->values[c->n_headers], colon + 1);
            c->n_headers++;
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    c->body_len = strlen(c->body);
    for (size_t i = 0; i < c->n_headers; i++)
        c->headers[i].value = c->values[i].data;
}

static void free_case(struct suite_case *c)
{
    for (size_t i = 0; i < c->n_headers; i++)
        pl_buf_cleanup(&c->values[i]);
    pl_buf_cleanup(&c->wire_path);
    pl_free(c->raw);
}

static const char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static void run_case(const char *dir, const char *name)
{
    struct suite_case c;
    memset(&c, 0, sizeof c);
    pl_buf_init(&c.wire_path, 1 << 16);
    parse_request(&c, dir);

    char *ctx_text = read_file(dir, "context.json", NULL);
    json_error_t jerr;
    json_t *ctx = json_loads(ctx_text, 0, &jerr);
    assert_non_null(ctx);
    json_t *cj = json_object_get(ctx, "credentials");
    const char *token = json_string_value(json_object_get(cj, "token"));
    if (json_is_true(json_object_get(ctx, "omit_session_token")))
        token = NULL; /* added after signing: not part of the signature */
    struct pl_sigv4_creds creds = {json_str(cj, "access_key_id"), json_str(cj, "secret_access_key"),
                                   token};
    struct tm tm = {0};
    assert_int_equal(sscanf(json_str(ctx, "timestamp"), "%d-%d-%dT%d:%d:%dZ", &tm.tm_year,
                            &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    unsigned flags = 0;
    if (json_is_true(json_object_get(ctx, "sign_body")))
        flags |= PL_SIGV4_CONTENT_SHA256;
    const char *path = c.path;
    if (json_is_false(json_object_get(ctx, "normalize"))) {
        /* S3's rule: the path as sent (the suite's raw path, encoded once) is signed as is. */
        flags |= PL_SIGV4_S3_PATH;
        assert_int_equal(pl_sigv4_uri_encode(&c.wire_path, c.path, strlen(c.path), true), PL_OK);
        path = c.wire_path.data;
    }
    struct pl_sigv4_request req = {
        .method = c.method,
        .path = path,
        .query = c.query,
        .headers = c.headers,
        .n_headers = c.n_headers,
        .payload = c.body,
        .payload_len = c.body_len,
        .region = json_str(ctx, "region"),
        .service = json_str(ctx, "service"),
        .time = timegm(&tm),
        .flags = flags,
    };
    struct pl_sigv4_result out;
    int rc = pl_sigv4_sign(&req, &creds, &out);
    if (rc != PL_OK)
        fail_msg("%s: %s", name, pl_strerror(rc));

    char *creq = read_file(dir, "header-canonical-request.txt", NULL);
    char *sts = read_file(dir, "header-string-to-sign.txt", NULL);
    char *sig = read_file(dir, "header-signature.txt", NULL);
    if (strcmp(out.canonical_request.data, creq) != 0)
        fail_msg("%s: canonical request\n%s\n--- expected\n%s", name, out.canonical_request.data,
                 creq);
    assert_string_equal(out.string_to_sign.data, sts);
    assert_string_equal(out.signature, sig);

    char expect_auth[1024];
    snprintf(expect_auth, sizeof expect_auth,
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
             "SignedHeaders=%s, Signature=%s",
             out.signed_headers.data, sig);
    assert_string_equal(out.headers[out.n_headers - 1].name, "authorization");
    assert_string_equal(out.headers[out.n_headers - 1].value, expect_auth);
    assert_string_equal(out.headers[0].name, "x-amz-date");
    assert_string_equal(out.headers[0].value, "20150830T123600Z");

    pl_sigv4_result_cleanup(&out);
    pl_free(creq);
    pl_free(sts);
    pl_free(sig);
    json_decref(ctx);
    pl_free(ctx_text);
    free_case(&c);
}

static void test_suite(void **state)
{
    (void)state;
    DIR *d = opendir(SUITE_DIR);
    assert_non_null(d);
    size_t cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", SUITE_DIR, e->d_name);
        run_case(dir, e->d_name);
        cases++;
    }
    closedir(d);
    assert_int_equal(cases, 38);
}

/* PROTOCOLS.md section 3: a Bedrock request whose model id holds ':' (sent as %3A, signed as
 * %253A); two independent signers agree on this signature. */
static void test_bedrock_vector(void **state)
{
    (void)state;
    const char *body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct pl_buf path;
    pl_buf_init(&path, 4096);
    pl_buf_append_str(&path, "/model/");
    const char *model = "anthropic.claude-3-haiku-20240307-v1:0";
    assert_int_equal(pl_sigv4_uri_encode(&path, model, strlen(model), false), PL_OK);
    pl_buf_append_str(&path, "/invoke-with-response-stream");
    assert_string_equal(
        path.data, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream");
    struct pl_sigv4_header hs[] = {
        {"accept", "application/vnd.amazon.eventstream"},
        {"content-type", "application/json"},
        {"host", "bedrock-runtime.us-east-1.amazonaws.com"},
    };
    struct pl_sigv4_request req = {.method = "POST",
                                   .path = path.data,
                                   .headers = hs,
                                   .n_headers = 3,
                                   .payload = body,
                                   .payload_len = strlen(body),
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = example_time};
    struct pl_sigv4_result out;
    assert_int_equal(pl_sigv4_sign(&req, &example_creds, &out), PL_OK);
    assert_non_null(strstr(out.canonical_request.data,
                           "\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/"
                           "invoke-with-response-stream\n\n"));
    assert_string_equal(out.signed_headers.data, "accept;content-type;host;x-amz-date");
    assert_string_equal(out.signature,
                        "bab1ee4ae310e40d2b02597823f8ac5ce409dd06dbb6b996765ec4777ea60548");
    assert_int_equal(out.n_headers, 2);
    pl_sigv4_result_cleanup(&out);

    /* A session token adds a signed x-amz-security-token; x-amz-content-sha256 when asked. */
    struct pl_sigv4_creds temp = example_creds;
    temp.session_token = "tok/en+=";
    req.flags = PL_SIGV4_CONTENT_SHA256;
    assert_int_equal(pl_sigv4_sign(&req, &temp, &out), PL_OK);
    assert_int_equal(out.n_headers, 4);
    assert_string_equal(out.headers[1].name, "x-amz-content-sha256");
    assert_string_equal(out.headers[1].value, out.payload_sha256);
    assert_string_equal(out.headers[2].name, "x-amz-security-token");
    assert_string_equal(out.headers[2].value, "tok/en+=");
    assert_string_equal(out.signed_headers.data, "accept;content-type;host;x-amz-content-sha256;"
                                                 "x-amz-date;x-amz-security-token");
    assert_non_null(strstr(out.canonical_request.data, "\nx-amz-security-token:tok/en+=\n"));
    pl_sigv4_result_cleanup(&out);
    pl_buf_cleanup(&path);
}

/* The signature of `req` signed without a cache (lower-case hex, 64 digits). */
static void uncached_signature(struct pl_sigv4_request req, const struct pl_sigv4_creds *creds,
                               char sig[65])
{
    struct pl_sigv4_result out;
    req.key_cache = NULL;
    assert_int_equal(pl_sigv4_sign(&req, creds, &out), PL_OK);
    memcpy(sig, out.signature, 65);
    pl_sigv4_result_cleanup(&out);
}

/* Signs with the cache; the signature must be the one signing without it gives, and the cache
 * must have derived `derivations` keys in all by then. */
static void expect_cached(const struct pl_sigv4_request *req, const struct pl_sigv4_creds *creds,
                          unsigned long derivations, const char *want)
{
    char plain[65];
    uncached_signature(*req, creds, plain);
    struct pl_sigv4_result out;
    assert_int_equal(pl_sigv4_sign(req, creds, &out), PL_OK);
    assert_string_equal(out.signature, plain);
    if (want)
        assert_string_equal(out.signature, want);
    assert_int_equal(pl_sigv4_key_cache_derivations(req->key_cache), derivations);
    pl_sigv4_result_cleanup(&out);
}

static void test_key_cache(void **state)
{
    (void)state;
    const char *body = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct pl_sigv4_header hs[] = {
        {"accept", "application/vnd.amazon.eventstream"},
        {"content-type", "application/json"},
        {"host", "bedrock-runtime.us-east-1.amazonaws.com"},
    };
    struct pl_sigv4_key_cache *cache = pl_sigv4_key_cache_new();
    assert_non_null(cache);
    assert_int_equal(pl_sigv4_key_cache_derivations(cache), 0);
    struct pl_sigv4_request req = {
        .method = "POST",
        .path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
        .headers = hs,
        .n_headers = 3,
        .payload = body,
        .payload_len = strlen(body),
        .region = "us-east-1",
        .service = "bedrock",
        .time = example_time,
        .key_cache = cache};
    const char *vector = "bab1ee4ae310e40d2b02597823f8ac5ce409dd06dbb6b996765ec4777ea60548";
    /* The same signature as test_bedrock_vector, the key derived once for the day. */
    expect_cached(&req, &example_creds, 1, vector);
    expect_cached(&req, &example_creds, 1, vector);
    req.time = example_time + 3600; /* same day, later: same key, another signature */
    expect_cached(&req, &example_creds, 1, NULL);
    struct pl_sigv4_creds temp = example_creds;
    temp.session_token = "tok/en+="; /* not part of the key */
    expect_cached(&req, &temp, 1, NULL);

    /* Each part of the scope renews the key. */
    req.time = example_time + 86400;
    expect_cached(&req, &example_creds, 2, NULL);
    req.region = "eu-west-3";
    expect_cached(&req, &example_creds, 3, NULL);
    req.service = "s3";
    expect_cached(&req, &example_creds, 4, NULL);
    struct pl_sigv4_creds rotated = example_creds;
    rotated.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ";
    expect_cached(&req, &rotated, 5, NULL);
    rotated.access_key_id = "AKIDEXAMPLE2";
    expect_cached(&req, &rotated, 6, NULL);
    expect_cached(&req, &rotated, 6, NULL);
    /* Back to the first scope: derived again, the same signature as at first. */
    req.time = example_time;
    req.region = "us-east-1";
    req.service = "bedrock";
    expect_cached(&req, &example_creds, 7, vector);

    /* A refused request leaves the cache as it was. */
    req.region = "US_EAST";
    struct pl_sigv4_result out;
    assert_int_equal(pl_sigv4_sign(&req, &example_creds, &out), PL_EINVAL);
    pl_sigv4_result_cleanup(&out);
    req.region = "us-east-1";
    expect_cached(&req, &example_creds, 7, vector);
    pl_sigv4_key_cache_free(cache);
    pl_sigv4_key_cache_free(NULL);
}

static char *canon_uri(const char *path, unsigned flags, int expect_rc)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append(&b, "", 0);
    assert_int_equal(pl_sigv4_canonical_uri(&b, path, flags), expect_rc);
    return pl_buf_take(&b);
}

static void expect_uri(const char *path, unsigned flags, const char *want)
{
    char *got = canon_uri(path, flags, PL_OK);
    assert_string_equal(got, want);
    pl_free(got);
}

static void test_canonical_uri(void **state)
{
    (void)state;
    /* An inference-profile ARN as the SDKs send the label: ':' and '/' encoded once on the
     * wire, twice in the canonical URI. */
    struct pl_buf wire;
    pl_buf_init(&wire, 4096);
    pl_buf_append_str(&wire, "/model/");
    const char *arn =
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0";
    pl_sigv4_uri_encode(&wire, arn, strlen(arn), false);
    pl_buf_append_str(&wire, "/converse-stream");
    assert_string_equal(wire.data,
                        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                        "inference-profile%2Fus.anthropic.claude-v1%3A0/converse-stream");
    expect_uri(wire.data, 0,
               "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123456789012%253A"
               "inference-profile%252Fus.anthropic.claude-v1%253A0/converse-stream");
    expect_uri(wire.data, PL_SIGV4_S3_PATH, wire.data);
    pl_buf_cleanup(&wire);

    expect_uri("/model/a:b/x", 0, "/model/a%3Ab/x"); /* a raw ':' on the wire */
    expect_uri("/", 0, "/");
    expect_uri("//a//b/", 0, "/a/b/");
    expect_uri("/a/./b/../../c", 0, "/c");
    expect_uri("/../..", 0, "/");
    expect_uri("/a/..", 0, "/");
    expect_uri("/a/b/.", 0, "/a/b");
    expect_uri("//a//", PL_SIGV4_S3_PATH, "//a//");

    pl_free(canon_uri("", 0, PL_EINVAL));
    pl_free(canon_uri("a/b", 0, PL_EINVAL));
    pl_free(canon_uri("/a\tb", 0, PL_EINVAL));
    expect_uri("/a b/\xe1\x88\xb4", 0, "/a%20b/%E1%88%B4"); /* as the suite's raw paths */
    pl_free(canon_uri("/a?b", 0, PL_EINVAL));
    char *long_path = pl_malloc(PL_SIGV4_MAX_PATH + 2);
    memset(long_path, 'a', PL_SIGV4_MAX_PATH + 1);
    long_path[0] = '/';
    long_path[PL_SIGV4_MAX_PATH + 1] = '\0';
    pl_free(canon_uri(long_path, 0, PL_ETOOBIG));
    long_path[PL_SIGV4_MAX_PATH] = '\0';
    pl_free(canon_uri(long_path, 0, PL_OK));
    pl_free(long_path);
}

static void expect_query(const char *query, int rc, const char *want)
{
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    pl_buf_append(&b, "", 0);
    assert_int_equal(pl_sigv4_canonical_query(&b, query), rc);
    if (rc == PL_OK)
        assert_string_equal(b.data, want);
    pl_buf_cleanup(&b);
}

static void test_canonical_query(void **state)
{
    (void)state;
    /* PROTOCOLS.md 6E: S3 ListObjectsV2, fully encoded and sorted. */
    expect_query("prefix=docs/&list-type=2&continuation-token=a%2bb/c=", PL_OK,
                 "continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=docs%2F");
    expect_query("", PL_OK, "");
    expect_query(NULL, PL_OK, "");
    expect_query("b=2&a&a=1&a=0&&", PL_OK, "a=&a=0&a=1&b=2");
    expect_query("x=a+b%7e", PL_OK, "x=a%2Bb~"); /* '+' is a plus, %7e is '~' */
    expect_query("x=%zz", PL_EINVAL, NULL);
    expect_query("x=%4", PL_EINVAL, NULL);

    struct pl_buf many;
    pl_buf_init(&many, 1 << 20);
    for (int i = 0; i <= PL_SIGV4_MAX_QUERY_PARAMS; i++)
        pl_buf_printf(&many, "%sk%d=v", i ? "&" : "", i);
    expect_query(many.data, PL_ETOOBIG, NULL);
    pl_buf_cleanup(&many);
}

static void expect_headers(const struct pl_sigv4_header *hs, size_t n, int rc, const char *block,
                           const char *names)
{
    struct pl_buf b, s;
    pl_buf_init(&b, 1 << 20);
    pl_buf_init(&s, 1 << 20);
    assert_int_equal(pl_sigv4_canonical_headers(&b, &s, hs, n), rc);
    if (rc == PL_OK) {
        assert_string_equal(b.data, block);
        assert_string_equal(s.data, names);
    }
    pl_buf_cleanup(&b);
    pl_buf_cleanup(&s);
}

static void test_canonical_headers(void **state)
{
    (void)state;
    struct pl_sigv4_header hs[] = {
        {"X-B", "  two   words\there  "},
        {"Host", "h"},
        {"x-b", "second"},
        {"User-Agent", "ua"},
        {"Proxy-X", "p"},
        {"X-Empty", "   "},
        {"Content-Type", "application/json"},
    };
    expect_headers(hs, 7, PL_OK,
                   "content-type:application/json\nhost:h\nx-b:two words here,second\nx-empty:\n",
                   "content-type;host;x-b;x-empty");
    struct pl_sigv4_header bad_value[] = {{"host", "a\r\nx-injected: 1"}};
    expect_headers(bad_value, 1, PL_EINVAL, NULL, NULL);
    struct pl_sigv4_header bad_name[] = {{"ho st", "a"}};
    expect_headers(bad_name, 1, PL_EINVAL, NULL, NULL);
    struct pl_sigv4_header empty_name[] = {{"", "a"}};
    expect_headers(empty_name, 1, PL_EINVAL, NULL, NULL);

    static struct pl_sigv4_header many[PL_SIGV4_MAX_HEADERS + PL_SIGV4_MAX_ADDED + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = (struct pl_sigv4_header){"x-a", "v"};
    expect_headers(many, sizeof many / sizeof many[0], PL_ETOOBIG, NULL, NULL);
}

static int sign_with(const struct pl_sigv4_header *hs, size_t n, const char *method)
{
    struct pl_sigv4_request req = {.method = method,
                                   .path = "/",
                                   .headers = hs,
                                   .n_headers = n,
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .time = example_time};
    struct pl_sigv4_result out;
    int rc = pl_sigv4_sign(&req, &example_creds, &out);
    pl_sigv4_result_cleanup(&out);
    return rc;
}

static void test_refusals(void **state)
{
    (void)state;
    struct pl_sigv4_header host = {"host", "h"};
    assert_int_equal(sign_with(&host, 1, "GET"), PL_OK);
    assert_int_equal(sign_with(NULL, 0, "GET"), PL_EINVAL); /* no host */
    assert_int_equal(sign_with(&host, 1, "G T"), PL_EINVAL);
    assert_int_equal(sign_with(&host, 1, ""), PL_EINVAL);
    struct pl_sigv4_header own[] = {{"host", "h"}, {"X-Amz-Date", "20150830T123600Z"}};
    assert_int_equal(sign_with(own, 2, "GET"), PL_EINVAL);
    struct pl_sigv4_header auth[] = {{"host", "h"}, {"Authorization", "x"}};
    assert_int_equal(sign_with(auth, 2, "GET"), PL_EINVAL);
    static struct pl_sigv4_header many[PL_SIGV4_MAX_HEADERS + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = host;
    assert_int_equal(sign_with(many, PL_SIGV4_MAX_HEADERS, "GET"), PL_OK);
    assert_int_equal(sign_with(many, PL_SIGV4_MAX_HEADERS + 1, "GET"), PL_ETOOBIG);

    struct pl_sigv4_request req = {.method = "GET",
                                   .path = "/",
                                   .headers = &host,
                                   .n_headers = 1,
                                   .region = "us-east-1",
                                   .service = "bedrock",
                                   .payload_sha256 = "UNSIGNED-PAYLOAD",
                                   .time = example_time};
    struct pl_sigv4_result out;
    assert_int_equal(pl_sigv4_sign(&req, &example_creds, &out), PL_OK);
    assert_non_null(strstr(out.canonical_request.data, "\nUNSIGNED-PAYLOAD"));
    pl_sigv4_result_cleanup(&out);
    req.payload_sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    assert_int_equal(pl_sigv4_sign(&req, &example_creds, &out), PL_EINVAL);
    pl_sigv4_result_cleanup(&out);
    req.payload_sha256 = NULL;
    req.region = "US East";
    assert_int_equal(pl_sigv4_sign(&req, &example_creds, &out), PL_EINVAL);
    pl_sigv4_result_cleanup(&out);
    req.region = "us-east-1";
    struct pl_sigv4_creds bad = example_creds;
    bad.session_token = "a\nb";
    assert_int_equal(pl_sigv4_sign(&req, &bad, &out), PL_EINVAL);
    pl_sigv4_result_cleanup(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),           cmocka_unit_test(test_bedrock_vector),
        cmocka_unit_test(test_key_cache),       cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query), cmocka_unit_test(test_canonical_headers),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
