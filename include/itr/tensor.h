/* itr/tensor.h - a small dense n-d array: dtype, shape, contiguous C-order data.
 *
 * A tensor either owns its buffer (owns = 1, freed by itr_tensor_free) or is a
 * view into another tensor's buffer (owns = 0; itr_tensor_free only resets it).
 * All data is contiguous row-major; views select along the first axis. */
#ifndef ITR_TENSOR_H
#define ITR_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITR_MAX_DIMS 8

typedef enum itr_dtype {
    ITR_F32 = 0, ITR_F64, ITR_F16, ITR_BF16,
    ITR_I8, ITR_I16, ITR_I32, ITR_I64, ITR_U8, ITR_BOOL
} itr_dtype;

typedef struct itr_tensor {
    itr_dtype dtype;
    int ndim;                         /* 0 = scalar                     */
    int64_t shape[ITR_MAX_DIMS];
    void *data;
    int owns;
} itr_tensor;

size_t      itr_dtype_size(itr_dtype t);
const char *itr_dtype_name(itr_dtype t);      /* "float32", "int64", ... */
int         itr_dtype_is_float(itr_dtype t);

int64_t itr_tensor_numel(const itr_tensor *t);
size_t  itr_tensor_nbytes(const itr_tensor *t);

/* Allocates a zero-filled tensor. Fails (ITR_E_LIMIT) on negative dims,
 * overflow or more than ITR_TENSOR_MAX_BYTES. */
#define ITR_TENSOR_MAX_BYTES ((size_t)1 << 36)  /* 64 GiB */
itr_status itr_tensor_alloc(itr_tensor *t, itr_dtype dtype, int ndim, const int64_t *shape);
/* Convenience for float32 of up to 4 dims (unused trailing dims = 0 / ignored). */
itr_status itr_tensor_alloc_f32(itr_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
void itr_tensor_free(itr_tensor *t);

/* A view of rows [start, start+count) along axis 0 (count rows kept as dim 0). */
itr_status itr_tensor_slice0(const itr_tensor *t, int64_t start, int64_t count, itr_tensor *view);
/* A view of one index along axis 0 (rank drops by one). */
itr_status itr_tensor_index0(const itr_tensor *t, int64_t i, itr_tensor *view);
/* Same data, new shape with the same element count (-1 allowed once). */
itr_status itr_tensor_reshape(const itr_tensor *t, int ndim, const int64_t *shape, itr_tensor *view);

/* Deep copy converting to dtype (float <-> int conversions are C casts). */
itr_status itr_tensor_convert(const itr_tensor *src, itr_dtype dtype, itr_tensor *dst);
/* Element i (flat) as double, any dtype. */
double itr_tensor_get(const itr_tensor *t, int64_t i);

/* "(4, 36, 2048)" into buf. */
const char *itr_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
int itr_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);

static inline float  *itr_f32(const itr_tensor *t) { return (float *)t->data; }
static inline double *itr_f64(const itr_tensor *t) { return (double *)t->data; }
static inline int64_t *itr_i64(const itr_tensor *t) { return (int64_t *)t->data; }

#ifdef __cplusplus
}
#endif
#endif
