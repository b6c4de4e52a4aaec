/* The Redis key layout of a session (docs/redis-keys.md): parley:{SID}:<part>, the session id
 * as a hash tag so that all keys of one session land on one Redis Cluster slot. Internal to
 * sessions/. */
#ifndef PARLEY_SESSIONS_SESSION_KEYS_H
#define PARLEY_SESSIONS_SESSION_KEYS_H

#include <stdio.h>

#define SESS_KEY_MAX 200 /* a tenant's keys: 128 bytes of tenant, a part and a day */

/** The key (or pub/sub channel) `part` of session `sid`. */
static inline void sess_key(char out[SESS_KEY_MAX], const char *sid, const char *part)
{
    snprintf(out, SESS_KEY_MAX, "parley:{%s}:%s", sid, part);
}

/** The key `part` of the per-address limits of `address` (a client address as
 *  bot/conn_limits.h keys it: an IPv4 address, an IPv6 /64): parley:addr:{ADDRESS}:<part>, the
 * address as hash tag. */
static inline void sess_address_key(char out[SESS_KEY_MAX], const char *address, const char *part)
{
    snprintf(out, SESS_KEY_MAX, "parley:addr:{%s}:%s", address, part);
}

/** The key `part` of tenant `tenant`'s day `day` (YYYY-MM-DD, UTC):
 *  parley:tenant:{TENANT}:<part>:<day>, the tenant as hash tag (docs/cost.md). */
static inline void sess_tenant_key(char out[SESS_KEY_MAX], const char *tenant, const char *part,
                                   const char *day)
{
    snprintf(out, SESS_KEY_MAX, "parley:tenant:{%s}:%s:%s", tenant, part, day);
}

#endif
