/* Chunking of kb_chunk.h: normalise (HTML stripped, controls made spaces), read headings and
 * paragraphs line by line, then fill chunks section by section. */
#include "knowledge/kb_chunk.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/utf8.h"

#define HEADING_LEVELS 6

struct kb_chunk_opts kb_chunk_opts_default(void)
{
    struct kb_chunk_opts o = {KB_DOC_MAX_BYTES, KB_DOC_MAX_CHUNKS, KB_CHUNK_MAX_WORDS,
                              KB_CHUNK_OVERLAP};
    return o;
}

bool kb_kind_from_name(const char *name, enum kb_kind *kind)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot)
        return false;
    if (!strcasecmp(dot, ".md") || !strcasecmp(dot, ".markdown"))
        *kind = KB_KIND_MD;
    else if (!strcasecmp(dot, ".txt"))
        *kind = KB_KIND_TXT;
    else if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
        *kind = KB_KIND_HTML;
    else
        return false;
    return true;
}

/* ---- HTML to text ---- */

struct html_out {
    struct pl_buf *b;
    int space;  /* white space seen since the last character written */
    int marker; /* a heading marker was just written: no space after it */
    int rc;
};

static void out_raw(struct html_out *o, const char *p, size_t n)
{
    if (o->rc == PL_OK)
        o->rc = pl_buf_append(o->b, p, n);
}

static int at_line_start(const struct html_out *o)
{
    return o->b->len == 0 || o->b->data[o->b->len - 1] == '\n';
}

static void out_text(struct html_out *o, const char *p, size_t n)
{
    if (o->space && !at_line_start(o) && !o->marker)
        out_raw(o, " ", 1);
    o->space = 0;
    o->marker = 0;
    out_raw(o, p, n);
}

static void out_break(struct html_out *o, const char *brk)
{
    o->space = 0;
    o->marker = 0;
    size_t len = o->b->len;
    if (len == 0)
        return;
    if (brk[1] == '\n' && len >= 2 && o->b->data[len - 1] == '\n' && o->b->data[len - 2] == '\n')
        return;
    if (brk[1] == '\n' && o->b->data[len - 1] == '\n')
        brk++;
    out_raw(o, brk, strlen(brk));
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},    {"nbsp", ' '},     {"pound", 0xa3},    {"euro", 0x20ac},
    {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026}, {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d},  {"copy", 0xa9},
};

/* The entity at s[0] == '&': its code point and length, or 0 if it is not one we know. */
static size_t entity_at(const char *s, size_t len, uint32_t *cp)
{
    size_t semi = 1;
    while (semi < len && semi < 12 && s[semi] != ';')
        semi++;
    if (semi >= len || s[semi] != ';' || semi == 1)
        return 0;
    if (s[1] == '#') {
        int hex = semi > 2 && (s[2] == 'x' || s[2] == 'X');
        size_t i = hex ? 3 : 2;
        if (i == semi)
            return 0;
        uint64_t v = 0;
        for (; i < semi; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'          ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (d < 0)
                return 0;
            v = v * (hex ? 16 : 10) + (uint64_t)d;
        }
        /* Nothing, a control, a surrogate or past Unicode: the replacement character. */
        if (v < 0x20 || (v >= 0x7f && v <= 0x9f) || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
            v = 0xfffd;
        *cp = (uint32_t)v;
        return semi + 1;
    }
    for (size_t i = 0; i < PL_ARRAY_LEN(entities); i++) {
        size_t n = strlen(entities[i].name);
        if (n == semi - 1 && memcmp(s + 1, entities[i].name, n) == 0) {
            *cp = entities[i].cp;
            return semi + 1;
        }
    }
    return 0;
}

static int is_html_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Offset just past the `</name ...>` closing the element at s, or len if it never closes. */
static size_t skip_element(const char *s, size_t len, size_t from, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = from; i + 2 + n <= len; i++) {
        if (s[i] == '<' && s[i + 1] == '/' && strncasecmp(s + i + 2, name, n) == 0 &&
            (i + 2 + n == len || !is_alpha(s[i + 2 + n]))) {
            const char *gt = memchr(s + i, '>', len - i);
            return gt ? (size_t)(gt - s) + 1 : len;
        }
    }
    return len;
}

static const char *const block_tags[] = {
    "address", "article",  "aside",      "blockquote", "body",   "dd",    "details", "div", "dl",
    "dt",      "fieldset", "figcaption", "figure",     "footer", "form",  "h4",      "h5",  "h6",
    "head",    "header",   "hr",         "html",       "li",     "main",  "nav",     "ol",  "p",
    "pre",     "section",  "summary",    "table",      "tbody",  "thead", "tfoot",   "tr",  "ul",
};

static int name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

int kb_html_to_text(const char *s, size_t len, struct pl_buf *b)
{
    static const char *const markers[] = {"# ", "## ", "### "};
    struct html_out o = {b, 0, 0, PL_OK};
    size_t i = 0;
    while (i < len && o.rc == PL_OK) {
        char c = s[i];
        if (c == '&') {
            uint32_t cp;
            size_t n = entity_at(s + i, len - i, &cp);
            if (n) {
                char u[4];
                if (cp == ' ')
                    o.space = 1;
                else
                    out_text(&o, u, utf8_put(cp, u));
                i += n;
                continue;
            }
        }
        if (c == '<' && i + 1 < len &&
            (is_alpha(s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!' || s[i + 1] == '?')) {
            if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                const char *end = memmem(s + i + 4, len - i - 4, "-->", 3);
                i = end ? (size_t)(end - s) + 3 : len;
                continue;
            }
            size_t j = i + 1;
            int closing = s[j] == '/';
            if (closing)
                j++;
            size_t name_at = j;
            while (j < len && (is_alpha(s[j]) || (s[j] >= '0' && s[j] <= '9')))
                j++;
            const char *name = s + name_at;
            size_t name_len = j - name_at;
            char quote = 0; /* a '>' inside a quoted attribute value does not end the tag */
            while (j < len && (quote || s[j] != '>')) {
                if (quote && s[j] == quote)
                    quote = 0;
                else if (!quote && (s[j] == '"' || s[j] == '\''))
                    quote = s[j];
                j++;
            }
            i = j < len ? j + 1 : len;
            if (!closing &&
                (name_is(name, name_len, "script") || name_is(name, name_len, "style") ||
                 name_is(name, name_len, "title"))) {
                char nm[8];
                memcpy(nm, name, name_len);
                nm[name_len] = '\0';
                i = skip_element(s, len, i, nm);
                continue;
            }
            if (name_len == 2 && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' &&
                name[1] <= '3') {
                out_break(&o, "\n\n");
                if (!closing) {
                    out_raw(&o, markers[name[1] - '1'], strlen(markers[name[1] - '1']));
                    o.marker = 1;
                }
                continue;
            }
            if (name_is(name, name_len, "br")) {
                out_break(&o, "\n");
                continue;
            }
            if (name_is(name, name_len, "td") || name_is(name, name_len, "th")) {
                o.space = 1;
                continue;
            }
            for (size_t t = 0; t < PL_ARRAY_LEN(block_tags); t++) {
                if (name_is(name, name_len, block_tags[t])) {
                    out_break(&o, "\n\n");
                    break;
                }
            }
            continue; /* inline tags (a, b, span, ...) vanish */
        }
        if (is_html_space(c)) {
            o.space = 1;
            i++;
            continue;
        }
        out_text(&o, s + i, 1);
        i++;
    }
    return o.rc;
}

/* ---- chunking ---- */

struct word {
    uint32_t start, end; /* byte offsets in the normalised text */
};

struct para {
    size_t w0, w1; /* its words */
};

struct section {
    char *path;      /* owned */
    size_t p0, p1;   /* its paragraphs */
    uint32_t h0, h1; /* its heading's text in the normalised text (h0 == h1: none) */
    int level;       /* of its heading, 0 for none */
};

struct seg {
    size_t a, b; /* words [a, b) of one paragraph */
    size_t para;
};

struct chunker {
    const char *t; /* the normalised text */
    const struct kb_chunk_opts *o;
    struct word *words;
    size_t n_words, cap_words;
    struct para *paras;
    size_t n_paras, cap_paras;
    struct section *secs;
    size_t n_secs, cap_secs;
    struct seg *cur;
    size_t n_cur, cap_cur, cur_words, new_words;
    struct kb_doc *doc;
    size_t cap_chunks;
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = pl_realloc((arr), (cap) * sizeof(*(arr)));                                     \
        }                                                                                          \
    } while (0)

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

/* Controls (NUL included) become spaces and CR goes, so that every later step sees words split
 * by space, tab and newline only. */
static int normalise(const char *s, size_t len, struct pl_buf *out)
{
    int rc = pl_buf_reserve(out, len + 1);
    for (size_t i = 0; i < len && rc == PL_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' && i + 1 < len && s[i + 1] == '\n')
            continue;
        char d = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? ' ' : (char)c;
        rc = pl_buf_append(out, &d, 1);
    }
    if (rc == PL_OK && out->len == 0)
        rc = pl_buf_append(out, "", 0);
    return rc;
}

static int add_chunk(struct chunker *c, char *heading, char *text, size_t words)
{
    struct kb_doc *d = c->doc;
    if (d->n_chunks >= c->o->max_chunks) {
        pl_free(heading);
        pl_free(text);
        return PL_ETOOBIG;
    }
    GROW(d->chunks, d->n_chunks, c->cap_chunks);
    d->chunks[d->n_chunks].heading = heading;
    d->chunks[d->n_chunks].text = text;
    d->chunks[d->n_chunks].words = words;
    d->n_chunks++;
    return PL_OK;
}

static void push_seg(struct chunker *c, size_t para, size_t a, size_t b)
{
    if (c->n_cur && c->cur[c->n_cur - 1].para == para && c->cur[c->n_cur - 1].b == a) {
        c->cur[c->n_cur - 1].b = b; /* the carried end of the same paragraph goes on */
    } else {
        GROW(c->cur, c->n_cur, c->cap_cur);
        c->cur[c->n_cur++] = (struct seg){a, b, para};
    }
    c->cur_words += b - a;
    c->new_words += b - a;
}

/* Emit the chunk being filled and start the next with its overlap: the last paragraph (or part)
 * if it has at most overlap_words words, else its last overlap_words words. */
static int emit(struct chunker *c, const char *path)
{
    struct pl_buf text;
    pl_buf_init(&text, SIZE_MAX);
    for (size_t i = 0; i < c->n_cur; i++) {
        const struct seg *g = &c->cur[i];
        if (i)
            pl_buf_append(&text, "\n\n", 2);
        uint32_t from = c->words[g->a].start, to = c->words[g->b - 1].end;
        pl_buf_append(&text, c->t + from, to - from);
    }
    int rc = add_chunk(c, pl_strdup(path), pl_buf_take(&text), c->cur_words);
    struct seg last = c->cur[c->n_cur - 1];
    if (last.b - last.a > c->o->overlap_words)
        last.a = last.b - c->o->overlap_words;
    c->n_cur = 0;
    c->cur_words = c->new_words = 0;
    if (c->o->overlap_words > 0) {
        push_seg(c, last.para, last.a, last.b);
        c->new_words = 0;
    }
    return rc;
}

static int chunk_section(struct chunker *c, const struct section *s, int leaf)
{
    size_t max = c->o->max_words, overlap = c->o->overlap_words;
    c->n_cur = c->cur_words = c->new_words = 0;
    if (s->p0 == s->p1) {
        /* A heading with nothing under it and no sub-heading: its own words are the chunk. */
        if (!leaf || s->h0 == s->h1)
            return PL_OK;
        /* (at most max_words of them: all are in the heading path anyway) */
        size_t words = 0, i = s->h0, end = s->h0;
        while (i < s->h1 && words < max) {
            while (i < s->h1 && is_space(c->t[i]))
                i++;
            if (i == s->h1)
                break;
            words++;
            while (i < s->h1 && !is_space(c->t[i]))
                i++;
            end = i;
        }
        return add_chunk(c, pl_strdup(s->path), pl_strndup(c->t + s->h0, end - s->h0), words);
    }
    for (size_t p = s->p0; p < s->p1; p++) {
        size_t pos = c->paras[p].w0, end = c->paras[p].w1;
        while (pos < end) {
            size_t left = end - pos;
            int rc = PL_OK;
            if (c->cur_words + left <= max) {
                push_seg(c, p, pos, end);
                break;
            }
            if (c->new_words > 0 && pos == c->paras[p].w0 && left <= max - overlap) {
                rc = emit(c, s->path); /* the paragraph goes whole into the next chunk */
            } else if (c->cur_words == max) {
                rc = emit(c, s->path);
            } else {
                size_t take = max - c->cur_words; /* a long paragraph is cut between words */
                push_seg(c, p, pos, pos + take);
                pos += take;
                rc = emit(c, s->path);
            }
            if (rc != PL_OK)
                return rc;
        }
    }
    return c->new_words > 0 ? emit(c, s->path) : PL_OK;
}

/* The heading at line [a, b) of a Markdown text: its level (0 if the line is not one) and its
 * text, trimmed and without a closing run of '#'. */
static int heading_at(const char *t, size_t a, size_t b, size_t *h0, size_t *h1)
{
    size_t i = a;
    while (i < b && i - a < HEADING_LEVELS + 1 && t[i] == '#')
        i++;
    int level = (int)(i - a);
    if (level == 0 || level > HEADING_LEVELS || (i < b && t[i] != ' ' && t[i] != '\t'))
        return 0;
    while (i < b && is_space(t[i]))
        i++;
    size_t e = b;
    while (e > i && is_space(t[e - 1]))
        e--;
    size_t k = e;
    while (k > i && t[k - 1] == '#')
        k--;
    if (k == i || is_space(t[k - 1])) { /* "## Excess ##" or "## ##" */
        e = k;
        while (e > i && is_space(t[e - 1]))
            e--;
    }
    *h0 = i;
    *h1 = e;
    return e > i ? level : 0;
}

static void start_section(struct chunker *c, const char *path, size_t h0, size_t h1, int level)
{
    GROW(c->secs, c->n_secs, c->cap_secs);
    c->secs[c->n_secs++] = (struct section){pl_strdup(path), c->n_paras,   c->n_paras,
                                            (uint32_t)h0,    (uint32_t)h1, level};
}

/* Read the lines into sections, paragraphs and words; the title is the first level-1 heading. */
static void read_lines(struct chunker *c, size_t len, enum kb_kind kind, char **title)
{
    const char *t = c->t;
    size_t stack[HEADING_LEVELS][2] = {{0}};
    int in_fence = 0, in_para = 0;
    start_section(c, "", 0, 0, 0);
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(t + at, '\n', len - at);
        size_t eol = nl ? (size_t)(nl - t) : len;
        size_t h0, h1;
        int level = 0;
        if (kind != KB_KIND_TXT && !in_fence)
            level = heading_at(t, at, eol, &h0, &h1);
        size_t i = at;
        while (i < eol && is_space(t[i]))
            i++;
        if (level) {
            in_para = 0;
            stack[level - 1][0] = h0;
            stack[level - 1][1] = h1;
            for (int l = level; l < HEADING_LEVELS; l++)
                stack[l][0] = stack[l][1] = 0;
            struct pl_buf path;
            pl_buf_init(&path, SIZE_MAX);
            pl_buf_append(&path, "", 0);
            for (int l = 0; l < level; l++) {
                if (stack[l][0] == stack[l][1])
                    continue;
                if (path.len)
                    pl_buf_append_str(&path, KB_HEADING_SEP);
                pl_buf_append(&path, t + stack[l][0], stack[l][1] - stack[l][0]);
            }
            start_section(c, path.data, h0, h1, level);
            pl_buf_cleanup(&path);
            if (level == 1 && !*title)
                *title = pl_strndup(t + h0, h1 - h0);
        } else if (i == eol) {
            in_para = 0;
        } else {
            if (kind == KB_KIND_MD && eol - i >= 3 &&
                (memcmp(t + i, "```", 3) == 0 || memcmp(t + i, "~~~", 3) == 0))
                in_fence = !in_fence; /* no headings inside fenced code */
            if (!in_para) {
                GROW(c->paras, c->n_paras, c->cap_paras);
                c->paras[c->n_paras++] = (struct para){c->n_words, c->n_words};
                c->secs[c->n_secs - 1].p1 = c->n_paras;
                in_para = 1;
            }
            while (i < eol) {
                size_t w = i;
                while (i < eol && !is_space(t[i]))
                    i++;
                GROW(c->words, c->n_words, c->cap_words);
                c->words[c->n_words++] = (struct word){(uint32_t)w, (uint32_t)i};
                while (i < eol && is_space(t[i]))
                    i++;
            }
            c->paras[c->n_paras - 1].w1 = c->n_words;
        }
        at = eol + 1;
    }
}

/* "dir/motor-glass.md" -> "motor-glass". */
static char *title_from_name(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    return n ? pl_strndup(base, n) : pl_strdup(name);
}

void kb_doc_cleanup(struct kb_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n_chunks; i++) {
        pl_free(doc->chunks[i].heading);
        pl_free(doc->chunks[i].text);
    }
    pl_free(doc->chunks);
    pl_free(doc->name);
    pl_free(doc->title);
    memset(doc, 0, sizeof(*doc));
}

int kb_chunk_document(const char *name, const char *text, size_t len, enum kb_kind kind,
                      const struct kb_chunk_opts *opts, struct kb_doc *out)
{
    memset(out, 0, sizeof(*out));
    struct kb_chunk_opts def = kb_chunk_opts_default();
    const struct kb_chunk_opts *o = opts ? opts : &def;
    if (!name || !*name || o->max_words == 0 || o->overlap_words >= o->max_words || (len && !text))
        return PL_EINVAL;
    if (len > o->max_bytes || len > UINT32_MAX / 2)
        return PL_ETOOBIG;
    if (!pl_utf8_valid(text, len))
        return PL_EUTF8;

    struct pl_buf stripped, norm;
    pl_buf_init(&stripped, SIZE_MAX);
    pl_buf_init(&norm, SIZE_MAX);
    if (kind == KB_KIND_HTML) {
        kb_html_to_text(text, len, &stripped);
        text = stripped.data ? stripped.data : "";
        len = stripped.len;
    }
    normalise(text, len, &norm);
    pl_buf_cleanup(&stripped);

    struct chunker c = {.t = norm.data, .o = o, .doc = out};
    out->name = pl_strdup(name);
    out->kind = kind;
    read_lines(&c, norm.len, kind, &out->title);
    if (!out->title)
        out->title = title_from_name(name);
    int rc = PL_OK;
    for (size_t s = 0; s < c.n_secs && rc == PL_OK; s++) {
        int leaf = s + 1 == c.n_secs || c.secs[s + 1].level <= c.secs[s].level;
        rc = chunk_section(&c, &c.secs[s], leaf);
    }
    for (size_t s = 0; s < c.n_secs; s++)
        pl_free(c.secs[s].path);
    pl_free(c.secs);
    pl_free(c.paras);
    pl_free(c.words);
    pl_free(c.cur);
    pl_buf_cleanup(&norm);
    if (rc != PL_OK)
        kb_doc_cleanup(out);
    return rc;
}
