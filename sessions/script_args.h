/* The arguments of one session script call, set by name. session_scripts.h gives each script
 * one list of its keys and arguments; from it SCRIPT_ARG_INDICES makes the indices
 * <SCRIPT>_<name> and SCRIPT_SPEC_INIT the script_spec, and a call reads
 *
 *     struct script_args a;
 *     script_args_begin(&a, &specs[SCRIPT_RENEW], sid);  // the keys, from the session id
 *     script_arg_str(&a, RENEW_owner, owner);
 *     script_arg_int(&a, RENEW_lock_ttl, lock_ttl_ms);
 *     rc = script_args_finish(&a, &argc, &argv, &lens);  // refused if one was left unset
 *
 * Internal to sessions/. */
#ifndef PARLEY_SESSIONS_SCRIPT_ARGS_H
#define PARLEY_SESSIONS_SCRIPT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "sessions/session_keys.h"

#define SCRIPT_ARGS_MAX 24 /* keys and arguments of one script */
#define SCRIPT_KEYS_MAX 6

/* A script's keys and arguments, by name: keys first, then arguments, each in call order. */
struct script_spec {
    const char *name; /* for logs */
    int nkeys;
    int nargs; /* keys and arguments */
    const char *const *names;
};

#define SCRIPT_ARG_INDEX(s, name) s##_##name,
#define SCRIPT_ARG_NAME(s, name)  #name,
#define SCRIPT_ARG_SKIP(s, name)
/* The indices of script S's keys and arguments from its list: S_<name> for each, keys first,
 * then arguments (the order they are sent in); S_NKEYS; S_NARGS (keys and arguments). S_KEYS_END
 * is a step only: it numbers the first argument S_NKEYS. */
#define SCRIPT_ARG_INDICES(S, LIST)                                                                \
    enum {                                                                                         \
        LIST(SCRIPT_ARG_INDEX, SCRIPT_ARG_SKIP, S) S##_NKEYS,                                      \
        S##_KEYS_END = S##_NKEYS - 1,                                                              \
        LIST(SCRIPT_ARG_SKIP, SCRIPT_ARG_INDEX, S) S##_NARGS                                       \
    };                                                                                             \
    _Static_assert(S##_NKEYS <= SCRIPT_KEYS_MAX && S##_NARGS <= SCRIPT_ARGS_MAX,                   \
                   "script " #S " has more keys or arguments than script_args holds");
/* The script_spec of script S (an initializer), after SCRIPT_ARG_INDICES(S, LIST). */
#define SCRIPT_SPEC_INIT(S, LIST)                                                                  \
    {                                                                                              \
#S, S##_NKEYS, S##_NARGS,                                                                  \
            (const char *const[]){LIST(SCRIPT_ARG_NAME, SCRIPT_ARG_SKIP, S)                        \
                                      LIST(SCRIPT_ARG_SKIP, SCRIPT_ARG_NAME, S) },                 \
    }

struct script_args {
    const struct script_spec *spec;
    int nkeys; /* keys sent: spec->nkeys, less those left out (script_key_omit) */
    /* What follows the script in EVAL: numkeys, then argument i in slot i + 1 (NULL: unset). */
    const char *argv[SCRIPT_ARGS_MAX + 1];
    size_t lens[SCRIPT_ARGS_MAX + 1];
    char numkeys[4];
    char keys[SCRIPT_KEYS_MAX][SESS_KEY_MAX];
    char numbers[SCRIPT_ARGS_MAX][24];
};

/** Start a call of `spec` for session `sid`: every key is set (key i is the session's key named
 *  spec->names[i]), every argument unset. */
void script_args_begin(struct script_args *a, const struct script_spec *spec, const char *sid);
/** Key `i` is `key` (copied) instead of the session's key of that name: a key that belongs to no
 *  session, such as a per-address limit's (session_keys.h). */
void script_key_set(struct script_args *a, int i, const char *key);
/** Leave key `i` and every key after it out of the call: the script's names for them are nil.
 *  For a script's last keys that a call may not need (a limit that is off), so that the call
 *  touches only the session's keys, as Redis Cluster wants. */
void script_key_omit(struct script_args *a, int i);
/** Set argument `i` to a C string, borrowed until the call is sent (NULL sets ""). */
void script_arg_str(struct script_args *a, int i, const char *s);
/** Set argument `i` to `len` bytes (binary safe), borrowed until the call is sent. */
void script_arg_bin(struct script_args *a, int i, const char *p, size_t len);
/** Set argument `i` to a decimal integer. */
void script_arg_int(struct script_args *a, int i, long long v);
/** The first argument left unset, or -1 when all are set. */
int script_args_unset(const struct script_args *a);
/** The vector to send after the script (numkeys, keys, arguments). PL_EINVAL, logged (and an
 *  assertion failure in debug builds), if an argument was left unset. */
int script_args_finish(struct script_args *a, int *argc, const char ***argv, const size_t **lens);

#endif
