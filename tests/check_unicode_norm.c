/* unicode_norm: normalization forms and lowercase on hand-checked cases
 * (degenerate inputs first); tests/e2e_tokjson.sh compares whole random
 * texts with Python's unicodedata. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/qerr.h"
#include "src/unicode.h"
#include "tests/testutil.h"

/* form(in) == want; want NULL: unchanged. */
static void norm_is(enum ucp_nform form, const char *in, const char *want)
{
    char *o;
    size_t n;
    ck_assert_int_eq(ucp_normalize(form, in, strlen(in), &o, &n), 0);
    want = want ? want : in;
    ck_assert_msg(n == strlen(want) && !memcmp(o, want, n), "form %d of \"%s\": got \"%s\"", form,
                  in, o);
    ck_assert_int_eq(o[n], '\0');
    free(o);
}

static void lower_is(const char *in, const char *want)
{
    char *o;
    size_t n;
    ck_assert_int_eq(ucp_lowercase(in, strlen(in), &o, &n), 0);
    ck_assert_msg(n == strlen(want) && !memcmp(o, want, n), "lower \"%s\": got \"%s\"", in, o);
    free(o);
}

START_TEST(degenerate)
{
    for (int f = UCP_NFC; f <= UCP_NFKD; f++) {
        norm_is((enum ucp_nform)f, "", NULL);
        norm_is((enum ucp_nform)f, "plain ASCII\n", NULL);
    }
    lower_is("", "");
    /* a lone combining mark stays; two reorder by class even without a base */
    norm_is(UCP_NFC, "\xcc\x81", NULL);
    norm_is(UCP_NFD, "\xcc\x81\xcc\xa3", "\xcc\xa3\xcc\x81"); /* 230 after 220 */
    ck_assert_uint_eq(ucp_ccc('a'), 0);
    ck_assert_uint_eq(ucp_ccc(0x301), 230);
    ck_assert_uint_eq(ucp_ccc(0x323), 220);
}
END_TEST

START_TEST(forms)
{
    norm_is(UCP_NFC, "cafe\xcc\x81", "caf\xc3\xa9");          /* e + acute -> e-acute */
    norm_is(UCP_NFD, "caf\xc3\xa9", "cafe\xcc\x81");
    /* canonical order then composition: d + dot below + dot above */
    norm_is(UCP_NFC, "d\xcc\x87\xcc\xa3", "\xe1\xb8\x8d\xcc\x87");
    /* blocked: a mark of the same class between base and mark */
    norm_is(UCP_NFC, "a\xcc\x81\xcc\x81", "\xc3\xa1\xcc\x81");
    /* Hangul: jamo L V T compose algorithmically, and decompose back */
    norm_is(UCP_NFC, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81");
    norm_is(UCP_NFD, "\xea\xb0\x81", "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8");
    /* compatibility: fi ligature, fullwidth A, circled 1; NFC keeps them */
    norm_is(UCP_NFKC, "\xef\xac\x81 \xef\xbc\xa1 \xe2\x91\xa0", "fi A 1");
    norm_is(UCP_NFC, "\xef\xac\x81", NULL);
    /* singletons: Ohm sign -> Omega, never composed back */
    norm_is(UCP_NFC, "\xe2\x84\xa6", "\xce\xa9");
    /* composition exclusion: U+0958 stays decomposed in NFC */
    norm_is(UCP_NFC, "\xe0\xa5\x98", "\xe0\xa4\x95\xe0\xa4\xbc");
}
END_TEST

START_TEST(lowercase)
{
    lower_is("HeLLo", "hello");
    lower_is("\xc3\x89" "COLE", "\xc3\xa9" "cole");              /* E-acute */
    lower_is("\xc4\xb0", "i\xcc\x87");                         /* I with dot above */
    /* final sigma at the end of a word, medial sigma elsewhere */
    lower_is("\xce\x9f\xce\xa3 \xce\xa3\xce\x9f", "\xce\xbf\xcf\x82 \xcf\x83\xce\xbf");
    lower_is("\xce\xa3", "\xcf\x83");                           /* alone: medial */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unicode_norm");
    TCase *t = tcase_create("unicode_norm");
    tcase_add_test(t, degenerate);
    tcase_add_test(t, forms);
    tcase_add_test(t, lowercase);
    suite_add_tcase(s, t);
    return tu_run(s);
}
