/* Deterministic text of the offline provider; see local_reply.h. The question is echoed only
 * as a sanitised summary (valid UTF-8, no control characters, bounded length). */
#include "connectors/local_reply.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "prompts/prompt.h"

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */
#define ELLIPSIS    "\xE2\x80\xA6" /* U+2026 */

/* Length of the valid UTF-8 sequence at s (n bytes available) and its code point, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

static bool is_space_cp(uint32_t cp)
{
    return cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0xA0 || cp == 0x2028 ||
           cp == 0x2029;
}

/* Invisible formatting characters (zero-width, bidirectional controls, BOM): dropped from the
 * echo so it cannot hide or reorder text. */
static bool is_format_cp(uint32_t cp)
{
    return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

/* Append the collapsed, bounded summary of q to b. */
static void append_summary(struct pl_buf *b, const char *q)
{
    const unsigned char *s = (const unsigned char *)q;
    size_t n = strlen(q), i = 0, chars = 0;
    bool pending_space = false;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (k != 0 && is_space_cp(cp)) {
            pending_space = b->len > 0;
            i += k;
            continue;
        }
        if (k != 0 && is_format_cp(cp)) {
            i += k;
            continue;
        }
        if (chars + pending_space + 1 > LOCAL_REPLY_ECHO_MAX) {
            pl_buf_append_str(b, ELLIPSIS);
            return;
        }
        if (pending_space) {
            pl_buf_append(b, " ", 1);
            pending_space = false;
            chars++;
        }
        if (k == 0) {
            pl_buf_append_str(b, REPLACEMENT);
            i++;
        } else {
            pl_buf_append(b, s + i, k);
            i += k;
        }
        chars++;
    }
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The first LOCAL_REPLY_WORDS_MAX words of text, one space between them, " ..." when cut. */
static void append_words(struct pl_buf *b, const char *text)
{
    size_t words = 0;
    bool line_start = true;
    for (const char *p = text; *p;) {
        if (is_ascii_space(*p)) {
            line_start = line_start || *p == '\n';
            p++;
            continue;
        }
        size_t n = 0;
        while (p[n] && !is_ascii_space(p[n]))
            n++;
        bool heading_mark = line_start && strspn(p, "#") == n;
        line_start = false;
        if (!heading_mark) {
            if (words == LOCAL_REPLY_WORDS_MAX) {
                pl_buf_append_str(b, " ...");
                return;
            }
            if (words++)
                pl_buf_append(b, " ", 1);
            pl_buf_append(b, p, n);
        }
        p += n;
    }
}

char *local_reply_grounded(const struct prompt_document *docs, size_t n)
{
    struct pl_buf out;
    pl_buf_init(&out, SIZE_MAX);
    for (size_t i = 0; i < n && i < LOCAL_REPLY_PASSAGES; i++) {
        pl_buf_printf(&out, "%sHere is what I found in %s: ", i ? "\n\n" : "",
                      docs[i].title ? docs[i].title : "");
        append_words(&out, docs[i].text ? docs[i].text : "");
        pl_buf_printf(&out, " [%s]", docs[i].id ? docs[i].id : "");
    }
    pl_buf_append_str(&out, "\n\n(No AI model is configured on this server: these are passages "
                            "from the knowledge base, quoted as they are. Would you like me to "
                            "connect you to a human agent?)");
    return pl_buf_take(&out);
}

char *local_reply_text(const char *question, const char *context)
{
    (void)context;
    struct pl_buf summary, out;
    pl_buf_init(&summary, SIZE_MAX);
    pl_buf_init(&out, SIZE_MAX);
    append_summary(&summary, question ? question : "");

    pl_buf_append_str(&out, "No AI model is configured on this server, so I am running in "
                            "offline demo mode and cannot answer questions yet.");
    if (summary.len > 0)
        pl_buf_printf(&out, " You asked: \"%s\".", summary.data);
    pl_buf_append_str(&out, " To enable answers, the administrator can set ANTHROPIC_API_KEY or "
                            "AWS credentials and restart the server, or choose a provider with "
                            "--provider. Would you like me to connect you to a human agent?");
    pl_buf_cleanup(&summary);
    return pl_buf_take(&out);
}

size_t local_reply_next_chunk(const char *text, size_t len, size_t offset)
{
    if (offset >= len)
        return 0;
    size_t i = offset;
    while (i < len && is_ascii_space(text[i]))
        i++;
    while (i < len && !is_ascii_space(text[i]))
        i++;
    while (i < len && is_ascii_space(text[i]))
        i++;
    return i - offset;
}

/* `text` as the echo gives it (collapsed, clipped, valid UTF-8) appended to `b`. */
static void append_clipped(struct pl_buf *b, const char *text, size_t len)
{
    char *copy = pl_strndup(text ? text : "", text ? len : 0);
    struct pl_buf one;
    pl_buf_init(&one, SIZE_MAX);
    append_summary(&one, copy);
    if (one.len)
        pl_buf_append(b, one.data, one.len);
    pl_buf_cleanup(&one);
    pl_free(copy);
}

/* Keep the last LOCAL_SUMMARY_LINES_MAX lines of `b` (lines end with '\n'). */
static void keep_last_lines(struct pl_buf *b)
{
    size_t lines = 0, cut = 0;
    for (size_t i = b->len; i-- > 0;) {
        if (b->data[i] == '\n' && i + 1 < b->len && ++lines == LOCAL_SUMMARY_LINES_MAX) {
            cut = i + 1;
            break;
        }
    }
    if (lines == LOCAL_SUMMARY_LINES_MAX && cut) {
        memmove(b->data, b->data + cut, b->len - cut);
        b->len -= cut;
        b->data[b->len] = '\0';
    }
}

char *local_reply_summary(const struct prompt_fold *fold)
{
    struct pl_buf out;
    pl_buf_init(&out, SIZE_MAX);
    if (fold->previous && *fold->previous) {
        pl_buf_append_str(&out, fold->previous);
        if (out.data[out.len - 1] != '\n')
            pl_buf_append(&out, "\n", 1);
    }
    long open_turn = -1; /* the turn of a "Caller asked" line still waiting for its answer */
    for (size_t i = 0; i < fold->n_items; i++) {
        const struct prompt_history_item *it = &fold->items[i];
        if (!it->text || it->text_len == 0)
            continue; /* a failed answer */
        switch (it->role) {
        case PROMPT_ROLE_CALLER:
            pl_buf_append_str(&out, open_turn >= 0 ? "\nCaller asked: " : "Caller asked: ");
            append_clipped(&out, it->text, it->text_len);
            open_turn = it->turn;
            break;
        case PROMPT_ROLE_ASSISTANT:
            pl_buf_append_str(&out, open_turn == it->turn ? "; Bot answered: "
                                    : open_turn >= 0      ? "\nBot answered: "
                                                          : "Bot answered: ");
            append_clipped(&out, it->text, it->text_len);
            pl_buf_append(&out, "\n", 1);
            open_turn = -1;
            break;
        case PROMPT_ROLE_AGENT:
            pl_buf_append_str(&out, open_turn >= 0 ? "\nAgent said: " : "Agent said: ");
            append_clipped(&out, it->text, it->text_len);
            pl_buf_append(&out, "\n", 1);
            open_turn = -1;
            break;
        }
    }
    if (open_turn >= 0)
        pl_buf_append(&out, "\n", 1);
    keep_last_lines(&out);
    /* No trailing newline: the summary is stored as it is shown. */
    while (out.len && out.data[out.len - 1] == '\n')
        out.data[--out.len] = '\0';
    if (out.len == 0)
        pl_buf_append_str(&out, "(nothing to summarise)");
    return pl_buf_take(&out);
}
