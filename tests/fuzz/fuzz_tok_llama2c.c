/* fuzz_tok_llama2c: a llama2.c tokenizer.bin (tok_load_llama2c, read to
 * the end of the file as `tokenize --vocab` does), then one encode. */
#include "tests/fuzz/fuzz.h"
#include "src/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("tokenizer.bin", data, size);
    struct tokenizer *t = NULL;
    struct qerr err;
    for (int vocab = 0; vocab <= 32; vocab += 32) { /* to EOF, then a fixed size */
        if (tok_load_llama2c(&t, path, vocab, &err) != 0)
            continue;
        int *ids = NULL;
        size_t n = 0;
        if (tok_encode(t, "Hello world <0x41>\xe2\x96\x81 ok", 22, 1, &ids, &n, &err) == 0) {
            char buf[64];
            for (size_t i = 0; i < n; i++)
                tok_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
            free(ids);
        }
        tok_free(t);
    }
    return 0;
}
