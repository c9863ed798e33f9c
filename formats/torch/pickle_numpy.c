/* pickle_numpy.c - numpy dtypes and array payloads inside pickles
 * (specs formats.md s1.3.5 numpy scalars/ndarrays, s2.3 joblib arrays),
 * plus the shape helpers the tensor rebuild shares. */
#include <stdio.h>
#include <string.h>

#include "pickle_internal.h"

itr_status itr_np_dtype_parse(const char *code, itr_pydtype *d) {
    memset(d, 0, sizeof *d);
    const char *p = code;
    char order = '=';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=') order = *p++;
    char kind = *p++;
    int size = 0;
    if (kind == '\0') return itr_fail(ITR_E_FORMAT, "numpy dtype '%.32s': empty", code);
    for (; *p >= '0' && *p <= '9'; p++) {
        size = size * 10 + (*p - '0');
        if (size > 64) return itr_fail(ITR_E_UNSUPPORTED, "numpy dtype '%.32s': item size too large", code);
    }
    if (*p) return itr_fail(ITR_E_UNSUPPORTED, "numpy dtype '%.32s' is not a simple type", code);
    d->kind = kind;
    if (kind == 'O') {
        if (size != 0 && size != 4 && size != 8)
            return itr_fail(ITR_E_FORMAT, "numpy dtype '%.32s': bad object size", code);
        d->itemsize = 8;
        d->byteorder = '|';
        snprintf(d->descr, sizeof d->descr, "|O");
        return ITR_OK;
    }
    itr_dtype t = ITR_F32;
    switch (kind) {
    case 'f':
        if (size == 2) t = ITR_F16;
        else if (size == 4) t = ITR_F32;
        else if (size == 8) t = ITR_F64;
        else goto unsupported;
        break;
    case 'i':
        if (size == 1) t = ITR_I8;
        else if (size == 2) t = ITR_I16;
        else if (size == 4) t = ITR_I32;
        else if (size == 8) t = ITR_I64;
        else goto unsupported;
        break;
    case 'u':
        if (size == 1) t = ITR_U8;
        else goto unsupported;
        break;
    case 'b':
        if (size == 1) t = ITR_BOOL;
        else goto unsupported;
        break;
    default:
        goto unsupported;
    }
    d->dtype = t;
    d->itemsize = size;
    if (size == 1) order = '|';
    else if (order == '=' || order == '|') order = '<';   /* native = little-endian here */
    d->byteorder = order;
    snprintf(d->descr, sizeof d->descr, "%c%c%d", order, kind, size);
    return ITR_OK;
unsupported:
    return itr_fail(ITR_E_UNSUPPORTED, "numpy dtype '%.32s' is not supported", code);
}

itr_status itr_shape_numel(int ndim, const int64_t *shape, int64_t max_numel, int64_t *numel,
                           const char *where) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return itr_fail(ITR_E_FORMAT, "%s: negative dimension %lld", where, (long long)shape[i]);
        if (shape[i] && n > max_numel / shape[i])
            return itr_fail(ITR_E_LIMIT, "%s: more than %lld elements", where, (long long)max_numel);
        n *= shape[i];
    }
    if (n > max_numel) return itr_fail(ITR_E_LIMIT, "%s: more than %lld elements", where, (long long)max_numel);
    *numel = n;
    return ITR_OK;
}

itr_status itr_py_int_tuple(const itr_pyobj *o, int64_t *dims, int *ndim, const char *what) {
    if (!o || (o->kind != ITR_PY_TUPLE && o->kind != ITR_PY_LIST))
        return itr_fail(ITR_E_FORMAT, "%s: expected a tuple of ints, found %s", what, itr_py_type_name(o));
    if (o->u.seq.n > ITR_MAX_DIMS)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: %zu dimensions (at most %d)", what, o->u.seq.n, ITR_MAX_DIMS);
    for (size_t i = 0; i < o->u.seq.n; i++) {
        const itr_pyobj *v = o->u.seq.items[i];
        if (v->kind != ITR_PY_INT)
            return itr_fail(ITR_E_FORMAT, "%s: entry %zu is a %s, not an int", what, i, itr_py_type_name(v));
        if (v->u.i < 0) return itr_fail(ITR_E_FORMAT, "%s: entry %zu is negative (%lld)", what, i, (long long)v->u.i);
        dims[i] = v->u.i;
    }
    *ndim = (int)o->u.seq.n;
    return ITR_OK;
}

itr_status itr_np_fill(itr_pyarena *a, itr_pyndarray *nd, const uint8_t *raw, size_t len, const char *where) {
    int64_t numel = 0;
    itr_status st = itr_shape_numel(nd->ndim, nd->shape, itr_pyarena_limits(a)->max_numel, &numel, where);
    if (st) return st;
    size_t isz = (size_t)nd->dtype.itemsize;
    if ((uint64_t)numel > (size_t)-1 / isz) return itr_fail(ITR_E_LIMIT, "%s: array too large", where);
    size_t nbytes = (size_t)numel * isz;
    if (len != nbytes)
        return itr_fail(ITR_E_FORMAT, "%s: %zu data bytes for %lld elements of %s (need %zu)", where, len,
                        (long long)numel, nd->dtype.descr, nbytes);
    uint8_t *out = itr_pyarena_alloc(a, nbytes ? nbytes : 1);
    if (!out) return ITR_E_LIMIT;
    int swap = nd->dtype.byteorder == '>' && isz > 1;
    int fortran = nd->fortran_order && nd->ndim > 1;
    if (!fortran && !swap) {
        if (nbytes) memcpy(out, raw, nbytes);
    } else {
        /* walk the C-order index; the source offset is Fortran-strided */
        int64_t idx[ITR_MAX_DIMS] = {0}, fstride[ITR_MAX_DIMS];
        int64_t s = 1;
        for (int k = 0; k < nd->ndim; k++) {
            fstride[k] = fortran ? s : 0;
            s *= nd->shape[k];
        }
        if (!fortran) {             /* plain C order: stride of the last axis is 1 */
            s = 1;
            for (int k = nd->ndim - 1; k >= 0; k--) {
                fstride[k] = s;
                s *= nd->shape[k];
            }
        }
        for (int64_t i = 0; i < numel; i++) {
            int64_t src = 0;
            for (int k = 0; k < nd->ndim; k++) src += idx[k] * fstride[k];
            const uint8_t *from = raw + (size_t)src * isz;
            uint8_t *to = out + (size_t)i * isz;
            for (size_t b = 0; b < isz; b++) to[b] = swap ? from[isz - 1 - b] : from[b];
            for (int k = nd->ndim - 1; k >= 0; k--) {
                if (++idx[k] < nd->shape[k]) break;
                idx[k] = 0;
            }
        }
    }
    if (swap) {                     /* data is native now: record it in the dtype */
        nd->dtype.byteorder = '<';
        nd->dtype.descr[0] = '<';
    }
    nd->data = out;
    nd->nbytes = nbytes;
    return ITR_OK;
}
