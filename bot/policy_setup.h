/* The server's policy source (connectors/policy_source.h) from the configuration: Redis (the
 * default; records stored with PUT /v1/policies) or a DynamoDB table (--policy-source
 * dynamodb:TABLE, signed with the server's one AWS credentials source, bot/aws_setup.h). */
#ifndef PARLEY_BOT_POLICY_SETUP_H
#define PARLEY_BOT_POLICY_SETUP_H

#include <stddef.h>

#include "bot/server.h"

/** Build srv->policy (the store, loop and HTTP client must exist). PL_OK, or PL_EINVAL with a
 *  message for the operator in `err` (a bad --policy-source, table, key attribute or endpoint;
 *  no region or credentials for DynamoDB). */
int policy_setup_build(struct bot_server *srv, char *err, size_t errlen);

#endif
