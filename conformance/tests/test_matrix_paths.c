/* test_matrix_paths.c - the batched similarity matrices of the reference
 * (itr_sgraf_sims, itr_scan_sims_f64) against their literal one-pair forms
 * (itr_sgraf_pair_score, itr_scan_pair_f64), on shapes that cross every tile
 * and image-group boundary: 6 images (groups of 4), 70 captions (blocks of
 * 64), lengths 1..T mixed, the words packed densely. The models are the
 * fixture checkpoints (real weights, small sizes); the embeddings are random
 * unit rows. This pins the folded SGR edges (W_q^T W_k), the packed words and
 * SCAN's Gram-matrix cosines to the equations as written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "itr/checkpoint.h"
#include "itr/models/scan.h"
#include "itr/models/sgraf.h"

enum { N_IMG = 6, N_CAP = 70, T = 5 };

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) {   /* xorshift64, in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 4503599627370496.0 - 1.0;
}

/* n rows of d floats, each of unit L2 norm. */
static void unit_rows(float *x, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        double ss = 0;
        for (int64_t k = 0; k < d; k++) {
            x[r * d + k] = (float)urand();
            ss += (double)x[r * d + k] * x[r * d + k];
        }
        for (int64_t k = 0; k < d; k++) x[r * d + k] = (float)(x[r * d + k] / sqrt(ss));
    }
}

/* Captions (N_CAP, T, d): lengths cycle through 1..T (caption 0 has length
 * 1), rows beyond a caption's length are 0 as the encoders leave them. */
static void captions(float *cap, int64_t *len, int64_t d) {
    unit_rows(cap, N_CAP * T, d);
    for (int64_t j = 0; j < N_CAP; j++) {
        len[j] = 1 + (j * 3) % T;
        for (int64_t t = len[j]; t < T; t++)
            for (int64_t k = 0; k < d; k++) cap[(j * T + t) * d + k] = 0.0f;
    }
}

static void sgraf_case(const char *ckpt_path) {
    itr_checkpoint *ck = NULL;
    itr_sgraf m;
    assert_int_equal(itr_checkpoint_load(ckpt_path, &ck), ITR_OK);
    assert_int_equal(itr_sgraf_load(&m, &ck->opt, &ck->weights), ITR_OK);
    int64_t R = m.cfg.n_regions, D = m.cfg.embed_size;
    float *img = malloc((size_t)(N_IMG * R * D) * sizeof *img);
    float *cap = malloc((size_t)(N_CAP * T * D) * sizeof *cap);
    float *vg = malloc((size_t)(N_IMG * D) * sizeof *vg), *tg = malloc((size_t)(N_CAP * D) * sizeof *tg);
    double *sims = malloc((size_t)(N_IMG * N_CAP) * sizeof *sims);
    float *scratch = malloc((size_t)itr_sgraf_pair_scratch(&m, T) * sizeof *scratch);
    int64_t len[N_CAP];
    assert_non_null(img && cap && vg && tg && sims && scratch);
    unit_rows(img, N_IMG * R, D);
    captions(cap, len, D);
    assert_int_equal(itr_sgraf_sims(&m, img, N_IMG, cap, len, N_CAP, T, sims, vg, tg), ITR_OK);
    double worst = 0.0;
    for (int64_t i = 0; i < N_IMG; i++)
        for (int64_t j = 0; j < N_CAP; j++) {
            float want = itr_sgraf_pair_score(&m, img + i * R * D, vg + i * D, cap + j * T * D, len[j], tg + j * D,
                                              scratch);
            double err = fabs(sims[i * N_CAP + j] - (double)want);
            worst = err > worst ? err : worst;
        }
    printf("  %s: %s matrix vs one-pair form, %d x %d, max abs err %.3g\n", ckpt_path,
           m.cfg.module == ITR_SGRAF_SGR ? "SGR" : "SAF", N_IMG, N_CAP, worst);
    assert_true(worst <= 1e-5);
    free(img);
    free(cap);
    free(vg);
    free(tg);
    free(sims);
    free(scratch);
    itr_checkpoint_free(ck);
}

static void test_sgr_matrix(void **state) {
    (void)state;
    sgraf_case(ITR_SOURCE_DIR "/fixtures/sgraf/sgr_small.pth.tar");
}

static void test_saf_matrix(void **state) {
    (void)state;
    sgraf_case(ITR_SOURCE_DIR "/fixtures/sgraf/saf_small.pth.tar");
}

/* SCAN t2i through the batched tiles vs itr_scan_pair_f64 (queries = the
 * caption's words, context = the regions), for every first norm. */
static void test_scan_t2i_matrix(void **state) {
    (void)state;
    itr_checkpoint *ck = NULL;
    itr_scan m;
    assert_int_equal(itr_checkpoint_load(ITR_SOURCE_DIR "/fixtures/scan/scan_t2i_lse_small.pth.tar", &ck), ITR_OK);
    assert_int_equal(itr_scan_load(&m, &ck->opt, &ck->weights), ITR_OK);
    const int64_t R = 7, D = m.cfg.embed_size;
    float *img = malloc((size_t)(N_IMG * R * D) * sizeof *img);
    float *cap = malloc((size_t)(N_CAP * T * D) * sizeof *cap);
    double *sims = malloc((size_t)(N_IMG * N_CAP) * sizeof *sims);
    double *Q = malloc((size_t)(T * D) * sizeof *Q), *C = malloc((size_t)(R * D) * sizeof *C);
    int64_t len[N_CAP];
    assert_non_null(img && cap && sims && Q && C);
    unit_rows(img, N_IMG * R, D);
    captions(cap, len, D);
    const itr_scan_norm norms[] = {ITR_SCAN_NORM_CLIPPED_L2, ITR_SCAN_NORM_L2, ITR_SCAN_NORM_SOFTMAX,
                                   ITR_SCAN_NORM_CLIPPED, ITR_SCAN_NORM_NONE};
    for (size_t n = 0; n < sizeof norms / sizeof norms[0]; n++) {
        m.cfg.attn.norm = norms[n];
        m.cfg.attn.dir = ITR_SCAN_T2I;
        assert_int_equal(itr_scan_sims_f64(&m, img, N_IMG, R, cap, len, N_CAP, T, sims), ITR_OK);
        double worst = 0.0;
        for (int64_t i = 0; i < N_IMG; i++) {
            for (int64_t k = 0; k < R * D; k++) C[k] = img[i * R * D + k];
            for (int64_t j = 0; j < N_CAP; j++) {
                double want = 0.0;
                for (int64_t k = 0; k < len[j] * D; k++) Q[k] = cap[j * T * D + k];
                assert_int_equal(itr_scan_pair_f64(&m.cfg.attn, Q, len[j], C, R, D, NULL, NULL, NULL, &want), ITR_OK);
                double err = fabs(sims[i * N_CAP + j] - want);
                worst = err > worst ? err : worst;
            }
        }
        printf("  SCAN t2i, first norm %d: matrix vs one-pair form, max abs err %.3g\n", (int)norms[n], worst);
        assert_true(worst <= 1e-10);
    }
    free(img);
    free(cap);
    free(sims);
    free(Q);
    free(C);
    itr_scan_free(&m);
    itr_checkpoint_free(ck);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgr_matrix),
        cmocka_unit_test(test_saf_matrix),
        cmocka_unit_test(test_scan_t2i_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
