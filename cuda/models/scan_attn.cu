/* scan_attn.cu - SCAN's float64 cross attention (specs/scan_sgraf.md s4.4,
 * s5.2), many (image, caption) pairs per launch; the arithmetic of
 * itr_scan_sims_f64 / itr_scan_scores_f64 (ref/models/scan.c,
 * ref/losses/scan_sims.c), reorganised as models/scan_attn.h explains:
 *
 *   1. one DGEMM per tile: X (ni*R, Wb) = regions of ni images . the Wb
 *      packed words of a caption block (padding never enters);
 *   2. one pair kernel per tile, a block per pair: first norm (QUIRK-S3:
 *      each context item across the queries; QUIRK-S2 LeakyReLU(0.1);
 *      QUIRK-S4 l2n with eps added), the lambda_softmax softmax over the
 *      context, q.a from the dots and |a|^2 = P^T G P, the clamped cosine
 *      (QUIRK-S4) and the aggregation (QUIRK-S7: LogSumExp without shift).
 * Per batch (once, not per tile): squared norms of the queries and Gram
 * matrices of the context items (t2i: each image's R x R regions, i2t: each
 * caption's L x L words).
 *
 * The dots (cuBLAS) and the attended-context identities round differently
 * from the reference's loops: results agree to ~1e-15, not bit for bit. */
#include "core/compat.h"
#include "core/device.h"
#include "models/scan_attn.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_EPS 1e-8          /* l2n eps (added) and cosine eps (clamp), s2.3 */
#define SCAN_SLOPE 0.1         /* "clipped" = nn.LeakyReLU(0.1), QUIRK-S2 */
#define PAIR_THREADS 64        /* threads per pair block */
#define AUX_THREADS 128
#define SHARED_LIMIT (48 * 1024)   /* dynamic shared memory without opt-in */

static __device__ __forceinline__ double scan_lrelu(double x) { return x > 0.0 ? x : SCAN_SLOPE * x; }

/* S2 from S0 and its context row's statistics (a, b) of step 1:
 * softmax: (max, sum of exp); clipped_l2norm / l2norm: (||row|| + eps, -). */
static __device__ __forceinline__ double scan_first_norm(int norm, double x, double a, double b) {
    switch (norm) {
    case ITR_SCAN_NORM_SOFTMAX: return exp(x - a) / b;
    case ITR_SCAN_NORM_CLIPPED_L2: return scan_lrelu(x) / a;
    case ITR_SCAN_NORM_L2: return x / a;
    case ITR_SCAN_NORM_CLIPPED: return scan_lrelu(x);
    default: return x;   /* no_norm */
    }
}

/* ---- per-batch preparation ------------------------------------------------
 * No warp shuffles anywhere in this file: every reduction is a serial loop of
 * one thread (in the reference's order), phases are separated by
 * __syncthreads. That keeps the kernels cheap in the emulation and, on the
 * GPU, the per-pair work is far below the tile's DGEMM. */

/* out[k] = ||Y_k||^2 for n rows of length D; one thread per row. */
__global__ void itr_cu_scan_sumsq_kernel(const double *__restrict__ Y, int64_t n, int64_t D,
                                         double *__restrict__ out) {
    int64_t row = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n) return;
    double s = 0.0;
    for (int64_t k = 0; k < D; k++) s += Y[row * D + k] * Y[row * D + k];
    out[row] = s;
}

/* Word Grams (i2t context): caption j (block j) has rows woff[j] .. woff[j+1]-1
 * of W; G_j (L, L) at gram + goff[j]. One thread per entry. */
__global__ void itr_cu_scan_word_gram_kernel(const double *__restrict__ W, int64_t D,
                                             const int64_t *__restrict__ woff, const int64_t *__restrict__ goff,
                                             double *__restrict__ gram) {
    int64_t j = blockIdx.x, w0 = woff[j], L = woff[j + 1] - w0;
    for (int64_t e = threadIdx.x; e < L * L; e += blockDim.x) {
        const double *a = W + (w0 + e / L) * D, *c = W + (w0 + e % L) * D;
        double s = 0.0;
        for (int64_t k = 0; k < D; k++) s += a[k] * c[k];
        gram[goff[j] + e] = s;
    }
}

/* ---- the pair kernel ----------------------------------------------------------
 * Block p = i * ncap + j scores image i of the tile against caption j of the
 * block; the score goes to column cols[j] of row i of sims.
 * X (ni*R, ldx): region r of image i against word w of the block at
 * X[(i*R + r) * ldx + w]; caption j's words are columns woff[j]-woff[0] ...
 * gram: t2i the tile's image Grams (ni, R, R); i2t the word Grams at goff[j].
 * qn2: t2i the block's word norms (from its first word); i2t the tile's region norms.
 * Dynamic shared memory (doubles): tile_len (0: read X directly), then
 * 2 * nc_max statistics, nq_max * (nc_max | 1) attention rows, nq_max cosines. */
__global__ void itr_cu_scan_pair_kernel(const double *__restrict__ X, int64_t ldx, const int64_t *__restrict__ woff,
                                        const int64_t *__restrict__ cols, int64_t ncap, int64_t R, int dir, int norm,
                                        int agg, double lambda_softmax, double lambda_lse,
                                        const double *__restrict__ gram, const int64_t *__restrict__ goff,
                                        const double *__restrict__ qn2, int64_t tile_len, int64_t nc_max,
                                        int64_t nq_max, double *__restrict__ sims, int64_t ld_sims,
                                        double *__restrict__ attnT, int64_t attn_stride, double *__restrict__ row_sim,
                                        int64_t r_stride) {
    ITR_DYNAMIC_SHARED(float, smem_f);
    double *smem = (double *)smem_f;
    int64_t pair = blockIdx.x, i = pair / ncap, j = pair % ncap;
    int64_t wb = woff[j] - woff[0], L = woff[j + 1] - woff[j];
    int t2i = dir == ITR_SCAN_T2I;
    int64_t nq = t2i ? L : R, nc = t2i ? R : L, pst = nc_max | 1;
    const double *Xp = X + i * R * ldx + wb;
    double *st_a = smem + tile_len, *st_b = st_a + nc_max, *P = st_b + nc_max, *rq = P + nq_max * pst;

    /* 0. this pair's (R, L) dots, staged when they fit; rows padded to an odd
     * number of doubles so that threads walking a column hit distinct banks */
    const double *S = Xp;
    int64_t sr = ldx;
    if (tile_len) {
        sr = L | 1;
        for (int64_t k = threadIdx.x; k < R * L; k += blockDim.x) {
            int64_t r = k / L, w = k - r * L;
            smem[r * sr + w] = Xp[r * ldx + w];
        }
        S = smem;
    }
    __syncthreads();
    int64_t sc = t2i ? sr : 1, sq = t2i ? 1 : sr;   /* S0(c, q) = S[c * sc + q * sq] */

    /* 1. first norm statistics of every context row, across the queries
     * (QUIRK-S3); a thread per context item */
    for (int64_t c = threadIdx.x; c < nc; c += blockDim.x) {
        const double *row = S + c * sc;
        if (norm == ITR_SCAN_NORM_SOFTMAX) {
            double mx = -INFINITY, z = 0.0;
            for (int64_t q = 0; q < nq; q++) mx = row[q * sq] > mx ? row[q * sq] : mx;
            for (int64_t q = 0; q < nq; q++) z += exp(row[q * sq] - mx);
            st_a[c] = mx;
            st_b[c] = z;
        } else if (norm == ITR_SCAN_NORM_CLIPPED_L2 || norm == ITR_SCAN_NORM_L2) {
            double ss = 0.0;
            for (int64_t q = 0; q < nq; q++) {
                double v = norm == ITR_SCAN_NORM_CLIPPED_L2 ? scan_lrelu(row[q * sq]) : row[q * sq];
                ss += v * v;
            }
            st_a[c] = sqrt(ss) + SCAN_EPS;   /* QUIRK-S4: eps added */
        }
    }
    __syncthreads();

    /* 2. per query (a thread each): attention over the context, cosine */
    const double *G = t2i ? gram + i * R * R : gram + goff[j];
    const double *qn = t2i ? qn2 + wb : qn2 + i * R;
    for (int64_t q = threadIdx.x; q < nq; q += blockDim.x) {
        double *Pq = P + q * pst, mx = -INFINITY, z = 0.0, num = 0.0, den2 = 0.0;
        for (int64_t c = 0; c < nc; c++) {
            Pq[c] = lambda_softmax * scan_first_norm(norm, S[c * sc + q * sq], st_a[c], st_b[c]);
            mx = Pq[c] > mx ? Pq[c] : mx;
        }
        for (int64_t c = 0; c < nc; c++) z += (Pq[c] = exp(Pq[c] - mx));
        for (int64_t c = 0; c < nc; c++) {
            Pq[c] /= z;
            num += Pq[c] * S[c * sc + q * sq];   /* Q_q . a_q = sum_c P_c (C_c . Q_q) */
        }
        /* |a_q|^2 = P^T G P over G's upper triangle (G is symmetric):
         * sum_c P_c (G_cc P_c + 2 sum_{c2 > c} G_cc2 P_c2). Every thread of
         * the block reads the same G entry at the same time (broadcast). */
        for (int64_t c = 0; c < nc; c++) {
            const double *Gc = G + c * nc;
            double t = 0.0;
            for (int64_t c2 = c + 1; c2 < nc; c2++) t += Gc[c2] * Pq[c2];
            den2 += Pq[c] * (Gc[c] * Pq[c] + 2.0 * t);
        }
        /* P^T G P >= 0 in exact arithmetic; rounding must not make a NaN */
        double den = sqrt(qn[q]) * sqrt(den2 > 0.0 ? den2 : 0.0);
        rq[q] = num / (den > SCAN_EPS ? den : SCAN_EPS);   /* QUIRK-S4 clamp */
        if (attnT)
            for (int64_t c = 0; c < nc; c++) attnT[pair * attn_stride + c * nq + q] = Pq[c];
        if (row_sim) row_sim[pair * r_stride + q] = rq[q];
    }
    __syncthreads();

    /* 3. aggregation over the queries (s4.4 step 6), in the reference's order */
    if (threadIdx.x == 0) {
        double acc = 0.0;
        if (agg == ITR_SCAN_AGG_LSE) {   /* QUIRK-S7: literally, no max shift */
            for (int64_t q = 0; q < nq; q++) acc += exp(lambda_lse * rq[q]);
            acc = log(acc) / lambda_lse;
        } else if (agg == ITR_SCAN_AGG_MAX) {
            acc = rq[0];
            for (int64_t q = 1; q < nq; q++) acc = rq[q] > acc ? rq[q] : acc;
        } else {
            for (int64_t q = 0; q < nq; q++) acc += rq[q];
            if (agg == ITR_SCAN_AGG_MEAN) acc /= (double)nq;
        }
        sims[i * ld_sims + cols[j]] = acc;
    }
}

/* ---- host side -------------------------------------------------------------- */

itr_status itr_cu_scan_batch_init(itr_cu_scan_batch *b, const itr_scan_params *p, const double *V, int64_t n_img,
                                  int64_t R, const double *W, const int64_t *lengths, const int64_t *cols,
                                  int64_t n_cap, int64_t D) {
    itr_status st;
    int64_t *goff = NULL, *col = NULL;
    memset(b, 0, sizeof *b);
    b->p = *p;
    b->n_img = n_img, b->R = R, b->n_cap = n_cap, b->D = D, b->V = V, b->W = W;
    b->woff = (int64_t *)malloc((size_t)(n_cap + 1) * sizeof *b->woff);
    goff = (int64_t *)malloc((size_t)n_cap * sizeof *goff);
    col = (int64_t *)malloc((size_t)n_cap * sizeof *col);
    if (!b->woff || !goff || !col) {
        free(goff);
        free(col);
        itr_cu_scan_batch_free(b);
        return itr_fail(ITR_E_NOMEM, "SCAN CUDA: out of memory for %lld caption offsets", (long long)n_cap);
    }
    int64_t n_gram = 0;
    b->woff[0] = 0;
    for (int64_t j = 0; j < n_cap; j++) {
        b->woff[j + 1] = b->woff[j] + lengths[j];
        goff[j] = n_gram;
        n_gram += lengths[j] * lengths[j];
        if (lengths[j] > b->max_len) b->max_len = lengths[j];
        col[j] = cols ? cols[j] : j;
    }
    b->n_words = b->woff[n_cap];
    int t2i = p->dir == ITR_SCAN_T2I;
    int64_t nq_rows = t2i ? b->n_words : n_img * R;
    const double *Qrows = t2i ? W : V;
    if ((st = itr_cu_upload(&b->woff_dev, b->woff, (size_t)(n_cap + 1), "SCAN word offsets"))) goto fail;
    if ((st = itr_cu_upload(&b->cols_dev, col, (size_t)n_cap, "SCAN score columns"))) goto fail;
    if ((st = itr_cu_alloc_n(&b->qn2, (size_t)nq_rows, "SCAN query norms"))) goto fail;
    ITR_LAUNCH(itr_cu_scan_sumsq_kernel, itr_cu_blocks(nq_rows, AUX_THREADS), AUX_THREADS, 0, Qrows, nq_rows, D,
               b->qn2);
    if ((st = itr_cu_launched("itr_cu_scan_sumsq_kernel"))) goto fail;
    if (t2i) {
        /* G_i = V_i V_i^T for every image, one batched DGEMM */
        if ((st = itr_cu_alloc_n(&b->gram, (size_t)(n_img * R * R), "SCAN region Grams"))) goto fail;
        if ((st = itr_cu_dgemm_batched(0, 1, R, R, D, 1.0, V, D, R * D, V, D, R * D, 0.0, b->gram, R, R * R, n_img)))
            goto fail;
    } else {
        if ((st = itr_cu_upload(&b->goff_dev, goff, (size_t)n_cap, "SCAN Gram offsets"))) goto fail;
        if ((st = itr_cu_alloc_n(&b->gram, (size_t)n_gram, "SCAN word Grams"))) goto fail;
        ITR_LAUNCH(itr_cu_scan_word_gram_kernel, (unsigned)n_cap, AUX_THREADS, 0, W, D, b->woff_dev, b->goff_dev,
                   b->gram);
        if ((st = itr_cu_launched("itr_cu_scan_word_gram_kernel"))) goto fail;
    }
    free(goff);
    free(col);
    return ITR_OK;
fail:
    free(goff);
    free(col);
    itr_cu_scan_batch_free(b);
    return st;
}

void itr_cu_scan_batch_free(itr_cu_scan_batch *b) {
    free(b->woff);
    itr_cu_free(b->woff_dev);
    itr_cu_free(b->cols_dev);
    itr_cu_free(b->goff_dev);
    itr_cu_free(b->qn2);
    itr_cu_free(b->gram);
    memset(b, 0, sizeof *b);
}

int64_t itr_cu_scan_block_words(const itr_cu_scan_batch *b, int64_t j0, int64_t nc) {
    return b->woff[j0 + nc] - b->woff[j0];
}

int64_t itr_cu_scan_block_max_len(const itr_cu_scan_batch *b, int64_t j0, int64_t nc) {
    int64_t m = 0;
    for (int64_t j = j0; j < j0 + nc; j++) m = b->woff[j + 1] - b->woff[j] > m ? b->woff[j + 1] - b->woff[j] : m;
    return m;
}

itr_status itr_cu_scan_tile(const itr_cu_scan_batch *b, int64_t i0, int64_t ni, int64_t j0, int64_t nc, int stage,
                            double *X, double *sims, int64_t ld_sims, double *attnT, int64_t attn_stride,
                            double *row_sim, int64_t r_stride) {
    itr_status st;
    int64_t R = b->R, D = b->D, Wb = itr_cu_scan_block_words(b, j0, nc), Lmax = itr_cu_scan_block_max_len(b, j0, nc);
    int t2i = b->p.dir == ITR_SCAN_T2I;
    int64_t nc_max = t2i ? R : Lmax, nq_max = t2i ? Lmax : R;
    /* shared: statistics, attention rows (padded to odd length), cosines; the
     * dot tile first when it fits as well */
    size_t need = (size_t)(2 * nc_max + nq_max * (nc_max | 1) + nq_max) * sizeof(double);
    size_t tile = (size_t)(R * (Lmax | 1)) * sizeof(double);   /* rows padded to odd length */
    if (need > SHARED_LIMIT)
        return itr_fail(ITR_E_UNSUPPORTED,
                        "SCAN CUDA: %lld context items x %lld queries need %zu bytes of shared memory (max %d); "
                        "captions that long are not supported",
                        (long long)nc_max, (long long)nq_max, need, SHARED_LIMIT);
    int64_t tile_len = stage && need + tile <= SHARED_LIMIT ? R * (Lmax | 1) : 0;
    /* 1. every region-word dot of the tile: X = V_block W_block^T */
    if ((st = itr_cu_dgemm(0, 1, ni * R, Wb, D, 1.0, b->V + i0 * R * D, D, b->W + b->woff[j0] * D, D, 0.0, X, Wb)))
        return st;
    /* 2. every pair of the tile */
    const double *gram = t2i ? b->gram + i0 * R * R : b->gram;
    const double *qn2 = t2i ? b->qn2 + b->woff[j0] : b->qn2 + i0 * R;
    size_t shmem = need + (size_t)tile_len * sizeof(double);
    ITR_LAUNCH(itr_cu_scan_pair_kernel, (unsigned)(ni * nc), PAIR_THREADS, shmem, (const double *)X, Wb,
               (const int64_t *)(b->woff_dev + j0), (const int64_t *)(b->cols_dev + j0), nc, R, (int)b->p.dir,
               (int)b->p.norm, (int)b->p.agg, b->p.lambda_softmax, b->p.lambda_lse, gram,
               (const int64_t *)(b->goff_dev ? b->goff_dev + j0 : NULL), qn2, tile_len, nc_max, nq_max, sims, ld_sims,
               attnT, attn_stride, row_sim, r_stride);
    return itr_cu_launched("itr_cu_scan_pair_kernel");
}
