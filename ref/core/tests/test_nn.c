/* test_nn.c - linear, embedding, activations, softmax and eval BatchNorm
 * (ref/core/nn.c) against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "itr/ops.h"
#include "ops_testutil.h"

static void assert_close(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        printf("  got %.9g want %.9g (tol %.1e)\n", got, want, tol);
        fail();
    }
}

/* ---- linear ------------------------------------------------------------ */

/* x (2, 3), W (2, 3) stored (out, in), b (2):
 *   row 0: [1 2 3].[1 0 -1] = -2, [1 2 3].[0.5 0.5 0.5] = 3
 *   row 1: [-1 0 4].[1 0 -1] = -5, [-1 0 4].[0.5 0.5 0.5] = 1.5 */
static void test_linear(void **state) {
    (void)state;
    const float x[6] = {1, 2, 3, -1, 0, 4};
    const float W[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    const float b[2] = {10, -1};
    const float no_bias[4] = {-2, 3, -5, 1.5f};
    float y[4];
    memset(y, 0xff, sizeof y);        /* NaN garbage: must be overwritten */
    itr_linear(x, 2, 3, W, NULL, 2, y);
    for (int i = 0; i < 4; i++) assert_close(y[i], no_bias[i], 1e-6);
    memset(y, 0xff, sizeof y);
    itr_linear(x, 2, 3, W, b, 2, y);
    for (int i = 0; i < 4; i++) assert_close(y[i], no_bias[i] + b[i % 2], 1e-6);
    /* in = 0: y is the bias alone */
    itr_linear(x, 2, 0, W, b, 2, y);
    for (int i = 0; i < 4; i++) assert_close(y[i], b[i % 2], 0.0);
}

/* ---- embedding --------------------------------------------------------- */

static void test_embedding(void **state) {
    (void)state;
    const float table[6] = {0, 1, 10, 11, 20, 21};     /* vocab 3, dim 2 */
    const int64_t ids[4] = {2, 0, 2, 1};
    float out[8];
    assert_int_equal(itr_embedding(table, 3, 2, ids, 4, out), ITR_OK);
    const float want[8] = {20, 21, 0, 1, 20, 21, 10, 11};
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(itr_embedding(table, 3, 2, ids, 0, out), ITR_OK);

    const int64_t too_big[2] = {1, 3};
    assert_int_equal(itr_embedding(table, 3, 2, too_big, 2, out), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "word id 3 at position 1"));
    assert_non_null(strstr(itr_last_error(), "[0, 3)"));
    const int64_t negative[1] = {-1};
    assert_int_equal(itr_embedding(table, 3, 2, negative, 1, out), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "word id -1 at position 0"));
}

/* ---- activations --------------------------------------------------------- */

static void test_activations(void **state) {
    (void)state;
    const float in[5] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f};
    float x[5];

    memcpy(x, in, sizeof x);
    itr_relu(x, 5);
    const float relu[5] = {0, 0, 0, 0.5f, 3.0f};
    assert_memory_equal(x, relu, sizeof x);

    memcpy(x, in, sizeof x);
    itr_leaky_relu(x, 5, 0.1f);
    const float leaky[5] = {-0.2f, -0.05f, 0, 0.5f, 3.0f};
    for (int i = 0; i < 5; i++) assert_close(x[i], leaky[i], 1e-7);

    memcpy(x, in, sizeof x);
    itr_tanh_inplace(x, 5);
    for (int i = 0; i < 5; i++) assert_close(x[i], tanh(in[i]), 1e-6);
    assert_close(x[2], 0.0, 0.0);
    assert_close(x[4], 0.99505475368673, 1e-6);

    memcpy(x, in, sizeof x);
    itr_sigmoid_inplace(x, 5);
    for (int i = 0; i < 5; i++) assert_close(x[i], 1.0 / (1.0 + exp(-in[i])), 1e-6);
    assert_close(x[2], 0.5, 0.0);
    assert_close(itr_sigmoidf(1.0f), 0.7310585786, 1e-7);
    assert_close(itr_sigmoidf(-1.0f), 0.2689414214, 1e-7);
    /* saturates without NaN at both ends */
    assert_close(itr_sigmoidf(-100.0f), 0.0, 1e-30);
    assert_close(itr_sigmoidf(100.0f), 1.0, 0.0);
}

/* ---- softmax ------------------------------------------------------------- */

/* softmax(1, 2, 3) = e^k / (e + e^2 + e^3) */
static const double SM123[3] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};

/* Checks that x viewed as (outer, axis, inner) sums to 1 along axis. */
static void assert_sums_to_one(const double *x, int64_t outer, int64_t axis, int64_t inner, double tol) {
    ops_err e = {0, 0};
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0.0;
            for (int64_t k = 0; k < axis; k++) s += x[(o * axis + k) * inner + i];
            ops_err_add(&e, s, 1.0);
        }
    ops_err_print("softmax row sums", &e);
    assert_true(e.max_abs <= tol);
}

static void test_softmax_last_axis(void **state) {
    (void)state;
    /* rows (2, 3): [1 2 3] and the same shifted by 1000 (no overflow: max-shift) */
    float x[6] = {1, 2, 3, 1001, 1002, 1003};
    double xd[6] = {1, 2, 3, 1001, 1002, 1003}, s[6];
    itr_softmax_axis(x, 2, 3, 1);
    itr_softmax_axis_f64(xd, 2, 3, 1);
    ops_err e = {0, 0}, ed = {0, 0};
    for (int i = 0; i < 6; i++) {
        assert_false(isnan(x[i]));
        ops_err_add(&e, x[i], SM123[i % 3]);
        ops_err_add(&ed, xd[i], SM123[i % 3]);
        s[i] = x[i];
    }
    ops_err_print("softmax f32 last axis", &e);
    ops_err_print("softmax f64 last axis", &ed);
    assert_true(e.max_abs < 1e-6 && ed.max_abs < 1e-15);
    assert_sums_to_one(s, 2, 3, 1, 1e-6);
    assert_sums_to_one(xd, 2, 3, 1, 1e-15);

    /* huge negative inputs do not underflow to 0/0 either */
    float lo[2] = {-1e30f, -1e30f};
    itr_softmax_axis(lo, 1, 2, 1);
    assert_close(lo[0], 0.5, 0.0);
    assert_close(lo[1], 0.5, 0.0);
    /* a single element is 1 */
    double one = 7e300;
    itr_softmax_axis_f64(&one, 1, 1, 1);
    assert_close(one, 1.0, 0.0);
}

/* (3, 2) along the first axis: each column is a softmax. */
static void test_softmax_first_axis(void **state) {
    (void)state;
    float x[6] = {1, 500, 2, 501, 3, 502};
    double xd[6] = {1, -3, 2, -2, 3, -1}, s[6];
    itr_softmax_axis(x, 1, 3, 2);
    itr_softmax_axis_f64(xd, 1, 3, 2);
    ops_err e = {0, 0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 2; i++) {
            ops_err_add(&e, x[k * 2 + i], SM123[k]);
            ops_err_add(&e, xd[k * 2 + i], SM123[k]);
        }
    ops_err_print("softmax first axis", &e);
    assert_true(e.max_abs < 1e-6);
    for (int i = 0; i < 6; i++) s[i] = x[i];
    assert_sums_to_one(s, 1, 3, 2, 1e-6);
    assert_sums_to_one(xd, 1, 3, 2, 1e-15);
}

/* (2, 3, 2) along the middle axis. */
static void test_softmax_middle_axis(void **state) {
    (void)state;
    /* x[o, k, i] = (k + 1) + 100 o + 10 i: every (o, i) column is 1, 2, 3 shifted */
    float x[12];
    double xd[12], s[12];
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 2; i++) {
                x[(o * 3 + k) * 2 + i] = (float)(k + 1 + 100 * o + 10 * i);
                xd[(o * 3 + k) * 2 + i] = k + 1 + 100 * o + 10 * i;
            }
    itr_softmax_axis(x, 2, 3, 2);
    itr_softmax_axis_f64(xd, 2, 3, 2);
    ops_err e = {0, 0}, ed = {0, 0};
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 2; i++) {
                ops_err_add(&e, x[(o * 3 + k) * 2 + i], SM123[k]);
                ops_err_add(&ed, xd[(o * 3 + k) * 2 + i], SM123[k]);
            }
    ops_err_print("softmax f32 middle axis", &e);
    ops_err_print("softmax f64 middle axis", &ed);
    assert_true(e.max_abs < 1e-6 && ed.max_abs < 1e-14);
    for (int i = 0; i < 12; i++) s[i] = x[i];
    assert_sums_to_one(s, 2, 3, 2, 1e-6);
    assert_sums_to_one(xd, 2, 3, 2, 1e-15);
}

/* ---- BatchNorm eval ------------------------------------------------------ */

/* x (n=2, c=2, inner=2); mean (1, -1), var (3, 0.25), eps 1 -> std (2, sqrt(1.25)). */
static void test_batchnorm_eval(void **state) {
    (void)state;
    const float in[8] = {1, 3, -1, 0, 5, -3, 2, -2};
    const float mean[2] = {1, -1}, var[2] = {3, 0.25f};
    const float gamma[2] = {2, -1}, beta[2] = {0.5f, 10};
    const double sd1 = sqrt(1.25);
    float x[8];

    memcpy(x, in, sizeof x);
    itr_batchnorm_eval(x, 2, 2, 2, mean, var, NULL, NULL, 1.0f);
    const double plain[8] = {0, 1, 0, 1 / sd1, 2, -2, 3 / sd1, -1 / sd1};
    ops_err e = {0, 0};
    for (int i = 0; i < 8; i++) ops_err_add(&e, x[i], plain[i]);
    ops_err_print("batchnorm eval affine=False", &e);
    assert_true(e.max_abs < 1e-6);

    memcpy(x, in, sizeof x);
    itr_batchnorm_eval(x, 2, 2, 2, mean, var, gamma, beta, 1.0f);
    e.max_abs = e.max_rel = 0;
    for (int i = 0; i < 8; i++) {
        int ch = (i / 2) % 2;
        ops_err_add(&e, x[i], plain[i] * gamma[ch] + beta[ch]);
    }
    ops_err_print("batchnorm eval affine=True", &e);
    assert_true(e.max_abs < 1e-6);
    assert_close(x[1], 2.5, 1e-6);          /* (3 - 1) / 2 * 2 + 0.5 */

    /* BatchNorm1d on (N, C): inner = 1, the default eps 1e-5 */
    float y[2] = {4, 4};
    const float m1[2] = {0, 4}, v1[2] = {1, 1};
    itr_batchnorm_eval(y, 1, 2, 1, m1, v1, NULL, NULL, 1e-5f);
    assert_close(y[0], 4.0 / sqrt(1.0 + 1e-5), 1e-6);
    assert_close(y[1], 0.0, 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_softmax_last_axis),
        cmocka_unit_test(test_softmax_first_axis),
        cmocka_unit_test(test_softmax_middle_axis),
        cmocka_unit_test(test_batchnorm_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
