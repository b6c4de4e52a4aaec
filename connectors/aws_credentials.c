/* AWS credentials (aws_credentials.h): the source is chosen once, at creation, in the SDKs'
 * order; the environment and the shared files give static keys, the container endpoint and
 * instance metadata are fetched on the loop and fetched again before they expire.
 *
 * Every fetch step starts from `timer`'s callback, never from an HTTP callback (the client
 * refuses a start from inside its own callbacks), and waiters are called from `notify`'s
 * callback, so that they may start their own requests. */
#include "connectors/aws_credentials.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "connectors/aws_credentials_json.h"
#include "connectors/aws_profile.h"

#define RETRY_BASE_MS      1000u
#define RETRY_MAX_MS       60000u
#define FETCH_TIMEOUT_MS   1000u /* the SDKs' timeout for both endpoints */
#define IMDS_TOKEN_TTL_S   21600 /* asked for in the token PUT */
#define SHARED_FILE_MAX    (1024 * 1024)
#define TOKEN_FILE_MAX     16384
#define CONTAINER_HOST_URL "http://169.254.170.2"
#define IMDS_DEFAULT_URL   "http://169.254.169.254"
#define IMDS_IPV6_URL      "http://[fd00:ec2::254]"
#define IMDS_TOKEN_PATH    "/latest/api/token"
#define IMDS_ROLE_PATH     "/latest/meta-data/iam/security-credentials/"

enum source { SRC_ENV, SRC_PROFILE, SRC_CONTAINER, SRC_IMDS };

/* What the transfer or file read in flight is for; STEP_IDLE when none is. */
enum step {
    STEP_IDLE,
    STEP_TOKEN_FILE,
    STEP_CONTAINER,
    STEP_IMDS_TOKEN,
    STEP_IMDS_ROLE,
    STEP_IMDS_CREDS
};

struct token_read; /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE read on the thread pool */

struct aws_credentials_wait {
    struct aws_credentials *owner;
    struct aws_credentials_wait *prev, *next;
    void (*cb)(void *ud);
    void *ud;
};

struct aws_credentials {
    uv_loop_t *loop;
    struct http_client *http;
    enum source source;
    char source_name[PL_AWS_PROFILE_MAX_NAME + 16];
    char profile_name[PL_AWS_PROFILE_MAX_NAME + 1];
    char region[PL_AWS_PROFILE_MAX_REGION + 1];
    uint32_t refresh_before_ms, retry_base_ms, retry_max_ms, fetch_timeout_ms;

    struct pl_aws_creds_reply cur; /* the keys in use; `have` says whether there are any */
    bool have;
    bool first_done;   /* the first fetch has ended, one way or the other */
    unsigned failures; /* fetches failed in a row */
    char why[256];     /* the last failure, without any secret */

    /* container endpoint */
    char *container_url;
    char *auth_token;      /* AWS_CONTAINER_AUTHORIZATION_TOKEN, or NULL */
    char *auth_token_file; /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, or NULL (wins) */
    struct token_read *read;
    char *file_token; /* the token read for the fetch in flight */

    /* instance metadata */
    char *imds_url;
    char *imds_token;       /* NULL: none yet, or IMDSv1 */
    uint64_t imds_token_at; /* uv_now when it was fetched */
    bool imds_v1;
    bool imds_retried; /* this fetch already refetched the token after a 401 */
    char role[256];

    /* the transfer in flight */
    enum step step;
    struct http_client_transfer *xfer;
    int xfer_status, xfer_rc;
    bool xfer_overflow; /* the reply passed PL_AWS_CREDS_MAX_REPLY: on_data stopped it */
    char xfer_detail[160];
    struct pl_buf body;

    uv_timer_t timer;                                /* the next fetch step, refresh or retry */
    uv_timer_t notify;                               /* calls the waiters */
    struct aws_credentials_wait *waits, *waits_tail; /* first come, first called */
    char detail[1024];                               /* what aws_credentials_get last explained */
    bool notifying, destroy_pending, destroying;
    int open_handles;
};

struct token_read {
    uv_work_t work;
    struct aws_credentials *owner; /* NULL once the owner is gone */
    char *path;
    char buf[TOKEN_FILE_MAX + 1];
    size_t len;
    int err; /* errno, or -1 for a file past TOKEN_FILE_MAX */
};

static const char *system_getenv(const char *name)
{
    return getenv(name);
}

static const char *env_value(aws_getenv_fn env, const char *name)
{
    const char *v = env(name);
    return v && *v ? v : NULL;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return true;
    return false;
}

static void wipe(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = '\0';
    }
}

static void wipe_free(char *s)
{
    wipe(s);
    pl_free(s);
}

static void wipe_creds(struct pl_aws_creds_reply *r)
{
    volatile char *p = (volatile char *)r;
    for (size_t i = 0; i < sizeof(*r); i++)
        p[i] = 0;
    r->expiration_ms = -1;
}

/* ---- creation: which source applies ---- */

/* Read a whole shared file: PL_OK with *text (NULL when the file does not exist), or PL_EINVAL
 * naming the file. Start-up only: this blocks. */
static int read_shared_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    if (!path)
        return PL_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return PL_OK;
        pl_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return PL_EINVAL;
    }
    struct pl_buf b;
    pl_buf_init(&b, SHARED_FILE_MAX);
    char chunk[4096];
    size_t n;
    int rc = PL_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (pl_buf_append(&b, chunk, n)) {
            rc = PL_ETOOBIG;
            break;
        }
    if (!rc && ferror(f))
        rc = PL_EIO;
    fclose(f);
    if (rc) {
        pl_errf(err, errlen, "cannot read %s: %s", path,
                rc == PL_ETOOBIG ? "larger than 1 MiB" : "read error");
        pl_buf_cleanup(&b);
        return PL_EINVAL;
    }
    *len = b.len;
    *text = b.data ? pl_buf_take(&b) : pl_strdup("");
    return PL_OK;
}

/* Resolve the profile from the shared files. PL_OK (keys in `p`), PL_ENOTFOUND (no keys; the
 * region may still be there) or PL_EINVAL with err naming the file and line. */
static int resolve_profile(aws_getenv_fn env, const char *profile, struct pl_aws_profile *p,
                           char *err, size_t errlen)
{
    const char *home = env_value(env, "HOME");
    char cred_default[4096], conf_default[4096];
    const char *cred_path = env_value(env, "AWS_SHARED_CREDENTIALS_FILE");
    const char *conf_path = env_value(env, "AWS_CONFIG_FILE");
    if (!cred_path && home) {
        snprintf(cred_default, sizeof cred_default, "%s/.aws/credentials", home);
        cred_path = cred_default;
    }
    if (!conf_path && home) {
        snprintf(conf_default, sizeof conf_default, "%s/.aws/config", home);
        conf_path = conf_default;
    }
    char *cred = NULL, *conf = NULL;
    size_t clen = 0, flen = 0;
    int rc = read_shared_file(cred_path, &cred, &clen, err, errlen);
    if (!rc)
        rc = read_shared_file(conf_path, &conf, &flen, err, errlen);
    if (!rc) {
        rc = pl_aws_profile_resolve(cred, clen, conf, flen, profile, p);
        if (rc == PL_EINVAL || rc == PL_ETOOBIG) {
            pl_errf(err, errlen, "AWS shared files (%s, %s), profile %s: %s",
                    cred_path ? cred_path : "-", conf_path ? conf_path : "-", profile, p->error);
            rc = PL_EINVAL;
        }
    }
    if (cred)
        wipe_free(cred);
    pl_free(conf);
    return rc;
}

/* A FULL_URI may use plain http only to the hosts the SDKs allow. */
static bool http_host_allowed(const char *host, size_t len)
{
    static const char *const named[] = {"localhost", "169.254.170.2", "169.254.170.23",
                                        "[fd00:ec2::23]", "[::1]"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i]) == len && strncasecmp(host, named[i], len) == 0)
            return true;
    char ip[INET_ADDRSTRLEN];
    struct in_addr a;
    if (len >= sizeof ip)
        return false;
    memcpy(ip, host, len);
    ip[len] = '\0';
    return inet_pton(AF_INET, ip, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int check_full_uri(const char *uri, char *err, size_t errlen)
{
    bool https = strncasecmp(uri, "https://", 8) == 0;
    bool http = strncasecmp(uri, "http://", 7) == 0;
    if (has_control(uri) || strchr(uri, ' ') || (!https && !http)) {
        pl_errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL");
        return PL_EINVAL;
    }
    const char *host = uri + (https ? 8 : 7);
    size_t len = strcspn(host, "/?#");
    if (memchr(host, '@', len)) {
        pl_errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI must not carry user information");
        return PL_EINVAL;
    }
    if (len > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', len);
        len = close ? (size_t)(close - host) + 1 : len;
    } else {
        const char *colon = memchr(host, ':', len);
        len = colon ? (size_t)(colon - host) : len;
    }
    if (len == 0) {
        pl_errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI has no host");
        return PL_EINVAL;
    }
    if (http && !http_host_allowed(host, len)) {
        pl_errf(err, errlen,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a loopback "
                "address, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23], not to %.*s; use https",
                (int)(len > 200 ? 200 : len), host);
        return PL_EINVAL;
    }
    return PL_OK;
}

/* Set up the container source from the environment: PL_OK, PL_ENOTFOUND (no URI), PL_EINVAL. */
static int container_setup(struct aws_credentials *c, aws_getenv_fn env, char *err, size_t errlen)
{
    const char *rel = env_value(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_value(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel) {
        if (has_control(rel) || strchr(rel, ' ') || rel[0] != '/') {
            pl_errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a path");
            return PL_EINVAL;
        }
        struct pl_buf b;
        pl_buf_init(&b, 8192);
        if (pl_buf_printf(&b, "%s%s", CONTAINER_HOST_URL, rel)) {
            pl_buf_cleanup(&b);
            pl_errf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is too long");
            return PL_EINVAL;
        }
        c->container_url = pl_buf_take(&b);
    } else if (full) {
        int rc = check_full_uri(full, err, errlen);
        if (rc)
            return rc;
        c->container_url = pl_strdup(full);
    } else {
        return PL_ENOTFOUND;
    }
    const char *file = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (file) {
        c->auth_token_file = pl_strdup(file);
    } else if (token) {
        if (has_control(token)) {
            pl_errf(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN has a control character");
            return PL_EINVAL;
        }
        c->auth_token = pl_strdup(token);
    }
    return PL_OK;
}

static void imds_setup(struct aws_credentials *c, aws_getenv_fn env)
{
    const char *url = env_value(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = env_value(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    if (!url)
        url = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_IPV6_URL : IMDS_DEFAULT_URL;
    c->imds_url = pl_strdup(url);
    size_t n = strlen(c->imds_url);
    while (n > 0 && c->imds_url[n - 1] == '/')
        c->imds_url[--n] = '\0';
}

/* ---- the fetch machinery ---- */

static void on_timer(uv_timer_t *t);

static void schedule(struct aws_credentials *c, uint64_t delay_ms)
{
    uv_timer_start(&c->timer, on_timer, delay_ms, 0);
}

static void on_notify(uv_timer_t *t);

static bool busy(const struct aws_credentials *c)
{
    return !c->have && !c->first_done;
}

static void notify_soon(struct aws_credentials *c)
{
    if (c->waits && !busy(c))
        uv_timer_start(&c->notify, on_notify, 0, 0);
}

static void log_expiry(const struct aws_credentials *c)
{
    if (c->cur.expiration_ms < 0) {
        PL_LOG(PL_LOG_INFO, "aws", "AWS credentials from %s (no expiry)", c->source_name);
        return;
    }
    char when[PL_RFC3339_MAX];
    pl_rfc3339_format(c->cur.expiration_ms, when);
    PL_LOG(PL_LOG_INFO, "aws", "AWS credentials from %s, expiring %s", c->source_name, when);
}

static void fetch_succeeded(struct aws_credentials *c, const struct pl_aws_creds_reply *r)
{
    wipe_creds(&c->cur);
    c->cur = *r;
    c->have = true;
    c->first_done = true;
    c->failures = 0;
    c->why[0] = '\0';
    c->step = STEP_IDLE;
    log_expiry(c);
    if (r->expiration_ms >= 0) {
        /* Fetch again refresh_before_ms ahead of the expiry; no sooner than a tenth of that
         * from now, so keys handed out already inside the window are not fetched in a loop. */
        int64_t delay = r->expiration_ms - (int64_t)c->refresh_before_ms - wall_ms();
        int64_t floor = c->refresh_before_ms / 10;
        schedule(c, (uint64_t)(delay > floor ? delay : floor));
    }
    notify_soon(c);
}

static void fetch_failed(struct aws_credentials *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fetch_failed(struct aws_credentials *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->step = STEP_IDLE;
    c->first_done = true;
    c->failures++;
    uint32_t wait = pl_backoff_ms(c->failures, c->retry_base_ms, c->retry_max_ms, 20);
    /* One warning per run of failures; the retries after it only at debug level. */
    PL_LOG(c->failures == 1 ? PL_LOG_WARN : PL_LOG_DEBUG, "aws",
           "AWS credentials from %s: fetch failed (%s)%s; retrying in %u ms", c->source_name,
           c->why, c->have ? ", keeping the current keys until they expire" : "", wait);
    schedule(c, wait);
    notify_soon(c);
}

static int on_headers(void *ud, int status)
{
    struct aws_credentials *c = ud;
    c->xfer_status = status;
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct aws_credentials *c = ud;
    if (pl_buf_append(&c->body, data, len) == PL_OK)
        return 0;
    c->xfer_overflow = true;
    return 1;
}

static void on_done(void *ud, int status, const char *detail)
{
    struct aws_credentials *c = ud;
    c->xfer = NULL;
    c->xfer_rc = status;
    snprintf(c->xfer_detail, sizeof c->xfer_detail, "%s", detail ? detail : pl_strerror(status));
    if (!c->destroying)
        schedule(c, 0); /* carry on outside the client's callback */
}

/* The last reply held keys: wiped before its storage is reused or freed. */
static void drop_body(struct aws_credentials *c)
{
    if (c->body.data) {
        volatile char *p = c->body.data;
        for (size_t i = 0; i < c->body.len; i++)
            p[i] = 0;
    }
    pl_buf_cleanup(&c->body);
    pl_buf_init(&c->body, PL_AWS_CREDS_MAX_REPLY);
}

static void start_transfer(struct aws_credentials *c, enum step step, const char *method,
                           const char *url, const char *const *headers)
{
    struct http_client_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .connect_timeout_ms = c->fetch_timeout_ms,
        .total_timeout_ms = c->fetch_timeout_ms,
    };
    if (strcmp(method, "PUT") == 0) {
        req.body = "";
        req.body_len = 0;
    }
    static const struct http_client_callbacks cbs = {on_headers, on_data, on_done};
    drop_body(c);
    c->xfer_overflow = false;
    c->xfer_status = 0;
    c->xfer_rc = PL_OK;
    c->xfer_detail[0] = '\0';
    c->step = step;
    c->xfer = http_client_start(c->http, &req, &cbs, c);
    if (!c->xfer)
        fetch_failed(c, "the HTTP client refused the request");
}

/* A header line "Name: value" holding a secret: wiped and freed by the caller. */
static char *secret_header(const char *name, const char *value)
{
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *h = pl_malloc(n);
    snprintf(h, n, "%s: %s", name, value);
    return h;
}

static void container_get(struct aws_credentials *c, const char *token)
{
    char *auth = token ? secret_header("Authorization", token) : NULL;
    const char *headers[] = {"Accept: application/json", auth, NULL};
    start_transfer(c, STEP_CONTAINER, "GET", c->container_url, headers);
    if (auth)
        wipe_free(auth);
}

static void token_read_work(uv_work_t *w)
{
    struct token_read *r = w->data;
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r->err = errno;
        return;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, r->buf + len, sizeof r->buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->err = errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof r->buf) {
            r->err = -1;
            break;
        }
    }
    close(fd);
    r->len = len;
}

static void token_read_free(struct token_read *r)
{
    volatile char *p = r->buf;
    for (size_t i = 0; i < sizeof r->buf; i++)
        p[i] = 0;
    pl_free(r->path);
    pl_free(r);
}

static void token_read_done(uv_work_t *w, int status)
{
    struct token_read *r = w->data;
    struct aws_credentials *c = r->owner;
    if (!c) {
        token_read_free(r);
        return;
    }
    c->read = NULL;
    if (status || r->err) {
        fetch_failed(c, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
                     status       ? uv_strerror(status)
                     : r->err < 0 ? "larger than 16 KiB"
                                  : strerror(r->err));
        token_read_free(r);
        return;
    }
    /* Trailing line ends and blanks are the editor's, not the token's. */
    size_t len = r->len;
    while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r' ||
                       r->buf[len - 1] == ' ' || r->buf[len - 1] == '\t'))
        len--;
    r->buf[len] = '\0';
    if (len == 0 || has_control(r->buf) || memchr(r->buf, '\0', len)) {
        fetch_failed(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is empty or has a control "
                        "character");
        token_read_free(r);
        return;
    }
    container_get(c, r->buf);
    token_read_free(r);
}

static void container_start(struct aws_credentials *c)
{
    if (!c->auth_token_file) {
        container_get(c, c->auth_token);
        return;
    }
    struct token_read *r = pl_calloc(1, sizeof(*r));
    r->owner = c;
    r->path = pl_strdup(c->auth_token_file);
    r->work.data = r;
    c->step = STEP_TOKEN_FILE;
    c->read = r;
    int rc = uv_queue_work(c->loop, &r->work, token_read_work, token_read_done);
    if (rc) {
        c->read = NULL;
        token_read_free(r);
        fetch_failed(c, "cannot queue the token file read: %s", uv_strerror(rc));
    }
}

static void imds_request(struct aws_credentials *c, enum step step, const char *method,
                         const char *path)
{
    struct pl_buf url;
    pl_buf_init(&url, 8192);
    if (pl_buf_printf(&url, "%s%s", c->imds_url, path)) {
        pl_buf_cleanup(&url);
        fetch_failed(c, "instance metadata URL too long");
        return;
    }
    char *tok = NULL;
    const char *headers[2] = {NULL, NULL};
    if (step == STEP_IMDS_TOKEN) {
        headers[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
    } else if (c->imds_token) {
        tok = secret_header("X-aws-ec2-metadata-token", c->imds_token);
        headers[0] = tok;
    }
    start_transfer(c, step, method, url.data, headers);
    if (tok)
        wipe_free(tok);
    pl_buf_cleanup(&url);
}

static void imds_drop_token(struct aws_credentials *c)
{
    if (c->imds_token)
        wipe_free(c->imds_token);
    c->imds_token = NULL;
}

static void imds_start(struct aws_credentials *c)
{
    c->imds_retried = false;
    /* A token lives IMDS_TOKEN_TTL_S; fetch a new one a minute before the old one ends. */
    if (c->imds_token && uv_now(c->loop) - c->imds_token_at > (IMDS_TOKEN_TTL_S - 60) * 1000ull)
        imds_drop_token(c);
    if (!c->imds_token && !c->imds_v1)
        imds_request(c, STEP_IMDS_TOKEN, "PUT", IMDS_TOKEN_PATH);
    else
        imds_request(c, STEP_IMDS_ROLE, "GET", IMDS_ROLE_PATH);
}

static void start_fetch(struct aws_credentials *c)
{
    if (c->source == SRC_CONTAINER)
        container_start(c);
    else if (c->source == SRC_IMDS)
        imds_start(c);
}

/* Why the transfer just ended did not give a 200 answer, for c->why. */
static bool transfer_ok(struct aws_credentials *c, const char *what)
{
    if (c->xfer_rc == PL_OK && c->xfer_status == 200)
        return true;
    if (c->xfer_rc == PL_OK)
        fetch_failed(c, "%s answered HTTP %d", what, c->xfer_status);
    else
        fetch_failed(c, "%s: %s (%s)", what, pl_strerror(c->xfer_rc), c->xfer_detail);
    return false;
}

static void take_reply(struct aws_credentials *c, const char *what)
{
    struct pl_aws_creds_reply *r = pl_malloc(sizeof(*r));
    int rc = pl_aws_creds_reply_parse(c->body.data ? c->body.data : "", c->body.len, r);
    if (rc)
        fetch_failed(c, "%s: unusable reply (%s)", what, r->error);
    else
        fetch_succeeded(c, r);
    drop_body(c);
    wipe_creds(r);
    pl_free(r);
}

/* A 401 means the session token is gone, or that IMDSv1 (chosen after a refused or slow token
 * PUT) is not allowed here: fetch a token once per fetch, then start over. */
static bool imds_unauthorized(struct aws_credentials *c)
{
    if (c->xfer_rc != PL_OK || c->xfer_status != 401 || c->imds_retried)
        return false;
    c->imds_retried = true;
    c->imds_v1 = false;
    imds_drop_token(c);
    imds_request(c, STEP_IMDS_TOKEN, "PUT", IMDS_TOKEN_PATH);
    return true;
}

static void advance(struct aws_credentials *c)
{
    enum step step = c->step;
    if (c->xfer_overflow) {
        fetch_failed(c, "reply larger than %d bytes", PL_AWS_CREDS_MAX_REPLY);
        return;
    }
    if (c->xfer_rc == PL_ECANCELED) { /* the HTTP client is shutting down */
        c->step = STEP_IDLE;
        snprintf(c->why, sizeof c->why, "request cancelled");
        c->first_done = true;
        notify_soon(c);
        return;
    }
    switch (step) {
    case STEP_CONTAINER:
        if (transfer_ok(c, "container endpoint"))
            take_reply(c, "container endpoint");
        return;
    case STEP_IMDS_TOKEN: {
        bool v1 = (c->xfer_rc == PL_OK &&
                   (c->xfer_status == 403 || c->xfer_status == 404 || c->xfer_status == 405)) ||
                  c->xfer_rc == PL_ETIMEDOUT;
        if (v1) { /* IMDSv2 unavailable here: IMDSv1, as the SDKs do */
            PL_LOG(PL_LOG_NOTICE, "aws",
                   "instance metadata refused a session token (%s); using IMDSv1",
                   c->xfer_rc ? "timed out" : "HTTP 4xx");
            c->imds_v1 = true;
            imds_request(c, STEP_IMDS_ROLE, "GET", IMDS_ROLE_PATH);
            return;
        }
        if (!transfer_ok(c, "instance metadata token"))
            return;
        size_t n = c->body.len;
        while (n > 0 && (c->body.data[n - 1] == '\n' || c->body.data[n - 1] == '\r'))
            n--;
        if (n == 0 || n > 1024) {
            fetch_failed(c, "instance metadata token: unusable reply");
            return;
        }
        c->body.data[n] = '\0';
        if (has_control(c->body.data)) {
            fetch_failed(c, "instance metadata token: unusable reply");
            return;
        }
        c->imds_token = pl_strndup(c->body.data, n);
        c->imds_token_at = uv_now(c->loop);
        imds_request(c, STEP_IMDS_ROLE, "GET", IMDS_ROLE_PATH);
        return;
    }
    case STEP_IMDS_ROLE: {
        if (imds_unauthorized(c))
            return;
        if (c->xfer_rc == PL_OK && c->xfer_status == 404) {
            fetch_failed(c, "no IAM role is attached to this instance");
            return;
        }
        if (!transfer_ok(c, "instance metadata"))
            return;
        const char *b = c->body.data ? c->body.data : "";
        size_t n = strcspn(b, "\r\n");
        if (n == 0 || n >= sizeof c->role || memchr(b, '/', n) || memchr(b, '?', n) ||
            memchr(b, '#', n) || memchr(b, ' ', n) || memchr(b, '%', n)) {
            fetch_failed(c, "instance metadata: unusable role name");
            return;
        }
        memcpy(c->role, b, n);
        c->role[n] = '\0';
        if (has_control(c->role)) {
            fetch_failed(c, "instance metadata: unusable role name");
            return;
        }
        char path[sizeof(IMDS_ROLE_PATH) + sizeof c->role];
        snprintf(path, sizeof path, "%s%s", IMDS_ROLE_PATH, c->role);
        imds_request(c, STEP_IMDS_CREDS, "GET", path);
        return;
    }
    case STEP_IMDS_CREDS:
        if (imds_unauthorized(c))
            return;
        if (transfer_ok(c, "instance metadata"))
            take_reply(c, "instance metadata");
        return;
    default:
        return;
    }
}

static void on_timer(uv_timer_t *t)
{
    struct aws_credentials *c = t->data;
    if (c->step == STEP_IDLE)
        start_fetch(c);
    else if (c->step != STEP_TOKEN_FILE && !c->xfer)
        advance(c);
}

static void free_all(struct aws_credentials *c);

static void on_notify(uv_timer_t *t)
{
    struct aws_credentials *c = t->data;
    if (busy(c))
        return;
    c->notifying = true;
    while (c->waits && !c->destroy_pending) {
        struct aws_credentials_wait *w = c->waits;
        c->waits = w->next;
        if (c->waits)
            c->waits->prev = NULL;
        else
            c->waits_tail = NULL;
        void (*cb)(void *) = w->cb;
        void *ud = w->ud;
        pl_free(w);
        cb(ud);
    }
    c->notifying = false;
    if (c->destroy_pending)
        aws_credentials_destroy(c);
}

/* ---- creation, continued: the chain ---- */

/* 1. The environment's keys: PL_OK (used or not there) or PL_EINVAL. */
static int env_source(struct aws_credentials *c, aws_getenv_fn env, char *err, size_t errlen)
{
    const char *id = env_value(env, "AWS_ACCESS_KEY_ID");
    const char *secret = env_value(env, "AWS_SECRET_ACCESS_KEY");
    const char *token = env_value(env, "AWS_SESSION_TOKEN");
    const char *expiry = env_value(env, "AWS_CREDENTIAL_EXPIRATION");
    if (!id || !secret)
        return PL_OK;
    if (strlen(id) > PL_SIGV4_MAX_KEY || strlen(secret) > PL_SIGV4_MAX_KEY ||
        (token && strlen(token) > PL_SIGV4_MAX_TOKEN)) {
        pl_errf(err, errlen,
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long");
        return PL_EINVAL;
    }
    if (has_control(id) || has_control(secret) || (token && has_control(token))) {
        pl_errf(err, errlen,
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN has "
                "a control character");
        return PL_EINVAL;
    }
    int64_t expires = -1;
    if (expiry && pl_rfc3339_parse(expiry, strlen(expiry), &expires) != PL_OK) {
        pl_errf(err, errlen, "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 time");
        return PL_EINVAL;
    }
    snprintf(c->cur.access_key_id, sizeof c->cur.access_key_id, "%s", id);
    snprintf(c->cur.secret_access_key, sizeof c->cur.secret_access_key, "%s", secret);
    snprintf(c->cur.session_token, sizeof c->cur.session_token, "%s", token ? token : "");
    c->cur.expiration_ms = expiry && expires < 0 ? 0 : expires; /* -1 means none */
    c->source = SRC_ENV;
    snprintf(c->source_name, sizeof c->source_name, "environment");
    c->have = c->first_done = true;
    return PL_OK;
}

/* 2. The shared files: the profile's keys unless the environment gave some, and its region
 * whatever the source. PL_OK or PL_EINVAL. */
static int profile_source(struct aws_credentials *c, aws_getenv_fn env, bool named, char *err,
                          size_t errlen)
{
    struct pl_aws_profile *p = pl_malloc(sizeof(*p));
    char ferr[512] = "";
    int rc = resolve_profile(env, c->profile_name, p, ferr, sizeof ferr);
    snprintf(c->region, sizeof c->region, "%s", rc == PL_EINVAL ? "" : p->region);
    if (rc == PL_EINVAL && c->have) {
        PL_LOG(PL_LOG_WARN, "aws", "%s (using the environment's keys)", ferr);
        rc = PL_OK;
    } else if (rc == PL_EINVAL) {
        pl_errf(err, errlen, "%s", ferr);
    } else if (rc == PL_OK && !c->have) {
        snprintf(c->cur.access_key_id, sizeof c->cur.access_key_id, "%s", p->access_key_id);
        snprintf(c->cur.secret_access_key, sizeof c->cur.secret_access_key, "%s",
                 p->secret_access_key);
        snprintf(c->cur.session_token, sizeof c->cur.session_token, "%s", p->session_token);
        c->source = SRC_PROFILE;
        snprintf(c->source_name, sizeof c->source_name, "profile %s", c->profile_name);
        c->have = c->first_done = true;
    } else if (rc == PL_ENOTFOUND && named && !c->have) {
        /* role_arn, credential_process and SSO profiles have no keys of their own. */
        PL_LOG(PL_LOG_NOTICE, "aws",
               "AWS profile %s has no keys in the shared files; looking further", c->profile_name);
    }
    volatile char *v = (volatile char *)p;
    for (size_t i = 0; i < sizeof(*p); i++)
        v[i] = 0;
    pl_free(p);
    return rc == PL_EINVAL ? PL_EINVAL : PL_OK;
}

/* 3. The container endpoint, else 4. instance metadata: PL_OK, PL_ENOTFOUND or PL_EINVAL. */
static int endpoint_source(struct aws_credentials *c, aws_getenv_fn env, char *err, size_t errlen)
{
    int rc = container_setup(c, env, err, errlen);
    if (rc == PL_OK) {
        c->source = SRC_CONTAINER;
        snprintf(c->source_name, sizeof c->source_name, "container endpoint");
        return PL_OK;
    }
    if (rc != PL_ENOTFOUND)
        return rc;
    const char *off = env_value(env, "AWS_EC2_METADATA_DISABLED");
    if (off && strcasecmp(off, "true") == 0) {
        pl_errf(err, errlen,
                "no AWS credentials: environment, profile %s and container endpoint absent, and "
                "instance metadata disabled (AWS_EC2_METADATA_DISABLED)",
                c->profile_name);
        return PL_ENOTFOUND;
    }
    imds_setup(c, env);
    c->source = SRC_IMDS;
    snprintf(c->source_name, sizeof c->source_name, "instance metadata");
    return PL_OK;
}

/* ---- public ---- */

int aws_credentials_create(const struct aws_credentials_options *opts, struct aws_credentials **out,
                           char *err, size_t errlen)
{
    aws_getenv_fn env = opts->getenv ? opts->getenv : system_getenv;
    *out = NULL;
    const char *profile = env_value(env, "AWS_PROFILE");
    if (profile && strlen(profile) > PL_AWS_PROFILE_MAX_NAME) {
        pl_errf(err, errlen, "AWS_PROFILE is longer than %d bytes", PL_AWS_PROFILE_MAX_NAME);
        return PL_EINVAL;
    }
    struct aws_credentials *c = pl_calloc(1, sizeof(*c));
    c->loop = opts->loop;
    c->http = opts->http;
    c->refresh_before_ms =
        opts->refresh_before_ms ? opts->refresh_before_ms : AWS_CREDENTIALS_REFRESH_BEFORE_MS;
    c->retry_base_ms = opts->retry_base_ms ? opts->retry_base_ms : RETRY_BASE_MS;
    c->retry_max_ms = opts->retry_max_ms ? opts->retry_max_ms : RETRY_MAX_MS;
    c->fetch_timeout_ms = opts->fetch_timeout_ms ? opts->fetch_timeout_ms : FETCH_TIMEOUT_MS;
    c->cur.expiration_ms = -1;
    snprintf(c->profile_name, sizeof c->profile_name, "%s", profile ? profile : "default");
    pl_buf_init(&c->body, PL_AWS_CREDS_MAX_REPLY);

    int rc = profile ? PL_OK : env_source(c, env, err, errlen); /* a named profile skips it */
    if (!rc)
        rc = profile_source(c, env, profile != NULL, err, errlen);
    if (!rc && !c->have)
        rc = endpoint_source(c, env, err, errlen);
    if (rc) {
        free_all(c);
        return rc;
    }
    uv_timer_init(c->loop, &c->timer);
    uv_timer_init(c->loop, &c->notify);
    c->timer.data = c->notify.data = c;
    c->open_handles = 2;
    if (!c->have)
        schedule(c, 0); /* the first fetch */
    else
        log_expiry(c);
    *out = c;
    return PL_OK;
}

static void free_all(struct aws_credentials *c)
{
    wipe_creds(&c->cur);
    pl_free(c->container_url);
    if (c->auth_token)
        wipe_free(c->auth_token);
    pl_free(c->auth_token_file);
    imds_drop_token(c);
    pl_free(c->imds_url);
    drop_body(c);
    pl_buf_cleanup(&c->body);
    pl_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct aws_credentials *c = h->data;
    if (--c->open_handles == 0)
        free_all(c);
}

void aws_credentials_destroy(struct aws_credentials *c)
{
    if (!c || c->destroying)
        return;
    if (c->notifying) { /* a waiter's callback: finish once it returns */
        c->destroy_pending = true;
        return;
    }
    c->destroying = true;
    if (c->xfer)
        http_client_abort(c->xfer);
    if (c->read)
        c->read->owner = NULL; /* it frees itself when the thread pool is done */
    while (c->waits) {
        struct aws_credentials_wait *w = c->waits;
        c->waits = w->next;
        pl_free(w);
    }
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->notify, on_handle_closed);
}

int aws_credentials_get(struct aws_credentials *c, struct pl_sigv4_creds *out, const char **detail)
{
    out->access_key_id = out->secret_access_key = out->session_token = NULL;
    if (detail)
        *detail = NULL;
    if (busy(c))
        return PL_EBUSY;
    char *msg = c->detail;
    if (!c->have) {
        if (c->source == SRC_IMDS)
            snprintf(msg, sizeof c->detail,
                     "no AWS credentials: environment, profile %s, container endpoint and "
                     "instance metadata all absent (instance metadata: %s)",
                     c->profile_name, c->why);
        else
            snprintf(msg, sizeof c->detail, "no AWS credentials from %s: %s", c->source_name,
                     c->why);
        if (detail)
            *detail = msg;
        return PL_EUPSTREAM;
    }
    if (c->cur.expiration_ms >= 0 && wall_ms() >= c->cur.expiration_ms) {
        char when[PL_RFC3339_MAX];
        pl_rfc3339_format(c->cur.expiration_ms, when);
        snprintf(msg, sizeof c->detail, "AWS credentials from %s expired at %s%s%s", c->source_name,
                 when, c->why[0] ? "; refresh failing: " : "", c->why);
        if (detail)
            *detail = msg;
        return PL_EUPSTREAM;
    }
    out->access_key_id = c->cur.access_key_id;
    out->secret_access_key = c->cur.secret_access_key;
    out->session_token = c->cur.session_token;
    return PL_OK;
}

struct aws_credentials_wait *aws_credentials_wait(struct aws_credentials *c, void (*cb)(void *ud),
                                                  void *ud)
{
    struct aws_credentials_wait *w = pl_calloc(1, sizeof(*w));
    w->owner = c;
    w->cb = cb;
    w->ud = ud;
    w->prev = c->waits_tail;
    if (c->waits_tail)
        c->waits_tail->next = w;
    else
        c->waits = w;
    c->waits_tail = w;
    notify_soon(c);
    return w;
}

void aws_credentials_wait_cancel(struct aws_credentials_wait *w)
{
    if (!w)
        return;
    struct aws_credentials *c = w->owner;
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        c->waits_tail = w->prev;
    pl_free(w);
}

const char *aws_credentials_profile_region(const struct aws_credentials *c)
{
    return c->region[0] ? c->region : NULL;
}

const char *aws_credentials_source_name(const struct aws_credentials *c)
{
    return c->source_name;
}
