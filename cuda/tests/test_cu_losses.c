/* test_cu_losses.c - every CUDA training loss (itr/cuda/losses.h) against the
 * reference (itr/losses.h) on random inputs at batch sizes 1, 2, 5 and 33,
 * with exact ties (duplicated rows and columns, values on a 1/16 grid so that
 * hinge pre-activations hit 0 exactly), both diagonal variants of the hinge
 * (scalar margin, masked after the clamp; per-pair margins with a zero
 * diagonal and zero same-image entries), sum and hardest reductions.
 * Every comparison prints its max abs / rel error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itr/cuda.h"
#include "itr/cuda/losses.h"
#include "itr/losses.h"

static const int64_t BATCHES[] = {1, 2, 5, 33};
#define N_BATCHES (sizeof BATCHES / sizeof BATCHES[0])

/* Contract tolerance for float32 results. */
#define ATOL 1e-5
#define RTOL 1e-4

/* ---- helpers ----------------------------------------------------------------- */

typedef struct rng { uint64_t s; } rng;

static double uniform(rng *r, double lo, double hi) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 2685821657736338717ull;
    return lo + (hi - lo) * (double)(v >> 11) / 9007199254740992.0;
}

static float *falloc(int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    assert_non_null(p);
    return p;
}

static void fill(rng *r, float *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)uniform(r, lo, hi);
}

/* Values on a 1/16 grid in [lo, hi): sums and differences are exact, so
 * ties and u == 0 happen. */
static void fill_grid(rng *r, float *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(floor(uniform(r, lo, hi) * 16.0) / 16.0);
}

/* Copies row 0 into every third row and column 1 into every fourth column
 * of a (B, B) matrix: duplicate images / captions, exact ties in the max. */
static void duplicate_rows_cols(float *S, int64_t B) {
    for (int64_t i = 3; i < B; i += 3) memcpy(S + i * B, S, (size_t)B * sizeof *S);
    if (B > 1)
        for (int64_t j = 4; j < B; j += 4)
            for (int64_t i = 0; i < B; i++) S[i * B + j] = S[i * B + 1];
}

/* Duplicates row 0 of a (B, d) embedding matrix into every third row. */
static void duplicate_rows(float *x, int64_t B, int64_t d) {
    for (int64_t i = 3; i < B; i += 3) memcpy(x + i * d, x, (size_t)d * sizeof *x);
}

static void normalize_rows(float *x, int64_t B, int64_t d) {
    for (int64_t i = 0; i < B; i++) {
        double n = 0.0;
        for (int64_t k = 0; k < d; k++) n += (double)x[i * d + k] * x[i * d + k];
        n = sqrt(n);
        for (int64_t k = 0; k < d; k++) x[i * d + k] = (float)(x[i * d + k] / n);
    }
}

/* Max abs / rel error of got vs want, printed; 1 when every element is
 * within atol + rtol |want| (NaNs must match). */
static int close_f(const char *label, const float *got, const float *want, int64_t n, double atol, double rtol) {
    double ma = 0.0, mr = 0.0;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (isnan(w) || isnan(g)) {
            if (isnan(w) != isnan(g)) ok = 0;
            continue;
        }
        double a = fabs(g - w), r = w != 0.0 ? a / fabs(w) : (a > 0.0 ? INFINITY : 0.0);
        if (a > ma) ma = a;
        if (r > mr) mr = r;
        if (!(a <= atol + rtol * fabs(w))) {
            if (ok) printf("    %s: first mismatch at %lld: got %.9g want %.9g\n", label, (long long)i, g, w);
            ok = 0;
        }
    }
    printf("    %-44s max abs %.3g  max rel %.3g\n", label, ma, mr);
    return ok;
}

static int close_d(const char *label, double got, double want, double atol, double rtol) {
    float g = (float)got, w = (float)want;
    return close_f(label, &g, &w, 1, atol, rtol);
}

static void expect_ok(itr_status st) {
    if (st != ITR_OK) printf("    error: %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
}

/* Per-pair margins as LSEH's SeMargin: a + b * Shat with Shat in [-0.25, 1),
 * 0 on the diagonal and for pairs whose items share an image. */
static void make_margins(rng *r, float *M, int64_t B) {
    int64_t *img = malloc((size_t)B * sizeof *img);
    assert_non_null(img);
    for (int64_t i = 0; i < B; i++) img[i] = (int64_t)uniform(r, 0, (double)(B / 2 + 1));
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < B; j++) {
            float sh = (float)(floor(uniform(r, -0.25, 1.0) * 16.0) / 16.0);
            M[i * B + j] = (i == j || img[i] == img[j]) ? 0.0f : 0.1875f + 0.0625f * sh;
        }
    free(img);
}

/* ---- hinge on a score matrix --------------------------------------------------- */

static void check_hinge(const float *S, int64_t B, float margin, const float *M, int hardest) {
    int64_t n = B * B, nc = hardest ? B : n;
    float *cs = falloc(nc), *ci = falloc(nc), *g = falloc(n);
    float *rcs = falloc(nc), *rci = falloc(nc), *rg = falloc(n);
    itr_hinge_result r, rr;
    expect_ok(itr_cuda_hinge_loss(S, B, margin, M, hardest, &r, cs, ci, g));
    expect_ok(itr_hinge_loss(S, B, margin, M, hardest, &rr, rcs, rci, rg));
    printf("   B=%lld %s %s: loss %.9g (ref %.9g)\n", (long long)B, hardest ? "hardest" : "sum",
           M ? "per-pair margins" : "scalar margin", r.loss, rr.loss);
    assert_true(close_d("loss", r.loss, rr.loss, ATOL, RTOL));
    assert_true(close_d("loss_s", r.loss_s, rr.loss_s, ATOL, RTOL));
    assert_true(close_d("loss_im", r.loss_im, rr.loss_im, ATOL, RTOL));
    /* the hinges are the same float operations: exact */
    assert_true(close_f("cost_s", cs, rcs, nc, 0, 0));
    assert_true(close_f("cost_im", ci, rci, nc, 0, 0));
    assert_true(close_f("dS (ties: first arg-max, clamp at 0)", g, rg, n, 0, 0));
    free(cs), free(ci), free(g), free(rcs), free(rci), free(rg);
}

static void test_hinge_scores(void **state) {
    (void)state;
    rng r = {0x1234567u};
    for (size_t b = 0; b < N_BATCHES; b++) {
        int64_t B = BATCHES[b];
        float *S = falloc(B * B), *M = falloc(B * B);
        fill_grid(&r, S, B * B, -0.5, 1.0);
        duplicate_rows_cols(S, B);
        make_margins(&r, M, B);
        for (int hardest = 0; hardest < 2; hardest++) {
            check_hinge(S, B, 0.25f, NULL, hardest);
            check_hinge(S, B, 0.0f, M, hardest);
        }
        /* NULL outputs are allowed */
        expect_ok(itr_cuda_lmh_loss(S, B, 0.2f, 1, NULL, NULL, NULL, NULL));
        free(S), free(M);
    }
}

/* All hinges 0: rows pick index 0 (the masked diagonal for row 0) and
 * u == 0 exactly passes the gradient (ref/losses/tests/test_lmh.c). */
static void test_hinge_tie_rules(void **state) {
    (void)state;
    float S[9] = {1.0f, -5.0f, -5.0f, 0.5f, 0.5f, -5.0f, -5.0f, -5.0f, 1.0f};
    float g[9];
    static const float want[9] = {0, 0, 0, 1, -1, 0, 0, 0, 0};
    itr_hinge_result r;
    expect_ok(itr_cuda_lmh_loss(S, 3, 0.0f, 1, &r, NULL, NULL, g));
    assert_true(r.loss == 0.0);
    assert_true(close_f("tie dS (hardest)", g, want, 9, 0, 0));
    check_hinge(S, 3, 0.0f, NULL, 0);
}

/* ---- hinge on embeddings: LMH (VSE++ / VSRN) and VSE-infinity -------------------- */

/* CUDA vs ref for S = measure(im, s) and its hinge. The hinge of the CUDA S
 * must equal the reference hinge of that same S exactly (decisions, ties);
 * S, the loss and the embedding gradients must match the reference within
 * tolerance. */
static void check_embed(itr_measure m, const float *im, const float *s, int64_t B, int64_t d, int hardest) {
    int64_t n = B * B, ne = B * d;
    float *S = falloc(n), *g = falloc(n), *gi = falloc(ne), *gs = falloc(ne);
    float *rS = falloc(n), *rg = falloc(n), *rgi = falloc(ne), *rgs = falloc(ne), *hg = falloc(n);
    itr_hinge_result r, rr, hr;
    expect_ok(itr_cuda_lmh_embed_loss(m, im, s, B, d, 0.2f, hardest, &r, S, g, gi, gs));
    expect_ok(itr_lmh_embed_loss(m, im, s, B, d, 0.2f, hardest, &rr, rS, rg, NULL, NULL));
    expect_ok(itr_lmh_loss(S, B, 0.2f, hardest, &hr, NULL, NULL, hg));
    expect_ok(itr_loss_scores_backward(m, im, s, B, d, g, rgi, rgs));
    printf("   B=%lld %s %s: loss %.9g (ref %.9g)\n", (long long)B, m == ITR_MEASURE_ORDER ? "order" : "cosine",
           hardest ? "hardest" : "sum", r.loss, rr.loss);
    assert_true(close_f("S", S, rS, n, ATOL, RTOL));
    assert_true(close_d("loss", r.loss, rr.loss, ATOL, RTOL));
    assert_true(close_d("loss (ref hinge of the CUDA S)", r.loss, hr.loss, 0, 1e-6));
    assert_true(close_f("dS (ref hinge of the CUDA S)", g, hg, n, 0, 0));
    assert_true(close_f("dim", gi, rgi, ne, ATOL, RTOL));
    assert_true(close_f("ds", gs, rgs, ne, ATOL, RTOL));
    free(S), free(g), free(gi), free(gs), free(rS), free(rg), free(rgi), free(rgs), free(hg);
}

static void test_lmh_embeddings(void **state) {
    (void)state;
    rng r = {0xabcdefu};
    const int64_t d = 7;
    for (size_t b = 0; b < N_BATCHES; b++) {
        int64_t B = BATCHES[b];
        float *im = falloc(B * d), *s = falloc(B * d);
        fill(&r, im, B * d, -1, 1);
        fill(&r, s, B * d, -1, 1);
        normalize_rows(im, B, d);
        normalize_rows(s, B, d);
        duplicate_rows(im, B, d);
        duplicate_rows(s, B, d);
        for (int hardest = 0; hardest < 2; hardest++) {
            check_embed(ITR_MEASURE_COSINE, im, s, B, d, hardest);
            check_embed(ITR_MEASURE_ORDER, im, s, B, d, hardest);
        }
        free(im), free(s);
    }
}

/* The separate score front ends, incl. QUIRK(vsepp-order-sqrt): a pair with
 * s_j <= im_i everywhere has n = 0 and NaN where s_j[k] == im_i[k]. */
static void test_scores_front_ends(void **state) {
    (void)state;
    const int64_t B = 3, d = 4;
    float im[12] = {0.5f, 0.5f, 0.5f, 0.5f, 0.1f, 0.9f, 0.2f, 0.3f, -0.2f, 0.4f, 0.6f, 0.1f};
    float s[12] = {0.5f, 0.1f, 0.2f, 0.5f, 0.3f, 0.3f, 0.9f, 0.0f, 0.7f, -0.1f, 0.2f, 0.4f};
    float dS[9] = {1, -2, 0.5f, 0, 1, 1, -1, 0.25f, 3};
    for (int mm = 0; mm < 2; mm++) {
        itr_measure m = mm ? ITR_MEASURE_ORDER : ITR_MEASURE_COSINE;
        float S[9], rS[9], gi[12], gs[12], rgi[12], rgs[12];
        expect_ok(itr_cuda_loss_scores(m, im, s, B, d, S));
        expect_ok(itr_loss_scores(m, im, s, B, d, rS));
        expect_ok(itr_cuda_loss_scores_backward(m, im, s, B, d, dS, gi, gs));
        expect_ok(itr_loss_scores_backward(m, im, s, B, d, dS, rgi, rgs));
        printf("   %s\n", mm ? "order (pair (0,0) has n = 0)" : "cosine");
        assert_true(close_f("S", S, rS, 9, ATOL, RTOL));
        assert_true(close_f("dim", gi, rgi, 12, ATOL, RTOL));
        assert_true(close_f("ds", gs, rgs, 12, ATOL, RTOL));
        if (mm) assert_true(isnan(gi[0]) && isnan(gs[0]));
        /* one side only */
        expect_ok(itr_cuda_loss_scores_backward(m, im, s, B, d, dS, NULL, gs));
    }
}

static void test_vseinf_warmup(void **state) {
    (void)state;
    rng r = {0x5eed};
    const int64_t B = 5, d = 6;
    float im[30], s[30], g[25], rg[25];
    fill(&r, im, B * d, -1, 1);
    fill(&r, s, B * d, -1, 1);
    normalize_rows(im, B, d);
    normalize_rows(s, B, d);
    for (int64_t epoch = 0; epoch < 3; epoch++) {
        itr_hinge_result a, w;
        int hardest = itr_vseinf_use_hardest(epoch, 1);
        expect_ok(itr_cuda_vseinf_epoch_loss(im, s, B, d, 0.2f, epoch, 1, &a, NULL, g, NULL, NULL));
        expect_ok(itr_vseinf_loss(im, s, B, d, 0.2f, hardest, &w, NULL, rg, NULL, NULL));
        printf("   epoch %lld (%s): loss %.9g (ref %.9g)\n", (long long)epoch, hardest ? "hardest" : "warm-up sum",
               a.loss, w.loss);
        assert_true(close_d("loss", a.loss, w.loss, ATOL, RTOL));
        assert_true(close_f("dS", g, rg, B * B, 0, 0));
    }
    assert_int_equal(itr_cuda_vseinf_epoch_loss(im, s, B, d, 0.2f, -1, 1, NULL, NULL, NULL, NULL, NULL), ITR_E_ARG);
}

/* ---- LSEH ------------------------------------------------------------------------ */

/* Dataset ids with repeated images (5 captions per image): ids[j] // 5 is the
 * image of caption j; img_ids[i] the image of item i. Duplicated SVD rows
 * give exact ties in the row maxima. */
static void make_lseh_batch(rng *r, int64_t B, int64_t n_svd, float *svd, int64_t *ids, int64_t *img_ids) {
    for (int64_t i = 0; i < B; i++) {
        int64_t img = (int64_t)uniform(r, 0, (double)(B / 2 + 1));
        ids[i] = 5 * img + (int64_t)uniform(r, 0, 5);
        img_ids[i] = img;
    }
    fill(r, svd, B * n_svd, -1, 1);
    duplicate_rows(svd, B, n_svd);
    if (B > 1) memset(svd + (B - 1) * n_svd, 0, (size_t)n_svd * sizeof *svd);   /* an empty caption: m = 1 */
}

static void test_lseh(void **state) {
    (void)state;
    rng r = {0x15e4};
    const int64_t n_svd = 37, d = 6;
    for (size_t bi = 0; bi < N_BATCHES; bi++) {
        int64_t B = BATCHES[bi], n = B * B;
        float *svd = falloc(B * n_svd), *S = falloc(n), *im = falloc(B * d), *s = falloc(B * d);
        int64_t *ids = malloc((size_t)B * sizeof *ids), *img = malloc((size_t)B * sizeof *img);
        assert_non_null(ids);
        assert_non_null(img);
        make_lseh_batch(&r, B, n_svd, svd, ids, img);
        fill_grid(&r, S, n, -0.5, 1.0);
        duplicate_rows_cols(S, B);
        fill(&r, im, B * d, -1, 1);
        fill(&r, s, B * d, -1, 1);
        normalize_rows(im, B, d);
        normalize_rows(s, B, d);
        float *sh = falloc(n), *mp = falloc(n), *M = falloc(n), *rsh = falloc(n), *rmp = falloc(n), *rM = falloc(n);
        printf("   B=%lld\n", (long long)B);
        expect_ok(itr_cuda_lseh_semantic_scores(svd, B, n_svd, sh));
        expect_ok(itr_lseh_semantic_scores(svd, B, n_svd, rsh));
        assert_true(close_f("torch_cosine_sim", sh, rsh, n, ATOL, RTOL));
        expect_ok(itr_cuda_lseh_positive_map(ids, img, B, mp));
        expect_ok(itr_lseh_positive_map(ids, img, B, rmp));
        assert_true(close_f("map", mp, rmp, n, 0, 0));
        expect_ok(itr_cuda_lseh_margins(rsh, rmp, B, 0.185f, 0.025f, M));
        expect_ok(itr_lseh_margins(rsh, rmp, B, 0.185f, 0.025f, rM));
        assert_true(close_f("SeMargin (same Shat)", M, rM, n, 1e-7, 0));
        for (int hardest = 0; hardest < 2; hardest++) {
            itr_hinge_result a, w;
            float *g = falloc(n), *rg = falloc(n), *gi = falloc(B * d), *gs = falloc(B * d);
            float *rgi = falloc(B * d), *rgs = falloc(B * d), *Sc = falloc(n), *hg = falloc(n);
            expect_ok(itr_cuda_lseh_loss(S, B, svd, n_svd, ids, img, 0.07f, 0.05f, hardest, &a, g, sh, mp, M));
            expect_ok(itr_lseh_loss(S, B, svd, n_svd, ids, img, 0.07f, 0.05f, hardest, &w, rg, rsh, rmp, rM));
            printf("   scores, %s: loss %.9g (ref %.9g)\n", hardest ? "hardest" : "sum", a.loss, w.loss);
            assert_true(close_d("loss", a.loss, w.loss, ATOL, RTOL));
            assert_true(close_f("SeMargin", M, rM, n, ATOL, RTOL));
            assert_true(close_f("dS", g, rg, n, 0, 0));
            /* embeddings: the CUDA S must give the same hinge decisions as the
             * reference hinge with the reference margins */
            expect_ok(itr_cuda_lseh_embed_loss(ITR_MEASURE_COSINE, im, s, B, d, svd, n_svd, ids, img, 0.185f,
                                               0.025f, hardest, &a, Sc, g, gi, gs, NULL, NULL, M));
            expect_ok(itr_lseh_margins(rsh, rmp, B, 0.185f, 0.025f, rM));
            expect_ok(itr_loss_scores(ITR_MEASURE_COSINE, im, s, B, d, rg));
            assert_true(close_f("embeddings: S", Sc, rg, n, ATOL, RTOL));
            expect_ok(itr_hinge_loss(Sc, B, 0.0f, rM, hardest, &w, NULL, NULL, hg));
            expect_ok(itr_loss_scores_backward(ITR_MEASURE_COSINE, im, s, B, d, hg, rgi, rgs));
            assert_true(close_d("embeddings: loss", a.loss, w.loss, ATOL, RTOL));
            assert_true(close_f("embeddings: dS", g, hg, n, 0, 0));
            assert_true(close_f("embeddings: dim", gi, rgi, B * d, ATOL, RTOL));
            assert_true(close_f("embeddings: ds", gs, rgs, B * d, ATOL, RTOL));
            free(g), free(rg), free(gi), free(gs), free(rgi), free(rgs), free(Sc), free(hg);
        }
        free(svd), free(S), free(im), free(s), free(ids), free(img);
        free(sh), free(mp), free(M), free(rsh), free(rmp), free(rM);
    }
}

/* Each sub-project with its own constants and score source. */
static void test_lseh_projects(void **state) {
    (void)state;
    rng r = {0x9a9a};
    const int64_t B = 5, n_svd = 11, d = 4;
    float svd[55], S[25], im[20], s[20], g[25], rg[25], gi[20], gs[20], rgi[20], rgs[20], sh[25], mp[25], M[25];
    int64_t ids[5], img[5];
    make_lseh_batch(&r, B, n_svd, svd, ids, img);
    fill(&r, S, 25, 0, 1);
    fill(&r, im, 20, -1, 1);
    fill(&r, s, 20, -1, 1);
    normalize_rows(im, B, d);
    normalize_rows(s, B, d);
    for (int pi = 0; pi < ITR_LSEH_N_PROJECTS; pi++) {
        const itr_lseh_config *cfg = itr_lseh_config_get((itr_lseh_project)pi);
        itr_cuda_lseh_scores in = {S, im, s, d, ITR_MEASURE_COSINE};
        itr_hinge_result a, w;
        expect_ok(itr_cuda_lseh_project_loss((itr_lseh_project)pi, &in, B, svd, n_svd, ids, img, 1, &a, g, gi, gs));
        expect_ok(itr_lseh_semantic_scores(svd, B, n_svd, sh));
        expect_ok(itr_lseh_positive_map(ids, img, B, mp));
        expect_ok(itr_lseh_margins(sh, mp, B, (float)cfg->a, (float)cfg->b, M));
        printf("   %s (a %.3g, b %.3g, %s)\n", cfg->name, cfg->a, cfg->b,
               cfg->from_embeddings ? "S = im s^T inside" : "model scores");
        if (cfg->from_embeddings) {   /* continuous random data: no decision sits on a float tie */
            float Sr[25];
            expect_ok(itr_loss_scores(ITR_MEASURE_COSINE, im, s, B, d, Sr));
            expect_ok(itr_hinge_loss(Sr, B, 0.0f, M, 1, &w, NULL, NULL, rg));
            expect_ok(itr_loss_scores_backward(ITR_MEASURE_COSINE, im, s, B, d, rg, rgi, rgs));
            assert_true(close_f("dim", gi, rgi, B * d, ATOL, RTOL));
            assert_true(close_f("ds", gs, rgs, B * d, ATOL, RTOL));
        } else {
            expect_ok(itr_hinge_loss(S, B, 0.0f, M, 1, &w, NULL, NULL, rg));
        }
        assert_true(close_d("loss", a.loss, w.loss, ATOL, RTOL));
        assert_true(close_f("dS", g, rg, B * B, 0, 0));
        if (!cfg->has_sum)
            assert_int_equal(itr_cuda_lseh_project_loss((itr_lseh_project)pi, &in, B, svd, n_svd, ids, img, 0,
                                                        NULL, NULL, NULL, NULL),
                             ITR_E_UNSUPPORTED);
    }
}

/* ---- VSL ----------------------------------------------------------------------------- */

/* S near 0.5 with spreads below 0.05 (phi unsaturated) or on the 1/16 grid
 * (phi saturated: integer ranks, Rs == Rc ties), duplicated rows/columns;
 * C symmetric with a strong diagonal. */
static void make_vsl_batch(rng *r, int64_t B, int grid, float *S, float *C) {
    if (grid) fill_grid(r, S, B * B, 0, 1);
    else fill(r, S, B * B, 0.47, 0.53);
    duplicate_rows_cols(S, B);
    for (int64_t a = 0; a < B; a++)
        for (int64_t b = 0; b <= a; b++) {
            float v = a == b ? (float)uniform(r, 0.6, 0.9) : (float)uniform(r, 0.0, 0.3);
            if (grid) v = (float)(floor(v * 16.0) / 16.0);
            C[a * B + b] = C[b * B + a] = v;
        }
}

static void test_vsl(void **state) {
    (void)state;
    rng r = {0x7517};
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    for (size_t bi = 0; bi < N_BATCHES; bi++) {
        int64_t B = BATCHES[bi], n = B * B;
        for (int grid = 0; grid < 2; grid++) {
            float *S = falloc(n), *C = falloc(n), *Rs = falloc(n), *Rc = falloc(n), *rRs = falloc(n), *rRc = falloc(n);
            float *g[3], *rg[3];
            for (int k = 0; k < 3; k++) g[k] = falloc(n), rg[k] = falloc(n);
            make_vsl_batch(&r, B, grid, S, C);
            double lv, rlv;
            expect_ok(itr_cuda_vsl_semantic_loss(S, C, B, &p, &lv, Rs, Rc, g[1]));
            expect_ok(itr_vsl_semantic_loss(S, C, B, &p, &rlv, rRs, rRc, rg[1]));
            printf("   B=%lld %s: L_VS %.9g (ref %.9g)\n", (long long)B, grid ? "saturated, rank ties" : "smooth",
                   lv, rlv);
            assert_true(close_f("rank_matrix_sims", Rs, rRs, n, ATOL, RTOL));
            assert_true(close_f("rank_matrix_image_cider", Rc, rRc, n, ATOL, RTOL));
            assert_true(close_d("loss_vsl", lv, rlv, ATOL, RTOL));
            assert_true(close_f("grad_vsl", g[1], rg[1], n, ATOL, RTOL));
            for (int hardest = 0; hardest < 2; hardest++) {
                itr_vsl_result a, w;
                p.hardest = hardest;
                expect_ok(itr_cuda_vsl_loss(S, C, B, &p, &a, g[0], g[1], g[2]));
                expect_ok(itr_vsl_loss(S, C, B, &p, &w, rg[0], rg[1], rg[2]));
                printf("   total (%s LMH) %.9g (ref %.9g)\n", hardest ? "hardest" : "sum", a.total, w.total);
                assert_true(close_d("loss_lmh", a.lmh, w.lmh, ATOL, RTOL));
                assert_true(close_d("loss_vsl", a.vsl, w.vsl, ATOL, RTOL));
                assert_true(close_d("loss_total", a.total, w.total, ATOL, RTOL));
                assert_true(close_f("grad_lmh", g[0], rg[0], n, 0, 0));
                assert_true(close_f("grad_vsl", g[1], rg[1], n, ATOL, RTOL));
                assert_true(close_f("grad_total", g[2], rg[2], n, ATOL, RTOL));
            }
            itr_vsl_params_default(&p);
            /* the rank operator alone, other temperature and clamp */
            expect_ok(itr_cuda_vsl_rank_matrix(S, B, 0.01, 20.0, Rs));
            expect_ok(itr_vsl_rank_matrix(S, B, 0.01, 20.0, rRs));
            assert_true(close_f("rank (tau 0.01, clamp 20)", Rs, rRs, n, ATOL, RTOL));
            free(S), free(C), free(Rs), free(Rc), free(rRs), free(rRc);
            for (int k = 0; k < 3; k++) free(g[k]), free(rg[k]);
        }
    }
    float X[4] = {0};
    assert_int_equal(itr_cuda_vsl_rank_matrix(X, 2, 0.0, 50.0, X), ITR_E_ARG);
}

/* ---- LUWM ---------------------------------------------------------------------------- */

static void check_luwm(const float *S, int64_t B, const itr_luwm_params *p) {
    float *g = falloc(B * B), *rg = falloc(B * B);
    double l, rl;
    int64_t na, rna;
    expect_ok(itr_cuda_luwm_loss(S, B, p, &l, &na, g));
    expect_ok(itr_luwm_loss(S, B, p, &rl, &rna, rg));
    printf("   B=%lld margin %.3g: loss %.9g (ref %.9g), %lld active queries\n", (long long)B, p->margin, l, rl,
           (long long)na);
    assert_int_equal(na, rna);
    assert_true(close_d("loss_luwm", l, rl, 0, 0));   /* same float ops, same summation order */
    assert_true(close_f("grad_luwm", g, rg, B * B, ATOL, RTOL));
    free(g), free(rg);
}

static void test_luwm(void **state) {
    (void)state;
    rng r = {0x1a3};
    itr_luwm_params p;
    itr_luwm_params_default(&p);
    for (size_t bi = 0; bi < N_BATCHES; bi++) {
        int64_t B = BATCHES[bi];
        float *S = falloc(B * B);
        fill_grid(&r, S, B * B, -0.1, 0.95);
        duplicate_rows_cols(S, B);
        p.margin = 0.07;
        check_luwm(S, B, &p);
        p.margin = 0.2;
        check_luwm(S, B, &p);
        fill(&r, S, B * B, -0.1, 0.95);
        check_luwm(S, B, &p);
        free(S);
    }
    /* no active query: a 0-d zero upstream */
    float S2[4] = {0.9f, 0.0f, 0.0f, 0.9f};
    double l;
    int64_t na;
    p.margin = 0.07;
    expect_ok(itr_cuda_luwm_loss(S2, 2, &p, &l, &na, NULL));
    assert_true(l == 0.0 && na == 0);
    /* a positive >= 1 - epsilon: upstream raises */
    S2[3] = 1.0f;
    assert_int_equal(itr_cuda_luwm_loss(S2, 2, &p, &l, &na, NULL), ITR_E_ARG);
    printf("   %s\n", itr_last_error());
}

/* ---- SCAN cross-attention scores ------------------------------------------------------ */

typedef struct scan_case {
    const char *cross_attn, *norm, *agg;
    double lambda_softmax, lambda_lse;
} scan_case;

static const scan_case SCAN_CASES[] = {
    {"t2i", "clipped_l2norm", "LogSumExp", 9.0, 6.0},
    {"i2t", "l2norm", "Mean", 4.0, 6.0},
    {"t2i", "softmax", "Max", 9.0, 6.0},
    {"i2t", "clipped", "Sum", 2.0, 6.0},
    {"t2i", "no_norm", "LogSumExp", 1.0, 5.0},
};

/* full 0 (large batches; emulated kernels are slow): only the hardest-negative
 * loss, whose scores and gradients are still compared with the reference. */
static void check_scan(const scan_case *sc, int64_t B, int64_t R, int64_t Lmax, int64_t d, int full, rng *r) {
    itr_scan_params p;
    itr_scan_params_default(&p);
    expect_ok(itr_scan_params_parse(&p, sc->cross_attn, sc->norm, sc->agg));
    p.lambda_softmax = sc->lambda_softmax;
    p.lambda_lse = sc->lambda_lse;
    int64_t n = B * B, nim = B * R * d, ns = B * Lmax * d;
    float *im = falloc(nim), *s = falloc(ns), *S = falloc(n), *rS = falloc(n), *dS = falloc(n);
    float *gi = falloc(nim), *gs = falloc(ns), *rgi = falloc(nim), *rgs = falloc(ns), *hg = falloc(n);
    int64_t *s_l = malloc((size_t)B * sizeof *s_l);
    assert_non_null(s_l);
    fill(r, im, nim, -1, 1);
    for (int64_t j = 0; j < B; j++) {
        s_l[j] = j == 0 ? 1 : 1 + (int64_t)uniform(r, 0, (double)Lmax);   /* caption 0 has one word */
        for (int64_t l = 0; l < s_l[j]; l++)
            for (int64_t k = 0; k < d; k++) s[(j * Lmax + l) * d + k] = (float)uniform(r, -1, 1);
    }
    duplicate_rows(im, B, R * d);
    fill(r, dS, n, -1, 1);
    for (int64_t e = 0; e < n; e += 3) dS[e] = 0.0f;   /* skipped pairs */
    printf("   %s %s %s B=%lld R=%lld Lmax=%lld d=%lld\n", sc->cross_attn, sc->norm, sc->agg, (long long)B,
           (long long)R, (long long)Lmax, (long long)d);
    expect_ok(itr_scan_scores(&p, im, R, s, s_l, Lmax, B, d, rS));
    if (full) {
        expect_ok(itr_cuda_scan_scores(&p, im, R, s, s_l, Lmax, B, d, S));
        assert_true(close_f("sims", S, rS, n, ATOL, RTOL));
        expect_ok(itr_cuda_scan_scores_backward(&p, im, R, s, s_l, Lmax, B, d, dS, gi, gs));
        expect_ok(itr_scan_scores_backward(&p, im, R, s, s_l, Lmax, B, d, dS, rgi, rgs));
        assert_true(close_f("backward dim", gi, rgi, nim, ATOL, RTOL));
        assert_true(close_f("backward ds", gs, rgs, ns, ATOL, RTOL));
    }
    /* the whole loss: hinge decisions as the reference's on the CUDA scores */
    for (int hardest = full ? 0 : 1; hardest < 2; hardest++) {
        itr_hinge_result a, w;
        expect_ok(itr_cuda_scan_loss(&p, im, R, s, s_l, Lmax, B, d, 0.2f, hardest, &a, S, dS, gi, gs));
        assert_true(close_f("loss: sims", S, rS, n, ATOL, RTOL));
        expect_ok(itr_lmh_loss(S, B, 0.2f, hardest, &w, NULL, NULL, hg));
        expect_ok(itr_scan_scores_backward(&p, im, R, s, s_l, Lmax, B, d, hg, rgi, rgs));
        assert_true(close_d(hardest ? "loss_max_violation" : "loss_sum", a.loss, w.loss, ATOL, RTOL));
        assert_true(close_f("grad_sims", dS, hg, n, 0, 0));
        assert_true(close_f("grad_im", gi, rgi, nim, ATOL, RTOL));
        assert_true(close_f("grad_s", gs, rgs, ns, ATOL, RTOL));
    }
    free(im), free(s), free(S), free(rS), free(dS), free(gi), free(gs), free(rgi), free(rgs), free(hg), free(s_l);
}

static void test_scan(void **state) {
    (void)state;
    rng r = {0x5ca7};
    for (size_t c = 0; c < sizeof SCAN_CASES / sizeof SCAN_CASES[0]; c++)
        for (size_t bi = 0; bi + 1 < N_BATCHES; bi++) check_scan(&SCAN_CASES[c], BATCHES[bi], 3, 4, 5, 1, &r);
    /* B = 33 (one configuration, tiny features) and several chunks of image rows */
    check_scan(&SCAN_CASES[0], 33, 2, 3, 3, 0, &r);
    itr_cuda_scan_set_chunk_rows(2);
    check_scan(&SCAN_CASES[1], 5, 3, 4, 37, 1, &r);
    check_scan(&SCAN_CASES[2], 3, 36, 2, 4, 1, &r);   /* more regions than a warp has lanes */
    itr_cuda_scan_set_chunk_rows(0);
}

static void test_errors(void **state) {
    (void)state;
    float S[4] = {0};
    assert_int_equal(itr_cuda_lmh_loss(NULL, 2, 0.2f, 1, NULL, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_cuda_lmh_loss(S, 0, 0.2f, 1, NULL, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_lmh_embed_loss(ITR_MEASURE_COSINE, S, S, 2, 0, 0.2f, 1, NULL, NULL, NULL, NULL, NULL),
                     ITR_E_SHAPE);
    assert_int_equal(itr_cuda_loss_scores_backward(ITR_MEASURE_COSINE, S, S, 2, 1, NULL, S, S), ITR_E_ARG);
    assert_true(itr_cuda_bytes_in_use() == 0);   /* nothing leaked by the calls above */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hinge_scores),
        cmocka_unit_test(test_hinge_tie_rules),
        cmocka_unit_test(test_lmh_embeddings),
        cmocka_unit_test(test_scores_front_ends),
        cmocka_unit_test(test_vseinf_warmup),
        cmocka_unit_test(test_lseh),
        cmocka_unit_test(test_lseh_projects),
        cmocka_unit_test(test_vsl),
        cmocka_unit_test(test_luwm),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_errors),
    };
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
