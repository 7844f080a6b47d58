/* tscache: whole-tensor statistics kept between runs, so `qlens stats`
 * and the dashboard reopen a model without reading it again.
 *
 * One file per model under <cache dir>/stats/ (src/paths.h:
 * $QLENS_CACHE_DIR, $XDG_CACHE_HOME/qlens, ~/.cache/qlens), named
 * stats-<FNV-1a 64 of the model's real path>.bin, written atomically
 * (analysis/afile).  Binary, little-endian as written by this machine:
 *
 *   "QLSTATS\0"  u32 version (TSCACHE_VERSION)  u32 entries
 *   identity     per model file: u64 dev, inode, size, mtime (ns) and the
 *                FNV-1a 64 of its first and last 64 KiB (the header)
 *   entries      tensor name (QM_NAME_MAX bytes), u32 dtype, u64 nelem,
 *                f64 abs_thresh, then every field of struct stats (u64 or
 *                f64, 19 of them)
 *   u64          FNV-1a 64 of everything before (a torn or edited file)
 *
 * A file whose identity differs from the model's is STALE, one that does
 * not parse or whose checksum fails is CORRUPT: both are ignored (the
 * caller says so) and replaced at the next save.  An entry is used only
 * for the same tensor name, type, element count and abs_thresh, and never
 * for a tensor with an override.  Per-channel statistics are not cached.
 *
 * Thread-safe: tstats' workers look up and add entries concurrently. */
#ifndef QLENS_TSCACHE_H
#define QLENS_TSCACHE_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "analysis/stats.h"
#include "src/model.h"

#define TSCACHE_VERSION 1

enum tscache_state {
    TSCACHE_NONE = 0,   /* no file yet                                */
    TSCACHE_LOADED,     /* a file for this very model                 */
    TSCACHE_STALE,      /* the model changed since: ignored           */
    TSCACHE_CORRUPT     /* unreadable: ignored                        */
};

struct tscache;

/* The cache of model m (its files must be open), read from
 * <dir>/stats/ (dir NULL: paths_cache_dir()).  NULL with err only when
 * no cache can be had at all (no cache folder can be named, the model's
 * files cannot be identified, out of memory): callers then run without. */
struct tscache *tscache_open(const struct qmodel *m, const char *dir, struct qerr *err);
/* What was found at open; `why` (cap bytes) says what, for a note. */
enum tscache_state tscache_state(const struct tscache *c, char *why, size_t cap);
/* 1 and *out filled when t's statistics with abs_thresh are cached. */
int tscache_get(struct tscache *c, const struct qtensor *t, double abs_thresh,
                struct stats *out);
/* Remember t's statistics (replacing an entry with the same key). */
void tscache_put(struct tscache *c, const struct qtensor *t, const struct stats *st);
/* Write the file when something was added (atomic; creates the folders).
 * Returns 0 or <0 with err ("PATH: cannot write ..."). */
int tscache_save(struct tscache *c, struct qerr *err);
/* Lookups that hit since open. */
int tscache_hits(const struct tscache *c);
const char *tscache_path(const struct tscache *c);
void tscache_close(struct tscache *c);

#endif
