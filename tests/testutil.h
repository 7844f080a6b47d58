/* Helpers shared by the Check unit tests. */
#ifndef QLENS_TESTUTIL_H
#define QLENS_TESTUTIL_H

#include <stddef.h>

/* Path of a file under the shared folder ($QLENS_SHARED, else ../shared),
 * or NULL when absent (tests that need it then fail loudly, not skip). */
const char *tu_shared(const char *rel);
/* A fresh temporary directory for this process (removed at exit). */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name, in a static rotating buffer. */
const char *tu_tmpfile(const char *name);
/* Write bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t n);
/* Deterministic pseudo-random numbers (xorshift) for synthetic data. */
void tu_seed(unsigned long long s);
double tu_uniform(void);   /* [0,1) */
double tu_normal(void);    /* N(0,1) */
/* A raw file at path of nt F16 tensors of tn values (tensor k holds
 * k + i / tn), opened as model m ("t0", "t1", ...) through the builder
 * API: the float-copy cache's test model. */
struct qmodel;
void tu_f16_model(struct qmodel *m, const char *path, int nt, int tn);
/* Generate a random-weight model at out with tests/tool_genmodel (from
 * $QLENS_BUILD, else build/); args (printf format) are its options.  A
 * failure fails the test, naming the command. */
void tu_genmodel(const char *out, const char *args, ...) __attribute__((format(printf, 2, 3)));
/* Run a Check suite and return the process exit code. */
struct Suite;
int tu_run(struct Suite *s);

#endif
