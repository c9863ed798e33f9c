/* gemm.c - C = alpha op(A) op(B) + beta C, row-major.
 *
 * With ITR_USE_CBLAS (cmake -DITR_BLAS=ON, the default) this is one call to
 * OpenBLAS; without it a plain triple loop (i, k, j order so the inner loop
 * runs along contiguous rows of B and C), parallel over rows of C. */
#include "itr/ops.h"

#ifdef ITR_USE_CBLAS
#include <cblas.h>
#endif

/* Element (r, c) of op(X) for a row-major X with row stride ld. */
static float at_f32(const float *X, int64_t ld, int trans, int64_t r, int64_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

static double at_f64(const double *X, int64_t ld, int trans, int64_t r, int64_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

void itr_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
               float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef ITR_USE_CBLAS
    if (K > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
#endif
    int64_t i;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (M * N * K > 65536)
#endif
    for (i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * at_f32(A, lda, trans_a, i, k);
            if (a == 0.0f) continue;
            for (int64_t j = 0; j < N; j++) c[j] += a * at_f32(B, ldb, trans_b, k, j);
        }
    }
}

void itr_dgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
               double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
               double beta, double *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
#ifdef ITR_USE_CBLAS
    if (K > 0) {
        cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
#endif
    int64_t i;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (M * N * K > 65536)
#endif
    for (i = 0; i < M; i++) {
        double *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) c[j] = beta == 0.0 ? 0.0 : beta * c[j];
        for (int64_t k = 0; k < K; k++) {
            double a = alpha * at_f64(A, lda, trans_a, i, k);
            if (a == 0.0) continue;
            for (int64_t j = 0; j < N; j++) c[j] += a * at_f64(B, ldb, trans_b, k, j);
        }
    }
}
