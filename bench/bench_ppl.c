/* bench_ppl: tokens/s of the perplexity path (ppl_run, llama.cpp method,
 * n_ctx 512) beside plain cblas_sgemm baselines measured in the same run.
 *
 *   (a) stories260K ($QLENS_SHARED/models/stories260K.bin) on
 *       tinystories-eval.txt
 *   (b) a 110M-shape Llama (dim 768, 12 layers, 12 heads, hidden 2048,
 *       vocab 32000 from llama.cpp's llama-spm vocabulary) written as GGUF by
 *       $QLENS_BUILD/tests/tool_genmodel, on the same text
 *
 * Each case runs in a forked child so its peak RSS (getrusage) is its own.
 * Reported: tokens/s (evaluated tokens: chunks x n_ctx, as llama.cpp
 * reports), achieved GFLOP/s (fwd_flops: every multiply-add of the
 * projections, causal attention and the scored logits), the sgemm baseline
 * of the model's FFN shape (512 x hidden x dim) and of a large square
 * (2048³, the machine's practical peak right now) on all BLAS threads,
 * and the ratios.  (The pass itself runs two chunks at once, one
 * single-threaded worker per CPU: src/ppl.c.)  Also
 * per CPU-second (getrusage over all threads), which a busy machine
 * disturbs much less than the wall clock. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/forward.h"
#include "src/model.h"
#include "src/ppl.h"
#include "src/tokenizer.h"
#include "bench/bench.h"

#define N_CTX 512

/* CPU seconds of the whole process (all threads): on a shared machine the
 * wall clock measures the neighbours too; work per CPU-second does not. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* GFLOP/s of C (m, n) = A (m, k) Bᵀ, best of a few timed runs; *per_cpu
 * gets GFLOP per CPU-second over all runs. */
static double sgemm_gflops(int m, int n, int k, double min_s, double *per_cpu)
{
    double c0 = cpu_s(), flops = 0;
    float *a = malloc((size_t)m * k * 4), *b = malloc((size_t)n * k * 4), *c = malloc((size_t)m * n * 4);
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)n * k; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 0;
    double t_end = bench_wall() + min_s;
    do {
        double t0 = bench_wall();
        int reps = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k,
                        0.0f, c, n);
            reps++;
        } while (bench_wall() - t0 < 0.05);
        double g = 2.0 * m * n * k * reps / (bench_wall() - t0) / 1e9;
        flops += 2.0 * m * n * k * reps;
        best = g > best ? g : best;
    } while (bench_wall() < t_end);
    *per_cpu = flops / (cpu_s() - c0) / 1e9;
    free(a); free(b); free(c);
    return best;
}

static int *tokenize(struct qmodel *m, const char *text, size_t *n, int *bos)
{
    struct tokenizer *t;
    struct qerr err = {0};
    int *ids = NULL;
    *n = 0;
    *bos = 1;
    FILE *f = fopen(text, "rb");
    char *buf = malloc(1 << 20);
    size_t len = f && buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f)
        fclose(f);
    if (len && tok_load_for_model(&t, m, &err) == 0) {
        if (tok_encode(t, buf, len, 1, &ids, n, &err) != 0)
            ids = NULL;
        *bos = tok_bos(t);
        tok_free(t);
    }
    free(buf);
    return ids;
}

static void run_case(const char *label, const char *model, const char *text, int chunks)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    if (qmodel_open(&m, model, &err) != 0) {
        printf("%s: cannot open %s: %s\n", label, model, err.msg);
        exit(1);
    }
    size_t n;
    int bos;
    int *ids = tokenize(&m, text, &n, &bos);
    if (!ids || n < (size_t)N_CTX * chunks) {
        printf("%s: cannot tokenize %s into %d chunks\n", label, text, chunks);
        exit(1);
    }
    if (fwd_init(&f, &m, N_CTX, &err) != 0 || fwd_prepare(&f) != 0) {
        printf("%s: %s\n", label, err.msg);
        exit(1);
    }
    struct ppl_opts o = {.n_ctx = N_CTX, .max_chunks = 1, .bos = bos};
    struct ppl_result r;
    ppl_run(&f, ids, n, &o, &r, &err); /* warm-up: page in the weights */
    o.max_chunks = chunks;
    double c0 = cpu_s();
    int rc = ppl_run(&f, ids, n, &o, &r, &err);
    double cpu = cpu_s() - c0;
    if (rc != 0) {
        printf("%s: %s\n", label, err.msg);
        exit(1);
    }
    double tps = r.n_chunks * (double)N_CTX / r.seconds;
    double flops = fwd_flops(&m.cfg, N_CTX, N_CTX - r.first) * r.n_chunks;
    double gf = flops / r.seconds / 1e9, gf_cpu = flops / cpu / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int all = openblas_get_num_threads();
    double ffn_cpu, peak_cpu, one_cpu, ffn1_cpu;
    double ffn = sgemm_gflops(N_CTX, m.cfg.hidden_dim, m.cfg.dim, 1.0, &ffn_cpu);
    openblas_set_num_threads(1);
    sgemm_gflops(N_CTX, m.cfg.hidden_dim, m.cfg.dim, 0.5, &ffn1_cpu);
    double one = sgemm_gflops(2048, 2048, 2048, 1.0, &one_cpu);
    openblas_set_num_threads(all);
    double peak = sgemm_gflops(2048, 2048, 2048, 1.0, &peak_cpu);
    printf("%s\n", label);
    printf("  ppl n_ctx %d: %d chunks, PPL %.4f, %.2f s\n", N_CTX, r.n_chunks, r.ppl, r.seconds);
    printf("  %.0f tokens/s   %.1f GFLOP/s achieved   peak RSS %.1f MiB\n", tps, gf,
           ru.ru_maxrss / 1024.0);
    printf("  CPU time %.2f s (%.2f CPUs busy): %.0f tokens and %.1f GFLOP per CPU-second\n", cpu,
           cpu / r.seconds, r.n_chunks * (double)N_CTX / cpu, gf_cpu);
    printf("  sgemm baseline %dx%dx%d, %d threads: %.1f GFLOP/s -> pass/baseline %.2f\n",
           N_CTX, m.cfg.hidden_dim, m.cfg.dim, all, ffn, gf / ffn);
    printf("  sgemm 2048^3, %d threads: %.1f GFLOP/s -> pass/peak %.2f\n", all, peak, gf / peak);
    printf("  per CPU-second: pass %.1f, sgemm 2048^3 1 thread %.1f (%.1f GFLOP/s) -> %.2f;"
           " FFN-shape sgemm 1 thread %.1f -> %.2f\n", gf_cpu, one_cpu, one, gf_cpu / one_cpu,
           ffn1_cpu, gf_cpu / ffn1_cpu);
    fwd_free(&f);
    free(ids);
    qmodel_close(&m);
}

static void in_child(const char *label, const char *model, const char *text, int chunks)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        run_case(label, model, text, chunks);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        printf("%s: failed\n", label);
        exit(1);
    }
}

int main(void)
{
    const char *sh = getenv("QLENS_SHARED") ? getenv("QLENS_SHARED") : "../shared";
    const char *b = getenv("QLENS_BUILD") ? getenv("QLENS_BUILD") : "build";
    char model[1024], text[1024], tool[1024], out[1024], cmd[4096];
    snprintf(text, sizeof text, "%s/data/tinystories-eval.txt", sh);
    snprintf(model, sizeof model, "%s/models/stories260K.bin", sh);
    printf("targets: >= 20000 tokens/s (stories260K), >= 640 (110M); llama.cpp's "
           "llama-perplexity here: ~2000 and ~320 (README, Speed at a glance)\n");
    in_child("(a) stories260K", model, text, 60);
    snprintf(tool, sizeof tool, "%s/tests/tool_genmodel", b);
    snprintf(out, sizeof out, "%s/qlens-bench-ppl-110m-%d.gguf",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    snprintf(cmd, sizeof cmd, "'%s' --format gguf --dim 768 --hidden 2048 --layers 12 --heads 12 "
             "--vocab 32000 --ctx 1024 --vocab-from '%s/reference/tokenizer/ggml-vocab-llama-spm.gguf' "
             "'%s' >/dev/null", tool, sh, out);
    if (access(tool, X_OK) != 0 || system(cmd) != 0) {
        printf("(b) 110M shape: tool_genmodel unavailable (%s); skipped\n", tool);
        unlink(out);
        return 1;
    }
    in_child("(b) 110M shape (dim 768, 12 layers, hidden 2048, vocab 32000, F32 GGUF)", out, text, 6);
    unlink(out);
    return 0;
}
