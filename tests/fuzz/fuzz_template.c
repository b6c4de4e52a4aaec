/* libFuzzer target for the prompt template language (prompts/template.h): templates come from
 * the operator's folder, and the values rendered into them from callers (names, policy data).
 * The input is a template. A parse error names a line of the input. A parsed template is
 * rendered with its own names (every run of [a-z0-9_] in the input) absent, all present, and
 * every other one present: with no values, no "{{" survives (tags never leak into a prompt);
 * values are inserted verbatim and never read as template text (a value holding tags gives the
 * same output as a plain marker, marker for value); the first entry of a name wins; rendering
 * is repeatable; and a render that does not fit leaves the buffer as it was. The placeholder
 * check agrees with prompt_template_uses: names the template does not use change nothing, all
 * its own names pass, no names fail exactly when a tag has a name, with the error's line. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "prompts/template.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_NAMES 16
#define MARKER    '\x02'                  /* the plain value, when the template has none of it */
#define SECOND    '\x03'                  /* a second entry's value, which must never show */
#define TAGGY     "{{#b}}\xff{{/b}}{{x}}" /* a value that would be template text */

static bool name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Distinct runs of name characters, as new strings; returns how many. *complete: every run
 * was collected (none past MAX_NAMES or 64 bytes). */
static size_t collect_names(const uint8_t *data, size_t size, char *names[MAX_NAMES],
                            bool *complete)
{
    size_t n = 0;
    *complete = true;
    for (size_t i = 0; i < size && n < MAX_NAMES;) {
        if (!name_char(data[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < size && name_char(data[j]))
            j++;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strlen(names[k]) == j - i && memcmp(names[k], data + i, j - i) == 0;
        if (!seen && j - i > 64)
            *complete = false;
        if (!seen && j - i <= 64) {
            names[n] = pl_malloc(j - i + 1);
            memcpy(names[n], data + i, j - i);
            names[n][j - i] = '\0';
            n++;
        }
        i = j;
    }
    if (n == MAX_NAMES)
        *complete = false; /* there may be more */
    return n;
}

static char *render(const struct prompt_template *t, const struct prompt_var *vars, size_t n,
                    size_t *len)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    CHECK(prompt_template_render(t, vars, n, &b) == PL_OK);
    *len = b.len;
    /* The same again, and into a buffer that is one byte too small: left as it was. */
    struct pl_buf again;
    pl_buf_init(&again, SIZE_MAX);
    CHECK(prompt_template_render(t, vars, n, &again) == PL_OK);
    CHECK(again.len == b.len && (b.len == 0 || memcmp(again.data, b.data, b.len) == 0));
    pl_buf_cleanup(&again);
    if (b.len) {
        struct pl_buf small;
        pl_buf_init(&small, 3 + b.len - 1);
        CHECK(pl_buf_append(&small, "pre", 3) == PL_OK);
        CHECK(prompt_template_render(t, vars, n, &small) == PL_ETOOBIG);
        CHECK(small.len == 3 && strcmp(small.data, "pre") == 0);
        pl_buf_cleanup(&small);
    }
    return pl_buf_take(&b);
}

static void check_error(const uint8_t *data, size_t size, const char *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    char *end;
    CHECK(strncmp(err, "line ", 5) == 0);
    unsigned long line = strtoul(err + 5, &end, 10);
    CHECK(end != err + 5 && end[0] == ':' && line >= 1 && line <= lines);
}

static void check_placeholders(const struct prompt_template *t, const uint8_t *data, size_t size,
                               const char *const *names, size_t n, bool complete)
{
    const char *used[MAX_NAMES];
    size_t n_used = 0;
    for (size_t i = 0; i < n; i++)
        if (prompt_template_uses(t, names[i]))
            used[n_used++] = names[i];
    char err[200], err2[200];
    int all = prompt_template_check_names(t, names, n, err, sizeof(err));
    CHECK(prompt_template_check_names(t, used, n_used, err2, sizeof(err2)) == all);
    if (complete)
        CHECK(all == PL_OK);
    int none = prompt_template_check_names(t, NULL, 0, err, sizeof(err));
    CHECK(none == PL_OK || none == PL_EINVAL);
    if (complete)
        CHECK((none == PL_OK) == (n_used == 0));
    if (none != PL_OK) {
        check_error(data, size, err);
        CHECK(strstr(err, ": unknown placeholder \"") != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prompt_template *t = NULL;
    char err[200];
    memset(err, 'x', sizeof(err));
    int rc = prompt_template_parse((const char *)data, size, &t, err, sizeof(err));
    char tiny[8];
    struct prompt_template *t2 = NULL;
    CHECK(prompt_template_parse((const char *)data, size, &t2, tiny, sizeof(tiny)) == rc);
    prompt_template_free(t2);
    if (rc != PL_OK) {
        CHECK(rc == PL_EINVAL && t == NULL);
        CHECK(memchr(err, '\0', sizeof(err)) && memchr(tiny, '\0', sizeof(tiny)));
        check_error(data, size, err);
        return 0;
    }
    CHECK(t != NULL);

    char *names[MAX_NAMES];
    bool complete;
    size_t n = collect_names(data, size, names, &complete);
    check_placeholders(t, data, size, (const char *const *)names, n, complete);
    struct prompt_var vars[MAX_NAMES + 2];
    size_t len;

    /* No values: only template text, without a tag. */
    char *none = render(t, NULL, 0, &len);
    CHECK(len <= size && !memmem(none, len, "{{", 2));
    pl_free(none);

    /* Every other name present, a NULL name in the list. */
    for (size_t i = 0; i < n; i++)
        vars[i] = (struct prompt_var){names[i], i % 2 ? "odd" : NULL};
    vars[n] = (struct prompt_var){NULL, "nameless"};
    pl_free(render(t, vars, n + 1, &len));

    if (!memchr(data, MARKER, size) && !memchr(data, SECOND, size)) {
        /* All present as a marker, then as template text: the same but for the values. A
         * second entry of the first name, last in the list, changes nothing. */
        static const char marker[] = {MARKER, '\0'}, second[] = {SECOND, '\0'};
        for (size_t i = 0; i < n; i++)
            vars[i] = (struct prompt_var){names[i], marker};
        vars[n] = (struct prompt_var){n ? names[0] : "zz", second};
        size_t plain_len, taggy_len;
        char *plain = render(t, vars, n + 1, &plain_len);
        CHECK(!memchr(plain, SECOND, plain_len));
        for (size_t i = 0; i < n; i++)
            vars[i].value = TAGGY;
        char *taggy = render(t, vars, n + 1, &taggy_len);
        struct pl_buf want;
        pl_buf_init(&want, SIZE_MAX);
        for (size_t i = 0; i < plain_len; i++) {
            if (plain[i] == MARKER)
                CHECK(pl_buf_append_str(&want, TAGGY) == PL_OK);
            else
                CHECK(pl_buf_append(&want, plain + i, 1) == PL_OK);
        }
        CHECK(want.len == taggy_len &&
              (taggy_len == 0 || memcmp(want.data, taggy, taggy_len) == 0));
        pl_buf_cleanup(&want);
        pl_free(plain);
        pl_free(taggy);
    }
    for (size_t i = 0; i < n; i++)
        pl_free(names[i]);
    prompt_template_free(t);
    return 0;
}
