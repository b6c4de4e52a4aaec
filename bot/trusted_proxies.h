/* Trusted proxies (--trusted-proxies, docs/security.md "Behind a proxy"): the addresses of the
 * load balancers and reverse proxies in front of parleyd, and the client address a request that
 * came through them names in X-Forwarded-For. A connection from a trusted proxy is not counted
 * per address (it carries many clients), and its requests count under the client's address
 * instead: the rightmost X-Forwarded-For entry that is not itself a trusted proxy (each proxy
 * appends the address it received from, so entries to the left of the first untrusted one are
 * the client's to forge). I/O-free; fuzzed by tests/fuzz/fuzz_forwarded.c. */
#ifndef PARLEY_BOT_TRUSTED_PROXIES_H
#define PARLEY_BOT_TRUSTED_PROXIES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "bot/conn_limits.h"

/* Most ranges in --trusted-proxies, and most X-Forwarded-For entries looked at (from the right:
 * a request never passes through more proxies than that). */
#define TRUSTED_PROXIES_MAX   64
#define FORWARDED_ENTRIES_MAX 32

struct trusted_proxies;

/** Parse a comma list of addresses and CIDR ranges ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32").
 *  NULL or "" gives *out NULL (no proxy is trusted) and PL_OK. PL_EINVAL with a message naming
 *  the entry in `err` for anything else: a bad address, a prefix longer than the address, host
 *  bits set below the prefix ("10.0.0.1/8" is almost always a typing mistake), too many. */
int trusted_proxies_parse(const char *list, struct trusted_proxies **out, char *err, size_t errlen);
/** Accepts NULL. */
void trusted_proxies_free(struct trusted_proxies *t);

/** True when the socket address is in one of the ranges (an IPv4-mapped IPv6 address counts as
 *  its IPv4 address). False for NULL `t` and for a Unix socket. */
bool trusted_proxies_has(const struct trusted_proxies *t, const struct sockaddr *sa, socklen_t len);

enum forwarded_result {
    FORWARDED_NONE,      /* no X-Forwarded-For entry: the request is the proxy's own */
    FORWARDED_CLIENT,    /* `key` is the client's */
    FORWARDED_MALFORMED, /* an entry the walk reached is not an address: the proxy's, then */
};

/** The per-address key (conn_peer_key's form: "192.0.2.7", "2001:db8:1:2::/64") of the client
 *  of a request that came from a trusted proxy, from its X-Forwarded-For header lines `values`
 *  (n of them, in the order they came; each a comma list). An entry is an address, optionally
 *  "IPv4:port" or "[IPv6]:port"; the walk goes from the last entry leftwards over trusted
 *  proxies and takes the first that is not one (or the leftmost, when all are). `key` is "" for
 *  anything but FORWARDED_CLIENT. */
enum forwarded_result trusted_proxies_client(const struct trusted_proxies *t,
                                             const char *const *values, size_t n,
                                             char key[CONN_PEER_KEY_LEN]);

#endif
