/* The admin CLI's shared pieces; see cli_admin.h. */
#include "bot/cli_admin.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "bot/auth_secret.h"
#include "bot/auth_token.h"
#include "common/buf.h"
#include "common/err.h"

bool cli_secret_ok(const char *prog, const char *secret)
{
    if (!secret || !*secret) {
        fprintf(stderr,
                "%s: no secret: pass --jwt-secret or set PARLEY_JWT_SECRET (the server's)\n", prog);
        return false;
    }
    char why[400];
    if (auth_secret_check(secret, "the secret (--jwt-secret / PARLEY_JWT_SECRET)", why,
                          sizeof(why)) != PL_OK) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return false;
    }
    return true;
}

char *cli_admin_token(const char *secret)
{
    struct auth_claims claims;
    memset(&claims, 0, sizeof(claims));
    snprintf(claims.sub, sizeof(claims.sub), "parley-cli");
    claims.role = AUTH_ROLE_ADMIN;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    claims.iat = tv.tv_sec;
    claims.exp = claims.iat + 300;
    return auth_token_mint((const unsigned char *)secret, strlen(secret), &claims);
}

size_t cli_curl_to_buf(char *p, size_t size, size_t n, void *buf)
{
    pl_buf_append(buf, p, size * n);
    return size * n;
}
