/* ckpt_internal.h - private interface between the checkpoint files of
 * formats/torch: the storage table filled by the persistent-load hook, and
 * the two containers that locate the storages' bytes. */
#ifndef ITR_CKPT_INTERNAL_H
#define ITR_CKPT_INTERNAL_H

#include "itr/checkpoint.h"
#include "pickle_internal.h"

/* Storages seen in the object tree (s1.3.1), by key. Views of old legacy
 * files (view_metadata) are kept apart and resolved from their root. */
typedef struct itr_storage_table {
    itr_pyobj **roots;
    size_t n, cap;
    itr_pyobj **views;
    size_t n_views, views_cap;
    const char *src;
} itr_storage_table;

/* The persistent_load hook for both containers (ctx = itr_storage_table). */
itr_status itr_storage_persistent_load(void *ctx, itr_pyarena *arena, itr_pyobj *pid, itr_pyobj **out);
/* Root storage of that key, or NULL. */
itr_pyobj *itr_storage_find(const itr_storage_table *t, const char *key, size_t len);
/* After every root has data: points views into their roots (bounds-checked). */
itr_status itr_storage_resolve_views(itr_storage_table *t);
void itr_storage_table_free(itr_storage_table *t);

/* Containers. Both run the object-tree pickle with the hook and fill every
 * storage's data; *root receives the tree. buf stays owned by the caller and
 * must outlive the arena when the container points into it (legacy). */
itr_status itr_ckpt_legacy_read(itr_pyarena *a, const uint8_t *buf, size_t len, const char *src,
                                itr_pyobj **root);
itr_status itr_ckpt_zip_read(itr_pyarena *a, const uint8_t *buf, size_t len, const char *src,
                             itr_pyobj **root);

/* Object model (ckpt_model.c): opt -> config, state dicts -> weights. */
itr_status itr_ckpt_build_model(itr_checkpoint *c);
/* A value as JSON text (lists/tuples/dicts of plain values; depth and size
 * bounded); *out is malloc'ed. */
itr_status itr_py_to_json(const itr_pyobj *o, char **out);

#endif
