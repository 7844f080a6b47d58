/* TEMPORARY stub: being written (GGUF parser). */
#include "src/gguf.h"
#include "src/model.h"
int gguf_model_load(struct qmodel *m, const char *path, struct qerr *err)
{ (void)m; return qerr_set(err, QERR_UNSUPP, "%s: GGUF not implemented yet", path); }
void gguf_free(struct gguf_file *g) { (void)g; }
