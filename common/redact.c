/* Secret removal for logs; see redact.h. One pass over the text: at each position the patterns
 * are tried in turn, and what matches none is copied as it is. The patterns are deliberately
 * narrow (a field must be named like a secret, a word must start where a word starts), so that
 * ordinary log text passes untouched. */
#include "common/redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_b64url_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Characters of the credentials after "Bearer " (RFC 6750 b64token) or "Basic ". */
static bool is_credential_char(char c)
{
    return is_b64url_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of `lit` (lower case) if the `n` bytes at `s` start with it in any case, else 0. */
static size_t starts_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++) {
        if (lower(s[i]) != lit[i])
            return 0;
    }
    return k;
}

/* The end of a URL's authority starting at `s`: the first of / ? # whitespace quote < > . */
static size_t authority_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !strchr("/?# \t\r\n\"'<>", s[i]) && s[i] != '\0')
        i++;
    return i;
}

/* The userinfo of the authority at `s` (up to its last '@'), or 0 when it has none. */
static size_t userinfo_len(const char *s, size_t n)
{
    size_t a = authority_len(s, n);
    for (size_t i = a; i-- > 0;) {
        if (s[i] == '@')
            return i;
    }
    return 0;
}

char *pl_redact_url(const char *url, char *out, size_t cap)
{
    /* As sessions/redis_conn.c reads a URL: the userinfo runs to the last '@', so a password
     * holding '/' or '@' is still hidden whole. */
    const char *sep = strstr(url, "://");
    const char *host = sep ? strrchr(sep + 3, '@') : NULL;
    if (!host) {
        snprintf(out, cap, "%s", url);
        return out;
    }
    const char *info = sep + 3;
    const char *colon = memchr(info, ':', (size_t)(host - info));
    const char *cut = colon ? colon + 1 : info;
    snprintf(out, cap, "%.*s" PL_REDACTED "%s", (int)(cut - url), url, host);
    return out;
}

/* Field names whose values are secrets (lower case). Those marked `line` take the rest of the
 * line when unquoted: an Authorization header's value is a scheme and its credentials. */
static const struct {
    const char *name;
    bool line;
} secret_fields[] = {
    {"proxy-authorization", true},
    {"authorization", true},
    {"x-api-key", false},
    {"api-key", false},
    {"api_key", false},
    {"apikey", false},
    {"access_token", false},
    {"refresh_token", false},
    {"id_token", false},
    {"token", false},
    {"password", false},
    {"passwd", false},
    {"client_secret", false},
    {"jwt_secret", false},
    {"jwt-secret", false},
    {"webhook_secret", false},
    {"aws_secret_access_key", false},
    {"aws_session_token", false},
    {"secret", false},
};

/* A field named like a secret at `s` (a word start): `*value_at` and `*value_len` are where its
 * value lies (relative to s). False if it is no such field or its value is empty. */
static bool secret_field(const char *s, size_t n, size_t *value_at, size_t *value_len)
{
    for (size_t f = 0; f < sizeof(secret_fields) / sizeof(secret_fields[0]); f++) {
        size_t k = starts_ci(s, n, secret_fields[f].name);
        if (!k || (k < n && is_word_char(s[k])))
            continue;
        size_t i = k;
        if (i < n && (s[i] == '"' || s[i] == '\''))
            i++; /* the key's closing quote */
        while (i < n && s[i] == ' ')
            i++;
        if (i >= n || (s[i] != ':' && s[i] != '='))
            return false;
        i++;
        while (i < n && s[i] == ' ')
            i++;
        char quote = i < n && (s[i] == '"' || s[i] == '\'') ? s[i] : 0;
        if (quote)
            i++;
        size_t v = i;
        while (i < n) {
            char c = s[i];
            if (quote) {
                if (c == '\\' && i + 1 < n) {
                    i += 2;
                    continue;
                }
                if (c == quote)
                    break;
            } else if (secret_fields[f].line ? (c == '\r' || c == '\n')
                                             : (strchr(" \t\r\n,;&})]\"'", c) != NULL)) {
                break;
            }
            i++;
        }
        if (i == v)
            return false;
        *value_at = v;
        *value_len = i - v;
        return true;
    }
    return false;
}

/* A JWT at `s`: header.payload.signature in base64url, the header starting "eyJ" ('{"'). */
static size_t jwt_len(const char *s, size_t n)
{
    if (n < 3 || memcmp(s, "eyJ", 3) != 0)
        return 0;
    size_t i = 0;
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < n && is_b64url_char(s[i]))
            i++;
        if (i == start && part < 2)
            return 0;
        if (part < 2) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
    }
    return i;
}

/* Length of the redactable text at `s` (a word start), what to keep of it (`*keep`), or 0. */
static size_t secret_at(const char *s, size_t n, size_t *keep)
{
    size_t k;
    *keep = 0;
    if ((k = starts_ci(s, n, "bearer ")) || (k = starts_ci(s, n, "basic "))) {
        while (k < n && s[k] == ' ')
            k++;
        size_t i = k;
        while (i < n && is_credential_char(s[i]))
            i++;
        *keep = k;
        return i > k ? i : 0;
    }
    if ((k = jwt_len(s, n)))
        return k;
    if (n > 3 && memcmp(s, "sk-", 3) == 0) {
        size_t i = 3;
        while (i < n && is_word_char(s[i]))
            i++;
        *keep = 3;
        return i - 3 >= 16 ? i : 0;
    }
    return 0;
}

int pl_redact_secrets(struct pl_buf *out, const char *s, size_t n)
{
    size_t copied = 0; /* s[copied..i) is still to be copied */
    size_t i = 0;
    int rc = PL_OK;
    while (i < n && rc == PL_OK) {
        size_t skip_from = 0, skip_len = 0;
        if (s[i] == ':' && i + 3 <= n && s[i + 1] == '/' && s[i + 2] == '/') {
            size_t ui = userinfo_len(s + i + 3, n - i - 3);
            if (ui) {
                const char *colon = memchr(s + i + 3, ':', ui);
                skip_from = colon ? (size_t)(colon - s) + 1 : i + 3;
                skip_len = i + 3 + ui - skip_from;
            }
        } else if (i == 0 || !is_word_char(s[i - 1])) {
            size_t keep, len, at, vlen;
            if ((len = secret_at(s + i, n - i, &keep))) {
                skip_from = i + keep;
                skip_len = len - keep;
            } else if (secret_field(s + i, n - i, &at, &vlen)) {
                skip_from = i + at;
                skip_len = vlen;
            }
        }
        if (!skip_len) {
            i++;
            continue;
        }
        rc = pl_buf_append(out, s + copied, skip_from - copied);
        if (!rc)
            rc = pl_buf_append_str(out, PL_REDACTED);
        i = copied = skip_from + skip_len;
    }
    if (!rc)
        rc = pl_buf_append(out, s + copied, n - copied);
    return rc;
}
