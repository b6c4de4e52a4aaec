/* The token secret rule; see auth_secret.h. */
#include "bot/auth_secret.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

#define HOW_TO_MAKE_ONE "make one with: openssl rand -hex 32"

/* Text found in sample secrets (compose files, tutorials, jwt.io): a secret that contains one of
 * these was copied, not generated. Lower case. */
static const char *const placeholders[] = {
    "change-me",   "changeme",        "change_me",   "replace-me",          "replaceme",
    "replace_me",  "changeit",        "placeholder", "your-256-bit-secret", "your-secret",
    "your_secret", "secret-key-here", "insecure",
};

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        if (strncasecmp(p, needle, n) == 0)
            return true;
    }
    return false;
}

int auth_secret_check(const char *secret, const char *setting, char *err, size_t errlen)
{
    size_t len = strlen(secret);
    for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
        if (contains_ci(secret, placeholders[i])) {
            pl_errf(err, errlen,
                    "%s looks like a sample secret (it contains \"%s\"), which anyone can read: "
                    "whoever knows the secret can mint admin tokens; " HOW_TO_MAKE_ONE,
                    setting, placeholders[i]);
            return PL_EINVAL;
        }
    }
    if (len < AUTH_SECRET_MIN_BYTES) {
        pl_errf(err, errlen,
                "%s is %zu bytes long; at least %d are needed, since whoever guesses it can mint "
                "admin tokens; " HOW_TO_MAKE_ONE,
                setting, len, AUTH_SECRET_MIN_BYTES);
        return PL_EINVAL;
    }
    if (strspn(secret, (char[]){secret[0], '\0'}) == len) {
        pl_errf(err, errlen, "%s is one character repeated; " HOW_TO_MAKE_ONE, setting);
        return PL_EINVAL;
    }
    return PL_OK;
}
