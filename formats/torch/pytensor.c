/* pytensor.c - materialising a rebuilt tensor or a numpy array as a
 * contiguous itr_tensor (specs formats.md s1.3.3 "Materializing", s1.5,
 * s5 rule 5).
 *
 * Element (i0..ik) of a tensor is storage element offset + sum(i_j*stride_j).
 * Every bound is re-checked against the bytes the container actually found
 * for the storage, then elements are gathered into a fresh C-contiguous
 * buffer of the storage's dtype (zero strides are expanded) and converted. */
#include <string.h>

#include "pickle_internal.h"

static itr_status convert_to(itr_tensor *t, int want_float, int want_int) {
    int want = itr_dtype_is_float(t->dtype) ? want_float : want_int;
    if (want < 0 || (itr_dtype)want == t->dtype) return ITR_OK;
    itr_tensor c;
    itr_status st = itr_tensor_convert(t, (itr_dtype)want, &c);
    itr_tensor_free(t);
    if (st) return st;
    *t = c;
    return ITR_OK;
}

static itr_status tensor_gather(const itr_pytensor *pt, itr_tensor *out) {
    const itr_pyobj *so = pt->storage;
    if (!so || so->kind != ITR_PY_STORAGE) return itr_fail(ITR_E_INTERNAL, "tensor without a storage");
    const itr_pystorage *s = &so->u.storage;
    if (!s->data)
        return itr_fail(ITR_E_FORMAT, "storage '%s': its data was not found in the container", s->key);
    size_t esz = itr_dtype_size(s->dtype);
    if ((uint64_t)s->numel > s->nbytes / esz)
        return itr_fail(ITR_E_FORMAT, "storage '%s': %zu bytes for %lld elements of %s", s->key, s->nbytes,
                        (long long)s->numel, itr_dtype_name(s->dtype));
    itr_status st = itr_tensor_alloc(out, s->dtype, pt->ndim, pt->shape);
    if (st) return st;
    int64_t numel = itr_tensor_numel(out);
    if (numel == 0) return ITR_OK;
    /* bounds (also checked at rebuild time against the declared numel) */
    int64_t last = pt->storage_offset;
    for (int k = 0; k < pt->ndim; k++) {
        if (pt->stride[k] && pt->shape[k] - 1 > (INT64_MAX - last) / pt->stride[k]) last = INT64_MAX;
        else last += (pt->shape[k] - 1) * pt->stride[k];
        if (last == INT64_MAX) break;
    }
    if (pt->storage_offset < 0 || last >= s->numel) {
        itr_tensor_free(out);
        return itr_fail(ITR_E_FORMAT, "storage '%s': tensor reaches element %lld of %lld", s->key,
                        (long long)last, (long long)s->numel);
    }
    /* contiguous fast path: stride[k] = prod(shape[j > k]) */
    int contiguous = 1;
    int64_t expect = 1;
    for (int k = pt->ndim - 1; k >= 0; k--) {
        if (pt->shape[k] != 1 && pt->stride[k] != expect) contiguous = 0;
        expect *= pt->shape[k];
    }
    const uint8_t *base = s->data + (size_t)pt->storage_offset * esz;
    uint8_t *dst = out->data;
    if (contiguous) {
        memcpy(dst, base, (size_t)numel * esz);
        return ITR_OK;
    }
    int64_t idx[ITR_MAX_DIMS] = {0};
    for (int64_t i = 0; i < numel; i++) {
        int64_t off = 0;
        for (int k = 0; k < pt->ndim; k++) off += idx[k] * pt->stride[k];
        memcpy(dst + (size_t)i * esz, base + (size_t)off * esz, esz);
        for (int k = pt->ndim - 1; k >= 0; k--) {
            if (++idx[k] < pt->shape[k]) break;
            idx[k] = 0;
        }
    }
    return ITR_OK;
}

itr_status itr_py_to_tensor(const itr_pyobj *o, int want_float, int want_int, itr_tensor *out) {
    itr_status st = ITR_OK;
    if (!o || !out) return itr_fail(ITR_E_ARG, "itr_py_to_tensor: NULL argument");
    memset(out, 0, sizeof *out);
    if (o->kind == ITR_PY_TENSOR) {
        if ((st = tensor_gather(&o->u.tensor, out))) return st;
    } else if (o->kind == ITR_PY_NDARRAY) {
        const itr_pyndarray *nd = &o->u.ndarray;
        if (nd->dtype.kind == 'O' || !nd->data)
            return itr_fail(ITR_E_DTYPE, "numpy array of dtype %s has no numeric data", nd->dtype.descr);
        if ((st = itr_tensor_alloc(out, nd->dtype.dtype, nd->ndim, nd->shape))) return st;
        if (itr_tensor_nbytes(out) != nd->nbytes) {
            itr_tensor_free(out);
            return itr_fail(ITR_E_INTERNAL, "numpy array: byte count mismatch");
        }
        if (nd->nbytes) memcpy(out->data, nd->data, nd->nbytes);
    } else {
        return itr_fail(ITR_E_DTYPE, "expected a tensor or numpy array, found %s", itr_py_type_name(o));
    }
    return convert_to(out, want_float, want_int);
}
