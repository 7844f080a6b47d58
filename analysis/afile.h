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

/* A path that is a symbolic link writes the file it points to (the
 * temporary file goes beside the target, so the link stays a link); a
 * dangling link, a device, a FIFO, a socket or a directory is refused with
 * "PATH: not a regular file (...)" and nothing is created. */
int afile_open(struct afile *a, const char *path, struct qerr *err);
/* The file a save to `path` replaces, into out[n]: path itself when it does
 * not exist, the final target of a symbolic link, else path; <0 with the
 * message above when that is not a regular file. */
int afile_target(const char *path, char *out, size_t n, struct qerr *err);
/* Returns 0, or <0 with "PATH: cannot write: ... (the old file is unchanged)". */
int afile_commit(struct afile *a, struct qerr *err);
void afile_abort(struct afile *a);

/* The reading side: a whole file in a NUL-terminated buffer (owned by the
 * caller; *n bytes, the NUL not counted, so a file may hold NUL bytes).
 * `max` > 0 refuses a larger file.  NULL with "PATH: cannot open: ...",
 * "PATH: cannot read: ...", "PATH: larger than MAX bytes" or out of
 * memory in err. */
char *afile_read(const char *path, size_t max, size_t *n, struct qerr *err);
/* Every afile_read caps at `max`, or at AFILE_READ_MAX when max is 0, and
 * reads only regular files (below): a device such as /dev/zero, or a FIFO,
 * is refused instead of read until memory runs out or blocking forever. */
#define AFILE_READ_MAX ((size_t)1 << 30)
/* The same from an open stream (standard input: a pipe is fine there);
 * `name` names it in messages; max 0 = AFILE_READ_MAX. */
char *afile_read_stream(FILE *f, const char *name, size_t max, size_t *n, struct qerr *err);

/* Open a file that must be a regular file for reading, without blocking on
 * a FIFO: the descriptor (st filled when not NULL), or <0 with
 * "PATH: cannot open: ..." or "PATH: not a regular file (a FIFO)". */
struct stat;
int afile_open_regular(const char *path, struct stat *st, struct qerr *err);
/* The same as a stdio stream ("rb"); NULL with err filled. */
FILE *afile_fopen_regular(const char *path, struct qerr *err);

#endif
