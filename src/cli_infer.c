/* cli_infer: helpers of the inference commands (see cli_infer.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "src/cli.h"
#include "src/cli_infer.h"
#include "src/tokenizer.h"

int infer_open(struct infer_model *im, const char *model_arg, struct qerr *err)
{
    memset(im, 0, sizeof *im);
    int rc = cli_open_model(&im->m, model_arg, err);
    if (rc)
        return rc;
    im->open = 1;
    rc = tok_load_for_model(&im->tok, &im->m, err);
    if (rc) {
        qerr_prefix(err, "%s: tokenizer: ", im->m.path);
        infer_close(im);
    }
    return rc;
}

int infer_bos(const struct infer_model *im)
{
    return tok_add_bos_default(im->tok) ? tok_bos(im->tok) : -1;
}

void infer_close(struct infer_model *im)
{
    if (im->tok)
        tok_free(im->tok);
    if (im->open)
        qmodel_close(&im->m);
    memset(im, 0, sizeof *im);
}

/* Length of the UTF-8 sequence starting at s[i] (RFC 3629: no overlongs,
 * no surrogates, <= U+10FFFF), or 0 when invalid. */
static int utf8_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned c = s[i];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (i + len > n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (int k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

long infer_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int l = utf8_len(u, i, n);
        if (!l)
            return (long)i;
        i += (size_t)l;
    }
    return -1;
}

int infer_read_text(const char *path, char **buf, size_t *len, struct qerr *err)
{
    *buf = NULL;
    *len = 0;
    /* regular files only, at most AFILE_READ_MAX bytes (a device or FIFO
     * would be read forever or block) */
    size_t n;
    char *b = afile_read(path, 0, &n, err);
    if (!b)
        return err ? err->code : QERR_IO;
    if (n == 0) {
        free(b);
        return qerr_set(err, QERR_FORMAT, "%s: the text file is empty", path);
    }
    long at = infer_utf8_invalid_at(b, n);
    if (at >= 0) {
        unsigned char byte = (unsigned char)b[at];
        free(b);
        return qerr_set(err, QERR_FORMAT, "%s: offset %ld: invalid UTF-8 (byte 0x%02x)", path,
                        at, byte);
    }
    *buf = b;
    *len = n;
    return 0;
}

int infer_tokenize_file(const struct infer_model *im, const char *path, int **ids,
                        size_t *n_ids, struct qerr *err)
{
    char *text;
    size_t len;
    int rc = infer_read_text(path, &text, &len, err);
    if (rc)
        return rc;
    rc = tok_encode(im->tok, text, len, tok_add_bos_default(im->tok), ids, n_ids, err);
    if (rc)
        qerr_prefix(err, "%s: ", path);
    free(text);
    return rc;
}

int infer_model_ctx(const struct infer_model *im)
{
    return im->m.cfg.ctx_len > 0 ? im->m.cfg.ctx_len : 512;
}

int infer_pick_ctx(const struct infer_model *im, const char *opt, long given, int force,
                   int *n_ctx, struct qerr *err)
{
    int ctx_len = infer_model_ctx(im);
    *n_ctx = given >= 0 ? (int)given : (ctx_len < 512 ? ctx_len : 512);
    if (*n_ctx > ctx_len && !force)
        return qerr_set(err, QERR_ARG, "%s %d exceeds the model's context (%d tokens); "
                        "--force-ctx evaluates it anyway, as llama.cpp does", opt, *n_ctx,
                        ctx_len);
    return 0;
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
