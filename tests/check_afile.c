/* afile: atomic writes keep the old file on every failure path. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

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

int main(void)
{
    Suite *s = suite_create("afile");
    TCase *t = tcase_create("afile");
    tcase_add_test(t, bad_path);
    tcase_add_test(t, write_and_replace);
    tcase_add_test(t, abort_keeps_old);
    tcase_add_test(t, failed_write_keeps_old);
    suite_add_tcase(s, t);
    return tu_run(s);
}
