/* SIGHUP reload of the prompt templates; see prompt_reload.h. */
#include "bot/prompt_reload.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "prompts/prompt.h"
#include "prompts/prompt_templates.h"

struct prompt_reload {
    uv_signal_t sighup;
    uv_work_t work;
    struct prompt_builder *builder;
    char *dir; /* NULL: the built-in templates */
    bool working;
    bool again;   /* a SIGHUP came while working */
    bool stopped; /* prompt_reload_stop called: drop what the worker brings */
    bool closed;  /* the signal handle's close callback ran */
    struct prompt_reload_part parts[PROMPT_RELOAD_PARTS_MAX];
    size_t n_parts;
    /* the worker's result, read on the loop thread once it is done */
    struct prompt_templates *set;
    void *loaded[PROMPT_RELOAD_PARTS_MAX];
    int rc;
    char notes[512];
    char err[512];
};

/* The parts the worker read and nobody took. */
static void discard_loaded(struct prompt_reload *r)
{
    for (size_t i = 0; i < r->n_parts; i++) {
        if (r->loaded[i])
            r->parts[i].discard(r->loaded[i]);
        r->loaded[i] = NULL;
    }
}

static void free_when_idle(struct prompt_reload *r)
{
    if (r->closed && !r->working) {
        discard_loaded(r);
        prompt_templates_free(r->set);
        pl_free(r->dir);
        pl_free(r);
    }
}

/* Worker thread: touches only r's result fields, which the loop leaves alone until done. */
static void read_templates(uv_work_t *w)
{
    struct prompt_reload *r = w->data;
    r->rc =
        prompt_templates_load(r->dir, &r->set, r->notes, sizeof(r->notes), r->err, sizeof(r->err));
    for (size_t i = 0; i < r->n_parts && r->rc == PL_OK; i++)
        r->rc = r->parts[i].load(r->dir, &r->loaded[i], r->err, sizeof(r->err));
}

static void start_read(struct prompt_reload *r);

static void templates_read(uv_work_t *w, int status)
{
    struct prompt_reload *r = w->data;
    r->working = false;
    const char *from = r->dir ? r->dir : "the built-in templates";
    if (r->stopped || status != 0) {
        /* shutting down (or the work was cancelled): nothing to swap */
    } else if (r->rc != PL_OK) {
        PL_LOG(PL_LOG_ERR, "prompts", "prompts not reloaded from %s, keeping the current ones: %s",
               from, r->err);
    } else {
        if (*r->notes)
            PL_LOG(PL_LOG_WARN, "prompts", "%s", r->notes);
        prompt_builder_set_templates(r->builder, r->set);
        r->set = NULL;
        char also[128] = "";
        for (size_t i = 0; i < r->n_parts; i++) {
            r->parts[i].swap(r->parts[i].ud, r->loaded[i]);
            r->loaded[i] = NULL;
            size_t used = strlen(also);
            snprintf(also + used, sizeof(also) - used, ", %s", r->parts[i].name);
        }
        PL_LOG(PL_LOG_NOTICE, "prompts", "prompts reloaded from %s: %s, %s%s", from,
               prompt_template_kind_name(PROMPT_TEMPLATE_WEB),
               prompt_template_kind_name(PROMPT_TEMPLATE_VOICE), also);
    }
    discard_loaded(r);
    prompt_templates_free(r->set);
    r->set = NULL;
    if (r->again && !r->stopped) {
        r->again = false;
        start_read(r);
        return;
    }
    free_when_idle(r);
}

static void start_read(struct prompt_reload *r)
{
    r->working = true;
    r->rc = PL_OK;
    r->notes[0] = r->err[0] = '\0';
    r->work.data = r;
    int rc = uv_queue_work(r->sighup.loop, &r->work, read_templates, templates_read);
    if (rc != 0) {
        r->working = false;
        PL_LOG(PL_LOG_ERR, "prompts", "prompts not reloaded: %s", uv_strerror(rc));
    }
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    struct prompt_reload *r = h->data;
    PL_LOG(PL_LOG_INFO, "prompts", "SIGHUP: reloading the prompt templates");
    if (r->working)
        r->again = true;
    else
        start_read(r);
}

int prompt_reload_add(struct prompt_reload *r, const struct prompt_reload_part *part)
{
    if (r->n_parts == PROMPT_RELOAD_PARTS_MAX)
        return PL_ETOOBIG;
    r->parts[r->n_parts++] = *part;
    return PL_OK;
}

int prompt_reload_start(uv_loop_t *loop, struct prompt_builder *builder, const char *dir,
                        struct prompt_reload **out)
{
    *out = NULL;
    struct prompt_reload *r = pl_calloc(1, sizeof(*r));
    r->builder = builder;
    r->dir = dir ? pl_strdup(dir) : NULL;
    uv_signal_init(loop, &r->sighup);
    r->sighup.data = r;
    if (uv_signal_start(&r->sighup, on_sighup, SIGHUP) != 0) {
        prompt_reload_stop(r);
        return PL_EIO;
    }
    *out = r;
    return PL_OK;
}

static void on_closed(uv_handle_t *h)
{
    struct prompt_reload *r = h->data;
    r->closed = true;
    free_when_idle(r);
}

void prompt_reload_stop(struct prompt_reload *r)
{
    if (!r)
        return;
    r->stopped = true;
    uv_signal_stop(&r->sighup);
    uv_close((uv_handle_t *)&r->sighup, on_closed);
}
