/* pickle_build.c - the BUILD opcode (specs formats.md s1.7.3): applying a
 * state to the object below it, dispatched on the object's kind, and the
 * joblib NumpyArrayWrapper whose raw array bytes follow BUILD in the stream
 * (s2.3). Anything not listed here is an error. */
#include <string.h>

#include "pickle_vm_ops.h"

/* Merges the entries of dict `state` into *attrs (created when NULL). */
static itr_status merge_attrs(itr_vm *vm, itr_pyobj **attrs, const itr_pyobj *state) {
    if (state->kind == ITR_PY_NONE) return ITR_OK;
    if (state->kind != ITR_PY_DICT)
        return itr_vm_fail(vm, ITR_E_FORMAT, "BUILD: attribute state is a %s, not a dict", itr_py_type_name(state));
    if (!*attrs && !(*attrs = itr_py_new(vm->arena, ITR_PY_DICT))) return ITR_E_LIMIT;
    for (size_t i = 0; i < state->u.dict.n; i++) {
        itr_status st = itr_py_dict_set(*attrs, state->u.dict.keys[i], state->u.dict.vals[i]);
        if (st) return st;
    }
    return ITR_OK;
}

/* A dict state, or the (dict_state, slot_state) 2-tuple (both merged). */
static itr_status apply_attrs(itr_vm *vm, itr_pyobj **attrs, const itr_pyobj *state) {
    if (state->kind == ITR_PY_TUPLE && state->u.seq.n == 2) {
        itr_status st = merge_attrs(vm, attrs, state->u.seq.items[0]);
        return st ? st : merge_attrs(vm, attrs, state->u.seq.items[1]);
    }
    return merge_attrs(vm, attrs, state);
}

/* numpy dtype state (version, byteorder, subarray, names, fields, ...). */
static itr_status build_dtype(itr_vm *vm, itr_pydtype *d, const itr_pyobj *state) {
    if (state->kind != ITR_PY_TUPLE || state->u.seq.n < 2)
        return itr_vm_fail(vm, ITR_E_FORMAT, "numpy dtype BUILD: state is not a tuple");
    const itr_pyobj *bo = state->u.seq.items[1];
    for (size_t i = 2; i < 5 && i < state->u.seq.n; i++)
        if (state->u.seq.items[i]->kind != ITR_PY_NONE)
            return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "numpy dtype with subarray/fields is not supported");
    if (!itr_py_str(bo) || bo->u.bytes.len != 1 || !strchr("<>|=", bo->u.bytes.text[0]))
        return itr_vm_fail(vm, ITR_E_FORMAT, "numpy dtype BUILD: bad byte order");
    char c = bo->u.bytes.text[0];
    if (d->kind == 'O' || d->itemsize == 1) return ITR_OK;       /* no byte order */
    if (c == '=' || c == '|') c = '<';                         /* native is little-endian */
    d->byteorder = c;
    d->descr[0] = c;
    return ITR_OK;
}

/* ndarray state (version, shape, dtype, is_fortran, data) or the 4-tuple
 * without version: raw bytes, or a list of values for object arrays. */
static itr_status build_ndarray(itr_vm *vm, itr_pyndarray *nd, const itr_pyobj *state) {
    if (nd->dtype.kind) return itr_vm_fail(vm, ITR_E_FORMAT, "BUILD on an ndarray that is already built");
    if (state->kind != ITR_PY_TUPLE || (state->u.seq.n != 5 && state->u.seq.n != 4))
        return itr_vm_fail(vm, ITR_E_FORMAT, "ndarray BUILD: state is not a 4/5-tuple");
    itr_pyobj *const *s = state->u.seq.items + (state->u.seq.n == 5);
    itr_status st = itr_py_int_tuple(s[0], nd->shape, &nd->ndim, "ndarray shape");
    if (st) return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    if (s[1]->kind != ITR_PY_DTYPE || (s[2]->kind != ITR_PY_BOOL && s[2]->kind != ITR_PY_INT))
        return itr_vm_fail(vm, ITR_E_FORMAT, "ndarray BUILD: expected (shape, dtype, is_fortran, data)");
    nd->dtype = s[1]->u.dtype;
    nd->fortran_order = s[2]->u.i != 0;
    int64_t numel = 0;
    if ((st = itr_shape_numel(nd->ndim, nd->shape, vm->opts->limits.max_numel, &numel, "ndarray")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    if (nd->dtype.kind == 'O') {
        if (s[3]->kind != ITR_PY_LIST || (int64_t)s[3]->u.seq.n != numel)
            return itr_vm_fail(vm, ITR_E_FORMAT, "object ndarray BUILD: expected a list of %lld values",
                               (long long)numel);
        nd->objects = s[3];
        return ITR_OK;
    }
    const uint8_t *p = NULL;
    size_t n = 0;
    if ((st = itr_py_latin1_bytes(vm->arena, s[3], &p, &n)) || (st = itr_np_fill(vm->arena, nd, p, n, "ndarray")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    return ITR_OK;
}

/* s2.3: after the wrapper's BUILD, [pad byte + padding,] then the raw array
 * (or a nested pickle for object arrays) follow in the stream. */
static itr_status joblib_payload(itr_vm *vm, const itr_pyobj *w, itr_pyobj **out) {
    const itr_pyobj *attrs = w->u.object.attrs;
    const itr_pyobj *dt = itr_py_dict_get(attrs, "dtype"), *shape = itr_py_dict_get(attrs, "shape");
    const itr_pyobj *order = itr_py_dict_get(attrs, "order"), *sub = itr_py_dict_get(attrs, "subclass");
    const itr_pyobj *align = itr_py_dict_get(attrs, "numpy_array_alignment_bytes");
    itr_status st = ITR_OK;
    if (!dt || dt->kind != ITR_PY_DTYPE || !shape || !order || !itr_py_str(order))
        return itr_vm_fail(vm, ITR_E_FORMAT, "joblib NumpyArrayWrapper without dtype/shape/order");
    if (sub && (sub->kind != ITR_PY_GLOBAL || sub->u.global.id != ITR_G_NP_NDARRAY))
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "joblib array subclass other than numpy.ndarray");
    if (!itr_py_str_eq(order, "C") && !itr_py_str_eq(order, "F"))
        return itr_vm_fail(vm, ITR_E_FORMAT, "joblib array order is not 'C' or 'F'");
    if (align) {
        if (align->kind != ITR_PY_INT || align->u.i < 1 || align->u.i > 255)
            return itr_vm_fail(vm, ITR_E_FORMAT, "joblib numpy_array_alignment_bytes out of range");
        if ((st = itr_vm_need(vm, 1, "joblib padding length"))) return st;
        uint8_t pad = vm->buf[vm->pos++];
        if (pad > align->u.i)
            return itr_vm_fail(vm, ITR_E_FORMAT, "joblib padding of %u bytes exceeds the alignment %lld", pad,
                               (long long)align->u.i);
        if ((st = itr_vm_need(vm, pad, "joblib padding"))) return st;
        vm->pos += pad;
    }
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_NDARRAY);
    if (!o) return ITR_E_LIMIT;
    itr_pyndarray *nd = &o->u.ndarray;
    nd->dtype = dt->u.dtype;
    nd->fortran_order = itr_py_str_eq(order, "F");
    if ((st = itr_py_int_tuple(shape, nd->shape, &nd->ndim, "joblib array shape")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    int64_t numel = 0;
    if ((st = itr_shape_numel(nd->ndim, nd->shape, vm->opts->limits.max_numel, &numel, "joblib array")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    if (nd->dtype.kind == 'O') {
        /* a complete nested pickle of the array, with its own memo */
        if (vm->nesting + 1 > vm->opts->limits.max_nesting)
            return itr_vm_fail(vm, ITR_E_LIMIT, "joblib object arrays nested deeper than %d",
                               vm->opts->limits.max_nesting);
        itr_pyobj *arr = NULL;
        size_t used = 0;
        if ((st = itr_vm_run(vm->arena, vm->buf + vm->pos, vm->len - vm->pos, vm->opts, vm->nesting + 1, &arr,
                             &used)))
            return itr_fail_context(st, "%s: joblib object array at offset %zu", vm->src, vm->pos);
        if (arr->kind != ITR_PY_NDARRAY || arr->u.ndarray.dtype.kind != 'O' || arr->u.ndarray.ndim != nd->ndim ||
            !itr_shape_equal(nd->ndim, nd->shape, arr->u.ndarray.ndim, arr->u.ndarray.shape))
            return itr_vm_fail(vm, ITR_E_FORMAT, "joblib object array: nested pickle is not the announced array");
        vm->pos += used;
        *out = arr;
        return ITR_OK;
    }
    size_t nbytes = (size_t)numel * (size_t)nd->dtype.itemsize;   /* numel <= max_numel: no overflow */
    if ((st = itr_vm_need(vm, nbytes, "joblib array data"))) return st;
    if ((st = itr_np_fill(vm->arena, nd, vm->buf + vm->pos, nbytes, "joblib array")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    vm->pos += nbytes;
    *out = o;
    return ITR_OK;
}

itr_status itr_vm_build(itr_vm *vm, itr_pyobj *obj, itr_pyobj *state, itr_pyobj **replace) {
    itr_status st = ITR_OK;
    *replace = NULL;
    switch (obj->kind) {
    case ITR_PY_DICT:                       /* OrderedDict._metadata and friends */
        return apply_attrs(vm, &obj->u.dict.attrs, state);
    case ITR_PY_OBJECT:
        if ((st = apply_attrs(vm, &obj->u.object.attrs, state))) return st;
        if (obj->u.object.cls == ITR_G_JOBLIB_WRAPPER) return joblib_payload(vm, obj, replace);
        return ITR_OK;
    case ITR_PY_DTYPE: return build_dtype(vm, &obj->u.dtype, state);
    case ITR_PY_NDARRAY: return build_ndarray(vm, &obj->u.ndarray, state);
    default:
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "BUILD on a %s is not supported", itr_py_type_name(obj));
    }
}
