/* fuzz_model: what the model harnesses do with a model that loaded: read
 * every tensor (a loader that let an offset past the mapping through would
 * fault here) and load its tokenizer. */
#ifndef QLENS_FUZZ_MODEL_H
#define QLENS_FUZZ_MODEL_H
#include "src/model.h"
#include "src/tokenizer.h"

static void fuzz_touch_model(struct qmodel *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const float *w = qtensor_f32_orig(&m->tensors[i]);
        volatile float acc = 0;
        for (int64_t k = 0; w && k < m->tensors[i].nelem; k += 61)
            acc += w[k];
        (void)acc;
    }
    struct tokenizer *tok = NULL;
    struct qerr err;
    if (tok_load_for_model(&tok, m, &err) == 0) {
        int *ids = NULL;
        size_t n = 0;
        if (tok_encode(tok, "Once upon a time", 16, 1, &ids, &n, &err) == 0)
            free(ids);
        tok_free(tok);
    }
}
#endif
