/* ckpt_legacy.c - the legacy checkpoint container of torch 0.2 ... 1.5
 * (specs formats.md s1.2, s5 rule 5).
 *
 * Five pickles back to back (magic number, protocol version 1001, sys_info,
 * the object tree, the list of storage keys), then for each key of that list,
 * in list order: an i64 LE element count and the raw little-endian elements. */
#include <string.h>

#include "ckpt_internal.h"

/* LONG1 payload of the magic number 0x1950a86a20f9469cfc6c. */
static const uint8_t MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static itr_status run(itr_pyarena *a, const uint8_t *buf, size_t len, size_t *pos, const itr_pickle_opts *o,
                      const char *what, itr_pyobj **out) {
    size_t used = 0;
    itr_status st = itr_pickle_load_in(a, buf + *pos, len - *pos, o, out, &used);
    if (st) return itr_fail_context(st, "%s: legacy pickle %s at offset %zu", o->source, what, *pos);
    *pos += used;
    return ITR_OK;
}

/* Pickle 3: {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {...}}. */
static itr_status check_sys_info(const itr_pyobj *info, const char *src) {
    if (!info || info->kind != ITR_PY_DICT)
        return itr_fail(ITR_E_FORMAT, "%s: legacy sys_info is not a dict", src);
    const itr_pyobj *le = itr_py_dict_get(info, "little_endian");
    if (le && (le->kind != ITR_PY_BOOL || !le->u.i))
        return itr_fail(ITR_E_UNSUPPORTED, "%s: big-endian legacy checkpoint (sys_info little_endian=False)", src);
    return ITR_OK;
}

itr_status itr_ckpt_legacy_read(itr_pyarena *a, const uint8_t *buf, size_t len, const char *src, itr_pyobj **root) {
    itr_storage_table tab;
    memset(&tab, 0, sizeof tab);
    tab.src = src;
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.source = src;
    o.limits = *itr_pyarena_limits(a);
    itr_pyobj *magic = NULL, *proto = NULL, *info = NULL, *tree = NULL, *keys = NULL;
    size_t pos = 0;
    itr_status st = ITR_OK;
    if ((st = run(a, buf, len, &pos, &o, "1 (magic)", &magic))) goto done;
    if (magic->kind != ITR_PY_BIGINT || magic->u.bytes.len != sizeof MAGIC ||
        memcmp(magic->u.bytes.data, MAGIC, sizeof MAGIC) != 0) {
        st = itr_fail(ITR_E_FORMAT, "%s: legacy container: wrong magic number", src);
        goto done;
    }
    if ((st = run(a, buf, len, &pos, &o, "2 (protocol version)", &proto))) goto done;
    if (proto->kind != ITR_PY_INT || proto->u.i != 1001) {
        st = itr_fail(ITR_E_UNSUPPORTED, "%s: legacy container protocol version is not 1001", src);
        goto done;
    }
    if ((st = run(a, buf, len, &pos, &o, "3 (sys_info)", &info)) || (st = check_sys_info(info, src))) goto done;
    o.persistent_load = itr_storage_persistent_load;
    o.persistent_ctx = &tab;
    if ((st = run(a, buf, len, &pos, &o, "4 (object tree)", &tree))) goto done;
    o.persistent_load = NULL;
    if ((st = run(a, buf, len, &pos, &o, "5 (storage keys)", &keys))) goto done;
    if (keys->kind != ITR_PY_LIST) {
        st = itr_fail(ITR_E_FORMAT, "%s: legacy storage key list is a %s", src, itr_py_type_name(keys));
        goto done;
    }
    /* the raw storage records, in key-list order (never re-sorted) */
    for (size_t i = 0; i < keys->u.seq.n; i++) {
        const itr_pyobj *k = keys->u.seq.items[i];
        const char *ks = itr_py_str(k);
        itr_pyobj *so = ks ? itr_storage_find(&tab, (const char *)k->u.bytes.data, k->u.bytes.len) : NULL;
        if (!so) {
            st = itr_fail(ITR_E_FORMAT, "%s: legacy key list entry %zu names no storage of the object tree", src, i);
            goto done;
        }
        itr_pystorage *s = &so->u.storage;
        if (s->data) {
            st = itr_fail(ITR_E_FORMAT, "%s: legacy key list repeats storage '%s'", src, s->key);
            goto done;
        }
        if (len - pos < 8) {
            st = itr_fail(ITR_E_FORMAT, "%s: truncated: storage '%s' record header at offset %zu", src, s->key, pos);
            goto done;
        }
        uint64_t u = 0;
        for (int b = 0; b < 8; b++) u |= (uint64_t)buf[pos + (size_t)b] << (8 * b);
        pos += 8;
        if (u != (uint64_t)s->numel) {
            st = itr_fail(ITR_E_FORMAT, "%s: storage '%s' record holds %lld elements, the tree declared %lld", src,
                          s->key, (long long)(int64_t)u, (long long)s->numel);
            goto done;
        }
        if (u > (len - pos) / s->elem_size) {
            st = itr_fail(ITR_E_FORMAT, "%s: truncated: storage '%s' needs %llu x %zu bytes at offset %zu, "
                          "file has %zu", src, s->key, (unsigned long long)u, s->elem_size, pos, len);
            goto done;
        }
        s->data = buf + pos;
        s->nbytes = (size_t)u * s->elem_size;
        pos += s->nbytes;
        /* s1.2: a 0-element record still counts as found */
        if (!s->nbytes) s->data = buf;
    }
    for (size_t i = 0; i < tab.n; i++)
        if (!tab.roots[i]->u.storage.data) {
            st = itr_fail(ITR_E_FORMAT, "%s: storage '%s' is missing from the legacy key list", src,
                          tab.roots[i]->u.storage.key);
            goto done;
        }
    if ((st = itr_storage_resolve_views(&tab))) goto done;
    *root = tree;
done:
    itr_storage_table_free(&tab);
    return st;
}
