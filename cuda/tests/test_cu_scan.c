/* test_cu_scan.c - SCAN on CUDA (itr/cuda/scan.h) against the C reference
 * (itr/models/scan.h):
 *   - itr_cuda_scan_sims_f64 vs itr_scan_sims_f64 for every cross_attn x
 *     raw_feature_norm x agg_func, at awkward sizes (D = 1 and 33, R = 7 and
 *     1, one image, one caption, caption length 1, mixed lengths), with
 *     unnormalised embeddings too, and under tilings that split the images
 *     and captions into partial blocks, staged or not;
 *   - itr_cuda_scan_caption_f64 vs itr_scan_pair_f64 (attnT, weiContext,
 *     row_sim, score);
 *   - the encoders vs the reference on random models (uni / bi GRU, 1-2
 *     layers, no_imgnorm / no_txtnorm) and on both fixtures/scan cases,
 *     whose goldens are checked as well;
 *   - argument errors.
 * Every comparison prints its max abs error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itr/checkpoint.h"
#include "itr/cuda.h"
#include "itr/cuda/scan.h"
#include "itr/h5.h"
#include "itr/models/scan.h"

/* float64 scores of the same float32 embeddings: only summation order differs */
#define TOL_F64 1e-10
/* float32 encoders: the project tolerance */
#define TOL_ABS 1e-5
#define TOL_REL 1e-4

static const char *const NORMS[] = {"clipped_l2norm", "l2norm", "softmax", "clipped", "no_norm"};
static const char *const AGGS[] = {"LogSumExp", "Mean", "Max", "Sum"};

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) {   /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void fill(float *x, int64_t n, double scale) {
    for (int64_t k = 0; k < n; k++) x[k] = (float)(scale * urand());
}

/* rows of x (n, d) scaled to unit length (as the encoders leave them) */
static void unit_rows(float *x, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        double s = 0.0;
        for (int64_t k = 0; k < d; k++) s += (double)x[r * d + k] * x[r * d + k];
        for (int64_t k = 0; k < d && s > 0.0; k++) x[r * d + k] = (float)(x[r * d + k] / sqrt(s));
    }
}

/* max |a - b|, and whether every entry is within abs or rel tolerance */
static double max_err(const double *a, const double *b, int64_t n, double tol_abs, double tol_rel, int *ok) {
    double worst = 0.0;
    *ok = 1;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs(a[k] - b[k]);
        if (!(e <= tol_abs || e <= tol_rel * fabs(b[k]))) *ok = 0;   /* NaN fails */
        worst = e > worst || e != e ? e : worst;
    }
    return worst;
}

static double max_err_f(const float *a, const float *b, int64_t n, int *ok) {
    double worst = 0.0;
    *ok = 1;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs((double)a[k] - b[k]);
        if (!(e <= TOL_ABS || e <= TOL_REL * fabs(b[k]))) *ok = 0;
        worst = e > worst || e != e ? e : worst;
    }
    return worst;
}

static void add(itr_weights *w, const char *g, const char *key, int ndim, const int64_t *shape, double scale) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    fill(t.data, itr_tensor_numel(&t), scale);
    assert_int_equal(itr_weights_add(w, g, key, &t), ITR_OK);
}

/* A random SCAN model: fc (D, F), embedding (V, WD), GRU of `layers` layers. */
typedef struct model {
    itr_weights w;
    itr_config opt;
    itr_scan m;
} model;

static void model_make(model *x, int64_t D, int64_t F, int64_t V, int64_t WD, int layers, int bi) {
    char key[64];
    itr_weights_init(&x->w, "random");
    itr_config_init(&x->opt);
    add(&x->w, "0", "fc.weight", 2, (int64_t[]){D, F}, 1.0 / sqrt((double)F));
    add(&x->w, "0", "fc.bias", 1, (int64_t[]){D}, 0.1);
    add(&x->w, "1", "embed.weight", 2, (int64_t[]){V, WD}, 0.5);
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < (bi ? 2 : 1); d++) {
            const char *sfx = d ? "_reverse" : "";
            int64_t in = l == 0 ? WD : (bi ? 2 : 1) * D;
            double s = 1.0 / sqrt((double)D);
            snprintf(key, sizeof key, "rnn.weight_ih_l%d%s", l, sfx);
            add(&x->w, "1", key, 2, (int64_t[]){3 * D, in}, s);
            snprintf(key, sizeof key, "rnn.weight_hh_l%d%s", l, sfx);
            add(&x->w, "1", key, 2, (int64_t[]){3 * D, D}, s);
            snprintf(key, sizeof key, "rnn.bias_ih_l%d%s", l, sfx);
            add(&x->w, "1", key, 1, (int64_t[]){3 * D}, s);
            snprintf(key, sizeof key, "rnn.bias_hh_l%d%s", l, sfx);
            add(&x->w, "1", key, 1, (int64_t[]){3 * D}, s);
        }
    itr_config_set_int(&x->opt, "num_layers", layers);
    itr_config_set_bool(&x->opt, "bi_gru", bi);
}

static void model_load(model *x) { assert_int_equal(itr_scan_load(&x->m, &x->opt, &x->w), ITR_OK); }

static void model_free(model *x) {
    itr_scan_free(&x->m);
    itr_weights_free(&x->w);
    itr_config_free(&x->opt);
}

/* ---- sims: every combination ---------------------------------------------------- */

typedef struct sims_case {
    int64_t n_img, R, n_cap, T, D;
    const int64_t *lengths;
    int unit;   /* 1: unit rows (encoder output), 0: raw random scale (no_imgnorm / no_txtnorm) */
} sims_case;

/* All 40 (direction, norm, aggregation) settings on one case (norms: only
 * clipped_l2norm when all_norms is 0), each under three tilings: the default,
 * small blocks staged and small blocks read from global memory (2 images x 3
 * words: partial blocks everywhere). Returns the worst error. */
static double check_sims_case(const sims_case *c, double lambda_softmax, double lambda_lse, int all_norms) {
    model x;
    model_make(&x, c->D, 3, 4, 2, 1, 0);
    model_load(&x);
    int64_t ni = c->n_img * c->R * c->D, nw = c->n_cap * c->T * c->D;
    float *img = malloc((size_t)ni * sizeof *img), *cap = calloc((size_t)nw, sizeof *cap);
    double *want = malloc((size_t)(c->n_img * c->n_cap) * sizeof *want);
    double *got = malloc((size_t)(c->n_img * c->n_cap) * sizeof *got), worst = 0.0;
    assert_non_null(img), assert_non_null(cap), assert_non_null(want), assert_non_null(got);
    fill(img, ni, 1.0);
    for (int64_t j = 0; j < c->n_cap; j++) fill(cap + j * c->T * c->D, c->lengths[j] * c->D, 1.0);
    if (c->unit) {
        unit_rows(img, c->n_img * c->R, c->D);
        unit_rows(cap, c->n_cap * c->T, c->D);
    }
    for (int dir = 0; dir < 2; dir++)
        for (int norm = 0; norm < (all_norms ? 5 : 1); norm++)
            for (int agg = 0; agg < 4; agg++) {
                assert_int_equal(itr_scan_params_parse(&x.m.cfg.attn, dir ? "i2t" : "t2i", NORMS[norm], AGGS[agg]),
                                 ITR_OK);
                x.m.cfg.attn.lambda_softmax = lambda_softmax;
                x.m.cfg.attn.lambda_lse = lambda_lse;
                assert_int_equal(itr_scan_sims_f64(&x.m, img, c->n_img, c->R, cap, c->lengths, c->n_cap, c->T, want),
                                 ITR_OK);
                itr_cuda_scan *g;
                assert_int_equal(itr_cuda_scan_create(&x.m, &g), ITR_OK);
                for (int tiling = 0; tiling < 3; tiling++) {
                    if (tiling) assert_int_equal(itr_cuda_scan_set_tiling(g, 2, 3, tiling == 1), ITR_OK);
                    memset(got, 0xff, (size_t)(c->n_img * c->n_cap) * sizeof *got);
                    itr_status st =
                        itr_cuda_scan_sims_f64(g, img, c->n_img, c->R, cap, c->lengths, c->n_cap, c->T, got);
                    if (st) fprintf(stderr, "%s\n", itr_last_error());
                    assert_int_equal(st, ITR_OK);
                    int ok;
                    double e = max_err(got, want, c->n_img * c->n_cap, TOL_F64, TOL_F64, &ok);
                    if (!ok)
                        fprintf(stderr, "FAIL %s %s %s tiling %d: max abs err %.3g (got %.17g want %.17g)\n",
                                dir ? "i2t" : "t2i", NORMS[norm], AGGS[agg], tiling, e, got[0], want[0]);
                    assert_true(ok);
                    worst = e > worst ? e : worst;
                }
                itr_cuda_scan_destroy(g);
            }
    free(img);
    free(cap);
    free(want);
    free(got);
    model_free(&x);
    return worst;
}

static void test_sims_all_settings(void **state) {
    (void)state;
    static const int64_t mixed[5] = {1, 4, 6, 2, 5}, one[1] = {1}, two[2] = {6, 1}, full[3] = {3, 3, 3};
    const sims_case cases[] = {
        {3, 7, 5, 6, 33, mixed, 1},   /* R prime, D = 33, lengths 1..T      */
        {3, 7, 5, 6, 1, mixed, 1},    /* D = 1                             */
        {1, 7, 2, 6, 33, two, 1},     /* one image                         */
        {4, 7, 1, 1, 33, one, 1},     /* one caption of one word           */
        {2, 1, 3, 3, 5, full, 1},     /* one region                        */
        {3, 7, 5, 6, 33, mixed, 0},   /* unnormalised embeddings           */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double e = check_sims_case(&cases[k], 9.0, 6.0, 1);
        printf("sims (n_img %lld, R %lld, n_cap %lld, T %lld, D %lld%s), 40 settings x 3 tilings: max abs err %.3g\n",
               (long long)cases[k].n_img, (long long)cases[k].R, (long long)cases[k].n_cap, (long long)cases[k].T,
               (long long)cases[k].D, cases[k].unit ? "" : ", raw scale", e);
    }
    double e = check_sims_case(&cases[0], 4.0, 20.0, 0);
    printf("sims lambda_softmax 4, lambda_lse 20 (8 settings): max abs err %.3g\n", e);
}

/* ---- one caption with intermediates ------------------------------------------- */

static void test_caption_intermediates(void **state) {
    (void)state;
    enum { NI = 3, R = 7, L = 5, D = 33 };
    model x;
    model_make(&x, D, 3, 4, 2, 1, 0);
    model_load(&x);
    float img[NI * R * D], cap[L * D];
    fill(img, NI * R * D, 1.0);
    fill(cap, L * D, 1.0);
    unit_rows(img, NI * R, D);
    unit_rows(cap, L, D);
    double im[NI * R * D], cp[L * D];
    for (int k = 0; k < NI * R * D; k++) im[k] = img[k];
    for (int k = 0; k < L * D; k++) cp[k] = cap[k];
    double worst = 0.0;
    for (int dir = 0; dir < 2; dir++)
        for (int norm = 0; norm < 5; norm++) {
            assert_int_equal(itr_scan_params_parse(&x.m.cfg.attn, dir ? "i2t" : "t2i", NORMS[norm], AGGS[norm % 4]),
                             ITR_OK);
            int64_t nq = dir ? R : L, nc = dir ? L : R;
            double attn[NI * R * L], wei[NI * R * D], rs[NI * R], sc[NI];
            double w_attn[NI * R * L], w_wei[NI * R * D], w_rs[NI * R], w_sc[NI];
            for (int i = 0; i < NI; i++) {
                const double *V = im + i * R * D;
                assert_int_equal(itr_scan_pair_f64(&x.m.cfg.attn, dir ? V : cp, nq, dir ? cp : V, nc, D,
                                                   w_attn + i * nc * nq, w_wei + i * nq * D, w_rs + i * nq, w_sc + i),
                                 ITR_OK);
            }
            itr_cuda_scan *g;
            assert_int_equal(itr_cuda_scan_create(&x.m, &g), ITR_OK);
            assert_int_equal(itr_cuda_scan_caption_f64(g, img, NI, R, cap, L, attn, wei, rs, sc), ITR_OK);
            int ok[4];
            double e[4] = {max_err(attn, w_attn, NI * nc * nq, TOL_F64, TOL_F64, &ok[0]),
                           max_err(wei, w_wei, NI * nq * D, TOL_F64, TOL_F64, &ok[1]),
                           max_err(rs, w_rs, NI * nq, TOL_F64, TOL_F64, &ok[2]),
                           max_err(sc, w_sc, NI, TOL_F64, TOL_F64, &ok[3])};
            for (int k = 0; k < 4; k++) {
                assert_true(ok[k]);
                worst = e[k] > worst ? e[k] : worst;
            }
            /* every output may be NULL */
            assert_int_equal(itr_cuda_scan_caption_f64(g, img, NI, R, cap, L, NULL, NULL, NULL, sc), ITR_OK);
            itr_cuda_scan_destroy(g);
        }
    printf("caption_f64 vs itr_scan_pair_f64 (attnT, weiContext, row_sim, score), 10 settings: max abs err %.3g\n",
           worst);
    model_free(&x);
}

/* ---- encoders ------------------------------------------------------------------ */

static void check_encoders(int layers, int bi, int no_imgnorm, int no_txtnorm) {
    enum { D = 13, F = 9, V = 11, WD = 6, N = 3, R = 5, NC = 4, T = 6 };
    model x;
    model_make(&x, D, F, V, WD, layers, bi);
    itr_config_set_bool(&x.opt, "no_imgnorm", no_imgnorm);
    itr_config_set_bool(&x.opt, "no_txtnorm", no_txtnorm);
    model_load(&x);
    float feats[N * R * F], want_i[N * R * D], got_i[N * R * D], want_c[NC * T * D], got_c[NC * T * D];
    int64_t ids[NC * T], lengths[NC] = {T, 1, 3, 5};
    fill(feats, N * R * F, 2.0);
    for (int k = 0; k < NC * T; k++) ids[k] = (int64_t)((urand() + 1.0) * 0.5 * V) % V;
    itr_cuda_scan *g;
    assert_int_equal(itr_cuda_scan_create(&x.m, &g), ITR_OK);
    assert_int_equal(itr_scan_encode_images(&x.m, feats, N, R, want_i), ITR_OK);
    assert_int_equal(itr_cuda_scan_encode_images(g, feats, N, R, got_i), ITR_OK);
    assert_int_equal(itr_scan_encode_captions(&x.m, ids, lengths, NC, T, want_c), ITR_OK);
    memset(got_c, 0xff, sizeof got_c);
    assert_int_equal(itr_cuda_scan_encode_captions(g, ids, lengths, NC, T, got_c), ITR_OK);
    int ok_i, ok_c;
    double ei = max_err_f(got_i, want_i, N * R * D, &ok_i), ec = max_err_f(got_c, want_c, NC * T * D, &ok_c);
    for (int j = 0; j < NC; j++)   /* padding rows exactly 0 */
        for (int k = (int)lengths[j] * D; k < T * D; k++) assert_true(got_c[j * T * D + k] == 0.0f);
    printf("encoders (layers %d, bi %d, no_imgnorm %d, no_txtnorm %d): images max abs err %.3g, captions %.3g\n",
           layers, bi, no_imgnorm, no_txtnorm, ei, ec);
    assert_true(ok_i);
    assert_true(ok_c);
    itr_cuda_scan_destroy(g);
    model_free(&x);
}

static void test_encoders_random(void **state) {
    (void)state;
    check_encoders(1, 0, 0, 0);
    check_encoders(1, 1, 1, 0);
    check_encoders(2, 1, 0, 1);
    check_encoders(2, 0, 1, 1);
}

/* ---- the fixtures ---------------------------------------------------------------- */

static void read_f(itr_h5 *f, const char *name, itr_dtype dt, itr_tensor *t) {
    itr_status st = itr_h5_read(f, name, dt, NULL, t);
    if (st) fprintf(stderr, "%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
}

static void check_fixture(const char *stem) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/scan/%s.pth.tar", ITR_SOURCE_DIR, stem);
    itr_checkpoint *ck;
    assert_int_equal(itr_checkpoint_load(path, &ck), ITR_OK);
    itr_scan m;
    assert_int_equal(itr_scan_load(&m, &ck->opt, &ck->weights), ITR_OK);
    snprintf(path, sizeof path, "%s/fixtures/scan/%s.h5", ITR_SOURCE_DIR, stem);
    itr_h5 *f;
    assert_int_equal(itr_h5_open(path, &f), ITR_OK);
    itr_tensor images, captions, lengths, g_img, g_cap, g_sims;
    read_f(f, "/inputs/images", ITR_F32, &images);
    read_f(f, "/inputs/captions", ITR_I64, &captions);
    read_f(f, "/inputs/lengths", ITR_I64, &lengths);
    read_f(f, "/outputs/img_emb", ITR_F32, &g_img);
    read_f(f, "/outputs/cap_emb", ITR_F32, &g_cap);
    read_f(f, "/outputs/sims", ITR_F64, &g_sims);
    int64_t n_img = images.shape[0], R = images.shape[1], n_cap = captions.shape[0], T = captions.shape[1];
    int64_t D = m.cfg.embed_size;
    const int64_t *len = lengths.data;
    float *ri = malloc((size_t)(n_img * R * D) * sizeof *ri), *gi = malloc((size_t)(n_img * R * D) * sizeof *gi);
    float *rc = malloc((size_t)(n_cap * T * D) * sizeof *rc), *gc = malloc((size_t)(n_cap * T * D) * sizeof *gc);
    double *rs = malloc((size_t)(n_img * n_cap) * sizeof *rs), *gs = malloc((size_t)(n_img * n_cap) * sizeof *gs);
    assert_true(ri && gi && rc && gc && rs && gs);
    itr_cuda_scan *g;
    assert_int_equal(itr_cuda_scan_create(&m, &g), ITR_OK);
    assert_int_equal(itr_scan_encode_images(&m, images.data, n_img, R, ri), ITR_OK);
    assert_int_equal(itr_cuda_scan_encode_images(g, images.data, n_img, R, gi), ITR_OK);
    assert_int_equal(itr_scan_encode_captions(&m, captions.data, len, n_cap, T, rc), ITR_OK);
    assert_int_equal(itr_cuda_scan_encode_captions(g, captions.data, len, n_cap, T, gc), ITR_OK);
    /* the reference scores its own embeddings, CUDA its own: the end-to-end comparison */
    assert_int_equal(itr_scan_sims_f64(&m, ri, n_img, R, rc, len, n_cap, T, rs), ITR_OK);
    assert_int_equal(itr_cuda_scan_sims_f64(g, gi, n_img, R, gc, len, n_cap, T, gs), ITR_OK);
    int ok[6];
    double e[6] = {max_err_f(gi, ri, n_img * R * D, &ok[0]), max_err_f(gc, rc, n_cap * T * D, &ok[1]),
                   max_err(gs, rs, n_img * n_cap, TOL_ABS, TOL_REL, &ok[2]),
                   max_err_f(gi, g_img.data, n_img * R * D, &ok[3]), max_err_f(gc, g_cap.data, n_cap * T * D, &ok[4]),
                   max_err(gs, g_sims.data, n_img * n_cap, TOL_ABS, TOL_REL, &ok[5])};
    printf("%s (%s, %s, %s): CUDA vs ref img_emb %.3g, cap_emb %.3g, sims %.3g; vs golden %.3g, %.3g, %.3g\n", stem,
           m.cfg.attn.dir == ITR_SCAN_T2I ? "t2i" : "i2t", NORMS[m.cfg.attn.norm], AGGS[m.cfg.attn.agg], e[0], e[1],
           e[2], e[3], e[4], e[5]);
    for (int k = 0; k < 6; k++) assert_true(ok[k]);
    itr_cuda_scan_destroy(g);
    free(ri), free(gi), free(rc), free(gc), free(rs), free(gs);
    itr_tensor_free(&images), itr_tensor_free(&captions), itr_tensor_free(&lengths);
    itr_tensor_free(&g_img), itr_tensor_free(&g_cap), itr_tensor_free(&g_sims);
    itr_h5_close(f);
    itr_scan_free(&m);
    itr_checkpoint_free(ck);
}

static void test_fixtures(void **state) {
    (void)state;
    check_fixture("scan_t2i_lse_small");
    check_fixture("scan_i2t_avg_small");
}

/* ---- errors -------------------------------------------------------------------- */

static void test_errors(void **state) {
    (void)state;
    model x;
    model_make(&x, 4, 3, 5, 2, 1, 0);
    model_load(&x);
    itr_cuda_scan *g;
    assert_int_equal(itr_cuda_scan_create(&x.m, &g), ITR_OK);
    float img[2 * 4] = {1, 0, 0, 0, 0, 1, 0, 0}, cap[2 * 4] = {0}, out[2 * 4];
    double s[2];
    int64_t ids[2] = {1, 5}, len[1] = {2};
    assert_int_equal(itr_cuda_scan_encode_captions(g, ids, len, 1, 2, out), ITR_E_ARG);            /* id 5 >= vocab */
    assert_int_equal(itr_cuda_scan_encode_captions(g, ids, (int64_t[]){3}, 1, 2, out), ITR_E_SHAPE);   /* L > T */
    assert_int_equal(itr_cuda_scan_encode_images(g, img, 0, 1, out), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_scan_sims_f64(g, img, 1, 2, cap, (int64_t[]){0}, 1, 2, s), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_scan_sims_f64(g, img, 1, 2, cap, len, 0, 2, s), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_scan_sims_f64(NULL, img, 1, 2, cap, len, 1, 2, s), ITR_E_ARG);
    assert_int_equal(itr_cuda_scan_set_tiling(g, -1, 0, 1), ITR_E_ARG);
    /* a pair's attention rows (61 words x 100 regions) beyond the shared memory */
    float *big_i = calloc(100 * 4, sizeof *big_i), *big_c = calloc(61 * 4, sizeof *big_c);
    assert_true(big_i && big_c);
    assert_int_equal(itr_cuda_scan_sims_f64(g, big_i, 1, 100, big_c, (int64_t[]){61}, 1, 61, s), ITR_E_UNSUPPORTED);
    free(big_i);
    free(big_c);
    assert_int_equal(itr_cuda_scan_create(NULL, &g), ITR_E_ARG);
    itr_cuda_scan_destroy(g);
    itr_cuda_scan_destroy(NULL);
    model_free(&x);
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sims_all_settings), cmocka_unit_test(test_caption_intermediates),
        cmocka_unit_test(test_encoders_random),   cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
