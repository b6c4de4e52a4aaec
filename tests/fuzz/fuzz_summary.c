/* libFuzzer target for conversation summaries, whose inputs are transcript text a caller typed
 * and a summary a model wrote. The input is a transcript: parts split at 0x1E, each part's first
 * byte choosing its role (caller, assistant, agent; an empty text is a failed answer) and turn;
 * the last part is also the stored summary. Checked:
 *  - the offline extractive summary (connectors/local_reply.h) is deterministic, never empty,
 *    at most LOCAL_SUMMARY_LINES_MAX lines, each starting "Caller asked: ", "Bot answered: " or
 *    "Agent said: " (or "(nothing to summarise)"), and valid UTF-8;
 *  - the summary request's transcript (prompts/summary_prompt.h) holds no "</" (no text can
 *    close its block) and one line per non-empty part;
 *  - a prompt carrying the summary (prompts/prompt.h) has exactly one "</conversation_summary>",
 *    at its end. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "connectors/local_reply.h"
#include "prompts/prompt.h"
#include "prompts/summary_prompt.h"
#include "tests/fuzz/fuzz_check.h"

#define PARTS_MAX 64

static struct prompt_builder *builder;

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_local(const struct prompt_fold *fold)
{
    char *text = local_reply_summary(fold);
    char *again = local_reply_summary(fold);
    CHECK(strcmp(text, again) == 0);
    size_t len = strlen(text);
    CHECK(len > 0);
    CHECK(pl_utf8_valid(text, len));
    if (strcmp(text, "(nothing to summarise)") != 0) {
        size_t lines = 0;
        for (const char *line = text; line;) {
            CHECK(starts(line, "Caller asked: ") || starts(line, "Bot answered: ") ||
                  starts(line, "Agent said: "));
            lines++;
            line = strchr(line, '\n');
            if (line)
                line++;
        }
        CHECK(lines <= LOCAL_SUMMARY_LINES_MAX);
    }
    pl_free(again);
    pl_free(text);
}

static void check_transcript(const struct prompt_history_item *items, size_t n)
{
    struct pl_buf b;
    pl_buf_init(&b, SIZE_MAX);
    CHECK(summary_prompt_transcript(items, n, &b) == PL_OK);
    const char *t = b.data ? b.data : "";
    CHECK(strstr(t, "</") == NULL);
    size_t lines = 0, parts = 0;
    for (size_t i = 0; i < n; i++)
        parts += items[i].text_len > 0;
    for (size_t i = 0; i < b.len; i++)
        lines += t[i] == '\n';
    /* Texts hold line breaks of their own: at least one line per part. */
    CHECK(parts == 0 ? b.len == 0 : lines + 1 >= parts);
    pl_buf_cleanup(&b);
}

static void check_prompt(const struct prompt_history_item *items, size_t n, const char *summary)
{
    if (!builder) {
        const struct prompt_builder_opts o = {.context_tokens = 2000, .max_output_tokens = 100};
        char err[200];
        CHECK(prompt_builder_create(&o, &builder, err, sizeof(err)) == PL_OK);
    }
    long turn = n ? items[n - 1].turn : 1;
    const struct prompt_history_item question = {PROMPT_ROLE_CALLER, turn + 1, "q", 1, false};
    struct prompt_history_item *all = pl_calloc(n + 1, sizeof(*all));
    if (n)
        memcpy(all, items, n * sizeof(*all));
    all[n] = question;
    const struct prompt_caller caller = {.summary = summary, .summary_through = turn};
    struct prompt p;
    CHECK(prompt_build(builder, &caller, all, n + 1, turn + 1, &p) == PL_OK);
    static const char closer[] = "</conversation_summary>";
    const char *first = strstr(p.system, closer);
    if (*summary) {
        CHECK(first != NULL);
        CHECK(strcmp(first, closer) == 0);
    } else {
        CHECK(first == NULL);
    }
    CHECK(p.n_messages >= 1);
    CHECK(p.summary_due_through <= turn);
    prompt_cleanup(&p);
    pl_free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = pl_malloc(size + 1);
    if (size)
        memcpy(copy, data, size);
    copy[size] = '\0';
    struct prompt_history_item items[PARTS_MAX];
    size_t n = 0;
    long turn = 1;
    char *last = copy;
    for (char *p = copy; n < PARTS_MAX;) {
        char *end = memchr(p, 0x1E, (size_t)(copy + size - p));
        if (end)
            *end = '\0';
        last = p;
        if (*p) {
            unsigned char c = (unsigned char)*p++;
            enum prompt_role role = (enum prompt_role)(c % 3);
            turn += (c >> 2) & 1;
            size_t len = strlen(p);
            items[n++] = (struct prompt_history_item){role, turn, p, len,
                                                      role == PROMPT_ROLE_ASSISTANT && len == 0};
        }
        if (!end)
            break;
        p = end + 1;
    }
    const struct prompt_fold fold = {
        .previous = NULL, .items = items, .n_items = n, .through = turn};
    check_local(&fold);
    check_transcript(items, n);
    check_prompt(items, n, last);
    pl_free(copy);
    return 0;
}
