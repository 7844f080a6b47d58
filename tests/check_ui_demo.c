/* ui/demo: script parsing (errors name the line) and the step machine
 * (keys in order, until / wait, holds scaled by the pace, stepping). */
#include <check.h>
#include <string.h>

#include "tests/testutil.h"
#include "ui/demo.h"
#include "ui/keys.h"

static int parse_err(const char *text, const char *want)
{
    struct demo d;
    struct qerr err = {0};
    int rc = demo_parse(&d, text, "s.demo", &err);
    if (rc == 0) {
        demo_free(&d);
        return 0;
    }
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' lacks '%s'", err.msg, want);
    return 1;
}

START_TEST(bad_scripts)
{
    ck_assert(parse_err("", "no steps"));
    ck_assert(parse_err("# only a comment\n\n", "no steps"));
    ck_assert(parse_err("key q\n", "s.demo:1: 'key' before the first caption"));
    ck_assert(parse_err("caption a\nkey Nope\n", "s.demo:2: unknown key 'Nope'"));
    ck_assert(parse_err("caption a\nhold -1\n", "s.demo:2: hold wants seconds"));
    ck_assert(parse_err("caption a\nhold 3x\n", "hold wants seconds"));
    ck_assert(parse_err("caption a\nuntil m 0 GPTQ\n", "MAX is 1..100"));
    ck_assert(parse_err("caption a\nuntil m 3\n", "TEXT not empty"));
    ck_assert(parse_err("caption a\nfrobnicate\n", "s.demo:2: unknown line 'frobnicate'"));
}
END_TEST

START_TEST(key_names)
{
    ck_assert_int_eq(demo_key_code("Enter"), UIK_ENTER);
    ck_assert_int_eq(demo_key_code("PgDn"), UIK_NPAGE);
    ck_assert_int_eq(demo_key_code("Esc"), UIK_ESC);
    ck_assert_int_eq(demo_key_code("Space"), ' ');
    ck_assert_int_eq(demo_key_code("x"), 'x');
    ck_assert_int_eq(demo_key_code("Bogus"), -1);
}
END_TEST

static int screen_has_gptq;
static int shows(void *ud, const char *text)
{
    (void)ud;
    return screen_has_gptq && !strcmp(text, "GPTQ");
}

START_TEST(play)
{
    struct demo d;
    struct qerr err = {0};
    ck_assert_int_eq(demo_parse(&d, "caption one\nkey 3 Enter\ntype a\\n\nhold 2\n"
                                    "caption two\nuntil m 3 GPTQ\nwait\nhold 1\n",
                                "t", &err), 0);
    ck_assert_int_eq(d.n, 2);
    d.pace = 0.5;
    double now = 100;
    screen_has_gptq = 0;
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), '3');
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), UIK_ENTER);
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), 'a');
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), '\n');
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), -1); /* the hold begins: 2 x 0.5 s */
    ck_assert_int_eq(demo_next(&d, now + 0.9, 0, shows, NULL), -1);
    ck_assert_int_eq(d.cur, 0);
    ck_assert_int_eq(demo_next(&d, now + 1.01, 0, shows, NULL), -1);
    ck_assert_int_eq(d.cur, 1);
    /* until: presses m until the screen shows GPTQ */
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), 'm');
    screen_has_gptq = 1;
    ck_assert_int_eq(demo_next(&d, now, 1, shows, NULL), -1); /* wait: a job runs */
    ck_assert_int_eq(demo_next(&d, now, 1, shows, NULL), -1);
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), -1); /* idle: hold starts */
    /* pause holds everything; Left goes back and re-runs step one */
    ck_assert(demo_user_key(&d, ' ', now));
    ck_assert_int_eq(demo_next(&d, now + 99, 0, shows, NULL), -1);
    ck_assert_int_eq(d.cur, 1);
    ck_assert(demo_user_key(&d, ' ', now + 99));
    ck_assert(demo_user_key(&d, UIK_LEFT, now));
    ck_assert_int_eq(d.cur, 0);
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), '3');
    ck_assert(demo_user_key(&d, '.', now));
    ck_assert_int_eq(d.cur, 1);
    ck_assert(!demo_user_key(&d, 'j', now)); /* other keys reach the dashboard */
    /* the end: after the last hold the tour quits */
    screen_has_gptq = 1;
    ck_assert_int_eq(demo_next(&d, now, 0, shows, NULL), -1);
    ck_assert_int_eq(demo_next(&d, now + 0.6, 0, shows, NULL), 'q');
    ck_assert(d.done);
    ck_assert_int_eq(demo_next(&d, now + 9, 0, shows, NULL), -1);
    demo_free(&d);
}
END_TEST

START_TEST(until_gives_up)
{
    struct demo d;
    struct qerr err = {0};
    ck_assert_int_eq(demo_parse(&d, "caption a\nuntil m 2 Nowhere\nhold 0\n", "t", &err), 0);
    screen_has_gptq = 0;
    ck_assert_int_eq(demo_next(&d, 0, 0, shows, NULL), 'm');
    ck_assert_int_eq(demo_next(&d, 0, 0, shows, NULL), 'm');
    ck_assert_int_eq(demo_next(&d, 0, 0, shows, NULL), -1);
    ck_assert_int_eq(d.missed, 1);
    demo_free(&d);
}
END_TEST

START_TEST(builtin_parses)
{
    struct demo d;
    struct qerr err = {0};
    ck_assert_int_eq(demo_parse(&d, demo_builtin, "built-in", &err), 0);
    ck_assert_int_ge(d.n, 6);
    int has_spqr = 0, has_gptq = 0;
    for (int i = 0; i < d.n; i++) {
        has_spqr |= strstr(d.s[i].caption, "SpQR") != NULL;
        has_gptq |= strstr(d.s[i].caption, "GPTQ") != NULL;
    }
    ck_assert(has_spqr && has_gptq);
    demo_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_demo");
    TCase *t = tcase_create("ui_demo");
    tcase_add_test(t, bad_scripts);
    tcase_add_test(t, key_names);
    tcase_add_test(t, play);
    tcase_add_test(t, until_gives_up);
    tcase_add_test(t, builtin_parses);
    suite_add_tcase(s, t);
    return tu_run(s);
}
