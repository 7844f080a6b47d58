/* check_fileid: FNV-1a 64 against the published vectors, and the hash of
 * a file's two ends against the same bytes hashed in memory. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/fileid.h"
#include "tests/testutil.h"

START_TEST(test_fnv_vectors)
{
    ck_assert(fileid_fnv(FILEID_FNV_INIT, "", 0) == 0xcbf29ce484222325ULL);
    ck_assert(fileid_fnv(FILEID_FNV_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    ck_assert(fileid_fnv(FILEID_FNV_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    /* continuing equals hashing the concatenation */
    ck_assert(fileid_fnv(fileid_fnv(FILEID_FNV_INIT, "foo", 3), "bar", 3) ==
              fileid_fnv(FILEID_FNV_INIT, "foobar", 6));
}
END_TEST

/* A file of n bytes: its two ends hashed from disk equal the reference
 * over the same bytes in memory (the first end, then the last). */
static void check_ends(size_t n)
{
    unsigned char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131u + (i >> 9));
    const char *path = tu_tmpfile("ends.bin");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    size_t e = n < FILEID_END_BYTES ? n : FILEID_END_BYTES;
    uint64_t want = fileid_fnv(fileid_fnv(FILEID_FNV_INIT, b, e), b + n - e, e);
    int fd = open(path, O_RDONLY);
    uint64_t got = 0;
    ck_assert_int_eq(fileid_hash_ends(fd, n, &got), 0);
    ck_assert(got == want);
    /* a size beyond the file is a read error, not a short hash */
    ck_assert_int_eq(fileid_hash_ends(fd, n + 10, &got), -1);
    close(fd);
    free(b);
}

START_TEST(test_hash_ends)
{
    check_ends(0);
    check_ends(100);
    check_ends(FILEID_END_BYTES);
    check_ends(3 * FILEID_END_BYTES + 17);
}
END_TEST

START_TEST(test_ends_see_a_changed_tail)
{
    size_t n = 4 * FILEID_END_BYTES;
    unsigned char *b = calloc(n, 1);
    const char *path = tu_tmpfile("tail.bin");
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        b[n - 1] = (unsigned char)k;
        FILE *f = fopen(path, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
        int fd = open(path, O_RDONLY);
        ck_assert_int_eq(fileid_hash_ends(fd, n, &h[k]), 0);
        close(fd);
    }
    ck_assert(h[0] != h[1]);
    free(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fileid");
    TCase *t = tcase_create("fileid");
    tcase_add_test(t, test_fnv_vectors);
    tcase_add_test(t, test_hash_ends);
    tcase_add_test(t, test_ends_see_a_changed_tail);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
