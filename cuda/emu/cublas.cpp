/* cublas.cpp - the emulated cuBLAS subset (cublas.h): column-major GEMMs on
 * CBLAS (ITR_USE_CBLAS) or plain loops, with cuBLAS's argument checks, plus
 * a check that every matrix lies in emulated device memory (on a GPU a host
 * pointer there is a crash; here it is CUBLAS_STATUS_INVALID_VALUE). */
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "emu/emu.h"
#ifdef ITR_USE_CBLAS
#include <cblas.h>
#endif

struct itr_emu_cublas {
    cublasMath_t mode = CUBLAS_DEFAULT_MATH;
};

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new itr_emu_cublas();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t) {
    return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t h, cublasMath_t *mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    *mode = h->mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    }
    return "unknown cuBLAS status";
}

namespace {

/* TF32: float32 with the mantissa rounded to 10 bits (nearest, ties to even). */
float round_tf32(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;   /* inf / nan */
    uint32_t lsb = (u >> 13) & 1u;
    u = (u + 0xfffu + lsb) & ~0x1fffu;
    float y;
    std::memcpy(&y, &u, 4);
    return y;
}

/* Elements a column-major (rows x cols) matrix with leading dim ld spans. */
size_t span(int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) return 0;
    return (size_t)ld * (size_t)(cols - 1) + (size_t)rows;
}

template <class T>
bool on_device(const T *p, size_t elems, const char *what, const char *fn) {
    if (elems == 0) return true;
    if (itr_emu::is_device_range(p, elems * sizeof(T))) return true;
    itr_emu::set_error(cudaErrorInvalidValue, "%s: matrix %s (%zu elements at %p) is not in device memory", fn, what,
                       elems, (const void *)p);
    return false;
}

template <class T>
cublasStatus_t check_gemm(const char *fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                          int k, const T *A, int lda, const T *B, int ldb, const T *C, int ldc) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0 || ta > CUBLAS_OP_C || tb > CUBLAS_OP_C) return CUBLAS_STATUS_INVALID_VALUE;
    int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
    int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
    if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1)) {
        itr_emu::set_error(cudaErrorInvalidValue, "%s: leading dimension too small (m %d n %d k %d lda %d ldb %d ldc %d)",
                           fn, m, n, k, lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!on_device(A, k ? span(a_rows, a_cols, lda) : 0, "A", fn) ||
        !on_device(B, k ? span(b_rows, b_cols, ldb) : 0, "B", fn) || !on_device(C, span(m, n, ldc), "C", fn))
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

/* C = alpha op(A) op(B) + beta C, column-major, the plain-loop way. */
template <class T>
void gemm_loops(bool ta, bool tb, int m, int n, int k, T alpha, const T *A, int lda, const T *B, int ldb, T beta, T *C,
                int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            T acc = 0;
            for (int p = 0; p < k; p++) {
                T a = ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                T b = tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                acc += a * b;
            }
            T *c = &C[i + (size_t)j * ldc];
            *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;   /* beta 0: C is not read (cuBLAS) */
        }
}

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb,
           float beta, float *C, int ldc) {
    if (m == 0 || n == 0) return;
#ifdef ITR_USE_CBLAS
    if (beta == 0.0f)
        for (int j = 0; j < n; j++) std::memset(C + (size_t)j * ldc, 0, (size_t)m * sizeof *C);
    if (k == 0) {
        if (beta != 0.0f)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[i + (size_t)j * ldc] *= beta;
        return;
    }
    cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda,
                B, ldb, beta, C, ldc);
#else
    gemm_loops(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *A, int lda, const double *B, int ldb,
           double beta, double *C, int ldc) {
    if (m == 0 || n == 0) return;
#ifdef ITR_USE_CBLAS
    if (beta == 0.0)
        for (int j = 0; j < n; j++) std::memset(C + (size_t)j * ldc, 0, (size_t)m * sizeof *C);
    if (k == 0) {
        if (beta != 0.0)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[i + (size_t)j * ldc] *= beta;
        return;
    }
    cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda,
                B, ldb, beta, C, ldc);
#else
    gemm_loops(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* The TF32 model: round copies of A and B, then an ordinary float32 GEMM. */
void sgemm_mode(cublasHandle_t h, bool ta, bool tb, int m, int n, int k, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc) {
    if (h->mode != CUBLAS_TF32_TENSOR_OP_MATH || k == 0) {
        sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    size_t na = span(ta ? k : m, ta ? m : k, lda), nb = span(tb ? n : k, tb ? k : n, ldb);
    std::vector<float> a(A, A + na), b(B, B + nb);
    for (float &x : a) x = round_tf32(x);
    for (float &x : b) x = round_tf32(x);
    sgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, C, ldc);
}

}  // namespace

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    cublasStatus_t s = check_gemm("cublasSgemm", h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    sgemm_mode(h, ta != CUBLAS_OP_N, tb != CUBLAS_OP_N, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double *alpha, const double *A, int lda, const double *B, int ldb,
                           const double *beta, double *C, int ldc) {
    cublasStatus_t s = check_gemm("cublasDgemm", h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    dgemm(ta != CUBLAS_OP_N, tb != CUBLAS_OP_N, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long strideA,
                                         const float *B, int ldb, long long strideB, const float *beta, float *C,
                                         int ldc, long long strideC, int batch) {
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++) {
        cublasStatus_t s = cublasSgemm(h, ta, tb, m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta,
                                       C + i * strideC, ldc);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const double *alpha, const double *A, int lda, long long strideA,
                                         const double *B, int ldb, long long strideB, const double *beta, double *C,
                                         int ldc, long long strideC, int batch) {
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++) {
        cublasStatus_t s = cublasDgemm(h, ta, tb, m, n, k, alpha, A + i * strideA, lda, B + i * strideB, ldb, beta,
                                       C + i * strideC, ldc);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}
