/* test_vsl.c - VSL: the smooth rank operator, the visual semantic loss and
 * its gradient against specs/losses_vsl_lseh.md s2.10, central differences
 * in float64, the float32 saturation / tie behaviour and the error paths. */
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
static const double C0[16] = {1, .3, .1, .25, .3, 1, .4, .05, .1, .4, 1, .2, .25, .05, .2, 1};

static void test_spec_vectors_f64(void **state) {
    (void)state;
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    double Rs[16], Rc[16], g[16], loss;
    static const double want_rc[16] = {1, 2, 4, 3, 3, 1, 2, 4, 4, 2, 1, 3, 2, 4, 3, 1};
    const double u = 1.9999546, v = 2.9999546;
    const double want_rs[16] = {2, 3, 4, 1, 3, u, u, 4, 4, 1, v, v, v, 4, 2, 1};
    static const double want_g[16] = {-1.43165e-07, -2.86271e-07, 0, 4.29407e-07,
                                      1.46213e-11, -2.12796e-02, 1.41862e-02, 0,
                                      0, 7.09342e-03, -1.26100e-02, 1.57626e-02,
                                      -6.30516e-03, 0, 3.15301e-03, -4.29407e-07};
    assert_int_equal(itr_vsl_semantic_loss_f64(S0, C0, 4, &p, &loss, Rs, Rc, g), ITR_OK);
    assert_true(compare_d("R(C)", Rc, want_rc, 16, 1e-9, 0));
    assert_true(compare_d("R(S0)", Rs, want_rs, 16, 1e-7, 0));
    printf("  L_VS %.13f (spec 2.3958404261599)\n", loss);
    assert_true(fabs(loss - 2.3958404261599) < 1e-12);
    assert_true(compare_d("dL_VS/dS0", g, want_g, 16, 1e-16, 2e-5));
    double R2[16];
    assert_int_equal(itr_vsl_rank_matrix_f64(C0, 4, 0.001, 50.0, R2), ITR_OK);
    assert_true(memcmp(R2, Rc, sizeof R2) == 0);
}

static void test_spec_vectors_f32(void **state) {
    (void)state;
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    float S[16], C[16], Rs[16], g_lmh[16], g_vsl[16], g_tot[16];
    for (int i = 0; i < 16; i++) {
        S[i] = (float)S0[i];
        C[i] = (float)C0[i];
    }
    double loss;
    assert_int_equal(itr_vsl_semantic_loss(S, C, 4, &p, &loss, Rs, NULL, NULL), ITR_OK);
    printf("  float32 L_VS %.9g\n", loss);
    assert_true(fabs(loss - 2.3958404261599) < 2e-6);
    itr_vsl_result r;
    assert_int_equal(itr_vsl_loss(S, C, 4, &p, &r, g_lmh, g_vsl, g_tot), ITR_OK);
    printf("  float32 LMH %.9g VSL %.9g total %.9g (spec 1.69, 4.0858404261599)\n", r.lmh, r.vsl, r.total);
    assert_true(fabs(r.lmh - 1.69) < 1e-6);
    assert_true(fabs(r.total - 4.0858404261599) < 3e-6);
    static const double g_hard[16] = {-2, 0, 0, 1, 0, -2, 2, 0, 0, 2, -2, 1, 1, 0, 1, -2};
    assert_true(compare_f("float32 dLMH/dS", g_lmh, g_hard, 16, 0, 0));
    double sum[16], gv[16];
    for (int i = 0; i < 16; i++) {
        sum[i] = (double)g_lmh[i] + (double)g_vsl[i];
        gv[i] = g_vsl[i];
    }
    assert_true(compare_f("float32 total = lmh + vsl", g_tot, sum, 16, 1e-7, 1e-6));
    static const double want_g[16] = {-1.43165e-07, -2.86271e-07, 0, 4.29407e-07,
                                      1.46213e-11, -2.12796e-02, 1.41862e-02, 0,
                                      0, 7.09342e-03, -1.26100e-02, 1.57626e-02,
                                      -6.30516e-03, 0, 3.15301e-03, -4.29407e-07};
    assert_true(compare_d("float32 dL_VS/dS0", gv, want_g, 16, 1e-8, 1e-4));
    /* NULL outputs */
    assert_int_equal(itr_vsl_loss(S, C, 4, &p, NULL, NULL, NULL, NULL), ITR_OK);
}

/* In float32 phi saturates to exactly 1.0f: with every gap far beyond the
 * clamp, R(S) and R(C) are integers; equal ranks give q = 1 and G = 0. */
static void test_float_saturation_and_ties(void **state) {
    (void)state;
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    /* S = C (symmetric, gaps >= 0.1): Rs == Rc everywhere -> loss 0, gradient 0 */
    float C[9] = {1.0f, 0.5f, 0.2f, 0.5f, 1.0f, 0.3f, 0.2f, 0.3f, 1.0f}, Rs[9], Rc[9], g[9];
    double loss;
    assert_int_equal(itr_vsl_semantic_loss(C, C, 3, &p, &loss, Rs, Rc, g), ITR_OK);
    assert_true(loss == 0.0);
    for (int i = 0; i < 9; i++) {
        assert_true(Rs[i] == Rc[i] && Rs[i] == floorf(Rs[i]));
        assert_true(g[i] == 0.0f);
    }
    /* A gap inside the clamp keeps a tiny, nonzero gradient even where phi
     * rounds to 1.0f (dphi = phi^2 e / tau with e = exp(-20), not
     * phi (1 - phi) = 0). S[1,0] - S[0,0] = 0.02: Rs[0,0] = 1 + phi(0.02) = 2
     * exactly; C = I gives Rc[0,0] = 1, so G[0,0] = (10/4) * 1/4 and the only
     * term reaching dS[1,0] is G[0,0] * dphi(0.02). */
    float S2[4] = {0.5f, 0.0f, 0.52f, 0.9f}, I2[4] = {1, 0, 0, 1}, R2[4], g2[4];
    assert_int_equal(itr_vsl_semantic_loss(S2, I2, 2, &p, &loss, R2, NULL, g2), ITR_OK);
    assert_true(R2[0] == 2.0f);
    double gap = (double)(0.52f - 0.5f), e = exp(-gap / (double)0.001f);
    double want = 0.625 * e / (double)0.001f;
    printf("  dS[1,0] = %.9g (want %.9g)\n", g2[2], want);
    assert_true(g2[2] != 0.0f && fabs(g2[2] - want) < 1e-4 * want);
}

typedef struct vsl_fd_ctx { const double *C; int64_t B; itr_vsl_params p; } vsl_fd_ctx;

static double vsl_value(const double *S, void *vctx) {
    vsl_fd_ctx *c = vctx;
    double loss;
    itr_vsl_semantic_loss_f64(S, c->C, c->B, &c->p, &loss, NULL, NULL, NULL);
    return loss;
}

static void test_vsl_fd(void **state) {
    (void)state;
    enum { B = 5 };
    test_rng rng = {2024};
    double S[B * B], C[B * B], g[B * B], fd[B * B];
    rng_fill(&rng, S, B * B, 0.0, 1.0);
    for (int i = 0; i < B; i++)        /* a symmetric image-image matrix */
        for (int j = 0; j <= i; j++) C[i * B + j] = C[j * B + i] = i == j ? 0.9 : rng_uniform(&rng, 0, 0.8);
    vsl_fd_ctx c;
    c.C = C;
    c.B = B;
    itr_vsl_params_default(&c.p);
    /* a soft temperature exercises every term; then upstream's tau on inputs
     * spread so that several gaps fall inside the steep region */
    double taus[2] = {0.2, 0.001};
    for (int t = 0; t < 2; t++) {
        c.p.temperature = taus[t];
        if (t == 1) {
            for (int i = 0; i < B * B; i++) S[i] = 0.5 + 0.004 * (double)((i * 7) % 11) + 1e-4 * (double)i;
        }
        double loss;
        assert_int_equal(itr_vsl_semantic_loss_f64(S, C, B, &c.p, &loss, NULL, NULL, g), ITR_OK);
        fd_gradient(vsl_value, &c, S, B * B, t == 0 ? 1e-6 : 1e-8, fd);
        assert_true(compare_d(t == 0 ? "FD VSL tau=0.2" : "FD VSL tau=0.001", g, fd, B * B, 1e-6, 1e-4));
    }
    /* the exponent clamp switches the gradient off: clamp 1 with tau 0.2 cuts
     * every |gap| > 0.2 */
    c.p.temperature = 0.2;
    c.p.exponent_clamp = 1.0;
    double loss;
    rng_fill(&rng, S, B * B, 0.0, 1.0);
    assert_int_equal(itr_vsl_semantic_loss_f64(S, C, B, &c.p, &loss, NULL, NULL, g), ITR_OK);
    fd_gradient(vsl_value, &c, S, B * B, 1e-7, fd);
    assert_true(compare_d("FD VSL clamp=1", g, fd, B * B, 1e-6, 1e-4));
}

static void test_batch_one(void **state) {
    (void)state;
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    float S = 0.4f, C = 0.9f, g;
    double loss;
    /* B = 1: the only i equals k and is masked: R = 1 for both -> loss 0 */
    assert_int_equal(itr_vsl_semantic_loss(&S, &C, 1, &p, &loss, NULL, NULL, &g), ITR_OK);
    assert_true(loss == 0.0 && g == 0.0f);
}

static void test_errors(void **state) {
    (void)state;
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    float S[4] = {0}, R[4];
    double Sd[4] = {0}, Rd[4], loss;
    assert_int_equal(itr_vsl_semantic_loss(S, S, 0, &p, &loss, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_semantic_loss(S, NULL, 2, &p, &loss, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_vsl_semantic_loss(S, S, 2, NULL, &loss, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_vsl_semantic_loss_f64(Sd, Sd, 0, &p, &loss, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_semantic_loss_f64(NULL, Sd, 2, &p, &loss, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_vsl_loss(S, S, -1, &p, NULL, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_loss(S, S, 2, NULL, NULL, NULL, NULL, NULL), ITR_E_ARG);
    p.temperature = 0.0;
    assert_int_equal(itr_vsl_semantic_loss(S, S, 2, &p, &loss, NULL, NULL, NULL), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "temperature"));
    assert_int_equal(itr_vsl_semantic_loss_f64(Sd, Sd, 2, &p, &loss, NULL, NULL, NULL), ITR_E_ARG);
    p.temperature = 0.001;
    p.exponent_clamp = -1.0;
    assert_int_equal(itr_vsl_loss(S, S, 2, &p, NULL, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_vsl_rank_matrix(S, 2, 0.0, 50.0, R), ITR_E_ARG);
    assert_int_equal(itr_vsl_rank_matrix(S, 0, 0.001, 50.0, R), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_rank_matrix(NULL, 2, 0.001, 50.0, R), ITR_E_ARG);
    assert_int_equal(itr_vsl_rank_matrix_f64(Sd, 2, 0.001, 0.0, Rd), ITR_E_ARG);
    assert_int_equal(itr_vsl_rank_matrix_f64(Sd, 0, 0.001, 50.0, Rd), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_rank_matrix_f64(Sd, 2, 0.001, 50.0, NULL), ITR_E_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors_f64),
        cmocka_unit_test(test_spec_vectors_f32),
        cmocka_unit_test(test_float_saturation_and_ties),
        cmocka_unit_test(test_vsl_fd),
        cmocka_unit_test(test_batch_one),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
