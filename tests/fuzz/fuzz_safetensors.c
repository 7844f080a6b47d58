/* fuzz_safetensors: a Hugging Face model directory (config.json +
 * model.safetensors) through qmodel_open.
 *
 * Input: u16 little-endian length L, L bytes of config.json, then the
 * model.safetensors bytes (seeds: build-fuzz/corpus/safetensors, made by
 * tests/fuzz/seeds.sh from tool_genmodel's output). */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t lc = (size_t)data[0] | (size_t)data[1] << 8;
    if (lc > size - 2)
        lc = size - 2;
    fuzz_file("config.json", data + 2, lc);
    const char *st = fuzz_file("model.safetensors", data + 2 + lc, size - 2 - lc);
    struct qmodel m;
    struct qerr err;
    /* the file itself, as `qlens info DIR/model.safetensors` opens it */
    if (qmodel_open(&m, st, &err) == 0) {
        fuzz_touch_model(&m);
        qmodel_close(&m);
    }
    return 0;
}
