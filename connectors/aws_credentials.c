/* AWS credentials (aws_credentials.h). This first version knows the environment source only;
 * the shared files, the container endpoint and instance metadata come next. */
#include "connectors/aws_credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

struct aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
};

struct aws_credentials_wait {
    int unused;
};

static const char *system_getenv(const char *name)
{
    return getenv(name);
}

int aws_credentials_create(const struct aws_credentials_options *opts, struct aws_credentials **out,
                           char *err, size_t errlen)
{
    aws_getenv_fn env = opts->getenv ? opts->getenv : system_getenv;
    const char *id = env("AWS_ACCESS_KEY_ID");
    const char *secret = env("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret) {
        snprintf(err, errlen,
                 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return PL_ENOTFOUND;
    }
    struct aws_credentials *c = pl_calloc(1, sizeof(*c));
    c->access_key_id = pl_strdup(id);
    c->secret_access_key = pl_strdup(secret);
    const char *token = env("AWS_SESSION_TOKEN");
    c->session_token = pl_strdup(token && *token ? token : "");
    *out = c;
    return PL_OK;
}

void aws_credentials_destroy(struct aws_credentials *c)
{
    if (!c)
        return;
    pl_free(c->access_key_id);
    pl_free(c->secret_access_key);
    pl_free(c->session_token);
    pl_free(c);
}

int aws_credentials_get(struct aws_credentials *c, struct pl_sigv4_creds *out, const char **detail)
{
    out->access_key_id = c->access_key_id;
    out->secret_access_key = c->secret_access_key;
    out->session_token = c->session_token;
    if (detail)
        *detail = NULL;
    return PL_OK;
}

struct aws_credentials_wait *aws_credentials_wait(struct aws_credentials *c, void (*cb)(void *ud),
                                                  void *ud)
{
    (void)c;
    (void)cb;
    (void)ud;
    return NULL; /* never PL_EBUSY: nothing to wait for */
}

void aws_credentials_wait_cancel(struct aws_credentials_wait *w)
{
    (void)w;
}

const char *aws_credentials_profile_region(const struct aws_credentials *c)
{
    (void)c;
    return NULL;
}

const char *aws_credentials_source_name(const struct aws_credentials *c)
{
    (void)c;
    return "environment";
}
