/* scan_scores.cu - SCAN's training-time cross-attention score matrix, as its
 * ContrastiveLoss(im, s, s_l) builds it, forward and analytic backward, on
 * the device (kuanghuei/SCAN model.py func_attention, xattn_score_t2i/i2t;
 * ref/losses/scan_sims.c; specs/scan_sgraf.md s4.4, s6.1; docs/losses.md s6).
 *
 * Pair (image i, caption j), queries Q (nq x d) and context C (nc x d):
 * t2i Q = the caption's s_l[j] words, C = the image's R regions; i2t the
 * other way round.
 *   A0[r,q] = C_r . Q_q                         logits
 *   A2      = first norm of each context row r over the queries:
 *             clipped_l2norm lrelu(0.1) then x / (||x|| + 1e-8); l2norm;
 *             softmax; clipped (lrelu only); no_norm
 *   P[q,r]  = softmax_r(lambda_softmax A2[r,q]),  a_q = sum_r P[q,r] C_r
 *   c_q     = Q_q . a_q / max(||Q_q|| ||a_q||, 1e-8)
 *   score   = (1/l2) ln sum_q exp(l2 c_q) (no max shift) | mean | max | sum
 * Backward for g = dS[i,j], in reverse (the formulas of scan_sims.c):
 * aggregation weights, cosine quotient rule (the clamp passes where
 * ||Q|| ||a|| >= eps), a = P C, softmax Jacobian times lambda_softmax, first
 * norm's Jacobian (l2norm quotient with eps after the sqrt, lrelu slope 0.1,
 * softmax), logits (dC += dA0 Q, dQ += dA0^T C). A pair with g == 0 is
 * skipped, as the reference does.
 *
 * Like the reference, everything is evaluated in double from the float32
 * inputs and rounded to float32 once at the end.
 *
 * Layout: one block per pair. Its workspace (A0, A2, P, gradients; double)
 * lives in global memory, one slice per pair of a chunk of whole image rows
 * (rows i0..i1 x all B captions). Inside a block the work is spread over the
 * warps (one dot product per warp: logits, norms, cosines, dP) or over all
 * threads (one output element per thread: attended vectors, gradient rows).
 * Gradients are kept per pair and then summed by separate kernels in a fixed
 * order (no atomics): the image rows of a chunk are complete after it, the
 * caption rows accumulate over the chunks in increasing i. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

#define SCAN_EPS 1e-8          /* l2norm and cosine_similarity eps */
#define SCAN_LRELU_SLOPE 0.1   /* nn.LeakyReLU(0.1) */
#define SCAN_WORKSPACE_BYTES (256u << 20)

static int64_t g_chunk_rows = 0;   /* itr_cuda_scan_set_chunk_rows; 0 = automatic */

/* Offsets (doubles) of one pair's workspace slice, for n = max(R, Lmax). */
typedef struct scan_layout {
    int64_t n, d;
    int64_t A0, A2, P, dP, dA;     /* n x n each              */
    int64_t nrm, cosv, dc;         /* n each                  */
    int64_t att, da, gQ, gC;       /* n x d each              */
    int64_t per_pair;
} scan_layout;

static scan_layout make_layout(int64_t R, int64_t Lmax, int64_t d) {
    scan_layout L;
    L.n = R > Lmax ? R : Lmax;
    L.d = d;
    int64_t nn = L.n * L.n, nd = L.n * d, o = 0;
    L.A0 = o, o += nn;
    L.A2 = o, o += nn;
    L.P = o, o += nn;
    L.dP = o, o += nn;
    L.dA = o, o += nn;
    L.nrm = o, o += L.n;
    L.cosv = o, o += L.n;
    L.dc = o, o += L.n;
    L.att = o, o += nd;
    L.da = o, o += nd;
    L.gQ = o, o += nd;
    L.gC = o, o += nd;
    L.per_pair = o;
    return L;
}

/* One pair as the block sees it. */
typedef struct scan_pair {
    const float *Q, *C;      /* (nq, d), (nc, d) */
    int64_t nq, nc, d;
    double *w;               /* the pair's workspace slice */
} scan_pair;

static __device__ __forceinline__ double lrelu(double x) { return x > 0.0 ? x : SCAN_LRELU_SLOPE * x; }

static __device__ __forceinline__ double warp_dot(const float *x, const float *y, int64_t d, unsigned lane) {
    double acc = 0.0;
    for (int64_t k = lane; k < d; k += 32) acc += (double)x[k] * (double)y[k];
    return itr_cu_warp_sum(acc);
}

static __device__ __forceinline__ double warp_dot_fd(const float *x, const double *y, int64_t d, unsigned lane) {
    double acc = 0.0;
    for (int64_t k = lane; k < d; k += 32) acc += (double)x[k] * y[k];
    return itr_cu_warp_sum(acc);
}

static __device__ __forceinline__ double warp_dot_dd(const double *x, const double *y, int64_t d, unsigned lane) {
    double acc = 0.0;
    for (int64_t k = lane; k < d; k += 32) acc += x[k] * y[k];
    return itr_cu_warp_sum(acc);
}

/* Forward pass of one pair by the whole block; returns the score (valid in
 * every thread) and leaves A0, A2, nrm, P, att, cosv in the workspace. */
static __device__ double scan_pair_forward(const itr_scan_params &p, const scan_pair &pr, const scan_layout &L) {
    unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int64_t nq = pr.nq, nc = pr.nc, d = pr.d;
    double *A0 = pr.w + L.A0, *A2 = pr.w + L.A2, *nrm = pr.w + L.nrm, *P = pr.w + L.P;
    double *att = pr.w + L.att, *cosv = pr.w + L.cosv;
    /* logits, one warp per (r, q) */
    for (int64_t t = warp; t < nc * nq; t += nw) {
        int64_t r = t / nq, q = t % nq;
        double v = warp_dot(pr.C + r * d, pr.Q + q * d, d, lane);
        if (lane == 0) A0[r * nq + q] = v;
    }
    __syncthreads();
    /* first norm, one warp per context row r (lanes over the queries) */
    for (int64_t r = warp; r < nc; r += nw) {
        const double *a0 = A0 + r * nq;
        double *a2 = A2 + r * nq;
        if (p.norm == ITR_SCAN_NORM_SOFTMAX) {
            double mx = -INFINITY, z = 0.0;
            for (int64_t q = lane; q < nq; q += 32) mx = fmax(mx, a0[q]);
            mx = itr_cu_warp_max(mx);
            for (int64_t q = lane; q < nq; q += 32) z += exp(a0[q] - mx);
            z = itr_cu_warp_sum(z);
            for (int64_t q = lane; q < nq; q += 32) a2[q] = exp(a0[q] - mx) / z;
            continue;
        }
        int clip = p.norm == ITR_SCAN_NORM_CLIPPED_L2 || p.norm == ITR_SCAN_NORM_CLIPPED;
        int l2 = p.norm == ITR_SCAN_NORM_CLIPPED_L2 || p.norm == ITR_SCAN_NORM_L2;
        double ss = 0.0;
        for (int64_t q = lane; q < nq; q += 32) {
            double v = clip ? lrelu(a0[q]) : a0[q];
            ss += v * v;
        }
        double n = sqrt(itr_cu_warp_sum(ss));
        if (lane == 0) nrm[r] = n;
        for (int64_t q = lane; q < nq; q += 32) {
            double v = clip ? lrelu(a0[q]) : a0[q];
            a2[q] = l2 ? v / (n + SCAN_EPS) : v;
        }
    }
    __syncthreads();
    /* attention softmax over the context, one warp per query */
    for (int64_t q = warp; q < nq; q += nw) {
        double *pq = P + q * nc, mx = -INFINITY, z = 0.0;
        for (int64_t r = lane; r < nc; r += 32) mx = fmax(mx, p.lambda_softmax * A2[r * nq + q]);
        mx = itr_cu_warp_max(mx);
        for (int64_t r = lane; r < nc; r += 32) z += (pq[r] = exp(p.lambda_softmax * A2[r * nq + q] - mx));
        z = itr_cu_warp_sum(z);
        for (int64_t r = lane; r < nc; r += 32) pq[r] /= z;
    }
    __syncthreads();
    /* attended vectors a_q = sum_r P[q,r] C_r, one element per thread */
    for (int64_t e = threadIdx.x; e < nq * d; e += blockDim.x) {
        int64_t q = e / d, k = e % d;
        double a = 0.0;
        for (int64_t r = 0; r < nc; r++) a += P[q * nc + r] * (double)pr.C[r * d + k];
        att[e] = a;
    }
    __syncthreads();
    /* cosines, one warp per query */
    for (int64_t q = warp; q < nq; q += nw) {
        const float *x = pr.Q + q * d;
        const double *a = att + q * d;
        double xx = warp_dot(x, x, d, lane), aa = warp_dot_dd(a, a, d, lane), xa = warp_dot_fd(x, a, d, lane);
        double den = sqrt(xx) * sqrt(aa);
        if (lane == 0) cosv[q] = xa / (den > SCAN_EPS ? den : SCAN_EPS);
    }
    __syncthreads();
    /* aggregation over the queries: every thread reads the nq cosines */
    double agg = 0.0;
    switch (p.agg) {
    case ITR_SCAN_AGG_LSE:
        for (int64_t q = 0; q < nq; q++) agg += exp(p.lambda_lse * cosv[q]);
        agg = log(agg) / p.lambda_lse;
        break;
    case ITR_SCAN_AGG_MAX:
        agg = cosv[0];
        for (int64_t q = 1; q < nq; q++) agg = cosv[q] > agg ? cosv[q] : agg;
        break;
    case ITR_SCAN_AGG_MEAN:
    case ITR_SCAN_AGG_SUM:
        for (int64_t q = 0; q < nq; q++) agg += cosv[q];
        if (p.agg == ITR_SCAN_AGG_MEAN) agg /= (double)nq;
        break;
    }
    return agg;
}

/* Backward of one pair (after scan_pair_forward) for g = dL/dscore: writes
 * gQ (nq, d) and gC (nc, d) of the workspace. */
static __device__ void scan_pair_backward(const itr_scan_params &p, const scan_pair &pr, const scan_layout &L,
                                          double g) {
    unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int64_t nq = pr.nq, nc = pr.nc, d = pr.d;
    double *A0 = pr.w + L.A0, *A2 = pr.w + L.A2, *nrm = pr.w + L.nrm, *P = pr.w + L.P, *dP = pr.w + L.dP;
    double *dA = pr.w + L.dA, *att = pr.w + L.att, *cosv = pr.w + L.cosv, *dc = pr.w + L.dc;
    double *da = pr.w + L.da, *gQ = pr.w + L.gQ, *gC = pr.w + L.gC;
    /* aggregation weights dc[q] (nq is a caption length or R: small) */
    if (threadIdx.x == 0) {
        if (p.agg == ITR_SCAN_AGG_LSE) {
            double z = 0.0;
            for (int64_t q = 0; q < nq; q++) z += exp(p.lambda_lse * cosv[q]);
            for (int64_t q = 0; q < nq; q++) dc[q] = g * exp(p.lambda_lse * cosv[q]) / z;
        } else if (p.agg == ITR_SCAN_AGG_MAX) {
            int64_t best = 0;
            for (int64_t q = 1; q < nq; q++)
                if (cosv[q] > cosv[best]) best = q;
            for (int64_t q = 0; q < nq; q++) dc[q] = q == best ? g : 0.0;
        } else {
            double s = p.agg == ITR_SCAN_AGG_MEAN ? g / (double)nq : g;
            for (int64_t q = 0; q < nq; q++) dc[q] = s;
        }
    }
    __syncthreads();
    /* cosine: gQ (first term) and da, one warp per query */
    for (int64_t q = warp; q < nq; q += nw) {
        const float *x = pr.Q + q * d;
        const double *a = att + q * d;
        double nx = sqrt(warp_dot(x, x, d, lane)), na = sqrt(warp_dot_dd(a, a, d, lane));
        double pd = warp_dot_fd(x, a, d, lane), qq = nx * na, den = qq > SCAN_EPS ? qq : SCAN_EPS, dcq = dc[q];
        double coef = qq >= SCAN_EPS ? -dcq * pd / (den * den) : 0.0;   /* through the norms */
        for (int64_t k = lane; k < d; k += 32) {
            gQ[q * d + k] = dcq * a[k] / den + (nx > 0.0 ? coef * na * x[k] / nx : 0.0);
            da[q * d + k] = dcq * x[k] / den + (na > 0.0 ? coef * nx * a[k] / na : 0.0);
        }
    }
    __syncthreads();
    /* a = P C: dP[q,r] = da_q . C_r, one warp per (q, r) */
    for (int64_t t = warp; t < nq * nc; t += nw) {
        int64_t q = t / nc, r = t % nc;
        double v = warp_dot_fd(pr.C + r * d, da + q * d, d, lane);
        if (lane == 0) dP[t] = v;
    }
    __syncthreads();
    /* ... and gC[r,k] = sum_q P[q,r] da[q,k]; softmax Jacobian into dA (= dA2) */
    for (int64_t e = threadIdx.x; e < nc * d; e += blockDim.x) {
        int64_t r = e / d, k = e % d;
        double v = 0.0;
        for (int64_t q = 0; q < nq; q++) v += P[q * nc + r] * da[q * d + k];
        gC[e] = v;
    }
    for (int64_t q = warp; q < nq; q += nw) {
        double s = 0.0;
        for (int64_t r = lane; r < nc; r += 32) s += P[q * nc + r] * dP[q * nc + r];
        s = itr_cu_warp_sum(s);
        for (int64_t r = lane; r < nc; r += 32)
            dA[r * nq + q] = p.lambda_softmax * P[q * nc + r] * (dP[q * nc + r] - s);
    }
    __syncthreads();
    /* first norm, one warp per context row: dA becomes dA0 */
    for (int64_t r = warp; r < nc; r += nw) {
        double *ga = dA + r * nq;
        const double *a0 = A0 + r * nq, *a2 = A2 + r * nq;
        if (p.norm == ITR_SCAN_NORM_SOFTMAX) {
            double s = 0.0;
            for (int64_t q = lane; q < nq; q += 32) s += a2[q] * ga[q];
            s = itr_cu_warp_sum(s);
            for (int64_t q = lane; q < nq; q += 32) ga[q] = a2[q] * (ga[q] - s);
        } else if (p.norm == ITR_SCAN_NORM_CLIPPED_L2 || p.norm == ITR_SCAN_NORM_L2) {
            int clip = p.norm == ITR_SCAN_NORM_CLIPPED_L2;
            double n = nrm[r], den = n + SCAN_EPS, s = 0.0;
            for (int64_t q = lane; q < nq; q += 32) s += ga[q] * (clip ? lrelu(a0[q]) : a0[q]);
            s = itr_cu_warp_sum(s);
            for (int64_t q = lane; q < nq; q += 32) {
                double a1 = clip ? lrelu(a0[q]) : a0[q];
                /* a zero row has n = 0: the norm term is dropped (autograd: NaN) */
                double v = ga[q] / den - (n > 0.0 ? s / (den * den) * a1 / n : 0.0);
                ga[q] = clip ? v * (a0[q] > 0.0 ? 1.0 : SCAN_LRELU_SLOPE) : v;
            }
        } else if (p.norm == ITR_SCAN_NORM_CLIPPED) {
            for (int64_t q = lane; q < nq; q += 32) ga[q] *= a0[q] > 0.0 ? 1.0 : SCAN_LRELU_SLOPE;
        }
    }
    __syncthreads();
    /* logits A0[r,q] = C_r . Q_q: gC += dA0 Q, gQ += dA0^T C, one element per thread */
    for (int64_t e = threadIdx.x; e < nc * d; e += blockDim.x) {
        int64_t r = e / d, k = e % d;
        double v = 0.0;
        for (int64_t q = 0; q < nq; q++) v += dA[r * nq + q] * (double)pr.Q[q * d + k];
        gC[e] += v;
    }
    for (int64_t e = threadIdx.x; e < nq * d; e += blockDim.x) {
        int64_t q = e / d, k = e % d;
        double v = 0.0;
        for (int64_t r = 0; r < nc; r++) v += dA[r * nq + q] * (double)pr.C[r * d + k];
        gQ[e] += v;
    }
    __syncthreads();
}

/* Pair (i, j) of the chunk starting at image row i0; block b = (i - i0) * B + j. */
static __device__ __forceinline__ scan_pair make_pair(const itr_scan_params &p, const float *im, int64_t R,
                                                      const float *s, const int64_t *s_l, int64_t Lmax, int64_t d,
                                                      int64_t i, int64_t j, double *w) {
    scan_pair pr;
    const float *V = im + i * R * d, *W = s + j * Lmax * d;
    int t2i = p.dir == ITR_SCAN_T2I;
    pr.Q = t2i ? W : V;
    pr.C = t2i ? V : W;
    pr.nq = t2i ? s_l[j] : R;
    pr.nc = t2i ? R : s_l[j];
    pr.d = d;
    pr.w = w;
    return pr;
}

/* Forward (dS == NULL: writes S rows i0..) or forward + backward (writes the
 * pairs' gQ, gC) for the chunk of image rows starting at i0. */
static __global__ void itr_cu_loss_scan_pair_kernel(itr_scan_params p, const float *im, int64_t R, const float *s,
                                                    const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d,
                                                    int64_t i0, scan_layout L, double *ws, const float *dS,
                                                    float *S) {
    int64_t b = blockIdx.x, i = i0 + b / B, j = b % B;
    scan_pair pr = make_pair(p, im, R, s, s_l, Lmax, d, i, j, ws + b * L.per_pair);
    if (!dS) {
        double v = scan_pair_forward(p, pr, L);
        if (threadIdx.x == 0) S[i * B + j] = (float)v;
        return;                                          /* no barrier follows */
    }
    double g = dS[i * B + j];
    if (g == 0.0) {                                      /* uniform over the block: skipped, as the reference */
        for (int64_t e = threadIdx.x; e < pr.nq * d; e += blockDim.x) pr.w[L.gQ + e] = 0.0;
        for (int64_t e = threadIdx.x; e < pr.nc * d; e += blockDim.x) pr.w[L.gC + e] = 0.0;
        return;
    }
    scan_pair_forward(p, pr, L);
    scan_pair_backward(p, pr, L, g);
}

/* Image side: acc_im[i, r, k] += sum_j (that pair's image gradient) for the
 * chunk's rows (thread per (i - i0, r, k)). Caption side: acc_s[j, l, k] +=
 * sum over the chunk's i in increasing order (thread per (j, l, k)). t2i: the
 * image is the context (gC), the caption the query (gQ); i2t the reverse. */
static __global__ void itr_cu_loss_scan_reduce_kernel(int t2i, int image_side, const int64_t *s_l, int64_t R,
                                                      int64_t Lmax, int64_t B, int64_t d, int64_t i0, int64_t rows,
                                                      scan_layout L, const double *ws, double *acc) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t per = (image_side ? R : Lmax) * d, n_items = image_side ? rows : B;
    if (e >= n_items * per) return;
    int64_t item = e / per, rk = e % per, row = rk / d;
    int64_t off = (image_side == t2i) ? L.gC : L.gQ;     /* image: gC in t2i, gQ in i2t */
    double v = 0.0;
    if (image_side) {
        for (int64_t j = 0; j < B; j++) v += ws[(item * B + j) * L.per_pair + off + rk];
        acc[(i0 + item) * per + rk] += v;
    } else {
        if (row >= s_l[item]) return;                    /* 0 beyond the caption's length */
        for (int64_t ii = 0; ii < rows; ii++) v += ws[(ii * B + item) * L.per_pair + off + rk];
        acc[item * per + rk] += v;
    }
}

static __global__ void itr_cu_loss_scan_round_kernel(const double *x, int64_t n, float *y) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e < n) y[e] = (float)x[e];
}

static itr_status check_scan(const char *fn, const itr_scan_params *p, const void *im, int64_t R, const void *s,
                             const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d) {
    if (!p || !im || !s || !s_l) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (R <= 0 || Lmax <= 0 || d <= 0)
        return itr_fail(ITR_E_SHAPE, "%s: im (%lld, %lld, %lld), s (%lld, %lld, %lld): empty axis", fn, (long long)B,
                        (long long)R, (long long)d, (long long)B, (long long)Lmax, (long long)d);
    for (int64_t j = 0; j < B; j++)
        if (s_l[j] < 1 || s_l[j] > Lmax)
            return itr_fail(ITR_E_SHAPE, "%s: s_l[%lld] = %lld outside [1, Lmax = %lld]", fn, (long long)j,
                            (long long)s_l[j], (long long)Lmax);
    return ITR_OK;
}

/* Image rows per chunk so that the workspace stays under the budget. */
static int64_t chunk_rows(const scan_layout &L, int64_t B) {
    if (g_chunk_rows > 0) return g_chunk_rows < B ? g_chunk_rows : B;
    int64_t per_row = B * L.per_pair * (int64_t)sizeof(double);
    int64_t rows = (int64_t)SCAN_WORKSPACE_BYTES / (per_row > 0 ? per_row : 1);
    return rows < 1 ? 1 : rows > B ? B : rows;
}

/* Runs the pair kernel over every chunk; backward also reduces the chunk's
 * gradients into acc_im (B, R, d) and acc_s (B, Lmax, d) (doubles, zeroed). */
static itr_status scan_run(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                           const int64_t *s_l_host, int64_t Lmax, int64_t B, int64_t d, const float *dS, float *S,
                           double *acc_im, double *acc_s, const char *fn) {
    itr_status st = check_scan(fn, p, im, R, s, s_l_host, Lmax, B, d);
    if (st) return st;
    scan_layout L = make_layout(R, Lmax, d);
    int64_t rows = chunk_rows(L, B);
    itr_cu_scratch sc;
    double *ws;
    int64_t *s_l;
    if ((st = sc.upload(&s_l, s_l_host, (size_t)B, fn)) || (st = sc.alloc(&ws, (size_t)(rows * B * L.per_pair), fn)))
        return st;
    int t2i = p->dir == ITR_SCAN_T2I;
    for (int64_t i0 = 0; i0 < B; i0 += rows) {
        int64_t nr = B - i0 < rows ? B - i0 : rows;
        ITR_LAUNCH(itr_cu_loss_scan_pair_kernel, (unsigned)(nr * B), ITR_CU_LOSS_THREADS, 0, *p, im, R, s,
                   (const int64_t *)s_l, Lmax, B, d, i0, L, ws, dS, S);
        if ((st = itr_cu_launched("itr_cu_loss_scan_pair_kernel"))) return st;
        if (!dS) continue;
        ITR_LAUNCH(itr_cu_loss_scan_reduce_kernel, itr_cu_blocks(nr * R * d, ITR_CU_LOSS_THREADS),
                   ITR_CU_LOSS_THREADS, 0, t2i, 1, (const int64_t *)s_l, R, Lmax, B, d, i0, nr, L,
                   (const double *)ws, acc_im);
        if ((st = itr_cu_launched("itr_cu_loss_scan_reduce_kernel"))) return st;
        ITR_LAUNCH(itr_cu_loss_scan_reduce_kernel, itr_cu_blocks(B * Lmax * d, ITR_CU_LOSS_THREADS),
                   ITR_CU_LOSS_THREADS, 0, t2i, 0, (const int64_t *)s_l, R, Lmax, B, d, i0, nr, L,
                   (const double *)ws, acc_s);
        if ((st = itr_cu_launched("itr_cu_loss_scan_reduce_kernel"))) return st;
    }
    return itr_cu_sync(fn);
}

itr_status itr_cu_loss_scan_scores(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                   const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, float *S) {
    if (!S) return itr_fail(ITR_E_ARG, "itr_cuda_scan_scores: NULL output");
    return scan_run(p, im, R, s, s_l, Lmax, B, d, nullptr, S, nullptr, nullptr, "itr_cuda_scan_scores");
}

itr_status itr_cu_loss_scan_backward(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                     const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, const float *dS,
                                     float *dim, float *ds) {
    const char *fn = "itr_cuda_scan_scores_backward";
    itr_status st = check_scan(fn, p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "%s: NULL dS", fn);
    int64_t nim = B * R * d, ns = B * Lmax * d;
    itr_cu_scratch sc;
    double *acc;
    if ((st = sc.alloc(&acc, (size_t)(nim + ns), fn)) || (st = itr_cu_zero(acc, (size_t)(nim + ns) * sizeof *acc, fn)) ||
        (st = scan_run(p, im, R, s, s_l, Lmax, B, d, dS, nullptr, acc, acc + nim, fn)))
        return st;
    if (dim) {
        ITR_LAUNCH(itr_cu_loss_scan_round_kernel, itr_cu_blocks(nim, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0,
                   (const double *)acc, nim, dim);
        if ((st = itr_cu_launched("itr_cu_loss_scan_round_kernel"))) return st;
    }
    if (ds) {
        ITR_LAUNCH(itr_cu_loss_scan_round_kernel, itr_cu_blocks(ns, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0,
                   (const double *)(acc + nim), ns, ds);
        if ((st = itr_cu_launched("itr_cu_loss_scan_round_kernel"))) return st;
    }
    return itr_cu_sync(fn);
}

/* ---- host API ------------------------------------------------------------- */

extern "C" void itr_cuda_scan_set_chunk_rows(int64_t rows) { g_chunk_rows = rows > 0 ? rows : 0; }

extern "C" itr_status itr_cuda_scan_scores(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                           const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, float *S) {
    const char *fn = "itr_cuda_scan_scores";
    itr_status st = itr_cu_init();
    if (!st) st = check_scan(fn, p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "%s: NULL output", fn);
    itr_cu_scratch sc;
    float *x, *y, *out;
    if ((st = sc.upload(&x, im, (size_t)(B * R * d), fn)) || (st = sc.upload(&y, s, (size_t)(B * Lmax * d), fn)) ||
        (st = sc.alloc(&out, (size_t)(B * B), fn)) || (st = itr_cu_loss_scan_scores(p, x, R, y, s_l, Lmax, B, d, out)))
        return st;
    return itr_cu_download(S, out, (size_t)(B * B), fn);
}

extern "C" itr_status itr_cuda_scan_scores_backward(const itr_scan_params *p, const float *im, int64_t R,
                                                    const float *s, const int64_t *s_l, int64_t Lmax, int64_t B,
                                                    int64_t d, const float *dS, float *dim, float *ds) {
    const char *fn = "itr_cuda_scan_scores_backward";
    itr_status st = itr_cu_init();
    if (!st) st = check_scan(fn, p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "%s: NULL dS", fn);
    itr_cu_scratch sc;
    float *x, *y, *g, *gx, *gy;
    size_t nim = (size_t)(B * R * d), ns = (size_t)(B * Lmax * d);
    if ((st = sc.upload(&x, im, nim, fn)) || (st = sc.upload(&y, s, ns, fn)) ||
        (st = sc.upload(&g, dS, (size_t)(B * B), fn)) || (st = sc.output(&gx, dim, nim, fn)) ||
        (st = sc.output(&gy, ds, ns, fn)) || (st = itr_cu_loss_scan_backward(p, x, R, y, s_l, Lmax, B, d, g, gx, gy)))
        return st;
    if ((st = itr_cu_download(dim, gx, nim, fn))) return st;
    return itr_cu_download(ds, gy, ns, fn);
}

extern "C" itr_status itr_cuda_scan_loss(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                         const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, float margin,
                                         int hardest, itr_hinge_result *res, float *S, float *dS, float *dim,
                                         float *ds) {
    const char *fn = "itr_cuda_scan_loss";
    itr_status st = itr_cu_init();
    if (!st) st = check_scan(fn, p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    itr_cu_scratch sc;
    float *x, *y, *sv, *g, *gx, *gy;
    size_t nim = (size_t)(B * R * d), ns = (size_t)(B * Lmax * d), n = (size_t)(B * B);
    if ((st = sc.upload(&x, im, nim, fn)) || (st = sc.upload(&y, s, ns, fn)) || (st = sc.alloc(&sv, n, fn)) ||
        (st = sc.alloc(&g, n, fn)) || (st = sc.output(&gx, dim, nim, fn)) || (st = sc.output(&gy, ds, ns, fn)))
        return st;
    if ((st = itr_cu_loss_scan_scores(p, x, R, y, s_l, Lmax, B, d, sv)) ||
        (st = itr_cu_loss_hinge(sv, B, margin, nullptr, hardest, res, nullptr, nullptr, g)))
        return st;
    if ((dim || ds) && (st = itr_cu_loss_scan_backward(p, x, R, y, s_l, Lmax, B, d, g, gx, gy))) return st;
    if ((st = itr_cu_download(S, sv, n, fn)) || (st = itr_cu_download(dS, g, n, fn)) ||
        (st = itr_cu_download(dim, gx, nim, fn)))
        return st;
    return itr_cu_download(ds, gy, ns, fn);
}
