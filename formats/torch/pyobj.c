/* pyobj.c - read access to unpickled values: kind names, numbers, text,
 * containers, key equality and a bounded repr (specs formats.md s1.7.1, s5
 * rule 4: walkers of the tree bound their depth and work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_internal.h"

const char *itr_py_kind_name(itr_pykind k) {
    switch (k) {
    case ITR_PY_NONE: return "None";
    case ITR_PY_BOOL: return "bool";
    case ITR_PY_INT: return "int";
    case ITR_PY_BIGINT: return "bigint";
    case ITR_PY_FLOAT: return "float";
    case ITR_PY_STR: return "str";
    case ITR_PY_BYTES: return "bytes";
    case ITR_PY_PY2STR: return "py2str";
    case ITR_PY_LIST: return "list";
    case ITR_PY_TUPLE: return "tuple";
    case ITR_PY_SET: return "set";
    case ITR_PY_DICT: return "dict";
    case ITR_PY_GLOBAL: return "global";
    case ITR_PY_OBJECT: return "object";
    case ITR_PY_STORAGE: return "storage";
    case ITR_PY_TENSOR: return "tensor";
    case ITR_PY_DTYPE: return "numpy.dtype";
    case ITR_PY_NDARRAY: return "numpy.ndarray";
    case ITR_PY_SCALAR: return "numpy_scalar";
    }
    return "?";
}

const char *itr_py_type_name(const itr_pyobj *o) {
    if (!o) return "None";
    if (o->kind == ITR_PY_DICT && o->u.dict.ordered) return "OrderedDict";
    if (o->kind == ITR_PY_OBJECT) return o->u.object.class_name;
    if (o->kind == ITR_PY_TENSOR && o->u.tensor.is_parameter) return "Parameter";
    return itr_py_kind_name(o->kind);
}

const char *itr_py_str(const itr_pyobj *o) {
    if (!o || (o->kind != ITR_PY_STR && o->kind != ITR_PY_PY2STR)) return NULL;
    return o->u.bytes.text;
}

int itr_py_str_eq(const itr_pyobj *o, const char *s) {
    if (!o || !s) return 0;
    if (o->kind != ITR_PY_STR && o->kind != ITR_PY_PY2STR && o->kind != ITR_PY_BYTES) return 0;
    size_t n = strlen(s);
    return o->u.bytes.len == n && memcmp(o->u.bytes.data, s, n) == 0;
}

itr_status itr_py_int(const itr_pyobj *o, int64_t *v) {
    if (o && (o->kind == ITR_PY_INT || o->kind == ITR_PY_BOOL)) {
        *v = o->u.i;
        return ITR_OK;
    }
    if (o && o->kind == ITR_PY_SCALAR && o->u.scalar.dtype.kind != 'f') {
        *v = o->u.scalar.i;
        return ITR_OK;
    }
    return itr_fail(ITR_E_DTYPE, "pickle: expected an int, found %s", itr_py_type_name(o));
}

itr_status itr_py_float(const itr_pyobj *o, double *v) {
    if (o && o->kind == ITR_PY_FLOAT) { *v = o->u.f; return ITR_OK; }
    if (o && (o->kind == ITR_PY_INT || o->kind == ITR_PY_BOOL)) { *v = (double)o->u.i; return ITR_OK; }
    if (o && o->kind == ITR_PY_SCALAR) { *v = o->u.scalar.f; return ITR_OK; }
    return itr_fail(ITR_E_DTYPE, "pickle: expected a number, found %s", itr_py_type_name(o));
}

static int is_seq(const itr_pyobj *o) {
    return o && (o->kind == ITR_PY_LIST || o->kind == ITR_PY_TUPLE || o->kind == ITR_PY_SET);
}

size_t itr_py_len(const itr_pyobj *o) {
    if (is_seq(o)) return o->u.seq.n;
    if (o && o->kind == ITR_PY_DICT) return o->u.dict.n;
    return 0;
}

itr_pyobj *itr_py_item(const itr_pyobj *o, size_t i) {
    return is_seq(o) && i < o->u.seq.n ? o->u.seq.items[i] : NULL;
}

itr_pyobj *itr_py_dict_key(const itr_pyobj *o, size_t i) {
    return o && o->kind == ITR_PY_DICT && i < o->u.dict.n ? o->u.dict.keys[i] : NULL;
}

itr_pyobj *itr_py_dict_val(const itr_pyobj *o, size_t i) {
    return o && o->kind == ITR_PY_DICT && i < o->u.dict.n ? o->u.dict.vals[i] : NULL;
}

itr_pyobj *itr_py_attrs(const itr_pyobj *o) {
    if (!o) return NULL;
    if (o->kind == ITR_PY_OBJECT) return o->u.object.attrs;
    if (o->kind == ITR_PY_DICT) return o->u.dict.attrs;
    return NULL;
}

itr_pyobj *itr_py_attr(const itr_pyobj *o, const char *name) {
    return itr_py_dict_get(itr_py_attrs(o), name);
}

static int key_equal_depth(const itr_pyobj *a, const itr_pyobj *b, int depth) {
    if (a == b) return 1;
    if (!a || !b) return 0;
    int a_bytes = a->kind == ITR_PY_STR || a->kind == ITR_PY_PY2STR || a->kind == ITR_PY_BYTES;
    int b_bytes = b->kind == ITR_PY_STR || b->kind == ITR_PY_PY2STR || b->kind == ITR_PY_BYTES;
    if (a_bytes && b_bytes)
        return a->u.bytes.len == b->u.bytes.len &&
               memcmp(a->u.bytes.data, b->u.bytes.data, a->u.bytes.len) == 0;
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case ITR_PY_NONE: return 1;
    case ITR_PY_BOOL: case ITR_PY_INT: return a->u.i == b->u.i;
    case ITR_PY_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0 || a->u.f == b->u.f;
    case ITR_PY_BIGINT:
        return a->u.bytes.len == b->u.bytes.len &&
               memcmp(a->u.bytes.data, b->u.bytes.data, a->u.bytes.len) == 0;
    case ITR_PY_TUPLE:
        if (depth > 8 || a->u.seq.n != b->u.seq.n) return 0;
        for (size_t i = 0; i < a->u.seq.n; i++)
            if (!key_equal_depth(a->u.seq.items[i], b->u.seq.items[i], depth + 1)) return 0;
        return 1;
    default:
        return 0;               /* identity only (checked above) */
    }
}

int itr_py_key_equal(const itr_pyobj *a, const itr_pyobj *b) { return key_equal_depth(a, b, 0); }

void itr_py_walk_limits_default(itr_py_walk_limits *l) {
    l->max_depth = 64;
    l->max_nodes = 10000000;
}

/* ---------------------------------------------------------------- repr */

/* Shortest "%.Ng" that reads back as the same double (as Python prints). */
static void fmt_double(char *buf, size_t n, double d) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (strspn(buf, "-0123456789") == strlen(buf) && strlen(buf) + 3 <= n) strcat(buf, ".0");   /* 9 -> 9.0 */
}

typedef struct repr_buf {
    char *buf;
    size_t n, len;
    int full;
    size_t nodes;
} repr_buf;

static void put(repr_buf *r, const char *s) {
    size_t k = strlen(s);
    if (r->full) return;
    if (r->len + k + 4 > r->n) {          /* keep room for "..." */
        size_t room = r->n > r->len + 4 ? r->n - r->len - 4 : 0;
        memcpy(r->buf + r->len, s, room);
        r->len += room;
        memcpy(r->buf + r->len, "...", 4);
        r->len += 3;
        r->full = 1;
        return;
    }
    memcpy(r->buf + r->len, s, k + 1);
    r->len += k;
}

static void put_text(repr_buf *r, const uint8_t *s, size_t n, const char *prefix) {
    char tmp[8];
    put(r, prefix);
    put(r, "'");
    for (size_t i = 0; i < n && !r->full; i++) {
        if (s[i] == '\'' || s[i] == '\\') {
            tmp[0] = '\\'; tmp[1] = (char)s[i]; tmp[2] = 0;
        } else if (s[i] < 0x20 || (s[i] >= 0x7F && prefix[0] == 'b')) {
            snprintf(tmp, sizeof tmp, "\\x%02x", s[i]);
        } else {
            tmp[0] = (char)s[i]; tmp[1] = 0;
        }
        put(r, tmp);
    }
    put(r, "'");
}

static void repr_rec(repr_buf *r, const itr_pyobj *o, int depth) {
    char tmp[256];
    if (r->full) return;
    if (++r->nodes > 100000 || depth > 32) { put(r, "..."); return; }
    if (!o) { put(r, "None"); return; }
    switch (o->kind) {
    case ITR_PY_NONE: put(r, "None"); break;
    case ITR_PY_BOOL: put(r, o->u.i ? "True" : "False"); break;
    case ITR_PY_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)o->u.i); put(r, tmp); break;
    case ITR_PY_BIGINT: snprintf(tmp, sizeof tmp, "<int of %zu bytes>", o->u.bytes.len); put(r, tmp); break;
    case ITR_PY_FLOAT: fmt_double(tmp, sizeof tmp, o->u.f); put(r, tmp); break;
    case ITR_PY_STR: case ITR_PY_PY2STR:
        put_text(r, (const uint8_t *)o->u.bytes.text, strlen(o->u.bytes.text), "");
        break;
    case ITR_PY_BYTES: put_text(r, o->u.bytes.data, o->u.bytes.len, "b"); break;
    case ITR_PY_LIST: case ITR_PY_TUPLE: case ITR_PY_SET: {
        const char *open = o->kind == ITR_PY_LIST ? "[" : o->kind == ITR_PY_TUPLE ? "(" : "{";
        const char *close = o->kind == ITR_PY_LIST ? "]" : o->kind == ITR_PY_TUPLE ? ")" : "}";
        put(r, open);
        for (size_t i = 0; i < o->u.seq.n && !r->full; i++) {
            if (i) put(r, ", ");
            repr_rec(r, o->u.seq.items[i], depth + 1);
        }
        if (o->kind == ITR_PY_TUPLE && o->u.seq.n == 1) put(r, ",");
        put(r, close);
        break;
    }
    case ITR_PY_DICT:
        put(r, o->u.dict.ordered ? "OrderedDict({" : "{");
        for (size_t i = 0; i < o->u.dict.n && !r->full; i++) {
            if (i) put(r, ", ");
            repr_rec(r, o->u.dict.keys[i], depth + 1);
            put(r, ": ");
            repr_rec(r, o->u.dict.vals[i], depth + 1);
        }
        put(r, o->u.dict.ordered ? "})" : "}");
        break;
    case ITR_PY_GLOBAL:
        put(r, "<global ");
        put(r, o->u.global.module);
        put(r, ".");
        put(r, o->u.global.name);
        put(r, ">");
        break;
    case ITR_PY_OBJECT:
        put(r, o->u.object.class_name);
        put(r, "(");
        repr_rec(r, o->u.object.attrs, depth + 1);
        put(r, ")");
        break;
    case ITR_PY_STORAGE:
        snprintf(tmp, sizeof tmp, "<%s key=", o->u.storage.type_name);
        put(r, tmp);
        put(r, o->u.storage.key);
        snprintf(tmp, sizeof tmp, " numel=%lld>", (long long)o->u.storage.numel);
        put(r, tmp);
        break;
    case ITR_PY_TENSOR: {
        const itr_pyobj *s = o->u.tensor.storage;
        char shp[128];
        itr_shape_str(o->u.tensor.ndim, o->u.tensor.shape, shp, sizeof shp);
        snprintf(tmp, sizeof tmp, "<tensor %s %s>", s ? itr_dtype_name(s->u.storage.dtype) : "?", shp);
        put(r, tmp);
        break;
    }
    case ITR_PY_DTYPE:
        put(r, "dtype('");
        put(r, o->u.dtype.descr);
        put(r, "')");
        break;
    case ITR_PY_NDARRAY: {
        char shp[128];
        itr_shape_str(o->u.ndarray.ndim, o->u.ndarray.shape, shp, sizeof shp);
        snprintf(tmp, sizeof tmp, "<ndarray %s %s>", o->u.ndarray.dtype.descr, shp);
        put(r, tmp);
        break;
    }
    case ITR_PY_SCALAR:
        if (o->u.scalar.dtype.kind == 'f') fmt_double(tmp, sizeof tmp, o->u.scalar.f);
        else snprintf(tmp, sizeof tmp, "%lld", (long long)o->u.scalar.i);
        put(r, tmp);
        break;
    }
}

char *itr_py_repr(const itr_pyobj *o, char *buf, size_t n) {
    if (!buf || n == 0) return buf;
    buf[0] = '\0';
    if (n < 5) return buf;
    repr_buf r = {buf, n, 0, 0, 0};
    repr_rec(&r, o, 0);
    return buf;
}
