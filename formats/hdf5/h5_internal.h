/* h5_internal.h - shared pieces of formats/hdf5 (not installed, not public).
 *
 * The public interface is include/itr/h5.h. Everything here is used by more
 * than one .c file of this folder; names use the prefix itr_h5i_ ("internal").
 * Spec: formats.md s4.1 (conventions) and s4.5 (HDF5 from C99). */
#ifndef ITR_H5_INTERNAL_H
#define ITR_H5_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "itr/h5.h"

/* An open file. `path` is kept for every error message. */
struct itr_h5 {
    hid_t fid;
    char *path;
    int writable;
};

/* Safety bounds checked before anything is allocated (formats.md s5). */
#define ITR_H5_MAX_NAME    ((size_t)1 << 16)  /* one link name, in bytes       */
#define ITR_H5_MAX_LINKS   ((size_t)1 << 24)  /* links in one group            */
#define ITR_H5_MAX_STRINGS ((size_t)1 << 26)  /* strings in one dataset        */
#define ITR_H5_MAX_STRLEN  ((size_t)1 << 28)  /* bytes of one fixed-size string */

/* Turns off HDF5's automatic error-stack printing for the calling thread
 * (library code never prints). Called at every public entry point because
 * the thread-safe build keeps one error stack per thread. */
void itr_h5i_quiet(void);

/* malloc'ed copy of s (strdup is not C99); NULL when out of memory. */
char *itr_h5i_strdup(const char *s);
/* malloc'ed copy of the first n bytes of s plus a NUL. */
char *itr_h5i_strndup(const char *s, size_t n);

/* Validates the common arguments of a public call: f and the object path
 * must be non-NULL. `fn` names the public function for the message. */
itr_status itr_h5i_check_args(const itr_h5 *f, const char *obj, const char *fn);
/* Fails with ITR_E_ARG unless the file was created for writing. */
itr_status itr_h5i_check_writable(const itr_h5 *f, const char *obj);

/* What a path names: nothing, a group, a dataset, or another object kind
 * (a committed datatype). Intermediate components that are missing or not
 * groups give ITR_H5I_NONE, never an HDF5 error. */
typedef enum { ITR_H5I_NONE = 0, ITR_H5I_GROUP, ITR_H5I_DATASET, ITR_H5I_OTHER } itr_h5i_kind;
itr_h5i_kind itr_h5i_kind_of(itr_h5 *f, const char *obj);

/* Opens a dataset / group by path; ITR_E_KEY when it is missing or is the
 * wrong kind of object. The caller closes the handle. */
itr_status itr_h5i_open_dataset(itr_h5 *f, const char *dset, hid_t *out);
itr_status itr_h5i_open_group(itr_h5 *f, const char *group, hid_t *out);

/* Link-creation property list with "create intermediate groups" set. */
hid_t itr_h5i_lcpl(void);

/* ---- types (h5_types.c) ------------------------------------------------ */

/* Storage class of an HDF5 datatype, as the readers see it. An enum with an
 * integer base (h5py's numpy bool) counts as an integer. */
typedef enum {
    ITR_H5I_CLASS_INT, ITR_H5I_CLASS_FLOAT, ITR_H5I_CLASS_STRING, ITR_H5I_CLASS_OTHER
} itr_h5i_class;
itr_h5i_class itr_h5i_class_of(hid_t type);
/* "int64", "float32", "string", "enum", "compound" ... for messages. */
const char *itr_h5i_type_name(hid_t type, char *buf, size_t n);
/* The itr dtype closest to a stored numeric type (unsigned 16/32/64-bit
 * widen to the next signed type; float16 -> ITR_F16). Returns 0 (and leaves
 * *out alone) for a type that is not numeric. */
int itr_h5i_stored_dtype(hid_t type, itr_dtype *out);
/* Native memory type used to read into / write from an itr dtype; -1 for
 * dtypes HDF5 cannot convert to (float16, bfloat16). Not to be closed. */
hid_t itr_h5i_mem_type(itr_dtype d);
/* Little-endian file type used to store an itr dtype (formats.md s4.1:
 * float32/float64, int8..int64, uint8; bool as int8). Not to be closed. */
hid_t itr_h5i_file_type(itr_dtype d);

/* Where numeric values are read from: an attribute, or a dataset with an
 * optional selection (memspace/filespace H5S_ALL for the whole dataset). */
typedef struct itr_h5i_src {
    hid_t id;
    int is_attr;
    hid_t memspace, filespace;
} itr_h5i_src;

/* ITR_OK when data of stored type `ftype` may be read as `want`: numeric,
 * and not float data read as an integer. */
itr_status itr_h5i_check_numeric(hid_t ftype, itr_dtype want, const char *file, const char *obj);

/* Reads n numeric values of stored type `ftype` from src into buf as dtype
 * `want`, enforcing the class rules of h5.h (strings and other classes are
 * never numbers, floats never become integers). `file`/`obj` name the
 * object in messages. */
itr_status itr_h5i_read_numeric(const itr_h5i_src *src, hid_t ftype, size_t n,
                                itr_dtype want, void *buf, const char *file, const char *obj);

/* Reads n strings (variable- or fixed-length, any cset and padding) of type
 * `ftype` from src; *out is a malloc'ed array of n malloc'ed strings. */
itr_status itr_h5i_read_strings(const itr_h5i_src *src, hid_t ftype, size_t n,
                                char ***out, const char *file, const char *obj);

/* A variable-length UTF-8 string type (what writers use); the caller closes it. */
hid_t itr_h5i_vlen_utf8(void);

/* Dataspace shape as int64 (rank 0 for scalars). ITR_E_LIMIT above
 * ITR_MAX_DIMS; ITR_E_SHAPE for a null dataspace. */
itr_status itr_h5i_space_shape(hid_t space, int *ndim, int64_t *shape,
                               const char *file, const char *obj);

/* Checks that numel(shape) * elem bytes stays under ITR_TENSOR_MAX_BYTES,
 * without overflow; *numel receives the element count. */
itr_status itr_h5i_check_size(int ndim, const int64_t *shape, size_t elem, int64_t *numel,
                              const char *file, const char *obj);

#endif
