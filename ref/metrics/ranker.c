/* ranker.c - ranks of the retrieval protocol by counting, fed in blocks.
 *
 * specs/vsepp_vseinfty.md s3.4 and scan_sgraf.md s7: upstream sorts every
 * query's scores (numpy argsort, reversed) and reads off the position of the
 * ground truth. The position of an item is fully determined by how many items
 * beat it, so instead of sorting we count, per query:
 *   above       competitors with a score strictly above the decisive GT score m,
 *   tied        competitors with a score exactly equal to m,
 *   tied_larger those tied competitors whose index is larger than the GT's.
 * A "competitor" is any item that is not a ground truth of the query.
 *
 * The decisive GT of an i2t query (image i) is the best of its k captions:
 * m = max_j sims[i, i*k + j], attained last (largest index) by caption a.
 * Every other GT caption is either below m (ranked after a under any order)
 * or tied with m at a smaller index (after a canonically; upstream's minimum
 * over the k positions is the same whichever of them comes first), so the
 * other GT captions never matter and are skipped like the t2i GT cell.
 * Then, per rule:
 *   canonical   rank = above + tied_larger   (larger index first, s3.4)
 *   optimistic  rank = above                 (ties broken for the GT)
 *   pessimistic rank = above + tied          (ties broken against the GT)
 * and the tie report of s3.4 is (tied > 0) per query and the sum of tied.
 *
 * Counting is order-independent, so blocks may arrive in any order. Each
 * query only touches its own counters: i2t work is split over rows, t2i
 * work over column tiles, which is what the OpenMP loops do. */
#include "itr/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Counters and running top-1 of one query. */
typedef struct query_state {
    int64_t above, tied, tied_larger;
    double top_score;        /* best item seen so far under the rule's order */
    int64_t top_index;
    int top_is_gt;
    int64_t seen;            /* cells received (including GT cells)          */
} query_state;

struct itr_ranker {
    int64_t n_img, n_cap, k;
    itr_tie_rule rule;
    int failed;              /* an add_block failed: finish refuses          */
    double *gt;              /* (n_cap) gt[c] = sims[c / k, c]               */
    double *gt_best;         /* (n_img) decisive i2t GT score m              */
    int64_t *gt_arg;         /* (n_img) caption attaining m, largest index   */
    query_state *i2t;        /* (n_img)                                      */
    query_state *t2i;        /* (n_cap)                                      */
};

/* Columns per t2i tile: each thread walks all rows of its own tile. */
#define RANKER_TILE 256
/* Below this many cells a block is handled by one thread. */
#define RANKER_PAR_CELLS 32768
/* float32 blocks are widened to double this many cells at a time (8 MiB). */
#define RANKER_F32_CHUNK_CELLS (1 << 20)

/* 1 when item (s, is_gt, idx) comes before the current top of q in the order
 * the rule implies: higher score first; among equal scores the rule's GT
 * preference (none for canonical), then the larger index (the reversed
 * stable sort of s3.4). */
static int before_top(itr_tie_rule rule, const query_state *q, double s, int is_gt, int64_t idx) {
    if (s != q->top_score) return s > q->top_score;
    if (is_gt != q->top_is_gt) {
        if (rule == ITR_TIES_OPTIMISTIC) return is_gt;
        if (rule == ITR_TIES_PESSIMISTIC) return !is_gt;
    }
    return idx > q->top_index;
}

/* Counts one competitor score s (index idx) of query q against its decisive
 * GT score m held by item gt_idx. */
static void count_competitor(itr_tie_rule rule, query_state *q, double m, int64_t gt_idx,
                             double s, int64_t idx) {
    if (s > m) {
        q->above++;
    } else if (s == m) {
        q->tied++;
        if (idx > gt_idx) q->tied_larger++;
    }
    if (before_top(rule, q, s, 0, idx)) {
        q->top_score = s;
        q->top_index = idx;
        q->top_is_gt = 0;
    }
}

static int64_t rank_by_rule(itr_tie_rule rule, const query_state *q) {
    switch (rule) {
    case ITR_TIES_OPTIMISTIC: return q->above;
    case ITR_TIES_PESSIMISTIC: return q->above + q->tied;
    case ITR_TIES_CANONICAL: break;
    }
    return q->above + q->tied_larger;
}

itr_status itr_metrics_check_shape(int64_t n_img, int64_t n_cap, int64_t caps_per_img) {
    if (n_img < 1 || n_cap < 1)
        return itr_fail(ITR_E_SHAPE, "sims (%lld, %lld): empty similarity matrix", (long long)n_img,
                        (long long)n_cap);
    if (caps_per_img < 1)
        return itr_fail(ITR_E_SHAPE, "sims (%lld, %lld): caps_per_img %lld < 1", (long long)n_img,
                        (long long)n_cap, (long long)caps_per_img);
    /* s3.1: caption c belongs to image c / k, so there are exactly k * n_img. */
    if (caps_per_img > INT64_MAX / n_img || n_cap != caps_per_img * n_img)
        return itr_fail(ITR_E_SHAPE, "sims (%lld, %lld): n_cap %lld != caps_per_img %lld * n_img %lld",
                        (long long)n_img, (long long)n_cap, (long long)n_cap, (long long)caps_per_img,
                        (long long)n_img);
    return ITR_OK;
}

void itr_ranker_free(itr_ranker *r) {
    if (!r) return;
    free(r->gt);
    free(r->gt_best);
    free(r->gt_arg);
    free(r->i2t);
    free(r->t2i);
    free(r);
}

itr_status itr_ranker_create(int64_t n_img, int64_t n_cap, int64_t caps_per_img, const double *gt,
                             itr_tie_rule rule, itr_ranker **out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_ranker_create: out is NULL");
    *out = NULL;
    itr_status st = itr_metrics_check_shape(n_img, n_cap, caps_per_img);
    if (st) return itr_fail_context(st, "itr_ranker_create");
    if (!gt) return itr_fail(ITR_E_ARG, "itr_ranker_create: gt (%lld) is NULL", (long long)n_cap);
    if (rule != ITR_TIES_CANONICAL && rule != ITR_TIES_OPTIMISTIC && rule != ITR_TIES_PESSIMISTIC)
        return itr_fail(ITR_E_ARG, "itr_ranker_create: unknown tie rule %d", (int)rule);
    for (int64_t c = 0; c < n_cap; c++)
        if (isnan(gt[c]))
            return itr_fail(ITR_E_ARG, "itr_ranker_create: gt[%lld] (sims[%lld, %lld]) is NaN", (long long)c,
                            (long long)(c / caps_per_img), (long long)c);
    if ((uint64_t)n_cap > SIZE_MAX / sizeof(query_state))
        return itr_fail(ITR_E_LIMIT, "itr_ranker_create: %lld captions is too many", (long long)n_cap);

    itr_ranker *r = calloc(1, sizeof *r);
    if (!r) return itr_fail(ITR_E_NOMEM, "itr_ranker_create: out of memory");
    r->n_img = n_img;
    r->n_cap = n_cap;
    r->k = caps_per_img;
    r->rule = rule;
    r->gt = malloc((size_t)n_cap * sizeof *r->gt);
    r->gt_best = malloc((size_t)n_img * sizeof *r->gt_best);
    r->gt_arg = malloc((size_t)n_img * sizeof *r->gt_arg);
    r->i2t = calloc((size_t)n_img, sizeof *r->i2t);
    r->t2i = calloc((size_t)n_cap, sizeof *r->t2i);
    if (!r->gt || !r->gt_best || !r->gt_arg || !r->i2t || !r->t2i) {
        itr_ranker_free(r);
        return itr_fail(ITR_E_NOMEM, "itr_ranker_create: out of memory for %lld x %lld ranks",
                        (long long)n_img, (long long)n_cap);
    }
    memcpy(r->gt, gt, (size_t)n_cap * sizeof *r->gt);
    for (int64_t i = 0; i < n_img; i++) {
        /* Decisive GT: the best score, the larger caption index on ties. */
        int64_t a = i * caps_per_img;
        for (int64_t c = a + 1; c < (i + 1) * caps_per_img; c++)
            if (gt[c] >= gt[a]) a = c;
        r->gt_best[i] = gt[a];
        r->gt_arg[i] = a;
        /* The top-1 starts as the GT item ranked first among the GT items. */
        r->i2t[i].top_score = gt[a];
        r->i2t[i].top_index = a;
        r->i2t[i].top_is_gt = 1;
    }
    for (int64_t c = 0; c < n_cap; c++) {
        r->t2i[c].top_score = gt[c];
        r->t2i[c].top_index = c / caps_per_img;
        r->t2i[c].top_is_gt = 1;
    }
    *out = r;
    return ITR_OK;
}

/* Bounds, stride and pointer checks of a block (who: the caller's name). */
static itr_status check_block_args(const itr_ranker *r, const char *who, int64_t i0, int64_t rows, int64_t c0,
                                   int64_t cols, const void *block, int64_t ld) {
    if (i0 < 0 || rows < 0 || i0 > r->n_img - rows || c0 < 0 || cols < 0 || c0 > r->n_cap - cols)
        return itr_fail(ITR_E_ARG, "%s: block rows [%lld, %lld) x cols [%lld, %lld) outside sims (%lld, %lld)",
                        who, (long long)i0, (long long)(i0 + rows), (long long)c0, (long long)(c0 + cols),
                        (long long)r->n_img, (long long)r->n_cap);
    if (rows == 0 || cols == 0) return ITR_OK;
    if (ld < cols)
        return itr_fail(ITR_E_ARG, "%s: block (%lld, %lld): row stride %lld < %lld columns", who,
                        (long long)rows, (long long)cols, (long long)ld, (long long)cols);
    if (!block) return itr_fail(ITR_E_ARG, "%s: block (%lld, %lld) is NULL", who, (long long)rows, (long long)cols);
    return ITR_OK;
}

/* The data pre-pass: no NaN, and GT cells equal to the gt given at creation.
 * Nothing is counted before the whole block has passed. */
static itr_status check_block_data(const itr_ranker *r, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                                   const double *block, int64_t ld) {
    for (int64_t y = 0; y < rows; y++) {
        const double *row = block + y * ld;
        int64_t i = i0 + y;
        for (int64_t x = 0; x < cols; x++) {
            int64_t c = c0 + x;
            if (isnan(row[x]))
                return itr_fail(ITR_E_ARG, "itr_ranker_add_block: sims[%lld, %lld] is NaN", (long long)i,
                                (long long)c);
            if (c / r->k == i && row[x] != r->gt[c])
                return itr_fail(ITR_E_ARG,
                                "itr_ranker_add_block: sims[%lld, %lld] = %.17g differs from the ground-truth "
                                "score %.17g given to itr_ranker_create",
                                (long long)i, (long long)c, row[x], r->gt[c]);
        }
    }
    return ITR_OK;
}

/* i2t: row i of the block against image i's decisive GT caption. */
static void add_rows_i2t(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                         const double *block, int64_t ld) {
    int64_t y;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (rows * cols >= RANKER_PAR_CELLS)
#endif
    for (y = 0; y < rows; y++) {
        int64_t i = i0 + y;
        int64_t gt_lo = i * r->k, gt_hi = gt_lo + r->k; /* image i's captions */
        query_state *q = &r->i2t[i];
        const double *row = block + y * ld;
        for (int64_t x = 0; x < cols; x++) {
            int64_t c = c0 + x;
            if (c >= gt_lo && c < gt_hi) continue; /* a GT caption of image i */
            count_competitor(r->rule, q, r->gt_best[i], r->gt_arg[i], row[x], c);
        }
        q->seen += cols;
    }
}

/* t2i: column c of the block against the score of its image c / k. */
static void add_cols_t2i(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                         const double *block, int64_t ld) {
    int64_t n_tiles = (cols + RANKER_TILE - 1) / RANKER_TILE, t;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (rows * cols >= RANKER_PAR_CELLS)
#endif
    for (t = 0; t < n_tiles; t++) {
        int64_t x0 = t * RANKER_TILE;
        int64_t x1 = x0 + RANKER_TILE < cols ? x0 + RANKER_TILE : cols;
        for (int64_t y = 0; y < rows; y++) {
            int64_t i = i0 + y;
            const double *row = block + y * ld;
            for (int64_t x = x0; x < x1; x++) {
                int64_t c = c0 + x;
                int64_t g = c / r->k;
                if (g == i) continue; /* the GT image of caption c */
                count_competitor(r->rule, &r->t2i[c], r->gt[c], g, row[x], i);
            }
        }
        for (int64_t x = x0; x < x1; x++) r->t2i[c0 + x].seen += rows;
    }
}

itr_status itr_ranker_add_block(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                                const double *block, int64_t ld) {
    if (!r) return itr_fail(ITR_E_ARG, "itr_ranker_add_block: ranker is NULL");
    if (r->failed) return itr_fail(ITR_E_ARG, "itr_ranker_add_block: an earlier block failed");
    itr_status st = check_block_args(r, "itr_ranker_add_block", i0, rows, c0, cols, block, ld);
    if (!st) st = check_block_data(r, i0, rows, c0, cols, block, ld);
    if (st) {
        r->failed = 1;
        return st;
    }
    if (rows == 0 || cols == 0) return ITR_OK;
    add_rows_i2t(r, i0, rows, c0, cols, block, ld);
    add_cols_t2i(r, i0, rows, c0, cols, block, ld);
    return ITR_OK;
}

itr_status itr_ranker_add_block_f32(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                                    const float *block, int64_t ld) {
    if (!r) return itr_fail(ITR_E_ARG, "itr_ranker_add_block_f32: ranker is NULL");
    if (r->failed) return itr_fail(ITR_E_ARG, "itr_ranker_add_block_f32: an earlier block failed");
    itr_status st = check_block_args(r, "itr_ranker_add_block_f32", i0, rows, c0, cols, block, ld);
    if (st) {
        r->failed = 1;
        return st;
    }
    if (rows == 0 || cols == 0) return ITR_OK;
    /* Convert a few rows at a time (float -> double is exact). */
    int64_t chunk = RANKER_F32_CHUNK_CELLS / cols > 0 ? RANKER_F32_CHUNK_CELLS / cols : 1;
    if (chunk > rows) chunk = rows;
    if ((uint64_t)(chunk * cols) > SIZE_MAX / sizeof(double))
        return itr_fail(ITR_E_LIMIT, "itr_ranker_add_block_f32: %lld columns is too many", (long long)cols);
    double *buf = malloc((size_t)(chunk * cols) * sizeof *buf);
    if (!buf) {
        r->failed = 1;
        return itr_fail(ITR_E_NOMEM, "itr_ranker_add_block_f32: out of memory");
    }
    for (int64_t y0 = 0; y0 < rows && !st; y0 += chunk) {
        int64_t n = rows - y0 < chunk ? rows - y0 : chunk;
        for (int64_t y = 0; y < n; y++)
            for (int64_t x = 0; x < cols; x++) buf[y * cols + x] = (double)block[(y0 + y) * ld + x];
        st = itr_ranker_add_block(r, i0 + y0, n, c0, cols, buf, cols);
    }
    free(buf);
    return st;
}

itr_status itr_ranker_finish(itr_ranker *r, itr_ranks *out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_ranker_finish: out is NULL");
    memset(out, 0, sizeof *out);
    if (!r) return itr_fail(ITR_E_ARG, "itr_ranker_finish: ranker is NULL");
    if (r->failed) return itr_fail(ITR_E_ARG, "itr_ranker_finish: an earlier block failed");
    /* Every cell exactly once: each row must have seen n_cap cells and each
     * column n_img (a count check: it catches gaps and repeats, though not a
     * repeat and a gap that cancel in both a row and a column). */
    for (int64_t i = 0; i < r->n_img; i++)
        if (r->i2t[i].seen != r->n_cap)
            return itr_fail(ITR_E_ARG, "itr_ranker_finish: sims (%lld, %lld): row %lld received %lld of %lld cells",
                            (long long)r->n_img, (long long)r->n_cap, (long long)i, (long long)r->i2t[i].seen,
                            (long long)r->n_cap);
    for (int64_t c = 0; c < r->n_cap; c++)
        if (r->t2i[c].seen != r->n_img)
            return itr_fail(ITR_E_ARG,
                            "itr_ranker_finish: sims (%lld, %lld): column %lld received %lld of %lld cells",
                            (long long)r->n_img, (long long)r->n_cap, (long long)c, (long long)r->t2i[c].seen,
                            (long long)r->n_img);

    out->rank_i2t = malloc((size_t)r->n_img * sizeof(int64_t));
    out->top1_i2t = malloc((size_t)r->n_img * sizeof(int64_t));
    out->rank_t2i = malloc((size_t)r->n_cap * sizeof(int64_t));
    out->top1_t2i = malloc((size_t)r->n_cap * sizeof(int64_t));
    if (!out->rank_i2t || !out->top1_i2t || !out->rank_t2i || !out->top1_t2i) {
        itr_ranks_free(out);
        return itr_fail(ITR_E_NOMEM, "itr_ranker_finish: out of memory");
    }
    out->n_img = r->n_img;
    out->n_cap = r->n_cap;
    out->caps_per_img = r->k;
    out->rule = r->rule;
    for (int64_t i = 0; i < r->n_img; i++) {
        const query_state *q = &r->i2t[i];
        out->rank_i2t[i] = rank_by_rule(r->rule, q);
        out->top1_i2t[i] = q->top_index;
        out->tied_queries_i2t += q->tied > 0;
        out->tied_pairs_i2t += q->tied;
    }
    for (int64_t c = 0; c < r->n_cap; c++) {
        const query_state *q = &r->t2i[c];
        out->rank_t2i[c] = rank_by_rule(r->rule, q);
        out->top1_t2i[c] = q->top_index;
        out->tied_queries_t2i += q->tied > 0;
        out->tied_pairs_t2i += q->tied;
    }
    return ITR_OK;
}
