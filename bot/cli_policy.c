/* `parley policy`; see cli_policy.h. Blocking by design (libcurl's easy interface): this is a
 * client tool, not the server. */
#include "bot/cli_policy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bot/auth_token.h"
#include "bot/cli_admin.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "sessions/policy_store.h"

#define FILE_MAX (1024 * 1024) /* read this much of a file at most: the server takes 64 KiB */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: parley policy put FILE.json... [--url URL] [--jwt-secret S]\n"
            "       parley policy get NUMBER [--url URL] [--jwt-secret S]\n\n"
            "Store policy records (one JSON object per file, keyed by its policy_number) or\n"
            "print one, through the server's HTTP API with an admin token minted from the\n"
            "server's secret.\n\n"
            "  --url URL        the server (default: env PARLEY_URL, else http://127.0.0.1:8080)\n"
            "  --jwt-secret S   the server's secret (default: env PARLEY_JWT_SECRET)\n"
            "Exit status: 0 done, 1 a file or a request failed, 2 usage.\n");
}

struct client {
    const char *url;
    char *token;
    CURL *curl;
};

/* One request; the status (0 when the server could not be reached, said on stderr), the body
 * in `out`. */
static long request(struct client *c, const char *method, const char *number, const char *body,
                    struct pl_buf *out)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/v1/policies/%s", c->url, number);
    char auth[AUTH_TOKEN_MAX_LEN + 32];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    CURL *k = c->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, cli_curl_to_buf);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, 30000L);
    if (body) {
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long status = 0;
    CURLcode rc = curl_easy_perform(k);
    if (rc == CURLE_OK)
        curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "parley policy: %s: %s\n", c->url, curl_easy_strerror(rc));
    curl_slist_free_all(h);
    return status;
}

/* "CODE: message" of an error answer, or its first bytes. */
static void describe_error(long status, const struct pl_buf *body, char *out, size_t cap)
{
    json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (json_is_object(e))
        snprintf(out, cap, "%ld %s: %s", status, json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "message")));
    else
        snprintf(out, cap, "HTTP %ld", status);
    json_decref(j);
}

/* The whole file as a string (new), or NULL with the reason in `why`. */
static char *read_file(const char *path, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, cap, "cannot be read");
        return NULL;
    }
    char *text = pl_malloc(FILE_MAX + 1);
    size_t n = fread(text, 1, FILE_MAX + 1, f);
    bool failed = ferror(f);
    fclose(f);
    if (failed || n > FILE_MAX) {
        snprintf(why, cap, failed ? "cannot be read" : "is larger than 1 MiB");
        pl_free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* Store one file's record: true when stored (a line says so either way). */
static bool put_one(struct client *c, const char *path)
{
    char why[512];
    char *text = read_file(path, why, sizeof(why));
    if (!text) {
        printf("%s: failed: the file %s\n", path, why);
        return false;
    }
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    json_t *num = json_object_get(j, "policy_number");
    const char *number = json_string_value(num);
    bool ok = false;
    if (!j) {
        printf("%s: failed: not JSON (line %d: %s)\n", path, jerr.line, jerr.text);
    } else if (!json_is_object(j)) {
        printf("%s: failed: not a JSON object\n", path);
    } else if (!number) {
        printf("%s: failed: no policy_number (a string naming the policy)\n", path);
    } else if (!sess_policy_number_valid(number)) {
        printf("%s: failed: policy_number \"%.80s\" is not 1 to 64 characters of "
               "A-Z a-z 0-9 - _\n",
               path, number);
    } else {
        struct pl_buf body;
        pl_buf_init(&body, FILE_MAX);
        long status = request(c, "PUT", number, text, &body);
        if (status == 200 || status == 201) {
            printf("%s: stored %s (%s)\n", path, number, status == 201 ? "new" : "replaced");
            ok = true;
        } else if (status) {
            describe_error(status, &body, why, sizeof(why));
            printf("%s: failed: %s\n", path, why);
        } else {
            printf("%s: failed: the server could not be reached\n", path);
        }
        pl_buf_cleanup(&body);
    }
    json_decref(j);
    pl_free(text);
    return ok;
}

static int get_one(struct client *c, const char *number)
{
    if (!sess_policy_number_valid(number)) {
        fprintf(stderr,
                "parley policy: \"%s\" is not a policy number (1 to 64 characters of "
                "A-Z a-z 0-9 - _)\n",
                number);
        return 2;
    }
    struct pl_buf body;
    pl_buf_init(&body, FILE_MAX);
    long status = request(c, "GET", number, NULL, &body);
    int rc = 1;
    if (status == 200) {
        fwrite(body.data, 1, body.len, stdout);
        putchar('\n');
        rc = 0;
    } else if (status) {
        char why[512];
        describe_error(status, &body, why, sizeof(why));
        fprintf(stderr, "parley policy: %s: %s\n", number, why);
    }
    pl_buf_cleanup(&body);
    return rc;
}

int cli_policy_main(int argc, char **argv)
{
    const char *url = getenv("PARLEY_URL"), *secret = getenv("PARLEY_JWT_SECRET");
    const char *verb = argc > 1 ? argv[1] : NULL;
    if (!verb || !strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        usage(verb ? stdout : stderr);
        return verb ? 0 : 2;
    }
    if (strcmp(verb, "put") != 0 && strcmp(verb, "get") != 0) {
        fprintf(stderr, "parley policy: unknown command \"%s\" (put or get)\n", verb);
        return 2;
    }
    const char **args = pl_calloc((size_t)argc, sizeof(*args));
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--url") || !strcmp(a, "--jwt-secret")) {
            if (i + 1 == argc) {
                fprintf(stderr, "parley policy: %s needs a value\n", a);
                pl_free(args);
                return 2;
            }
            *(!strcmp(a, "--url") ? &url : &secret) = argv[++i];
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            pl_free(args);
            return 0;
        } else {
            args[n++] = a;
        }
    }
    int rc = 2;
    if (n == 0 || (!strcmp(verb, "get") && n != 1)) {
        fprintf(stderr, !strcmp(verb, "get") ? "parley policy get: one NUMBER\n"
                                             : "parley policy put: at least one FILE.json\n");
    } else if (cli_secret_ok("parley policy", secret)) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        struct client c = {.url = url && *url ? url : "http://127.0.0.1:8080",
                           .token = cli_admin_token(secret),
                           .curl = curl_easy_init()};
        if (!strcmp(verb, "get")) {
            rc = get_one(&c, args[0]);
        } else {
            size_t stored = 0;
            for (size_t i = 0; i < n; i++)
                stored += put_one(&c, args[i]);
            printf("%zu of %zu file%s stored, %zu failed\n", stored, n, n == 1 ? "" : "s",
                   n - stored);
            rc = stored == n ? 0 : 1;
        }
        curl_easy_cleanup(c.curl);
        pl_free(c.token);
        curl_global_cleanup();
    }
    pl_free(args);
    return rc;
}
