/* test_gemm.c - itr_sgemm / itr_dgemm against a naive double loop.
 *
 * Covers the four transpose combinations, row strides wider than the
 * matrices (the padding must stay untouched), alpha/beta including beta = 0
 * over NaN garbage (BLAS semantics: C is overwritten, not scaled), empty
 * M/N (nothing written) and K = 0 (C = beta C). Run in both builds: the
 * default one calls CBLAS, -DITR_BLAS=OFF runs the plain loops of gemm.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "itr/ops.h"
#include "ops_testutil.h"

#define SENTINEL 12345.0

typedef struct gemm_case {
    int ta, tb;
    int64_t M, N, K;
    int64_t pad;          /* extra columns in every row stride */
    double alpha, beta;
    int nan_c;            /* fill C with NaN before the call (needs beta = 0) */
} gemm_case;

/* Shapes of op(A) (M, K) and op(B) (K, N) as stored. */
static void stored_shapes(const gemm_case *c, int64_t *ra, int64_t *ca, int64_t *rb, int64_t *cb) {
    *ra = c->ta ? c->K : c->M;
    *ca = c->ta ? c->M : c->K;
    *rb = c->tb ? c->N : c->K;
    *cb = c->tb ? c->K : c->N;
}

static size_t nbuf(int64_t rows, int64_t ld) { return (size_t)(rows * ld > 0 ? rows * ld : 1); }

/* want(i, j) = alpha sum_k op(A)(i, k) op(B)(k, j) + beta C0(i, j), in double,
 * with an explicit if for beta = 0 so that NaN in C0 does not leak in. */
static double naive(const gemm_case *c, const double *A, int64_t lda, const double *B, int64_t ldb,
                    const double *C0, int64_t ldc, int64_t i, int64_t j) {
    double s = 0.0;
    for (int64_t k = 0; k < c->K; k++) {
        double a = c->ta ? A[k * lda + i] : A[i * lda + k];
        double b = c->tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
    }
    double prev = c->beta == 0.0 ? 0.0 : c->beta * C0[i * ldc + j];
    return c->alpha * s + prev;
}

/* Runs one case through itr_sgemm (f64 = 0) or itr_dgemm (f64 = 1) and
 * checks every element of C, padding included. Returns the max abs error. */
static double run_case(const gemm_case *c, int f64, double tol) {
    int64_t ra, ca, rb, cb;
    stored_shapes(c, &ra, &ca, &rb, &cb);
    int64_t lda = ca + c->pad, ldb = cb + c->pad, ldc = c->N + c->pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    if (ldc < 1) ldc = 1;
    size_t na = nbuf(ra, lda), nb = nbuf(rb, ldb), nc = nbuf(c->M, ldc);
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C0 = malloc(nc * sizeof *C0);
    float *Af = malloc(na * sizeof *Af), *Bf = malloc(nb * sizeof *Bf), *Cf = malloc(nc * sizeof *Cf);
    double *Cd = malloc(nc * sizeof *Cd);
    assert_true(A && B && C0 && Af && Bf && Cf && Cd);
    ops_rng g = {UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)(c->M * 131 + c->N * 17 + c->K)};
    /* padding columns hold SENTINEL so a read of them would show up too */
    for (size_t p = 0; p < na; p++) A[p] = (int64_t)(p % (size_t)lda) < ca ? ops_rng_range(&g, -1, 1) : SENTINEL;
    for (size_t p = 0; p < nb; p++) B[p] = (int64_t)(p % (size_t)ldb) < cb ? ops_rng_range(&g, -1, 1) : SENTINEL;
    for (size_t p = 0; p < nc; p++) {
        int in_row = (int64_t)(p % (size_t)ldc) < c->N;
        C0[p] = !in_row ? SENTINEL : c->nan_c ? NAN : ops_rng_range(&g, -1, 1);
    }
    for (size_t p = 0; p < na; p++) Af[p] = (float)A[p];
    for (size_t p = 0; p < nb; p++) Bf[p] = (float)B[p];
    /* the reference uses the float-rounded inputs so only arithmetic differs */
    if (!f64) {
        for (size_t p = 0; p < na; p++) A[p] = Af[p];
        for (size_t p = 0; p < nb; p++) B[p] = Bf[p];
    }
    for (size_t p = 0; p < nc; p++) {
        Cf[p] = (float)C0[p];
        if (!f64) C0[p] = Cf[p];
        Cd[p] = C0[p];
    }
    if (f64)
        itr_dgemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, A, lda, B, ldb, c->beta, Cd, ldc);
    else
        itr_sgemm(c->ta, c->tb, c->M, c->N, c->K, (float)c->alpha, Af, lda, Bf, ldb, (float)c->beta, Cf, ldc);

    ops_err e = {0, 0};
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            double got = f64 ? Cd[i * ldc + j] : Cf[i * ldc + j];
            if (j >= c->N) {
                assert_true(got == SENTINEL);     /* the stride padding is not C */
                continue;
            }
            double want = naive(c, A, lda, B, ldb, C0, ldc, i, j);
            assert_false(isnan(got));
            ops_err_add(&e, got, want);
        }
    char what[96];
    snprintf(what, sizeof what, "%s ta=%d tb=%d M=%lld N=%lld K=%lld a=%g b=%g%s", f64 ? "dgemm" : "sgemm", c->ta,
             c->tb, (long long)c->M, (long long)c->N, (long long)c->K, c->alpha, c->beta, c->nan_c ? " nanC" : "");
    ops_err_print(what, &e);
    assert_true(e.max_abs <= tol);
    free(A);
    free(B);
    free(C0);
    free(Af);
    free(Bf);
    free(Cf);
    free(Cd);
    return e.max_abs;
}

static void all_transposes(int f64, double tol) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case plain = {ta, tb, 5, 7, 3, 0, 1.0, 0.0, 0};
            gemm_case strided = {ta, tb, 6, 4, 9, 3, 1.5, -0.5, 0};
            gemm_case nan_c = {ta, tb, 3, 5, 4, 2, -2.0, 0.0, 1};
            gemm_case alpha0 = {ta, tb, 4, 3, 2, 1, 0.0, 2.0, 0};
            run_case(&plain, f64, tol);
            run_case(&strided, f64, tol);
            run_case(&nan_c, f64, tol);
            run_case(&alpha0, f64, tol);
        }
}

static void test_sgemm_transposes(void **state) {
    (void)state;
    all_transposes(0, 1e-5);
}

static void test_dgemm_transposes(void **state) {
    (void)state;
    all_transposes(1, 1e-12);
}

/* Big enough to take the OpenMP branch of the loop build (M N K > 65536). */
static void test_gemm_large(void **state) {
    (void)state;
    gemm_case big = {0, 1, 70, 40, 33, 5, 0.75, 0.25, 0};
    gemm_case big_t = {1, 0, 41, 67, 29, 0, 1.0, 1.0, 0};
    run_case(&big, 0, 1e-4);
    run_case(&big, 1, 1e-11);
    run_case(&big_t, 0, 1e-4);
    run_case(&big_t, 1, 1e-11);
}

/* K = 0: op(A) op(B) is an empty sum, so C = beta C (and beta = 0 clears NaN). */
static void test_gemm_k_zero(void **state) {
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case scale = {ta, tb, 3, 4, 0, 2, 1.0, 0.5, 0};
            gemm_case clear = {ta, tb, 3, 4, 0, 1, 1.0, 0.0, 1};
            run_case(&scale, 0, 0.0);
            run_case(&scale, 1, 0.0);
            run_case(&clear, 0, 0.0);
            run_case(&clear, 1, 0.0);
        }
    /* and by hand: beta 3 on a 1x2 C */
    float c[2] = {1.0f, -2.0f};
    itr_sgemm(0, 0, 1, 2, 0, 1.0f, NULL, 1, NULL, 2, 3.0f, c, 2);
    assert_true(c[0] == 3.0f && c[1] == -6.0f);
    double d[2] = {NAN, 4.0};
    itr_dgemm(1, 1, 1, 2, 0, 1.0, NULL, 1, NULL, 1, 0.0, d, 2);
    assert_true(d[0] == 0.0 && d[1] == 0.0);
}

/* M = 0 or N = 0: C has no elements, nothing may be written. */
static void test_gemm_empty(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {NAN, 9, 9, 9};
    double ad[4] = {1, 2, 3, 4}, bd[4] = {5, 6, 7, 8}, cd[4] = {NAN, 9, 9, 9};
    itr_sgemm(0, 0, 0, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    itr_sgemm(0, 0, 2, 0, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    itr_dgemm(1, 0, 0, 2, 2, 1.0, ad, 2, bd, 2, 0.0, cd, 2);
    itr_dgemm(0, 1, 2, 0, 2, 1.0, ad, 2, bd, 2, 0.0, cd, 2);
    assert_true(isnan(c[0]) && c[1] == 9.0f && c[3] == 9.0f);
    assert_true(isnan(cd[0]) && cd[1] == 9.0 && cd[3] == 9.0);
}

/* A 2x2 product by hand: [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50]. */
static void test_gemm_by_hand(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {1, 1, 1, 1};
    itr_sgemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 1.0f, c, 2);
    assert_true(c[0] == 20.0f && c[1] == 23.0f && c[2] == 44.0f && c[3] == 51.0f);
    /* A^T B^T = (B A)^T: [5 6; 7 8][1 2; 3 4] = [23 34; 31 46], transposed */
    double ad[4] = {1, 2, 3, 4}, bd[4] = {5, 6, 7, 8}, cd[4];
    itr_dgemm(1, 1, 2, 2, 2, 2.0, ad, 2, bd, 2, 0.0, cd, 2);
    assert_true(cd[0] == 46.0 && cd[1] == 62.0 && cd[2] == 68.0 && cd[3] == 92.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_by_hand),   cmocka_unit_test(test_sgemm_transposes),
        cmocka_unit_test(test_dgemm_transposes), cmocka_unit_test(test_gemm_large),
        cmocka_unit_test(test_gemm_k_zero),    cmocka_unit_test(test_gemm_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
