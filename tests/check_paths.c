/* paths: shared folder, model and assets lookup into caller buffers (no
 * static state: the dashboard's worker thread calls them), and the
 * bundled results loaded from a folder (analysis/results_dir.c). */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/paths.h"
#include "tests/testutil.h"

START_TEST(shared_folder_and_files)
{
    char buf[PATH_MAX];
    const char *dir = tu_tmpdir();
    setenv("QLENS_SHARED", dir, 1);
    ck_assert_int_eq(paths_shared_dir(buf, sizeof buf), 0);
    ck_assert_str_eq(buf, dir);
    /* A missing file, and a buffer too small: -1, never a cut path. */
    ck_assert_int_eq(paths_shared_file("data/none.txt", buf, sizeof buf), -1);
    ck_assert_int_eq(tu_write_file(tu_tmpfile("a.txt"), "x", 1), 0);
    ck_assert_int_eq(paths_shared_file("a.txt", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, tu_tmpfile("a.txt"));
    ck_assert_int_eq(paths_shared_file("a.txt", buf, 4), -1);
    ck_assert_int_eq(paths_shared_dir(buf, 2), -1);
}
END_TEST

START_TEST(model_lookup)
{
    char buf[PATH_MAX];
    struct qerr err = {0};
    setenv("QLENS_SHARED", tu_tmpdir(), 1);
    unsetenv("QLENS_MODEL");
    ck_assert_int_eq(paths_model("m.gguf", buf, sizeof buf, &err), 0);
    ck_assert_str_eq(buf, "m.gguf");
    setenv("QLENS_MODEL", "/x/env.bin", 1);
    ck_assert_int_eq(paths_model(NULL, buf, sizeof buf, &err), 0);
    ck_assert_str_eq(buf, "/x/env.bin");
    ck_assert_int_eq(paths_model("", buf, sizeof buf, &err), 0);
    ck_assert_str_eq(buf, "/x/env.bin");
    unsetenv("QLENS_MODEL");
    /* No default model in this shared folder: say how to give one. */
    ck_assert_int_eq(paths_model(NULL, buf, sizeof buf, &err), QERR_ARG);
    ck_assert(strstr(err.msg, "QLENS_MODEL"));
    ck_assert_int_eq(paths_model("long-name.gguf", buf, 4, &err), QERR_ARG);
}
END_TEST

/* Two threads resolving different files at once get their own answers
 * (the CLI's static rotating buffers could not promise that). */
static void *resolve(void *arg)
{
    const char *rel = arg;
    char buf[PATH_MAX];
    for (int i = 0; i < 2000; i++)
        if (paths_shared_file(rel, buf, sizeof buf) < 0 || !strstr(buf, rel))
            return (void *)1;
    return NULL;
}

START_TEST(thread_safe)
{
    setenv("QLENS_SHARED", tu_tmpdir(), 1);
    ck_assert_int_eq(tu_write_file(tu_tmpfile("one.txt"), "1", 1), 0);
    ck_assert_int_eq(tu_write_file(tu_tmpfile("two.txt"), "2", 1), 0);
    pthread_t a, b;
    void *ra, *rb;
    pthread_create(&a, NULL, resolve, "one.txt");
    pthread_create(&b, NULL, resolve, "two.txt");
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    ck_assert_ptr_null(ra);
    ck_assert_ptr_null(rb);
}
END_TEST

START_TEST(results_folder)
{
    struct results_store s;
    struct qerr err = {0};
    results_store_init(&s);
    ck_assert_int_eq(results_load_dir(&s, "/nonexistent-dir", &err), QERR_IO);
    ck_assert(strstr(err.msg, "/nonexistent-dir: cannot open directory"));
    /* An empty folder is an empty store; a bad file names itself. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/res", tu_tmpdir());
    mkdir(dir, 0700);
    ck_assert_int_eq(results_load_dir(&s, dir, &err), 0);
    ck_assert_int_eq(s.n, 0);
    char f[PATH_MAX + 16];
    snprintf(f, sizeof f, "%s/b.json", dir);
    ck_assert_int_eq(tu_write_file(f, "{\"schema\": 5", 12), 0);
    ck_assert_int_lt(results_load_dir(&s, dir, &err), 0);
    ck_assert_msg(strstr(err.msg, "b.json"), "%s", err.msg);
    results_store_free(&s);
    /* The bundled papers' data loads through the assets lookup. */
    results_store_init(&s);
    setenv("QLENS_ASSETS", "assets", 1);
    ck_assert_int_eq(paths_load_papers(&s, &err), 0);
    ck_assert_int_gt(s.n, 10);
    results_store_free(&s);
    setenv("QLENS_ASSETS", tu_tmpdir(), 1);
    results_store_init(&s);
    ck_assert_int_eq(paths_load_papers(&s, &err), QERR_IO);
    ck_assert(strstr(err.msg, "has no results/ directory"));
    results_store_free(&s);
    unsetenv("QLENS_ASSETS");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("paths");
    TCase *tc = tcase_create("paths");
    tcase_add_test(tc, shared_folder_and_files);
    tcase_add_test(tc, model_lookup);
    tcase_add_test(tc, thread_safe);
    tcase_add_test(tc, results_folder);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
