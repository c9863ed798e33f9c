/* itr/models/scan.h - SCAN (kuanghuei/SCAN), precomputed region features.
 * Spec: specs/scan_sgraf.md s2.1, s3.1-3.2, s4.1-4.4, s4.6, s5.2, s6.1.
 * Reference: ref/models/scan.c.
 *
 *   regions  V_r = l2n( W_fc f_r + b_fc )            (R, D) per image
 *   words    T_t = l2n( GRU(Embed(ids))_t )          (L, D) per caption,
 *            bi_gru: the mean of the two directions
 *   score    s(V, T) = cross attention t2i | i2t (itr_scan_scores, itr/losses.h)
 * l2n(x) = x / (||x|| + 1e-8) (QUIRK-S4). */
#ifndef ITR_MODELS_SCAN_H
#define ITR_MODELS_SCAN_H

#include "itr/config.h"
#include "itr/losses.h"
#include "itr/ops.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_scan_config {
    int64_t img_dim, embed_size, word_dim, vocab_size;
    int num_layers, bi_gru;
    int weight_norm;           /* precomp_enc_type "weight_norm" (fc.weight_g/_v) */
    int no_imgnorm, no_txtnorm;
    itr_scan_params attn;      /* cross_attn, raw_feature_norm, agg_func, lambdas */
    double margin;
    int max_violation;
} itr_scan_config;

typedef struct itr_scan {
    itr_scan_config cfg;
    const float *fc_w;     /* (D, img_dim): the checkpoint's, or fc_w_owned */
    const float *fc_b;     /* (D)                                            */
    float *fc_w_owned;     /* weight_norm: W = g V / ||V||_F, owned           */
    const float *embed;    /* (V, word_dim)                                  */
    itr_gru gru;           /* word_dim -> D, num_layers, 1 or 2 directions   */
} itr_scan;

/* Builds the model from a checkpoint's opt and weights (group "0" image
 * encoder, "1" text encoder), strict on keys and shapes. Sizes come from the
 * tensors and are cross-checked with opt. The model points into w (which
 * must outlive it) and must be released with itr_scan_free. */
itr_status itr_scan_load(itr_scan *m, const itr_config *opt, itr_weights *w);
void itr_scan_free(itr_scan *m);

/* images (n, R, img_dim) -> img_emb (n, R, D) float32 (s4.2) */
itr_status itr_scan_encode_images(const itr_scan *m, const float *images, int64_t n, int64_t R,
                                  float *img_emb);
/* captions (n, T) ids, lengths (n) in [1, T] -> cap_emb (n, T, D) float32,
 * rows t >= lengths[k] are 0 (s4.3). */
itr_status itr_scan_encode_captions(const itr_scan *m, const int64_t *captions, const int64_t *lengths,
                                    int64_t n, int64_t T, float *cap_emb);

/* Evaluation scores (s5.2, QUIRK-S1): the float32 embeddings widened to
 * float64 and scored in float64. img_emb (n_img, R, D), cap_emb (n_cap, T, D)
 * with lengths (n_cap) -> sims (n_img, n_cap). Rectangular (the loss-side
 * itr_scan_scores_f64 is square; it is called one pair at a time). */
itr_status itr_scan_sims_f64(const itr_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                             const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                             double *sims);

/* One pair in float64 with its intermediates (s4.4 steps 1-6), as upstream
 * func_attention / xattn_score_* name them. Q (nq, d) queries, C (nc, d)
 * context. Outputs (each may be NULL):
 *   attnT   (nc, nq)  attention, softmax over axis 0 (the context)
 *   wei     (nq, d)   weiContext: attended context of every query
 *   row_sim (nq)      cosine of each query with its attended context
 * *score receives the aggregated pair score. */
itr_status itr_scan_pair_f64(const itr_scan_params *p, const double *Q, int64_t nq, const double *C,
                             int64_t nc, int64_t d, double *attnT, double *wei, double *row_sim,
                             double *score);

#ifdef __cplusplus
}
#endif
#endif
