/* An upstream's hint of when to ask again, as its answer's headers give it: Retry-After (RFC 9110
 * 10.2.3: seconds or an HTTP-date) and retry-after-ms (milliseconds, as Anthropic and OpenAI
 * send it). One reading of these headers for every provider's error classifier. I/O-free. */
#ifndef PARLEY_CONNECTORS_RETRY_AFTER_H
#define PARLEY_CONNECTORS_RETRY_AFTER_H

/* A longer hint (or "inf") means the same to us, and would overflow a long. */
#define RETRY_AFTER_MAX_MS 86400000L /* a day */

/** Milliseconds to wait, or -1 when neither header says. Either value may be NULL (absent).
 *  retry-after-ms, when a non-negative number, wins; else Retry-After as non-negative
 *  seconds, or as an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT") resolved against `now_s` (0
 *  when it has passed). Capped at RETRY_AFTER_MAX_MS. Anything else is no hint. */
long retry_after_parse_ms(const char *retry_after, const char *retry_after_ms, long long now_s);

#endif
