/* retrieval.cu - dot-product retrieval ranked on the device
 * (include/itr/cuda/retrieval.h, docs/cuda-retrieval.md).
 *
 * The ranks are those of ref/metrics/ranker.c (specs/vsepp_vseinfty.md
 * s3.4, docs/metrics.md s2), counted instead of sorted. With m the decisive
 * ground-truth (GT) score of a query and "competitors" the items that are
 * not its GT:
 *   above        competitors scoring > m
 *   tied         competitors scoring == m
 *   tied_larger  tied competitors with a larger index than the GT item
 *   canonical rank = above + tied_larger, optimistic = above,
 *   pessimistic = above + tied;
 * i2t (image i): m = max of its k GT scores, attained last by caption a;
 * t2i (caption c): m = S[c / k, c], GT item image c / k. top1 follows the
 * rule's order (higher score, then the rule's GT preference, then the
 * larger index), starting from the GT item.
 *
 * A range of n images is scored in shards of `rows` images x its n k
 * captions (one dgemm each, float64 on float32 values widened exactly):
 *   pass 1, per shard: extract the shard's GT cells (its diagonal), their
 *           decisive maxima, and count every i2t query of the shard (a row
 *           lives in one shard, so i2t is complete after pass 1);
 *   pass 2, per shard: the same dgemm again (same shape, same operands:
 *           cuBLAS gives the same bits), and every caption column counts
 *           the shard's rows against its GT score, now known for all.
 * Pass 2 re-checks the GT cells bit for bit (a non-reproducible GEMM is an
 * error, not a silent difference). One thread owns each caption's counters,
 * one block each image's, so no atomics are needed. */
#include "core/compat.h"
#include "core/device.h"
#include "core/ops.h"
#include "itr/cuda/retrieval.h"

#include <stdlib.h>
#include <string.h>

#define RET_THREADS 256             /* power of two: the i2t tree reduction  */
#define RET_AUTO_CELLS (1 << 25)    /* doubles per automatic block (256 MiB) */

struct itr_cuda_retrieval {
    int64_t n_img, n_cap, d, k;
    double *img, *cap;              /* device float64 (n_img, d), (n_cap, d)  */
    int64_t shard_rows;             /* 0: automatic                           */
};

/* Counters and running top-1 of the queries of one direction (device). */
struct ret_queries {
    int64_t *above, *tied, *tied_larger;
    double *top_score;
    int64_t *top_index;
    int *top_is_gt;
};

/* flags[0]: a NaN score; flags[1]: a GT cell differed between the passes. */
enum { RET_FLAG_NAN = 0, RET_FLAG_REDO = 1, RET_N_FLAGS = 2 };

/* ---- kernels ------------------------------------------------------------------ */

/* 1 when item (s, is_gt, idx) comes before the current top in the rule's
 * order (ranker.c before_top). */
__device__ __forceinline__ int ret_before(int rule, double top, int top_gt, int64_t top_idx, double s, int is_gt,
                                          int64_t idx) {
    if (s != top) return s > top;
    if (is_gt != top_gt) {
        if (rule == (int)ITR_TIES_OPTIMISTIC) return is_gt;
        if (rule == (int)ITR_TIES_PESSIMISTIC) return !is_gt;
    }
    return idx > top_idx;
}

/* gt[c] = blk[y, c] for the k captions c of each local image y0 + y of the
 * shard (rows, nc); one thread per GT cell. */
__global__ void itr_cu_ret_gt_kernel(const double *__restrict__ blk, int64_t nc, int64_t y0, int64_t rows,
                                     int64_t k, double *__restrict__ gt, int *flags) {
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= rows * k) return;
    int64_t y = t / k, c = (y0 + y) * k + t % k;
    double v = blk[y * nc + c];
    if (isnan(v)) flags[RET_FLAG_NAN] = 1;
    gt[c] = v;
}

/* Decisive GT of each image of the shard: the best of its k scores, the
 * larger caption index on ties (ranker.c itr_ranker_create). */
__global__ void itr_cu_ret_best_kernel(const double *__restrict__ gt, int64_t y0, int64_t rows, int64_t k,
                                       double *__restrict__ best, int64_t *__restrict__ arg) {
    int64_t y = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (y >= rows) return;
    int64_t i = y0 + y, a = i * k;
    for (int64_t c = a + 1; c < (i + 1) * k; c++)
        if (gt[c] >= gt[a]) a = c;
    best[i] = gt[a];
    arg[i] = a;
}

/* i2t: block b counts row b of the shard (image y0 + b) over all nc
 * captions; the threads stride the row, then a tree reduction in shared
 * memory adds the counters and picks the top-1. */
__global__ void itr_cu_ret_i2t_kernel(const double *__restrict__ blk, int64_t nc, int64_t y0, int64_t k, int rule,
                                      const double *__restrict__ best, const int64_t *__restrict__ arg,
                                      ret_queries q, int *flags) {
    __shared__ int64_t s_above[RET_THREADS], s_tied[RET_THREADS], s_tl[RET_THREADS], s_idx[RET_THREADS];
    __shared__ double s_top[RET_THREADS];
    __shared__ int s_gt[RET_THREADS];
    unsigned tid = threadIdx.x;
    int64_t i = y0 + blockIdx.x, lo = i * k, hi = lo + k;
    const double *row = blk + (int64_t)blockIdx.x * nc;
    double m = best[i];
    int64_t ga = arg[i], above = 0, tied = 0, tl = 0, top_idx = ga;
    double top = m;
    int top_gt = 1, nan = 0;
    for (int64_t x = tid; x < nc; x += blockDim.x) {
        double s = row[x];
        if (isnan(s)) {
            nan = 1;
            continue;
        }
        if (x >= lo && x < hi) continue;   /* a GT caption of image i */
        if (s > m) {
            above++;
        } else if (s == m) {
            tied++;
            if (x > ga) tl++;
        }
        if (ret_before(rule, top, top_gt, top_idx, s, 0, x)) {
            top = s;
            top_idx = x;
            top_gt = 0;
        }
    }
    if (nan) flags[RET_FLAG_NAN] = 1;
    s_above[tid] = above;
    s_tied[tid] = tied;
    s_tl[tid] = tl;
    s_top[tid] = top;
    s_idx[tid] = top_idx;
    s_gt[tid] = top_gt;
    __syncthreads();
    for (unsigned h = blockDim.x / 2; h > 0; h >>= 1) {
        if (tid < h) {
            unsigned o = tid + h;
            s_above[tid] += s_above[o];
            s_tied[tid] += s_tied[o];
            s_tl[tid] += s_tl[o];
            if (ret_before(rule, s_top[tid], s_gt[tid], s_idx[tid], s_top[o], s_gt[o], s_idx[o])) {
                s_top[tid] = s_top[o];
                s_idx[tid] = s_idx[o];
                s_gt[tid] = s_gt[o];
            }
        }
        __syncthreads();
    }
    if (tid == 0) {
        q.above[i] = s_above[0];
        q.tied[i] = s_tied[0];
        q.tied_larger[i] = s_tl[0];
        q.top_score[i] = s_top[0];
        q.top_index[i] = s_idx[0];
        q.top_is_gt[i] = s_gt[0];
    }
}

/* t2i counters start empty with the GT image as top-1. */
__global__ void itr_cu_ret_t2i_init_kernel(const double *__restrict__ gt, int64_t nc, int64_t k, ret_queries q) {
    int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (x >= nc) return;
    q.above[x] = 0;
    q.tied[x] = 0;
    q.tied_larger[x] = 0;
    q.top_score[x] = gt[x];
    q.top_index[x] = x / k;
    q.top_is_gt[x] = 1;
}

/* t2i: thread x owns caption x and walks the shard's rows (coalesced
 * across the warp), competitors being every image but x / k. */
__global__ void itr_cu_ret_t2i_kernel(const double *__restrict__ blk, int64_t nc, int64_t y0, int64_t rows,
                                      int64_t k, int rule, const double *__restrict__ gt, ret_queries q,
                                      int *flags) {
    int64_t x = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (x >= nc) return;
    double m = gt[x];
    int64_t g = x / k, above = q.above[x], tied = q.tied[x], tl = q.tied_larger[x], top_idx = q.top_index[x];
    double top = q.top_score[x];
    int top_gt = q.top_is_gt[x], nan = 0, redo = 0;
    for (int64_t y = 0; y < rows; y++) {
        int64_t i = y0 + y;
        double s = blk[y * nc + x];
        if (i == g) {   /* the GT cell: must be pass 1's value */
            if (!(s == m)) redo = 1;
            continue;
        }
        if (isnan(s)) {
            nan = 1;
            continue;
        }
        if (s > m) {
            above++;
        } else if (s == m) {
            tied++;
            if (i > g) tl++;
        }
        if (ret_before(rule, top, top_gt, top_idx, s, 0, i)) {
            top = s;
            top_idx = i;
            top_gt = 0;
        }
    }
    if (nan) flags[RET_FLAG_NAN] = 1;
    if (redo) flags[RET_FLAG_REDO] = 1;
    q.above[x] = above;
    q.tied[x] = tied;
    q.tied_larger[x] = tl;
    q.top_score[x] = top;
    q.top_index[x] = top_idx;
    q.top_is_gt[x] = top_gt;
}

/* ---- host --------------------------------------------------------------------- */

static void free_queries(ret_queries *q) {
    itr_cu_free(q->above);
    itr_cu_free(q->tied);
    itr_cu_free(q->tied_larger);
    itr_cu_free(q->top_score);
    itr_cu_free(q->top_index);
    itr_cu_free(q->top_is_gt);
    memset(q, 0, sizeof *q);
}

static itr_status alloc_queries(ret_queries *q, int64_t n, const char *what) {
    memset(q, 0, sizeof *q);
    size_t c = (size_t)n;
    itr_status st;
    if ((st = itr_cu_alloc_n(&q->above, c, what)) || (st = itr_cu_alloc_n(&q->tied, c, what)) ||
        (st = itr_cu_alloc_n(&q->tied_larger, c, what)) || (st = itr_cu_alloc_n(&q->top_score, c, what)) ||
        (st = itr_cu_alloc_n(&q->top_index, c, what)) || (st = itr_cu_alloc_n(&q->top_is_gt, c, what)))
        free_queries(q);
    return st;
}

extern "C" void itr_cuda_retrieval_destroy(itr_cuda_retrieval *r) {
    if (!r) return;
    itr_cu_free(r->img);
    itr_cu_free(r->cap);
    free(r);
}

/* host float32 (n, d) -> device float64 (n, d), widened on the device */
static itr_status upload_widened(const float *host, int64_t n, int64_t d, double **dev, const char *what) {
    float *tmp = NULL;
    itr_status st = itr_cu_upload(&tmp, host, (size_t)(n * d), what);
    if (!st) st = itr_cu_alloc_n(dev, (size_t)(n * d), what);
    if (!st) st = itr_cu_f32_to_f64(tmp, n * d, *dev);
    itr_cu_free(tmp);
    return st;
}

extern "C" itr_status itr_cuda_retrieval_create(const float *img_emb, int64_t n_img, const float *cap_emb,
                                                int64_t n_cap, int64_t d, int64_t caps_per_img,
                                                itr_cuda_retrieval **out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_cuda_retrieval_create: out is NULL");
    *out = NULL;
    itr_status st = itr_metrics_check_shape(n_img, n_cap, caps_per_img);
    if (st) return itr_fail_context(st, "itr_cuda_retrieval_create");
    if (d < 1) return itr_fail(ITR_E_SHAPE, "itr_cuda_retrieval_create: embedding size %lld < 1", (long long)d);
    if (!img_emb || !cap_emb) return itr_fail(ITR_E_ARG, "itr_cuda_retrieval_create: NULL embeddings");
    if ((st = itr_cu_init())) return st;
    itr_cuda_retrieval *r = (itr_cuda_retrieval *)calloc(1, sizeof *r);
    if (!r) return itr_fail(ITR_E_NOMEM, "itr_cuda_retrieval_create: out of memory");
    r->n_img = n_img;
    r->n_cap = n_cap;
    r->d = d;
    r->k = caps_per_img;
    if ((st = upload_widened(img_emb, n_img, d, &r->img, "retrieval image embeddings")) ||
        (st = upload_widened(cap_emb, n_cap, d, &r->cap, "retrieval caption embeddings"))) {
        itr_cuda_retrieval_destroy(r);
        return st;
    }
    *out = r;
    return ITR_OK;
}

extern "C" itr_status itr_cuda_retrieval_set_shard_rows(itr_cuda_retrieval *r, int64_t rows) {
    if (!r || rows < 0)
        return itr_fail(ITR_E_ARG, "itr_cuda_retrieval_set_shard_rows: %s", r ? "rows < 0" : "NULL handle");
    r->shard_rows = rows;
    return ITR_OK;
}

/* Images per block for a range of n images against nc captions. */
static int64_t shard_rows(const itr_cuda_retrieval *r, int64_t n, int64_t nc) {
    int64_t rows = r->shard_rows > 0 ? r->shard_rows : RET_AUTO_CELLS / nc;
    if (rows < 1) rows = 1;
    return rows < n ? rows : n;
}

static itr_status check_range(const char *who, const itr_cuda_retrieval *r, int64_t i0, int64_t n) {
    if (!r) return itr_fail(ITR_E_ARG, "%s: NULL handle", who);
    if (i0 < 0 || n < 1 || i0 > r->n_img - n)
        return itr_fail(ITR_E_ARG, "%s: images [%lld, %lld) outside [0, %lld)", who, (long long)i0,
                        (long long)(i0 + n), (long long)r->n_img);
    return ITR_OK;
}

/* blk (rows, n k) = images [a + y0, a + y0 + rows) . captions [a k, (a + n) k)^T */
static itr_status block_scores(const itr_cuda_retrieval *r, int64_t a, int64_t n, int64_t y0, int64_t rows,
                               double *blk) {
    int64_t nc = n * r->k;
    return itr_cu_dgemm(0, 1, rows, nc, r->d, 1.0, r->img + (a + y0) * r->d, r->d, r->cap + a * r->k * r->d, r->d,
                        0.0, blk, nc);
}

/* Device state of one ranking. */
typedef struct ret_run {
    double *blk, *gt, *best;
    int64_t *arg;
    int *flags;
    ret_queries i2t, t2i;
} ret_run;

static void run_free(ret_run *w) {
    itr_cu_free(w->blk);
    itr_cu_free(w->gt);
    itr_cu_free(w->best);
    itr_cu_free(w->arg);
    itr_cu_free(w->flags);
    free_queries(&w->i2t);
    free_queries(&w->t2i);
}

static itr_status run_alloc(ret_run *w, int64_t rows, int64_t n, int64_t nc) {
    const char *what = "retrieval ranking";
    itr_status st;
    memset(w, 0, sizeof *w);
    if ((st = itr_cu_alloc_n(&w->blk, (size_t)(rows * nc), what)) || (st = itr_cu_alloc_n(&w->gt, (size_t)nc, what)) ||
        (st = itr_cu_alloc_n(&w->best, (size_t)n, what)) || (st = itr_cu_alloc_n(&w->arg, (size_t)n, what)) ||
        (st = itr_cu_alloc_n(&w->flags, RET_N_FLAGS, what)) || (st = itr_cu_zero(w->flags, RET_N_FLAGS * sizeof(int), what)) ||
        (st = alloc_queries(&w->i2t, n, what)) || (st = alloc_queries(&w->t2i, nc, what)))
        run_free(w);
    return st;
}

/* Pass 1 over one shard: GT cells, decisive maxima, i2t counters. */
static itr_status pass1_shard(const itr_cuda_retrieval *r, ret_run *w, int64_t nc, int64_t y0, int64_t rows, int rule) {
    itr_status st;
    int64_t k = r->k;
    ITR_LAUNCH(itr_cu_ret_gt_kernel, itr_cu_blocks(rows * k, RET_THREADS), RET_THREADS, 0, w->blk, nc, y0, rows, k,
               w->gt, w->flags);
    if ((st = itr_cu_launched("itr_cu_ret_gt_kernel"))) return st;
    ITR_LAUNCH(itr_cu_ret_best_kernel, itr_cu_blocks(rows, RET_THREADS), RET_THREADS, 0, w->gt, y0, rows, k, w->best,
               w->arg);
    if ((st = itr_cu_launched("itr_cu_ret_best_kernel"))) return st;
    ITR_LAUNCH(itr_cu_ret_i2t_kernel, (unsigned)rows, RET_THREADS, 0, w->blk, nc, y0, k, rule, w->best, w->arg, w->i2t,
               w->flags);
    return itr_cu_launched("itr_cu_ret_i2t_kernel");
}

/* Copies the device counters of n queries into rank / top1 (host), with
 * the tie counts (ranker.c itr_ranker_finish). */
static itr_status finish_direction(const ret_queries *q, int64_t n, itr_tie_rule rule, int64_t *rank, int64_t *top1,
                                   int64_t *tied_queries, int64_t *tied_pairs) {
    int64_t *above = (int64_t *)malloc((size_t)n * sizeof *above), *tied = (int64_t *)malloc((size_t)n * sizeof *tied);
    int64_t *tl = (int64_t *)malloc((size_t)n * sizeof *tl);
    itr_status st = above && tied && tl ? ITR_OK : itr_fail(ITR_E_NOMEM, "itr_cuda_retrieval_ranks: out of memory");
    const char *what = "retrieval counters";
    if (!st) st = itr_cu_to_host(above, q->above, (size_t)n * sizeof *above, what);
    if (!st) st = itr_cu_to_host(tied, q->tied, (size_t)n * sizeof *tied, what);
    if (!st) st = itr_cu_to_host(tl, q->tied_larger, (size_t)n * sizeof *tl, what);
    if (!st) st = itr_cu_to_host(top1, q->top_index, (size_t)n * sizeof *top1, what);
    for (int64_t j = 0; !st && j < n; j++) {
        rank[j] = rule == ITR_TIES_OPTIMISTIC ? above[j] : rule == ITR_TIES_PESSIMISTIC ? above[j] + tied[j]
                                                                                        : above[j] + tl[j];
        *tied_queries += tied[j] > 0;
        *tied_pairs += tied[j];
    }
    free(above);
    free(tied);
    free(tl);
    return st;
}

extern "C" itr_status itr_cuda_retrieval_ranks(itr_cuda_retrieval *r, int64_t i0, int64_t n, itr_tie_rule rule,
                                               itr_ranks *out) {
    const char *who = "itr_cuda_retrieval_ranks";
    if (!out) return itr_fail(ITR_E_ARG, "%s: out is NULL", who);
    memset(out, 0, sizeof *out);
    itr_status st = check_range(who, r, i0, n);
    if (st) return st;
    if (rule != ITR_TIES_CANONICAL && rule != ITR_TIES_OPTIMISTIC && rule != ITR_TIES_PESSIMISTIC)
        return itr_fail(ITR_E_ARG, "%s: unknown tie rule %d", who, (int)rule);
    int64_t nc = n * r->k, rows = shard_rows(r, n, nc);
    ret_run w;
    if ((st = run_alloc(&w, rows, n, nc))) return st;
    for (int64_t y0 = 0; !st && y0 < n; y0 += rows) {
        int64_t nr = n - y0 < rows ? n - y0 : rows;
        st = block_scores(r, i0, n, y0, nr, w.blk);
        if (!st) st = pass1_shard(r, &w, nc, y0, nr, (int)rule);
    }
    if (!st) {
        ITR_LAUNCH(itr_cu_ret_t2i_init_kernel, itr_cu_blocks(nc, RET_THREADS), RET_THREADS, 0, w.gt, nc, r->k, w.t2i);
        st = itr_cu_launched("itr_cu_ret_t2i_init_kernel");
    }
    for (int64_t y0 = 0; !st && y0 < n; y0 += rows) {
        int64_t nr = n - y0 < rows ? n - y0 : rows;
        st = block_scores(r, i0, n, y0, nr, w.blk);
        if (!st) {
            ITR_LAUNCH(itr_cu_ret_t2i_kernel, itr_cu_blocks(nc, RET_THREADS), RET_THREADS, 0, w.blk, nc, y0, nr, r->k,
                       (int)rule, w.gt, w.t2i, w.flags);
            st = itr_cu_launched("itr_cu_ret_t2i_kernel");
        }
    }
    int flags[RET_N_FLAGS] = {0, 0};
    if (!st) st = itr_cu_sync(who);
    if (!st) st = itr_cu_to_host(flags, w.flags, sizeof flags, "retrieval flags");
    if (!st && flags[RET_FLAG_NAN])
        st = itr_fail(ITR_E_ARG, "%s: images [%lld, %lld) x their captions: a score is NaN", who, (long long)i0,
                      (long long)(i0 + n));
    if (!st && flags[RET_FLAG_REDO])
        st = itr_fail(ITR_E_INTERNAL, "%s: the GEMM gave different scores for the same block twice", who);
    if (!st) {
        out->rank_i2t = (int64_t *)malloc((size_t)n * sizeof(int64_t));
        out->top1_i2t = (int64_t *)malloc((size_t)n * sizeof(int64_t));
        out->rank_t2i = (int64_t *)malloc((size_t)nc * sizeof(int64_t));
        out->top1_t2i = (int64_t *)malloc((size_t)nc * sizeof(int64_t));
        if (!out->rank_i2t || !out->top1_i2t || !out->rank_t2i || !out->top1_t2i)
            st = itr_fail(ITR_E_NOMEM, "%s: out of memory", who);
    }
    if (!st) {
        out->n_img = n;
        out->n_cap = nc;
        out->caps_per_img = r->k;
        out->rule = rule;
        st = finish_direction(&w.i2t, n, rule, out->rank_i2t, out->top1_i2t, &out->tied_queries_i2t,
                              &out->tied_pairs_i2t);
    }
    if (!st)
        st = finish_direction(&w.t2i, nc, rule, out->rank_t2i, out->top1_t2i, &out->tied_queries_t2i,
                              &out->tied_pairs_t2i);
    if (st) itr_ranks_free(out);
    run_free(&w);
    return st;
}

extern "C" itr_status itr_cuda_retrieval_metrics(itr_cuda_retrieval *r, int folds, itr_tie_rule rule,
                                                 itr_metrics *fold_metrics, itr_metrics *mean) {
    const char *who = "itr_cuda_retrieval_metrics";
    if (!r || !mean) return itr_fail(ITR_E_ARG, "%s: NULL argument", who);
    if (folds < 1) return itr_fail(ITR_E_ARG, "%s: folds %d < 1", who, folds);
    if (r->n_img % folds)
        return itr_fail(ITR_E_SHAPE, "%s: %lld images do not split into %d equal folds", who, (long long)r->n_img,
                        folds);
    itr_metrics *per = (itr_metrics *)malloc((size_t)folds * sizeof *per);
    if (!per) return itr_fail(ITR_E_NOMEM, "%s: out of memory", who);
    int64_t rows = r->n_img / folds;
    itr_status st = ITR_OK;
    for (int f = 0; f < folds && !st; f++) {
        itr_ranks rk;
        st = itr_cuda_retrieval_ranks(r, (int64_t)f * rows, rows, rule, &rk);
        if (st) st = itr_fail_context(st, "%s: fold %d of %d", who, f, folds);
        else itr_metrics_from_ranks(&rk, &per[f]);
        itr_ranks_free(&rk);
    }
    if (!st) {
        itr_metrics_mean(per, folds, mean);   /* as itr_eval_folds, folds == 1 included */
        if (fold_metrics) memcpy(fold_metrics, per, (size_t)folds * sizeof *per);
    }
    free(per);
    return st;
}

extern "C" itr_status itr_cuda_retrieval_sims(itr_cuda_retrieval *r, int64_t i0, int64_t n, double *sims) {
    const char *who = "itr_cuda_retrieval_sims";
    itr_status st = check_range(who, r, i0, n);
    if (st) return st;
    if (!sims) return itr_fail(ITR_E_ARG, "%s: sims is NULL", who);
    int64_t nc = n * r->k, rows = shard_rows(r, n, nc);
    double *blk = NULL;
    st = itr_cu_alloc_n(&blk, (size_t)(rows * nc), "retrieval block");
    for (int64_t y0 = 0; !st && y0 < n; y0 += rows) {
        int64_t nr = n - y0 < rows ? n - y0 : rows;
        st = block_scores(r, i0, n, y0, nr, blk);
        if (!st) st = itr_cu_to_host(sims + y0 * nc, blk, (size_t)(nr * nc) * sizeof(double), "retrieval block");
    }
    itr_cu_free(blk);
    return st;
}
