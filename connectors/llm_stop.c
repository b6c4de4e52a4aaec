/* Stop reasons: their names in docs/protocol.md ("Stop reasons") and the mapping from a model's own
 * stop_reason. */
#include <string.h>

#include "connectors/llm.h"

const char *llm_stop_name(enum llm_stop stop)
{
    switch (stop) {
    case LLM_STOP_END_TURN:
        return "end_turn";
    case LLM_STOP_MAX_TOKENS:
        return "max_tokens";
    case LLM_STOP_STOP_SEQUENCE:
        return "stop_sequence";
    case LLM_STOP_REFUSAL:
        return "refusal";
    case LLM_STOP_CANCELLED:
        return "cancelled";
    case LLM_STOP_TAKEOVER:
        return "takeover";
    case LLM_STOP_UPSTREAM_CUT:
        return "upstream_cut";
    case LLM_STOP_UPSTREAM_ERROR:
        return "upstream_error";
    case LLM_STOP_TIMEOUT:
        return "timeout";
    }
    return "end_turn";
}

enum llm_stop llm_stop_from_model(const char *s)
{
    if (!s)
        return LLM_STOP_END_TURN;
    if (strcmp(s, "max_tokens") == 0 || strcmp(s, "model_context_window_exceeded") == 0)
        return LLM_STOP_MAX_TOKENS;
    if (strcmp(s, "stop_sequence") == 0)
        return LLM_STOP_STOP_SEQUENCE;
    if (strcmp(s, "refusal") == 0)
        return LLM_STOP_REFUSAL;
    return LLM_STOP_END_TURN;
}
