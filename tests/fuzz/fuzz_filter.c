/* fuzz_filter: `--filter` expressions (analysis/filter): parse, then match
 * against the entries of the bundled store assets/results/jin2024.json. */
#include "tests/fuzz/fuzz.h"
#include "analysis/filter.h"

static struct results_store store;
static int loaded;

static void load_store(void)
{
    struct qerr err;
    results_store_init(&store);
    if (results_load(&store, "assets/results/jin2024.json", &err) != 0) {
        /* run from elsewhere: a small store of our own */
        static const char txt[] =
            "{\"schema\":\"qlens-results/1\",\"results\":[{\"id\":\"a\",\"model\":\"Qwen-7B\","
            "\"method\":\"GPTQ\",\"bits\":{\"w\":4,\"a\":16,\"kv\":16},\"group_size\":128,"
            "\"settings\":{\"k\":\"v\",\"n\":3},\"ppl\":{\"wikitext2\":9.5},"
            "\"benchmarks\":{\"mmlu\":{\"value\":55.1,\"unit\":\"percent\"}},\"memory_gb\":4.2}]}";
        if (results_parse(&store, txt, "builtin", &err) != 0)
            abort();
    }
    loaded = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded)
        load_store();
    char *text = fuzz_text(data, size);
    static struct filter f;
    struct qerr err;
    if (filter_parse(&f, text, &err) == 0)
        for (int i = 0; i < store.n; i++)
            (void)filter_match(&f, &store.e[i]);
    char buf[128];
    for (int i = 0; i < store.n && i < 4; i++)
        (void)filter_text_field(&store.e[i], text, buf, sizeof buf);
    free(text);
    return 0;
}
