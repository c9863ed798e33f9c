/* loss_test_util.h - helpers shared by the ref/losses tests: a deterministic
 * random generator, central finite differences in float64, and array
 * comparisons that print their max abs / rel error. */
#ifndef ITR_LOSS_TEST_UTIL_H
#define ITR_LOSS_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* xorshift64*: uniform in [lo, hi). */
typedef struct test_rng { uint64_t s; } test_rng;

static inline double rng_uniform(test_rng *r, double lo, double hi) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 2685821657736338717ull;
    return lo + (hi - lo) * (double)(v >> 11) / 9007199254740992.0;
}

static inline void rng_fill(test_rng *r, double *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(r, lo, hi);
}

/* Max abs and rel error of got vs want; prints them under `label` and
 * returns 1 when every |got - want| <= atol + rtol |want|. */
static inline int compare_d(const char *label, const double *got, const double *want, int64_t n,
                            double atol, double rtol) {
    double ma = 0.0, mr = 0.0;
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(got[i] - want[i]);
        double r = a / (fabs(want[i]) > 1e-300 ? fabs(want[i]) : 1e-300);
        if (a > ma) ma = a;
        if (a > 0.0 && r > mr) mr = r;
        if (!(a <= atol + rtol * fabs(want[i]))) {
            if (ok) printf("  %s: first mismatch at %lld: got %.12g want %.12g\n", label,
                           (long long)i, got[i], want[i]);
            ok = 0;
        }
    }
    printf("  %-40s max abs err %.3g, max rel err %.3g\n", label, ma, mr);
    return ok;
}

static inline int compare_f(const char *label, const float *got, const double *want, int64_t n,
                            double atol, double rtol) {
    double *g = malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
    if (!g) return 0;
    for (int64_t i = 0; i < n; i++) g[i] = got[i];
    int ok = compare_d(label, g, want, n, atol, rtol);
    free(g);
    return ok;
}

/* Central differences of a scalar function f at x (n entries), h step. */
typedef double (*fd_fn)(const double *x, void *ctx);

static inline void fd_gradient(fd_fn f, void *ctx, double *x, int64_t n, double h, double *g) {
    for (int64_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double fp = f(x, ctx);
        x[i] = x0 - h;
        double fm = f(x, ctx);
        x[i] = x0;
        g[i] = (fp - fm) / (2.0 * h);
    }
}

#endif
