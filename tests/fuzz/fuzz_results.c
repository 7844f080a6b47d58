/* fuzz_results: a results store (results_parse, schema qlens-results/1).
 * A store that loads must survive a write and load back with the same
 * entries: a file qlens writes is a file qlens reads. */
#include "tests/fuzz/fuzz.h"
#include "analysis/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    if (results_parse(&s, text, "store.json", &err) == 0) {
        char *out = results_to_json(&s);
        struct results_store back;
        results_store_init(&back);
        if (out && (results_parse(&back, out, "written.json", &err) != 0 || back.n != s.n)) {
            fprintf(stderr, "fuzz_results: a loaded store does not load back: %s\n", err.msg);
            abort();
        }
        for (int i = 0; i < s.n; i++) {
            char key[512];
            results_join_key(&s.e[i], key, sizeof key);
            (void)results_ppl_mean(&s.e[i]);
        }
        results_store_free(&back);
        free(out);
    }
    results_store_free(&s);
    free(text);
    return 0;
}
