#include "analysis/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int afile_open(struct afile *a, const char *path, struct qerr *err)
{
    memset(a, 0, sizeof *a);
    if ((size_t)snprintf(a->path, sizeof a->path, "%s", path) >= sizeof a->path ||
        (size_t)snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= sizeof a->tmp)
        return qerr_set(err, QERR_ARG, "%s: path too long", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0)
        return qerr_set(err, QERR_IO, "%s: cannot create a temporary file beside it: %s",
                        path, strerror(errno));
    struct stat st;
    /* A replaced file keeps its permissions; a new one gets the usual 0644. */
    if (fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644) != 0) {
        /* not fatal: the file is still ours and readable */
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        return qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

/* fsync the directory holding the file, so the rename itself is durable. */
static int sync_dir(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int afile_commit(struct afile *a, struct qerr *err)
{
    int bad = ferror(a->f) || fflush(a->f) || fsync(fileno(a->f));
    int e = errno;
    if (fclose(a->f) && !bad) {
        bad = 1;
        e = errno;
    }
    a->f = NULL;
    if (!bad && rename(a->tmp, a->path)) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(a->tmp);
        return qerr_set(err, QERR_IO, "%s: cannot write: %s (the old file is unchanged)",
                        a->path, strerror(e ? e : EIO));
    }
    if (sync_dir(a->path))
        return qerr_set(err, QERR_IO, "%s: written, but syncing its directory failed: %s",
                        a->path, strerror(errno));
    return 0;
}

void afile_abort(struct afile *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    if (a->tmp[0])
        unlink(a->tmp);
}

char *afile_read(const char *path, size_t max, size_t *n, struct qerr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    /* grow by doubling; one byte is always kept free for the NUL */
    for (size_t got; buf && (got = fread(buf + len, 1, cap - 1 - len, f)) > 0;) {
        len += got;
        if (max && len > max)
            break;
        if (len == cap - 1) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (!buf || e || (max && len > max)) {
        if (!buf)
            qerr_set(err, QERR_NOMEM, "%s: out of memory reading it", path);
        else if (e)
            qerr_set(err, QERR_IO, "%s: cannot read: %s", path, strerror(e));
        else
            qerr_set(err, QERR_FORMAT, "%s: larger than %zu bytes", path, max);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}
