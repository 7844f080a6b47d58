/* tool_tokjson: batch side of tests/e2e_tokjson.sh.
 *
 *   tool_tokjson [--compat] TOKENIZER TEXTS
 *       load the tokenizer once, encode each NUL-separated text of the
 *       file TEXTS without BOS, print one line of space-separated ids per
 *       text (the format tests/tokjson_ref.js prints)
 *   tool_tokjson --norm NFC|NFD|NFKC|NFKD|lower TEXTS
 *       print each text normalized, NUL-separated (compared with Python's
 *       unicodedata.normalize and str.lower) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/afile.h"
#include "src/tokenizer.h"
#include "src/unicode.h"

static int norm_texts(const char *form, const char *buf, size_t n)
{
    static const char *names[] = {"NFC", "NFD", "NFKC", "NFKD"};
    int f = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(form, names[i]))
            f = i;
    if (f < 0 && strcmp(form, "lower")) {
        fprintf(stderr, "tool_tokjson: unknown form %s\n", form);
        return 2;
    }
    for (size_t start = 0; start <= n;) {
        const char *z = memchr(buf + start, '\0', n - start);
        size_t end = z ? (size_t)(z - buf) : n, on;
        char *o;
        int rc = f >= 0 ? ucp_normalize((enum ucp_nform)f, buf + start, end - start, &o, &on)
                        : ucp_lowercase(buf + start, end - start, &o, &on);
        if (rc < 0)
            return 4;
        if (start)
            putchar('\0');
        fwrite(o, 1, on, stdout);
        free(o);
        start = end + 1;
    }
    return 0;
}

static int encode_texts(struct tokenizer *t, const char *buf, size_t n)
{
    for (size_t start = 0; start <= n;) {
        const char *z = memchr(buf + start, '\0', n - start);
        size_t end = z ? (size_t)(z - buf) : n, n_ids;
        int *ids;
        struct qerr err = {0};
        if (tok_encode(t, buf + start, end - start, 0, &ids, &n_ids, &err) < 0) {
            fprintf(stderr, "tool_tokjson: text at byte %zu: %s\n", start, err.msg);
            return 1;
        }
        for (size_t i = 0; i < n_ids; i++)
            printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
        free(ids);
        start = end + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int compat = argc > 1 && !strcmp(argv[1], "--compat");
    int norm = argc == 4 && !strcmp(argv[1], "--norm");
    if (argc != 3 + (compat || norm)) {
        fprintf(stderr, "usage: tool_tokjson [--compat] TOKENIZER TEXTS\n"
                        "       tool_tokjson --norm NFC|NFD|NFKC|NFKD|lower TEXTS\n");
        return 2;
    }
    struct qerr err = {0};
    size_t n;
    char *buf = afile_read(argv[argc - 1], 0, &n, &err);
    if (!buf) {
        fprintf(stderr, "tool_tokjson: %s\n", err.msg);
        return 3;
    }
    int rc;
    if (norm) {
        rc = norm_texts(argv[2], buf, n);
    } else {
        struct tokenizer *t;
        if (tok_load_file(&t, argv[argc - 2], &err) < 0) {
            fprintf(stderr, "tool_tokjson: %s\n", err.msg);
            free(buf);
            return 1;
        }
        if (compat)
            tok_set_llamacpp_compat(t, 1);
        rc = encode_texts(t, buf, n);
        tok_free(t);
    }
    free(buf);
    return rc;
}
