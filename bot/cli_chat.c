/* `parley chat`; see cli_chat.h. Blocking by design: this is a client tool, not the server. */
#include "bot/cli_chat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/wsc.h"

struct chat_cli {
    struct wsc *ws;
    bool json; /* print every frame raw */
    int timeout_ms;
    long next_id;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: parley chat URL [--token T] [--message TEXT]... [--json] [--timeout-ms N]\n\n"
            "Talk to a Parley server as a caller. URL is the server (http://127.0.0.1:8080) or\n"
            "its WebSocket (ws://127.0.0.1:8080/v1/chat). Each --message is sent in turn;\n"
            "without any, each line of standard input is. Answers stream to standard output;\n"
            "the session id and its token go to standard error: pass --token T to continue\n"
            "the same conversation later.\n\n"
            "  --token T        a caller token (from ready, or from POST /v1/sessions)\n"
            "  --message TEXT   send TEXT (repeatable)\n"
            "  --json           print every protocol frame as received, one per line\n"
            "  --timeout-ms N   give up when the server is silent this long (default 60000)\n"
            "Exit status: 0 done, 1 error, 2 usage, 3 retryable error (try again later).\n");
}

/* http://h:p[/...] or ws://h:p[/path] -> ws://h:p/v1/chat unless a path is given. */
static char *ws_url(const char *url)
{
    const char *rest = url;
    if (!strncmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncmp(url, "ws://", 5))
        rest = url + 5;
    else if (strstr(url, "://"))
        return NULL; /* https/wss are not supported by this client */
    const char *slash = strchr(rest, '/');
    size_t n = strlen(rest) + 16;
    char *out = pl_malloc(n);
    if (!slash || !slash[1])
        snprintf(out, n, "ws://%.*s/v1/chat", slash ? (int)(slash - rest) : (int)strlen(rest),
                 rest);
    else
        snprintf(out, n, "ws://%s", rest);
    return out;
}

/* Send `j` (taken; NULL when json_pack refused a string that is not UTF-8). 0 or -1. */
static int send_json(struct chat_cli *c, json_t *j)
{
    if (!j) {
        fprintf(stderr, "parley chat: the text is not valid UTF-8\n");
        return -1;
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int rc = wsc_send_text(c->ws, s, strlen(s));
    if (rc)
        fprintf(stderr, "parley chat: cannot send: connection lost\n");
    free(s);
    return rc;
}

/* Next frame as JSON; NULL on timeout/close (printed). */
static json_t *recv_frame(struct chat_cli *c)
{
    char *msg;
    size_t len;
    int op;
    int rc = wsc_recv(c->ws, c->timeout_ms, &msg, &len, &op);
    if (rc != PL_OK) {
        fprintf(stderr, "parley chat: %s\n",
                rc == PL_ETIMEDOUT ? "the server did not answer in time" : "connection closed");
        return NULL;
    }
    if (c->json) {
        fwrite(msg, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    json_t *j = json_loadb(msg, len, 0, NULL);
    pl_free(msg);
    if (!j)
        fprintf(stderr, "parley chat: the server sent something that is not JSON\n");
    return j;
}

static const char *type_of(json_t *j)
{
    const char *t = json_string_value(json_object_get(j, "type"));
    return t ? t : "";
}

/* The string member `key` of `j`, or "" (never NULL, for printing). */
static const char *str_of(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

/* An error frame: print it; the exit status it implies. */
static int report_error(json_t *j)
{
    fprintf(stderr, "error %s: %s\n", str_of(j, "code"), str_of(j, "message"));
    return json_is_true(json_object_get(j, "retryable")) ? 3 : 1;
}

static void print_history(struct chat_cli *c, json_t *h)
{
    if (c->json)
        return;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(h, "messages"), i, m)
    {
        fprintf(stderr, "[%s] %s\n", str_of(m, "role"), str_of(m, "text"));
    }
}

/* Send one message and print its answer. 0, or an exit status. */
static int ask(struct chat_cli *c, const char *text)
{
    char id[32];
    snprintf(id, sizeof(id), "cli-%ld", ++c->next_id);
    if (send_json(c, json_pack("{s:s,s:s,s:s}", "type", "message", "id", id, "text", text)))
        return 1;
    long turn = -1;
    for (;;) {
        json_t *j = recv_frame(c);
        if (!j)
            return 1;
        const char *t = type_of(j);
        int rc = -1;
        if (!strcmp(t, "ack")) {
            const char *acked = json_string_value(json_object_get(j, "id"));
            if (acked && !strcmp(acked, id))
                turn = (long)json_integer_value(json_object_get(j, "turn"));
        } else if (!strcmp(t, "delta") && !c->json) {
            if (json_integer_value(json_object_get(j, "turn")) == turn) {
                fputs(str_of(j, "text"), stdout);
                fflush(stdout);
            }
        } else if (!strcmp(t, "turn_end") &&
                   json_integer_value(json_object_get(j, "turn")) == turn) {
            const char *stop = json_string_value(json_object_get(j, "stop_reason"));
            if (!c->json)
                fputc('\n', stdout);
            if (stop && strcmp(stop, "end_turn") != 0)
                fprintf(stderr, "(answer ended: %s)\n", stop);
            fflush(stdout);
            rc = 0;
        } else if (!strcmp(t, "error")) {
            rc = report_error(j);
        } else if (!strcmp(t, "agent_message") && !c->json) {
            printf("[agent] %s\n", str_of(j, "text"));
        }
        json_decref(j);
        if (rc >= 0)
            return rc;
    }
}

int cli_chat_main(int argc, char **argv)
{
    struct chat_cli c = {.timeout_ms = 60000};
    const char *url = NULL, *token = NULL;
    const char **messages = pl_calloc((size_t)argc + 1, sizeof(*messages));
    size_t n_messages = 0;
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (!strcmp(a, "--json")) {
            c.json = true;
        } else if (!strcmp(a, "--token") || !strcmp(a, "--message") || !strcmp(a, "--timeout-ms")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "parley chat: %s needs a value\n", a);
                goto out;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--token")) {
                token = v;
            } else if (!strcmp(a, "--message")) {
                messages[n_messages++] = v;
            } else {
                char *end;
                long ms = strtol(v, &end, 10);
                if (*end || ms <= 0) {
                    fprintf(stderr, "parley chat: --timeout-ms expects a positive number\n");
                    goto out;
                }
                c.timeout_ms = (int)ms;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "parley chat: unknown option %s (see --help)\n", a);
            goto out;
        } else if (!url) {
            url = a;
        } else {
            fprintf(stderr, "parley chat: unexpected argument %s\n", a);
            goto out;
        }
    }
    if (!url) {
        usage(stderr);
        goto out;
    }
    char *wurl = ws_url(url);
    if (!wurl) {
        fprintf(stderr, "parley chat: only http:// and ws:// URLs are supported\n");
        goto out;
    }
    char err[256];
    c.ws = wsc_connect(wurl, "parley.chat.v1", 10000, err, sizeof(err));
    pl_free(wurl);
    status = 1;
    if (!c.ws) {
        fprintf(stderr, "parley chat: %s\n", err);
        goto out;
    }
    json_t *hello = json_pack("{s:s}", "type", "hello");
    if (token)
        json_object_set_new(hello, "token", json_string(token));
    if (send_json(&c, hello))
        goto out;
    json_t *j;
    while ((j = recv_frame(&c))) {
        const char *t = type_of(j);
        if (!strcmp(t, "error")) {
            status = report_error(j);
            json_decref(j);
            goto out;
        }
        if (!strcmp(t, "ready") && !c.json)
            fprintf(stderr, "session %s\ntoken %s\n", str_of(j, "session_id"), str_of(j, "token"));
        bool done = !strcmp(t, "history");
        if (done)
            print_history(&c, j);
        json_decref(j);
        if (done)
            break;
    }
    if (!j)
        goto out;
    status = 0;
    if (n_messages) {
        for (size_t i = 0; i < n_messages && status == 0; i++)
            status = ask(&c, messages[i]);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (status == 0 && (len = getline(&line, &cap, stdin)) > 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (len)
                status = ask(&c, line);
        }
        free(line);
    }
out:
    wsc_close(c.ws);
    pl_free(messages);
    return status;
}
