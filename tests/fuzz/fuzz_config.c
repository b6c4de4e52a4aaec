/* libFuzzer target for parleyd's configuration (bot/config.h): the JSON config file and the
 * command line an operator gives. The input is read twice: as the config file's text (written
 * to an in-memory file named by --config), and as a command line, one argument per line (a
 * --config argument is dropped, so nothing but that file is ever read). Contract: the
 * outcome is PL_OK or PL_EINVAL with a message; loading is repeatable (same outcome, same
 * message); every string is freed by config_cleanup, whatever the outcome (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bot/config.h"
#include "common/alloc.h"
#include "common/err.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_ARGS 64

static char prog[] = "parleyd";

static int fd = -1;   /* the scratch file: in memory, never on a disk */
static char path[64]; /* its name: /proc/self/fd/N */

/* Load twice with `argv` and check the outcome. */
static void load(int argc, char **argv)
{
    struct bot_config cfg;
    bool help;
    char err[512], again[512];
    memset(err, 'x', sizeof(err));
    int rc = config_load(&cfg, argc, argv, &help, err, sizeof(err));
    config_cleanup(&cfg);
    CHECK(rc == PL_OK || rc == PL_EINVAL);
    if (rc != PL_OK)
        CHECK(memchr(err, '\0', sizeof(err)) && err[0] != '\0');
    memset(again, 'x', sizeof(again));
    CHECK(config_load(&cfg, argc, argv, &help, again, sizeof(again)) == rc);
    config_cleanup(&cfg);
    if (rc != PL_OK)
        CHECK(strcmp(err, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        unsetenv("PARLEY_CONFIG"); /* only the scratch file is read */
        fd = memfd_create("parley-fuzz-config", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    /* The input as the config file. */
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
    char config_arg[sizeof(path) + 16];
    snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
    char *file_argv[] = {prog, config_arg, NULL};
    load(2, file_argv);

    /* The input as a command line. */
    char *text = pl_malloc(size + 1);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 1] = {prog};
    int argc = 1;
    for (char *line = text; line && argc < MAX_ARGS;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, "--config", 8) != 0)
            argv[argc++] = line;
        line = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    load(argc, argv);
    pl_free(text);
    return 0;
}
