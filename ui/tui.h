/* tui: the dashboard entry points (called from src/main.c only). */
#ifndef QLENS_UI_TUI_H
#define QLENS_UI_TUI_H

#include <stdio.h>

/* Open the dashboard on a model (NULL: $QLENS_MODEL, else the bundled
 * stories260K) and run until the user quits.  Returns 0, QERR_CANCEL when
 * a signal ended it, or another QERR_* code after printing the error (the
 * caller maps it to an exit code).  The terminal is restored on every
 * exit path. */
int tui_main(const char *model_arg);
/* The dashboard playing a scripted tour (ui/demo.h); returns as tui_main. */
struct demo;
int tui_demo(const char *model_arg, struct demo *d);
/* The same with a base model (qlens --base FILE MODEL): the Layers view
 * gains error columns against it and the Tensor view the map
 * |W - W_base| (src/mdiff.h). */
int tui_main_base(const char *model_arg, const char *base_arg);
/* The same with an importance matrix shown in the Imatrix view (qlens
 * --imatrix FILE [MODEL]); the file must fit the model (names, lengths). */
int tui_main_imatrix(const char *model_arg, const char *imatrix_arg);

/* `qlens --print-keys`: the key list (Markdown) from the one key table;
 * 0 or QERR_IO. */
int tui_print_keys(FILE *f);

/* For the key-replay benchmark and tests: a dashboard on an already
 * initialised curses screen (newterm), stepping one key at a time. */
struct tui;
struct tui *tui_open(const char *model_path, char *errbuf, int errcap);
void tui_close(struct tui *t);
/* Handle one key (curses key code) and redraw; returns 0 while running,
 * 1 once the user quit. */
int tui_step(struct tui *t, int key);
/* Continue pending map / histogram work by one frame; 1 when a frame was
 * drawn (call again), 0 when idle. */
int tui_idle(struct tui *t);
/* Redraw the whole screen into curses' buffer and refresh. */
void tui_draw(struct tui *t);
/* The weight statistics fill in on a thread after tui_open returns
 * (ui/statsload.h); this collects the ones finished so far into the
 * Layers rows (the main loop does it every tick) and returns how many
 * tensors still have none. */
int tui_poll_stats(struct tui *t);
/* Wait until every tensor's statistics are in the rows. */
void tui_wait_stats(struct tui *t);

#endif
