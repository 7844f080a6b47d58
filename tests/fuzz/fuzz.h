/* fuzz: helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Every harness defines LLVMFuzzerTestOneInput.  Built by `make fuzz` with
 * clang -fsanitize=fuzzer,address,undefined it is a libFuzzer target; linked
 * with tests/fuzz/replay.c by the regular compiler it replays the files given
 * on its command line (the regression inputs under tests/fuzz/regress/).
 *
 * Parsers that only take a path get the input as a file in a private
 * temporary directory (on /dev/shm when present: no disk traffic), removed
 * at exit. */
#ifndef QLENS_FUZZ_H
#define QLENS_FUZZ_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_[256];
static char fuzz_files_[8][64]; /* names written, removed at exit */
static int fuzz_n_files_;

static inline void fuzz_cleanup_(void)
{
    char p[1024];
    for (int i = 0; i < fuzz_n_files_; i++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_dir_, fuzz_files_[i]);
        unlink(p);
    }
    rmdir(fuzz_dir_);
}

/* The private directory, made on first use. */
static inline const char *fuzz_dir(void)
{
    if (fuzz_dir_[0])
        return fuzz_dir_;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/qlens-fuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_dir_)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup_);
    return fuzz_dir_;
}

/* Write data to NAME in the private directory; returns the full path
 * (a static buffer per call site is not needed: one of 8 slots by name). */
static inline const char *fuzz_file(const char *name, const void *data, size_t size)
{
    static char paths[8][1024];
    int slot = -1;
    for (int i = 0; i < fuzz_n_files_; i++)
        if (!strcmp(fuzz_files_[i], name))
            slot = i;
    if (slot < 0) {
        if (fuzz_n_files_ == 8)
            abort();
        slot = fuzz_n_files_++;
        snprintf(fuzz_files_[slot], sizeof fuzz_files_[slot], "%s", name);
    }
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
    int fd = open(paths[slot], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(paths[slot]);
        abort();
    }
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0) {
            perror(paths[slot]);
            abort();
        }
        p += w;
        size -= (size_t)w;
    }
    close(fd);
    return paths[slot];
}

/* A file under the shared data directory ($QLENS_SHARED, else ../shared),
 * or NULL when it is not there. */
static inline const char *fuzz_shared(const char *rel)
{
    static char p[8][1024];
    static int k;
    const char *root = getenv("QLENS_SHARED");
    char *out = p[k++ & 7];
    snprintf(out, sizeof p[0], "%s/%s", root && *root ? root : "../shared", rel);
    return access(out, R_OK) == 0 ? out : NULL;
}

/* The input as a NUL-terminated string (malloc'd). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        abort();
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}
#endif
