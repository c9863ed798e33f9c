/* eval_score.h - private: turning a block scorer into metrics, either
 * through the whole float64 matrix or streamed shard by shard through the
 * block-fed ranker of itr/metrics.h (conformance/eval_score.c).
 *
 * Both drivers ask the scorer for the same blocks - images [i0, i0 + rows)
 * x all captions, i0 = 0, shard, 2 * shard, ... - so the scores they see are
 * identical, and so are the metrics (docs/eval.md, "Streaming"). */
#ifndef ITR_EVAL_SCORE_H
#define ITR_EVAL_SCORE_H

#include <stdint.h>
#include "itr/eval.h"
#include "itr/metrics.h"

/* Fills out (rows, cols), row stride cols, with sims[i0 + y, c0 + x]. */
typedef itr_status (*itr_eval_block_fn)(void *user, int64_t i0, int64_t rows, int64_t c0, int64_t cols,
                                        double *out);

typedef struct itr_eval_scoring {
    int64_t n_img, n_cap, caps_per_img;
    int64_t shard_rows;             /* images per block (>= 1)                */
    int folds;                      /* 1, or 5 for COCO 1K                    */
    itr_eval_block_fn block;
    void *user;
    itr_eval_progress_fn progress;  /* stage "sims" (and "sims-gt"), may be NULL */
    void *progress_user;
} itr_eval_scoring;

/* The whole matrix S (n_img, n_cap), row-major, built shard by shard. */
itr_status itr_eval_score_full(const itr_eval_scoring *s, double *S);

/* Metrics of a whole matrix: all images, or `folds` diagonal blocks
 * averaged (itr_eval_folds); canonical ties. fold_metrics: `folds` entries. */
itr_status itr_eval_score_metrics(const double *S, int64_t n_img, int64_t n_cap, int64_t caps_per_img, int folds,
                                  itr_metrics *fold_metrics, itr_metrics *mean);

/* The same metrics without ever holding more than one (shard_rows, n_cap)
 * block: each block goes to one ranker per fold and is discarded.
 * *passes (may be NULL) says how many times the matrix was scored: 1, or 2
 * when the scorer's ground-truth cells depend on the block shape (see
 * eval_score.c). */
itr_status itr_eval_score_stream(const itr_eval_scoring *s, itr_metrics *fold_metrics, itr_metrics *mean,
                                 int *passes);

#endif
