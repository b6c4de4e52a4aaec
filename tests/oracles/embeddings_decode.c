/* Reads an OpenAI-compatible embeddings reply with parley's decoder (connectors/embeddings_wire.h)
 * and prints its vectors as a JSON array of arrays, each float as its exact double (17 digits),
 * for embeddings_oracle.cjs to compare with openai-node's.
 * Usage: embeddings_decode REPLY_FILE N */
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/err.h"
#include "connectors/embeddings_wire.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embeddings_decode REPLY_FILE N\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static char body[4 * 1024 * 1024];
    size_t len = fread(body, 1, sizeof(body), f);
    fclose(f);
    size_t n = (size_t)strtoul(argv[2], NULL, 10);
    unsigned dims = 0;
    float *v = NULL;
    int rc = emb_openai_parse(body, len, n, &dims, &v);
    if (rc != PL_OK) {
        fprintf(stderr, "embeddings_decode: reply refused (%s)\n", pl_strerror(rc));
        return 1;
    }
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s[", i ? "," : "");
        for (unsigned k = 0; k < dims; k++)
            printf("%s%.17g", k ? "," : "", (double)v[i * dims + k]);
        printf("]");
    }
    printf("]\n");
    pl_free(v);
    return 0;
}
