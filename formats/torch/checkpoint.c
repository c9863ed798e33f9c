/* checkpoint.c - loading a PyTorch checkpoint file (itr/checkpoint.h;
 * specs formats.md s1.1 detection, s1.2/s1.4 containers, s1.6 rejection).
 *
 * The file is read whole and kept for the lifetime of the checkpoint (the
 * legacy container's storages point into it); the object tree lives in one
 * pickle arena; state dicts are then copied out as float32 / int64 weights. */
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"

/* The first 15 bytes of every legacy checkpoint: PROTO 2, LONG1 of the magic. */
static const uint8_t LEGACY_MAGIC[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                         0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

itr_status itr_checkpoint_detect(const void *buf, size_t len, const char *name, itr_container *kind) {
    const uint8_t *b = buf;
    if (!name) name = "<buffer>";
    if (!b && len) return itr_fail(ITR_E_ARG, "itr_checkpoint_detect: NULL buffer");
    if (len >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
        *kind = ITR_CONTAINER_ZIP;
        return ITR_OK;
    }
    if (len >= sizeof LEGACY_MAGIC && memcmp(b, LEGACY_MAGIC, sizeof LEGACY_MAGIC) == 0) {
        *kind = ITR_CONTAINER_LEGACY;
        return ITR_OK;
    }
    if (len >= 262 && memcmp(b + 257, "ustar", 5) == 0)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: torch 0.1.x tar checkpoint: unsupported (no retrieval release "
                        "uses it; re-save it with a newer torch)", name);
    if (len == 0) return itr_fail(ITR_E_FORMAT, "%s: empty file: not a torch checkpoint", name);
    return itr_fail(ITR_E_FORMAT, "%s: not a torch checkpoint (first bytes %02x %02x %02x %02x)", name, b[0],
                    len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0);
}

void itr_checkpoint_free(itr_checkpoint *c) {
    if (!c) return;
    itr_pyobj_free(c->root);
    itr_config_free(&c->opt);
    itr_weights_free(&c->weights);
    free(c->tensors);
    free(c->priv);
    free(c->path);
    free(c);
}

/* Takes ownership of data (malloc'ed) in every case. */
static itr_status load_owned(uint8_t *data, size_t len, const char *name, itr_checkpoint **out) {
    *out = NULL;
    itr_container kind = ITR_CONTAINER_LEGACY;
    itr_status st = itr_checkpoint_detect(data, len, name, &kind);
    if (st) {
        free(data);
        return st;
    }
    itr_checkpoint *c = calloc(1, sizeof *c);
    size_t nl = strlen(name) + 1;
    char *path = malloc(nl);
    itr_pyarena *a = itr_pyarena_new(NULL);
    if (!c || !path || !a) {
        free(c);
        free(path);
        itr_pyarena_free(a);
        free(data);
        return itr_fail(ITR_E_NOMEM, "%s: out of memory", name);
    }
    memcpy(path, name, nl);
    c->path = path;
    c->priv = data;
    c->container = kind;
    itr_config_init(&c->opt);
    itr_weights_init(&c->weights, name);
    itr_pyobj *root = NULL;
    st = kind == ITR_CONTAINER_ZIP ? itr_ckpt_zip_read(a, data, len, name, &root)
                                   : itr_ckpt_legacy_read(a, data, len, name, &root);
    if (st) {
        itr_pyarena_free(a);
        itr_checkpoint_free(c);
        return st;
    }
    c->root = root;                    /* the arena is freed through root */
    if ((st = itr_ckpt_build_model(c))) {
        itr_checkpoint_free(c);
        return st;
    }
    *out = c;
    return ITR_OK;
}

itr_status itr_checkpoint_load_buffer(const void *buf, size_t len, const char *name, itr_checkpoint **out) {
    if (!out || (!buf && len)) return itr_fail(ITR_E_ARG, "itr_checkpoint_load_buffer: NULL argument");
    if (!name) name = "<buffer>";
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return itr_fail(ITR_E_NOMEM, "%s: out of memory copying %zu bytes", name, len);
    if (len) memcpy(copy, buf, len);
    return load_owned(copy, len, name, out);
}

itr_status itr_checkpoint_load(const char *path, itr_checkpoint **out) {
    if (!path || !out) return itr_fail(ITR_E_ARG, "itr_checkpoint_load: NULL argument");
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    itr_status st = itr_read_file(path, ITR_TENSOR_MAX_BYTES, &data, &len);
    if (st) return st;
    return load_owned(data, len, path, out);
}
