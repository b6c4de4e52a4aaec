/* S3's XML replies; see s3_list.h. A small walker over the XML subset S3 writes, and two
 * readers on top of it that keep the elements they know by their path. */
#include "connectors/s3_list.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

/* ---- text ---- */

static bool put_byte(char *out, size_t cap, size_t *n, char c)
{
    if (*n >= cap)
        return false;
    out[(*n)++] = c;
    return true;
}

/* A numeric reference's code point as UTF-8; false for one XML cannot carry. */
static int put_code_point(char *out, size_t cap, size_t *n, unsigned long cp)
{
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return PL_EPROTO;
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    for (size_t i = 0; i < k; i++)
        if (!put_byte(out, cap, n, (char)b[i]))
            return PL_ETOOBIG;
    return PL_OK;
}

static int decode_reference(const char *ref, size_t len, char *out, size_t cap, size_t *n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"quot", '"'}, {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strlen(named[i].name) == len && !memcmp(ref, named[i].name, len))
            return put_byte(out, cap, n, named[i].c) ? PL_OK : PL_ETOOBIG;
    if (len < 2 || ref[0] != '#')
        return PL_EPROTO;
    bool hex = ref[1] == 'x';
    size_t i = hex ? 2 : 1;
    if (i == len)
        return PL_EPROTO;
    unsigned long cp = 0;
    for (; i < len; i++) {
        char c = ref[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return PL_EPROTO;
        cp = cp * (hex ? 16 : 10) + d;
        if (cp > 0x10FFFF)
            return PL_EPROTO;
    }
    return put_code_point(out, cap, n, cp);
}

int s3_xml_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    *out_len = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '<' || c == '\0')
            return PL_EPROTO;
        if (c != '&') {
            if (!put_byte(out, cap, &n, c))
                return PL_ETOOBIG;
            continue;
        }
        /* The longest reference is "&#x10FFFF;" or "&#1114111;". */
        const char *semi = memchr(s + i + 1, ';', len - i - 1 < 10 ? len - i - 1 : 10);
        if (!semi)
            return PL_EPROTO;
        int rc = decode_reference(s + i + 1, (size_t)(semi - s - i - 1), out, cap, &n);
        if (rc != PL_OK)
            return rc;
        i = (size_t)(semi - s);
    }
    out[n] = '\0'; /* the caller's buffer holds cap + 1 bytes */
    *out_len = n;
    return PL_OK;
}

/* ---- the walker ---- */

struct walker {
    const char *name[S3_LIST_MAX_DEPTH]; /* local names (after any "ns:"), into the input */
    size_t name_len[S3_LIST_MAX_DEPTH];
    size_t depth;
    char text[S3_LIST_MAX_TEXT + 1]; /* the decoded text of the element being captured */
    size_t text_len;
};

/* Called after an element opens (w->depth counts it): < 0 to fail, 1 to capture its text. */
typedef int (*open_fn)(void *ud, const struct walker *w);
/* Called as it closes, with its text when captured (else "", 0). */
typedef int (*close_fn)(void *ud, const struct walker *w, const char *text, size_t len);

/* Is the element path, from the root, exactly the NULL-terminated names given? */
static bool at(const struct walker *w, const char *const *path)
{
    size_t i = 0;
    for (; path[i]; i++)
        if (i >= w->depth || strlen(path[i]) != w->name_len[i] ||
            memcmp(path[i], w->name[i], w->name_len[i]) != 0)
            return false;
    return i == w->depth;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *find(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; p + n <= end; p++)
        if (!memcmp(p, needle, n))
            return p;
    return NULL;
}

static bool starts(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(end - p) >= n && !memcmp(p, s, n);
}

/* The element name at p (after '<' or '</'): its end, and its local name. */
static const char *read_name(const char *p, const char *end, const char **local, size_t *len)
{
    const char *s = p;
    while (p < end && !is_space(*p) && *p != '/' && *p != '>' && *p != '<')
        p++;
    if (p == s)
        return NULL;
    const char *colon = s;
    for (const char *q = s; q < p; q++)
        if (*q == ':')
            colon = q + 1;
    *local = colon;
    *len = (size_t)(p - colon);
    return *len ? p : NULL;
}

static int walk(const char *xml, size_t len, open_fn on_open, close_fn on_close, void *ud)
{
    struct walker *w = pl_calloc(1, sizeof(*w));
    bool capture[S3_LIST_MAX_DEPTH] = {false}, root_done = false;
    const char *p = xml, *end = xml + len;
    int rc = PL_OK;
    while (p < end && rc == PL_OK) {
        if (*p != '<') {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            size_t n = (size_t)((lt ? lt : end) - p);
            if (w->depth == 0) {
                for (size_t i = 0; i < n && rc == PL_OK; i++)
                    if (!is_space(p[i]))
                        rc = PL_EPROTO;
            } else if (capture[w->depth - 1]) {
                size_t got;
                rc = s3_xml_decode(p, n, w->text + w->text_len, S3_LIST_MAX_TEXT - w->text_len,
                                   &got);
                w->text_len += got;
            }
            p += n;
        } else if (starts(p, end, "<?")) {
            const char *q = find(p, end, "?>");
            rc = q && w->depth == 0 && !root_done ? PL_OK : PL_EPROTO;
            p = q ? q + 2 : end;
        } else if (starts(p, end, "<!--")) {
            const char *q = find(p + 4, end, "-->");
            rc = q ? PL_OK : PL_EPROTO;
            p = q ? q + 3 : end;
        } else if (starts(p, end, "<![CDATA[")) {
            const char *s = p + 9, *q = find(s, end, "]]>");
            if (!q || w->depth == 0) {
                rc = PL_EPROTO;
            } else if (capture[w->depth - 1]) {
                size_t n = (size_t)(q - s);
                if (memchr(s, '\0', n))
                    rc = PL_EPROTO;
                else if (n > S3_LIST_MAX_TEXT - w->text_len)
                    rc = PL_ETOOBIG;
                else
                    memcpy(w->text + w->text_len, s, n), w->text_len += n;
            }
            p = q ? q + 3 : end;
        } else if (starts(p, end, "<!")) {
            rc = PL_EPROTO; /* DOCTYPE and the like: nothing S3 sends */
        } else if (starts(p, end, "</")) {
            const char *local;
            size_t nlen;
            const char *q = read_name(p + 2, end, &local, &nlen);
            if (!q || w->depth == 0 || nlen != w->name_len[w->depth - 1] ||
                memcmp(local, w->name[w->depth - 1], nlen) != 0) {
                rc = PL_EPROTO;
                break;
            }
            while (q < end && is_space(*q))
                q++;
            if (q == end || *q != '>') {
                rc = PL_EPROTO;
                break;
            }
            bool cap = capture[w->depth - 1];
            w->text[cap ? w->text_len : 0] = '\0';
            rc = on_close(ud, w, w->text, cap ? w->text_len : 0);
            w->text_len = 0;
            if (--w->depth == 0)
                root_done = true;
            p = q + 1;
        } else {
            const char *local;
            size_t nlen;
            const char *q = read_name(p + 1, end, &local, &nlen);
            if (!q || root_done) {
                rc = PL_EPROTO;
                break;
            }
            if (w->depth == S3_LIST_MAX_DEPTH) {
                rc = PL_ETOOBIG;
                break;
            }
            char quote = 0;
            const char *last = q;
            for (; q < end && (quote || *q != '>'); q++) {
                if (quote && *q == quote)
                    quote = 0;
                else if (!quote && (*q == '"' || *q == '\''))
                    quote = *q;
                else if (!quote && *q == '<')
                    break;
                if (!is_space(*q))
                    last = q;
            }
            if (q == end || *q != '>') {
                rc = PL_EPROTO;
                break;
            }
            bool empty = *last == '/';
            w->name[w->depth] = local;
            w->name_len[w->depth] = nlen;
            w->depth++;
            w->text_len = 0;
            int o = on_open(ud, w);
            if (o < 0) {
                rc = o;
                break;
            }
            capture[w->depth - 1] = o == 1;
            if (empty) {
                w->text[0] = '\0';
                rc = on_close(ud, w, w->text, 0);
                if (--w->depth == 0)
                    root_done = true;
            }
            p = q + 1;
        }
    }
    if (rc == PL_OK && (w->depth != 0 || !root_done))
        rc = PL_EPROTO;
    pl_free(w);
    return rc;
}

/* ---- ListBucketResult ---- */

static const char *const P_ROOT[] = {"ListBucketResult", NULL};
static const char *const P_TRUNC[] = {"ListBucketResult", "IsTruncated", NULL};
static const char *const P_TOKEN[] = {"ListBucketResult", "NextContinuationToken", NULL};
static const char *const P_CONTENTS[] = {"ListBucketResult", "Contents", NULL};
static const char *const P_KEY[] = {"ListBucketResult", "Contents", "Key", NULL};
static const char *const P_ETAG[] = {"ListBucketResult", "Contents", "ETag", NULL};
static const char *const P_SIZE[] = {"ListBucketResult", "Contents", "Size", NULL};
static const char *const P_MODIFIED[] = {"ListBucketResult", "Contents", "LastModified", NULL};

struct list_ctx {
    struct s3_list_page *page;
    size_t cap;
    struct s3_object cur;
    bool have_size, have_trunc;
};

static void object_clear(struct s3_object *o)
{
    pl_free(o->key);
    pl_free(o->etag);
    memset(o, 0, sizeof(*o));
}

static int list_open(void *ud, const struct walker *w)
{
    struct list_ctx *c = ud;
    if (w->depth == 1)
        return at(w, P_ROOT) ? 0 : PL_EPROTO;
    if (at(w, P_CONTENTS)) {
        object_clear(&c->cur);
        c->have_size = false;
        return 0;
    }
    return at(w, P_TRUNC) || at(w, P_TOKEN) || at(w, P_KEY) || at(w, P_ETAG) || at(w, P_SIZE) ||
           at(w, P_MODIFIED);
}

/* The text without surrounding blanks (numbers and booleans may be pretty-printed). */
static void trim(const char **s, size_t *len)
{
    while (*len && is_space(**s))
        (*s)++, (*len)--;
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

static int list_close(void *ud, const struct walker *w, const char *text, size_t len)
{
    struct list_ctx *c = ud;
    struct s3_list_page *pg = c->page;
    if (at(w, P_KEY)) {
        pl_free(c->cur.key);
        c->cur.key = pl_strndup(text, len);
    } else if (at(w, P_ETAG)) {
        pl_free(c->cur.etag);
        c->cur.etag = pl_strndup(text, len);
    } else if (at(w, P_MODIFIED)) {
        size_t n = len < sizeof(c->cur.last_modified) - 1 ? len : sizeof(c->cur.last_modified) - 1;
        memcpy(c->cur.last_modified, text, n);
        c->cur.last_modified[n] = '\0';
    } else if (at(w, P_SIZE)) {
        trim(&text, &len);
        if (len == 0 || len > 19)
            return PL_EPROTO;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            if (text[i] < '0' || text[i] > '9')
                return PL_EPROTO;
            v = v * 10 + (uint64_t)(text[i] - '0');
        }
        c->cur.size = v;
        c->have_size = true;
    } else if (at(w, P_CONTENTS)) {
        if (!c->cur.key || !c->cur.key[0])
            return PL_EPROTO;
        if (pg->n == S3_LIST_MAX_OBJECTS)
            return PL_ETOOBIG;
        if (pg->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 16;
            pg->objects = pl_realloc(pg->objects, c->cap * sizeof(*pg->objects));
        }
        if (!c->cur.etag)
            c->cur.etag = pl_strdup("");
        pg->objects[pg->n++] = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
    } else if (at(w, P_TRUNC)) {
        trim(&text, &len);
        if (len == 4 && !memcmp(text, "true", 4))
            pg->is_truncated = true;
        else if (len == 5 && !memcmp(text, "false", 5))
            pg->is_truncated = false;
        else
            return PL_EPROTO;
        c->have_trunc = true;
    } else if (at(w, P_TOKEN)) {
        pl_free(pg->next_token);
        pg->next_token = pl_strndup(text, len);
    }
    return PL_OK;
}

void s3_list_page_cleanup(struct s3_list_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->n; i++)
        object_clear(&page->objects[i]);
    pl_free(page->objects);
    pl_free(page->next_token);
    memset(page, 0, sizeof(*page));
}

int s3_list_parse(const char *xml, size_t len, struct s3_list_page *out)
{
    memset(out, 0, sizeof(*out));
    struct list_ctx c = {.page = out};
    int rc = xml ? walk(xml, len, list_open, list_close, &c) : PL_EPROTO;
    object_clear(&c.cur);
    if (rc == PL_OK && out->is_truncated && (!out->next_token || !out->next_token[0]))
        rc = PL_EPROTO; /* S3 always says where to go on */
    if (rc != PL_OK)
        s3_list_page_cleanup(out);
    return rc;
}

/* ---- Error ---- */

struct error_ctx {
    struct s3_error *e;
};

static const struct {
    const char *name;
    size_t off, size;
} error_fields[] = {
    {"Code", offsetof(struct s3_error, code), sizeof(((struct s3_error *)0)->code)},
    {"Message", offsetof(struct s3_error, message), sizeof(((struct s3_error *)0)->message)},
    {"Region", offsetof(struct s3_error, region), sizeof(((struct s3_error *)0)->region)},
    {"Endpoint", offsetof(struct s3_error, endpoint), sizeof(((struct s3_error *)0)->endpoint)},
    {"BucketName", offsetof(struct s3_error, bucket), sizeof(((struct s3_error *)0)->bucket)},
    {"RequestId", offsetof(struct s3_error, request_id),
     sizeof(((struct s3_error *)0)->request_id)},
};

static int error_field(const struct walker *w)
{
    if (w->depth != 2)
        return -1;
    for (size_t i = 0; i < sizeof(error_fields) / sizeof(error_fields[0]); i++) {
        const char *path[] = {"Error", error_fields[i].name, NULL};
        if (at(w, path))
            return (int)i;
    }
    return -1;
}

static int error_open(void *ud, const struct walker *w)
{
    (void)ud;
    if (w->depth == 1) {
        static const char *const root[] = {"Error", NULL};
        return at(w, root) ? 0 : PL_EPROTO;
    }
    return error_field(w) >= 0;
}

static int error_close(void *ud, const struct walker *w, const char *text, size_t len)
{
    struct error_ctx *c = ud;
    int f = error_field(w);
    if (f < 0)
        return PL_OK;
    char *dst = (char *)c->e + error_fields[f].off;
    size_t n = len < error_fields[f].size - 1 ? len : error_fields[f].size - 1;
    /* Not cut inside a UTF-8 sequence. */
    while (n < len && n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        dst[i] = ch < 0x20 || ch == 0x7F ? ' ' : (char)ch;
    }
    dst[n] = '\0';
    return PL_OK;
}

int s3_error_parse(const char *xml, size_t len, struct s3_error *out)
{
    memset(out, 0, sizeof(*out));
    struct error_ctx c = {.e = out};
    int rc = xml ? walk(xml, len, error_open, error_close, &c) : PL_EPROTO;
    if (rc == PL_OK && !out->code[0])
        rc = PL_EPROTO;
    if (rc != PL_OK) {
        memset(out, 0, sizeof(*out));
        rc = PL_EPROTO;
    }
    return rc;
}
