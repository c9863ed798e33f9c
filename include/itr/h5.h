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
#include "itr/config.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_h5 itr_h5;

/* Open read-only. Missing / unreadable file: ITR_E_IO; no HDF5 signature
 * (at offset 0, 512, 1024, ...) or a damaged file: ITR_E_FORMAT. */
itr_status itr_h5_open(const char *path, itr_h5 **out);
/* Create for writing (truncates); libver bounds earliest..v18 (s4.1). */
itr_status itr_h5_create(const char *path, itr_h5 **out);
void itr_h5_close(itr_h5 *f);
const char *itr_h5_path(const itr_h5 *f);

/* 1 if the object (group or dataset) exists, 0 otherwise. Paths are
 * absolute ("/outputs/sims") or relative to the root; "/" is the root, "" is
 * nothing; a path through a dataset or a dangling soft link gives 0. */
int itr_h5_exists(itr_h5 *f, const char *obj);
int itr_h5_attr_exists(itr_h5 *f, const char *obj, const char *name);

/* Attributes of object `obj` ("/" for the root). Strings may be variable- or
 * fixed-length (NULLPAD or NULLTERM), ASCII or UTF-8; *out is malloc'ed.
 * Numeric attributes of any integer/float type convert. Missing -> ITR_E_KEY. */
itr_status itr_h5_attr_str(itr_h5 *f, const char *obj, const char *name, char **out);
itr_status itr_h5_attr_f64(itr_h5 *f, const char *obj, const char *name, double *out);
itr_status itr_h5_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t *out);

/* Names of the links in a group, in index (name) order; free with
 * itr_h5_free_names. An empty group gives *n = 0 (and a freeable array). */
itr_status itr_h5_list(itr_h5 *f, const char *group, char ***names, size_t *n);
void itr_h5_free_names(char **names, size_t n);

/* Stored element type and shape of a dataset (numeric only: strings and
 * compounds are ITR_E_DTYPE). `shape` needs ITR_MAX_DIMS entries; any of the
 * outputs may be NULL. Unsigned 16/32/64-bit report the next signed type;
 * an integer enum (h5py's bool) reports its base integer type. */
itr_status itr_h5_info(itr_h5 *f, const char *dset, itr_dtype *stored, int *ndim, int64_t *shape);

/* Reads a numeric dataset converted to `want` (HDF5 converts: any stored
 * int -> any int or float, float32 <-> float64). Checks, all before
 * allocating: the dataset exists (ITR_E_KEY); it is numeric, and float data
 * is never read as an integer or bool (ITR_E_DTYPE); ndim >= 0 requires
 * that rank and every non-negative entry of `shape` (may be NULL) to match
 * (ITR_E_SHAPE, message shows both shapes); empty datasets (a zero
 * dimension) are ITR_E_SHAPE unless allow_empty; rank > ITR_MAX_DIMS or
 * more than ITR_TENSOR_MAX_BYTES is ITR_E_LIMIT. Scalar dataspaces give
 * ndim 0. ITR_BOOL reads give 0/1; want = float16/bfloat16 is
 * ITR_E_UNSUPPORTED. On failure *out is an empty tensor. */
typedef struct itr_h5_read_opts {
    int ndim;                 /* -1: any rank                         */
    const int64_t *shape;     /* NULL or ndim entries, -1 = any        */
    int allow_empty;
} itr_h5_read_opts;
itr_status itr_h5_read(itr_h5 *f, const char *dset, itr_dtype want,
                       const itr_h5_read_opts *opts /* NULL = any shape, non-empty */,
                       itr_tensor *out);
/* Reads rows [row0, row0+rows) along axis 0 of a dataset (hyperslab), e.g.
 * one image of a feature file. rows = 0 gives an empty tensor; a range
 * outside the dataset or a scalar dataset is ITR_E_SHAPE. */
itr_status itr_h5_read_rows(itr_h5 *f, const char *dset, itr_dtype want,
                            int64_t row0, int64_t rows, itr_tensor *out);
/* Reads a 1-D (or scalar) string dataset, variable- or fixed-length;
 * free with itr_h5_free_names. A numeric dataset is ITR_E_DTYPE. */
itr_status itr_h5_read_strings(itr_h5 *f, const char *dset, char ***strs, size_t *n);

/* Writers (create intermediate groups; a dataset is written once, an
 * existing one is ITR_E_ARG). Float data is written as stored in t (float32
 * / float64; float16 / bfloat16 widen to float32), integers as their own
 * little-endian type (int64 for int64), bools as int8 0/1, 0-d tensors as
 * scalar dataspaces, strings as a 1-D variable-length UTF-8 dataset.
 * Attribute setters write scalars (strings variable-length UTF-8) and
 * replace an existing attribute; itr_h5_make_group is a no-op for an
 * existing group. Writing to a file opened with itr_h5_open is ITR_E_ARG. */
itr_status itr_h5_write(itr_h5 *f, const char *dset, const itr_tensor *t);
itr_status itr_h5_write_strings(itr_h5 *f, const char *dset, const char *const *strs, size_t n);
itr_status itr_h5_set_attr_str(itr_h5 *f, const char *obj, const char *name, const char *v);
itr_status itr_h5_set_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t v);
itr_status itr_h5_set_attr_f64(itr_h5 *f, const char *obj, const char *name, double v);
itr_status itr_h5_set_attr_i8(itr_h5 *f, const char *obj, const char *name, int8_t v);   /* booleans */
itr_status itr_h5_make_group(itr_h5 *f, const char *group);

/* Loads every /weights/<group>/<key> dataset into w, which the caller has
 * initialised (itr_weights_init; w->source is set to the file path when
 * NULL). Floating data as float32, integers (and bools) as int64; 0-d and
 * empty tensors allowed. Groups are added in numeric order ("2" before
 * "10"), then named groups alphabetically; keys in name order. A file
 * without /weights is ITR_E_KEY; a non-group under /weights or a non-dataset
 * in a group is ITR_E_FORMAT; on failure w keeps what was loaded so far. */
itr_status itr_h5_load_weights(itr_h5 *f, itr_weights *w);
/* Writes w as /weights/<group>/<key> (key verbatim; a group or key that is
 * empty, ".", "..", or contains '/' is ITR_E_ARG) with attribute
 * torch_dtype = the stored type ("torch.float32", "torch.int64",
 * "torch.bool"); floats are stored as float32 and integers as int64, and
 * when that changes the type, attribute orig_dtype names the original
 * ("torch.float64"). /weights is created even for an empty store. */
itr_status itr_h5_save_weights(itr_h5 *f, const itr_weights *w);

/* ---- Converted-weights files (formats.md s4.2) -------------------------- */

/* Provenance written as root attributes of a converted-weights file; NULL
 * strings and negative / NaN numbers are left out. */
typedef struct itr_h5_weights_meta {
    const char *model, *variant, *upstream;
    const char *checkpoint;       /* source file basename            */
    const char *container;        /* "torch-legacy" | "torch-zip"     */
    const char *state_dict_path;  /* "model" for list checkpoints, "" for flat dicts */
    int64_t epoch, eiters;        /* < 0: absent                      */
    double best_rsum, best_loss;  /* NaN: absent                      */
} itr_h5_weights_meta;

/* Writes the whole s4.2 layout to `path`: root attrs itr_kind = "weights",
 * itr_version = 1 and the provenance; /config with one typed attribute per
 * opt field (int64, float64, int8 for bools, UTF-8 strings, "None" for None,
 * lists as their JSON text) plus "_json" = every field as one JSON object;
 * /weights/<group>/<key>. opt may be NULL. */
itr_status itr_h5_write_weights_file(const char *path, const itr_weights *w, const itr_config *opt,
                                     const itr_h5_weights_meta *meta);

#ifdef __cplusplus
}
#endif
#endif
