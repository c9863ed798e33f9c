/* itr/weights.h - the weight-lookup interface between file formats and models.
 *
 * A model never sees a file format. It asks an itr_weights for a tensor by
 * (group, state-dict key) and the shape it expects. The store is filled by a
 * loader (HDF5 /weights/<i>/<key> in formats/hdf5, a .pth checkpoint in
 * formats/torch) and holds every tensor as float32 (integer buffers such as
 * BatchNorm's num_batches_tracked keep their dtype).
 *
 * group: the position in the checkpoint's 'model' list as a decimal string
 *        ("0" = img_enc, "1" = txt_enc, "2" = sim_enc ...), or the dict key of
 *        flat checkpoints ("sent_model_state_dict").
 *
 * Typical model load:
 *     itr_weights_begin(w);                          // clear problem list
 *     itr_weights_get(w, "0", "fc.weight", 2, (int64_t[]){E, D}, &fc_w);
 *     ...                                            // keeps going on failure
 *     st = itr_weights_finish(w, ITR_STRICT);        // every missing key,
 *                                                    // bad shape, unused key
 */
#ifndef ITR_WEIGHTS_H
#define ITR_WEIGHTS_H

#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_weight_entry {
    char *group;
    char *key;
    itr_tensor t;          /* owned */
    int used;              /* set by a successful lookup */
} itr_weight_entry;

typedef struct itr_weights {
    itr_weight_entry *entries;
    size_t n, cap;
    char *source;          /* file the weights came from (for messages) */
    char *problems;        /* accumulated lookup failures since begin() */
    size_t n_problems;
} itr_weights;

void itr_weights_init(itr_weights *w, const char *source);
void itr_weights_free(itr_weights *w);

/* Adds a tensor (ownership moves into the store; *t is reset). Fails on a
 * duplicate (group, key). */
itr_status itr_weights_add(itr_weights *w, const char *group, const char *key, itr_tensor *t);

/* Finds an entry without marking it used; NULL when absent. */
const itr_weight_entry *itr_weights_find(const itr_weights *w, const char *group, const char *key);
int itr_weights_has(const itr_weights *w, const char *group, const char *key);

/* Looks up a float32 tensor and checks its shape (a -1 in `shape` matches any
 * size; ndim < 0 skips the check). On success *out points into the store and
 * the entry is marked used. On failure records a problem naming the key and
 * both shapes, and returns ITR_E_KEY or ITR_E_SHAPE. */
itr_status itr_weights_get(itr_weights *w, const char *group, const char *key,
                           int ndim, const int64_t *shape, const itr_tensor **out);
/* Same, returning the data pointer directly (NULL on failure). */
const float *itr_weights_f32(itr_weights *w, const char *group, const char *key,
                             int ndim, const int64_t *shape);

/* Marks a key as deliberately ignored (e.g. position_ids, num_batches_tracked). */
void itr_weights_ignore(itr_weights *w, const char *group, const char *key);
/* Marks every key of `group` ending in `suffix` as ignored. */
void itr_weights_ignore_suffix(itr_weights *w, const char *group, const char *suffix);

void itr_weights_begin(itr_weights *w);

typedef enum { ITR_LENIENT = 0, ITR_STRICT = 1 } itr_weights_mode;
/* Returns ITR_OK when no lookup failed (and, in strict mode, every key of
 * every group was used or ignored); else an error whose message lists every
 * missing key, wrong shape and (strict) unused key by name. */
itr_status itr_weights_finish(itr_weights *w, itr_weights_mode mode);

/* Number of distinct groups, and the i-th group name (in insertion order). */
size_t itr_weights_group_count(const itr_weights *w);
const char *itr_weights_group_name(const itr_weights *w, size_t i);

#ifdef __cplusplus
}
#endif
#endif
