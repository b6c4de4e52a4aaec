/* `parley kb sync s3://BUCKET[/PREFIX]` (docs/knowledge.md "Syncing from S3"): copies the
 * bucket's .md, .txt and .html objects under the prefix onto a server's knowledge base through
 * its admin API, fetching only objects whose ETag changed and deleting the copies whose key is
 * gone (bot/kb_s3_plan.h decides). S3 requests are signed with SigV4 (connectors/aws_sigv4.h)
 * with the credentials the server would use (connectors/aws_credentials.h, run on a private
 * loop). Blocking by design (libcurl's easy interface): a client tool, not the server. */
#ifndef PARLEY_BOT_CLI_KB_SYNC_H
#define PARLEY_BOT_CLI_KB_SYNC_H

#include <stdbool.h>

struct cli_kb_sync_opts {
    const char *url;      /* the server, http://HOST:PORT */
    const char *secret;   /* its JWT secret */
    const char *region;   /* --region, or NULL: AWS_REGION, AWS_DEFAULT_REGION, the profile's */
    const char *endpoint; /* --endpoint (path-style addressing), or NULL: AWS's */
    bool dry_run;         /* list and plan only */
};

/** Run the sync of `s3url`; the exit status: 0 done, 1 something failed, 2 usage. */
int cli_kb_sync(const char *s3url, const struct cli_kb_sync_opts *o);

#endif
