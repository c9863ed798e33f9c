/* similarity.cu - score matrices that the embedding losses build inside
 * themselves, and their backward pass, on the device (ref/losses/similarity.c;
 * specs/vsepp_vseinfty.md s1.6; docs/losses.md s1 "Embedding front ends").
 *
 *   cosine: S = im s^T (the encoders already L2-normalised the rows)
 *           dim = dS s,  ds = dS^T im               three cuBLAS sgemms
 *   order:  S[i,j] = -sqrt( sum_k c_k^2 ),  c_k = max(0, s[j,k] - im[i,k])
 *           with n = -S[i,j] and t = -dS[i,j] / (2 n), for c_k >= 0:
 *           ds[j,k] += t * 2 (s[j,k] - im[i,k]),  dim[i,k] -= the same
 * Order: one warp per pair sums c_k^2 (float squares, double sum, rounded
 * once: the reference's arithmetic); the backward recomputes n the same way,
 * then one thread per output element (i,k) or (j,k) adds its B terms in the
 * reference's order (double, rounded once).
 * QUIRK(vsepp-order-sqrt): a pair with n = 0 gives t = -g/0 and NaN at the
 * coordinates with s[j,k] == im[i,k], as autograd does. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

/* sum_k max(0, s_j[k] - im_i[k])^2 over the lanes of one warp (all lanes
 * receive it). */
static __device__ __forceinline__ double order_sumsq(const float *x, const float *y, int64_t d, unsigned lane) {
    double acc = 0.0;
    for (int64_t k = lane; k < d; k += 32) {
        float c = y[k] - x[k];
        if (c < 0.0f) c = 0.0f;
        acc += (double)(c * c);
    }
    return itr_cu_warp_sum(acc);
}

/* Warp w of the grid scores pair w = i * B + j: S = -sqrt(rounded sum). With
 * dS given it writes t = -dS / (2 n) instead (the backward's pair factor). */
static __global__ void itr_cu_loss_order_pair_kernel(const float *im, const float *s, int64_t B, int64_t d,
                                                     const float *dS, float *out) {
    int64_t pair = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    unsigned lane = threadIdx.x & 31u;
    if (pair >= B * B) return;                       /* whole warps leave together */
    int64_t i = pair / B, j = pair % B;
    double acc = order_sumsq(im + i * d, s + j * d, d, lane);
    float n = sqrtf((float)acc);
    if (lane == 0) out[pair] = dS ? -dS[pair] / (2.0f * n) : -n;
}

/* dim[i,k] = -sum_j t[i,j] * 2 (s[j,k] - im[i,k])   over j with s[j,k] >= im[i,k]
 * (by_caption 0), or ds[j,k] = +sum_i ... (by_caption 1). */
static __global__ void itr_cu_loss_order_grad_kernel(const float *im, const float *s, int64_t B, int64_t d,
                                                     const float *t, int by_caption, float *out) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * d) return;
    int64_t row = e / d, k = e % d;
    double acc = 0.0;
    for (int64_t o = 0; o < B; o++) {
        int64_t i = by_caption ? o : row, j = by_caption ? row : o;
        float diff = s[j * d + k] - im[i * d + k];
        if (diff < 0.0f) continue;                   /* clamp(min=0) passes at 0 */
        double gk = (double)(t[i * B + j] * (2.0f * diff));
        acc = by_caption ? acc + gk : acc - gk;
    }
    out[e] = (float)acc;
}

static itr_status check_args(const char *fn, const float *im, const float *s, int64_t B, int64_t d) {
    if (!im || !s) return itr_fail(ITR_E_ARG, "%s: NULL embeddings", fn);
    if (d <= 0) return itr_fail(ITR_E_SHAPE, "%s: embedding dimension %lld, need d >= 1", fn, (long long)d);
    return itr_cu_loss_check_batch(B, fn);
}

static itr_status check_measure(const char *fn, itr_measure m) {
    if (m != ITR_MEASURE_COSINE && m != ITR_MEASURE_ORDER)
        return itr_fail(ITR_E_ARG, "%s: unknown measure %d", fn, (int)m);
    return ITR_OK;
}

itr_status itr_cu_loss_scores(itr_measure m, const float *im, const float *s, int64_t B, int64_t d, float *S) {
    const char *fn = "itr_cuda_loss_scores";
    itr_status st = check_args(fn, im, s, B, d);
    if (!st) st = check_measure(fn, m);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "%s: NULL output", fn);
    if (m == ITR_MEASURE_COSINE) return itr_cu_sgemm(0, 1, B, B, d, 1.0f, im, d, s, d, 0.0f, S, B);
    unsigned blocks = itr_cu_blocks(B * B, ITR_CU_LOSS_WARPS);
    ITR_LAUNCH(itr_cu_loss_order_pair_kernel, blocks, ITR_CU_LOSS_THREADS, 0, im, s, B, d, (const float *)nullptr,
               S);
    return itr_cu_launched("itr_cu_loss_order_pair_kernel");
}

itr_status itr_cu_loss_scores_backward(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                       const float *dS, float *dim, float *ds) {
    const char *fn = "itr_cuda_loss_scores_backward";
    itr_status st = check_args(fn, im, s, B, d);
    if (!st) st = check_measure(fn, m);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "%s: NULL dS", fn);
    if (m == ITR_MEASURE_COSINE) {
        if (dim && (st = itr_cu_sgemm(0, 0, B, d, B, 1.0f, dS, B, s, d, 0.0f, dim, d))) return st;
        if (ds && (st = itr_cu_sgemm(1, 0, B, d, B, 1.0f, dS, B, im, d, 0.0f, ds, d))) return st;
        return ITR_OK;
    }
    itr_cu_scratch sc;
    float *t;
    if ((st = sc.alloc(&t, (size_t)(B * B), fn))) return st;
    ITR_LAUNCH(itr_cu_loss_order_pair_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_WARPS), ITR_CU_LOSS_THREADS, 0, im,
               s, B, d, dS, t);
    if ((st = itr_cu_launched("itr_cu_loss_order_pair_kernel"))) return st;
    unsigned blocks = itr_cu_blocks(B * d, ITR_CU_LOSS_THREADS);
    if (dim) {
        ITR_LAUNCH(itr_cu_loss_order_grad_kernel, blocks, ITR_CU_LOSS_THREADS, 0, im, s, B, d, (const float *)t, 0,
                   dim);
        if ((st = itr_cu_launched("itr_cu_loss_order_grad_kernel"))) return st;
    }
    if (ds) {
        ITR_LAUNCH(itr_cu_loss_order_grad_kernel, blocks, ITR_CU_LOSS_THREADS, 0, im, s, B, d, (const float *)t, 1,
                   ds);
        if ((st = itr_cu_launched("itr_cu_loss_order_grad_kernel"))) return st;
    }
    return itr_cu_sync(fn);
}

/* ---- host API ------------------------------------------------------------- */

extern "C" itr_status itr_cuda_loss_scores(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                           float *S) {
    const char *fn = "itr_cuda_loss_scores";
    itr_status st = itr_cu_init();
    if (!st) st = check_args(fn, im, s, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "%s: NULL output", fn);
    itr_cu_scratch sc;
    float *x, *y, *out;
    size_t ne = (size_t)(B * d), n = (size_t)(B * B);
    if ((st = sc.upload(&x, im, ne, fn)) || (st = sc.upload(&y, s, ne, fn)) || (st = sc.alloc(&out, n, fn)) ||
        (st = itr_cu_loss_scores(m, x, y, B, d, out)))
        return st;
    return itr_cu_download(S, out, n, fn);
}

extern "C" itr_status itr_cuda_loss_scores_backward(itr_measure m, const float *im, const float *s, int64_t B,
                                                    int64_t d, const float *dS, float *dim, float *ds) {
    const char *fn = "itr_cuda_loss_scores_backward";
    itr_status st = itr_cu_init();
    if (!st) st = check_args(fn, im, s, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "%s: NULL dS", fn);
    itr_cu_scratch sc;
    float *x, *y, *g, *gx, *gy;
    size_t ne = (size_t)(B * d), n = (size_t)(B * B);
    if ((st = sc.upload(&x, im, ne, fn)) || (st = sc.upload(&y, s, ne, fn)) || (st = sc.upload(&g, dS, n, fn)) ||
        (st = sc.output(&gx, dim, ne, fn)) || (st = sc.output(&gy, ds, ne, fn)) ||
        (st = itr_cu_loss_scores_backward(m, x, y, B, d, g, gx, gy)))
        return st;
    if ((st = itr_cu_download(dim, gx, ne, fn))) return st;
    return itr_cu_download(ds, gy, ne, fn);
}
