/* bench_mem: real sizes in bounded memory (issue 15).  On a generated
 * F16 GGUF of the 1.1B shape (TinyLlama: dim 2048, hidden 5632, 22 layers,
 * 32 heads, 4 KV heads, vocab 32000 from llama.cpp's llama-spm vocabulary;
 * 2.2 GB; norms F32 as llama.cpp's converter writes them), each
 * measurement in its own child process so its peak RSS (getrusage
 * ru_maxrss) is its own:
 *
 *   read     plain read() of the file (the bandwidth baseline)
 *   stats    tstats over every tensor (tiled F16 conversion)
 *   fwd-f16  forward pass of T tokens on the F16 weights, tiles converted
 *            on the fly inside the products
 *   fwd-f32  the same with every matrix converted to a float copy first
 *            (the float path: 3x the file in memory)
 *   sgemm    the projections of the same shapes alone, cblas_sgemm on
 *            float weights (one layer's matrices reused): the ceiling
 *   ppl      `qlens ppl --ctx 512 --chunks 2` (the CLI, two workers),
 *            beside llama.cpp's forward pass on the same file and tokens
 *            count (bench/llamacpp_eval.mjs: node-llama-cpp's prebuilt
 *            library, 2 threads) when node-llama-cpp is installed
 *            (tests/e2e_llamacpp.sh installs it), else said so
 *   rtn      `qlens quant --method rtn --bits 4` (quantization time
 *            without the evaluation), beside two baselines: qlens's own
 *            Q4_0 whole-file export (`--method q4_0 --no-eval --export`)
 *            and llama.cpp's llama_model_quantize Q4_0 (node-llama-cpp's
 *            libllama, loaded with dlopen) when installed
 *   gptq     `qlens quant --method gptq --bits 4` (8 calibration chunks):
 *            about ten minutes, so only with QLENS_BENCH_GPTQ=1
 *
 *   fwd-tile the F16 pass with gemm16 off: tiles converted and sgemm
 *            (the path before gemm16, and still other types' path)
 *
 * QLENS_BENCH_MEM_ONLY=ppl runs the ppl comparison alone, =fwd the
 * sgemm and forward-pass rows alone, =fwd16 fwd-f16 and fwd-tile
 * alternated twice (with CPU seconds);
 * QLENS_BENCH_PPL_ROUNDS sets how many times it alternates (default 2).
 * The model is $QLENS_BENCH_1B, else $TMPDIR/qlens-bench-1.1b-f16v.gguf,
 * generated with tests/tool_genmodel when missing.  Skipped with a message
 * when there is not enough free memory or disk. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
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
    snprintf(buf, cap, "%s/qlens-bench-1.1b-f16v.gguf", tmp && *tmp ? tmp : "/tmp");
    struct stat st;
    if (stat(buf, &st) == 0)
        return buf;
    const char *b = getenv("QLENS_BUILD"), *sh = getenv("QLENS_SHARED");
    char cmd[1536];
    snprintf(cmd, sizeof cmd, "'%s/tests/tool_genmodel' --format gguf --dim 2048 --hidden 5632 "
             "--layers 22 --heads 32 --kv-heads 4 --vocab 32000 --ctx 2048 --dtype f16 "
             "--vocab-from '%s/reference/tokenizer/ggml-vocab-llama-spm.gguf' '%s' >/dev/null",
             b ? b : "build", sh ? sh : "../shared", buf);
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

/* copies 1: float copies first (the float path); 2: F16 in tiles and
 * sgemm (gemm16 off); 0: as the pass runs (gemm16 where built). */
static double do_fwd(struct qmodel *m, int copies)
{
    struct fwd f;
    struct qerr err = {0};
    if (fwd_init(&f, m, T_TOKENS, &err))
        return -1;
    if (copies == 2)
        f.use_gemm16 = 0;
    if (copies == 1)
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

static double child_cpu; /* CPU seconds (user + system) of the last in_child */

/* Fork, run measurement `what`, return its seconds (and *gb for read) and
 * the child's peak RSS in MB (its CPU seconds in child_cpu). */
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
                else if (!strcmp(what, "fwd-tile")) r[0] = do_fwd(&m, 2);
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
    child_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6;
    *gb = r[1];
    return got == (ssize_t)sizeof r ? r[0] : -1;
}

/* ---- whole commands (the CLI, node, libllama) in a child ---- */

/* CPU seconds (user + system) of a finished child: what load disturbs
 * least on this shared machine. */
static double cpu_of(const struct rusage *ru)
{
    return ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + ru->ru_stime.tv_sec +
           ru->ru_stime.tv_usec / 1e6;
}

static double last_cpu; /* cpu_of the last run_cmd child */

/* Run argv (stdout and stderr into out, NUL-terminated); returns the wall
 * seconds, the child's peak RSS in MB and its wait status (its CPU
 * seconds in last_cpu). */
static double run_cmd(char *const argv[], char *out, size_t cap, long *rss_mb, int *status)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    double t0 = bench_wall();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t k;
    char junk[4096];
    while ((k = read(pfd[0], n + 1 < cap ? out + n : junk,
                     n + 1 < cap ? cap - 1 - n : sizeof junk)) > 0)
        n += n + 1 < cap ? (size_t)k : 0;
    out[n] = '\0';
    close(pfd[0]);
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    *status = -1;
    if (pid > 0)
        wait4(pid, status, 0, &ru);
    *rss_mb = ru.ru_maxrss / 1024;
    last_cpu = cpu_of(&ru);
    return bench_wall() - t0;
}

static int ok_status(int st)
{
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* node-llama-cpp's folder (tests/e2e_llamacpp.sh installs it), or NULL. */
static const char *node_llama_dir(char *buf, size_t cap)
{
    const char *c = getenv("QLENS_NPM_CACHE"), *home = getenv("HOME");
    if (c && *c)
        snprintf(buf, cap, "%s/node-llama-cpp-3.22.1", c);
    else
        snprintf(buf, cap, "%s/.cache/qlens/npm/node-llama-cpp-3.22.1", home ? home : "");
    char ok[1100];
    snprintf(ok, sizeof ok, "%s/ok", buf);
    struct stat st;
    return stat(ok, &st) == 0 ? buf : NULL;
}

/* One `qlens ppl` run: tokens/s (from its own report: the evaluation
 * only, as llama.cpp's figure below), CPU seconds and peak RSS of the
 * whole process; -1 when it failed. */
static double qlens_ppl_once(const char *qlens, const char *model, const char *text,
                             double *cpu, long *rss)
{
    static char out[1 << 16];
    int st;
    char *argv[] = {(char *)qlens, "ppl", (char *)model, (char *)text, "--ctx", "512",
                    "--chunks", "2", NULL};
    run_cmd(argv, out, sizeof out, rss, &st);
    *cpu = last_cpu;
    const char *p = strstr(out, " tokens/s");
    while (p && p > out && p[-1] != '\n' && p[-1] != ',')
        p--;
    double tps = ok_status(st) && p ? strtod(p, NULL) : -1;
    if (tps <= 0)
        printf("ppl      qlens failed: %.300s\n", out);
    return tps > 0 ? tps : -1;
}

/* llama.cpp's forward pass on the same file and token count (node-llama-
 * cpp, 2 threads): tokens/s of its evaluation, or -1. */
static double llama_ppl_once(const char *dir, const char *model, double *cpu, long *rss)
{
    static char out[1 << 16];
    int st;
    char *nargv[] = {"node", "bench/llamacpp_eval.mjs", (char *)dir, (char *)model, "512", "2",
                     "32000", NULL};
    run_cmd(nargv, out, sizeof out, rss, &st);
    *cpu = last_cpu;
    const char *j = strstr(out, "{\"tokens\":");
    double toks = 0, secs = 0;
    if (!ok_status(st) || !j || sscanf(j, "{\"tokens\":%lf,\"seconds\":%lf", &toks, &secs) != 2 ||
        secs <= 0) {
        printf("ppl      llama.cpp: skipped (node failed: %.200s)\n", out);
        return -1;
    }
    return toks / secs;
}

/* qlens ppl and llama.cpp's forward pass on the same file, alternated
 * $QLENS_BENCH_PPL_ROUNDS times (default 2) so that both meet the same
 * load; each round's ratio, and the ratio of the summed times. */
static void bench_ppl_cli(const char *qlens, const char *model, const char *text, double file_mb)
{
    const char *rs = getenv("QLENS_BENCH_PPL_ROUNDS");
    int rounds = rs && atoi(rs) > 0 ? atoi(rs) : 2;
    char dir[1024];
    const char *nd = node_llama_dir(dir, sizeof dir);
    double q_s = 0, l_s = 0, q_cpu = 0, l_cpu = 0; /* seconds for 1024 tokens, summed */
    long q_rss = 0, l_rss = 0;
    int done = 0;
    for (int r = 0; r < rounds; r++) {
        double qc, lc;
        long qr, lr;
        double q = qlens_ppl_once(qlens, model, text, &qc, &qr);
        if (q < 0)
            return;
        printf("ppl      qlens      %7.1f tok/s (ctx 512, 2 chunks)  CPU %6.1f s  RSS %5ld MB "
               "(%.2f x file)\n", q, qc, qr, qr / file_mb);
        q_rss = qr > q_rss ? qr : q_rss;
        if (!nd) {
            printf("ppl      llama.cpp: skipped (node-llama-cpp not installed: run "
                   "tests/e2e_llamacpp.sh once)\n");
            return;
        }
        double l = llama_ppl_once(nd, model, &lc, &lr);
        if (l < 0)
            return;
        printf("ppl      llama.cpp  %7.1f tok/s (same file, 2 threads)  CPU %6.1f s  RSS %5ld MB "
               "(node included)\n", l, lc, lr);
        printf("ppl      round %d: qlens / llama.cpp speed x%.2f (CPU of the whole process: "
               "x%.2f)\n", r + 1, q / l, qc > 0 ? lc / qc : 0);
        l_rss = lr > l_rss ? lr : l_rss;
        q_s += 1024 / q;
        l_s += 1024 / l;
        q_cpu += qc;
        l_cpu += lc;
        done++;
    }
    if (done)
        printf("ppl      qlens / llama.cpp over %d rounds: speed x%.2f (CPU x%.2f), peak RSS "
               "x%.2f\n", done, l_s / q_s, q_cpu > 0 ? l_cpu / q_cpu : 0,
               l_rss > 0 ? (double)q_rss / l_rss : 0);
}

/* "time  calibration A s, quantization B s, evaluation C s" of qlens quant. */
static int quant_times(const char *out, double t[3])
{
    const char *p = strstr(out, "time             calibration");
    return p && sscanf(p, "time             calibration %lf s, quantization %lf s, evaluation "
                          "%lf s", &t[0], &t[1], &t[2]) == 3 ? 0 : -1;
}

/* llama.cpp's llama_model_quantize (Q4_0, 2 threads) from node-llama-cpp's
 * libllama, in this (child) process.  The parameter struct's first two
 * fields are nthread and ftype (llama.h); the rest is kept as returned by
 * llama_model_quantize_default_params, into a buffer larger than it. */
struct lq_params { int32_t nthread; int32_t ftype; char rest[1024]; };

static int llama_q4_0(const char *dir, const char *in, const char *out)
{
    char lib[1200];
    snprintf(lib, sizeof lib, "%s/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/"
             "libllama.v0.5.0.so", dir);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return -1;
    struct lq_params (*defp)(void);
    uint32_t (*quantize)(const char *, const char *, const struct lq_params *);
    *(void **)&defp = dlsym(h, "llama_model_quantize_default_params");
    *(void **)&quantize = dlsym(h, "llama_model_quantize");
    if (!defp || !quantize)
        return -1;
    struct lq_params p = defp();
    p.nthread = 2;
    p.ftype = 2; /* LLAMA_FTYPE_MOSTLY_Q4_0 */
    int fd = open("/dev/null", O_WRONLY); /* its per-tensor log */
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    return quantize(in, out, &p) == 0 ? 0 : -1;
}

static void bench_quant_cli(const char *qlens, const char *model, double file_mb)
{
    static char out[1 << 16];
    long rss;
    int st;
    double t[3];
    char *argv[] = {(char *)qlens, "quant", (char *)model, "--method", "rtn", "--bits", "4",
                    "--ctx", "512", "--chunks", "1", NULL};
    double wall = run_cmd(argv, out, sizeof out, &rss, &st);
    if (!ok_status(st) || quant_times(out, t)) {
        printf("rtn      qlens failed: %.300s\n", out);
        return;
    }
    double rtn = wall - t[2], rcpu = last_cpu;
    printf("rtn      qlens RTN w4 g128   %6.1f s without evaluation (quantizer %.1f s; "
           "evaluation %.1f s)  CPU %.1f s (all)  RSS %5ld MB (%.2f x file)\n", rtn, t[1], t[2],
           rcpu, rss, rss / file_mb);
    char q40[600];
    const char *tmp = getenv("TMPDIR");
    snprintf(q40, sizeof q40, "%s/qlens-bench-q4_0.gguf", tmp && *tmp ? tmp : "/tmp");
    char *eargv[] = {(char *)qlens, "quant", (char *)model, "--method", "q4_0", "--no-eval",
                     "--export", q40, NULL};
    double te = run_cmd(eargv, out, sizeof out, &rss, &st);
    unlink(q40);
    if (ok_status(st))
        printf("rtn      qlens Q4_0 export    %6.1f s  CPU %.1f s  RSS %5ld MB   RTN / this: x%.2f "
               "(CPU x%.2f)\n", te, last_cpu, rss, rtn / te, rcpu / last_cpu);
    else
        printf("rtn      qlens Q4_0 export failed: %.300s\n", out);
    char dir[1024];
    if (!node_llama_dir(dir, sizeof dir)) {
        printf("rtn      llama-quantize: skipped (node-llama-cpp not installed: run "
               "tests/e2e_llamacpp.sh once)\n");
        return;
    }
    double t0 = bench_wall();
    pid_t pid = fork();
    if (pid == 0)
        _exit(llama_q4_0(dir, model, q40) ? 1 : 0);
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    st = -1;
    if (pid > 0)
        wait4(pid, &st, 0, &ru);
    double tl = bench_wall() - t0;
    unlink(q40);
    if (ok_status(st))
        printf("rtn      llama.cpp Q4_0       %6.1f s  CPU %.1f s  RSS %5ld MB   RTN / this: x%.2f "
               "(CPU x%.2f)\n", tl, cpu_of(&ru), ru.ru_maxrss / 1024, rtn / tl, rcpu / cpu_of(&ru));
    else
        printf("rtn      llama-quantize: failed (libllama of node-llama-cpp not loadable)\n");
}

static void bench_gptq_cli(const char *qlens, const char *model, double file_mb)
{
    const char *on = getenv("QLENS_BENCH_GPTQ");
    if (!on || strcmp(on, "1")) {
        printf("gptq     skipped (about ten minutes here; set QLENS_BENCH_GPTQ=1)\n");
        return;
    }
    static char out[1 << 16];
    long rss;
    int st;
    double t[3];
    char *argv[] = {(char *)qlens, "quant", (char *)model, "--method", "gptq", "--bits", "4",
                    "--ctx", "512", "--chunks", "1", "--calib-chunks", "8", NULL};
    double wall = run_cmd(argv, out, sizeof out, &rss, &st);
    if (!ok_status(st) || quant_times(out, t)) {
        printf("gptq     qlens failed: %.300s\n", out);
        return;
    }
    printf("gptq     qlens GPTQ w4 g128, 8x512 calibration tokens: %.1f s without evaluation "
           "(calibration passes %.1f s, quantizer %.1f s)  RSS %5ld MB (%.2f x file)\n",
           wall - t[2], t[0], t[1], rss, rss / file_mb);
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
    const char *only = getenv("QLENS_BENCH_MEM_ONLY"); /* "ppl": that comparison alone */
    if (only && !strcmp(only, "ppl")) {
        const char *b = getenv("QLENS_BUILD"), *sh = getenv("QLENS_SHARED");
        char qlens[600], text[600];
        snprintf(qlens, sizeof qlens, "%s/qlens", b ? b : "build");
        snprintf(text, sizeof text, "%s/data/tinystories-eval.txt", sh ? sh : "../shared");
        printf("model %s (%.0f MB, F16)\n", path, file_mb);
        bench_ppl_cli(qlens, path, text, file_mb);
        return 0;
    }
    long rss;
    printf("model %s (%.0f MB, F16), forward passes of %d tokens\n", path, file_mb, T_TOKENS);
    in_child(path, "read", &gb, &rss); /* warm the page cache */
    if (only && !strcmp(only, "fwd16")) { /* gemm16 against the tiles, alternated twice */
        for (int r = 0; r < 4; r++) {
            const char *w = r % 2 ? "fwd-tile" : "fwd-f16";
            double t = in_child(path, w, &gb, &rss);
            printf("%-8s %7.2f s  %6.1f tok/s  CPU %6.1f s (whole child)  RSS %5ld MB\n", w, t,
                   T_TOKENS / t, child_cpu, rss);
        }
        return 0;
    }
    double tr = 0, ts = 0;
    if (!only || strcmp(only, "fwd")) { /* "fwd": the forward-pass rows alone */
        tr = in_child(path, "read", &gb, &rss);
        printf("%-8s %7.2f s  %6.2f GB/s            RSS %5ld MB\n", "read", tr, gb / tr, rss);
        ts = in_child(path, "stats", &gb, &rss);
        printf("%-8s %7.2f s  %6.2f GB/s  x%.2f read   RSS %5ld MB (%.2f x file)\n", "stats", ts,
               st.st_size / 1e9 / ts, tr / ts, rss, rss / file_mb);
    }
    double tg = in_child(path, "sgemm", &gb, &rss);
    printf("%-8s %7.2f s  %6.1f tok/s            (baseline: projections only)\n", "sgemm", tg,
           T_TOKENS / tg);
    const char *fw[3] = {"fwd-f16", "fwd-f32", "fwd-tile"};
    double tf[3];
    for (int k = 0; k < 3; k++) {
        tf[k] = in_child(path, fw[k], &gb, &rss);
        printf("%-8s %7.2f s  %6.1f tok/s  x%.2f sgemm  CPU %6.1f s  RSS %5ld MB (%.2f x file)\n",
               fw[k], tf[k], T_TOKENS / tf[k], tg / tf[k], child_cpu, rss, rss / file_mb);
    }
    printf("fwd-f16 / fwd-f32 speed: x%.2f, fwd-f16 / fwd-tile (gemm16 / tiles + sgemm): "
           "x%.2f\n", tf[1] / tf[0], tf[2] / tf[0]);
    if (only && !strcmp(only, "fwd"))
        return tg < 0 || tf[0] < 0 || tf[1] < 0 || tf[2] < 0;
    const char *b = getenv("QLENS_BUILD"), *sh = getenv("QLENS_SHARED");
    char qlens[600], text[600];
    snprintf(qlens, sizeof qlens, "%s/qlens", b ? b : "build");
    snprintf(text, sizeof text, "%s/data/tinystories-eval.txt", sh ? sh : "../shared");
    bench_ppl_cli(qlens, path, text, file_mb);
    bench_quant_cli(qlens, path, file_mb);
    bench_gptq_cli(qlens, path, file_mb);
    return tr < 0 || ts < 0 || tg < 0 || tf[0] < 0 || tf[1] < 0;
}
