/* `parley policy`: policy records through the HTTP API (docs/protocol.md "Policy records").
 * `put FILE.json...` stores each file's record under its policy_number; `get NUMBER` prints
 * one record. Both use an admin token minted from the server's secret. */
#ifndef PARLEY_BOT_CLI_POLICY_H
#define PARLEY_BOT_CLI_POLICY_H

/** argv[0] is "policy". Exit status: 0 done (every file stored), 1 a file or request failed,
 *  2 bad usage. */
int cli_policy_main(int argc, char **argv);

#endif
