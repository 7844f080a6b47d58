#include "analysis/qerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qerr_set(struct qerr *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int qerr_prefix(struct qerr *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char pre[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(pre);
    memcpy(err->msg, pre, n + 1);
    snprintf(err->msg + n, sizeof err->msg - n, "%s", old);
    return err->code;
}

void qerr_clear(struct qerr *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}
