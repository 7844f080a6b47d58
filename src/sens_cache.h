/* sens_cache: the sensitivity results kept between runs, so a second
 * `qlens sensitivity` (or the dashboard's Plan view) on the same model,
 * texts and settings reuses every cell it measured, and a cancelled run
 * keeps its finished cells.
 *
 * One JSON file per (model path, settings) under <cache dir>/sens/
 * (src/paths.h: $QLENS_CACHE_DIR, $XDG_CACHE_HOME/qlens, ~/.cache/qlens),
 * named sens-<FNV-1a 64 of the model's real path and the settings>.json.
 * It holds:
 *   the model's identity   real path, size, mtime (ns), FNV-1a 64 of its
 *                          first and last 64 KiB (the header and the end)
 *   the texts' identity    path, token count and FNV-1a 64 of the token
 *                          ids of the evaluation and calibration texts
 *   the settings           n_ctx, chunks, calib ctx/chunks, BOS, the
 *                          importance matrix file (path, size, mtime)
 *   the float baseline     PPL and chunk counts
 *   cells                  one per (tensor name, candidate spec as
 *                          quant_spec_format writes it): every measured
 *                          field of struct sens_cell (doubles as %.17g,
 *                          so they round-trip exactly)
 * Candidates are matched by their full spec, not the run's list, so a run
 * with other candidates reuses the ones it shares and the file keeps the
 * rest.  A file whose model or texts differ is STALE (reported with the
 * reason, then recomputed and overwritten); an unreadable one is CORRUPT
 * (reported, recomputed).  Never used silently. */
#ifndef QLENS_SENS_CACHE_H
#define QLENS_SENS_CACHE_H

#include <limits.h>
#include <stddef.h>

#include "analysis/qerr.h"
#include "src/sens.h"

struct sens_ident {
    char model[PATH_MAX];        /* real path                             */
    long long size, mtime_ns;
    unsigned long long head;     /* FNV-1a 64 of the first + last 64 KiB  */
    char config[PATH_MAX + 256]; /* the settings, as one line             */
    char eval[PATH_MAX], calib[PATH_MAX];
    size_t n_eval, n_calib;      /* tokens                                */
    unsigned long long eval_hash, calib_hash;
};

enum sens_cache_state {
    SENS_CACHE_OFF,              /* not asked for                          */
    SENS_CACHE_NONE,             /* no file yet                            */
    SENS_CACHE_LOADED,           /* a matching file (s->n_reused cells)    */
    SENS_CACHE_STALE,            /* model or text changed: recomputed      */
    SENS_CACHE_CORRUPT           /* unreadable: recomputed                 */
};


/* The identity of this run (model file, texts, settings). */
int sens_cache_ident(const struct pipe_env *e, const struct pipe_opts *o,
                     struct sens_ident *id, struct qerr *err);
/* <dir>/sens/sens-<hash>.json into buf; dir NULL: paths_cache_dir(). */
int sens_cache_path(const char *dir, const struct sens_ident *id, char *buf, size_t cap,
                    struct qerr *err);
/* Mark the cells of s found in the file done (counting s->n_reused), keep
 * the file's other cells in s->x, the baseline in s->base (s->have_base).
 * Returns the state; note gets a one-line message for STALE and CORRUPT
 * ("cache for MODEL is stale: model changed; recomputing"). */
enum sens_cache_state sens_cache_load(struct sens *s, const char *path,
                                      const struct sens_ident *id, char *note, size_t cap);
/* Write every done cell of s and s->x atomically (creating the folders). */
int sens_cache_save(const struct sens *s, const char *path, const struct sens_ident *id,
                    struct qerr *err);

#endif
