/* itr/cuda.h - the CUDA backend: availability, device description, modes.
 *
 * itr builds its CUDA sources (cuda/) in one of two ways (docs/cuda.md):
 *   native    -DITR_CUDA_NATIVE=ON, nvcc + cuBLAS, runs on an NVIDIA GPU;
 *   emulated  the default: the same sources compiled as C++ against a CPU
 *             emulation of the CUDA subset they use, so every CI run tests
 *             them without a GPU.
 * The per-model APIs are in itr/cuda/<family>.h. */
#ifndef ITR_CUDA_H
#define ITR_CUDA_H

#include <stddef.h>
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_cuda_device {
    char name[256];
    int emulated;               /* 1: the CPU emulation                        */
    int cc_major, cc_minor;     /* compute capability (0.0 emulated)           */
    int sm_count;
    int clock_khz;              /* SM clock (0 when unknown)                   */
    int mem_clock_khz;
    size_t total_mem;
    double fp32_peak_gflops;    /* sm_count * FP32 lanes/SM * 2 * clock (0 unknown) */
    double fp64_peak_gflops;
    int runtime_version, driver_version;
} itr_cuda_device;

/* 1 when the backend can run here: always for the emulation, for a native
 * build when a CUDA device is present. */
int itr_cuda_available(void);
/* "native" or "emulated". */
const char *itr_cuda_backend_kind(void);
/* Describes device 0 (initialising the backend). */
itr_status itr_cuda_device_info(itr_cuda_device *out);

/* Fast mode: cuBLAS float32 GEMMs may use TF32 tensor cores (off by default:
 * strict FP32, cuBLAS pedantic math). Applies to GEMMs issued afterwards. */
itr_status itr_cuda_set_fast(int on);
int itr_cuda_fast(void);

/* Device bytes currently held through itr's allocator (leak checks). */
size_t itr_cuda_bytes_in_use(void);

#ifdef __cplusplus
}
#endif
#endif
