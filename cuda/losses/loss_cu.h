/* losses/loss_cu.h - what the files of cuda/losses share (C++, internal):
 * block-level reductions, a scratch list of device buffers, argument checks,
 * and the DEVICE-pointer forms of the losses, which the host API of
 * itr/cuda/losses.h wraps (upload, call, download) and which other CUDA code
 * can call on data already on the device.
 *
 * Every kernel of cuda/losses runs blocks of ITR_CU_LOSS_THREADS threads (a
 * multiple of 32, so that the warp shuffles always see full warps) and every
 * thread of a block calls the block reductions (they contain barriers). */
#ifndef ITR_CUDA_LOSSES_LOSS_CU_H
#define ITR_CUDA_LOSSES_LOSS_CU_H

#include <cstddef>
#include <cstdint>

#include "core/compat.h"
#include "core/device.h"
#include "itr/losses.h"
#include "itr/status.h"

#define ITR_CU_LOSS_THREADS 128
#define ITR_CU_LOSS_WARPS (ITR_CU_LOSS_THREADS / 32)
/* Largest batch accepted (B*B fits comfortably in int and in memory). */
#define ITR_CU_LOSS_MAX_BATCH 32768

/* ---- reductions ------------------------------------------------------------
 * Butterfly (xor) shuffles: every lane ends with the same bits, because each
 * step adds the same two operands on both sides (a + b == b + a exactly). */

static __device__ __forceinline__ double itr_cu_warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ double itr_cu_warp_max(double v) {
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block; every thread receives the same value. red: a
 * __shared__ double[32] of the calling kernel. */
static __device__ __forceinline__ double itr_cu_block_sum(double v, double *red) {
    unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = itr_cu_warp_sum(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    double t = 0.0;
    for (unsigned w = 0; w < nw; w++) t += red[w];   /* same order in every thread */
    __syncthreads();                                 /* red is free again */
    return t;
}

static __device__ __forceinline__ double itr_cu_block_max(double v, double *red) {
    unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = itr_cu_warp_max(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    double t = red[0];
    for (unsigned w = 1; w < nw; w++) t = fmax(t, red[w]);
    __syncthreads();
    return t;
}

/* Arg-max with torch's / Python's tie rule: the FIRST index among equal
 * maxima. idx < 0 marks "no candidate". */
struct itr_cu_argmax {
    float v;
    int idx;
};

static __device__ __forceinline__ itr_cu_argmax itr_cu_argmax_pick(itr_cu_argmax a, itr_cu_argmax b) {
    if (b.idx < 0) return a;
    if (a.idx < 0) return b;
    if (b.v > a.v || (b.v == a.v && b.idx < a.idx)) return b;
    return a;
}

static __device__ __forceinline__ itr_cu_argmax itr_cu_warp_argmax(itr_cu_argmax a) {
    for (int o = 16; o > 0; o >>= 1) {
        itr_cu_argmax b;
        b.v = __shfl_xor_sync(0xffffffffu, a.v, o);
        b.idx = __shfl_xor_sync(0xffffffffu, a.idx, o);
        a = itr_cu_argmax_pick(a, b);
    }
    return a;
}

/* Block arg-max; every thread receives the result. rv, ri: __shared__
 * float[32], int[32]. */
static __device__ __forceinline__ itr_cu_argmax itr_cu_block_argmax(itr_cu_argmax a, float *rv, int *ri) {
    unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    a = itr_cu_warp_argmax(a);
    if (lane == 0) {
        rv[warp] = a.v;
        ri[warp] = a.idx;
    }
    __syncthreads();
    itr_cu_argmax t = {rv[0], ri[0]};
    for (unsigned w = 1; w < nw; w++) {
        itr_cu_argmax b = {rv[w], ri[w]};
        t = itr_cu_argmax_pick(t, b);
    }
    __syncthreads();
    return t;
}

/* ---- device buffers of one call ------------------------------------------ */

/* Device allocations freed together when the scratch goes out of scope. */
struct itr_cu_scratch {
    enum { MAX_BUFFERS = 24 };
    void *buf[MAX_BUFFERS];
    int n = 0;

    itr_cu_scratch() = default;
    itr_cu_scratch(const itr_cu_scratch &) = delete;
    itr_cu_scratch &operator=(const itr_cu_scratch &) = delete;
    ~itr_cu_scratch() {
        for (int k = 0; k < n; k++) itr_cu_free(buf[k]);
    }

    /* count elements (count 0: nothing allocated, *p = NULL). */
    template <class T>
    itr_status alloc(T **p, size_t count, const char *what) {
        *p = nullptr;
        if (count == 0) return ITR_OK;
        if (n == MAX_BUFFERS) return itr_fail(ITR_E_INTERNAL, "%s: too many scratch buffers", what);
        itr_status st = itr_cu_alloc_n(p, count, what);
        if (!st) buf[n++] = *p;
        return st;
    }
    /* Device copy of host src (src NULL: *p = NULL). */
    template <class T>
    itr_status upload(T **p, const T *src, size_t count, const char *what) {
        *p = nullptr;
        if (!src) return ITR_OK;
        itr_status st = alloc(p, count, what);
        if (!st) st = itr_cu_to_device(*p, src, count * sizeof(T), what);
        return st;
    }
    /* Device buffer for an optional host output (host NULL: *p = NULL). */
    template <class T>
    itr_status output(T **p, const T *host, size_t count, const char *what) {
        *p = nullptr;
        return host ? alloc(p, count, what) : ITR_OK;
    }
};

/* Copies an optional device result to its host destination. */
template <class T>
static inline itr_status itr_cu_download(T *host, const T *dev, size_t count, const char *what) {
    if (!host || !dev) return ITR_OK;
    return itr_cu_to_host(host, dev, count * sizeof(T), what);
}

/* B in [1, ITR_CU_LOSS_MAX_BATCH]. */
itr_status itr_cu_loss_check_batch(int64_t B, const char *fn);

/* ---- device-pointer losses ------------------------------------------------
 * Same meaning as the host functions of itr/cuda/losses.h, but every array
 * argument is a device pointer, except `res`, `loss`, `n_active`, `s_l` and
 * the parameter structs, which stay on the host. */

itr_status itr_cu_loss_scores(itr_measure m, const float *im, const float *s, int64_t B, int64_t d, float *S);
itr_status itr_cu_loss_scores_backward(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                       const float *dS, float *dim, float *ds);

itr_status itr_cu_loss_hinge(const float *S, int64_t B, float margin, const float *margins, int hardest,
                             itr_hinge_result *res, float *cost_s, float *cost_im, float *dS);
/* S = measure(im, s), hinge (scalar margin or per-pair margins), backward. */
itr_status itr_cu_loss_embed_hinge(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                   float margin, const float *margins, int hardest, itr_hinge_result *res,
                                   float *S, float *dS, float *dim, float *ds);

itr_status itr_cu_loss_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat);
itr_status itr_cu_loss_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B, float *map);
itr_status itr_cu_loss_lseh_margins(const float *Shat, const float *map, int64_t B, float a, float b, float *M);

/* s_l on the host (validated); dim, ds may be NULL. */
itr_status itr_cu_loss_scan_scores(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                   const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, float *S);
itr_status itr_cu_loss_scan_backward(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                     const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, const float *dS,
                                     float *dim, float *ds);

itr_status itr_cu_loss_vsl_rank(const float *X, int64_t B, double temperature, double exponent_clamp, float *R);
itr_status itr_cu_loss_vsl_semantic(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                                    double *loss, float *Rs, float *Rc, float *dS);

itr_status itr_cu_loss_luwm(const float *S, int64_t B, const itr_luwm_params *p, double *loss,
                            int64_t *n_active, float *dS);

#endif
