/* demo: a scripted tour of the dashboard (`qlens demo [SCRIPT]`).
 *
 * A script is a list of steps; each step has a caption shown on screen,
 * operations that drive the dashboard as a person would (keys, typed text,
 * "press KEY until the screen shows TEXT", "wait for the running job") and
 * a hold time.  Script lines:
 *
 *   # comment
 *   caption TEXT             start a step with this caption
 *   key NAME...              keys by their help names (Enter, Down, PgDn,
 *                            Esc, Space) or single characters
 *   type TEXT                each character as a key (\n = Enter)
 *   until KEY MAX TEXT       press KEY (up to MAX times) until TEXT shows
 *   wait                     until the background job has finished
 *   hold SECONDS             show the step this long (scaled by --pace)
 *
 * Steps should say where they start (a view key first), so stepping back
 * (re-running the previous step's operations) shows the same screen.
 * While it plays: Space pauses / resumes, Right (or .) skips to the next
 * step, Left (or ,) goes back one, q quits; other keys reach the
 * dashboard (explore while paused). */
#ifndef QLENS_UI_DEMO_H
#define QLENS_UI_DEMO_H

#include "analysis/qerr.h"

enum demo_op_kind { DOP_KEY = 0, DOP_UNTIL, DOP_WAIT };

struct demo_op {
    enum demo_op_kind kind;
    int key;              /* DOP_KEY, DOP_UNTIL                           */
    int max;              /* DOP_UNTIL: presses at most                   */
    char text[96];        /* DOP_UNTIL: what the screen must show         */
};

struct demo_step {
    char caption[512];
    struct demo_op *op;   /* (n_op) owned                                 */
    int n_op, cap_op;
    double hold;          /* seconds                                      */
};

struct demo {
    struct demo_step *s;  /* (n) owned                                    */
    int n, cap;
    double pace;          /* hold multiplier (1 = as written)             */
    /* playing */
    int cur, op, presses, paused, done, missed;
    double t_end;         /* end of the hold; 0 = operations still running */
    int box_y0;           /* first screen row of the caption box (drawn)  */
};

/* The built-in tour of stories260K. */
extern const char demo_builtin[];

/* Parse a script (name for messages).  QERR_FORMAT "name:LINE: ..." on a
 * bad line, an unknown key name, an operation before the first caption or
 * no step at all. */
int demo_parse(struct demo *d, const char *text, const char *name, struct qerr *err);
void demo_free(struct demo *d);
/* Key code of a help name or single character; -1 if unknown. */
int demo_key_code(const char *name);

/* Playing, driven by the dashboard's loop (no curses in these two):
 * demo_user_key takes the user's key and returns 1 when the demo used it;
 * demo_next returns the next key to feed the dashboard or -1, given the
 * time, whether a job runs, and whether the screen shows a text (the
 * callback is asked for DOP_UNTIL). */
int demo_user_key(struct demo *d, int ch, double now);
int demo_next(struct demo *d, double now, int busy, int (*shows)(void *, const char *),
              void *ud);
/* Jump to step i (clamped), restarting its operations. */
void demo_goto(struct demo *d, int i);

/* curses: the caption box over the bottom rows. */
void demo_draw(struct demo *d, int h, int w);
/* Does the curses screen show text above the caption box?  ud is the
 * struct demo (for demo_next). */
int demo_screen_shows(void *ud, const char *text);

/* The script file (NULL: the built-in tour), parsed into d. */
int demo_load(struct demo *d, const char *script, struct qerr *err);

#endif
