/* tdiff: streaming error metrics of a tensor against a reference. */
#include <math.h>
#include <string.h>

#include "analysis/tdiff.h"

void tdiff_init(struct tdiff *d)
{
    memset(d, 0, sizeof *d);
}

void tdiff_add(struct tdiff *d, const float *base, const float *other, int64_t n)
{
    double sse = 0, sig = 0, mx = d->max_abs;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = base[i], q = other[i];
        if (!isfinite(w) || !isfinite(q)) {
            bad++;
            continue;
        }
        double e = q - w;
        sse += e * e;
        sig += w * w;
        if (fabs(e) > mx)
            mx = fabs(e);
    }
    d->sse += sse;
    d->sig += sig;
    d->max_abs = mx;
    d->n += n - bad;
    d->n_nonfinite += bad;
}

void tdiff_merge(struct tdiff *a, const struct tdiff *b)
{
    a->sse += b->sse;
    a->sig += b->sig;
    if (b->max_abs > a->max_abs)
        a->max_abs = b->max_abs;
    a->n += b->n;
    a->n_nonfinite += b->n_nonfinite;
}

void tdiff_finish(const struct tdiff *d, struct tdiff_metrics *m)
{
    m->n = d->n;
    m->n_nonfinite = d->n_nonfinite;
    m->max_abs = d->max_abs;
    m->mse = d->n ? d->sse / (double)d->n : 0;
    if (d->sse == 0) {
        m->sqnr_db = 300;
        m->rel_fro = 0;
    } else if (d->sig == 0) {
        m->sqnr_db = -300;
        m->rel_fro = INFINITY;
    } else {
        m->sqnr_db = 10 * log10(d->sig / d->sse);
        m->rel_fro = sqrt(d->sse / d->sig);
    }
}
