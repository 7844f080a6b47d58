/* fuzz_import: `qlens results import` (results_import_text): lm-evaluation-
 * harness results, `qlens ppl --json` and `qlens quant --json` run files,
 * stores, and arrays of them; then the imported store is written out. */
#include "tests/fuzz/fuzz.h"
#include "analysis/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    struct results_import_opts o = {0};
    const char *kind = NULL;
    if (results_import_text(&s, text, "run.json", &o, &kind, &err) == 0)
        free(results_to_json(&s));
    results_store_free(&s);
    /* with the options the CLI passes (--model, --method, --bits, --group) */
    results_store_init(&s);
    struct results_import_opts o2 = {.model = "m", .method = "rtn", .w_bits = 4, .group_size = 32};
    if (results_import_text(&s, text, "run.json", &o2, &kind, &err) == 0)
        free(results_to_json(&s));
    results_store_free(&s);
    free(text);
    return 0;
}
