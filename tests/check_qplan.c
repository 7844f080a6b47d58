/* check_qplan: the per-tensor plan spec (src/qplan.h).  Degenerate and
 * malformed texts first (every error names the file and line), then
 * candidates, then binding to the real stories260K (unknown tensors, a
 * spec for another model, '*'), then qrun with the plan against qrun with
 * one spec (a uniform plan is bit-identical; a float line leaves the
 * tensor alone). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"
#include "src/qplan.h"
#include "src/qrun.h"
#include "tests/testutil.h"

static int parse(struct qplan *p, const char *text, struct qerr *err)
{
    return qplan_parse(p, text, strlen(text), "t.plan", err);
}

/* text must fail to parse with a message holding want */
static void bad(const char *text, const char *want)
{
    struct qplan p;
    struct qerr err = {0};
    int rc = parse(&p, text, &err);
    ck_assert_msg(rc == QERR_FORMAT, "'%s' parsed (rc %d)", text, rc);
    ck_assert_msg(strstr(err.msg, want), "'%s': message '%s' lacks '%s'", text, err.msg, want);
    qplan_free(&p);
}

START_TEST(malformed)
{
    bad("", "t.plan: no TENSOR=CANDIDATE line");
    bad("# only a comment\n\n", "no TENSOR=CANDIDATE line");
    bad("blk.0.attn_q=rtn:4:32\nblk.0.attn_k rtn:4\n", "t.plan:2: want TENSOR=CANDIDATE");
    bad("=rtn:4:32\n", "t.plan:1: no tensor name");
    bad("blk.0.attn_q=nope:3\n", "t.plan:1: blk.0.attn_q: candidate 'nope:3'");
    bad("blk.0.attn_q=rtn:x\n", "bits 'x'");
    bad("blk.0.attn_q=rtn:4:abc\n", "group 'abc'");
    bad("blk.0.attn_q=\n", "t.plan:1");
    bad("blk.0.attn_q=rtn:4:32\n# c\nblk.0.attn_q.weight=rtn:8:32\n",
        "t.plan:3: blk.0.attn_q is named again (first on line 1)");
    bad("*=rtn:4\n*=rtn:8\n", "named again");
    char nul[] = "blk.0.attn_q=rtn:4:32\nblk.0\0x=rtn:4\n";
    struct qplan p;
    struct qerr err = {0};
    ck_assert_int_eq(qplan_parse(&p, nul, sizeof nul - 1, "t.plan", &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "t.plan:2: a NUL byte"));
    qplan_free(&p);
    char *longl = malloc(QPLAN_LINE_MAX + 40);
    memset(longl, 'a', QPLAN_LINE_MAX + 30);
    strcpy(longl + QPLAN_LINE_MAX + 30, "=rtn:4\n");
    bad(longl, "t.plan:1: line longer than");
    free(longl);
    /* a file that does not exist: the reader's error names it */
    ck_assert_int_ne(qplan_read(&p, tu_tmpfile("missing.plan"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.plan"));
    qplan_free(&p);
}
END_TEST

START_TEST(candidates)
{
    struct qplan_cand c;
    struct qerr err = {0};
    ck_assert_int_eq(qplan_parse_cand("rtn:3:32", &c, &err), 0);
    ck_assert_int_eq(c.spec.bits, 3);
    ck_assert_int_eq(c.spec.group, 32);
    ck_assert_int_eq(c.is_float, 0);
    ck_assert_int_eq(qplan_parse_cand("rtn:4:row", &c, &err), 0);
    ck_assert_int_eq(c.spec.group, 0);
    ck_assert_int_eq(qplan_parse_cand("rtn:4:tensor", &c, &err), 0);
    ck_assert_int_eq(c.spec.group, -1);
    ck_assert_int_eq(qplan_parse_cand("q8_0", &c, &err), 0);
    ck_assert_str_eq(c.label, "q8_0");
    ck_assert_int_eq(qplan_parse_cand("float", &c, &err), 0);
    ck_assert_int_eq(c.is_float, 1);
    ck_assert_int_ne(qplan_parse_cand("", &c, &err), 0);
    ck_assert_int_ne(qplan_parse_cand(NULL, &c, &err), 0);
    ck_assert_int_ne(qplan_parse_cand("rtn:0:32", &c, &err), 0);
    ck_assert_int_ne(qplan_parse_cand("rtn:4:-5", &c, &err), 0);
}
END_TEST

START_TEST(syntax_ok)
{
    struct qplan p;
    struct qerr err = {0};
    const char *t = "# qlens plan\r\n\n  blk.0.attn_q = rtn:3:32 \r\nblk.1.ffn_down.weight=float\n"
                    "*=rtn:4:row";
    ck_assert_msg(parse(&p, t, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(p.n, 3);
    ck_assert_str_eq(p.l[0].tensor, "blk.0.attn_q");
    ck_assert_int_eq(p.l[0].line, 3);
    ck_assert_str_eq(p.l[1].tensor, "blk.1.ffn_down");
    ck_assert_int_eq(p.l[1].c.is_float, 1);
    ck_assert_int_eq(p.def, 2);
    ck_assert_int_ne(qplan_needs_calib(&p), -1); /* RTN: none, before bind too */
    ck_assert_int_eq(qplan_needs_calib(&p), 0);
    qplan_free(&p);
    ck_assert_int_eq(parse(&p, "*=gptq:4:32\n", &err), 0);
    ck_assert_int_ne(qplan_needs_calib(&p), 0);
    qplan_free(&p);
    /* pairs go through the same parser: same lines, same errors */
    const char *names[] = {"blk.0.attn_q", "blk.0.attn_q"}, *labels[] = {"q8_0", "rtn:4"};
    ck_assert_int_eq(qplan_from_pairs(&p, names, labels, 1, "mem", &err), 0);
    ck_assert_int_eq(p.n, 1);
    ck_assert_str_eq(p.l[0].c.label, "q8_0");
    qplan_free(&p);
    ck_assert_int_eq(qplan_from_pairs(&p, names, labels, 2, "mem", &err), QERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "mem:2: blk.0.attn_q is named again"));
    qplan_free(&p);
}
END_TEST

/* ---- on the real model ---- */

static struct qmodel M;
static struct fwd F;
static int *CAL;
static size_t N_CAL;

static void model_setup(void)
{
    struct qerr err = {0};
    const char *path = tu_shared("models/stories260K.bin");
    ck_assert_msg(path != NULL, "stories260K.bin not found: set QLENS_SHARED");
    ck_assert_msg(qmodel_open(&M, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(fwd_init(&F, &M, 64, &err) == 0, "%s", err.msg);
    N_CAL = 4 * 64;
    CAL = malloc(N_CAL * sizeof *CAL);
    tu_seed(7);
    for (size_t i = 0; i < N_CAL; i++)
        CAL[i] = 1 + (int)(tu_uniform() * 500);
}

static void model_teardown(void)
{
    fwd_free(&F);
    qmodel_close(&M);
    free(CAL);
}

static void bind_bad(const char *text, const char *want)
{
    struct qplan p;
    struct qerr err = {0};
    ck_assert_msg(parse(&p, text, &err) == 0, "%s", err.msg);
    ck_assert_msg(qplan_bind(&p, &M, &err) == QERR_FORMAT, "'%s' bound", text);
    ck_assert_msg(strstr(err.msg, want), "'%s': '%s' lacks '%s'", text, err.msg, want);
    qplan_free(&p);
}

START_TEST(bind)
{
    bind_bad("*=rtn:4\nblk.9.attn_q=rtn:3:32\n", "t.plan:2: blk.9.attn_q is not a linear "
             "tensor");
    bind_bad("*=rtn:4\nblk.9.attn_q=rtn:3:32\n", "a spec for another model?");
    bind_bad("token_embd=rtn:4\n*=rtn:4\n", "t.plan:1: token_embd is not a linear");
    bind_bad("blk.0.attn_norm=rtn:4\n*=rtn:4\n", "t.plan:1: blk.0.attn_norm");
    bind_bad("blk.0.attn_q=rtn:4\n", "names 1 of the 35 linear tensors");
    bind_bad("blk.0.attn_q=rtn:4\n", "blk.0.attn_k has no line");
    struct qplan p;
    struct qerr err = {0};
    ck_assert_int_eq(parse(&p, "blk.2.ffn_up=float\nblk.0.attn_q=q8_0\n*=rtn:3:32\n", &err), 0);
    ck_assert_msg(qplan_bind(&p, &M, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(p.n_bound, 34);
    ck_assert_ptr_null(qplan_get(&p, 2, QR_FFN_UP));
    ck_assert_str_eq(qplan_get(&p, 0, QR_ATTN_Q)->label, "q8_0");
    ck_assert_str_eq(qplan_get(&p, 4, QR_FFN_DOWN)->label, "rtn:3:32");
    ck_assert_ptr_null(qplan_get(&p, 5, QR_ATTN_Q));
    ck_assert_ptr_null(qplan_get(&p, 0, QR_ATTN_NORM));
    char *types = qplan_tensor_types(&p, &M);
    ck_assert_ptr_nonnull(types);
    ck_assert_msg(!strncmp(types, "blk.0.attn_q=q8_0,blk.0.attn_k=rtn:3:32,", 40), "%s", types);
    ck_assert_ptr_nonnull(strstr(types, "blk.2.ffn_up=float"));
    free(types);
    char sum[128];
    qplan_summary(&p, sum, sizeof sum);
    ck_assert_str_eq(sum, "rtn:3:32 x33, q8_0 x1, float x1");
    qplan_free(&p);
}
END_TEST

/* A uniform plan equals the plain run bit for bit; a float line keeps
 * its tensor's original values; different specs per tensor apply. */
START_TEST(qrun_with_plan)
{
    struct qerr err = {0};
    struct qrun_opts o;
    qrun_opts_default(&o);
    o.calib_ctx = 64;
    o.calib_chunks = 4;
    ck_assert_int_eq(quant_spec_parse(&o.spec, "rtn", 4, 32, -1, NULL, &err), 0);
    struct qrun r1, r2;
    ck_assert_msg(qrun_quantize(&r1, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    struct qtensor *t = qmodel_get(&M, 1, QR_FFN_GATE);
    size_t n = (size_t)t->nelem;
    float *ref = malloc(n * sizeof *ref);
    memcpy(ref, qtensor_f32(t), n * sizeof *ref);
    qmodel_clear_overrides(&M);
    qrun_free(&r1);

    struct qplan p;
    ck_assert_int_eq(parse(&p, "blk.3.attn_v=float\nblk.0.attn_q=rtn:8:32\n*=rtn:4:32\n", &err), 0);
    ck_assert_int_eq(qplan_bind(&p, &M, &err), 0);
    struct qrun_opts op = o;
    op.spec_of = qplan_spec_of;
    op.spec_ud = &p;
    ck_assert_msg(qrun_quantize(&r2, &F, CAL, N_CAL, &op, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r2.n_t, 34);
    ck_assert_int_eq(memcmp(ref, qtensor_f32(t), n * sizeof *ref), 0);
    struct qtensor *v = qmodel_get(&M, 3, QR_ATTN_V);
    ck_assert_ptr_null(v->override);
    int found8 = 0;
    for (int i = 0; i < r2.n_t; i++)
        if (!strcmp(r2.t[i].name, "blk.0.attn_q"))
            found8 = r2.t[i].rep.bits_per_weight > 8;
    ck_assert_msg(found8, "blk.0.attn_q not at 8 bits (+ scales)");
    qmodel_clear_overrides(&M);
    qrun_free(&r2);
    qplan_free(&p);
    free(ref);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qplan");
    TCase *tc = tcase_create("syntax");
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, candidates);
    tcase_add_test(tc, syntax_ok);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("model");
    tcase_set_timeout(tm, 60);
    tcase_add_checked_fixture(tm, model_setup, model_teardown);
    tcase_add_test(tm, bind);
    tcase_add_test(tm, qrun_with_plan);
    suite_add_tcase(s, tm);
    return tu_run(s);
}
