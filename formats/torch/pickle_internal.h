/* pickle_internal.h - private pieces shared by the files of formats/torch.
 *
 * Not installed: only the .c files of this folder include it. The public
 * surface is include/itr/pickle.h and include/itr/checkpoint.h. */
#ifndef ITR_PICKLE_INTERNAL_H
#define ITR_PICKLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "itr/pickle.h"

/* ------------------------------------------------------------ arena (pyarena.c) */

/* Resizes a block obtained from itr_pyarena_alloc (p may be NULL). */
void *itr_pyarena_realloc(itr_pyarena *a, void *p, size_t n);
const itr_pickle_limits *itr_pyarena_limits(const itr_pyarena *a);

/* Container helpers; every one returns ITR_OK or an itr_fail status. */
itr_status itr_py_seq_push(itr_pyobj *seq, itr_pyobj *item);
/* d[k] = v with Python semantics (an equal key keeps its place). */
itr_status itr_py_dict_set(itr_pyobj *dict, itr_pyobj *k, itr_pyobj *v);
/* New STR/BYTES/PY2STR value copying data[0..len). */
itr_pyobj *itr_py_new_bytes(itr_pyarena *a, itr_pykind kind, const void *data, size_t len);
/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, <= U+10FFFF). */
int itr_utf8_valid(const uint8_t *s, size_t n);
/* Latin-1 bytes -> a NUL-terminated UTF-8 copy in the arena. */
char *itr_latin1_to_utf8(itr_pyarena *a, const uint8_t *s, size_t n);
/* The bytes an object holds as "latin-1 text or raw bytes": BYTES, PY2STR
 * (raw) or STR whose code points are all <= 255 (encoded back). *out points
 * into the arena. ITR_E_DTYPE / ITR_E_FORMAT otherwise. */
itr_status itr_py_latin1_bytes(itr_pyarena *a, const itr_pyobj *o, const uint8_t **out, size_t *len);

/* ------------------------------------------------------------ globals (pickle_globals.c) */

typedef struct itr_global_info {
    itr_pyglobal id;
    const char *module, *name;     /* canonical spelling */
    itr_dtype dtype;               /* storages / torch dtypes */
    int supported;                 /* storages: 0 = complex / quantized */
} itr_global_info;

/* Looks (module, name) up in the s1.8 whitelist. ITR_OK and *info filled,
 * or an error naming the global ("os.system") with a specific message for
 * known-bad families (torch.nn.modules, NDArrayWrapper). */
itr_status itr_global_lookup(const char *module, size_t mlen, const char *name, size_t nlen,
                             itr_global_info *info);

/* ------------------------------------------------------------ VM (pickle_vm.c) */

typedef struct itr_memo_slot {
    uint32_t key;
    itr_pyobj *val;               /* NULL = empty slot */
} itr_memo_slot;

typedef struct itr_vm {
    itr_pyarena *arena;
    const itr_pickle_opts *opts;
    const char *src;               /* for messages */
    const uint8_t *buf;
    size_t len, pos;
    size_t op_pos;                 /* offset of the current opcode */
    itr_pyobj **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    itr_memo_slot *memo;
    size_t memo_n, memo_cap;
    int nesting;                   /* 0 for a top-level pickle */
} itr_vm;

/* Runs a pickle starting at buf[0] (nesting = depth of nested pickles). */
itr_status itr_vm_run(itr_pyarena *a, const uint8_t *buf, size_t len, const itr_pickle_opts *o,
                      int nesting, itr_pyobj **out, size_t *consumed);

/* Error helper: "<src>: pickle offset N: <message>". */
itr_status itr_vm_fail(const itr_vm *vm, itr_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------ calls (pickle_reduce.c, pickle_build.c) */

/* REDUCE: callable (ITR_PY_GLOBAL) applied to args (ITR_PY_TUPLE). */
itr_status itr_vm_reduce(itr_vm *vm, itr_pyobj *callable, itr_pyobj *args, itr_pyobj **out);
/* NEWOBJ / NEWOBJ_EX / OBJ / INST: a new instance of cls. */
itr_status itr_vm_newobj(itr_vm *vm, itr_pyobj *cls, itr_pyobj *args, itr_pyobj *kwargs,
                         itr_pyobj **out);
/* BUILD: applies state to obj. *replace is set when the stack top must be
 * replaced by another value (joblib wrapper -> ndarray), else NULL. */
itr_status itr_vm_build(itr_vm *vm, itr_pyobj *obj, itr_pyobj *state, itr_pyobj **replace);

/* numpy helpers (pickle_numpy.c) */
/* Parses a numpy dtype code ("f4", "<f8", "|u1", "O8", "b1") into d. */
itr_status itr_np_dtype_parse(const char *code, itr_pydtype *d);
/* Fills nd (shape/dtype set) from raw bytes in the given order (C/Fortran)
 * and byte order, producing C-contiguous native data in the arena. */
itr_status itr_np_fill(itr_pyarena *a, itr_pyndarray *nd, const uint8_t *raw, size_t len,
                       const char *where);
/* Element count of a shape with overflow and limit checks. */
itr_status itr_shape_numel(int ndim, const int64_t *shape, int64_t max_numel, int64_t *numel,
                           const char *where);
/* Reads a tuple/list of non-negative ints into dims (<= ITR_MAX_DIMS). */
itr_status itr_py_int_tuple(const itr_pyobj *o, int64_t *dims, int *ndim, const char *what);

#endif
