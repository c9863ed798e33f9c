/* itr/metrics.h - retrieval ranks and recall metrics (ref/metrics).
 *
 * Protocol (specs/vsepp_vseinfty.md s3, scan_sgraf.md s7): n_img images,
 * n_cap = k * n_img captions (k = 5), caption c belongs to image c / k,
 * sims[i, c] row-major with images on rows.
 *   i2t rank of image i = min over its k captions of the caption's 0-based
 *       position in the descending order of row i;
 *   t2i rank of caption c = position of image c / k in column c.
 * Tie rule (canonical, documented in docs/metrics.md): among equal scores the
 * LARGER index ranks first (a reversed stable ascending sort):
 *   pos(x) = #{y: s_y > s_x} + #{y != x: s_y == s_x and y > x}.
 * Bounds over every order an unstable sort could produce (ties with the
 * query's OTHER ground-truth items never change the i2t minimum, so only
 * competitors - items that are not ground truth - count):
 *   optimistic  = #{y: s_y > m}                     (ties broken for the GT),
 *   pessimistic = #{y: s_y > m} + #{competitors y: s_y == m} (against it),
 * with m the decisive ground-truth score (i2t: the best of the k captions).
 * Always optimistic <= canonical <= pessimistic.
 *
 * top1 is the first item of the rule's order: the highest score; among equal
 * maxima the LARGEST index (canonical), a ground-truth item first
 * (optimistic) or a competitor first (pessimistic), then the larger index.
 * Hence rank == 0 exactly when top1 is a ground-truth item, under every rule.
 *
 * Ranks are computed by counting, not sorting, so a matrix can be fed in
 * blocks (itr_ranker_*) without ever being held whole. */
#ifndef ITR_METRICS_H
#define ITR_METRICS_H

#include <stdint.h>
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum itr_tie_rule {
    ITR_TIES_CANONICAL = 0,   /* larger index first (reversed stable sort) */
    ITR_TIES_OPTIMISTIC,      /* ties never count against the ground truth */
    ITR_TIES_PESSIMISTIC      /* every tie counts against the ground truth */
} itr_tie_rule;

typedef struct itr_recall {
    double r1, r5, r10;       /* percentages */
    double medr, meanr;       /* 1-based: floor(median(rank)) + 1, mean(rank) + 1 */
} itr_recall;

/* Per-direction ranks of one evaluation. Arrays are owned (itr_ranks_free). */
typedef struct itr_ranks {
    int64_t n_img, n_cap, caps_per_img;
    itr_tie_rule rule;
    int64_t *rank_i2t, *top1_i2t;     /* (n_img) 0-based, top1 = best caption  */
    int64_t *rank_t2i, *top1_t2i;     /* (n_cap) 0-based, top1 = best image    */
    /* Queries whose decisive ground-truth score is exactly equal to at least
     * one competitor's (a non-ground-truth item), and the total number of
     * such tied competitor comparisons (per direction). Independent of the
     * rule; zero means every rule gives the same ranks. */
    int64_t tied_queries_i2t, tied_queries_t2i;
    int64_t tied_pairs_i2t, tied_pairs_t2i;
} itr_ranks;

typedef struct itr_metrics {
    itr_recall i2t, t2i;
    double rsum;              /* i2t r1+r5+r10 + t2i r1+r5+r10 */
    double ar, ari;           /* mean of the three i2t / t2i recalls */
} itr_metrics;

/* Checks the protocol shape: n_img >= 1, caps_per_img >= 1 and
 * n_cap == caps_per_img * n_img (ITR_E_SHAPE otherwise). */
itr_status itr_metrics_check_shape(int64_t n_img, int64_t n_cap, int64_t caps_per_img);

/* Whole-matrix evaluation: sims (n_img, n_cap) with row stride ld (>= n_cap).
 * Fails on n_cap != k * n_img, empty input, a bad stride or NaN scores.
 * *out is zeroed first, so itr_ranks_free(out) is safe after a failure. */
itr_status itr_rank_matrix(const double *sims, int64_t n_img, int64_t n_cap, int64_t ld,
                           int64_t caps_per_img, itr_tie_rule rule, itr_ranks *out);
itr_status itr_rank_matrix_f32(const float *sims, int64_t n_img, int64_t n_cap, int64_t ld,
                               int64_t caps_per_img, itr_tie_rule rule, itr_ranks *out);
void itr_ranks_free(itr_ranks *r);

/* Recall metrics of a rank vector (n >= 1; n < 1 or NULL gives all zeros). */
itr_recall itr_recall_from_ranks(const int64_t *ranks, int64_t n);
void itr_metrics_from_ranks(const itr_ranks *r, itr_metrics *m);
/* Field-wise arithmetic mean of n >= 1 metrics (COCO 1K fold average); the
 * mean's rsum is the mean of the rsums. n < 1 gives all zeros. */
void itr_metrics_mean(const itr_metrics *m, int n, itr_metrics *mean);

/* Streaming ranker: the ground-truth scores are given first (gt[i*k + j] =
 * sims[i, i*k + j]), then every block of the matrix exactly once, in any
 * order; blocks may overlap the ground truth (those cells must then equal
 * gt exactly). itr_ranker_finish fills ranks identical to itr_rank_matrix
 * and checks that every row and column received all its cells. A failed
 * add_block poisons the ranker: finish then fails too. */
typedef struct itr_ranker itr_ranker;
itr_status itr_ranker_create(int64_t n_img, int64_t n_cap, int64_t caps_per_img,
                             const double *gt, itr_tie_rule rule, itr_ranker **out);
/* block (rows, cols) of scores for images [i0, i0+rows) x captions [c0, c0+cols),
 * row stride ld >= cols. An empty block (rows or cols 0) is a no-op. */
itr_status itr_ranker_add_block(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0,
                                int64_t cols, const double *block, int64_t ld);
/* The same for float32 scores (converted exactly to double). */
itr_status itr_ranker_add_block_f32(itr_ranker *r, int64_t i0, int64_t rows, int64_t c0,
                                    int64_t cols, const float *block, int64_t ld);
itr_status itr_ranker_finish(itr_ranker *r, itr_ranks *out);
void itr_ranker_free(itr_ranker *r);

/* COCO 1K: `folds` contiguous folds of n_img/folds images and their captions,
 * each evaluated on its own sub-matrix; per-fold metrics in fold_metrics
 * (caller array of `folds`, may be NULL), their arithmetic mean in *mean
 * (rsum of the mean = mean of per-fold rsums; NOT upstream VSE++'s printed
 * 6 x mean, specs/vsepp_vseinfty.md s3.8). Fails when n_img % folds != 0. */
itr_status itr_eval_folds(const double *sims, int64_t n_img, int64_t n_cap, int64_t ld,
                          int64_t caps_per_img, int folds, itr_tie_rule rule,
                          itr_metrics *fold_metrics, itr_metrics *mean);

#ifdef __cplusplus
}
#endif
#endif
