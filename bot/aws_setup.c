/* One AWS credentials source and region for the server (bot/aws_setup.h). */
#include "bot/aws_setup.h"

#include <stdio.h>
#include <stdlib.h>

#include "bot/config.h"
#include "common/err.h"
#include "connectors/aws_credentials.h"

int aws_setup_credentials(struct bot_server *srv, const char *who, char *err, size_t errlen)
{
    if (srv->aws_creds)
        return PL_OK;
    struct aws_credentials_options o = {.loop = srv->loop, .http = srv->http};
    char why[256] = "";
    if (aws_credentials_create(&o, &srv->aws_creds, why, sizeof(why)) != PL_OK) {
        snprintf(err, errlen, "%s needs AWS credentials: %s", who, why);
        return PL_EINVAL;
    }
    return PL_OK;
}

int aws_setup_region(struct bot_server *srv, const char *who, const char **region, char *err,
                     size_t errlen)
{
    const char *r = srv->cfg->aws_region;
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    if ((!r || !*r) && srv->aws_creds)
        r = aws_credentials_profile_region(srv->aws_creds);
    if (!r || !*r) {
        snprintf(err, errlen,
                 "%s needs a region: set --aws-region (or AWS_REGION, AWS_DEFAULT_REGION, or "
                 "region in the AWS profile)",
                 who);
        return PL_EINVAL;
    }
    *region = r;
    return PL_OK;
}
