/* test_cu_vseinf.c - VSE-infinity on CUDA (itr/cuda/vseinf.h) against the
 * reference (itr/models/vseinf.h, itr/models/bert.h):
 *   - GPO alone: sets of 1, 2, 7 and 36 rows in one batch, values with many
 *     exact ties (and +0 / -0), 70 channels (a partial channel tile), a
 *     second call reusing the cached weights, and a 300-row set (narrower
 *     tiles in shared memory);
 *   - the image encoder with the MLP residual, and the plain-FC aggregator
 *     (l0_w NULL, s2.5) against ref fc + GPO + L2Ne, no_imgnorm, chunks of 2;
 *   - the BiGRU text encoder with lengths 1..T, chunks of 3;
 *   - BERT alone: the tiny fixture's config and a random one (hidden 36, 1
 *     and 3 heads, sequence length 1 in a batch and alone);
 *   - both fixtures (fixtures/vseinf/) on the golden's inputs: every output
 *     and intermediate vs ref and vs the golden;
 *   - error paths and device-memory leaks.
 * Tolerance: |err| <= 1e-5 abs or 1e-4 rel; pool weights and BERT rows
 * beyond a length must be exactly 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/checkpoint.h"
#include "itr/cuda.h"
#include "itr/cuda/vseinf.h"
#include "itr/h5.h"

#define FIXTURES ITR_SOURCE_DIR "/fixtures/vseinf/"

/* ---- comparisons -------------------------------------------------------------- */

static int64_t cmp(const char *what, const float *got, const float *want, int64_t n) {
    double ea = 0, er = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)got[i] - want[i]), r = a / (fabs(want[i]) > 1e-30 ? fabs(want[i]) : 1e-30);
        if (!(a <= ea)) ea = a;   /* NaN sticks */
        if (fabs(want[i]) > 1e-6 && !(r <= er)) er = r;
        if (!(a <= 1e-5 || r <= 1e-4)) bad++;
    }
    printf("  %-46s max abs err %.3e  max rel err %.3e\n", what, ea, er);
    return bad;
}

static int64_t cmp_f64(const char *what, const double *got, const double *want, int64_t n) {
    double ea = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(got[i] - want[i]);
        if (!(a <= ea)) ea = a;
        if (!(a <= 1e-5 || a <= 1e-4 * fabs(want[i]))) bad++;
    }
    printf("  %-46s max abs err %.3e\n", what, ea);
    return bad;
}

/* 1 when every value is exactly 0 */
static int all_zero(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}

/* ---- random weights --------------------------------------------------------------- */

typedef struct pool {
    void *p[256];
    int n;
} pool;

static uint64_t g_rng = 0x5eed1234;
static double rnd(void) {   /* xorshift64*, uniform in [-1, 1) */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return 2.0 * (double)((g_rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0 - 1.0;
}

static float *randn(pool *p, int64_t n, double scale, double offset) {
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    assert_true(p->n < 256);
    p->p[p->n++] = x;
    for (int64_t i = 0; i < n; i++) x[i] = (float)(offset + scale * rnd());
    return x;
}

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) free(p->p[i]);
    p->n = 0;
}

static void rand_gru(pool *p, itr_gru *g, int64_t in, int64_t H, double scale) {
    memset(g, 0, sizeof *g);
    g->input_size = in;
    g->hidden = H;
    g->num_layers = 1;
    g->num_dirs = 2;
    for (int d = 0; d < 2; d++) {
        g->w_ih[0][d] = randn(p, 3 * H * in, scale, 0);
        g->w_hh[0][d] = randn(p, 3 * H * H, scale, 0);
        g->b_ih[0][d] = randn(p, 3 * H, scale, 0);
        g->b_hh[0][d] = randn(p, 3 * H, scale, 0);
    }
}

static void rand_gpo(pool *p, itr_gpo *g) {
    rand_gru(p, &g->gru, ITR_GPO_D_PE, ITR_GPO_D_HIDDEN, 0.4);
    g->lin_w = randn(p, ITR_GPO_D_HIDDEN, 1.0, 0);
}

/* Values on a coarse grid (many exact ties), some of them -0.0f. */
static void tied_values(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)(floor(rnd() * 4.0) / 4.0);
        if (x[i] == 0.0f && i % 2) x[i] = -0.0f;
    }
}

/* ---- GPO ------------------------------------------------------------------------- */

static int64_t gpo_case(itr_cuda_gpo *cg, const itr_gpo *g, const float *x, const int64_t *len, int64_t n, int64_t K,
                        int64_t D, const char *label) {
    float *cp = malloc((size_t)(n * D) * sizeof(float)), *ct = malloc((size_t)(n * K) * sizeof(float));
    float *rp = malloc((size_t)(n * D) * sizeof(float)), *rt = calloc((size_t)(n * K), sizeof(float));
    assert_true(cp && ct && rp && rt);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(itr_gpo_pool(g, x + i * K * D, K, D, len[i], rp + i * D, rt + i * K), ITR_OK);
    itr_status st = itr_cuda_gpo_pool(cg, x, len, n, K, D, cp, ct);
    if (st) fail_msg("gpo: %s", itr_last_error());
    printf(" %s\n", label);
    int64_t bad = cmp("pooled   CUDA vs ref", cp, rp, n * D) + cmp("theta    CUDA vs ref", ct, rt, n * K);
    for (int64_t i = 0; i < n; i++) assert_true(all_zero(ct + i * K + len[i], K - len[i]));
    free(cp), free(ct), free(rp), free(rt);
    return bad;
}

static void test_gpo(void **state) {
    (void)state;
    pool p = {0};
    itr_gpo g;
    rand_gpo(&p, &g);
    enum { K = 36, D = 70, N = 7 };
    int64_t len[N] = {1, 2, 7, 36, 7, 2, 36};
    float *x = randn(&p, N * K * D, 1, 0);
    tied_values(x, N * K * D);
    for (int64_t k = 0; k < K; k++)   /* item 6: every row the same (all ties) */
        memcpy(x + (6 * K + k) * D, x + 6 * K * D, D * sizeof(float));
    itr_cuda_gpo *cg = NULL;
    if (itr_cuda_gpo_create(&g, &cg)) fail_msg("%s", itr_last_error());
    int64_t bad = gpo_case(cg, &g, x, len, N, K, D, "GPO: lengths 1, 2, 7, 36, 7, 2, 36; D 70; tied values");
    int64_t len2[3] = {5, 36, 1};   /* cached lengths and a new one */
    bad += gpo_case(cg, &g, x, len2, 3, K, D, "GPO: second call, lengths 5, 36, 1");
    /* a set too long for a 32-channel tile: narrower tiles */
    enum { KL = 300, DL = 20 };
    float *xl = randn(&p, 2 * KL * DL, 1, 0);
    tied_values(xl, KL * DL);
    int64_t lenl[2] = {300, 299};
    bad += gpo_case(cg, &g, xl, lenl, 2, KL, DL, "GPO: sets of 300 and 299 rows, D 20");
    /* errors */
    float out[D];
    int64_t l0 = 0, l37 = 37;
    assert_int_equal(itr_cuda_gpo_pool(cg, x, &l0, 1, K, D, out, NULL), ITR_E_ARG);
    assert_int_equal(itr_cuda_gpo_pool(cg, x, &l37, 1, K, D, out, NULL), ITR_E_ARG);
    itr_cuda_gpo_destroy(cg);
    pool_free(&p);
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* ---- a random VSE-inf model ---------------------------------------------------------- */

enum { M_IMG = 20, M_E = 37, M_HM = 11, M_V = 13, M_WD = 6 };

static void rand_model(pool *p, itr_vseinf *m) {
    memset(m, 0, sizeof *m);
    m->text = ITR_VSEINF_BIGRU;
    m->img_dim = M_IMG;
    m->embed_size = M_E;
    m->mlp_hidden = M_HM;
    m->word_dim = M_WD;
    m->vocab_size = M_V;
    m->fc_w = randn(p, M_E * M_IMG, 0.3, 0);
    m->fc_b = randn(p, M_E, 0.3, 0);
    m->l0_w = randn(p, M_HM * M_IMG, 0.3, 0);
    m->l0_b = randn(p, M_HM, 0.3, 0);
    m->bn_mean = randn(p, M_HM, 0.2, 0);
    m->bn_var = randn(p, M_HM, 0.5, 1.0);   /* in (0.5, 1.5) */
    m->bn_w = randn(p, M_HM, 0.5, 1.0);
    m->bn_b = randn(p, M_HM, 0.2, 0);
    m->l1_w = randn(p, M_E * M_HM, 0.3, 0);
    m->l1_b = randn(p, M_E, 0.3, 0);
    rand_gpo(p, &m->img_gpo);
    rand_gpo(p, &m->txt_gpo);
    m->embed = randn(p, M_V * M_WD, 1.0, 0);
    rand_gru(p, &m->rnn, M_WD, M_E, 0.3);
}

/* CUDA vs given reference outputs of images (n, R). */
static int64_t check_images(itr_cuda_vseinf *cm, const float *img, const int64_t *len, int64_t n, int64_t R, int64_t E,
                            const float *r_emb, const float *r_in, const float *r_th, const float *r_pool,
                            const char *label) {
    float *emb = malloc((size_t)(n * E) * sizeof(float)), *in = malloc((size_t)(n * R * E) * sizeof(float));
    float *th = malloc((size_t)(n * R) * sizeof(float)), *po = malloc((size_t)(n * E) * sizeof(float));
    assert_true(emb && in && th && po);
    if (itr_cuda_vseinf_encode_images(cm, img, len, n, R, emb, in, th, po)) fail_msg("images: %s", itr_last_error());
    printf(" %s\n", label);
    int64_t bad = cmp("img_emb              CUDA vs ref", emb, r_emb, n * E);
    if (r_in) bad += cmp("img_gpo_features     CUDA vs ref", in, r_in, n * R * E);
    if (r_th) bad += cmp("img_pool_weights     CUDA vs ref", th, r_th, n * R);
    if (r_pool) bad += cmp("img_pooled_features  CUDA vs ref", po, r_pool, n * E);
    free(emb), free(in), free(th), free(po);
    return bad;
}

static void test_images(void **state) {
    (void)state;
    pool p = {0};
    itr_vseinf m;
    rand_model(&p, &m);
    enum { N = 5, R = 7, E = M_E };
    int64_t len[N] = {7, 1, 3, 7, 2};
    float *img = randn(&p, N * R * M_IMG, 1.0, 0);
    float *emb = randn(&p, N * E, 0, 0), *in = randn(&p, N * R * E, 0, 0), *th = randn(&p, N * R, 0, 0);
    float *po = randn(&p, N * E, 0, 0);
    assert_int_equal(itr_vseinf_encode_images(&m, img, len, N, R, emb, in, th, po), ITR_OK);
    itr_cuda_vseinf *cm = NULL;
    if (itr_cuda_vseinf_create(&m, &cm)) fail_msg("%s", itr_last_error());
    int64_t bad = check_images(cm, img, len, N, R, E, emb, in, th, po, "images, FC + MLP residual");
    assert_int_equal(itr_cuda_vseinf_set_chunk(cm, 2), ITR_OK);
    bad += check_images(cm, img, len, N, R, E, emb, in, th, po, "images, FC + MLP residual, chunks of 2");
    /* errors: a length outside 1..R, no images */
    int64_t badlen[N] = {7, 0, 3, 7, 2};
    assert_int_equal(itr_cuda_vseinf_encode_images(cm, img, badlen, N, R, emb, NULL, NULL, NULL), ITR_E_ARG);
    badlen[1] = 8;
    assert_int_equal(itr_cuda_vseinf_encode_images(cm, img, badlen, N, R, emb, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_cuda_vseinf_encode_images(cm, img, len, 0, R, emb, NULL, NULL, NULL), ITR_E_SHAPE);
    itr_cuda_vseinf_destroy(cm);

    /* plain FC (the grid aggregator, s2.5): ref fc + GPO + L2Ne by hand */
    itr_vseinf fc = m;
    fc.l0_w = NULL;
    float *z = randn(&p, N * R * E, 0, 0);
    itr_linear(img, N * R, M_IMG, m.fc_w, m.fc_b, E, z);
    for (int64_t i = 0; i < N; i++) {
        for (int64_t k = len[i]; k < R; k++) memset(z + (i * R + k) * E, 0, E * sizeof(float));
        memset(th + i * R, 0, R * sizeof(float));
        assert_int_equal(itr_gpo_pool(&m.img_gpo, z + i * R * E, R, E, len[i], po + i * E, th + i * R), ITR_OK);
    }
    memcpy(emb, po, sizeof(float) * N * E);
    itr_l2norm_rows(emb, N, E, ITR_EPS_ADD, 1e-8f);
    if (itr_cuda_vseinf_create(&fc, &cm)) fail_msg("%s", itr_last_error());
    bad += check_images(cm, img, len, N, R, E, emb, z, th, po, "images, plain FC (l0_w NULL)");
    itr_cuda_vseinf_destroy(cm);
    fc.no_imgnorm = 1;   /* no_imgnorm: the embedding is the pooled vector */
    if (itr_cuda_vseinf_create(&fc, &cm)) fail_msg("%s", itr_last_error());
    bad += check_images(cm, img, len, N, R, E, po, NULL, NULL, po, "images, plain FC, no_imgnorm");
    itr_cuda_vseinf_destroy(cm);
    pool_free(&p);
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* ---- BiGRU captions -------------------------------------------------------------------- */

static int64_t check_captions(itr_cuda_vseinf *cm, const itr_vseinf *m, const int64_t *caps, const int64_t *len,
                              int64_t n, int64_t T, const char *label) {
    int64_t E = m->embed_size, H = m->text == ITR_VSEINF_BERT ? m->bert.hidden : 1;
    size_t f = sizeof(float);
    float *r[5], *c[5];
    int64_t sz[5] = {n * E, n * T * E, n * T, n * E, n * T * H};
    for (int k = 0; k < 5; k++) {
        r[k] = calloc((size_t)sz[k], f);
        c[k] = calloc((size_t)sz[k], f);
        assert_true(r[k] && c[k]);
    }
    float *rb = m->text == ITR_VSEINF_BERT ? r[4] : NULL, *cb = rb ? c[4] : NULL;
    assert_int_equal(itr_vseinf_encode_captions(m, caps, len, n, T, r[0], r[1], r[2], r[3], rb), ITR_OK);
    if (itr_cuda_vseinf_encode_captions(cm, caps, len, n, T, c[0], c[1], c[2], c[3], cb))
        fail_msg("captions: %s", itr_last_error());
    printf(" %s\n", label);
    static const char *names[5] = {"cap_emb              CUDA vs ref", "cap_gpo_features     CUDA vs ref",
                                   "cap_pool_weights     CUDA vs ref", "cap_pooled_features  CUDA vs ref",
                                   "cap_bert_emb         CUDA vs ref"};
    int64_t bad = 0;
    for (int k = 0; k < (rb ? 5 : 4); k++) bad += cmp(names[k], c[k], r[k], sz[k]);
    for (int k = 0; k < 5; k++) free(r[k]), free(c[k]);
    return bad;
}

static void test_bigru(void **state) {
    (void)state;
    pool p = {0};
    itr_vseinf m;
    rand_model(&p, &m);
    enum { N = 8, T = 6 };
    int64_t len[N] = {1, 2, 3, 4, 5, 6, 6, 1}, caps[N * T];
    for (int64_t i = 0; i < N * T; i++) caps[i] = (i * 7 + 3) % M_V;
    itr_cuda_vseinf *cm = NULL;
    if (itr_cuda_vseinf_create(&m, &cm)) fail_msg("%s", itr_last_error());
    int64_t bad = check_captions(cm, &m, caps, len, N, T, "BiGRU captions, lengths 1..6");
    assert_int_equal(itr_cuda_vseinf_set_chunk(cm, 3), ITR_OK);
    bad += check_captions(cm, &m, caps, len, N, T, "BiGRU captions, chunks of 3");
    int64_t one = 1;
    bad += check_captions(cm, &m, caps, &one, 1, 1, "BiGRU, one caption of T = 1");
    /* errors: an id outside the vocabulary (even in the padding, as ref), lengths */
    float e[N * M_E];
    caps[N * T - 1] = M_V;
    assert_int_equal(itr_cuda_vseinf_encode_captions(cm, caps, len, N, T, e, NULL, NULL, NULL, NULL), ITR_E_ARG);
    caps[N * T - 1] = 0;
    len[3] = 7;
    assert_int_equal(itr_cuda_vseinf_encode_captions(cm, caps, len, N, T, e, NULL, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_cuda_vseinf_encode_captions(cm, caps, len, 0, T, e, NULL, NULL, NULL, NULL), ITR_E_SHAPE);
    itr_cuda_vseinf_destroy(cm);
    pool_free(&p);
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* ---- BERT -------------------------------------------------------------------------------- */

static void rand_bert(pool *p, itr_bert *b, int64_t V, int64_t H, int64_t F, int64_t P, int layers, int64_t heads) {
    memset(b, 0, sizeof *b);
    b->vocab = V, b->hidden = H, b->ffn = F, b->max_pos = P, b->n_types = 2, b->n_heads = heads;
    b->n_layers = layers;
    b->ln_eps = 1e-12f;
    b->word = randn(p, V * H, 1.0, 0);
    b->pos = randn(p, P * H, 0.5, 0);
    b->type = randn(p, 2 * H, 0.5, 0);
    b->emb_ln_g = randn(p, H, 0.3, 1.0);
    b->emb_ln_b = randn(p, H, 0.1, 0);
    double s = 0.6 / sqrt((double)H);
    for (int i = 0; i < layers; i++) {
        itr_bert_layer *l = &b->layers[i];
        l->q_w = randn(p, H * H, 3 * s, 0), l->q_b = randn(p, H, 0.1, 0);   /* peaky attention */
        l->k_w = randn(p, H * H, 3 * s, 0), l->k_b = randn(p, H, 0.1, 0);
        l->v_w = randn(p, H * H, s, 0), l->v_b = randn(p, H, 0.1, 0);
        l->ao_w = randn(p, H * H, s, 0), l->ao_b = randn(p, H, 0.1, 0);
        l->ln1_g = randn(p, H, 0.3, 1.0), l->ln1_b = randn(p, H, 0.1, 0);
        l->ff1_w = randn(p, F * H, 2 * s, 0), l->ff1_b = randn(p, F, 0.3, 0);
        l->ff2_w = randn(p, H * F, s, 0), l->ff2_b = randn(p, H, 0.1, 0);
        l->ln2_g = randn(p, H, 0.3, 1.0), l->ln2_b = randn(p, H, 0.1, 0);
    }
}

static int64_t check_bert(const itr_bert *b, const int64_t *ids, const int64_t *len, int64_t n, int64_t T,
                          const char *label) {
    int64_t H = b->hidden;
    float *c = malloc((size_t)(n * T * H) * sizeof(float)), *r = calloc((size_t)(n * T * H), sizeof(float));
    assert_true(c && r);
    for (int64_t i = 0; i < n; i++) assert_int_equal(itr_bert_forward(b, ids + i * T, len[i], r + i * T * H), ITR_OK);
    itr_cuda_bert *cb = NULL;
    if (itr_cuda_bert_create(b, &cb)) fail_msg("%s", itr_last_error());
    if (itr_cuda_bert_forward(cb, ids, len, n, T, c)) fail_msg("bert: %s", itr_last_error());
    printf(" %s\n", label);
    int64_t bad = cmp("last hidden state    CUDA vs ref", c, r, n * T * H);
    for (int64_t i = 0; i < n; i++) assert_true(all_zero(c + (i * T + len[i]) * H, (T - len[i]) * H));
    itr_cuda_bert_destroy(cb);
    free(c), free(r);
    return bad;
}

static void test_bert_random(void **state) {
    (void)state;
    pool p = {0};
    enum { V = 20, H = 36, F = 50, P = 9, N = 5, T = 8 };
    int64_t ids[N * T], len[N] = {1, 8, 3, 1, 5};
    for (int64_t i = 0; i < N * T; i++) ids[i] = (i * 11 + 5) % V;
    for (int64_t i = 0; i < N; i++)   /* the padding holds garbage ids: never read */
        for (int64_t t = len[i]; t < T; t++) ids[i * T + t] = 1000 + t;
    int64_t bad = 0;
    static const int64_t heads[2] = {1, 3};
    for (int h = 0; h < 2; h++) {
        itr_bert b;
        char label[96];
        rand_bert(&p, &b, V, H, F, P, 2, heads[h]);
        snprintf(label, sizeof label, "BERT hidden 36, %lld head(s), lengths 1, 8, 3, 1, 5", (long long)heads[h]);
        bad += check_bert(&b, ids, len, N, T, label);
        int64_t one = 1;
        snprintf(label, sizeof label, "BERT hidden 36, %lld head(s), one sequence of length 1", (long long)heads[h]);
        bad += check_bert(&b, ids, &one, 1, 1, label);
        /* errors: a length beyond the positions, an id outside the vocabulary */
        itr_cuda_bert *cb = NULL;
        float out[N * 10 * H];
        int64_t ids10[N * 10] = {0}, l10 = 10;
        assert_int_equal(itr_cuda_bert_create(&b, &cb), ITR_OK);
        assert_int_equal(itr_cuda_bert_forward(cb, ids10, &l10, 1, 10, out), ITR_E_ARG);
        ids10[2] = V;
        l10 = 3;
        assert_int_equal(itr_cuda_bert_forward(cb, ids10, &l10, 1, 10, out), ITR_E_ARG);
        itr_cuda_bert_destroy(cb);
    }
    /* the tiny fixture's config: hidden 32, 2 layers, 2 heads, FFN 64, 16 positions, vocab 110 */
    itr_bert b;
    rand_bert(&p, &b, 110, 32, 64, 16, 2, 2);
    int64_t ids2[4 * 16], len2[4] = {16, 1, 9, 12};
    for (int64_t i = 0; i < 4 * 16; i++) ids2[i] = (i * 37 + 1) % 110;
    bad += check_bert(&b, ids2, len2, 4, 16, "BERT, the tiny fixture's config");
    pool_free(&p);
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* ---- the fixtures ------------------------------------------------------------------------ */

static void read_ds(itr_h5 *f, const char *name, itr_dtype dt, itr_tensor *t) {
    if (itr_h5_read(f, name, dt, NULL, t)) fail_msg("%s: %s", name, itr_last_error());
}

/* num_attention_heads of the case's bert_config JSON (0 when absent) */
static int64_t fixture_heads(itr_h5 *f) {
    char *cfg = NULL;
    int64_t heads = 0;
    if (itr_h5_attr_exists(f, "/", "bert_config") && !itr_h5_attr_str(f, "/", "bert_config", &cfg)) {
        const char *s = strstr(cfg, "\"num_attention_heads\":");
        if (s) heads = strtoll(s + strlen("\"num_attention_heads\":"), NULL, 10);
    }
    free(cfg);
    return heads;
}

static void run_fixture(const char *stem) {
    char path[512];
    itr_checkpoint *ck = NULL;
    itr_h5 *f = NULL;
    snprintf(path, sizeof path, FIXTURES "%s.pth.tar", stem);
    if (itr_checkpoint_load(path, &ck)) fail_msg("%s", itr_last_error());
    snprintf(path, sizeof path, FIXTURES "%s.h5", stem);
    if (itr_h5_open(path, &f)) fail_msg("%s", itr_last_error());
    itr_vseinf m;
    if (itr_vseinf_load(&m, &ck->opt, &ck->weights, fixture_heads(f), 0)) fail_msg("%s", itr_last_error());
    itr_tensor img, il, caps, lens;
    read_ds(f, "/inputs/images", ITR_F32, &img);
    read_ds(f, "/inputs/image_lengths", ITR_I64, &il);
    read_ds(f, "/inputs/captions", ITR_I64, &caps);
    read_ds(f, "/inputs/lengths", ITR_I64, &lens);
    int64_t N = img.shape[0], R = img.shape[1], n = caps.shape[0], T = caps.shape[1], E = m.embed_size;
    int bert = m.text == ITR_VSEINF_BERT;
    int64_t H = bert ? m.bert.hidden : 0;
    printf("%s\n", stem);
    itr_cuda_vseinf *cm = NULL;
    if (itr_cuda_vseinf_create(&m, &cm)) fail_msg("%s", itr_last_error());
    /* CUDA vs ref: everything */
    float *r_emb = malloc(sizeof(float) * N * E), *r_in = malloc(sizeof(float) * N * R * E);
    float *r_th = malloc(sizeof(float) * N * R), *r_po = malloc(sizeof(float) * N * E);
    assert_true(r_emb && r_in && r_th && r_po);
    assert_int_equal(itr_vseinf_encode_images(&m, itr_f32(&img), itr_i64(&il), N, R, r_emb, r_in, r_th, r_po), ITR_OK);
    int64_t bad = check_images(cm, itr_f32(&img), itr_i64(&il), N, R, E, r_emb, r_in, r_th, r_po, "images");
    bad += check_captions(cm, &m, itr_i64(&caps), itr_i64(&lens), n, T, "captions");
    /* CUDA vs the golden */
    float *ci = malloc(sizeof(float) * N * E), *cc = malloc(sizeof(float) * n * E);
    float *cin = malloc(sizeof(float) * n * T * E), *cb = bert ? malloc(sizeof(float) * n * T * H) : NULL;
    double *cs = malloc(sizeof(double) * N * n);
    assert_true(ci && cc && cin && cs);
    assert_int_equal(itr_cuda_vseinf_encode_images(cm, itr_f32(&img), itr_i64(&il), N, R, ci, NULL, NULL, NULL), ITR_OK);
    assert_int_equal(itr_cuda_vseinf_encode_captions(cm, itr_i64(&caps), itr_i64(&lens), n, T, cc, cin, NULL, NULL, cb),
                     ITR_OK);
    assert_int_equal(itr_cuda_vseinf_sims(cm, ci, N, cc, n, cs), ITR_OK);
    itr_tensor gi, gc, gs, gin, gb = {0};
    read_ds(f, "/outputs/img_emb", ITR_F32, &gi);
    read_ds(f, "/outputs/cap_emb", ITR_F32, &gc);
    read_ds(f, "/outputs/sims", ITR_F64, &gs);
    read_ds(f, "/outputs/cap_gpo_features", ITR_F32, &gin);
    printf(" golden\n");
    bad += cmp("img_emb              CUDA vs golden", ci, itr_f32(&gi), N * E);
    bad += cmp("cap_emb              CUDA vs golden", cc, itr_f32(&gc), n * E);
    bad += cmp_f64("sims                 CUDA vs golden", cs, itr_f64(&gs), N * n);
    bad += cmp("cap_gpo_features     CUDA vs golden", cin, itr_f32(&gin), n * T * E);
    if (bert) {
        read_ds(f, "/outputs/cap_bert_emb", ITR_F32, &gb);
        bad += cmp("cap_bert_emb         CUDA vs golden", cb, itr_f32(&gb), n * T * H);
    }
    double *rs = malloc(sizeof(double) * N * n);
    assert_non_null(rs);
    itr_vseinf_sims(&m, ci, N, cc, n, rs);
    bad += cmp_f64("sims, same embeddings  CUDA vs ref", cs, rs, N * n);
    itr_cuda_vseinf_destroy(cm);
    itr_tensor *all[] = {&img, &il, &caps, &lens, &gi, &gc, &gs, &gin, &gb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) itr_tensor_free(all[i]);
    free(r_emb), free(r_in), free(r_th), free(r_po), free(ci), free(cc), free(cin), free(cb), free(cs), free(rs);
    itr_h5_close(f);
    itr_checkpoint_free(ck);
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

static void test_fixture_bigru(void **state) {
    (void)state;
    run_fixture("vseinf_bigru_small");
}

static void test_fixture_bert(void **state) {
    (void)state;
    run_fixture("vseinf_bert_small");
}

static void test_create_errors(void **state) {
    (void)state;
    itr_cuda_vseinf *m = NULL;
    itr_vseinf empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(itr_cuda_vseinf_create(NULL, &m), ITR_E_ARG);
    assert_int_equal(itr_cuda_vseinf_create(&empty, &m), ITR_E_ARG);
    assert_null(m);
    itr_cuda_gpo *g = NULL;
    itr_gpo bad_gpo;
    memset(&bad_gpo, 0, sizeof bad_gpo);
    assert_int_not_equal(itr_cuda_gpo_create(&bad_gpo, &g), ITR_OK);
    itr_cuda_vseinf_destroy(NULL);
    itr_cuda_gpo_destroy(NULL);
    itr_cuda_bert_destroy(NULL);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpo),         cmocka_unit_test(test_images),        cmocka_unit_test(test_bigru),
        cmocka_unit_test(test_bert_random), cmocka_unit_test(test_fixture_bigru), cmocka_unit_test(test_fixture_bert),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
