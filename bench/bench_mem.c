/* bench_mem: real sizes in bounded memory (issue 15).  On a generated
 * F16 GGUF of the 1.1B shape (TinyLlama: dim 2048, hidden 5632, 22 layers,
 * 32 heads, 4 KV heads, vocab 32000; 2.2 GB), each measurement in its own
 * child process so its peak RSS (getrusage ru_maxrss) is its own:
 *
 *   read     plain read() of the file (the bandwidth baseline)
 *   stats    tstats over every tensor (tiled F16 conversion)
 *   fwd-f16  forward pass of T tokens on the F16 weights, tiles converted
 *            on the fly inside the products
 *   fwd-f32  the same with every matrix converted to a float copy first
 *            (the old path: the F32 speed, 3x the file in memory)
 *   sgemm    the projections of the same shapes alone, cblas_sgemm on
 *            float weights (one layer's matrices reused): the ceiling
 *
 * The model is $QLENS_BENCH_1B, else $TMPDIR/qlens-bench-1.1b-f16.gguf,
 * generated with tests/tool_genmodel when missing.  Skipped with a message
 * when there is not enough free memory or disk.  llama.cpp is not on this
 * machine: the baselines are the plain read and sgemm, same run. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "src/forward.h"
#include "src/model.h"
#include "src/tstats.h"

#define T_TOKENS 128

static long mem_available_mb(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

static const char *model_path(char *buf, size_t cap)
{
    const char *p = getenv("QLENS_BENCH_1B");
    if (p && *p)
        return p;
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, cap, "%s/qlens-bench-1.1b-f16.gguf", tmp && *tmp ? tmp : "/tmp");
    struct stat st;
    if (stat(buf, &st) == 0)
        return buf;
    const char *b = getenv("QLENS_BUILD");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tests/tool_genmodel' --format gguf --dim 2048 --hidden 5632 "
             "--layers 22 --heads 32 --kv-heads 4 --vocab 32000 --ctx 2048 --dtype f16 '%s' "
             ">/dev/null", b ? b : "build", buf);
    printf("generating %s (2.2 GB, a few minutes) ...\n", buf);
    fflush(stdout);
    return system(cmd) == 0 ? buf : NULL;
}

/* ---- the measurements (run in a child; print one line) ---- */

static double do_read(const char *path, double *gb)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t cap = 8 << 20;
    char *buf = malloc(cap);
    double t0 = bench_wall(), n = 0;
    ssize_t k;
    while (buf && (k = read(fd, buf, cap)) > 0)
        n += (double)k;
    close(fd);
    free(buf);
    *gb = n / 1e9;
    return bench_wall() - t0;
}

static double do_stats(struct qmodel *m)
{
    struct tstats ts;
    struct qerr err = {0};
    double t0 = bench_wall();
    int rc = tstats_compute(m, NULL, &ts, &err);
    double dt = bench_wall() - t0;
    tstats_free(&ts);
    return rc ? -1 : dt;
}

static double do_fwd(struct qmodel *m, int copies)
{
    struct fwd f;
    struct qerr err = {0};
    if (fwd_init(&f, m, T_TOKENS, &err))
        return -1;
    if (copies)
        for (int i = 0; i < m->n_tensors; i++)
            qtensor_f32_orig(&m->tensors[i]);
    int toks[T_TOKENS];
    for (int i = 0; i < T_TOKENS; i++)
        toks[i] = (i * 7919 + 13) % m->cfg.vocab_size;
    float *lg = malloc((size_t)T_TOKENS * m->cfg.vocab_size * sizeof *lg);
    double t0 = bench_wall();
    int rc = lg ? fwd_chunk(&f, toks, T_TOKENS, lg, NULL) : -1;
    double dt = bench_wall() - t0;
    free(lg);
    fwd_free(&f);
    return rc ? -1 : dt;
}

/* The projections of one forward pass (per layer q,k,v,o,gate,up,down,
 * then the classifier) with float weights, one layer's set reused. */
static double do_sgemm(const struct qconfig *c)
{
    int d = c->dim, h = c->hidden_dim, kv = c->n_kv_heads * c->head_dim, T = T_TOKENS;
    int shapes[8][2] = {{d, d}, {kv, d}, {kv, d}, {d, d}, {h, d}, {h, d}, {d, h},
                        {c->vocab_size, d}};
    size_t big = (size_t)c->vocab_size * d > (size_t)h * d ? (size_t)c->vocab_size * d
                                                            : (size_t)h * d;
    float *w = calloc(big, sizeof *w), *x = calloc((size_t)T * h, sizeof *x);
    float *y = calloc((size_t)T * (c->vocab_size > h ? c->vocab_size : h), sizeof *y);
    if (!w || !x || !y)
        return -1;
    double t0 = bench_wall();
    for (int l = 0; l <= c->n_layers; l++)
        for (int s = l < c->n_layers ? 0 : 7; s < (l < c->n_layers ? 7 : 8); s++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, shapes[s][0], shapes[s][1],
                        1.0f, x, shapes[s][1], w, shapes[s][1], 0.0f, y, shapes[s][0]);
    double dt = bench_wall() - t0;
    free(w), free(x), free(y);
    return dt;
}

/* Fork, run measurement `what`, return its seconds (and *gb for read) and
 * the child's peak RSS in MB. */
static double in_child(const char *path, const char *what, double *gb, long *rss_mb)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        double r[2] = {-1, 0};
        if (!strcmp(what, "read")) {
            r[0] = do_read(path, &r[1]);
        } else {
            struct qmodel m;
            struct qerr err = {0};
            if (qmodel_open(&m, path, &err) == 0) {
                if (!strcmp(what, "stats")) r[0] = do_stats(&m);
                else if (!strcmp(what, "fwd-f16")) r[0] = do_fwd(&m, 0);
                else if (!strcmp(what, "fwd-f32")) r[0] = do_fwd(&m, 1);
                else if (!strcmp(what, "sgemm")) r[0] = do_sgemm(&m.cfg);
                qmodel_close(&m);
            }
        }
        if (write(pfd[1], r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    double r[2] = {-1, 0};
    ssize_t got = pid > 0 ? read(pfd[0], r, sizeof r) : -1;
    close(pfd[0]);
    int status;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (pid > 0)
        wait4(pid, &status, 0, &ru);
    *rss_mb = ru.ru_maxrss / 1024;
    *gb = r[1];
    return got == (ssize_t)sizeof r ? r[0] : -1;
}

int main(void)
{
    long avail = mem_available_mb();
    if (avail >= 0 && avail < 9000) {
        printf("skipped: %ld MB of memory available, the 1.1B F16 runs need ~9 GB "
               "(the fwd-f32 baseline holds 3x the file)\n", avail);
        return 0;
    }
    printf("7B shape: skipped (13.5 GB F16; the float-copy baseline alone would need ~40 GB "
           "on this 24 GB machine shared with other jobs)\n");
    char buf[512];
    const char *path = model_path(buf, sizeof buf);
    if (!path) {
        printf("skipped: could not generate the 1.1B model (disk?)\n");
        return 0;
    }
    struct stat st;
    stat(path, &st);
    double file_mb = st.st_size / 1048576.0, gb;
    long rss;
    printf("model %s (%.0f MB, F16), forward passes of %d tokens\n", path, file_mb, T_TOKENS);
    in_child(path, "read", &gb, &rss); /* warm the page cache */
    double tr = in_child(path, "read", &gb, &rss);
    printf("%-8s %7.2f s  %6.2f GB/s            RSS %5ld MB\n", "read", tr, gb / tr, rss);
    double ts = in_child(path, "stats", &gb, &rss);
    printf("%-8s %7.2f s  %6.2f GB/s  x%.2f read   RSS %5ld MB (%.2f x file)\n", "stats", ts,
           st.st_size / 1e9 / ts, tr / ts, rss, rss / file_mb);
    double tg = in_child(path, "sgemm", &gb, &rss);
    printf("%-8s %7.2f s  %6.1f tok/s            (baseline: projections only)\n", "sgemm", tg,
           T_TOKENS / tg);
    const char *fw[2] = {"fwd-f16", "fwd-f32"};
    double tf[2];
    for (int k = 0; k < 2; k++) {
        tf[k] = in_child(path, fw[k], &gb, &rss);
        printf("%-8s %7.2f s  %6.1f tok/s  x%.2f sgemm  RSS %5ld MB (%.2f x file)\n", fw[k],
               tf[k], T_TOKENS / tf[k], tg / tf[k], rss, rss / file_mb);
    }
    printf("fwd-f16 / fwd-f32 speed: x%.2f\n", tf[1] / tf[0]);
    return tr < 0 || ts < 0 || tg < 0 || tf[0] < 0 || tf[1] < 0;
}
