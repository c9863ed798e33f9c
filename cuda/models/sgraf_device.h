/* sgraf_device.h - private device helpers of cuda/models/sgraf_*.cu:
 * the l2n denominator, eval BatchNorm, sigmoid and a warp softmax, with the
 * reference's operation order (ref/core/norms.c, ref/core/nn.c). Reductions
 * come from core/reduce.h. */
#ifndef ITR_CUDA_MODELS_SGRAF_DEVICE_H
#define ITR_CUDA_MODELS_SGRAF_DEVICE_H

#include "core/reduce.h"
#include "models/sgraf_internal.h"

/* l2n(x) = x / (||x|| + 1e-8): the denominator from the sum of squares. */
static __device__ __forceinline__ float itr_sgd_l2_den(float sumsq) { return sqrtf(sumsq) + ITR_SGRAF_L2_EPS; }

/* BatchNorm at evaluation, channel c: (x - mean) * (1/sqrt(var + eps)) * gamma + beta. */
static __device__ __forceinline__ float itr_sgd_bn(float x, itr_cu_sgraf_bn bn, int64_t c) {
    float scale = 1.0f / sqrtf(bn.var[c] + ITR_SGRAF_BN_EPS);
    return (x - bn.mean[c]) * scale * bn.gamma[c] + bn.beta[c];
}

static __device__ __forceinline__ float itr_sgd_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* In-place max-shifted softmax of the n entries e[0], e[stride], ... by one
 * whole warp (lanes stride over the entries): e = exp(e - max) / sum. */
static __device__ __forceinline__ void itr_sgd_warp_softmax(float *e, int64_t n, int64_t stride) {
    int lane = (int)(threadIdx.x % 32);
    float mx = -INFINITY;
    for (int64_t k = lane; k < n; k += 32) mx = fmaxf(mx, e[k * stride]);
    mx = itr_cu_warp_max(mx);
    float s = 0.0f;
    for (int64_t k = lane; k < n; k += 32) {
        float x = expf(e[k * stride] - mx);
        e[k * stride] = x;
        s += x;
    }
    s = itr_cu_warp_sum(s);
    for (int64_t k = lane; k < n; k += 32) e[k * stride] = e[k * stride] / s;
    __syncwarp();
}

#endif
