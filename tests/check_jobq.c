/* jobq: the dashboard's job queue and finished-job history (ui/jobq.h):
 * order, removal from the middle, a full queue, the history's bound. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/testutil.h"
#include "ui/jobq.h"
#include "ui/jobs.h"

START_TEST(empty)
{
    struct jobq q;
    struct jq_entry e;
    jobq_init(&q);
    ck_assert_int_eq(jobq_pop(&q, &e), 0);
    ck_assert_int_eq(jobq_remove(&q, 0, &e), 0);
    ck_assert_int_eq(jobq_remove(&q, -1, &e), 0);
    ck_assert_int_eq(jobq_has_kind(&q, JOB_CALIB), 0);
    ck_assert_str_eq(jobq_state_name(JQ_CANCELLED), "cancelled");
    ck_assert_str_eq(jobq_state_name(99), "?");
}
END_TEST

START_TEST(fifo_and_remove)
{
    struct jobq q;
    struct jq_entry e;
    struct jobs_ctx j[3];
    memset(j, 0, sizeof j);
    j[0].kind = JOB_BASELINE;
    j[1].kind = JOB_APPLY_ALL;
    j[2].kind = JOB_CALIB;
    jobq_init(&q);
    ck_assert_int_eq(jobq_push(&q, &j[0], 3, "float baseline PPL", 1.0), 1);
    ck_assert_int_eq(jobq_push(&q, &j[1], 3, "all layers", 2.0), 2);
    ck_assert_int_eq(jobq_push(&q, &j[2], 0, NULL, 3.0), 3);
    ck_assert(jobq_has_kind(&q, JOB_CALIB));
    ck_assert_int_eq(jobq_remove(&q, 1, &e), 1); /* the middle one */
    ck_assert_ptr_eq(e.j, &j[1]);
    ck_assert_str_eq(e.label, "all layers");
    ck_assert_int_eq(q.n_wait, 2);
    ck_assert_int_eq(jobq_pop(&q, &e), 1);
    ck_assert_ptr_eq(e.j, &j[0]);
    ck_assert_int_eq(e.owner, 3);
    ck_assert_double_eq(e.t_queued, 1.0);
    ck_assert_int_eq(jobq_pop(&q, &e), 1);
    ck_assert_ptr_eq(e.j, &j[2]);
    ck_assert_str_eq(e.label, "job");
    ck_assert_int_eq(jobq_pop(&q, &e), 0);
    ck_assert(!jobq_has_kind(&q, JOB_CALIB));
}
END_TEST

START_TEST(full_queue)
{
    struct jobq q;
    struct jobs_ctx j;
    memset(&j, 0, sizeof j);
    jobq_init(&q);
    for (int i = 0; i < JOBQ_MAX; i++)
        ck_assert_int_eq(jobq_push(&q, &j, 0, "x", 0), i + 1);
    ck_assert_int_eq(jobq_push(&q, &j, 0, "one too many", 0), -1);
    ck_assert_int_eq(q.n_wait, JOBQ_MAX);
}
END_TEST

START_TEST(history_newest_first_bounded)
{
    struct jobq q;
    jobq_init(&q);
    char label[32];
    for (int i = 0; i < JOBQ_HIST + 3; i++) {
        snprintf(label, sizeof label, "job %d", i);
        jobq_record(&q, label, i % 2 ? JQ_FAILED : JQ_DONE, i, i % 2 ? "error" : NULL);
    }
    ck_assert_int_eq(q.n_hist, JOBQ_HIST);
    ck_assert_str_eq(q.hist[0].label, "job 10");
    ck_assert_str_eq(q.hist[JOBQ_HIST - 1].label, "job 3");
    ck_assert_int_eq(q.hist[0].state, JQ_DONE);
    ck_assert_str_eq(q.hist[0].msg, "");
    ck_assert_str_eq(q.hist[1].msg, "error");
    ck_assert_ptr_null(q.hist[0].j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jobq");
    TCase *tc = tcase_create("queue");
    tcase_add_test(tc, empty);
    tcase_add_test(tc, fifo_and_remove);
    tcase_add_test(tc, full_queue);
    tcase_add_test(tc, history_newest_first_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
