/* core/gru.h - PyTorch nn.GRU (batch_first, packed variable lengths) on the
 * device, with exactly the semantics of itr_gru_forward (itr/ops.h,
 * ref/core/gru.c): gate order [r; z; n], b_hn inside r * (W_hn h + b_hn),
 * each sequence runs over its own length, the reverse direction starts at the
 * sequence's last valid step, outputs are 0 at t >= length.
 *
 * Device layout of the uploaded weights (one allocation for the whole GRU,
 * its base is shape.w_ih[0][0]): per layer, the D directions of each tensor
 * kind are contiguous, so that
 *   w_ih[l][0..D-1]  form one (D*3H, in_l) matrix  -> one input GEMM per layer,
 *   b_ih[l][0..D-1]  form one (D*3H) bias,
 *   w_hh[l][d]       are equally strided            -> one batched GEMM per step,
 *   b_hh[l][d]       likewise.
 * A bias missing in only one direction of a layer is uploaded as zeros (adding
 * 0.0f changes nothing); a layer without biases keeps NULL. */
#ifndef ITR_CUDA_CORE_GRU_H
#define ITR_CUDA_CORE_GRU_H

#include <stdint.h>

#include "itr/ops.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cu_gru {
    itr_gru shape; /* host copy of the sizes, pointers replaced by device ones */
} itr_cu_gru;

/* Uploads the weights of a loaded reference GRU (host pointers in `host`). */
itr_status itr_cu_gru_upload(itr_cu_gru *g, const itr_gru *host);
/* Frees the device weights and zeroes g (a zeroed g is fine). */
void itr_cu_gru_free(itr_cu_gru *g);

/* x: (B, T, input_size) on the device; lengths: (B) on the HOST, each in [1, T].
 * out: (B, T, num_dirs * H) on the device, the top layer's outputs (forward
 *      half first, 0 at t >= length), or NULL when only h_n is wanted.
 * h_n: (num_layers * num_dirs, B, H) on the device, or NULL. */
itr_status itr_cu_gru_forward(const itr_cu_gru *g, const float *x, const int64_t *lengths,
                              int64_t B, int64_t T, float *out, float *h_n);

/* Host-pointer front end for C callers (tests, bench): uploads x, runs
 * itr_cu_gru_forward `repeats` (>= 1) times on the same input, downloads
 * out / h_n (host, either may be NULL). *forward_ms (may be NULL) receives the
 * mean device time of one forward (CUDA events; transfers not included). */
itr_status itr_cu_gru_forward_host(const itr_cu_gru *g, const float *x, const int64_t *lengths, int64_t B,
                                   int64_t T, float *out, float *h_n, int repeats, double *forward_ms);

#ifdef __cplusplus
}
#endif
#endif
