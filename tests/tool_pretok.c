/* tool_pretok: print the words a pre-tokenizer splits a file into, one per
 * line as hex bytes, so tests/e2e_tokenize.sh can compare them with the
 * real regexes (Python's `regex` module, which knows \p{L}).  NUL bytes
 * separate independent texts; a line "--" separates their words.
 *
 *   tool_pretok gpt2|llama3|qwen2|default|o200k|deepseek-v3 FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/tok_internal.h"

static const char *text;

static int emit(void *ctx, size_t start, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        printf("%02x", (unsigned char)text[start + i]);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; enum tok_pre pre; } pres[] = {
        {"gpt2", PRE_GPT2}, {"llama3", PRE_LLAMA3}, {"qwen2", PRE_QWEN2}, {"default", PRE_DEFAULT},
        {"o200k", PRE_O200K}, {"deepseek-v3", PRE_DEEPSEEK3}};
    int p = -1;
    for (size_t i = 0; argc == 3 && i < sizeof pres / sizeof *pres; i++)
        if (!strcmp(argv[1], pres[i].name))
            p = (int)i;
    if (p < 0) {
        fprintf(stderr, "usage: tool_pretok gpt2|llama3|qwen2|default|o200k|deepseek-v3 FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 3;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    if (!buf)
        return 4;
    int rc = 0;
    for (size_t start = 0; rc == 0 && start <= n;) {
        size_t end = start;
        while (end < n && buf[end])
            end++;
        text = buf + start;
        rc = tok_pretokenize(pres[p].pre, text, end - start, emit, NULL);
        if (end < n)
            puts("--");
        start = end + 1;
    }
    free(buf);
    return rc ? 4 : 0;
}
