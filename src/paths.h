/* paths: where qlens finds its files: the shared folder (models and
 * texts), the model to open, the bundled assets (papers' results).
 *
 * Every function writes into a buffer the caller owns and keeps no static
 * state, so the dashboard's worker thread may call them. */
#ifndef QLENS_PATHS_H
#define QLENS_PATHS_H

#include <stddef.h>

#include "analysis/qerr.h"
#include "analysis/results.h"

/* Folder of the shared data: $QLENS_SHARED, else ../shared relative to the
 * working directory, else ../shared relative to the executable's
 * directory.  0 with the path in buf, or -1 when none exists. */
int paths_shared_dir(char *buf, size_t cap);
/* A file under the shared folder ("data/tinystories-eval.txt"): 0 with its
 * path in buf when it exists, else -1. */
int paths_shared_file(const char *rel, char *buf, size_t cap);
/* The model: arg, else $QLENS_MODEL, else <shared>/models/stories260K.bin
 * when it exists.  0 with the path in buf; else QERR_ARG with a message in
 * err saying how to point qlens at a model. */
int paths_model(const char *arg, char *buf, size_t cap, struct qerr *err);
/* The assets folder (holds results/): $QLENS_ASSETS, else assets/ beside
 * the executable or one level up (build dirs), else ./assets, else
 * ../share/qlens beside the executable's bin/ (an install), else
 * QLENS_PREFIX/share/qlens.  0 with the path in buf, -1 when none. */
int paths_assets_dir(char *buf, size_t cap);
/* Load the bundled papers' data (<assets>/results/ *.json) into s; errors
 * say how to point qlens at the assets. */
int paths_load_papers(struct results_store *s, struct qerr *err);
/* The user's cache folder for qlens: $QLENS_CACHE_DIR, else
 * $XDG_CACHE_HOME/qlens, else $HOME/.cache/qlens (not created here).  0
 * with the path in buf, -1 when none can be named (no HOME) or it does
 * not fit. */
int paths_cache_dir(char *buf, size_t cap);

#endif
