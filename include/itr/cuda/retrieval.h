/* itr/cuda/retrieval.h - dot-product retrieval ranked on CUDA: float32
 * image and caption embeddings -> float64 scores (widened on the device,
 * cuBLAS dgemm, shard by shard) -> per-query rank counts on the device ->
 * the itr_ranks of include/itr/metrics.h, with its tie rules.
 *
 *   r = itr_cuda_retrieval_create(img, n_img, cap, n_cap, d, k)   upload once
 *   itr_cuda_retrieval_ranks(r, i0, n, rule, &ranks)   images [i0, i0+n) and
 *        their captions [i0 k, (i0+n) k), positions local to that range
 *        (i0 = 0, n = n_img: the whole matrix; a COCO fold: its range)
 *   itr_cuda_retrieval_metrics(r, folds, rule, per, &mean)   as itr_eval_folds
 *   itr_cuda_retrieval_sims(r, i0, n, sims)   the (n, n k) scores the ranks
 *        were counted on, for checks: itr_rank_matrix(sims) == the ranks
 *
 * Scores: S[i, c] = sum_j (double)img[i, j] (double)cap[c, j], the float64
 * dot of the float32 embeddings that itr_vsepp_sims / itr_vseinf_sims
 * compute, up to the summation order of the GEMM (|err| ~ 1e-16 relative);
 * the ranks are exactly itr_rank_matrix's on the device's own scores.
 * Nothing of (n_img, n_cap) size ever reaches the host; device memory:
 * the embeddings in float64, one (shard, n k) block and O(n_img + n_cap)
 * counters. docs/cuda-retrieval.md. */
#ifndef ITR_CUDA_RETRIEVAL_H
#define ITR_CUDA_RETRIEVAL_H

#include <stdint.h>

#include "itr/metrics.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cuda_retrieval itr_cuda_retrieval;

/* Uploads img_emb (n_img, d) and cap_emb (n_cap, d), host float32;
 * n_cap == caps_per_img * n_img (ITR_E_SHAPE otherwise), d >= 1. */
itr_status itr_cuda_retrieval_create(const float *img_emb, int64_t n_img, const float *cap_emb, int64_t n_cap,
                                     int64_t d, int64_t caps_per_img, itr_cuda_retrieval **out);
void itr_cuda_retrieval_destroy(itr_cuda_retrieval *r);   /* NULL ok */

/* Image rows per score block (0: automatic, blocks of about 256 MiB).
 * Results do not depend on it beyond the GEMM's rounding. */
itr_status itr_cuda_retrieval_set_shard_rows(itr_cuda_retrieval *r, int64_t rows);

/* Ranks of images [i0, i0 + n) against their captions, as itr_rank_matrix
 * on that diagonal block (fold-local positions). *out is zeroed first;
 * NaN scores fail with ITR_E_ARG. */
itr_status itr_cuda_retrieval_ranks(itr_cuda_retrieval *r, int64_t i0, int64_t n, itr_tie_rule rule,
                                    itr_ranks *out);

/* `folds` contiguous folds (1: the whole matrix), metrics per fold and
 * their mean, as itr_eval_folds; fold_metrics may be NULL. */
itr_status itr_cuda_retrieval_metrics(itr_cuda_retrieval *r, int folds, itr_tie_rule rule, itr_metrics *fold_metrics,
                                      itr_metrics *mean);

/* The scores of images [i0, i0 + n) x their captions, (n, n k) row-major,
 * computed exactly as itr_cuda_retrieval_ranks computes them. */
itr_status itr_cuda_retrieval_sims(itr_cuda_retrieval *r, int64_t i0, int64_t n, double *sims);

#ifdef __cplusplus
}
#endif
#endif
