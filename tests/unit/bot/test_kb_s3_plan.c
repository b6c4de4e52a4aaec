/* The S3 sync's plan (bot/kb_s3_plan.h): names made from keys, what is added, updated, left
 * alone, skipped (with the reason) and deleted, collisions that never overwrite, and a gone
 * key's name taken over by a new key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bot/kb_s3_plan.h"
#include "common/err.h"

static void expect_name(const char *prefix, const char *key, const char *want)
{
    char name[KB_STORE_NAME_MAX + 1];
    const char *why = NULL;
    assert_int_equal(kb_s3_name_from_key(prefix, key, name, &why), PL_OK);
    assert_string_equal(name, want);
}

static void expect_no_name(const char *prefix, const char *key, const char *why_want)
{
    char name[KB_STORE_NAME_MAX + 1];
    const char *why = NULL;
    assert_int_equal(kb_s3_name_from_key(prefix, key, name, &why), PL_EINVAL);
    assert_string_equal(name, "");
    assert_string_equal(why, why_want);
}

static void test_names(void **state)
{
    (void)state;
    expect_name("kb/", "kb/motor-glass.md", "motor-glass.md");
    expect_name("kb/", "kb/motor/Glass cover.md", "motor-Glass_cover.md");
    expect_name("kb/mo", "kb/motor/x.md", "motor-x.md"); /* relative to the prefix's folder */
    expect_name("", "a/b/c.txt", "a-b-c.txt");
    expect_name("", "caf\xc3\xa9 (v2) .html", "caf_v2_.html");
    expect_name("", "Q&A.md", "Q_A.md");
    expect_name("", "a//b.md", "a--b.md");
    expect_name("", "_x.md", "_x.md");
    expect_no_name("kb/", "docs/a.md", "outside the prefix");
    expect_no_name("kb/", "kb/", "the prefix's folder itself");
    expect_no_name("", ".hidden.md",
                   "a hidden file or folder (a part of the key starts with \".\")");
    expect_no_name("", "a/.git/x.md",
                   "a hidden file or folder (a part of the key starts with \".\")");
    expect_no_name("", "a\tb.md", "the key holds a control character");
    char key[200];
    memset(key, 'k', 126);
    memcpy(key + 126, ".md", 4);
    expect_no_name("", key, "its document name would be longer than 128 characters");
    key[125] = '\0';
    memcpy(key + 125, ".md", 4); /* 128 exactly */
    char name[KB_STORE_NAME_MAX + 1];
    const char *why;
    assert_int_equal(kb_s3_name_from_key("", key, name, &why), PL_OK);
    assert_int_equal(strlen(name), 128);

    char src[64];
    kb_s3_source("docs", "kb/a.md", src, sizeof(src));
    assert_string_equal(src, "s3://docs/kb/a.md");
}

#define E1 "\"e1\""
#define E2 "\"e2\""

static const struct kb_s3_item *item_of(const struct kb_s3_plan *p, const struct kb_s3_object *objs,
                                        const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(objs[p->items[i].object].key, key))
            return &p->items[i];
    fail_msg("no item for %s", key);
    return NULL;
}

static void test_plan(void **state)
{
    (void)state;
    const struct kb_s3_object objs[] = {
        {"kb/", "\"d\"", 0},           /* folder marker: ignored */
        {"kb/new.md", E1, 10},         /* added */
        {"kb/same.md", E1, 10},        /* unchanged */
        {"kb/changed.txt", E2, 10},    /* updated */
        {"kb/photo.jpg", E1, 10},      /* not a document */
        {"kb/big.html", E1, 5u << 20}, /* too large */
        {"kb/manual.md", E1, 10},      /* a hand-stored document holds the name */
        {"kb/other.md", E1, 10},       /* a document from another bucket holds the name */
        {"kb/a b.md", E1, 10},         /* a_b.md, first in listing order: added */
        {"kb/a+b.md", E1, 10},         /* a_b.md too: skipped */
        {"kb/x-y.md", E1, 10},         /* x-y.md: held by kb/x/y.md, which is listed */
        {"kb/x/y.md", E1, 10},         /* holds x-y.md: unchanged */
        {"kb/renamed-doc.md", E1, 10}, /* takes over renamed-doc.md from the gone key */
        {"kb/.DS_Store.md", E1, 10},   /* hidden */
    };
    const struct kb_s3_doc docs[] = {
        {"same.md", "s3://docs/kb/same.md", E1},
        {"changed.txt", "s3://docs/kb/changed.txt", E1},
        {"manual.md", NULL, NULL},
        {"other.md", "s3://elsewhere/kb/other.md", E1},
        {"x-y.md", "s3://docs/kb/x/y.md", E1},
        {"renamed-doc.md", "s3://docs/kb/renamed/doc.md", E1}, /* gone, name taken over */
        {"gone.md", "s3://docs/kb/gone.md", E1},               /* gone: deleted */
        {"gone-elsewhere.md", "s3://docs/old/gone.md", E1},    /* out of scope: kept */
        {"big.html", "s3://docs/kb/big.html", E1},             /* still listed: kept */
        {"hand.md", NULL, NULL},                               /* no source: kept */
    };
    size_t no = sizeof(objs) / sizeof(objs[0]), nd = sizeof(docs) / sizeof(docs[0]);
    struct kb_s3_plan p;
    assert_int_equal(kb_s3_plan_make("docs", "kb/", objs, no, docs, nd, &p), PL_OK);
    assert_int_equal(p.n, no - 1);
    const struct kb_s3_item *it;
    it = item_of(&p, objs, "kb/new.md");
    assert_int_equal(it->action, KB_S3_ADD);
    assert_string_equal(it->name, "new.md");
    assert_int_equal(item_of(&p, objs, "kb/same.md")->action, KB_S3_UNCHANGED);
    assert_int_equal(item_of(&p, objs, "kb/changed.txt")->action, KB_S3_UPDATE);
    it = item_of(&p, objs, "kb/photo.jpg");
    assert_int_equal(it->action, KB_S3_SKIP);
    assert_string_equal(it->reason, "not a .md, .txt or .html object");
    assert_string_equal(item_of(&p, objs, "kb/big.html")->reason, "larger than 4 MiB");
    it = item_of(&p, objs, "kb/manual.md");
    assert_int_equal(it->action, KB_S3_SKIP);
    assert_string_equal(it->reason, "a document named manual.md was stored by hand");
    assert_string_equal(item_of(&p, objs, "kb/other.md")->reason,
                        "a document named other.md comes from s3://elsewhere/kb/other.md");
    it = item_of(&p, objs, "kb/a b.md");
    assert_int_equal(it->action, KB_S3_ADD);
    assert_string_equal(it->name, "a_b.md");
    assert_string_equal(item_of(&p, objs, "kb/a+b.md")->reason,
                        "its name a_b.md is taken by kb/a b.md");
    assert_string_equal(item_of(&p, objs, "kb/x-y.md")->reason,
                        "its name x-y.md is taken by kb/x/y.md");
    assert_int_equal(item_of(&p, objs, "kb/x/y.md")->action, KB_S3_UNCHANGED);
    it = item_of(&p, objs, "kb/renamed-doc.md");
    assert_int_equal(it->action, KB_S3_UPDATE);
    assert_string_equal(it->name, "renamed-doc.md");
    assert_int_equal(item_of(&p, objs, "kb/.DS_Store.md")->action, KB_S3_SKIP);
    assert_int_equal(p.n_deletes, 1);
    assert_string_equal(p.deletes[0], "gone.md");
    assert_int_equal(p.adds, 2);
    assert_int_equal(p.updates, 2);
    assert_int_equal(p.unchanged, 2);
    assert_int_equal(p.skips, 7);
    kb_s3_plan_cleanup(&p);
}

static void test_empty_listing_deletes_scope(void **state)
{
    (void)state;
    const struct kb_s3_doc docs[] = {
        {"a.md", "s3://docs/kb/a.md", E1},
        {"b.md", "s3://docs/kbx/b.md", E1}, /* "kb" as a prefix covers kbx/ too, as in S3 */
        {"c.md", "s3://docsx/kb/c.md", E1}, /* another bucket */
        {"d.md", "s3://docs", E1},
        {"e.md", NULL, NULL},
    };
    struct kb_s3_plan p;
    assert_int_equal(kb_s3_plan_make("docs", "kb", NULL, 0, docs, 5, &p), PL_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.n_deletes, 2);
    assert_string_equal(p.deletes[0], "a.md");
    assert_string_equal(p.deletes[1], "b.md");
    kb_s3_plan_cleanup(&p);

    /* The same objects listed again: nothing to do. */
    const struct kb_s3_object objs[] = {{"kb/a.md", E1, 1}, {"kbx/b.md", E1, 1}};
    assert_int_equal(kb_s3_plan_make("docs", "kb", objs, 2, docs, 5, &p), PL_OK);
    assert_int_equal(p.unchanged, 2);
    assert_string_equal(p.items[1].name, "b.md"); /* a copy keeps its name */
    kb_s3_plan_cleanup(&p);
    /* A new key is named from the prefix's folder: here the bucket's root. */
    const struct kb_s3_object more[] = {{"kbx/new.md", E1, 1}};
    assert_int_equal(kb_s3_plan_make("docs", "kb", more, 1, docs, 5, &p), PL_OK);
    assert_string_equal(p.items[0].name, "kbx-new.md");
    assert_int_equal(p.n_deletes, 2);
    kb_s3_plan_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_empty_listing_deletes_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
