#include "analysis/afile.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for messages. */
static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO"
         : S_ISSOCK(m) ? "a socket" : "not a plain file";
}

int afile_target(const char *path, char *out, size_t n, struct qerr *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return qerr_set(err, QERR_IO, "%s: cannot write: %s", path, strerror(errno));
        st.st_mode = S_IFREG; /* a new file */
    } else if (S_ISLNK(st.st_mode)) {
        /* Write through the link: renaming over the link itself would turn
         * it into a plain file and leave its target stale. */
        char *real = realpath(path, NULL);
        if (!real)
            return qerr_set(err, QERR_IO, "%s: a symbolic link to nothing usable (%s); "
                            "not written", path, strerror(errno));
        int long_ = strlen(real) >= n;
        if (!long_)
            memcpy(out, real, strlen(real) + 1);
        free(real);
        if (long_)
            return qerr_set(err, QERR_ARG, "%s: path of its target too long", path);
        if (stat(out, &st) != 0)
            return qerr_set(err, QERR_IO, "%s: cannot write: %s", path, strerror(errno));
        path = out;
    }
    if (!S_ISREG(st.st_mode))
        return qerr_set(err, QERR_IO, "%s: not a regular file (%s); qlens saves only "
                        "to regular files, nothing was written", path, kind_of(st.st_mode));
    if (path != out && (size_t)snprintf(out, n, "%s", path) >= n)
        return qerr_set(err, QERR_ARG, "%s: path too long", path);
    return 0;
}

int afile_open(struct afile *a, const char *path, struct qerr *err)
{
    memset(a, 0, sizeof *a);
    int rc = afile_target(path, a->path, sizeof a->path, err);
    if (rc)
        return rc;
    if ((size_t)snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", a->path) >= sizeof a->tmp)
        return qerr_set(err, QERR_ARG, "%s: path too long", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        a->tmp[0] = '\0';
        return qerr_set(err, QERR_IO, "%s: cannot create a temporary file beside it: %s",
                        a->path, strerror(errno));
    }
    struct stat st;
    /* A replaced file keeps its permissions; a new one gets the usual 0644. */
    if (fchmod(fd, stat(a->path, &st) == 0 ? (st.st_mode & 07777) : 0644) != 0) {
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

int afile_open_regular(const char *path, struct stat *st, struct qerr *err)
{
    struct stat local;
    if (!st)
        st = &local;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        int e = errno;
        int reg = S_ISREG(st->st_mode);
        close(fd);
        if (reg)
            return qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(e));
        return qerr_set(err, QERR_IO, "%s: not a regular file (%s); qlens reads only "
                        "regular files here", path, kind_of(st->st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

FILE *afile_fopen_regular(const char *path, struct qerr *err)
{
    int fd = afile_open_regular(path, NULL, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

char *afile_read_stream(FILE *f, const char *name, size_t max, size_t *n, struct qerr *err)
{
    if (!max)
        max = AFILE_READ_MAX;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    /* grow by doubling; one byte is always kept free for the NUL */
    for (size_t got; buf && (got = fread(buf + len, 1, cap - 1 - len, f)) > 0;) {
        len += got;
        if (len > max)
            break;
        if (len == cap - 1) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    if (!buf || e || len > max) {
        if (!buf)
            qerr_set(err, QERR_NOMEM, "%s: out of memory reading it", name);
        else if (e)
            qerr_set(err, QERR_IO, "%s: cannot read: %s", name, strerror(e));
        else
            qerr_set(err, QERR_FORMAT, "%s: larger than %zu bytes", name, max);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}

char *afile_read(const char *path, size_t max, size_t *n, struct qerr *err)
{
    if (!max)
        max = AFILE_READ_MAX;
    struct stat st;
    int fd = afile_open_regular(path, &st, err);
    if (fd < 0)
        return NULL;
    if ((uintmax_t)st.st_size > max) { /* refused before reading a byte */
        close(fd);
        qerr_set(err, QERR_FORMAT, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        qerr_set(err, QERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    char *buf = afile_read_stream(f, path, max, n, err);
    fclose(f);
    return buf;
}
