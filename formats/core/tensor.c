/* tensor.c - dense contiguous n-d arrays. */
#include "itr/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t itr_dtype_size(itr_dtype t) {
    switch (t) {
    case ITR_F32: case ITR_I32: return 4;
    case ITR_F64: case ITR_I64: return 8;
    case ITR_F16: case ITR_BF16: case ITR_I16: return 2;
    case ITR_I8: case ITR_U8: case ITR_BOOL: return 1;
    }
    return 0;
}

const char *itr_dtype_name(itr_dtype t) {
    switch (t) {
    case ITR_F32: return "float32";
    case ITR_F64: return "float64";
    case ITR_F16: return "float16";
    case ITR_BF16: return "bfloat16";
    case ITR_I8: return "int8";
    case ITR_I16: return "int16";
    case ITR_I32: return "int32";
    case ITR_I64: return "int64";
    case ITR_U8: return "uint8";
    case ITR_BOOL: return "bool";
    }
    return "unknown";
}

int itr_dtype_is_float(itr_dtype t) {
    return t == ITR_F32 || t == ITR_F64 || t == ITR_F16 || t == ITR_BF16;
}

int64_t itr_tensor_numel(const itr_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t itr_tensor_nbytes(const itr_tensor *t) {
    return (size_t)itr_tensor_numel(t) * itr_dtype_size(t->dtype);
}

const char *itr_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, n - used, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
    return buf;
}

int itr_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b) {
    if (ndim_a != ndim_b) return 0;
    for (int i = 0; i < ndim_a; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

itr_status itr_tensor_alloc(itr_tensor *t, itr_dtype dtype, int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > ITR_MAX_DIMS)
        return itr_fail(ITR_E_LIMIT, "tensor rank %d outside 0..%d", ndim, ITR_MAX_DIMS);
    size_t esize = itr_dtype_size(dtype);
    if (esize == 0) return itr_fail(ITR_E_DTYPE, "unknown dtype %d", (int)dtype);
    size_t bytes = esize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return itr_fail(ITR_E_SHAPE, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] > 0 && bytes > ITR_TENSOR_MAX_BYTES / (size_t)shape[i])
            return itr_fail(ITR_E_LIMIT, "tensor larger than %zu bytes", (size_t)ITR_TENSOR_MAX_BYTES);
        bytes *= (size_t)shape[i];
        t->shape[i] = shape[i];
    }
    t->dtype = dtype;
    t->ndim = ndim;
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data) return itr_fail(ITR_E_NOMEM, "out of memory allocating %zu bytes", bytes);
    t->owns = 1;
    return ITR_OK;
}

itr_status itr_tensor_alloc_f32(itr_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t shape[4] = {d0, d1, d2, d3};
    if (ndim > 4) return itr_fail(ITR_E_ARG, "itr_tensor_alloc_f32: rank %d > 4", ndim);
    return itr_tensor_alloc(t, ITR_F32, ndim, shape);
}

void itr_tensor_free(itr_tensor *t) {
    if (!t) return;
    if (t->owns) free(t->data);
    memset(t, 0, sizeof *t);
}

itr_status itr_tensor_slice0(const itr_tensor *t, int64_t start, int64_t count, itr_tensor *view) {
    if (t->ndim < 1) return itr_fail(ITR_E_SHAPE, "slice of a 0-d tensor");
    if (start < 0 || count < 0 || start + count > t->shape[0])
        return itr_fail(ITR_E_ARG, "slice [%lld, %lld) outside axis 0 of size %lld",
                        (long long)start, (long long)(start + count), (long long)t->shape[0]);
    *view = *t;
    view->owns = 0;
    view->shape[0] = count;
    size_t row = itr_dtype_size(t->dtype);
    for (int i = 1; i < t->ndim; i++) row *= (size_t)t->shape[i];
    view->data = (char *)t->data + (size_t)start * row;
    return ITR_OK;
}

itr_status itr_tensor_index0(const itr_tensor *t, int64_t i, itr_tensor *view) {
    itr_status st = itr_tensor_slice0(t, i, 1, view);
    if (st) return st;
    for (int d = 1; d < t->ndim; d++) view->shape[d - 1] = t->shape[d];
    view->ndim = t->ndim - 1;
    view->shape[view->ndim] = 0;
    return ITR_OK;
}

itr_status itr_tensor_reshape(const itr_tensor *t, int ndim, const int64_t *shape, itr_tensor *view) {
    if (ndim < 0 || ndim > ITR_MAX_DIMS) return itr_fail(ITR_E_LIMIT, "reshape rank %d", ndim);
    int64_t n = itr_tensor_numel(t), known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) return itr_fail(ITR_E_ARG, "reshape: more than one -1");
            infer = i;
        } else if (shape[i] < 0) {
            return itr_fail(ITR_E_SHAPE, "reshape: negative dimension");
        } else {
            known *= shape[i];
        }
    }
    *view = *t;
    view->owns = 0;
    view->ndim = ndim;
    for (int i = 0; i < ndim; i++) view->shape[i] = shape[i];
    if (infer >= 0) {
        if (known == 0 || n % known) return itr_fail(ITR_E_SHAPE, "reshape: %lld elements do not fit", (long long)n);
        view->shape[infer] = n / known;
    } else if (known != n) {
        char a[128], b[128];
        return itr_fail(ITR_E_SHAPE, "reshape %s to %s changes the element count",
                        itr_shape_str(t->ndim, t->shape, a, sizeof a), itr_shape_str(ndim, shape, b, sizeof b));
    }
    return ITR_OK;
}

/* IEEE half and bfloat16 to float, for checkpoints saved in reduced precision. */
static float half_to_float(uint16_t h) {
    int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

static float bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

double itr_tensor_get(const itr_tensor *t, int64_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case ITR_F32: return ((const float *)p)[i];
    case ITR_F64: return ((const double *)p)[i];
    case ITR_F16: return half_to_float(((const uint16_t *)p)[i]);
    case ITR_BF16: return bf16_to_float(((const uint16_t *)p)[i]);
    case ITR_I8: return ((const int8_t *)p)[i];
    case ITR_I16: return ((const int16_t *)p)[i];
    case ITR_I32: return ((const int32_t *)p)[i];
    case ITR_I64: return (double)((const int64_t *)p)[i];
    case ITR_U8: return ((const uint8_t *)p)[i];
    case ITR_BOOL: return ((const uint8_t *)p)[i] != 0;
    }
    return 0.0;
}

static int64_t get_i64(const itr_tensor *t, int64_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case ITR_I8: return ((const int8_t *)p)[i];
    case ITR_I16: return ((const int16_t *)p)[i];
    case ITR_I32: return ((const int32_t *)p)[i];
    case ITR_I64: return ((const int64_t *)p)[i];
    case ITR_U8: return ((const uint8_t *)p)[i];
    case ITR_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return (int64_t)itr_tensor_get(t, i);
    }
}

itr_status itr_tensor_convert(const itr_tensor *src, itr_dtype dtype, itr_tensor *dst) {
    itr_tensor out;
    itr_status st = itr_tensor_alloc(&out, dtype, src->ndim, src->shape);
    if (st) return st;
    int64_t n = itr_tensor_numel(src);
    if (src->dtype == dtype) {
        memcpy(out.data, src->data, itr_tensor_nbytes(src));
    } else {
        for (int64_t i = 0; i < n; i++) {
            switch (dtype) {
            case ITR_F32: ((float *)out.data)[i] = (float)itr_tensor_get(src, i); break;
            case ITR_F64: ((double *)out.data)[i] = itr_tensor_get(src, i); break;
            case ITR_I8: ((int8_t *)out.data)[i] = (int8_t)get_i64(src, i); break;
            case ITR_I16: ((int16_t *)out.data)[i] = (int16_t)get_i64(src, i); break;
            case ITR_I32: ((int32_t *)out.data)[i] = (int32_t)get_i64(src, i); break;
            case ITR_I64: ((int64_t *)out.data)[i] = get_i64(src, i); break;
            case ITR_U8: ((uint8_t *)out.data)[i] = (uint8_t)get_i64(src, i); break;
            case ITR_BOOL: ((uint8_t *)out.data)[i] = itr_tensor_get(src, i) != 0.0; break;
            case ITR_F16: case ITR_BF16:
                itr_tensor_free(&out);
                return itr_fail(ITR_E_UNSUPPORTED, "conversion to %s", itr_dtype_name(dtype));
            }
        }
    }
    *dst = out;
    return ITR_OK;
}
