/* statsload: background weight statistics for the Layers rows. */
#include "ui/statsload.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/qclock.h"
#include "src/tscache.h"
#include "src/tstats.h"

/* The next tensor: the wanted one if it is still to do, else the first
 * to do after `from`.  Claims it (TODO -> BUSY); -1 when none is left. */
static int claim_next(struct statsload *l, int *from)
{
    int w = atomic_exchange(&l->want, -1);
    int expect = SL_TODO;
    if (w >= 0 && w < l->n && atomic_compare_exchange_strong(&l->it[w].state, &expect, SL_BUSY))
        return w;
    for (; *from < l->n; (*from)++) {
        expect = SL_TODO;
        if (atomic_compare_exchange_strong(&l->it[*from].state, &expect, SL_BUSY))
            return (*from)++;
    }
    return -1;
}

static int in_place(const struct qtensor *t)
{
    return t->dtype == QD_F32 && (uintptr_t)t->data % sizeof(float) == 0 && t->add == 0.0f;
}

double statsload_copy_bytes(const struct qmodel *m)
{
    double b = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (!in_place(&m->tensors[i]))
            b += (double)m->tensors[i].nelem * sizeof(float);
    return b;
}

static void *sl_thread(void *p)
{
    struct statsload *l = p;
    struct tstats_opts o;
    tstats_opts_default(&o);
    o.cancel = &l->cancel_v;
    o.cache = l->cache;
    int from = 0, i;
    while (!atomic_load(&l->cancel) && (i = claim_next(l, &from)) >= 0) {
        struct sl_item *it = &l->it[i];
        if (l->delay_ms > 0) {
            struct timespec ts = {0, (long)l->delay_ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        struct tstats_row r;
        struct qerr err;
        memset(&r, 0, sizeof r);
        qerr_clear(&err);
        if (l->copies) { /* into the model's budgeted cache (thread-safe, src/model.h) */
            struct qtensor *mt = &l->m->tensors[i];
            if (qtensor_f32_pin(mt))
                qtensor_f32_unpin(mt);
        }
        it->rc = tstats_tensor(&l->shadow, i, &o, &r, &err);
        struct qerr gone;
        if (it->rc == 0 && qmodel_intact(&l->shadow, &gone) < 0) { /* read zeros: void */
            it->rc = gone.code;
            err = gone;
        }
        it->st = r.st;
        snprintf(it->err, sizeof it->err, "%.150s", err.msg);
        free(r.ch);
        atomic_store(&it->state, SL_DONE); /* publishes rc, st, err */
        atomic_fetch_add(&l->n_done, 1);
    }
    struct qerr err;
    if (l->cache && tscache_save(l->cache, &err) < 0)
        snprintf(l->cache_err, sizeof l->cache_err, "%.150s", err.msg);
    atomic_store(&l->finished, 1);
    return NULL;
}

int statsload_start(struct statsload *l, struct qmodel *m, double copy_budget)
{
    memset(l, 0, sizeof *l);
    l->m = m;
    l->n = m->n_tensors;
    l->shadow = *m; /* shares the mappings and the header, read-only */
    l->shadow.tensors = malloc((size_t)(l->n ? l->n : 1) * sizeof *l->shadow.tensors);
    l->it = calloc((size_t)(l->n ? l->n : 1), sizeof *l->it);
    if (!l->shadow.tensors || !l->it) {
        free(l->shadow.tensors);
        free(l->it);
        l->shadow.tensors = NULL;
        l->it = NULL;
        return QERR_NOMEM;
    }
    if (l->n > 0) /* an empty model may have no table at all */
        memcpy(l->shadow.tensors, m->tensors, (size_t)l->n * sizeof *l->shadow.tensors);
    for (int i = 0; i < l->n; i++) {
        struct qtensor *t = &l->shadow.tensors[i];
        t->f32 = NULL; /* the model's copies and overrides are not ours */
        t->override = NULL;
        t->f32_pins = t->f32_lru = 0;
        atomic_init(&l->it[i].state, SL_TODO);
    }
    atomic_init(&l->cancel, 0);
    atomic_init(&l->want, -1);
    atomic_init(&l->n_done, 0);
    atomic_init(&l->finished, 0);
    l->copies = copy_budget > 0 && statsload_copy_bytes(m) <= copy_budget;
    struct qerr cerr;
    qerr_clear(&cerr);
    if (!getenv("QLENS_NO_STATS_CACHE") && m->n_maps > 0) /* none: run without */
        l->cache = tscache_open(m, NULL, &cerr);
    if (l->cache)
        l->cache_state = tscache_state(l->cache, l->cache_why, sizeof l->cache_why);
    const char *d = getenv("QLENS_STATS_DELAY_MS");
    l->delay_ms = d ? atoi(d) : 0;
    l->delay_ms = l->delay_ms < 0 ? 0 : l->delay_ms > 999 ? 999 : l->delay_ms;
    l->t_start = qclock_seconds();
    if (pthread_create(&l->th, NULL, sl_thread, l) != 0) {
        statsload_free(l); /* no thread to join: frees the tables and the cache */
        return QERR_IO;
    }
    l->running = 1;
    return 0;
}

int statsload_take(struct statsload *l, struct vm_layers *v)
{
    if (!l->it)
        return 0;
    int got = 0, over = atomic_load(&l->finished);
    for (int i = 0; i < l->n && i < v->n_rows; i++) {
        int s = atomic_load(&l->it[i].state);
        if (s == SL_DONE) {
            struct sl_item *it = &l->it[i];
            if (it->rc == 0)
                vm_layers_set_stats(v, i, &it->st);
            else
                vm_layers_set_failed(v, i, it->err[0] ? it->err : "statistics failed");
        } else if (s == SL_TODO && over) { /* cancelled before its turn */
            vm_layers_set_failed(v, i, "statistics not computed: cancelled");
        } else {
            continue;
        }
        atomic_store(&l->it[i].state, SL_TAKEN);
        got++;
    }
    if (over && !l->t_end)
        l->t_end = qclock_seconds();
    if (got)
        vm_layers_refresh(v);
    return got;
}

void statsload_want(struct statsload *l, int ti)
{
    if (l->it && ti >= 0 && ti < l->n && atomic_load(&l->it[ti].state) == SL_TODO)
        atomic_store(&l->want, ti);
}

int statsload_busy(const struct statsload *l)
{
    return l->running && !atomic_load(&l->finished);
}

int statsload_done(const struct statsload *l) { return atomic_load(&l->n_done); }

void statsload_cancel(struct statsload *l)
{
    l->cancel_v = 1;
    atomic_store(&l->cancel, 1);
}

double statsload_eta(const struct statsload *l, double now)
{
    int done = statsload_done(l);
    double el = now - l->t_start;
    if (done < 1 || el < 0.5 || done >= l->n)
        return -1;
    return el / done * (l->n - done);
}

void statsload_join(struct statsload *l)
{
    if (!l->running)
        return;
    pthread_join(l->th, NULL);
    l->running = 0;
}

void statsload_free(struct statsload *l)
{
    statsload_cancel(l);
    statsload_join(l);
    if (l->cache)
        tscache_close(l->cache);
    l->cache = NULL;
    free(l->shadow.tensors);
    free(l->it);
    l->shadow.tensors = NULL;
    l->it = NULL;
}

int statsload_cache_hits(const struct statsload *l)
{
    return l->cache ? tscache_hits(l->cache) : 0;
}
