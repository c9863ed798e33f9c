/* pyexpect.h - test helper: checks an unpickled value tree against the
 * ground truth of fixtures/formats/expected_contents.json (made by torch /
 * numpy / joblib themselves, see fixtures/formats/README.md).
 *
 * Each entry of expected_contents.json[file] is "<path>[#type|#_metadata]":
 * {kind, value | dtype, shape, stride, storage_offset, sum, is_parameter,
 * values_c_order_first8 | fields}. Paths walk dict keys (string or int) and
 * list indices. Included by the tests of formats/torch and formats/numpy. */
#ifndef ITR_TEST_PYEXPECT_H
#define ITR_TEST_PYEXPECT_H

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/pickle.h"

static inline json_t *pyx_load_expected(void) {
    json_error_t err;
    json_t *j = json_load_file(ITR_SOURCE_DIR "/fixtures/formats/expected_contents.json", 0, &err);
    if (!j) fprintf(stderr, "expected_contents.json: %s (line %d)\n", err.text, err.line);
    return j;
}

/* One path step: dict key (as text, else as an int), or a list index. */
static inline const itr_pyobj *pyx_step(const itr_pyobj *o, const char *seg) {
    if (!o) return NULL;
    if (o->kind == ITR_PY_DICT) {
        const itr_pyobj *v = itr_py_dict_get(o, seg);
        if (v) return v;
        char *end;
        long long k = strtoll(seg, &end, 10);
        for (size_t i = 0; *seg && !*end && i < itr_py_len(o); i++) {
            const itr_pyobj *key = itr_py_dict_key(o, i);
            if (key->kind == ITR_PY_INT && key->u.i == k) return itr_py_dict_val(o, i);
        }
        return NULL;
    }
    if (o->kind == ITR_PY_LIST || o->kind == ITR_PY_TUPLE) return itr_py_item(o, (size_t)strtoul(seg, NULL, 10));
    return NULL;
}

static inline const itr_pyobj *pyx_resolve(const itr_pyobj *root, const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    char *hash = strchr(buf, '#');
    if (hash) *hash = '\0';
    const itr_pyobj *o = root;
    for (char *seg = strtok(buf, "/"); seg && o; seg = strtok(NULL, "/")) o = pyx_step(o, seg);
    return o;
}

static inline int pyx_close(double a, double b) { return fabs(a - b) <= 1e-9 + 1e-7 * fabs(b); }

/* Compares a plain value with a JSON value (numbers, strings, bools, null,
 * arrays, objects with string keys). */
static inline int pyx_value_equal(const itr_pyobj *o, const json_t *j) {
    double d;
    int64_t i;
    if (!o) return 0;
    switch (json_typeof(j)) {
    case JSON_NULL: return o->kind == ITR_PY_NONE;
    case JSON_TRUE: case JSON_FALSE:
        return o->kind == ITR_PY_BOOL && o->u.i == (json_is_true(j) ? 1 : 0);
    case JSON_INTEGER:
        return o->kind == ITR_PY_INT && itr_py_int(o, &i) == ITR_OK && i == json_integer_value(j);
    case JSON_REAL: return itr_py_float(o, &d) == ITR_OK && pyx_close(d, json_real_value(j));
    case JSON_STRING: return itr_py_str(o) && strcmp(itr_py_str(o), json_string_value(j)) == 0;
    case JSON_ARRAY:
        if (itr_py_len(o) != json_array_size(j)) return 0;
        for (size_t k = 0; k < json_array_size(j); k++)
            if (!pyx_value_equal(itr_py_item(o, k), json_array_get(j, k))) return 0;
        return 1;
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        if (o->kind != ITR_PY_DICT || itr_py_len(o) != json_object_size(j)) return 0;
        json_object_foreach((json_t *)j, key, v)
            if (!pyx_value_equal(itr_py_dict_get(o, key), v)) return 0;
        return 1;
    }
    }
    return 0;
}

static inline int pyx_dims_equal(int ndim, const int64_t *dims, const json_t *arr) {
    if (!json_is_array(arr) || (size_t)ndim != json_array_size(arr)) return 0;
    for (int k = 0; k < ndim; k++)
        if (dims[k] != json_integer_value(json_array_get(arr, (size_t)k))) return 0;
    return 1;
}

/* First values (C order) and optional sum of a tensor / ndarray. */
static inline int pyx_values(const char *path, const itr_pyobj *o, const json_t *e) {
    const json_t *vals = json_object_get(e, "values_c_order_first8");
    itr_tensor t;
    if (itr_py_to_tensor(o, -1, -1, &t) != ITR_OK) {
        fprintf(stderr, "%s: cannot materialise: %s\n", path, itr_last_error());
        return 0;
    }
    int ok = 1;
    double max_abs = 0, sum = 0;
    int64_t n = itr_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) sum += itr_tensor_get(&t, i);
    for (size_t k = 0; ok && k < json_array_size(vals); k++) {
        const json_t *v = json_array_get(vals, k);
        if ((int64_t)k >= n) { ok = 0; break; }
        if (json_is_integer(v) && t.dtype == ITR_I64) {
            ok = ((int64_t *)t.data)[k] == json_integer_value(v);
        } else {
            double err = fabs(itr_tensor_get(&t, (int64_t)k) - json_number_value(v));
            if (err > max_abs) max_abs = err;
            ok = pyx_close(itr_tensor_get(&t, (int64_t)k), json_number_value(v));
        }
    }
    const json_t *js = json_object_get(e, "sum");
    double sum_err = js ? fabs(sum - json_number_value(js)) : 0;
    if (js && sum_err > 1e-6 * (1 + fabs(json_number_value(js)))) ok = 0;
    printf("  %-48s %s max abs err %.3g, sum err %.3g\n", path, ok ? "ok" : "MISMATCH", max_abs, sum_err);
    itr_tensor_free(&t);
    return ok;
}

static inline int pyx_check_entry(const itr_pyobj *root, const char *path, const json_t *e) {
    const itr_pyobj *o = pyx_resolve(root, path);
    const char *hash = strchr(path, '#');
    if (!o) {
        fprintf(stderr, "%s: not found\n", path);
        return 0;
    }
    if (hash && strcmp(hash, "#type") == 0)
        return strcmp(itr_py_type_name(o), json_string_value(e)) == 0;
    if (hash && strcmp(hash, "#_metadata") == 0) return pyx_value_equal(itr_py_attr(o, "_metadata"), e);
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const json_t *value = json_object_get(e, "value");
    if (!kind) return 0;
    if (strcmp(kind, "tensor") == 0) {
        if (o->kind != ITR_PY_TENSOR) return 0;
        const itr_pytensor *t = &o->u.tensor;
        char dt[48];
        snprintf(dt, sizeof dt, "torch.%s", itr_dtype_name(t->storage->u.storage.dtype));
        if (strcmp(dt, json_string_value(json_object_get(e, "dtype"))) != 0 ||
            t->is_parameter != json_is_true(json_object_get(e, "is_parameter")) ||
            !pyx_dims_equal(t->ndim, t->shape, json_object_get(e, "shape")) ||
            !pyx_dims_equal(t->ndim, t->stride, json_object_get(e, "stride")) ||
            t->storage_offset != json_integer_value(json_object_get(e, "storage_offset"))) {
            fprintf(stderr, "%s: tensor metadata differs\n", path);
            return 0;
        }
        return pyx_values(path, o, e);
    }
    if (strcmp(kind, "ndarray") == 0) {
        const itr_pyndarray *nd = &o->u.ndarray;
        if (o->kind != ITR_PY_NDARRAY || strcmp(nd->dtype.descr, json_string_value(json_object_get(e, "dtype"))) ||
            !pyx_dims_equal(nd->ndim, nd->shape, json_object_get(e, "shape")))
            return 0;
        if (nd->dtype.kind == 'O') {          /* values are the reprs of the objects */
            const json_t *vals = json_object_get(e, "values_c_order_first8");
            for (size_t k = 0; k < json_array_size(vals); k++) {
                char buf[256];
                itr_py_repr(itr_py_item(nd->objects, k), buf, sizeof buf);
                if (strcmp(buf, json_string_value(json_array_get(vals, k))) != 0) return 0;
            }
            return 1;
        }
        return pyx_values(path, o, e);
    }
    if (strcmp(kind, "numpy_scalar") == 0)
        return o->kind == ITR_PY_SCALAR && strcmp(o->u.scalar.dtype.descr, json_string_value(json_object_get(e, "dtype"))) == 0 &&
               pyx_close(o->u.scalar.f, json_number_value(value));
    if (strcmp(kind, "namespace") == 0)
        return o->kind == ITR_PY_OBJECT && strcmp(o->u.object.class_name, "argparse.Namespace") == 0 &&
               pyx_value_equal(o->u.object.attrs, json_object_get(e, "fields"));
    if (strcmp(kind, "int") == 0) return o->kind == ITR_PY_INT && pyx_value_equal(o, value);
    if (strcmp(kind, "float") == 0) return o->kind == ITR_PY_FLOAT && pyx_value_equal(o, value);
    if (strcmp(kind, "bool") == 0 || strcmp(kind, "str") == 0 || strcmp(kind, "NoneType") == 0)
        return pyx_value_equal(o, value);
    fprintf(stderr, "%s: unknown kind %s\n", path, kind);
    return 0;
}

/* Checks every entry for `file`; returns the number of mismatches. */
static inline int pyx_check_file(const itr_pyobj *root, const json_t *all, const char *file, size_t *n_checked) {
    const json_t *entries = json_object_get(all, file);
    const char *path;
    json_t *e;
    int bad = 0;
    *n_checked = 0;
    if (!entries) {
        fprintf(stderr, "%s: not in expected_contents.json\n", file);
        return 1;
    }
    json_object_foreach((json_t *)entries, path, e) {
        (*n_checked)++;
        if (!pyx_check_entry(root, path, e)) {
            fprintf(stderr, "%s %s: MISMATCH\n", file, path);
            bad++;
        }
    }
    return bad;
}

#endif
