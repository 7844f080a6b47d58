/* afile: atomic writes keep the old file on every failure path. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>

#include "analysis/afile.h"
#include "tests/testutil.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Nothing but the named files in the test directory: no temp file left. */
static int count_tmp(void)
{
    DIR *d = opendir(tu_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

START_TEST(bad_path)
{
    struct afile a;
    struct qerr err = {0};
    ck_assert_int_eq(afile_open(&a, "/nonexistent-dir/x.json", &err), QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.json"));
}
END_TEST

START_TEST(write_and_replace)
{
    const char *p = tu_tmpfile("a.txt");
    struct afile a;
    struct qerr err = {0};
    ck_assert_int_eq(afile_open(&a, p, &err), 0);
    fputs("one\n", a.f);
    ck_assert_int_eq(afile_commit(&a, &err), 0);
    ck_assert_str_eq(slurp(p), "one\n");
    chmod(p, 0600);
    ck_assert_int_eq(afile_open(&a, p, &err), 0);
    fputs("two\n", a.f);
    ck_assert_str_eq(slurp(p), "one\n"); /* untouched until the commit */
    ck_assert_int_eq(afile_commit(&a, &err), 0);
    ck_assert_str_eq(slurp(p), "two\n");
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600); /* a replaced file keeps its mode */
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

START_TEST(abort_keeps_old)
{
    const char *p = tu_tmpfile("b.txt");
    ck_assert_int_eq(tu_write_file(p, "old\n", 4), 0);
    struct afile a;
    struct qerr err = {0};
    ck_assert_int_eq(afile_open(&a, p, &err), 0);
    fputs("half-written", a.f);
    afile_abort(&a);
    ck_assert_str_eq(slurp(p), "old\n");
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

/* A write that fails (file size limit, as on a full disk) leaves the old
 * file whole and says so. */
START_TEST(failed_write_keeps_old)
{
    const char *p = tu_tmpfile("c.txt");
    ck_assert_int_eq(tu_write_file(p, "old\n", 4), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit keep, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &keep), 0);
    rl = keep;
    rl.rlim_cur = 100;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    struct afile a;
    struct qerr err = {0};
    int rc = afile_open(&a, p, &err);
    if (!rc) {
        for (int i = 0; i < 1000; i++)
            fputs("0123456789", a.f);
        rc = afile_commit(&a, &err);
    }
    setrlimit(RLIMIT_FSIZE, &keep);
    ck_assert_int_eq(rc, QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "old file is unchanged"));
    ck_assert_str_eq(slurp(p), "old\n");
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

/* afile_read: missing and empty files first, then NUL bytes, growth past
 * the first buffer (exact multiples of it too) and the size cap. */
START_TEST(read_whole_files)
{
    struct qerr err = {0};
    size_t n = 99;
    ck_assert_ptr_null(afile_read(tu_tmpfile("absent.txt"), 0, &n, &err));
    ck_assert_int_eq(err.code, QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "absent.txt: cannot open: "));
    const char *p = tu_tmpfile("read.bin");
    ck_assert_int_eq(tu_write_file(p, "", 0), 0);
    char *b = afile_read(p, 0, &n, &err);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(b[0], '\0');
    free(b);
    ck_assert_int_eq(tu_write_file(p, "a\0b", 3), 0);
    b = afile_read(p, 0, &n, &err);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(b, "a\0b", 4), 0);
    free(b);
    static const size_t sizes[] = {65535, 65536, 65537, 131071, 200000};
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        ck_assert_int_eq(tu_write_file(p, big, sizes[k]), 0);
        b = afile_read(p, 0, &n, &err);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(n, sizes[k]);
        ck_assert_int_eq(memcmp(b, big, n), 0);
        ck_assert_int_eq(b[n], '\0');
        free(b);
    }
    b = afile_read(p, 200000, &n, &err);  /* exactly the cap: read */
    ck_assert_ptr_nonnull(b);
    free(b);
    ck_assert_ptr_null(afile_read(p, 199999, &n, &err));
    ck_assert_int_eq(err.code, QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "read.bin: larger than 199999 bytes"));
}
END_TEST

/* A save through a symbolic link writes the target and leaves the link a
 * link; a dangling link, a FIFO, a device or a directory is refused with
 * nothing created. */
START_TEST(save_onto_links_and_specials)
{
    const char *target = tu_tmpfile("target.json"), *link = tu_tmpfile("link.json");
    ck_assert_int_eq(tu_write_file(target, "old\n", 4), 0);
    ck_assert_int_eq(symlink("target.json", link), 0); /* relative, as ln -s makes */
    struct afile a;
    struct qerr err = {0};
    ck_assert_int_eq(afile_open(&a, link, &err), 0);
    fputs("new\n", a.f);
    ck_assert_int_eq(afile_commit(&a, &err), 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_str_eq(slurp(target), "new\n");
    ck_assert_int_eq(count_tmp(), 0);
    char t2[PATH_MAX];
    ck_assert_int_eq(afile_target(link, t2, sizeof t2, &err), 0);
    ck_assert_ptr_nonnull(strstr(t2, "/target.json"));

    const char *dangling = tu_tmpfile("dangling.json");
    ck_assert_int_eq(symlink("nowhere/x.json", dangling), 0);
    ck_assert_int_eq(afile_open(&a, dangling, &err), QERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "symbolic link"));

    const char *fifo = tu_tmpfile("fifo.json");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(afile_open(&a, fifo, &err), QERR_IO);
    ck_assert_msg(strstr(err.msg, "not a regular file (a FIFO)"), "%s", err.msg);
    ck_assert_int_eq(lstat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode)); /* still the FIFO */
    ck_assert_int_eq(afile_open(&a, "/dev/null", &err), QERR_IO);
    ck_assert_msg(strstr(err.msg, "a character device"), "%s", err.msg);
    ck_assert_int_eq(afile_open(&a, tu_tmpdir(), &err), QERR_IO);
    ck_assert_msg(strstr(err.msg, "a directory"), "%s", err.msg);
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

/* Reading: a FIFO is refused without blocking (no writer ever comes), a
 * device without reading it, a regular file over the cap before reading. */
START_TEST(read_refuses_specials)
{
    struct qerr err = {0};
    size_t n;
    const char *fifo = tu_tmpfile("rfifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_ptr_null(afile_read(fifo, 0, &n, &err));
    ck_assert_msg(strstr(err.msg, "not a regular file (a FIFO)"), "%s", err.msg);
    ck_assert_int_eq(afile_open_regular(fifo, NULL, &err), QERR_IO);
    ck_assert_ptr_null(afile_fopen_regular(fifo, &err));
    ck_assert_ptr_null(afile_read("/dev/zero", 0, &n, &err));
    ck_assert_int_eq(err.code, QERR_IO);
    ck_assert_msg(strstr(err.msg, "/dev/zero: not a regular file (a character device)"), "%s",
                  err.msg);
    /* a stream is read up to the cap, then refused */
    FILE *z = fopen("/dev/zero", "rb");
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_null(afile_read_stream(z, "standard input", 100000, &n, &err));
    fclose(z);
    ck_assert_msg(strstr(err.msg, "standard input: larger than 100000 bytes"), "%s", err.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("afile");
    TCase *t = tcase_create("afile");
    tcase_add_test(t, bad_path);
    tcase_add_test(t, write_and_replace);
    tcase_add_test(t, abort_keeps_old);
    tcase_add_test(t, failed_write_keeps_old);
    tcase_add_test(t, read_whole_files);
    tcase_add_test(t, save_onto_links_and_specials);
    tcase_add_test(t, read_refuses_specials);
    suite_add_tcase(s, t);
    return tu_run(s);
}
