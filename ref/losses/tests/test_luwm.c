/* test_luwm.c - LUWM (polynomial universal weighting) against the worked
 * vector of specs/losses_vsl_lseh.md s2.10, hand-made edge cases (no active
 * query, the upstream crash, the low-negative quirk, ties) and central
 * differences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/losses.h"
#include "loss_test_util.h"

static const double S0[16] = {0.50, 0.48, 0.30, 0.52, 0.47, 0.60, 0.59, 0.10,
                              0.20, 0.61, 0.55, 0.54, 0.53, 0.05, 0.56, 0.58};

static void test_spec_vector(void **state) {
    (void)state;
    itr_luwm_params p;
    itr_luwm_params_default(&p);
    p.margin = 0.2;
    static const double want_g[16] = {-0.25, 0, 0, 0.134, 0, -0.23, 0.331, 0,
                                      0, 0.349, -0.24, 0.143, 0.1385, 0, 0.152, -0.234};
    double loss, g[16];
    int64_t active;
    assert_int_equal(itr_luwm_loss_f64(S0, 4, &p, &loss, &active, g), ITR_OK);
    printf("  LUWM %.10g (spec 0.5336925), %lld active queries\n", loss, (long long)active);
    assert_true(fabs(loss - 0.5336925) < 1e-7);
    assert_int_equal(active, 8);
    assert_true(compare_d("LUWM dS (f64)", g, want_g, 16, 1e-12, 1e-9));
    float S[16], gf[16];
    for (int i = 0; i < 16; i++) S[i] = (float)S0[i];
    assert_int_equal(itr_luwm_loss(S, 4, &p, &loss, &active, gf), ITR_OK);
    printf("  float32 LUWM %.9g\n", loss);
    assert_true(fabs(loss - 0.5336925) < 1e-6);
    assert_true(compare_f("LUWM dS (f32)", gf, want_g, 16, 1e-6, 1e-5));
    assert_int_equal(itr_luwm_loss(S, 4, &p, NULL, NULL, NULL), ITR_OK);
}

static void test_edge_cases(void **state) {
    (void)state;
    itr_luwm_params p;
    itr_luwm_params_default(&p);
    assert_true(fabs(p.margin - 0.07) < 1e-15 && fabs(p.epsilon - 1e-5) < 1e-20);
    double loss = -1, g[4];
    int64_t active = -1;
    /* no negative within the margin of its positive: nothing active, 0 */
    double easy[4] = {0.9, 0.1, 0.2, 0.8};
    assert_int_equal(itr_luwm_loss_f64(easy, 2, &p, &loss, &active, g), ITR_OK);
    assert_true(loss == 0.0 && active == 0 && g[0] == 0.0 && g[1] == 0.0);
    /* B = 1: no negatives at all */
    double one = 0.3, g1;
    assert_int_equal(itr_luwm_loss_f64(&one, 1, &p, &loss, &active, &g1), ITR_OK);
    assert_true(loss == 0.0 && active == 0);
    /* a positive >= 1 - eps: upstream's min() of an empty list raises */
    double sat[4] = {1.0, 0.1, 0.2, 0.5};
    assert_int_equal(itr_luwm_loss_f64(sat, 2, &p, &loss, &active, g), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "1 - epsilon"));
    /* QUIRK(LUWM-low-negatives): negatives below 0.0955 get Q(n) > 0 with
     * dQ/dn = 1.8 n - 0.4 < 0, i.e. gradient descent pushes them up.
     * B = 2, S = [[0.05, 0.0], [0.0, 0.05]], margin 0.07: row 0 has n = 0.0 */
    double low[4] = {0.05, 0.0, 0.0, 0.05};
    assert_int_equal(itr_luwm_loss_f64(low, 2, &p, &loss, &active, g), ITR_OK);
    double P = 0.2 * 0.05 * 0.05 - 0.7 * 0.05 + 0.5, Q = 0.03;
    printf("  low negatives: loss %.12g (want %.12g), dS[0,1] = %.6g\n", loss, 4 * (P + Q) / 2, g[1]);
    assert_int_equal(active, 4);
    assert_true(fabs(loss - 4.0 * (P + Q) / 2.0) < 1e-12);
    assert_true(fabs(g[1] - 2.0 * (-0.4) / 2.0) < 1e-12);   /* row 0 and column 1 queries */
    assert_true(g[1] < 0.0);
    /* a negative in the dead zone [0.0955, 0.3489] contributes only P */
    double mid[4] = {0.25, 0.2, 0.2, 0.25};
    assert_int_equal(itr_luwm_loss_f64(mid, 2, &p, &loss, &active, g), ITR_OK);
    double P2 = 0.2 * 0.0625 - 0.7 * 0.25 + 0.5;
    assert_true(fabs(loss - 4.0 * P2 / 2.0) < 1e-12 && g[1] == 0.0);
    /* ties: the first maximal negative takes the gradient */
    double tie[9] = {0.5, 0.45, 0.45, 0.0, 0.9, 0.0, 0.0, 0.0, 0.9};
    double g9[9];
    assert_int_equal(itr_luwm_loss_f64(tie, 3, &p, &loss, &active, g9), ITR_OK);
    assert_true(g9[1] != 0.0 && g9[2] == 0.0);
}

typedef struct luwm_ctx { int64_t B; itr_luwm_params p; } luwm_ctx;

static double luwm_value(const double *S, void *vctx) {
    luwm_ctx *c = vctx;
    double loss;
    itr_luwm_loss_f64(S, c->B, &c->p, &loss, NULL, NULL);
    return loss;
}

static void test_fd(void **state) {
    (void)state;
    enum { B = 6 };
    test_rng rng = {31337};
    double S[B * B], g[B * B], fd[B * B];
    luwm_ctx c;
    c.B = B;
    itr_luwm_params_default(&c.p);
    c.p.margin = 0.3;
    rng_fill(&rng, S, B * B, 0.0, 0.9);
    double loss;
    int64_t active;
    assert_int_equal(itr_luwm_loss_f64(S, B, &c.p, &loss, &active, g), ITR_OK);
    printf("  random: loss %.9g with %lld active queries\n", loss, (long long)active);
    assert_true(active > 0);
    fd_gradient(luwm_value, &c, S, B * B, 1e-7, fd);
    assert_true(compare_d("FD LUWM", g, fd, B * B, 1e-6, 1e-5));
}

static void test_errors(void **state) {
    (void)state;
    itr_luwm_params p;
    itr_luwm_params_default(&p);
    double S[4] = {0}, loss;
    float fS[4] = {0};
    assert_int_equal(itr_luwm_loss_f64(S, 0, &p, &loss, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_luwm_loss_f64(NULL, 2, &p, &loss, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_luwm_loss_f64(S, 2, NULL, &loss, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_luwm_loss(fS, 0, &p, &loss, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_luwm_loss(NULL, 2, &p, &loss, NULL, NULL), ITR_E_ARG);
    fS[0] = 1.0f;
    assert_int_equal(itr_luwm_loss(fS, 2, &p, &loss, NULL, NULL), ITR_E_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vector),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
