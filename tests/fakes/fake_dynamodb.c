/* fake_dynamodb: a test double of Amazon DynamoDB's JSON 1.0 API (PROTOCOLS.md 6F) for GetItem
 * and PutItem, as a process on a loopback port (README.md "fake_dynamodb"). Every request is
 * checked as DynamoDB would: the SigV4 signature re-computed with the server's own signer from
 * the request as received and the test keys (service dynamodb), X-Amz-Target, the content type,
 * the body's table and key. A wrong one gets DynamoDB's 400 error JSON and a line
 * `REQUEST CHECK FAILED: ...` on stderr. Tables hold items loaded from a JSON file or put by the
 * test (PutItem, or the unsigned POST /_fake/item); faults are set with POST /_fake/fault. Each
 * request is one JSON line in the --log file. One request per connection. */
#include <arpa/inet.h>
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
#include "tests/fakes/sigv4_verify.h"

#define PREFIX     "com.amazonaws.dynamodb.v20120810#"
#define CORAL      "com.amazon.coral.service#"
#define MAX_SKEW_S 300
#define BODY_MAX   (8 * 1024 * 1024)

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

struct peer {
    uv_tcp_t tcp;
    uv_timer_t delay;
    uv_write_t wr;
    struct pl_buf in, out;
    bool answered;
    int closes;
};

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    if (--p->closes > 0)
        return;
    pl_buf_cleanup(&p->in);
    pl_buf_cleanup(&p->out);
    pl_free(p);
}

static void peer_close(struct peer *p)
{
    if (uv_is_closing((uv_handle_t *)&p->tcp))
        return;
    uv_close((uv_handle_t *)&p->tcp, on_closed);
    uv_close((uv_handle_t *)&p->delay, on_closed);
}

/* ---- the request ---- */

/* Headers as a JSON object of lower-case names (repeated ones joined with ","). */
static json_t *parse_headers(const char *head)
{
    json_t *h = json_object();
    for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2, *colon = strchr(l, ':'), *end = strstr(l, "\r\n");
        if (!colon || !end || colon > end)
            continue;
        char name[256];
        size_t nl = (size_t)(colon - l) < sizeof(name) - 1 ? (size_t)(colon - l) : sizeof(name) - 1;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)(l[i] >= 'A' && l[i] <= 'Z' ? l[i] + 32 : l[i]);
        name[nl] = '\0';
        const char *v = colon + 1;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        size_t vl = (size_t)(end - v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        const char *old = json_string_value(json_object_get(h, name));
        if (old) {
            char *joined = pl_malloc(strlen(old) + vl + 2);
            snprintf(joined, strlen(old) + vl + 2, "%s,%.*s", old, (int)vl, v);
            json_object_set_new(h, name, json_string(joined));
            pl_free(joined);
        } else {
            json_object_set_new(h, name, json_stringn(v, vl));
        }
    }
    return h;
}

static void reply(struct peer *p, int status, const char *body)
{
    unsigned long crc = crc32(0L, (const Bytef *)body, (uInt)strlen(body));
    pl_buf_printf(&p->out,
                  "HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\n"
                  "x-amzn-RequestId: fake-dynamodb-%lu\r\nx-amz-crc32: %lu\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                  status,
                  status == 200   ? "OK"
                  : status == 500 ? "Internal Server Error"
                                  : "Bad Request",
                  requests, crc, strlen(body), body);
}

static void reply_error(struct peer *p, int status, const char *type, const char *message)
{
    json_t *j = json_pack("{s:s,s:s}", "__type", type, "message", message);
    char *body = json_dumps(j, JSON_COMPACT);
    reply(p, status, body);
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

/* Answer `p`; `outcome` names what happened, for the log. Returns how long to hold the answer
 * back (a slow reply), in ms. */
static unsigned handle(struct peer *p, const char *head, const char *body, size_t len)
{
    requests++;
    char method[16] = "", path[1024] = "", why[512] = "";
    sscanf(head, "%15s %1023s", method, path);
    json_t *h = parse_headers(head);
    const char *target = json_string_value(json_object_get(h, "x-amz-target"));
    json_t *req = json_loadb(body, len, 0, NULL);
    const char *table = json_string_value(json_object_get(req, "TableName"));
    const char *key = NULL;
    const char *outcome = "item";
    unsigned delay = 0;
    if (!strcmp(method, "GET") && !strcmp(path, "/healthz")) {
        reply(p, 200, "{}");
        outcome = "health";
    } else if (!strcmp(method, "POST") && !strcmp(path, "/_fake/fault")) {
        snprintf(fault.mode, sizeof fault.mode, "%s",
                 json_string_value(json_object_get(req, "mode"))
                     ? json_string_value(json_object_get(req, "mode"))
                     : "");
        fault.count = (unsigned)json_integer_value(json_object_get(req, "count"));
        fault.ms = (unsigned)json_integer_value(json_object_get(req, "ms"));
        reply(p, 200, "{}");
        outcome = "control";
    } else if (!strcmp(method, "POST") && !strcmp(path, "/_fake/item")) {
        json_t *items = json_object_get(tables, table ? table : "");
        json_t *item = json_object_get(req, "Item");
        if (!items || !key_of(item)) {
            reply(p, 400, "{\"message\":\"unknown table or no key\"}");
        } else {
            json_object_set(items, key_of(item), item);
            reply(p, 200, "{}");
        }
        outcome = "control";
    } else if (strcmp(method, "POST") != 0 || strcmp(path, "/") != 0) {
        reply_error(p, 400, CORAL "UnknownOperationException", "no such path");
        outcome = "rejected";
    } else if (!json_string_value(json_object_get(h, "content-type")) ||
               strcmp(json_string_value(json_object_get(h, "content-type")),
                      "application/x-amz-json-1.0") != 0) {
        snprintf(why, sizeof why, "content-type must be application/x-amz-json-1.0");
        reply_error(p, 400, CORAL "SerializationException", why);
        outcome = "rejected";
    } else {
        const char *exc = check_signature(h, path, body, len, why, sizeof why);
        if (exc) {
            char type[128];
            snprintf(type, sizeof type, CORAL "%s", exc);
            reply_error(p, 400, type, why);
            outcome = "rejected";
        } else if (!target || (strcmp(target, "DynamoDB_20120810.GetItem") != 0 &&
                               strcmp(target, "DynamoDB_20120810.PutItem") != 0)) {
            snprintf(why, sizeof why, "X-Amz-Target %s is not GetItem or PutItem",
                     target ? target : "(none)");
            reply_error(p, 400, CORAL "UnknownOperationException", why);
            outcome = "rejected";
        } else if (!json_is_object(req) || !table) {
            snprintf(why, sizeof why, "the body must be a JSON object with TableName");
            reply_error(p, 400, CORAL "SerializationException", why);
            outcome = "rejected";
        } else if (!strcmp(target, "DynamoDB_20120810.PutItem")) {
            json_t *item = json_object_get(req, "Item");
            key = key_of(item);
            json_t *items = json_object_get(tables, table);
            if (!items) {
                reply_error(p, 400, PREFIX "ResourceNotFoundException",
                            "Requested resource not found");
                outcome = "no_table";
            } else if (!key) {
                snprintf(why, sizeof why,
                         "One or more parameter values were invalid: Missing "
                         "the key %s in the item",
                         opt.key_attribute);
                reply_error(p, 400, "com.amazon.coral.validate#ValidationException", why);
                outcome = "rejected";
            } else {
                json_object_set(items, key, item);
                reply(p, 200, "{}");
                outcome = "put";
            }
        } else {
            json_t *k = json_object_get(req, "Key");
            key = key_of(k);
            json_t *items = json_object_get(tables, table);
            if (fault_fires("throttle")) {
                reply_error(p, 400, PREFIX "ProvisionedThroughputExceededException",
                            "The level of configured provisioned throughput for the table was "
                            "exceeded. Consider increasing your provisioning level with the "
                            "UpdateTable API.");
                outcome = "throttled";
            } else if (fault_fires("500")) {
                reply_error(p, 500, PREFIX "InternalServerError", "Internal server error");
                outcome = "server_error";
            } else if (fault_fires("access_denied")) {
                reply_error(p, 400, PREFIX "AccessDeniedException",
                            "User: arn:aws:iam::123456789012:user/parley is not authorized to "
                            "perform: dynamodb:GetItem on resource: table");
                outcome = "access_denied";
            } else if (fault_fires("garbage")) {
                reply(p, 200, "{\"Item\":{\"a\":{\"X\":1}}}");
                outcome = "garbage";
            } else if (fault_fires("not_found") || !items) {
                reply_error(p, 400, PREFIX "ResourceNotFoundException",
                            "Requested resource not found");
                outcome = "no_table";
            } else if (json_object_size(k) != 1 || !key) {
                reply_error(p, 400, "com.amazon.coral.validate#ValidationException",
                            "The provided key element does not match the schema");
                outcome = "rejected";
            } else {
                if (fault_fires("slow"))
                    delay = fault.ms ? fault.ms : 5000;
                json_t *item = json_object_get(items, key);
                json_t *out = item ? json_pack("{s:O}", "Item", item) : json_object();
                char *text = json_dumps(out, JSON_COMPACT);
                reply(p, 200, text);
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
                      (json_int_t)now_ms(), "method", method, "path", path, "target", target,
                      "table", table, "key", key, "outcome", outcome, "headers", h);
        json_object_del(json_object_get(line, "headers"), "authorization");
        char *text = json_dumps(line, JSON_COMPACT);
        fprintf(opt.log, "%s\n", text);
        fflush(opt.log);
        free(text);
        json_decref(line);
    }
    json_decref(req);
    json_decref(h);
    p->answered = true;
    return delay;
}

static void on_written(uv_write_t *wr, int status)
{
    (void)status;
    peer_close(wr->data);
}

static void send_out(struct peer *p)
{
    uv_buf_t b = uv_buf_init(p->out.data, (unsigned)p->out.len);
    p->wr.data = p;
    if (uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0)
        peer_close(p);
}

static void on_delay(uv_timer_t *t)
{
    send_out(t->data);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    buf->base = pl_malloc(hint);
    buf->len = hint;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = s->data;
    if (n > 0 && pl_buf_append(&p->in, buf->base, (size_t)n))
        n = UV_ENOBUFS;
    pl_free(buf->base);
    if (n < 0) {
        peer_close(p);
        return;
    }
    const char *end = p->in.data ? strstr(p->in.data, "\r\n\r\n") : NULL;
    if (p->answered || !end)
        return;
    size_t head_len = (size_t)(end + 4 - p->in.data), want = head_len;
    json_t *h = parse_headers(p->in.data);
    const char *cl = json_string_value(json_object_get(h, "content-length"));
    if (cl)
        want += strtoul(cl, NULL, 10);
    json_decref(h);
    if (p->in.len < want)
        return;
    uv_read_stop(s);
    char *head = pl_strndup(p->in.data, head_len);
    unsigned delay = handle(p, head, p->in.data + head_len, want - head_len);
    pl_free(head);
    if (delay)
        uv_timer_start(&p->delay, on_delay, delay, 0);
    else
        send_out(p);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct peer *p = pl_calloc(1, sizeof(*p));
    pl_buf_init(&p->in, BODY_MAX);
    pl_buf_init(&p->out, BODY_MAX);
    uv_tcp_init(loop, &p->tcp);
    uv_timer_init(loop, &p->delay);
    p->tcp.data = p->delay.data = p;
    p->closes = 2;
    if (uv_accept(srv, (uv_stream_t *)&p->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
        peer_close(p);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data ? on_closed : NULL); /* peers' handles carry their peer */
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_signal_stop(s);
    uv_walk(loop, on_walk_close, NULL);
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
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 128, on_connection) != 0) {
        fprintf(stderr, "fake_dynamodb: cannot listen on port %d\n", port);
        return 1;
    }
    struct sockaddr_storage name;
    int len = sizeof(name);
    uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len);
    port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    printf("%d\n", port);
    fflush(stdout);
    if (ready) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
            rename(tmp, ready);
        }
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_sigterm, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    json_decref(tables);
    if (opt.log)
        fclose(opt.log);
    return 0;
}
