/* Prompt template parser and renderer; see template.h. A template is parsed once into a flat
 * list of nodes (text, variable, section open, section close); an open node knows the index of
 * its close, so rendering is a single loop that jumps over sections whose condition fails. */
#include "prompts/template.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/embed.h"
#include "common/err.h"

#define TEMPLATE_FILE_MAX (1024 * 1024)
#define TEMPLATE_NAME_MAX 64
#define NAME_SHOWN_MAX    40 /* longest name quoted in an error message */

/* Generated at build time from prompts/templates/ (cmake/embed_gen.cmake). */
extern const struct pl_embedded_file embed_prompts[];

enum node_kind { NODE_TEXT, NODE_VAR, NODE_OPEN, NODE_CLOSE };

struct node {
    enum node_kind kind;
    bool inverted; /* NODE_OPEN: {{^name}} */
    size_t off;    /* text: the bytes; others: the name */
    size_t len;
    size_t tag;  /* offset of the tag's "{{", for error lines */
    size_t skip; /* NODE_OPEN: index of the matching NODE_CLOSE */
};

struct prompt_template {
    char *text; /* our copy; nodes point into it */
    size_t len;
    struct node *nodes;
    size_t n;
    size_t cap;
};

static size_t line_of(const char *text, size_t pos)
{
    size_t line = 1;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i]))
            return false;
    return true;
}

static size_t add_node(struct prompt_template *t, enum node_kind kind, size_t off, size_t len,
                       size_t tag)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->nodes = pl_realloc(t->nodes, t->cap * sizeof(*t->nodes));
    }
    t->nodes[t->n] = (struct node){.kind = kind, .off = off, .len = len, .tag = tag};
    return t->n++;
}

/* A section or comment tag spanning [p, end) is standalone when the rest of its line is blank
 * and no other tag shares the line (nothing of the line lies before `seg`). If so, the line's
 * leading blanks start at *line_start and the next line starts at *next. */
static bool standalone(const char *s, size_t len, size_t seg, size_t p, size_t end,
                       size_t *line_start, size_t *next)
{
    /* Look back no further than `seg`: a line that starts before it is not standalone, and
     * stopping there keeps parsing linear however many tags share a line. */
    size_t ls = p;
    while (ls > seg && s[ls - 1] != '\n')
        ls--;
    if (ls > 0 && s[ls - 1] != '\n')
        return false;
    for (size_t i = ls; i < p; i++)
        if (!is_blank(s[i]))
            return false;
    size_t e = end;
    while (e < len && is_blank(s[e]))
        e++;
    if (e < len && s[e] == '\r' && e + 1 < len && s[e + 1] == '\n')
        e += 2;
    else if (e < len && s[e] == '\n')
        e++;
    else if (e != len)
        return false;
    *line_start = ls;
    *next = e;
    return true;
}

static int parse_into(struct prompt_template *t, char *err, size_t errlen)
{
    const char *s = t->text;
    size_t len = t->len;
    size_t *stack = NULL; /* indices of open section nodes */
    size_t depth = 0, stack_cap = 0;
    size_t seg = 0, pos = 0;
    int rc = PL_OK;

    for (;;) {
        const char *o = pos < len ? memmem(s + pos, len - pos, "{{", 2) : NULL;
        if (!o) {
            if (seg < len)
                add_node(t, NODE_TEXT, seg, len - seg, seg);
            break;
        }
        size_t p = (size_t)(o - s);
        const char *c = memmem(s + p + 2, len - (p + 2), "}}", 2);
        if (!c) {
            pl_errf(err, errlen, "line %zu: unclosed {{", line_of(s, p));
            rc = PL_EINVAL;
            goto out;
        }
        size_t in = p + 2, in_end = (size_t)(c - s), end = in_end + 2;
        enum node_kind kind = NODE_VAR;
        bool comment = false, inverted = false;
        if (in < in_end && s[in] == '!') {
            comment = true;
        } else if (in < in_end && (s[in] == '#' || s[in] == '^' || s[in] == '/')) {
            kind = s[in] == '/' ? NODE_CLOSE : NODE_OPEN;
            inverted = s[in] == '^';
            in++;
        }
        size_t name = in, name_end = in_end;
        while (name < name_end && is_blank(s[name]))
            name++;
        while (name_end > name && is_blank(s[name_end - 1]))
            name_end--;
        size_t nlen = name_end - name;
        if (!comment && !valid_name(s + name, nlen)) {
            bool sigil = nlen > 0 && kind == NODE_VAR && !is_name_char(s[name]) &&
                         !(s[name] >= 'A' && s[name] <= 'Z') && (unsigned char)s[name] < 0x80;
            if (nlen == 0 || sigil)
                pl_errf(
                    err, errlen, "line %zu: unknown tag syntax {{%.*s}}", line_of(s, p),
                    (int)(in_end - (p + 2) > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : in_end - (p + 2)),
                    s + p + 2);
            else
                pl_errf(err, errlen, "line %zu: invalid name \"%.*s\" (want [a-z0-9_]+)",
                        line_of(s, p), (int)(nlen > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : nlen),
                        s + name);
            rc = PL_EINVAL;
            goto out;
        }

        size_t text_end = p, next = end, ls, nx;
        if ((comment || kind != NODE_VAR) && standalone(s, len, seg, p, end, &ls, &nx)) {
            text_end = ls;
            next = nx;
        }
        if (text_end > seg)
            add_node(t, NODE_TEXT, seg, text_end - seg, seg);
        if (!comment) {
            size_t idx = add_node(t, kind, name, nlen, p);
            t->nodes[idx].inverted = inverted;
            if (kind == NODE_OPEN) {
                if (depth == stack_cap) {
                    stack_cap = stack_cap ? stack_cap * 2 : 8;
                    stack = pl_realloc(stack, stack_cap * sizeof(*stack));
                }
                stack[depth++] = idx;
            } else if (kind == NODE_CLOSE) {
                const struct node *top = depth ? &t->nodes[stack[depth - 1]] : NULL;
                if (!top) {
                    pl_errf(err, errlen, "line %zu: unbalanced section: {{/%.*s}} closes nothing",
                            line_of(s, p), (int)(nlen > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : nlen),
                            s + name);
                    rc = PL_EINVAL;
                    goto out;
                }
                if (top->len != nlen || memcmp(s + top->off, s + name, nlen) != 0) {
                    pl_errf(err, errlen,
                            "line %zu: unbalanced section: {{/%.*s}} closes {{%c%.*s}} of line %zu",
                            line_of(s, p), (int)(nlen > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : nlen),
                            s + name, top->inverted ? '^' : '#',
                            (int)(top->len > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : top->len),
                            s + top->off, line_of(s, top->tag));
                    rc = PL_EINVAL;
                    goto out;
                }
                t->nodes[stack[--depth]].skip = idx;
            }
        }
        seg = pos = next;
    }
    if (depth) {
        const struct node *top = &t->nodes[stack[depth - 1]];
        pl_errf(err, errlen, "line %zu: unbalanced section: {{%c%.*s}} is never closed",
                line_of(s, top->tag), top->inverted ? '^' : '#',
                (int)(top->len > NAME_SHOWN_MAX ? NAME_SHOWN_MAX : top->len), s + top->off);
        rc = PL_EINVAL;
    }
out:
    pl_free(stack);
    return rc;
}

int prompt_template_parse(const char *text, size_t len, struct prompt_template **out, char *err,
                          size_t errlen)
{
    struct prompt_template *t = pl_calloc(1, sizeof(*t));
    t->text = pl_malloc(len + 1);
    if (len)
        memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
    int rc = parse_into(t, err, errlen);
    if (rc != PL_OK) {
        prompt_template_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

void prompt_template_free(struct prompt_template *t)
{
    if (!t)
        return;
    pl_free(t->nodes);
    pl_free(t->text);
    pl_free(t);
}

static const char *lookup(const struct prompt_template *t, const struct node *nd,
                          const struct prompt_var *vars, size_t n_vars)
{
    for (size_t i = 0; i < n_vars; i++) {
        const char *name = vars[i].name;
        if (name && strlen(name) == nd->len && memcmp(name, t->text + nd->off, nd->len) == 0)
            return vars[i].value;
    }
    return NULL;
}

int prompt_template_render(const struct prompt_template *t, const struct prompt_var *vars,
                           size_t n_vars, struct pl_buf *out)
{
    size_t len0 = out->len;
    int rc = PL_OK;
    for (size_t i = 0; i < t->n && rc == PL_OK; i++) {
        const struct node *nd = &t->nodes[i];
        const char *v;
        switch (nd->kind) {
        case NODE_TEXT:
            rc = pl_buf_append(out, t->text + nd->off, nd->len);
            break;
        case NODE_VAR:
            v = lookup(t, nd, vars, n_vars);
            if (v && *v)
                rc = pl_buf_append_str(out, v);
            break;
        case NODE_OPEN:
            v = lookup(t, nd, vars, n_vars);
            if ((v && *v) == nd->inverted)
                i = nd->skip; /* the loop steps past the close */
            break;
        case NODE_CLOSE:
            break;
        }
    }
    if (rc != PL_OK) {
        out->len = len0;
        if (out->data)
            out->data[len0] = '\0';
    }
    return rc;
}

static int read_file(const char *path, struct pl_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        pl_errf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? PL_ENOTFOUND : PL_EIO;
    }
    int rc = PL_OK;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pl_buf_append(b, chunk, n) != PL_OK) {
            pl_errf(err, errlen, "%s: larger than %d bytes", path, TEMPLATE_FILE_MAX);
            rc = PL_EINVAL;
            goto out;
        }
    }
    if (ferror(f)) {
        pl_errf(err, errlen, "%s: read error", path);
        rc = PL_EIO;
    }
out:
    fclose(f);
    return rc;
}

int prompt_template_load(const char *dir, const char *name, struct prompt_template **out, char *err,
                         size_t errlen)
{
    struct pl_buf path, body;
    pl_buf_init(&path, 4096 + 64);
    pl_buf_init(&body, TEMPLATE_FILE_MAX);
    char perr[200];
    int rc;

    *out = NULL;
    if (!name || strlen(name) > TEMPLATE_NAME_MAX || !valid_name(name, strlen(name))) {
        pl_errf(err, errlen, "template name \"%.40s\" is not [a-z0-9_]+", name ? name : "");
        rc = PL_EINVAL;
        goto out;
    }
    if (dir) {
        rc = pl_buf_printf(&path, "%s/%s.txt", dir, name);
        if (rc != PL_OK) {
            pl_errf(err, errlen, "template folder path too long");
            rc = PL_EINVAL;
            goto out;
        }
        rc = read_file(path.data, &body, err, errlen);
        if (rc != PL_OK)
            goto out;
    } else {
        pl_buf_printf(&path, "built-in template %s.txt", name);
        char file[TEMPLATE_NAME_MAX + 8];
        snprintf(file, sizeof(file), "%s.txt", name);
        const struct pl_embedded_file *f = pl_embedded_find(embed_prompts, file);
        if (!f) {
            pl_errf(err, errlen, "%s: not found", path.data);
            rc = PL_ENOTFOUND;
            goto out;
        }
        pl_buf_append(&body, f->data, f->len);
    }
    rc = prompt_template_parse(body.data ? body.data : "", body.len, out, perr, sizeof(perr));
    if (rc != PL_OK)
        pl_errf(err, errlen, "%s: %s", path.data, perr);
out:
    pl_buf_cleanup(&path);
    pl_buf_cleanup(&body);
    return rc;
}

bool prompt_template_uses(const struct prompt_template *t, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < t->n; i++) {
        const struct node *nd = &t->nodes[i];
        if (nd->kind != NODE_TEXT && nd->len == n && memcmp(t->text + nd->off, name, n) == 0)
            return true;
    }
    return false;
}

int prompt_template_check_names(const struct prompt_template *t, const char *const *known,
                                size_t n_known, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct node *nd = &t->nodes[i];
        if (nd->kind == NODE_TEXT || nd->kind == NODE_CLOSE)
            continue;
        bool found = false;
        for (size_t k = 0; k < n_known && !found; k++)
            found =
                strlen(known[k]) == nd->len && memcmp(known[k], t->text + nd->off, nd->len) == 0;
        if (!found) {
            pl_errf(err, errlen, "line %zu: unknown placeholder \"%.*s\"",
                    line_of(t->text, nd->tag),
                    (int)(nd->len < NAME_SHOWN_MAX ? nd->len : NAME_SHOWN_MAX), t->text + nd->off);
            return PL_EINVAL;
        }
    }
    return PL_OK;
}
