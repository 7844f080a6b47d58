/* The dashboard's whole-model jobs (ui/jobs.c) run to the end on the real
 * stories260K and give what `qlens quant` / the float baseline give on the
 * same settings: one pipeline (src/pipeline.c) behind both (issue 13). */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/pipeline.h"
#include "tests/testutil.h"
#include "ui/jobs.h"
#include "ui/vm_quant.h"

#define CHUNKS 4

static const char *qlens_bin(void)
{
    const char *b = getenv("QLENS_BIN");
    return b && *b ? b : "build/qlens";
}

/* `qlens quant ARGS --json` parsed; NULL when it failed. */
static cJSON *run_cli(const char *args)
{
    char cmd[2048], *out = malloc(1 << 20);
    snprintf(cmd, sizeof cmd, "QLENS_SHARED='%s' '%s' quant %s --json 2>/dev/null",
             getenv("QLENS_SHARED") ? getenv("QLENS_SHARED") : "../shared", qlens_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, (1 << 20) - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    return j;
}

static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
    return v->valuedouble;
}

static int method_index(const char *name)
{
    for (int i = 0; quant_registry[i]; i++)
        if (!strcmp(quant_registry[i]->name, name))
            return i;
    return -1;
}

/* Run one dashboard job synchronously (the worker only reports). */
static int run_job(struct qmodel *m, struct jobs_data *d, struct jobs_ctx *j)
{
    struct worker w;
    worker_init(&w);
    w.kind = j->kind;
    j->data = d;
    int rc = jobs_run(&w, j);
    ck_assert_msg(rc == 0, "job failed: %s", w.err.msg);
    (void)m;
    return rc;
}

static void close_rel(double a, double b, const char *what)
{
    ck_assert_msg(fabs(a - b) <= 1e-6 * fabs(b) + 1e-9, "%s: dashboard %.9g, qlens quant %.9g",
                  what, a, b);
}

START_TEST(apply_all_equals_qlens_quant)
{
    const char *path = tu_shared("models/stories260K.bin");
    ck_assert_ptr_nonnull(path);
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_int_eq(qmodel_open(&m, path, &err), 0);
    struct jobs_data d;
    jobs_data_init(&d, &m);
    d.max_chunks = CHUNKS;
    /* GPTQ: calibration text, overlap check, BOS rule and contexts all
     * matter; the settings as the Quant view's keys leave them. */
    struct vm_quant q;
    vm_quant_init(&q);
    q.method = method_index("GPTQ");
    ck_assert_int_ge(q.method, 0);
    q.bits = 3;
    q.group = 64;
    q.sym = 0;
    struct jobs_ctx j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_APPLY_ALL;
    ck_assert_int_eq(vm_quant_spec(&q, &j.spec, &err), 0);
    run_job(&m, &d, &j);
    char args[256];
    snprintf(args, sizeof args, "'%s' --method gptq --bits 3 --group 64 --asym --chunks %d "
             "--calib-chunks %d --ctx %d", path, CHUNKS, d.calib_chunks, d.n_ctx);
    cJSON *c = run_cli(args);
    ck_assert_ptr_nonnull(c);
    close_rel(j.run.ppl, num(c, "ppl"), "PPL");
    close_rel(j.run.base_ppl, num(c, "ppl_float"), "float PPL");
    close_rel(j.run.top1, num(c, "top1"), "top-1");
    close_rel(j.run.bpw, num(c, "bits_per_weight"), "bits/weight");
    close_rel(j.run.kl, num(cJSON_GetObjectItem(c, "kl"), "mean"), "KL");
    const cJSON *ev = cJSON_GetObjectItem(c, "eval");
    ck_assert_int_eq(j.run.n_chunks, (int)num(ev, "chunks"));
    ck_assert_int_eq(j.run.n_ctx, (int)num(ev, "ctx"));
    ck_assert_int_eq(j.run.n_chunks, CHUNKS);
    /* The model shows its float weights again afterwards. */
    for (int i = 0; i < m.n_tensors; i++)
        ck_assert_ptr_eq(qtensor_f32(&m.tensors[i]), qtensor_f32_orig(&m.tensors[i]));
    /* The float baseline job: the float PPL of the same chunks. */
    struct jobs_ctx b;
    memset(&b, 0, sizeof b);
    b.kind = JOB_BASELINE;
    run_job(&m, &d, &b);
    close_rel(b.run.ppl, num(c, "ppl_float"), "baseline PPL");
    cJSON_Delete(c);
    jobs_data_free(&d);
    qmodel_close(&m);
}
END_TEST

/* The rules have one copy: context default and BOS as qlens quant's. */
START_TEST(pipeline_rules)
{
    struct qmodel m;
    memset(&m, 0, sizeof m);
    struct qerr err = {0};
    int n = 0;
    m.cfg.ctx_len = 0;
    ck_assert_int_eq(pipe_pick_ctx(&m, "--ctx", -1, 0, &n, &err), 0);
    ck_assert_int_eq(n, 512);
    m.cfg.ctx_len = 128;
    ck_assert_int_eq(pipe_pick_ctx(&m, "--ctx", -1, 0, &n, &err), 0);
    ck_assert_int_eq(n, 128);
    ck_assert_int_eq(pipe_pick_ctx(&m, "--ctx", 256, 0, &n, &err), QERR_ARG);
    ck_assert(strstr(err.msg, "--ctx 256 exceeds the model's context (128 tokens)"));
    ck_assert_int_eq(pipe_pick_ctx(&m, "--ctx", 256, 1, &n, &err), 0);
    ck_assert_int_eq(n, 256);
    ck_assert_int_eq(pipe_utf8_invalid_at("ok\xc3\xa9", 4), -1);
    ck_assert_int_eq(pipe_utf8_invalid_at("ok\xc3", 3), 2);
    ck_assert_int_eq(pipe_utf8_invalid_at("", 0), -1);
}
END_TEST

/* Overlapping calibration and evaluation texts are refused by the
 * pipeline itself, so no front end can skip the check. */
START_TEST(pipeline_refuses_overlap)
{
    const char *path = tu_shared("models/stories260K.bin");
    const char *ev = tu_shared("data/tinystories-eval.txt");
    ck_assert_ptr_nonnull(path);
    ck_assert_ptr_nonnull(ev);
    struct pipe_opts o;
    pipe_opts_default(&o);
    o.calib = ev;
    o.eval = ev;
    struct pipe_env e;
    struct qerr err = {0};
    ck_assert_int_eq(pipe_setup(&e, path, &o, NULL, &err), QERR_ARG);
    ck_assert_msg(strstr(err.msg, "also appear in the calibration text"), "%s", err.msg);
    o.allow_overlap = 1;
    o.chunks = 1;
    ck_assert_int_eq(pipe_setup(&e, path, &o, NULL, &err), 0);
    ck_assert_int_gt((long)e.n_eval, 0);
    pipe_teardown(&e);
    /* A missing text: the error names the file. */
    o.eval = "/nonexistent/eval.txt";
    ck_assert_int_eq(pipe_setup(&e, path, &o, NULL, &err), QERR_IO);
    ck_assert(strstr(err.msg, "/nonexistent/eval.txt: cannot open"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pipeline_rules);
    tcase_add_test(tc, pipeline_refuses_overlap);
    tcase_add_test(tc, apply_all_equals_qlens_quant);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
