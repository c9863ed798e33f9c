/* itr/cuda/sgraf.h - SGRAF (SGR, SAF) on CUDA: evaluation forward with the
 * semantics of include/itr/models/sgraf.h (same inputs, same outputs, strict
 * float32, <= 1e-5 from the reference). Host pointers in and out; the model's
 * weights and all intermediates live on the device.
 *
 *   m = itr_cuda_sgraf_create(&ref)      uploads a loaded reference model
 *   encode_images / encode_captions      as itr_sgraf_encode_*
 *   visual_sa / text_sa                  v_glo / t_glo of many images / captions
 *   attention                            itr_sgraf_attention of one caption over many images
 *   sims                                 the (n_img, n_cap) matrix as itr_sgraf_sims
 *
 * The similarity matrix is computed in tiles of (image block x caption
 * block) pairs, every stage of the pair network batched over the whole tile
 * (docs/cuda-sgraf.md). Spec: specs/scan_sgraf.md s4.5, s5.3. */
#ifndef ITR_CUDA_SGRAF_H
#define ITR_CUDA_SGRAF_H

#include <stdint.h>

#include "itr/models/sgraf.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cuda_sgraf itr_cuda_sgraf;

/* Uploads the weights of `ref` (an itr_sgraf_load'ed model; it need not
 * outlive the CUDA model). */
itr_status itr_cuda_sgraf_create(const itr_sgraf *ref, itr_cuda_sgraf **out);
void itr_cuda_sgraf_destroy(itr_cuda_sgraf *m);   /* NULL ok */

/* images (n, R, img_dim) -> img_emb (n, R, D) */
itr_status itr_cuda_sgraf_encode_images(itr_cuda_sgraf *m, const float *images, int64_t n, float *img_emb);
/* captions (n, T) ids, lengths in [1, T] -> cap_emb (n, T, D), 0 beyond each length */
itr_status itr_cuda_sgraf_encode_captions(itr_cuda_sgraf *m, const int64_t *captions, const int64_t *lengths,
                                          int64_t n, int64_t T, float *cap_emb);

/* VisualSA of n images img_emb (n, R, D) -> v_glo (n, D). */
itr_status itr_cuda_sgraf_visual_sa(itr_cuda_sgraf *m, const float *img_emb, int64_t n, float *v_glo);
/* TextSA of n captions cap_emb (n, T, D) with lengths -> t_glo (n, D). */
itr_status itr_cuda_sgraf_text_sa(itr_cuda_sgraf *m, const float *cap_emb, const int64_t *lengths, int64_t n,
                                  int64_t T, float *t_glo);

/* SGRAF's SCAN attention (lambda 9, clipped l2norm, context re-normalised) of
 * one caption's L words cap (L, D) over each of n_img images img_emb
 * (n_img, R, D) -> ctx (n_img, L, D), as itr_sgraf_attention per image. */
itr_status itr_cuda_sgraf_attention(itr_cuda_sgraf *m, const float *cap, int64_t L, const float *img_emb,
                                    int64_t n_img, float *ctx);

/* Full matrix sims (n_img, n_cap), float64 holding float32 scores, as
 * itr_sgraf_sims: img_emb (n_img, R, D), cap_emb (n_cap, T, D) with lengths.
 * img_glo (n_img, D) / cap_glo (n_cap, D) receive the pooled vectors when
 * non-NULL. */
itr_status itr_cuda_sgraf_sims(itr_cuda_sgraf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                               const int64_t *lengths, int64_t n_cap, int64_t T, double *sims, float *img_glo,
                               float *cap_glo);

/* Tiling of itr_cuda_sgraf_sims (results do not depend on it): at most
 * caps_per_block captions per block, and image blocks sized so that a tile
 * holds about word_rows (image, word) rows (at least one image). 0 keeps a
 * value; the defaults are 256 and 65536. Tests shrink them to cover partial
 * tiles. */
itr_status itr_cuda_sgraf_set_tiling(itr_cuda_sgraf *m, int64_t caps_per_block, int64_t word_rows);

#ifdef __cplusplus
}
#endif
#endif
