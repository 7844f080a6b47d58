/* keys: the ONE table of key bindings (tig's REQ_INFO, vis's action list).
 *
 * Dispatch, the `?` help overlay, the key bar and the README key list
 * (`qlens --print-keys`) all loop over ui_keys[], so they cannot drift apart.
 * No curses here: key codes are plain ints (curses KEY_* values are passed in
 * by the caller through the UIK_* aliases below), so the table is testable
 * without a terminal. */
#ifndef QLENS_UI_KEYS_H
#define QLENS_UI_KEYS_H

#include <stdio.h>

#include "ui/views.h"

/* Views (tabs), in tab order: UV_LAYERS, UV_TENSOR, ... (ui/views.h). */
#define UI_VIEW_ENUM(id, prefix) UV_##id,
enum ui_view { UI_VIEWS(UI_VIEW_ENUM) UV__COUNT };
#undef UI_VIEW_ENUM
#define UVM(v) (1u << (v))
#define UVM_ALL ((1u << UV__COUNT) - 1)

/* Special keys: values chosen to match ncurses' KEY_* codes (checked by a
 * static assert in ui/tui.c) so the table needs no curses header. */
enum {
    UIK_DOWN = 0402, UIK_UP = 0403, UIK_LEFT = 0404, UIK_RIGHT = 0405,
    UIK_HOME = 0406, UIK_NPAGE = 0522, UIK_PPAGE = 0523, UIK_END = 0550,
    UIK_ENTER = '\n', UIK_ESC = 27, UIK_TAB = '\t', UIK_BTAB = 0541,
};

enum ui_act {
    UA_NONE = 0,
    UA_QUIT, UA_HELP, UA_NEXT_VIEW, UA_PREV_VIEW,
    UA_VIEW_LAYERS, UA_VIEW_TENSOR, UA_VIEW_QUANT, UA_VIEW_RUNS, UA_VIEW_CORR, UA_VIEW_IMATRIX, UA_VIEW_PLAN, UA_VIEW_DIV,
    UA_UP, UA_DOWN, UA_PGUP, UA_PGDN, UA_HOME, UA_END, UA_LEFT, UA_RIGHT,
    UA_OPEN, UA_BACK,
    UA_SORT_NEXT, UA_SORT_PREV, UA_SORT_REV, UA_FILTER, UA_SEARCH, UA_SEARCH_NEXT,
    UA_FOLD, UA_FOLD_ALL,
    UA_ZOOM_IN, UA_ZOOM_OUT, UA_MARK_K_UP, UA_MARK_K_DOWN, UA_PROFILE, UA_ACT_MAP,
    UA_METHOD_NEXT, UA_METHOD_PREV, UA_QUANT_COMMAND, UA_BITS_UP, UA_BITS_DOWN, UA_GROUP_NEXT, UA_SYM_TOGGLE,
    UA_OPTION_NEXT, UA_QUANT_PIN, UA_QUANT_AB, UA_APPLY_ALL, UA_CANCEL, UA_JOBS, UA_BASELINE, UA_CALIBRATE,
    UA_EXPORT, UA_DELETE_RUN, UA_UNDO, UA_RUNS_MODE,
    UA_CORR_X, UA_CORR_Y, UA_CORR_TABLE, UA_CORR_FILTER, UA_CORR_WHERE,
    UA_CORR_PRESET, UA_CORR_IMPORT,
    UA_THEME, UA_REDRAW, UA_SCREEN_SAVE,
    UA_IMX_OPEN, UA_IMX_COMPUTE,
    UA_PLAN_SENS, UA_PLAN_CANDS, UA_PLAN_BUDGET_UP, UA_PLAN_BUDGET_DOWN, UA_PLAN_EVAL,
    UA__COUNT
};

struct ui_key {
    int key;              /* character or UIK_* code                     */
    const char *name;     /* how the key is written in help ("PgDn")     */
    unsigned views;       /* UVM() mask of views where it acts           */
    enum ui_act act;
    const char *help;     /* one line                                     */
    const char *bar;      /* short label for the key bar, NULL = not shown */
};

extern const struct ui_key ui_keys[];
extern const int ui_n_keys;

/* The action bound to `key` in `view`, or UA_NONE. */
enum ui_act ui_key_lookup(int key, enum ui_view view);
/* Mask of the views where `key` acts (0: bound nowhere). */
unsigned ui_key_views(int key);
/* Short name of a view ("Layers"). */
const char *ui_view_name(enum ui_view v);
/* Help rows: rows with the same action and help text that act in a view
 * of `mask` are one entry.  For the first row of an entry, writes its key
 * names ("Up, k"; a name bound twice is listed once) and returns 1; for
 * the others (and rows outside mask) returns 0. */
int ui_key_entry(int i, unsigned mask, char *names, size_t cap);
/* Print the key list as a Markdown table (the README's key list). */
void ui_keys_print_markdown(FILE *f);

#endif
