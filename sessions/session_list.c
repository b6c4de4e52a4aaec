/* The desk's session list; see session_list.h. SCAN pages, then one HMGET per record, all
 * on the store's command connection (commands are pipelined: the HMGETs go out at once). */
#include "sessions/session_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "sessions/redis_conn.h"
#include "sessions/session_conn.h"

#define SCAN_COUNT "500"
#define KEY_PREFIX "parley:{"
#define KEY_SUFFIX "}:session"

struct list_op {
    struct sess_store *store;
    size_t max;
    sess_list_cb cb;
    void *ud;
    char cursor[32];
    size_t scanned;
    char (*sids)[SESS_ID_LEN + 1];
    size_t n_sids, cap_sids;
    struct sess_list_row *rows;
    size_t n_rows;
    size_t pending; /* HMGETs not answered yet */
    int status;
};

static const char *const fields[] = {"id",        "channel",           "state",
                                     "caller_id", "caller_name",       "updated",
                                     "last_text", "escalation_reason", "waiting_since"};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static bool is_waiting(const struct sess_list_row *r)
{
    return strcmp(r->state, "waiting_agent") == 0;
}

static int row_order(const void *pa, const void *pb)
{
    const struct sess_list_row *a = pa, *b = pb;
    if (is_waiting(a) != is_waiting(b))
        return is_waiting(a) ? -1 : 1;
    if (is_waiting(a) && a->waiting_since_ms != b->waiting_since_ms)
        return a->waiting_since_ms < b->waiting_since_ms ? -1 : 1;
    if (!is_waiting(a) && a->updated_ms != b->updated_ms)
        return a->updated_ms > b->updated_ms ? -1 : 1;
    return strcmp(a->session_id, b->session_id);
}

void sess_list_sort(struct sess_list_row *rows, size_t n)
{
    if (n > 1)
        qsort(rows, n, sizeof(*rows), row_order);
}

static void finish(struct list_op *op)
{
    if (op->status == PL_OK) {
        sess_list_sort(op->rows, op->n_rows);
        op->cb(op->ud, PL_OK, op->rows, op->n_rows < op->max ? op->n_rows : op->max);
    } else {
        op->cb(op->ud, op->status, NULL, 0);
    }
    pl_free(op->rows);
    pl_free(op->sids);
    pl_free(op);
}

static void copy_field(char *dst, size_t size, const redisReply *r)
{
    dst[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, size, "%.*s", (int)(r->len < size - 1 ? r->len : size - 1), r->str);
}

static void on_record(void *ud, int status, redisReply *reply)
{
    struct list_op *op = ud;
    if (status != PL_OK || !rconn_reply_ok(reply, "session list") ||
        reply->type != REDIS_REPLY_ARRAY || reply->elements != N_FIELDS) {
        if (op->status == PL_OK)
            op->status = status != PL_OK ? status : PL_EUPSTREAM;
    } else if (reply->element[0]->type == REDIS_REPLY_STRING) { /* gone meanwhile: skipped */
        struct sess_list_row *r = &op->rows[op->n_rows];
        char updated[32];
        copy_field(r->session_id, sizeof(r->session_id), reply->element[0]);
        copy_field(r->channel, sizeof(r->channel), reply->element[1]);
        copy_field(r->state, sizeof(r->state), reply->element[2]);
        copy_field(r->caller_id, sizeof(r->caller_id), reply->element[3]);
        copy_field(r->caller_name, sizeof(r->caller_name), reply->element[4]);
        copy_field(updated, sizeof(updated), reply->element[5]);
        copy_field(r->last_text, sizeof(r->last_text), reply->element[6]);
        copy_field(r->reason, sizeof(r->reason), reply->element[7]);
        r->updated_ms = strtoll(updated, NULL, 10);
        copy_field(updated, sizeof(updated), reply->element[8]);
        r->waiting_since_ms = updated[0] ? strtoll(updated, NULL, 10) : r->updated_ms;
        if (!r->state[0])
            snprintf(r->state, sizeof(r->state), "bot");
        if (sess_id_valid(r->session_id))
            op->n_rows++;
    }
    if (--op->pending == 0)
        finish(op);
}

static void read_records(struct list_op *op)
{
    if (op->n_sids == 0) {
        finish(op);
        return;
    }
    op->rows = pl_calloc(op->n_sids, sizeof(*op->rows));
    op->pending = op->n_sids + 1; /* one more while sending, so no reply finishes early */
    struct rconn *c = sess_store_rconn(op->store);
    for (size_t i = 0; i < op->n_sids; i++) {
        char key[sizeof(KEY_PREFIX) + SESS_ID_LEN + sizeof(KEY_SUFFIX)];
        snprintf(key, sizeof(key), KEY_PREFIX "%s" KEY_SUFFIX, op->sids[i]);
        const char *argv[2 + N_FIELDS] = {"HMGET", key};
        size_t lens[2 + N_FIELDS] = {5, strlen(key)};
        for (size_t f = 0; f < N_FIELDS; f++) {
            argv[2 + f] = fields[f];
            lens[2 + f] = strlen(fields[f]);
        }
        if (rconn_command_argv(c, on_record, op, (int)(2 + N_FIELDS), argv, lens) != PL_OK) {
            op->pending--;
            if (op->status == PL_OK)
                op->status = PL_EIO;
        }
    }
    if (--op->pending == 0)
        finish(op);
}

/* A key parley:{SID}:session gives its SID. */
static bool sid_of_key(const redisReply *k, char *sid)
{
    size_t pre = sizeof(KEY_PREFIX) - 1, suf = sizeof(KEY_SUFFIX) - 1;
    if (k->type != REDIS_REPLY_STRING || k->len != pre + SESS_ID_LEN + suf ||
        memcmp(k->str, KEY_PREFIX, pre) != 0 || memcmp(k->str + pre + SESS_ID_LEN, KEY_SUFFIX, suf))
        return false;
    memcpy(sid, k->str + pre, SESS_ID_LEN);
    sid[SESS_ID_LEN] = '\0';
    return sess_id_valid(sid);
}

static int scan_next(struct list_op *op);

static void on_scan(void *ud, int status, redisReply *reply)
{
    struct list_op *op = ud;
    if (status != PL_OK || !rconn_reply_ok(reply, "session list scan") ||
        reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        op->status = status != PL_OK ? status : PL_EUPSTREAM;
        finish(op);
        return;
    }
    copy_field(op->cursor, sizeof(op->cursor), reply->element[0]);
    const redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements && op->scanned < SESS_LIST_SCAN_MAX; i++) {
        op->scanned++;
        if (op->n_sids == op->cap_sids) {
            op->cap_sids = op->cap_sids ? op->cap_sids * 2 : 64;
            op->sids = pl_realloc(op->sids, op->cap_sids * sizeof(*op->sids));
        }
        if (sid_of_key(keys->element[i], op->sids[op->n_sids]))
            op->n_sids++;
    }
    if (strcmp(op->cursor, "0") == 0 || op->scanned >= SESS_LIST_SCAN_MAX) {
        read_records(op);
        return;
    }
    int rc = scan_next(op);
    if (rc) {
        op->status = rc;
        finish(op);
    }
}

static int scan_next(struct list_op *op)
{
    const char *argv[] = {"SCAN",  op->cursor, "MATCH", KEY_PREFIX "*" KEY_SUFFIX,
                          "COUNT", SCAN_COUNT};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    return rconn_command_argv(sess_store_rconn(op->store), on_scan, op, 6, argv, lens);
}

int sess_list(struct sess_store *s, size_t max, sess_list_cb cb, void *ud)
{
    struct list_op *op = pl_calloc(1, sizeof(*op));
    op->store = s;
    op->max = max;
    op->cb = cb;
    op->ud = ud;
    snprintf(op->cursor, sizeof(op->cursor), "0");
    int rc = scan_next(op);
    if (rc)
        pl_free(op);
    return rc;
}

int sess_list_read(struct sess_store *s, const char (*sids)[SESS_ID_LEN + 1], size_t n,
                   sess_list_cb cb, void *ud)
{
    if (n == 0 || !cb)
        return PL_EINVAL;
    if (!rconn_is_up(sess_store_rconn(s)))
        return PL_EIO;
    struct list_op *op = pl_calloc(1, sizeof(*op));
    op->store = s;
    op->max = n;
    op->cb = cb;
    op->ud = ud;
    op->sids = pl_calloc(n, sizeof(*op->sids));
    for (size_t i = 0; i < n; i++)
        if (sess_id_valid(sids[i]))
            memcpy(op->sids[op->n_sids++], sids[i], sizeof(*op->sids));
    if (op->n_sids == 0) {
        pl_free(op->sids);
        pl_free(op);
        return PL_EINVAL;
    }
    read_records(op);
    return PL_OK;
}
