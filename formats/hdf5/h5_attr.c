/* h5_attr.c - attributes of groups and datasets: read any stored kind, write ours.
 *
 * Spec: formats.md s4.1. Golden fixtures (h5py) hold scalar attributes:
 * variable-length UTF-8 strings, int32/int64 integers, float64 tolerances.
 * Readers also take fixed-length strings and one-element 1-D attributes;
 * writers make scalar attributes, strings as variable-length UTF-8. */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "<obj> attribute '<name>'" for messages. */
static const char *attr_label(const char *obj, const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s: attribute '%s'", obj, name);
    return buf;
}

/* Opens attribute `name` of `obj` and checks it holds exactly one value.
 * On success *aid and *atype are open and the caller closes both. */
static itr_status open_one(itr_h5 *f, const char *obj, const char *name, const char *fn,
                           hid_t *aid, hid_t *atype) {
    *aid = *atype = -1;
    itr_status st = itr_h5i_check_args(f, obj, fn);
    if (st) return st;
    if (!name) return itr_fail(ITR_E_ARG, "%s: %s: %s: NULL attribute name", fn, f->path, obj);
    itr_h5i_quiet();
    if (itr_h5i_kind_of(f, obj) == ITR_H5I_NONE)
        return itr_fail(ITR_E_KEY, "%s: %s: no such object (looking for attribute '%s')", f->path,
                        obj, name);
    if (H5Aexists_by_name(f->fid, obj, name, H5P_DEFAULT) <= 0)
        return itr_fail(ITR_E_KEY, "%s: %s: no attribute '%s'", f->path, obj, name);
    char label[512];
    *aid = H5Aopen_by_name(f->fid, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*aid < 0)
        return itr_fail(ITR_E_FORMAT, "%s: %s: cannot open", f->path,
                        attr_label(obj, name, label, sizeof label));
    hid_t space = H5Aget_space(*aid);
    *atype = H5Aget_type(*aid);
    hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (*atype < 0 || npoints < 0)
        st = itr_fail(ITR_E_FORMAT, "%s: %s: unreadable type or dataspace", f->path,
                      attr_label(obj, name, label, sizeof label));
    else if (npoints != 1)
        st = itr_fail(ITR_E_SHAPE, "%s: %s: holds %lld values, expected a single value", f->path,
                      attr_label(obj, name, label, sizeof label), (long long)npoints);
    if (st) {
        if (*atype >= 0) H5Tclose(*atype);
        H5Aclose(*aid);
        *aid = *atype = -1;
    }
    return st;
}

itr_status itr_h5_attr_str(itr_h5 *f, const char *obj, const char *name, char **out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_h5_attr_str: NULL output");
    *out = NULL;
    hid_t aid, atype;
    itr_status st = open_one(f, obj, name, "itr_h5_attr_str", &aid, &atype);
    if (st) return st;
    char label[512];
    itr_h5i_src src = {aid, 1, H5S_ALL, H5S_ALL};
    char **v = NULL;
    st = itr_h5i_read_strings(&src, atype, 1, &v, f->path, attr_label(obj, name, label, sizeof label));
    H5Tclose(atype);
    H5Aclose(aid);
    if (st) return st;
    *out = v[0];
    free(v);
    return ITR_OK;
}

/* Reads a one-value numeric attribute as `want` into out. */
static itr_status attr_number(itr_h5 *f, const char *obj, const char *name, itr_dtype want,
                              void *out, const char *fn) {
    hid_t aid, atype;
    itr_status st = open_one(f, obj, name, fn, &aid, &atype);
    if (st) return st;
    char label[512];
    itr_h5i_src src = {aid, 1, H5S_ALL, H5S_ALL};
    st = itr_h5i_read_numeric(&src, atype, 1, want, out, f->path,
                              attr_label(obj, name, label, sizeof label));
    H5Tclose(atype);
    H5Aclose(aid);
    return st;
}

itr_status itr_h5_attr_f64(itr_h5 *f, const char *obj, const char *name, double *out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_h5_attr_f64: NULL output");
    return attr_number(f, obj, name, ITR_F64, out, "itr_h5_attr_f64");
}

itr_status itr_h5_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t *out) {
    if (!out) return itr_fail(ITR_E_ARG, "itr_h5_attr_i64: NULL output");
    return attr_number(f, obj, name, ITR_I64, out, "itr_h5_attr_i64");
}

/* Creates (or replaces) a scalar attribute of file type ftype and writes one
 * value given in memory type mtype. */
static itr_status write_attr(itr_h5 *f, const char *obj, const char *name, hid_t ftype,
                             hid_t mtype, const void *value, const char *fn) {
    itr_status st = itr_h5i_check_args(f, obj, fn);
    if (st) return st;
    if (!name) return itr_fail(ITR_E_ARG, "%s: %s: %s: NULL attribute name", fn, f->path, obj);
    itr_h5i_quiet();
    if ((st = itr_h5i_check_writable(f, obj))) return st;
    if (itr_h5i_kind_of(f, obj) == ITR_H5I_NONE)
        return itr_fail(ITR_E_KEY, "%s: %s: no such object (writing attribute '%s')", f->path, obj, name);
    char label[512];
    attr_label(obj, name, label, sizeof label);
    hid_t oid = H5Oopen(f->fid, obj, H5P_DEFAULT);
    if (oid < 0) return itr_fail(ITR_E_FORMAT, "%s: %s: cannot open object", f->path, obj);
    /* Writing again replaces the value (HDF5 itself refuses duplicates). */
    if (H5Aexists(oid, name) > 0 && H5Adelete(oid, name) < 0) {
        H5Oclose(oid);
        return itr_fail(ITR_E_IO, "%s: %s: cannot replace the existing attribute", f->path, label);
    }
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t aid = space >= 0 ? H5Acreate2(oid, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (aid < 0) st = itr_fail(ITR_E_IO, "%s: %s: cannot create attribute", f->path, label);
    else if (H5Awrite(aid, mtype, value) < 0)
        st = itr_fail(ITR_E_IO, "%s: %s: cannot write attribute", f->path, label);
    if (aid >= 0) H5Aclose(aid);
    if (space >= 0) H5Sclose(space);
    H5Oclose(oid);
    return st;
}

itr_status itr_h5_set_attr_str(itr_h5 *f, const char *obj, const char *name, const char *v) {
    if (!v) return itr_fail(ITR_E_ARG, "itr_h5_set_attr_str: NULL value");
    itr_h5i_quiet();
    hid_t t = itr_h5i_vlen_utf8();
    if (t < 0) return itr_fail(ITR_E_INTERNAL, "itr_h5_set_attr_str: cannot make a string type");
    /* A variable-length string is written from a pointer to the char pointer. */
    itr_status st = write_attr(f, obj, name, t, t, &v, "itr_h5_set_attr_str");
    H5Tclose(t);
    return st;
}

itr_status itr_h5_set_attr_i64(itr_h5 *f, const char *obj, const char *name, int64_t v) {
    return write_attr(f, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, "itr_h5_set_attr_i64");
}

itr_status itr_h5_set_attr_i8(itr_h5 *f, const char *obj, const char *name, int8_t v) {
    return write_attr(f, obj, name, H5T_STD_I8LE, H5T_NATIVE_INT8, &v, "itr_h5_set_attr_i8");
}

itr_status itr_h5_set_attr_f64(itr_h5 *f, const char *obj, const char *name, double v) {
    return write_attr(f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, "itr_h5_set_attr_f64");
}
