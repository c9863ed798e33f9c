/* itr/probe.h - named intermediate results reported by a computation.
 *
 * A model reports a tensor where its equation produces it:
 *     itr_probe_put(p, "img_glo", &t);
 * It is a no-op when p is NULL, so evaluation pays nothing. The conformance
 * runner passes a probe, collects every reported tensor and compares it with
 * /outputs/<name> of the golden case. */
#ifndef ITR_PROBE_H
#define ITR_PROBE_H

#include <stddef.h>
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_probe_item {
    char *name;
    itr_tensor t;           /* owned copy (numeric items)              */
    char **strs;            /* owned copy (string-list items), or NULL */
    size_t n_strs;
} itr_probe_item;

typedef struct itr_probe {
    itr_probe_item *items;
    size_t n, cap;
} itr_probe;

void itr_probe_init(itr_probe *p);
void itr_probe_free(itr_probe *p);

/* Stores a copy of t under name (replacing an earlier one). NULL p: no-op. */
itr_status itr_probe_put(itr_probe *p, const char *name, const itr_tensor *t);
/* Copies a raw buffer of the given dtype and shape. */
itr_status itr_probe_put_raw(itr_probe *p, const char *name, itr_dtype dtype,
                             int ndim, const int64_t *shape, const void *data);
/* Convenience: a 0-d float scalar (stored as float64). */
itr_status itr_probe_put_scalar(itr_probe *p, const char *name, double v);
/* Moves t into the probe (no copy; *t is reset). */
itr_status itr_probe_take(itr_probe *p, const char *name, itr_tensor *t);

/* A list of UTF-8 strings (e.g. a vocabulary in column order). */
itr_status itr_probe_put_strings(itr_probe *p, const char *name, const char *const *strs, size_t n);

/* The numeric item of that name, or NULL (also for string items). */
const itr_tensor *itr_probe_get(const itr_probe *p, const char *name);
/* The string item of that name (its count in *n), or NULL. */
char *const *itr_probe_get_strings(const itr_probe *p, const char *name, size_t *n);
/* 1 when the caller is collecting (p != NULL): skip costly intermediates otherwise. */
static inline int itr_probe_on(const itr_probe *p) { return p != NULL; }

#ifdef __cplusplus
}
#endif
#endif
