/* fuzz_demo: a `qlens demo SCRIPT` tour script (demo_parse), then every
 * step visited as Left/Right would. */
#include "tests/fuzz/fuzz.h"
#include "ui/demo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct demo d;
    struct qerr err;
    if (demo_parse(&d, text, "tour.txt", &err) == 0) {
        for (int i = 0; i < d.n; i++)
            demo_goto(&d, i);
        demo_free(&d);
    }
    free(text);
    return 0;
}
