/* runtime.cpp - the emulated CUDA runtime (runtime.h): tracked host-memory
 * "device" allocations, copies with direction checks, sticky errors, a
 * device description, host-clock events. */
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "emu/emu.h"

namespace itr_emu {
namespace {

std::mutex g_mem_lock;
std::map<const char *, size_t> g_allocs;   /* base -> bytes */
size_t g_allocated = 0;

thread_local cudaError_t g_last_error = cudaSuccess;
thread_local char g_message[512] = "";

/* The allocation holding [p, p + bytes), or g_allocs.end(). */
std::map<const char *, size_t>::iterator find_alloc(const void *p, size_t bytes) {
    const char *c = static_cast<const char *>(p);
    auto it = g_allocs.upper_bound(c);
    if (it == g_allocs.begin()) return g_allocs.end();
    --it;
    if (c >= it->first && c + bytes <= it->first + it->second) return it;
    return g_allocs.end();
}

}  // namespace

const char *last_message() {
    /* handed out once: a later, unrelated failure must not repeat it */
    static thread_local char taken[sizeof g_message];
    std::memcpy(taken, g_message, sizeof taken);
    g_message[0] = '\0';
    return taken;
}

void set_error(cudaError_t e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    if (g_last_error == cudaSuccess) g_last_error = e;
}

size_t bytes_allocated() {
    std::lock_guard<std::mutex> lock(g_mem_lock);
    return g_allocated;
}

int is_device_range(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mem_lock);
    return find_alloc(p, bytes) != g_allocs.end();
}

}  // namespace itr_emu

using itr_emu::set_error;

cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (!p) return cudaErrorInvalidValue;
    *p = nullptr;
    if (bytes == 0) return cudaSuccess;
    /* 256-byte alignment like the driver's; never zeroed (cudaMalloc is not) */
    void *q = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!q) {
        set_error(cudaErrorMemoryAllocation, "cudaMalloc of %zu bytes failed", bytes);
        return cudaErrorMemoryAllocation;
    }
    std::memset(q, 0xa5, bytes);
    std::lock_guard<std::mutex> lock(itr_emu::g_mem_lock);
    itr_emu::g_allocs[static_cast<const char *>(q)] = bytes;
    itr_emu::g_allocated += bytes;
    *p = q;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    std::lock_guard<std::mutex> lock(itr_emu::g_mem_lock);
    auto it = itr_emu::g_allocs.find(static_cast<const char *>(p));
    if (it == itr_emu::g_allocs.end()) {
        set_error(cudaErrorInvalidDevicePointer, "cudaFree of %p, which cudaMalloc did not return", p);
        return cudaErrorInvalidDevicePointer;
    }
    itr_emu::g_allocated -= it->second;
    itr_emu::g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}

/* Checks that each side of a copy is where `kind` says it is. */
static cudaError_t check_copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) {
        set_error(cudaErrorInvalidValue, "cudaMemcpy with a NULL pointer");
        return cudaErrorInvalidValue;
    }
    bool dst_dev = itr_emu::is_device_range(dst, bytes), src_dev = itr_emu::is_device_range(src, bytes);
    bool want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) return cudaSuccess;
    if (kind > cudaMemcpyDefault) {
        set_error(cudaErrorInvalidMemcpyDirection, "cudaMemcpy kind %d", (int)kind);
        return cudaErrorInvalidMemcpyDirection;
    }
    if (dst_dev != want_dst || src_dev != want_src) {
        set_error(cudaErrorInvalidValue,
                  "cudaMemcpy of %zu bytes, kind %d: destination is %s memory, source is %s memory", bytes, (int)kind,
                  dst_dev ? "device" : "host (or out of its allocation)",
                  src_dev ? "device" : "host (or out of its allocation)");
        return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    cudaError_t e = check_copy(dst, src, bytes, kind);
    if (e == cudaSuccess && bytes) std::memmove(dst, src, bytes);
    return e;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!itr_emu::is_device_range(p, bytes)) {
        set_error(cudaErrorInvalidValue, "cudaMemset of %zu bytes at %p: not device memory", bytes, p);
        return cudaErrorInvalidValue;
    }
    std::memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
cudaError_t cudaDeviceSynchronize(void) { return itr_emu::g_last_error; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return itr_emu::g_last_error; }

cudaError_t cudaGetLastError(void) {
    cudaError_t e = itr_emu::g_last_error;
    itr_emu::g_last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return itr_emu::g_last_error; }

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}

cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDevice(int *dev) {
    *dev = 0;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int dev) {
    if (dev != 0) return cudaErrorInvalidDevice;
    std::memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "itr CPU emulation (no GPU)");
    prop->totalGlobalMem = (size_t)16 << 30;
    prop->sharedMemPerBlock = 48 * 1024;
    prop->sharedMemPerBlockOptin = 227 * 1024;
    prop->major = 0;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->maxThreadsPerBlock = 1024;
    prop->warpSize = 32;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev) {
    if (dev != 0) return cudaErrorInvalidDevice;
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMultiProcessorCount: *value = 1; break;
    case cudaDevAttrClockRate: *value = 0; break;          /* kHz; unknown */
    case cudaDevAttrMemoryClockRate: *value = 0; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 0; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    default: return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = 0;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
    *v = 0;
    return cudaSuccess;
}

struct itr_emu_event {
    std::chrono::steady_clock::time_point t;
};

cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = new itr_emu_event();
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
    e->t = std::chrono::steady_clock::now();
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    *ms = std::chrono::duration<float, std::milli>(end->t - start->t).count();
    return cudaSuccess;
}
