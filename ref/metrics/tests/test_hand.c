/* test_hand.c - hand-computed ranks, top-1, tie counts and metrics of small
 * matrices for the three tie rules (specs/vsepp_vseinfty.md s3.4-3.5), and
 * the argument errors of the whole-matrix entry points. */
#include "metrics_testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct expect {
    int64_t rank_i2t[3], top1_i2t[3];
    int64_t rank_t2i[4], top1_t2i[4];
    int64_t tq_i2t, tq_t2i, tp_i2t, tp_t2i;
} expect;

static void check_expect(const itr_ranks *r, const expect *e) {
    for (int64_t i = 0; i < r->n_img; i++) {
        assert_int_equal(r->rank_i2t[i], e->rank_i2t[i]);
        assert_int_equal(r->top1_i2t[i], e->top1_i2t[i]);
    }
    for (int64_t c = 0; c < r->n_cap; c++) {
        assert_int_equal(r->rank_t2i[c], e->rank_t2i[c]);
        assert_int_equal(r->top1_t2i[c], e->top1_t2i[c]);
    }
    assert_int_equal(r->tied_queries_i2t, e->tq_i2t);
    assert_int_equal(r->tied_queries_t2i, e->tq_t2i);
    assert_int_equal(r->tied_pairs_i2t, e->tp_i2t);
    assert_int_equal(r->tied_pairs_t2i, e->tp_t2i);
}

/* Runs one matrix through both the f64 and the f32 entry point. */
static void run_both(const double *s, int64_t n_img, int64_t k, itr_tie_rule rule, const expect *e) {
    int64_t n_cap = n_img * k;
    float f[16];
    for (int64_t i = 0; i < n_img * n_cap; i++) f[i] = (float)s[i];
    itr_ranks r;
    assert_int_equal(itr_rank_matrix(s, n_img, n_cap, n_cap, k, rule, &r), ITR_OK);
    assert_int_equal(r.rule, rule);
    assert_int_equal(r.caps_per_img, k);
    check_expect(&r, e);
    itr_ranks_free(&r);
    assert_null(r.rank_i2t);
    assert_int_equal(itr_rank_matrix_f32(f, n_img, n_cap, n_cap, k, rule, &r), ITR_OK);
    check_expect(&r, e);
    itr_ranks_free(&r);
}

/* 2 images x 2 captions each. Image 1's best GT caption 2 ties with
 * competitor caption 1 (smaller index): canonical puts caption 2 first. */
static void test_two_by_two(void **state) {
    (void)state;
    const double s[8] = {0.9, 0.1, 0.5, 0.95,
                         0.2, 0.7, 0.7, 0.3};
    expect canon = {{1, 0}, {3, 2}, {0, 1, 0, 1}, {0, 1, 1, 0}, 1, 0, 1, 0};
    expect opt = canon, pess = canon;
    pess.rank_i2t[1] = 1; /* the tied competitor counts against the GT */
    pess.top1_i2t[1] = 1; /* and ranks first among the maxima           */
    run_both(s, 2, 2, ITR_TIES_CANONICAL, &canon);
    run_both(s, 2, 2, ITR_TIES_OPTIMISTIC, &opt);
    run_both(s, 2, 2, ITR_TIES_PESSIMISTIC, &pess);

    itr_ranks r;
    itr_metrics m;
    assert_int_equal(itr_rank_matrix(s, 2, 4, 4, 2, ITR_TIES_CANONICAL, &r), ITR_OK);
    itr_metrics_from_ranks(&r, &m);
    /* i2t ranks {1, 0}, t2i ranks {0, 1, 0, 1}. */
    itr_metrics want = {{50, 100, 100, 1, 1.5}, {50, 100, 100, 1, 1.5}, 500, 250.0 / 3, 250.0 / 3};
    err_track e = {0, 0, 0};
    check_metrics(&e, &m, &want, 1e-12);
    err_report("2x4 metrics", &e);
    itr_ranks_free(&r);
}

/* k = 1, everything tied in row 0: the larger index first in every query. */
static void test_three_by_three_ties(void **state) {
    (void)state;
    const double s[9] = {0.5, 0.5, 0.5,
                         0.5, 0.5, 0.2,
                         0.1, 0.3, 0.3};
    expect canon = {{2, 0, 0}, {2, 1, 2}, {1, 0, 1}, {1, 1, 0}, 3, 2, 4, 2};
    expect opt = {{0, 0, 0}, {0, 1, 2}, {0, 0, 1}, {0, 1, 0}, 3, 2, 4, 2};
    expect pess = {{2, 1, 1}, {2, 0, 1}, {1, 1, 1}, {1, 0, 0}, 3, 2, 4, 2};
    run_both(s, 3, 1, ITR_TIES_CANONICAL, &canon);
    run_both(s, 3, 1, ITR_TIES_OPTIMISTIC, &opt);
    run_both(s, 3, 1, ITR_TIES_PESSIMISTIC, &pess);
}

/* Two GT captions of image 0 tie with each other and with competitor
 * caption 2: the GT-GT tie is no competitor (pessimistic = 1, not 2). */
static void test_gt_gt_tie(void **state) {
    (void)state;
    const double s[8] = {0.8, 0.8, 0.8, 0.1,
                         0.9, 0.0, 0.4, 0.4};
    expect canon = {{1, 1}, {2, 0}, {1, 0, 1, 0}, {1, 0, 0, 1}, 1, 0, 1, 0};
    expect opt = canon, pess = canon;
    opt.rank_i2t[0] = 0;
    opt.top1_i2t[0] = 1; /* the larger-index GT caption */
    run_both(s, 2, 2, ITR_TIES_CANONICAL, &canon);
    run_both(s, 2, 2, ITR_TIES_OPTIMISTIC, &opt);
    run_both(s, 2, 2, ITR_TIES_PESSIMISTIC, &pess);
}

/* A row stride larger than n_cap; padding holds values that must not count. */
static void test_row_stride(void **state) {
    (void)state;
    const double s[10] = {0.9, 0.1, 0.5, 0.95, 1e9,
                          0.2, 0.7, 0.7, 0.3, NAN};
    expect canon = {{1, 0}, {3, 2}, {0, 1, 0, 1}, {0, 1, 1, 0}, 1, 0, 1, 0};
    itr_ranks r;
    assert_int_equal(itr_rank_matrix(s, 2, 4, 5, 2, ITR_TIES_CANONICAL, &r), ITR_OK);
    check_expect(&r, &canon);
    itr_ranks_free(&r);
    float f[10];
    for (int i = 0; i < 10; i++) f[i] = (float)s[i];
    assert_int_equal(itr_rank_matrix_f32(f, 2, 4, 5, 2, ITR_TIES_CANONICAL, &r), ITR_OK);
    check_expect(&r, &canon);
    itr_ranks_free(&r);
}

/* Infinite scores are ordinary (ordered) values. */
static void test_infinities(void **state) {
    (void)state;
    const double s[4] = {-INFINITY, INFINITY, INFINITY, -INFINITY};
    itr_ranks r;
    assert_int_equal(itr_rank_matrix(s, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_OK);
    assert_int_equal(r.rank_i2t[0], 1);
    assert_int_equal(r.rank_i2t[1], 1);
    assert_int_equal(r.rank_t2i[0], 1);
    assert_int_equal(r.rank_t2i[1], 1);
    assert_int_equal(r.tied_queries_i2t, 0);
    itr_ranks_free(&r);
}

static void test_recall_values(void **state) {
    (void)state;
    err_track e = {0, 0, 0};
    /* odd count: sorted {0, 3, 4, 7, 12}, median 4 */
    const int64_t odd[5] = {0, 3, 7, 12, 4};
    itr_recall w1 = {20, 60, 80, 5, 26.0 / 5 + 1};
    itr_recall g = itr_recall_from_ranks(odd, 5);
    check_recall(&e, &g, &w1, 0);
    /* even count: sorted {0, 2, 5, 9}, median 3.5 -> floor 3 -> medr 4 */
    const int64_t even[4] = {9, 2, 5, 0};
    itr_recall w2 = {25, 50, 100, 4, 5};
    g = itr_recall_from_ranks(even, 4);
    check_recall(&e, &g, &w2, 0);
    /* even count with an integer median */
    const int64_t even2[4] = {10, 3, 1, 3};
    g = itr_recall_from_ranks(even2, 4);
    check_close(&e, g.medr, 4, 0);
    /* {0, 1}: median 0.5 -> medr 1 */
    const int64_t two[2] = {1, 0};
    g = itr_recall_from_ranks(two, 2);
    check_close(&e, g.medr, 1, 0);
    check_close(&e, g.meanr, 1.5, 0);
    /* one query, and a wide value range for the bisection */
    const int64_t one[1] = {7};
    g = itr_recall_from_ranks(one, 1);
    itr_recall w3 = {0, 0, 100, 8, 8};
    check_recall(&e, &g, &w3, 0);
    const int64_t wide[3] = {1000000, 0, 999999};
    g = itr_recall_from_ranks(wide, 3);
    check_close(&e, g.medr, 1000000, 0);
    const int64_t wide2[2] = {1000001, 0};
    g = itr_recall_from_ranks(wide2, 2);
    check_close(&e, g.medr, 500001, 0);
    /* all equal */
    const int64_t same[6] = {4, 4, 4, 4, 4, 4};
    g = itr_recall_from_ranks(same, 6);
    itr_recall w4 = {0, 100, 100, 5, 5};
    check_recall(&e, &g, &w4, 0);
    /* R@K exactly as upstream: 100.0 * count / n (1/3 is not exact) */
    const int64_t third[3] = {0, 5, 10};
    g = itr_recall_from_ranks(third, 3);
    check_close(&e, g.r1, 100.0 * 1 / 3, 0);
    check_close(&e, g.r10, 100.0 * 2 / 3, 0);
    err_report("recall", &e);
    /* degenerate input: zeros */
    g = itr_recall_from_ranks(NULL, 3);
    assert_true(g.r1 == 0 && g.medr == 0 && g.meanr == 0);
    g = itr_recall_from_ranks(odd, 0);
    assert_true(g.r10 == 0 && g.medr == 0);
}

static void test_metrics_helpers(void **state) {
    (void)state;
    itr_metrics m;
    memset(&m, 0x55, sizeof m);
    itr_metrics_from_ranks(NULL, &m);
    assert_true(m.rsum == 0 && m.i2t.r1 == 0);
    itr_metrics_from_ranks(NULL, NULL); /* no crash */
    itr_metrics a[2] = {{{10, 20, 30, 1, 2}, {40, 50, 60, 3, 4}, 210, 20, 50},
                        {{20, 40, 50, 2, 3}, {10, 30, 40, 4, 6}, 190, 110.0 / 3, 80.0 / 3}};
    itr_metrics mean, want = {{15, 30, 40, 1.5, 2.5}, {25, 40, 50, 3.5, 5}, 200, (20 + 110.0 / 3) / 2,
                              (50 + 80.0 / 3) / 2};
    itr_metrics_mean(a, 2, &mean);
    err_track e = {0, 0, 0};
    check_metrics(&e, &mean, &want, 1e-12);
    err_report("metrics mean", &e);
    itr_metrics_mean(a, 0, &mean);
    assert_true(mean.rsum == 0);
    itr_metrics_mean(NULL, 2, &mean);
    assert_true(mean.i2t.r5 == 0);
    itr_metrics_mean(a, 2, NULL); /* no crash */
    itr_ranks_free(NULL);         /* no crash */
}

static void test_check_shape(void **state) {
    (void)state;
    assert_int_equal(itr_metrics_check_shape(2, 10, 5), ITR_OK);
    assert_int_equal(itr_metrics_check_shape(0, 0, 5), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "empty"));
    assert_int_equal(itr_metrics_check_shape(2, 0, 5), ITR_E_SHAPE);
    assert_int_equal(itr_metrics_check_shape(2, 10, 0), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "caps_per_img 0"));
    assert_int_equal(itr_metrics_check_shape(2, 9, 5), ITR_E_SHAPE);
    assert_string_equal(itr_last_error(), "sims (2, 9): n_cap 9 != caps_per_img 5 * n_img 2");
    assert_int_equal(itr_metrics_check_shape(4, 8, INT64_MAX / 2), ITR_E_SHAPE); /* k * n_img overflows */
}

static void test_matrix_errors(void **state) {
    (void)state;
    double s[6] = {1, 0, 0, 0, 1, 0};
    float f[6] = {1, 0, 0, 0, 1, 0};
    itr_ranks r;
    memset(&r, 0x11, sizeof r);
    assert_int_equal(itr_rank_matrix(s, 2, 3, 3, 1, ITR_TIES_CANONICAL, &r), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "itr_rank_matrix: sims (2, 3): n_cap 3 != caps_per_img 1"));
    assert_null(r.rank_i2t); /* zeroed on failure */
    itr_ranks_free(&r);
    assert_int_equal(itr_rank_matrix(s, 0, 0, 0, 5, ITR_TIES_CANONICAL, &r), ITR_E_SHAPE);
    assert_int_equal(itr_rank_matrix(NULL, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "is NULL"));
    assert_int_equal(itr_rank_matrix(s, 2, 2, 2, 1, ITR_TIES_CANONICAL, NULL), ITR_E_ARG);
    assert_int_equal(itr_rank_matrix(s, 2, 2, 1, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "row stride 1 < 2"));
    assert_int_equal(itr_rank_matrix(s, 2, 2, 2, 1, (itr_tie_rule)7, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "unknown tie rule 7"));
    /* NaN in a competitor cell and in a ground-truth cell */
    s[1] = NAN;
    assert_int_equal(itr_rank_matrix(s, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "sims[0, 1] is NaN"));
    assert_non_null(strstr(itr_last_error(), "itr_rank_matrix"));
    s[1] = 0;
    s[3] = NAN;
    assert_int_equal(itr_rank_matrix(s, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "sims[1, 1]) is NaN"));

    assert_int_equal(itr_rank_matrix_f32(f, 2, 3, 3, 1, ITR_TIES_CANONICAL, &r), ITR_E_SHAPE);
    assert_int_equal(itr_rank_matrix_f32(NULL, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_int_equal(itr_rank_matrix_f32(f, 2, 2, 2, 1, ITR_TIES_CANONICAL, NULL), ITR_E_ARG);
    assert_int_equal(itr_rank_matrix_f32(f, 2, 2, 1, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    f[2] = NAN;
    assert_int_equal(itr_rank_matrix_f32(f, 2, 2, 2, 1, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "itr_rank_matrix_f32"));
    assert_non_null(strstr(itr_last_error(), "sims[1, 0] is NaN"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_by_two),
        cmocka_unit_test(test_three_by_three_ties),
        cmocka_unit_test(test_gt_gt_tie),
        cmocka_unit_test(test_row_stride),
        cmocka_unit_test(test_infinities),
        cmocka_unit_test(test_recall_values),
        cmocka_unit_test(test_metrics_helpers),
        cmocka_unit_test(test_check_shape),
        cmocka_unit_test(test_matrix_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
