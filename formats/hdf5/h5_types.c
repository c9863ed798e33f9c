/* h5_types.c - stored datatypes: classes, dtype mapping, numeric and string reads.
 *
 * Spec: formats.md s4.1. Readers take numeric data of any stored integer or
 * float type and let HDF5 convert it to the requested memory type; they
 * refuse strings as numbers and floats as integers. Strings may be variable-
 * or fixed-length, NULLTERM / NULLPAD / SPACEPAD, ASCII or UTF-8. */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

itr_h5i_class itr_h5i_class_of(hid_t type) {
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: return ITR_H5I_CLASS_INT;
    case H5T_FLOAT: return ITR_H5I_CLASS_FLOAT;
    case H5T_STRING: return ITR_H5I_CLASS_STRING;
    case H5T_ENUM: {
        /* h5py stores numpy bool as an enum {FALSE = 0, TRUE = 1} over int8. */
        hid_t base = H5Tget_super(type);
        if (base < 0) return ITR_H5I_CLASS_OTHER;
        itr_h5i_class c = H5Tget_class(base) == H5T_INTEGER ? ITR_H5I_CLASS_INT : ITR_H5I_CLASS_OTHER;
        H5Tclose(base);
        return c;
    }
    default: return ITR_H5I_CLASS_OTHER;
    }
}

const char *itr_h5i_type_name(hid_t type, char *buf, size_t n) {
    size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
    case H5T_INTEGER:
        snprintf(buf, n, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
        break;
    case H5T_FLOAT: snprintf(buf, n, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_ENUM: snprintf(buf, n, "enum%zu", bits); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    case H5T_ARRAY: snprintf(buf, n, "array"); break;
    case H5T_VLEN: snprintf(buf, n, "vlen sequence"); break;
    case H5T_OPAQUE: snprintf(buf, n, "opaque"); break;
    case H5T_REFERENCE: snprintf(buf, n, "reference"); break;
    case H5T_BITFIELD: snprintf(buf, n, "bitfield"); break;
    default: snprintf(buf, n, "unknown type"); break;
    }
    return buf;
}

/* dtype of a plain integer type from its size and sign. */
static itr_dtype int_dtype(hid_t type) {
    int is_unsigned = H5Tget_sign(type) == H5T_SGN_NONE;
    switch (H5Tget_size(type)) {
    case 1: return is_unsigned ? ITR_U8 : ITR_I8;
    case 2: return is_unsigned ? ITR_I32 : ITR_I16;
    case 4: return is_unsigned ? ITR_I64 : ITR_I32;
    default: return ITR_I64;   /* uint64 has no itr dtype; values past 2^63 saturate */
    }
}

int itr_h5i_stored_dtype(hid_t type, itr_dtype *out) {
    switch (H5Tget_class(type)) {
    case H5T_INTEGER: *out = int_dtype(type); return 1;
    case H5T_FLOAT: {
        size_t s = H5Tget_size(type);
        *out = s == 2 ? ITR_F16 : s == 4 ? ITR_F32 : ITR_F64;
        return 1;
    }
    case H5T_ENUM: {
        hid_t base = H5Tget_super(type);
        if (base < 0) return 0;
        int ok = H5Tget_class(base) == H5T_INTEGER;
        if (ok) *out = int_dtype(base);
        H5Tclose(base);
        return ok;
    }
    default: return 0;
    }
}

hid_t itr_h5i_mem_type(itr_dtype d) {
    switch (d) {
    case ITR_F32: return H5T_NATIVE_FLOAT;
    case ITR_F64: return H5T_NATIVE_DOUBLE;
    case ITR_I8: return H5T_NATIVE_INT8;
    case ITR_I16: return H5T_NATIVE_INT16;
    case ITR_I32: return H5T_NATIVE_INT32;
    case ITR_I64: return H5T_NATIVE_INT64;
    case ITR_U8: return H5T_NATIVE_UINT8;
    /* Bools travel as int8: HDF5's integer conversion saturates, so any
     * non-zero stored value stays non-zero; reads normalise to 0/1. */
    case ITR_BOOL: return H5T_NATIVE_INT8;
    case ITR_F16: case ITR_BF16: return -1;
    }
    return -1;
}

hid_t itr_h5i_file_type(itr_dtype d) {
    switch (d) {
    case ITR_F32: return H5T_IEEE_F32LE;
    case ITR_F64: return H5T_IEEE_F64LE;
    case ITR_I8: case ITR_BOOL: return H5T_STD_I8LE;   /* s4.1: int8 0/1 for booleans */
    case ITR_I16: return H5T_STD_I16LE;
    case ITR_I32: return H5T_STD_I32LE;
    case ITR_I64: return H5T_STD_I64LE;
    case ITR_U8: return H5T_STD_U8LE;
    case ITR_F16: case ITR_BF16: return -1;
    }
    return -1;
}

hid_t itr_h5i_vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* One H5Aread / H5Dread of the whole selection into buf. */
static herr_t raw_read(const itr_h5i_src *src, hid_t memtype, void *buf) {
    if (src->is_attr) return H5Aread(src->id, memtype, buf);
    return H5Dread(src->id, memtype, src->memspace, src->filespace, H5P_DEFAULT, buf);
}

/* HDF5 converts enums only to enums, so an integer enum is read as its
 * native self and then converted from the base integer type with H5Tconvert
 * (in place; the scratch buffer holds the wider of the two element sizes). */
static herr_t read_enum(const itr_h5i_src *src, hid_t ftype, size_t n, hid_t memtype, void *buf) {
    hid_t native = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    if (native < 0) return -1;
    hid_t base = H5Tget_super(native);
    herr_t rc = -1;
    size_t s_src = H5Tget_size(native), s_dst = H5Tget_size(memtype);
    size_t es = s_src > s_dst ? s_src : s_dst;
    void *tmp = base >= 0 && es > 0 && n <= ITR_TENSOR_MAX_BYTES / es ? malloc(n * es) : NULL;
    if (tmp) {
        rc = raw_read(src, native, tmp);
        if (rc >= 0) rc = H5Tconvert(base, memtype, n, tmp, NULL, H5P_DEFAULT);
        if (rc >= 0) memcpy(buf, tmp, n * s_dst);
        free(tmp);
    }
    if (base >= 0) H5Tclose(base);
    H5Tclose(native);
    return rc;
}

itr_status itr_h5i_check_numeric(hid_t ftype, itr_dtype want, const char *file, const char *obj) {
    char tn[32];
    itr_h5i_class c = itr_h5i_class_of(ftype);
    if (c == ITR_H5I_CLASS_STRING || c == ITR_H5I_CLASS_OTHER)
        return itr_fail(ITR_E_DTYPE, "%s: %s: stored as %s, cannot be read as %s", file, obj,
                        itr_h5i_type_name(ftype, tn, sizeof tn), itr_dtype_name(want));
    if (c == ITR_H5I_CLASS_FLOAT && !itr_dtype_is_float(want))
        return itr_fail(ITR_E_DTYPE, "%s: %s: floating-point data (%s) cannot be read as %s", file,
                        obj, itr_h5i_type_name(ftype, tn, sizeof tn), itr_dtype_name(want));
    if (itr_h5i_mem_type(want) < 0)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: %s: reading as %s is not supported (use float32)",
                        file, obj, itr_dtype_name(want));
    return ITR_OK;
}

itr_status itr_h5i_read_numeric(const itr_h5i_src *src, hid_t ftype, size_t n,
                                itr_dtype want, void *buf, const char *file, const char *obj) {
    itr_status st = itr_h5i_check_numeric(ftype, want, file, obj);
    if (st) return st;
    if (n == 0) return ITR_OK;
    hid_t memtype = itr_h5i_mem_type(want);
    herr_t rc = H5Tget_class(ftype) == H5T_ENUM ? read_enum(src, ftype, n, memtype, buf)
                                                : raw_read(src, memtype, buf);
    if (rc < 0) {
        char tn[32];
        return itr_fail(ITR_E_FORMAT, "%s: %s: reading %s data as %s failed", file, obj,
                        itr_h5i_type_name(ftype, tn, sizeof tn), itr_dtype_name(want));
    }
    if (want == ITR_BOOL) {
        uint8_t *b = buf;
        for (size_t i = 0; i < n; i++) b[i] = b[i] != 0;
    }
    return ITR_OK;
}

/* Copies n variable-length strings out of HDF5-allocated memory and frees
 * that memory with H5free_memory (formats.md s4.5). NULL means "". */
static itr_status take_vlen(char **raw, size_t n, char **v, const char *file, const char *obj) {
    itr_status st = ITR_OK;
    for (size_t i = 0; i < n; i++) {
        if (!st) {
            v[i] = itr_h5i_strdup(raw[i] ? raw[i] : "");
            if (!v[i]) st = itr_fail(ITR_E_NOMEM, "%s: %s: out of memory reading strings", file, obj);
        }
        if (raw[i]) H5free_memory(raw[i]);
    }
    return st;
}

/* Splits n fixed-size strings of `size` bytes each. A string ends at its first
 * NUL (NULLTERM, or NULLPAD when shorter than the size) or fills the whole
 * slot (NULLPAD, no terminator); SPACEPAD strings lose trailing blanks. */
static itr_status split_fixed(const char *raw, size_t size, H5T_str_t pad, size_t n, char **v,
                              const char *file, const char *obj) {
    for (size_t i = 0; i < n; i++) {
        const char *s = raw + i * size;
        const char *nul = memchr(s, '\0', size);
        size_t len = nul ? (size_t)(nul - s) : size;
        if (pad == H5T_STR_SPACEPAD)
            while (len > 0 && s[len - 1] == ' ') len--;
        v[i] = itr_h5i_strndup(s, len);
        if (!v[i]) return itr_fail(ITR_E_NOMEM, "%s: %s: out of memory reading strings", file, obj);
    }
    return ITR_OK;
}

itr_status itr_h5i_read_strings(const itr_h5i_src *src, hid_t ftype, size_t n,
                                char ***out, const char *file, const char *obj) {
    char tn[32];
    *out = NULL;
    if (itr_h5i_class_of(ftype) != ITR_H5I_CLASS_STRING)
        return itr_fail(ITR_E_DTYPE, "%s: %s: stored as %s, not as strings", file, obj,
                        itr_h5i_type_name(ftype, tn, sizeof tn));
    if (n > ITR_H5_MAX_STRINGS)
        return itr_fail(ITR_E_LIMIT, "%s: %s: %zu strings exceed the limit %zu", file, obj, n,
                        ITR_H5_MAX_STRINGS);
    htri_t is_var = H5Tis_variable_str(ftype);
    size_t size = H5Tget_size(ftype);
    if (is_var < 0) return itr_fail(ITR_E_FORMAT, "%s: %s: unreadable string type", file, obj);
    if (!is_var && (size == 0 || size > ITR_H5_MAX_STRLEN || n > ITR_TENSOR_MAX_BYTES / size))
        return itr_fail(ITR_E_LIMIT, "%s: %s: %zu fixed strings of %zu bytes exceed the limit", file,
                        obj, n, size);
    char **v = calloc(n ? n : 1, sizeof *v);
    /* Memory type = a copy of the stored type: it keeps the character set.
     * An ASCII (H5T_C_S1) memory type cannot receive UTF-8 data on 1.10.8
     * ("no appropriate function for conversion path"), formats.md s4.1. */
    hid_t memtype = H5Tcopy(ftype);
    void *raw = is_var ? calloc(n ? n : 1, sizeof(char *)) : malloc(n * size + 1);
    itr_status st = ITR_OK;
    if (!v || !raw || memtype < 0) {
        st = itr_fail(ITR_E_NOMEM, "%s: %s: out of memory reading strings", file, obj);
    } else if (n > 0 && raw_read(src, memtype, raw) < 0) {
        st = itr_fail(ITR_E_FORMAT, "%s: %s: reading %s strings failed", file, obj,
                      is_var ? "variable-length" : "fixed-length");
    } else if (is_var) {
        st = take_vlen(raw, n, v, file, obj);
    } else {
        st = split_fixed(raw, size, H5Tget_strpad(ftype), n, v, file, obj);
    }
    if (memtype >= 0) H5Tclose(memtype);
    free(raw);
    if (st) {
        itr_h5_free_names(v, n);
        return st;
    }
    *out = v;
    return ITR_OK;
}

itr_status itr_h5i_space_shape(hid_t space, int *ndim, int64_t *shape,
                               const char *file, const char *obj) {
    H5S_class_t cls = H5Sget_simple_extent_type(space);
    if (cls == H5S_NULL) return itr_fail(ITR_E_SHAPE, "%s: %s: null dataspace (no elements)", file, obj);
    if (cls == H5S_SCALAR) {
        *ndim = 0;
        return ITR_OK;
    }
    int r = H5Sget_simple_extent_ndims(space);
    if (cls != H5S_SIMPLE || r < 0) return itr_fail(ITR_E_FORMAT, "%s: %s: unreadable dataspace", file, obj);
    if (r > ITR_MAX_DIMS)
        return itr_fail(ITR_E_LIMIT, "%s: %s: rank %d exceeds the limit %d", file, obj, r, ITR_MAX_DIMS);
    hsize_t dims[ITR_MAX_DIMS];
    if (H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        return itr_fail(ITR_E_FORMAT, "%s: %s: unreadable dataspace", file, obj);
    for (int i = 0; i < r; i++) {
        if (dims[i] > (hsize_t)INT64_MAX)
            return itr_fail(ITR_E_LIMIT, "%s: %s: dimension %d too large", file, obj, i);
        shape[i] = (int64_t)dims[i];
    }
    *ndim = r;
    return ITR_OK;
}

itr_status itr_h5i_check_size(int ndim, const int64_t *shape, size_t elem, int64_t *numel,
                              const char *file, const char *obj) {
    int64_t count = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) count = 0;
    if (count != 0) {
        size_t bytes = elem;
        for (int i = 0; i < ndim; i++) {
            if ((uint64_t)shape[i] > ITR_TENSOR_MAX_BYTES / bytes) {
                char sb[256];
                return itr_fail(ITR_E_LIMIT, "%s: %s: shape %s needs more than %zu bytes (limit)",
                                file, obj, itr_shape_str(ndim, shape, sb, sizeof sb),
                                (size_t)ITR_TENSOR_MAX_BYTES);
            }
            bytes *= (size_t)shape[i];
            count *= shape[i];
        }
    }
    *numel = count;
    return ITR_OK;
}
