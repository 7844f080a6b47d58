/* cli: the headless face of qlens.  main() dispatches on the first word to
 * one entry of the command table (src/main.c); each command lives in its own
 * src/cli_<name>.c and returns a process exit code (below).  Commands print;
 * the library code they call does not. */
#ifndef QLENS_CLI_H
#define QLENS_CLI_H

#include <stdio.h>

#include "analysis/qerr.h"

/* Exit codes (documented in the README). */
enum {
    EXIT_OK = 0,
    EXIT_DATA = 1,     /* malformed or unsupported input (model, text, JSON) */
    EXIT_USAGE = 2,    /* bad command line                                   */
    EXIT_IO = 3,       /* a file cannot be opened, read or written           */
    EXIT_INTERNAL = 4, /* out of memory, numerical failure                   */
    EXIT_CANCEL = 130, /* interrupted (SIGINT / cancel)                      */
};

#define QLENS_VERSION "0.1.0"

struct cli_command {
    const char *name;
    const char *args;     /* "MODEL [--json]" for the usage line */
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cli_command cli_commands[];

/* Map a qerr code to an exit code. */
int cli_exit_code(int qerr_code);
/* Print "qlens: <msg>" to stderr and return the exit code for err. */
int cli_fail(const struct qerr *err);
/* Print "qlens <cmd>: <msg>\nTry 'qlens <cmd> --help'." and return
 * EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Directory of the shared data: $QLENS_SHARED, else ../shared relative to
 * the working directory, else ../shared relative to the executable's
 * directory, else NULL.  Returned string is static. */
const char *cli_shared_dir(void);
/* Resolve the model: the argument, else $QLENS_MODEL, else
 * <shared>/models/stories260K.bin when it exists.  NULL (with a message in
 * err saying how to point qlens at a model) when none. */
const char *cli_model_path(const char *arg, struct qerr *err);
/* Resolve the model as cli_model_path does and open it (struct qmodel is
 * declared in src/model.h).  Returns 0 or <0 with err filled. */
struct qmodel;
int cli_open_model(struct qmodel *m, const char *arg, struct qerr *err);
/* A file under the shared dir ("data/tinystories-eval.txt"), or NULL. */
const char *cli_shared_file(const char *rel);

/* Output formats shared by commands with --json / --csv. */
enum cli_fmt { CLI_TEXT = 0, CLI_JSON, CLI_CSV };

/* Is this argument "-h" or "--help"? */
int cli_is_help(const char *a);

/* JSON string escaping for hand-written JSON output. */
void cli_json_str(FILE *f, const char *s);
/* A double as JSON (non-finite becomes null). */
void cli_json_num(FILE *f, double v);

#endif
