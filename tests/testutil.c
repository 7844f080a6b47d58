#include "tests/testutil.h"

#include <check.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/half.h"
#include "src/model.h"

const char *tu_shared(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int slot;
    const char *dir = getenv("QLENS_SHARED");
    if (!dir || !*dir)
        dir = "../shared";
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    snprintf(b, PATH_MAX, "%s/%s", dir, rel);
    struct stat st;
    return stat(b, &st) == 0 ? b : NULL;
}

static char tmpdir[PATH_MAX];

static void rm_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/qlens-check.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

const char *tu_tmpfile(const char *name)
{
    static char buf[4][PATH_MAX];
    static int slot;
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    if ((size_t)snprintf(b, PATH_MAX, "%s/%s", tu_tmpdir(), name) >= PATH_MAX) {
        fprintf(stderr, "tu_tmpfile: path too long\n");
        exit(2);
    }
    return b;
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static unsigned long long rng = 88172645463325252ULL;

void tu_seed(unsigned long long s) { rng = s ? s : 88172645463325252ULL; }

double tu_uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

double tu_normal(void)
{
    double u1 = tu_uniform(), u2 = tu_uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_f16_model(struct qmodel *m, const char *path, int nt, int tn)
{
    size_t n = (size_t)nt * (size_t)tn;
    uint16_t *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (int k = 0; k < nt; k++)
        for (int i = 0; i < tn; i++)
            h[(size_t)k * tn + i] = f32_to_f16((float)k + (float)i / tn);
    ck_assert_int_eq(tu_write_file(path, h, n * sizeof *h), 0);
    free(h);
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    struct qerr err = {0};
    int map = qmodel_map_file(m, path, &err);
    ck_assert_int_ge(map, 0);
    for (int k = 0; k < nt; k++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", k);
        int64_t shape[1] = {tn};
        ck_assert_int_ge(qmodel_add_tensor(m, name, NULL, QD_F16, 1, shape, map,
                                           (uint64_t)k * (uint64_t)tn * 2, &err), 0);
    }
}

void tu_genmodel(const char *out, const char *args, ...)
{
    char opts[1024], cmd[4096];
    va_list ap;
    va_start(ap, args);
    vsnprintf(opts, sizeof opts, args, ap);
    va_end(ap);
    const char *b = getenv("QLENS_BUILD");
    snprintf(cmd, sizeof cmd, "'%s/tests/tool_genmodel' %s '%s' >/dev/null 2>&1", b ? b : "build",
             opts, out);
    ck_assert_msg(system(cmd) == 0, "tool_genmodel failed (QLENS_BUILD=%s): %s", b ? b : "", cmd);
}
