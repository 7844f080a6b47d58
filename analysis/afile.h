/* afile: write a file atomically, so nothing a user saved is lost.
 *
 * afile_open creates a temporary file beside the target (same directory, so
 * the final rename cannot cross file systems) and keeps the mode of an
 * existing target; the caller writes through a->f; afile_commit flushes,
 * fsyncs, renames over the target and fsyncs the directory.  Until the rename
 * the old file is untouched; on any failure (or afile_abort) the temporary
 * file is removed.  Every writer of user files (results stores, the session
 * file, exports, CSV, GGUF) goes through here. */
#ifndef QLENS_AFILE_H
#define QLENS_AFILE_H

#include <limits.h>
#include <stdio.h>

#include "analysis/qerr.h"

struct afile {
    FILE *f;
    char tmp[PATH_MAX];
    char path[PATH_MAX];
};

int afile_open(struct afile *a, const char *path, struct qerr *err);
/* Returns 0, or <0 with "PATH: cannot write: ... (the old file is unchanged)". */
int afile_commit(struct afile *a, struct qerr *err);
void afile_abort(struct afile *a);

/* The reading side: a whole file in a NUL-terminated buffer (owned by the
 * caller; *n bytes, the NUL not counted, so a file may hold NUL bytes).
 * `max` > 0 refuses a larger file.  NULL with "PATH: cannot open: ...",
 * "PATH: cannot read: ...", "PATH: larger than MAX bytes" or out of
 * memory in err. */
char *afile_read(const char *path, size_t max, size_t *n, struct qerr *err);

#endif
