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

#include "src/mapguard.h"
#include "src/imatrix.h"
#include "src/mdiff.h"
#include "src/paths.h"
#include "src/qclock.h"
#include "src/tscache.h"
#include "ui/demo.h"
#include "ui/draw.h"
#include "ui/screen.h"
#include "ui/tui_int.h"

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
    t->msg_time = qclock_seconds();
}

/* Messages go after TUI_MSG_SECONDS (errors after twice that); 1 when
 * one just went (the screen needs a redraw). */
static int msg_expire(struct tui *t)
{
    double age = qclock_seconds() - t->msg_time;
    if (!t->msg[0] || age < TUI_MSG_SECONDS * (t->msg_err ? 2 : 1))
        return 0;
    t->msg[0] = '\0';
    return 1;
}

/* ---- opening ---- */

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
    worker_init(&t->job);
    jobq_init(&t->jq);
    jobs_data_init(&t->data, &t->m);
    return t;
}

static int tui_load(struct tui *t, char *errbuf, int errcap)
{
    /* The rows at once, their statistics from a thread: the first frame
     * of a 7B model does not wait for 291 tensors (issue 15). */
    if (vm_layers_init_rows(&t->lay, &t->m) < 0) {
        snprintf(errbuf, (size_t)errcap, "out of memory for the tensor list");
        return -1;
    }
    /* the copies it makes for the views: all of a small model's, within
     * the float-copy budget (src/model.h) */
    if (statsload_start(&t->sl, &t->m, (double)qmodel_f32_budget()) < 0) { /* no thread: here and now */
        vm_layers_free(&t->lay);
        if (vm_layers_init(&t->lay, &t->m, NULL, NULL) < 0) {
            snprintf(errbuf, (size_t)errcap, "out of memory computing statistics");
            return -1;
        }
    }
    t->lay.base = t->base;
    for (int v = 0; v < UV__COUNT; v++)
        if (ui_views[v]->init(t) < 0) {
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

int tui_poll_stats(struct tui *t)
{
    int got = statsload_take(&t->sl, &t->lay);
    if (got && t->lay.n_stats == t->lay.n_rows && !t->sl_said) {
        t->sl_said = 1;
        double s = (t->sl.t_end ? t->sl.t_end : qclock_seconds()) - t->sl.t_start;
        int hits = statsload_cache_hits(&t->sl);
        char from[200] = "";
        if (hits)
            snprintf(from, sizeof from, " (%d from the cache)", hits);
        else if (t->sl.cache_state == TSCACHE_STALE || t->sl.cache_state == TSCACHE_CORRUPT)
            snprintf(from, sizeof from, " (cache: %.150s; replaced)", t->sl.cache_why);
        if (t->lay.n_failed)
            tui_msg(t, 1, "statistics: %d of %d tensors failed (their rows say FAILED; the "
                    "Tensor view says why)", t->lay.n_failed, t->lay.n_rows);
        else if (t->sl.cache_err[0])
            tui_msg(t, 1, "statistics cache not saved: %s", t->sl.cache_err);
        else if (!t->msg[0] || !t->msg_err)
            tui_msg(t, 0, "statistics of %d tensors in %.1f s%s", t->lay.n_rows, s, from);
    }
    return t->lay.n_rows - t->lay.n_stats;
}

void tui_wait_stats(struct tui *t)
{
    statsload_join(&t->sl);
    tui_poll_stats(t);
}

static int start_now(struct tui *t, struct jobs_ctx *j, enum ui_view owner, const char *label);

/* The next waiting job, when the worker is free (the one before it just
 * ended: its message stays, the next one starts quietly). */
static void start_waiting(struct tui *t)
{
    struct jq_entry e;
    while (!worker_busy(&t->job) && jobq_pop(&t->jq, &e)) {
        e.j->quiet = 1;
        if (start_now(t, e.j, (enum ui_view)e.owner, e.label) == 0)
            return;
    }
}

/* The running job ended (rc in t->job.rc): its owner takes the results,
 * the panel's history records it, the next waiting job starts. */
static void job_finish(struct tui *t)
{
    struct jobs_ctx *j = t->job_ctx;
    t->job_ctx = NULL;
    if (!j)
        return;
    int rc = t->job.rc;
    double secs = qclock_seconds() - t->job.t_start, before = t->msg_time;
    const struct view_ops *o = ui_views[j->owner];
    if (o->job_done)
        o->job_done(t, j, rc);
    free(j);
    int state = rc == 0 ? JQ_DONE : rc == QERR_CANCEL ? JQ_CANCELLED : JQ_FAILED;
    const char *msg = state == JQ_FAILED ? t->job.err.msg
                      : state == JQ_CANCELLED ? "cancelled"
                      : t->msg_time != before ? t->msg : ""; /* the owner's summary */
    jobq_record(&t->jq, t->job.label, state, secs, msg);
    start_waiting(t);
}

void tui_cancel_waiting(struct tui *t, int i)
{
    struct jq_entry e;
    if (!jobq_remove(&t->jq, i, &e))
        return;
    const struct view_ops *o = ui_views[e.owner];
    if (o->job_done)
        o->job_done(t, e.j, QERR_CANCEL);
    free(e.j);
    jobq_record(&t->jq, e.label, JQ_CANCELLED, 0, "cancelled before it started");
    tui_msg(t, 0, "removed from the queue: %s", e.label);
}

void tui_close(struct tui *t)
{
    if (!t)
        return;
    while (t->jq.n_wait > 0) /* never started: their owners free them */
        tui_cancel_waiting(t, t->jq.n_wait - 1);
    worker_stop(&t->job);
    if (t->job_ctx) { /* stopped before the main loop saw it end */
        t->job.rc = QERR_CANCEL;
        job_finish(t);
    }
    for (int v = UV__COUNT - 1; v >= 0; v--)
        if (ui_views[v]->free)
            ui_views[v]->free(t);
    jobs_data_free(&t->data);
    jobs_acts_free(&t->acts);
    statsload_free(&t->sl);
    if (t->imx_start) { /* the Imatrix view never took it */
        qimatrix_free(t->imx_start);
        free(t->imx_start);
    }
    vm_layers_free(&t->lay);
    if (t->base)
        mdiff_close(t->base);
    free(t->base);
    if (t->model_open)
        qmodel_close(&t->m);
    free(t);
}

/* --base: open the model compared against (before the screen starts, so
 * an error prints on a plain terminal). */
static int open_base(struct tui *t, const char *base_arg, char *errbuf, int errcap)
{
    struct qerr err;
    qerr_clear(&err);
    t->base = calloc(1, sizeof *t->base);
    if (!t->base)
        return snprintf(errbuf, (size_t)errcap, "out of memory"), QERR_NOMEM;
    if (mdiff_open(t->base, &t->m, base_arg, &err) < 0) {
        free(t->base);
        t->base = NULL;
        snprintf(errbuf, (size_t)errcap, "%s", err.msg);
        return err.code ? err.code : QERR_FORMAT;
    }
    return 0;
}

void tui_select_tensor(struct tui *t, int ti)
{
    if (ti < 0 || ti >= t->m.n_tensors || ti == t->ti)
        return;
    t->ti = ti;
    statsload_want(&t->sl, ti); /* the tensor looked at goes first */
    for (int v = 0; v < UV__COUNT; v++)
        if (ui_views[v]->tensor_changed)
            ui_views[v]->tensor_changed(t);
}

void tui_show(struct tui *t, enum ui_view v)
{
    enum ui_view to = (enum ui_view)(((int)v + UV__COUNT) % UV__COUNT);
    if (to != t->view && ui_views[t->view]->leave)
        ui_views[t->view]->leave(t);
    t->view = to;
    t->help_top = 0;
}

void tui_prompt(struct tui *t, enum ui_view owner, enum ui_act a, const char *label)
{
    t->prompt_act = a;
    t->prompt_view = owner;
    t->prompt_label = label;
    t->prompt_len = 0;
    t->prompt[0] = '\0';
}

int tui_job_busy(struct tui *t)
{
    if (!worker_busy(&t->job))
        return 0;
    tui_msg(t, 1, "a job is running (%s); c cancels it", t->job.label);
    return 1;
}

int tui_start_job(struct tui *t, struct jobs_ctx *j, enum ui_view owner, const char *label)
{
    j->owner = owner;
    if (worker_busy(&t->job) || t->jq.n_wait > 0) { /* wait for the worker */
        int pos = jobq_push(&t->jq, j, owner, label, qclock_seconds());
        if (pos < 0) {
            tui_msg(t, 1, "cannot queue %s: %d jobs wait already (J lists them)", label,
                    t->jq.n_wait);
            if (ui_views[owner]->job_done)
                ui_views[owner]->job_done(t, j, QERR_CANCEL);
            free(j);
            return -1;
        }
        tui_msg(t, 0, "queued: %s (starts after %d job%s; J shows the jobs)", label, pos,
                pos > 1 ? "s" : "");
        return 0;
    }
    return start_now(t, j, owner, label);
}

/* The job cannot start: say why (status bar and the panel's history),
 * give the owner its job_done. */
static int refuse(struct tui *t, struct jobs_ctx *j, enum ui_view owner, const char *label,
                  const char *why)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%.199s", why); /* why may live in j or the worker */
    if (ui_views[owner]->job_done)
        ui_views[owner]->job_done(t, j, QERR_CANCEL);
    free(j);
    jobq_record(&t->jq, label, JQ_FAILED, 0, msg);
    tui_msg(t, 1, "cannot start %s: %s", label, msg); /* over the owner's "cancelled" */
    return -1;
}

/* No float copies are made for a job (ARCHITECTURE.md, threads): the
 * passes read F16/BF16 and quantized weights in tiles, a job that needs
 * one tensor's floats pins them itself, and the whole-model jobs check
 * their own memory before they start (src/pipeline.h,
 * pipe_check_memory), as qlens quant and ppl do. */
static int start_now(struct tui *t, struct jobs_ctx *j, enum ui_view owner, const char *label)
{
    j->owner = owner;
    int rc = worker_start(&t->job, j->kind, label, jobs_run, j);
    if (rc < 0)
        return refuse(t, j, owner, label, rc == QERR_ARG ? "a job is running" : t->job.err.msg);
    t->job_ctx = j;
    if (!j->quiet)
        tui_msg(t, 0, "started: %s", label);
    return 0;
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
    /* A big model is still loading: the statistics' progress, bold. */
    int left = t->lay.n_rows - t->lay.n_stats;
    if (left > 0 && t->w - x > 24) {
        char p[64];
        double eta = statsload_eta(&t->sl, qclock_seconds());
        int o = snprintf(p, sizeof p, " stats %d/%d", t->lay.n_stats, t->lay.n_rows);
        if (eta >= 0 && o > 0 && t->w - x > 40)
            snprintf(p + o, sizeof p - (size_t)o, ", %.0f s left", eta);
        x += draw_text(0, x + 1, t->w - x - 1, p, draw_attr(DP_TAB) | A_BOLD) + 1;
    }
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
        /* a long label gives way to what is typed (a path): its end shows */
        int room = t->w - t->prompt_len - 3;
        char lab[300];
        draw_fit(t->prompt_label, room > 8 ? room : 8, lab, sizeof lab);
        const char *p = t->prompt;
        if (t->prompt_len + 11 > t->w && t->w > 12)
            p += t->prompt_len + 11 - t->w;
        draw_textf(y, 0, t->w, draw_attr(DP_STATUS) | A_BOLD, "%s: %s_", lab, p);
        return;
    }
    int x = 0, mlen = (int)strlen(t->msg);
    if (worker_busy(&t->job)) {
        /* label, percent, bar, phase with its step and time left; what
         * does not fit beside the message goes (the message stays whole) */
        int pm = atomic_load(&t->job.permille);
        char st[128], label[100];
        worker_status(&t->job, qclock_seconds(), st, sizeof st);
        snprintf(label, sizeof label, "%.*s", t->w / 3, t->job.label);
        int full = (int)(strlen(label) + strlen(st)) + 40, bw = t->w / 8 < 20 ? t->w / 8 : 20;
        int level = mlen + full <= t->w ? 0 : mlen + full - (int)strlen(label) <= t->w ? 1 : 2;
        if (level == 0)
            x += draw_textf(y, 0, t->w, draw_attr(DP_STATUS) | A_BOLD, "%s ", label);
        x += draw_textf(y, x, t->w - x, draw_attr(DP_STATUS) | A_BOLD, "%3d%% ", pm / 10);
        int fill = bw * pm / 1000;
        for (int i = 0; level < 2 && i < bw && x < t->w; i++, x++)
            draw_text(y, x, 1, i < fill ? (draw.utf8 ? "\u2588" : "#") : (draw.utf8 ? "\u2591" : "."),
                      draw_attr(DP_STATUS));
        if (level < 2)
            x += draw_textf(y, x, t->w - x, draw_attr(DP_STATUS), " %s | c cancels%s ", st,
                            t->jq.n_wait ? " | J jobs" : "");
    }
    char fit[sizeof t->msg];
    draw_fit(t->msg, t->w - x, fit, sizeof fit);
    draw_text(y, x, t->w - x, fit, t->msg_err ? draw_attr(DP_ERR) : draw_attr(DP_STATUS));
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

static void help_draw(struct tui *t, int y0, int h);

static void draw_too_small(struct tui *t)
{
    char need[64], have[64];
    const struct view_ops *o = ui_views[t->view];
    snprintf(need, sizeof need, "need %dx%d", o->min_w, o->min_h + 3);
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
    const struct view_ops *o = ui_views[t->view];
    if (t->w < o->min_w || t->h < o->min_h + 3) {
        draw_too_small(t);
        refresh();
        return;
    }
    t->body_y = 1;
    t->body_h = t->h - 3;
    draw_tabs(t);
    if (t->help_on)
        help_draw(t, t->body_y, t->body_h);
    else if (t->jobs_on)
        jobs_panel_draw(t, t->body_y, t->body_h);
    else
        o->draw(t, t->body_y, t->body_h);
    draw_status(t, t->h - 2);
    draw_keybar(t, t->h - 1);
    if (t->demo) /* the tour's caption over the bottom of the view */
        demo_draw(t->demo, t->h, t->w);
    refresh();
}

/* ---- help overlay: every key of the table that acts in this view ---- */

static void help_draw(struct tui *t, int y0, int h)
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
        const struct view_ops *o = ui_views[t->prompt_view];
        if (o->prompt_done)
            o->prompt_done(t, a, t->prompt);
        return;
    }
    if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && t->prompt_len > 0)
        t->prompt[--t->prompt_len] = '\0';
    else if (ch >= 32 && ch < 127 && t->prompt_len < (int)sizeof t->prompt - 1) {
        t->prompt[t->prompt_len++] = (char)ch;
        t->prompt[t->prompt_len] = '\0';
    }
}

static int global_act(struct tui *t, enum ui_act a)
{
    switch (a) {
    case UA_QUIT:
        if (worker_busy(&t->job) && !t->quit_armed) { /* do not drop a long job by accident */
            t->quit_armed = 1;
            tui_msg(t, 1, "%s is running%s: q again quits and cancels it, any other key keeps it",
                    t->job.label, t->jq.n_wait ? " (more wait)" : "");
            return 1;
        }
        t->quit = 1;
        return 1;
    case UA_HELP: t->help_on = 1; t->help_top = 0; return 1;
    case UA_NEXT_VIEW: tui_show(t, (enum ui_view)(t->view + 1)); return 1;
    case UA_PREV_VIEW: tui_show(t, (enum ui_view)(t->view - 1 + UV__COUNT)); return 1;
    case UA_VIEW_LAYERS: case UA_VIEW_TENSOR: case UA_VIEW_QUANT: case UA_VIEW_RUNS:
    case UA_VIEW_CORR: case UA_VIEW_IMATRIX: case UA_VIEW_PLAN: case UA_VIEW_DIV:
        tui_show(t, (enum ui_view)(a - UA_VIEW_LAYERS));
        return 1;
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
        } else {
            tui_msg(t, 0, "no job is running");
        }
        return 1;
    case UA_JOBS:
        t->jobs_on = !t->jobs_on;
        t->jobs_sel = 0;
        return 1;
    default: return 0;
    }
}

/* The shown view first, then the frame, then the keys other views serve
 * from everywhere (starting their jobs). */
static int dispatch(struct tui *t, enum ui_act a)
{
    if (ui_views[t->view]->act(t, a, 1) || global_act(t, a))
        return 1;
    for (int v = 0; v < UV__COUNT; v++)
        if (v != (int)t->view && ui_views[v]->act(t, a, 0))
            return 1;
    return 0;
}

static void key_event(struct tui *t, int ch);

/* A key that does nothing here says so, and where it acts. */
static void unused_key(struct tui *t, int ch)
{
    if (ch < 32 || ch >= 127)
        return;
    unsigned m = ui_key_views(ch);
    if (!m) {
        tui_msg(t, 1, "%c: no such key (? lists every key)", ch);
        return;
    }
    char where[96];
    int o = 0;
    where[0] = '\0';
    for (int v = 0; v < UV__COUNT && o < (int)sizeof where; v++)
        if (m & UVM(v))
            o += snprintf(where + o, sizeof where - (size_t)o, "%s%s", o ? ", " : "",
                          ui_view_name((enum ui_view)v));
    tui_msg(t, 1, "%c does nothing in the %s view (it acts in %s)", ch,
            ui_view_name(t->view), where);
}

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
                tui_show(t, (enum ui_view)v);
        t->help_on = t->jobs_on = 0;
        return;
    }
    if (t->list_h > 0 && ev.y >= t->list_y0 && ev.y < t->list_y0 + t->list_h) {
        int dbl = (ev.bstate & BUTTON1_DOUBLE_CLICKED) != 0;
        if (ui_views[t->view]->click)
            ui_views[t->view]->click(t, ev.y - t->list_y0, ev.x, dbl);
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
        int done = (t->help_on && help_act(t, a)) || (t->jobs_on && jobs_panel_act(t, a));
        if (a != UA_QUIT && t->quit_armed) {
            t->quit_armed = 0;
            if (worker_busy(&t->job))
                tui_msg(t, 0, "still running: %s", t->job.label);
        }
        if (!done && a != UA_NONE) {
            t->help_on = 0;
            if (a != UA_JOBS)
                t->jobs_on = 0;
            dispatch(t, a);
        } else if (a == UA_NONE) {
            unused_key(t, ch);
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
    /* a model file truncated while mapped: zero pages and a flag instead of
     * death (src/mapguard.h); other bus errors still reach on_fatal */
    mapguard_install();
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

/* Is the shown view still computing a map or histogram in steps? */
static int tui_pending(struct tui *t)
{
    const struct view_ops *o = ui_views[t->view];
    return !t->help_on && o->pending && o->pending(t);
}

int tui_idle(struct tui *t)
{
    if (!tui_pending(t))
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
    /* a step's "wait" also waits for the statistics: the tour sorts and
     * colours by them */
    int busy = worker_busy(&t->job) || t->lay.n_stats < t->lay.n_rows;
    int k = demo_next(t->demo, now, busy, demo_screen_shows, t->demo);
    return k >= 0 ? k : ERR;
}

/* The model file truncated by another process (src/mapguard.h): numbers
 * read since are zeros, so a running job stops, a finished one's result is
 * void, and the message stays until qlens is restarted. */
static void check_intact(struct tui *t, int finished)
{
    struct qerr gone;
    if (!qmodel_intact(&t->m, &gone))
        return;
    if (worker_busy(&t->job))
        worker_request_cancel(&t->job);
    if (finished && (t->job.rc == 0 || t->job.rc == QERR_CANCEL)) {
        t->job.rc = gone.code;
        t->job.err = gone;
    }
    if (!t->msg_err || !strstr(t->msg, "truncated while open")) {
        tui_msg(t, 1, "%s", gone.msg);
        tui_draw(t);
    }
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
        timeout(tui_pending(t) ? 0 : t->demo ? 20 : 100);
        int ch = getch();
        if (t->demo)
            ch = demo_key(t, ch);
        int finished = worker_poll(&t->job);
        check_intact(t, finished);
        if (finished)
            job_finish(t);
        int loading = t->lay.n_stats < t->lay.n_rows;
        if (loading)
            tui_poll_stats(t);
        if (ch != ERR)
            tui_step(t, ch == '\r' ? '\n' : ch);
        else if (finished || loading || worker_busy(&t->job) || tui_pending(t) || msg_expire(t))
            tui_draw(t);
    }
}

/* qlens --imatrix FILE: read and checked against the model before the
 * screen starts, so a bad file is an error on a sane terminal. */
static int open_imatrix(struct tui *t, const char *path, char *errbuf, int errcap)
{
    struct qerr err;
    qerr_clear(&err);
    struct qimatrix *im = calloc(1, sizeof *im);
    if (!im)
        return QERR_NOMEM;
    if (qimatrix_read(im, path, &err) < 0 || qimatrix_check(im, path, &t->m, &err) < 0) {
        if (im->e)
            qimatrix_free(im);
        free(im);
        snprintf(errbuf, (size_t)errcap, "%s", err.msg);
        return err.code ? err.code : QERR_FORMAT;
    }
    t->imx_start = im;
    t->imx_start_path = path;
    return 0;
}

static int tui_run(const char *model_arg, const char *base_arg, const char *imx_arg,
                   struct demo *demo)
{
    struct qerr err;
    qerr_clear(&err);
    char path[4096];
    if (paths_model(model_arg, path, sizeof path, &err) < 0) {
        fprintf(stderr, "qlens: %s\n", err.msg);
        return err.code;
    }
    setlocale(LC_ALL, "");
    char msg[800];
    int code;
    struct tui *t = tui_new(path, msg, sizeof msg, &code);
    if (!t) {
        fprintf(stderr, "qlens: %s\n", msg);
        return code;
    }
    if ((base_arg && (code = open_base(t, base_arg, msg, sizeof msg))) ||
        (imx_arg && (code = open_imatrix(t, imx_arg, msg, sizeof msg)))) {
        fprintf(stderr, "qlens: %s\n", msg);
        tui_close(t);
        return code;
    }
    SCREEN *scr = screen_start();
    if (!scr) {
        const char *term = getenv("TERM");
        fprintf(stderr, "qlens: cannot use the terminal (TERM=%s); the headless commands "
                        "work without one: qlens --help\n", term ? term : "unset");
        tui_close(t);
        return QERR_IO;
    }
    if (tui_load(t, msg, sizeof msg) < 0) {
        endwin(); /* before printing: the message must land on a sane terminal */
        delscreen(scr);
        fprintf(stderr, "qlens: %s\n", msg);
        tui_close(t);
        return QERR_NOMEM;
    }
    t->demo = demo;
    main_loop(t);
    int interrupted = sig_quit != 0;
    worker_stop(&t->job);
    endwin();
    delscreen(scr);
    tui_close(t);
    return interrupted ? QERR_CANCEL : QERR_OK;
}

int tui_main(const char *model_arg)
{
    return tui_run(model_arg, NULL, NULL, NULL);
}

int tui_main_imatrix(const char *model_arg, const char *imatrix_arg)
{
    return tui_run(model_arg, NULL, imatrix_arg, NULL);
}

int tui_main_base(const char *model_arg, const char *base_arg)
{
    return tui_run(model_arg, base_arg, NULL, NULL);
}

int tui_demo(const char *model_arg, struct demo *d)
{
    return tui_run(model_arg, NULL, NULL, d);
}

int tui_print_keys(FILE *f)
{
    ui_keys_print_markdown(f);
    return ferror(f) ? QERR_IO : QERR_OK;
}
