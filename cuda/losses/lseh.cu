/* lseh.cu - LSEH, the semantically-enhanced hard-negative loss, on the device
 * (yangong23/VSEnetworksLSEH; ref/losses/lseh.c; specs/losses_vsl_lseh.md
 * s2.2-s2.6; docs/losses.md s3):
 *
 *   K = V V^T,  m_i = max_k K[i,k] (diagonal included; 1 when exactly 0)
 *   Shat[i,j] = K[j,i] / m_i                       "torch_cosine_sim"
 *   map[i,j]  = 0 iff img_ids[i] == ids[j] // 5    QUIRK(Q-LSEH-2): // 5 always
 *   M = ((Shat * b) + a) * map, M[i,i] = 0         "SeMargin", float32 order
 *   L = hinge(S, M), sum or hardest (lmh.cu); M carries no gradient.
 *
 * The SVD description vectors V (B, n_svd) are host-side text statistics
 * (train_svd.txt rows) uploaded as an input. One warp per Gram entry sums the
 * float products in double and rounds once, as the reference; K[i,j] and
 * K[j,i] see the same products in the same lane order, so K stays exactly
 * symmetric. Each row's max is a block reduction.
 * Sub-projects (itr_lseh_config_get): vsrn a, b = --a, --b; vseinf, sgraf,
 * vsepp a = --margin, b hard-coded; gsmn a = 0.07, b = 0.05. Score sources:
 * vsrn / vseinf / vsepp build S = im s^T (vsepp: or order) inside the loss,
 * sgraf / gsmn receive the model's scores. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

/* Warp w of the grid computes K[w / B, w % B] = sum_k svd[i,k] svd[j,k]. */
static __global__ void itr_cu_loss_lseh_gram_kernel(const float *svd, int64_t B, int64_t n_svd, float *K) {
    int64_t pair = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    unsigned lane = threadIdx.x & 31u;
    if (pair >= B * B) return;                       /* whole warps leave together */
    const float *x = svd + (pair / B) * n_svd, *y = svd + (pair % B) * n_svd;
    double acc = 0.0;
    for (int64_t k = lane; k < n_svd; k += 32) acc += (double)x[k] * (double)y[k];
    acc = itr_cu_warp_sum(acc);
    if (lane == 0) K[pair] = (float)acc;
}

/* Block i: m = max_k K[i,k] (1 if 0), Shat[i,j] = K[j,i] / m. */
static __global__ void itr_cu_loss_lseh_shat_kernel(const float *K, int64_t B, float *Shat) {
    __shared__ double red[32];
    int64_t i = blockIdx.x;
    double m = -INFINITY;
    for (int64_t k = threadIdx.x; k < B; k += blockDim.x) m = fmax(m, (double)K[i * B + k]);
    m = itr_cu_block_max(m, red);
    float mf = (float)m;
    if (mf == 0.0f) mf = 1.0f;                       /* torch.where(d == 0, one, d) */
    for (int64_t j = threadIdx.x; j < B; j += blockDim.x) Shat[i * B + j] = K[j * B + i] / mf;
}

/* Python's floor division (ids are non-negative in practice). */
static __device__ __forceinline__ int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static __global__ void itr_cu_loss_lseh_map_kernel(const int64_t *ids, const int64_t *img_ids, int64_t B,
                                                   float *map) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    map[e] = img_ids[e / B] == floordiv(ids[e % B], 5) ? 0.0f : 1.0f;
}

static __global__ void itr_cu_loss_lseh_margin_kernel(const float *Shat, const float *map, int64_t B, float a,
                                                      float b, float *M) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    float v = Shat[e] * b;                           /* upstream: ((Shat * b) + a) * map */
    v = v + a;
    v = v * map[e];
    M[e] = e / B == e % B ? 0.0f : v;                /* masked_fill_(eye, 0) */
}

itr_status itr_cu_loss_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat) {
    const char *fn = "itr_cuda_lseh_semantic_scores";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!svd || !Shat) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    if (n_svd <= 0) return itr_fail(ITR_E_SHAPE, "%s: SVD dimension %lld, need >= 1", fn, (long long)n_svd);
    itr_cu_scratch sc;
    float *K;
    if ((st = sc.alloc(&K, (size_t)(B * B), fn))) return st;
    ITR_LAUNCH(itr_cu_loss_lseh_gram_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_WARPS), ITR_CU_LOSS_THREADS, 0, svd,
               B, n_svd, K);
    if ((st = itr_cu_launched("itr_cu_loss_lseh_gram_kernel"))) return st;
    ITR_LAUNCH(itr_cu_loss_lseh_shat_kernel, (unsigned)B, ITR_CU_LOSS_THREADS, 0, (const float *)K, B, Shat);
    if ((st = itr_cu_launched("itr_cu_loss_lseh_shat_kernel"))) return st;
    return itr_cu_sync(fn);
}

itr_status itr_cu_loss_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B, float *map) {
    const char *fn = "itr_cuda_lseh_positive_map";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!ids || !img_ids || !map) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    ITR_LAUNCH(itr_cu_loss_lseh_map_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0, ids,
               img_ids, B, map);
    return itr_cu_launched("itr_cu_loss_lseh_map_kernel");
}

itr_status itr_cu_loss_lseh_margins(const float *Shat, const float *map, int64_t B, float a, float b, float *M) {
    const char *fn = "itr_cuda_lseh_margins";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!Shat || !map || !M) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    ITR_LAUNCH(itr_cu_loss_lseh_margin_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0,
               Shat, map, B, a, b, M);
    return itr_cu_launched("itr_cu_loss_lseh_margin_kernel");
}

/* ---- host API ------------------------------------------------------------- */

extern "C" itr_status itr_cuda_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat) {
    const char *fn = "itr_cuda_lseh_semantic_scores";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!svd || !Shat) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    if (n_svd <= 0) return itr_fail(ITR_E_SHAPE, "%s: SVD dimension %lld, need >= 1", fn, (long long)n_svd);
    itr_cu_scratch sc;
    float *v, *out;
    if ((st = sc.upload(&v, svd, (size_t)(B * n_svd), fn)) || (st = sc.alloc(&out, (size_t)(B * B), fn)) ||
        (st = itr_cu_loss_lseh_semantic_scores(v, B, n_svd, out)))
        return st;
    return itr_cu_download(Shat, out, (size_t)(B * B), fn);
}

extern "C" itr_status itr_cuda_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B,
                                                 float *map) {
    const char *fn = "itr_cuda_lseh_positive_map";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!ids || !img_ids || !map) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_cu_scratch sc;
    int64_t *di, *dg;
    float *out;
    if ((st = sc.upload(&di, ids, (size_t)B, fn)) || (st = sc.upload(&dg, img_ids, (size_t)B, fn)) ||
        (st = sc.alloc(&out, (size_t)(B * B), fn)) || (st = itr_cu_loss_lseh_positive_map(di, dg, B, out)))
        return st;
    return itr_cu_download(map, out, (size_t)(B * B), fn);
}

extern "C" itr_status itr_cuda_lseh_margins(const float *Shat, const float *map, int64_t B, float a, float b,
                                            float *M) {
    const char *fn = "itr_cuda_lseh_margins";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!Shat || !map || !M) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_cu_scratch sc;
    float *sh, *mp, *out;
    size_t n = (size_t)(B * B);
    if ((st = sc.upload(&sh, Shat, n, fn)) || (st = sc.upload(&mp, map, n, fn)) || (st = sc.alloc(&out, n, fn)) ||
        (st = itr_cu_loss_lseh_margins(sh, mp, B, a, b, out)))
        return st;
    return itr_cu_download(M, out, n, fn);
}

/* Everything of one LSEH call; S_in (scores) or im/s (embeddings) on the host. */
typedef struct lseh_call {
    const float *S_in, *im, *s;
    int64_t d;
    itr_measure measure;
    const float *svd;
    int64_t n_svd;
    const int64_t *ids, *img_ids;
    float a, b;
    int hardest;
} lseh_call;

typedef struct lseh_outputs {
    itr_hinge_result *res;
    float *S, *dS, *dim, *ds, *Shat, *map, *M;
} lseh_outputs;

static itr_status lseh_run(const lseh_call *c, int64_t B, const lseh_outputs *o, const char *fn) {
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!c->svd || !c->ids || !c->img_ids) return itr_fail(ITR_E_ARG, "%s: NULL svd, ids or img_ids", fn);
    if (c->n_svd <= 0) return itr_fail(ITR_E_SHAPE, "%s: SVD dimension %lld, need >= 1", fn, (long long)c->n_svd);
    int emb = c->S_in == nullptr;
    if (emb && (!c->im || !c->s)) return itr_fail(ITR_E_ARG, "%s: NULL score matrix / embeddings", fn);
    if (emb && c->d <= 0) return itr_fail(ITR_E_SHAPE, "%s: embedding dimension %lld", fn, (long long)c->d);
    size_t n = (size_t)(B * B), ne = emb ? (size_t)(B * c->d) : 0;
    itr_cu_scratch sc;
    float *v, *sh, *mp, *M, *S, *dS = nullptr, *x = nullptr, *y = nullptr, *gx = nullptr, *gy = nullptr;
    int64_t *di, *dg;
    if ((st = sc.upload(&v, c->svd, (size_t)(B * c->n_svd), fn)) || (st = sc.upload(&di, c->ids, (size_t)B, fn)) ||
        (st = sc.upload(&dg, c->img_ids, (size_t)B, fn)) || (st = sc.alloc(&sh, n, fn)) ||
        (st = sc.alloc(&mp, n, fn)) || (st = sc.alloc(&M, n, fn)) || (st = sc.output(&dS, o->dS, n, fn)))
        return st;
    if ((st = itr_cu_loss_lseh_semantic_scores(v, B, c->n_svd, sh)) ||
        (st = itr_cu_loss_lseh_positive_map(di, dg, B, mp)) ||
        (st = itr_cu_loss_lseh_margins(sh, mp, B, c->a, c->b, M)))
        return st;
    if (emb) {
        if ((st = sc.upload(&x, c->im, ne, fn)) || (st = sc.upload(&y, c->s, ne, fn)) ||
            (st = sc.alloc(&S, n, fn)) || (st = sc.output(&gx, o->dim, ne, fn)) ||
            (st = sc.output(&gy, o->ds, ne, fn)) ||
            (st = itr_cu_loss_embed_hinge(c->measure, x, y, B, c->d, 0.0f, M, c->hardest, o->res, S, dS, gx, gy)))
            return st;
    } else {
        if ((st = sc.upload(&S, c->S_in, n, fn)) ||
            (st = itr_cu_loss_hinge(S, B, 0.0f, M, c->hardest, o->res, nullptr, nullptr, dS)))
            return st;
    }
    if ((emb && (st = itr_cu_download(o->S, (const float *)S, n, fn))) ||
        (st = itr_cu_download(o->dS, (const float *)dS, n, fn)) ||
        (st = itr_cu_download(o->dim, (const float *)gx, ne, fn)) ||
        (st = itr_cu_download(o->ds, (const float *)gy, ne, fn)) ||
        (st = itr_cu_download(o->Shat, (const float *)sh, n, fn)) ||
        (st = itr_cu_download(o->map, (const float *)mp, n, fn)) ||
        (st = itr_cu_download(o->M, (const float *)M, n, fn)))
        return st;
    return ITR_OK;
}

extern "C" itr_status itr_cuda_lseh_loss(const float *S, int64_t B, const float *svd, int64_t n_svd,
                                         const int64_t *ids, const int64_t *img_ids, float a, float b, int hardest,
                                         itr_hinge_result *res, float *dS, float *Shat, float *map, float *M) {
    if (!S) return itr_fail(ITR_E_ARG, "itr_cuda_lseh_loss: NULL score matrix");
    lseh_call c = {S, nullptr, nullptr, 0, ITR_MEASURE_COSINE, svd, n_svd, ids, img_ids, a, b, hardest};
    lseh_outputs o = {res, nullptr, dS, nullptr, nullptr, Shat, map, M};
    return lseh_run(&c, B, &o, "itr_cuda_lseh_loss");
}

extern "C" itr_status itr_cuda_lseh_embed_loss(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                               const float *svd, int64_t n_svd, const int64_t *ids,
                                               const int64_t *img_ids, float a, float b, int hardest,
                                               itr_hinge_result *res, float *S, float *dS, float *dim, float *ds,
                                               float *Shat, float *map, float *M) {
    if (!im || !s) return itr_fail(ITR_E_ARG, "itr_cuda_lseh_embed_loss: NULL embeddings");
    lseh_call c = {nullptr, im, s, d, m, svd, n_svd, ids, img_ids, a, b, hardest};
    lseh_outputs o = {res, S, dS, dim, ds, Shat, map, M};
    return lseh_run(&c, B, &o, "itr_cuda_lseh_embed_loss");
}

extern "C" itr_status itr_cuda_lseh_project_loss(itr_lseh_project p, const itr_cuda_lseh_scores *in, int64_t B,
                                                 const float *svd, int64_t n_svd, const int64_t *ids,
                                                 const int64_t *img_ids, int hardest, itr_hinge_result *res,
                                                 float *dS, float *dim, float *ds) {
    const char *fn = "itr_cuda_lseh_project_loss";
    const itr_lseh_config *cfg = itr_lseh_config_get(p);
    if (!cfg) return itr_fail(ITR_E_ARG, "%s: unknown LSEH sub-project %d", fn, (int)p);
    if (!in) return itr_fail(ITR_E_ARG, "%s: NULL inputs", fn);
    if (!hardest && !cfg->has_sum)
        return itr_fail(ITR_E_UNSUPPORTED,
                        "%s: %s has no sum-of-hinges branch upstream (it raises; training forces max_violation)",
                        fn, cfg->name);
    lseh_call c = {nullptr, in->im, in->s, in->d, in->measure, svd, n_svd, ids, img_ids,
                   (float)cfg->a, (float)cfg->b, hardest};
    lseh_outputs o = {res, nullptr, dS, dim, ds, nullptr, nullptr, nullptr};
    if (cfg->from_embeddings) {
        if (!in->im || !in->s)
            return itr_fail(ITR_E_ARG, "%s: %s scores embeddings inside the loss: im and s needed", fn, cfg->name);
    } else {
        if (!in->S_in) return itr_fail(ITR_E_ARG, "%s: %s takes the model's score matrix: S_in needed", fn, cfg->name);
        c.S_in = in->S_in;
        o.dim = o.ds = nullptr;
    }
    return lseh_run(&c, B, &o, fn);
}
