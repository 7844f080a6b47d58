/* tui: the frame of the dashboard: terminal setup and restore, signals,
 * the main loop, the tab bar, status bar, key bar, help overlay, prompts,
 * mouse, and dispatch of the one key table (ui/keys.c) to the views. */
#define _XOPEN_SOURCE_EXTENDED 1
#include "ui/tui.h"

#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "src/cli.h"
#include "src/qclock.h"
#include "ui/demo.h"
#include "ui/draw.h"
#include "ui/screen.h"
#include "ui/tui_int.h"
#include "ui/view_ext.h"

_Static_assert(UIK_DOWN == KEY_DOWN && UIK_UP == KEY_UP && UIK_LEFT == KEY_LEFT &&
                   UIK_RIGHT == KEY_RIGHT && UIK_HOME == KEY_HOME && UIK_NPAGE == KEY_NPAGE &&
                   UIK_PPAGE == KEY_PPAGE && UIK_END == KEY_END && UIK_BTAB == KEY_BTAB &&
                   KEY_BACKSPACE == 0407,
               "ui/keys.h key codes must match curses");

/* Signal handlers only set these; the main loop acts on them. */
static volatile sig_atomic_t sig_quit, sig_winch;
static struct termios saved_tio;
static int have_tio;

static void on_quit(int s) { sig_quit = s; }
static void on_winch(int s) { (void)s; sig_winch = 1; }

/* A crash must not leave the terminal raw and on the alternate screen:
 * restore the saved termios and reset the screen with async-signal-safe
 * calls only, then die of the same signal. */
static void on_fatal(int s)
{
    static const char reset[] = "\033[?1000l\033[?1002l\033[?1006l\033[?25h\033[?1049l\r\n";
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    ssize_t r = write(STDOUT_FILENO, reset, sizeof reset - 1);
    (void)r;
    signal(s, SIG_DFL);
    raise(s);
}

void tui_msg(struct tui *t, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    t->msg_err = err;
}

/* ---- opening ---- */

static int stats_progress(void *ctx, int done, int total)
{
    (void)ctx;
    if (stdscr && !isendwin() && (done % 8 == 0 || done == total)) {
        erase();
        draw_textf(0, 0, COLS, A_BOLD, "qlens: computing statistics of %d tensors: %d", total, done);
        refresh();
    }
    return sig_quit != 0;
}

static struct tui *tui_new(const char *path, char *errbuf, int errcap, int *code)
{
    struct tui *t = calloc(1, sizeof *t);
    *code = QERR_NOMEM;
    if (!t) {
        snprintf(errbuf, (size_t)errcap, "out of memory");
        return NULL;
    }
    struct qerr err;
    qerr_clear(&err);
    if (qmodel_open(&t->m, path, &err) < 0) {
        snprintf(errbuf, (size_t)errcap, "%s", err.msg);
        *code = err.code ? err.code : QERR_FORMAT;
        free(t);
        return NULL;
    }
    *code = 0;
    t->model_open = 1;
    const char *base = strrchr(path, '/');
    snprintf(t->model_name, sizeof t->model_name, "%s", base ? base + 1 : path);
    t->ti = -1;
    t->prof_ti = -1;
    t->mark_k = 6;
    vm_map_init(&t->map);
    vm_hist_init(&t->hist);
    worker_init(&t->job);
    return t;
}

static int tui_load(struct tui *t, char *errbuf, int errcap)
{
    if (vm_layers_init(&t->lay, &t->m, stats_progress, NULL) < 0) {
        snprintf(errbuf, (size_t)errcap, "out of memory computing statistics");
        return -1;
    }
    if (tui_ext_init(t) < 0) {
        snprintf(errbuf, (size_t)errcap, "out of memory");
        return -1;
    }
    const struct vl_row *r = vm_layers_selected(&t->lay);
    if (r)
        tui_select_tensor(t, r->tensor);
    if (!t->msg_err) /* a session file that did not load says so instead */
        tui_msg(t, 0, "%s: %d tensors, %lld parameters; Enter opens, ? lists every key",
                t->model_name, t->m.n_tensors, (long long)qmodel_param_count(&t->m));
    return 0;
}

struct tui *tui_open(const char *model_path, char *errbuf, int errcap)
{
    int code;
    struct tui *t = tui_new(model_path, errbuf, errcap, &code);
    if (t && tui_load(t, errbuf, errcap) < 0) {
        tui_close(t);
        return NULL;
    }
    return t;
}

void tui_close(struct tui *t)
{
    if (!t)
        return;
    worker_stop(&t->job);
    tui_ext_free(t);
    view_tensor_free(t);
    vm_layers_free(&t->lay);
    if (t->model_open)
        qmodel_close(&t->m);
    free(t);
}

void tui_select_tensor(struct tui *t, int ti)
{
    if (ti < 0 || ti >= t->m.n_tensors || ti == t->ti)
        return;
    t->ti = ti;
    struct qtensor *qt = &t->m.tensors[ti];
    vm_map_set(&t->map, qtensor_f32_orig(qt), qtensor_rows(qt), qtensor_cols(qt));
    t->map.gw = 0; /* force a layout on the next draw */
    tui_ext_tensor_changed(t);
}

/* ---- frame ---- */

static void draw_tabs(struct tui *t)
{
    draw_fill(0, 0, t->w, draw_attr(DP_TAB));
    int x = draw_text(0, 0, t->w, " qlens ", draw_attr(DP_TITLE));
    for (int v = 0; v < UV__COUNT; v++) {
        char lab[32];
        snprintf(lab, sizeof lab, " %d %s ", v + 1, ui_view_name(v));
        t->tab_x[v] = x;
        int a = v == (int)t->view ? draw_attr(DP_SEL) | (int)A_BOLD : draw_attr(DP_TAB);
        x += draw_text(0, x, t->w - x, lab, a);
    }
    t->tab_x[UV__COUNT] = x;
    int rem = t->w - x - 1;
    if (rem > 8) {
        int n = (int)strlen(t->model_name);
        draw_text(0, x + 1 + (rem > n ? rem - n : 0), rem, t->model_name, draw_attr(DP_TAB));
    }
}

static void draw_status(struct tui *t, int y)
{
    draw_fill(y, 0, t->w, draw_attr(DP_STATUS));
    if (t->prompt_act) {
        draw_textf(y, 0, t->w, draw_attr(DP_STATUS) | A_BOLD, "%s: %s_",
                   t->prompt_act == UA_FILTER ? "filter"
                   : t->prompt_act == UA_CORR_WHERE ? "where" : "jump to", t->prompt);
        return;
    }
    int x = 0;
    if (worker_busy(&t->job)) {
        int pm = atomic_load(&t->job.permille);
        int bw = t->w / 4 < 30 ? t->w / 4 : 30;
        x += draw_textf(y, 0, t->w, draw_attr(DP_STATUS) | A_BOLD, "%s %3d%% ", t->job.label,
                        pm / 10);
        int fill = bw * pm / 1000;
        for (int i = 0; i < bw && x < t->w; i++, x++)
            draw_text(y, x, 1, i < fill ? (draw.utf8 ? "\u2588" : "#") : (draw.utf8 ? "\u2591" : "."),
                      draw_attr(DP_STATUS));
        x += draw_text(y, x, t->w - x, " (c cancels) ", draw_attr(DP_STATUS));
    }
    draw_text(y, x, t->w - x, t->msg, t->msg_err ? draw_attr(DP_ERR) : draw_attr(DP_STATUS));
}

static void draw_keybar(struct tui *t, int y)
{
    draw_fill(y, 0, t->w, A_NORMAL);
    int x = 0;
    for (int i = 0; i < ui_n_keys && x < t->w; i++) {
        const struct ui_key *k = &ui_keys[i];
        if (!k->bar || !(k->views & UVM(t->view)))
            continue;
        int need = (int)(strlen(k->name) + strlen(k->bar)) + 3;
        if (x + need > t->w)
            break;
        x += draw_text(y, x, t->w - x, k->name, draw_attr(DP_KEY));
        x += draw_text(y, x + 1, t->w - x - 1, k->bar, A_NORMAL) + 2;
    }
}

/* Smallest body (rows x cols) each view can draw sensibly. */
static const int min_w[UV__COUNT] = {40, 50, 50, 40, 40};
static const int min_h[UV__COUNT] = {4, 8, 8, 4, 6};

static void draw_too_small(struct tui *t)
{
    char need[64], have[64];
    snprintf(need, sizeof need, "need %dx%d", min_w[t->view], min_h[t->view] + 3);
    snprintf(have, sizeof have, "have %dx%d", t->w, t->h);
    const char *lines[] = {"terminal too small", need, have, "q quits"};
    int n = (int)(sizeof lines / sizeof lines[0]);
    int y0 = t->h > n ? (t->h - n) / 2 : 0;
    for (int i = 0; i < n && y0 + i < t->h; i++) {
        int len = (int)strlen(lines[i]);
        int x = t->w > len ? (t->w - len) / 2 : 0;
        draw_text(y0 + i, x, t->w - x, lines[i], i == 0 ? A_BOLD : A_NORMAL);
    }
}

void tui_draw(struct tui *t)
{
    getmaxyx(stdscr, t->h, t->w);
    erase();
    t->list_h = 0;
    if (t->w < min_w[t->view] || t->h < min_h[t->view] + 3) {
        draw_too_small(t);
        refresh();
        return;
    }
    t->body_y = 1;
    t->body_h = t->h - 3;
    draw_tabs(t);
    if (t->help_on)
        view_help_draw(t, t->body_y, t->body_h);
    else
        switch (t->view) {
        case UV_LAYERS: view_layers_draw(t, t->body_y, t->body_h); break;
        case UV_TENSOR: view_tensor_draw(t, t->body_y, t->body_h); break;
        default: tui_ext_draw(t, t->body_y, t->body_h); break;
        }
    draw_status(t, t->h - 2);
    draw_keybar(t, t->h - 1);
    if (t->demo) /* the tour's caption over the bottom of the view */
        demo_draw(t->demo, t->h, t->w);
    refresh();
}

/* ---- help overlay: every key of the table that acts in this view ---- */

void view_help_draw(struct tui *t, int y0, int h)
{
    draw_textf(y0, 1, t->w - 2, A_BOLD, "Keys in the %s view (? or Esc closes, Up/Down scroll)",
               ui_view_name(t->view));
    int row = 0, shown = 0;
    char names[64];
    for (int i = 0; i < ui_n_keys; i++) {
        if (!ui_key_entry(i, UVM(t->view), names, sizeof names))
            continue;
        if (row++ < t->help_top)
            continue;
        int y = y0 + 1 + shown;
        if (y >= y0 + h)
            break;
        draw_text(y, 2, 13, names, draw_attr(DP_KEY));
        draw_text(y, 16, t->w - 17, ui_keys[i].help, A_NORMAL);
        shown++;
    }
}

static int help_act(struct tui *t, enum ui_act a)
{
    switch (a) {
    case UA_DOWN: t->help_top++; break;
    case UA_UP: if (t->help_top > 0) t->help_top--; return 1;
    case UA_PGDN: t->help_top += t->body_h - 2; break;
    case UA_PGUP: t->help_top = 0; return 1;
    case UA_HELP: case UA_BACK: t->help_on = 0; return 1;
    default: return 0;
    }
    int n = 0; /* keep the last page in view */
    char names[64];
    for (int i = 0; i < ui_n_keys; i++)
        n += ui_key_entry(i, UVM(t->view), names, sizeof names);
    int maxtop = n - (t->body_h - 1);
    if (t->help_top > (maxtop > 0 ? maxtop : 0))
        t->help_top = maxtop > 0 ? maxtop : 0;
    return 1;
}

/* ---- input ---- */

static void prompt_key(struct tui *t, int ch)
{
    if (ch == 27) {
        t->prompt_act = UA_NONE;
        return;
    }
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        enum ui_act a = t->prompt_act;
        t->prompt_act = UA_NONE;
        tui_ext_prompt_done(t, a, t->prompt);
        return;
    }
    if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && t->prompt_len > 0)
        t->prompt[--t->prompt_len] = '\0';
    else if (ch >= 32 && ch < 127 && t->prompt_len < (int)sizeof t->prompt - 1) {
        t->prompt[t->prompt_len++] = (char)ch;
        t->prompt[t->prompt_len] = '\0';
    }
}

static void start_prompt(struct tui *t, enum ui_act a)
{
    t->prompt_act = a;
    t->prompt_len = 0;
    t->prompt[0] = '\0';
}

static void switch_view(struct tui *t, int v)
{
    t->view = (enum ui_view)((v + UV__COUNT) % UV__COUNT);
    t->help_top = 0;
}

static int global_act(struct tui *t, enum ui_act a)
{
    switch (a) {
    case UA_QUIT: t->quit = 1; return 1;
    case UA_HELP: t->help_on = 1; t->help_top = 0; return 1;
    case UA_NEXT_VIEW: switch_view(t, t->view + 1); return 1;
    case UA_PREV_VIEW: switch_view(t, t->view - 1); return 1;
    case UA_VIEW_LAYERS: case UA_VIEW_TENSOR: case UA_VIEW_QUANT: case UA_VIEW_RUNS:
    case UA_VIEW_CORR:
        switch_view(t, a - UA_VIEW_LAYERS);
        return 1;
    case UA_FILTER: case UA_SEARCH: case UA_CORR_WHERE: start_prompt(t, a); return 1;
    case UA_THEME:
        draw_theme_apply((draw.theme + 1) % DT__COUNT);
        tui_msg(t, 0, "theme: %s", draw_theme_name(draw.theme));
        return 1;
    case UA_REDRAW: clearok(curscr, TRUE); return 1;
    case UA_SCREEN_SAVE: {
        char m[300];
        int e = screen_save(m, sizeof m);
        tui_msg(t, e != 0, "%s", m);
        return 1;
    }
    case UA_CANCEL:
        if (worker_busy(&t->job)) {
            worker_request_cancel(&t->job);
            tui_msg(t, 0, "cancelling %s ...", t->job.label);
        }
        return 1;
    default: return tui_ext_global_act(t, a);
    }
}

static void key_event(struct tui *t, int ch);

static void mouse_event(struct tui *t)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    if (ev.bstate & BUTTON4_PRESSED) {
        key_event(t, KEY_UP);
        return;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        key_event(t, KEY_DOWN);
        return;
    }
    if (!(ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED)))
        return;
    if (ev.y == 0) {
        for (int v = 0; v < UV__COUNT; v++)
            if (ev.x >= t->tab_x[v] && ev.x < t->tab_x[v + 1])
                switch_view(t, v);
        t->help_on = 0;
        return;
    }
    if (t->list_h > 0 && ev.y >= t->list_y0 && ev.y < t->list_y0 + t->list_h) {
        int dbl = (ev.bstate & BUTTON1_DOUBLE_CLICKED) != 0;
        if (t->view == UV_LAYERS)
            view_layers_click(t, ev.y - t->list_y0, dbl);
        else
            tui_ext_click(t, ev.y - t->list_y0, dbl);
    }
}

/* One key or mouse event, without drawing (the wheel arrives as Up/Down). */
static void key_event(struct tui *t, int ch)
{
    if (ch == KEY_MOUSE) {
        mouse_event(t);
    } else if (ch == KEY_RESIZE) {
        /* nothing: tui_draw reads the new size */
    } else if (t->prompt_act) {
        prompt_key(t, ch);
    } else {
        enum ui_act a = ui_key_lookup(ch, t->view);
        int done = t->help_on && help_act(t, a);
        if (!done && a != UA_NONE) {
            t->help_on = 0;
            if (!(t->view == UV_LAYERS ? view_layers_act(t, a)
                  : t->view == UV_TENSOR ? view_tensor_act(t, a)
                                         : tui_ext_act(t, a)))
                global_act(t, a);
        }
    }
}

int tui_step(struct tui *t, int ch)
{
    key_event(t, ch);
    tui_draw(t);
    return t->quit;
}

/* ---- terminal lifetime ---- */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
    sa.sa_handler = on_fatal;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

/* newterm, not initscr: an unknown TERM is a message and an exit code,
 * not ncurses exiting the process. */
static SCREEN *screen_start(void)
{
    if (tcgetattr(STDIN_FILENO, &saved_tio) == 0)
        have_tio = 1;
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr)
        return NULL;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED |
                  BUTTON5_PRESSED,
              NULL);
    mouseinterval(200);
    timeout(100);
    draw_init();
    /* After newterm, so our SIGWINCH flag replaces ncurses' handler. */
    install_signals();
    return scr;
}

/* SIGWINCH: ask the kernel for the size and let curses adopt it. */
static void apply_winch(void)
{
    struct winsize ws;
    sig_winch = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
}

int tui_pending(const struct tui *t)
{
    if (t->view == UV_TENSOR && !t->help_on)
        return vm_map_pending(&t->map) || vm_hist_pending(&t->hist);
    return 0;
}

int tui_idle(struct tui *t)
{
    if (!tui_pending(t) && !tui_ext_tick(t))
        return 0;
    tui_draw(t); /* each draw advances the pending work by one step */
    return 1;
}

/* In a demo: the user's Space / Left / Right steer the tour, and when no
 * key is typed the tour types its next one. */
static int demo_key(struct tui *t, int ch)
{
    double now = qclock_seconds();
    if (ch != ERR && demo_user_key(t->demo, ch, now)) {
        tui_draw(t);
        return ERR;
    }
    if (ch != ERR)
        return ch;
    int k = demo_next(t->demo, now, worker_busy(&t->job), demo_screen_shows, t->demo);
    return k >= 0 ? k : ERR;
}

static void main_loop(struct tui *t)
{
    tui_draw(t);
    while (!t->quit && !sig_quit) {
        if (sig_winch) {
            apply_winch();
            tui_draw(t);
        }
        /* Pending map / histogram steps: poll keys without waiting. */
        timeout(tui_pending(t) || tui_ext_tick(t) ? 0 : t->demo ? 20 : 100);
        int ch = getch();
        if (t->demo)
            ch = demo_key(t, ch);
        int finished = worker_poll(&t->job);
        if (finished)
            tui_ext_job_done(t);
        if (ch != ERR)
            tui_step(t, ch == '\r' ? '\n' : ch);
        else if (finished || worker_busy(&t->job) || tui_pending(t) || tui_ext_tick(t))
            tui_draw(t);
    }
}

static int tui_run(const char *model_arg, struct demo *demo)
{
    struct qerr err;
    qerr_clear(&err);
    const char *path = cli_model_path(model_arg, &err);
    if (!path)
        return cli_fail(&err);
    setlocale(LC_ALL, "");
    char msg[800];
    int code;
    struct tui *t = tui_new(path, msg, sizeof msg, &code);
    if (!t) {
        fprintf(stderr, "qlens: %s\n", msg);
        return cli_exit_code(code);
    }
    SCREEN *scr = screen_start();
    if (!scr) {
        const char *term = getenv("TERM");
        fprintf(stderr, "qlens: cannot use the terminal (TERM=%s); the headless commands "
                        "work without one: qlens --help\n", term ? term : "unset");
        tui_close(t);
        return EXIT_IO;
    }
    if (tui_load(t, msg, sizeof msg) < 0) {
        endwin(); /* before printing: the message must land on a sane terminal */
        delscreen(scr);
        fprintf(stderr, "qlens: %s\n", msg);
        tui_close(t);
        return EXIT_INTERNAL;
    }
    t->demo = demo;
    main_loop(t);
    int interrupted = sig_quit != 0;
    worker_stop(&t->job);
    endwin();
    delscreen(scr);
    tui_close(t);
    return interrupted ? EXIT_CANCEL : EXIT_OK;
}

int tui_main(const char *model_arg)
{
    return tui_run(model_arg, NULL);
}

int tui_demo(const char *model_arg, struct demo *d)
{
    return tui_run(model_arg, d);
}

int tui_print_keys(FILE *f)
{
    ui_keys_print_markdown(f);
    return ferror(f) ? EXIT_IO : EXIT_OK;
}
