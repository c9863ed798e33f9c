/* compat.h - the one CUDA header every itr kernel file includes.
 *
 * Natively (nvcc, ITR_CUDA_NATIVE) it is the CUDA runtime and cuBLAS; in the
 * emulated build (ITR_CUDA_EMU, every build without a GPU toolchain flag) it
 * is the CPU emulation of cuda/emu/, which provides exactly the subset the
 * kernels may use (docs/cuda.md, "The emulated subset"). Two constructs
 * differ in spelling between the two worlds and are written through macros:
 *
 *   ITR_LAUNCH(kernel, grid, block, dynamic_shared_bytes, args...)
 *       a kernel launch on the default stream (kernel<<<...>>>(args));
 *   ITR_DYNAMIC_SHARED(T, name)
 *       declares `T *name` pointing at the block's dynamic shared memory. */
#ifndef ITR_CUDA_COMPAT_H
#define ITR_CUDA_COMPAT_H

#include <cfloat>
#include <cmath>
#include <cstdint>

#ifdef ITR_CUDA_EMU
#include "emu/emu.h"
#define ITR_LAUNCH(kernel, grid, block, shmem, ...) \
    itr_emu::launch(#kernel, dim3(grid), dim3(block), (size_t)(shmem), kernel, __VA_ARGS__)
#define ITR_DYNAMIC_SHARED(T, name) T *name = static_cast<T *>(itr_emu::dynamic_shared())
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define ITR_LAUNCH(kernel, grid, block, shmem, ...) kernel<<<(grid), (block), (shmem)>>>(__VA_ARGS__)
#define ITR_DYNAMIC_SHARED(T, name)                     \
    extern __shared__ double itr_dynamic_shared_mem_[]; \
    T *name = reinterpret_cast<T *>(itr_dynamic_shared_mem_)
#endif

#endif
