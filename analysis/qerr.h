/* qerr: the one error convention of qlens.
 *
 * Library code (analysis/, quant/, src/ except main) never prints and never
 * exits: a function that can fail on bad input returns a negative status and
 * fills a struct qerr with a message that names the file, the byte offset and
 * the field where that applies.  Only main() and the UI turn it into output.
 * A broken internal invariant is an assert(), not a qerr. */
#ifndef QLENS_QERR_H
#define QLENS_QERR_H

#include <stddef.h>

enum {
    QERR_OK = 0,
    QERR_IO = -1,      /* cannot open/read/write/map a file            */
    QERR_FORMAT = -2,  /* the file is malformed                        */
    QERR_UNSUPP = -3,  /* well-formed but not supported (dtype, arch)  */
    QERR_ARG = -4,     /* bad argument from the caller / user          */
    QERR_NOMEM = -5,   /* allocation failed                            */
    QERR_CANCEL = -6,  /* cancelled through a cancel flag              */
    QERR_NUMERIC = -7, /* numerical failure (singular matrix, ...)     */
};

struct qerr {
    int code;
    char msg[768];
};

/* Set the message (printf-style) and return `code`, so callers can write
 *   return qerr_set(err, QERR_FORMAT, "%s: offset %zu: ...", path, off);
 * `err` may be NULL (the message is then dropped). */
int qerr_set(struct qerr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("loading X: <old msg>"). */
int qerr_prefix(struct qerr *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void qerr_clear(struct qerr *err);

#endif
