/* test_folds.c - the COCO 1K protocol (specs/vsepp_vseinfty.md s3.6, s3.8):
 * contiguous folds ranked on their own sub-matrix, per-fold metrics and
 * their arithmetic mean (rsum of the mean = mean of the per-fold rsums). */
#include "metrics_testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 4 images x 1 caption, 2 folds. Fold 0 is perfect, fold 1 is swapped; the
 * off-diagonal blocks are huge and must not count. */
static void test_hand_two_folds(void **state) {
    (void)state;
    const double s[16] = {1, 0, 100, 100,
                          0, 1, 100, 100,
                          100, 100, 0, 1,
                          100, 100, 1, 0};
    itr_metrics per[2], mean;
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_OK);
    itr_metrics w0 = {{100, 100, 100, 1, 1}, {100, 100, 100, 1, 1}, 600, 100, 100};
    itr_metrics w1 = {{0, 100, 100, 2, 2}, {0, 100, 100, 2, 2}, 400, 200.0 / 3, 200.0 / 3};
    /* the fold-mean medr is fractional */
    itr_metrics wm = {{50, 100, 100, 1.5, 1.5}, {50, 100, 100, 1.5, 1.5}, 500, 250.0 / 3, 250.0 / 3};
    err_track e = {0, 0, 0};
    check_metrics(&e, &per[0], &w0, 0);
    check_metrics(&e, &per[1], &w1, 1e-12);
    check_metrics(&e, &mean, &wm, 1e-12);
    err_report("hand folds", &e);
    /* fold_metrics is optional */
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, NULL, &mean), ITR_OK);
    check_metrics(&e, &mean, &wm, 1e-12);
}

/* Folds against independently ranked contiguous copies of each sub-matrix. */
static void check_random_folds(test_rng *g, int64_t n_img, int64_t k, int folds, int levels, int64_t pad,
                               itr_tie_rule rule, err_track *e) {
    int64_t n_cap = n_img * k, ld = n_cap + pad, rows = n_img / folds, cols = rows * k;
    double *s = malloc((size_t)(n_img * ld) * sizeof *s);
    double *sub = malloc((size_t)(rows * cols) * sizeof *sub);
    itr_metrics *per = malloc((size_t)folds * sizeof *per), mean, want_mean;
    assert_true(s && sub && per);
    fill_matrix(g, s, n_img, ld, ld, levels);
    assert_int_equal(itr_eval_folds(s, n_img, n_cap, ld, k, folds, rule, per, &mean), ITR_OK);
    memset(&want_mean, 0, sizeof want_mean);
    double rsum_of_means = 0;
    for (int f = 0; f < folds; f++) {
        for (int64_t y = 0; y < rows; y++)
            for (int64_t x = 0; x < cols; x++) sub[y * cols + x] = s[(f * rows + y) * ld + f * cols + x];
        itr_ranks r;
        itr_metrics want;
        assert_int_equal(itr_rank_matrix(sub, rows, cols, cols, k, rule, &r), ITR_OK);
        itr_metrics_from_ranks(&r, &want);
        itr_ranks_free(&r);
        check_metrics(e, &per[f], &want, 0); /* bit-identical */
        want_mean.i2t.r1 += want.i2t.r1;
        want_mean.i2t.medr += want.i2t.medr;
        want_mean.t2i.r10 += want.t2i.r10;
        want_mean.t2i.meanr += want.t2i.meanr;
        want_mean.rsum += want.rsum;
        want_mean.ari += want.ari;
    }
    check_close(e, mean.i2t.r1, want_mean.i2t.r1 / folds, 1e-12);
    check_close(e, mean.i2t.medr, want_mean.i2t.medr / folds, 1e-12);
    check_close(e, mean.t2i.r10, want_mean.t2i.r10 / folds, 1e-12);
    check_close(e, mean.t2i.meanr, want_mean.t2i.meanr / folds, 1e-12);
    check_close(e, mean.ari, want_mean.ari / folds, 1e-12);
    /* s3.8: rsum of the mean = mean of the per-fold rsums = sum of the six
     * averaged recalls (not upstream VSE++'s 6 x mean(rsum) / 6 x mean(ar)) */
    check_close(e, mean.rsum, want_mean.rsum / folds, 1e-9);
    rsum_of_means = mean.i2t.r1 + mean.i2t.r5 + mean.i2t.r10 + mean.t2i.r1 + mean.t2i.r5 + mean.t2i.r10;
    check_close(e, mean.rsum, rsum_of_means, 1e-9);
    check_close(e, mean.ar, (mean.i2t.r1 + mean.i2t.r5 + mean.i2t.r10) / 3, 1e-9);
    free(s);
    free(sub);
    free(per);
}

static void test_random_folds(void **state) {
    (void)state;
    test_rng g = {31337u};
    err_track e = {0, 0, 0};
    for (int rep = 0; rep < 6; rep++)
        for (int q = 0; q < 3; q++) {
            check_random_folds(&g, 10, 3, 5, 4, rep % 3, (itr_tie_rule)q, &e);
            check_random_folds(&g, 30, 5, 5, 0, 1, (itr_tie_rule)q, &e);
            check_random_folds(&g, 12, 2, 3, 3, 0, (itr_tie_rule)q, &e);
        }
    err_report("random folds vs per-fold copies", &e);
}

/* folds = 1 is the whole-matrix evaluation. */
static void test_one_fold(void **state) {
    (void)state;
    test_rng g = {8u};
    double s[6 * 18];
    fill_matrix(&g, s, 6, 18, 18, 3);
    itr_ranks r;
    itr_metrics whole, per, mean;
    assert_int_equal(itr_rank_matrix(s, 6, 18, 18, 3, ITR_TIES_CANONICAL, &r), ITR_OK);
    itr_metrics_from_ranks(&r, &whole);
    itr_ranks_free(&r);
    assert_int_equal(itr_eval_folds(s, 6, 18, 18, 3, 1, ITR_TIES_CANONICAL, &per, &mean), ITR_OK);
    err_track e = {0, 0, 0};
    check_metrics(&e, &per, &whole, 0);
    check_metrics(&e, &mean, &whole, 0);
    err_report("one fold", &e);
}

static void test_fold_errors(void **state) {
    (void)state;
    double s[16] = {0};
    itr_metrics per[4], mean;
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, per, NULL), ITR_E_ARG);
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 0, ITR_TIES_CANONICAL, per, &mean), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "folds 0 < 1"));
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 3, ITR_TIES_CANONICAL, per, &mean), ITR_E_SHAPE);
    assert_string_equal(itr_last_error(), "itr_eval_folds: sims (4, 4): 4 images do not split into 3 equal folds");
    assert_int_equal(itr_eval_folds(s, 4, 3, 4, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "itr_eval_folds: sims (4, 3): n_cap 3"));
    assert_int_equal(itr_eval_folds(s, 0, 0, 0, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_E_SHAPE);
    assert_int_equal(itr_eval_folds(NULL, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_E_ARG);
    assert_int_equal(itr_eval_folds(s, 4, 4, 3, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "row stride 3 < 4"));
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, (itr_tie_rule)9, per, &mean), ITR_E_ARG);
    /* a NaN inside fold 1 is reported with the fold; one outside every fold is never read */
    s[0 * 4 + 3] = NAN;
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_OK);
    s[3 * 4 + 2] = NAN;
    assert_int_equal(itr_eval_folds(s, 4, 4, 4, 1, 2, ITR_TIES_CANONICAL, per, &mean), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "itr_eval_folds: fold 1 of 2 (images [2, 4)"));
    assert_non_null(strstr(itr_last_error(), "sims[1, 0] is NaN"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_two_folds),
        cmocka_unit_test(test_random_folds),
        cmocka_unit_test(test_one_fold),
        cmocka_unit_test(test_fold_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
