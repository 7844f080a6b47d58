/* fuzz_encode: the text encoder on arbitrary bytes with the real
 * vocabularies: byte 0 picks llama2.c tok512.bin (SPM), llama.cpp's
 * ggml-vocab-llama-spm.gguf (SPM) or ggml-vocab-gpt-2.gguf (byte-level
 * BPE); the rest is the text.  Every id decodes back. */
#include "tests/fuzz/fuzz.h"
#include "src/tokenizer.h"

static struct tokenizer *toks[3];
static int loaded;

static void load_all(void)
{
    static const char *const files[3] = {"models/tok512.bin",
                                         "reference/tokenizer/ggml-vocab-llama-spm.gguf",
                                         "reference/tokenizer/ggml-vocab-gpt-2.gguf"};
    struct qerr err;
    for (int i = 0; i < 3; i++) {
        const char *p = fuzz_shared(files[i]);
        if (p && tok_load_file(&toks[i], p, &err) != 0) {
            fprintf(stderr, "fuzz_encode: %s\n", err.msg);
            abort();
        }
    }
    loaded = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded)
        load_all();
    if (size < 1 || !toks[data[0] % 3])
        return 0;
    const struct tokenizer *t = toks[data[0] % 3];
    int *ids = NULL;
    size_t n = 0;
    struct qerr err;
    if (tok_encode(t, (const char *)data + 1, size - 1, data[0] & 4, &ids, &n, &err) != 0)
        return 0;
    char buf[32];
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok_vocab_size(t))
            abort(); /* an id outside the vocabulary */
        tok_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
    }
    free(ids);
    return 0;
}
