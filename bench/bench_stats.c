/* bench_stats: throughput of the full statistics pass (stats_compute: all
 * of struct stats) beside a plain read (summing the same floats) of the
 * same bytes in the same run, single-threaded.  Reported as GB/s and as the
 * ratio stats / read (target >= 0.5).  Median of REPS repetitions, the two
 * measurements interleaved so both see the same machine state.
 *
 *   (a) one large generated tensor (256 MiB of floats)
 *   (b) every tensor of stories260K ($QLENS_SHARED/models/stories260K.bin)
 *   (c) a 110M-shape Llama (dim 768, 12 layers, hidden 2048, vocab 32000):
 *       from tool_genmodel's GGUF when $QLENS_BUILD/tests/tool_genmodel
 *       exists, else the same tensor shapes generated in memory.
 *   (e) F16 files streamed from disk (tstats_compute: pread window, F16C
 *       conversion, statistics) beside a plain read() of the same file,
 *       page cache warm: the 110M shape in F16 (tool_genmodel), and the
 *       1.1B shape when bench_mem's file exists ($QLENS_BENCH_1B or
 *       $TMPDIR/qlens-bench-1.1b-f16.gguf).  One thread by thread CPU time,
 *       and all threads by wall-clock time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "analysis/stats.h"
#include <fcntl.h>
#include <sys/stat.h>

#include "src/model.h"
#include "src/tstats.h"
#include "bench/bench.h"

#define REPS 7

/* The thread's CPU clock, not the wall clock: the machine is shared, and
 * time spent descheduled would otherwise land in whichever of the two
 * measurements it happened to hit. */
/* The baseline: the fastest plain read we can write, four independent
 * vector accumulators so it is bound by memory, not by add latency. */
static float plain_sum(const float *x, size_t n)
{
    size_t i = 0;
    float s = 0;
#if defined(__AVX512F__)
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(x + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(x + i + 48));
    }
    s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
#else
    float a[16] = {0};
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            a[k] += x[i + k];
    for (int k = 0; k < 16; k++)
        s += a[k];
#endif
    for (; i < n; i++)
        s += x[i];
    return s;
}

struct tset {
    const float **x;
    size_t *n;
    int count;
    size_t bytes;
};

static volatile float sink;

/* Median seconds for one pass over all tensors of `t`: [0] read, [1] stats. */
static void measure(const struct tset *t, double med[2])
{
    double tr[REPS], ts[REPS];
    struct stats_opts o;
    stats_opts_default(&o);
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_thread_cpu();
        float s = 0;
        for (int i = 0; i < t->count; i++)
            s += plain_sum(t->x[i], t->n[i]);
        sink = s;
        double t1 = bench_thread_cpu();
        struct stats st;
        for (int i = 0; i < t->count; i++) {
            stats_compute(t->x[i], t->n[i], &o, &st);
            sink = (float)st.kurt;
        }
        double t2 = bench_thread_cpu();
        tr[r] = t1 - t0;
        ts[r] = t2 - t1;
    }
    bench_sort(tr, REPS);
    bench_sort(ts, REPS);
    med[0] = tr[REPS / 2];
    med[1] = ts[REPS / 2];
}

static void report(const char *what, const struct tset *t)
{
    double med[2];
    measure(t, med);
    double gr = t->bytes / med[0] * 1e-9, gs = t->bytes / med[1] * 1e-9;
    printf("stats  %-44s %8.1f MB  read %6.2f GB/s  stats %6.2f GB/s  ratio %.2f\n", what,
           t->bytes * 1e-6, gr, gs, gs / gr);
}

/* Cheap reproducible normal-ish numbers (xorshift + Irwin-Hall of 4),
 * with a few heavy-tailed values so pass 2 has real work. */
static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

static float *gen(size_t n, double sigma)
{
    float *x = malloc(n * sizeof *x);
    if (!x)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        double z = (urand() + urand() + urand() + urand() - 2.0) * 1.7320508;
        if ((i & 4095) == 7)
            z *= 8; /* sparse outliers, as in real weights */
        x[i] = (float)(z * sigma);
    }
    return x;
}

static void bench_large(void)
{
    size_t n = (size_t)64 << 20; /* 256 MiB */
    float *x = gen(n, 0.02);
    if (!x) {
        printf("stats  large tensor: out of memory\n");
        return;
    }
    const float *xs[1] = {x};
    size_t ns[1] = {n};
    struct tset t = {xs, ns, 1, n * sizeof(float)};
    report("(a) generated tensor 256 MiB", &t);
    free(x);
}

static int model_set(struct qmodel *m, struct tset *t)
{
    t->count = 0;
    t->bytes = 0;
    t->x = calloc((size_t)m->n_tensors, sizeof *t->x);
    t->n = calloc((size_t)m->n_tensors, sizeof *t->n);
    if (!t->x || !t->n)
        return -1;
    for (int i = 0; i < m->n_tensors; i++) {
        const float *p = qtensor_f32(&m->tensors[i]);
        if (!p)
            return -1;
        t->x[t->count] = p;
        t->n[t->count++] = (size_t)m->tensors[i].nelem;
        t->bytes += (size_t)m->tensors[i].nelem * sizeof(float);
    }
    return 0;
}

static void bench_model(const char *what, const char *path)
{
    struct qmodel m;
    struct qerr err = {0};
    if (!path || qmodel_open(&m, path, &err)) {
        printf("stats  %s: cannot open model (%s)\n", what, path ? err.msg : "not found");
        return;
    }
    struct tset t;
    if (model_set(&m, &t) == 0)
        report(what, &t);
    free(t.x);
    free(t.n);
    qmodel_close(&m);
}

/* The 110M shape in memory: token_embd, 12 x (q k v o gate up down + 2
 * norms), output_norm, output. */
static void bench_110m_memory(void)
{
    enum { DIM = 768, HID = 2048, L = 12, VOCAB = 32000 };
    int cap = 3 + L * 9;
    struct tset t = {calloc(cap, sizeof(float *)), calloc(cap, sizeof(size_t)), 0, 0};
    size_t sizes[9] = {DIM, (size_t)DIM * DIM, (size_t)DIM * DIM, (size_t)DIM * DIM,
                       (size_t)DIM * DIM, DIM, (size_t)HID * DIM, (size_t)HID * DIM,
                       (size_t)DIM * HID};
    t.n[t.count++] = (size_t)VOCAB * DIM;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 9; k++)
            t.n[t.count++] = sizes[k];
    t.n[t.count++] = DIM;
    t.n[t.count++] = (size_t)VOCAB * DIM;
    for (int i = 0; i < t.count; i++) {
        t.x[i] = gen(t.n[i], 0.02);
        t.bytes += t.n[i] * sizeof(float);
    }
    report("(c) 110M shape (in memory)", &t);
    for (int i = 0; i < t.count; i++)
        free((void *)t.x[i]);
    free(t.x);
    free(t.n);
}

/* Per-channel statistics of a token_embd-shaped matrix (32000 x 768),
 * rows and columns, beside the plain read of the same bytes. */
static void bench_channels(void)
{
    size_t R = 32000, C = 768, n = R * C;
    float *x = gen(n, 0.02);
    struct stats *out = malloc(R * sizeof *out);
    if (!x || !out) {
        printf("stats  per-channel: out of memory\n");
        free(x);
        free(out);
        return;
    }
    double tr[REPS], trow[REPS], tcol[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_thread_cpu();
        sink = plain_sum(x, n);
        double t1 = bench_thread_cpu();
        stats_per_channel(x, R, C, STATS_ROWS, NULL, out);
        double t2 = bench_thread_cpu();
        stats_per_channel(x, R, C, STATS_COLS, NULL, out);
        double t3 = bench_thread_cpu();
        tr[r] = t1 - t0;
        trow[r] = t2 - t1;
        tcol[r] = t3 - t2;
    }
    bench_sort(tr, REPS);
    bench_sort(trow, REPS);
    bench_sort(tcol, REPS);
    double b = n * sizeof(float) * 1e-9, gr = b / tr[REPS / 2];
    printf("stats  %-44s %8.1f MB  read %6.2f GB/s  rows %6.2f GB/s (%.2f)  cols %6.2f GB/s (%.2f)\n",
           "(d) per channel, 32000x768", b * 1e3, gr, b / trow[REPS / 2],
           b / trow[REPS / 2] / gr, b / tcol[REPS / 2], b / tcol[REPS / 2] / gr);
    free(x);
    free(out);
}

/* Prefer the real file path when the loaders' generator is built. */
static void bench_110m(void)
{
    const char *b = getenv("QLENS_BUILD");
    char tool[4096], out[4096], cmd[8192 + 256];
    snprintf(tool, sizeof tool, "%s/tests/tool_genmodel", b ? b : "build");
    if (access(tool, X_OK) != 0) {
        bench_110m_memory();
        return;
    }
    snprintf(out, sizeof out, "%s/qlens-bench-110m-%d.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    snprintf(cmd, sizeof cmd,
             "'%s' --format gguf --dim 768 --hidden 2048 --layers 12 --heads 12 --vocab 32000 "
             "--ctx 1024 '%s' >/dev/null",
             tool, out);
    if (system(cmd) != 0) {
        printf("stats  tool_genmodel failed; using in-memory tensors\n");
        bench_110m_memory();
    } else {
        bench_model("(c) 110M shape (tool_genmodel GGUF)", out);
    }
    unlink(out);
}

/* ---- (e) F16 files: streamed statistics vs read() ---- */

/* read() of the whole file in 8 MB pieces; seconds of [0] thread CPU,
 * [1] wall. */
static void read_file(const char *path, double t[2])
{
    int fd = open(path, O_RDONLY);
    char *buf = malloc(8 << 20);
    double c0 = bench_thread_cpu(), w0 = bench_wall();
    ssize_t k;
    while (fd >= 0 && buf && (k = read(fd, buf, 8 << 20)) > 0)
        sink = (float)buf[k - 1];
    t[0] = bench_thread_cpu() - c0;
    t[1] = bench_wall() - w0;
    free(buf);
    if (fd >= 0)
        close(fd);
}

static int stats_file(struct qmodel *m, int threads, double t[2])
{
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.threads = threads;
    struct tstats ts;
    struct qerr err = {0};
    double c0 = bench_thread_cpu(), w0 = bench_wall();
    int rc = tstats_compute(m, &o, &ts, &err);
    t[0] = bench_thread_cpu() - c0;
    t[1] = bench_wall() - w0;
    tstats_free(&ts);
    return rc;
}

#define FREPS 5

static void bench_f16_file(const char *what, const char *path)
{
    struct qmodel m;
    struct qerr err = {0};
    struct stat st;
    if (stat(path, &st) || qmodel_open(&m, path, &err)) {
        printf("stats  %s: cannot open %s\n", what, path);
        return;
    }
    double rd[2], tmp[2], rc[FREPS], rw[FREPS], s1[FREPS], sw[FREPS];
    read_file(path, rd); /* warm the page cache */
    int nth = tstats_threads(NULL, m.n_tensors), bad = 0;
    for (int r = 0; r < FREPS; r++) {
        read_file(path, rd);
        rc[r] = rd[0];
        rw[r] = rd[1];
        bad |= stats_file(&m, 1, tmp);
        s1[r] = tmp[0];
        bad |= stats_file(&m, 0, tmp);
        sw[r] = tmp[1];
    }
    qmodel_close(&m);
    if (bad) {
        printf("stats  %s: statistics failed\n", what);
        return;
    }
    double gb = st.st_size * 1e-9, c = bench_median(rc, FREPS), w = bench_median(rw, FREPS);
    double a = bench_median(s1, FREPS), b = bench_median(sw, FREPS);
    printf("stats  %-44s %8.1f MB  read %5.2f GB/s  stats, 1 thread %5.2f GB/s  ratio %.2f "
           "(CPU time)\n", what, gb * 1e3, gb / c, gb / a, c / a);
    printf("stats  %-44s %8s     read %5.2f GB/s  stats, %d threads %5.2f GB/s  ratio %.2f "
           "(wall)\n", "", "", gb / w, nth, gb / b, w / b);
}

static void bench_f16(void)
{
    const char *b = getenv("QLENS_BUILD"), *tmp = getenv("TMPDIR");
    char tool[4096], out[4096], cmd[8192 + 256], big[4096];
    snprintf(tool, sizeof tool, "%s/tests/tool_genmodel", b ? b : "build");
    snprintf(out, sizeof out, "%s/qlens-bench-110m-f16-%d.gguf", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "'%s' --format gguf --dim 768 --hidden 2048 --layers 12 --heads 12 --vocab 32000 "
             "--ctx 1024 --dtype f16 '%s' >/dev/null", tool, out);
    if (access(tool, X_OK) != 0 || system(cmd) != 0)
        printf("stats  (e) F16 file: tool_genmodel missing or failed; skipped\n");
    else
        bench_f16_file("(e) 110M shape, F16 GGUF, streamed", out);
    unlink(out);
    const char *p = getenv("QLENS_BENCH_1B");
    snprintf(big, sizeof big, "%s/qlens-bench-1.1b-f16.gguf", tmp && *tmp ? tmp : "/tmp");
    p = p && *p ? p : big;
    if (access(p, R_OK) == 0)
        bench_f16_file("(e) 1.1B shape, F16 GGUF, streamed", p);
    else
        printf("stats  (e) 1.1B F16: %s absent (bench_mem generates it); skipped\n", p);
}

int main(void)
{
    const char *sh = getenv("QLENS_SHARED");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.bin", sh && *sh ? sh : "../shared");
    printf("stats  single thread (thread CPU time), median of %d; ratio = stats GB/s / "
           "plain-read GB/s (target >= 0.50)\n", REPS);
    bench_large();
    bench_model("(b) stories260K, all tensors", access(path, R_OK) == 0 ? path : NULL);
    bench_110m();
    bench_channels();
    bench_f16();
    return 0;
}
