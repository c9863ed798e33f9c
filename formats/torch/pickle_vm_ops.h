/* pickle_vm_ops.h - stack, memo and operand primitives of the pickle VM,
 * shared by pickle_vm.c, pickle_text.c and pickle_build.c (private). */
#ifndef ITR_PICKLE_VM_OPS_H
#define ITR_PICKLE_VM_OPS_H

#include "pickle_internal.h"

/* Fails unless n more bytes remain after vm->pos. */
itr_status itr_vm_need(itr_vm *vm, size_t n, const char *what);
/* Reads an n-byte little-endian unsigned operand (caller checked need). */
uint64_t itr_vm_le(itr_vm *vm, int n);

itr_status itr_vm_push(itr_vm *vm, itr_pyobj *o);     /* o == NULL: a failed constructor */
itr_status itr_vm_pop(itr_vm *vm, itr_pyobj **o);     /* never past the last mark */
itr_status itr_vm_top(itr_vm *vm, itr_pyobj **o);
itr_status itr_vm_pop_mark(itr_vm *vm, size_t *base);
itr_status itr_vm_tuple_n(itr_vm *vm, size_t n);      /* top n values -> tuple */
itr_status itr_vm_memo_put_top(itr_vm *vm, uint64_t idx);
itr_status itr_vm_memo_get(itr_vm *vm, uint64_t idx);

itr_status itr_vm_push_int(itr_vm *vm, int64_t v);
/* A string-like value; kind ITR_PY_PY2STR is converted per opts.py2str. */
itr_status itr_vm_push_py2_or(itr_vm *vm, itr_pykind kind, const uint8_t *p, size_t n);
/* Resolves (module, name) against the whitelist and pushes the global. */
itr_status itr_vm_push_global(itr_vm *vm, const char *mod, size_t ml, const char *name, size_t nl);

/* Protocol-0 opcodes with text operands (pickle_text.c); any other byte is
 * an "unknown opcode" error. */
itr_status itr_vm_text_op(itr_vm *vm, uint8_t op);

#endif
