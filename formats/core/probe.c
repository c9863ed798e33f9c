/* probe.c - named intermediate results (see itr/probe.h). */
#include "itr/probe.h"

#include <stdlib.h>
#include <string.h>

void itr_probe_init(itr_probe *p) { memset(p, 0, sizeof *p); }

void itr_probe_free(itr_probe *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        itr_tensor_free(&p->items[i].t);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

const itr_tensor *itr_probe_get(const itr_probe *p, const char *name) {
    if (!p) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, name) == 0) return &p->items[i].t;
    return NULL;
}

itr_status itr_probe_take(itr_probe *p, const char *name, itr_tensor *t) {
    if (!p) {
        itr_tensor_free(t);
        return ITR_OK;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->items[i].name, name) == 0) {
            itr_tensor_free(&p->items[i].t);
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
    size_t len = strlen(name) + 1;
    char *nm = malloc(len);
    if (!nm) return itr_fail(ITR_E_NOMEM, "out of memory (probe)");
    memcpy(nm, name, len);
    p->items[p->n].name = nm;
    p->items[p->n].t = *t;
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
