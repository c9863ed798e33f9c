/* device.h - the one place device memory, errors and cuBLAS are handled
 * (C++, internal to cuda/). Every CUDA and cuBLAS call of itr goes through a
 * check that turns a failure into ITR_E_CUDA with the CUDA error text (and,
 * emulated, the emulator's explanation). */
#ifndef ITR_CUDA_DEVICE_H
#define ITR_CUDA_DEVICE_H

#include <cstddef>
#include <cstdint>

#include "core/compat.h"
#include "itr/cuda.h"
#include "itr/status.h"

/* Initialises the device and the cuBLAS handle once (idempotent, thread-safe
 * for the first call). Every entry point of the CUDA API calls it. */
itr_status itr_cu_init(void);
cublasHandle_t itr_cu_blas(void);

itr_status itr_cu_check(cudaError_t e, const char *what);
itr_status itr_cu_blas_check(cublasStatus_t s, const char *what);
/* After an ITR_LAUNCH: the launch error, if any, named after the kernel. */
itr_status itr_cu_launched(const char *kernel);
/* Waits for the device and reports an asynchronous failure. */
itr_status itr_cu_sync(const char *what);

itr_status itr_cu_alloc(void **p, size_t bytes, const char *what);
void itr_cu_free(void *p);
itr_status itr_cu_to_device(void *dst, const void *src, size_t bytes, const char *what);
itr_status itr_cu_to_host(void *dst, const void *src, size_t bytes, const char *what);
itr_status itr_cu_copy(void *dst, const void *src, size_t bytes, const char *what);   /* device to device */
itr_status itr_cu_zero(void *p, size_t bytes, const char *what);

template <class T>
itr_status itr_cu_alloc_n(T **p, size_t count, const char *what) {
    void *q = nullptr;
    itr_status st = itr_cu_alloc(&q, count * sizeof(T), what);
    *p = static_cast<T *>(q);
    return st;
}

/* Allocates count elements on the device and copies src there (src NULL:
 * *dst = NULL, nothing allocated). */
template <class T>
itr_status itr_cu_upload(T **dst, const T *src, size_t count, const char *what) {
    *dst = nullptr;
    if (!src) return ITR_OK;
    itr_status st = itr_cu_alloc_n(dst, count, what);
    if (!st) st = itr_cu_to_device(*dst, src, count * sizeof(T), what);
    if (st) {
        itr_cu_free(*dst);
        *dst = nullptr;
    }
    return st;
}

/* Row-major GEMMs with exactly itr_sgemm's meaning (itr/ops.h):
 * C (M, N) = alpha op(A) op(B) + beta C, leading dimensions row-major.
 * Mapped onto column-major cuBLAS as C^T = op(B)^T op(A)^T. */
itr_status itr_cu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
itr_status itr_cu_dgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                        int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
/* The same over `batch` matrices at fixed strides (elements). */
itr_status itr_cu_sgemm_batched(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                                const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                                int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch);
itr_status itr_cu_dgemm_batched(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                                const double *A, int64_t lda, int64_t strideA, const double *B, int64_t ldb,
                                int64_t strideB, double beta, double *C, int64_t ldc, int64_t strideC, int64_t batch);

/* Blocks of `threads` covering n items (at least 1). */
inline unsigned itr_cu_blocks(int64_t n, unsigned threads) {
    int64_t b = (n + threads - 1) / threads;
    return b < 1 ? 1u : (unsigned)b;
}

#endif
