/* fuzz_gguf: a GGUF file through qmodel_open (header, metadata, tensor
 * infos, config, tensor table, validation), then its tensors and its
 * vocabulary (tok_load_gguf). */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("model.gguf", data, size);
    struct qmodel m;
    struct qerr err;
    if (qmodel_open(&m, path, &err) == 0) {
        fuzz_touch_model(&m);
        qmodel_close(&m);
    }
    /* the vocabulary-only path (tokenize --vocab x.gguf) */
    struct tokenizer *t = NULL;
    if (tok_load_file(&t, path, &err) == 0)
        tok_free(t);
    return 0;
}
