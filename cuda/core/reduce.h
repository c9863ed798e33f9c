/* reduce.h - warp and block reductions for itr kernels (device code).
 * Requirements: the block's thread count is a multiple of 32 and every
 * thread of the block calls the block reductions (they contain barriers).
 * The block result is returned to every thread. */
#ifndef ITR_CUDA_REDUCE_H
#define ITR_CUDA_REDUCE_H

#include "core/compat.h"

__device__ __forceinline__ unsigned itr_cu_tid() {
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
__device__ __forceinline__ unsigned itr_cu_nthreads() { return blockDim.x * blockDim.y * blockDim.z; }

/* Sum over the 32 lanes; every lane receives it (butterfly). */
template <class T>
__device__ __forceinline__ T itr_cu_warp_sum(T v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

template <class T>
__device__ __forceinline__ T itr_cu_warp_max(T v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        T o = __shfl_xor_sync(0xffffffffu, v, offset);
        v = o > v ? o : v;
    }
    return v;
}

/* Sum over the whole block. */
template <class T>
__device__ T itr_cu_block_sum(T v) {
    __shared__ T partial[32];
    unsigned tid = itr_cu_tid(), lane = tid % 32, warp = tid / 32, n_warps = (itr_cu_nthreads() + 31) / 32;
    v = itr_cu_warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    T total = lane < n_warps ? partial[lane] : T(0);
    total = itr_cu_warp_sum(total);
    __syncthreads();   /* partial may be reused by the next call */
    return total;
}

/* Maximum over the whole block. */
template <class T>
__device__ T itr_cu_block_max(T v) {
    __shared__ T partial[32];
    unsigned tid = itr_cu_tid(), lane = tid % 32, warp = tid / 32, n_warps = (itr_cu_nthreads() + 31) / 32;
    v = itr_cu_warp_max(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    T m = lane < n_warps ? partial[lane] : partial[0];
    m = itr_cu_warp_max(m);
    __syncthreads();
    return m;
}

#endif
