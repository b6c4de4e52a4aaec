/* fake_dynamodb: a test double of Amazon DynamoDB's JSON 1.0 API (PROTOCOLS.md 6F) for GetItem
 * and PutItem, as a process on a loopback port (README.md "fake_dynamodb"). Every request is
 * checked as DynamoDB would: the SigV4 signature re-computed with the server's own signer from
 * the request as received and the test keys (service dynamodb), X-Amz-Target, the content type,
 * the body's table and key. A wrong one gets DynamoDB's 400 error JSON and a line
 * `REQUEST CHECK FAILED: ...` on stderr. Tables hold items loaded from a JSON file or put by the
 * test (PutItem, or the unsigned POST /_fake/item); faults are set with POST /_fake/fault. Each
 * request is one JSON line in the --log file. One request per connection (fake_http.h). */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "tests/fakes/fake_http.h"
#include "tests/fakes/sigv4_verify.h"

#define PREFIX     "com.amazonaws.dynamodb.v20120810#"
#define CORAL      "com.amazon.coral.service#"
#define MAX_SKEW_S 300

static struct {
    const char *access_key_id, *secret_access_key, *session_token, *region, *key_attribute;
    FILE *log;
} opt = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, "us-east-1", "policy_number",
    NULL};

static json_t *tables; /* name -> {key -> item} */
static unsigned long requests;

/* The fault applied to GetItem requests: `count` more times (0: every time). */
static struct {
    char mode[32]; /* "", "throttle", "not_found", "500", "slow", "access_denied", "garbage" */
    unsigned count;
    unsigned ms;
} fault;

/* The answer being made: status and body. */
struct answer {
    int status;
    char *body;
};

static struct fake_http http;
static uv_signal_t sigterm;

/* ---- the request ---- */

/* Headers as a JSON object of lower-case names (repeated ones joined with ","). */
static json_t *headers_json(const struct fake_http_req *req)
{
    json_t *h = json_object();
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *v = req->headers[i].value;
        const char *old = json_string_value(json_object_get(h, name));
        if (old) {
            size_t len = strlen(old) + strlen(v) + 2;
            char *joined = pl_malloc(len);
            snprintf(joined, len, "%s,%s", old, v);
            json_object_set_new(h, name, json_string(joined));
            pl_free(joined);
        } else {
            json_object_set_new(h, name, json_string(v));
        }
    }
    return h;
}

static void reply(struct answer *a, int status, const char *body)
{
    a->status = status;
    pl_free(a->body);
    a->body = pl_strdup(body);
}

static void reply_error(struct answer *a, int status, const char *type, const char *message)
{
    json_t *j = json_pack("{s:s,s:s}", "__type", type, "message", message);
    char *body = json_dumps(j, JSON_COMPACT);
    reply(a, status, body);
    free(body);
    json_decref(j);
}

static const char *json_header(void *headers, const char *name)
{
    return json_string_value(json_object_get(headers, name));
}

/* NULL when the signature is right (sigv4_verify.h); else the exception name, with the reason in
 * `why`. */
static const char *check_signature(json_t *h, const char *path, const char *body, size_t len,
                                   char *why, size_t whylen)
{
    const struct sigv4_verify_request req = {
        .method = "POST",
        .path = path,
        .header = json_header,
        .header_ud = h,
        .body = body,
        .body_len = len,
        .access_key_id = opt.access_key_id,
        .secret_access_key = opt.secret_access_key,
        .session_token = opt.session_token,
        .region = opt.region,
        .service = "dynamodb",
        .max_skew_s = MAX_SKEW_S,
    };
    struct sigv4_failure f;
    if (sigv4_verify(&req, &f))
        return NULL;
    snprintf(why, whylen, "%s", f.message);
    /* This double answers an x-amz-date off the scope's date as an incomplete signature. */
    return f.kind == SIGV4_DATE_SCOPE ? "IncompleteSignatureException" : f.type;
}

/* The item's key value under the key attribute, or NULL. */
static const char *key_of(json_t *key_or_item)
{
    return json_string_value(json_object_get(json_object_get(key_or_item, opt.key_attribute), "S"));
}

static bool fault_fires(const char *mode)
{
    if (strcmp(fault.mode, mode) != 0)
        return false;
    if (fault.count && --fault.count == 0)
        fault.mode[0] = '\0';
    return true;
}

/* Answer a request, logged first; `outcome` names what happened, for the log. */
static void on_request(void *ud, struct fake_http_req *r)
{
    (void)ud;
    requests++;
    const char *method = r->method, *path = r->target, *body = r->body;
    size_t len = r->body_len;
    char why[512] = "";
    struct answer a = {0};
    json_t *h = headers_json(r);
    const char *target = json_string_value(json_object_get(h, "x-amz-target"));
    json_t *req = json_loadb(body, len, 0, NULL);
    const char *table = json_string_value(json_object_get(req, "TableName"));
    const char *key = NULL;
    const char *outcome = "item";
    unsigned delay = 0;
    if (!strcmp(method, "GET") && !strcmp(path, "/healthz")) {
        reply(&a, 200, "{}");
        outcome = "health";
    } else if (!strcmp(method, "POST") && !strcmp(path, "/_fake/fault")) {
        snprintf(fault.mode, sizeof fault.mode, "%s",
                 json_string_value(json_object_get(req, "mode"))
                     ? json_string_value(json_object_get(req, "mode"))
                     : "");
        fault.count = (unsigned)json_integer_value(json_object_get(req, "count"));
        fault.ms = (unsigned)json_integer_value(json_object_get(req, "ms"));
        reply(&a, 200, "{}");
        outcome = "control";
    } else if (!strcmp(method, "POST") && !strcmp(path, "/_fake/item")) {
        json_t *items = json_object_get(tables, table ? table : "");
        json_t *item = json_object_get(req, "Item");
        if (!items || !key_of(item)) {
            reply(&a, 400, "{\"message\":\"unknown table or no key\"}");
        } else {
            json_object_set(items, key_of(item), item);
            reply(&a, 200, "{}");
        }
        outcome = "control";
    } else if (strcmp(method, "POST") != 0 || strcmp(path, "/") != 0) {
        reply_error(&a, 400, CORAL "UnknownOperationException", "no such path");
        outcome = "rejected";
    } else if (!json_string_value(json_object_get(h, "content-type")) ||
               strcmp(json_string_value(json_object_get(h, "content-type")),
                      "application/x-amz-json-1.0") != 0) {
        snprintf(why, sizeof why, "content-type must be application/x-amz-json-1.0");
        reply_error(&a, 400, CORAL "SerializationException", why);
        outcome = "rejected";
    } else {
        const char *exc = check_signature(h, path, body, len, why, sizeof why);
        if (exc) {
            char type[128];
            snprintf(type, sizeof type, CORAL "%s", exc);
            reply_error(&a, 400, type, why);
            outcome = "rejected";
        } else if (!target || (strcmp(target, "DynamoDB_20120810.GetItem") != 0 &&
                               strcmp(target, "DynamoDB_20120810.PutItem") != 0)) {
            snprintf(why, sizeof why, "X-Amz-Target %s is not GetItem or PutItem",
                     target ? target : "(none)");
            reply_error(&a, 400, CORAL "UnknownOperationException", why);
            outcome = "rejected";
        } else if (!json_is_object(req) || !table) {
            snprintf(why, sizeof why, "the body must be a JSON object with TableName");
            reply_error(&a, 400, CORAL "SerializationException", why);
            outcome = "rejected";
        } else if (!strcmp(target, "DynamoDB_20120810.PutItem")) {
            json_t *item = json_object_get(req, "Item");
            key = key_of(item);
            json_t *items = json_object_get(tables, table);
            if (!items) {
                reply_error(&a, 400, PREFIX "ResourceNotFoundException",
                            "Requested resource not found");
                outcome = "no_table";
            } else if (!key) {
                snprintf(why, sizeof why,
                         "One or more parameter values were invalid: Missing "
                         "the key %s in the item",
                         opt.key_attribute);
                reply_error(&a, 400, "com.amazon.coral.validate#ValidationException", why);
                outcome = "rejected";
            } else {
                json_object_set(items, key, item);
                reply(&a, 200, "{}");
                outcome = "put";
            }
        } else {
            json_t *k = json_object_get(req, "Key");
            key = key_of(k);
            json_t *items = json_object_get(tables, table);
            if (fault_fires("throttle")) {
                reply_error(&a, 400, PREFIX "ProvisionedThroughputExceededException",
                            "The level of configured provisioned throughput for the table was "
                            "exceeded. Consider increasing your provisioning level with the "
                            "UpdateTable API.");
                outcome = "throttled";
            } else if (fault_fires("500")) {
                reply_error(&a, 500, PREFIX "InternalServerError", "Internal server error");
                outcome = "server_error";
            } else if (fault_fires("access_denied")) {
                reply_error(&a, 400, PREFIX "AccessDeniedException",
                            "User: arn:aws:iam::123456789012:user/parley is not authorized to "
                            "perform: dynamodb:GetItem on resource: table");
                outcome = "access_denied";
            } else if (fault_fires("garbage")) {
                reply(&a, 200, "{\"Item\":{\"a\":{\"X\":1}}}");
                outcome = "garbage";
            } else if (fault_fires("not_found") || !items) {
                reply_error(&a, 400, PREFIX "ResourceNotFoundException",
                            "Requested resource not found");
                outcome = "no_table";
            } else if (json_object_size(k) != 1 || !key) {
                reply_error(&a, 400, "com.amazon.coral.validate#ValidationException",
                            "The provided key element does not match the schema");
                outcome = "rejected";
            } else {
                if (fault_fires("slow"))
                    delay = fault.ms ? fault.ms : 5000;
                json_t *item = json_object_get(items, key);
                json_t *out = item ? json_pack("{s:O}", "Item", item) : json_object();
                char *text = json_dumps(out, JSON_COMPACT);
                reply(&a, 200, text);
                free(text);
                json_decref(out);
                outcome = item ? "item" : "absent";
            }
        }
    }
    if (why[0] && strcmp(outcome, "rejected") == 0)
        fprintf(stderr, "REQUEST CHECK FAILED: %s\n", why);
    if (opt.log && strcmp(outcome, "health") != 0) {
        json_t *line =
            json_pack("{s:i,s:I,s:s,s:s,s:s?,s:s?,s:s?,s:s,s:O}", "n", (int)requests, "t_ms",
                      (json_int_t)fake_http_now_ms(), "method", method, "path", path, "target",
                      target, "table", table, "key", key, "outcome", outcome, "headers", h);
        json_object_del(json_object_get(line, "headers"), "authorization");
        char *text = json_dumps(line, JSON_COMPACT);
        fprintf(opt.log, "%s\n", text);
        fflush(opt.log);
        free(text);
        json_decref(line);
    }
    json_decref(req);
    json_decref(h);
    char headers[256];
    snprintf(headers, sizeof headers,
             "Content-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: fake-dynamodb-%lu\r\n"
             "x-amz-crc32: %lu\r\n",
             requests, crc32(0L, (const Bytef *)a.body, (uInt)strlen(a.body)));
    fake_http_reply(r, a.status, headers, a.body, strlen(a.body), delay);
    pl_free(a.body);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    fake_http_stop(&http);
    uv_close((uv_handle_t *)s, NULL);
}

/* Items from a file: {"TABLE":[item, ...], ...} in AttributeValue JSON. */
static int load_items(const char *path)
{
    json_error_t e;
    json_t *file = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(file)) {
        fprintf(stderr, "fake_dynamodb: %s:%d: %s\n", path, e.line, e.text);
        json_decref(file);
        return -1;
    }
    const char *table;
    json_t *list;
    json_object_foreach(file, table, list)
    {
        json_t *items = json_object_get(tables, table);
        if (!items) {
            items = json_object();
            json_object_set_new(tables, table, items);
        }
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            if (key_of(item))
                json_object_set(items, key_of(item), item);
        }
    }
    json_decref(file);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: fake_dynamodb [--port N] [--ready-file F] [--log F] [--table NAME]... "
                    "[--items FILE] [--key-attribute A] [--aws-access-key-id K] "
                    "[--aws-secret-access-key S] [--aws-session-token T] [--aws-region R]\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"ready-file", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"table", required_argument, NULL, 't'},
        {"items", required_argument, NULL, 'i'},
        {"key-attribute", required_argument, NULL, 'k'},
        {"aws-access-key-id", required_argument, NULL, 'a'},
        {"aws-secret-access-key", required_argument, NULL, 's'},
        {"aws-session-token", required_argument, NULL, 'T'},
        {"aws-region", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0},
    };
    int port = 0;
    const char *ready = NULL, *items = NULL;
    tables = json_object();
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = (int)strtol(optarg, NULL, 10);
            break;
        case 'r':
            ready = optarg;
            break;
        case 'l':
            opt.log = fopen(optarg, "a");
            break;
        case 't':
            json_object_set_new(tables, optarg, json_object());
            break;
        case 'i':
            items = optarg;
            break;
        case 'k':
            opt.key_attribute = optarg;
            break;
        case 'a':
            opt.access_key_id = optarg;
            break;
        case 's':
            opt.secret_access_key = optarg;
            break;
        case 'T':
            opt.session_token = optarg;
            break;
        case 'R':
            opt.region = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (items && load_items(items) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    const struct fake_http_options where = {.port = port};
    if (fake_http_listen(&http, loop, &where, on_request, NULL) != 0) {
        fprintf(stderr, "fake_dynamodb: cannot listen on port %d\n", port);
        return 1;
    }
    port = http.port;
    printf("%d\n", port);
    fflush(stdout);
    if (ready)
        fake_http_write_ready(ready, port);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_sigterm, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    json_decref(tables);
    if (opt.log)
        fclose(opt.log);
    return 0;
}
