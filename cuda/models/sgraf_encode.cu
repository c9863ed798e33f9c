/* sgraf_encode.cu - SGRAF on CUDA: the device model (weight upload), the
 * image and caption encoders and the VisualSA / TextSA global vectors.
 * Same arithmetic as ref/models/sgraf.c (spec scan_sgraf.md s4.2, s4.3, s4.5):
 *
 *   image   V = F W_fc^T + b_fc,  V_r <- l2n(V_r) unless no_imgnorm
 *   caption T_t = (fwd_t + bwd_t)/2 (bi_gru) or h_t,  l2n unless no_txtnorm
 *   SA      xbar = mean_r X_r
 *           Lx = tanh([BN_region](X W_l^T + b_l))   gx = tanh([BN_feature](W_g xbar + b_g))
 *           alpha = softmax_r(w_c . (Lx_r * gx) + b_c),  glo = l2n(sum_r alpha_r X_r)
 * with l2n(x) = x / (||x|| + 1e-8). The self-attention runs the local linear
 * of ALL items as one GEMM, then one fused kernel per item does the
 * BatchNorms, tanh, gate logits, softmax, pooling and norm. */
#include "core/compat.h"
#include "core/device.h"
#include "core/ops.h"
#include "models/sgraf_device.h"
#include "models/sgraf_internal.h"

#include <stdlib.h>
#include <string.h>

#define SA_THREADS 256
#define FINISH_THREADS 128
/* device tensors start on 128-byte boundaries inside the weight allocation */
#define ALIGN_FLOATS 32

/* ---- weight upload ---------------------------------------------------------
 * Every tensor of the model goes into ONE device allocation: a table of
 * (host source, element count, device pointer to set) is filled, the offsets
 * summed, the tensors copied into one host staging buffer and uploaded. */

enum { MAX_TENSORS = 32 + 8 * ITR_SGRAF_MAX_STEPS };

typedef struct pack_entry {
    const float *src;   /* host */
    int64_t n;
    float **dst;        /* receives the device pointer */
} pack_entry;

typedef struct packer {
    pack_entry e[MAX_TENSORS];
    int count;
} packer;

static void pack(packer *p, float **dst, const float *src, int64_t n) {
    *dst = NULL;
    if (!src || p->count >= MAX_TENSORS) return;   /* count overflow is caught by pack_upload */
    p->e[p->count].src = src;
    p->e[p->count].n = n;
    p->e[p->count].dst = dst;
    p->count++;
}

/* Two tensors back to back (the stacked [W_q; W_k] and [b_q; b_k]). */
static itr_status pack_upload(packer *p, const float *const extra[][2], const int64_t extra_n[][2], int n_extra,
                              float **extra_dst, float **base) {
    int64_t total = 0;
    if (p->count >= MAX_TENSORS) return itr_fail(ITR_E_INTERNAL, "SGRAF CUDA: weight table overflow");
    for (int i = 0; i < p->count; i++) total += (p->e[i].n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    for (int i = 0; i < n_extra; i++)
        total += (extra_n[i][0] + extra_n[i][1] + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    float *host = (float *)calloc((size_t)total, sizeof *host);
    if (!host) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory staging %lld weights", (long long)total);
    itr_status st = itr_cu_alloc((void **)base, (size_t)total * sizeof(float), "SGRAF weights");
    if (!st) {
        int64_t off = 0;
        for (int i = 0; i < p->count; i++) {
            memcpy(host + off, p->e[i].src, (size_t)p->e[i].n * sizeof *host);
            *p->e[i].dst = *base + off;
            off += (p->e[i].n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
        }
        for (int i = 0; i < n_extra; i++) {
            memcpy(host + off, extra[i][0], (size_t)extra_n[i][0] * sizeof *host);
            memcpy(host + off + extra_n[i][0], extra[i][1], (size_t)extra_n[i][1] * sizeof *host);
            extra_dst[i] = *base + off;
            off += (extra_n[i][0] + extra_n[i][1] + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
        }
        st = itr_cu_to_device(*base, host, (size_t)total * sizeof(float), "SGRAF weights");
    }
    free(host);
    return st;
}

static void pack_bn(packer *p, itr_cu_sgraf_bn *d, const itr_sgraf_bn *h, int64_t c) {
    pack(p, &d->mean, h->mean, c);
    pack(p, &d->var, h->var, c);
    pack(p, &d->gamma, h->gamma, c);
    pack(p, &d->beta, h->beta, c);
}

static void pack_sa(packer *p, itr_cu_sgraf_sa *d, const itr_sgraf_sa *h, int64_t D, int64_t R, int visual) {
    pack(p, &d->loc_w, h->loc_w, D * D);
    pack(p, &d->loc_b, h->loc_b, D);
    pack(p, &d->glo_w, h->glo_w, D * D);
    pack(p, &d->glo_b, h->glo_b, D);
    pack(p, &d->com_w, h->com_w, D);
    pack(p, &d->com_b, h->com_b, 1);
    d->visual = visual;
    if (visual) {
        pack_bn(p, &d->loc_bn, &h->loc_bn, R);
        pack_bn(p, &d->glo_bn, &h->glo_bn, D);
    }
}

extern "C" itr_status itr_cuda_sgraf_create(const itr_sgraf *ref, itr_cuda_sgraf **out) {
    itr_status st;
    *out = NULL;
    if ((st = itr_cu_init())) return st;
    const itr_sgraf_config *c = &ref->cfg;
    int64_t D = c->embed_size, P = c->sim_dim, R = c->n_regions;
    if (c->module == ITR_SGRAF_SGR && (c->sgr_step < 1 || c->sgr_step > ITR_SGRAF_MAX_STEPS))
        return itr_fail(ITR_E_UNSUPPORTED, "SGRAF CUDA: sgr_step %d outside 1..%d", c->sgr_step, ITR_SGRAF_MAX_STEPS);
    itr_cuda_sgraf *m = (itr_cuda_sgraf *)calloc(1, sizeof *m);
    packer *p = (packer *)calloc(1, sizeof *p);
    if (!m || !p) {
        free(m);
        free(p);
        return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory");
    }
    m->cfg = *c;
    m->caps_per_block = 256;
    m->word_rows = 65536;
    pack(p, &m->fc_w, ref->fc_w, D * c->img_dim);
    pack(p, &m->fc_b, ref->fc_b, D);
    pack(p, &m->embed, ref->embed, c->vocab_size * c->word_dim);
    pack_sa(p, &m->vsa, &ref->vsa, D, R, 1);
    pack_sa(p, &m->tsa, &ref->tsa, D, R, 0);
    pack(p, &m->tranloc_w, ref->tranloc_w, P * D);
    pack(p, &m->tranloc_b, ref->tranloc_b, P);
    pack(p, &m->tranglo_w, ref->tranglo_w, P * D);
    pack(p, &m->tranglo_b, ref->tranglo_b, P);
    pack(p, &m->eval_w, ref->eval_w, P);
    pack(p, &m->eval_b, ref->eval_b, 1);
    const float *extra[2 * ITR_SGRAF_MAX_STEPS][2];
    int64_t extra_n[2 * ITR_SGRAF_MAX_STEPS][2];
    float *extra_dst[2 * ITR_SGRAF_MAX_STEPS];
    int n_extra = 0;
    if (c->module == ITR_SGRAF_SGR) {
        for (int k = 0; k < c->sgr_step; k++) {
            pack(p, &m->g_w[k], ref->g_w[k], P * P);
            pack(p, &m->g_b[k], ref->g_b[k], P);
            extra[n_extra][0] = ref->q_w[k], extra[n_extra][1] = ref->k_w[k];
            extra_n[n_extra][0] = extra_n[n_extra][1] = P * P;
            n_extra++;
            extra[n_extra][0] = ref->q_b[k], extra[n_extra][1] = ref->k_b[k];
            extra_n[n_extra][0] = extra_n[n_extra][1] = P;
            n_extra++;
        }
    } else {
        pack(p, &m->saf_w, ref->saf_w, P);
        pack(p, &m->saf_b, ref->saf_b, 1);
        pack_bn(p, &m->saf_bn, &ref->saf_bn, 1);
    }
    st = pack_upload(p, extra, extra_n, n_extra, extra_dst, &m->weights);
    for (int k = 0; !st && k < n_extra / 2; k++) {
        m->qk_w[k] = extra_dst[2 * k];
        m->qk_b[k] = extra_dst[2 * k + 1];
    }
    free(p);
    if (!st) st = itr_cu_gru_upload(&m->gru, &ref->gru);
    if (st) {
        itr_cuda_sgraf_destroy(m);
        return st;
    }
    *out = m;
    return ITR_OK;
}

extern "C" void itr_cuda_sgraf_destroy(itr_cuda_sgraf *m) {
    if (!m) return;
    itr_cu_free(m->weights);
    itr_cu_gru_free(&m->gru);
    free(m);
}

extern "C" itr_status itr_cuda_sgraf_set_tiling(itr_cuda_sgraf *m, int64_t caps_per_block, int64_t word_rows) {
    if (caps_per_block < 0 || word_rows < 0)
        return itr_fail(ITR_E_ARG, "SGRAF CUDA: tiling %lld captions x %lld word rows", (long long)caps_per_block,
                        (long long)word_rows);
    if (caps_per_block) m->caps_per_block = caps_per_block;
    if (word_rows) m->word_rows = word_rows;
    return ITR_OK;
}

/* ---- encoders ------------------------------------------------------------- */

extern "C" itr_status itr_cuda_sgraf_encode_images(itr_cuda_sgraf *m, const float *images, int64_t n,
                                                   float *img_emb) {
    const itr_sgraf_config *c = &m->cfg;
    if (n < 1) return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: no images to encode");
    int64_t rows = n * c->n_regions, D = c->embed_size;
    float *x = NULL, *y = NULL;
    itr_status st = itr_cu_upload(&x, images, (size_t)(rows * c->img_dim), "SGRAF images");
    if (!st) st = itr_cu_alloc_n(&y, (size_t)(rows * D), "SGRAF img_emb");
    /* QUIRK(C1): the raw region features enter fc unnormalised. */
    if (!st) st = itr_cu_linear(x, rows, c->img_dim, m->fc_w, m->fc_b, D, y);
    if (!st && !c->no_imgnorm) st = itr_cu_l2norm_rows(y, rows, D, ITR_EPS_ADD, ITR_SGRAF_L2_EPS);
    if (!st) st = itr_cu_to_host(img_emb, y, (size_t)(rows * D) * sizeof *y, "SGRAF img_emb");
    itr_cu_free(x);
    itr_cu_free(y);
    return st;
}

/* cap_emb row (b, t) from the GRU output o (n, T, dirs*D): the mean of the
 * two directions (bi_gru) or h_t, l2n unless no_txtnorm; 0 at t >= length
 * (the GRU already leaves 0 there). One warp per row. */
__global__ void itr_cu_sgraf_cap_finish_kernel(const float *__restrict__ o, const int64_t *__restrict__ len,
                                               int64_t n, int64_t T, int64_t D, int bi, int norm,
                                               float *__restrict__ cap) {
    int warps = (int)(blockDim.x / 32), lane = (int)(threadIdx.x % 32);
    int64_t row = (int64_t)blockIdx.x * warps + threadIdx.x / 32;
    if (row >= n * T) return;   /* a whole warp leaves together */
    int64_t b = row / T, t = row - b * T;
    const float *src = o + row * (bi ? 2 : 1) * D;
    float *dst = cap + row * D;
    float sq = 0.0f;
    for (int64_t k = lane; k < D; k += 32) {
        float e = bi ? (src[k] + src[D + k]) / 2.0f : src[k];
        dst[k] = e;
        sq += e * e;
    }
    if (!norm || t >= len[b]) return;
    float d = itr_sgd_l2_den(itr_cu_warp_sum(sq));
    for (int64_t k = lane; k < D; k += 32) dst[k] = dst[k] / d;
}

extern "C" itr_status itr_cuda_sgraf_encode_captions(itr_cuda_sgraf *m, const int64_t *captions,
                                                     const int64_t *lengths, int64_t n, int64_t T, float *cap_emb) {
    const itr_sgraf_config *c = &m->cfg;
    int64_t D = c->embed_size, W = c->word_dim, dirs = c->bi_gru ? 2 : 1;
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: no captions to encode");
    for (int64_t i = 0; i < n * T; i++)   /* itr_cu_embedding wants host-validated ids */
        if (captions[i] < 0 || captions[i] >= c->vocab_size)
            return itr_fail(ITR_E_ARG, "word id %lld at position %lld outside the vocabulary [0, %lld)",
                            (long long)captions[i], (long long)i, (long long)c->vocab_size);
    for (int64_t i = 0; i < n; i++)
        if (lengths[i] < 1 || lengths[i] > T)
            return itr_fail(ITR_E_ARG, "SGRAF CUDA: caption %lld has length %lld outside [1, %lld]", (long long)i,
                            (long long)lengths[i], (long long)T);
    int64_t *ids = NULL, *len = NULL;
    float *x = NULL, *o = NULL, *e = NULL;
    itr_status st = itr_cu_upload(&ids, captions, (size_t)(n * T), "SGRAF caption ids");
    if (!st) st = itr_cu_upload(&len, lengths, (size_t)n, "SGRAF caption lengths");
    if (!st) st = itr_cu_alloc_n(&x, (size_t)(n * T * W), "SGRAF word vectors");
    if (!st) st = itr_cu_alloc_n(&o, (size_t)(n * T * dirs * D), "SGRAF GRU output");
    if (!st) st = itr_cu_alloc_n(&e, (size_t)(n * T * D), "SGRAF cap_emb");
    /* X = embed[ids] (dropout = identity); the packed GRU over each caption's own L steps */
    if (!st) st = itr_cu_embedding(m->embed, c->vocab_size, W, ids, n * T, x);
    if (!st) st = itr_cu_gru_forward(&m->gru, x, lengths, n, T, o, NULL);
    if (!st) {
        int warps = FINISH_THREADS / 32;
        ITR_LAUNCH(itr_cu_sgraf_cap_finish_kernel, (int)((n * T + warps - 1) / warps), FINISH_THREADS, 0, o, len, n,
                   T, D, c->bi_gru, !c->no_txtnorm, e);
        st = itr_cu_launched("itr_cu_sgraf_cap_finish_kernel");
    }
    if (!st) st = itr_cu_to_host(cap_emb, e, (size_t)(n * T * D) * sizeof *e, "SGRAF cap_emb");
    itr_cu_free(ids);
    itr_cu_free(len);
    itr_cu_free(x);
    itr_cu_free(o);
    itr_cu_free(e);
    return st;
}

/* ---- VisualSA / TextSA ------------------------------------------------------
 * Items (images or captions) are stored compactly: item i owns rows
 * off[i] .. off[i+1]-1 of X (rows, D); images have off[i] = i*R. */

/* xbar (n, D): mean of item i's rows, summed in row order as the reference.
 * One thread per (item, feature). */
__global__ void itr_cu_sgraf_sa_mean_kernel(const float *__restrict__ X, const int64_t *__restrict__ off, int64_t n,
                                            int64_t D, float *__restrict__ xbar) {
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n * D) return;
    int64_t i = idx / D, k = idx - i * D, rows = off[i + 1] - off[i];
    const float *x = X + off[i] * D + k;
    float s = 0.0f;
    for (int64_t r = 0; r < rows; r++) s += x[r * D];
    xbar[idx] = s / (float)rows;
}

/* Everything of the self-attention after the two GEMMs, one block per item:
 *   gx = tanh([BN_f](gx_raw + b_g))                    (shared, D floats)
 *   e_r = b_c + sum_k w_c[k] tanh([BN_r](lx_raw[r,k] + b_l[k])) gx[k]   (warp per row)
 *   alpha = softmax_r(e);  glo = l2n(sum_r alpha_r X_r)
 * Dynamic shared: D + max_rows floats. */
__global__ void itr_cu_sgraf_sa_pool_kernel(const float *__restrict__ X, const float *__restrict__ lx_raw,
                                            const float *__restrict__ gx_raw, const int64_t *__restrict__ off,
                                            int64_t D, itr_cu_sgraf_sa sa, float *__restrict__ glo) {
    ITR_DYNAMIC_SHARED(float, shm);
    float *gx = shm, *e = shm + D;
    int64_t i = blockIdx.x, rows = off[i + 1] - off[i];
    int tid = (int)threadIdx.x, lane = tid % 32, warp = tid / 32, warps = (int)(blockDim.x / 32);
    const float *Xi = X + off[i] * D, *Li = lx_raw + off[i] * D;
    for (int64_t k = tid; k < D; k += blockDim.x) {
        float g = gx_raw[i * D + k] + sa.glo_b[k];
        if (sa.visual) g = itr_sgd_bn(g, sa.glo_bn, k);   /* BatchNorm1d(D): per feature */
        gx[k] = tanhf(g);
    }
    __syncthreads();
    for (int64_t r = warp; r < rows; r += warps) {
        const float *lr = Li + r * D;
        float s = 0.0f;
        for (int64_t k = lane; k < D; k += 32) {
            float l = lr[k] + sa.loc_b[k];
            /* QUIRK(G3): BatchNorm1d(36) on (n, 36, D): channel = region r */
            if (sa.visual) l = itr_sgd_bn(l, sa.loc_bn, r);
            s += sa.com_w[k] * tanhf(l) * gx[k];
        }
        s = itr_cu_warp_sum(s);
        if (lane == 0) e[r] = sa.com_b[0] + s;
    }
    __syncthreads();
    if (warp == 0) itr_sgd_warp_softmax(e, rows, 1);
    __syncthreads();
    float sq = 0.0f;
    for (int64_t k = tid; k < D; k += blockDim.x) {   /* pools X, not Lx; gx is no longer needed */
        float s = 0.0f;
        for (int64_t r = 0; r < rows; r++) s += e[r] * Xi[r * D + k];
        gx[k] = s;
        sq += s * s;
    }
    float d = itr_sgd_l2_den(itr_cu_block_sum(sq));
    for (int64_t k = tid; k < D; k += blockDim.x) glo[i * D + k] = gx[k] / d;
}

extern "C" itr_status itr_cu_sgraf_self_attention(const itr_cuda_sgraf *m, const itr_cu_sgraf_sa *sa,
                                                  const float *X, int64_t rows, const int64_t *off_dev, int64_t n,
                                                  int64_t max_rows, float *glo) {
    int64_t D = m->cfg.embed_size;
    size_t shm = (size_t)(D + max_rows) * sizeof(float);
    if (shm > ITR_SGRAF_MAX_SHARED)
        return itr_fail(ITR_E_UNSUPPORTED, "SGRAF CUDA: self-attention over %lld rows of %lld features needs %zu bytes "
                        "of shared memory (at most %d)", (long long)max_rows, (long long)D, shm, ITR_SGRAF_MAX_SHARED);
    float *lx = NULL, *xbar = NULL, *gx = NULL;
    itr_status st = itr_cu_alloc_n(&lx, (size_t)(rows * D), "SGRAF SA local");
    if (!st) st = itr_cu_alloc_n(&xbar, (size_t)(n * D), "SGRAF SA mean");
    if (!st) st = itr_cu_alloc_n(&gx, (size_t)(n * D), "SGRAF SA global");
    /* the local linear of every row of every item at once; biases in the pool kernel */
    if (!st) st = itr_cu_sgemm(0, 1, rows, D, D, 1.0f, X, D, sa->loc_w, D, 0.0f, lx, D);
    if (!st) {
        ITR_LAUNCH(itr_cu_sgraf_sa_mean_kernel, itr_cu_blocks(n * D, 256), 256, 0, X, off_dev, n, D, xbar);
        st = itr_cu_launched("itr_cu_sgraf_sa_mean_kernel");
    }
    if (!st) st = itr_cu_sgemm(0, 1, n, D, D, 1.0f, xbar, D, sa->glo_w, D, 0.0f, gx, D);
    if (!st) {
        ITR_LAUNCH(itr_cu_sgraf_sa_pool_kernel, (unsigned)n, SA_THREADS, shm, X, lx, gx, off_dev, D, *sa, glo);
        st = itr_cu_launched("itr_cu_sgraf_sa_pool_kernel");
    }
    itr_cu_free(lx);
    itr_cu_free(xbar);
    itr_cu_free(gx);
    return st;
}

/* Offsets i*R of n images, on the device. */
static itr_status image_offsets(int64_t n, int64_t R, int64_t **off_dev) {
    int64_t *off = (int64_t *)malloc((size_t)(n + 1) * sizeof *off);
    if (!off) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory for %lld images", (long long)n);
    for (int64_t i = 0; i <= n; i++) off[i] = i * R;
    itr_status st = itr_cu_upload(off_dev, off, (size_t)(n + 1), "SGRAF image offsets");
    free(off);
    return st;
}

extern "C" itr_status itr_cu_sgraf_visual_sa_dev(const itr_cuda_sgraf *m, const float *V, int64_t n, float *v_glo) {
    int64_t R = m->cfg.n_regions, *off = NULL;
    itr_status st = image_offsets(n, R, &off);
    if (!st) st = itr_cu_sgraf_self_attention(m, &m->vsa, V, n * R, off, n, R, v_glo);
    itr_cu_free(off);
    return st;
}

extern "C" itr_status itr_cuda_sgraf_visual_sa(itr_cuda_sgraf *m, const float *img_emb, int64_t n, float *v_glo) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    if (n < 1) return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: VisualSA of no images");
    float *x = NULL, *g = NULL;
    itr_status st = itr_cu_upload(&x, img_emb, (size_t)(n * R * D), "SGRAF img_emb");
    if (!st) st = itr_cu_alloc_n(&g, (size_t)(n * D), "SGRAF v_glo");
    if (!st) st = itr_cu_sgraf_visual_sa_dev(m, x, n, g);
    if (!st) st = itr_cu_to_host(v_glo, g, (size_t)(n * D) * sizeof *g, "SGRAF v_glo");
    itr_cu_free(x);
    itr_cu_free(g);
    return st;
}

/* The valid words of the captions cap_emb (n, T, D) in the order `order`
 * (NULL: as given), packed: caption k's words at rows off[k] .. off[k+1]-1
 * of words_dev. off (n + 1) is filled on the host and uploaded. */
extern "C" itr_status itr_cu_sgraf_pack_words(const float *cap_emb, const int64_t *lengths, const int64_t *order,
                                              int64_t n, int64_t T, int64_t D, int64_t *off, float **words_dev,
                                              int64_t **off_dev) {
    *words_dev = NULL;
    *off_dev = NULL;
    off[0] = 0;
    for (int64_t k = 0; k < n; k++) off[k + 1] = off[k] + lengths[order ? order[k] : k];
    float *w = (float *)malloc((size_t)(off[n] * D) * sizeof *w);
    if (!w) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory for %lld words", (long long)off[n]);
    for (int64_t k = 0; k < n; k++) {
        int64_t j = order ? order[k] : k;
        memcpy(w + off[k] * D, cap_emb + j * T * D, (size_t)(lengths[j] * D) * sizeof *w);
    }
    itr_status st = itr_cu_upload(words_dev, w, (size_t)(off[n] * D), "SGRAF words");
    if (!st) st = itr_cu_upload(off_dev, off, (size_t)(n + 1), "SGRAF word offsets");
    free(w);
    return st;
}

extern "C" itr_status itr_cuda_sgraf_text_sa(itr_cuda_sgraf *m, const float *cap_emb, const int64_t *lengths,
                                             int64_t n, int64_t T, float *t_glo) {
    int64_t D = m->cfg.embed_size, L_max = 0;
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: TextSA of no captions");
    for (int64_t i = 0; i < n; i++) {
        if (lengths[i] < 1 || lengths[i] > T)
            return itr_fail(ITR_E_SHAPE, "SGRAF CUDA: TextSA of a caption of length %lld (T = %lld)",
                            (long long)lengths[i], (long long)T);
        L_max = lengths[i] > L_max ? lengths[i] : L_max;
    }
    float *x = NULL, *g = NULL;
    int64_t *off_dev = NULL, *off = (int64_t *)malloc((size_t)(n + 1) * sizeof *off);
    if (!off) return itr_fail(ITR_E_NOMEM, "SGRAF CUDA: out of memory for %lld captions", (long long)n);
    itr_status st = itr_cu_sgraf_pack_words(cap_emb, lengths, NULL, n, T, D, off, &x, &off_dev);
    if (!st) st = itr_cu_alloc_n(&g, (size_t)(n * D), "SGRAF t_glo");
    if (!st) st = itr_cu_sgraf_self_attention(m, &m->tsa, x, off[n], off_dev, n, L_max, g);
    if (!st) st = itr_cu_to_host(t_glo, g, (size_t)(n * D) * sizeof *g, "SGRAF t_glo");
    itr_cu_free(x);
    itr_cu_free(off_dev);
    itr_cu_free(g);
    free(off);
    return st;
}
