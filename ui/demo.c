/* demo: scripted tour of the dashboard (see demo.h). */
#include "ui/demo.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/afile.h"
#include "src/svg.h"
#include "ui/draw.h"
#include "ui/keys.h"
#include "ui/screen.h"

/* The story of the seeds on stories260K: an outlier-heavy layer, 2-bit
 * GPTQ breaking the model, SpQR keeping its outliers (and what that costs
 * in bits/weight), the perplexity table, the correlation with benchmarks. */
const char demo_builtin[] =
    "caption stories260K: a 260K-parameter Llama (5 layers, dim 64). The Layers view lists "
    "every tensor with its kurtosis (3 = normal), AbsMax/std and share of outliers.\n"
    "key Esc 1 Home\n"
    "hold 6\n"
    "caption The outlier-heavy layer: blk.4.attn_k has the largest share of weights beyond "
    "6 sigma and a kurtosis of 8.6.\n"
    "key Esc 1 Home\n"
    "type /blk.4.attn_k\\n\n"
    "hold 6\n"
    "caption Its outlier map (max |w| per cell) and histogram with the grid: a few large "
    "weights set the grid's step, so the bulk of the weights falls into few levels.\n"
    "key Esc 1 Home\n"
    "type /blk.4.attn_k\\n\n"
    "key Enter\n"
    "hold 7\n"
    "caption First the float baseline: P measures the perplexity of the unquantized model "
    "on tinystories-eval.\n"
    "key 4 P\n"
    "wait\n"
    "hold 4\n"
    "caption 2-bit GPTQ on every layer (Quant view, A): perplexity explodes. One grid per "
    "group of 128 cannot hold both the outliers and the bulk.\n"
    "key 3\n"
    "until m 8 GPTQ\n"
    "until B 8 GPTQ 2 bit\n"
    "wait\n" /* the Quant view calibrates GPTQ for the shown tensor first */
    "key A\n"
    "wait\n"
    "key 4\n"
    "hold 7\n"
    "caption SpQR at 2 bits keeps the outliers in float, with groups of 16: perplexity stays "
    "usable. Its bits/weight column shows the price: the outliers and group statistics cost "
    "bits, far above GPTQ's 2.3.\n"
    "key 3\n"
    "until m 8 SpQR\n"
    "until B 8 SpQR 2 bit\n"
    "type :group 16\\n\n" /* the method keeps GPTQ's g128: SpQR's own groups */
    "wait\n"
    "key A\n"
    "wait\n"
    "key 4\n"
    "hold 8\n"
    "caption The perplexity table as a plot: size (bits/weight) against perplexity, the "
    "Pareto front of the runs.\n"
    "key 4\n"
    "until v 3 size vs PPL\n"
    "hold 6\n"
    "caption Does perplexity predict benchmark scores? Jin et al.'s data: Pearson r and "
    "Spearman rho of perplexity against MMLU; x / y pick other variables, t the table.\n"
    "key 5\n"
    "hold 7\n";

void demo_free(struct demo *d)
{
    for (int i = 0; i < d->n; i++)
        free(d->s[i].op);
    free(d->s);
    memset(d, 0, sizeof *d);
}

int demo_key_code(const char *name)
{
    if (!strcasecmp(name, "Space"))
        return ' ';
    for (int i = 0; i < ui_n_keys; i++)
        if (!strcmp(ui_keys[i].name, name))
            return ui_keys[i].key;
    if (strlen(name) == 1 && name[0] > ' ' && name[0] < 127)
        return name[0];
    return -1;
}

static struct demo_op *add_op(struct demo *d)
{
    struct demo_step *s = &d->s[d->n - 1];
    if (s->n_op == s->cap_op) {
        int cap = s->cap_op ? 2 * s->cap_op : 16;
        struct demo_op *v = realloc(s->op, sizeof *v * (size_t)cap);
        if (!v)
            return NULL;
        s->op = v;
        s->cap_op = cap;
    }
    struct demo_op *o = &s->op[s->n_op++];
    memset(o, 0, sizeof *o);
    return o;
}

static int add_step(struct demo *d, const char *caption)
{
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 16;
        struct demo_step *v = realloc(d->s, sizeof *v * (size_t)cap);
        if (!v)
            return -1;
        d->s = v;
        d->cap = cap;
    }
    struct demo_step *s = &d->s[d->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->caption, sizeof s->caption, "%s", caption);
    s->hold = 5;
    return 0;
}

static int add_key(struct demo *d, int key)
{
    struct demo_op *o = add_op(d);
    if (!o)
        return -1;
    o->kind = DOP_KEY;
    o->key = key;
    return 0;
}

/* One line (cut of its newline) of the script. */
static int parse_line(struct demo *d, char *ln, const char *name, int no, struct qerr *err)
{
    while (*ln == ' ' || *ln == '\t')
        ln++;
    if (!*ln || *ln == '#')
        return 0;
    char *arg = ln + strcspn(ln, " \t");
    if (*arg)
        *arg++ = 0;
    while (*arg == ' ' || *arg == '\t')
        arg++;
    if (!strcmp(ln, "caption"))
        return add_step(d, arg) ? qerr_set(err, QERR_NOMEM, "out of memory") : 0;
    if (!d->n)
        return qerr_set(err, QERR_FORMAT, "%s:%d: '%s' before the first caption", name, no, ln);
    if (!strcmp(ln, "hold")) {
        char *end;
        double s = strtod(arg, &end);
        if (end == arg || *end || s < 0 || s > 3600)
            return qerr_set(err, QERR_FORMAT, "%s:%d: hold wants seconds (0..3600), got '%s'",
                            name, no, arg);
        d->s[d->n - 1].hold = s;
        return 0;
    }
    if (!strcmp(ln, "wait"))
        return add_op(d) ? (d->s[d->n - 1].op[d->s[d->n - 1].n_op - 1].kind = DOP_WAIT, 0)
                         : qerr_set(err, QERR_NOMEM, "out of memory");
    if (!strcmp(ln, "type")) {
        for (const char *p = arg; *p; p++) {
            int k = p[0] == '\\' && p[1] == 'n' ? (p++, '\n') : (unsigned char)*p;
            if (add_key(d, k))
                return qerr_set(err, QERR_NOMEM, "out of memory");
        }
        return 0;
    }
    if (!strcmp(ln, "key")) {
        for (char *tok = strtok(arg, " \t"); tok; tok = strtok(NULL, " \t")) {
            int k = demo_key_code(tok);
            if (k < 0)
                return qerr_set(err, QERR_FORMAT, "%s:%d: unknown key '%s'", name, no, tok);
            if (add_key(d, k))
                return qerr_set(err, QERR_NOMEM, "out of memory");
        }
        return 0;
    }
    if (!strcmp(ln, "until")) {
        char key[32], *end;
        int n = 0;
        if (sscanf(arg, "%31s %n", key, &n) != 1 || demo_key_code(key) < 0)
            return qerr_set(err, QERR_FORMAT, "%s:%d: until KEY MAX TEXT: bad key", name, no);
        long max = strtol(arg + n, &end, 10);
        while (*end == ' ')
            end++;
        if (end == arg + n || max < 1 || max > 100 || !*end)
            return qerr_set(err, QERR_FORMAT, "%s:%d: until KEY MAX TEXT: MAX is 1..100 and "
                                              "TEXT not empty", name, no);
        struct demo_op *o = add_op(d);
        if (!o)
            return qerr_set(err, QERR_NOMEM, "out of memory");
        o->kind = DOP_UNTIL;
        o->key = demo_key_code(key);
        o->max = (int)max;
        snprintf(o->text, sizeof o->text, "%s", end);
        return 0;
    }
    return qerr_set(err, QERR_FORMAT, "%s:%d: unknown line '%s' (caption, key, type, until, "
                                      "wait, hold)", name, no, ln);
}

int demo_parse(struct demo *d, const char *text, const char *name, struct qerr *err)
{
    memset(d, 0, sizeof *d);
    d->pace = 1;
    int no = 0, rc = 0;
    for (const char *p = text; *p && !rc;) {
        size_t n = strcspn(p, "\n");
        char ln[1024];
        no++;
        if (n >= sizeof ln)
            rc = qerr_set(err, QERR_FORMAT, "%s:%d: line longer than %zu bytes", name, no,
                          sizeof ln - 1);
        else {
            memcpy(ln, p, n);
            ln[n] = 0;
            rc = parse_line(d, ln, name, no, err);
        }
        p += n + (p[n] == '\n');
    }
    if (!rc && !d->n)
        rc = qerr_set(err, QERR_FORMAT, "%s: no steps (a script starts with 'caption TEXT')",
                      name);
    if (rc)
        demo_free(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* playing                                                              */

void demo_goto(struct demo *d, int i)
{
    d->cur = i < 0 ? 0 : i >= d->n ? d->n - 1 : i;
    d->op = d->presses = 0;
    d->t_end = 0;
    d->done = 0;
}

int demo_user_key(struct demo *d, int ch, double now)
{
    switch (ch) {
    case ' ':
        d->paused = !d->paused;
        if (!d->paused && d->t_end > 0)
            d->t_end = now + d->s[d->cur].hold * d->pace; /* a fresh hold */
        return 1;
    case UIK_RIGHT: case '.':
        if (d->cur + 1 < d->n)
            demo_goto(d, d->cur + 1);
        return 1;
    case UIK_LEFT: case ',':
        demo_goto(d, d->cur - 1);
        return 1;
    default:
        return 0;
    }
}

int demo_next(struct demo *d, double now, int busy, int (*shows)(void *, const char *),
              void *ud)
{
    if (d->paused || d->done)
        return -1;
    struct demo_step *s = &d->s[d->cur];
    while (d->op < s->n_op) {
        struct demo_op *o = &s->op[d->op];
        if (o->kind == DOP_KEY) {
            d->op++;
            return o->key;
        }
        if (o->kind == DOP_WAIT) {
            if (busy)
                return -1;
            d->op++;
            continue;
        }
        if (shows(ud, o->text) || d->presses >= o->max) {
            d->missed += !shows(ud, o->text);
            d->op++;
            d->presses = 0;
            continue;
        }
        d->presses++;
        return o->key;
    }
    if (d->t_end == 0) {
        d->t_end = now + s->hold * d->pace;
        return -1;
    }
    if (now < d->t_end)
        return -1;
    if (d->cur + 1 < d->n) {
        demo_goto(d, d->cur + 1);
        return -1;
    }
    d->done = 1;
    return 'q'; /* the end of the tour */
}

/* ------------------------------------------------------------------ */
/* curses                                                               */

int demo_screen_shows(void *ud, const char *text)
{
    const struct demo *d = ud;
    struct sgrid g;
    struct sbuf b;
    if (screen_grab(&g))
        return 0;
    if (d && d->box_y0 > 0 && d->box_y0 < g.h)
        g.h = d->box_y0; /* the captions name what the steps look for */
    sb_init(&b);
    sgrid_to_text(&g, &b);
    int hit = b.p && strstr(b.p, text) != NULL;
    sb_free(&b);
    sgrid_free(&g);
    return hit;
}

/* Word-wrap s into lines of at most w columns (bytes; captions are ASCII). */
static int wrap(const char *s, int w, char lines[][512], int max)
{
    int n = 0;
    while (*s && n < max) {
        int len = (int)strlen(s);
        int cut = len <= w ? len : w;
        if (len > w) {
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = w;
        }
        snprintf(lines[n++], 512, "%.*s", cut, s);
        s += cut;
        while (*s == ' ')
            s++;
    }
    return n;
}

void demo_draw(struct demo *d, int h, int w)
{
    if (h < 8 || w < 30)
        return;
    char lines[4][512], head[160];
    const struct demo_step *s = &d->s[d->cur];
    int n = wrap(s->caption, w - 4, lines, 3);
    int y0 = h - 2 - (n + 2);
    d->box_y0 = y0;
    attr_t a = draw_attr(DP_TITLE);
    snprintf(head, sizeof head, " demo %d/%d%s   Space %s   <- back   -> next   q quit ",
             d->cur + 1, d->n, d->paused ? " (paused)" : "", d->paused ? "plays" : "pauses");
    for (int y = y0; y < h - 2; y++) {
        attron(a);
        mvhline(y, 0, ' ', w);
        attroff(a);
    }
    attron(a | A_BOLD);
    mvaddnstr(y0, 1, head, w - 2);
    attroff(a | A_BOLD);
    attron(a);
    for (int i = 0; i < n; i++)
        mvaddnstr(y0 + 1 + i, 2, lines[i], w - 4);
    attroff(a);
    refresh();
}

/* ------------------------------------------------------------------ */

int demo_load(struct demo *d, const char *script, struct qerr *err)
{
    size_t n;
    char *text = script ? afile_read(script, 1 << 20, &n, err) : NULL;
    if (script && !text)
        return err->code ? err->code : QERR_IO;
    int rc = demo_parse(d, text ? text : demo_builtin, script ? script : "built-in", err);
    free(text);
    return rc;
}
