/* `parley kb`: the knowledge base from the command line. `eval FILE` measures retrieval over a
 * set of questions on an index built in the process from a folder; `search "question"` prints
 * the best passages, from a folder or from a server (GET /v1/kb/search). */
#ifndef PARLEY_BOT_CLI_KB_H
#define PARLEY_BOT_CLI_KB_H

/** argv[0] is "kb". Exit status: 0 done, 1 a file, the folder or a request failed, 2 usage. */
int cli_kb_main(int argc, char **argv);

#endif
