/* scheduler.cpp - kernel launches of the emulation: blocks in order, the
 * threads of a block as cooperative fibers (emu/context.h).
 *
 * A fiber runs until it reaches a barrier or returns. When every fiber has
 * stopped, the scheduler looks at why:
 *   - all live threads of the block wait at __syncthreads: release them all;
 *   - all threads of a warp wait at a warp barrier (__syncwarp, a shuffle):
 *     release that warp;
 *   - a block barrier that some thread will never reach (it returned) or a
 *     warp barrier of a partly finished warp: a launch failure, reported with
 *     the kernel's name, as is any state where nobody can move (deadlock).
 * Fibers switch through emu/context.h (a register-only switch on x86-64).
 * Fibers are resumed in thread-index order, so a kernel that forgets a
 * barrier reads values its neighbours have not written yet and fails its
 * test deterministically. */
#include <cstdio>
#include <cstdlib>
#include <sys/mman.h>
#include <vector>

#include "emu/context.h"
#include "emu/emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define ITR_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ITR_EMU_ASAN 1
#endif
#endif
#ifdef ITR_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace itr_emu {
namespace {

thread_local uint3 g_thread_idx;
thread_local uint3 g_block_idx;
thread_local dim3 g_block_dim;
thread_local dim3 g_grid_dim;

const size_t kStackBytes = 256 * 1024;   /* per thread; a guard page below */
const size_t kMaxDynamicShared = 227 * 1024;

enum FiberState { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Fiber {
    Context ctx;
    char *stack = nullptr;   /* mmap'd: guard page + kStackBytes */
    FiberState state = RUNNABLE;
    uint3 idx = {0, 0, 0};
};

struct Block {
    std::vector<Fiber> fibers;
    Context scheduler;
    unsigned current = 0;
    unsigned n_threads = 0;
    const std::function<void()> *body = nullptr;
    std::vector<unsigned char> shared;
    std::vector<unsigned long long> warp_slots;   /* 32 per warp */
#ifdef ITR_EMU_ASAN
    void *fake_stack = nullptr;
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
#endif
};

thread_local Block *g_block = nullptr;

char *map_stack() {
    size_t page = 4096;
    void *p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return nullptr;
    mprotect(p, page, PROT_NONE);   /* a stack overflow faults instead of corrupting */
    return static_cast<char *>(p);
}

void unmap_stack(char *p) {
    if (p) munmap(p, kStackBytes + 4096);
}

/* Switch from the scheduler into fiber f, and back. */
void resume(Block &b, unsigned i) {
    Fiber &f = b.fibers[i];
    b.current = i;
    g_thread_idx = f.idx;
#ifdef ITR_EMU_ASAN
    __sanitizer_start_switch_fiber(&b.fake_stack, f.stack + 4096, kStackBytes);
#endif
    context_switch(&b.scheduler, &f.ctx);
#ifdef ITR_EMU_ASAN
    __sanitizer_finish_switch_fiber(b.fake_stack, nullptr, nullptr);
#endif
}

/* Switch from the running fiber back to the scheduler. */
void yield_to_scheduler(bool finished) {
    Block &b = *g_block;
    Fiber &f = b.fibers[b.current];
#ifdef ITR_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(finished ? nullptr : &fake, b.sched_bottom, b.sched_size);
#endif
    context_switch(&f.ctx, &b.scheduler);
#ifdef ITR_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &b.sched_bottom, &b.sched_size);
#endif
    (void)finished;
}

void fiber_entry() {
#ifdef ITR_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &g_block->sched_bottom, &g_block->sched_size);
#endif
    (*g_block->body)();
    g_block->fibers[g_block->current].state = DONE;
    yield_to_scheduler(true);
}

unsigned linear_tid(const uint3 &t) { return t.x + g_block_dim.x * (t.y + g_block_dim.y * t.z); }

/* Thread i of the block, ready to start at fiber_entry. Kept out of line:
 * with ucontext, getcontext returns twice, and the caller's loop variables
 * must not live across it (gcc -Wclobbered). */
__attribute__((noinline)) void init_fiber(Fiber &f, unsigned i) {
    f.state = RUNNABLE;
    f.idx.x = i % g_block_dim.x;
    f.idx.y = (i / g_block_dim.x) % g_block_dim.y;
    f.idx.z = i / (g_block_dim.x * g_block_dim.y);
    context_make(&f.ctx, f.stack + 4096, kStackBytes, fiber_entry);
}

/* Runs one block to completion; false (and the error recorded) on a barrier failure. */
bool run_block(Block &b, const char *name) {
    unsigned n = b.n_threads;
    for (unsigned i = 0; i < n; i++) init_fiber(b.fibers[i], i);
    unsigned n_warps = (n + 31) / 32;
    for (;;) {
        bool ran = false;
        for (unsigned i = 0; i < n; i++)
            if (b.fibers[i].state == RUNNABLE) {
                resume(b, i);
                ran = true;
            }
        unsigned done = 0, at_block = 0;
        for (unsigned i = 0; i < n; i++) {
            done += b.fibers[i].state == DONE;
            at_block += b.fibers[i].state == AT_BLOCK_BARRIER;
        }
        if (done == n) return true;
        bool released = false;
        if (at_block > 0 && at_block + done == n) {
            if (done > 0) {
                set_error(cudaErrorLaunchFailure,
                          "kernel %s, block (%u,%u,%u): __syncthreads reached by %u of %u threads, the others "
                          "returned (divergent barrier)",
                          name, blockIdx.x, blockIdx.y, blockIdx.z, at_block, n);
                return false;
            }
            for (unsigned i = 0; i < n; i++) b.fibers[i].state = RUNNABLE;
            released = true;
        }
        for (unsigned w = 0; w < n_warps && !released; w++) {
            unsigned lo = 32 * w, hi = lo + 32 < n ? lo + 32 : n, waiting = 0, finished = 0;
            for (unsigned i = lo; i < hi; i++) {
                waiting += b.fibers[i].state == AT_WARP_BARRIER;
                finished += b.fibers[i].state == DONE;
            }
            if (waiting == 0) continue;
            if (waiting + finished == hi - lo) {
                if (finished > 0 || hi - lo != 32) {
                    set_error(cudaErrorLaunchFailure,
                              "kernel %s, block (%u,%u,%u), warp %u: warp barrier/shuffle with %u of %u lanes "
                              "(itr kernels shuffle only in full warps)",
                              name, blockIdx.x, blockIdx.y, blockIdx.z, w, waiting, hi - lo < 32 ? hi - lo : 32);
                    return false;
                }
                for (unsigned i = lo; i < hi; i++) b.fibers[i].state = RUNNABLE;
                released = true;
            }
        }
        if (!released && !ran) {
            set_error(cudaErrorLaunchFailure,
                      "kernel %s, block (%u,%u,%u): deadlock (%u threads at __syncthreads, others at warp barriers)",
                      name, blockIdx.x, blockIdx.y, blockIdx.z, at_block);
            return false;
        }
    }
}

/* The fiber stacks, kept between launches (per OS thread). */
struct StackPool {
    std::vector<char *> stacks;
    ~StackPool() {
        for (char *s : stacks) unmap_stack(s);
    }
};
thread_local StackPool g_pool;

}  // namespace

const uint3 &thread_idx() { return g_thread_idx; }
const uint3 &block_idx() { return g_block_idx; }
const dim3 &block_dim() { return g_block_dim; }
const dim3 &grid_dim() { return g_grid_dim; }

void *dynamic_shared() { return g_block && !g_block->shared.empty() ? g_block->shared.data() : nullptr; }

unsigned lane_id() { return linear_tid(g_thread_idx) % 32; }

void block_barrier() {
    g_block->fibers[g_block->current].state = AT_BLOCK_BARRIER;
    yield_to_scheduler(false);
}

void warp_barrier() {
    g_block->fibers[g_block->current].state = AT_WARP_BARRIER;
    yield_to_scheduler(false);
}

unsigned long long warp_exchange(unsigned long long bits, unsigned src) {
    Block &b = *g_block;
    unsigned tid = linear_tid(g_thread_idx), warp = tid / 32;
    b.warp_slots[tid] = bits;
    warp_barrier();   /* every lane has published */
    unsigned long long got = b.warp_slots[32 * warp + src];
    warp_barrier();   /* every lane has read before anyone publishes again */
    return got;
}

void run_grid(const char *name, dim3 grid, dim3 block, size_t dynamic_shared_bytes,
              const std::function<void()> &body) {
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u) {
        set_error(cudaErrorInvalidConfiguration, "kernel %s: invalid grid (%u,%u,%u)", name, grid.x, grid.y, grid.z);
        return;
    }
    if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64) {
        set_error(cudaErrorInvalidConfiguration, "kernel %s: invalid block (%u,%u,%u)", name, block.x, block.y,
                  block.z);
        return;
    }
    if (dynamic_shared_bytes > kMaxDynamicShared) {
        set_error(cudaErrorInvalidConfiguration, "kernel %s: %zu bytes of dynamic shared memory (max %zu)", name,
                  dynamic_shared_bytes, kMaxDynamicShared);
        return;
    }
    if (g_block) {
        set_error(cudaErrorLaunchFailure, "kernel %s launched from inside a kernel", name);
        return;
    }
    while (g_pool.stacks.size() < threads) {
        char *s = map_stack();
        if (!s) {
            set_error(cudaErrorMemoryAllocation, "kernel %s: cannot map fiber stacks", name);
            return;
        }
        g_pool.stacks.push_back(s);
    }
    Block b;
    b.n_threads = (unsigned)threads;
    b.body = &body;
    b.fibers.resize(threads);
    for (unsigned i = 0; i < threads; i++) b.fibers[i].stack = g_pool.stacks[i];
    b.warp_slots.assign(((threads + 31) / 32) * 32, 0);
    b.shared.resize(dynamic_shared_bytes);
    g_grid_dim = grid;
    g_block_dim = block;
    g_block = &b;
    bool ok = true;
    for (unsigned z = 0; z < grid.z && ok; z++)
        for (unsigned y = 0; y < grid.y && ok; y++)
            for (unsigned x = 0; x < grid.x && ok; x++) {
                g_block_idx.x = x;
                g_block_idx.y = y;
                g_block_idx.z = z;
                if (dynamic_shared_bytes) std::memset(b.shared.data(), 0xff, dynamic_shared_bytes);
                ok = run_block(b, name);
            }
    g_block = nullptr;
}

}  // namespace itr_emu
