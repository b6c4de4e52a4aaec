/* The AWS pieces every AWS-backed part of the server shares (docs/bedrock.md "Credentials"):
 * one credentials source and one region, found once from the configuration and environment.
 * The Bedrock provider, the embeddings model and the DynamoDB policy source all sign with
 * them. */
#ifndef PARLEY_BOT_AWS_SETUP_H
#define PARLEY_BOT_AWS_SETUP_H

#include <stddef.h>

#include "bot/server.h"

/** srv->aws_creds, created on the first call (the loop and HTTP client must exist; it is
 *  destroyed at shutdown with the server). PL_OK, or PL_EINVAL with a message for the operator
 *  in `err` that names `who` needs the credentials ("the bedrock provider"). */
int aws_setup_credentials(struct bot_server *srv, const char *who, char *err, size_t errlen);

/** The region: --aws-region (or AWS_REGION), then AWS_DEFAULT_REGION, then the profile's when
 *  srv->aws_creds exists. PL_OK with `*region` (borrowed), or PL_EINVAL with a message that
 *  names `who` in `err`. */
int aws_setup_region(struct bot_server *srv, const char *who, const char **region, char *err,
                     size_t errlen);

#endif
