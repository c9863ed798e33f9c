/* lmh.cu - the hinge triplet loss on the device: LMH (sum of hinges, VSE0;
 * hardest negative, VSE++) and its per-pair-margin form (LSEH), with the
 * semantics of ref/losses/lmh.c (docs/losses.md s1):
 *
 *   u_s[i,j]  = (M[i,j] + S[i,j]) - S[i,i]      image i queries, caption j negative
 *   u_im[i,j] = (M[i,j] + S[i,j]) - S[j,j]      caption j queries, image i negative
 *   cost = clamp(u, min=0), then the diagonal cleared
 *   sum:     L = sum_ij cost_s + sum_ij cost_im
 *   hardest: L = sum_i max_j cost_s[i,j] + sum_j max_i cost_im[i,j]
 *
 * Diagonal variants: with a scalar margin (LMH) the diagonal's u is the
 * margin itself and is masked after the clamp; with per-pair margins
 * (LSEH's SeMargin) M[i,i] = 0 and same-image pairs have M = 0 but stay in
 * the hinge. Both go through the same code, as upstream.
 *
 * Layout: one block per query (a row for cost_s, a column for cost_im)
 * reduces over its B candidates (sum and count, or the first arg-max), then
 * one thread per element writes dS, then one block adds the per-query values.
 * Gradient (autograd, derived by hand; QUIRK(LMH-clamp0), (LMH-argmax-first),
 * (LMH-diag-after-clamp) of ref/losses/lmh.c):
 *   sum:     dS[i,j] = [u_s[i,j] >= 0] + [u_im[i,j] >= 0]                (i != j)
 *            dS[i,i] = -#{j != i : u_s[i,j] >= 0} - #{r != i : u_im[r,i] >= 0}
 *   hardest: +1 at each query's arg-max when it is off the diagonal and its
 *            u >= 0 (clamp passes the gradient at exactly 0), -1 at that
 *            query's positive.
 * The u are computed with the reference's float operations (two rounded
 * adds), so decisions and ties are identical on the same S. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

itr_status itr_cu_loss_check_batch(int64_t B, const char *fn) {
    if (B < 1 || B > ITR_CU_LOSS_MAX_BATCH)
        return itr_fail(ITR_E_SHAPE, "%s: batch size %lld, need 1 <= B <= %d", fn, (long long)B,
                        ITR_CU_LOSS_MAX_BATCH);
    return ITR_OK;
}

/* Pre-activation of query q's candidate k: by_col 0 -> u_s[q,k], 1 -> u_im[k,q]. */
static __device__ __forceinline__ float hinge_u(const float *S, int64_t B, float margin, const float *M,
                                                int by_col, int64_t q, int64_t k) {
    int64_t e = by_col ? k * B + q : q * B + k;
    float ms = (M ? M[e] : margin) + S[e];
    return ms - S[q * B + q];
}

/* clamp(u, min=0) with the diagonal (k == q) cleared, as ref's hinge_at. */
static __device__ __forceinline__ float hinge_value(float u, int64_t q, int64_t k) {
    return (k == q || u < 0.0f) ? 0.0f : u;
}

/* Block q = one query. sum: q_val = sum of its hinges (double), q_cnt =
 * #{k != q : u >= 0}, cost = its hinges at their (B, B) places. hardest:
 * q_val = max hinge, q_best = its first index when it passes gradient
 * (off the diagonal, u >= 0) else -1, cost[q] = the max. */
static __global__ void itr_cu_loss_hinge_query_kernel(const float *S, int64_t B, float margin, const float *M,
                                                      int by_col, int hardest, float *cost, double *q_val,
                                                      int *q_cnt, int *q_best) {
    __shared__ double red[32];
    __shared__ float rv[32];
    __shared__ int ri[32];
    int64_t q = blockIdx.x;
    double sum = 0.0, cnt = 0.0;
    itr_cu_argmax best = {0.0f, -1};
    for (int64_t k = threadIdx.x; k < B; k += blockDim.x) {
        float u = hinge_u(S, B, margin, M, by_col, q, k), h = hinge_value(u, q, k);
        if (hardest) {
            itr_cu_argmax c = {h, (int)k};
            best = itr_cu_argmax_pick(best, c);
        } else {
            sum += h;
            if (k != q && u >= 0.0f) cnt += 1.0;
            if (cost) cost[by_col ? k * B + q : q * B + k] = h;
        }
    }
    if (hardest) {
        best = itr_cu_block_argmax(best, rv, ri);
        if (threadIdx.x == 0) {
            float u = hinge_u(S, B, margin, M, by_col, q, best.idx);
            q_val[q] = best.v;
            q_best[q] = (best.idx != q && u >= 0.0f) ? best.idx : -1;
            if (cost) cost[q] = best.v;
        }
    } else {
        sum = itr_cu_block_sum(sum, red);
        cnt = itr_cu_block_sum(cnt, red);
        if (threadIdx.x == 0) {
            q_val[q] = sum;
            q_cnt[q] = (int)cnt;
        }
    }
}

/* One thread per element (i, j); rows = image queries, cols = caption queries. */
static __global__ void itr_cu_loss_hinge_grad_kernel(const float *S, int64_t B, float margin, const float *M,
                                                     int hardest, const int *row_cnt, const int *col_cnt,
                                                     const int *row_best, const int *col_best, float *dS) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    int64_t i = e / B, j = e % B;
    int g;
    if (!hardest) {
        if (i != j)
            g = (hinge_u(S, B, margin, M, 0, i, j) >= 0.0f) + (hinge_u(S, B, margin, M, 1, j, i) >= 0.0f);
        else
            g = -(row_cnt[i] + col_cnt[i]);
    } else {
        g = (row_best[i] == j) + (col_best[j] == i);
        if (i == j) g -= (row_best[i] >= 0) + (col_best[i] >= 0);
    }
    dS[e] = (float)g;
}

/* out = {loss_s, loss_im, loss_s + loss_im} in float32, as upstream's sums. */
static __global__ void itr_cu_loss_hinge_total_kernel(const double *q_val, int64_t B, float *out) {
    __shared__ double red[32];
    double s = 0.0, im = 0.0;
    for (int64_t q = threadIdx.x; q < B; q += blockDim.x) {
        s += q_val[q];
        im += q_val[B + q];
    }
    s = itr_cu_block_sum(s, red);
    im = itr_cu_block_sum(im, red);
    if (threadIdx.x == 0) {
        out[0] = (float)s;
        out[1] = (float)im;
        out[2] = out[0] + out[1];
    }
}

itr_status itr_cu_loss_hinge(const float *S, int64_t B, float margin, const float *margins, int hardest,
                             itr_hinge_result *res, float *cost_s, float *cost_im, float *dS) {
    const char *fn = "itr_cuda_hinge_loss";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "%s: NULL score matrix", fn);
    itr_cu_scratch sc;
    double *q_val;      /* (2B): rows then columns */
    int *q_int;         /* (4B): row_cnt, col_cnt, row_best, col_best */
    float *out;
    if ((st = sc.alloc(&q_val, (size_t)(2 * B), fn)) || (st = sc.alloc(&q_int, (size_t)(4 * B), fn)) ||
        (st = sc.alloc(&out, 3, fn)))
        return st;
    int *row_cnt = q_int, *col_cnt = q_int + B, *row_best = q_int + 2 * B, *col_best = q_int + 3 * B;
    ITR_LAUNCH(itr_cu_loss_hinge_query_kernel, (unsigned)B, ITR_CU_LOSS_THREADS, 0, S, B, margin, margins, 0,
               hardest, cost_s, q_val, row_cnt, row_best);
    if ((st = itr_cu_launched("itr_cu_loss_hinge_query_kernel"))) return st;
    ITR_LAUNCH(itr_cu_loss_hinge_query_kernel, (unsigned)B, ITR_CU_LOSS_THREADS, 0, S, B, margin, margins, 1,
               hardest, cost_im, q_val + B, col_cnt, col_best);
    if ((st = itr_cu_launched("itr_cu_loss_hinge_query_kernel"))) return st;
    if (dS) {
        ITR_LAUNCH(itr_cu_loss_hinge_grad_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS,
                   0, S, B, margin, margins, hardest, row_cnt, col_cnt, row_best, col_best, dS);
        if ((st = itr_cu_launched("itr_cu_loss_hinge_grad_kernel"))) return st;
    }
    if (res) {
        float h[3];
        ITR_LAUNCH(itr_cu_loss_hinge_total_kernel, 1, ITR_CU_LOSS_THREADS, 0, q_val, B, out);
        if ((st = itr_cu_launched("itr_cu_loss_hinge_total_kernel")) ||
            (st = itr_cu_to_host(h, out, sizeof h, fn)))
            return st;
        res->loss_s = h[0];
        res->loss_im = h[1];
        res->loss = h[2];
    }
    return itr_cu_sync(fn);
}

itr_status itr_cu_loss_embed_hinge(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                   float margin, const float *margins, int hardest, itr_hinge_result *res,
                                   float *S, float *dS, float *dim, float *ds) {
    const char *fn = "embedding loss";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    itr_cu_scratch sc;
    float *sv = S, *g = dS;
    if (!sv && (st = sc.alloc(&sv, (size_t)(B * B), fn))) return st;
    if (!g && (dim || ds) && (st = sc.alloc(&g, (size_t)(B * B), fn))) return st;
    if ((st = itr_cu_loss_scores(m, im, s, B, d, sv))) return st;
    if ((st = itr_cu_loss_hinge(sv, B, margin, margins, hardest, res, nullptr, nullptr, g))) return st;
    if (dim || ds) st = itr_cu_loss_scores_backward(m, im, s, B, d, g, dim, ds);
    return st;
}

/* ---- host API ------------------------------------------------------------- */

extern "C" itr_status itr_cuda_hinge_loss(const float *S, int64_t B, float margin, const float *margins,
                                          int hardest, itr_hinge_result *res, float *cost_s, float *cost_im,
                                          float *dS) {
    const char *fn = "itr_cuda_hinge_loss";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "%s: NULL score matrix", fn);
    size_t n = (size_t)(B * B), nc = hardest ? (size_t)B : n;
    itr_cu_scratch sc;
    float *dSv, *dM, *dcs, *dci, *dg;
    if ((st = sc.upload(&dSv, S, n, fn)) || (st = sc.upload(&dM, margins, n, fn)) ||
        (st = sc.output(&dcs, cost_s, nc, fn)) || (st = sc.output(&dci, cost_im, nc, fn)) ||
        (st = sc.output(&dg, dS, n, fn)))
        return st;
    if ((st = itr_cu_loss_hinge(dSv, B, margin, dM, hardest, res, dcs, dci, dg))) return st;
    if ((st = itr_cu_download(cost_s, dcs, nc, fn)) || (st = itr_cu_download(cost_im, dci, nc, fn)) ||
        (st = itr_cu_download(dS, dg, n, fn)))
        return st;
    return ITR_OK;
}

extern "C" itr_status itr_cuda_lmh_loss(const float *S, int64_t B, float margin, int hardest,
                                        itr_hinge_result *res, float *cost_s, float *cost_im, float *dS) {
    return itr_cuda_hinge_loss(S, B, margin, nullptr, hardest, res, cost_s, cost_im, dS);
}

/* Host form of an embedding hinge with a scalar margin. */
static itr_status embed_hinge_host(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                   float margin, int hardest, itr_hinge_result *res,
                                   float *S, float *dS, float *dim, float *ds, const char *fn) {
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!im || !s) return itr_fail(ITR_E_ARG, "%s: NULL embeddings", fn);
    if (d <= 0) return itr_fail(ITR_E_SHAPE, "%s: embedding dimension %lld, need d >= 1", fn, (long long)d);
    size_t n = (size_t)(B * B), ne = (size_t)(B * d);
    itr_cu_scratch sc;
    float *dim_in, *ds_in, *dSv, *dg, *dgi, *dgs;
    if ((st = sc.upload(&dim_in, im, ne, fn)) || (st = sc.upload(&ds_in, s, ne, fn)) ||
        (st = sc.output(&dSv, S, n, fn)) || (st = sc.output(&dg, dS, n, fn)) ||
        (st = sc.output(&dgi, dim, ne, fn)) || (st = sc.output(&dgs, ds, ne, fn)))
        return st;
    if ((st = itr_cu_loss_embed_hinge(m, dim_in, ds_in, B, d, margin, nullptr, hardest, res, dSv, dg, dgi,
                                      dgs)))
        return st;
    if ((st = itr_cu_download(S, dSv, n, fn)) || (st = itr_cu_download(dS, dg, n, fn)) ||
        (st = itr_cu_download(dim, dgi, ne, fn)) || (st = itr_cu_download(ds, dgs, ne, fn)))
        return st;
    return ITR_OK;
}

extern "C" itr_status itr_cuda_lmh_embed_loss(itr_measure m, const float *im, const float *s, int64_t B,
                                              int64_t d, float margin, int hardest, itr_hinge_result *res,
                                              float *S, float *dS, float *dim, float *ds) {
    return embed_hinge_host(m, im, s, B, d, margin, hardest, res, S, dS, dim, ds,
                            "itr_cuda_lmh_embed_loss");
}
