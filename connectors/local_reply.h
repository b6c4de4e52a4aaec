/* The offline default provider's answer: a fixed, deterministic text saying that no model is
 * configured, echoing a short summary of the question, plus word-sized chunking for streaming. */
#ifndef PARLEY_CONNECTORS_LOCAL_REPLY_H
#define PARLEY_CONNECTORS_LOCAL_REPLY_H

#include <stddef.h>

struct prompt_document;
struct prompt_fold;

/* Most characters (code points) of the question echoed back; a longer one is cut after a whole
 * character and gets "\u2026" (an ellipsis) appended. */
#define LOCAL_REPLY_ECHO_MAX 80

/**
 * New string (caller frees with pl_free): the offline answer to `question` (borrowed; NULL is
 * treated as ""). It says no AI model is configured (offline demo mode), echoes the question's
 * first LOCAL_REPLY_ECHO_MAX characters with runs of whitespace and control characters
 * collapsed to one space, invisible formatting characters (zero-width, bidi controls) removed
 * and invalid UTF-8 bytes replaced by U+FFFD, so the text is always valid UTF-8 (the echo
 * sentence is left out when nothing remains), says how to configure a model, and
 * offers a human agent. The same question always gives the same bytes. `context` is unused
 * (reserved; may be NULL).
 */
char *local_reply_text(const char *question, const char *context);

/* Passages the grounded answer quotes, and the most words quoted of each. */
#define LOCAL_REPLY_PASSAGES  2
#define LOCAL_REPLY_WORDS_MAX 80

/**
 * New string (caller frees with pl_free): the offline answer grounded in the knowledge passages
 * of the prompt (struct prompt.documents, best first; n >= 1). For each of the first
 * LOCAL_REPLY_PASSAGES, a paragraph
 *   "Here is what I found in TITLE: WORDS [ID]"
 * where WORDS are the passage's first LOCAL_REPLY_WORDS_MAX words (whitespace runs collapsed to
 * one space, markdown heading marks '#' at a line start dropped), followed by " ..." when some
 * were left out; the paragraphs are joined by a blank line, and a last one says the answer
 * quotes the knowledge base because no AI model is configured.
 */
char *local_reply_grounded(const struct prompt_document *docs, size_t n);

/* Most lines of an offline summary: older ones are dropped, so it stays bounded however long
 * the conversation grows. */
#define LOCAL_SUMMARY_LINES_MAX 20

/**
 * New string (caller frees with pl_free): the offline provider's extractive summary of a
 * summary request (prompts/prompt.h, struct prompt_fold). The previous summary's lines come
 * first (as they are), then one line per turn of the items, in order:
 *   "Caller asked: Q; Bot answered: A"
 * where Q and A are the texts echoed as local_reply_text echoes a question (whitespace
 * collapsed, at most LOCAL_REPLY_ECHO_MAX characters then "\u2026", valid UTF-8). A caller
 * message without an answer in the items ends its line after Q (a following answer of another
 * turn gets a line "Bot answered: A"), a human agent's words are a line "Agent said: A", and
 * failed (empty) answers are left out. Lines are joined by "\n"; only the last
 * LOCAL_SUMMARY_LINES_MAX are kept; "(nothing to summarise)" when none. Deterministic.
 */
char *local_reply_summary(const struct prompt_fold *fold);

/**
 * Length of the next streaming chunk of `text` (len bytes) starting at `offset`: blanks at
 * offset, one word, and the whitespace after it, so consecutive chunks concatenate to the text
 * exactly. Chunks end only next to ASCII whitespace and so never split a UTF-8 sequence
 * (given an offset on a character boundary). Returns 0 only when offset >= len.
 */
size_t local_reply_next_chunk(const char *text, size_t len, size_t offset);

#endif
