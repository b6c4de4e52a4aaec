/* Tokeniser for English insurance text, shared by indexing and querying so that both sides agree
 * term for term: words are cut, folded to lower case, stop words dropped and the rest lightly
 * stemmed (rules in docs/knowledge.md). I/O-free; the output is always valid UTF-8. */
#ifndef PARLEY_KNOWLEDGE_KB_TEXT_H
#define PARLEY_KNOWLEDGE_KB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Most bytes of one word; a longer word is cut at a character boundary (its tail is dropped). */
#define KB_WORD_MAX 64

/** Next word of the `len` bytes at `s` (borrowed), starting the scan at `*at` (advanced past the
 *  word). Word characters: ASCII letters and digits and non-ASCII characters other than
 *  punctuation, symbols and currency signs; an apostrophe between word characters and a comma
 *  between digits are dropped ("don't" -> "dont", "1,000" -> "1000"), a dot between digits kept
 *  ("2.5"). Invalid UTF-8 bytes separate words. The word is written folded to lower case (ASCII
 *  and Latin-1 letters) into `out` (KB_WORD_MAX + 1 bytes, NUL-terminated). Returns its length,
 *  or 0 at the end of the text. */
size_t kb_next_word(const char *s, size_t len, size_t *at, char *out);

/** True if the folded word `w` of `n` bytes is one of the stop words (docs/knowledge.md). */
bool kb_is_stopword(const char *w, size_t n);

/** Stem the folded word `w` of `n` bytes in place; returns the new length (<= n; the byte at the
 *  new length is set to NUL). Only ASCII words of letters longer than 3 bytes change. The rules
 *  are applied until none applies, so stemming a stem changes nothing (idempotent). */
size_t kb_stem(char *w, size_t n);

/* The terms of a text, in order: owned NUL-terminated strings. */
struct kb_terms {
    char **v;
    size_t n, cap;
};

void kb_terms_init(struct kb_terms *t);
/** Free every term; the list may be used again after kb_terms_init. Accepts NULL. */
void kb_terms_cleanup(struct kb_terms *t);

/** Append the terms of the `len` bytes at `s` (borrowed) to `out`: each word of kb_next_word that
 *  is not a stop word, stemmed. Returns the number appended. */
size_t kb_terms_add(struct kb_terms *out, const char *s, size_t len);

/** Call `fn` for each term of the `len` bytes at `s` in order, without allocating; `term` is
 *  valid during the call only. Stops early and returns false when `fn` returns false. */
bool kb_terms_each(const char *s, size_t len, bool (*fn)(const char *term, size_t n, void *ud),
                   void *ud);

#endif
