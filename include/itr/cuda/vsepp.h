/* itr/cuda/vsepp.h - VSE++ (fartashf/vsepp, precomputed features) on CUDA:
 * the evaluation forward with the semantics of include/itr/models/vsepp.h
 * (same inputs, same outputs, strict float32 encoders within 1e-5 of the
 * reference, float64 scores). Host pointers in and out; weights and every
 * intermediate live on the device.
 *
 *   m = itr_cuda_vsepp_create(&ref)   uploads a loaded reference model
 *   encode_images     v = [|.|] L2N(W_fc f + b_fc)      (no L2N with no_imgnorm)
 *   encode_captions   u = [|.|] L2N(GRU(Embed(ids))[L-1])
 *   sims              cosine: float64 dot of the float32 embeddings (dgemm)
 *                     order:  -|| max(0, u - v) ||_2 accumulated in float64
 * Large inputs are processed in device-sized batches (results do not depend
 * on the batch size). Spec: specs/vsepp_vseinfty.md s1, s3.3. */
#ifndef ITR_CUDA_VSEPP_H
#define ITR_CUDA_VSEPP_H

#include <stdint.h>

#include "itr/models/vsepp.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cuda_vsepp itr_cuda_vsepp;

/* Uploads the weights of `ref` (an itr_vsepp_load'ed model; it need not
 * outlive the CUDA model). */
itr_status itr_cuda_vsepp_create(const itr_vsepp *ref, itr_cuda_vsepp **out);
void itr_cuda_vsepp_destroy(itr_cuda_vsepp *m);   /* NULL ok */

/* The configuration the model was created with. */
const itr_vsepp_config *itr_cuda_vsepp_config(const itr_cuda_vsepp *m);

/* images (n, img_dim) -> img_emb (n, E) */
itr_status itr_cuda_vsepp_encode_images(itr_cuda_vsepp *m, const float *images, int64_t n, float *img_emb);
/* captions (n, T) ids in [0, vocab) with lengths (n) in [1, T] -> cap_emb (n, E) */
itr_status itr_cuda_vsepp_encode_captions(itr_cuda_vsepp *m, const int64_t *captions, const int64_t *lengths,
                                          int64_t n, int64_t T, float *cap_emb);
/* img_emb (n_img, E), cap_emb (n_cap, E) -> sims (n_img, n_cap) float64,
 * with the model's measure, as itr_vsepp_sims. */
itr_status itr_cuda_vsepp_sims(itr_cuda_vsepp *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                               int64_t n_cap, double *sims);

/* Batch sizes (results do not depend on them): at most `images` images and
 * `captions` captions per device batch, and at most `sim_rows` image rows of
 * the score matrix per tile. 0 keeps a value; defaults 8192, 2048, 4096.
 * Tests shrink them to cover partial batches. */
itr_status itr_cuda_vsepp_set_batching(itr_cuda_vsepp *m, int64_t images, int64_t captions, int64_t sim_rows);

#ifdef __cplusplus
}
#endif
#endif
