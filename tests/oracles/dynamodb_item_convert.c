/* The C converter of DynamoDB items for the DynamoDB oracle: a GetItem reply body on stdin, the
 * item's plain JSON (connectors/dynamodb_item.h) on stdout; "ERROR <code> <why>" and exit 1 when
 * it is refused. */
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"
#include "connectors/dynamodb_item.h"

int main(void)
{
    struct pl_buf in, out;
    pl_buf_init(&in, DDB_REPLY_MAX + 1);
    pl_buf_init(&out, DDB_ITEM_MAX);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (pl_buf_append(&in, chunk, n) != PL_OK)
            break;
    char why[256] = "";
    int rc = ddb_item_from_reply(in.data ? in.data : "", in.len, &out, why, sizeof why);
    if (rc == PL_OK)
        printf("%s\n", out.data);
    else
        printf("ERROR %s %s\n", pl_strerror(rc), why);
    pl_buf_cleanup(&in);
    pl_buf_cleanup(&out);
    return rc == PL_OK ? 0 : 1;
}
