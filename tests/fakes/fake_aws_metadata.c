/* The AWS credentials endpoints' double (fake_aws_metadata.h). */
#include "tests/fakes/fake_aws_metadata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"

#define TOKEN_PATH "/latest/api/token"
#define ROLE_PATH  "/latest/meta-data/iam/security-credentials/"

static void rfc3339_ms(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}

/* A GET of instance metadata: with a valid token, or none at all when PUTs are refused. */
static bool imds_authorized(struct fake_aws_metadata *f, const struct fake_http_req *req)
{
    char tok[128];
    if (!fake_http_header(req, "X-aws-ec2-metadata-token", tok, sizeof tok)) {
        f->v1_gets++;
        return f->put_status != 0; /* IMDSv1 is open only where v2 is refused */
    }
    if (f->unauthorized_once) {
        f->unauthorized_once = false;
        f->_tokens_valid_from = f->_tokens_issued;
        return false;
    }
    unsigned n;
    return sscanf(tok, "imds-token-%u", &n) == 1 && n > f->_tokens_valid_from &&
           n <= f->_tokens_issued;
}

static void credentials_body(struct fake_aws_metadata *f, bool imds, struct pl_buf *b)
{
    char n[16] = "";
    f->issued++;
    if (!f->fixed_keys)
        snprintf(n, sizeof n, "%u", f->issued);
    pl_buf_printf(b, "{%s\"AccessKeyId\":\"%s%s\",\"SecretAccessKey\":\"%s%s\",\"Token\":\"%s%s\"",
                  imds ? "\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"," : "", f->key_prefix, n,
                  f->secret_prefix, n, f->token_prefix, n);
    if (f->expires_in_ms >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        char when[48];
        rfc3339_ms(now + f->expires_in_ms, when, sizeof when);
        pl_buf_printf(b, ",\"Expiration\":\"%s\"", when);
    }
    if (f->pad_bytes) {
        pl_buf_append_str(b, ",\"Padding\":\"");
        for (size_t i = 0; i < f->pad_bytes; i++)
            pl_buf_append(b, "x", 1);
        pl_buf_append_str(b, "\"");
    }
    pl_buf_append_str(b, "}");
}

static void on_request(void *ud, struct fake_http_req *req)
{
    struct fake_aws_metadata *f = ud;
    const char *method = req->method, *path = req->target;
    struct pl_buf body;
    pl_buf_init(&body, 1024 * 1024);
    int status = 200;
    if (strcmp(method, "PUT") == 0 && strcmp(path, TOKEN_PATH) == 0) {
        char ttl[32];
        f->puts++;
        if (!fake_http_header(req, "X-aws-ec2-metadata-token-ttl-seconds", ttl, sizeof ttl) ||
            strcmp(ttl, "21600") != 0) {
            status = 400;
            f->rejected++;
        } else if (f->put_status) {
            status = f->put_status;
        } else {
            pl_buf_printf(&body, "imds-token-%u", ++f->_tokens_issued);
        }
    } else if (strcmp(method, "GET") == 0 && strncmp(path, ROLE_PATH, strlen(ROLE_PATH)) == 0) {
        bool role_list = path[strlen(ROLE_PATH)] == '\0';
        if (role_list)
            f->role_gets++;
        else
            f->creds_gets++;
        if (!imds_authorized(f, req)) {
            status = 401;
            f->rejected++;
        } else if (role_list) {
            pl_buf_append_str(&body, FAKE_AWS_ROLE "\n");
        } else if (strcmp(path + strlen(ROLE_PATH), FAKE_AWS_ROLE) != 0) {
            status = 404;
        } else if (f->creds_status) {
            status = f->creds_status;
        } else {
            credentials_body(f, true, &body);
        }
    } else if (strcmp(method, "GET") == 0 && strncmp(path, "/container", 10) == 0) {
        char auth[512] = "";
        bool has = fake_http_header(req, "Authorization", auth, sizeof auth);
        f->container_gets++;
        snprintf(f->last_authorization, sizeof f->last_authorization, "%s", auth);
        if (f->container_auth && (!has || strcmp(auth, f->container_auth) != 0)) {
            status = 401;
            f->rejected++;
        } else if (f->creds_status) {
            status = f->creds_status;
        } else {
            credentials_body(f, false, &body);
        }
    } else {
        status = 404;
    }
    fake_http_reply_reason(req, status, status == 200 ? "OK" : "Error",
                           "Content-Type: text/plain\r\n", body.data ? body.data : "", body.len,
                           f->delay_ms);
    pl_buf_cleanup(&body);
}

int fake_aws_metadata_start(struct fake_aws_metadata *f, uv_loop_t *loop)
{
    return fake_aws_metadata_start_on(f, loop, 0);
}

int fake_aws_metadata_start_on(struct fake_aws_metadata *f, uv_loop_t *loop, int port)
{
    memset(f, 0, sizeof(*f));
    f->key_prefix = "AKID";
    f->secret_prefix = "SECRET";
    f->token_prefix = "TOKEN";
    f->expires_in_ms = 3600 * 1000;
    const struct fake_http_options opt = {.port = port};
    int rc = fake_http_listen(&f->_http, loop, &opt, on_request, f);
    if (rc == 0)
        f->port = f->_http.port;
    return rc;
}

void fake_aws_metadata_stop(struct fake_aws_metadata *f)
{
    fake_http_stop(&f->_http);
}
