/* test_lmh.c - the hinge family: LMH (sum / hardest), per-pair margins,
 * score matrices from embeddings (cosine, order), VSE-infinity's warm-up
 * switch, and the tensor shape checks. Expected values: spec
 * losses_vsl_lseh.md s2.10 and hand computations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/losses.h"
#include "loss_test_util.h"

/* Spec s2.10 common score matrix. */
static const double S0[16] = {0.50, 0.48, 0.30, 0.52, 0.47, 0.60, 0.59, 0.10,
                              0.20, 0.61, 0.55, 0.54, 0.53, 0.05, 0.56, 0.58};

static void test_spec_vectors_f64(void **state) {
    (void)state;
    itr_hinge_result r;
    double g[16], cs[16], ci[16];
    static const double g_hard[16] = {-2, 0, 0, 1, 0, -2, 2, 0, 0, 2, -2, 1, 1, 0, 1, -2};
    static const double g_sum[16] = {-5, 2, 1, 2, 2, -4, 2, 0, 0, 2, -4, 2, 2, 0, 2, -4};
    assert_int_equal(itr_hinge_loss_f64(S0, 4, 0.2, NULL, 1, &r, cs, ci, g), ITR_OK);
    printf("  hardest LMH %.15g (spec 1.69)\n", r.loss);
    assert_true(fabs(r.loss - 1.69) < 1e-12);
    assert_true(fabs(r.loss - (r.loss_s + r.loss_im)) < 1e-15);
    assert_true(compare_d("hardest dS", g, g_hard, 16, 0, 0));
    /* per-row maxima: row 0 hardest is caption 3 (0.2 + 0.52 - 0.5) */
    assert_true(fabs(cs[0] - 0.22) < 1e-12);
    assert_int_equal(itr_hinge_loss_f64(S0, 4, 0.2, NULL, 0, &r, cs, ci, g), ITR_OK);
    printf("  sum LMH %.15g (spec 2.88)\n", r.loss);
    assert_true(fabs(r.loss - 2.88) < 1e-12);
    assert_true(compare_d("sum dS", g, g_sum, 16, 0, 0));
    /* the cost matrices have a zero diagonal and the hinge elsewhere */
    for (int i = 0; i < 4; i++) {
        assert_true(cs[i * 5] == 0.0 && ci[i * 5] == 0.0);
        for (int j = 0; j < 4; j++) {
            double u = 0.2 + S0[i * 4 + j] - S0[i * 5];
            if (i != j) assert_true(fabs(cs[i * 4 + j] - (u > 0 ? u : 0)) < 1e-15);
        }
    }
}

static void test_spec_vectors_f32(void **state) {
    (void)state;
    float S[16], g[16], cs[4], ci[4];
    for (int i = 0; i < 16; i++) S[i] = (float)S0[i];
    itr_hinge_result r;
    assert_int_equal(itr_lmh_loss(S, 4, 0.2f, 1, &r, cs, ci, g), ITR_OK);
    printf("  float32 hardest LMH %.9g\n", r.loss);
    assert_true(fabs(r.loss - 1.69) < 1e-6);
    assert_true((double)(float)r.loss == r.loss);   /* a float32 value */
    static const double g_hard[16] = {-2, 0, 0, 1, 0, -2, 2, 0, 0, 2, -2, 1, 1, 0, 1, -2};
    assert_true(compare_f("float32 hardest dS", g, g_hard, 16, 0, 0));
    /* NULL outputs are allowed */
    assert_int_equal(itr_lmh_loss(S, 4, 0.2f, 0, NULL, NULL, NULL, NULL), ITR_OK);
}

/* Ties: every hinge 0 in a row -> max picks index 0. For row 0 that is the
 * masked diagonal (no gradient); for row 1 it is j = 0 and u = 0 exactly,
 * which autograd's clamp passes (gradient +1 / -1). */
static void test_ties_and_clamp_at_zero(void **state) {
    (void)state;
    /* margin 0; S[1,0] == S[1,1] so u_s[1,0] = 0 exactly; all else < 0 */
    double S[9] = {1.0, -5.0, -5.0,
                   0.5, 0.5, -5.0,
                   -5.0, -5.0, 1.0};
    double g[9];
    itr_hinge_result r;
    assert_int_equal(itr_hinge_loss_f64(S, 3, 0.0, NULL, 1, &r, NULL, NULL, g), ITR_OK);
    assert_true(r.loss == 0.0);
    /* row 1: first max of (0, 0, 0) is j = 0, u_s[1,0] = 0 -> dS[1,0] += 1, dS[1,1] -= 1.
     * column 0: h_im[i,0] = [S[i,0] - S[0,0]]_+: all 0, first max i = 0 = diagonal -> nothing.
     * column 1: u_im[i,1] = S[i,1] - S[1,1]: i=0: -5.5, i=2: -5.5 -> h all 0, first max
     *           i = 0 with u < 0 -> nothing. */
    static const double want[9] = {0, 0, 0, 1, -1, 0, 0, 0, 0};
    assert_true(compare_d("tie dS (hardest)", g, want, 9, 0, 0));
    /* the sum variant passes every u >= 0 entry: only (1,0) for cost_s; for cost_im
     * u_im[1,0] = S[1,0] - S[0,0] = -0.5 */
    assert_int_equal(itr_hinge_loss_f64(S, 3, 0.0, NULL, 0, &r, NULL, NULL, g), ITR_OK);
    assert_true(compare_d("tie dS (sum)", g, want, 9, 0, 0));
    /* two equal maxima: the first index wins */
    double T[9] = {0.0, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    assert_int_equal(itr_hinge_loss_f64(T, 3, 0.1, NULL, 1, &r, NULL, NULL, g), ITR_OK);
    /* row 0 picks caption 1 (first of the tie); columns 1 and 2 pick image 0 */
    assert_true(g[1] == 2.0 && g[2] == 1.0);
}

static void test_small_batches(void **state) {
    (void)state;
    itr_hinge_result r;
    double one = 0.7, g1;
    assert_int_equal(itr_hinge_loss_f64(&one, 1, 0.2, NULL, 1, &r, NULL, NULL, &g1), ITR_OK);
    assert_true(r.loss == 0.0 && g1 == 0.0);               /* no negatives at all */
    assert_int_equal(itr_hinge_loss_f64(&one, 1, 0.2, NULL, 0, &r, NULL, NULL, &g1), ITR_OK);
    assert_true(r.loss == 0.0 && g1 == 0.0);
    /* B = 2 by hand: S = [[0.9, 0.8], [0.1, 0.6]], margin 0.2
     * cost_s: (0,1) 0.2+0.8-0.9 = 0.1; (1,0) 0.2+0.1-0.6 < 0
     * cost_im: (0,1) 0.2+0.8-0.6 = 0.4; (1,0) 0.2+0.1-0.9 < 0 -> L = 0.5 */
    double S[4] = {0.9, 0.8, 0.1, 0.6}, g[4];
    assert_int_equal(itr_hinge_loss_f64(S, 2, 0.2, NULL, 1, &r, NULL, NULL, g), ITR_OK);
    assert_true(fabs(r.loss - 0.5) < 1e-12 && fabs(r.loss_s - 0.1) < 1e-12);
    static const double want[4] = {-1, 2, 0, -1};
    assert_true(compare_d("B=2 dS", g, want, 4, 0, 0));
}

static void test_per_pair_margins(void **state) {
    (void)state;
    /* margins matrix replaces the scalar; here M = 0.2 everywhere but (0,3) */
    double M[16], g[16], g2[16];
    for (int i = 0; i < 16; i++) M[i] = 0.2;
    itr_hinge_result a, b;
    assert_int_equal(itr_hinge_loss_f64(S0, 4, 0.2, NULL, 0, &a, NULL, NULL, g), ITR_OK);
    assert_int_equal(itr_hinge_loss_f64(S0, 4, 99.0, M, 0, &b, NULL, NULL, g2), ITR_OK);
    assert_true(a.loss == b.loss);
    M[3] = 0.0;  /* pair (0,3): cost_s 0.02 (was 0.22), cost_im 0.52-0.58 < 0 */
    assert_int_equal(itr_hinge_loss_f64(S0, 4, 0.2, M, 0, &b, NULL, NULL, g2), ITR_OK);
    printf("  margins: %.12g vs %.12g\n", a.loss, b.loss);
    assert_true(fabs((a.loss - b.loss) - (0.22 - 0.02 + 0.14 - 0.0)) < 1e-12);
}

/* ---- finite differences --------------------------------------------------- */

typedef struct hinge_ctx { int64_t B; int hardest; const double *M; } hinge_ctx;

static double hinge_value(const double *S, void *vctx) {
    hinge_ctx *c = vctx;
    itr_hinge_result r;
    itr_hinge_loss_f64(S, c->B, 0.2, c->M, c->hardest, &r, NULL, NULL, NULL);
    return r.loss;
}

static void test_hinge_fd(void **state) {
    (void)state;
    test_rng rng = {12345};
    enum { B = 6 };
    double S[B * B], g[B * B], fd[B * B], M[B * B];
    rng_fill(&rng, S, B * B, -0.5, 0.5);
    rng_fill(&rng, M, B * B, 0.0, 0.3);
    for (int hardest = 0; hardest < 2; hardest++) {
        for (int with_m = 0; with_m < 2; with_m++) {
            hinge_ctx c = {B, hardest, with_m ? M : NULL};
            itr_hinge_result r;
            assert_int_equal(itr_hinge_loss_f64(S, B, 0.2, c.M, hardest, &r, NULL, NULL, g), ITR_OK);
            fd_gradient(hinge_value, &c, S, B * B, 1e-7, fd);
            char label[64];
            snprintf(label, sizeof label, "FD hinge %s, %s margins", hardest ? "hardest" : "sum",
                     with_m ? "per-pair" : "scalar");
            assert_true(compare_d(label, g, fd, B * B, 1e-6, 1e-6));
        }
    }
}

typedef struct embed_ctx {
    itr_measure m;
    int64_t B, d;
    int hardest, which;     /* which: 0 -> vary im, 1 -> vary s */
    double *im, *s;
} embed_ctx;

static double embed_value(const double *x, void *vctx) {
    embed_ctx *c = vctx;
    double S[64];
    const double *im = c->which == 0 ? x : c->im, *s = c->which == 1 ? x : c->s;
    itr_loss_scores_f64(c->m, im, s, c->B, c->d, S);
    itr_hinge_result r;
    itr_hinge_loss_f64(S, c->B, 0.2, NULL, c->hardest, &r, NULL, NULL, NULL);
    return r.loss;
}

static void test_embedding_fd(void **state) {
    (void)state;
    test_rng rng = {777};
    enum { B = 5, D = 4 };
    double im[B * D], s[B * D], S[B * B], dS[B * B], gim[B * D], gs[B * D], fd[B * D];
    for (int m = 0; m < 2; m++) {
        rng_fill(&rng, im, B * D, -0.6, 0.6);
        rng_fill(&rng, s, B * D, -0.6, 0.6);
        for (int hardest = 0; hardest < 2; hardest++) {
            embed_ctx c = {(itr_measure)m, B, D, hardest, 0, im, s};
            assert_int_equal(itr_loss_scores_f64(c.m, im, s, B, D, S), ITR_OK);
            itr_hinge_result r;
            assert_int_equal(itr_hinge_loss_f64(S, B, 0.2, NULL, hardest, &r, NULL, NULL, dS), ITR_OK);
            assert_int_equal(itr_loss_scores_backward_f64(c.m, im, s, B, D, dS, gim, gs), ITR_OK);
            c.which = 0;
            fd_gradient(embed_value, &c, im, B * D, 1e-7, fd);
            assert_true(compare_d(m ? "FD order dL/dim" : "FD cosine dL/dim", gim, fd, B * D, 1e-6, 1e-5));
            c.which = 1;
            fd_gradient(embed_value, &c, s, B * D, 1e-7, fd);
            assert_true(compare_d(m ? "FD order dL/ds" : "FD cosine dL/ds", gs, fd, B * D, 1e-6, 1e-5));
        }
    }
}

/* Order similarity by hand, and the float front ends against the f64 ones. */
static void test_order_and_float_api(void **state) {
    (void)state;
    /* im = (1, 0), s = (2, 3): max(0, s - im) = (1, 3) -> -sqrt(10) */
    double im[2] = {1.0, 0.0}, s[2] = {2.0, 3.0}, S;
    assert_int_equal(itr_loss_scores_f64(ITR_MEASURE_ORDER, im, s, 1, 2, &S), ITR_OK);
    assert_true(fabs(S + sqrt(10.0)) < 1e-15);
    /* QUIRK(vsepp-order-sqrt): a dominated pair (s <= im everywhere) has norm 0;
     * coordinates where s == im get NaN, the strictly smaller ones 0 */
    double s2[2] = {0.5, 0.0}, dS = 1.0, gi[2], gs[2];
    assert_int_equal(itr_loss_scores_backward_f64(ITR_MEASURE_ORDER, im, s2, 1, 2, &dS, gi, gs), ITR_OK);
    assert_true(gi[0] == 0.0 && gs[0] == 0.0 && isnan(gi[1]) && isnan(gs[1]));

    test_rng rng = {99};
    enum { B = 4, D = 3 };
    float fim[B * D], fs[B * D], fS[B * B], fdS[B * B], fgim[B * D], fgs[B * D];
    double dim_[B * D], ds_[B * D], dS_[B * B], dgim[B * D], dgs[B * D], dSd[B * B];
    for (int i = 0; i < B * D; i++) {
        fim[i] = (float)rng_uniform(&rng, -1, 1);
        fs[i] = (float)rng_uniform(&rng, -1, 1);
        dim_[i] = fim[i];
        ds_[i] = fs[i];
    }
    for (int m = 0; m < 2; m++) {
        itr_hinge_result rf, rd;
        assert_int_equal(itr_lmh_embed_loss((itr_measure)m, fim, fs, B, D, 0.2f, 0, &rf, fS, fdS, fgim, fgs),
                         ITR_OK);
        assert_int_equal(itr_loss_scores_f64((itr_measure)m, dim_, ds_, B, D, dS_), ITR_OK);
        assert_int_equal(itr_hinge_loss_f64(dS_, B, (double)0.2f, NULL, 0, &rd, NULL, NULL, dSd), ITR_OK);
        assert_int_equal(itr_loss_scores_backward_f64((itr_measure)m, dim_, ds_, B, D, dSd, dgim, dgs), ITR_OK);
        printf("  measure %d: float loss %.9g, double %.12g\n", m, rf.loss, rd.loss);
        assert_true(fabs(rf.loss - rd.loss) < 1e-5);
        assert_true(compare_f("float S vs double", fS, dS_, B * B, 1e-6, 1e-6));
        assert_true(compare_f("float dL/dim vs double", fgim, dgim, B * D, 1e-5, 1e-5));
        assert_true(compare_f("float dL/ds vs double", fgs, dgs, B * D, 1e-5, 1e-5));
    }
    /* VSE-infinity: cosine LMH with the warm-up switch */
    assert_int_equal(itr_vseinf_use_hardest(0, 1), 0);
    assert_int_equal(itr_vseinf_use_hardest(1, 1), 1);
    assert_int_equal(itr_vseinf_use_hardest(0, 0), 1);
    itr_hinge_result a, b;
    assert_int_equal(itr_vseinf_loss(fim, fs, B, D, 0.2f, 1, &a, NULL, NULL, NULL, NULL), ITR_OK);
    assert_int_equal(itr_lmh_embed_loss(ITR_MEASURE_COSINE, fim, fs, B, D, 0.2f, 1, &b, NULL, NULL, NULL, NULL),
                     ITR_OK);
    assert_true(a.loss == b.loss);
}

static void test_errors(void **state) {
    (void)state;
    double S[4] = {0}, g[4];
    float fS[4] = {0};
    itr_hinge_result r;
    assert_int_equal(itr_hinge_loss_f64(S, 0, 0.2, NULL, 1, &r, NULL, NULL, g), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "batch size 0"));
    assert_int_equal(itr_hinge_loss_f64(NULL, 2, 0.2, NULL, 1, &r, NULL, NULL, g), ITR_E_ARG);
    assert_int_equal(itr_hinge_loss(fS, -1, 0.2f, NULL, 1, &r, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_hinge_loss(NULL, 2, 0.2f, NULL, 1, &r, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_hinge_loss(fS, (int64_t)1 << 20, 0.2f, NULL, 1, &r, NULL, NULL, NULL), ITR_E_LIMIT);
    assert_int_equal(itr_loss_scores(ITR_MEASURE_COSINE, fS, fS, 2, 0, fS), ITR_E_SHAPE);
    assert_int_equal(itr_loss_scores(ITR_MEASURE_COSINE, NULL, fS, 2, 2, fS), ITR_E_ARG);
    assert_int_equal(itr_loss_scores(ITR_MEASURE_COSINE, fS, fS, 2, 2, NULL), ITR_E_ARG);
    assert_int_equal(itr_loss_scores_f64(ITR_MEASURE_COSINE, S, S, 2, 2, NULL), ITR_E_ARG);
    assert_int_equal(itr_loss_scores_backward(ITR_MEASURE_COSINE, fS, fS, 2, 2, NULL, fS, fS), ITR_E_ARG);
    assert_int_equal(itr_loss_scores_backward(ITR_MEASURE_COSINE, fS, fS, 0, 2, fS, fS, fS), ITR_E_SHAPE);
    assert_int_equal(itr_loss_scores_backward_f64(ITR_MEASURE_COSINE, S, S, 2, 2, NULL, g, g), ITR_E_ARG);
    assert_int_equal(itr_lmh_embed_loss(ITR_MEASURE_COSINE, fS, fS, 0, 2, 0.2f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_SHAPE);
    assert_int_equal(itr_lmh_embed_loss(ITR_MEASURE_COSINE, fS, fS, 2, 0, 0.2f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_SHAPE);
    itr_measure m;
    assert_int_equal(itr_measure_from_name("order", &m), ITR_OK);
    assert_int_equal(m, ITR_MEASURE_ORDER);
    assert_int_equal(itr_measure_from_name("", &m), ITR_OK);
    assert_int_equal(m, ITR_MEASURE_COSINE);
    assert_int_equal(itr_measure_from_name("dot", &m), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_measure_from_name(NULL, &m), ITR_E_ARG);
}

static void test_tensor_checks(void **state) {
    (void)state;
    itr_tensor S, a, b;
    int64_t B = -1, d = -1;
    assert_int_equal(itr_tensor_alloc_f32(&S, 2, 3, 4, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_scores(&S, "case.h5: /inputs/sims", &B), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "case.h5: /inputs/sims"));
    assert_non_null(strstr(itr_last_error(), "(3, 4)"));
    itr_tensor_free(&S);
    assert_int_equal(itr_tensor_alloc_f32(&S, 2, 3, 3, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_scores(&S, "x", &B), ITR_OK);
    assert_int_equal(B, 3);
    itr_tensor_free(&S);
    assert_int_equal(itr_tensor_alloc_f32(&S, 2, 0, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_scores(&S, "x", &B), ITR_E_SHAPE);
    itr_tensor_free(&S);
    assert_int_equal(itr_tensor_alloc_f32(&S, 1, 4, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_scores(&S, "x", &B), ITR_E_SHAPE);
    assert_int_equal(itr_loss_check_scores(NULL, "x", &B), ITR_E_ARG);
    itr_tensor_free(&S);

    assert_int_equal(itr_tensor_alloc_f32(&a, 2, 4, 8, 0, 0), ITR_OK);
    assert_int_equal(itr_tensor_alloc_f32(&b, 2, 4, 7, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_embeddings(&a, &b, "x", &B, &d), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "(4, 7)"));
    itr_tensor_free(&b);
    assert_int_equal(itr_tensor_alloc_f32(&b, 2, 4, 8, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_embeddings(&a, &b, "x", &B, &d), ITR_OK);
    assert_true(B == 4 && d == 8);
    assert_int_equal(itr_loss_check_embeddings(&a, NULL, "x", &B, &d), ITR_E_ARG);
    itr_tensor_free(&a);
    itr_tensor_free(&b);
    assert_int_equal(itr_tensor_alloc_f32(&a, 2, 4, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_tensor_alloc_f32(&b, 2, 4, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_embeddings(&a, &b, "x", &B, &d), ITR_E_SHAPE);
    itr_tensor_free(&a);
    itr_tensor_free(&b);
    assert_int_equal(itr_tensor_alloc_f32(&a, 2, 0, 3, 0, 0), ITR_OK);
    assert_int_equal(itr_tensor_alloc_f32(&b, 2, 0, 3, 0, 0), ITR_OK);
    assert_int_equal(itr_loss_check_embeddings(&a, &b, "x", &B, &d), ITR_E_SHAPE);
    itr_tensor_free(&a);
    itr_tensor_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors_f64),
        cmocka_unit_test(test_spec_vectors_f32),
        cmocka_unit_test(test_ties_and_clamp_at_zero),
        cmocka_unit_test(test_small_batches),
        cmocka_unit_test(test_per_pair_margins),
        cmocka_unit_test(test_hinge_fd),
        cmocka_unit_test(test_embedding_fd),
        cmocka_unit_test(test_order_and_float_api),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tensor_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
