/* family_metrics.c - golden cases of the recall metrics (fixtures/metrics/).
 *
 * Input: /inputs/sims (n_img, n_cap). Outputs as upstream's i2t/t2i return
 * them: i2t, t2i = (R@1, R@5, R@10, medr, meanr), rsum, 0-based ranks_* and
 * top1_*. Root attributes: caps_per_img (default 5), fold5 / folds (optional;
 * then i2t/t2i/rsum are the fold means, ranks are not defined). */
#include "itr/metrics.h"

#include "families.h"

static itr_status put_recall(itr_probe *out, const char *name, const itr_recall *r) {
    double v[5] = {r->r1, r->r5, r->r10, r->medr, r->meanr};
    int64_t shape[1] = {5};
    return itr_probe_put_raw(out, name, ITR_F64, 1, shape, v);
}

static itr_status put_index_vector(itr_probe *out, const char *name, const int64_t *v, int64_t n) {
    itr_tensor t;
    int64_t shape[1] = {n};
    itr_status st = itr_tensor_alloc(&t, ITR_F64, 1, shape);
    if (st) return st;
    for (int64_t i = 0; i < n; i++) itr_f64(&t)[i] = (double)v[i];
    return itr_probe_take(out, name, &t);
}

itr_status itr_family_metrics_run(itr_case *c, itr_probe *out) {
    itr_tensor sims = {0};
    itr_ranks ranks = {0};
    itr_metrics m;
    int64_t k = itr_case_attr_i64(c, "caps_per_img", 5);
    int64_t folds = itr_case_attr_i64(c, "folds", itr_case_attr_i64(c, "fold5", 0) ? 5 : 1);
    if (c->backend != ITR_BACKEND_REF)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: the metrics family has no CUDA implementation", c->path);
    itr_status st = itr_case_input(c, "sims", ITR_F64, 2, &sims);
    if (st) return st;
    int64_t n_img = sims.shape[0], n_cap = sims.shape[1];
    if (folds > 1) {
        itr_metrics per_fold[64];
        if (folds > 64) {
            itr_tensor_free(&sims);
            return itr_fail(ITR_E_LIMIT, "%s: folds = %lld > 64", c->path, (long long)folds);
        }
        st = itr_eval_folds(itr_f64(&sims), n_img, n_cap, n_cap, k, (int)folds, ITR_TIES_CANONICAL,
                            per_fold, &m);
    } else {
        st = itr_rank_matrix(itr_f64(&sims), n_img, n_cap, n_cap, k, ITR_TIES_CANONICAL, &ranks);
        if (!st) itr_metrics_from_ranks(&ranks, &m);
    }
    itr_tensor_free(&sims);
    if (st) return itr_fail_context(st, "%s: /inputs/sims", c->path);
    if (!st) st = put_recall(out, "i2t", &m.i2t);
    if (!st) st = put_recall(out, "t2i", &m.t2i);
    if (!st) st = itr_probe_put_scalar(out, "rsum", m.rsum);
    if (!st && folds <= 1) {
        st = put_index_vector(out, "ranks_i2t", ranks.rank_i2t, n_img);
        if (!st) st = put_index_vector(out, "top1_i2t", ranks.top1_i2t, n_img);
        if (!st) st = put_index_vector(out, "ranks_t2i", ranks.rank_t2i, n_cap);
        if (!st) st = put_index_vector(out, "top1_t2i", ranks.top1_t2i, n_cap);
    }
    itr_ranks_free(&ranks);
    return st;
}
