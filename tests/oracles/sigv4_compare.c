/* Reads the requests signed by AWS's JavaScript signer (sigv4_oracle.cjs, one "key hex" per line,
 * "end" after each request) from stdin, signs each with connectors/aws_sigv4.h and compares the
 * canonical request, the string to sign and every header added, byte for byte. For a Bedrock
 * path it also checks that the model id encoded by pl_sigv4_uri_encode is the label the SDK put
 * in the path. Optional lines "method M", "service S" and "s3 1" (S3's path rule) serve the
 * S3 oracle (s3_oracle.sh); without them a request is a Bedrock POST. Exit 0 when all agree (at
 * least one request read), 1 on the first difference. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/aws_sigv4.h"

#define MAX_FIELD (1 << 20)

struct record {
    struct pl_buf region, path, query, akid, secret, token, body, model, creq, sts;
    struct pl_buf names[PL_SIGV4_MAX_HEADERS], values[PL_SIGV4_MAX_HEADERS];
    size_t n_headers;
    struct pl_buf added_names[PL_SIGV4_MAX_ADDED], added_values[PL_SIGV4_MAX_ADDED];
    size_t n_added;
    long long time;
    bool checksum, has_model;
    bool s3;          /* "s3 1": S3's rules (path signed as sent) */
    char method[16];  /* "method GET"; POST when absent */
    char service[32]; /* "service s3"; bedrock when absent */
};

static void init_buf(struct pl_buf *b)
{
    pl_buf_init(b, MAX_FIELD);
    pl_buf_append(b, "", 0);
}

static void record_init(struct record *r)
{
    memset(r, 0, sizeof *r);
    struct pl_buf *bufs[] = {&r->region, &r->path, &r->query, &r->akid, &r->secret,
                             &r->token,  &r->body, &r->model, &r->creq, &r->sts};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        init_buf(bufs[i]);
}

static void record_cleanup(struct record *r)
{
    struct pl_buf *bufs[] = {&r->region, &r->path, &r->query, &r->akid, &r->secret,
                             &r->token,  &r->body, &r->model, &r->creq, &r->sts};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        pl_buf_cleanup(bufs[i]);
    for (size_t i = 0; i < r->n_headers; i++) {
        pl_buf_cleanup(&r->names[i]);
        pl_buf_cleanup(&r->values[i]);
    }
    for (size_t i = 0; i < r->n_added; i++) {
        pl_buf_cleanup(&r->added_names[i]);
        pl_buf_cleanup(&r->added_values[i]);
    }
}

static int unhex(struct pl_buf *out, const char *s, size_t len)
{
    if (len % 2)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        char pair[3] = {s[i], s[i + 1], 0};
        char *end;
        char byte = (char)strtol(pair, &end, 16);
        if (*end || pl_buf_append(out, &byte, 1))
            return -1;
    }
    return 0;
}

/* One line into the record; returns 1 at "end", 0 to go on, -1 on a malformed line. */
static int read_line(struct record *r, char *line)
{
    line[strcspn(line, "\n")] = '\0';
    if (strcmp(line, "end") == 0)
        return 1;
    char *key = line, *a = strchr(line, ' ');
    if (!a)
        return strlen(line) ? -1 : 0;
    *a++ = '\0';
    char *b = strchr(a, ' ');
    if (b)
        *b++ = '\0';
    struct {
        const char *key;
        struct pl_buf *buf;
    } fields[] = {{"region", &r->region}, {"path", &r->path},     {"query", &r->query},
                  {"akid", &r->akid},     {"secret", &r->secret}, {"token", &r->token},
                  {"body", &r->body},     {"model", &r->model},   {"creq", &r->creq},
                  {"sts", &r->sts}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(key, fields[i].key) == 0) {
            r->has_model = r->has_model || fields[i].buf == &r->model;
            return unhex(fields[i].buf, a, strlen(a));
        }
    if (strcmp(key, "case") == 0)
        return 0;
    if (strcmp(key, "time") == 0) {
        r->time = strtoll(a, NULL, 10);
        return 0;
    }
    if (strcmp(key, "checksum") == 0) {
        r->checksum = strcmp(a, "1") == 0;
        return 0;
    }
    if (strcmp(key, "s3") == 0) {
        r->s3 = strcmp(a, "1") == 0;
        return 0;
    }
    if (strcmp(key, "method") == 0 || strcmp(key, "service") == 0) {
        char *dst = key[0] == 'm' ? r->method : r->service;
        size_t cap = key[0] == 'm' ? sizeof(r->method) : sizeof(r->service);
        return (size_t)snprintf(dst, cap, "%s", a) < cap ? 0 : -1;
    }
    bool added = strcmp(key, "added") == 0;
    if ((added || strcmp(key, "header") == 0) && b) {
        size_t *n = added ? &r->n_added : &r->n_headers;
        if (*n == (added ? PL_SIGV4_MAX_ADDED : PL_SIGV4_MAX_HEADERS))
            return -1;
        struct pl_buf *name = added ? &r->added_names[*n] : &r->names[*n];
        struct pl_buf *value = added ? &r->added_values[*n] : &r->values[*n];
        (*n)++;
        init_buf(name);
        init_buf(value);
        return unhex(name, a, strlen(a)) || unhex(value, b, strlen(b)) ? -1 : 0;
    }
    return -1;
}

static bool same(const char *what, size_t n, const char *ours, const char *theirs)
{
    if (strcmp(ours, theirs) == 0)
        return true;
    fprintf(stderr, "request %zu: %s differs\n--- C:\n%s\n--- @smithy/signature-v4:\n%s\n", n, what,
            ours, theirs);
    return false;
}

static bool compare(const struct record *r, size_t n)
{
    struct pl_sigv4_header hs[PL_SIGV4_MAX_HEADERS];
    for (size_t i = 0; i < r->n_headers; i++)
        hs[i] = (struct pl_sigv4_header){r->names[i].data, r->values[i].data};
    struct pl_sigv4_creds creds = {r->akid.data, r->secret.data, r->token.data};
    struct pl_sigv4_request req = {.method = r->method[0] ? r->method : "POST",
                                   .path = r->path.data,
                                   .query = r->query.data,
                                   .headers = hs,
                                   .n_headers = r->n_headers,
                                   .payload = r->body.data,
                                   .payload_len = r->body.len,
                                   .region = r->region.data,
                                   .service = r->service[0] ? r->service : "bedrock",
                                   .time = (time_t)r->time,
                                   .flags = (r->checksum ? PL_SIGV4_CONTENT_SHA256 : 0) |
                                            (r->s3 ? PL_SIGV4_S3_PATH : 0)};
    struct pl_sigv4_result out;
    int rc = pl_sigv4_sign(&req, &creds, &out);
    bool ok = rc == PL_OK;
    if (!ok)
        fprintf(stderr, "request %zu: refused (%s), path %s\n", n, pl_strerror(rc), r->path.data);
    ok = ok && same("canonical request", n, out.canonical_request.data, r->creq.data);
    ok = ok && same("string to sign", n, out.string_to_sign.data, r->sts.data);
    if (ok && out.n_headers != r->n_added) {
        fprintf(stderr, "request %zu: %zu headers added, the oracle added %zu\n", n, out.n_headers,
                r->n_added);
        ok = false;
    }
    for (size_t i = 0; ok && i < r->n_added; i++) {
        const char *theirs = NULL;
        for (size_t k = 0; k < out.n_headers; k++)
            if (strcmp(out.headers[k].name, r->added_names[i].data) == 0)
                theirs = out.headers[k].value;
        if (!theirs) {
            fprintf(stderr, "request %zu: header %s not added\n", n, r->added_names[i].data);
            ok = false;
        } else {
            ok = same(r->added_names[i].data, n, theirs, r->added_values[i].data);
        }
    }
    if (ok && r->has_model) {
        struct pl_buf label;
        init_buf(&label);
        pl_buf_append_str(&label, "/model/");
        pl_sigv4_uri_encode(&label, r->model.data, r->model.len, false);
        pl_buf_append(&label, "/", 1);
        ok = strncmp(r->path.data, label.data, label.len) == 0;
        if (!ok)
            fprintf(stderr, "request %zu: model id encoded as %s, the SDK's path is %s\n", n,
                    label.data, r->path.data);
        pl_buf_cleanup(&label);
    }
    pl_sigv4_result_cleanup(&out);
    return ok;
}

int main(void)
{
    static char line[4 * MAX_FIELD];
    size_t n = 0;
    struct record r;
    record_init(&r);
    while (fgets(line, sizeof line, stdin)) {
        int rc = read_line(&r, line);
        if (rc < 0) {
            fprintf(stderr, "request %zu: malformed line\n", n);
            return 1;
        }
        if (rc == 0)
            continue;
        if (!compare(&r, n))
            return 1;
        n++;
        record_cleanup(&r);
        record_init(&r);
    }
    record_cleanup(&r);
    if (n == 0) {
        fprintf(stderr, "no request read\n");
        return 1;
    }
    printf("%zu requests signed alike by the C signer and @smithy/signature-v4\n", n);
    return 0;
}
