/* rank_matrix.c - ranks of a whole similarity matrix held in memory.
 *
 * The whole-matrix path is the streaming ranker (ranker.c) fed with one
 * block, so both paths give identical results by construction
 * (specs/vsepp_vseinfty.md s3.4). */
#include "itr/metrics.h"

#include <stdlib.h>
#include <string.h>

void itr_ranks_free(itr_ranks *r) {
    if (!r) return;
    free(r->rank_i2t);
    free(r->top1_i2t);
    free(r->rank_t2i);
    free(r->top1_t2i);
    memset(r, 0, sizeof *r);
}

/* Shared argument checks of the two entry points. */
static itr_status check_matrix(const char *who, const void *sims, int64_t n_img, int64_t n_cap, int64_t ld,
                               int64_t caps_per_img, itr_ranks *out) {
    if (!out) return itr_fail(ITR_E_ARG, "%s: out is NULL", who);
    memset(out, 0, sizeof *out);
    itr_status st = itr_metrics_check_shape(n_img, n_cap, caps_per_img);
    if (st) return itr_fail_context(st, "%s", who);
    if (!sims) return itr_fail(ITR_E_ARG, "%s: sims (%lld, %lld) is NULL", who, (long long)n_img, (long long)n_cap);
    if (ld < n_cap)
        return itr_fail(ITR_E_ARG, "%s: sims (%lld, %lld): row stride %lld < %lld columns", who, (long long)n_img,
                        (long long)n_cap, (long long)ld, (long long)n_cap);
    return ITR_OK;
}

/* Creates the ranker from the ground-truth cells sims[c / k, c] of whichever
 * of sims64 / sims32 is given. */
static itr_status ranker_from_matrix(const char *who, const double *sims64, const float *sims32, int64_t n_img,
                                     int64_t n_cap, int64_t ld, int64_t k, itr_tie_rule rule, itr_ranker **out) {
    double *gt = malloc((size_t)n_cap * sizeof *gt);
    if (!gt) return itr_fail(ITR_E_NOMEM, "%s: out of memory", who);
    for (int64_t c = 0; c < n_cap; c++) {
        int64_t at = (c / k) * ld + c;
        gt[c] = sims64 ? sims64[at] : (double)sims32[at];
    }
    itr_status st = itr_ranker_create(n_img, n_cap, k, gt, rule, out);
    free(gt);
    return st;
}

itr_status itr_rank_matrix(const double *sims, int64_t n_img, int64_t n_cap, int64_t ld, int64_t caps_per_img,
                           itr_tie_rule rule, itr_ranks *out) {
    const char *who = "itr_rank_matrix";
    itr_status st = check_matrix(who, sims, n_img, n_cap, ld, caps_per_img, out);
    if (st) return st;
    itr_ranker *r = NULL;
    st = ranker_from_matrix(who, sims, NULL, n_img, n_cap, ld, caps_per_img, rule, &r);
    if (!st) st = itr_ranker_add_block(r, 0, n_img, 0, n_cap, sims, ld);
    if (!st) st = itr_ranker_finish(r, out);
    itr_ranker_free(r);
    return st ? itr_fail_context(st, "%s", who) : ITR_OK;
}

itr_status itr_rank_matrix_f32(const float *sims, int64_t n_img, int64_t n_cap, int64_t ld, int64_t caps_per_img,
                               itr_tie_rule rule, itr_ranks *out) {
    const char *who = "itr_rank_matrix_f32";
    itr_status st = check_matrix(who, sims, n_img, n_cap, ld, caps_per_img, out);
    if (st) return st;
    itr_ranker *r = NULL;
    st = ranker_from_matrix(who, NULL, sims, n_img, n_cap, ld, caps_per_img, rule, &r);
    if (!st) st = itr_ranker_add_block_f32(r, 0, n_img, 0, n_cap, sims, ld);
    if (!st) st = itr_ranker_finish(r, out);
    itr_ranker_free(r);
    return st ? itr_fail_context(st, "%s", who) : ITR_OK;
}
