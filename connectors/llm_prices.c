/* Prices and costs; see llm_prices.h. */
#include "connectors/llm_prices.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/err.h"

#define MODEL_MAX  128
#define MODELS_MAX 256

struct entry {
    char model[MODEL_MAX];
    struct llm_price price;
};

struct llm_price_table {
    struct entry *items;
    size_t n;
};

/* USD per million tokens, as micro-dollars: the published list prices of the Claude API
 * (standard tier, five-minute cache writes). Operators check them against their own contract
 * and override with --prices. */
#define USD(x) ((uint64_t)((x)*1000000.0 + 0.5))
static const struct {
    const char *model;
    double input, output, cache_read, cache_write;
} builtin[] = {
    {"claude-opus-4-5", 5, 25, 0.50, 6.25},     {"claude-opus-4-1", 15, 75, 1.50, 18.75},
    {"claude-opus-4", 15, 75, 1.50, 18.75},     {"claude-sonnet-4-5", 3, 15, 0.30, 3.75},
    {"claude-sonnet-4", 3, 15, 0.30, 3.75},     {"claude-3-7-sonnet", 3, 15, 0.30, 3.75},
    {"claude-haiku-4-5", 1, 5, 0.10, 1.25},     {"claude-3-5-haiku", 0.80, 4, 0.08, 1.00},
    {"claude-3-haiku", 0.25, 1.25, 0.03, 0.30},
};

struct llm_price_table *llm_prices_default(void)
{
    size_t n = sizeof(builtin) / sizeof(builtin[0]);
    struct llm_price_table *t = pl_calloc(1, sizeof(*t));
    t->items = pl_calloc(n, sizeof(*t->items));
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(t->items[i].model, MODEL_MAX, "%s", builtin[i].model);
        t->items[i].price =
            (struct llm_price){USD(builtin[i].input), USD(builtin[i].output),
                               USD(builtin[i].cache_read), USD(builtin[i].cache_write)};
    }
    return t;
}

int llm_usd_parse(const char *s, uint64_t *micros)
{
    if (!s || !*s)
        return PL_EINVAL;
    uint64_t whole = 0, frac = 0;
    int digits = 0, decimals = -1; /* -1: no point seen */
    for (const char *p = s; *p; p++) {
        if (*p == '.' && decimals < 0 && digits > 0) {
            decimals = 0;
        } else if (*p >= '0' && *p <= '9') {
            if (decimals < 0) {
                if (++digits > 12)
                    return PL_EINVAL;
                whole = whole * 10 + (uint64_t)(*p - '0');
            } else {
                if (++decimals > 6)
                    return PL_EINVAL;
                frac = frac * 10 + (uint64_t)(*p - '0');
            }
        } else {
            return PL_EINVAL;
        }
    }
    if (digits == 0 || decimals == 0)
        return PL_EINVAL; /* "" or "5." */
    for (int d = decimals < 0 ? 0 : decimals; d < 6; d++)
        frac *= 10;
    *micros = whole * 1000000 + frac;
    return PL_OK;
}

/* A price from JSON: the number's own text read as llm_usd_parse reads it, so 0.3 is 300000
 * exactly (no binary fraction in between). */
static bool price_of(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
            return false;
        *out = (uint64_t)json_integer_value(v) * 1000000;
        return true;
    }
    if (!json_is_real(v) || json_real_value(v) < 0 || json_real_value(v) > 1000000)
        return false;
    char text[64];
    snprintf(text, sizeof(text), "%.6f", json_real_value(v));
    /* "%.6f" of a double read from at most six decimals gives those decimals back. */
    return llm_usd_parse(text, out) == PL_OK;
}

int llm_prices_parse(const char *json, size_t len, struct llm_price_table **out, char *err,
                     size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "price table: %s", j ? "must be a JSON object of models" : jerr.text);
        json_decref(j);
        return PL_EINVAL;
    }
    if (json_object_size(j) > MODELS_MAX) {
        snprintf(err, errlen, "price table: more than %d models", MODELS_MAX);
        json_decref(j);
        return PL_EINVAL;
    }
    struct llm_price_table *t = pl_calloc(1, sizeof(*t));
    t->items = pl_calloc(json_object_size(j) ? json_object_size(j) : 1, sizeof(*t->items));
    const char *model;
    json_t *v;
    int rc = PL_OK;
    json_object_foreach(j, model, v)
    {
        struct entry *e = &t->items[t->n];
        static const char *const names[] = {"input", "output", "cache_read", "cache_write"};
        uint64_t *fields[] = {&e->price.input, &e->price.output, &e->price.cache_read,
                              &e->price.cache_write};
        if (!*model || strlen(model) >= MODEL_MAX || !json_is_object(v)) {
            snprintf(err, errlen,
                     "price table: \"%.64s\" must be a model id (1-127 bytes) "
                     "with an object of prices",
                     model);
            rc = PL_EINVAL;
            break;
        }
        snprintf(e->model, MODEL_MAX, "%s", model);
        for (size_t k = 0; k < 4 && rc == PL_OK; k++) {
            json_t *p = json_object_get(v, names[k]);
            if (!p && k >= 2) {
                /* The API's own ratios: cache reads a tenth of input, writes 1.25 times. */
                *fields[k] = k == 2 ? e->price.input / 10 : e->price.input * 5 / 4;
            } else if (!p || !price_of(p, fields[k])) {
                snprintf(err, errlen,
                         "price table: %s.%s must be USD per million tokens, a number from 0 "
                         "to 1000000 with at most six decimals",
                         model, names[k]);
                rc = PL_EINVAL;
            }
        }
        if (rc)
            break;
        t->n++;
    }
    json_decref(j);
    if (rc) {
        llm_prices_free(t);
        return rc;
    }
    *out = t;
    return PL_OK;
}

int llm_prices_load(const char *path, struct llm_price_table **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--prices %s: %s", path, strerror(errno));
        return PL_EIO;
    }
    char *data = pl_malloc(1024 * 1024 + 1);
    size_t n = fread(data, 1, 1024 * 1024 + 1, f);
    fclose(f);
    int rc;
    if (n > 1024 * 1024) {
        snprintf(err, errlen, "--prices %s: larger than 1 MiB", path);
        rc = PL_EINVAL;
    } else {
        char why[256];
        rc = llm_prices_parse(data, n, out, why, sizeof(why));
        if (rc)
            snprintf(err, errlen, "--prices %s: %s", path, why);
    }
    pl_free(data);
    return rc;
}

void llm_prices_free(struct llm_price_table *t)
{
    if (!t)
        return;
    pl_free(t->items);
    pl_free(t);
}

const struct llm_price *llm_prices_find(const struct llm_price_table *t, const char *model)
{
    if (!t || !model || !*model)
        return NULL;
    const struct entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct entry *e = &t->items[i];
        if (strcmp(e->model, model) == 0)
            return &e->price;
        size_t len = strlen(e->model);
        if (len > best_len && strstr(model, e->model)) {
            best = e;
            best_len = len;
        }
    }
    return best ? &best->price : NULL;
}

static uint64_t count(long n)
{
    return n > 0 ? (uint64_t)n : 0;
}

uint64_t llm_cost_micros(const struct llm_price *p, const struct llm_usage *u)
{
    if (!p)
        return 0;
    /* Tokens times micro-dollars per million tokens: pico-dollars, exact. */
    uint64_t pico = count(u->input_tokens) * p->input + count(u->output_tokens) * p->output +
                    count(u->cache_read_input_tokens) * p->cache_read +
                    count(u->cache_creation_input_tokens) * p->cache_write;
    return (pico + 999999) / 1000000;
}
