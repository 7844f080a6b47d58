/* fuzz_llama2c: a llama2.c checkpoint (.bin) through qmodel_open. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("model.bin", data, size);
    struct qmodel m;
    struct qerr err;
    if (qmodel_open(&m, path, &err) == 0) {
        fuzz_touch_model(&m);
        qmodel_close(&m);
    }
    return 0;
}
