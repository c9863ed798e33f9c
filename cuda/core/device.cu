/* device.cu - device memory, error translation and the cuBLAS handle
 * (device.h), and the public backend description (itr/cuda.h). */
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/device.h"

namespace {

std::once_flag g_once;
itr_status g_init_status = ITR_OK;
char g_init_message[512] = "";
cublasHandle_t g_blas = nullptr;
int g_fast = 0;
size_t g_in_use = 0;
std::unordered_map<void *, size_t> g_sizes;   /* live allocations */
std::mutex g_lock;

/* The emulator explains its failures in words; a GPU does not. */
const char *emu_detail() {
#ifdef ITR_CUDA_EMU
    return itr_emu::last_message();
#else
    return "";
#endif
}

itr_status apply_math_mode() {
    /* Strict FP32: pedantic math forbids TF32 and reduced-precision reductions. */
    return itr_cu_blas_check(cublasSetMathMode(g_blas, g_fast ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH),
                             "cublasSetMathMode");
}

void init_once() {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1) {
        g_init_status = itr_fail(ITR_E_CUDA, "CUDA: no CUDA device (%s)",
                                 e != cudaSuccess ? cudaGetErrorString(e) : "device count 0");
        snprintf(g_init_message, sizeof g_init_message, "%s", itr_last_error());
        return;
    }
    if ((g_init_status = itr_cu_check(cudaSetDevice(0), "cudaSetDevice(0)")) ||
        (g_init_status = itr_cu_blas_check(cublasCreate(&g_blas), "cublasCreate")) ||
        (g_init_status = apply_math_mode())) {
        snprintf(g_init_message, sizeof g_init_message, "%s", itr_last_error());
        if (g_blas) cublasDestroy(g_blas);
        g_blas = nullptr;
    }
}

/* FP32 / FP64 lanes per SM by compute capability (CUDA programming guide,
 * arithmetic instruction throughput). */
void lanes_per_sm(int major, int minor, int *fp32, int *fp64) {
    *fp32 = 64;
    *fp64 = 2;
    if (major == 7) *fp64 = 32;                                 /* V100 (7.0); 7.5 has 2 */
    if (major == 7 && minor == 5) *fp64 = 2;
    if (major == 8 && minor == 0) *fp64 = 32;                   /* A100 */
    if (major == 8 && minor > 0) *fp32 = 128;                   /* GA10x, AD10x */
    if (major == 9) *fp32 = 128, *fp64 = 64;                    /* H100 / H200 */
    if (major >= 10) *fp32 = 128, *fp64 = 64;
}

}  // namespace

itr_status itr_cu_init(void) {
    std::call_once(g_once, init_once);
    if (g_init_status) return itr_fail(g_init_status, "%s", g_init_message);
    return ITR_OK;
}

cublasHandle_t itr_cu_blas(void) { return g_blas; }

itr_status itr_cu_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return ITR_OK;
    /* A failed runtime call also leaves its error as the thread's "last
     * error"; reported here, it must not be reported again by the next
     * launch check. (Sticky errors stay sticky in the driver regardless.) */
    (void)cudaGetLastError();
    const char *detail = emu_detail();
    return itr_fail(ITR_E_CUDA, "CUDA: %s: %s (%s)%s%s", what, cudaGetErrorString(e), cudaGetErrorName(e),
                    *detail ? ": " : "", detail);
}

itr_status itr_cu_blas_check(cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return ITR_OK;
    const char *detail = emu_detail();
    return itr_fail(ITR_E_CUDA, "cuBLAS: %s: %s (status %d)%s%s", what, cublasGetStatusString(s), (int)s,
                    *detail ? ": " : "", detail);
}

itr_status itr_cu_launched(const char *kernel) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return itr_cu_check(e, kernel);
    return ITR_OK;
}

itr_status itr_cu_sync(const char *what) { return itr_cu_check(cudaDeviceSynchronize(), what); }

itr_status itr_cu_alloc(void **p, size_t bytes, const char *what) {
    *p = nullptr;
    if (bytes == 0) return ITR_OK;
    itr_status st = itr_cu_init();
    if (st) return st;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = nullptr;
        return itr_fail(ITR_E_NOMEM, "CUDA: cudaMalloc of %zu bytes for %s: %s", bytes, what, cudaGetErrorString(e));
    }
    std::lock_guard<std::mutex> lock(g_lock);
    g_in_use += bytes;
    g_sizes[*p] = bytes;
    return ITR_OK;
}

void itr_cu_free(void *p) {
    if (!p) return;
    cudaFree(p);
    std::lock_guard<std::mutex> lock(g_lock);
    auto it = g_sizes.find(p);
    if (it != g_sizes.end()) {
        g_in_use -= it->second;
        g_sizes.erase(it);
    }
}

itr_status itr_cu_to_device(void *dst, const void *src, size_t bytes, const char *what) {
    if (bytes == 0) return ITR_OK;
    return itr_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), what);
}

itr_status itr_cu_to_host(void *dst, const void *src, size_t bytes, const char *what) {
    if (bytes == 0) return ITR_OK;
    return itr_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), what);
}

itr_status itr_cu_copy(void *dst, const void *src, size_t bytes, const char *what) {
    if (bytes == 0) return ITR_OK;
    return itr_cu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), what);
}

itr_status itr_cu_zero(void *p, size_t bytes, const char *what) {
    if (bytes == 0) return ITR_OK;
    return itr_cu_check(cudaMemset(p, 0, bytes), what);
}

/* ---- GEMM: row-major in, column-major cuBLAS underneath ------------------
 * Row-major C (M x N) is column-major C^T (N x M), and
 * C^T = op(B)^T op(A)^T: call cuBLAS with the operands swapped, m = N, n = M. */
static itr_status gemm_dims_ok(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc,
                               const char *fn) {
    if (M < 0 || N < 0 || K < 0 || M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return itr_fail(ITR_E_LIMIT, "%s: sizes M %lld N %lld K %lld (lda %lld ldb %lld ldc %lld) exceed cuBLAS's int range",
                        fn, (long long)M, (long long)N, (long long)K, (long long)lda, (long long)ldb, (long long)ldc);
    return ITR_OK;
}

static cublasOperation_t op(int trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

itr_status itr_cu_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    itr_status st = gemm_dims_ok(M, N, K, lda, ldb, ldc, "itr_cu_sgemm");
    if (!st) st = itr_cu_init();
    if (st || M == 0 || N == 0) return st;
    return itr_cu_blas_check(cublasSgemm(g_blas, op(trans_b), op(trans_a), (int)N, (int)M, (int)K, &alpha, B,
                                         (int)ldb, A, (int)lda, &beta, C, (int)ldc),
                             "cublasSgemm");
}

itr_status itr_cu_dgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                        int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc) {
    itr_status st = gemm_dims_ok(M, N, K, lda, ldb, ldc, "itr_cu_dgemm");
    if (!st) st = itr_cu_init();
    if (st || M == 0 || N == 0) return st;
    return itr_cu_blas_check(cublasDgemm(g_blas, op(trans_b), op(trans_a), (int)N, (int)M, (int)K, &alpha, B,
                                         (int)ldb, A, (int)lda, &beta, C, (int)ldc),
                             "cublasDgemm");
}

itr_status itr_cu_sgemm_batched(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                                const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                                int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch) {
    itr_status st = gemm_dims_ok(M, N, K, lda, ldb, ldc, "itr_cu_sgemm_batched");
    if (!st && (batch < 0 || batch > INT_MAX)) st = itr_fail(ITR_E_LIMIT, "itr_cu_sgemm_batched: batch %lld", (long long)batch);
    if (!st) st = itr_cu_init();
    if (st || M == 0 || N == 0 || batch == 0) return st;
    return itr_cu_blas_check(cublasSgemmStridedBatched(g_blas, op(trans_b), op(trans_a), (int)N, (int)M, (int)K,
                                                       &alpha, B, (int)ldb, strideB, A, (int)lda, strideA, &beta, C,
                                                       (int)ldc, strideC, (int)batch),
                             "cublasSgemmStridedBatched");
}

itr_status itr_cu_dgemm_batched(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                                const double *A, int64_t lda, int64_t strideA, const double *B, int64_t ldb,
                                int64_t strideB, double beta, double *C, int64_t ldc, int64_t strideC, int64_t batch) {
    itr_status st = gemm_dims_ok(M, N, K, lda, ldb, ldc, "itr_cu_dgemm_batched");
    if (!st && (batch < 0 || batch > INT_MAX)) st = itr_fail(ITR_E_LIMIT, "itr_cu_dgemm_batched: batch %lld", (long long)batch);
    if (!st) st = itr_cu_init();
    if (st || M == 0 || N == 0 || batch == 0) return st;
    return itr_cu_blas_check(cublasDgemmStridedBatched(g_blas, op(trans_b), op(trans_a), (int)N, (int)M, (int)K,
                                                       &alpha, B, (int)ldb, strideB, A, (int)lda, strideA, &beta, C,
                                                       (int)ldc, strideC, (int)batch),
                             "cublasDgemmStridedBatched");
}

/* ---- itr/cuda.h ---------------------------------------------------------- */
extern "C" int itr_cuda_available(void) {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

extern "C" const char *itr_cuda_backend_kind(void) {
#ifdef ITR_CUDA_EMU
    return "emulated";
#else
    return "native";
#endif
}

extern "C" itr_status itr_cuda_device_info(itr_cuda_device *out) {
    std::memset(out, 0, sizeof *out);
    itr_status st = itr_cu_init();
    if (st) return st;
    cudaDeviceProp prop;
    if ((st = itr_cu_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties"))) return st;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
#ifdef ITR_CUDA_EMU
    out->emulated = 1;
#endif
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->sm_count = prop.multiProcessorCount;
    out->total_mem = prop.totalGlobalMem;
    cudaDeviceGetAttribute(&out->clock_khz, cudaDevAttrClockRate, 0);
    cudaDeviceGetAttribute(&out->mem_clock_khz, cudaDevAttrMemoryClockRate, 0);
    cudaRuntimeGetVersion(&out->runtime_version);
    cudaDriverGetVersion(&out->driver_version);
    if (!out->emulated && out->clock_khz > 0) {
        int fp32 = 0, fp64 = 0;
        lanes_per_sm(prop.major, prop.minor, &fp32, &fp64);
        double ghz = out->clock_khz * 1e-6;
        out->fp32_peak_gflops = 2.0 * fp32 * out->sm_count * ghz;
        out->fp64_peak_gflops = 2.0 * fp64 * out->sm_count * ghz;
    }
    return ITR_OK;
}

extern "C" itr_status itr_cuda_set_fast(int on) {
    itr_status st = itr_cu_init();
    if (st) return st;
    g_fast = on ? 1 : 0;
    return apply_math_mode();
}

extern "C" int itr_cuda_fast(void) { return g_fast; }

extern "C" size_t itr_cuda_bytes_in_use(void) {
    std::lock_guard<std::mutex> lock(g_lock);
    return g_in_use;
}
