/* Model providers from configuration (docs/configuration.md "Model providers"). */
#ifndef PARLEY_BOT_LLM_SETUP_H
#define PARLEY_BOT_LLM_SETUP_H

#include <stddef.h>

#include "bot/server.h"

/** Build srv->llm (chat's chain), srv->llm_routes and srv->llm_breakers from srv->cfg (the loop
 *  and HTTP client must exist). PL_OK, or PL_EINVAL with a message for the operator in `err`
 *  (unknown provider, missing key, a bad --routes entry); what was built is then still in srv,
 *  for the caller's clean-up. */
int llm_setup_build(struct bot_server *srv, char *err, size_t errlen);

#endif
