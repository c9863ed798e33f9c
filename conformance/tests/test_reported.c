/* test_reported.c - conformance/reported_numbers.tsv: the real table parses,
 * every row is well formed, lookups find the spec's numbers (scan_sgraf.md
 * s10.1, vsepp_vseinfty.md s5.4), rsum agrees with the six recalls where all
 * are given (violations are printed, not failed: the papers round), and each
 * malformed-row error path is reported with file and line. */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv: the ITR_REPORTED override */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itr/reported.h"

#define HDR "model\tvariant\tdataset\ti2t_r1\ti2t_r5\ti2t_r10\tt2i_r1\tt2i_r5\tt2i_r10\trsum\tsource\n"

static void test_real_table(void **state) {
    (void)state;
    itr_reported_table t;
    itr_status st = itr_reported_load(ITR_REPORTED_TSV, &t);
    if (st) fprintf(stderr, "%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_true(t.n >= 60);
    size_t checked = 0, off = 0;
    double worst = 0.0;
    for (size_t i = 0; i < t.n; i++) {
        const itr_reported_row *r = &t.rows[i];
        assert_true(r->model[0] && r->variant[0] && r->source[0]);
        assert_non_null(strstr(r->source, ".md"));   /* every row cites its spec section */
        int all = 1;
        for (int k = 0; k < ITR_REP_N; k++) all &= r->has[k];
        if (!all) continue;
        double s = 0.0;
        for (int k = 0; k < ITR_REP_RSUM; k++) s += r->v[k];
        double d = fabs(s - r->v[ITR_REP_RSUM]);
        checked++;
        if (d > worst) worst = d;
        if (d > 0.15) {
            off++;
            printf("rsum inconsistent: line %lld %s / %s / %s: sum %.2f vs rsum %.2f (%s)\n", (long long)r->line,
                   r->model, r->variant, r->dataset, s, r->v[ITR_REP_RSUM], r->source);
        }
    }
    printf("reported: %zu rows, rsum checked on %zu, max |sum - rsum| = %.3f, %zu over 0.15\n", t.n, checked, worst,
           off);
    assert_true(checked >= 50);
    itr_reported_free(&t);
}

static void test_lookups(void **state) {
    (void)state;
    itr_reported_table t;
    assert_int_equal(itr_reported_load(ITR_REPORTED_TSV, &t), ITR_OK);
    const itr_reported_row *rows[8];
    /* scan_sgraf.md s10.1: SGR on Flickr30K 76.6 93.7 96.6 | 56.1 80.9 87.0 | 490.9 */
    assert_int_equal(itr_reported_find(&t, "sgraf", "sgr", "f30k_1k", rows, 8), 1);
    const double sgr[ITR_REP_N] = {76.6, 93.7, 96.6, 56.1, 80.9, 87.0, 490.9};
    double maxabs = 0.0;
    for (int k = 0; k < ITR_REP_N; k++) {
        assert_true(rows[0]->has[k]);
        double d = fabs(rows[0]->v[k] - sgr[k]);
        if (d > maxabs) maxabs = d;
    }
    printf("SGR f30k: max abs err %.3g\n", maxabs);
    assert_true(maxabs < 1e-9);
    /* all three SGRAF variants per dataset; case-insensitive model name */
    assert_int_equal(itr_reported_find(&t, "SGRAF", NULL, "coco_5k", rows, 8), 3);
    assert_int_equal(itr_reported_find(&t, "sgraf", NULL, "coco_5k", NULL, 0), 3);
    /* more matches than room: count is still the total, only max stored */
    rows[1] = NULL;
    assert_int_equal(itr_reported_find(&t, "sgraf", NULL, "f30k_1k", rows, 1), 3);
    assert_null(rows[1]);
    /* vsepp_vseinfty.md s5.4: the precomp COCO run, rsum 386.7 */
    size_t n = itr_reported_find(&t, "vsepp", NULL, "coco_1k", rows, 8);
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= fabs(rows[i]->v[ITR_REP_RSUM] - 386.7) < 1e-9;
    assert_true(found);
    /* a row with numbers missing (VSL README has no rsum) */
    assert_int_equal(itr_reported_find(&t, "vsl", "SGR+VSL", "f30k_1k", rows, 8), 1);
    assert_false(rows[0]->has[ITR_REP_RSUM]);
    assert_true(rows[0]->has[ITR_REP_I2T_R1]);
    /* no row */
    assert_int_equal(itr_reported_find(&t, "nosuch", NULL, "f30k_1k", rows, 8), 0);
    assert_int_equal(itr_reported_find(&t, "sgraf", "nosuch", "f30k_1k", rows, 8), 0);
    assert_int_equal(itr_reported_find(&t, NULL, NULL, "f30k_1k", rows, 8), 0);
    assert_int_equal(itr_reported_find(NULL, "sgraf", NULL, "f30k_1k", rows, 8), 0);
    itr_reported_free(&t);
    itr_reported_free(NULL);
}

static void test_dataset_key(void **state) {
    (void)state;
    assert_string_equal(itr_reported_dataset("f30k_precomp", 1000, 1), "f30k_1k");
    assert_string_equal(itr_reported_dataset("Flickr30K", 1000, 1), "f30k_1k");
    assert_string_equal(itr_reported_dataset("coco_precomp", 1000, 5), "coco_1k");
    assert_string_equal(itr_reported_dataset("coco_precomp", 1000, 1), "coco_1k");
    assert_string_equal(itr_reported_dataset("coco_precomp", 5000, 1), "coco_5k");
    assert_null(itr_reported_dataset("iaprtc12_precomp", 1000, 1));
    assert_null(itr_reported_dataset(NULL, 1000, 1));
}

static void test_path(void **state) {
    (void)state;
    assert_string_equal(itr_reported_path("x.tsv"), "x.tsv");
    setenv("ITR_REPORTED", "/env/r.tsv", 1);
    assert_string_equal(itr_reported_path(NULL), "/env/r.tsv");
    setenv("ITR_REPORTED", "", 1);
    assert_string_equal(itr_reported_path(NULL), ITR_REPORTED_TSV);
    unsetenv("ITR_REPORTED");
    assert_string_equal(itr_reported_path(NULL), ITR_REPORTED_TSV);
}

static void test_small_ok(void **state) {
    (void)state;
    const char *text = "# comment\r\n\n" HDR "m\tv\tf30k_1k\t1\t2.5\t\t\t\t\t3.5\tsrc\r\nm\tw\tcoco_5k\t\t\t\t4\t\t\t\tsrc";
    itr_reported_table t;
    assert_int_equal(itr_reported_parse(text, strlen(text), "mem", &t), ITR_OK);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.rows[0].line, 4);
    assert_true(t.rows[0].has[0] && t.rows[0].has[1] && !t.rows[0].has[2] && t.rows[0].has[ITR_REP_RSUM]);
    assert_true(fabs(t.rows[0].v[1] - 2.5) < 1e-12);
    assert_string_equal(t.rows[0].source, "src");
    assert_string_equal(t.rows[1].dataset, "coco_5k");
    assert_true(t.rows[1].has[ITR_REP_T2I_R1] && fabs(t.rows[1].v[ITR_REP_T2I_R1] - 4.0) < 1e-12);
    itr_reported_free(&t);
    /* only a header: no rows, fine */
    assert_int_equal(itr_reported_parse(HDR, strlen(HDR), NULL, &t), ITR_OK);
    assert_int_equal(t.n, 0);
    itr_reported_free(&t);
}

/* parses text, expects status st and a message containing want */
static void bad(const char *text, itr_status st, const char *want) {
    itr_reported_table t;
    itr_status got = itr_reported_parse(text, strlen(text), "bad.tsv", &t);
    printf("  -> %s\n", itr_last_error());
    assert_int_equal(got, st);
    assert_non_null(strstr(itr_last_error(), want));
    assert_null(t.rows);
    assert_int_equal(t.n, 0);
}

static void test_errors(void **state) {
    (void)state;
    bad("", ITR_E_FORMAT, "no header");
    bad("# only comments\n", ITR_E_FORMAT, "no header");
    bad("model\tvariant\n", ITR_E_FORMAT, "bad.tsv:1: header has 2");
    bad(HDR "x\n", ITR_E_FORMAT, "bad.tsv:2: row has 1");
    bad("model\tvariant\tdataset\ti2t_r1\ti2t_r5\ti2t_r10\tt2i_r1\tt2i_r5\tt2i_r10\trsum\tsource\textra\n",
        ITR_E_FORMAT, "more than 11");
    bad("model\tVARIANT\tdataset\ti2t_r1\ti2t_r5\ti2t_r10\tt2i_r1\tt2i_r5\tt2i_r10\trsum\tsource\n", ITR_E_FORMAT,
        "header column 2 is 'VARIANT'");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5\t6\t21\tsrc\textra\n", ITR_E_FORMAT, "row has more than 11");
    bad(HDR "\tv\tf30k_1k\t1\t2\t3\t4\t5\t6\t21\tsrc\n", ITR_E_FORMAT, "field 'model' is empty");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5\t6\t21\t\n", ITR_E_FORMAT, "field 'source' is empty");
    bad(HDR "m\tv\tcoco_2k\t1\t2\t3\t4\t5\t6\t21\tsrc\n", ITR_E_FORMAT, "dataset 'coco_2k'");
    bad(HDR "m\tv\tf30k_1k\t1\tx\t3\t4\t5\t6\t21\tsrc\n", ITR_E_FORMAT, "field 'i2t_r5' is not a number: 'x'");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t-4\t5\t6\t21\tsrc\n", ITR_E_FORMAT, "'t2i_r1' is not a number");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5.0.1\t6\t21\tsrc\n", ITR_E_FORMAT, "'t2i_r5' is not a number");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5\t.\t21\tsrc\n", ITR_E_FORMAT, "'t2i_r10' is not a number");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5\t6\t1234567890123456789012345678901234567890\tsrc\n", ITR_E_FORMAT,
        "'rsum' is not a number");
    bad(HDR "m\tv\tf30k_1k\t101\t2\t3\t4\t5\t6\t21\tsrc\n", ITR_E_FORMAT, "outside [0, 100]");
    bad(HDR "m\tv\tf30k_1k\t1\t2\t3\t4\t5\t6\t601\tsrc\n", ITR_E_FORMAT, "outside [0, 600]");
    bad(HDR "m\tv\tf30k_1k\t\t\t\t\t\t\t\tsrc\n", ITR_E_FORMAT, "reports no number");
    bad(HDR "a_model_name_that_is_far_too_long_for_the_field\tv\tf30k_1k\t1\t\t\t\t\t\t\tsrc\n", ITR_E_LIMIT,
        "field 'model' is 47 bytes");
    /* the error names the right line after good rows */
    bad(HDR "m\tv\tf30k_1k\t1\t\t\t\t\t\t\tsrc\n# c\nm\tv\tf30k_1k\tz\t\t\t\t\t\t\tsrc\n", ITR_E_FORMAT,
        "bad.tsv:4:");
    itr_reported_table t;
    assert_int_equal(itr_reported_parse(NULL, 0, "x", &t), ITR_E_ARG);
    assert_int_equal(itr_reported_parse("", 0, "x", NULL), ITR_E_ARG);
    assert_int_equal(itr_reported_load(NULL, &t), ITR_E_ARG);
    assert_int_equal(itr_reported_load("x", NULL), ITR_E_ARG);
    assert_int_equal(itr_reported_load("/nonexistent/reported.tsv", &t), ITR_E_IO);
    assert_non_null(strstr(itr_last_error(), "/nonexistent/reported.tsv"));
    /* a directory opens but cannot be read */
    itr_status st = itr_reported_load(ITR_SOURCE_DIR "/conformance", &t);
    printf("  directory -> %s\n", itr_last_error());
    assert_true(st == ITR_E_IO || st == ITR_E_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_table), cmocka_unit_test(test_lookups), cmocka_unit_test(test_dataset_key),
        cmocka_unit_test(test_path),       cmocka_unit_test(test_small_ok), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
