/* h5_weights.c - converted weights: /weights/<group>/<key> <-> itr_weights.
 *
 * Spec: formats.md s4.2. <group> is the position in the checkpoint's 'model'
 * list ("0", "1", ...) or the dict key of a flat checkpoint; <key> is the
 * state-dict key verbatim as the link name (dots are legal in HDF5 names,
 * keys never hold '/'). Each dataset carries attribute torch_dtype. Floating
 * tensors are stored as float32 and integers as int64 (booleans as int8 0/1);
 * when that changes the type, attribute orig_dtype keeps the original. */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "torch.float32" ... for the torch_dtype / orig_dtype attributes. */
static const char *torch_name(itr_dtype d) {
    switch (d) {
    case ITR_F32: return "torch.float32";
    case ITR_F64: return "torch.float64";
    case ITR_F16: return "torch.float16";
    case ITR_BF16: return "torch.bfloat16";
    case ITR_I8: return "torch.int8";
    case ITR_I16: return "torch.int16";
    case ITR_I32: return "torch.int32";
    case ITR_I64: return "torch.int64";
    case ITR_U8: return "torch.uint8";
    case ITR_BOOL: return "torch.bool";
    }
    return "torch.unknown";
}

/* malloc'ed "/weights/<group>/<key>" (or "/weights/<group>" when key is NULL). */
static char *weights_path(const char *group, const char *key) {
    size_t n = strlen("/weights/") + strlen(group) + (key ? 1 + strlen(key) : 0) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "/weights/%s%s%s", group, key ? "/" : "", key ? key : "");
    return p;
}

/* A group or key must be a single HDF5 link name. */
static int valid_link_name(const char *s) {
    return s && s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Writes one entry: stored type, dataset, torch_dtype (+ orig_dtype). */
static itr_status save_entry(itr_h5 *f, const itr_weight_entry *e) {
    if (!valid_link_name(e->group) || !valid_link_name(e->key))
        return itr_fail(ITR_E_ARG, "%s: weight '%s'/'%s': group and key must be non-empty names "
                        "without '/'", f->path, e->group ? e->group : "(null)",
                        e->key ? e->key : "(null)");
    itr_dtype stored = itr_dtype_is_float(e->t.dtype) ? ITR_F32
                       : e->t.dtype == ITR_BOOL   ? ITR_BOOL
                                                  : ITR_I64;
    char *path = weights_path(e->group, e->key);
    if (!path) return itr_fail(ITR_E_NOMEM, "%s: out of memory saving weights", f->path);
    itr_tensor conv = {0};
    const itr_tensor *t = &e->t;
    itr_status st = ITR_OK;
    if (t->dtype != stored) {
        st = itr_tensor_convert(&e->t, stored, &conv);
        if (st) st = itr_fail_context(st, "%s: %s: converting %s to %s", f->path, path,
                                      itr_dtype_name(t->dtype), itr_dtype_name(stored));
        t = &conv;
    }
    if (!st) st = itr_h5_write(f, path, t);
    if (!st) st = itr_h5_set_attr_str(f, path, "torch_dtype", torch_name(stored));
    if (!st && e->t.dtype != stored) st = itr_h5_set_attr_str(f, path, "orig_dtype", torch_name(e->t.dtype));
    itr_tensor_free(&conv);
    free(path);
    return st;
}

itr_status itr_h5_save_weights(itr_h5 *f, const itr_weights *w) {
    if (!f || !w) return itr_fail(ITR_E_ARG, "itr_h5_save_weights: NULL file or weights");
    itr_status st = itr_h5_make_group(f, "/weights");   /* present even when w is empty */
    for (size_t i = 0; i < w->n && !st; i++) st = save_entry(f, &w->entries[i]);
    return st;
}

/* Group order for loading: list positions numerically ("2" before "10"),
 * then named groups (flat checkpoints) alphabetically. */
static int is_index(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 18) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int group_order(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int ix = is_index(x), iy = is_index(y);
    if (ix != iy) return ix ? -1 : 1;
    if (ix) {
        long long vx = strtoll(x, NULL, 10), vy = strtoll(y, NULL, 10);
        if (vx != vy) return vx < vy ? -1 : 1;
    }
    return strcmp(x, y);
}

/* Loads every dataset of /weights/<group> into w. */
static itr_status load_group(itr_h5 *f, const char *group, itr_weights *w) {
    char *gpath = weights_path(group, NULL);
    if (!gpath) return itr_fail(ITR_E_NOMEM, "%s: out of memory loading weights", f->path);
    char **keys = NULL;
    size_t n = 0;
    itr_status st = ITR_OK;
    if (itr_h5i_kind_of(f, gpath) != ITR_H5I_GROUP)
        st = itr_fail(ITR_E_FORMAT, "%s: %s: expected a group of weights, found a dataset or other object",
                      f->path, gpath);
    if (!st) st = itr_h5_list(f, gpath, &keys, &n);
    for (size_t i = 0; i < n && !st; i++) {
        char *path = weights_path(group, keys[i]);
        if (!path) {
            st = itr_fail(ITR_E_NOMEM, "%s: out of memory loading weights", f->path);
            break;
        }
        itr_dtype stored;
        itr_tensor t = {0};
        if (itr_h5i_kind_of(f, path) != ITR_H5I_DATASET)
            st = itr_fail(ITR_E_FORMAT, "%s: %s: expected a weight dataset, found a group or other object",
                          f->path, path);
        if (!st) st = itr_h5_info(f, path, &stored, NULL, NULL);
        if (!st) {
            /* 0-d (num_batches_tracked) and empty tensors are legal weights. */
            itr_h5_read_opts any = {-1, NULL, 1};
            st = itr_h5_read(f, path, itr_dtype_is_float(stored) ? ITR_F32 : ITR_I64, &any, &t);
        }
        if (!st) {
            st = itr_weights_add(w, group, keys[i], &t);
            if (st) st = itr_fail_context(st, "%s: %s", f->path, path);
        }
        itr_tensor_free(&t);
        free(path);
    }
    itr_h5_free_names(keys, n);
    free(gpath);
    return st;
}

itr_status itr_h5_load_weights(itr_h5 *f, itr_weights *w) {
    if (!f || !w) return itr_fail(ITR_E_ARG, "itr_h5_load_weights: NULL file or weights");
    itr_h5i_quiet();
    if (itr_h5i_kind_of(f, "/weights") != ITR_H5I_GROUP)
        return itr_fail(ITR_E_KEY, "%s: /weights: no weights group (not a weights or fixture file?)",
                        f->path);
    if (!w->source) w->source = itr_h5i_strdup(f->path);
    char **groups = NULL;
    size_t n = 0;
    itr_status st = itr_h5_list(f, "/weights", &groups, &n);
    if (!st && n > 1) qsort(groups, n, sizeof *groups, group_order);
    for (size_t i = 0; i < n && !st; i++) st = load_group(f, groups[i], w);
    itr_h5_free_names(groups, n);
    return st;
}
