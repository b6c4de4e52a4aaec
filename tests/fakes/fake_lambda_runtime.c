/* The Lambda Runtime API double; see fake_lambda_runtime.h and README.md. */
#include "tests/fakes/fake_lambda_runtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/alloc.h"

#define PREFIX     "/2018-06-01/runtime/"
#define INVOCATION PREFIX "invocation/"

struct fake_lambda_event {
    struct fake_lambda_event *next;
    char request_id[160];
    int64_t deadline_ms;
    char *trace_id;
    char *body;
    size_t len;
    bool answered;
};

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_line(struct fake_lambda_runtime *f, const struct fake_http_req *req, int status)
{
    json_t *line =
        json_pack("{s:i,s:I,s:s,s:s,s:i}", "n", (int)++f->requests, "t_ms", (json_int_t)req->t_ms,
                  "method", req->method, "path", req->path, "status", status);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pl_buf_printf(&f->log, "%s\n", text);
    free(text);
    json_decref(line);
}

static void answer_json(struct fake_lambda_runtime *f, struct fake_http_req *req, int status,
                        const char *body)
{
    log_line(f, req, status);
    fake_http_reply(req, status, "Content-Type: application/json\r\n", body, strlen(body), 0);
}

static void refuse(struct fake_lambda_runtime *f, struct fake_http_req *req, int status,
                   const char *type, const char *why)
{
    f->refused++;
    fprintf(stderr, "REQUEST CHECK FAILED: %s %s: %s\n", req->method, req->path, why);
    char body[512];
    snprintf(body, sizeof body, "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", why, type);
    answer_json(f, req, status, body);
}

static void serve_next(struct fake_lambda_runtime *f, struct fake_http_req *req)
{
    if (f->fail_next) {
        answer_json(f, req, 500,
                    "{\"errorMessage\":\"Internal error\",\"errorType\":\"ServiceException\"}");
        return;
    }
    struct fake_lambda_event *e = f->_queue;
    if (!e) {
        f->_waiting = req; /* answered by the next push or fail */
        return;
    }
    f->_queue = e->next;
    if (!f->_queue)
        f->_queue_tail = NULL;
    e->next = f->_served;
    f->_served = e;
    f->served++;
    char headers[1024];
    int n = snprintf(headers, sizeof headers,
                     "Content-Type: application/json\r\n"
                     "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                     "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: " FAKE_LAMBDA_FUNCTION_ARN "\r\n",
                     e->request_id, (long long)e->deadline_ms);
    if (e->trace_id)
        snprintf(headers + n, sizeof headers - (size_t)n, "Lambda-Runtime-Trace-Id: %s\r\n",
                 e->trace_id);
    log_line(f, req, 200);
    fake_http_reply(req, 200, headers, e->body, e->len, 0);
}

/* An error report must be Lambda's JSON shape. */
static bool error_body_ok(const struct fake_http_req *req)
{
    json_error_t je;
    json_t *root = json_loadb(req->body, req->body_len, 0, &je);
    bool ok = json_is_object(root) && json_is_string(json_object_get(root, "errorMessage")) &&
              json_is_string(json_object_get(root, "errorType")) &&
              json_is_array(json_object_get(root, "stackTrace"));
    json_decref(root);
    return ok;
}

static void record(struct fake_lambda_runtime *f, struct fake_http_req *req,
                   enum fake_lambda_kind kind, const char *id)
{
    if (f->n_records == FAKE_LAMBDA_RECORDS_MAX) {
        refuse(f, req, 413, "TooManyRecords", "the double's record table is full");
        return;
    }
    struct fake_lambda_record *r = &f->records[f->n_records++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    snprintf(r->request_id, sizeof r->request_id, "%s", id);
    r->body = pl_strndup(req->body, req->body_len);
    r->len = req->body_len;
    fake_http_header(req, "Content-Type", r->content_type, sizeof r->content_type);
    fake_http_header(req, "Lambda-Runtime-Function-Error-Type", r->error_type,
                     sizeof r->error_type);
    r->t_epoch_ms = epoch_ms();
    answer_json(f, req, 202, "{\"status\":\"OK\"}");
}

static void on_request(void *ud, struct fake_http_req *req)
{
    struct fake_lambda_runtime *f = ud;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (post && f->post_status) {
        answer_json(f, req, f->post_status,
                    "{\"errorMessage\":\"Internal error\",\"errorType\":\"ServiceException\"}");
        return;
    }
    if (strcmp(req->path, INVOCATION "next") == 0 && get) {
        f->nexts++;
        serve_next(f, req);
        return;
    }
    if (strcmp(req->path, PREFIX "init/error") == 0 && post) {
        if (f->served || f->nexts) {
            refuse(f, req, 403, "InvalidStateTransition", "init/error after the first /next");
            return;
        }
        if (!error_body_ok(req)) {
            refuse(f, req, 400, "InvalidRequestContent", "an error body without its fields");
            return;
        }
        record(f, req, FAKE_LAMBDA_INIT_ERROR, "");
        return;
    }
    if (strncmp(req->path, INVOCATION, strlen(INVOCATION)) == 0 && post) {
        const char *id = req->path + strlen(INVOCATION);
        const char *slash = strchr(id, '/');
        if (!slash || (strcmp(slash, "/response") != 0 && strcmp(slash, "/error") != 0)) {
            refuse(f, req, 404, "NotFound", "no such path");
            return;
        }
        char rid[160];
        snprintf(rid, sizeof rid, "%.*s", (int)(slash - id), id);
        struct fake_lambda_event *e = f->_served;
        while (e && strcmp(e->request_id, rid) != 0)
            e = e->next;
        if (!e) {
            refuse(f, req, 400, "InvalidRequestID", "no invocation has this request id");
            return;
        }
        if (e->answered) {
            refuse(f, req, 400, "InvalidStateTransition", "the invocation was already answered");
            return;
        }
        bool is_error = strcmp(slash, "/error") == 0;
        if (is_error && !error_body_ok(req)) {
            refuse(f, req, 400, "InvalidRequestContent", "an error body without its fields");
            return;
        }
        e->answered = true;
        record(f, req, is_error ? FAKE_LAMBDA_ERROR : FAKE_LAMBDA_RESPONSE, rid);
        return;
    }
    refuse(f, req, 404, "NotFound", "no such path or method");
}

int fake_lambda_runtime_start(struct fake_lambda_runtime *f, uv_loop_t *loop)
{
    memset(f, 0, sizeof(*f));
    pl_buf_init(&f->log, 4 * 1024 * 1024);
    int rc = fake_http_start(&f->_http, loop, on_request, f);
    if (rc == 0)
        snprintf(f->api, sizeof f->api, "127.0.0.1:%d", f->_http.port);
    return rc;
}

void fake_lambda_runtime_push(struct fake_lambda_runtime *f, const char *request_id,
                              int64_t deadline_ms, const char *trace_id, const char *body,
                              size_t len)
{
    struct fake_lambda_event *e = pl_calloc(1, sizeof(*e));
    snprintf(e->request_id, sizeof e->request_id, "%s", request_id);
    e->deadline_ms = deadline_ms;
    e->trace_id = trace_id ? pl_strdup(trace_id) : NULL;
    e->body = pl_strndup(body, len);
    e->len = len;
    if (f->_queue_tail)
        f->_queue_tail->next = e;
    else
        f->_queue = e;
    f->_queue_tail = e;
    struct fake_http_req *w = f->_waiting;
    if (w) {
        f->_waiting = NULL;
        serve_next(f, w);
    }
}

void fake_lambda_runtime_fail(struct fake_lambda_runtime *f)
{
    f->fail_next = true;
    struct fake_http_req *w = f->_waiting;
    if (w) {
        f->_waiting = NULL;
        serve_next(f, w);
    }
}

const struct fake_lambda_record *fake_lambda_runtime_record(const struct fake_lambda_runtime *f,
                                                            const char *request_id)
{
    for (size_t i = 0; i < f->n_records; i++)
        if (strcmp(f->records[i].request_id, request_id) == 0)
            return &f->records[i];
    return NULL;
}

void fake_lambda_runtime_stop(struct fake_lambda_runtime *f)
{
    f->_waiting = NULL;
    fake_http_stop(&f->_http);
}

static void free_events(struct fake_lambda_event *e)
{
    while (e) {
        struct fake_lambda_event *next = e->next;
        pl_free(e->trace_id);
        pl_free(e->body);
        pl_free(e);
        e = next;
    }
}

void fake_lambda_runtime_cleanup(struct fake_lambda_runtime *f)
{
    free_events(f->_queue);
    free_events(f->_served);
    f->_queue = f->_queue_tail = f->_served = NULL;
    for (size_t i = 0; i < f->n_records; i++)
        pl_free(f->records[i].body);
    f->n_records = 0;
    pl_buf_cleanup(&f->log);
}
