/* keys: the key table.  Order matters: the first match wins, and the help
 * overlay and README list print rows in this order. */
#include "ui/keys.h"

#include <string.h>

#include "ui/view.h"

#define ALL UVM_ALL
#define L UVM(UV_LAYERS)
#define T UVM(UV_TENSOR)
#define Q UVM(UV_QUANT)
#define R UVM(UV_RUNS)
#define C UVM(UV_CORR)
#define I UVM(UV_IMATRIX)
#define PL UVM(UV_PLAN)
#define D UVM(UV_DIV)
#define LISTS (L | R | I | D)

const struct ui_key ui_keys[] = {
    {'q', "q", ALL, UA_QUIT, "quit (asks first while a job runs; the session file is always saved)", "quit"},
    {'?', "?", ALL, UA_HELP, "show / hide this help", "help"},
    {UIK_TAB, "Tab", ALL, UA_NEXT_VIEW, "next view", NULL},
    {UIK_BTAB, "S-Tab", ALL, UA_PREV_VIEW, "previous view", NULL},
    {'1', "1", ALL, UA_VIEW_LAYERS, "Layers view: every tensor with its statistics", NULL},
    {'2', "2", ALL, UA_VIEW_TENSOR, "Tensor view: statistics, histogram, outlier map", NULL},
    {'3', "3", ALL, UA_VIEW_QUANT, "Quant view: live quantization of the selected tensor", NULL},
    {'4', "4", ALL, UA_VIEW_RUNS, "Runs view: perplexity of every configuration", NULL},
    {'5', "5", ALL, UA_VIEW_CORR, "Correlation view: results store scatter / table", NULL},
    {'6', "6", ALL, UA_VIEW_IMATRIX, "Imatrix view: importance matrix per tensor, top channels, channel heatmap", NULL},
    {'7', "7", ALL, UA_VIEW_PLAN, "Plan view: per-tensor sensitivity heatmap, bit plan for a budget, Pareto plot", NULL},
    {'8', "8", ALL, UA_VIEW_DIV, "Divergence view: a run's error per block and tensor (Enter on a run)", NULL},
    {UIK_UP, "Up", ALL, UA_UP, "move up (pan up in maps)", NULL},
    {'k', "k", ALL, UA_UP, "move up (pan up in maps)", NULL},
    {UIK_DOWN, "Down", ALL, UA_DOWN, "move down (pan down in maps)", NULL},
    {'j', "j", ALL, UA_DOWN, "move down (pan down in maps)", NULL},
    {UIK_PPAGE, "PgUp", ALL, UA_PGUP, "page up", NULL},
    {UIK_NPAGE, "PgDn", ALL, UA_PGDN, "page down", NULL},
    {UIK_HOME, "Home", ALL, UA_HOME, "first row / top-left of the map", NULL},
    {UIK_END, "End", ALL, UA_END, "last row", NULL},
    {UIK_LEFT, "Left", T | Q, UA_LEFT, "pan left", NULL},
    {'h', "h", T | Q, UA_LEFT, "pan left", NULL},
    {UIK_RIGHT, "Right", T | Q, UA_RIGHT, "pan right", NULL},
    {'l', "l", T | Q, UA_RIGHT, "pan right", NULL},
    {UIK_LEFT, "Left", L | R, UA_LEFT, "show the columns to the left (narrow terminal)", NULL},
    {'h', "h", L | R, UA_LEFT, "show the columns to the left (narrow terminal)", NULL},
    {UIK_RIGHT, "Right", L | R, UA_RIGHT, "show the columns to the right (narrow terminal)", NULL},
    {'l', "l", L | R, UA_RIGHT, "show the columns to the right (narrow terminal)", NULL},
    {UIK_ENTER, "Enter", L, UA_OPEN, "open the selected tensor; on a group header, fold / unfold it", "open"},
    {'\r', "Enter", L, UA_OPEN, "open the selected tensor; on a group header, fold / unfold it", NULL},
    {UIK_ENTER, "Enter", R, UA_OPEN, "divergence of the selected run: which tensors contribute most of its KL, per block and tensor (job)", "layers"},
    {'\r', "Enter", R, UA_OPEN, "divergence of the selected run: which tensors contribute most of its KL, per block and tensor (job)", NULL},
    {UIK_ENTER, "Enter", D, UA_OPEN, "show the selected tensor in the Tensor view", "tensor"},
    {'\r', "Enter", D, UA_OPEN, "show the selected tensor in the Tensor view", NULL},
    {UIK_ESC, "Esc", ALL, UA_BACK, "close help / prompt; back to the Layers view", NULL},
    {0407, "Backspace", T | Q, UA_BACK, "back to the Layers view", NULL},
    {'s', "s", LISTS, UA_SORT_NEXT, "sort by the next column", "sort"},
    {'S', "S", LISTS, UA_SORT_PREV, "sort by the previous column", NULL},
    {'r', "r", LISTS, UA_SORT_REV, "reverse the sort order", "reverse"},
    {'f', "f", L, UA_FILTER, "filter rows by name (substring; empty clears)", "filter"},
    {'/', "/", L, UA_SEARCH, "jump to the next row whose name contains text", "jump"},
    {'n', "n", L, UA_SEARCH_NEXT, "repeat the last jump", NULL},
    {'z', "z", L, UA_FOLD, "fold / unfold the group (layer part) under the cursor", "fold"},
    {'Z', "Z", L, UA_FOLD_ALL, "fold every group / unfold all", NULL},
    {'+', "+", T | Q, UA_ZOOM_IN, "zoom in on the map (down to single values)", "zoom"},
    {'=', "=", T | Q, UA_ZOOM_IN, "zoom in on the map", NULL},
    {'-', "-", T | Q, UA_ZOOM_OUT, "zoom out on the map", "out"},
    {']', "]", T | Q, UA_MARK_K_UP, "raise k of the k*std outlier mark", NULL},
    {'[', "[", T | Q, UA_MARK_K_DOWN, "lower k of the k*std outlier mark", NULL},
    {'p', "p", T, UA_PROFILE, "per-channel AbsMax profile: rows / columns / off", "profile"},
    {'w', "w", T, UA_ACT_MAP, "map: weights / abs(W - W_base) with qlens --base / activation token x channel", NULL},
    {'m', "m", T | Q, UA_METHOD_NEXT, "next quantization method (bits, group, symmetry stay)", "method"},
    {'M', "M", T | Q, UA_METHOD_PREV, "previous quantization method", NULL},
    {':', ":", T | Q, UA_QUANT_COMMAND, "type settings: method spqr, bits 2, group 16, asym", "set"},
    {'b', "b", T | Q, UA_BITS_UP, "one more bit", "bits+"},
    {'B', "B", T | Q, UA_BITS_DOWN, "one bit fewer", "bits-"},
    {'g', "g", T | Q, UA_GROUP_NEXT, "next group size (per-row, 32, 64, 128, 256)", "group"},
    {'a', "a", T | Q, UA_SYM_TOGGLE, "symmetric / asymmetric", "sym/asym"},
    {'o', "o", T | Q, UA_OPTION_NEXT, "cycle the method's option", NULL},
    {'p', "p", Q, UA_QUANT_PIN, "pin the run shown as B: A/B maps of W, Wq (A) and Wq (B) on one scale", "pin B"},
    {'v', "v", Q, UA_QUANT_AB, "maps: |W - Wq| / A/B: W, Wq A, Wq B and both errors on one scale", "A/B"},
    {'A', "A", T | Q | R, UA_APPLY_ALL, "apply this config to all layers, run perplexity", "all+PPL"},
    {'P', "P", L | R, UA_BASELINE, "run the float baseline perplexity", "baseline"},
    {'C', "C", L | T, UA_CALIBRATE, "calibration pass: activation statistics", "calib"},
    {'c', "c", ALL, UA_CANCEL, "cancel the running job (in the jobs panel: the job under the cursor)", NULL},
    {'J', "J", ALL, UA_JOBS, "jobs panel: running, waiting and finished jobs with phase, step, elapsed time and time left", "jobs"},
    {'v', "v", R, UA_RUNS_MODE, "table / bar chart / size-vs-PPL plot", "chart"},
    {'e', "e", R, UA_EXPORT, "export runs to qlens-runs.{json,csv,md}", "export"},
    {'d', "d", R, UA_DELETE_RUN, "delete the selected run (press twice)", NULL},
    {'u', "u", R, UA_UNDO, "bring back the last deleted run", NULL},
    {'x', "x", C, UA_CORR_X, "next X variable", "X"},
    {'y', "y", C, UA_CORR_Y, "next Y variable", "Y"},
    {'t', "t", C, UA_CORR_TABLE, "scatter / table of r for every benchmark", "table"},
    {'f', "f", C, UA_CORR_WHERE, "filter entries: method=GPTQ|SpQR,bits=3..4,model=Qwen* (empty clears)", "where"},
    {'F', "F", C, UA_CORR_FILTER, "cycle the model family (families with a perplexity; all)", "family"},
    {'p', "p", C, UA_CORR_PRESET, "Jin et al. Table 3 preset: 4/3-bit GPTQ and SpQR Qwen, r of every benchmark", "Jin T3"},
    {'i', "i", C, UA_CORR_IMPORT, "import lm-eval results into the session (joins the run selected in Runs)", "import"},
    {'o', "o", I, UA_IMX_OPEN, "open an importance matrix file (llama.cpp legacy or GGUF, qlens imatrix)", "open"},
    {'I', "I", I, UA_IMX_COMPUTE, "compute an importance matrix of this model on the calibration text (as qlens imatrix)", "compute"},
    {'S', "S", PL, UA_PLAN_SENS, "measure the sensitivity: KL of every tensor x candidate alone (cached: instant the second time)", "measure"},
    {':', ":", PL, UA_PLAN_CANDS, "type the candidates: rtn:2:32,rtn:4:32,q4_k,...", "candidates"},
    {'+', "+", PL, UA_PLAN_BUDGET_UP, "raise the budget by 1/8 bit per weight", "budget+"},
    {'=', "=", PL, UA_PLAN_BUDGET_UP, "raise the budget by 1/8 bit per weight", NULL},
    {'-', "-", PL, UA_PLAN_BUDGET_DOWN, "lower the budget by 1/8 bit per weight", "budget-"},
    {'A', "A", PL, UA_PLAN_EVAL, "apply the plan and every uniform candidate, measure each against float", "apply+eval"},
    {UIK_LEFT, "Left", PL, UA_LEFT, "previous candidate (column)", NULL},
    {'h', "h", PL, UA_LEFT, "previous candidate (column)", NULL},
    {UIK_RIGHT, "Right", PL, UA_RIGHT, "next candidate (column)", NULL},
    {'l', "l", PL, UA_RIGHT, "next candidate (column)", NULL},
    {'T', "T", ALL, UA_THEME, "cycle colour theme: 256 / 8 / mono", NULL},
    {12, "C-l", ALL, UA_REDRAW, "redraw the screen", NULL},
    {'E', "E", ALL, UA_SCREEN_SAVE, "save the screen as qlens-screen-N.{txt,ans,svg,html} (current directory)", NULL},
};
const int ui_n_keys = sizeof ui_keys / sizeof ui_keys[0];

enum ui_act ui_key_lookup(int key, enum ui_view view)
{
    for (int i = 0; i < ui_n_keys; i++)
        if (ui_keys[i].key == key && (ui_keys[i].views & UVM(view)))
            return ui_keys[i].act;
    return UA_NONE;
}

unsigned ui_key_views(int key)
{
    unsigned m = 0;
    for (int i = 0; i < ui_n_keys; i++)
        if (ui_keys[i].key == key)
            m |= ui_keys[i].views;
    return m;
}

static int same_entry(const struct ui_key *a, const struct ui_key *b, unsigned mask)
{
    return a->act == b->act && (a->views & mask) && (b->views & mask) && !strcmp(a->help, b->help);
}

/* ui_key_entry with each name between quote marks q. */
static int key_entry(int i, unsigned mask, const char *q, char *names, size_t cap)
{
    if (i < 0 || i >= ui_n_keys || !(ui_keys[i].views & mask))
        return 0;
    const struct ui_key *k = &ui_keys[i];
    for (int j = 0; j < i; j++)
        if (same_entry(&ui_keys[j], k, mask))
            return 0;
    size_t o = (size_t)snprintf(names, cap, "%s%s%s", q, k->name, q);
    for (int j = i + 1; j < ui_n_keys && o < cap; j++) {
        int seen = !strcmp(ui_keys[j].name, k->name);
        for (int m = i + 1; m < j && !seen; m++)
            seen = same_entry(&ui_keys[m], k, mask) && !strcmp(ui_keys[m].name, ui_keys[j].name);
        if (same_entry(&ui_keys[j], k, mask) && !seen)
            o += (size_t)snprintf(names + o, cap - o, ", %s%s%s", q, ui_keys[j].name, q);
    }
    return 1;
}

int ui_key_entry(int i, unsigned mask, char *names, size_t cap)
{
    return key_entry(i, mask, "", names, cap);
}

const char *ui_view_name(enum ui_view v)
{
    return (unsigned)v < UV__COUNT ? ui_views[v]->name : "?";
}

static void views_str(unsigned mask, char *buf, size_t cap)
{
    if (mask == UVM_ALL) {
        snprintf(buf, cap, "all");
        return;
    }
    size_t o = 0;
    buf[0] = '\0';
    for (int v = 0; v < UV__COUNT && o < cap; v++)
        if (mask & UVM(v))
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", ui_view_name(v));
}

/* Keys with the same action and help are merged into one row ("Up, k"),
 * as in the help overlay, so the list stays short. */
void ui_keys_print_markdown(FILE *f)
{
    fprintf(f, "| Key | Views | Action |\n|---|---|---|\n");
    for (int i = 0; i < ui_n_keys; i++) {
        char names[64], views[96];
        if (!key_entry(i, UVM_ALL, "`", names, sizeof names))
            continue;
        const struct ui_key *k = &ui_keys[i];
        views_str(k->views, views, sizeof views);
        fprintf(f, "| %s | %s | %s |\n", names, views, k->help);
    }
}
