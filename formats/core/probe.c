/* probe.c - named intermediate results (see itr/probe.h). */
#include "itr/probe.h"

#include <stdlib.h>
#include <string.h>

static void free_strs(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void itr_probe_init(itr_probe *p) { memset(p, 0, sizeof *p); }

void itr_probe_free(itr_probe *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        itr_tensor_free(&p->items[i].t);
        free_strs(p->items[i].strs, p->items[i].n_strs);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

static itr_probe_item *find_item(const itr_probe *p, const char *name) {
    if (!p) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0) return &p->items[i];
    return NULL;
}

const itr_tensor *itr_probe_get(const itr_probe *p, const char *name) {
    itr_probe_item *it = find_item(p, name);
    return it && !it->strs ? &it->t : NULL;
}

char *const *itr_probe_get_strings(const itr_probe *p, const char *name, size_t *n) {
    itr_probe_item *it = find_item(p, name);
    if (!it || !it->strs) return NULL;
    *n = it->n_strs;
    return it->strs;
}

itr_status itr_probe_put_strings(itr_probe *p, const char *name, const char *const *strs, size_t n) {
    if (!p) return ITR_OK;
    char **copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) return itr_fail(ITR_E_NOMEM, "out of memory (probe)");
    for (size_t i = 0; i < n; i++) {
        copy[i] = dup_str(strs[i]);
        if (!copy[i]) {
            free_strs(copy, i);
            return itr_fail(ITR_E_NOMEM, "out of memory (probe)");
        }
    }
    itr_tensor empty = {0};
    itr_status st = itr_probe_take(p, name, &empty);
    itr_probe_item *it = find_item(p, name);
    if (st || !it) {
        free_strs(copy, n);
        return st ? st : itr_fail(ITR_E_INTERNAL, "probe: item '%s' vanished", name);
    }
    free_strs(it->strs, it->n_strs);
    it->strs = copy;
    it->n_strs = n;
    return ITR_OK;
}

itr_status itr_probe_take(itr_probe *p, const char *name, itr_tensor *t) {
    if (!p) {
        itr_tensor_free(t);
        return ITR_OK;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->items[i].name, name) == 0) {
            itr_tensor_free(&p->items[i].t);
            free_strs(p->items[i].strs, p->items[i].n_strs);
            p->items[i].strs = NULL;
            p->items[i].n_strs = 0;
            p->items[i].t = *t;
            memset(t, 0, sizeof *t);
            return ITR_OK;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        itr_probe_item *it = realloc(p->items, cap * sizeof *it);
        if (!it) return itr_fail(ITR_E_NOMEM, "out of memory (probe)");
        p->items = it;
        p->cap = cap;
    }
    char *nm = dup_str(name);
    if (!nm) return itr_fail(ITR_E_NOMEM, "out of memory (probe)");
    p->items[p->n].name = nm;
    p->items[p->n].t = *t;
    p->items[p->n].strs = NULL;
    p->items[p->n].n_strs = 0;
    memset(t, 0, sizeof *t);
    p->n++;
    return ITR_OK;
}

itr_status itr_probe_put_raw(itr_probe *p, const char *name, itr_dtype dtype,
                             int ndim, const int64_t *shape, const void *data) {
    if (!p) return ITR_OK;
    itr_tensor t;
    itr_status st = itr_tensor_alloc(&t, dtype, ndim, shape);
    if (st) return st;
    memcpy(t.data, data, itr_tensor_nbytes(&t));
    st = itr_probe_take(p, name, &t);
    itr_tensor_free(&t);
    return st;
}

itr_status itr_probe_put(itr_probe *p, const char *name, const itr_tensor *t) {
    if (!p) return ITR_OK;
    return itr_probe_put_raw(p, name, t->dtype, t->ndim, t->shape, t->data);
}

itr_status itr_probe_put_scalar(itr_probe *p, const char *name, double v) {
    return itr_probe_put_raw(p, name, ITR_F64, 0, NULL, &v);
}
