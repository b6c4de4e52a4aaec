/* parley: the admin CLI. `parley token` mints tokens with the server's secret; `parley chat`
 * is a terminal caller client (cli_chat.c); `parley policy` stores and reads policy records
 * (cli_policy.c); `parley kb` evaluates and searches the knowledge base (cli_kb.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "bot/auth_secret.h"
#include "bot/auth_token.h"
#include "bot/cli_admin.h"
#include "bot/cli_chat.h"
#include "bot/cli_kb.h"
#include "bot/cli_policy.h"
#include "common/alloc.h"
#include "common/err.h"
#include "sessions/policy_store.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: parley COMMAND [OPTIONS]\n\n"
               "Commands:\n"
               "  token   mint a token: --role caller|agent|admin --sub NAME [--session SID]\n"
               "          [--policy NUMBER] [--ttl SECONDS (default 3600)]\n"
               "          [--jwt-secret S | env PARLEY_JWT_SECRET]\n"
               "  chat    talk to a server as a caller: parley chat URL [--token T] "
               "[--message TEXT]...\n"
               "          (parley chat --help for details)\n"
               "  policy  store or print policy records: parley policy put FILE.json... |\n"
               "          parley policy get NUMBER (parley policy --help for details)\n"
               "  kb      the knowledge base: parley kb eval FILE.json [--kb DIR] |\n"
               "          parley kb search \"QUESTION\" [--kb DIR | --url URL] |\n"
               "          parley kb ingest PATH... (parley kb --help)\n"
               "  version print the version\n");
}

static int cmd_token(int argc, char **argv)
{
    const char *role = NULL, *sub = NULL, *sid = NULL, *policy = NULL,
               *secret = getenv("PARLEY_JWT_SECRET");
    long ttl = 3600;
    for (int i = 1; i < argc; i += 2) { /* each option takes a value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "parley token: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--role"))
            role = v;
        else if (!strcmp(a, "--sub"))
            sub = v;
        else if (!strcmp(a, "--session"))
            sid = v;
        else if (!strcmp(a, "--policy"))
            policy = v;
        else if (!strcmp(a, "--jwt-secret"))
            secret = v;
        else if (!strcmp(a, "--ttl")) {
            char *end;
            ttl = strtol(v, &end, 10);
            if (*end || ttl <= 0) {
                fprintf(stderr, "parley token: --ttl expects a positive number of seconds\n");
                return 2;
            }
        } else {
            fprintf(stderr, "parley token: unknown option %s\n", a);
            return 2;
        }
    }
    struct auth_claims c;
    memset(&c, 0, sizeof(c));
    if (!role || !auth_role_parse(role, &c.role)) {
        fprintf(stderr, "parley token: --role must be caller, agent or admin\n");
        return 2;
    }
    if (!sub || !*sub || strlen(sub) >= sizeof(c.sub)) {
        fprintf(stderr, "parley token: --sub NAME is required (at most 128 bytes)\n");
        return 2;
    }
    if (c.role == AUTH_ROLE_CALLER && (!sid || strlen(sid) >= sizeof(c.sid))) {
        fprintf(stderr, "parley token: a caller token needs --session SID\n");
        return 2;
    }
    if (policy && (c.role != AUTH_ROLE_CALLER || !sess_policy_number_valid(policy))) {
        fprintf(stderr, "parley token: --policy binds a caller's session: a caller token only, "
                        "and 1 to 64 characters of A-Z a-z 0-9 - _\n");
        return 2;
    }
    if (!cli_secret_ok("parley token", secret))
        return 2;
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    if (sid)
        snprintf(c.sid, sizeof(c.sid), "%s", sid);
    if (policy)
        snprintf(c.policy, sizeof(c.policy), "%s", policy);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    c.iat = tv.tv_sec;
    c.exp = c.iat + ttl;
    char *token = auth_token_mint((const unsigned char *)secret, strlen(secret), &c);
    puts(token);
    pl_free(token);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "token"))
        return cmd_token(argc - 1, argv + 1);
    if (!strcmp(argv[1], "chat"))
        return cli_chat_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "policy"))
        return cli_policy_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "kb"))
        return cli_kb_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        puts("parley " PARLEY_VERSION);
        return 0;
    }
    fprintf(stderr, "parley: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
