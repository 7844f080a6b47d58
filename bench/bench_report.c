/* bench_report: wall time of `qlens report` (report_write, HTML, defaults:
 * weight statistics, 3 outlier maps and histograms, the correlation over
 * the bundled data) on a 110M-shape Llama (dim 768, 12 layers, hidden
 * 2048, vocab 32000; random F32 weights from tool_genmodel), with the file
 * in the page cache ("statistics cached": a first run reads it), beside
 * the statistics pass alone (tstats_compute over every tensor) in the same
 * run.  Median of REPS; target: report under 10 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "src/model.h"
#include "cli/report.h"
#include "src/tstats.h"

#define REPS 3

static double time_stats(const char *path)
{
    struct qmodel m;
    struct qerr err = {0};
    struct tstats ts;
    struct tstats_opts o;
    if (qmodel_open(&m, path, &err))
        return -1;
    tstats_opts_default(&o);
    double t0 = bench_wall();
    int rc = tstats_compute(&m, &o, &ts, &err);
    double dt = bench_wall() - t0;
    tstats_free(&ts);
    qmodel_close(&m);
    return rc ? -1 : dt;
}

static double time_report(const char *model, const char *out, int md)
{
    struct report_opts o;
    struct qerr err = {0};
    report_opts_default(&o);
    o.model = model;
    o.out = out;
    o.md = md;
    o.cmdline = "bench_report";
    double t0 = bench_wall();
    int rc = report_write(&o, NULL, &err);
    double dt = bench_wall() - t0;
    if (rc)
        printf("report  failed: %s\n", err.msg);
    return rc ? -1 : dt;
}

int main(void)
{
    const char *b = getenv("QLENS_BUILD"), *tmp = getenv("TMPDIR");
    char model[4096], out[4096], md[4096], cmd[8192 + 256];
    int pid = (int)getpid();
    snprintf(model, sizeof model, "%s/qlens-bench-report-%d.gguf", tmp ? tmp : "/tmp", pid);
    snprintf(out, sizeof out, "%s/qlens-bench-report-%d.html", tmp ? tmp : "/tmp", pid);
    snprintf(md, sizeof md, "%s/qlens-bench-report-%d.md", tmp ? tmp : "/tmp", pid);
    snprintf(cmd, sizeof cmd,
             "'%s/tests/tool_genmodel' --format gguf --dim 768 --hidden 2048 --layers 12 "
             "--heads 12 --vocab 32000 --ctx 1024 '%s' >/dev/null",
             b ? b : "build", model);
    if (system(cmd) != 0) {
        printf("report  skipped: tool_genmodel failed (make tests-build)\n");
        return 1;
    }
    double ts[REPS], tr[REPS], tm[REPS];
    int ok = time_report(model, out, 0) > 0; /* warm the page cache */
    for (int r = 0; ok && r < REPS; r++) {
        ts[r] = time_stats(model);
        tr[r] = time_report(model, out, 0);
        tm[r] = time_report(model, md, 1);
        ok = ts[r] > 0 && tr[r] > 0 && tm[r] > 0;
    }
    struct stat st;
    if (ok && stat(out, &st) == 0) {
        double s = bench_median(ts, REPS), h = bench_median(tr, REPS),
               m = bench_median(tm, REPS);
        printf("report  110M shape (F32 GGUF, cached), wall, median of %d:\n", REPS);
        printf("report    statistics pass alone   %6.2f s\n", s);
        printf("report    qlens report (HTML)     %6.2f s  = %.2f x the statistics pass; "
               "%.0f KB; target < 10 s: %s\n",
               h, h / s, st.st_size / 1024.0, h < 10 ? "met" : "MISSED");
        printf("report    qlens report --format md %5.2f s  = %.2f x the statistics pass\n", m,
               m / s);
    }
    unlink(model);
    unlink(out);
    unlink(md);
    for (int k = 1; k < 64; k++) {
        char f[4200];
        snprintf(f, sizeof f, "%s/qlens-bench-report-%d-fig%d.svg", tmp ? tmp : "/tmp", pid, k);
        unlink(f);
    }
    return ok ? 0 : 1;
}
