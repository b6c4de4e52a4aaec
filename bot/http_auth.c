/* Bearer tokens on HTTP routes; see http_auth.h. */
#include "bot/http_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "common/err.h"

static long long wall_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec;
}

static bool verify(struct http_server_req *r, struct auth_claims *claims)
{
    const char *h = r->authorization;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        http_server_reply_error(r, API_ERR_UNAUTHORIZED, "send Authorization: Bearer <token>");
        return false;
    }
    const struct bot_config *cfg = r->srv->cfg;
    const struct auth_verify_opts o = {
        .now_s = wall_s(), .max_ttl_s = cfg->max_token_ttl_s, .tenant_claim = cfg->tenant_claim};
    const char *why;
    int rc = auth_token_check((const unsigned char *)cfg->jwt_secret, strlen(cfg->jwt_secret),
                              h + 7, &o, claims, &why);
    if (rc == PL_EEXPIRED) {
        http_server_reply_error(r, API_ERR_TOKEN_EXPIRED, NULL);
        return false;
    }
    if (rc != PL_OK) {
        http_server_reply_error(r, API_ERR_UNAUTHORIZED, why);
        return false;
    }
    return true;
}

static void refuse_role(struct http_server_req *r, enum auth_role role)
{
    char msg[80];
    snprintf(msg, sizeof(msg), "this needs the %s role", auth_role_name(role));
    http_server_reply_error(r, API_ERR_FORBIDDEN, msg);
}

bool http_auth_require(struct http_server_req *r, enum auth_role role, struct auth_claims *claims)
{
    if (!verify(r, claims))
        return false;
    if (claims->role < role) {
        refuse_role(r, role);
        return false;
    }
    return true;
}

bool http_auth_session(struct http_server_req *r, const char *sid, enum auth_role other_role,
                       struct auth_claims *claims)
{
    if (!verify(r, claims))
        return false;
    if (claims->role == AUTH_ROLE_CALLER) {
        if (strcmp(claims->sid, sid) == 0)
            return true;
        http_server_reply_error(r, API_ERR_FORBIDDEN, "this token is for another conversation");
        return false;
    }
    if (claims->role < other_role) {
        refuse_role(r, other_role);
        return false;
    }
    return true;
}
