/* paths: file lookup without static buffers (see paths.h). */
#include "src/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef QLENS_PREFIX
#define QLENS_PREFIX "/usr/local"
#endif

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

/* printf into buf; -1 when it does not fit. */
static int put(char *buf, size_t cap, const char *fmt, const char *a)
{
    int n = snprintf(buf, cap, fmt, a);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The directory of the running executable into dir; -1 when unknown. */
static int exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return 0;
}

int paths_shared_dir(char *buf, size_t cap)
{
    const char *env = getenv("QLENS_SHARED");
    if (env && *env)
        return put(buf, cap, "%s", env);
    if (is_dir("../shared"))
        return put(buf, cap, "%s", "../shared");
    char exe[PATH_MAX];
    if (exe_dir(exe, sizeof exe) == 0 && put(buf, cap, "%s/../shared", exe) == 0 && is_dir(buf))
        return 0;
    return -1;
}

int paths_shared_file(const char *rel, char *buf, size_t cap)
{
    char dir[PATH_MAX];
    if (paths_shared_dir(dir, sizeof dir) < 0)
        return -1;
    int n = snprintf(buf, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return is_file(buf) ? 0 : -1;
}

int paths_model(const char *arg, char *buf, size_t cap, struct qerr *err)
{
    const char *env = getenv("QLENS_MODEL");
    const char *p = arg && *arg ? arg : env && *env ? env : NULL;
    if (p) {
        if (put(buf, cap, "%s", p) < 0)
            return qerr_set(err, QERR_ARG, "model path too long (%zu bytes)", strlen(p));
        return 0;
    }
    if (paths_shared_file("models/stories260K.bin", buf, cap) == 0)
        return 0;
    return qerr_set(err, QERR_ARG,
                    "no model given. Pass a model file (llama2.c .bin, .gguf, "
                    ".safetensors or a directory of them) as an argument, or set "
                    "QLENS_MODEL=/path/to/model, or QLENS_SHARED to a folder with "
                    "models/stories260K.bin");
}

static int has_results(const char *dir)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/results", dir);
    return is_dir(p);
}

int paths_assets_dir(char *buf, size_t cap)
{
    const char *env = getenv("QLENS_ASSETS");
    if (env && *env)
        return put(buf, cap, "%s", env);
    char exe[PATH_MAX - 32]; /* room for the suffixes below */
    if (exe_dir(exe, sizeof exe) == 0) {
        static const char *const rel[] = {"%s/assets", "%s/../assets", "%s/../share/qlens"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
            if (put(buf, cap, rel[i], exe) == 0 && has_results(buf))
                return 0;
    }
    if (put(buf, cap, "%s", "assets") == 0 && has_results(buf))
        return 0;
    if (put(buf, cap, "%s/share/qlens", QLENS_PREFIX) == 0 && has_results(buf))
        return 0;
    return -1;
}

int paths_load_papers(struct results_store *s, struct qerr *err)
{
    const char *env = getenv("QLENS_ASSETS");
    if (env && *env && !has_results(env))
        return qerr_set(err, QERR_IO, "QLENS_ASSETS=%s has no results/ directory "
                        "(point it at the qlens assets directory)", env);
    char dir[PATH_MAX];
    if (paths_assets_dir(dir, sizeof dir) < 0)
        return qerr_set(err, QERR_IO, "bundled results not found: set QLENS_ASSETS to "
                        "the qlens assets directory (the one holding results/), or "
                        "pass --store FILE");
    char rd[PATH_MAX + 16];
    snprintf(rd, sizeof rd, "%s/results", dir);
    return results_load_dir(s, rd, err);
}

int paths_cache_dir(char *buf, size_t cap)
{
    const char *env = getenv("QLENS_CACHE_DIR");
    if (env && *env)
        return put(buf, cap, "%s", env);
    env = getenv("XDG_CACHE_HOME");
    if (env && *env == '/') /* the XDG spec: a relative value is ignored */
        return put(buf, cap, "%s/qlens", env);
    env = getenv("HOME");
    if (env && *env)
        return put(buf, cap, "%s/.cache/qlens", env);
    return -1;
}
