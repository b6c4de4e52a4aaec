/* A session's transcript as the prompt builder reads it; see turn_engine.h. */
#include <stdbool.h>
#include <string.h>

#include "bot/turn/turn_engine.h"
#include "common/alloc.h"
#include "sessions/conversation_order.h"
#include "sessions/session_store.h"

size_t turn_history_items(const struct sess_turn_context *ctx, struct prompt_history_item *items)
{
    const struct sess_entry **ordered = pl_calloc(ctx->n ? ctx->n : 1, sizeof(*ordered));
    sess_conversation_order(ctx->entries, ctx->n, ordered);
    size_t k = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        const struct sess_entry *e = ordered[i];
        enum prompt_role role;
        if (strcmp(e->role, "caller") == 0)
            role = PROMPT_ROLE_CALLER;
        else if (strcmp(e->role, "assistant") == 0)
            role = PROMPT_ROLE_ASSISTANT;
        else if (strcmp(e->role, "agent") == 0)
            role = PROMPT_ROLE_AGENT;
        else
            continue;
        bool failed = role == PROMPT_ROLE_ASSISTANT && e->error[0] && e->text_len == 0;
        items[k++] = (struct prompt_history_item){role, e->turn, e->text, e->text_len, failed};
    }
    pl_free(ordered);
    return k;
}
