/* metrics_testutil.h - shared helpers of the ref/metrics tests: a seeded
 * generator, tie-heavy random matrices and exact comparison of two itr_ranks. */
#ifndef ITR_METRICS_TESTUTIL_H
#define ITR_METRICS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "itr/metrics.h"

/* 64-bit LCG (Knuth's MMIX constants); the high bits are used. */
typedef struct test_rng { uint64_t s; } test_rng;

static inline uint32_t rng_u32(test_rng *r) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(r->s >> 33);
}

/* Uniform integer in [0, n). */
static inline int64_t rng_below(test_rng *r, int64_t n) { return (int64_t)(rng_u32(r) % (uint32_t)n); }

/* Fills an (rows, cols) matrix with row stride ld. With n_levels > 0 the
 * values come from n_levels exactly representable levels (many exact ties);
 * with n_levels == 0 they are (almost surely) distinct. */
static inline void fill_matrix(test_rng *r, double *m, int64_t rows, int64_t cols, int64_t ld, int n_levels) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            m[i * ld + j] = n_levels > 0 ? (double)rng_below(r, n_levels) * 0.25 - 0.5
                                         : (double)rng_u32(r) / 4294967296.0;
}

static inline void assert_ranks_equal(const itr_ranks *a, const itr_ranks *b) {
    assert_int_equal(a->n_img, b->n_img);
    assert_int_equal(a->n_cap, b->n_cap);
    assert_int_equal(a->caps_per_img, b->caps_per_img);
    assert_int_equal(a->rule, b->rule);
    for (int64_t i = 0; i < a->n_img; i++) {
        assert_int_equal(a->rank_i2t[i], b->rank_i2t[i]);
        assert_int_equal(a->top1_i2t[i], b->top1_i2t[i]);
    }
    for (int64_t c = 0; c < a->n_cap; c++) {
        assert_int_equal(a->rank_t2i[c], b->rank_t2i[c]);
        assert_int_equal(a->top1_t2i[c], b->top1_t2i[c]);
    }
    assert_int_equal(a->tied_queries_i2t, b->tied_queries_i2t);
    assert_int_equal(a->tied_queries_t2i, b->tied_queries_t2i);
    assert_int_equal(a->tied_pairs_i2t, b->tied_pairs_i2t);
    assert_int_equal(a->tied_pairs_t2i, b->tied_pairs_t2i);
}

/* Float comparison that remembers the largest absolute / relative error. */
typedef struct err_track { double max_abs, max_rel; int n; } err_track;

static inline void check_close(err_track *e, double got, double want, double tol) {
    double d = got > want ? got - want : want - got;
    double mag = want < 0 ? -want : want;
    if (d > e->max_abs) e->max_abs = d;
    if (mag > 0 && d / mag > e->max_rel) e->max_rel = d / mag;
    e->n++;
    if (d > tol) fail_msg("got %.17g, want %.17g (|diff| %.3g > %.3g)", got, want, d, tol);
}

static inline void err_report(const char *what, const err_track *e) {
    printf("%s: %d values, max abs err %.3g, max rel err %.3g\n", what, e->n, e->max_abs, e->max_rel);
}

static inline void check_recall(err_track *e, const itr_recall *got, const itr_recall *want, double tol) {
    check_close(e, got->r1, want->r1, tol);
    check_close(e, got->r5, want->r5, tol);
    check_close(e, got->r10, want->r10, tol);
    check_close(e, got->medr, want->medr, tol);
    check_close(e, got->meanr, want->meanr, tol);
}

static inline void check_metrics(err_track *e, const itr_metrics *got, const itr_metrics *want, double tol) {
    check_recall(e, &got->i2t, &want->i2t, tol);
    check_recall(e, &got->t2i, &want->t2i, tol);
    check_close(e, got->rsum, want->rsum, tol);
    check_close(e, got->ar, want->ar, tol);
    check_close(e, got->ari, want->ari, tol);
}

#endif
