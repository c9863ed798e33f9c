/* emu.h - the CUDA subset the itr kernels use, emulated on the CPU.
 *
 * Compiled only when ITR_CUDA_EMU is defined (every build without
 * -DITR_CUDA_NATIVE=ON): the same .cu sources then build as C++17 and run
 * in CTest on machines without a GPU. What is modelled (docs/cuda.md):
 *   - a launch runs its blocks one after another; the threads of a block run
 *     as cooperative fibers (ucontext) on one OS thread, so __syncthreads()
 *     and the warp shuffles have real barrier semantics: a thread that reaches
 *     a barrier waits until every thread of its block (warp) has reached it;
 *   - a barrier that not every thread reaches (a thread returned early) is
 *     reported as a launch failure, as is a deadlock;
 *   - dynamic shared memory is a per-block buffer filled with 0xff bytes
 *     (NaN as float) so that kernels reading it uninitialised fail their tests;
 *   - launch configurations are validated like the driver does;
 *   - device memory is host memory, but every allocation is tracked, so
 *     cudaMemcpy directions and cudaFree of a foreign pointer are checked.
 * Not modelled: timing, races between threads that do not synchronise
 * (fibers run in a fixed order between barriers), memory coherence and
 * visibility rules, warp divergence cost, streams (everything is
 * synchronous), texture memory. */
#ifndef ITR_CUDA_EMU_H
#define ITR_CUDA_EMU_H

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <math.h>
#include <tuple>
#include <type_traits>
#include <utility>

/* ---- qualifiers ---------------------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* Static shared memory: one copy per OS thread, and a block's fibers all run
 * on the launching thread, so every thread of the block sees the same array. */
#define __shared__ static thread_local

/* ---- indices ------------------------------------------------------------- */
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
/* The running thread's coordinates, set by the scheduler before it resumes
 * a fiber. Read through functions (one definition, in scheduler.cpp) rather
 * than extern thread_local objects, whose cross-file access wrappers the
 * sanitizers mis-handle on fiber stacks. */
namespace itr_emu {
const uint3 &thread_idx();
const uint3 &block_idx();
const dim3 &block_dim();
const dim3 &grid_dim();
}  // namespace itr_emu
#define threadIdx (::itr_emu::thread_idx())
#define blockIdx (::itr_emu::block_idx())
#define blockDim (::itr_emu::block_dim())
#define gridDim (::itr_emu::grid_dim())
constexpr int warpSize = 32;

/* ---- runtime and cuBLAS subsets ----------------------------------------- */
#include "emu/runtime.h"
#include "emu/cublas.h"

namespace itr_emu {

/* Runs `body` once per thread of every block of the grid (see above). Sets the
 * runtime's last error on a bad configuration or a barrier failure. */
void run_grid(const char *name, dim3 grid, dim3 block, size_t dynamic_shared, const std::function<void()> &body);

template <class Kernel, class... Args>
void launch(const char *name, dim3 grid, dim3 block, size_t dynamic_shared, Kernel kernel, Args... args) {
    std::tuple<typename std::decay<Args>::type...> params(args...);
    run_grid(name, grid, block, dynamic_shared, [&]() { std::apply(kernel, params); });
}

void *dynamic_shared();            /* this block's dynamic shared memory    */
void block_barrier();              /* __syncthreads                          */
void warp_barrier();               /* __syncwarp                             */
unsigned lane_id();                /* linear thread index % 32               */
/* One shuffle round: every lane of the warp publishes `bits`, then reads the
 * value published by lane `src` (0..31 within the warp). */
unsigned long long warp_exchange(unsigned long long bits, unsigned src);

template <class T>
T shuffle_from(T v, unsigned src) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of an unsupported type");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    bits = warp_exchange(bits, src);
    T out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

}  // namespace itr_emu

/* ---- barriers, shuffles --------------------------------------------------
 * Only full masks are modelled: every lane of the warp must take part. */
inline void __syncthreads() { itr_emu::block_barrier(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    itr_emu::warp_barrier();
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
    (void)mask;
    unsigned lane = itr_emu::lane_id(), w = (unsigned)width;
    unsigned src = (lane & ~(w - 1)) + ((unsigned)src_lane & (w - 1));
    return itr_emu::shuffle_from(v, src);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    unsigned lane = itr_emu::lane_id(), w = (unsigned)width;
    unsigned src = (lane % w) + delta < w ? lane + delta : lane;
    return itr_emu::shuffle_from(v, src);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    unsigned lane = itr_emu::lane_id(), w = (unsigned)width;
    unsigned src = (lane % w) >= delta ? lane - delta : lane;
    return itr_emu::shuffle_from(v, src);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    (void)mask;
    unsigned lane = itr_emu::lane_id(), w = (unsigned)width;
    unsigned src = lane ^ (unsigned)lane_mask;
    if (src / w != lane / w || src >= 32) src = lane;
    return itr_emu::shuffle_from(v, src);
}

/* ---- atomics: real atomic operations (blocks may one day run in parallel) */
template <class T>
T itr_emu_atomic_add_cas(T *addr, T v) {
    T old = *addr, want;
    do {
        want = old + v;
    } while (!__atomic_compare_exchange(addr, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
inline float atomicAdd(float *a, float v) { return itr_emu_atomic_add_cas(a, v); }
inline double atomicAdd(double *a, double v) { return itr_emu_atomic_add_cas(a, v); }
inline int atomicAdd(int *a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned *a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long *a, unsigned long long v) {
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
}
inline int atomicMax(int *a, int v) {
    int old = *a;
    while (old < v && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
inline int atomicCAS(int *a, int cmp, int v) {
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}
inline unsigned long long atomicCAS(unsigned long long *a, unsigned long long cmp, unsigned long long v) {
    __atomic_compare_exchange_n(a, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}

/* ---- device math that C++ lacks ----------------------------------------- */
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <class T>
T __ldg(const T *p) {
    return *p;
}

#endif
