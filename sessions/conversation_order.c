/* Conversation order of transcript entries; see conversation_order.h. */
#include "sessions/conversation_order.h"

#include <stdbool.h>
#include <string.h>

static int rank(const struct sess_entry *e)
{
    return strcmp(e->role, "caller") == 0 ? 0 : 1;
}

static bool before(const struct sess_entry *a, const struct sess_entry *b)
{
    if (a->turn != b->turn)
        return a->turn < b->turn;
    return rank(a) < rank(b);
}

void sess_conversation_order(const struct sess_entry *entries, size_t n,
                             const struct sess_entry **out)
{
    /* Insertion sort: the stream is nearly ordered already, and stability keeps arrival order
     * among equals. */
    for (size_t i = 0; i < n; i++) {
        const struct sess_entry *e = &entries[i];
        size_t j = i;
        while (j > 0 && before(e, out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
}
