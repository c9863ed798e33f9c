/* compare.c - elementwise comparison of an output with its golden. */
#include "itr/conform.h"

#include <math.h>

/* NumPy allclose semantics (formats.md s4.4): pass iff
 * |got - want| <= atol + rtol * |want|; NaN only matches NaN, and an infinity
 * only the same infinity. exact = 1 demands bitwise-equal values. */
void itr_compare_arrays(const double *want, const double *got, int64_t n,
                        double atol, double rtol, int exact, itr_conform_row *row) {
    row->max_abs = 0.0;
    row->max_rel = 0.0;
    row->n_bad = 0;
    row->worst_index = -1;
    row->numel = n;
    double worst_excess = -1.0;
    for (int64_t i = 0; i < n; i++) {
        double w = want[i], g = got[i];
        int bad;
        double abs_err, rel_err;
        if (isnan(w) || isnan(g)) {
            bad = !(isnan(w) && isnan(g));
            abs_err = bad ? INFINITY : 0.0;
            rel_err = abs_err;
        } else if (isinf(w) || isinf(g)) {
            bad = w != g;
            abs_err = bad ? INFINITY : 0.0;
            rel_err = abs_err;
        } else {
            abs_err = fabs(g - w);
            rel_err = w != 0.0 ? abs_err / fabs(w) : (abs_err == 0.0 ? 0.0 : INFINITY);
            bad = exact ? (g != w) : (abs_err > atol + rtol * fabs(w));
        }
        if (abs_err > row->max_abs) row->max_abs = abs_err;
        if (rel_err > row->max_rel) row->max_rel = rel_err;
        if (bad) {
            row->n_bad++;
            double excess = abs_err - (atol + rtol * fabs(w));
            if (isnan(excess) || excess > worst_excess) {
                worst_excess = isnan(excess) ? INFINITY : excess;
                row->worst_index = i;
            }
        }
    }
}
