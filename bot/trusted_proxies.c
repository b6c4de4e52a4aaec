/* Trusted proxies and X-Forwarded-For; see trusted_proxies.h. */
#include "bot/trusted_proxies.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

/* An address: 4 or 16 bytes. */
struct ip {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
};

struct range {
    struct ip base;
    unsigned prefix; /* bits */
};

struct trusted_proxies {
    struct range ranges[TRUSTED_PROXIES_MAX];
    size_t n;
};

static unsigned bits_of(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* An IPv4-mapped IPv6 address is its IPv4 address. */
static void unmap(struct ip *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->family == AF_INET6 && memcmp(a->bytes, mapped, 12) == 0) {
        a->family = AF_INET;
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
    }
}

/* `len` bytes of text as a bare address. */
static bool ip_parse(const char *text, size_t len, struct ip *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
        out->family = AF_INET6;
        unmap(out);
        return true;
    }
    return false;
}

static bool in_range(const struct range *r, const struct ip *a)
{
    if (r->base.family != a->family)
        return false;
    unsigned full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->base.bytes, a->bytes, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (r->base.bytes[full] & mask) == (a->bytes[full] & mask);
}

static bool trusted(const struct trusted_proxies *t, const struct ip *a)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (in_range(&t->ranges[i], a))
            return true;
    return false;
}

static bool host_bits_clear(const struct range *r)
{
    unsigned total = bits_of(r->base.family);
    for (unsigned bit = r->prefix; bit < total; bit++)
        if (r->base.bytes[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

static const char *trim(const char *s, const char *end, const char **out_end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *out_end = end;
    return s;
}

/* One --trusted-proxies entry: ADDRESS or ADDRESS/PREFIX. */
static bool range_parse(const char *s, const char *end, struct range *r, const char **why)
{
    const char *slash = memchr(s, '/', (size_t)(end - s));
    if (!ip_parse(s, (size_t)((slash ? slash : end) - s), &r->base)) {
        *why = "is not an IPv4 or IPv6 address";
        return false;
    }
    unsigned total = bits_of(r->base.family);
    r->prefix = total;
    if (slash) {
        const char *p = slash + 1;
        if (p == end || end - p > 3) {
            *why = "has a malformed prefix length";
            return false;
        }
        unsigned v = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9') {
                *why = "has a malformed prefix length";
                return false;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > total) {
            *why = "has a prefix longer than its address";
            return false;
        }
        r->prefix = v;
        if (!host_bits_clear(r)) {
            *why = "has bits set after its prefix (write the network address, e.g. 10.0.0.0/8)";
            return false;
        }
    }
    return true;
}

int trusted_proxies_parse(const char *list, struct trusted_proxies **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!list || !*list)
        return PL_OK;
    struct trusted_proxies *t = pl_calloc(1, sizeof(*t));
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *e;
        const char *s = trim(p, end, &e);
        if (s < e) {
            const char *why = NULL;
            if (t->n == TRUSTED_PROXIES_MAX) {
                snprintf(err, errlen, "--trusted-proxies: more than %d entries",
                         TRUSTED_PROXIES_MAX);
                trusted_proxies_free(t);
                return PL_EINVAL;
            }
            if (!range_parse(s, e, &t->ranges[t->n], &why)) {
                snprintf(err, errlen, "--trusted-proxies: \"%.*s\" %s",
                         (int)(e - s > 64 ? 64 : e - s), s, why);
                trusted_proxies_free(t);
                return PL_EINVAL;
            }
            t->n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    if (t->n == 0) {
        snprintf(err, errlen, "--trusted-proxies: no address in \"%s\"", list);
        trusted_proxies_free(t);
        return PL_EINVAL;
    }
    *out = t;
    return PL_OK;
}

void trusted_proxies_free(struct trusted_proxies *t)
{
    pl_free(t);
}

bool trusted_proxies_has(const struct trusted_proxies *t, const struct sockaddr *sa, socklen_t len)
{
    struct ip a;
    memset(&a, 0, sizeof(a));
    if (!t)
        return false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        a.family = AF_INET;
        memcpy(a.bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        a.family = AF_INET6;
        memcpy(a.bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        unmap(&a);
    } else {
        return false;
    }
    return trusted(t, &a);
}

/* One X-Forwarded-For entry: an address, "IPv4:port" or "[IPv6]:port". */
static bool entry_parse(const char *s, const char *end, struct ip *out)
{
    if (s < end && *s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));
        if (!close)
            return false;
        const char *p = close + 1;
        if (p < end && *p++ != ':')
            return false;
        for (; p < end; p++)
            if (*p < '0' || *p > '9')
                return false;
        return ip_parse(s + 1, (size_t)(close - s - 1), out) && out->family == AF_INET6;
    }
    const char *colon = memchr(s, ':', (size_t)(end - s));
    if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
        /* exactly one colon: IPv4:port (an IPv6 address has two or more) */
        for (const char *p = colon + 1; p < end; p++)
            if (*p < '0' || *p > '9')
                return false;
        return ip_parse(s, (size_t)(colon - s), out) && out->family == AF_INET;
    }
    return ip_parse(s, (size_t)(end - s), out);
}

static void key_of(const struct ip *a, char key[CONN_PEER_KEY_LEN])
{
    if (a->family == AF_INET) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        memcpy(&in.sin_addr, a->bytes, 4);
        conn_peer_key((const struct sockaddr *)&in, sizeof(in), key);
    } else {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof(in6));
        in6.sin6_family = AF_INET6;
        memcpy(&in6.sin6_addr, a->bytes, 16);
        conn_peer_key((const struct sockaddr *)&in6, sizeof(in6), key);
    }
}

enum forwarded_result trusted_proxies_client(const struct trusted_proxies *t,
                                             const char *const *values, size_t n,
                                             char key[CONN_PEER_KEY_LEN])
{
    key[0] = '\0';
    struct ip last;
    bool seen = false;
    size_t walked = 0;
    /* Right to left: the last header line's last entry is what the nearest proxy appended. */
    for (size_t i = n; i-- > 0 && walked < FORWARDED_ENTRIES_MAX;) {
        const char *start = values[i];
        const char *p = start + strlen(start);
        while (p > start && walked < FORWARDED_ENTRIES_MAX) {
            const char *q = p;
            while (q > start && q[-1] != ',')
                q--;
            const char *e;
            const char *s = trim(q, p, &e);
            p = q > start ? q - 1 : start;
            if (s == e)
                continue; /* an empty list element (RFC 9110 section 5.6.1) */
            walked++;
            if (!entry_parse(s, e, &last))
                return FORWARDED_MALFORMED;
            seen = true;
            if (!trusted(t, &last)) {
                key_of(&last, key);
                return FORWARDED_CLIENT;
            }
        }
    }
    if (!seen)
        return FORWARDED_NONE;
    key_of(&last, key); /* every entry looked at is a proxy: the leftmost is the client */
    return FORWARDED_CLIENT;
}
