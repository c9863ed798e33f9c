/* h5_write.c - writing tensors and string lists as datasets.
 *
 * Spec: formats.md s4.1. Files come from itr_h5_create (libver earliest..v18);
 * datasets are contiguous and uncompressed (weights and fixtures), created
 * with intermediate groups in one call; 0-d tensors get a scalar dataspace;
 * float data is stored as float32/float64 little-endian, integers as their
 * own little-endian type, bools as int8 0/1, strings as variable-length UTF-8. */
#include "h5_internal.h"

#include <stdlib.h>
#include <string.h>

/* Creates dataset `dset` of file type ftype and shape (ndim, dims); rank 0
 * is a scalar. Refuses to replace an existing object. */
static itr_status create_dataset(itr_h5 *f, const char *dset, hid_t ftype, int ndim,
                                 const hsize_t *dims, hid_t *out) {
    *out = -1;
    if (itr_h5i_kind_of(f, dset) != ITR_H5I_NONE)
        return itr_fail(ITR_E_ARG, "%s: %s: already exists (datasets are written once)", f->path, dset);
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t lcpl = itr_h5i_lcpl();
    if (space >= 0 && lcpl >= 0)
        *out = H5Dcreate2(f->fid, dset, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    if (*out < 0)
        return itr_fail(ITR_E_IO, "%s: %s: cannot create dataset (bad name, or a parent is a dataset?)",
                        f->path, dset);
    return ITR_OK;
}

itr_status itr_h5_write(itr_h5 *f, const char *dset, const itr_tensor *t) {
    itr_status st = itr_h5i_check_args(f, dset, "itr_h5_write");
    if (st) return st;
    if (!t) return itr_fail(ITR_E_ARG, "itr_h5_write: %s: %s: NULL tensor", f->path, dset);
    if (t->ndim < 0 || t->ndim > ITR_MAX_DIMS)
        return itr_fail(ITR_E_ARG, "itr_h5_write: %s: %s: rank %d outside 0..%d", f->path, dset,
                        t->ndim, ITR_MAX_DIMS);
    itr_h5i_quiet();
    if ((st = itr_h5i_check_writable(f, dset))) return st;
    hsize_t dims[ITR_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0)
            return itr_fail(ITR_E_ARG, "itr_h5_write: %s: %s: negative dimension %lld", f->path, dset,
                            (long long)t->shape[i]);
        dims[i] = (hsize_t)t->shape[i];
    }
    int64_t numel = itr_tensor_numel(t);
    if (numel > 0 && !t->data)
        return itr_fail(ITR_E_ARG, "itr_h5_write: %s: %s: tensor has no data", f->path, dset);
    /* float16 / bfloat16 have no HDF5 memory type here: widen to float32. */
    itr_tensor wide = {0};
    const itr_tensor *src = t;
    if (t->dtype == ITR_F16 || t->dtype == ITR_BF16) {
        if ((st = itr_tensor_convert(t, ITR_F32, &wide)))
            return itr_fail_context(st, "%s: %s: widening %s to float32", f->path, dset,
                                    itr_dtype_name(t->dtype));
        src = &wide;
    }
    hid_t did;
    st = create_dataset(f, dset, itr_h5i_file_type(src->dtype), src->ndim, dims, &did);
    if (!st) {
        if (numel > 0 && H5Dwrite(did, itr_h5i_mem_type(src->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                  src->data) < 0)
            st = itr_fail(ITR_E_IO, "%s: %s: cannot write %s data", f->path, dset,
                          itr_dtype_name(src->dtype));
        H5Dclose(did);
    }
    itr_tensor_free(&wide);
    return st;
}

itr_status itr_h5_write_strings(itr_h5 *f, const char *dset, const char *const *strs, size_t n) {
    itr_status st = itr_h5i_check_args(f, dset, "itr_h5_write_strings");
    if (st) return st;
    if (n > 0 && !strs)
        return itr_fail(ITR_E_ARG, "itr_h5_write_strings: %s: %s: NULL string array", f->path, dset);
    for (size_t i = 0; i < n; i++)
        if (!strs[i])
            return itr_fail(ITR_E_ARG, "itr_h5_write_strings: %s: %s: string %zu is NULL", f->path,
                            dset, i);
    if (n > ITR_H5_MAX_STRINGS)
        return itr_fail(ITR_E_LIMIT, "%s: %s: %zu strings exceed the limit %zu", f->path, dset, n,
                        ITR_H5_MAX_STRINGS);
    itr_h5i_quiet();
    if ((st = itr_h5i_check_writable(f, dset))) return st;
    hid_t t = itr_h5i_vlen_utf8();
    if (t < 0) return itr_fail(ITR_E_INTERNAL, "%s: %s: cannot make a string type", f->path, dset);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t did;
    st = create_dataset(f, dset, t, 1, dims, &did);
    if (!st) {
        /* Variable-length strings are written from an array of char pointers. */
        if (n > 0 && H5Dwrite(did, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) < 0)
            st = itr_fail(ITR_E_IO, "%s: %s: cannot write %zu strings", f->path, dset, n);
        H5Dclose(did);
    }
    H5Tclose(t);
    return st;
}
