/* itr/h5.h - HDF5 files: golden fixtures, converted weights, saved matrices
 * (formats/hdf5). Layouts: specs formats.md s4 and fixtures/GOLDEN_README.md.
 *
 * Every failure message names the file and the object path, e.g.
 *   "case.h5: /outputs/sims: expected rank 2, found rank 1". */
#ifndef ITR_H5_H
#define ITR_H5_H

#include <stddef.h>
#include <stdint.h>
#include "itr/tensor.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_h5 itr_h5;

itr_status itr_h5_open(const char *path, itr_h5 **out);      /* read-only */
itr_status itr_h5_create(const char *path, itr_h5 **out);    /* truncates; libver 1.8 */
void itr_h5_close(itr_h5 *f);
const char *itr_h5_path(const itr_h5 *f);

/* 1 if the object (group or dataset) exists, 0 otherwise. */
int itr_h5_exists(itr_h5 *f, const char *obj);
int itr_h5_attr_exists(itr_h5 *f, const char *obj, const char *name);

/* Attributes of object `obj` ("/" for the root). Strings may be variable- or
 * fixed-length (NULLPAD or NULLTERM), ASCII or UTF-8; *out is malloc'ed.
 * Numeric attributes of any integer/float type convert. Missing -> ITR_E_KEY. */
itr_status itr_h5_attr_str(itr_h5 *f, const char *obj, const char *name, char **out);
itr_status itr_h5_attr_f64(itr_h5 *f, const char *obj, const char *name, double *out);
itr_status itr_h5_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t *out);

/* Names of the links in a group, in index (name) order; free with itr_h5_free_names. */
itr_status itr_h5_list(itr_h5 *f, const char *group, char ***names, size_t *n);
void itr_h5_free_names(char **names, size_t n);

/* Stored element type and shape of a dataset (numeric only). */
itr_status itr_h5_info(itr_h5 *f, const char *dset, itr_dtype *stored, int *ndim, int64_t *shape);

/* Reads a numeric dataset converted to `want`. Checks: the dataset exists,
 * is numeric, integer data is not read as float unless allowed below (and
 * float never as integer): ITR_E_DTYPE; ndim >= 0 requires that rank and
 * every non-negative entry of `shape` (may be NULL) to match: ITR_E_SHAPE.
 * Empty datasets (a zero dimension) are ITR_E_SHAPE unless allow_empty.
 * Integer -> float conversion is allowed (ranks stored as float64 etc.). */
typedef struct itr_h5_read_opts {
    int ndim;                 /* -1: any rank                         */
    const int64_t *shape;     /* NULL or ndim entries, -1 = any        */
    int allow_empty;
} itr_h5_read_opts;
itr_status itr_h5_read(itr_h5 *f, const char *dset, itr_dtype want,
                       const itr_h5_read_opts *opts /* NULL = any shape, non-empty */,
                       itr_tensor *out);
/* Reads rows [row0, row0+rows) along axis 0 of a dataset (hyperslab). */
itr_status itr_h5_read_rows(itr_h5 *f, const char *dset, itr_dtype want,
                            int64_t row0, int64_t rows, itr_tensor *out);
/* Reads a 1-D (or scalar) string dataset; free with itr_h5_free_names. */
itr_status itr_h5_read_strings(itr_h5 *f, const char *dset, char ***strs, size_t *n);

/* Writers (create intermediate groups). Float data is written as stored in
 * t (float32 / float64), integers as int64 unless the tensor is another int. */
itr_status itr_h5_write(itr_h5 *f, const char *dset, const itr_tensor *t);
itr_status itr_h5_write_strings(itr_h5 *f, const char *dset, const char *const *strs, size_t n);
itr_status itr_h5_set_attr_str(itr_h5 *f, const char *obj, const char *name, const char *v);
itr_status itr_h5_set_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t v);
itr_status itr_h5_set_attr_f64(itr_h5 *f, const char *obj, const char *name, double v);
itr_status itr_h5_make_group(itr_h5 *f, const char *group);

/* Loads every /weights/<group>/<key> dataset into w (floating data as
 * float32, integers as int64). A file without /weights is ITR_E_KEY. */
itr_status itr_h5_load_weights(itr_h5 *f, itr_weights *w);
/* Writes w as /weights/<group>/<key> with attribute torch_dtype. */
itr_status itr_h5_save_weights(itr_h5 *f, const itr_weights *w);

#ifdef __cplusplus
}
#endif
#endif
