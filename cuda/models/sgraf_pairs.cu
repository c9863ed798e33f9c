/* sgraf_pairs.cu - SGRAF's pair network on CUDA for a whole tile of
 * (image, caption) pairs at once (spec scan_sgraf.md s4.5 pair steps 1-7,
 * ref/models/sgraf.c itr_sgraf_pair_score / score_tile).
 *
 * A tile is nI images x nC captions. The captions' words are stored compactly
 * (no padding): caption j of the block owns word rows o_j .. o_j + L_j - 1 of
 * the block's Wc words. Per tile, with pair (i, j) and N_j = L_j + 1 nodes:
 *
 *   1. S = V_blk C_blk^T                   ONE GEMM (nI*R, Wc): every region x every word
 *   2. attention weights, one block per pair:  S <- lrelu_0.1(S); each region's row
 *      l2n across the caption's OWN words, x 9; softmax over the R regions per word
 *   3. ctx_i = A_i^T V_i                   ONE batched GEMM over the nI images (Wc, D) each
 *   4. f = (l2n(ctx) - T)^2                QUIRK(G2): context re-normalised, squared differences
 *   5. loc = f W_loc^T                      ONE GEMM over all nI*Wc (image, word) rows
 *   6. glo = (v_glo - t_glo)^2 W_glo^T      ONE GEMM over all nI*nC pairs
 *   7. nodes X = l2n([glo + b_glo; loc + b_loc]) per pair, stacked (sum_pairs N_j, P)
 *   8. SGR (QUIRK(G4)), per step: [Q K] = X [W_q; W_k]^T  ONE GEMM; per pair
 *      E = softmax_row(Q K^T) and EX = E X (warp per node row, no N x N storage);
 *      X = relu(EX W_g^T + b_g)  ONE GEMM. The last step only needs node 0:
 *      EX row 0 of each pair, a (pairs, P) GEMM, and relu + head fused.
 *      SAF (QUIRK(G5)): one block per pair: gates, BN, sigmoid, l1n, pooling, l2n, head.
 *   9. score = sigmoid(w_e . v + b_e) -> sims[i, column of caption j] (float64 of the float32)
 * Pair node rows start at node_base(i, j) = i*(Wc + nC) + o_j + j. */
#include "core/compat.h"
#include "core/device.h"
#include "core/ops.h"
#include "models/sgraf_device.h"
#include "models/sgraf_internal.h"

#include <stdlib.h>
#include <string.h>

#define PAIR_THREADS 128   /* 4 warps per pair block */

/* Word range of caption j of the block: off (block's first caption) is the
 * global word offset table, w0 the block's first word. */
static __device__ __forceinline__ void itr_sgraf_cap_range(const int64_t *off, int64_t w0, int64_t j, int64_t *o,
                                                          int64_t *L) {
    *o = off[j] - w0;
    *L = off[j + 1] - off[j];
}

/* Step 2, pair (i = blockIdx.y, j = blockIdx.x): S_i (R, Wc) of image i. */
__global__ void itr_cu_sgraf_attn_weights_kernel(float *__restrict__ S, const int64_t *__restrict__ off, int64_t w0,
                                                 int64_t R, int64_t Wc) {
    int lane = (int)(threadIdx.x % 32), warp = (int)(threadIdx.x / 32), warps = (int)(blockDim.x / 32);
    int64_t o, L;
    itr_sgraf_cap_range(off, w0, blockIdx.x, &o, &L);
    float *Si = S + (int64_t)blockIdx.y * R * Wc + o;
    for (int64_t r = warp; r < R; r += warps) {   /* clipped_l2norm of region r across the L words */
        float *row = Si + r * Wc, sq = 0.0f;
        for (int64_t l = lane; l < L; l += 32) {
            float x = row[l];
            if (x < 0.0f) x *= ITR_SGRAF_LRELU;
            row[l] = x;
            sq += x * x;
        }
        float d = itr_sgd_l2_den(itr_cu_warp_sum(sq));
        for (int64_t l = lane; l < L; l += 32) row[l] = row[l] / d * ITR_SGRAF_SMOOTH;
    }
    __syncthreads();
    for (int64_t l = warp; l < L; l += warps) itr_sgd_warp_softmax(Si + l, R, Wc);   /* over regions */
}

/* Step 4 (diff) or the plain re-normalised context (C NULL): warp per row
 * (i, w) of ctx (nI*Wc, D); C (Wc, D) the block's words. */
__global__ void itr_cu_sgraf_ctx_kernel(float *__restrict__ ctx, const float *__restrict__ C, int64_t rows,
                                        int64_t Wc, int64_t D) {
    int lane = (int)(threadIdx.x % 32), warps = (int)(blockDim.x / 32);
    int64_t row = (int64_t)blockIdx.x * warps + threadIdx.x / 32;
    if (row >= rows) return;   /* whole warps */
    float *c = ctx + row * D, sq = 0.0f;
    for (int64_t k = lane; k < D; k += 32) sq += c[k] * c[k];
    float d = itr_sgd_l2_den(itr_cu_warp_sum(sq));
    const float *t = C ? C + (row % Wc) * D : NULL;
    for (int64_t k = lane; k < D; k += 32) {
        float v = c[k] / d;
        if (t) {
            v = v - t[k];
            v = v * v;
        }
        c[k] = v;
    }
}

/* Step 6 input: gd (nI*nC, D), pair (i, j) row = (vg_i - tg_j)^2. */
__global__ void itr_cu_sgraf_glo_diff_kernel(const float *__restrict__ vg, const float *__restrict__ tg, int64_t nI,
                                             int64_t nC, int64_t D, float *__restrict__ gd) {
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= nI * nC * D) return;
    int64_t pair = idx / D, k = idx - pair * D, i = pair / nC, j = pair - i * nC;
    float d = vg[i * D + k] - tg[j * D + k];
    gd[idx] = d * d;
}

/* Step 7, pair (i = blockIdx.y, j = blockIdx.x), warp per node:
 * node 0 = l2n(glo + b_glo), node 1 + l = l2n(loc_l + b_loc). */
__global__ void itr_cu_sgraf_nodes_kernel(const float *__restrict__ loc, const float *__restrict__ glo,
                                          const float *__restrict__ b_loc, const float *__restrict__ b_glo,
                                          const int64_t *__restrict__ off, int64_t w0, int64_t nC, int64_t Wc,
                                          int64_t P, float *__restrict__ X) {
    int lane = (int)(threadIdx.x % 32), warp = (int)(threadIdx.x / 32), warps = (int)(blockDim.x / 32);
    int64_t i = blockIdx.y, j = blockIdx.x, o, L;
    itr_sgraf_cap_range(off, w0, j, &o, &L);
    float *Xp = X + (i * (Wc + nC) + o + j) * P;
    for (int64_t k = warp; k <= L; k += warps) {
        const float *src = k == 0 ? glo + (i * nC + j) * P : loc + (i * Wc + o + k - 1) * P;
        const float *b = k == 0 ? b_glo : b_loc;
        float *dst = Xp + k * P, sq = 0.0f;
        for (int64_t p = lane; p < P; p += 32) {
            float v = src[p] + b[p];
            dst[p] = v;
            sq += v * v;
        }
        float d = itr_sgd_l2_den(itr_cu_warp_sum(sq));
        for (int64_t p = lane; p < P; p += 32) dst[p] = dst[p] / d;
    }
}

/* SGR step, pair (i = blockIdx.y, j = blockIdx.x); QK (nodes, 2P) = [X W_q^T | X W_k^T]
 * without biases. Warp per node row a (only a = 0 when `last`):
 *   q = Q_a + b_q;  e_b = q . (K_b + b_k);  e = softmax(e)  (no 1/sqrt(P), QUIRK(G4))
 *   out_a = sum_b e_b X_b                     (the un-projected X)
 * out: EX (nodes, P) at the node's row, or (pairs, P) at the pair's row when last.
 * Dynamic shared: warps * (P + n_max) floats (q and e of each warp). */
__global__ void itr_cu_sgraf_sgr_edges_kernel(const float *__restrict__ QK, const float *__restrict__ bqk,
                                              const float *__restrict__ X, const int64_t *__restrict__ off,
                                              int64_t w0, int64_t nC, int64_t Wc, int64_t P, int64_t n_max,
                                              int last, float *__restrict__ out) {
    ITR_DYNAMIC_SHARED(float, shm);
    int lane = (int)(threadIdx.x % 32), warp = (int)(threadIdx.x / 32), warps = (int)(blockDim.x / 32);
    int64_t i = blockIdx.y, j = blockIdx.x, o, L;
    itr_sgraf_cap_range(off, w0, j, &o, &L);
    int64_t N = L + 1, nb = i * (Wc + nC) + o + j, rows = last ? 1 : N;
    float *q = shm + warp * (P + n_max), *e = q + P;
    const float *bq = bqk, *bk = bqk + P;
    for (int64_t a = warp; a < rows; a += warps) {
        const float *Qa = QK + (nb + a) * 2 * P;
        for (int64_t p = lane; p < P; p += 32) q[p] = Qa[p] + bq[p];
        __syncwarp();
        for (int64_t b = 0; b < N; b++) {
            const float *Kb = QK + (nb + b) * 2 * P + P;
            float s = 0.0f;
            for (int64_t p = lane; p < P; p += 32) s += q[p] * (Kb[p] + bk[p]);
            s = itr_cu_warp_sum(s);
            if (lane == 0) e[b] = s;
        }
        __syncwarp();
        itr_sgd_warp_softmax(e, N, 1);
        float *dst = last ? out + (i * nC + j) * P : out + (nb + a) * P;
        for (int64_t p = lane; p < P; p += 32) {
            float s = 0.0f;
            for (int64_t b = 0; b < N; b++) s += e[b] * X[(nb + b) * P + p];
            dst[p] = s;
        }
        __syncwarp();
    }
}

/* X = relu(X + b) over (rows, P). */
__global__ void itr_cu_sgraf_bias_relu_kernel(float *__restrict__ X, const float *__restrict__ b, int64_t rows,
                                              int64_t P) {
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * P) return;
    float v = X[idx] + b[idx % P];
    X[idx] = v < 0.0f ? 0.0f : v;
}

/* SGR readout + head, warp per pair: v = relu(G0 + b_g) (node 0 after the
 * last step), score = sigmoid(w_e . v + b_e) -> sims[i, col[j]]. */
__global__ void itr_cu_sgraf_sgr_head_kernel(const float *__restrict__ G0, const float *__restrict__ b_g,
                                             const float *__restrict__ w_e, const float *__restrict__ b_e,
                                             const int64_t *__restrict__ col, int64_t nI, int64_t nC, int64_t P,
                                             int64_t n_cap, double *__restrict__ sims) {
    int lane = (int)(threadIdx.x % 32), warps = (int)(blockDim.x / 32);
    int64_t pair = (int64_t)blockIdx.x * warps + threadIdx.x / 32;
    if (pair >= nI * nC) return;   /* whole warps */
    const float *g = G0 + pair * P;
    float z = 0.0f;
    for (int64_t p = lane; p < P; p += 32) {
        float v = g[p] + b_g[p];
        z += w_e[p] * (v < 0.0f ? 0.0f : v);
    }
    z = itr_cu_warp_sum(z);
    if (lane == 0) sims[(pair / nC) * n_cap + col[pair % nC]] = (double)itr_sgd_sigmoid(b_e[0] + z);
}

/* SAF + head, one block per pair (i = blockIdx.y, j = blockIdx.x):
 *   a_k = BN_1(w_a . X_k + b_a);  g = l1n(sigmoid(a)) over all N nodes;
 *   v = l2n(sum_k g_k X_k);  score = sigmoid(w_e . v + b_e).
 * Dynamic shared: n_max + P floats (gates, pooled v). */
__global__ void itr_cu_sgraf_saf_kernel(const float *__restrict__ X, const int64_t *__restrict__ off, int64_t w0,
                                        int64_t nC, int64_t Wc, int64_t P, int64_t n_max,
                                        const float *__restrict__ w_a, const float *__restrict__ b_a,
                                        itr_cu_sgraf_bn bn, const float *__restrict__ w_e,
                                        const float *__restrict__ b_e, const int64_t *__restrict__ col,
                                        int64_t n_cap, double *__restrict__ sims) {
    ITR_DYNAMIC_SHARED(float, shm);
    int tid = (int)threadIdx.x, lane = tid % 32, warp = tid / 32, warps = (int)(blockDim.x / 32);
    int64_t i = blockIdx.y, j = blockIdx.x, o, L;
    itr_sgraf_cap_range(off, w0, j, &o, &L);
    int64_t N = L + 1;
    const float *Xp = X + (i * (Wc + nC) + o + j) * P;
    float *g = shm, *v = shm + n_max;
    for (int64_t k = warp; k < N; k += warps) {
        float s = 0.0f;
        for (int64_t p = lane; p < P; p += 32) s += w_a[p] * Xp[k * P + p];
        s = itr_cu_warp_sum(s);
        if (lane == 0) g[k] = itr_sgd_sigmoid(itr_sgd_bn(b_a[0] + s, bn, 0));
    }
    __syncthreads();
    float a = 0.0f;
    for (int64_t k = tid; k < N; k += blockDim.x) a += fabsf(g[k]);
    float l1 = itr_cu_block_sum(a) + ITR_SGRAF_L2_EPS;   /* l1n eps 1e-8 */
    float sq = 0.0f;
    for (int64_t p = tid; p < P; p += blockDim.x) {
        float s = 0.0f;
        for (int64_t k = 0; k < N; k++) s += g[k] / l1 * Xp[k * P + p];
        v[p] = s;
        sq += s * s;
    }
    float d = itr_sgd_l2_den(itr_cu_block_sum(sq));
    float z = 0.0f;
    for (int64_t p = tid; p < P; p += blockDim.x) z += w_e[p] * (v[p] / d);
    z = itr_cu_block_sum(z);
    if (tid == 0) sims[(int64_t)blockIdx.y * n_cap + col[j]] = (double)itr_sgd_sigmoid(b_e[0] + z);
}

/* ---- host side ---------------------------------------------------------------- */

static int64_t grid_for(int64_t n, int64_t per_block) { return (n + per_block - 1) / per_block; }

/* Steps 1-3 (+4 or the plain normalisation): words C (Wc, D) of nC captions
 * (offsets off_dev, first word w0) over images V (nI, R, D) -> ctx (nI*Wc, D). */
extern "C" itr_status itr_cu_sgraf_attend(const itr_cuda_sgraf *m, const float *V, int64_t nI, const float *C,
                                          int64_t Wc, int64_t nC, const int64_t *off_dev, int64_t w0, int diff,
                                          float *S, float *ctx) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    itr_status st = itr_cu_sgemm(0, 1, nI * R, Wc, D, 1.0f, V, D, C, D, 0.0f, S, Wc);
    if (st) return st;
    ITR_LAUNCH(itr_cu_sgraf_attn_weights_kernel, dim3((unsigned)nC, (unsigned)nI), PAIR_THREADS, 0, S, off_dev, w0,
               R, Wc);
    if ((st = itr_cu_launched("itr_cu_sgraf_attn_weights_kernel"))) return st;
    /* ctx_i (Wc, D) = A_i^T (Wc, R) V_i (R, D), A_i = S rows i*R .. i*R + R - 1 */
    st = itr_cu_sgemm_batched(1, 0, Wc, D, R, 1.0f, S, Wc, R * Wc, V, D, R * D, 0.0f, ctx, D, Wc * D, nI);
    if (st) return st;
    int warps = PAIR_THREADS / 32;
    ITR_LAUNCH(itr_cu_sgraf_ctx_kernel, (int)grid_for(nI * Wc, warps), PAIR_THREADS, 0, ctx, diff ? C : NULL,
               nI * Wc, Wc, D);
    return itr_cu_launched("itr_cu_sgraf_ctx_kernel");
}

/* Steps 5-9 for one tile; see itr_cu_sgraf_tile in sgraf_pairs.h. */
extern "C" itr_status itr_cu_sgraf_tile(const itr_cuda_sgraf *m, const itr_cu_sgraf_tile_args *t,
                                        const itr_cu_sgraf_ws *ws) {
    const itr_sgraf_config *c = &m->cfg;
    int64_t D = c->embed_size, P = c->sim_dim, nI = t->nI, nC = t->nC, Wc = t->Wc;
    int64_t pairs = nI * nC, nodes = nI * (Wc + nC);
    dim3 pair_grid((unsigned)nC, (unsigned)nI);
    int warps = PAIR_THREADS / 32;
    itr_status st;
    if ((st = itr_cu_sgraf_attend(m, t->V, nI, t->C, Wc, nC, t->off, t->w0, 1, ws->S, ws->ctx))) return st;
    /* 5: local alignments of all (image, word) rows, bias added in step 7 */
    if ((st = itr_cu_sgemm(0, 1, nI * Wc, P, D, 1.0f, ws->ctx, D, m->tranloc_w, D, 0.0f, ws->loc, P))) return st;
    /* 6: global alignments of all pairs; gd reuses the ctx buffer */
    float *gd = ws->ctx;
    ITR_LAUNCH(itr_cu_sgraf_glo_diff_kernel, (int)grid_for(pairs * D, 256), 256, 0, t->vg, t->tg, nI, nC, D, gd);
    if ((st = itr_cu_launched("itr_cu_sgraf_glo_diff_kernel"))) return st;
    if ((st = itr_cu_sgemm(0, 1, pairs, P, D, 1.0f, gd, D, m->tranglo_w, D, 0.0f, ws->glo, P))) return st;
    /* 7 */
    ITR_LAUNCH(itr_cu_sgraf_nodes_kernel, pair_grid, PAIR_THREADS, 0, ws->loc, ws->glo, m->tranloc_b, m->tranglo_b,
               t->off, t->w0, nC, Wc, P, ws->X);
    if ((st = itr_cu_launched("itr_cu_sgraf_nodes_kernel"))) return st;
    if (c->module == ITR_SGRAF_SAF) {
        size_t shm = (size_t)(t->n_max + P) * sizeof(float);
        ITR_LAUNCH(itr_cu_sgraf_saf_kernel, pair_grid, PAIR_THREADS, shm, ws->X, t->off, t->w0, nC, Wc, P, t->n_max,
                   m->saf_w, m->saf_b, m->saf_bn, m->eval_w, m->eval_b, t->col, t->n_cap, t->sims);
        return itr_cu_launched("itr_cu_sgraf_saf_kernel");
    }
    /* 8: SGR. EX0 (pairs, P) reuses loc, G0 (pairs, P) reuses glo. */
    size_t shm = (size_t)warps * (size_t)(P + t->n_max) * sizeof(float);
    float *EX0 = ws->loc, *G0 = ws->glo;
    for (int k = 0; k < c->sgr_step; k++) {
        int last = k == c->sgr_step - 1;
        if ((st = itr_cu_sgemm(0, 1, nodes, 2 * P, P, 1.0f, ws->X, P, m->qk_w[k], P, 0.0f, ws->QK, 2 * P)))
            return st;
        ITR_LAUNCH(itr_cu_sgraf_sgr_edges_kernel, pair_grid, PAIR_THREADS, shm, ws->QK, m->qk_b[k], ws->X, t->off,
                   t->w0, nC, Wc, P, t->n_max, last, last ? EX0 : ws->EX);
        if ((st = itr_cu_launched("itr_cu_sgraf_sgr_edges_kernel"))) return st;
        if (last) break;
        if ((st = itr_cu_sgemm(0, 1, nodes, P, P, 1.0f, ws->EX, P, m->g_w[k], P, 0.0f, ws->X, P))) return st;
        ITR_LAUNCH(itr_cu_sgraf_bias_relu_kernel, (int)grid_for(nodes * P, 256), 256, 0, ws->X, m->g_b[k], nodes, P);
        if ((st = itr_cu_launched("itr_cu_sgraf_bias_relu_kernel"))) return st;
    }
    int k = c->sgr_step - 1;
    if ((st = itr_cu_sgemm(0, 1, pairs, P, P, 1.0f, EX0, P, m->g_w[k], P, 0.0f, G0, P))) return st;
    ITR_LAUNCH(itr_cu_sgraf_sgr_head_kernel, (int)grid_for(pairs, warps), PAIR_THREADS, 0, G0, m->g_b[k], m->eval_w,
               m->eval_b, t->col, nI, nC, P, t->n_cap, t->sims);
    return itr_cu_launched("itr_cu_sgraf_sgr_head_kernel");
}
