/* pyarena.c - the arena that owns every value of one pickle load, and the
 * constructors of values and containers (specs formats.md s1.7.1, s5).
 *
 * Every block is malloc'ed with a small header linking it into the arena's
 * list, so that freeing the arena frees everything (values reference each
 * other freely: shared nodes and cycles need no reference counting). The
 * arena counts values and bytes against its limits (s5 rule 3/4). */
#include <stdlib.h>
#include <string.h>

#include "pickle_internal.h"

/* Header in front of each block; the union keeps the payload aligned for
 * any scalar type (C99 has no max_align_t). */
typedef union itr_blk {
    struct {
        union itr_blk *prev, *next;
        size_t size;
    } h;
    long double ld;
    int64_t i;
    void *p;
} itr_blk;

struct itr_pyarena {
    itr_blk *head;
    size_t bytes, values;
    itr_pickle_limits limits;
};

void itr_pickle_limits_default(itr_pickle_limits *l) {
    l->max_stack = (size_t)1 << 20;
    l->max_marks = (size_t)1 << 16;
    l->max_memo = (size_t)1 << 24;
    l->max_values = (size_t)1 << 26;
    l->max_bytes = (size_t)1 << 36;
    l->max_line = 256;
    l->max_long_bytes = 1024;
    l->max_numel = (int64_t)1 << 34;
    l->max_nesting = 4;
}

void itr_pickle_opts_default(itr_pickle_opts *o) {
    memset(o, 0, sizeof *o);
    itr_pickle_limits_default(&o->limits);
    o->py2str = ITR_PY2STR_KEEP;
}

itr_pyarena *itr_pyarena_new(const itr_pickle_limits *limits) {
    itr_pyarena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    if (limits) a->limits = *limits;
    else itr_pickle_limits_default(&a->limits);
    return a;
}

void itr_pyarena_free(itr_pyarena *a) {
    if (!a) return;
    itr_blk *b = a->head;
    while (b) {
        itr_blk *next = b->h.next;
        free(b);
        b = next;
    }
    free(a);
}

void itr_pyobj_free(itr_pyobj *o) {
    if (o) itr_pyarena_free(o->arena);
}

const itr_pickle_limits *itr_pyarena_limits(const itr_pyarena *a) { return &a->limits; }

size_t itr_pyarena_bytes(const itr_pyarena *a) { return a ? a->bytes : 0; }

void *itr_pyarena_alloc(itr_pyarena *a, size_t n) {
    return itr_pyarena_realloc(a, NULL, n);
}

void *itr_pyarena_realloc(itr_pyarena *a, void *p, size_t n) {
    itr_blk *old = p ? (itr_blk *)p - 1 : NULL;
    size_t old_size = old ? old->h.size : 0;
    if (n > a->limits.max_bytes || a->bytes - old_size > a->limits.max_bytes - n) {
        itr_fail(ITR_E_LIMIT, "pickle: allocation of %zu bytes exceeds the limit of %zu bytes per load",
                 n, a->limits.max_bytes);
        return NULL;
    }
    if (n > (size_t)-1 - sizeof(itr_blk)) {
        itr_fail(ITR_E_LIMIT, "pickle: allocation of %zu bytes overflows", n);
        return NULL;
    }
    itr_blk *b;
    int failed = 0;
    if (old) {
        /* unlink first: realloc may move the block */
        if (old->h.prev) old->h.prev->h.next = old->h.next;
        else a->head = old->h.next;
        if (old->h.next) old->h.next->h.prev = old->h.prev;
        b = realloc(old, sizeof(itr_blk) + (n ? n : 1));
        if (!b) {
            b = old;                /* keep the old block linked on failure */
            failed = 1;
        }
    } else {
        b = malloc(sizeof(itr_blk) + (n ? n : 1));
        if (!b) {
            itr_fail(ITR_E_NOMEM, "pickle: out of memory allocating %zu bytes", n);
            return NULL;
        }
    }
    b->h.prev = NULL;
    b->h.next = a->head;
    if (a->head) a->head->h.prev = b;
    a->head = b;
    if (failed) {
        itr_fail(ITR_E_NOMEM, "pickle: out of memory growing a block to %zu bytes", n);
        return NULL;
    }
    a->bytes = a->bytes - old_size + n;
    b->h.size = n;
    return b + 1;
}

itr_pyobj *itr_py_new(itr_pyarena *a, itr_pykind k) {
    if (a->values >= a->limits.max_values) {
        itr_fail(ITR_E_LIMIT, "pickle: more than %zu values in one load", a->limits.max_values);
        return NULL;
    }
    itr_pyobj *o = itr_pyarena_alloc(a, sizeof *o);
    if (!o) return NULL;
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->arena = a;
    a->values++;
    return o;
}

int itr_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        i += len;
    }
    return 1;
}

char *itr_latin1_to_utf8(itr_pyarena *a, const uint8_t *s, size_t n) {
    if (n > ((size_t)-1 - 1) / 2) {
        itr_fail(ITR_E_LIMIT, "pickle: string of %zu bytes too long", n);
        return NULL;
    }
    char *out = itr_pyarena_alloc(a, 2 * n + 1);
    if (!out) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[j++] = (char)s[i];
        } else {
            out[j++] = (char)(0xC0 | (s[i] >> 6));
            out[j++] = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    out[j] = '\0';
    return out;
}

itr_pyobj *itr_py_new_bytes(itr_pyarena *a, itr_pykind kind, const void *data, size_t len) {
    if (len == (size_t)-1) {
        itr_fail(ITR_E_LIMIT, "pickle: string length overflows");
        return NULL;
    }
    itr_pyobj *o = itr_py_new(a, kind);
    if (!o) return NULL;
    uint8_t *d = itr_pyarena_alloc(a, len + 1);
    if (!d) return NULL;
    if (len) memcpy(d, data, len);
    d[len] = 0;
    o->u.bytes.data = d;
    o->u.bytes.len = len;
    if (kind == ITR_PY_STR) {
        o->u.bytes.text = (const char *)d;
    } else if (kind == ITR_PY_PY2STR) {
        /* s1.3.6: prefer UTF-8 when valid, fall back to Latin-1 */
        if (itr_utf8_valid(d, len)) o->u.bytes.text = (const char *)d;
        else if (!(o->u.bytes.text = itr_latin1_to_utf8(a, d, len))) return NULL;
    }
    return o;
}

itr_pyobj *itr_py_new_str(itr_pyarena *a, const char *s, size_t len) {
    return itr_py_new_bytes(a, ITR_PY_STR, s, len);
}

itr_status itr_py_latin1_bytes(itr_pyarena *a, const itr_pyobj *o, const uint8_t **out, size_t *len) {
    if (o->kind == ITR_PY_BYTES || o->kind == ITR_PY_PY2STR) {
        *out = o->u.bytes.data;
        *len = o->u.bytes.len;
        return ITR_OK;
    }
    if (o->kind != ITR_PY_STR)
        return itr_fail(ITR_E_DTYPE, "pickle: expected bytes or latin-1 text, found %s",
                        itr_py_kind_name(o->kind));
    /* each code point of the text is one byte (s1.3.5 `_codecs.encode`) */
    const uint8_t *s = o->u.bytes.data;
    size_t n = o->u.bytes.len, j = 0;
    uint8_t *b = itr_pyarena_alloc(a, n + 1);
    if (!b) return ITR_E_LIMIT;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            b[j++] = s[i++];
        } else if ((s[i] == 0xC2 || s[i] == 0xC3) && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            b[j++] = (uint8_t)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F));
            i += 2;
        } else {
            return itr_fail(ITR_E_FORMAT, "pickle: latin-1 payload has a code point above U+00FF");
        }
    }
    b[j] = 0;
    *out = b;
    *len = j;
    return ITR_OK;
}

itr_status itr_py_seq_push(itr_pyobj *seq, itr_pyobj *item) {
    if (seq->u.seq.n == seq->u.seq.cap) {
        size_t cap = seq->u.seq.cap ? 2 * seq->u.seq.cap : 4;
        if (cap > ((size_t)-1) / sizeof(itr_pyobj *))
            return itr_fail(ITR_E_LIMIT, "pickle: container too large");
        itr_pyobj **p = itr_pyarena_realloc(seq->arena, seq->u.seq.items, cap * sizeof *p);
        if (!p) return ITR_E_LIMIT;
        seq->u.seq.items = p;
        seq->u.seq.cap = cap;
    }
    seq->u.seq.items[seq->u.seq.n++] = item;
    return ITR_OK;
}

/* ---------------------------------------------------------------- dict hashing */

/* A hash consistent with itr_py_key_equal: bytes-like kinds hash their
 * bytes (so str == py2str), numbers their value, tuples their items (depth
 * bounded), everything else its identity. */
static uint64_t fnv(const uint8_t *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t key_hash(const itr_pyobj *k, int depth) {
    uint64_t h = 0xcbf29ce484222325ULL;
    switch (k->kind) {
    case ITR_PY_STR: case ITR_PY_PY2STR: case ITR_PY_BYTES:
        return fnv(k->u.bytes.data, k->u.bytes.len, h);
    case ITR_PY_INT: case ITR_PY_BOOL:
        return fnv((const uint8_t *)&k->u.i, sizeof k->u.i, h ^ 1);
    case ITR_PY_NONE:
        return 7;
    case ITR_PY_FLOAT:
        return fnv((const uint8_t *)&k->u.f, sizeof k->u.f, h ^ 2);
    case ITR_PY_BIGINT:
        return fnv(k->u.bytes.data, k->u.bytes.len, h ^ 3);
    case ITR_PY_TUPLE:
        if (depth > 8) return 11;
        for (size_t i = 0; i < k->u.seq.n; i++) h = (h ^ key_hash(k->u.seq.items[i], depth + 1)) * 0x100000001b3ULL;
        return h;
    default: {
        uintptr_t p = (uintptr_t)k;
        return fnv((const uint8_t *)&p, sizeof p, h ^ 4);
    }
    }
}

static itr_status dict_reindex(itr_pyobj *d, size_t cap) {
    size_t *idx = itr_pyarena_alloc(d->arena, cap * sizeof *idx);
    if (!idx) return ITR_E_LIMIT;
    for (size_t i = 0; i < cap; i++) idx[i] = (size_t)-1;
    for (size_t e = 0; e < d->u.dict.n; e++) {
        size_t s = (size_t)key_hash(d->u.dict.keys[e], 0) & (cap - 1);
        while (idx[s] != (size_t)-1) s = (s + 1) & (cap - 1);
        idx[s] = e;
    }
    d->u.dict.index = idx;        /* the old index stays in the arena: freed with it */
    d->u.dict.index_cap = cap;
    return ITR_OK;
}

/* Position of key k in d, or (size_t)-1. */
static size_t dict_find(const itr_pyobj *d, const itr_pyobj *k) {
    if (!d->u.dict.index_cap) return (size_t)-1;
    size_t cap = d->u.dict.index_cap;
    size_t s = (size_t)key_hash(k, 0) & (cap - 1);
    while (d->u.dict.index[s] != (size_t)-1) {
        size_t e = d->u.dict.index[s];
        if (itr_py_key_equal(d->u.dict.keys[e], k)) return e;
        s = (s + 1) & (cap - 1);
    }
    return (size_t)-1;
}

itr_pyobj *itr_py_dict_get(const itr_pyobj *o, const char *key) {
    if (!o || o->kind != ITR_PY_DICT || !key) return NULL;
    itr_pyobj probe;
    memset(&probe, 0, sizeof probe);
    probe.kind = ITR_PY_STR;
    probe.u.bytes.data = (uint8_t *)(uintptr_t)key;   /* read only */
    probe.u.bytes.len = strlen(key);
    size_t e = dict_find(o, &probe);
    return e == (size_t)-1 ? NULL : o->u.dict.vals[e];
}

itr_status itr_py_dict_set(itr_pyobj *d, itr_pyobj *k, itr_pyobj *v) {
    size_t e = dict_find(d, k);
    if (e != (size_t)-1) {             /* Python keeps the first position */
        d->u.dict.vals[e] = v;
        return ITR_OK;
    }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? 2 * d->u.dict.cap : 4;
        if (cap > ((size_t)-1) / (4 * sizeof(itr_pyobj *)))
            return itr_fail(ITR_E_LIMIT, "pickle: dict too large");
        itr_pyobj **ks = itr_pyarena_realloc(d->arena, d->u.dict.keys, cap * sizeof *ks);
        if (!ks) return ITR_E_LIMIT;
        d->u.dict.keys = ks;
        itr_pyobj **vs = itr_pyarena_realloc(d->arena, d->u.dict.vals, cap * sizeof *vs);
        if (!vs) return ITR_E_LIMIT;
        d->u.dict.vals = vs;
        d->u.dict.cap = cap;
    }
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n] = v;
    d->u.dict.n++;
    if (2 * d->u.dict.n > d->u.dict.index_cap) {     /* keep the load under 1/2 */
        size_t cap = d->u.dict.index_cap ? 2 * d->u.dict.index_cap : 8;
        while (2 * d->u.dict.n > cap) cap *= 2;
        return dict_reindex(d, cap);
    }
    size_t cap = d->u.dict.index_cap;
    size_t s = (size_t)key_hash(k, 0) & (cap - 1);
    while (d->u.dict.index[s] != (size_t)-1) s = (s + 1) & (cap - 1);
    d->u.dict.index[s] = d->u.dict.n - 1;
    return ITR_OK;
}
