/* The AWS shared credentials and config files (~/.aws/credentials, ~/.aws/config), I/O-free: the
 * caller reads the two files and gives their text; this finds one profile's static keys and
 * region the way the AWS SDKs do (PROTOCOLS.md section 6D).
 *
 * Format: INI. The credentials file names a section `[name]`; the config file `[profile name]`,
 * except `[default]` (a bare `[name]` there is ignored, `[profile default]` also counts). Keys
 * read: aws_access_key_id, aws_secret_access_key, aws_session_token, region; others are
 * skipped, and so are the indented lines under a key with an empty value (the config file's
 * nested `s3 =` blocks). Keys are compared case-sensitively, lower-case, as the JS SDK v3 does.
 * Whitespace around keys, `=` and values is trimmed; a value is taken verbatim otherwise (no
 * inline comments). Lines starting with `#` or `;` are comments; CRLF and a UTF-8 BOM are
 * accepted. A section may repeat; a later value of a key wins. For each key, the credentials
 * file's value wins over the config file's.
 *
 * Secrets: nothing here logs or prints a value; error messages name only the file, the line
 * number and what is wrong. */
#ifndef PARLEY_CONNECTORS_AWS_PROFILE_H
#define PARLEY_CONNECTORS_AWS_PROFILE_H

#include <stddef.h>

/* Bounds (bytes, without the terminating NUL): a longer value of the wanted profile is refused
 * with PL_ETOOBIG. The key id and secret match aws_sigv4.h's PL_SIGV4_MAX_KEY, the token its
 * PL_SIGV4_MAX_TOKEN. */
#define PL_AWS_PROFILE_MAX_KEY    256
#define PL_AWS_PROFILE_MAX_TOKEN  8192
#define PL_AWS_PROFILE_MAX_REGION 64
#define PL_AWS_PROFILE_MAX_NAME   256 /* profile name asked for */

struct pl_aws_profile {
    char access_key_id[PL_AWS_PROFILE_MAX_KEY + 1];
    char secret_access_key[PL_AWS_PROFILE_MAX_KEY + 1];
    char session_token[PL_AWS_PROFILE_MAX_TOKEN + 1]; /* "" without one */
    char region[PL_AWS_PROFILE_MAX_REGION + 1];       /* "" without one */
    char error[128]; /* why it failed: "config line 7: ..." or "profile has no ..." */
};

/** Resolve `profile` (NULL or "": "default", as for an unset AWS_PROFILE) from the credentials
 *  text and the config text (either may be NULL with length 0: file absent). Both texts are
 *  checked whole, whatever section the error is in.
 *  PL_OK: access key id and secret found (session token and region when given).
 *  PL_ENOTFOUND: the profile lacks the key id or the secret; region is still filled if found.
 *  PL_EINVAL: a malformed line (a section header not closed by `]` or with an empty name, a line
 *  that is neither a section, a comment nor `key = value`, an empty key, a key before any
 *  section, a NUL byte), or a profile name that is too long; `error` says which file and line.
 *  PL_ETOOBIG: a value of the wanted profile past its bound.
 *  `out` is always fully written: on failure everything but `error` (and region on
 *  PL_ENOTFOUND) is empty. */
int pl_aws_profile_resolve(const char *credentials_text, size_t clen, const char *config_text,
                           size_t flen, const char *profile, struct pl_aws_profile *out);

#endif
