/* Named script arguments; see script_args.h. */
#include "sessions/script_args.h"

#include <assert.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

void script_args_begin(struct script_args *a, const struct script_spec *spec, const char *sid)
{
    assert(spec->nkeys <= SCRIPT_KEYS_MAX && spec->nargs <= SCRIPT_ARGS_MAX);
    a->spec = spec;
    a->nkeys = spec->nkeys;
    for (int i = 0; i < spec->nkeys; i++) {
        sess_key(a->keys[i], sid, spec->names[i]);
        a->argv[i + 1] = a->keys[i];
        a->lens[i + 1] = strlen(a->keys[i]);
    }
    for (int i = spec->nkeys; i < spec->nargs; i++)
        a->argv[i + 1] = NULL;
}

static bool is_key(const struct script_args *a, int i)
{
    bool ok = i >= 0 && i < a->spec->nkeys;
    assert(ok && "not a key of this script");
    return ok;
}

void script_key_set(struct script_args *a, int i, const char *key)
{
    if (!is_key(a, i))
        return;
    snprintf(a->keys[i], sizeof(a->keys[i]), "%s", key);
    a->lens[i + 1] = strlen(a->keys[i]);
}

void script_key_omit(struct script_args *a, int i)
{
    if (is_key(a, i) && i < a->nkeys)
        a->nkeys = i;
}

static bool is_argument(const struct script_args *a, int i)
{
    bool ok = i >= a->spec->nkeys && i < a->spec->nargs;
    assert(ok && "not an argument of this script");
    return ok;
}

void script_arg_bin(struct script_args *a, int i, const char *p, size_t len)
{
    if (!is_argument(a, i))
        return;
    a->argv[i + 1] = p ? p : "";
    a->lens[i + 1] = p ? len : 0;
}

void script_arg_str(struct script_args *a, int i, const char *s)
{
    script_arg_bin(a, i, s, s ? strlen(s) : 0);
}

void script_arg_int(struct script_args *a, int i, long long v)
{
    if (!is_argument(a, i))
        return;
    int n = snprintf(a->numbers[i], sizeof(a->numbers[i]), "%lld", v);
    script_arg_bin(a, i, a->numbers[i], (size_t)n);
}

int script_args_unset(const struct script_args *a)
{
    for (int i = a->spec->nkeys; i < a->spec->nargs; i++) {
        if (!a->argv[i + 1])
            return i;
    }
    return -1;
}

int script_args_finish(struct script_args *a, int *argc, const char ***argv, const size_t **lens)
{
    int unset = script_args_unset(a);
    if (unset >= 0) {
        PL_LOG(PL_LOG_ERR, "sessions", "script %s called without its argument %s", a->spec->name,
               a->spec->names[unset]);
        assert(!"a script argument was left unset");
        return PL_EINVAL;
    }
    /* Keys left out: the arguments move down into their slots. */
    int left_out = a->spec->nkeys - a->nkeys;
    for (int i = a->spec->nkeys; left_out && i < a->spec->nargs; i++) {
        a->argv[i + 1 - left_out] = a->argv[i + 1];
        a->lens[i + 1 - left_out] = a->lens[i + 1];
    }
    snprintf(a->numkeys, sizeof(a->numkeys), "%d", a->nkeys);
    a->argv[0] = a->numkeys;
    a->lens[0] = strlen(a->numkeys);
    *argc = a->spec->nargs - left_out + 1;
    *argv = a->argv;
    *lens = a->lens;
    return PL_OK;
}
