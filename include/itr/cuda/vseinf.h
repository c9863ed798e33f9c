/* itr/cuda/vseinf.h - VSE-infinity (GPO pooling) encoders on CUDA: the
 * evaluation forward with the semantics of include/itr/models/vseinf.h (same
 * inputs, same outputs and optional intermediates, strict float32, within
 * 1e-5 of the reference). Host pointers in and out; the weights and every
 * intermediate live on the device.
 *
 *   m = itr_cuda_vseinf_create(&ref)    uploads a loaded reference model
 *   encode_images                        s2.4 fc + MLP residual (BN eval) + GPO + L2Ne
 *   encode_captions                      s2.6 BiGRU (directions averaged) + GPO, or
 *                                        s2.7 BERT + linear + GPO, + L2Ne
 *   sims                                 v . u in float64, as itr_vseinf_sims
 * and the two building blocks on their own (tests, bench):
 *   itr_cuda_gpo_*                       GPO (s2.3) of many sets at once
 *   itr_cuda_bert_*                      a padded batch through BERT (s2.7)
 * Spec: specs/vsepp_vseinfty.md s2; design notes in docs/cuda-vseinf.md. */
#ifndef ITR_CUDA_VSEINF_H
#define ITR_CUDA_VSEINF_H

#include <stdint.h>

#include "itr/models/bert.h"
#include "itr/models/vseinf.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GPO (s2.3) ------------------------------------------------------------ */
typedef struct itr_cuda_gpo itr_cuda_gpo;

/* Uploads the GRU and linear weights of a loaded reference GPO. */
itr_status itr_cuda_gpo_create(const itr_gpo *ref, itr_cuda_gpo **out);
void itr_cuda_gpo_destroy(itr_cuda_gpo *g);   /* NULL ok */
/* x (n, K, D), lengths (n) each in [1, K] -> pooled (n, D) as itr_gpo_pool
 * per item; theta (n, K) or NULL receives the weights (0 beyond a length). */
itr_status itr_cuda_gpo_pool(itr_cuda_gpo *g, const float *x, const int64_t *lengths, int64_t n, int64_t K,
                             int64_t D, float *pooled, float *theta);

/* ---- BERT (s2.7) ------------------------------------------------------------- */
typedef struct itr_cuda_bert itr_cuda_bert;

/* Uploads the weights of a loaded reference BERT (itr_bert_load). */
itr_status itr_cuda_bert_create(const itr_bert *ref, itr_cuda_bert **out);
void itr_cuda_bert_destroy(itr_cuda_bert *b);   /* NULL ok */
/* ids (n, T), lengths (n) each in [1, min(T, max_pos)] -> out (n, T, hidden):
 * row t of item i is itr_bert_forward(ids_i, lengths_i) row t, 0 for t >=
 * length. Ids beyond a length are not read. */
itr_status itr_cuda_bert_forward(itr_cuda_bert *b, const int64_t *ids, const int64_t *lengths, int64_t n,
                                 int64_t T, float *out);

/* ---- The model (s2.4, s2.6, s2.7, s2.8) ----------------------------------------- */
typedef struct itr_cuda_vseinf itr_cuda_vseinf;

/* Uploads every weight of `ref` (an itr_vseinf_load'ed model; it need not
 * outlive the CUDA model). ref->l0_w == NULL selects the plain-FC image
 * aggregator of the grid models (s2.5: v = L2Ne(GPO(fc(x)))). */
itr_status itr_cuda_vseinf_create(const itr_vseinf *ref, itr_cuda_vseinf **out);
void itr_cuda_vseinf_destroy(itr_cuda_vseinf *m);   /* NULL ok */

/* As itr_vseinf_encode_images: images (n, R, img_dim), lengths (n) in [1, R]
 * -> img_emb (n, E); optional gpo_in (n, R, E), theta (n, R), pooled (n, E). */
itr_status itr_cuda_vseinf_encode_images(itr_cuda_vseinf *m, const float *images, const int64_t *lengths,
                                         int64_t n, int64_t R, float *img_emb, float *gpo_in, float *theta,
                                         float *pooled);
/* As itr_vseinf_encode_captions: captions (n, T), lengths (n) in [1, T]
 * -> cap_emb (n, E); optional gpo_in (n, T, E), theta (n, T), pooled (n, E),
 * bert_out (n, T, hidden) (BERT models only; ignored for BiGRU). */
itr_status itr_cuda_vseinf_encode_captions(itr_cuda_vseinf *m, const int64_t *captions, const int64_t *lengths,
                                           int64_t n, int64_t T, float *cap_emb, float *gpo_in, float *theta,
                                           float *pooled, float *bert_out);
/* At most max_items images / captions per device chunk (0: automatic,
 * bounded by a 512 MiB work buffer). Results do not depend on it; tests
 * shrink it to cover partial chunks. */
itr_status itr_cuda_vseinf_set_chunk(itr_cuda_vseinf *m, int64_t max_items);
/* sims (n_img, n_cap) = v . u, float64 products of the float32 embeddings. */
itr_status itr_cuda_vseinf_sims(itr_cuda_vseinf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                                int64_t n_cap, double *sims);

#ifdef __cplusplus
}
#endif
#endif
