/* eval_score.c - from a block scorer to retrieval metrics (eval_score.h).
 *
 * Full path: the (n_img, n_cap) float64 matrix in shards of images x all
 * captions, then itr_rank_matrix / itr_eval_folds (--save-sims needs it).
 *
 * Streaming path (specs/vsepp_vseinfty.md s3.4: ranks are counts, so the
 * matrix can be fed in blocks): the same shard blocks, each handed to the
 * block-fed ranker (itr_ranker_*, one per COCO fold) and discarded. Memory:
 * one (shard, n_cap) block plus O(n_img + n_cap) counters.
 *
 * The ranker wants the ground-truth scores gt[c] = sims[c / k, c] before any
 * block. They are first scored cheaply, image i against its k captions (a
 * (1, k) block). That equals the shard cell when the scorer computes every
 * pair the same way whatever the block (true of the reference's float64 dot
 * loops). Each shard's GT cells are checked against gt before it is fed;
 * if one differs (a scorer whose rounding depends on the block shape, e.g. a
 * GEMM library picking another kernel for (1, k)), gt is collected from the
 * shard blocks themselves in a first pass and the ranking is redone. Either
 * way the ranker sees exactly the cells the full path would hold, so the
 * metrics are identical. */
#include "eval_score.h"

#include <stdlib.h>
#include <string.h>

static void progress(const itr_eval_scoring *s, const char *stage, int64_t done) {
    if (s->progress) s->progress(s->progress_user, stage, done, s->n_img);
}

static int64_t shard_of(const itr_eval_scoring *s) { return s->shard_rows < s->n_img ? s->shard_rows : s->n_img; }

static itr_status check_scoring(const char *who, const itr_eval_scoring *s) {
    if (!s || !s->block) return itr_fail(ITR_E_ARG, "%s: no block scorer", who);
    itr_status st = itr_metrics_check_shape(s->n_img, s->n_cap, s->caps_per_img);
    if (st) return itr_fail_context(st, "%s", who);
    if (s->shard_rows < 1) return itr_fail(ITR_E_ARG, "%s: shard_rows %lld < 1", who, (long long)s->shard_rows);
    if (s->folds < 1 || s->n_img % s->folds)
        return itr_fail(ITR_E_SHAPE, "%s: sims (%lld, %lld): %lld images do not split into %d equal folds", who,
                        (long long)s->n_img, (long long)s->n_cap, (long long)s->n_img, s->folds);
    if ((uint64_t)shard_of(s) > SIZE_MAX / sizeof(double) / (uint64_t)s->n_cap)
        return itr_fail(ITR_E_LIMIT, "%s: a (%lld, %lld) shard is too large", who, (long long)shard_of(s),
                        (long long)s->n_cap);
    return ITR_OK;
}

/* Scores images [i0, i0 + nr) x all captions into out (nr, n_cap). */
static itr_status score_shard(const itr_eval_scoring *s, int64_t i0, int64_t nr, double *out) {
    itr_status st = s->block(s->user, i0, nr, 0, s->n_cap, out);
    return st ? itr_fail_context(st, "scoring images [%lld, %lld)", (long long)i0, (long long)(i0 + nr)) : ITR_OK;
}

itr_status itr_eval_score_full(const itr_eval_scoring *s, double *S) {
    itr_status st = check_scoring("itr_eval_score_full", s);
    int64_t rows = st ? 0 : shard_of(s);
    for (int64_t i0 = 0; !st && i0 < s->n_img; i0 += rows) {
        int64_t nr = s->n_img - i0 < rows ? s->n_img - i0 : rows;
        st = score_shard(s, i0, nr, S + i0 * s->n_cap);
        progress(s, "sims", i0 + nr);
    }
    return st;
}

itr_status itr_eval_score_metrics(const double *S, int64_t n_img, int64_t n_cap, int64_t caps_per_img, int folds,
                                  itr_metrics *fold_metrics, itr_metrics *mean) {
    if (folds > 1)   /* COCO 1K: contiguous folds (s3.8) */
        return itr_eval_folds(S, n_img, n_cap, n_cap, caps_per_img, folds, ITR_TIES_CANONICAL, fold_metrics, mean);
    itr_ranks ranks;
    itr_status st = itr_rank_matrix(S, n_img, n_cap, n_cap, caps_per_img, ITR_TIES_CANONICAL, &ranks);
    if (!st) itr_metrics_from_ranks(&ranks, mean);
    itr_ranks_free(&ranks);
    return st;
}

/* ---- streaming ------------------------------------------------------------ */
typedef struct stream {
    const itr_eval_scoring *s;
    int64_t rows;                /* images per shard                          */
    int64_t fold_img, fold_cap;  /* images / captions per fold                */
    double *gt;                  /* (n_cap) gt[c] = sims[c / k, c]            */
    double *buf;                 /* (rows, n_cap) the current shard           */
    itr_ranker **rk;             /* (folds)                                   */
} stream;

/* gt from (1, k) blocks: image i against its own captions. */
static itr_status gt_from_pairs(stream *z) {
    const itr_eval_scoring *s = z->s;
    int64_t k = s->caps_per_img;
    for (int64_t i = 0; i < s->n_img; i++) {
        itr_status st = s->block(s->user, i, 1, i * k, k, z->gt + i * k);
        if (st) return itr_fail_context(st, "scoring image %lld against its captions", (long long)i);
    }
    return ITR_OK;
}

/* gt from the shard blocks (the cells the full matrix would hold). */
static itr_status gt_from_shards(stream *z) {
    const itr_eval_scoring *s = z->s;
    int64_t k = s->caps_per_img, n_cap = s->n_cap;
    for (int64_t i0 = 0; i0 < s->n_img; i0 += z->rows) {
        int64_t nr = s->n_img - i0 < z->rows ? s->n_img - i0 : z->rows;
        itr_status st = score_shard(s, i0, nr, z->buf);
        if (st) return st;
        for (int64_t y = 0; y < nr; y++)
            memcpy(z->gt + (i0 + y) * k, z->buf + y * n_cap + (i0 + y) * k, (size_t)k * sizeof(double));
        progress(s, "sims-gt", i0 + nr);
    }
    return ITR_OK;
}

/* 1 when every GT cell of the shard at i0 equals gt bit for bit. */
static int gt_agrees(const stream *z, int64_t i0, int64_t nr) {
    int64_t k = z->s->caps_per_img, n_cap = z->s->n_cap;
    for (int64_t y = 0; y < nr; y++)
        for (int64_t j = 0; j < k; j++) {
            int64_t c = (i0 + y) * k + j;
            if (!(z->buf[y * n_cap + c] == z->gt[c])) return 0;
        }
    return 1;
}

static void free_rankers(stream *z) {
    for (int f = 0; f < z->s->folds; f++) {
        itr_ranker_free(z->rk[f]);
        z->rk[f] = NULL;
    }
}

/* The rows of the shard at i0 that fall in each fold, against that fold's
 * captions only (other folds' competitors do not count, as in itr_eval_folds). */
static itr_status feed_shard(stream *z, int64_t i0, int64_t nr) {
    const itr_eval_scoring *s = z->s;
    for (int f = 0; f < s->folds; f++) {
        int64_t fa = (int64_t)f * z->fold_img, ya = i0 > fa ? i0 : fa;
        int64_t yb = i0 + nr < fa + z->fold_img ? i0 + nr : fa + z->fold_img;
        if (ya >= yb) continue;
        const double *blk = z->buf + (ya - i0) * s->n_cap + (int64_t)f * z->fold_cap;
        itr_status st = itr_ranker_add_block(z->rk[f], ya - fa, yb - ya, 0, z->fold_cap, blk, s->n_cap);
        if (st)
            return s->folds > 1 ? itr_fail_context(st, "fold %d of %d (images [%lld, %lld), positions fold-local)",
                                                   f, s->folds, (long long)fa, (long long)(fa + z->fold_img))
                                : st;
    }
    return ITR_OK;
}

/* One ranking pass with the current gt; *stale = 1 (and nothing ranked)
 * when a shard's GT cells disagree with gt. */
static itr_status rank_pass(stream *z, itr_metrics *per, int *stale) {
    const itr_eval_scoring *s = z->s;
    itr_status st = ITR_OK;
    *stale = 0;
    for (int f = 0; f < s->folds && !st; f++) {
        st = itr_ranker_create(z->fold_img, z->fold_cap, s->caps_per_img, z->gt + (int64_t)f * z->fold_cap,
                               ITR_TIES_CANONICAL, &z->rk[f]);
        if (st && s->folds > 1) st = itr_fail_context(st, "fold %d of %d (positions fold-local)", f, s->folds);
    }
    for (int64_t i0 = 0; !st && i0 < s->n_img; i0 += z->rows) {
        int64_t nr = s->n_img - i0 < z->rows ? s->n_img - i0 : z->rows;
        st = score_shard(s, i0, nr, z->buf);
        if (!st && !gt_agrees(z, i0, nr)) {
            *stale = 1;
            break;
        }
        if (!st) st = feed_shard(z, i0, nr);
        progress(s, "sims", i0 + nr);
    }
    for (int f = 0; f < s->folds && !st && !*stale; f++) {
        itr_ranks ranks;
        st = itr_ranker_finish(z->rk[f], &ranks);
        if (!st) itr_metrics_from_ranks(&ranks, &per[f]);
        itr_ranks_free(&ranks);
    }
    free_rankers(z);
    return st;
}

itr_status itr_eval_score_stream(const itr_eval_scoring *s, itr_metrics *fold_metrics, itr_metrics *mean,
                                 int *passes) {
    itr_status st = check_scoring("itr_eval_score_stream", s);
    if (st) return st;
    if (!mean) return itr_fail(ITR_E_ARG, "itr_eval_score_stream: mean is NULL");
    stream z;
    memset(&z, 0, sizeof z);
    z.s = s;
    z.rows = shard_of(s);
    z.fold_img = s->n_img / s->folds;
    z.fold_cap = z.fold_img * s->caps_per_img;
    z.gt = malloc((size_t)s->n_cap * sizeof *z.gt);
    z.buf = malloc((size_t)(z.rows * s->n_cap) * sizeof *z.buf);
    z.rk = calloc((size_t)s->folds, sizeof *z.rk);
    itr_metrics *per = calloc((size_t)s->folds, sizeof *per);
    int stale = 0, n_pass = 1;
    if (!z.gt || !z.buf || !z.rk || !per)
        st = itr_fail(ITR_E_NOMEM, "eval: out of memory for a (%lld, %lld) shard", (long long)z.rows,
                      (long long)s->n_cap);
    if (!st) st = gt_from_pairs(&z);
    if (!st) st = rank_pass(&z, per, &stale);
    if (!st && stale) {   /* shape-dependent scores: gt from the shards, then again */
        n_pass = 2;
        st = gt_from_shards(&z);
        if (!st) st = rank_pass(&z, per, &stale);
        if (!st && stale)
            st = itr_fail(ITR_E_UNSUPPORTED,
                          "eval: the scorer gave different ground-truth scores for the same shard twice (not "
                          "reproducible); --save-sims ranks the matrix computed once");
    }
    if (!st) {
        if (s->folds > 1) {
            itr_metrics_mean(per, s->folds, mean);
            if (fold_metrics) memcpy(fold_metrics, per, (size_t)s->folds * sizeof *per);
        } else {
            *mean = per[0];
        }
        if (passes) *passes = n_pass;
    }
    free(per);
    free(z.rk);
    free(z.gt);
    free(z.buf);
    return st;
}
