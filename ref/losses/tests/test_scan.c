/* test_scan.c - SCAN's cross-attention score matrix inside its
 * ContrastiveLoss: a hand-computable case, central differences of the
 * analytic backward for every direction / first norm / aggregation, the
 * float front end and the error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/losses.h"
#include "loss_test_util.h"

/* With one region the attention is 1, the attended vector is that region,
 * and t2i's score is the LogSumExp of the word-region cosines. */
static void test_single_region(void **state) {
    (void)state;
    itr_scan_params p;
    itr_scan_params_default(&p);
    double im[2] = {1.0, 0.0};                   /* B = 1, R = 1, d = 2 */
    double s[6] = {1.0, 1.0, 0.0, 2.0, 9.0, 9.0}; /* Lmax = 3, s_l = 2 (third row unused) */
    int64_t sl = 2;
    double S;
    assert_int_equal(itr_scan_scores_f64(&p, im, 1, s, &sl, 3, 1, 2, &S), ITR_OK);
    double c0 = 1.0 / sqrt(2.0), c1 = 0.0;
    double want = log(exp(6.0 * c0) + exp(6.0 * c1)) / 6.0;
    printf("  single region LSE %.15g (want %.15g)\n", S, want);
    assert_true(fabs(S - want) < 1e-12);
    p.agg = ITR_SCAN_AGG_MEAN;
    assert_int_equal(itr_scan_scores_f64(&p, im, 1, s, &sl, 3, 1, 2, &S), ITR_OK);
    assert_true(fabs(S - (c0 + c1) / 2.0) < 1e-12);
    p.agg = ITR_SCAN_AGG_MAX;
    assert_int_equal(itr_scan_scores_f64(&p, im, 1, s, &sl, 3, 1, 2, &S), ITR_OK);
    assert_true(fabs(S - c0) < 1e-12);
    p.agg = ITR_SCAN_AGG_SUM;
    assert_int_equal(itr_scan_scores_f64(&p, im, 1, s, &sl, 3, 1, 2, &S), ITR_OK);
    assert_true(fabs(S - (c0 + c1)) < 1e-12);
    /* words beyond s_l get no gradient */
    double dS = 1.0, gim[2], gs[6];
    assert_int_equal(itr_scan_scores_backward_f64(&p, im, 1, s, &sl, 3, 1, 2, &dS, gim, gs), ITR_OK);
    assert_true(gs[4] == 0.0 && gs[5] == 0.0);
}

typedef struct scan_ctx {
    itr_scan_params p;
    int64_t B, R, L, d;
    const int64_t *sl;
    double *im, *s;
    int which;               /* 0: vary im, 1: vary s */
} scan_ctx;

static double scan_value(const double *x, void *vctx) {
    scan_ctx *c = vctx;
    double S[16];
    itr_scan_scores_f64(&c->p, c->which == 0 ? x : c->im, c->R, c->which == 1 ? x : c->s, c->sl, c->L,
                        c->B, c->d, S);
    itr_hinge_result r;
    itr_hinge_loss_f64(S, c->B, 0.2, NULL, 0, &r, NULL, NULL, NULL);
    return r.loss;
}

static void test_fd_all_options(void **state) {
    (void)state;
    enum { B = 3, R = 4, L = 5, D = 3 };
    test_rng rng = {8080};
    double im[B * R * D], s[B * L * D], S[B * B], dS[B * B];
    double gim[B * R * D], gs[B * L * D], fd_im[B * R * D], fd_s[B * L * D];
    int64_t sl[B] = {5, 2, 3};
    rng_fill(&rng, im, B * R * D, -1, 1);
    rng_fill(&rng, s, B * L * D, -1, 1);
    for (int k = 0; k < B; k++)                 /* padding rows are 0, as upstream */
        for (int64_t t = sl[k]; t < L; t++) memset(s + (k * L + t) * D, 0, D * sizeof *s);
    for (int dir = 0; dir < 2; dir++) {
        for (int norm = 0; norm < 5; norm++) {
            for (int agg = 0; agg < 4; agg++) {
                scan_ctx c;
                itr_scan_params_default(&c.p);
                c.p.dir = (itr_scan_direction)dir;
                c.p.norm = (itr_scan_norm)norm;
                c.p.agg = (itr_scan_agg)agg;
                c.p.lambda_softmax = 4.0;
                c.p.lambda_lse = 5.0;
                c.B = B; c.R = R; c.L = L; c.d = D; c.sl = sl; c.im = im; c.s = s;
                assert_int_equal(itr_scan_scores_f64(&c.p, im, R, s, sl, L, B, D, S), ITR_OK);
                itr_hinge_result r;
                assert_int_equal(itr_hinge_loss_f64(S, B, 0.2, NULL, 0, &r, NULL, NULL, dS), ITR_OK);
                assert_int_equal(itr_scan_scores_backward_f64(&c.p, im, R, s, sl, L, B, D, dS, gim, gs),
                                 ITR_OK);
                c.which = 0;
                fd_gradient(scan_value, &c, im, B * R * D, 1e-6, fd_im);
                c.which = 1;
                fd_gradient(scan_value, &c, s, B * L * D, 1e-6, fd_s);
                char label[64];
                snprintf(label, sizeof label, "FD scan dir %d norm %d agg %d: im", dir, norm, agg);
                assert_true(compare_d(label, gim, fd_im, B * R * D, 1e-6, 1e-4));
                snprintf(label, sizeof label, "FD scan dir %d norm %d agg %d: s", dir, norm, agg);
                assert_true(compare_d(label, gs, fd_s, B * L * D, 1e-6, 1e-4));
            }
        }
    }
}

static void test_float_api(void **state) {
    (void)state;
    enum { B = 3, R = 3, L = 4, D = 2 };
    test_rng rng = {55};
    float im[B * R * D], s[B * L * D], S[B * B], dS[B * B], gim[B * R * D], gs[B * L * D];
    double imd[B * R * D], sd[B * L * D], Sd[B * B], dSd[B * B], gimd[B * R * D], gsd[B * L * D];
    int64_t sl[B] = {4, 4, 1};
    for (int i = 0; i < B * R * D; i++) imd[i] = im[i] = (float)rng_uniform(&rng, -1, 1);
    for (int i = 0; i < B * L * D; i++) sd[i] = s[i] = (float)rng_uniform(&rng, -1, 1);
    itr_scan_params p;
    itr_scan_params_default(&p);
    itr_hinge_result r, rd;
    assert_int_equal(itr_scan_loss(&p, im, R, s, sl, L, B, D, 0.2f, 1, &r, S, dS, gim, gs), ITR_OK);
    assert_int_equal(itr_scan_scores_f64(&p, imd, R, sd, sl, L, B, D, Sd), ITR_OK);
    assert_int_equal(itr_hinge_loss_f64(Sd, B, (double)0.2f, NULL, 1, &rd, NULL, NULL, dSd), ITR_OK);
    assert_int_equal(itr_scan_scores_backward_f64(&p, imd, R, sd, sl, L, B, D, dSd, gimd, gsd), ITR_OK);
    assert_true(fabs(r.loss - rd.loss) < 1e-6);
    assert_true(compare_f("float SCAN S", S, Sd, B * B, 1e-7, 1e-6));
    assert_true(compare_f("float SCAN dS", dS, dSd, B * B, 0, 0));
    assert_true(compare_f("float SCAN dL/dim", gim, gimd, B * R * D, 1e-7, 1e-6));
    assert_true(compare_f("float SCAN dL/ds", gs, gsd, B * L * D, 1e-7, 1e-6));
    assert_int_equal(itr_scan_loss(&p, im, R, s, sl, L, B, D, 0.2f, 0, NULL, NULL, NULL, NULL, gs), ITR_OK);
}

static void test_params_and_errors(void **state) {
    (void)state;
    itr_scan_params p;
    itr_scan_params_default(&p);
    assert_int_equal(itr_scan_params_parse(&p, "i2t", "softmax", "Mean"), ITR_OK);
    assert_true(p.dir == ITR_SCAN_I2T && p.norm == ITR_SCAN_NORM_SOFTMAX && p.agg == ITR_SCAN_AGG_MEAN);
    assert_int_equal(itr_scan_params_parse(&p, NULL, "no_norm", NULL), ITR_OK);
    assert_true(p.dir == ITR_SCAN_I2T && p.norm == ITR_SCAN_NORM_NONE && p.agg == ITR_SCAN_AGG_MEAN);
    assert_int_equal(itr_scan_params_parse(&p, "t2t", NULL, NULL), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_scan_params_parse(&p, NULL, "l1norm", NULL), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "QUIRK-S5"));
    assert_int_equal(itr_scan_params_parse(&p, NULL, NULL, "Median"), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_scan_params_parse(NULL, "t2i", NULL, NULL), ITR_E_ARG);

    itr_scan_params_default(&p);
    float im[8] = {0}, s[8] = {0}, S[4], g[8];
    double imd[8] = {0}, sd[8] = {0}, Sd[4], gd[8];
    int64_t sl[2] = {2, 3};
    assert_int_equal(itr_scan_scores(&p, im, 2, s, sl, 2, 2, 2, S), ITR_E_SHAPE);   /* 3 > Lmax */
    assert_non_null(strstr(itr_last_error(), "s_l[1] = 3"));
    sl[1] = 0;
    assert_int_equal(itr_scan_scores_f64(&p, imd, 2, sd, sl, 2, 2, 2, Sd), ITR_E_SHAPE);
    sl[1] = 1;
    assert_int_equal(itr_scan_scores(&p, im, 0, s, sl, 2, 2, 2, S), ITR_E_SHAPE);
    assert_int_equal(itr_scan_scores(&p, im, 2, s, sl, 2, 0, 2, S), ITR_E_SHAPE);
    assert_int_equal(itr_scan_scores(&p, im, 2, s, NULL, 2, 2, 2, S), ITR_E_ARG);
    assert_int_equal(itr_scan_scores(&p, im, 2, s, sl, 2, 2, 2, NULL), ITR_E_ARG);
    assert_int_equal(itr_scan_scores_f64(&p, imd, 2, sd, sl, 2, 2, 2, NULL), ITR_E_ARG);
    assert_int_equal(itr_scan_scores_backward(&p, im, 2, s, sl, 2, 2, 2, NULL, g, g), ITR_E_ARG);
    assert_int_equal(itr_scan_scores_backward(&p, im, 2, s, sl, 2, 2, 0, S, g, g), ITR_E_SHAPE);
    assert_int_equal(itr_scan_scores_backward_f64(&p, imd, 2, sd, sl, 2, 2, 2, NULL, gd, gd), ITR_E_ARG);
    assert_int_equal(itr_scan_scores_backward_f64(NULL, imd, 2, sd, sl, 2, 2, 2, Sd, gd, gd), ITR_E_ARG);
    assert_int_equal(itr_scan_loss(&p, im, 2, s, sl, 2, -2, 2, 0.2f, 1, NULL, NULL, NULL, NULL, NULL),
                     ITR_E_SHAPE);
    /* zero embeddings are legal: every cosine is 0 (clamped denominator) */
    assert_int_equal(itr_scan_scores(&p, im, 2, s, sl, 2, 2, 2, S), ITR_OK);
    assert_true(fabsf(S[0] - (float)(log(2.0) / 6.0)) < 1e-6f);
    float dS[4] = {1, 1, 1, 1};
    assert_int_equal(itr_scan_scores_backward(&p, im, 2, s, sl, 2, 2, 2, dS, g, NULL), ITR_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_region),
        cmocka_unit_test(test_fd_all_options),
        cmocka_unit_test(test_float_api),
        cmocka_unit_test(test_params_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
