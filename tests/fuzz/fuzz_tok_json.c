/* fuzz_tok_json: a Hugging Face tokenizer.json (tok_load_hf_json), then
 * one encode and decode with it. */
#include "tests/fuzz/fuzz.h"
#include "src/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("tokenizer.json", data, size);
    struct tokenizer *t = NULL;
    struct qerr err;
    if (tok_load_hf_json(&t, path, &err) != 0)
        return 0;
    static const char text[] = "Hello world! It's 2024 \xe2\x96\x81 caf\xc3\xa9 <s>x</s>";
    int *ids = NULL;
    size_t n = 0;
    if (tok_encode(t, text, sizeof text - 1, 1, &ids, &n, &err) == 0) {
        char buf[64];
        for (size_t i = 0; i < n; i++)
            tok_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
        free(ids);
    }
    tok_free(t);
    return 0;
}
