/* test_norms.c - L2 / L1 normalisation with the three epsilon conventions
 * of ops.h (NONE, ADD, CLAMP) on hand-computed vectors, zero vectors, a
 * middle axis, and the float64 row variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "itr/ops.h"
#include "ops_testutil.h"

static void assert_vec(const char *what, const float *got, const double *want, int n, double tol) {
    ops_err e = {0, 0};
    for (int i = 0; i < n; i++) ops_err_add(&e, got[i], want[i]);
    ops_err_print(what, &e);
    assert_true(e.max_abs <= tol);
}

/* Rows (3, 4) and (6, 8): norms 5 and 10. */
static void test_l2norm_rows_modes(void **state) {
    (void)state;
    const float in[4] = {3, 4, -6, 8};
    float x[4];

    memcpy(x, in, sizeof x);
    itr_l2norm_rows(x, 2, 2, ITR_EPS_NONE, 0.0f);
    const double unit[4] = {0.6, 0.8, -0.6, 0.8};
    assert_vec("l2 NONE", x, unit, 4, 1e-7);

    /* ADD with a large eps shows the convention: 3 / (5 + 1), 6 / (10 + 1) */
    memcpy(x, in, sizeof x);
    itr_l2norm_rows(x, 2, 2, ITR_EPS_ADD, 1.0f);
    const double add[4] = {3.0 / 6, 4.0 / 6, -6.0 / 11, 8.0 / 11};
    assert_vec("l2 ADD eps=1", x, add, 4, 1e-7);

    /* ADD with the SCAN eps 1e-8 is the unit vector to float precision */
    memcpy(x, in, sizeof x);
    itr_l2norm_rows(x, 2, 2, ITR_EPS_ADD, 1e-8f);
    assert_vec("l2 ADD eps=1e-8", x, unit, 4, 1e-7);

    /* CLAMP eps 8: row 0 (norm 5 < 8) is divided by 8, row 1 (norm 10) by 10 */
    memcpy(x, in, sizeof x);
    itr_l2norm_rows(x, 2, 2, ITR_EPS_CLAMP, 8.0f);
    const double clamp[4] = {3.0 / 8, 4.0 / 8, -0.6, 0.8};
    assert_vec("l2 CLAMP eps=8", x, clamp, 4, 1e-7);
}

/* A zero row: NONE gives 0/0 = NaN (as upstream VSE++), ADD and CLAMP give 0. */
static void test_l2norm_zero_vector(void **state) {
    (void)state;
    float x[3] = {0, 0, 0};
    itr_l2norm_rows(x, 1, 3, ITR_EPS_NONE, 1e-8f);
    for (int i = 0; i < 3; i++) assert_true(isnan(x[i]));

    float y[3] = {0, 0, 0};
    itr_l2norm_rows(y, 1, 3, ITR_EPS_ADD, 1e-8f);
    for (int i = 0; i < 3; i++) assert_true(y[i] == 0.0f);

    float z[3] = {0, 0, 0};
    itr_l2norm_rows(z, 1, 3, ITR_EPS_CLAMP, 1e-12f);
    for (int i = 0; i < 3; i++) assert_true(z[i] == 0.0f);

    /* the other rows are unaffected by a zero row next to them */
    float w[4] = {0, 0, 0, 2};
    itr_l2norm_rows(w, 2, 2, ITR_EPS_NONE, 0.0f);
    assert_true(isnan(w[0]) && isnan(w[1]) && w[2] == 0.0f && w[3] == 1.0f);
}

/* L1: row (1, -3) has |.|_1 = 4, row (2, 2) has 4 too, (0.5, 0.5) has 1. */
static void test_l1norm_modes(void **state) {
    (void)state;
    const float in[6] = {1, -3, 2, 2, 0.5f, 0.5f};
    float x[6];

    memcpy(x, in, sizeof x);
    itr_l1norm_axis(x, 3, 2, 1, ITR_EPS_NONE, 0.0f);
    const double none[6] = {0.25, -0.75, 0.5, 0.5, 0.5, 0.5};
    assert_vec("l1 NONE", x, none, 6, 1e-7);

    memcpy(x, in, sizeof x);
    itr_l1norm_axis(x, 3, 2, 1, ITR_EPS_ADD, 1.0f);
    const double add[6] = {0.2, -0.6, 0.4, 0.4, 0.25, 0.25};
    assert_vec("l1 ADD eps=1", x, add, 6, 1e-7);

    memcpy(x, in, sizeof x);
    itr_l1norm_axis(x, 3, 2, 1, ITR_EPS_CLAMP, 2.0f);
    const double clamp[6] = {0.25, -0.75, 0.5, 0.5, 0.25, 0.25};
    assert_vec("l1 CLAMP eps=2", x, clamp, 6, 1e-7);

    float zn[2] = {0, 0}, za[2] = {0, 0}, zc[2] = {0, 0};
    itr_l1norm_axis(zn, 1, 2, 1, ITR_EPS_NONE, 0.0f);
    itr_l1norm_axis(za, 1, 2, 1, ITR_EPS_ADD, 1e-8f);
    itr_l1norm_axis(zc, 1, 2, 1, ITR_EPS_CLAMP, 1e-12f);
    assert_true(isnan(zn[0]) && isnan(zn[1]));
    assert_true(za[0] == 0.0f && za[1] == 0.0f && zc[0] == 0.0f && zc[1] == 0.0f);
}

/* x (2, 3, 2) normalised along the middle axis (as SCAN's l2norm(x, dim=1)
 * on (batch, regions, dim) data would be along dim 1). */
static void test_l2norm_middle_axis(void **state) {
    (void)state;
    /* columns (o, i): o=0,i=0: (1, 2, 2) norm 3; o=0,i=1: (0, 3, 4) norm 5;
     *                 o=1,i=0: (2, 3, 6) norm 7; o=1,i=1: (0, 0, 0) -> 0 (ADD) */
    float x[12] = {1, 0, 2, 3, 2, 4, 2, 0, 3, 0, 6, 0};
    itr_l2norm_axis(x, 2, 3, 2, ITR_EPS_ADD, 1e-8f);
    const double want[12] = {1.0 / 3, 0, 2.0 / 3, 0.6, 2.0 / 3, 0.8,
                             2.0 / 7, 0, 3.0 / 7, 0, 6.0 / 7, 0};
    assert_vec("l2 middle axis ADD", x, want, 12, 1e-7);

    float y[12] = {1, 0, 2, 3, 2, 4, 2, 0, 3, 0, 6, 0};
    itr_l2norm_axis(y, 2, 3, 2, ITR_EPS_NONE, 0.0f);
    assert_true(isnan(y[7]) && isnan(y[9]) && isnan(y[11]));
    assert_true(fabs(y[10] - 6.0 / 7) < 1e-7);
}

static void test_l2norm_rows_f64(void **state) {
    (void)state;
    const double in[4] = {3, 4, 0, 0};
    double x[4];

    memcpy(x, in, sizeof x);
    itr_l2norm_rows_f64(x, 2, 2, ITR_EPS_NONE, 0.0);
    assert_true(x[0] == 0.6 && x[1] == 0.8);
    assert_true(isnan(x[2]) && isnan(x[3]));

    memcpy(x, in, sizeof x);
    itr_l2norm_rows_f64(x, 2, 2, ITR_EPS_ADD, 1.0);
    assert_true(fabs(x[0] - 0.5) < 1e-15 && fabs(x[1] - 4.0 / 6) < 1e-15);
    assert_true(x[2] == 0.0 && x[3] == 0.0);

    memcpy(x, in, sizeof x);
    itr_l2norm_rows_f64(x, 2, 2, ITR_EPS_CLAMP, 10.0);
    assert_true(fabs(x[0] - 0.3) < 1e-15 && fabs(x[1] - 0.4) < 1e-15);
    assert_true(x[2] == 0.0 && x[3] == 0.0);

    /* far below float32 range (the squares, 1e-299, are not even normal in
     * float32): the float64 variant still normalises exactly */
    double tiny[2] = {3e-150, 4e-150};
    itr_l2norm_rows_f64(tiny, 1, 2, ITR_EPS_CLAMP, 1e-300);
    printf("  l2 f64 tiny row: %.17g %.17g\n", tiny[0], tiny[1]);
    assert_true(fabs(tiny[0] - 0.6) < 1e-15 && fabs(tiny[1] - 0.8) < 1e-15);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l2norm_rows_modes), cmocka_unit_test(test_l2norm_zero_vector),
        cmocka_unit_test(test_l1norm_modes),      cmocka_unit_test(test_l2norm_middle_axis),
        cmocka_unit_test(test_l2norm_rows_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
