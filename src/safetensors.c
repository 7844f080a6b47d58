/* TEMPORARY stub: being written (safetensors loader). */
#include "src/model.h"
int safetensors_load(struct qmodel *m, const char *path, struct qerr *err)
{ (void)m; return qerr_set(err, QERR_UNSUPP, "%s: safetensors not implemented yet", path); }
