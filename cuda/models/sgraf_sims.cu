/* sgraf_sims.cu - the full SGRAF similarity matrix on CUDA (spec
 * scan_sgraf.md s5.3), itr_sgraf_sims's semantics:
 *
 *   1. sort the captions by length (stable) and pack their valid words into
 *      one (sum L_j, D) matrix, so that a block of consecutive sorted captions
 *      is a contiguous word range with nearly equal lengths (no padding row
 *      is uploaded or computed);
 *   2. v_glo of every image and t_glo of every caption once (VisualSA /
 *      TextSA on the packed words, sgraf_encode.cu);
 *   3. for each caption block (caps_per_block captions) and each image block
 *      (as many images as fit word_rows (image, word) rows): one tile of the
 *      pair pipeline (sgraf_pairs.cu), scores written to their original
 *      columns of the device matrix;
 *   4. download the (n_img, n_cap) float64 matrix.
 * Pairs are independent (no batch statistics at evaluation), so the tiling
 * and the caption order do not change any score. */
#include "core/compat.h"
#include "core/device.h"
#include "core/ops.h"
#include "models/sgraf_internal.h"

#include <stdlib.h>
#include <string.h>

/* Stable order of the captions by decreasing length (insertion into a
 * counting sort over lengths 1..T). perm[k] = original index of sorted k. */
static itr_status sort_by_length(const int64_t *lengths, int64_t n, int64_t T, int64_t *perm) {
    int64_t *start = (int64_t *)calloc((size_t)(T + 2), sizeof *start);
    if (!start) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory sorting %lld captions", (long long)n);
    for (int64_t j = 0; j < n; j++) start[T - lengths[j] + 1]++;   /* bucket T - L: longest first */
    for (int64_t b = 1; b <= T + 1; b++) start[b] += start[b - 1];
    for (int64_t j = 0; j < n; j++) perm[start[T - lengths[j]]++] = j;
    free(start);
    return ITR_OK;
}

typedef struct tiling {
    int64_t n_blocks;
    int64_t *j0, *nI;   /* per caption block: first sorted caption, images per tile */
} tiling;

/* Caption blocks of caps_per_block sorted captions; images per tile so that
 * nI * Wc <= word_rows (at least 1). Returns the workspace capacities. */
static itr_status plan(const itr_cuda_sgraf *m, const int64_t *off, int64_t n_img, int64_t n_cap, tiling *tl,
                       int64_t cap[4]) {
    int64_t per = m->caps_per_block, R = m->cfg.n_regions;
    tl->n_blocks = (n_cap + per - 1) / per;
    tl->j0 = (int64_t *)calloc((size_t)tl->n_blocks, sizeof *tl->j0);
    tl->nI = (int64_t *)calloc((size_t)tl->n_blocks, sizeof *tl->nI);
    if (!tl->j0 || !tl->nI) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory planning tiles");
    memset(cap, 0, 4 * sizeof *cap);   /* words, pairs, S floats, nodes */
    for (int64_t b = 0; b < tl->n_blocks; b++) {
        int64_t j0 = b * per, nC = n_cap - j0 < per ? n_cap - j0 : per, Wc = off[j0 + nC] - off[j0];
        int64_t nI = m->word_rows / Wc;
        nI = nI < 1 ? 1 : nI > n_img ? n_img : nI;
        nI = nI > 65535 ? 65535 : nI;   /* gridDim.y of the per-pair kernels */
        tl->j0[b] = j0;
        tl->nI[b] = nI;
        int64_t need[4] = {nI * Wc, nI * nC, nI * R * Wc, nI * (Wc + nC)};
        for (int k = 0; k < 4; k++) cap[k] = need[k] > cap[k] ? need[k] : cap[k];
    }
    return ITR_OK;
}

static void ws_free(itr_cu_sgraf_ws *ws) {
    itr_cu_free(ws->S);
    itr_cu_free(ws->ctx);
    itr_cu_free(ws->loc);
    itr_cu_free(ws->glo);
    itr_cu_free(ws->X);
    itr_cu_free(ws->QK);
    itr_cu_free(ws->EX);
    memset(ws, 0, sizeof *ws);
}

static itr_status ws_alloc(const itr_cuda_sgraf *m, const int64_t cap[4], itr_cu_sgraf_ws *ws) {
    int64_t D = m->cfg.embed_size, P = m->cfg.sim_dim, words = cap[0], pairs = cap[1], nodes = cap[3];
    int sgr = m->cfg.module == ITR_SGRAF_SGR;
    memset(ws, 0, sizeof *ws);
    /* ctx also holds the (pairs, D) global diffs; pairs <= words since L >= 1 */
    itr_status st = itr_cu_alloc_n(&ws->S, (size_t)cap[2], "SGRAF attention logits");
    if (!st) st = itr_cu_alloc_n(&ws->ctx, (size_t)(words * D), "SGRAF contexts");
    if (!st) st = itr_cu_alloc_n(&ws->loc, (size_t)(words * P), "SGRAF local alignments");
    if (!st) st = itr_cu_alloc_n(&ws->glo, (size_t)(pairs * P), "SGRAF global alignments");
    if (!st) st = itr_cu_alloc_n(&ws->X, (size_t)(nodes * P), "SGRAF nodes");
    if (!st && sgr) st = itr_cu_alloc_n(&ws->QK, (size_t)(nodes * 2 * P), "SGRAF queries and keys");
    if (!st && sgr) st = itr_cu_alloc_n(&ws->EX, (size_t)(nodes * P), "SGRAF aggregated nodes");
    if (st) ws_free(ws);
    return st;
}

/* Device inputs of the matrix: images, pooled vectors, the sorted packed words. */
typedef struct sims_data {
    float *V, *vg, *words, *tg;   /* tg (n_cap, D) in sorted order */
    int64_t *off_dev, *col_dev;
    int64_t *perm, *off;          /* host: sorted -> original, word offsets (n_cap + 1) */
} sims_data;

static void data_free(sims_data *d) {
    itr_cu_free(d->V);
    itr_cu_free(d->vg);
    itr_cu_free(d->words);
    itr_cu_free(d->tg);
    itr_cu_free(d->off_dev);
    itr_cu_free(d->col_dev);
    free(d->perm);
    free(d->off);
}

/* t_glo of sorted caption k is cap_glo row perm[k]. */
static itr_status download_cap_glo(const sims_data *d, int64_t n_cap, int64_t D, float *cap_glo) {
    float *tmp = (float *)malloc((size_t)(n_cap * D) * sizeof *tmp);
    if (!tmp) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory for %lld t_glo", (long long)n_cap);
    itr_status st = itr_cu_to_host(tmp, d->tg, (size_t)(n_cap * D) * sizeof *tmp, "SGRAF cap_glo");
    for (int64_t k = 0; k < n_cap && !st; k++)
        memcpy(cap_glo + d->perm[k] * D, tmp + k * D, (size_t)D * sizeof *tmp);
    free(tmp);
    return st;
}

/* Steps 1 and 2 of the file comment. */
static itr_status prepare(itr_cuda_sgraf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                          const int64_t *lengths, int64_t n_cap, int64_t T, int64_t L_max, float *img_glo,
                          float *cap_glo, sims_data *d) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    d->perm = (int64_t *)malloc((size_t)n_cap * sizeof *d->perm);
    d->off = (int64_t *)malloc((size_t)(n_cap + 1) * sizeof *d->off);
    if (!d->perm || !d->off) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory for %lld captions", (long long)n_cap);
    itr_status st = sort_by_length(lengths, n_cap, T, d->perm);
    if (!st) st = itr_cu_sgraf_pack_words(cap_emb, lengths, d->perm, n_cap, T, D, d->off, &d->words, &d->off_dev);
    if (!st) st = itr_cu_upload(&d->col_dev, d->perm, (size_t)n_cap, "SGRAF caption columns");
    if (!st) st = itr_cu_upload(&d->V, img_emb, (size_t)(n_img * R * D), "SGRAF img_emb");
    if (!st) st = itr_cu_alloc_n(&d->vg, (size_t)(n_img * D), "SGRAF v_glo");
    if (!st) st = itr_cu_alloc_n(&d->tg, (size_t)(n_cap * D), "SGRAF t_glo");
    if (!st) st = itr_cu_sgraf_visual_sa_dev(m, d->V, n_img, d->vg);
    if (!st) st = itr_cu_sgraf_self_attention(m, &m->tsa, d->words, d->off[n_cap], d->off_dev, n_cap, L_max, d->tg);
    if (!st && img_glo) st = itr_cu_to_host(img_glo, d->vg, (size_t)(n_img * D) * sizeof(float), "SGRAF img_glo");
    if (!st && cap_glo) st = download_cap_glo(d, n_cap, D, cap_glo);
    return st;
}

/* The kernels' dynamic shared memory for captions of up to L_max words. */
static itr_status check_shared(const itr_cuda_sgraf *m, int64_t L_max) {
    int64_t P = m->cfg.sim_dim, need = 4 * (P + L_max + 1) * (int64_t)sizeof(float);
    if (need > ITR_SGRAF_MAX_SHARED)
        return itr_fail(ITR_E_UNSUPPORTED, "SGRAF CUDA: sim_dim %lld with captions of %lld words needs %lld bytes of "
                        "shared memory per block (at most %d)", (long long)P, (long long)L_max, (long long)need,
                        ITR_SGRAF_MAX_SHARED);
    return ITR_OK;
}

extern "C" itr_status itr_cuda_sgraf_sims(itr_cuda_sgraf *m, const float *img_emb, int64_t n_img,
                                          const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                                          double *sims, float *img_glo, float *cap_glo) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    if (n_img < 1 || n_cap < 1 || T < 1)
        return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: sims of %lld images x %lld captions", (long long)n_img,
                        (long long)n_cap);
    int64_t L_max = 0;
    for (int64_t j = 0; j < n_cap; j++) {
        if (lengths[j] < 1 || lengths[j] > T)
            return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: caption %lld has length %lld outside [1, %lld]", (long long)j,
                            (long long)lengths[j], (long long)T);
        L_max = lengths[j] > L_max ? lengths[j] : L_max;
    }
    itr_status st = check_shared(m, L_max);
    if (st) return st;
    sims_data d;
    tiling tl = {0, NULL, NULL};
    itr_cu_sgraf_ws ws;
    int64_t cap[4];
    double *S = NULL;
    memset(&d, 0, sizeof d);
    memset(&ws, 0, sizeof ws);
    st = prepare(m, img_emb, n_img, cap_emb, lengths, n_cap, T, L_max, img_glo, cap_glo, &d);
    if (!st) st = plan(m, d.off, n_img, n_cap, &tl, cap);
    if (!st) st = ws_alloc(m, cap, &ws);
    if (!st) st = itr_cu_alloc_n(&S, (size_t)(n_img * n_cap), "SGRAF sims");
    for (int64_t b = 0; b < tl.n_blocks && !st; b++) {
        int64_t j0 = tl.j0[b], nC = n_cap - j0 < m->caps_per_block ? n_cap - j0 : m->caps_per_block;
        itr_cu_sgraf_tile_args t;
        t.w0 = d.off[j0];
        t.Wc = d.off[j0 + nC] - t.w0;
        t.nC = nC;
        t.n_max = lengths[d.perm[j0]] + 1;   /* sorted longest first */
        t.C = d.words + t.w0 * D;
        t.tg = d.tg + j0 * D;
        t.off = d.off_dev + j0;
        t.col = d.col_dev + j0;
        t.n_cap = n_cap;
        for (int64_t i0 = 0; i0 < n_img && !st; i0 += tl.nI[b]) {
            t.nI = n_img - i0 < tl.nI[b] ? n_img - i0 : tl.nI[b];
            t.V = d.V + i0 * R * D;
            t.vg = d.vg + i0 * D;
            t.sims = S + i0 * n_cap;
            st = itr_cu_sgraf_tile(m, &t, &ws);
        }
    }
    if (!st) st = itr_cu_to_host(sims, S, (size_t)(n_img * n_cap) * sizeof *S, "SGRAF sims");
    itr_cu_free(S);
    ws_free(&ws);
    free(tl.j0);
    free(tl.nI);
    data_free(&d);
    return st;
}

/* cap0_attended_context of the goldens: itr_sgraf_attention of one caption
 * over each image, through the tile's attention stage (one caption block). */
extern "C" itr_status itr_cuda_sgraf_attention(itr_cuda_sgraf *m, const float *cap, int64_t L, const float *img_emb,
                                               int64_t n_img, float *ctx) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    if (L < 1 || n_img < 1)
        return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: attention of %lld words over %lld images", (long long)L,
                        (long long)n_img);
    const int64_t off[2] = {0, L};
    float *V = NULL, *C = NULL, *S = NULL, *c = NULL;
    int64_t *off_dev = NULL;
    itr_status st = itr_cu_upload(&V, img_emb, (size_t)(n_img * R * D), "SGRAF img_emb");
    if (!st) st = itr_cu_upload(&C, cap, (size_t)(L * D), "SGRAF caption words");
    if (!st) st = itr_cu_upload(&off_dev, off, 2, "SGRAF word offsets");
    if (!st) st = itr_cu_alloc_n(&S, (size_t)(n_img * R * L), "SGRAF attention logits");
    if (!st) st = itr_cu_alloc_n(&c, (size_t)(n_img * L * D), "SGRAF contexts");
    if (!st) st = itr_cu_sgraf_attend(m, V, n_img, C, L, 1, off_dev, 0, 0, S, c);
    if (!st) st = itr_cu_to_host(ctx, c, (size_t)(n_img * L * D) * sizeof *c, "SGRAF contexts");
    itr_cu_free(V);
    itr_cu_free(C);
    itr_cu_free(S);
    itr_cu_free(c);
    itr_cu_free(off_dev);
    return st;
}
