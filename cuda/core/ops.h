/* ops.h - basic device ops of the CUDA backend (cuda/core/ops.cu), the
 * counterparts of ref/core (itr/ops.h). All pointers are device pointers,
 * matrices row-major; semantics exactly as the reference functions. */
#ifndef ITR_CUDA_OPS_H
#define ITR_CUDA_OPS_H

#include <cstdint>

#include "core/device.h"
#include "itr/ops.h"

enum itr_cu_activation_kind { ITR_CU_RELU = 0, ITR_CU_TANH = 1, ITR_CU_SIGMOID = 2, ITR_CU_GELU_ERF = 3 };

/* y (n, out) = x (n, in) W^T + b; W (out, in) as nn.Linear stores it; b may be NULL. */
itr_status itr_cu_linear(const float *x, int64_t n, int64_t in, const float *W, const float *b, int64_t out,
                         float *y);
/* x (n, d) += b (d) on every row. */
itr_status itr_cu_add_bias(float *x, int64_t n, int64_t d, const float *b);
/* Each row divided by its L2 norm with the itr_eps_mode convention of ref/core/norms.c. */
itr_status itr_cu_l2norm_rows(float *x, int64_t n, int64_t d, itr_eps_mode mode, float eps);
itr_status itr_cu_l2norm_rows_f64(double *x, int64_t n, int64_t d, itr_eps_mode mode, double eps);
/* out (n, dim) = table[ids[k]]; ids (device) must be in [0, vocab) (check on the host). */
itr_status itr_cu_embedding(const float *table, int64_t vocab, int64_t dim, const int64_t *ids, int64_t n,
                            float *out);
itr_status itr_cu_abs(float *x, int64_t n);
itr_status itr_cu_f32_to_f64(const float *x, int64_t n, double *y);
/* BatchNorm at evaluation over x viewed as (n, c, inner); gamma/beta may be NULL. */
itr_status itr_cu_batchnorm_eval(float *x, int64_t n, int64_t c, int64_t inner, const float *mean, const float *var,
                                 const float *gamma, const float *beta, float eps);
/* In-place activation (itr_cu_activation_kind). */
itr_status itr_cu_activation(float *x, int64_t n, int kind);

#endif
