/* `parley chat`: a terminal caller. Opens (or, with --token, resumes) a session over the caller
 * WebSocket protocol, sends each --message or stdin line and prints the answer as it streams. */
#ifndef PARLEY_BOT_CLI_CHAT_H
#define PARLEY_BOT_CLI_CHAT_H

/** argv[0] is "chat". Exit status: 0 done, 1 an error from the server or a failed connection,
 *  2 bad usage, 3 a retryable error (try again later). */
int cli_chat_main(int argc, char **argv);

#endif
