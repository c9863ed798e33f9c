/* ckpt_json.c - plain pickle values as JSON text, for list/tuple/dict fields
 * of `opt` (itr_config keeps them as JSON, itr/config.h).
 *
 * Bounded walk (specs formats.md s5 rule 4): depth <= 32 and output <= 1 MiB;
 * a deeper or larger (or cyclic) value is an ITR_E_LIMIT error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"

#define JSON_MAX_DEPTH 32
#define JSON_MAX_BYTES ((size_t)1 << 20)

typedef struct jbuf {
    char *s;
    size_t n, cap;
    int failed;
} jbuf;

static void jput_n(jbuf *b, const char *s, size_t k) {
    if (b->failed) return;
    if (b->n + k + 1 > JSON_MAX_BYTES) {
        b->failed = 1;
        return;
    }
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + k + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static void jput(jbuf *b, const char *s) { jput_n(b, s, strlen(s)); }

static void jstr(jbuf *b, const uint8_t *s, size_t n, int latin1) {
    char tmp[8];
    jput(b, "\"");
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\'; tmp[1] = (char)c;
            jput_n(b, tmp, 2);
        } else if (c < 0x20 || (latin1 && c >= 0x80)) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            jput(b, tmp);
        } else {
            jput_n(b, (const char *)&s[i], 1);
        }
    }
    jput(b, "\"");
}

static void jnum(jbuf *b, double d) {
    char tmp[40];
    if (!isfinite(d)) {
        jput(b, "null");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {     /* shortest text that reads back exactly */
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* keep floats recognisable as floats ("9.0", not "9") */
    if (!strpbrk(tmp, ".eE")) strcat(tmp, ".0");
    jput(b, tmp);
}

static void jvalue(jbuf *b, const itr_pyobj *o, int depth) {
    char tmp[48];
    if (b->failed) return;
    if (depth > JSON_MAX_DEPTH) {
        b->failed = 1;
        return;
    }
    switch (o->kind) {
    case ITR_PY_NONE: jput(b, "null"); break;
    case ITR_PY_BOOL: jput(b, o->u.i ? "true" : "false"); break;
    case ITR_PY_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)o->u.i); jput(b, tmp); break;
    case ITR_PY_FLOAT: jnum(b, o->u.f); break;
    case ITR_PY_SCALAR:
        if (o->u.scalar.dtype.kind == 'f') jnum(b, o->u.scalar.f);
        else if (o->u.scalar.dtype.kind == 'b') jput(b, o->u.scalar.i ? "true" : "false");
        else { snprintf(tmp, sizeof tmp, "%lld", (long long)o->u.scalar.i); jput(b, tmp); }
        break;
    case ITR_PY_STR: case ITR_PY_PY2STR:
        jstr(b, (const uint8_t *)o->u.bytes.text, strlen(o->u.bytes.text), 0);
        break;
    case ITR_PY_BYTES: jstr(b, o->u.bytes.data, o->u.bytes.len, 1); break;
    case ITR_PY_LIST: case ITR_PY_TUPLE: case ITR_PY_SET:
        jput(b, "[");
        for (size_t i = 0; i < o->u.seq.n; i++) {
            if (i) jput(b, ", ");
            jvalue(b, o->u.seq.items[i], depth + 1);
        }
        jput(b, "]");
        break;
    case ITR_PY_DICT:
        jput(b, "{");
        for (size_t i = 0; i < o->u.dict.n; i++) {
            const itr_pyobj *k = o->u.dict.keys[i];
            if (i) jput(b, ", ");
            if (itr_py_str(k)) {
                jvalue(b, k, depth + 1);
            } else {
                char kb[128];
                itr_py_repr(k, kb, sizeof kb);
                jstr(b, (const uint8_t *)kb, strlen(kb), 0);
            }
            jput(b, ": ");
            jvalue(b, o->u.dict.vals[i], depth + 1);
        }
        jput(b, "}");
        break;
    default: {
        char rb[256];
        itr_py_repr(o, rb, sizeof rb);
        jstr(b, (const uint8_t *)rb, strlen(rb), 0);
        break;
    }
    }
}

itr_status itr_py_to_json(const itr_pyobj *o, char **out) {
    jbuf b = {NULL, 0, 0, 0};
    *out = NULL;
    jvalue(&b, o, 0);
    if (b.failed) {
        free(b.s);
        return itr_fail(ITR_E_LIMIT, "value too deep or too large for JSON (depth %d, %zu bytes)", JSON_MAX_DEPTH,
                        JSON_MAX_BYTES);
    }
    *out = b.s;
    return ITR_OK;
}
