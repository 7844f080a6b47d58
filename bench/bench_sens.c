/* bench_sens: the cost of the sensitivity pass (src/sens.h) as a multiple
 * of one float evaluation of the same chunks, measured in the same run on
 * stories260K ($QLENS_SHARED/models/stories260K.bin, tinystories texts,
 * 4 chunks of 512 tokens, 2 calibration chunks).
 *
 * Reported (medians of 3): one float evaluation (pipe_run_float, which
 * also fills the logit cache), one cell (quantize one tensor + one KL pass
 * against the cached float logits) as a ratio to it, and the whole pass
 * (calibration capture + float + tensors x candidates cells) as a ratio:
 * about n_cells x the cell ratio, what a user pays per candidate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "src/sens.h"

#define REPS 3

static int one_pass(const char *model, double *t_float, double *t_cells, int *n_cells)
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
        rc = sens_run(&s, &e, &o, c, n_c, NULL, &err); /* no cache: the cost itself */
        *t_float = s.seconds_float;
        *t_cells = s.seconds_calib + s.seconds_float + s.seconds_cells;
        *n_cells = s.n_t * s.n_c;
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
    double f[REPS], w[REPS], ratio[REPS];
    int n = 0;
    for (int r = 0; r < REPS; r++) {
        if (one_pass(model, &f[r], &w[r], &n)) {
            free(model);
            return 1;
        }
        ratio[r] = w[r] / f[r];
    }
    double rm = bench_median(ratio, REPS), fm = bench_median(f, REPS);
    printf("stories260K, 4 chunks x 512, 2 candidates x %d tensors = %d cells\n", n / 2, n);
    printf("  float evaluation      %8.3f s (median of %d)\n", fm, REPS);
    printf("  whole pass            %8.1f x one float evaluation\n", rm);
    printf("  per cell              %8.3f x one float evaluation\n", rm / n);
    free(model);
    return 0;
}
