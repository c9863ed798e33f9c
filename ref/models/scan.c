/* scan.c - SCAN (Lee et al. 2018; kuanghuei/SCAN), precomputed regions.
 *
 * Spec: specs/scan_sgraf.md. Two encoders into a joint space of size D and a
 * cross-attention score between an image's R regions and a caption's words:
 *   image   (s4.2):  V_r = W_fc f_r + b_fc,  V_r = l2n(V_r) unless no_imgnorm
 *                    (weight_norm: W_fc = g V / ||V||_F, s3.1)
 *   caption (s4.3):  T_t = GRU output at t (bi_gru: mean of both directions),
 *                    T_t = l2n(T_t) unless no_txtnorm
 *   score   (s4.4):  itr_scan_scores (ref/losses/scan_sims.c), evaluated in
 *                    float64 on the float32 embeddings (s4.6, QUIRK-S1).
 * l2n(x) = x / (||x|| + 1e-8) (QUIRK-S4). */
#include "itr/models/scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef ITR_USE_CBLAS
#include <cblas.h>
#endif

static const char *IMG = "0";   /* checkpoint['model'][0] = img_enc state dict */
static const char *TXT = "1";   /* checkpoint['model'][1] = txt_enc state dict */

#define SCAN_EPS 1e-8           /* l2norm eps (added) and cosine eps (clamp), s2.3 */
#define SCAN_LRELU_SLOPE 0.1    /* "clipped" = nn.LeakyReLU(0.1), QUIRK-S2 */

/* The non-size options of s2.1. */
static itr_status load_options(itr_scan_config *c, const itr_config *opt) {
    itr_status st;
    const char *cross_attn, *norm, *agg, *enc;
    int64_t layers;
    itr_scan_params_default(&c->attn);
    if ((st = itr_config_get_str(opt, "cross_attn", "t2i", &cross_attn))) return st;
    if ((st = itr_config_get_str(opt, "raw_feature_norm", "clipped_l2norm", &norm))) return st;
    if ((st = itr_config_get_str(opt, "agg_func", "LogSumExp", &agg))) return st;
    if ((st = itr_scan_params_parse(&c->attn, cross_attn, norm, agg))) return itr_fail_context(st, "SCAN opt");
    if ((st = itr_config_get_float(opt, "lambda_softmax", 9.0, &c->attn.lambda_softmax))) return st;
    if ((st = itr_config_get_float(opt, "lambda_lse", 6.0, &c->attn.lambda_lse))) return st;
    if ((st = itr_config_get_int(opt, "num_layers", 1, &layers))) return st;
    if (layers < 1 || layers > ITR_GRU_MAX_LAYERS)
        return itr_fail(ITR_E_UNSUPPORTED, "SCAN: opt.num_layers = %lld outside 1..%d", (long long)layers,
                        ITR_GRU_MAX_LAYERS);
    c->num_layers = (int)layers;
    if ((st = itr_config_get_bool(opt, "bi_gru", 0, &c->bi_gru))) return st;
    if ((st = itr_config_get_bool(opt, "no_imgnorm", 0, &c->no_imgnorm))) return st;
    if ((st = itr_config_get_bool(opt, "no_txtnorm", 0, &c->no_txtnorm))) return st;
    if ((st = itr_config_get_bool(opt, "max_violation", 0, &c->max_violation))) return st;
    if ((st = itr_config_get_float(opt, "margin", 0.2, &c->margin))) return st;
    if ((st = itr_config_get_str(opt, "precomp_enc_type", c->weight_norm ? "weight_norm" : "basic", &enc)))
        return st;
    if (strcmp(enc, c->weight_norm ? "weight_norm" : "basic") != 0)
        return itr_fail(ITR_E_KEY, "SCAN: opt.precomp_enc_type = '%s' but the image fc has %s", enc,
                        c->weight_norm ? "fc.weight_g/fc.weight_v (weight_norm)" : "fc.weight (basic)");
    return ITR_OK;
}

/* weight_norm with dim=None (s3.1): W = V * (g / ||V||_F), one scalar g for
 * the whole matrix. The norm is accumulated in double, the product in float
 * as torch's v.mul(g.div(norm)). */
static itr_status weight_norm(itr_scan *m, itr_weights *w) {
    const itr_tensor *g, *v;
    itr_status st;
    if ((st = itr_weights_get(w, IMG, "fc.weight_g", -1, NULL, &g))) return st;
    if ((st = itr_weights_get(w, IMG, "fc.weight_v", 2, (int64_t[]){-1, -1}, &v))) return st;
    if (itr_tensor_numel(g) != 1) {
        char buf[64];
        return itr_fail(ITR_E_SHAPE, "%s: group 0 key fc.weight_g: expected one scalar, got shape %s",
                        w->source ? w->source : "weights", itr_shape_str(g->ndim, g->shape, buf, sizeof buf));
    }
    int64_t n = itr_tensor_numel(v);
    double ss = 0.0;
    for (int64_t k = 0; k < n; k++) ss += (double)itr_f32(v)[k] * (double)itr_f32(v)[k];
    float scale = itr_f32(g)[0] / (float)sqrt(ss);
    m->fc_w_owned = malloc((size_t)n * sizeof *m->fc_w_owned);
    if (!m->fc_w_owned) return itr_fail(ITR_E_NOMEM, "SCAN: out of memory for the weight_norm fc (%lld)", (long long)n);
    for (int64_t k = 0; k < n; k++) m->fc_w_owned[k] = itr_f32(v)[k] * scale;
    m->fc_w = m->fc_w_owned;
    m->cfg.embed_size = v->shape[0];
    m->cfg.img_dim = v->shape[1];
    return ITR_OK;
}

itr_status itr_scan_load(itr_scan *m, const itr_config *opt, itr_weights *w) {
    itr_status st;
    const itr_tensor *t;
    memset(m, 0, sizeof *m);
    itr_scan_config *c = &m->cfg;

    /* Image fc: basic (fc.weight) or weight_norm (fc.weight_g + fc.weight_v), s3.1. */
    itr_weights_begin(w);
    c->weight_norm = itr_weights_has(w, IMG, "fc.weight_g");
    if (c->weight_norm) {
        if ((st = weight_norm(m, w))) goto fail;
    } else {
        if ((st = itr_weights_get(w, IMG, "fc.weight", 2, (int64_t[]){-1, -1}, &t))) goto fail;
        m->fc_w = itr_f32(t);
        c->embed_size = t->shape[0];
        c->img_dim = t->shape[1];
    }
    if ((st = itr_weights_get(w, TXT, "embed.weight", 2, (int64_t[]){-1, -1}, &t))) goto fail;
    m->embed = itr_f32(t);
    c->vocab_size = t->shape[0];
    c->word_dim = t->shape[1];

    if ((st = load_options(c, opt))) goto done;
    if ((st = itr_config_check_size(opt, "embed_size", c->embed_size))) goto done;
    if ((st = itr_config_check_size(opt, "img_dim", c->img_dim))) goto done;
    if ((st = itr_config_check_size(opt, "word_dim", c->word_dim))) goto done;
    if ((st = itr_config_check_size(opt, "vocab_size", c->vocab_size))) goto done;

    m->fc_b = itr_weights_f32(w, IMG, "fc.bias", 1, (int64_t[]){c->embed_size});
    itr_gru_load(&m->gru, w, TXT, "rnn.", c->word_dim, c->embed_size, c->num_layers, c->bi_gru);
    /* strict, as load_state_dict is upstream: every key used */
    if ((st = itr_weights_finish(w, ITR_STRICT))) goto done;
    return ITR_OK;
fail: {
    /* the store's message lists every missing key / wrong shape at once */
    itr_status listed = itr_weights_finish(w, ITR_LENIENT);
    if (listed) st = listed;
}
done:
    itr_scan_free(m);
    return st;
}

void itr_scan_free(itr_scan *m) {
    free(m->fc_w_owned);
    m->fc_w_owned = NULL;
    m->fc_w = NULL;
}

itr_status itr_scan_encode_images(const itr_scan *m, const float *images, int64_t n, int64_t R,
                                  float *img_emb) {
    const itr_scan_config *c = &m->cfg;
    if (n < 1 || R < 1)
        return itr_fail(ITR_E_SHAPE, "SCAN: images (%lld, %lld, %lld): nothing to encode", (long long)n,
                        (long long)R, (long long)c->img_dim);
    /* QUIRK-C1: the raw features enter the fc unnormalised. */
    itr_linear(images, n * R, c->img_dim, m->fc_w, m->fc_b, c->embed_size, img_emb);
    if (!c->no_imgnorm) itr_l2norm_rows(img_emb, n * R, c->embed_size, ITR_EPS_ADD, (float)SCAN_EPS);
    return ITR_OK;
}

itr_status itr_scan_encode_captions(const itr_scan *m, const int64_t *captions, const int64_t *lengths,
                                    int64_t n, int64_t T, float *cap_emb) {
    const itr_scan_config *c = &m->cfg;
    int64_t D = c->embed_size, W = c->word_dim, dirs = c->bi_gru ? 2 : 1;
    if (n < 1 || T < 1)
        return itr_fail(ITR_E_SHAPE, "SCAN: captions (%lld, %lld): nothing to encode", (long long)n, (long long)T);
    float *x = malloc((size_t)(n * T * W) * sizeof *x);
    float *out = malloc((size_t)(n * T * dirs * D) * sizeof *out);
    itr_status st = ITR_OK;
    if (!x || !out) {
        st = itr_fail(ITR_E_NOMEM, "SCAN: out of memory for %lld captions of %lld words", (long long)n,
                      (long long)T);
        goto done;
    }
    if ((st = itr_embedding(m->embed, c->vocab_size, W, captions, n * T, x))) goto done;
    /* packed sequence: padding never enters the recurrence; out is 0 beyond */
    if ((st = itr_gru_forward(&m->gru, x, lengths, n, T, out, NULL))) goto done;
    for (int64_t k = 0; k < n * T; k++) {
        const float *o = out + k * dirs * D;
        float *e = cap_emb + k * D;
        /* bi_gru: (forward + backward) / 2, s4.3 */
        for (int64_t u = 0; u < D; u++) e[u] = dirs == 2 ? (o[u] + o[D + u]) / 2.0f : o[u];
    }
    /* zero rows (padding) stay zero: 0 / (0 + eps) */
    if (!c->no_txtnorm) itr_l2norm_rows(cap_emb, n * T, D, ITR_EPS_ADD, (float)SCAN_EPS);
done:
    free(x);
    free(out);
    return st;
}

static double dot(const double *x, const double *y, int64_t d);
static void first_norm(itr_scan_norm norm, double *a, int64_t nq);
static double aggregate(const itr_scan_params *p, const double *r, int64_t nq);

/* t2i, batched (s4.4 steps 1-6 as itr_scan_pair_f64, queries = words,
 * context = regions): one image V (R, D) against a block of nb captions
 * Cw (nb, T, D) of lengths len -> out[b]. The block's words are stacked
 * (W = nb*T rows, padding included and ignored), so the logits are one GEMM
 * against the one image; the first norm, cosines and aggregation stay per
 * caption.
 *
 * The attended context a_w = sum_c A_wc V_c (D wide) is never formed: its
 * cosine with the word q_w needs only
 *   q_w . a_w   = sum_c A_wc (V_c . q_w)          the raw logits S0[c][w]
 *   ||a_w||^2   = sum_c sum_c' A_wc A_wc' G_cc'   G = V V^T, the image's (R, R) Gram matrix
 *   ||q_w||^2   once per word (qq), not once per pair,
 * the same numbers as the D-wide sums up to float64 rounding, for 2R + 2R^2
 * flops per word instead of 2RD + 6D (itr_scan_pair_f64 keeps the literal
 * form). ws: t2i_ws_doubles(R, T) doubles per thread. */
enum { SCAN_TILE = 64, SCAN_IMG_GROUP = 4 };

/* Workspace of one t2i_group call: S0 for the group's images, then S, A, G,
 * Ga and the row cosines of one image (see t2i_group). */
static int64_t t2i_ws_doubles(int64_t R, int64_t T) {
    int64_t W = SCAN_TILE * T;
    return SCAN_IMG_GROUP * R * W + R * W + W * R + R * R + R + T;
}

/* One image: S0 (R, W) its raw logits (read only), S (R, W) scratch. */
static void t2i_tile(const itr_scan_params *p, const double *V, int64_t R, const double *S0, const double *qq,
                     const int64_t *len, int64_t nb, int64_t T, int64_t D, double *out, double *S, double *A,
                     double *G, double *Ga, double *r) {
    int64_t W = nb * T;
    memcpy(S, S0, (size_t)(R * W) * sizeof *S);
    itr_dgemm(0, 1, R, R, D, 1.0, V, D, V, D, 0.0, G, R);    /* G = V V^T */
    for (int64_t c = 0; c < R; c++)   /* each region's row, over each caption's own words */
        for (int64_t b = 0; b < nb; b++) first_norm(p->norm, S + c * W + b * T, len[b]);
    for (int64_t w = 0; w < W; w++)
        for (int64_t c = 0; c < R; c++) A[w * R + c] = p->lambda_softmax * S[c * W + w];
    itr_softmax_axis_f64(A, W, R, 1);
    for (int64_t b = 0; b < nb; b++) {
        for (int64_t q = 0; q < len[b]; q++) {
            int64_t w = b * T + q;
            const double *a = A + w * R;
            double qa = 0.0, aa = 0.0;
            for (int64_t c = 0; c < R; c++) qa += a[c] * S0[c * W + w];
            for (int64_t c = 0; c < R; c++) {
                double g = 0.0;
                for (int64_t c2 = 0; c2 < R; c2++) g += G[c * R + c2] * a[c2];
                Ga[c] = g;
            }
            for (int64_t c = 0; c < R; c++) aa += a[c] * Ga[c];
            double den = sqrt(qq[w]) * sqrt(aa > 0.0 ? aa : 0.0);
            r[q] = qa / (den > SCAN_EPS ? den : SCAN_EPS);   /* QUIRK-S4 clamp */
        }
        out[b] = aggregate(p, r, len[b]);
    }
}

/* ng <= SCAN_IMG_GROUP consecutive images V (ng, R, D) against one caption
 * block: the logits of all ng * R regions come from ONE GEMM, so the block's
 * words are packed by OpenBLAS once per group rather than once per 36-row
 * image (with M = 36 that packing costs about as much as the multiply).
 * Image g's raw logits are rows g*R .. g*R + R - 1. */
static void t2i_group(const itr_scan_params *p, const double *V, int64_t ng, int64_t R, const double *Cw,
                      const double *qq, const int64_t *len, int64_t nb, int64_t T, int64_t D, double *out,
                      int64_t out_stride, double *ws) {
    int64_t W = nb * T;
    double *S0 = ws, *S = S0 + SCAN_IMG_GROUP * R * W, *A = S + R * W, *G = A + W * R, *Ga = G + R * R, *r = Ga + R;
    itr_dgemm(0, 1, ng * R, W, D, 1.0, V, D, Cw, D, 0.0, S0, W);   /* S0[c][w] = V_c . word_w */
    for (int64_t g = 0; g < ng; g++)
        t2i_tile(p, V + g * R * D, R, S0 + g * R * W, qq, len, nb, T, D, out + g * out_stride, S, A, G, Ga, r);
}

itr_status itr_scan_sims_f64(const itr_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                             const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                             double *sims) {
    int64_t D = m->cfg.embed_size;
    if (n_img < 1 || n_cap < 1 || R < 1 || T < 1)
        return itr_fail(ITR_E_SHAPE, "SCAN sims: img_emb (%lld, %lld, %lld), cap_emb (%lld, %lld, %lld): empty",
                        (long long)n_img, (long long)R, (long long)D, (long long)n_cap, (long long)T, (long long)D);
    /* QUIRK-S1: encode_data caches float64 arrays holding the float32 values */
    double *im = malloc((size_t)(n_img * R * D) * sizeof *im);
    double *s = malloc((size_t)(n_cap * T * D) * sizeof *s);
    itr_status st = ITR_OK;
    if (!im || !s) {
        st = itr_fail(ITR_E_NOMEM, "SCAN sims: out of memory for %lld x %lld", (long long)n_img, (long long)n_cap);
        goto done;
    }
    for (int64_t k = 0; k < n_img * R * D; k++) im[k] = img_emb[k];
    for (int64_t k = 0; k < n_cap * T * D; k++) s[k] = cap_emb[k];
    /* shard_xattn_*: one caption against the images at a time (s5.2); the
     * loss-side scorer is square, so each (image, caption) is a 1 x 1 batch.
     * Pairs are independent: with OpenMP they are split across threads, each
     * running the serial scorer, so the matrix is bit-identical for any thread
     * count (OpenBLAS held at one thread inside, as in itr_sgraf_sims). The
     * error message is thread-local, so the first failing pair is re-scored
     * on this thread to report it. */
    int64_t n_pairs = n_img * n_cap, first_bad = n_pairs;
#ifdef ITR_USE_CBLAS
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#endif
    if (m->cfg.attn.dir == ITR_SCAN_T2I) {
        /* batched tiles (t2i_group): (image group, caption block), one workspace per thread */
        int n_threads = 1;
#ifdef _OPENMP
        n_threads = omp_get_max_threads();
#endif
        int64_t n_blocks = (n_cap + SCAN_TILE - 1) / SCAN_TILE;
        int64_t n_groups = (n_img + SCAN_IMG_GROUP - 1) / SCAN_IMG_GROUP, n_tiles = n_groups * n_blocks;
        int64_t per_thread = t2i_ws_doubles(R, T);
        double *ws = malloc((size_t)(n_threads * per_thread) * sizeof *ws);
        double *qq = malloc((size_t)(n_cap * T) * sizeof *qq);   /* ||word||^2, once per word */
        for (int64_t w = 0; qq && w < n_cap * T; w++) qq[w] = dot(s + w * D, s + w * D, D);
        if (!ws || !qq) {
            st = itr_fail(ITR_E_NOMEM, "SCAN sims: out of memory for %d workspaces", n_threads);
            first_bad = 0;
            n_tiles = 0;
        }
        for (int64_t j = 0; j < n_cap && ws; j++)
            if (lengths[j] < 1 || lengths[j] > T) {   /* the scorer's own check reports it below */
                first_bad = j;
                n_tiles = 0;
                break;
            }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
        for (int64_t t = 0; t < n_tiles; t++) {
            int64_t thread = 0;
#ifdef _OPENMP
            thread = omp_get_thread_num();
#endif
            int64_t i = (t / n_blocks) * SCAN_IMG_GROUP, j0 = (t % n_blocks) * SCAN_TILE;
            int64_t ng = n_img - i < SCAN_IMG_GROUP ? n_img - i : SCAN_IMG_GROUP;
            int64_t nb = n_cap - j0 < SCAN_TILE ? n_cap - j0 : SCAN_TILE;
            t2i_group(&m->cfg.attn, im + i * R * D, ng, R, s + j0 * T * D, qq + j0 * T, lengths + j0, nb, T, D,
                      sims + i * n_cap + j0, n_cap, ws + thread * per_thread);
        }
        free(ws);
        free(qq);
        n_pairs = 0;   /* done (or failed before starting) */
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) reduction(min : first_bad)
#endif
    for (int64_t p = 0; p < n_pairs; p++) {
        int64_t i = p / n_cap, j = p % n_cap;
        if (itr_scan_scores_f64(&m->cfg.attn, im + i * R * D, R, s + j * T * D, lengths + j, T, 1, D, sims + p) &&
            p < first_bad)
            first_bad = p;
    }
#ifdef ITR_USE_CBLAS
    openblas_set_num_threads(blas_threads);
#endif
    if (!st && first_bad < n_img * n_cap) {
        int64_t i = first_bad / n_cap, j = first_bad % n_cap;
        st = itr_scan_scores_f64(&m->cfg.attn, im + i * R * D, R, s + j * T * D, lengths + j, T, 1, D,
                                 sims + first_bad);
    }
done:
    free(im);
    free(s);
    return st;
}

static double dot(const double *x, const double *y, int64_t d) {
    double acc = 0.0;
    for (int64_t k = 0; k < d; k++) acc += x[k] * y[k];
    return acc;
}

/* Step 2 of s4.4 on one row a (nq): one context item across all queries
 * (QUIRK-S3: the query axis). */
static void first_norm(itr_scan_norm norm, double *a, int64_t nq) {
    if (norm == ITR_SCAN_NORM_SOFTMAX) {
        itr_softmax_axis_f64(a, 1, nq, 1);
        return;
    }
    if (norm == ITR_SCAN_NORM_CLIPPED_L2 || norm == ITR_SCAN_NORM_CLIPPED)
        for (int64_t q = 0; q < nq; q++) a[q] = a[q] > 0.0 ? a[q] : SCAN_LRELU_SLOPE * a[q];  /* QUIRK-S2 */
    if (norm == ITR_SCAN_NORM_CLIPPED_L2 || norm == ITR_SCAN_NORM_L2) {
        double den = sqrt(dot(a, a, nq)) + SCAN_EPS;   /* QUIRK-S4: eps added */
        for (int64_t q = 0; q < nq; q++) a[q] /= den;
    }
}

/* Step 6 of s4.4: aggregate the nq cosines r over the queries. */
static double aggregate(const itr_scan_params *p, const double *r, int64_t nq) {
    double agg = 0.0;
    switch (p->agg) {
    case ITR_SCAN_AGG_LSE:   /* QUIRK-S7: literally, no max shift */
        for (int64_t q = 0; q < nq; q++) agg += exp(p->lambda_lse * r[q]);
        agg = log(agg) / p->lambda_lse;
        break;
    case ITR_SCAN_AGG_MAX:
        agg = r[0];
        for (int64_t q = 1; q < nq; q++) agg = r[q] > agg ? r[q] : agg;
        break;
    case ITR_SCAN_AGG_MEAN:
    case ITR_SCAN_AGG_SUM:
        for (int64_t q = 0; q < nq; q++) agg += r[q];
        if (p->agg == ITR_SCAN_AGG_MEAN) agg /= (double)nq;
        break;
    }
    return agg;
}

itr_status itr_scan_pair_f64(const itr_scan_params *p, const double *Q, int64_t nq, const double *C,
                             int64_t nc, int64_t d, double *attnT, double *wei, double *row_sim,
                             double *score) {
    if (!p || !Q || !C || !score) return itr_fail(ITR_E_ARG, "itr_scan_pair_f64: NULL argument");
    if (nq < 1 || nc < 1 || d < 1)
        return itr_fail(ITR_E_SHAPE, "itr_scan_pair_f64: Q (%lld, %lld), C (%lld, %lld): empty", (long long)nq,
                        (long long)d, (long long)nc, (long long)d);
    double *S = malloc((size_t)(nc * nq) * sizeof *S);      /* (nc, nq) logits */
    double *A = malloc((size_t)(nq * nc) * sizeof *A);      /* (nq, nc) attention */
    double *att = malloc((size_t)(nq * d) * sizeof *att);   /* (nq, d) weiContext */
    double *r = malloc((size_t)nq * sizeof *r);              /* (nq) row_sim */
    itr_status st = ITR_OK;
    if (!S || !A || !att || !r) {
        st = itr_fail(ITR_E_NOMEM, "itr_scan_pair_f64: out of memory (nq %lld, nc %lld)", (long long)nq,
                      (long long)nc);
        goto done;
    }
    /* 1-2: logits C Q^T, first norm along each context row */
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t q = 0; q < nq; q++) S[c * nq + q] = dot(C + c * d, Q + q * d, d);
        first_norm(p->norm, S + c * nq, nq);
    }
    /* 3-5: per query, softmax over the context of lambda_softmax * S, the
     * attended context and its cosine with the query (QUIRK-S4 clamp) */
    for (int64_t q = 0; q < nq; q++) {
        double *aq = A + q * nc, *a = att + q * d;
        for (int64_t c = 0; c < nc; c++) aq[c] = p->lambda_softmax * S[c * nq + q];
        itr_softmax_axis_f64(aq, 1, nc, 1);
        memset(a, 0, (size_t)d * sizeof *a);
        for (int64_t c = 0; c < nc; c++)
            for (int64_t k = 0; k < d; k++) a[k] += aq[c] * C[c * d + k];
        double den = sqrt(dot(Q + q * d, Q + q * d, d)) * sqrt(dot(a, a, d));
        r[q] = dot(Q + q * d, a, d) / (den > SCAN_EPS ? den : SCAN_EPS);
    }
    *score = aggregate(p, r, nq);
    if (attnT)   /* func_attention's attnT: (context, query) */
        for (int64_t c = 0; c < nc; c++)
            for (int64_t q = 0; q < nq; q++) attnT[c * nq + q] = A[q * nc + c];
    if (wei) memcpy(wei, att, (size_t)(nq * d) * sizeof *wei);
    if (row_sim) memcpy(row_sim, r, (size_t)nq * sizeof *row_sim);
done:
    free(S);
    free(A);
    free(att);
    free(r);
    return st;
}
