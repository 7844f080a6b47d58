/* Shared by `qlens results`, `qlens correlate` and any view that shows the
 * results store: where the bundled data lives and how stores are loaded. */
#ifndef QLENS_CLI_RESULTS_H
#define QLENS_CLI_RESULTS_H

#include <stdio.h>

#include "analysis/qerr.h"
#include "analysis/results.h"

/* The assets directory: $QLENS_ASSETS, else assets/ beside the executable
 * or one level up (build dirs), else ./assets, else ../share/qlens beside
 * the executable's bin/ (an install), else QLENS_PREFIX/share/qlens.
 * NULL when none has results/.  Static string. */
const char *cli_assets_dir(void);
/* Load the bundled papers' data (assets/results/ *.json) into s. */
int cli_results_load_papers(struct results_store *s, struct qerr *err);
/* Load each of paths (the word "papers" means the bundled data) into s;
 * n == 0 loads the bundled data.  Duplicate ids with different values are
 * an error. */
int cli_results_load(struct results_store *s, char **paths, int n, struct qerr *err);
/* A CSV field on stdout: quoted, with inner quotes doubled. */
void cli_results_csv_str(const char *s);
/* The same into a stream (the sweep CSV file). */
void cli_results_csv_fstr(FILE *f, const char *s);

#endif
