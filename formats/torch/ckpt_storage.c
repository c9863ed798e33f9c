/* ckpt_storage.c - storages named by persistent ids (specs formats.md
 * s1.3.1, s1.3.2, s5 rules 1 and 5).
 *
 * The pickler never writes storage bytes into the object tree: it writes
 *   legacy: ('storage', <type>, key, location, numel, view_metadata)
 *   zip:    ('storage', <type>, key, location, numel)
 * and BINPERSID. This hook turns each tuple into one ITR_PY_STORAGE node per
 * key (the same node every time the key recurs, so shared storages stay
 * shared) and records it; the container fills in the bytes afterwards. */
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"

/* Element size of a storage type, also for the unsupported ones: the legacy
 * container must skip their records. */
static size_t storage_elem_size(const itr_pyobj *g) {
    const char *n = g->u.global.name;
    if (g->u.global.supported) return itr_dtype_size(g->u.global.dtype);
    if (strcmp(n, "ComplexFloatStorage") == 0) return 8;
    if (strcmp(n, "ComplexDoubleStorage") == 0) return 16;
    if (strcmp(n, "QInt32Storage") == 0) return 4;
    return 1;
}

static itr_status push_ptr(itr_pyobj ***v, size_t *n, size_t *cap, itr_pyobj *o) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        itr_pyobj **p = realloc(*v, c * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "checkpoint: out of memory recording storages");
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = o;
    return ITR_OK;
}

itr_pyobj *itr_storage_find(const itr_storage_table *t, const char *key, size_t len) {
    for (size_t i = 0; i < t->n; i++) {
        const itr_pystorage *s = &t->roots[i]->u.storage;
        if (strlen(s->key) == len && memcmp(s->key, key, len) == 0) return t->roots[i];
    }
    return NULL;
}

static itr_pyobj *find_view(const itr_storage_table *t, const char *key) {
    for (size_t i = 0; i < t->n_views; i++)
        if (strcmp(t->views[i]->u.storage.key, key) == 0) return t->views[i];
    return NULL;
}

/* Text of a str / py2str field of at most 256 bytes, else NULL. */
static const char *key_text(const itr_pyobj *o) {
    const char *s = itr_py_str(o);
    return s && o->u.bytes.len <= 256 && strlen(s) == o->u.bytes.len ? s : NULL;
}

/* View bookkeeping of old legacy files: elements [offset, offset+numel) of root. */
typedef struct view_link {
    itr_pyobj *root;
    int64_t offset;
} view_link;

itr_status itr_storage_persistent_load(void *ctx, itr_pyarena *a, itr_pyobj *pid, itr_pyobj **out) {
    itr_storage_table *t = ctx;
    if (pid->kind != ITR_PY_TUPLE || pid->u.seq.n == 0)
        return itr_fail(ITR_E_FORMAT, "%s: persistent id is a %s, not a tuple", t->src, itr_py_type_name(pid));
    itr_pyobj **f = pid->u.seq.items;
    if (itr_py_str_eq(f[0], "module"))
        return itr_fail(ITR_E_UNSUPPORTED, "%s: a whole nn.Module was saved (persistent id 'module'); "
                        "only state dicts are supported", t->src);
    if (!itr_py_str_eq(f[0], "storage"))
        return itr_fail(ITR_E_FORMAT, "%s: persistent id does not start with 'storage'", t->src);
    if (pid->u.seq.n != 5 && pid->u.seq.n != 6)
        return itr_fail(ITR_E_FORMAT, "%s: storage persistent id has %zu fields (expected 5 or 6)", t->src,
                        pid->u.seq.n);
    const char *key = key_text(f[2]), *loc = key_text(f[3]);
    if (f[1]->kind != ITR_PY_GLOBAL || f[1]->u.global.id != ITR_G_TORCH_STORAGE || !key || !loc ||
        f[4]->kind != ITR_PY_INT || f[4]->u.i < 0)
        return itr_fail(ITR_E_FORMAT, "%s: storage persistent id is not ('storage', <Type>Storage, key, "
                        "location, numel)", t->src);
    const itr_pyobj *g = f[1];
    int64_t numel = f[4]->u.i;
    size_t esz = storage_elem_size(g);
    if ((uint64_t)numel > (uint64_t)INT64_MAX / esz)
        return itr_fail(ITR_E_LIMIT, "%s: storage '%s' of %lld elements is too large", t->src, key, (long long)numel);
    itr_pyobj *root = itr_storage_find(t, key, strlen(key));
    if (root) {
        const itr_pystorage *r = &root->u.storage;
        if (strcmp(r->type_name, g->u.global.name) != 0 || r->numel != numel)
            return itr_fail(ITR_E_FORMAT, "%s: storage '%s' declared as %s[%lld] and as %s[%lld]", t->src, key,
                            r->type_name, (long long)r->numel, g->u.global.name, (long long)numel);
    } else {
        itr_pyobj *k = itr_py_new_str(a, key, strlen(key)), *l = itr_py_new_str(a, loc, strlen(loc));
        if (!k || !l || !(root = itr_py_new(a, ITR_PY_STORAGE))) return ITR_E_LIMIT;
        itr_pystorage *s = &root->u.storage;
        s->dtype = g->u.global.dtype;
        s->supported = g->u.global.supported;
        s->elem_size = esz;
        s->type_name = g->u.global.name;
        s->key = (char *)k->u.bytes.data;
        s->location = (char *)l->u.bytes.data;
        s->numel = numel;
        itr_status st = push_ptr(&t->roots, &t->n, &t->cap, root);
        if (st) return st;
    }
    if (pid->u.seq.n == 5 || f[5]->kind == ITR_PY_NONE) {
        *out = root;
        return ITR_OK;
    }
    /* legacy view_metadata (view_key, offset, view_numel) */
    const itr_pyobj *vm = f[5];
    const char *vkey = vm->kind == ITR_PY_TUPLE && vm->u.seq.n == 3 ? key_text(vm->u.seq.items[0]) : NULL;
    if (!vkey || vm->u.seq.items[1]->kind != ITR_PY_INT || vm->u.seq.items[2]->kind != ITR_PY_INT)
        return itr_fail(ITR_E_FORMAT, "%s: storage '%s': bad view metadata", t->src, key);
    int64_t off = vm->u.seq.items[1]->u.i, vn = vm->u.seq.items[2]->u.i;
    if (off < 0 || vn < 0 || off > numel || vn > numel - off)
        return itr_fail(ITR_E_FORMAT, "%s: storage view '%s' [%lld, +%lld) outside root '%s' of %lld elements",
                        t->src, vkey, (long long)off, (long long)vn, key, (long long)numel);
    itr_pyobj *view = find_view(t, vkey);
    if (view) {            /* cached under view_key, like torch's deserialized_objects */
        *out = view;
        return ITR_OK;
    }
    itr_pyobj *k = itr_py_new_str(a, vkey, strlen(vkey));
    view_link *link = itr_pyarena_alloc(a, sizeof *link);
    if (!k || !link || !(view = itr_py_new(a, ITR_PY_STORAGE))) return ITR_E_LIMIT;
    view->u.storage = root->u.storage;
    view->u.storage.key = (char *)k->u.bytes.data;
    view->u.storage.numel = vn;
    link->root = root;
    link->offset = off;
    view->u.storage.user = link;
    itr_status st = push_ptr(&t->views, &t->n_views, &t->views_cap, view);
    if (st) return st;
    *out = view;
    return ITR_OK;
}

itr_status itr_storage_resolve_views(itr_storage_table *t) {
    for (size_t i = 0; i < t->n_views; i++) {
        itr_pystorage *v = &t->views[i]->u.storage;
        const view_link *link = v->user;
        const itr_pystorage *r = &link->root->u.storage;
        if (!r->data) return itr_fail(ITR_E_FORMAT, "%s: storage '%s' has no data", t->src, r->key);
        v->data = r->data + (size_t)link->offset * r->elem_size;
        v->nbytes = (size_t)v->numel * r->elem_size;
    }
    return ITR_OK;
}

void itr_storage_table_free(itr_storage_table *t) {
    free(t->roots);
    free(t->views);
    memset(t, 0, sizeof *t);
}
