/* Escalation signals (docs/protocol.md "Escalation"): what in a conversation, besides the
 * caller's own asking, puts a session in waiting_agent. Decided after each turn stored here
 * (struct turn_finished) from the turn and the session's memory of earlier turns
 * (sessions/session_signals.h). Pure functions, no I/O; bot/escalation_watch.h does the I/O. */
#ifndef PARLEY_BOT_ESCALATION_SIGNALS_H
#define PARLEY_BOT_ESCALATION_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>

#include "bot/turn/turn_engine.h"
#include "sessions/session_signals.h"

enum esc_signal {
    ESC_SIGNAL_UNSURE = 1 << 0,      /* the bot said it does not know, twice in the session */
    ESC_SIGNAL_NO_PASSAGES = 1 << 1, /* no knowledge passage matched, twice in a row */
    ESC_SIGNAL_UNAVAILABLE = 1 << 2, /* the turn failed: every provider down or cooling down */
    ESC_SIGNAL_REPEAT = 1 << 3,      /* the caller asked again what they had just asked */
};

#define ESC_SIGNALS_DEFAULT "unsure,no_passages,unavailable,repeat"

/* Phrases of an answer that does not know, the offline provider's included
 * (connectors/local_reply.h: "... cannot answer questions yet"). */
#define ESC_UNSURE_PHRASES_DEFAULT                                                                 \
    "I don't know,I do not know,I'm not sure,I am not sure,I couldn't find,I could not find,"      \
    "I don't have information,I do not have information,I don't have any information,"             \
    "I do not have any information,cannot answer questions yet"

#define ESC_UNSURE_TIMES    2 /* unsure answers in a session that escalate it */
#define ESC_MISSES_IN_A_ROW 2 /* questions in a row with no passage that escalate it */

#define ESC_REASON_UNSURE      "the bot could not answer twice"
#define ESC_REASON_NO_PASSAGES "no passage of the knowledge base matched twice"
#define ESC_REASON_UNAVAILABLE "the assistant is unavailable"
#define ESC_REASON_REPEAT      "the caller repeated a question"

/* Room for a question digest: 16 lower-case hex digits and the NUL. */
#define ESC_DIGEST_SIZE 17

/** The signals named by the comma list `list` (unsure, no_passages, unavailable, repeat; spaces
 *  around names ignored; "" or "none": none) into `out`. PL_EINVAL (and a message naming the
 *  bad entry in `err`) for an unknown name. */
int esc_signals_parse(const char *list, unsigned *out, char *err, size_t err_len);

/** New string: the `len` bytes of `q` as a repeat is compared: ASCII letters in lower case,
 *  white space runs as one space, no white space at either end, and no punctuation at the end
 *  (. ? ! , ; : and the ellipsis, full-width ? and !, ideographic full stop). */
char *esc_question_normalise(const char *q, size_t len);

/** The digest kept of a question: FNV-1a 64 of its normalised form, in hex; "" when that is
 *  empty (nothing to compare). */
void esc_question_digest(const char *q, size_t len, char out[ESC_DIGEST_SIZE]);

/** Does the answer say the bot does not know: does it hold one of `phrases` (a comma list, as
 *  escalation_phrase_match reads it; typographic apostrophes in the answer read as '). */
bool esc_answer_unsure(const char *phrases, const char *text, size_t len);

/* What one turn showed, as far as the `enabled` signals care. */
struct esc_observation {
    bool unsure;                    /* an answer with text saying it does not know */
    int miss;                       /* 1: no passage; 0: some; -1: not searched, or off */
    bool unavailable;               /* failed before any text with upstream_unavailable */
    char question[ESC_DIGEST_SIZE]; /* digest of the question ("" none, or repeat off) */
};

/** Observe turn `f` for the `enabled` signals (disabled ones observe nothing). */
void esc_observe(unsigned enabled, const char *unsure_phrases, const struct turn_finished *f,
                 struct esc_observation *out);

/** Does the session need the memory (sessions/session_signals.h) for these signals? */
bool esc_needs_memory(unsigned enabled);

/** The reason to escalate for, or NULL: `obs` the turn, `c` the session's memory once the turn
 *  is noted (NULL when it was not asked). In order: unavailable; the ESC_UNSURE_TIMES-th unsure
 *  answer; the ESC_MISSES_IN_A_ROW-th miss in a row; a repeat. A turn noted before
 *  (!c->noted) decides only on unavailable. */
const char *esc_decide(unsigned enabled, const struct esc_observation *obs,
                       const struct sess_signal_counts *c);

#endif
