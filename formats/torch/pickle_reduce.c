/* pickle_reduce.c - REDUCE and NEWOBJ on whitelisted globals (specs
 * formats.md s1.3.3 tensor rebuilds, s1.3.4 OrderedDict, s1.3.5 numpy and
 * argparse objects, s1.7.3, s1.8). Nothing is called: each global has a
 * fixed interpretation with arity and argument-type checks (s5 rule 1). */
#include <stdio.h>
#include <string.h>

#include "pickle_internal.h"

#define ARG(i) (args->u.seq.items[i])

static itr_status arity(itr_vm *vm, const itr_pyobj *g, const itr_pyobj *args, size_t lo, size_t hi) {
    size_t n = args->u.seq.n;
    if (n < lo || n > hi)
        return itr_vm_fail(vm, ITR_E_FORMAT, "%s.%s: %zu arguments (expected %zu to %zu)", g->u.global.module,
                           g->u.global.name, n, lo, hi);
    return ITR_OK;
}

static int is_bool_like(const itr_pyobj *o) { return o->kind == ITR_PY_BOOL || o->kind == ITR_PY_INT; }

static int is_str(const itr_pyobj *o) { return o->kind == ITR_PY_STR || o->kind == ITR_PY_PY2STR; }

/* ---------------------------------------------------------------- tensors */

/* s1.3.3 / s5 rule 5: a tensor view of `storage` with checked geometry. */
static itr_status make_tensor(itr_vm *vm, itr_pyobj *storage, itr_pyobj *offset, itr_pyobj *size,
                              itr_pyobj *stride, int requires_grad, itr_pyobj **out) {
    itr_status st = ITR_OK;
    if (storage->kind != ITR_PY_STORAGE)
        return itr_vm_fail(vm, ITR_E_FORMAT, "tensor rebuild: first argument is a %s, not a storage",
                           itr_py_type_name(storage));
    const itr_pystorage *s = &storage->u.storage;
    if (!s->supported)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "tensor rebuild: storage type %s is not supported", s->type_name);
    if (offset->kind != ITR_PY_INT || offset->u.i < 0)
        return itr_vm_fail(vm, ITR_E_FORMAT, "tensor rebuild: storage_offset is not an int >= 0");
    itr_pyobj *t = itr_py_new(vm->arena, ITR_PY_TENSOR);
    if (!t) return ITR_E_LIMIT;
    itr_pytensor *pt = &t->u.tensor;
    int nst = 0;
    if ((st = itr_py_int_tuple(size, pt->shape, &pt->ndim, "tensor size")) ||
        (st = itr_py_int_tuple(stride, pt->stride, &nst, "tensor stride")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    if (nst != pt->ndim)
        return itr_vm_fail(vm, ITR_E_FORMAT, "tensor rebuild: size has %d entries, stride %d", pt->ndim, nst);
    int64_t numel = 0;
    if ((st = itr_shape_numel(pt->ndim, pt->shape, vm->opts->limits.max_numel, &numel, "tensor size")))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    if (numel > 0) {
        /* last element offset + 1 must fit in the storage, with 64-bit overflow checks */
        int64_t last = offset->u.i;
        for (int k = 0; k < pt->ndim; k++) {
            int64_t span = pt->shape[k] - 1;
            if (pt->stride[k] && span > (INT64_MAX - last) / pt->stride[k])
                return itr_vm_fail(vm, ITR_E_FORMAT, "tensor rebuild: offset/stride overflow");
            last += span * pt->stride[k];
        }
        if (last >= s->numel)
            return itr_vm_fail(vm, ITR_E_FORMAT,
                               "tensor rebuild: element %lld is outside storage '%s' of %lld elements",
                               (long long)last, s->key, (long long)s->numel);
    }
    pt->storage = storage;
    pt->storage_offset = offset->u.i;
    pt->requires_grad = requires_grad;
    *out = t;
    return ITR_OK;
}

static itr_status rebuild_tensor(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = ITR_OK;
    if (g->u.global.id == ITR_G_REBUILD_TENSOR) {        /* torch 0.2/0.3: 4 args */
        if ((st = arity(vm, g, args, 4, 4))) return st;
        return make_tensor(vm, ARG(0), ARG(1), ARG(2), ARG(3), 0, out);
    }
    /* _rebuild_tensor_v2: (storage, offset, size, stride, requires_grad, hooks[, metadata]) */
    if ((st = arity(vm, g, args, 6, 7))) return st;
    if (!is_bool_like(ARG(4))) return itr_vm_fail(vm, ITR_E_FORMAT, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (ARG(5)->kind != ITR_PY_DICT)
        return itr_vm_fail(vm, ITR_E_FORMAT, "_rebuild_tensor_v2: backward_hooks is not a dict");
    if (args->u.seq.n == 7 && ARG(6)->kind != ITR_PY_DICT && ARG(6)->kind != ITR_PY_NONE)
        return itr_vm_fail(vm, ITR_E_FORMAT, "_rebuild_tensor_v2: metadata is not a dict");
    return make_tensor(vm, ARG(0), ARG(1), ARG(2), ARG(3), ARG(4)->u.i != 0, out);
}

/* _rebuild_parameter(tensor, requires_grad, hooks[, state]) -> the tensor as a Parameter. */
static itr_status rebuild_parameter(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    size_t n = g->u.global.id == ITR_G_REBUILD_PARAMETER ? 3 : 4;
    itr_status st = arity(vm, g, args, n, n);
    if (st) return st;
    if (ARG(0)->kind != ITR_PY_TENSOR || !is_bool_like(ARG(1)) || ARG(2)->kind != ITR_PY_DICT)
        return itr_vm_fail(vm, ITR_E_FORMAT, "%s: expected (tensor, bool, dict)", g->u.global.name);
    itr_pyobj *t = itr_py_new(vm->arena, ITR_PY_TENSOR);
    if (!t) return ITR_E_LIMIT;
    t->u.tensor = ARG(0)->u.tensor;                 /* same storage view, new node */
    t->u.tensor.is_parameter = 1;
    t->u.tensor.requires_grad = ARG(1)->u.i != 0;
    *out = t;
    return ITR_OK;
}

/* _rebuild_from_type_v2(func, new_type, args, state): func(*args), typed. */
static itr_status rebuild_from_type(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 4, 4);
    if (st) return st;
    itr_pyobj *f = ARG(0), *type = ARG(1);
    if (f->kind != ITR_PY_GLOBAL || f->u.global.id < ITR_G_REBUILD_TENSOR || f->u.global.id > ITR_G_REBUILD_PARAMETER_WS)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "_rebuild_from_type_v2: function is not a tensor rebuild");
    if (type->kind != ITR_PY_GLOBAL ||
        (type->u.global.id != ITR_G_TORCH_TENSOR && type->u.global.id != ITR_G_TORCH_PARAMETER))
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "_rebuild_from_type_v2: type is not torch.Tensor / Parameter");
    if (ARG(2)->kind != ITR_PY_TUPLE) return itr_vm_fail(vm, ITR_E_FORMAT, "_rebuild_from_type_v2: args is not a tuple");
    if ((st = itr_vm_reduce(vm, f, ARG(2), out))) return st;
    if (type->u.global.id == ITR_G_TORCH_PARAMETER) (*out)->u.tensor.is_parameter = 1;
    return ITR_OK;
}

/* ---------------------------------------------------------------- numpy */

static itr_status np_scalar(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 2, 2);
    if (st) return st;
    if (ARG(0)->kind != ITR_PY_DTYPE) return itr_vm_fail(vm, ITR_E_FORMAT, "numpy scalar: first argument is not a dtype");
    const itr_pydtype *d = &ARG(0)->u.dtype;
    if (d->kind == 'O') return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "numpy scalar of object dtype");
    const uint8_t *p = NULL;
    size_t n = 0;
    if ((st = itr_py_latin1_bytes(vm->arena, ARG(1), &p, &n))) return itr_fail_context(st, "%s: numpy scalar", vm->src);
    if (n != (size_t)d->itemsize)
        return itr_vm_fail(vm, ITR_E_FORMAT, "numpy scalar %s: payload of %zu bytes", d->descr, n);
    itr_pyndarray nd;
    memset(&nd, 0, sizeof nd);
    nd.dtype = *d;
    if ((st = itr_np_fill(vm->arena, &nd, p, n, "numpy scalar"))) return st;   /* byte-swaps */
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_SCALAR);
    if (!o) return ITR_E_LIMIT;
    o->u.scalar.dtype = nd.dtype;
    itr_tensor t = {nd.dtype.dtype, 0, {0}, nd.data, 0};
    o->u.scalar.f = itr_tensor_get(&t, 0);
    if (d->dtype == ITR_I64) memcpy(&o->u.scalar.i, nd.data, 8);
    else if (o->u.scalar.f > -9.2e18 && o->u.scalar.f < 9.2e18) o->u.scalar.i = (int64_t)o->u.scalar.f;
    *out = o;
    return ITR_OK;
}

static itr_status np_dtype(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 1, 3);
    if (st) return st;
    if (!is_str(ARG(0))) return itr_vm_fail(vm, ITR_E_FORMAT, "numpy.dtype: code is not a string");
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_DTYPE);
    if (!o) return ITR_E_LIMIT;
    if ((st = itr_np_dtype_parse(ARG(0)->u.bytes.text, &o->u.dtype)))
        return itr_fail_context(st, "%s: pickle offset %zu", vm->src, vm->op_pos);
    *out = o;
    return ITR_OK;
}

/* _reconstruct(numpy.ndarray, (0,), b'b') -> an empty array that BUILD fills. */
static itr_status np_reconstruct(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 3, 3);
    if (st) return st;
    if (ARG(0)->kind != ITR_PY_GLOBAL || ARG(0)->u.global.id != ITR_G_NP_NDARRAY)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "numpy _reconstruct of a class other than numpy.ndarray");
    if (!(*out = itr_py_new(vm->arena, ITR_PY_NDARRAY))) return ITR_E_LIMIT;   /* dtype.kind 0 = unbuilt */
    return ITR_OK;
}

/* _frombuffer(bytes, dtype, shape, order) (protocol-5 arrays). */
static itr_status np_frombuffer(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 4, 4);
    if (st) return st;
    const uint8_t *p = NULL;
    size_t n = 0;
    if ((st = itr_py_latin1_bytes(vm->arena, ARG(0), &p, &n))) return st;
    if (ARG(1)->kind != ITR_PY_DTYPE || ARG(1)->u.dtype.kind == 'O' || !is_str(ARG(3)))
        return itr_vm_fail(vm, ITR_E_FORMAT, "numpy _frombuffer: expected (bytes, dtype, shape, order)");
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_NDARRAY);
    if (!o) return ITR_E_LIMIT;
    itr_pyndarray *nd = &o->u.ndarray;
    nd->dtype = ARG(1)->u.dtype;
    nd->fortran_order = itr_py_str_eq(ARG(3), "F");
    if ((st = itr_py_int_tuple(ARG(2), nd->shape, &nd->ndim, "numpy _frombuffer shape")) ||
        (st = itr_np_fill(vm->arena, nd, p, n, "numpy _frombuffer")))
        return st;
    *out = o;
    return ITR_OK;
}

/* ---------------------------------------------------------------- builtins */

static itr_status make_bytes(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 0, 2);
    const uint8_t *p = NULL;
    size_t n = 0;
    if (st) return st;
    if (args->u.seq.n == 2 || g->u.global.id == ITR_G_CODECS_ENCODE) {
        /* (text, 'latin1'): one byte per code point */
        if (args->u.seq.n != 2 || !is_str(ARG(0)) || !is_str(ARG(1)) ||
            !(itr_py_str_eq(ARG(1), "latin1") || itr_py_str_eq(ARG(1), "latin-1")))
            return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "%s.%s: only (str, 'latin1') is supported",
                               g->u.global.module, g->u.global.name);
        if ((st = itr_py_latin1_bytes(vm->arena, ARG(0), &p, &n))) return st;
    } else if (args->u.seq.n == 1) {
        itr_pyobj *a = ARG(0);
        if (a->kind == ITR_PY_BYTES || a->kind == ITR_PY_PY2STR) {
            p = a->u.bytes.data;
            n = a->u.bytes.len;
        } else if (a->kind == ITR_PY_LIST || a->kind == ITR_PY_TUPLE) {
            uint8_t *b = itr_pyarena_alloc(vm->arena, a->u.seq.n + 1);
            if (!b) return ITR_E_LIMIT;
            for (size_t i = 0; i < a->u.seq.n; i++) {
                const itr_pyobj *v = a->u.seq.items[i];
                if (v->kind != ITR_PY_INT || v->u.i < 0 || v->u.i > 255)
                    return itr_vm_fail(vm, ITR_E_FORMAT, "bytes(): element %zu is not a byte", i);
                b[i] = (uint8_t)v->u.i;
            }
            p = b;
            n = a->u.seq.n;
        } else {
            return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "bytes() of a %s", itr_py_type_name(a));
        }
    }
    return (*out = itr_py_new_bytes(vm->arena, ITR_PY_BYTES, p, n)) ? ITR_OK : ITR_E_LIMIT;
}

static itr_status make_set(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 0, 1);
    if (st) return st;
    itr_pyobj *s = itr_py_new(vm->arena, ITR_PY_SET);
    if (!s) return ITR_E_LIMIT;
    if (args->u.seq.n == 1) {
        itr_pyobj *a = ARG(0);
        if (a->kind != ITR_PY_LIST && a->kind != ITR_PY_TUPLE && a->kind != ITR_PY_SET)
            return itr_vm_fail(vm, ITR_E_FORMAT, "set() of a %s", itr_py_type_name(a));
        for (size_t i = 0; i < a->u.seq.n; i++)
            if ((st = itr_py_seq_push(s, a->u.seq.items[i]))) return st;
    }
    *out = s;
    return ITR_OK;
}

/* OrderedDict() (Py3) or OrderedDict([[k, v], ...]) (Py2, s1.3.4). */
static itr_status make_ordered_dict(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 0, 1);
    if (st) return st;
    itr_pyobj *d = itr_py_new(vm->arena, ITR_PY_DICT);
    if (!d) return ITR_E_LIMIT;
    d->u.dict.ordered = 1;
    if (args->u.seq.n == 1) {
        itr_pyobj *items = ARG(0);
        if (items->kind != ITR_PY_LIST && items->kind != ITR_PY_TUPLE)
            return itr_vm_fail(vm, ITR_E_FORMAT, "OrderedDict(): argument is a %s", itr_py_type_name(items));
        for (size_t i = 0; i < items->u.seq.n; i++) {
            itr_pyobj *kv = items->u.seq.items[i];
            if ((kv->kind != ITR_PY_LIST && kv->kind != ITR_PY_TUPLE) || kv->u.seq.n != 2)
                return itr_vm_fail(vm, ITR_E_FORMAT, "OrderedDict(): item %zu is not a [key, value] pair", i);
            if ((st = itr_py_dict_set(d, kv->u.seq.items[0], kv->u.seq.items[1]))) return st;
        }
    }
    *out = d;
    return ITR_OK;
}

static itr_status make_device(itr_vm *vm, const itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = arity(vm, g, args, 1, 2);
    char buf[96];
    if (st) return st;
    if (!is_str(ARG(0)) || ARG(0)->u.bytes.len > 32 || (args->u.seq.n == 2 && ARG(1)->kind != ITR_PY_INT))
        return itr_vm_fail(vm, ITR_E_FORMAT, "torch.device: expected (str[, int])");
    size_t n = args->u.seq.n == 2
                   ? (size_t)snprintf(buf, sizeof buf, "%s:%lld", ARG(0)->u.bytes.text, (long long)ARG(1)->u.i)
                   : (size_t)snprintf(buf, sizeof buf, "%s", ARG(0)->u.bytes.text);
    return (*out = itr_py_new_str(vm->arena, buf, n)) ? ITR_OK : ITR_E_LIMIT;
}

itr_status itr_vm_reduce(itr_vm *vm, itr_pyobj *g, itr_pyobj *args, itr_pyobj **out) {
    itr_status st = ITR_OK;
    if (g->kind != ITR_PY_GLOBAL)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "REDUCE on a %s: only whitelisted globals are callable",
                           itr_py_type_name(g));
    switch (g->u.global.id) {
    case ITR_G_ORDERED_DICT: return make_ordered_dict(vm, g, args, out);
    case ITR_G_REBUILD_TENSOR: case ITR_G_REBUILD_TENSOR_V2: return rebuild_tensor(vm, g, args, out);
    case ITR_G_REBUILD_PARAMETER: case ITR_G_REBUILD_PARAMETER_WS: return rebuild_parameter(vm, g, args, out);
    case ITR_G_REBUILD_FROM_TYPE_V2: return rebuild_from_type(vm, g, args, out);
    case ITR_G_TORCH_SIZE:
        if ((st = arity(vm, g, args, 1, 1))) return st;
        if (ARG(0)->kind != ITR_PY_TUPLE) return itr_vm_fail(vm, ITR_E_FORMAT, "torch.Size: argument is not a tuple");
        *out = ARG(0);
        return ITR_OK;
    case ITR_G_TORCH_DEVICE: return make_device(vm, g, args, out);
    case ITR_G_NP_SCALAR: return np_scalar(vm, g, args, out);
    case ITR_G_NP_DTYPE: return np_dtype(vm, g, args, out);
    case ITR_G_NP_RECONSTRUCT: return np_reconstruct(vm, g, args, out);
    case ITR_G_NP_FROMBUFFER: return np_frombuffer(vm, g, args, out);
    case ITR_G_CODECS_ENCODE: case ITR_G_BYTES: case ITR_G_BYTEARRAY: return make_bytes(vm, g, args, out);
    case ITR_G_SET: case ITR_G_FROZENSET: return make_set(vm, g, args, out);
    case ITR_G_RECONSTRUCTOR: {
        /* copyreg._reconstructor(cls, object, None): a plain new instance */
        if ((st = arity(vm, g, args, 3, 3))) return st;
        if (ARG(1)->kind != ITR_PY_GLOBAL || ARG(1)->u.global.id != ITR_G_OBJECT || ARG(2)->kind != ITR_PY_NONE)
            return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "copyreg._reconstructor: only (cls, object, None)");
        itr_pyobj *none = itr_py_new(vm->arena, ITR_PY_TUPLE);
        if (!none) return ITR_E_LIMIT;
        return itr_vm_newobj(vm, ARG(0), none, NULL, out);
    }
    case ITR_G_NAMESPACE: case ITR_G_VOCABULARY: case ITR_G_JOBLIB_WRAPPER:
        return itr_vm_newobj(vm, g, args, NULL, out);
    default:
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "global \"%s.%s\" cannot be called (REDUCE)",
                           g->u.global.module, g->u.global.name);
    }
}

itr_status itr_vm_newobj(itr_vm *vm, itr_pyobj *cls, itr_pyobj *args, itr_pyobj *kwargs, itr_pyobj **out) {
    if (cls->kind != ITR_PY_GLOBAL)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "NEWOBJ on a %s: only whitelisted classes", itr_py_type_name(cls));
    if (args->kind != ITR_PY_TUPLE) return itr_vm_fail(vm, ITR_E_FORMAT, "NEWOBJ arguments are not a tuple");
    if (kwargs && kwargs->kind != ITR_PY_DICT) return itr_vm_fail(vm, ITR_E_FORMAT, "NEWOBJ_EX kwargs are not a dict");
    const char *cname = NULL;
    switch (cls->u.global.id) {
    case ITR_G_NAMESPACE: cname = "argparse.Namespace"; break;
    case ITR_G_VOCABULARY: cname = "Vocabulary"; break;
    case ITR_G_JOBLIB_WRAPPER: cname = "joblib.NumpyArrayWrapper"; break;
    case ITR_G_ORDERED_DICT:
        if (kwargs && kwargs->u.dict.n) return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "OrderedDict with kwargs");
        return make_ordered_dict(vm, cls, args, out);
    case ITR_G_SET: case ITR_G_FROZENSET: return make_set(vm, cls, args, out);
    case ITR_G_BYTES: case ITR_G_BYTEARRAY: return make_bytes(vm, cls, args, out);
    default:
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "class \"%s.%s\" cannot be instantiated",
                           cls->u.global.module, cls->u.global.name);
    }
    if (args->u.seq.n)
        return itr_vm_fail(vm, ITR_E_UNSUPPORTED, "%s: constructor arguments are not supported", cname);
    itr_pyobj *o = itr_py_new(vm->arena, ITR_PY_OBJECT), *attrs = itr_py_new(vm->arena, ITR_PY_DICT);
    if (!o || !attrs) return ITR_E_LIMIT;
    o->u.object.cls = cls->u.global.id;
    o->u.object.class_name = cname;
    o->u.object.attrs = attrs;
    for (size_t i = 0; kwargs && i < kwargs->u.dict.n; i++) {   /* Namespace(**kwargs) */
        itr_status st = itr_py_dict_set(attrs, kwargs->u.dict.keys[i], kwargs->u.dict.vals[i]);
        if (st) return st;
    }
    *out = o;
    return ITR_OK;
}
