/* libFuzzer target for S3's XML replies (connectors/s3_list.h): a ListObjectsV2 page and an
 * error body, as the bucket's endpoint (or anything answering in its place) sends them to
 * `parley kb sync`. Contract: the list reader answers only PL_OK, PL_EPROTO or PL_ETOOBIG and
 * leaves nothing on a refusal; an accepted page has non-empty keys within the text bound, a
 * token whenever it is truncated, and reads the same twice; written back as XML (every object,
 * the flag and the token escaped) it reads back to the same objects; the error reader answers
 * PL_OK with a non-empty code or PL_EPROTO with every field empty, and its fields never hold a
 * control byte (they are printed on one line). An accepted page's keys also go through the S3
 * sync's plan (bot/kb_s3_plan.h): document names valid and never given to two keys, a document
 * stored by hand never replaced, only this scope's copies deleted, the same plan twice. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bot/kb_s3_plan.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "connectors/s3_list.h"
#include "tests/fuzz/fuzz_check.h"

static void escape(struct pl_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            pl_buf_append_str(b, "&amp;");
            break;
        case '<':
            pl_buf_append_str(b, "&lt;");
            break;
        case '>':
            pl_buf_append_str(b, "&gt;");
            break;
        case '"':
            pl_buf_append_str(b, "&quot;");
            break;
        case '\'':
            pl_buf_append_str(b, "&apos;");
            break;
        default:
            pl_buf_append(b, s, 1);
        }
    }
}

static void same_pages(const struct s3_list_page *a, const struct s3_list_page *b)
{
    CHECK(a->n == b->n);
    CHECK(a->is_truncated == b->is_truncated);
    CHECK(!a->next_token == !b->next_token);
    if (a->next_token)
        CHECK(!strcmp(a->next_token, b->next_token));
    for (size_t i = 0; i < a->n; i++) {
        CHECK(!strcmp(a->objects[i].key, b->objects[i].key));
        CHECK(!strcmp(a->objects[i].etag, b->objects[i].etag));
        CHECK(a->objects[i].size == b->objects[i].size);
    }
}

/* The sync's plan over the page's keys: names valid and never shared by two kept keys, nothing
 * deleted that is not this scope's, the same plan twice. The server holds a copy of every
 * other key (some with another ETag) and a hand-stored document named like the first key. */
static void check_plan(const struct s3_list_page *p)
{
    struct kb_s3_object *objs = pl_calloc(p->n + 1, sizeof(*objs));
    for (size_t i = 0; i < p->n; i++)
        objs[i] = (struct kb_s3_object){p->objects[i].key, p->objects[i].etag, p->objects[i].size};
    struct kb_s3_doc *docs = pl_calloc(p->n + 2, sizeof(*docs));
    char(*names)[KB_STORE_NAME_MAX + 1] = pl_calloc(p->n + 2, sizeof(*names));
    char(*sources)[KB_STORE_SOURCE_MAX + 64] = pl_calloc(p->n + 2, sizeof(*sources));
    size_t nd = 0;
    const char *why;
    for (size_t i = 0; i < p->n; i++) {
        if (kb_s3_name_from_key("kb/", objs[i].key, names[nd], &why) != PL_OK)
            continue;
        CHECK(kb_store_name_valid(names[nd]));
        bool dup = !strcmp(names[nd], "gone.md"); /* a server has one document per name */
        for (size_t j = 0; j < nd && !dup; j++)
            dup = !strcmp(docs[j].name, names[nd]);
        if (dup)
            continue;
        if (i == 0) {
            docs[nd] = (struct kb_s3_doc){names[nd], NULL, NULL};
        } else if (i % 2) {
            kb_s3_source("b", objs[i].key, sources[nd], sizeof(sources[nd]));
            docs[nd] = (struct kb_s3_doc){names[nd], sources[nd], i % 4 == 1 ? objs[i].etag : "x"};
        } else {
            continue;
        }
        nd++;
    }
    snprintf(names[nd], sizeof(names[nd]), "gone.md");
    docs[nd] = (struct kb_s3_doc){names[nd], "s3://b/kb/zz-gone-key.md", "\"e\""};
    nd++;
    struct kb_s3_plan a, b;
    CHECK(kb_s3_plan_make("b", "kb/", objs, p->n, docs, nd, &a) == PL_OK);
    CHECK(kb_s3_plan_make("b", "kb/", objs, p->n, docs, nd, &b) == PL_OK);
    CHECK(a.n == b.n && a.n_deletes == b.n_deletes && a.skips == b.skips);
    CHECK(a.adds + a.updates + a.unchanged + a.skips == a.n);
    for (size_t i = 0; i < a.n; i++) {
        CHECK(a.items[i].action == b.items[i].action);
        CHECK(!strcmp(a.items[i].name, b.items[i].name));
        if (a.items[i].action == KB_S3_SKIP) {
            CHECK(a.items[i].reason[0]);
            continue;
        }
        CHECK(kb_store_name_valid(a.items[i].name));
        for (size_t j = 0; j < i; j++)
            CHECK(a.items[j].action == KB_S3_SKIP || strcmp(a.items[i].name, a.items[j].name));
        /* The hand-stored document is never replaced. */
        if (docs[0].name && !docs[0].source)
            CHECK(strcmp(a.items[i].name, docs[0].name) != 0);
    }
    bool gone_taken = false;
    for (size_t i = 0; i < a.n; i++)
        gone_taken |= a.items[i].action != KB_S3_SKIP && !strcmp(a.items[i].name, "gone.md");
    for (size_t i = 0; i < a.n_deletes; i++) {
        bool scoped = false;
        for (size_t j = 0; j < nd; j++)
            if (!strcmp(docs[j].name, a.deletes[i]))
                scoped = docs[j].source && !strncmp(docs[j].source, "s3://b/kb/", 10);
        CHECK(scoped);
    }
    /* Only the gone key's copy may go, and not when a new key took its name. */
    CHECK(a.n_deletes <= 1 && (!a.n_deletes || !strcmp(a.deletes[0], "gone.md")));
    if (gone_taken)
        CHECK(a.n_deletes == 0);
    kb_s3_plan_cleanup(&a);
    kb_s3_plan_cleanup(&b);
    pl_free(sources);
    pl_free(names);
    pl_free(docs);
    pl_free(objs);
}

static void check_list(const uint8_t *data, size_t size)
{
    struct s3_list_page p, again;
    int rc = s3_list_parse((const char *)data, size, &p);
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_ETOOBIG);
    CHECK(s3_list_parse((const char *)data, size, &again) == rc);
    if (rc != PL_OK) {
        CHECK(p.n == 0 && !p.objects && !p.next_token);
        return;
    }
    same_pages(&p, &again);
    s3_list_page_cleanup(&again);
    CHECK(!p.is_truncated || (p.next_token && p.next_token[0]));
    for (size_t i = 0; i < p.n; i++) {
        size_t len = strlen(p.objects[i].key);
        CHECK(len > 0 && len <= S3_LIST_MAX_TEXT);
        CHECK(strlen(p.objects[i].etag) <= S3_LIST_MAX_TEXT);
        CHECK(strlen(p.objects[i].last_modified) < sizeof(p.objects[i].last_modified));
    }
    /* Written back, read back the same. */
    struct pl_buf x;
    pl_buf_init(&x, (size_t)64 << 20);
    pl_buf_printf(&x, "<ListBucketResult><IsTruncated>%s</IsTruncated>",
                  p.is_truncated ? "true" : "false");
    if (p.next_token) {
        pl_buf_append_str(&x, "<NextContinuationToken>");
        escape(&x, p.next_token);
        pl_buf_append_str(&x, "</NextContinuationToken>");
    }
    for (size_t i = 0; i < p.n; i++) {
        pl_buf_append_str(&x, "<Contents><Key>");
        escape(&x, p.objects[i].key);
        pl_buf_append_str(&x, "</Key><ETag>");
        escape(&x, p.objects[i].etag);
        pl_buf_printf(&x, "</ETag><Size>%llu</Size></Contents>",
                      (unsigned long long)p.objects[i].size);
    }
    pl_buf_append_str(&x, "</ListBucketResult>");
    CHECK(s3_list_parse(x.data, x.len, &again) == PL_OK);
    same_pages(&p, &again);
    s3_list_page_cleanup(&again);
    pl_buf_cleanup(&x);
    check_plan(&p);
    s3_list_page_cleanup(&p);
}

static void check_field(const char *f, size_t cap)
{
    size_t n = strnlen(f, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)f[i] >= 0x20 && f[i] != 0x7F);
}

static void check_error(const uint8_t *data, size_t size)
{
    struct s3_error e;
    int rc = s3_error_parse((const char *)data, size, &e);
    CHECK(rc == PL_OK || rc == PL_EPROTO);
    CHECK((rc == PL_OK) == (e.code[0] != '\0'));
    check_field(e.code, sizeof(e.code));
    check_field(e.message, sizeof(e.message));
    check_field(e.region, sizeof(e.region));
    check_field(e.endpoint, sizeof(e.endpoint));
    check_field(e.bucket, sizeof(e.bucket));
    check_field(e.request_id, sizeof(e.request_id));
    if (rc != PL_OK)
        CHECK(!e.message[0] && !e.region[0] && !e.endpoint[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_list(data, size);
    check_error(data, size);
    char out[64];
    size_t n = 0;
    int rc = s3_xml_decode((const char *)data, size, out, sizeof(out) - 1, &n);
    CHECK(rc == PL_OK || rc == PL_EPROTO || rc == PL_ETOOBIG);
    if (rc == PL_OK)
        CHECK(n < sizeof(out) && out[n] == '\0');
    return 0;
}
