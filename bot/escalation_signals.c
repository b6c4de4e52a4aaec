/* Escalation signals; see escalation_signals.h. */
#include "bot/escalation_signals.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bot/escalation.h"
#include "common/alloc.h"
#include "common/err.h"

static const struct {
    const char *name;
    unsigned bit;
} names[] = {
    {"unsure", ESC_SIGNAL_UNSURE},
    {"no_passages", ESC_SIGNAL_NO_PASSAGES},
    {"unavailable", ESC_SIGNAL_UNAVAILABLE},
    {"repeat", ESC_SIGNAL_REPEAT},
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int esc_signals_parse(const char *list, unsigned *out, char *err, size_t err_len)
{
    *out = 0;
    const char *p = list ? list : "";
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        size_t n = (size_t)(b - a);
        bool known = n == 0 || (n == 4 && memcmp(a, "none", 4) == 0);
        for (size_t i = 0; !known && i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == n && memcmp(a, names[i].name, n) == 0) {
                *out |= names[i].bit;
                known = true;
            }
        }
        if (!known) {
            snprintf(err, err_len,
                     "--escalation-signals: unknown signal \"%.*s\" (unsure, no_passages, "
                     "unavailable, repeat or none)",
                     (int)(n > 40 ? 40 : n), a);
            *out = 0;
            return PL_EINVAL;
        }
        p = *end ? end + 1 : end;
    }
    return PL_OK;
}

/* Length of the punctuation mark ending s[0..n), or 0. */
static size_t trailing_mark(const char *s, size_t n)
{
    static const char *const marks[] = {
        "\xE2\x80\xA6", /* U+2026 ellipsis */
        "\xEF\xBC\x9F", /* U+FF1F full-width question mark */
        "\xEF\xBC\x81", /* U+FF01 full-width exclamation mark */
        "\xE3\x80\x82", /* U+3002 ideographic full stop */
    };
    if (n && strchr(".?!,;:", s[n - 1]) && s[n - 1] != '\0')
        return 1;
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        size_t m = strlen(marks[i]);
        if (n >= m && memcmp(s + n - m, marks[i], m) == 0)
            return m;
    }
    return 0;
}

char *esc_question_normalise(const char *q, size_t len)
{
    char *out = pl_malloc(len + 1);
    size_t n = 0;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        char c = q[i];
        if (is_space(c)) {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    /* punctuation and the spaces between marks, from the end */
    for (size_t m; n && ((m = trailing_mark(out, n)) > 0 || out[n - 1] == ' ');)
        n -= m ? m : 1;
    out[n] = '\0';
    return out;
}

void esc_question_digest(const char *q, size_t len, char out[ESC_DIGEST_SIZE])
{
    char *norm = esc_question_normalise(q, len);
    out[0] = '\0';
    if (*norm) {
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
        for (const unsigned char *p = (const unsigned char *)norm; *p; p++) {
            h ^= *p;
            h *= 0x100000001b3ULL;
        }
        snprintf(out, ESC_DIGEST_SIZE, "%016llx", (unsigned long long)h);
    }
    pl_free(norm);
}

bool esc_answer_unsure(const char *phrases, const char *text, size_t len)
{
    if (!phrases || !*phrases || !text || !len)
        return false;
    /* U+2018 and U+2019 (three bytes each) read as ' (one byte): "I don\u2019t know" */
    char *copy = pl_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && text[i] == '\xE2' && text[i + 1] == '\x80' &&
            (text[i + 2] == '\x98' || text[i + 2] == '\x99')) {
            copy[n++] = '\'';
            i += 2;
        } else {
            copy[n++] = text[i];
        }
    }
    bool unsure = escalation_phrase_match(phrases, copy, n, NULL, 0);
    pl_free(copy);
    return unsure;
}

void esc_observe(unsigned enabled, const char *unsure_phrases, const struct turn_finished *f,
                 struct esc_observation *out)
{
    memset(out, 0, sizeof(*out));
    const struct turn_end *end = f->end;
    bool failed = end->error != API_ERR_NONE && end->text_len == 0;
    out->unsure = (enabled & ESC_SIGNAL_UNSURE) && !failed &&
                  esc_answer_unsure(unsure_phrases, end->text, end->text_len);
    out->miss = !(enabled & ESC_SIGNAL_NO_PASSAGES) || f->passages < 0 ? -1
                : f->passages == 0                                     ? 1
                                                                       : 0;
    out->unavailable =
        (enabled & ESC_SIGNAL_UNAVAILABLE) && failed && end->error == API_ERR_UPSTREAM_UNAVAILABLE;
    if (enabled & ESC_SIGNAL_REPEAT)
        esc_question_digest(f->question, f->question_len, out->question);
}

bool esc_needs_memory(unsigned enabled)
{
    return enabled & (ESC_SIGNAL_UNSURE | ESC_SIGNAL_NO_PASSAGES | ESC_SIGNAL_REPEAT);
}

const char *esc_decide(unsigned enabled, const struct esc_observation *obs,
                       const struct sess_signal_counts *c)
{
    if ((enabled & ESC_SIGNAL_UNAVAILABLE) && obs->unavailable)
        return ESC_REASON_UNAVAILABLE;
    if (!c || !c->noted)
        return NULL;
    if ((enabled & ESC_SIGNAL_UNSURE) && obs->unsure && c->unsure == ESC_UNSURE_TIMES)
        return ESC_REASON_UNSURE;
    if ((enabled & ESC_SIGNAL_NO_PASSAGES) && obs->miss == 1 && c->misses == ESC_MISSES_IN_A_ROW)
        return ESC_REASON_NO_PASSAGES;
    if ((enabled & ESC_SIGNAL_REPEAT) && c->repeated)
        return ESC_REASON_REPEAT;
    return NULL;
}
