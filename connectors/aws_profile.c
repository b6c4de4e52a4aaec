/* AWS shared credentials and config file parser (see aws_profile.h). One pass per file: every
 * line is checked, and the wanted profile's four keys are kept per file, then merged with the
 * credentials file winning key by key. */
#include "connectors/aws_profile.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

enum field { F_KEY_ID, F_SECRET, F_TOKEN, F_REGION, F_COUNT };

static const char *const field_names[F_COUNT] = {"aws_access_key_id", "aws_secret_access_key",
                                                 "aws_session_token", "region"};
static const size_t field_max[F_COUNT] = {PL_AWS_PROFILE_MAX_KEY, PL_AWS_PROFILE_MAX_KEY,
                                          PL_AWS_PROFILE_MAX_TOKEN, PL_AWS_PROFILE_MAX_REGION};

/* A value found in one file: a view into that file's text. */
struct found {
    bool set;
    const char *p;
    size_t len;
};

struct file_scan {
    const char *label; /* "credentials" or "config", for messages */
    bool is_config;
    const char *profile;
    size_t profile_len;
    struct found values[F_COUNT];
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **p, size_t *len)
{
    while (*len > 0 && is_blank(**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*p)[*len - 1]))
        (*len)--;
}

static int fail(struct pl_aws_profile *out, int rc, const char *label, size_t line, const char *why)
{
    snprintf(out->error, sizeof out->error, "%s line %zu: %s", label, line, why);
    return rc;
}

/* Does the section name (trimmed, inside the brackets) select the wanted profile in this file? */
static bool section_selects(const struct file_scan *s, const char *name, size_t len)
{
    if (s->is_config) {
        if (len > 7 && memcmp(name, "profile", 7) == 0 && is_blank(name[7])) {
            name += 8;
            len -= 8;
            trim(&name, &len);
        } else if (!(len == 7 && memcmp(name, "default", 7) == 0)) {
            return false; /* a bare [name] in the config file is not a profile */
        }
    }
    return len == s->profile_len && memcmp(name, s->profile, len) == 0;
}

static int scan_file(struct file_scan *s, const char *text, size_t len, struct pl_aws_profile *out)
{
    if (!text)
        return PL_OK;
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    size_t line_no = 0;
    bool in_section = false;
    bool selected = false;
    bool nested_ok = false; /* the previous key had an empty value: indented lines belong to it */
    while (pos < len) {
        line_no++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (memchr(line, '\0', n))
            return fail(out, PL_EINVAL, s->label, line_no, "NUL byte");
        if (n > 0 && line[n - 1] == '\r')
            n--;
        bool indented = n > 0 && is_blank(line[0]);
        trim(&line, &n);
        if (n == 0 || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            const char *close = memchr(line, ']', n);
            if (!close)
                return fail(out, PL_EINVAL, s->label, line_no, "section header without ']'");
            const char *rest = close + 1;
            size_t rest_len = n - (size_t)(rest - line);
            trim(&rest, &rest_len);
            if (rest_len > 0 && rest[0] != '#' && rest[0] != ';')
                return fail(out, PL_EINVAL, s->label, line_no, "text after a section header");
            const char *name = line + 1;
            size_t name_len = (size_t)(close - name);
            trim(&name, &name_len);
            if (name_len == 0)
                return fail(out, PL_EINVAL, s->label, line_no, "empty section name");
            in_section = true;
            selected = section_selects(s, name, name_len);
            nested_ok = false;
            continue;
        }
        if (indented && nested_ok)
            continue; /* a nested setting such as `s3 =` then `  max_concurrent_requests = 4` */
        const char *eq = memchr(line, '=', n);
        if (!eq)
            return fail(out, PL_EINVAL, s->label, line_no, "line is not 'key = value'");
        const char *key = line;
        size_t key_len = (size_t)(eq - line);
        const char *value = eq + 1;
        size_t value_len = n - key_len - 1;
        trim(&key, &key_len);
        trim(&value, &value_len);
        if (key_len == 0)
            return fail(out, PL_EINVAL, s->label, line_no, "empty key");
        if (!in_section)
            return fail(out, PL_EINVAL, s->label, line_no, "key before any section");
        nested_ok = value_len == 0;
        if (!selected)
            continue;
        for (int f = 0; f < F_COUNT; f++) {
            if (strlen(field_names[f]) != key_len || memcmp(field_names[f], key, key_len) != 0)
                continue;
            if (value_len > field_max[f])
                return fail(out, PL_ETOOBIG, s->label, line_no, "value too long");
            s->values[f] = (struct found){true, value, value_len};
        }
    }
    return PL_OK;
}

static void clear(struct pl_aws_profile *out, bool keep_region)
{
    out->access_key_id[0] = '\0';
    out->secret_access_key[0] = '\0';
    out->session_token[0] = '\0';
    if (!keep_region)
        out->region[0] = '\0';
}

int pl_aws_profile_resolve(const char *credentials_text, size_t clen, const char *config_text,
                           size_t flen, const char *profile, struct pl_aws_profile *out)
{
    clear(out, false);
    out->error[0] = '\0';
    if (!profile || !*profile)
        profile = "default";
    size_t profile_len = strlen(profile);
    if (profile_len > PL_AWS_PROFILE_MAX_NAME) {
        snprintf(out->error, sizeof out->error, "profile name too long");
        return PL_EINVAL;
    }
    struct file_scan creds = {
        .label = "credentials", .profile = profile, .profile_len = profile_len};
    struct file_scan conf = {
        .label = "config", .is_config = true, .profile = profile, .profile_len = profile_len};
    int rc = scan_file(&creds, credentials_text, clen, out);
    if (rc == PL_OK)
        rc = scan_file(&conf, config_text, flen, out);
    if (rc != PL_OK)
        return rc;

    char *const dst[F_COUNT] = {out->access_key_id, out->secret_access_key, out->session_token,
                                out->region};
    for (int f = 0; f < F_COUNT; f++) {
        const struct found *v = creds.values[f].set ? &creds.values[f] : &conf.values[f];
        if (!v->set)
            continue;
        memcpy(dst[f], v->p, v->len);
        dst[f][v->len] = '\0';
    }
    if (!out->access_key_id[0] || !out->secret_access_key[0]) {
        snprintf(out->error, sizeof out->error, "profile has no %s",
                 !out->access_key_id[0] ? "aws_access_key_id" : "aws_secret_access_key");
        clear(out, true);
        return PL_ENOTFOUND;
    }
    return PL_OK;
}
