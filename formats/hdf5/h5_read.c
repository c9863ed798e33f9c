/* h5_read.c - reading datasets: shape/type queries, whole tensors, row ranges, strings.
 *
 * Spec: formats.md s4.1 (numeric datasets, scalar dataspaces for 0-d, UTF-8
 * strings) and s4.3 (a feature file is read one image row at a time with a
 * hyperslab). Every check that can fail runs before anything is allocated:
 * dtype class, rank, shape, emptiness, then the byte size against
 * ITR_TENSOR_MAX_BYTES. */
#include "h5_internal.h"

#include <stdlib.h>
#include <string.h>

/* The open pieces of one dataset read; close_parts releases what is open. */
typedef struct read_parts {
    hid_t did, ftype, fspace, mspace;
} read_parts;

static void close_parts(read_parts *p) {
    if (p->mspace >= 0) H5Sclose(p->mspace);
    if (p->fspace >= 0) H5Sclose(p->fspace);
    if (p->ftype >= 0) H5Tclose(p->ftype);
    if (p->did >= 0) H5Dclose(p->did);
}

/* Opens dataset, its type and dataspace, and reads the stored shape. */
static itr_status open_parts(itr_h5 *f, const char *dset, read_parts *p, int *ndim, int64_t *shape) {
    p->did = p->ftype = p->fspace = p->mspace = -1;
    itr_status st = itr_h5i_open_dataset(f, dset, &p->did);
    if (st) return st;
    p->ftype = H5Dget_type(p->did);
    p->fspace = H5Dget_space(p->did);
    if (p->ftype < 0 || p->fspace < 0)
        return itr_fail(ITR_E_FORMAT, "%s: %s: unreadable type or dataspace", f->path, dset);
    return itr_h5i_space_shape(p->fspace, ndim, shape, f->path, dset);
}

itr_status itr_h5_info(itr_h5 *f, const char *dset, itr_dtype *stored, int *ndim, int64_t *shape) {
    itr_status st = itr_h5i_check_args(f, dset, "itr_h5_info");
    if (st) return st;
    itr_h5i_quiet();
    read_parts p;
    int r = 0;
    int64_t dims[ITR_MAX_DIMS];
    itr_dtype d = ITR_F32;
    st = open_parts(f, dset, &p, &r, dims);
    if (!st && !itr_h5i_stored_dtype(p.ftype, &d)) {
        char tn[32];
        st = itr_fail(ITR_E_DTYPE, "%s: %s: stored as %s, not numeric", f->path, dset,
                      itr_h5i_type_name(p.ftype, tn, sizeof tn));
    }
    close_parts(&p);
    if (st) return st;
    if (stored) *stored = d;
    if (ndim) *ndim = r;
    if (shape) memcpy(shape, dims, (size_t)r * sizeof *shape);
    return ITR_OK;
}

/* Rank and shape requirements of itr_h5_read_opts; both shapes in the message. */
static itr_status check_opts(const itr_h5 *f, const char *dset, const itr_h5_read_opts *o,
                             int ndim, const int64_t *shape) {
    char want[256], got[256];
    int bad = 0;
    if (o->ndim >= 0) {
        if (o->ndim > ITR_MAX_DIMS)
            return itr_fail(ITR_E_ARG, "%s: %s: requested rank %d exceeds %d", f->path, dset, o->ndim,
                            ITR_MAX_DIMS);
        bad = ndim != o->ndim;
        for (int i = 0; !bad && o->shape && i < ndim; i++)
            bad = o->shape[i] >= 0 && o->shape[i] != shape[i];
    }
    if (!bad) return ITR_OK;
    itr_shape_str(ndim, shape, got, sizeof got);
    if (o->shape) itr_shape_str(o->ndim, o->shape, want, sizeof want);
    if (ndim != o->ndim)
        return itr_fail(ITR_E_SHAPE, "%s: %s: expected rank %d%s%s, found rank %d %s", f->path, dset,
                        o->ndim, o->shape ? " " : "", o->shape ? want : "", ndim, got);
    return itr_fail(ITR_E_SHAPE, "%s: %s: expected shape %s (-1 = any), found %s", f->path, dset,
                    want, got);
}

/* Shared body of itr_h5_read (rows < 0) and itr_h5_read_rows (rows >= 0). */
static itr_status read_impl(itr_h5 *f, const char *dset, itr_dtype want, const itr_h5_read_opts *opts,
                            int64_t row0, int64_t rows, itr_tensor *out, const char *fn) {
    if (!out) return itr_fail(ITR_E_ARG, "%s: NULL output tensor", fn);
    memset(out, 0, sizeof *out);
    itr_status st = itr_h5i_check_args(f, dset, fn);
    if (st) return st;
    itr_h5i_quiet();
    read_parts p;
    int ndim = 0;
    int64_t shape[ITR_MAX_DIMS];
    int64_t numel = 0;
    st = open_parts(f, dset, &p, &ndim, shape);
    if (!st) st = itr_h5i_check_numeric(p.ftype, want, f->path, dset);
    if (!st && rows < 0) {
        itr_h5_read_opts any = {-1, NULL, 0};
        st = check_opts(f, dset, opts ? opts : &any, ndim, shape);
    }
    if (!st && rows >= 0) {
        char sb[256];
        if (ndim == 0)
            st = itr_fail(ITR_E_SHAPE, "%s: %s: a scalar dataset has no rows", f->path, dset);
        else if (row0 < 0 || row0 > shape[0] || rows > shape[0] - row0)
            st = itr_fail(ITR_E_SHAPE, "%s: %s: rows [%lld, %lld) outside shape %s", f->path, dset,
                          (long long)row0, (long long)(row0 + rows),
                          itr_shape_str(ndim, shape, sb, sizeof sb));
        else
            shape[0] = rows;
    }
    if (!st) st = itr_h5i_check_size(ndim, shape, itr_dtype_size(want), &numel, f->path, dset);
    if (!st && numel == 0 && rows < 0 && !(opts && opts->allow_empty)) {
        char sb[256];
        st = itr_fail(ITR_E_SHAPE, "%s: %s: empty dataset, shape %s", f->path, dset,
                      itr_shape_str(ndim, shape, sb, sizeof sb));
    }
    if (!st && numel > 0 && rows >= 0) {
        /* A hyperslab of whole rows: start (row0, 0, ...), count = the out shape. */
        hsize_t start[ITR_MAX_DIMS], count[ITR_MAX_DIMS];
        for (int i = 0; i < ndim; i++) {
            start[i] = i == 0 ? (hsize_t)row0 : 0;
            count[i] = (hsize_t)shape[i];
        }
        p.mspace = H5Screate_simple(ndim, count, NULL);
        if (p.mspace < 0 || H5Sselect_hyperslab(p.fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            st = itr_fail(ITR_E_FORMAT, "%s: %s: cannot select rows [%lld, %lld)", f->path, dset,
                          (long long)row0, (long long)(row0 + rows));
    }
    if (!st) st = itr_tensor_alloc(out, want, ndim, shape);
    if (!st && numel > 0) {
        itr_h5i_src src = {p.did, 0, p.mspace >= 0 ? p.mspace : H5S_ALL,
                           p.mspace >= 0 ? p.fspace : H5S_ALL};
        st = itr_h5i_read_numeric(&src, p.ftype, (size_t)numel, want, out->data, f->path, dset);
    }
    close_parts(&p);
    if (st) itr_tensor_free(out);
    return st;
}

itr_status itr_h5_read(itr_h5 *f, const char *dset, itr_dtype want, const itr_h5_read_opts *opts,
                       itr_tensor *out) {
    return read_impl(f, dset, want, opts, 0, -1, out, "itr_h5_read");
}

itr_status itr_h5_read_rows(itr_h5 *f, const char *dset, itr_dtype want, int64_t row0, int64_t rows,
                            itr_tensor *out) {
    if (rows < 0) {
        if (out) memset(out, 0, sizeof *out);
        return itr_fail(ITR_E_ARG, "itr_h5_read_rows: %s: %s: negative row count %lld",
                        f ? f->path : "?", dset ? dset : "?", (long long)rows);
    }
    return read_impl(f, dset, want, NULL, row0, rows, out, "itr_h5_read_rows");
}

itr_status itr_h5_read_strings(itr_h5 *f, const char *dset, char ***strs, size_t *n) {
    itr_status st = itr_h5i_check_args(f, dset, "itr_h5_read_strings");
    if (st) return st;
    if (!strs || !n) return itr_fail(ITR_E_ARG, "itr_h5_read_strings: %s: NULL output", f->path);
    *strs = NULL;
    *n = 0;
    itr_h5i_quiet();
    read_parts p;
    int ndim = 0;
    int64_t shape[ITR_MAX_DIMS];
    st = open_parts(f, dset, &p, &ndim, shape);
    if (!st && itr_h5i_class_of(p.ftype) != ITR_H5I_CLASS_STRING) {
        char tn[32];
        st = itr_fail(ITR_E_DTYPE, "%s: %s: stored as %s, not as strings", f->path, dset,
                      itr_h5i_type_name(p.ftype, tn, sizeof tn));
    }
    if (!st && ndim > 1) {
        char sb[256];
        st = itr_fail(ITR_E_SHAPE, "%s: %s: expected a 1-D or scalar string dataset, found shape %s",
                      f->path, dset, itr_shape_str(ndim, shape, sb, sizeof sb));
    }
    size_t count = 0;
    if (!st) {
        count = ndim == 0 ? 1 : (size_t)shape[0];
        itr_h5i_src src = {p.did, 0, H5S_ALL, H5S_ALL};
        st = itr_h5i_read_strings(&src, p.ftype, count, strs, f->path, dset);
    }
    close_parts(&p);
    if (!st) *n = count;
    return st;
}
