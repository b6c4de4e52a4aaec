/* fake_aws_metadata_server: the AWS credentials endpoints' double (fake_aws_metadata.h) as a
 * process, for tests that run parleyd against it. Serves until SIGTERM.
 *   fake_aws_metadata_server --port N [--keys ID SECRET TOKEN] [--container-auth T]
 *                            [--put-status S]
 * --keys serves exactly these keys (no serial), so a Bedrock double can expect them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "tests/fakes/fake_aws_metadata.h"

static uv_signal_t term;

static void on_term(uv_signal_t *s, int signum)
{
    (void)signum;
    struct fake_aws_metadata *f = s->data;
    fake_aws_metadata_stop(f);
    uv_close((uv_handle_t *)s, NULL);
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_aws_metadata_server --port N [--keys ID SECRET TOKEN] "
                    "[--container-auth T] [--put-status S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct fake_aws_metadata f;
    int port = -1;
    const char *id = NULL, *secret = NULL, *token = NULL, *auth = NULL;
    int put_status = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = (int)strtol(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--keys") && i + 3 < argc) {
            id = argv[++i];
            secret = argv[++i];
            token = argv[++i];
        } else if (!strcmp(argv[i], "--container-auth") && i + 1 < argc) {
            auth = argv[++i];
        } else if (!strcmp(argv[i], "--put-status") && i + 1 < argc) {
            put_status = (int)strtol(argv[++i], NULL, 10);
        } else {
            return usage();
        }
    }
    if (port < 0)
        return usage();
    uv_loop_t *loop = uv_default_loop();
    if (fake_aws_metadata_start_on(&f, loop, port) != 0) {
        fprintf(stderr, "fake_aws_metadata_server: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    if (id) {
        f.key_prefix = id;
        f.secret_prefix = secret;
        f.token_prefix = token;
        f.fixed_keys = true;
    }
    f.container_auth = auth;
    f.put_status = put_status;
    uv_signal_init(loop, &term);
    term.data = &f;
    uv_signal_start(&term, on_term, SIGTERM);
    fprintf(stderr, "fake_aws_metadata_server listening on 127.0.0.1:%d\n", f.port);
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr,
            "served %u credentials replies (%u token PUTs, %u container GETs, %u "
            "rejected)\n",
            f.issued, f.puts, f.container_gets, f.rejected);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
