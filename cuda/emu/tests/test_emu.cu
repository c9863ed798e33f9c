/* test_emu.cu - tests of the CUDA emulation (and, natively, of the same
 * kernels on a GPU): barriers, shuffles, shared memory, atomics, launch
 * validation, memory checks, the cuBLAS mapping, and a deliberately wrong
 * kernel (a missing __syncthreads) that the emulation must expose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/device.h"
#include "core/reduce.h"
#include "itr/ops.h"

namespace {

/* ---- kernels --------------------------------------------------------------- */

/* Block-wide reversal through static shared memory: needs the barrier. */
__global__ void reverse_kernel(const int *in, int *out, int with_barrier) {
    __shared__ int tile[256];
    unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
    tile[t] = in[base + t];
    if (with_barrier) __syncthreads();
    out[base + t] = tile[blockDim.x - 1 - t];
}

/* The same through dynamic shared memory. */
__global__ void reverse_dynamic_kernel(const float *in, float *out) {
    ITR_DYNAMIC_SHARED(float, tile);
    unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
    tile[t] = in[base + t];
    __syncthreads();
    out[base + t] = tile[blockDim.x - 1 - t];
}

#ifdef ITR_CUDA_EMU
/* Reads dynamic shared memory nobody wrote. */
__global__ void read_uninitialised_kernel(float *out) {
    ITR_DYNAMIC_SHARED(float, tile);
    out[threadIdx.x] = tile[threadIdx.x];
}
#endif

/* Each lane: shfl_down by 1, shfl_up by 2, xor 5, broadcast of lane 7. */
__global__ void shuffle_kernel(const int *in, int *down, int *up, int *xr, int *idx, double *dsum) {
    unsigned t = threadIdx.x;
    int v = in[t];
    down[t] = __shfl_down_sync(0xffffffffu, v, 1);
    up[t] = __shfl_up_sync(0xffffffffu, v, 2);
    xr[t] = __shfl_xor_sync(0xffffffffu, v, 5);
    idx[t] = __shfl_sync(0xffffffffu, v, 7);
    dsum[t] = itr_cu_warp_sum((double)v * 0.5);
}

/* Block sum over a 2-D block, written by thread (0, 0) of each block. */
__global__ void block_sum_kernel(const float *in, float *out) {
    unsigned tid = itr_cu_tid(), n = itr_cu_nthreads();
    float s = itr_cu_block_sum(in[blockIdx.x * n + tid]);
    float m = itr_cu_block_max(in[blockIdx.x * n + tid]);
    if (tid == 0) {
        out[2 * blockIdx.x] = s;
        out[2 * blockIdx.x + 1] = m;
    }
}

/* Thread and block coordinates of a 3-D launch, flattened. */
__global__ void coords_kernel(int *out) {
    unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    out[b * nt + t] = (int)(1000000 * blockIdx.z + 100000 * blockIdx.y + 10000 * blockIdx.x + 100 * threadIdx.z +
                            10 * threadIdx.y + threadIdx.x);
}

__global__ void atomic_kernel(float *fsum, double *dsum, int *isum, int *imax) {
    atomicAdd(fsum, 1.0f);
    atomicAdd(dsum, 0.5);
    atomicAdd(isum, 1);
    atomicMax(imax, (int)(blockIdx.x * blockDim.x + threadIdx.x));
}

#ifdef ITR_CUDA_EMU
/* Thread 0 leaves before the barrier the others wait at. */
__global__ void divergent_kernel(int *out) {
    if (threadIdx.x == 0) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

/* A shuffle in a warp of 20 lanes (the block has 20 threads). */
__global__ void partial_warp_kernel(int *out) { out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (int)threadIdx.x, 1); }
#endif

/* ---- helpers --------------------------------------------------------------- */
template <class T>
T *device_copy(const std::vector<T> &h) {
    T *d = nullptr;
    assert_int_equal(itr_cu_upload(&d, h.data(), h.size(), "test input"), ITR_OK);
    return d;
}

template <class T>
std::vector<T> host_copy(const T *d, size_t n) {
    std::vector<T> h(n);
    assert_int_equal(itr_cu_to_host(h.data(), d, n * sizeof(T), "test output"), ITR_OK);
    return h;
}

/* ---- tests ----------------------------------------------------------------- */
void test_barrier(void **state) {
    (void)state;
    const int B = 256, blocks = 3;
    std::vector<int> in(B * blocks);
    for (int i = 0; i < B * blocks; i++) in[i] = i * 7 + 1;
    int *din = device_copy(in), *dout = nullptr;
    assert_int_equal(itr_cu_alloc_n(&dout, in.size(), "out"), ITR_OK);
    ITR_LAUNCH(reverse_kernel, blocks, B, 0, din, dout, 1);
    assert_int_equal(itr_cu_launched("reverse_kernel"), ITR_OK);
    std::vector<int> out = host_copy(dout, in.size());
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < B; t++) assert_int_equal(out[b * B + t], in[b * B + B - 1 - t]);
    itr_cu_free(din);
    itr_cu_free(dout);
}

/* The deliberately wrong kernel: without the barrier a thread reads tile
 * slots that later threads have not written yet. The emulation runs threads
 * in order between barriers, so the wrong kernel fails deterministically. */
void test_missing_barrier_is_caught(void **state) {
    (void)state;
#ifdef ITR_CUDA_EMU
    const int B = 256;
    std::vector<int> in(B);
    for (int i = 0; i < B; i++) in[i] = i + 100;
    int *din = device_copy(in), *dout = nullptr;
    assert_int_equal(itr_cu_alloc_n(&dout, in.size(), "out"), ITR_OK);
    ITR_LAUNCH(reverse_kernel, 1, B, 0, din, dout, 0);
    assert_int_equal(itr_cu_launched("reverse_kernel"), ITR_OK);
    std::vector<int> out = host_copy(dout, in.size());
    int wrong = 0;
    for (int t = 0; t < B; t++) wrong += out[t] != in[B - 1 - t];
    printf("  missing-barrier kernel: %d of %d outputs wrong\n", wrong, B);
    assert_true(wrong >= B / 2);
    itr_cu_free(din);
    itr_cu_free(dout);
#else
    skip();
#endif
}

void test_dynamic_shared(void **state) {
    (void)state;
    const int B = 96, blocks = 2;
    std::vector<float> in(B * blocks);
    for (int i = 0; i < B * blocks; i++) in[i] = 0.25f * (float)i;
    float *din = device_copy(in), *dout = nullptr;
    assert_int_equal(itr_cu_alloc_n(&dout, in.size(), "out"), ITR_OK);
    ITR_LAUNCH(reverse_dynamic_kernel, blocks, B, B * sizeof(float), din, dout);
    assert_int_equal(itr_cu_launched("reverse_dynamic_kernel"), ITR_OK);
    std::vector<float> out = host_copy(dout, in.size());
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < B; t++) assert_true(out[b * B + t] == in[b * B + B - 1 - t]);
#ifdef ITR_CUDA_EMU
    /* uninitialised dynamic shared memory reads as NaN, so such bugs show */
    ITR_LAUNCH(read_uninitialised_kernel, 1, 32, 32 * sizeof(float), dout);
    assert_int_equal(itr_cu_launched("read_uninitialised_kernel"), ITR_OK);
    out = host_copy(dout, 32);
    for (int t = 0; t < 32; t++) assert_true(std::isnan(out[t]));
#endif
    itr_cu_free(din);
    itr_cu_free(dout);
}

void test_shuffles(void **state) {
    (void)state;
    const int N = 64;   /* two warps */
    std::vector<int> in(N);
    for (int i = 0; i < N; i++) in[i] = i * i - 3 * i;
    int *din = device_copy(in), *d[4];
    double *dsum = nullptr;
    for (int k = 0; k < 4; k++) assert_int_equal(itr_cu_alloc_n(&d[k], N, "out"), ITR_OK);
    assert_int_equal(itr_cu_alloc_n(&dsum, N, "sum"), ITR_OK);
    ITR_LAUNCH(shuffle_kernel, 1, N, 0, din, d[0], d[1], d[2], d[3], dsum);
    assert_int_equal(itr_cu_launched("shuffle_kernel"), ITR_OK);
    std::vector<int> down = host_copy(d[0], N), up = host_copy(d[1], N), xr = host_copy(d[2], N),
                     idx = host_copy(d[3], N);
    std::vector<double> sum = host_copy(dsum, N);
    for (int t = 0; t < N; t++) {
        int lane = t % 32, w = t / 32 * 32;
        assert_int_equal(down[t], lane + 1 < 32 ? in[t + 1] : in[t]);
        assert_int_equal(up[t], lane >= 2 ? in[t - 2] : in[t]);
        assert_int_equal(xr[t], in[w + (lane ^ 5)]);
        assert_int_equal(idx[t], in[w + 7]);
        double want = 0;
        for (int l = 0; l < 32; l++) want += 0.5 * in[w + l];
        assert_true(sum[t] == want);
    }
    for (int k = 0; k < 4; k++) itr_cu_free(d[k]);
    itr_cu_free(din);
    itr_cu_free(dsum);
}

void test_block_reduce_2d(void **state) {
    (void)state;
    const int blocks = 3, n = 8 * 12;   /* block (8, 12): 96 threads, 3 warps */
    std::vector<float> in(blocks * n);
    for (int i = 0; i < blocks * n; i++) in[i] = (float)((i * 37) % 101) - 50.0f;
    float *din = device_copy(in), *dout = nullptr;
    assert_int_equal(itr_cu_alloc_n(&dout, 2 * blocks, "out"), ITR_OK);
    ITR_LAUNCH(block_sum_kernel, blocks, dim3(8, 12), 0, din, dout);
    assert_int_equal(itr_cu_launched("block_sum_kernel"), ITR_OK);
    std::vector<float> out = host_copy(dout, 2 * blocks);
    for (int b = 0; b < blocks; b++) {
        float s = 0, m = -1e30f;
        for (int i = 0; i < n; i++) {
            s += in[b * n + i];
            m = in[b * n + i] > m ? in[b * n + i] : m;
        }
        assert_true(out[2 * b] == s);   /* integers: exact in any order */
        assert_true(out[2 * b + 1] == m);
    }
    itr_cu_free(din);
    itr_cu_free(dout);
}

void test_coordinates(void **state) {
    (void)state;
    dim3 grid(3, 2, 2), block(4, 3, 2);
    int n = 12 * 24;
    int *d = nullptr;
    assert_int_equal(itr_cu_alloc_n(&d, n, "coords"), ITR_OK);
    ITR_LAUNCH(coords_kernel, grid, block, 0, d);
    assert_int_equal(itr_cu_launched("coords_kernel"), ITR_OK);
    std::vector<int> out = host_copy(d, n);
    for (unsigned bz = 0; bz < 2; bz++)
        for (unsigned by = 0; by < 2; by++)
            for (unsigned bx = 0; bx < 3; bx++)
                for (unsigned tz = 0; tz < 2; tz++)
                    for (unsigned ty = 0; ty < 3; ty++)
                        for (unsigned tx = 0; tx < 4; tx++) {
                            unsigned b = bx + 3 * (by + 2 * bz), t = tx + 4 * (ty + 3 * tz);
                            int want = (int)(1000000 * bz + 100000 * by + 10000 * bx + 100 * tz + 10 * ty + tx);
                            assert_int_equal(out[b * 24 + t], want);
                        }
    itr_cu_free(d);
}

void test_atomics(void **state) {
    (void)state;
    float *f = nullptr;
    double *dd = nullptr;
    int *i = nullptr, *m = nullptr;
    assert_int_equal(itr_cu_alloc_n(&f, 1, "f"), ITR_OK);
    assert_int_equal(itr_cu_alloc_n(&dd, 1, "d"), ITR_OK);
    assert_int_equal(itr_cu_alloc_n(&i, 1, "i"), ITR_OK);
    assert_int_equal(itr_cu_alloc_n(&m, 1, "m"), ITR_OK);
    assert_int_equal(itr_cu_zero(f, sizeof *f, "f"), ITR_OK);
    assert_int_equal(itr_cu_zero(dd, sizeof *dd, "d"), ITR_OK);
    assert_int_equal(itr_cu_zero(i, sizeof *i, "i"), ITR_OK);
    assert_int_equal(itr_cu_zero(m, sizeof *m, "m"), ITR_OK);
    ITR_LAUNCH(atomic_kernel, 5, 64, 0, f, dd, i, m);
    assert_int_equal(itr_cu_launched("atomic_kernel"), ITR_OK);
    assert_true(host_copy(f, 1)[0] == 320.0f);
    assert_true(host_copy(dd, 1)[0] == 160.0);
    assert_int_equal(host_copy(i, 1)[0], 320);
    assert_int_equal(host_copy(m, 1)[0], 319);
    itr_cu_free(f);
    itr_cu_free(dd);
    itr_cu_free(i);
    itr_cu_free(m);
}

void test_launch_errors(void **state) {
    (void)state;
    int *d = nullptr;
    assert_int_equal(itr_cu_alloc_n(&d, 64, "out"), ITR_OK);
    ITR_LAUNCH(coords_kernel, 1, 2048, 0, d);   /* more than 1024 threads */
    itr_status st = itr_cu_launched("coords_kernel");
    assert_int_equal(st, ITR_E_CUDA);
    printf("  too-large block: %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "coords_kernel"));
    assert_int_equal(itr_cu_launched("after"), ITR_OK);   /* the error was consumed */
#ifdef ITR_CUDA_EMU
    ITR_LAUNCH(divergent_kernel, 1, 64, 0, d);
    assert_int_equal(itr_cu_launched("divergent_kernel"), ITR_E_CUDA);
    printf("  divergent barrier: %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "divergent barrier"));
    ITR_LAUNCH(partial_warp_kernel, 1, 20, 0, d);
    assert_int_equal(itr_cu_launched("partial_warp_kernel"), ITR_E_CUDA);
    printf("  partial warp: %s\n", itr_last_error());
    /* a copy whose "device" side is host memory */
    std::vector<int> host(64);
    int other[64];
    assert_int_equal(itr_cu_to_device(other, host.data(), sizeof other, "bad copy"), ITR_E_CUDA);
    printf("  bad copy: %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "host"));
    /* a GEMM on a host pointer */
    assert_int_equal(itr_cu_sgemm(0, 0, 2, 2, 2, 1.0f, (const float *)host.data(), 2, (const float *)d, 2, 0.0f,
                                  (float *)d + 8, 2),
                     ITR_E_CUDA);
    printf("  host GEMM operand: %s\n", itr_last_error());
#endif
    itr_cu_free(d);
}

/* itr_cu_sgemm / dgemm (row-major over column-major cuBLAS) against ref. */
void test_gemm_mapping(void **state) {
    (void)state;
    const int64_t M = 7, N = 5, K = 3;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            int64_t lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 3;
            std::vector<float> A((ta ? K : M) * lda), B((tb ? N : K) * ldb), C(M * ldc), want;
            std::vector<double> Ad(A.size()), Bd(B.size()), Cd(C.size()), wantd;
            for (size_t i = 0; i < A.size(); i++) Ad[i] = A[i] = (float)((int)(i * 13 % 17) - 8) / 4.0f;
            for (size_t i = 0; i < B.size(); i++) Bd[i] = B[i] = (float)((int)(i * 7 % 11) - 5) / 2.0f;
            for (size_t i = 0; i < C.size(); i++) Cd[i] = C[i] = (float)i;
            want = C;
            wantd = Cd;
            itr_sgemm(ta, tb, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, 0.5f, want.data(), ldc);
            itr_dgemm(ta, tb, M, N, K, 1.5, Ad.data(), lda, Bd.data(), ldb, 0.5, wantd.data(), ldc);
            float *dA = device_copy(A), *dB = device_copy(B), *dC = device_copy(C);
            double *eA = device_copy(Ad), *eB = device_copy(Bd), *eC = device_copy(Cd);
            assert_int_equal(itr_cu_sgemm(ta, tb, M, N, K, 1.5f, dA, lda, dB, ldb, 0.5f, dC, ldc), ITR_OK);
            assert_int_equal(itr_cu_dgemm(ta, tb, M, N, K, 1.5, eA, lda, eB, ldb, 0.5, eC, ldc), ITR_OK);
            std::vector<float> got = host_copy(dC, C.size());
            std::vector<double> gotd = host_copy(eC, Cd.size());
            for (size_t i = 0; i < C.size(); i++) {
                assert_true(got[i] == want[i]);   /* small integers/quarters: exact */
                assert_true(gotd[i] == wantd[i]);
            }
            itr_cu_free(dA);
            itr_cu_free(dB);
            itr_cu_free(dC);
            itr_cu_free(eA);
            itr_cu_free(eB);
            itr_cu_free(eC);
        }
    /* batched: three independent products */
    const int64_t batch = 3;
    std::vector<float> A(batch * M * K), B(batch * K * N), C(batch * M * N, 0.0f), want(batch * M * N, 0.0f);
    for (size_t i = 0; i < A.size(); i++) A[i] = (float)((int)(i % 9) - 4);
    for (size_t i = 0; i < B.size(); i++) B[i] = (float)((int)(i % 5) - 2);
    for (int64_t b = 0; b < batch; b++)
        itr_sgemm(0, 1, M, N, K, 1.0f, A.data() + b * M * K, K, B.data() + b * K * N, K, 0.0f, want.data() + b * M * N,
                  N);
    float *dA = device_copy(A), *dB = device_copy(B), *dC = device_copy(C);
    assert_int_equal(itr_cu_sgemm_batched(0, 1, M, N, K, 1.0f, dA, K, M * K, dB, K, K * N, 0.0f, dC, N, M * N, batch),
                     ITR_OK);
    std::vector<float> got = host_copy(dC, C.size());
    for (size_t i = 0; i < C.size(); i++) assert_true(got[i] == want[i]);
    itr_cu_free(dA);
    itr_cu_free(dB);
    itr_cu_free(dC);
}

/* Fast mode (TF32) changes a GEMM whose inputs need more than 10 mantissa
 * bits; strict mode does not. */
void test_fast_mode(void **state) {
    (void)state;
    std::vector<float> A = {1.0f + 1.0f / 4096.0f}, B = {1.0f}, C = {0.0f};
    float *dA = device_copy(A), *dB = device_copy(B), *dC = device_copy(C);
    assert_int_equal(itr_cu_sgemm(0, 0, 1, 1, 1, 1.0f, dA, 1, dB, 1, 0.0f, dC, 1), ITR_OK);
    assert_true(host_copy(dC, 1)[0] == A[0]);
    assert_int_equal(itr_cuda_set_fast(1), ITR_OK);
    assert_int_equal(itr_cu_sgemm(0, 0, 1, 1, 1, 1.0f, dA, 1, dB, 1, 0.0f, dC, 1), ITR_OK);
    float fast = host_copy(dC, 1)[0];
    assert_int_equal(itr_cuda_set_fast(0), ITR_OK);
    printf("  fast mode: %.9g for %.9g\n", fast, A[0]);
#ifdef ITR_CUDA_EMU
    assert_true(fast == 1.0f);   /* TF32 keeps 10 mantissa bits */
#endif
    itr_cu_free(dA);
    itr_cu_free(dB);
    itr_cu_free(dC);
}

int setup(void **state) {
    (void)state;
    return 0;
}

}  // namespace

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    size_t before = itr_cuda_bytes_in_use();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_barrier),        cmocka_unit_test(test_missing_barrier_is_caught),
        cmocka_unit_test(test_dynamic_shared), cmocka_unit_test(test_shuffles),
        cmocka_unit_test(test_block_reduce_2d), cmocka_unit_test(test_coordinates),
        cmocka_unit_test(test_atomics),        cmocka_unit_test(test_launch_errors),
        cmocka_unit_test(test_gemm_mapping),   cmocka_unit_test(test_fast_mode),
    };
    int failed = cmocka_run_group_tests(tests, setup, NULL);
    if (itr_cuda_bytes_in_use() != before) {
        printf("device memory leak: %zu bytes\n", itr_cuda_bytes_in_use() - before);
        failed++;
    }
    return failed;
}
