/* statsload: the weight statistics of every tensor, computed on a thread
 * of their own after the dashboard's first frame, so a 7B model shows
 * its tensor list at once and the numbers fill in (issue 15 item 4).
 * No curses.
 *
 * The thread computes each tensor with tstats_tensor (src/tstats.h, the
 * one per-tensor entry point `qlens stats` uses too) on a private copy
 * of the model's tensor table whose float copies and overrides are
 * cleared: it only reads the mapped file bytes (tiled conversion), so it
 * never races with the main thread's lazy float copies or a job's
 * overrides, and never holds a float copy of a whole model.
 *
 * Order: model order, except that the tensor the user selects
 * (statsload_want) is computed next.  The main thread collects finished
 * tensors with statsload_take every tick.
 *
 * Float copies: when every tensor's float copy fits in `copy_budget`
 * bytes (a small model; the dashboard passes the float-copy budget,
 * $QLENS_F32_CACHE), the thread also makes each tensor's float copy in
 * the model's budgeted cache (pinned and released at once,
 * qtensor_f32_pin, thread-safe), so the Tensor and Quant views of a small
 * model open without a conversion inside a frame, as when the statistics
 * were computed before the first frame.  Above the budget (a 1B-70B
 * model) nothing is copied: statistics come from tiles and the views pin
 * the one tensor they show.
 *
 * Results cache (src/tscache.h): opened for the model when it starts,
 * consulted and filled by tstats_tensor, saved when the thread ends, so a
 * model opened again fills its rows from the cache at once.
 * QLENS_NO_STATS_CACHE=1 runs without it.
 *
 * QLENS_STATS_DELAY_MS=N (0..1000) waits N ms before each tensor: on a
 * small model the loading then lasts long enough to watch (the screen
 * tests and demos use it); it changes no number. */
#ifndef QLENS_UI_STATSLOAD_H
#define QLENS_UI_STATSLOAD_H

#include <pthread.h>
#include <stdatomic.h>

#include "analysis/stats.h"
#include "src/model.h"
#include "ui/vm_layers.h"

enum sl_state { SL_TODO = 0, SL_BUSY, SL_DONE, SL_TAKEN };

struct sl_item {
    atomic_int state;      /* enum sl_state                              */
    int rc;                /* tstats_tensor's status (valid when DONE)   */
    struct stats st;
    char err[160];
};

struct tscache;

struct statsload {
    struct qmodel *m;      /* the dashboard's model (float copies only)  */
    struct qmodel shadow;  /* the model's header with a private tensor
                              table (no f32 copies, no overrides)       */
    struct sl_item *it;    /* (n)                                        */
    int n;
    pthread_t th;
    int running;           /* a thread exists (main thread's view)       */
    atomic_int cancel;
    volatile int cancel_v; /* the same, for tstats_opts.cancel          */
    atomic_int want;       /* tensor to do next (-1 none)                */
    atomic_int n_done;     /* tensors finished by the thread             */
    atomic_int finished;   /* the thread has returned                    */
    int delay_ms;          /* QLENS_STATS_DELAY_MS                       */
    int copies;            /* make float copies (within the budget)      */
    struct tscache *cache; /* or NULL (no cache folder, no files)        */
    int cache_state;       /* enum tscache_state at open                 */
    char cache_why[160];   /* ... and what it found                      */
    char cache_err[160];   /* the save failed: why (after finished)      */
    double t_start, t_end; /* qclock seconds (t_end set by the main thread
                              when it sees the thread finished)          */
};

/* Start the thread on model m (read-only from here on for the thread:
 * only the mapped bytes); copy_budget: bytes of float copies allowed (0:
 * none; see above).  Returns 0, or QERR_NOMEM / QERR_IO. */
int statsload_start(struct statsload *l, struct qmodel *m, double copy_budget);
/* Bytes of float copies model m would need (tensors not readable as
 * floats in place). */
double statsload_copy_bytes(const struct qmodel *m);
/* Main thread: move the tensors finished since the last call into v
 * (statistics, or "failed: why"), refresh v when any arrived.  Returns
 * how many arrived. */
int statsload_take(struct statsload *l, struct vm_layers *v);
/* Tensors whose statistics came from the cache (valid once finished). */
int statsload_cache_hits(const struct statsload *l);
/* Main thread: compute tensor ti next (when not done yet). */
void statsload_want(struct statsload *l, int ti);
/* Tensors done so far and the total; 1 while the thread works. */
int statsload_busy(const struct statsload *l);
int statsload_done(const struct statsload *l);
/* Stop early (the rows left say "not computed: cancelled"). */
void statsload_cancel(struct statsload *l);
/* Seconds left at the pace so far (< 0: unknown). */
double statsload_eta(const struct statsload *l, double now);
/* Wait for the thread to end (it finishes unless cancelled). */
void statsload_join(struct statsload *l);
/* Cancel, join, free. */
void statsload_free(struct statsload *l);

#endif
