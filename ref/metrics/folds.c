/* folds.c - the COCO 1K protocol: contiguous folds, metrics averaged
 * (specs/vsepp_vseinfty.md s3.6, scan_sgraf.md s7).
 *
 * Fold f holds images [f*N/F, (f+1)*N/F) and their captions
 * [f*kN/F, (f+1)*kN/F): a diagonal block of the matrix, ranked on its own
 * (competitors from other folds do not count), read in place through the
 * row stride. */
#include "itr/metrics.h"

#include <stdlib.h>

itr_status itr_eval_folds(const double *sims, int64_t n_img, int64_t n_cap, int64_t ld, int64_t caps_per_img,
                          int folds, itr_tie_rule rule, itr_metrics *fold_metrics, itr_metrics *mean) {
    const char *who = "itr_eval_folds";
    if (!mean) return itr_fail(ITR_E_ARG, "%s: mean is NULL", who);
    if (folds < 1) return itr_fail(ITR_E_ARG, "%s: folds %d < 1", who, folds);
    itr_status st = itr_metrics_check_shape(n_img, n_cap, caps_per_img);
    if (st) return itr_fail_context(st, "%s", who);
    if (n_img % folds)
        return itr_fail(ITR_E_SHAPE, "%s: sims (%lld, %lld): %lld images do not split into %d equal folds", who,
                        (long long)n_img, (long long)n_cap, (long long)n_img, folds);
    if (!sims) return itr_fail(ITR_E_ARG, "%s: sims (%lld, %lld) is NULL", who, (long long)n_img, (long long)n_cap);
    if (ld < n_cap)
        return itr_fail(ITR_E_ARG, "%s: sims (%lld, %lld): row stride %lld < %lld columns", who, (long long)n_img,
                        (long long)n_cap, (long long)ld, (long long)n_cap);

    itr_metrics *per = malloc((size_t)folds * sizeof *per);
    if (!per) return itr_fail(ITR_E_NOMEM, "%s: out of memory", who);
    int64_t rows = n_img / folds, cols = rows * caps_per_img;
    for (int f = 0; f < folds && !st; f++) {
        itr_ranks r;
        const double *block = sims + (int64_t)f * rows * ld + (int64_t)f * cols;
        st = itr_rank_matrix(block, rows, cols, ld, caps_per_img, rule, &r);
        if (st) {
            st = itr_fail_context(st, "%s: fold %d of %d (images [%lld, %lld), positions below are fold-local)", who, f, folds,
                                  (long long)(f * rows), (long long)((f + 1) * rows));
        } else {
            itr_metrics_from_ranks(&r, &per[f]);
            if (fold_metrics) fold_metrics[f] = per[f];
        }
        itr_ranks_free(&r);
    }
    if (!st) itr_metrics_mean(per, folds, mean);
    free(per);
    return st;
}
