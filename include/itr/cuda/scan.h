/* itr/cuda/scan.h - SCAN on CUDA: evaluation forward with the semantics of
 * include/itr/models/scan.h (same inputs, same outputs). Host pointers in and
 * out; the model's weights and all intermediates live on the device.
 *
 *   m = itr_cuda_scan_create(&ref)      uploads a loaded reference model
 *   encode_images / encode_captions     as itr_scan_encode_* (float32)
 *   sims_f64                            the (n_img, n_cap) float64 matrix as itr_scan_sims_f64
 *   caption_f64                         one caption against many images, with the
 *                                       intermediates of itr_scan_pair_f64
 *
 * The score matrix is computed in tiles of (image block x caption block): one
 * DGEMM gives every region-word dot of the tile, one kernel launch normalises,
 * attends and aggregates every pair of it; the attended context is never
 * formed (q.a = sum_c P_c (q.C_c), ||a||^2 = P^T G P with the context's Gram
 * matrix G), see docs/cuda-scan.md. Spec: specs/scan_sgraf.md s4.2-4.4, s5.2. */
#ifndef ITR_CUDA_SCAN_H
#define ITR_CUDA_SCAN_H

#include <stdint.h>

#include "itr/models/scan.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cuda_scan itr_cuda_scan;

/* Uploads the weights of `ref` (an itr_scan_load'ed model; it need not
 * outlive the CUDA model). The weight_norm fc is the one already folded into
 * ref->fc_w. */
itr_status itr_cuda_scan_create(const itr_scan *ref, itr_cuda_scan **out);
void itr_cuda_scan_destroy(itr_cuda_scan *m);   /* NULL ok */

/* images (n, R, img_dim) -> img_emb (n, R, D): fc, then l2n per region
 * unless no_imgnorm (s4.2). */
itr_status itr_cuda_scan_encode_images(itr_cuda_scan *m, const float *images, int64_t n, int64_t R,
                                       float *img_emb);
/* captions (n, T) ids, lengths (n) in [1, T] -> cap_emb (n, T, D): embedding,
 * packed GRU (bi_gru: mean of the directions), l2n per word unless
 * no_txtnorm; rows t >= lengths[k] are 0 (s4.3). */
itr_status itr_cuda_scan_encode_captions(itr_cuda_scan *m, const int64_t *captions, const int64_t *lengths,
                                         int64_t n, int64_t T, float *cap_emb);

/* Evaluation scores as itr_scan_sims_f64 (s5.2, QUIRK-S1): img_emb
 * (n_img, R, D), cap_emb (n_cap, T, D) float32 with lengths (n_cap) in
 * [1, T], scored in float64 with the model's cross_attn, raw_feature_norm,
 * agg_func, lambda_softmax and lambda_lse -> sims (n_img, n_cap). */
itr_status itr_cuda_scan_sims_f64(itr_cuda_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                                  const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                                  double *sims);

/* One caption cap (L, D) against each of n_img images img_emb (n_img, R, D)
 * in float64, with the intermediates itr_scan_pair_f64 names (queries /
 * context as cross_attn says: t2i nq = L, nc = R; i2t nq = R, nc = L). Each
 * output may be NULL:
 *   attnT   (n_img, nc, nq)  attention, softmax over the context
 *   wei     (n_img, nq, D)   attended context of every query (formed here)
 *   row_sim (n_img, nq)      cosine of each query with its attended context
 *   scores  (n_img)          aggregated pair scores */
itr_status itr_cuda_scan_caption_f64(itr_cuda_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                                     const float *cap, int64_t L, double *attnT, double *wei, double *row_sim,
                                     double *scores);

/* Tiling of itr_cuda_scan_sims_f64 (results do not depend on it): image
 * blocks of at most img_block images, caption blocks of at most word_block
 * words (whole captions, at least one), 0 keeps a value; the defaults are 256
 * and 4096. stage: 1 (default) stages each pair's dot tile in shared memory
 * when it fits, 0 always reads it from global memory. Tests shrink the blocks
 * to cover partial tiles. */
itr_status itr_cuda_scan_set_tiling(itr_cuda_scan *m, int64_t img_block, int64_t word_block, int stage);

#ifdef __cplusplus
}
#endif
#endif
