/* context.cpp - fiber context switches (context.h). */
#include "emu/context.h"

#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define ITR_EMU_CONTEXT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ITR_EMU_CONTEXT_ASAN 1
#endif
#endif
#ifdef ITR_EMU_CONTEXT_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifdef ITR_EMU_FAST_SWITCH
/* itr_emu_switch(save, load): push the System V callee-saved registers and
 * the MXCSR / x87 control words, store the stack pointer in *save, load the
 * stack pointer `load`, pop the same set and return into the other side. */
extern "C" void itr_emu_switch(void **save, void *load);
__asm__(
    ".text\n"
    ".globl itr_emu_switch\n"
    ".type itr_emu_switch,@function\n"
    "itr_emu_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size itr_emu_switch, .-itr_emu_switch\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n");
#endif

namespace itr_emu {

#ifdef ITR_EMU_FAST_SWITCH
void context_make(Context *c, char *stack, size_t size, void (*entry)()) {
    /* The first switch into c pops a frame laid out as itr_emu_switch pushes
     * it, then "returns" into entry. The return slot sits at a 16-byte aligned
     * address, so entry starts with the stack alignment of a called function. */
#ifdef ITR_EMU_CONTEXT_ASAN
    /* a reused stack still carries the poisoned redzones of the frames its
     * last fiber never returned from */
    __asan_unpoison_memory_region(stack, size);
#endif
    uintptr_t slot = ((uintptr_t)(stack + size) - 64) & ~(uintptr_t)15;
    void **frame = reinterpret_cast<void **>(slot);
    frame[0] = reinterpret_cast<void *>(entry);        /* return address        */
    for (int k = 1; k <= 6; k++) frame[-k] = nullptr;  /* rbp rbx r12 r13 r14 r15 */
    unsigned char *ctl = reinterpret_cast<unsigned char *>(slot - 56);
    uint32_t mxcsr = 0x1f80;    /* all exceptions masked, round to nearest */
    uint16_t fpucw = 0x037f;    /* x87 default                             */
    std::memcpy(ctl, &mxcsr, 4);
    std::memcpy(ctl + 4, &fpucw, 2);
    c->sp = ctl;
}

void context_switch(Context *from, Context *to) { itr_emu_switch(&from->sp, to->sp); }
#else
void context_make(Context *c, char *stack, size_t size, void (*entry)()) {
#ifdef ITR_EMU_CONTEXT_ASAN
    __asan_unpoison_memory_region(stack, size);
#endif
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, entry, 0);
}

void context_switch(Context *from, Context *to) { swapcontext(&from->uc, &to->uc); }
#endif

}  // namespace itr_emu
