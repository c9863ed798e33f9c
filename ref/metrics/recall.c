/* recall.c - R@K, medr, meanr, rsum of rank vectors (specs/vsepp_vseinfty.md
 * s3.5, scan_sgraf.md s7).
 *
 * Every number is computed the way upstream's numpy expressions compute it,
 * so that the doubles agree bit for bit:
 *   R@K   = 100.0 * #{r < K} / n
 *   medr  = floor(median(r)) + 1, numpy median (mean of the two middle order
 *           statistics for an even count)
 *   meanr = mean(r) + 1 (the integer sum is exact in a double)
 *   rsum  = r1 + r5 + r10 + r1i + r5i + r10i (left to right)
 *   ar    = (r1 + r5 + r10) / 3, ari the same for t2i. */
#include "itr/metrics.h"

#include <math.h>
#include <string.h>

/* The q-th smallest value (0-based) of ranks, without sorting or memory:
 * the smallest v with #{r <= v} > q, found by bisection over [min, max]. */
static int64_t kth_smallest(const int64_t *ranks, int64_t n, int64_t q) {
    int64_t lo = ranks[0], hi = ranks[0];
    for (int64_t i = 1; i < n; i++) {
        if (ranks[i] < lo) lo = ranks[i];
        if (ranks[i] > hi) hi = ranks[i];
    }
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, at_most = 0;
        for (int64_t i = 0; i < n; i++) at_most += ranks[i] <= mid;
        if (at_most > q) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static double median(const int64_t *ranks, int64_t n) {
    if (n % 2) return (double)kth_smallest(ranks, n, n / 2);
    return ((double)kth_smallest(ranks, n, n / 2 - 1) + (double)kth_smallest(ranks, n, n / 2)) / 2.0;
}

itr_recall itr_recall_from_ranks(const int64_t *ranks, int64_t n) {
    itr_recall r;
    memset(&r, 0, sizeof r);
    if (!ranks || n < 1) return r;
    int64_t below1 = 0, below5 = 0, below10 = 0, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        below1 += ranks[i] < 1;
        below5 += ranks[i] < 5;
        below10 += ranks[i] < 10;
        sum += ranks[i];
    }
    r.r1 = 100.0 * (double)below1 / (double)n;
    r.r5 = 100.0 * (double)below5 / (double)n;
    r.r10 = 100.0 * (double)below10 / (double)n;
    r.medr = floor(median(ranks, n)) + 1.0;
    r.meanr = (double)sum / (double)n + 1.0;
    return r;
}

void itr_metrics_from_ranks(const itr_ranks *r, itr_metrics *m) {
    if (!m) return;
    memset(m, 0, sizeof *m);
    if (!r) return;
    m->i2t = itr_recall_from_ranks(r->rank_i2t, r->n_img);
    m->t2i = itr_recall_from_ranks(r->rank_t2i, r->n_cap);
    m->rsum = m->i2t.r1 + m->i2t.r5 + m->i2t.r10 + m->t2i.r1 + m->t2i.r5 + m->t2i.r10;
    m->ar = (m->i2t.r1 + m->i2t.r5 + m->i2t.r10) / 3.0;
    m->ari = (m->t2i.r1 + m->t2i.r5 + m->t2i.r10) / 3.0;
}

/* Adds w * a into acc, field by field. */
static void recall_axpy(itr_recall *acc, const itr_recall *a, double w) {
    acc->r1 += w * a->r1;
    acc->r5 += w * a->r5;
    acc->r10 += w * a->r10;
    acc->medr += w * a->medr;
    acc->meanr += w * a->meanr;
}

static void recall_scale(itr_recall *a, double d) {
    a->r1 /= d;
    a->r5 /= d;
    a->r10 /= d;
    a->medr /= d;
    a->meanr /= d;
}

/* s3.6: the COCO 1K numbers are the arithmetic mean of each of the 13
 * per-fold numbers (sum in fold order, then divide, as numpy's mean over
 * axis 0 does). The mean's rsum is therefore the mean of the per-fold rsums;
 * upstream VSE++ prints 6 x mean(rsum) or 6 x mean(ar) instead (s3.8), which
 * this does NOT reproduce. */
void itr_metrics_mean(const itr_metrics *m, int n, itr_metrics *mean) {
    if (!mean) return;
    memset(mean, 0, sizeof *mean);
    if (!m || n < 1) return;
    for (int f = 0; f < n; f++) {
        recall_axpy(&mean->i2t, &m[f].i2t, 1.0);
        recall_axpy(&mean->t2i, &m[f].t2i, 1.0);
        mean->rsum += m[f].rsum;
        mean->ar += m[f].ar;
        mean->ari += m[f].ari;
    }
    recall_scale(&mean->i2t, (double)n);
    recall_scale(&mean->t2i, (double)n);
    mean->rsum /= (double)n;
    mean->ar /= (double)n;
    mean->ari /= (double)n;
}
