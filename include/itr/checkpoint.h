/* itr/checkpoint.h - released PyTorch checkpoints (.pth / .pth.tar), both
 * serialization eras (legacy 5-pickle stream, zip), read with no Python and
 * executing nothing (formats/torch). Spec: specs formats.md s1, s5.
 *
 * A loaded checkpoint exposes
 *   - the whole object tree (itr_pyobj, see itr/pickle.h) for `itr inspect`,
 *   - `opt` (argparse.Namespace) as a typed itr_config,
 *   - every state dict as an itr_weights store: group "0", "1", ... for the
 *     entries of a `model` list (or the keys of a `model` dict), and the
 *     top-level key ("sent_model_state_dict") for flat checkpoints
 *     (LGSGM/SEMScene); tensors are materialised contiguous, floating types as
 *     float32 (orig dtype kept in itr_ckpt_tensor_info), integers as int64. */
#ifndef ITR_CHECKPOINT_H
#define ITR_CHECKPOINT_H

#include "itr/config.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum itr_container {
    ITR_CONTAINER_LEGACY = 1,   /* torch < 1.6 or _use_new_zipfile_serialization=False */
    ITR_CONTAINER_ZIP = 2       /* torch >= 1.6 */
} itr_container;

struct itr_pyobj;               /* itr/pickle.h */

/* One tensor of a state dict as it was stored (before conversion). */
typedef struct itr_ckpt_tensor_info {
    const char *group;          /* weights group ("0", "sent_model_state_dict") */
    const char *key;            /* state-dict key                               */
    itr_dtype orig_dtype;       /* storage element type (float16, int64, ...)   */
    const struct itr_pyobj *node;   /* the ITR_PY_TENSOR node in root            */
} itr_ckpt_tensor_info;

typedef struct itr_checkpoint {
    char *path;
    itr_container container;
    struct itr_pyobj *root;     /* the unpickled object tree (owned) */
    itr_config opt;             /* empty when the checkpoint has no 'opt' */
    int has_opt;
    itr_weights weights;        /* every state dict found, see above */
    /* top-level scalars when present (NaN / -1 when absent) */
    int64_t epoch, eiters;
    double best_rsum, best_loss;
    itr_ckpt_tensor_info *tensors;  /* every tensor put into `weights`, in order */
    size_t n_tensors;
    void *priv;                 /* the file bytes the storages point into     */
} itr_checkpoint;

/* Loads a checkpoint file. Detects the container by magic bytes; rejects the
 * torch 0.1 tar container and non-checkpoints with a clear message. */
itr_status itr_checkpoint_load(const char *path, itr_checkpoint **out);
/* Same, from a buffer (copied); `name` is used in messages and as path. */
itr_status itr_checkpoint_load_buffer(const void *buf, size_t len, const char *name, itr_checkpoint **out);
void itr_checkpoint_free(itr_checkpoint *c);

/* Container of the bytes: ITR_OK and *kind, or an error saying what the
 * bytes are instead ("torch 0.1.x tar checkpoint: unsupported", "not a torch
 * checkpoint"). Only the first 262 bytes are looked at. */
itr_status itr_checkpoint_detect(const void *buf, size_t len, const char *name, itr_container *kind);

#ifdef __cplusplus
}
#endif
#endif
