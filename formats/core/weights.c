/* weights.c - the in-memory weight store behind the lookup interface. */
#include "itr/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITR_USED_IGNORED 2

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void itr_weights_init(itr_weights *w, const char *source) {
    memset(w, 0, sizeof *w);
    if (source) w->source = dup_str(source);
}

void itr_weights_free(itr_weights *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->entries[i].group);
        free(w->entries[i].key);
        itr_tensor_free(&w->entries[i].t);
    }
    free(w->entries);
    free(w->source);
    free(w->problems);
    memset(w, 0, sizeof *w);
}

static itr_weight_entry *find_entry(const itr_weights *w, const char *group, const char *key) {
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].group, group) == 0 && strcmp(w->entries[i].key, key) == 0)
            return &w->entries[i];
    return NULL;
}

const itr_weight_entry *itr_weights_find(const itr_weights *w, const char *group, const char *key) {
    return find_entry(w, group, key);
}

int itr_weights_has(const itr_weights *w, const char *group, const char *key) {
    return find_entry(w, group, key) != NULL;
}

itr_status itr_weights_add(itr_weights *w, const char *group, const char *key, itr_tensor *t) {
    if (find_entry(w, group, key))
        return itr_fail(ITR_E_FORMAT, "%s: duplicate weight %s/%s", w->source ? w->source : "weights", group, key);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 32;
        itr_weight_entry *e = realloc(w->entries, cap * sizeof *e);
        if (!e) return itr_fail(ITR_E_NOMEM, "out of memory (weights)");
        w->entries = e;
        w->cap = cap;
    }
    itr_weight_entry *e = &w->entries[w->n];
    e->group = dup_str(group);
    e->key = dup_str(key);
    if (!e->group || !e->key) {
        free(e->group);
        free(e->key);
        return itr_fail(ITR_E_NOMEM, "out of memory (weights)");
    }
    e->t = *t;
    e->used = 0;
    memset(t, 0, sizeof *t);
    w->n++;
    return ITR_OK;
}

/* Appends one line to the problem list. */
static void add_problem(itr_weights *w, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t old = w->problems ? strlen(w->problems) : 0, add = strlen(line);
    char *p = realloc(w->problems, old + add + 3);
    if (!p) return;
    if (old) { p[old++] = ';'; p[old++] = ' '; }
    memcpy(p + old, line, add + 1);
    w->problems = p;
    w->n_problems++;
}

void itr_weights_begin(itr_weights *w) {
    free(w->problems);
    w->problems = NULL;
    w->n_problems = 0;
    for (size_t i = 0; i < w->n; i++) w->entries[i].used = 0;
}

itr_status itr_weights_get(itr_weights *w, const char *group, const char *key,
                           int ndim, const int64_t *shape, const itr_tensor **out) {
    char a[160], b[160];
    const char *src = w->source ? w->source : "weights";
    *out = NULL;
    itr_weight_entry *e = find_entry(w, group, key);
    if (!e) {
        add_problem(w, "missing key %s/%s", group, key);
        return itr_fail(ITR_E_KEY, "%s: missing key %s/%s", src, group, key);
    }
    if (e->t.dtype != ITR_F32) {
        add_problem(w, "%s/%s has dtype %s, expected float32", group, key, itr_dtype_name(e->t.dtype));
        return itr_fail(ITR_E_DTYPE, "%s: %s/%s has dtype %s, expected float32", src, group, key,
                        itr_dtype_name(e->t.dtype));
    }
    if (ndim >= 0) {
        int ok = e->t.ndim == ndim;
        for (int i = 0; ok && i < ndim; i++)
            if (shape[i] >= 0 && shape[i] != e->t.shape[i]) ok = 0;
        if (!ok) {
            itr_shape_str(e->t.ndim, e->t.shape, a, sizeof a);
            itr_shape_str(ndim, shape, b, sizeof b);
            add_problem(w, "%s/%s has shape %s, expected %s", group, key, a, b);
            return itr_fail(ITR_E_SHAPE, "%s: %s/%s has shape %s, expected %s", src, group, key, a, b);
        }
    }
    e->used = 1;
    *out = &e->t;
    return ITR_OK;
}

const float *itr_weights_f32(itr_weights *w, const char *group, const char *key,
                             int ndim, const int64_t *shape) {
    const itr_tensor *t = NULL;
    if (itr_weights_get(w, group, key, ndim, shape, &t)) return NULL;
    return (const float *)t->data;
}

void itr_weights_ignore(itr_weights *w, const char *group, const char *key) {
    itr_weight_entry *e = find_entry(w, group, key);
    if (e && !e->used) e->used = ITR_USED_IGNORED;
}

void itr_weights_ignore_suffix(itr_weights *w, const char *group, const char *suffix) {
    size_t ls = strlen(suffix);
    for (size_t i = 0; i < w->n; i++) {
        itr_weight_entry *e = &w->entries[i];
        size_t lk = strlen(e->key);
        if (strcmp(e->group, group) == 0 && lk >= ls && strcmp(e->key + lk - ls, suffix) == 0 && !e->used)
            e->used = ITR_USED_IGNORED;
    }
}

itr_status itr_weights_finish(itr_weights *w, itr_weights_mode mode) {
    const char *src = w->source ? w->source : "weights";
    if (mode == ITR_STRICT) {
        for (size_t i = 0; i < w->n; i++)
            if (!w->entries[i].used)
                add_problem(w, "unexpected key %s/%s", w->entries[i].group, w->entries[i].key);
    }
    if (w->n_problems == 0) return ITR_OK;
    itr_status st = itr_fail(ITR_E_KEY, "%s: %zu weight problem%s: %s", src, w->n_problems,
                             w->n_problems == 1 ? "" : "s", w->problems ? w->problems : "");
    return st;
}

size_t itr_weights_group_count(const itr_weights *w) {
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(w->entries[j].group, w->entries[i].group) == 0;
        if (!seen) n++;
    }
    return n;
}

const char *itr_weights_group_name(const itr_weights *w, size_t k) {
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(w->entries[j].group, w->entries[i].group) == 0;
        if (!seen) {
            if (n == k) return w->entries[i].group;
            n++;
        }
    }
    return NULL;
}
