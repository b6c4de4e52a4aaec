/* The offline claim extractor; see claim_local.h. The text is cleaned once (invalid UTF-8 and
 * control characters made harmless), cut into parts, and each part's label decides its field. */
#include "prompts/claim_local.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "prompts/claim.h"

#define PARTS_MAX        512
#define SUMMARY_SOFT_MAX 300

enum label { L_NONE, L_POLICY, L_NAME, L_CLAIM, L_DATE };

static const struct {
    const char *text;
    enum label label;
} labels[] = {
    {"policy number", L_POLICY},
    {"policy no.", L_POLICY},
    {"policy no", L_POLICY},
    {"policy #", L_POLICY},
    {"policy#", L_POLICY},
    {"policy", L_POLICY},
    {"customer name", L_NAME},
    {"customer", L_NAME},
    {"policyholder", L_NAME},
    {"insured", L_NAME},
    {"name", L_NAME},
    {"claim description", L_CLAIM},
    {"claim", L_CLAIM},
    {"damage", L_CLAIM},
    {"description", L_CLAIM},
    {"incident date", L_DATE},
    {"date of incident", L_DATE},
    {"date of loss", L_DATE},
    {"date", L_DATE},
};

struct part {
    const char *s;
    size_t len;
};

/* `in` as a NUL-terminated string of valid UTF-8: bytes that are not become '?', tabs and
 * other controls (but line ends) become spaces. */
static char *clean(const char *in, size_t len)
{
    char *out = pl_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = pl_utf8_seq_len(in + i, len - i);
        if (k == 0) {
            out[o++] = '?';
            i++;
        } else if (k == 1) {
            unsigned char c = (unsigned char)in[i++];
            out[o++] = c == '\n' || c == '\r' ? '\n' : c < 0x20 || c == 0x7F ? ' ' : (char)c;
        } else if (k == 2 && (unsigned char)in[i] == 0xC2 && (unsigned char)in[i + 1] < 0xA0) {
            out[o++] = ' '; /* C1 controls */
            i += 2;
        } else {
            memcpy(out + o, in + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    return out;
}

static size_t split_parts(const char *t, struct part *parts, size_t max)
{
    size_t n = 0;
    const char *p = t;
    while (*p && n < max) {
        const char *end = p;
        size_t skip = 0;
        while (*end) {
            if (*end == '\n') {
                skip = 1;
                break;
            }
            if (end[0] == ' ' && (end[1] == '/' || end[1] == '|') && end[2] == ' ') {
                skip = 3;
                break;
            }
            end++;
        }
        parts[n].s = p;
        parts[n].len = (size_t)(end - p);
        n++;
        p = end + skip;
    }
    return n;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

/* The label at the start of `p`, with its value after the punctuation that ends it. */
static enum label label_of(struct part *p, struct part *value)
{
    const char *s = p->s;
    size_t len = p->len;
    trim(&s, &len);
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        size_t n = strlen(labels[i].text);
        if (len < n || strncasecmp(s, labels[i].text, n) != 0)
            continue;
        const char *v = s + n;
        size_t vlen = len - n;
        /* "Policy #123", "Policy: 123", "Name: x"; not "Named ..." or "Claims are ..." */
        bool punct = n && (labels[i].text[n - 1] == '#' || labels[i].text[n - 1] == '.');
        if (!punct && (vlen == 0 || (v[0] != ':' && v[0] != '#' && v[0] != ' ')))
            continue;
        if (!punct && labels[i].label != L_POLICY && (vlen == 0 || v[0] != ':')) {
            /* a bare word label needs its colon, save "Policy 123" and "Policy # 123" */
            size_t k = 0;
            while (k < vlen && v[k] == ' ')
                k++;
            if (k >= vlen || v[k] != ':')
                continue;
        }
        while (vlen && (*v == ' ' || *v == ':' || *v == '#' || *v == '.')) {
            v++;
            vlen--;
        }
        value->s = v;
        value->len = vlen;
        trim(&value->s, &value->len);
        return labels[i].label;
    }
    return L_NONE;
}

/* Append `s` to `b` with runs of spaces made one. */
static void append_collapsed(struct pl_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (is_space(s[i]) && (b->len == 0 || b->data[b->len - 1] == ' '))
            continue;
        pl_buf_append(b, is_space(s[i]) ? " " : &s[i], 1);
    }
}

/* The first `max` code points of s (len bytes of valid UTF-8) as a JSON string, trimmed. */
static json_t *string_upto(const char *s, size_t len, size_t max)
{
    size_t at = 0, chars = 0;
    while (at < len && chars < max) {
        at += pl_utf8_seq_len(s + at, len - at);
        chars++;
    }
    trim(&s, &at);
    return json_stringn(s, at);
}

/* The same with runs of spaces made one. */
static json_t *collapsed_upto(const char *s, size_t len, size_t max)
{
    struct pl_buf b;
    pl_buf_init(&b, len + 16);
    append_collapsed(&b, s, len);
    json_t *j = string_upto(b.data ? b.data : "", b.len, max);
    pl_buf_cleanup(&b);
    return j;
}

static size_t sentence_len(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && (i + 1 == len || s[i + 1] == ' '))
            return i + 1;
    return len;
}

static bool ends_with_word(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len > n && s[len - n - 1] == ' ' && strncasecmp(s + len - n, word, n) == 0;
}

static size_t clause_len(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == ';')
            return i;
        if (i + 2 < len && s[i] == ' ' && s[i + 1] == '-' && s[i + 2] == ' ')
            return i;
    }
    return len;
}

static json_t *damage_type_of(const char *claim, size_t len)
{
    size_t n = sentence_len(claim, len);
    if (n && (claim[n - 1] == '.' || claim[n - 1] == '!' || claim[n - 1] == '?'))
        n--;
    const char *head = claim;
    size_t head_len = clause_len(claim, n);
    struct pl_buf b;
    pl_buf_init(&b, 64 * 1024);
    const char *h = head;
    size_t hl = head_len;
    trim(&h, &hl);
    pl_buf_append(&b, h, hl);
    if (head_len < n) {
        const char *second = claim + head_len + (claim[head_len] == ' ' ? 3 : 1);
        size_t rest = n - (size_t)(second - claim);
        size_t sl = clause_len(second, rest);
        trim(&second, &sl);
        if (ends_with_word(second, sl, "damaged"))
            sl -= 8;
        else if (ends_with_word(second, sl, "damage"))
            sl -= 7;
        trim(&second, &sl);
        if (sl) {
            pl_buf_append_str(&b, hl ? " - " : "");
            pl_buf_append(&b, second, sl);
        }
    }
    json_t *j = string_upto(b.data ? b.data : "", b.len, 200);
    pl_buf_cleanup(&b);
    return j;
}

static json_t *summary_of(const char *claim, size_t len)
{
    size_t n = sentence_len(claim, len);
    while (n < len) {
        size_t more = sentence_len(claim + n, len - n);
        if (n + more > SUMMARY_SOFT_MAX)
            break;
        n += more;
    }
    return string_upto(claim, n, 1000);
}

static json_t *policy_of(const char *v, size_t len)
{
    size_t n = 0;
    while (n < len && v[n] != ' ' && v[n] != ',' && v[n] != ';')
        n++;
    while (n && (v[n - 1] == '.' || v[n - 1] == ')'))
        n--;
    return string_upto(v, n, 64);
}

json_t *claim_local_extract(const char *text, size_t len)
{
    char *t = clean(text, len);
    struct part *parts = pl_calloc(PARTS_MAX, sizeof(*parts));
    size_t n = split_parts(t, parts, PARTS_MAX);
    json_t *name = NULL, *policy = NULL, *date = NULL;
    struct pl_buf claim;
    pl_buf_init(&claim, len + 16);
    bool claim_labelled = false, in_claim = false, unlabelled_taken = false;
    for (size_t i = 0; i < n; i++) {
        struct part v = {0};
        enum label l = label_of(&parts[i], &v);
        if (l != L_CLAIM && l != L_NONE)
            in_claim = false;
        switch (l) {
        case L_POLICY:
            if (!policy)
                policy = policy_of(v.s, v.len);
            break;
        case L_NAME:
            if (!name)
                name = collapsed_upto(v.s, v.len, 200);
            break;
        case L_DATE: {
            char d[11];
            if (!date && claim_local_date(v.s, v.len, d))
                date = json_string(d);
            break;
        }
        case L_CLAIM:
            if (!claim_labelled) {
                claim_labelled = in_claim = true;
                claim.len = 0; /* an unlabelled part taken before gives way */
                append_collapsed(&claim, v.s, v.len);
            }
            break;
        case L_NONE:
            if (in_claim || (!claim_labelled && !unlabelled_taken)) {
                const char *s = parts[i].s;
                size_t sl = parts[i].len;
                trim(&s, &sl);
                if (!sl)
                    break;
                if (claim.len)
                    pl_buf_append(&claim, " ", 1);
                append_collapsed(&claim, s, sl);
                unlabelled_taken = true;
            }
            break;
        }
    }
    const char *c = claim.data ? claim.data : "";
    size_t cl = claim.len;
    trim(&c, &cl);
    json_t *out = json_object();
    json_object_set_new(out, "name", name ? name : json_string(""));
    json_object_set_new(out, "policy_number", policy ? policy : json_string(""));
    json_object_set_new(out, "damage_type", damage_type_of(c, cl));
    json_object_set_new(out, "incident_date", date ? date : json_null());
    json_object_set_new(out, "summary", summary_of(c, cl));
    pl_buf_cleanup(&claim);
    pl_free(parts);
    pl_free(t);
    return out;
}

/* ---- dates ---- */

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* 1-12 for a month's name or its first three letters ("Sept" too), else 0. */
static int month_of(const char *w, size_t n)
{
    static const char *const full[] = {"january",   "february", "march",    "april",
                                       "may",       "june",     "july",     "august",
                                       "september", "october",  "november", "december"};
    for (int m = 0; m < 12; m++) {
        if ((n == 3 && strncasecmp(w, months[m], 3) == 0) ||
            (n == strlen(full[m]) && strncasecmp(w, full[m], n) == 0) ||
            (m == 8 && n == 4 && strncasecmp(w, "sept", 4) == 0))
            return m + 1;
    }
    return 0;
}

struct token {
    bool number;
    long value;
    size_t digits;
    int month;
};

bool claim_local_date(const char *s, size_t len, char out[11])
{
    struct token tk[3];
    size_t nt = 0, i = 0;
    char sep = 0;
    while (i < len && nt < 3) {
        char c = s[i];
        if (isdigit((unsigned char)c)) {
            size_t start = i;
            long v = 0;
            while (i < len && isdigit((unsigned char)s[i]) && i - start < 5)
                v = v * 10 + (s[i++] - '0');
            tk[nt++] = (struct token){.number = true, .value = v, .digits = i - start};
            /* ordinal suffix of a day: 14th, 1st, 2nd, 3rd */
            if (i + 1 < len && isalpha((unsigned char)s[i]) && isalpha((unsigned char)s[i + 1]) &&
                (i + 2 == len || !isalpha((unsigned char)s[i + 2])))
                i += 2;
            if (nt == 1 && i < len)
                sep = s[i];
        } else if (isalpha((unsigned char)c)) {
            size_t start = i;
            while (i < len && isalpha((unsigned char)s[i]))
                i++;
            int m = month_of(s + start, i - start);
            if (!m)
                return false;
            tk[nt++] = (struct token){.month = m};
            if (i < len && s[i] == '.')
                i++;
        } else if (c == ' ' || c == ',' || c == '.' || c == '/' || c == '-') {
            i++;
        } else {
            return false;
        }
    }
    if (nt < 3)
        return false;
    long y, m, d;
    if (!tk[0].number && tk[1].number && tk[2].number) { /* March 14, 2024 */
        m = tk[0].month, d = tk[1].value, y = tk[2].value;
        if (tk[2].digits != 4)
            return false;
    } else if (tk[0].number && !tk[1].number && tk[2].number) { /* 14 March 2024 */
        d = tk[0].value, m = tk[1].month, y = tk[2].value;
        if (tk[2].digits != 4)
            return false;
    } else if (tk[0].number && tk[1].number && tk[2].number) {
        if (tk[0].digits == 4) { /* 2024-03-14 */
            y = tk[0].value, m = tk[1].value, d = tk[2].value;
        } else if (tk[2].digits == 4) {
            y = tk[2].value;
            bool month_first = sep == '/' && tk[0].value <= 12;
            m = month_first ? tk[0].value : tk[1].value;
            d = month_first ? tk[1].value : tk[0].value;
        } else {
            return false;
        }
        if (tk[1].digits > 2 || (tk[0].digits > 2 && tk[0].digits != 4))
            return false;
    } else {
        return false;
    }
    if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1000 || y > 9999)
        return false;
    snprintf(out, 11, "%04ld-%02ld-%02ld", y, m, d);
    return claim_date_valid(out, 10);
}
