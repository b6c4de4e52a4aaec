/* The upstream double's Bedrock mode; see fake_bedrock.h and README.md ("Bedrock mode"). Every
 * request is authenticated as Bedrock does (SigV4 re-signed with the server's own signer from
 * the headers the request says it signed, or a Bedrock API key), its path and body checked for
 * the API it names, then answered with event-stream frames built by es_frame.c, paced by a timer
 * on the double's loop. */
#include "tests/fakes/fake_bedrock.h"
#include "tests/fakes/markers.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_sigv4.h"
#include "tests/fakes/es_frame.h"
#include "tests/fakes/sigv4_verify.h"

/* [[stamp]]: the same placeholder as the Anthropic mode, filled at sending time. */
#define STAMP_HOLE        "################"
#define STAMP_LEN         (sizeof(STAMP_HOLE) - 1)
#define ERROR_TYPE_SUFFIX ":http://internal.amazon.com/coral/com.amazon.bedrock/"
#define MAX_SKEW_S        300

static struct {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* when set, requests must carry it */
    const char *region;
    const char *api_key;
    char guardrail_id[128];
    char guardrail_version[16];
    const char *guardrail_message;
} bopt = {
    .access_key_id = "AKIDEXAMPLE",
    .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .api_key = "ABSKfake-bedrock-api-key",
    .guardrail_id = "gr0test",
    .guardrail_version = "1",
    .guardrail_message = "Sorry, the model cannot answer this question.",
};

enum api { API_CONVERSE, API_INVOKE, API_MESSAGES };

static json_t *seen_prefixes;   /* model + cached prefix -> 1: a later request reads the cache */
static json_t *counted_markers; /* "throttle:N" ... -> requests seen */

static char *printf_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- markers (the grammar of the Anthropic mode) ---- */

/* True for the first N requests carrying [[name:N]] in the same message text (a retry sends the
 * same text; other messages with the same marker count for themselves). */
static bool counted_marker(const char *text, const char *name)
{
    long n = fake_marker_num(text, name, -1);
    if (n < 0)
        return false;
    char *key = printf_new("%s:%ld:%s", name, n, text);
    json_int_t seen = json_integer_value(json_object_get(counted_markers, key));
    json_object_set_new(counted_markers, key, json_integer(seen + 1));
    pl_free(key);
    return seen < n;
}

static json_t *answer_tokens(const char *ask, const char *default_text)
{
    const char *tm = strstr(ask, "[[text:");
    long n = fake_marker_num(ask, "tokens", -1);
    bool stamp = fake_has_marker(ask, "stamp");
    if (tm) {
        const char *end = strstr(tm + 7, "]]");
        char *t = pl_strndup(tm + 7, end ? (size_t)(end - tm - 7) : strlen(tm + 7));
        json_t *tokens = fake_tokens_of(t);
        pl_free(t);
        return tokens;
    }
    if (n < 0)
        return fake_tokens_of(default_text);
    json_t *tokens = json_array();
    for (long i = 1; i <= n; i++)
        json_array_append_new(tokens, json_sprintf("w%ld%s%s%s", i, stamp ? "@" : "",
                                                   stamp ? STAMP_HOLE : "", i < n ? " " : ""));
    return tokens;
}

/* ---- plain responses ---- */

static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    default:
        return "Error";
    }
}

/* restJson1 error as Bedrock sends it (PROTOCOLS.md 2.6). */
static void send_error(const struct fake_host *h, void *conn, int status, const char *type,
                       const char *message)
{
    json_t *j = json_pack("{s:s}", "message", message);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_printf(&b,
                  "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                  "x-amzn-RequestId: fake-bedrock-%lu\r\nx-amzn-ErrorType: %s%s\r\n"
                  "content-length: %zu\r\nconnection: keep-alive\r\n\r\n%s",
                  status, status_text(status), h->request_number(), type, ERROR_TYPE_SUFFIX,
                  strlen(body), body);
    h->send(conn, b.data, b.len);
    pl_buf_cleanup(&b);
    free(body);
}

/* ---- authentication ---- */

/* Why a request's credentials were refused, for the 403 and stderr. */
struct auth_failure {
    const char *type;
    char message[300];
};

static bool auth_fail(struct auth_failure *f, const char *type, const char *message)
{
    f->type = type;
    snprintf(f->message, sizeof(f->message), "%s", message);
    return false;
}

static const char *json_header(void *headers, const char *name)
{
    return json_string_value(json_object_get(headers, name));
}

/* SigV4 as Bedrock checks it (sigv4_verify.h), or a Bedrock API key. */
static bool check_auth(const char *target, json_t *headers, const char *body, size_t len,
                       struct auth_failure *f)
{
    const char *auth = json_header(headers, "authorization");
    if (auth && !strncmp(auth, "Bearer ", 7)) {
        if (strcmp(auth + 7, bopt.api_key) != 0)
            return auth_fail(f, "AccessDeniedException", "Invalid API Key format or value");
        return true;
    }
    if (auth && strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0)
        return auth_fail(f, "IncompleteSignatureException",
                         "Authorization header must be AWS4-HMAC-SHA256 or Bearer");
    char path[1024];
    const char *q = strchr(target, '?');
    snprintf(path, sizeof(path), "%.*s", (int)(q ? (size_t)(q - target) : strlen(target)), target);
    const struct sigv4_verify_request req = {
        .method = "POST",
        .path = path,
        .query = q ? q + 1 : NULL,
        .header = json_header,
        .header_ud = headers,
        .body = body,
        .body_len = len,
        .access_key_id = bopt.access_key_id,
        .secret_access_key = bopt.secret_access_key,
        .session_token = bopt.session_token,
        .region = bopt.region,
        .service = "bedrock",
        .max_skew_s = MAX_SKEW_S,
    };
    struct sigv4_failure v;
    if (sigv4_verify(&req, &v))
        return true;
    return auth_fail(f, v.type, v.message);
}

bool fake_bedrock_authorised(const char *path, json_t *headers, const char *body, size_t len,
                             const char **type, char *message, size_t mlen)
{
    struct auth_failure f = {0};
    if (check_auth(path, headers, body, len, &f))
        return true;
    *type = f.type;
    snprintf(message, mlen, "%s", f.message);
    return false;
}

/* ---- request checks ---- */

struct request_info {
    enum api api;
    char model[512];   /* the model id, decoded from the path */
    char *last;        /* text of the last user message (markers) */
    long input_bytes;  /* all prompt text */
    long cached_bytes; /* text before the last cache point, -1 without one */
    char *cache_key;   /* model + that prefix */
    bool guardrail;    /* the request carries a (checked) guardrail */
    char why[400];     /* a failed check */
};

static bool fail(struct request_info *ri, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool fail(struct request_info *ri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ri->why, sizeof(ri->why), fmt, ap);
    va_end(ap);
    return false;
}

/* Prompt text in order, with the position of the last cache point. */
struct prompt_text {
    struct pl_buf text;
    long cached; /* -1: none */
};

static void cache_point(struct prompt_text *pt)
{
    pt->cached = (long)pt->text.len;
}

/* The Anthropic SDKs' form of a path label (@anthropic-ai/bedrock-sdk): RFC 3986 path characters
 * (unreserved, sub-delims, ':' and '@') raw, every other byte as %XX, upper-case hex. So a model
 * id's ':' goes raw, which Bedrock accepts as the AWS SDKs' %3A. */
static void pchar_encode(struct pl_buf *out, const char *s, size_t len)
{
    static const char keep[] = "-._~!$&'()*+,;=:@";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || (c && strchr(keep, c)))
            pl_buf_append(out, (const char *)&c, 1);
        else
            pl_buf_printf(out, "%%%02X", c);
    }
}

/* Decode the model id label, which must be encoded exactly as the AWS SDKs encode a URI label
 * (every byte outside A-Za-z0-9-_.~ as %XX, upper-case hex) or as the Anthropic SDKs do
 * (pchar_encode). */
static bool decode_model(const char *label, size_t len, struct request_info *ri)
{
    if (len == 0)
        return fail(ri, "empty model id in the path");
    struct pl_buf dec, again;
    pl_buf_init(&dec, 4096);
    pl_buf_init(&again, 8192);
    bool ok = true;
    for (size_t i = 0; i < len && ok; i++) {
        if (label[i] == '%' && i + 2 < len) {
            char hex[3] = {label[i + 1], label[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            ok = *end == '\0';
            char c = (char)v;
            pl_buf_append(&dec, &c, 1);
            i += 2;
        } else {
            pl_buf_append(&dec, &label[i], 1);
        }
    }
    if (ok && dec.len)
        pl_sigv4_uri_encode(&again, dec.data, dec.len, false);
    bool sdk_form = again.len == len && memcmp(again.data, label, len) == 0;
    if (ok && dec.len && !sdk_form) {
        struct pl_buf pchar;
        pl_buf_init(&pchar, 8192);
        pchar_encode(&pchar, dec.data, dec.len);
        sdk_form = pchar.len == len && memcmp(pchar.data, label, len) == 0;
        pl_buf_cleanup(&pchar);
    }
    if (!ok || !dec.len || !sdk_form)
        ok = fail(ri, "model id %.*s is not URI-encoded as the AWS SDKs encode it (expected %s)",
                  (int)len, label, again.len ? again.data : "?");
    else
        snprintf(ri->model, sizeof(ri->model), "%s", dec.data);
    pl_buf_cleanup(&dec);
    pl_buf_cleanup(&again);
    return ok;
}

/* Anthropic content (a string or text blocks), appended to `pt`; cache_control marks a point
 * after its block. False if invalid. */
static bool anthropic_content(json_t *content, struct prompt_text *pt)
{
    if (json_is_string(content)) {
        pl_buf_append_str(&pt->text, json_string_value(content));
        return json_string_length(content) > 0;
    }
    if (!json_is_array(content) || json_array_size(content) == 0)
        return false;
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        json_t *text = json_object_get(blk, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text) ||
            json_string_length(text) == 0)
            return false;
        pl_buf_append_str(&pt->text, json_string_value(text));
        json_t *cc = json_object_get(blk, "cache_control");
        if (cc) {
            const char *ct = json_string_value(json_object_get(cc, "type"));
            if (!ct || strcmp(ct, "ephemeral") != 0)
                return false;
            cache_point(pt);
        }
    }
    return true;
}

/* Converse content blocks: text, cachePoint, guardContent. */
static bool converse_blocks(json_t *blocks, struct prompt_text *pt, bool allow_empty)
{
    if (!json_is_array(blocks) || (!allow_empty && json_array_size(blocks) == 0))
        return false;
    size_t i;
    json_t *blk;
    json_array_foreach(blocks, i, blk)
    {
        if (!json_is_object(blk) || json_object_size(blk) != 1)
            return false;
        json_t *text = json_object_get(blk, "text");
        json_t *cp = json_object_get(blk, "cachePoint");
        json_t *gc = json_object_get(blk, "guardContent");
        if (text) {
            if (!json_is_string(text) || json_string_length(text) == 0)
                return false;
            pl_buf_append_str(&pt->text, json_string_value(text));
        } else if (cp) {
            const char *t = json_string_value(json_object_get(cp, "type"));
            if (!t || strcmp(t, "default") != 0)
                return false;
            cache_point(pt);
        } else if (gc) {
            const char *t = json_string_value(json_object_get(json_object_get(gc, "text"), "text"));
            if (!t)
                return false;
            pl_buf_append_str(&pt->text, t);
        } else {
            return false;
        }
    }
    return true;
}

/* Roles alternate user/assistant from user and end with user; the last message's text kept. */
static bool check_messages(json_t *messages, bool converse, struct prompt_text *pt,
                           struct request_info *ri)
{
    size_t n = json_array_size(messages);
    if (!json_is_array(messages) || n == 0)
        return fail(ri, "messages: at least one message required");
    if (n % 2 == 0)
        return fail(ri, "messages: the last message must be from the user");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, i % 2 ? "assistant" : "user") != 0)
            return fail(ri, "messages.%zu.role: roles must alternate user/assistant from user", i);
        size_t before = pt->text.len;
        json_t *content = json_object_get(m, "content");
        bool ok = converse ? converse_blocks(content, pt, false) : anthropic_content(content, pt);
        if (!ok)
            return fail(ri,
                        converse ? "messages.%zu.content: a non-empty array of text, cachePoint "
                                   "or guardContent blocks"
                                 : "messages.%zu.content: a non-empty string or text blocks",
                        i);
        if (i + 1 == n)
            ri->last = pl_strndup(pt->text.data + before, pt->text.len - before);
    }
    return true;
}

static bool check_guardrail_ids(const char *id, const char *version, struct request_info *ri)
{
    if (!id || !version)
        return fail(ri, "guardrail: identifier and version are both required");
    if (strcmp(id, bopt.guardrail_id) != 0 || strcmp(version, bopt.guardrail_version) != 0)
        return fail(ri, "guardrail %s:%s does not exist (this double has %s:%s)", id, version,
                    bopt.guardrail_id, bopt.guardrail_version);
    ri->guardrail = true;
    return true;
}

static bool check_converse(json_t *j, struct prompt_text *pt, struct request_info *ri)
{
    static const char *const foreign[] = {"model", "stream", "anthropic_version", "max_tokens"};
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
        if (json_object_get(j, foreign[i]))
            return fail(ri, "extraneous key [%s] is not permitted in a Converse request",
                        foreign[i]);
    json_t *system = json_object_get(j, "system");
    if (system && !converse_blocks(system, pt, true))
        return fail(ri, "system: an array of text, cachePoint or guardContent blocks");
    if (!check_messages(json_object_get(j, "messages"), true, pt, ri))
        return false;
    json_t *ic = json_object_get(j, "inferenceConfig");
    if (ic) {
        json_t *mt = json_object_get(ic, "maxTokens");
        json_t *temp = json_object_get(ic, "temperature");
        if (!json_is_object(ic) || (mt && (!json_is_integer(mt) || json_integer_value(mt) < 1)) ||
            (temp &&
             (!json_is_number(temp) || json_number_value(temp) < 0 || json_number_value(temp) > 1)))
            return fail(ri, "inferenceConfig: maxTokens >= 1, temperature in [0, 1]");
    }
    json_t *gc = json_object_get(j, "guardrailConfig");
    if (gc) {
        const char *trace = json_string_value(json_object_get(gc, "trace"));
        const char *mode = json_string_value(json_object_get(gc, "streamProcessingMode"));
        if ((json_object_get(gc, "trace") &&
             (!trace || (strcmp(trace, "enabled") && strcmp(trace, "disabled") &&
                         strcmp(trace, "enabled_full")))) ||
            (json_object_get(gc, "streamProcessingMode") &&
             (!mode || (strcmp(mode, "sync") && strcmp(mode, "async")))))
            return fail(ri, "guardrailConfig: trace enabled|disabled|enabled_full, "
                            "streamProcessingMode sync|async");
        if (!check_guardrail_ids(json_string_value(json_object_get(gc, "guardrailIdentifier")),
                                 json_string_value(json_object_get(gc, "guardrailVersion")), ri))
            return false;
    }
    return true;
}

static bool check_invoke(json_t *j, json_t *headers, struct prompt_text *pt,
                         struct request_info *ri)
{
    const char *v = json_string_value(json_object_get(j, "anthropic_version"));
    if (!v || strcmp(v, "bedrock-2023-05-31") != 0)
        return fail(ri, "anthropic_version must be \"bedrock-2023-05-31\" (got %s)",
                    v ? v : "none");
    if (json_object_get(j, "model") || json_object_get(j, "stream"))
        return fail(ri, "extraneous key [%s] is not permitted",
                    json_object_get(j, "model") ? "model" : "stream");
    json_t *mt = json_object_get(j, "max_tokens");
    if (!json_is_integer(mt) || json_integer_value(mt) <= 0)
        return fail(ri, "max_tokens: a positive integer required");
    json_t *system = json_object_get(j, "system");
    if (system && !anthropic_content(system, pt))
        return fail(ri, "system: a string or text blocks");
    if (!check_messages(json_object_get(j, "messages"), false, pt, ri))
        return false;
    const char *gid =
        json_string_value(json_object_get(headers, "x-amzn-bedrock-guardrailidentifier"));
    const char *gver =
        json_string_value(json_object_get(headers, "x-amzn-bedrock-guardrailversion"));
    const char *trace = json_string_value(json_object_get(headers, "x-amzn-bedrock-trace"));
    if (trace && strcmp(trace, "ENABLED") && strcmp(trace, "DISABLED") &&
        strcmp(trace, "ENABLED_FULL"))
        return fail(ri, "X-Amzn-Bedrock-Trace must be ENABLED, DISABLED or ENABLED_FULL");
    if ((gid || gver) && !check_guardrail_ids(gid, gver, ri))
        return false;
    return true;
}

/* Bedrock's Anthropic Messages endpoint: the Anthropic body (model and stream included) with
 * the version in the header or the body; the rest is checked by the Anthropic mode. */
static bool check_messages_api(json_t *j, json_t *headers, struct prompt_text *pt,
                               struct request_info *ri)
{
    const char *hv = json_string_value(json_object_get(headers, "anthropic-version"));
    const char *bv = json_string_value(json_object_get(j, "anthropic_version"));
    if (!hv && !bv)
        return fail(ri, "anthropic-version header or anthropic_version required");
    json_t *system = json_object_get(j, "system");
    if (system && !anthropic_content(system, pt))
        return fail(ri, "system: a string or text blocks");
    return check_messages(json_object_get(j, "messages"), false, pt, ri);
}

/* ---- streams ---- */

enum ending { END_FINISH, END_CUT, END_STALL };

struct step {
    char *event_type; /* or the exception's name */
    char *json;       /* payload (converse) or the Anthropic event (invoke) */
    bool exception;
    bool corrupt; /* flip a bit of the message CRC */
    bool tick;    /* sent at a new tick (a text delta, or what follows the last) */
};

struct bstream {
    const struct fake_host *host;
    void *conn;
    uv_timer_t timer;
    enum api api;
    struct step *steps;
    size_t n, cap, next;
    unsigned pace_ms;
    enum ending ending;
    unsigned long request_n;
    char path[512];
};

static void add_step(struct bstream *s, const char *type, char *json, bool tick)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->steps = pl_realloc(s->steps, s->cap * sizeof(*s->steps));
    }
    s->steps[s->n++] = (struct step){.event_type = pl_strdup(type), .json = json, .tick = tick};
}

static char *printf_new(const char *fmt, ...)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    va_list ap;
    va_start(ap, fmt);
    pl_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return pl_buf_take(&b);
}

static char *escaped(const char *s)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    pl_buf_append_json_escaped(&b, s, strlen(s));
    return pl_buf_take(&b);
}

/* Bedrock's random-length padding field, made deterministic. */
static const char *padding(size_t i)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123";
    static char out[64];
    size_t n = 1 + (i * 7) % 40;
    memcpy(out, alphabet, n);
    out[n] = '\0';
    return out;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct bstream *s = h->data;
    for (size_t i = 0; i < s->n; i++) {
        pl_free(s->steps[i].event_type);
        pl_free(s->steps[i].json);
    }
    pl_free(s->steps);
    pl_free(s);
}

static void stream_free(struct bstream *s)
{
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* Encode step `i` now (its [[stamp]] filled with the time) into `out`. */
static void encode_step(struct bstream *s, size_t i, struct pl_buf *out)
{
    struct step *st = &s->steps[i];
    char *hole = strstr(st->json, STAMP_HOLE);
    if (hole) {
        char stamp[32];
        snprintf(stamp, sizeof(stamp), "%0*llu", (int)STAMP_LEN,
                 (unsigned long long)(uv_hrtime() / 1000) % 10000000000000000ULL);
        memcpy(hole, stamp, STAMP_LEN);
    }
    if (st->exception) {
        es_frame_exception(out, st->event_type, st->json, strlen(st->json));
    } else if (s->api == API_INVOKE) {
        size_t len = strlen(st->json);
        unsigned char *b64 = pl_malloc(4 * ((len + 2) / 3) + 1);
        EVP_EncodeBlock(b64, (const unsigned char *)st->json, (int)len);
        char *payload = printf_new("{\"bytes\":\"%s\",\"p\":\"%s\"}", b64, padding(i));
        es_frame_event(out, "chunk", payload, strlen(payload));
        pl_free(payload);
        pl_free(b64);
    } else {
        es_frame_event(out, st->event_type, st->json, strlen(st->json));
    }
    if (st->corrupt)
        out->data[out->len - 1] ^= 0x01;
}

static void send_chunk(struct bstream *s, const struct pl_buf *b)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "%zx\r\n", b->len);
    struct pl_buf c;
    pl_buf_init(&c, SIZE_MAX);
    pl_buf_append(&c, head, (size_t)n);
    pl_buf_append(&c, b->data, b->len);
    pl_buf_append(&c, "\r\n", 2);
    s->host->send(s->conn, c.data, c.len);
    pl_buf_cleanup(&c);
}

/* Send the steps up to the next that starts a tick; true if some were sent. */
static bool send_until_tick(struct bstream *s)
{
    if (s->next >= s->n)
        return false;
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    do {
        encode_step(s, s->next++, &b);
    } while (s->next < s->n && !s->steps[s->next].tick);
    send_chunk(s, &b);
    pl_buf_cleanup(&b);
    return true;
}

static void on_tick(uv_timer_t *t)
{
    struct bstream *s = t->data;
    if (send_until_tick(s)) {
        uv_timer_start(&s->timer, on_tick, s->pace_ms, 0);
        return;
    }
    const struct fake_host *h = s->host;
    void *conn = s->conn;
    switch (s->ending) {
    case END_FINISH:
        h->send(conn, "0\r\n\r\n", 5);
        stream_free(s);
        h->stream_end(conn, false);
        break;
    case END_CUT:
        stream_free(s);
        h->stream_end(conn, true);
        break;
    case END_STALL:
        break;
    }
}

void fake_bedrock_conn_closed(void *stream)
{
    struct bstream *s = stream;
    size_t remaining = s->n - s->next;
    json_t *e =
        json_pack("{s:s,s:I,s:s,s:I,s:b}", "event", "client_closed", "n", (json_int_t)s->request_n,
                  "path", s->path, "steps_unsent", (json_int_t)remaining, "complete",
                  remaining == 0 && s->ending == END_FINISH);
    s->host->log_event(e);
    json_decref(e);
    stream_free(s);
}

/* The plan of a normal answer (or a mid-stream fault) for converse or invoke. */
static void plan_answer(struct bstream *s, const struct request_info *ri, json_t *tokens,
                        const char *behaviour)
{
    size_t n = json_array_size(tokens);
    bool stream_error = !strcmp(behaviour, "stream-error"), bad_crc = !strcmp(behaviour, "bad-crc");
    bool cut = !strcmp(behaviour, "cut"), stall = !strcmp(behaviour, "stall");
    bool guardrail = !strcmp(behaviour, "guardrail");
    const char *stop = guardrail                          ? "guardrail_intervened"
                       : !strcmp(behaviour, "max-tokens") ? "max_tokens"
                                                          : "end_turn";
    long cached = ri->cached_bytes >= 0 ? ri->cached_bytes / 4 : 0;
    long input = (ri->input_bytes - (ri->cached_bytes > 0 ? ri->cached_bytes : 0)) / 4;
    bool was_seen = ri->cache_key && json_object_get(seen_prefixes, ri->cache_key);
    long cache_read = was_seen ? cached : 0, cache_write = ri->cache_key && !was_seen ? cached : 0;
    if (ri->cache_key && !was_seen && cached > 0)
        json_object_set_new(seen_prefixes, ri->cache_key, json_true());
    unsigned long rn = s->request_n;

    if (s->api == API_CONVERSE)
        add_step(s, "messageStart", printf_new("{\"p\":\"%s\",\"role\":\"assistant\"}", padding(0)),
                 false);
    else
        add_step(s, "chunk",
                 printf_new("{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_%lu\","
                            "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%s\","
                            "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                            "\"usage\":{\"input_tokens\":%ld,\"cache_creation_input_tokens\":%ld,"
                            "\"cache_read_input_tokens\":%ld,\"output_tokens\":1}}}",
                            rn, ri->model, input, cache_write, cache_read),
                 false);
    if (stall)
        return;
    if (s->api == API_INVOKE)
        add_step(s, "chunk",
                 pl_strdup("{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                           "{\"type\":\"text\",\"text\":\"\"}}"),
                 false);
    size_t limit = (stream_error || bad_crc || cut) && n > 3 ? 3 : n;
    for (size_t i = 0; i < limit; i++) {
        char *t = escaped(json_string_value(json_array_get(tokens, i)));
        if (s->api == API_CONVERSE)
            add_step(
                s, "contentBlockDelta",
                printf_new("{\"contentBlockIndex\":0,\"delta\":{\"text\":\"%s\"},\"p\":\"%s\"}", t,
                           padding(i + 1)),
                true);
        else
            add_step(s, "chunk",
                     printf_new("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                                "{\"type\":\"text_delta\",\"text\":\"%s\"}}",
                                t),
                     true);
        pl_free(t);
    }
    if (cut)
        return;
    if (stream_error) {
        add_step(s, "modelStreamErrorException",
                 pl_strdup("{\"message\":\"The model stream failed.\",\"originalStatusCode\":500,"
                           "\"originalMessage\":\"Internal error in the model\"}"),
                 true);
        s->steps[s->n - 1].exception = true;
        return;
    }
    if (bad_crc) {
        if (s->api == API_CONVERSE)
            add_step(s, "contentBlockDelta",
                     pl_strdup("{\"contentBlockIndex\":0,\"delta\":{\"text\":\"corrupt \"}}"),
                     true);
        else
            add_step(s, "chunk",
                     pl_strdup("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                               "{\"type\":\"text_delta\",\"text\":\"corrupt \"}}"),
                     true);
        s->steps[s->n - 1].corrupt = true;
        return;
    }
    long out_tokens = (long)n;
    if (s->api == API_CONVERSE) {
        add_step(s, "contentBlockStop",
                 printf_new("{\"contentBlockIndex\":0,\"p\":\"%s\"}", padding(n + 1)), true);
        add_step(s, "messageStop",
                 printf_new("{\"stopReason\":\"%s\",\"p\":\"%s\"}", stop, padding(n + 2)), false);
        struct pl_buf u;
        pl_buf_init(&u, SIZE_MAX);
        pl_buf_printf(&u, "{\"inputTokens\":%ld,\"outputTokens\":%ld,\"totalTokens\":%ld", input,
                      out_tokens, input + out_tokens + cache_read + cache_write);
        if (ri->cache_key)
            pl_buf_printf(&u, ",\"cacheReadInputTokens\":%ld,\"cacheWriteInputTokens\":%ld",
                          cache_read, cache_write);
        pl_buf_append_str(&u, "}");
        add_step(s, "metadata",
                 printf_new("{\"usage\":%s,\"metrics\":{\"latencyMs\":%lu},\"p\":\"%s\"}", u.data,
                            (unsigned long)(s->pace_ms * n), padding(n + 3)),
                 false);
        pl_buf_cleanup(&u);
    } else {
        add_step(s, "chunk", pl_strdup("{\"type\":\"content_block_stop\",\"index\":0}"), true);
        add_step(s, "chunk",
                 printf_new("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"%s\","
                            "\"stop_sequence\":null},\"usage\":{\"output_tokens\":%ld}}",
                            !strcmp(stop, "max_tokens") ? "max_tokens" : "end_turn", out_tokens),
                 false);
        add_step(
            s, "chunk",
            printf_new("{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":"
                       "{\"inputTokenCount\":%ld,\"outputTokenCount\":%ld,"
                       "\"invocationLatency\":%lu,\"firstByteLatency\":%u,"
                       "\"cacheReadInputTokenCount\":%ld,\"cacheWriteInputTokenCount\":%ld}%s}",
                       input, out_tokens, (unsigned long)(s->pace_ms * n), s->pace_ms, cache_read,
                       cache_write,
                       guardrail ? ",\"amazon-bedrock-guardrailAction\":\"INTERVENED\"" : ""),
            false);
    }
}

static void start_stream(const struct fake_host *h, void *conn, const char *path,
                         const struct request_info *ri, const char *behaviour)
{
    struct bstream *s = pl_calloc(1, sizeof(*s));
    s->host = h;
    s->conn = conn;
    s->api = ri->api;
    s->request_n = h->request_number();
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->pace_ms = (unsigned)fake_marker_num(ri->last, "pace", h->pace_ms);
    uv_timer_init(h->loop, &s->timer);
    s->timer.data = s;
    bool exception_first = !strncmp(behaviour, "exception-first", 15);
    if (exception_first) {
        bool unavailable = !strcmp(behaviour, "exception-first-unavailable");
        add_step(s, unavailable ? "serviceUnavailableException" : "throttlingException",
                 pl_strdup(unavailable ? "{\"message\":\"Bedrock is unable to process your "
                                         "request.\"}"
                                       : "{\"message\":\"Too many requests, please wait before "
                                         "trying again.\"}"),
                 false);
        s->steps[0].exception = true;
    } else {
        json_t *tokens = !strcmp(behaviour, "guardrail") ? fake_tokens_of(bopt.guardrail_message)
                                                         : answer_tokens(ri->last, h->text);
        plan_answer(s, ri, tokens, behaviour);
        json_decref(tokens);
    }
    s->ending = !strcmp(behaviour, "stall") ? END_STALL
                : !strcmp(behaviour, "cut") ? END_CUT
                                            : END_FINISH;
    h->stream_begin(conn, s);
    char head[320];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
                      "x-amzn-RequestId: fake-bedrock-%lu\r\n"
                      "x-amzn-bedrock-content-type: application/json\r\n"
                      "transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n",
                      s->request_n);
    h->send(conn, head, (size_t)hl);
    /* What comes before the first delta goes at once; the first delta after the first-token
     * delay; the rest at the pace. */
    send_until_tick(s);
    if (s->ending == END_STALL)
        return;
    long first = fake_marker_num(ri->last, "first",
                                 fake_marker_num(ri->last, "slow-first", h->first_token_ms));
    uv_timer_start(&s->timer, on_tick, (uint64_t)first, 0);
}

/* ---- routing ---- */

static bool parse_path(const char *path, enum api *api, const char **label, size_t *label_len)
{
    const char *q = strchr(path, '?');
    size_t len = q ? (size_t)(q - path) : strlen(path);
    if (len == strlen("/anthropic/v1/messages") && !strncmp(path, "/anthropic/v1/messages", len)) {
        *api = API_MESSAGES;
        *label = NULL;
        *label_len = 0;
        return true;
    }
    if (strncmp(path, "/model/", 7) != 0)
        return false;
    static const struct {
        const char *suffix;
        enum api api;
    } ops[] = {{"/converse-stream", API_CONVERSE}, {"/invoke-with-response-stream", API_INVOKE}};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(ops[i].suffix);
        if (len > 7 + sl && !strncmp(path + len - sl, ops[i].suffix, sl)) {
            *api = ops[i].api;
            *label = path + 7;
            *label_len = len - 7 - sl;
            return true;
        }
    }
    return false;
}

bool fake_bedrock_route(const char *method, const char *path)
{
    enum api api;
    const char *label;
    size_t len;
    return !strcmp(method, "POST") && parse_path(path, &api, &label, &len);
}

static const char *const api_names[] = {"converse", "invoke", "messages"};

void fake_bedrock_handle(const struct fake_host *h, void *conn, const char *path, json_t *headers,
                         const char *body, size_t len)
{
    if (!seen_prefixes) {
        seen_prefixes = json_object();
        counted_markers = json_object();
    }
    struct request_info ri = {.cached_bytes = -1};
    const char *label;
    size_t label_len;
    parse_path(path, &ri.api, &label, &label_len);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    char behaviour[64];
    snprintf(behaviour, sizeof(behaviour), "%s:rejected", api_names[ri.api]);
    struct prompt_text pt = {.cached = -1};
    pl_buf_init(&pt.text, SIZE_MAX);
    struct auth_failure af = {0};
    bool ok = false;

    if (!check_auth(path, headers, body, len, &af)) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: bedrock auth: %s: %s\n", af.type,
                af.message);
        send_error(h, conn, 403, af.type, af.message);
        goto out;
    }
    const char *ctype = json_string_value(json_object_get(headers, "content-type"));
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0)
        fail(&ri, "content-type must be application/json");
    else if (!json_is_object(j))
        fail(&ri, "body is not a JSON object: %s", jerr.text);
    else if (label && !decode_model(label, label_len, &ri))
        ;
    else if (ri.api == API_CONVERSE)
        ok = check_converse(j, &pt, &ri);
    else if (ri.api == API_INVOKE)
        ok = check_invoke(j, headers, &pt, &ri);
    else
        ok = check_messages_api(j, headers, &pt, &ri);
    if (!ok) {
        fprintf(stderr, "fake_upstream: REQUEST CHECK FAILED: bedrock %s: %s\n", api_names[ri.api],
                ri.why);
        send_error(h, conn, 400, "ValidationException", ri.why);
        goto out;
    }
    ri.input_bytes = (long)pt.text.len;
    ri.cached_bytes = pt.cached;
    if (pt.cached >= 0)
        ri.cache_key = printf_new("%s\x1f%.*s", ri.model, (int)pt.cached, pt.text.data);

    /* Faults before the stream, then those inside it. */
    const char *b = "normal";
    if (fake_has_marker(ri.last, "throttle") || counted_marker(ri.last, "throttle"))
        b = "throttle";
    else if (fake_has_marker(ri.last, "validation"))
        b = "validation";
    if (!strcmp(b, "throttle")) {
        send_error(h, conn, 429, "ThrottlingException",
                   "Too many requests, please wait before trying again.");
    } else if (!strcmp(b, "validation")) {
        send_error(h, conn, 400, "ValidationException", "Input is too long for requested model.");
    } else if (ri.api == API_MESSAGES) {
        b = "anthropic";
        h->anthropic_messages(conn, path, headers, body, len);
    } else {
        static const char *const faults[] = {"exception-first-unavailable",
                                             "exception-first",
                                             "stream-error",
                                             "bad-crc",
                                             "cut",
                                             "stall",
                                             "max-tokens",
                                             "guardrail"};
        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
            if (fake_has_marker(ri.last, faults[i])) {
                b = faults[i];
                break;
            }
        if (counted_marker(ri.last, "flaky-first"))
            b = "exception-first";
        if (!strcmp(b, "guardrail") && !ri.guardrail) {
            fprintf(stderr, "fake_upstream: [[guardrail]] without a guardrail in the request: "
                            "answered normally\n");
            b = "normal";
        }
        start_stream(h, conn, path, &ri, b);
    }
    snprintf(behaviour, sizeof(behaviour), "%s:%s", api_names[ri.api], b);
out:
    /* The Messages endpoint's answer logs itself (the Anthropic mode's line). */
    if (strcmp(behaviour, "messages:anthropic") != 0)
        h->log_request("POST", path, headers, j, behaviour);
    pl_buf_cleanup(&pt.text);
    pl_free(ri.last);
    pl_free(ri.cache_key);
    json_decref(j);
}

/* ---- options ---- */

int fake_bedrock_option(const char *name, const char *value)
{
    if (!strcmp(name, "--aws-access-key-id"))
        bopt.access_key_id = value;
    else if (!strcmp(name, "--aws-secret-access-key"))
        bopt.secret_access_key = value;
    else if (!strcmp(name, "--aws-session-token"))
        bopt.session_token = value;
    else if (!strcmp(name, "--aws-region"))
        bopt.region = value;
    else if (!strcmp(name, "--bedrock-api-key"))
        bopt.api_key = value;
    else if (!strcmp(name, "--guardrail-message"))
        bopt.guardrail_message = value;
    else if (!strcmp(name, "--guardrail")) {
        const char *colon = strrchr(value, ':'); /* an ARN has its own */
        if (!colon || colon == value || !colon[1] ||
            (size_t)(colon - value) >= sizeof(bopt.guardrail_id) ||
            strlen(colon + 1) >= sizeof(bopt.guardrail_version))
            return -1;
        snprintf(bopt.guardrail_id, sizeof(bopt.guardrail_id), "%.*s", (int)(colon - value), value);
        snprintf(bopt.guardrail_version, sizeof(bopt.guardrail_version), "%s", colon + 1);
    } else
        return 0;
    return 1;
}

void fake_bedrock_usage(FILE *f)
{
    fprintf(f, "Bedrock mode: [--aws-access-key-id K] [--aws-secret-access-key S]\n"
               "  [--aws-session-token T] [--aws-region R] [--bedrock-api-key K]\n"
               "  [--guardrail ID:VERSION] [--guardrail-message TEXT]\n");
}
