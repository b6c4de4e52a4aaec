/* Connection-limit arithmetic; see conn_limits.h. */
#include "bot/conn_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

int conn_cap_derive(uint64_t nofile, uint32_t requested, struct conn_cap *out)
{
    memset(out, 0, sizeof(*out));
    if (nofile < CONN_FD_MIN)
        return PL_EINVAL;
    uint64_t room = nofile - CONN_FD_HEADROOM - CONN_HEALTH_RESERVE;
    if (room > UINT32_MAX)
        room = UINT32_MAX;
    out->ceiling = (uint32_t)room;
    if (requested == 0) {
        out->cap = out->ceiling / 2;
    } else if (requested > out->ceiling) {
        out->cap = out->ceiling;
        out->lowered = true;
    } else {
        out->cap = requested;
    }
    return PL_OK;
}

void conn_peer_key(const struct sockaddr *sa, socklen_t len, char *out)
{
    out[0] = '\0';
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, CONN_PEER_KEY_LEN);
        return;
    }
    if (sa->sa_family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))
        return;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        inet_ntop(AF_INET, &a->s6_addr[12], out, CONN_PEER_KEY_LEN);
        return;
    }
    struct in6_addr prefix;
    memset(&prefix, 0, sizeof(prefix));
    memcpy(prefix.s6_addr, a->s6_addr, 8);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &prefix, text, sizeof(text));
    snprintf(out, CONN_PEER_KEY_LEN, "%s/64", text);
}

void conn_counts_init(struct conn_counts *c)
{
    pl_map_init(&c->map);
}

void conn_counts_cleanup(struct conn_counts *c)
{
    pl_map_cleanup(&c->map);
}

uint32_t conn_counts_get(const struct conn_counts *c, const char *key)
{
    return (uint32_t)(uintptr_t)pl_map_get(&c->map, key);
}

bool conn_counts_take(struct conn_counts *c, const char *key, uint32_t limit)
{
    uint32_t n = conn_counts_get(c, key);
    if (limit && n >= limit)
        return false;
    pl_map_put(&c->map, key, (void *)(uintptr_t)(n + 1));
    return true;
}

void conn_counts_put(struct conn_counts *c, const char *key)
{
    uint32_t n = conn_counts_get(c, key);
    if (n <= 1)
        pl_map_remove(&c->map, key); /* no entry for a key without connections */
    else
        pl_map_put(&c->map, key, (void *)(uintptr_t)(n - 1));
}

size_t conn_counts_keys(const struct conn_counts *c)
{
    return c->map.count;
}

bool conn_throttle_due(struct conn_throttle *t, uint64_t now_ms, uint64_t *missed)
{
    if (t->logged_once && now_ms - t->last_ms < t->interval_ms) {
        t->missed++;
        return false;
    }
    *missed = t->missed;
    t->missed = 0;
    t->last_ms = now_ms;
    t->logged_once = true;
    return true;
}
