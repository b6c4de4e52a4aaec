/* Loading the set of channel templates; see prompt_templates.h. */
#include "prompts/prompt_templates.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/err.h"

struct prompt_templates {
    struct prompt_template *t[PROMPT_TEMPLATE_KINDS];
};

static const char *const kind_names[PROMPT_TEMPLATE_KINDS] = {"web", "voice"};

/* Channels that are spoken; every other one reads text. */
static const char *const voice_channels[] = {"voice", "lex", "connect", "phone"};

const char *prompt_template_kind_name(enum prompt_template_kind kind)
{
    return kind < PROMPT_TEMPLATE_KINDS ? kind_names[kind] : "web";
}

enum prompt_template_kind prompt_channel_template(const char *channel)
{
    for (size_t i = 0; channel && i < PL_ARRAY_LEN(voice_channels); i++)
        if (strcasecmp(channel, voice_channels[i]) == 0)
            return PROMPT_TEMPLATE_VOICE;
    return PROMPT_TEMPLATE_WEB;
}

/* One kind from the folder (or its former name), falling back to the built-in copy when the
 * folder has neither; a note says when it did. */
static int load_kind(const char *dir, enum prompt_template_kind kind, struct prompt_template **out,
                     struct pl_buf *notes, char *err, size_t errlen)
{
    const char *name = kind_names[kind];
    int rc = prompt_template_load(dir, name, out, err, errlen);
    if (rc == PL_ENOTFOUND && dir && kind == PROMPT_TEMPLATE_WEB)
        rc = prompt_template_load(dir, "system", out, err, errlen);
    if (rc == PL_ENOTFOUND && dir) {
        pl_buf_printf(notes, "%s%s/%s.txt not found, using the built-in %s template",
                      notes->len ? "; " : "", dir, name, name);
        rc = prompt_template_load(NULL, name, out, err, errlen);
    }
    if (rc != PL_OK)
        return rc;
    static const char *const known[] = {PROMPT_PLACEHOLDERS};
    char cerr[160];
    if (prompt_template_check_names(*out, known, PL_ARRAY_LEN(known), cerr, sizeof(cerr)) !=
        PL_OK) {
        pl_errf(err, errlen, "%s/%s.txt: %s", dir ? dir : "built-in", name, cerr);
        prompt_template_free(*out);
        *out = NULL;
        return PL_EINVAL;
    }
    return PL_OK;
}

int prompt_templates_load(const char *dir, struct prompt_templates **out, char *notes,
                          size_t noteslen, char *err, size_t errlen)
{
    *out = NULL;
    /* A folder that is not there is a mistake in the configuration, not a folder without
     * templates of its own. */
    struct stat st;
    if (dir && stat(dir, &st) != 0) {
        pl_errf(err, errlen, "%s: %s", dir, strerror(errno));
        return PL_ENOTFOUND;
    }
    if (dir && !S_ISDIR(st.st_mode)) {
        pl_errf(err, errlen, "%s: not a folder", dir);
        return PL_EINVAL;
    }
    struct prompt_templates *set = pl_calloc(1, sizeof(*set));
    struct pl_buf nb;
    pl_buf_init(&nb, 4096);
    int rc = PL_OK;
    for (int k = 0; k < PROMPT_TEMPLATE_KINDS && rc == PL_OK; k++)
        rc = load_kind(dir, (enum prompt_template_kind)k, &set->t[k], &nb, err, errlen);
    if (rc == PL_ENOTFOUND)
        rc = PL_EINVAL; /* a built-in template missing: a build error, reported as invalid */
    if (noteslen)
        snprintf(notes, noteslen, "%s", nb.data ? nb.data : "");
    pl_buf_cleanup(&nb);
    if (rc != PL_OK) {
        prompt_templates_free(set);
        return rc;
    }
    *out = set;
    return PL_OK;
}

const struct prompt_template *prompt_templates_get(const struct prompt_templates *set,
                                                   enum prompt_template_kind kind)
{
    return set->t[kind < PROMPT_TEMPLATE_KINDS ? kind : PROMPT_TEMPLATE_WEB];
}

void prompt_templates_free(struct prompt_templates *set)
{
    if (!set)
        return;
    for (int k = 0; k < PROMPT_TEMPLATE_KINDS; k++)
        prompt_template_free(set->t[k]);
    pl_free(set);
}
