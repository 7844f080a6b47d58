/* bench_sens: the cost of the sensitivity pass (src/sens.h) as a multiple
 * of one float evaluation of the same chunks, measured in the same run on
 * stories260K ($QLENS_SHARED/models/stories260K.bin, tinystories texts,
 * 4 chunks of 512 tokens, 2 calibration chunks).
 *
 * Reported (medians of 3): one float evaluation (pipe_run_float, which
 * also fills the logit cache), one cell (quantize one tensor + one KL pass
 * against the cached float logits) as a ratio to it, and the whole pass
 * (calibration capture + float + tensors x candidates cells) as a ratio:
 * about n_cells x the cell ratio, what a user pays per candidate.
 *
 * Then the cells alone, one at a time (--cell-threads 1: each KL pass on
 * ppl's two chunk workers) against every thread running cells of its own
 * (the default), interleaved run by run, as the ratio of the two wall
 * times (> 1: the parallel cells are faster), with the threads the
 * machine has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "src/sens.h"

#define REPS 3

/* CPU seconds of every thread of the process. */
static double process_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int one_pass(const char *model, int cell_threads, double *t_float, double *t_cells,
                    double *t_cells_only, double *cpu, int *n_cells, int *at_once)
{
    struct pipe_opts o;
    pipe_opts_default(&o);
    o.ctx = 512;
    o.chunks = 4;
    o.calib_chunks = 2;
    struct pipe_env e;
    struct qerr err = {0};
    struct sens s;
    struct sens_cand *c;
    int n_c, rc = sens_parse_cands("rtn:4:32,rtn:3:32", &c, &n_c, &err);
    if (!rc && !(rc = pipe_setup(&e, model, &o, NULL, &err))) {
        struct sens_ctl ctl = {NULL, NULL, 0, NULL, 0, cell_threads}; /* no cache: the cost */
        double c0 = process_cpu();
        rc = sens_run(&s, &e, &o, c, n_c, &ctl, &err);
        *cpu = process_cpu() - c0;
        *t_float = s.seconds_float;
        *t_cells = s.seconds_calib + s.seconds_float + s.seconds_cells;
        *t_cells_only = s.seconds_cells;
        *n_cells = s.n_t * s.n_c;
        *at_once = s.cell_threads;
        sens_free(&s);
        pipe_teardown(&e);
    }
    if (rc)
        fprintf(stderr, "bench_sens: %s\n", err.msg);
    return rc;
}

int main(void)
{
    const char *shared = cli_shared_file("models/stories260K.bin");
    char *model = shared ? strdup(shared) : NULL; /* the next lookup reuses the buffer */
    if (!model) {
        fprintf(stderr, "bench_sens: no stories260K (set QLENS_SHARED)\n");
        return 1;
    }
    double f[REPS], w[REPS], ratio[REPS], ser, par, sp[REPS], cs, cp, cr[REPS], x;
    int n = 0, k_ser = 0, k_par = 0;
    for (int r = 0; r < REPS; r++) {
        if (one_pass(model, 1, &x, &x, &ser, &cs, &n, &k_ser) ||
            one_pass(model, 0, &f[r], &w[r], &par, &cp, &n, &k_par)) {
            free(model);
            return 1;
        }
        ratio[r] = w[r] / f[r];
        sp[r] = ser / par;
        cr[r] = cs / cp;
    }
    double rm = bench_median(ratio, REPS), fm = bench_median(f, REPS);
    printf("stories260K, 4 chunks x 512, 2 candidates x %d tensors = %d cells\n", n / 2, n);
    printf("  float evaluation      %8.3f s (median of %d)\n", fm, REPS);
    printf("  whole pass            %8.1f x one float evaluation\n", rm);
    printf("  per cell              %8.3f x one float evaluation\n", rm / n);
    printf("  cells %d at once vs %d at once: wall time x %.2f (> 1: parallel faster), "
           "CPU time x %.2f (medians of %d interleaved pairs)\n", k_par, k_ser,
           bench_median(sp, REPS), bench_median(cr, REPS), REPS);
    free(model);
    return 0;
}
