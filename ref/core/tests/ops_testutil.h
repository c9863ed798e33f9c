/* ops_testutil.h - small helpers shared by the ref/core tests: a seeded
 * pseudo-random generator (so every run sees the same numbers) and a
 * max-abs / max-rel error report for float comparisons. */
#ifndef ITR_OPS_TESTUTIL_H
#define ITR_OPS_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* xorshift64*: good enough for test data, identical on every platform. */
typedef struct ops_rng {
    uint64_t s;
} ops_rng;

static inline double ops_rng_uniform(ops_rng *g) {
    g->s ^= g->s >> 12;
    g->s ^= g->s << 25;
    g->s ^= g->s >> 27;
    uint64_t v = g->s * UINT64_C(2685821657736338717);
    return (double)(v >> 11) / 9007199254740992.0;  /* [0, 1) */
}

/* Uniform in [lo, hi). */
static inline double ops_rng_range(ops_rng *g, double lo, double hi) {
    return lo + (hi - lo) * ops_rng_uniform(g);
}

/* Running maximum of absolute and relative error between got and want. */
typedef struct ops_err {
    double max_abs, max_rel;
} ops_err;

static inline void ops_err_add(ops_err *e, double got, double want) {
    double a = fabs(got - want);
    double r = a / (fabs(want) > 1e-30 ? fabs(want) : 1e-30);
    if (!(a <= e->max_abs)) e->max_abs = a;       /* NaN sticks */
    if (fabs(want) > 1e-6 && !(r <= e->max_rel)) e->max_rel = r;
}

static inline void ops_err_print(const char *what, const ops_err *e) {
    printf("  %-40s max abs err %.3e  max rel err %.3e\n", what, e->max_abs, e->max_rel);
}

#endif
