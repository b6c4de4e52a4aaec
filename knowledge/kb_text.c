/* Word cutting, folding, stop words and the light stemmer of kb_text.h. */
#include "knowledge/kb_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/utf8.h"

/* Sorted for bsearch. "no" and "not" are kept out on purpose: "what is not covered" names a
 * section of nearly every policy document. */
static const char *const stop_words[] = {
    "a",          "about",   "above", "across",  "after",     "again",    "against",    "all",
    "also",       "am",      "an",    "and",     "any",       "are",      "as",         "at",
    "be",         "because", "been",  "before",  "being",     "below",    "between",    "both",
    "but",        "by",      "can",   "could",   "did",       "do",       "does",       "doing",
    "down",       "during",  "each",  "either",  "else",      "even",     "ever",       "every",
    "few",        "for",     "from",  "further", "get",       "got",      "had",        "has",
    "have",       "having",  "he",    "her",     "here",      "hers",     "herself",    "him",
    "himself",    "his",     "how",   "however", "i",         "if",       "im",         "in",
    "into",       "is",      "it",    "its",     "itself",    "just",     "many",       "may",
    "me",         "might",   "more",  "most",    "much",      "must",     "my",         "myself",
    "nor",        "of",      "off",   "often",   "on",        "once",     "only",       "onto",
    "or",         "other",   "our",   "ours",    "ourselves", "out",      "over",       "own",
    "rather",     "same",    "shall", "she",     "should",    "since",    "so",         "some",
    "still",      "such",    "than",  "that",    "the",       "their",    "theirs",     "them",
    "themselves", "then",    "there", "these",   "they",      "this",     "those",      "through",
    "thus",       "to",      "too",   "under",   "until",     "up",       "upon",       "us",
    "very",       "was",     "we",    "were",    "what",      "when",     "where",      "whether",
    "which",      "while",   "who",   "whom",    "why",       "will",     "with",       "within",
    "would",      "yet",     "you",   "your",    "yours",     "yourself", "yourselves",
};

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static uint32_t decode(const unsigned char *p, size_t k)
{
    if (k == 1)
        return p[0];
    if (k == 2)
        return ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    if (k == 3)
        return ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
           ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

/* Non-ASCII code points that separate words: C1 controls and Latin-1 punctuation and signs
 * (NBSP, pound, section, quotes), multiplication and division, general punctuation (dashes,
 * curly quotes, ellipsis), currency signs, symbols and arrows, CJK punctuation, the BOM and
 * emoji. Everything else non-ASCII is a letter for our purposes. */
static int cp_separates(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
           (cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x20a0 && cp <= 0x20cf) ||
           (cp >= 0x2100 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x303f) || cp == 0xfeff ||
           (cp >= 0x1f000 && cp <= 0x1faff);
}

/* Whether the character at s[i] is a word character; *k is its length (1 for a byte that does
 * not start valid UTF-8), *cp its code point. */
static int word_char_at(const char *s, size_t len, size_t i, size_t *k, uint32_t *cp)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *k = 1;
        *cp = c;
        return is_ascii_alnum(c);
    }
    size_t n = pl_utf8_seq_len(s + i, len - i);
    if (n == 0) {
        *k = 1;
        *cp = 0xfffd;
        return 0;
    }
    *k = n;
    *cp = decode((const unsigned char *)s + i, n);
    return !cp_separates(*cp);
}

static int is_apostrophe(uint32_t cp)
{
    return cp == '\'' || cp == 0x2019;
}

size_t kb_next_word(const char *s, size_t len, size_t *at, char *out)
{
    size_t i = *at, k, n = 0;
    uint32_t cp;
    while (i < len && !word_char_at(s, len, i, &k, &cp))
        i += k;
    int last_digit = 0, full = 0;
    while (i < len) {
        if (word_char_at(s, len, i, &k, &cp)) {
            if (!full && n + k <= KB_WORD_MAX) {
                memcpy(out + n, s + i, k);
                if (k == 1 && out[n] >= 'A' && out[n] <= 'Z')
                    out[n] = (char)(out[n] + ('a' - 'A'));
                else if (k == 2 && cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
                    out[n + 1] = (char)(out[n + 1] + 0x20); /* Latin-1 capital to small */
                n += k;
            } else {
                full = 1; /* the tail of an overlong word is dropped, never half a character */
            }
            last_digit = k == 1 && is_digit((unsigned char)s[i]);
            i += k;
            continue;
        }
        size_t k2;
        uint32_t cp2;
        if (is_apostrophe(cp) && i + k < len && word_char_at(s, len, i + k, &k2, &cp2)) {
            i += k;
            continue;
        }
        if ((cp == ',' || cp == '.') && last_digit && i + 1 < len &&
            is_digit((unsigned char)s[i + 1])) {
            if (cp == '.' && !full && n + 2 <= KB_WORD_MAX) /* room for the digit after */
                out[n++] = '.';
            i++;
            continue;
        }
        break;
    }
    *at = i;
    out[n] = '\0';
    return n;
}

static int cmp_stop(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

bool kb_is_stopword(const char *w, size_t n)
{
    char tmp[16];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, w, n);
    tmp[n] = '\0';
    return bsearch(tmp, stop_words, PL_ARRAY_LEN(stop_words), sizeof(stop_words[0]), cmp_stop) !=
           NULL;
}

static int ends(const char *w, size_t n, const char *suf)
{
    size_t m = strlen(suf);
    return n >= m && memcmp(w + n - m, suf, m) == 0;
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w[i]))
            return 1;
    return 0;
}

/* "stopp" -> "stop", "runn" -> "run"; "bill", "pass" and "fizz" keep their double letter. */
static size_t undouble(const char *w, size_t m)
{
    if (m >= 4 && w[m - 1] == w[m - 2] && !is_vowel(w[m - 1]) && w[m - 1] != 'l' &&
        w[m - 1] != 's' && w[m - 1] != 'z')
        return m - 1;
    return m;
}

/* One rule, the first that applies; returns the new length (n if none applies). */
static size_t stem_once(char *w, size_t n)
{
    if (n <= 3)
        return n;
    if (n > 4 && (ends(w, n, "ies") || ends(w, n, "ied"))) {
        w[n - 3] = 'y'; /* policies -> policy, applied -> apply */
        return n - 2;
    }
    if (ends(w, n, "sses"))
        return n - 2; /* losses -> loss */
    if (n > 4 &&
        (ends(w, n, "xes") || ends(w, n, "zes") || ends(w, n, "ches") || ends(w, n, "shes")))
        return n - 2; /* taxes -> tax, branches -> branch */
    if (ends(w, n, "ing") && n - 3 >= 3 && has_vowel(w, n - 3))
        return undouble(w, n - 3); /* covering -> cover */
    if (ends(w, n, "ed") && n - 2 >= 3 && has_vowel(w, n - 2) && w[n - 3] != 'e')
        return undouble(w, n - 2); /* covered -> cover; speed, agreed stay */
    if (ends(w, n, "ly") && n - 2 >= 4)
        return n - 2; /* monthly -> month; reply, apply stay */
    if (ends(w, n, "s") && !ends(w, n, "ss") && !ends(w, n, "us") && !ends(w, n, "is"))
        return n - 1; /* covers -> cover; excess, bonus, basis stay */
    if (ends(w, n, "e") && n > 4)
        return n - 1; /* drive -> driv, as driving -> driv */
    return n;
}

size_t kb_stem(char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n; /* digits, amounts and non-ASCII words are kept as they are */
    for (;;) {
        size_t m = stem_once(w, n);
        if (m == n)
            break;
        n = m; /* every rule shortens the word, so this ends */
    }
    w[n] = '\0';
    return n;
}

void kb_terms_init(struct kb_terms *t)
{
    t->v = NULL;
    t->n = t->cap = 0;
}

void kb_terms_cleanup(struct kb_terms *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        pl_free(t->v[i]);
    pl_free(t->v);
    kb_terms_init(t);
}

bool kb_terms_each(const char *s, size_t len, bool (*fn)(const char *term, size_t n, void *ud),
                   void *ud)
{
    char w[KB_WORD_MAX + 1];
    size_t at = 0, n;
    while ((n = kb_next_word(s, len, &at, w)) > 0) {
        if (kb_is_stopword(w, n))
            continue;
        n = kb_stem(w, n);
        if (!fn(w, n, ud))
            return false;
    }
    return true;
}

static bool add_term(const char *term, size_t n, void *ud)
{
    struct kb_terms *t = ud;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->v = pl_realloc(t->v, t->cap * sizeof(*t->v));
    }
    t->v[t->n++] = pl_strndup(term, n);
    return true;
}

size_t kb_terms_add(struct kb_terms *out, const char *s, size_t len)
{
    size_t before = out->n;
    kb_terms_each(s, len, add_term, out);
    return out->n - before;
}
