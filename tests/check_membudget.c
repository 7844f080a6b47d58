/* check_membudget: memory plans (src/membudget.c): sizes parsed, parts
 * summed and named, the check refuses a plan over the budget with what it
 * needs and the options that lower it, and the estimates of a real model
 * (stories260K) are in the right range. */
#include <check.h>
#include <string.h>
#include <sys/resource.h>

#include "src/membudget.h"
#include "src/model.h"
#include "tests/testutil.h"

#define MIB (1024.0 * 1024.0)

START_TEST(test_parse_degenerate)
{
    double b = -1;
    const char *bad[] = {"", "0", "-5", "G", "4X", "4GG", "1e30G", " 4", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(mem_parse_size(bad[i], &b) < 0, "'%s' accepted", bad[i]);
    ck_assert_int_lt(mem_parse_size(NULL, &b), 0);
    ck_assert_double_eq(b, -1); /* untouched on failure */
}
END_TEST

START_TEST(test_parse_units)
{
    double b;
    ck_assert_int_eq(mem_parse_size("4096", &b), 0);
    ck_assert_double_eq(b, 4096 * MIB); /* no suffix: MiB */
    ck_assert_int_eq(mem_parse_size("800M", &b), 0);
    ck_assert_double_eq(b, 800 * MIB);
    ck_assert_int_eq(mem_parse_size("6G", &b), 0);
    ck_assert_double_eq(b, 6 * 1024 * MIB);
    ck_assert_int_eq(mem_parse_size("1.5GiB", &b), 0);
    ck_assert_double_eq(b, 1.5 * 1024 * MIB);
    ck_assert_int_eq(mem_parse_size("512k", &b), 0);
    ck_assert_double_eq(b, 512 * 1024.0);
}
END_TEST

START_TEST(test_plan_and_check)
{
    struct mem_plan p;
    struct qerr err = {0};
    mem_plan_init(&p);
    ck_assert_int_eq(mem_check(&p, 1, "empty", &err), 0); /* nothing needed */
    mem_plan_add(&p, "ignored", 0, "--x");
    mem_plan_add(&p, "ignored too", -5, "--x");
    ck_assert_int_eq(p.n, 0);
    mem_plan_add(&p, "small part", 100 * MIB, "--ctx");
    mem_plan_add(&p, "big part", 900 * MIB, "--calib-chunks");
    mem_plan_add(&p, "fixed part", 24 * MIB, NULL);
    ck_assert_int_eq(p.n, 3);
    ck_assert_double_eq(p.total, 1024 * MIB);
    ck_assert_int_eq(mem_check(&p, 1024 * MIB, "op", &err), 0); /* exactly fits */
    ck_assert_int_eq(mem_check(&p, 1000 * MIB, "model.gguf: quantizing", &err), QERR_UNSUPP);
    ck_assert_msg(strstr(err.msg, "model.gguf: quantizing needs about 1.0 GiB"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "--mem-budget is 1000 MiB"), "%s", err.msg);
    /* largest part first; each option once, in that order */
    ck_assert_msg(strstr(err.msg, "(big part 900 MiB, small part 100 MiB, fixed part 24 MiB)"),
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "options that lower it: --calib-chunks, --ctx"), "%s", err.msg);
    for (int i = 0; i < MEM_MAX_PARTS + 3; i++) /* a full plan ignores more */
        mem_plan_add(&p, "more", MIB, "--ctx");
    ck_assert_int_eq(p.n, MEM_MAX_PARTS);
}
END_TEST

START_TEST(test_no_option)
{
    struct mem_plan p;
    struct qerr err = {0};
    mem_plan_init(&p);
    mem_plan_add(&p, "weights (mapped)", 3 * MIB, NULL);
    ck_assert_int_eq(mem_check(&p, MIB, "m", &err), QERR_UNSUPP);
    ck_assert_msg(strstr(err.msg, "no option lowers it"), "%s", err.msg);
}
END_TEST

/* The machine's figure: positive, and an address-space limit lowers it. */
START_TEST(test_available)
{
    double a = mem_available_bytes();
    ck_assert_msg(a > 0, "available %g", a);
    struct rlimit old, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    rl = old;
    /* a limit a little above what the process uses: little is left */
    rl.rlim_cur = (rlim_t)(64.0 * 1024 * MIB);
    if (old.rlim_max != RLIM_INFINITY && rl.rlim_cur > old.rlim_max)
        rl.rlim_cur = old.rlim_max;
    if (setrlimit(RLIMIT_AS, &rl) == 0) {
        double b = mem_available_bytes();
        ck_assert_msg(b >= 0 && b <= (double)rl.rlim_cur, "%g under a %g limit", b,
                      (double)rl.rlim_cur);
        setrlimit(RLIMIT_AS, &old);
    }
    /* with no user budget the check uses the machine's figure */
    struct mem_plan p;
    struct qerr err = {0};
    mem_plan_init(&p);
    mem_plan_add(&p, "everything", 1e18, NULL);
    ck_assert_int_eq(mem_check(&p, 0, "huge", &err), QERR_UNSUPP);
    ck_assert_msg(strstr(err.msg, "is available"), "%s", err.msg);
}
END_TEST

/* stories260K: the weights are the file's tensor bytes; one forward
 * context grows with the context length. */
START_TEST(test_real_model)
{
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m, tu_shared("models/stories260K.gguf"), &err) == 0, "%s", err.msg);
    double w = mem_weights_bytes(&m);
    ck_assert_msg(w > 0.9e6 && w < 1.3e6, "weights %g bytes (file ~1.1 MB)", w);
    double f128 = mem_fwd_bytes(&m.cfg, 128), f512 = mem_fwd_bytes(&m.cfg, 512);
    ck_assert_msg(f512 > f128, "%g vs %g", f512, f128);
    /* the (T, vocab) logits alone are a lower bound */
    ck_assert_msg(f512 >= 512.0 * m.cfg.vocab_size * 4, "%g", f512);
    ck_assert_int_eq(mem_check_eval(&m, 512, 2, 1e12, &err), 0);
    ck_assert_int_eq(mem_check_eval(&m, 512, 2, 2 * MIB, &err), QERR_UNSUPP);
    ck_assert_msg(strstr(err.msg, "stories260K.gguf: evaluating needs about"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "--ctx"), "%s", err.msg);
    qmodel_close(&m);
}
END_TEST

/* The 7B shape (dim 4096, hidden 11008, 32 blocks, vocab 32000) in F16,
 * quantized with GPTQ (32 calibration chunks of 512, 170 evaluation
 * chunks): resident, 26 GB of quantized floats beside the 13.5 GB file
 * do not fit a 24 GB machine; streamed, one block's 0.8 GB do. */
START_TEST(test_7b_gptq)
{
    struct qconfig c = {0};
    c.dim = 4096, c.hidden_dim = 11008, c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 32;
    c.head_dim = 128, c.vocab_size = 32000;
    double attn = 4.0 * c.dim * c.dim, ffn = 3.0 * c.dim * c.hidden_dim;
    struct mem_quant q = {.all = c.n_layers * (attn + ffn), .block_max = attn + ffn,
                          .step_max = 2.0 * c.dim * c.hidden_dim, .calibrated = 1,
                          .sequential = 1, .calib_tokens = 33.0 * 512, .eval_tokens = 170.0 * 512};
    double file = 2.0 * (q.all + 2.0 * c.vocab_size * c.dim);
    struct qerr err = {0};
    struct mem_plan p;
    for (int streamed = 0; streamed < 2; streamed++) {
        q.streamed = streamed;
        q.resident_opt = !streamed;
        mem_plan_init(&p);
        mem_plan_add(&p, "weights (mapped)", file, NULL);
        mem_plan_add(&p, "forward passes", 2.0 * mem_fwd_bytes(&c, 512), "--ctx");
        mem_plan_quant(&p, &c, &q);
        if (streamed) {
            ck_assert_msg(p.total < 20.0 * 1024 * MIB, "streamed: %.1f GiB", p.total / 1024 / MIB);
            ck_assert_int_eq(mem_check(&p, 22.0 * 1024 * MIB, "7b.gguf: quantizing", &err), 0);
        } else {
            ck_assert_msg(p.total > 36.0 * 1024 * MIB, "resident: %.1f GiB", p.total / 1024 / MIB);
            ck_assert_int_eq(mem_check(&p, 22.0 * 1024 * MIB, "7b.gguf: quantizing", &err),
                             QERR_UNSUPP);
            ck_assert_msg(strstr(err.msg, "quantized weights as floats (--resident) 24.1 GiB"),
                          "%s", err.msg);
            ck_assert_msg(strstr(err.msg, "leaving out --resident"), "%s", err.msg);
        }
    }
    /* the streamed parts: one block (202M weights) and the hidden states */
    ck_assert_double_eq_tol(p.part[2].bytes, 4.0 * (attn + ffn), 1);
    ck_assert_msg(!strcmp(p.part[3].what, "evaluation hidden states"), "%s", p.part[3].what);
    ck_assert_double_eq_tol(p.part[3].bytes, 170.0 * 512 * 4096 * 4, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("membudget");
    TCase *d = tcase_create("degenerate");
    tcase_add_test(d, test_parse_degenerate);
    tcase_add_test(d, test_no_option);
    suite_add_tcase(s, d);
    TCase *t = tcase_create("plans");
    tcase_add_test(t, test_parse_units);
    tcase_add_test(t, test_plan_and_check);
    tcase_add_test(t, test_available);
    tcase_add_test(t, test_7b_gptq);
    tcase_add_test(t, test_real_model);
    suite_add_tcase(s, t);
    return tu_run(s);
}
