/* view_ext: dispatch to the Quant, Runs and Correlation views. */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui/view_ext.h"

#include <curses.h>
#include <stdio.h>

#include "ui/draw.h"

int tui_ext_init(struct tui *t) { (void)t; return 0; }
void tui_ext_free(struct tui *t) { (void)t; }
void tui_ext_tensor_changed(struct tui *t) { (void)t; }

void tui_ext_draw(struct tui *t, int y0, int h)
{
    (void)h;
    draw_textf(y0 + 1, 2, t->w - 4, A_BOLD, "The %s view is not available in this build yet.",
               ui_view_name(t->view));
}

int tui_ext_act(struct tui *t, enum ui_act a) { (void)t; (void)a; return 0; }
int tui_ext_tensor_act(struct tui *t, enum ui_act a) { (void)t; (void)a; return 0; }
void tui_ext_click(struct tui *t, int row, int dbl) { (void)t; (void)row; (void)dbl; }

void tui_ext_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    if (a == UA_FILTER) {
        vm_layers_filter(&t->lay, s);
        tui_msg(t, 0, s[0] ? "filter \"%s\": %d tensors" : "filter cleared%s: %d tensors",
                s, t->lay.n_vis);
    } else if (a == UA_SEARCH) {
        if (vm_layers_search(&t->lay, s)) {
            vm_layers_move(&t->lay, 0, t->list_h);
            tui_select_tensor(t, vm_layers_selected(&t->lay)->tensor);
        } else {
            tui_msg(t, 1, "no tensor name contains \"%s\"", s);
        }
    }
}

void tui_ext_job_done(struct tui *t) { (void)t; }
int tui_ext_tick(struct tui *t) { (void)t; return 0; }
int tui_ext_grid(struct tui *t, const struct stats *s, float *lev, int cap)
{
    (void)t;
    return vm_grid_uniform(4, 1, s->min, s->max, lev, cap);
}
void tui_ext_grid_title(struct tui *t, char *buf, int cap)
{
    (void)t;
    snprintf(buf, (size_t)cap, "histogram (log counts), grid: RTN 4-bit symmetric per-tensor");
}
int tui_ext_act_matrix(struct tui *t, struct vm_map *mp) { (void)t; (void)mp; return 0; }
double tui_ext_act_std(struct tui *t) { (void)t; return 0; }
