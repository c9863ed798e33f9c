/* itr/npy.h - NumPy .npy files (formats/numpy). Spec: specs formats.md s2.1
 * (layout and header grammar), s2.2 (object arrays), s5 rule 7 (safety).
 *
 * A .npy file is a small preamble (magic "\x93NUMPY", version, header
 * length), a Python dict literal {'descr', 'fortran_order', 'shape'} and the
 * raw elements. itr parses the dict with a strict literal grammar (nothing is
 * evaluated), checks every size against the file before allocating, and
 * returns tensors in C order and native byte order:
 *
 *   stored descr       in-memory dtype     stored descr       in-memory dtype
 *   f2 / f4 / f8       F16 / F32 / F64     u1                 U8
 *   i1 / i2 / i4 / i8  I8 / I16 / I32 / I64 u2 / u4 / u8      I32 / I64 / I64 (widened;
 *   b1                 BOOL (0/1)                              u8 > INT64_MAX is an error)
 *
 * Byte orders '<', '>', '|' and '=' are accepted ('>' data is swapped).
 * Fortran-ordered files are transposed into C order as they are read.
 * A record dtype whose fields all share one simple type ([('image_w', '<i8'),
 * ('image_h', '<i8')], GSMN's ims_size) reads as one extra trailing axis of
 * length nfields. Object arrays ('|O', a pickle) are refused unless the
 * caller sets allow_pickle, and then go through the safe pickle reader
 * (itr/pickle.h) with itr_npy_load_object.
 *
 * Big feature files (SCAN: 1000 x 36 x 2048 float32, COCO train 33 GB) are
 * read a few rows at a time with itr_npy_open + itr_npy_read_rows: only the
 * requested rows are read from disk, at 64-bit offsets.
 *
 * Every failure message names the file and what was wrong, e.g.
 *   "test_ims.npy: truncated: header promises (1000, 36, 2048) <f4 =
 *    294912000 data bytes at offset 128, the file has 4096 bytes". */
#ifndef ITR_NPY_H
#define ITR_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NumPy's own default bound on the header length (s5 rule 7). */
#define ITR_NPY_MAX_HEADER_DEFAULT 10000
#define ITR_NPY_MAX_FIELDS 16

typedef struct itr_npy_opts {
    size_t max_header_len;    /* 0 = ITR_NPY_MAX_HEADER_DEFAULT            */
    int allow_pickle;         /* 1: object arrays may be loaded (s2.2)     */
} itr_npy_opts;

void itr_npy_opts_default(itr_npy_opts *o);

/* What the preamble and the header dict say. */
typedef struct itr_npy_header {
    int major, minor;             /* format version (1.0, 2.0, 3.0)          */
    uint64_t header_len;          /* HEADER_LEN field of the preamble        */
    uint64_t data_offset;         /* 10 + HEADER_LEN (v1), 12 + HEADER_LEN   */
    char descr[64];               /* simple descr as written ("<f4", "|O");  *
                                   * for records the common field descr      */
    char kind;                    /* 'f' 'i' 'u' 'b' or 'O'                  */
    char byteorder;               /* '<' '>' or '|' ('=' resolved to host)   */
    size_t field_size;            /* bytes of one stored scalar              */
    size_t itemsize;              /* bytes of one stored element (record)    */
    itr_dtype dtype;              /* in-memory dtype (see table above)       */
    int fortran_order;
    int ndim;                     /* rank as written in the file             */
    int64_t shape[ITR_MAX_DIMS];
    int64_t numel;                /* product of shape (1 for a 0-d array)    */
    uint64_t data_bytes;          /* numel * itemsize; 0 for object arrays   */
    int nfields;                  /* 0: simple dtype; > 0: record dtype      */
    char field_names[ITR_NPY_MAX_FIELDS][32];
} itr_npy_header;

/* Parses the preamble and header dict from the first n bytes of a file
 * (n may be the whole file or just a prefix that holds the header).
 * `name` is used in messages. Does not look at the data section. */
itr_status itr_npy_parse_header(const uint8_t *buf, size_t n, const char *name,
                                const itr_npy_opts *opts /* NULL = defaults */,
                                itr_npy_header *h);

/* Rank and shape of the tensors this file reads into: the file's shape,
 * plus a trailing axis of nfields for record dtypes. */
int itr_npy_tensor_shape(const itr_npy_header *h, int64_t *shape /* ITR_MAX_DIMS */);

/* Whole numeric array into a fresh tensor of the in-memory dtype.
 * want: an itr_dtype to convert to (C casts as itr_tensor_convert does;
 * ITR_F32 gives what torch.Tensor(ndarray) gives), or -1 to keep it. */
itr_status itr_npy_load(const char *path, const itr_npy_opts *opts, int want, itr_tensor *out);
/* Same from a buffer holding a complete .npy file (e.g. a member of an .npz). */
itr_status itr_npy_load_mem(const uint8_t *buf, size_t n, const char *name,
                            const itr_npy_opts *opts, int want, itr_tensor *out);

/* ---- streaming rows ---------------------------------------------------- */
typedef struct itr_npy_file itr_npy_file;

/* Opens a numeric .npy file and validates its header and size (the data
 * section must fit in the file); reads no data. */
itr_status itr_npy_open(const char *path, const itr_npy_opts *opts, itr_npy_file **out);
void itr_npy_close(itr_npy_file *f);
const itr_npy_header *itr_npy_header_of(const itr_npy_file *f);
const char *itr_npy_path(const itr_npy_file *f);

/* Reads rows [row0, row0+rows) along axis 0 into a fresh tensor of shape
 * (rows, shape[1:]...) (records: plus the field axis). want as in itr_npy_load. */
itr_status itr_npy_read_rows(itr_npy_file *f, int64_t row0, int64_t rows, int want,
                             itr_tensor *out);
/* Same into a caller buffer of dst_bytes bytes (at least rows * row elements
 * of dtype `want`, which here must be a real itr_dtype), so that a loop over
 * images reuses one buffer. */
itr_status itr_npy_read_rows_into(itr_npy_file *f, int64_t row0, int64_t rows, itr_dtype want,
                                  void *dst, size_t dst_bytes);

/* ---- object arrays (s2.2) ---------------------------------------------- */
struct itr_pyobj;   /* itr/pickle.h */

/* Loads an object array ('|O'): requires opts->allow_pickle. The data section
 * is run through the safe pickle reader; *out is its ITR_PY_NDARRAY value
 * whose u.ndarray.objects list holds the numel elements in C order; its shape
 * is checked against the header. Free with itr_pyobj_free(*out). */
itr_status itr_npy_load_object(const char *path, const itr_npy_opts *opts, struct itr_pyobj **out);
itr_status itr_npy_load_object_mem(const uint8_t *buf, size_t n, const char *name,
                                   const itr_npy_opts *opts, struct itr_pyobj **out);

/* ---- writing ------------------------------------------------------------ */
/* Writes t as a version 1.0 .npy file (C order, native byte order, header
 * padded to a multiple of 64 as NumPy does). F16/BF16 -> '<f2' / rejected. */
itr_status itr_npy_save(const char *path, const itr_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
