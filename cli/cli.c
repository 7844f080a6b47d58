#include "cli/cli.h"
#include "src/model.h"
#include "src/paths.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_exit_code(int code)
{
    switch (code) {
    case QERR_OK: return EXIT_OK;
    case QERR_IO: return EXIT_IO;
    case QERR_FORMAT:
    case QERR_UNSUPP: return EXIT_DATA;
    case QERR_ARG: return EXIT_USAGE;
    case QERR_CANCEL: return EXIT_CANCEL;
    default: return EXIT_INTERNAL;
    }
}

int cli_fail(const struct qerr *err)
{
    fprintf(stderr, "qlens: %s\n", err->msg[0] ? err->msg : "unknown error");
    return cli_exit_code(err->code ? err->code : QERR_FORMAT);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "qlens %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'qlens %s --help'.\n", cmd);
    return EXIT_USAGE;
}

/* The CLI runs on one thread: these keep the paths.h answers in static
 * buffers for the commands' convenience.  Threaded code (the dashboard's
 * jobs) calls src/paths.h directly. */
const char *cli_shared_dir(void)
{
    static char buf[PATH_MAX];
    return paths_shared_dir(buf, sizeof buf) == 0 ? buf : NULL;
}

const char *cli_shared_file(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int slot;
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    return paths_shared_file(rel, b, PATH_MAX) == 0 ? b : NULL;
}

const char *cli_model_path(const char *arg, struct qerr *err)
{
    static char buf[PATH_MAX];
    return paths_model(arg, buf, sizeof buf, err) == 0 ? buf : NULL;
}

int cli_open_model(struct qmodel *m, const char *arg, struct qerr *err)
{
    const char *path = cli_model_path(arg, err);
    if (!path)
        return err && err->code ? err->code : QERR_ARG;
    return qmodel_open(m, path, err);
}

int cli_is_help(const char *a)
{
    return a && (!strcmp(a, "-h") || !strcmp(a, "--help"));
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_json_num(FILE *f, double v)
{
    if (!isfinite(v))
        fputs("null", f);
    else
        fprintf(f, "%.9g", v);
}
