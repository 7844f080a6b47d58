#include "src/cli.h"
#include "src/model.h"

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

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cli_shared_dir(void)
{
    static char buf[PATH_MAX];
    static int done;
    if (done)
        return buf[0] ? buf : NULL;
    done = 1;
    const char *env = getenv("QLENS_SHARED");
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
        return buf;
    }
    if (is_dir("../shared")) {
        snprintf(buf, sizeof buf, "../shared");
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 16];
            snprintf(cand, sizeof cand, "%s/../shared", exe);
            size_t len = strlen(cand);
            if (is_dir(cand) && len < sizeof buf) {
                memcpy(buf, cand, len + 1);
                return buf;
            }
        }
    }
    return NULL;
}

const char *cli_shared_file(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int slot;
    const char *dir = cli_shared_dir();
    if (!dir)
        return NULL;
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    if ((size_t)snprintf(b, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        return NULL;
    return is_file(b) ? b : NULL;
}

const char *cli_model_path(const char *arg, struct qerr *err)
{
    if (arg && *arg)
        return arg;
    const char *env = getenv("QLENS_MODEL");
    if (env && *env)
        return env;
    const char *def = cli_shared_file("models/stories260K.bin");
    if (def)
        return def;
    qerr_set(err, QERR_ARG,
             "no model given. Pass a model file (llama2.c .bin, .gguf, "
             ".safetensors or a directory of them) as an argument, or set "
             "QLENS_MODEL=/path/to/model, or QLENS_SHARED to a folder with "
             "models/stories260K.bin");
    return NULL;
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
