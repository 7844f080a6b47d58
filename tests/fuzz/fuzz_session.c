/* fuzz_session: the dashboard's session file (ui/vm_runs.c loader), then
 * everything the Runs view computes from the rows. */
#include "tests/fuzz/fuzz.h"
#include "ui/vm_runs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct qerr err;
    for (int k = 0; k < 2; k++) { /* the current label and an old file name */
        struct vm_runs v;
        vm_runs_init(&v, k ? "stories260K" : "stories260K.bin", "tinystories-eval", "");
        if (vm_runs_parse(&v, text, "session.json", &err) == 0) {
            unsigned char front[VM_RUNS_MAX];
            char cell[64];
            vm_runs_pareto(&v, front);
            for (int col = 0; col < VR__NCOL; col++) {
                vm_runs_sort(&v, col, col & 1);
                for (int i = 0; i < v.n; i++)
                    vm_runs_cell(&v, i, col, cell, sizeof cell);
            }
            for (int i = 0; i < v.n; i++)
                (void)vm_runs_dppl(&v, i);
            vm_runs_move(&v, 3, 10);
        }
        vm_runs_free(&v);
    }
    free(text);
    return 0;
}
