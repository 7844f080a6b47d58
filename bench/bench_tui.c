/* bench_tui: key-replay frame times of the dashboard on a 110M-shape model.
 *
 * Writes a random-weight model with the shapes of Llama-110M (dim 768,
 * hidden 2048, 12 heads, vocab 32000; 2 layers instead of 12: every
 * tensor has its full 110M shape, only the count differs) with
 * tests/tool_genmodel, opens it in the dashboard on a virtual 120x40
 * terminal (newterm to /dev/null), replays keys and times each frame
 * (key handling + full redraw + refresh).  Target: every frame < 50 ms.
 * Ratios: frame time over the 50 ms budget, and over a baseline pass that
 * reads the same tensor once (sum of |x|), measured in the same run.
 *
 * First frame: the dashboard draws the tensor list before any statistics
 * (a thread fills them in, ui/statsload.h).  Timed from tui_open to the
 * end of the first tui_draw, against the time until every tensor's
 * statistics are in: what the first frame waited for before.  On the
 * 110M shape above, and on a 7B-shape F16 file (dim 4096, hidden 11008,
 * 32 layers, 32 heads, vocab 32000; 13.5 GB): $QLENS_BENCH_7B, else
 * generated into $TMPDIR when the disk has room (and deleted after,
 * unless QLENS_BENCH_KEEP=1), else skipped with a message
 * (QLENS_BENCH_7B=off skips it).  Measured in a child process so its peak
 * RSS is its own, twice: statistics computed (an empty results cache of
 * its own), then the model reopened (every row from that cache). */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ui/draw.h"
#include "ui/keys.h"
#include "ui/tui.h"
#include "ui/tui_int.h" /* the walk below reads t->ti and the model */
#include "bench/bench.h"

struct series { const char *name; double max, sum; int n; };

/* Each key's frame, then the frames that finish its work; `also` (may
 * be NULL) records the same frames once more, for a key reported on its
 * own line. */
static void step_also(struct tui *t, struct series *s, struct series *also, int key)
{
    double t0 = (1e3 * bench_wall());
    tui_step(t, key);
    for (;;) {
        double dt = (1e3 * bench_wall()) - t0;
        for (struct series *x = s; x; x = x == s ? also : NULL) {
            x->sum += dt;
            x->n++;
            if (dt > x->max)
                x->max = dt;
        }
        t0 = (1e3 * bench_wall());
        if (!tui_idle(t))
            break;
    }
}

static void step(struct tui *t, struct series *s, int key)
{
    step_also(t, s, NULL, key);
}

static void report(const struct series *s, double base_ms)
{
    printf("%-34s frames %3d  mean %7.2f ms  max %7.2f ms  max/50ms %.2f  max/scan %.1f  %s\n",
           s->name, s->n, s->sum / s->n, s->max, s->max / 50, s->max / base_ms,
           s->max < 50 ? "ok" : "SLOW");
}

/* Baseline: one read of n floats (what any view of the tensor must at
 * least do once). */
static double scan_ms(int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x);
    if (!x)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(i % 1000) * 1e-3f - 0.5f;
    double best = 1e9, sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = (1e3 * bench_wall()), s = 0;
        for (int64_t i = 0; i < n; i++)
            s += fabsf(x[i]);
        double dt = (1e3 * bench_wall()) - t0;
        sink += s;
        best = dt < best ? dt : best;
    }
    free(x);
    return best + (sink == 12345 ? 1e-9 : 0);
}

/* ---- first frame on a 7B-shape file ---- */

#define BIG_BYTES 13.5e9

static double free_disk_gb(const char *dir)
{
    struct statvfs v;
    return statvfs(dir, &v) == 0 ? (double)v.f_bavail * (double)v.f_frsize / 1e9 : -1;
}

/* The 7B-shape model: given, or generated (*made = 1), or NULL (why is
 * printed). */
static const char *big_model(char *buf, size_t cap, int *made)
{
    const char *p = getenv("QLENS_BENCH_7B");
    *made = 0;
    if (p && !strcmp(p, "off")) {
        printf("7B shape: skipped (QLENS_BENCH_7B=off)\n");
        return NULL;
    }
    if (p && *p)
        return p;
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    double gb = free_disk_gb(tmp);
    if (gb < BIG_BYTES / 1e9 + 4) {
        printf("7B shape: skipped, %s has %.1f GB free and the 13.5 GB file needs %.1f "
               "(QLENS_BENCH_7B=FILE uses an existing one)\n", tmp, gb, BIG_BYTES / 1e9 + 4);
        return NULL;
    }
    snprintf(buf, cap, "%s/qlens-bench-7b-f16-%d.gguf", tmp, (int)getpid());
    const char *b = getenv("QLENS_BUILD");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s/tests/tool_genmodel' --format gguf --dim 4096 --hidden 11008 "
             "--layers 32 --heads 32 --vocab 32000 --ctx 4096 --dtype f16 '%s' >/dev/null",
             b ? b : "build", buf);
    printf("generating %s (13.5 GB; minutes) ...\n", buf);
    fflush(stdout);
    double t0 = bench_wall();
    if (system(cmd) != 0) {
        printf("7B shape: skipped, generating it failed\n");
        remove(buf);
        return NULL;
    }
    printf("generated in %.0f s\n", bench_wall() - t0);
    *made = 1;
    return buf;
}

/* Child: open, first frame, every statistic; prints one line.  `what`
 * says whether the statistics cache was empty or filled. */
/* The dashboard on path with a curses screen on /dev/null (a child
 * process's, *scr); *t0 is the wall clock just before the model opens.  NULL
 * after saying why on stderr. */
static struct tui *headless_open(const char *path, double *t0, SCREEN **scr)
{
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    if (!out || !in || !(*scr = newterm("xterm-256color", out, in)))
        return NULL;
    draw_init();
    char err[800];
    *t0 = bench_wall();
    struct tui *t = tui_open(path, err, sizeof err);
    if (!t) {
        endwin();
        fprintf(stderr, "bench_tui: %s\n", err);
    }
    return t;
}

static int big_child(const char *path, const char *what)
{
    double t0;
    SCREEN *scr;
    struct tui *t = headless_open(path, &t0, &scr);
    if (!t)
        return 1;
    tui_draw(t);
    double first = bench_wall() - t0;
    int left = tui_poll_stats(t);
    tui_wait_stats(t);
    double all = bench_wall() - t0;
    tui_close(t);
    endwin();
    delscreen(scr);
    const char *base = strrchr(path, '/');
    printf("%s, %s: first frame %.0f ms (%d tensors without statistics yet); statistics of "
           "every tensor in %.2f s; first frame / statistics = %.4f\n", base ? base + 1 : path,
           what, 1e3 * first, left, all, first / all);
    fflush(stdout); /* the child leaves with _exit */
    return 0;
}

static void bench_big(void)
{
    char buf[512];
    int made;
    const char *path = big_model(buf, sizeof buf, &made);
    if (!path)
        return;
    /* a statistics cache of its own: computed first, then reopened */
    const char *tmp = getenv("TMPDIR");
    char cache[600], cmd[700];
    snprintf(cache, sizeof cache, "%s/qlens-bench-cache-%d", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    setenv("QLENS_CACHE_DIR", cache, 1);
    unsetenv("QLENS_NO_STATS_CACHE");
    for (int pass = 0; pass < 2; pass++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(big_child(path, pass ? "reopened (statistics cache)" : "computed"));
        int st = 0;
        if (pid > 0)
            waitpid(pid, &st, 0);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru); /* the largest child so far: the first */
        if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            printf("the measurement failed\n");
        else if (!pass)
            printf("peak RSS %.2f GB\n", (double)ru.ru_maxrss / 1048576.0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_tui: cannot remove %s\n", cache);
    if (made && !getenv("QLENS_BENCH_KEEP"))
        remove(path);
}

/* ---- memory while browsing a 1.1B-shape F16 model ---- */

/* kB of one /proc/self/status field ("VmHWM:", "RssAnon:"), or -1. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) {
            kb = atol(line + n);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* Child: open, every statistic, then every tensor shown in the Tensor view
 * (its map and histogram finished) in list order, as a user walking the
 * model with Down and 2 would; up to `max` tensors (0: all). */
static int walk_child(const char *path, int max)
{
    double t_open;
    SCREEN *scr;
    struct tui *t = headless_open(path, &t_open, &scr);
    if (!t)
        return 1;
    tui_wait_stats(t);
    long after_open = status_kb("VmRSS:");
    int n = t->m.n_tensors, seen = 0, last = -1;
    if (max <= 0 || max > n)
        max = n;
    double t0 = bench_wall();
    for (int press = 0; press < 3 * n && seen < max; press++) {
        tui_step(t, '1');
        tui_step(t, UIK_DOWN);
        if (t->ti == last)
            continue; /* a group header */
        last = t->ti;
        tui_step(t, '2');
        while (tui_idle(t))
            ;
        seen++;
    }
    double secs = bench_wall() - t0;
    size_t held = qmodel_f32_bytes(), budget = qmodel_f32_budget();
    long hwm = status_kb("VmHWM:"), anon = status_kb("RssAnon:"), file = status_kb("RssFile:");
    tui_close(t);
    endwin();
    delscreen(scr);
    const char *base = strrchr(path, '/');
    printf("%s: walked %d of %d tensors in the Tensor view in %.1f s; RSS after opening %.2f GB, "
           "peak %.2f GB; at the end anonymous %.2f GB, file pages %.2f GB; float copies held "
           "%.2f GB (budget %.2f GB)\n", base ? base + 1 : path, seen, n, secs,
           after_open / 1048576.0, hwm / 1048576.0, anon / 1048576.0, file / 1048576.0,
           held / 1073741824.0, budget / 1073741824.0);
    fflush(stdout);
    return 0;
}

/* $QLENS_BENCH_1B, else bench_mem's generated file when it exists (not
 * generated here: bench_mem makes it); QLENS_BENCH_WALK_MAX caps the
 * tensors walked. */
static void bench_walk(void)
{
    const char *p = getenv("QLENS_BENCH_1B");
    char buf[512];
    if (!p || !*p) {
        const char *tmp = getenv("TMPDIR");
        snprintf(buf, sizeof buf, "%s/qlens-bench-1.1b-f16v.gguf", tmp && *tmp ? tmp : "/tmp");
        p = buf;
    }
    if (!strcmp(p, "off")) {
        printf("walk of a 1.1B model: skipped (QLENS_BENCH_1B=off)\n");
        return;
    }
    if (access(p, R_OK) != 0) {
        printf("walk of a 1.1B model: skipped (no %s; bench_mem generates it, or set "
               "QLENS_BENCH_1B)\n", p);
        return;
    }
    const char *mx = getenv("QLENS_BENCH_WALK_MAX");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(walk_child(p, mx ? atoi(mx) : 0));
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        printf("walk of a 1.1B model: the measurement failed\n");
}

int main(void)
{
    const char *build = getenv("QLENS_BUILD");
    setenv("QLENS_NO_STATS_CACHE", "1", 1); /* measure the computation, not a cache */
    char model[512], cmd[1400];
    snprintf(model, sizeof model, "/tmp/qlens-bench-tui-%d.gguf", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "'%s/tests/tool_genmodel' --format gguf --dim 768 --hidden 2048 --layers 2 "
             "--heads 12 --vocab 32000 --ctx 1024 --dtype f16 '%s' >/dev/null",
             build ? build : "build", model);
    double t0 = (1e3 * bench_wall());
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_tui: cannot generate the model (%s)\n", cmd);
        return 1;
    }
    printf("generated a 110M-shape model (2 layers) in %.0f ms\n", (1e3 * bench_wall()) - t0);
    setlocale(LC_ALL, "");
    setenv("LINES", "40", 1);
    setenv("COLUMNS", "120", 1);
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr = newterm("xterm-256color", out, in);
    if (!scr) {
        fprintf(stderr, "bench_tui: newterm failed\n");
        remove(model);
        return 1;
    }
    draw_init();
    char err[800];
    t0 = (1e3 * bench_wall());
    struct tui *t = tui_open(model, err, sizeof err);
    if (!t) {
        endwin();
        delscreen(scr);
        fprintf(stderr, "bench_tui: %s\n", err);
        remove(model);
        return 1;
    }
    tui_draw(t);
    double first_ms = (1e3 * bench_wall()) - t0;
    tui_wait_stats(t); /* the frame series below sort on statistics */
    double open_ms = (1e3 * bench_wall()) - t0;
    tui_draw(t);
    struct series nav = {"layers: Down/PgDn/sort", 0, 0, 0};
    for (int i = 0; i < 20; i++)
        step(t, &nav, UIK_DOWN);
    step(t, &nav, UIK_NPAGE);
    step(t, &nav, 's');
    step(t, &nav, 's');
    step(t, &nav, UIK_HOME);
    /* token_embd (32000 x 768, the largest tensor): open, zoom, pan */
    struct series map = {"tensor view 32000x768: open/zoom/pan", 0, 0, 0};
    tui_step(t, '/');
    for (const char *p = "token_embd"; *p; p++)
        tui_step(t, *p);
    tui_step(t, '\n');
    step(t, &map, '\n');
    for (int i = 0; i < 6; i++)
        step(t, &map, '+');
    for (int i = 0; i < 10; i++)
        step(t, &map, UIK_RIGHT);
    for (int i = 0; i < 6; i++)
        step(t, &map, '-');
    step(t, &map, 'p');
    step(t, &map, 'p');
    step(t, &map, 'p');
    /* live RTN on the largest block layer (ffn 2048 x 768 / 768 x 2048) */
    struct series rtn = {"quant view: live RTN bits/group", 0, 0, 0};
    tui_step(t, '1');
    tui_step(t, '/');
    for (const char *p = "blk.0.ffn_down"; *p; p++)
        tui_step(t, *p);
    tui_step(t, '\n');
    /* entering: its frames prepare the result's memory, quantize, then
     * prepare B's memory (ui/vm_quant.h) */
    struct series enter = {"  of which: entering (3), all frames", 0, 0, 0};
    step_also(t, &rtn, &enter, '3');
    for (int i = 0; i < 4; i++)
        step(t, &rtn, 'b');
    for (int i = 0; i < 4; i++)
        step(t, &rtn, 'B');
    step(t, &rtn, 'g');
    step(t, &rtn, 'a');
    /* A/B (issue 13 item 1): pin B, change A, zoom: five maps follow */
    struct series ab = {"quant view A/B: pin, bits, zoom", 0, 0, 0};
    struct series pin = {"  of which: pinning B (p)", 0, 0, 0};
    step_also(t, &ab, &pin, 'p');
    step(t, &ab, 'B');
    step(t, &ab, 'B');
    for (int i = 0; i < 3; i++)
        step(t, &ab, '+');
    for (int i = 0; i < 5; i++)
        step(t, &ab, UIK_RIGHT);
    step(t, &ab, '-');
    step(t, &ab, 'v');
    double base = scan_ms(2048 * 768);
    double base_big = scan_ms(32000LL * 768);
    printf("first frame (tensor list, statistics loading): %.1f ms; statistics of every "
           "tensor in %.0f ms; first frame / statistics = %.3f\n", first_ms, open_ms,
           first_ms / open_ms);
    printf("baseline scan: %.2f ms (2048x768), %.2f ms (32000x768)\n", base, base_big);
    report(&nav, base);
    report(&map, base_big);
    report(&rtn, base);
    report(&enter, base);
    printf("%-34s %.1f ms from the key to the last of its %d frames\n", "  entering (3):", enter.sum,
           enter.n);
    report(&ab, base);
    report(&pin, base);
    int slow = nav.max >= 50 || map.max >= 50 || rtn.max >= 50 || ab.max >= 50;
    tui_close(t);
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
    remove(model);
    double la[1] = {0};
    getloadavg(la, 1);
    printf("every frame under 50 ms: %s (load average %.1f on %ld CPUs during the run)\n",
           slow ? "NO" : "yes", la[0], sysconf(_SC_NPROCESSORS_ONLN));
    bench_walk();
    bench_big();
    return 0;
}
