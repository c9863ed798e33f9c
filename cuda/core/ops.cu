/* ops.cu - basic device ops (ops.h): element-wise kernels with grid-stride
 * loops, one block per row for the normalisations. */
#include "core/ops.h"
#include "core/reduce.h"

namespace {

const unsigned kThreads = 256;

/* Grid-stride loops keep the grid within its limits for any n. */
unsigned elementwise_blocks(int64_t n) {
    unsigned b = itr_cu_blocks(n, kThreads);
    return b > 65535u ? 65535u : b;
}

__global__ void add_bias_kernel(float *x, int64_t n, int64_t d, const float *b) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * d; i += (int64_t)gridDim.x * blockDim.x)
        x[i] += b[i % d];
}

/* One block per row: sum of squares in the row's precision, then divide. */
template <class T>
__global__ void l2norm_rows_kernel(T *x, int64_t d, int mode, T eps) {
    T *row = x + (int64_t)blockIdx.x * d;
    T sq = 0;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) sq += row[k] * row[k];
    T norm = sqrt(itr_cu_block_sum(sq));
    T den = norm;
    if (mode == ITR_EPS_ADD) den = norm + eps;
    if (mode == ITR_EPS_CLAMP) den = norm > eps ? norm : eps;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) row[k] /= den;
}

__global__ void embedding_kernel(const float *table, int64_t dim, const int64_t *ids, int64_t n, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * dim; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = table[ids[i / dim] * dim + i % dim];
}

__global__ void abs_kernel(float *x, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] = fabsf(x[i]);
}

__global__ void widen_kernel(const float *x, int64_t n, double *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = (double)x[i];
}

/* y = (x - mean) * (1 / sqrt(var + eps)) * gamma + beta, in the order
 * ref's itr_batchnorm_eval evaluates it (float32). */
__global__ void batchnorm_kernel(float *x, int64_t n, int64_t c, int64_t inner, const float *mean, const float *var,
                                 const float *gamma, const float *beta, float eps) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * c * inner;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ch = (i / inner) % c;
        float scale = 1.0f / sqrtf(var[ch] + eps);
        float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
        x[i] = (x[i] - mean[ch]) * scale * g + b;
    }
}

__global__ void activation_kernel(float *x, int64_t n, int kind) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = x[i];
        if (kind == ITR_CU_RELU) v = v > 0.0f ? v : 0.0f;
        else if (kind == ITR_CU_TANH) v = tanhf(v);
        else if (kind == ITR_CU_SIGMOID) v = 1.0f / (1.0f + expf(-v));
        else v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));   /* exact (erf) GELU */
        x[i] = v;
    }
}

}  // namespace

itr_status itr_cu_linear(const float *x, int64_t n, int64_t in, const float *W, const float *b, int64_t out,
                         float *y) {
    itr_status st = itr_cu_sgemm(0, 1, n, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (!st && b) st = itr_cu_add_bias(y, n, out, b);
    return st;
}

itr_status itr_cu_add_bias(float *x, int64_t n, int64_t d, const float *b) {
    if (n * d == 0) return ITR_OK;
    ITR_LAUNCH(add_bias_kernel, elementwise_blocks(n * d), kThreads, 0, x, n, d, b);
    return itr_cu_launched("add_bias_kernel");
}

itr_status itr_cu_l2norm_rows(float *x, int64_t n, int64_t d, itr_eps_mode mode, float eps) {
    if (n == 0) return ITR_OK;
    if (n > 2147483647) return itr_fail(ITR_E_LIMIT, "itr_cu_l2norm_rows: %lld rows", (long long)n);
    ITR_LAUNCH(l2norm_rows_kernel<float>, (unsigned)n, kThreads, 0, x, d, (int)mode, eps);
    return itr_cu_launched("l2norm_rows_kernel<float>");
}

itr_status itr_cu_l2norm_rows_f64(double *x, int64_t n, int64_t d, itr_eps_mode mode, double eps) {
    if (n == 0) return ITR_OK;
    if (n > 2147483647) return itr_fail(ITR_E_LIMIT, "itr_cu_l2norm_rows_f64: %lld rows", (long long)n);
    ITR_LAUNCH(l2norm_rows_kernel<double>, (unsigned)n, kThreads, 0, x, d, (int)mode, eps);
    return itr_cu_launched("l2norm_rows_kernel<double>");
}

itr_status itr_cu_embedding(const float *table, int64_t vocab, int64_t dim, const int64_t *ids, int64_t n,
                            float *out) {
    (void)vocab;   /* ids are validated against it on the host, before upload */
    if (n * dim == 0) return ITR_OK;
    ITR_LAUNCH(embedding_kernel, elementwise_blocks(n * dim), kThreads, 0, table, dim, ids, n, out);
    return itr_cu_launched("embedding_kernel");
}

itr_status itr_cu_abs(float *x, int64_t n) {
    if (n == 0) return ITR_OK;
    ITR_LAUNCH(abs_kernel, elementwise_blocks(n), kThreads, 0, x, n);
    return itr_cu_launched("abs_kernel");
}

itr_status itr_cu_f32_to_f64(const float *x, int64_t n, double *y) {
    if (n == 0) return ITR_OK;
    ITR_LAUNCH(widen_kernel, elementwise_blocks(n), kThreads, 0, x, n, y);
    return itr_cu_launched("widen_kernel");
}

itr_status itr_cu_batchnorm_eval(float *x, int64_t n, int64_t c, int64_t inner, const float *mean, const float *var,
                                 const float *gamma, const float *beta, float eps) {
    if (n * c * inner == 0) return ITR_OK;
    ITR_LAUNCH(batchnorm_kernel, elementwise_blocks(n * c * inner), kThreads, 0, x, n, c, inner, mean, var, gamma,
               beta, eps);
    return itr_cu_launched("batchnorm_kernel");
}

itr_status itr_cu_activation(float *x, int64_t n, int kind) {
    if (n == 0) return ITR_OK;
    if (kind < ITR_CU_RELU || kind > ITR_CU_GELU_ERF) return itr_fail(ITR_E_ARG, "itr_cu_activation: kind %d", kind);
    ITR_LAUNCH(activation_kernel, elementwise_blocks(n), kThreads, 0, x, n, kind);
    return itr_cu_launched("activation_kernel");
}
