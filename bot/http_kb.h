/* The knowledge base over HTTP (docs/protocol.md "Knowledge base", docs/knowledge.md "HTTP"):
 * POST /v1/kb/documents and DELETE /v1/kb/documents/{name} for admins, GET /v1/kb/documents
 * and GET /v1/kb/search?q=...&k=N for agents and admins. Documents are stored in Redis
 * (sessions/kb_store.h); searches read this instance's index, which kb_sync keeps equal to the
 * store. */
#ifndef PARLEY_BOT_HTTP_KB_H
#define PARLEY_BOT_HTTP_KB_H

#include "bot/http_server.h"

/* A request body to /v1/kb/documents may be this large: a document of kb_chunk's 4 MiB
 * escaped in JSON. */
#define HTTP_KB_BODY_MAX (12u * 1024 * 1024)

/** /v1/kb/...: `rest` is the path after "/v1/kb/". */
void http_kb_route(struct http_server_req *r, const char *rest);

#endif
