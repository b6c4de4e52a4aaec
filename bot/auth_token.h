/* HS256 JSON Web Tokens (RFC 7519) for callers, agents and admins (docs/protocol.md, "Tokens"):
 * minting with the configured secret and strict verification (only HS256, constant-time
 * signature check, bounded claims). */
#ifndef PARLEY_BOT_AUTH_TOKEN_H
#define PARLEY_BOT_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* Ordered: a higher role includes the rights of the lower ones. */
enum auth_role { AUTH_ROLE_CALLER = 0, AUTH_ROLE_AGENT = 1, AUTH_ROLE_ADMIN = 2 };

/* Longest accepted token, in bytes. */
#define AUTH_TOKEN_MAX_LEN 4096

struct auth_claims {
    char sub[129];       /* subject, 1..128 bytes */
    enum auth_role role; /* "role" claim */
    char sid[65];        /* session a caller may use, 0..64 bytes ("" when absent) */
    long long iat;       /* issued at, Unix seconds (0 when absent) */
    long long exp;       /* expiry, Unix seconds */
    long long nbf;       /* not before, Unix seconds (0 when absent; minted only when set) */
    char policy[65];     /* the policy number the caller's session is bound to, 0..64 bytes
                            ("" when absent; docs/security.md "Policy records") */
    char tenant[129];    /* the tenant claim (auth_verify_opts.tenant_claim) when it is a string
                            of 1..128 bytes, else sub (docs/cost.md); never minted */
};

/* Clock skew allowed between the system that minted a token and this one, in seconds: a token
 * whose nbf or iat is up to this far ahead of our clock is accepted, and one whose exp lies up to
 * this much beyond the maximum lifetime. exp itself has no leeway (expired is expired). */
#define AUTH_CLOCK_LEEWAY_S 60

struct auth_verify_opts {
    long long now_s;          /* this server's clock, Unix seconds */
    long long max_ttl_s;      /* refuse a token whose exp is further ahead than this; 0: no limit */
    const char *tenant_claim; /* the claim naming the tenant (--tenant-claim); NULL: sub */
};

/** Static name of `r`: "caller", "agent" or "admin" ("unknown" for other values). */
const char *auth_role_name(enum auth_role r);

/** Parse an exact role name ("caller", "agent", "admin") into `*out`; false (and `*out`
 *  untouched) for anything else, including NULL. */
bool auth_role_parse(const char *s, enum auth_role *out);

/** New token (caller frees with pl_free) signed with the `secret_len` bytes of `secret`
 *  (borrowed). Header {"alg":"HS256","typ":"JWT"}; payload sub, role, sid (left out when empty),
 *  iat, exp, nbf (left out when 0), policy (left out when empty) from `c` (borrowed). Never NULL.
 */
char *auth_token_mint(const unsigned char *secret, size_t secret_len, const struct auth_claims *c);

/** Check `token` (borrowed, NUL-terminated) against `secret` and the clock and lifetime of `o`,
 *  and fill `*out` (may be NULL when only validity matters). Returns:
 *  - PL_OK: well formed, signed with `secret` by HS256, exp > now, nbf and iat (when present) at
 *    most AUTH_CLOCK_LEEWAY_S ahead of now, and exp at most max_ttl_s (+ the leeway) ahead;
 *  - PL_EAUTH: an empty secret; a NULL, malformed or forged token; longer than
 *    AUTH_TOKEN_MAX_LEN; a header whose "alg" is not "HS256" (so "none" too) or that has "crit";
 *    a missing or empty "sub", a missing "role" or "exp", an unknown role, a non-integer iat,
 *    nbf or exp, sub over 128 bytes, sid or policy over 64 bytes, or a claim of the wrong JSON
 * type; an nbf or iat in the future; an exp beyond the maximum lifetime;
 *  - PL_EEXPIRED: signed and well formed but exp <= now (only reported after the signature has
 *    been found good, so it never reveals anything about forged tokens).
 *  `*why` (may be NULL) is set to a static sentence for people saying what is wrong (NULL on
 *  PL_OK and PL_EEXPIRED). `*out` is filled on PL_OK and PL_EEXPIRED. */
int auth_token_check(const unsigned char *secret, size_t secret_len, const char *token,
                     const struct auth_verify_opts *o, struct auth_claims *out, const char **why);

/** auth_token_check with no lifetime limit and no `why`. */
int auth_token_verify(const unsigned char *secret, size_t secret_len, const char *token,
                      long long now_s, struct auth_claims *out);

#endif
