/* context.h - switching between the emulator's fiber stacks.
 *
 * On x86-64 a switch saves the callee-saved registers, the stack pointer and
 * the floating-point control words, and loads the other side's: what a
 * function call must preserve, nothing more. POSIX swapcontext also saves and
 * restores the signal mask, a system call per switch that dominated emulated
 * kernels with barriers (90% of their time). Elsewhere, or with
 * -DITR_EMU_UCONTEXT, the ucontext functions are used. */
#ifndef ITR_CUDA_EMU_CONTEXT_H
#define ITR_CUDA_EMU_CONTEXT_H

#include <cstddef>

#if defined(__x86_64__) && defined(__linux__) && !defined(ITR_EMU_UCONTEXT)
#define ITR_EMU_FAST_SWITCH 1
#else
#include <ucontext.h>
#endif

namespace itr_emu {

struct Context {
#ifdef ITR_EMU_FAST_SWITCH
    void *sp = nullptr;   /* the saved stack pointer; registers are on that stack */
#else
    ucontext_t uc;
#endif
};

/* Prepares c to start entry() on the stack [stack, stack + size); entry must
 * never return (it switches away for good instead). */
void context_make(Context *c, char *stack, size_t size, void (*entry)());
/* Saves the running context into from and continues in to. */
void context_switch(Context *from, Context *to);

}  // namespace itr_emu

#endif
