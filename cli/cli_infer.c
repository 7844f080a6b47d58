/* cli_infer: helpers of the inference commands (see cli_infer.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_infer.h"
#include "src/calib.h"
#include "src/forward.h"
#include "src/pipeline.h"
#include "src/tokenizer.h"

/* The rules live in src/pipeline.c (shared with the dashboard); these are
 * the inference commands' names for them. */
int infer_open(struct infer_model *im, const char *model_arg, struct qerr *err)
{
    memset(im, 0, sizeof *im);
    int rc = pipe_open(&im->m, &im->tok, model_arg, err);
    im->open = rc == 0;
    return rc;
}

int infer_bos(const struct infer_model *im)
{
    return pipe_bos(im->tok);
}

void infer_close(struct infer_model *im)
{
    if (im->tok)
        tok_free(im->tok);
    if (im->open)
        qmodel_close(&im->m);
    memset(im, 0, sizeof *im);
}

long infer_utf8_invalid_at(const char *s, size_t n)
{
    return pipe_utf8_invalid_at(s, n);
}

int infer_read_text(const char *path, char **buf, size_t *len, struct qerr *err)
{
    return pipe_read_text(path, buf, len, err);
}

int infer_tokenize_file(const struct infer_model *im, const char *path, int **ids,
                        size_t *n_ids, struct qerr *err)
{
    char *text;
    size_t len;
    int rc = pipe_read_text(path, &text, &len, err);
    if (rc)
        return rc;
    rc = pipe_tokenize(im->tok, path, text, len, ids, n_ids, err);
    free(text);
    return rc;
}

int infer_model_ctx(const struct infer_model *im)
{
    return pipe_model_ctx(&im->m);
}

int infer_pick_ctx(const struct infer_model *im, const char *opt, long given, int force,
                   int *n_ctx, struct qerr *err)
{
    return pipe_pick_ctx(&im->m, opt, given, force, n_ctx, err);
}

int infer_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int infer_parse_opt(const char *cmd, const char *opt, const char *val, long lo, long hi,
                    long *out)
{
    if (infer_parse_int(val, lo, hi, out) == 0)
        return 0;
    cli_usage_error(cmd, "%s wants an integer in %ld..%ld, got '%s'", opt, lo, hi,
                    val ? val : "(nothing)");
    return -1;
}

static volatile int cancel_flag;

static void on_sigint(int sig)
{
    (void)sig;
    if (cancel_flag)
        _exit(EXIT_CANCEL); /* second Ctrl-C: leave now */
    cancel_flag = 1;
}

void infer_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

volatile int *infer_cancel_flag(void)
{
    return &cancel_flag;
}

int infer_capture(struct infer_model *im, int *ids, int n_ctx, int chunks, struct calib *c,
                  const char *what, int progress, struct qerr *err)
{
    struct fwd f;
    struct fwd_hooks h;
    int rc = fwd_init(&f, &im->m, n_ctx, err);
    float *logits = malloc((size_t)im->m.cfg.vocab_size * sizeof(float));
    if (!rc && !logits)
        rc = qerr_set(err, QERR_NOMEM, "%s: out of memory", what);
    calib_hooks(c, &h);
    f.cancel = infer_cancel_flag();
    progress = progress && isatty(2);
    for (int k = 0; k < chunks && !rc; k++) {
        int *t = ids + (size_t)k * n_ctx;
        if (infer_bos(im) >= 0)
            t[0] = infer_bos(im);
        /* logits only for the last position: the captures are the point */
        rc = fwd_chunk_from(&f, t, n_ctx, n_ctx - 1, logits, &h);
        if (rc)
            qerr_set(err, rc, "%s", c->err.msg[0] ? c->err.msg : f.err.msg);
        else if (*infer_cancel_flag())
            rc = qerr_set(err, QERR_CANCEL, "%s: interrupted", what);
        if (!rc && progress)
            fprintf(stderr, "\r\033[K%s: chunk %d/%d", what, k + 1, chunks);
    }
    if (progress)
        fputs("\r\033[K", stderr);
    free(logits);
    fwd_free(&f);
    return rc;
}
