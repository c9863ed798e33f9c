/* ckpt_zip.c - the zip checkpoint container of torch >= 1.6 (specs
 * formats.md s1.4, s5 rule 6), read through libzip from memory.
 *
 *   <prefix>/data.pkl     the object tree (pickle protocol 2)
 *   <prefix>/data/<key>   one stored (uncompressed) record per storage
 *   <prefix>/byteorder    optional "little" / "big"
 * The prefix is whatever precedes the unique "data.pkl" entry; sizes come
 * from the central directory (local headers carry zeros). */
#include <string.h>
#include <zip.h>

#include "ckpt_internal.h"

#define MAX_ENTRIES 1000000

static itr_status zip_err(const char *src, const char *what, zip_error_t *e) {
    itr_status st = itr_fail(ITR_E_FORMAT, "%s: zip container: %s: %s", src, what, zip_error_strerror(e));
    zip_error_fini(e);
    return st;
}

/* Reads entry i (stored, unencrypted, exactly `size` bytes) into the arena.
 * file_len bounds the size before anything is allocated (s5 rule 6): a
 * stored entry cannot be larger than the archive that holds it. */
static itr_status read_entry(zip_t *za, zip_uint64_t i, const char *name, itr_pyarena *a, const char *src,
                             size_t file_len, uint8_t **out, size_t *size) {
    zip_stat_t zs;
    zip_stat_init(&zs);
    if (zip_stat_index(za, i, ZIP_FL_ENC_RAW, &zs) != 0)
        return itr_fail(ITR_E_FORMAT, "%s: zip entry '%s': %s", src, name, zip_strerror(za));
    if ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: zip entry '%s' is encrypted", src, name);
    if (!(zs.valid & ZIP_STAT_COMP_METHOD) || zs.comp_method != ZIP_CM_STORE)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: zip entry '%s' is compressed (torch stores entries)", src, name);
    if (!(zs.valid & ZIP_STAT_SIZE) || !(zs.valid & ZIP_STAT_COMP_SIZE) || zs.comp_size != zs.size)
        return itr_fail(ITR_E_FORMAT, "%s: zip entry '%s': stored sizes disagree", src, name);
    if (zs.size > (zip_uint64_t)file_len)
        return itr_fail(ITR_E_FORMAT, "%s: zip entry '%s' claims %llu bytes in a %zu-byte file", src, name,
                        (unsigned long long)zs.size, file_len);
    uint8_t *buf = itr_pyarena_alloc(a, (size_t)zs.size + 1);
    if (!buf) return itr_fail_context(ITR_E_LIMIT, "%s: zip entry '%s'", src, name);
    zip_file_t *zf = zip_fopen_index(za, i, 0);
    if (!zf) return itr_fail(ITR_E_FORMAT, "%s: zip entry '%s': %s", src, name, zip_strerror(za));
    zip_uint64_t got = 0;
    while (got < zs.size) {
        zip_int64_t r = zip_fread(zf, buf + got, zs.size - got);
        if (r <= 0) break;
        got += (zip_uint64_t)r;
    }
    /* one more read reaches the end, where libzip checks the CRC */
    uint8_t extra = 0;
    zip_int64_t tail = got == zs.size ? zip_fread(zf, &extra, 1) : -1;
    itr_status st = ITR_OK;
    if (got != zs.size || tail != 0)
        st = itr_fail(ITR_E_FORMAT, "%s: zip entry '%s': read %llu of %llu bytes (%s)", src, name,
                      (unsigned long long)got, (unsigned long long)zs.size, zip_file_strerror(zf));
    zip_fclose(zf);
    if (st) return st;
    *out = buf;
    *size = (size_t)zs.size;
    return ITR_OK;
}

static void byteswap(uint8_t *p, size_t nbytes, size_t esz) {
    for (size_t i = 0; i + esz <= nbytes; i += esz)
        for (size_t b = 0; b < esz / 2; b++) {
            uint8_t t = p[i + b];
            p[i + b] = p[i + esz - 1 - b];
            p[i + esz - 1 - b] = t;
        }
}

/* Everything that needs the open archive; za is closed by the caller. */
static itr_status read_archive(zip_t *za, size_t file_len, itr_pyarena *a, const char *src,
                               itr_storage_table *tab, itr_pyobj **root) {
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > MAX_ENTRIES)
        return itr_fail(ITR_E_LIMIT, "%s: zip container with %lld entries", src, (long long)n);
    /* the unique "<prefix>/data.pkl" with exactly one '/' */
    zip_int64_t pkl = -1;
    size_t plen = 0;
    const char *pname = NULL;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) return itr_fail(ITR_E_FORMAT, "%s: zip entry %lld has no name", src, (long long)i);
        size_t len = strlen(name);
        const char *slash = strchr(name, '/');
        if (len > 9 && strcmp(name + len - 9, "/data.pkl") == 0 && slash == name + len - 9) {
            if (pkl >= 0) return itr_fail(ITR_E_FORMAT, "%s: zip container has two data.pkl entries", src);
            pkl = i;
            pname = name;
            plen = len - 8;                 /* "<prefix>/" */
        }
    }
    if (pkl < 0) return itr_fail(ITR_E_FORMAT, "%s: zip archive without '<prefix>/data.pkl': not a torch checkpoint", src);
    char prefix[512];
    if (plen >= sizeof prefix) return itr_fail(ITR_E_LIMIT, "%s: zip prefix too long", src);
    memcpy(prefix, pname, plen);
    prefix[plen] = '\0';

    uint8_t *pk = NULL;
    size_t pk_len = 0;
    itr_status st = read_entry(za, (zip_uint64_t)pkl, "data.pkl", a, src, file_len, &pk, &pk_len);
    if (st) return st;
    itr_pickle_opts o;
    itr_pickle_opts_default(&o);
    o.limits = *itr_pyarena_limits(a);
    o.source = src;
    o.persistent_load = itr_storage_persistent_load;
    o.persistent_ctx = tab;
    size_t used = 0;
    if ((st = itr_pickle_load_in(a, pk, pk_len, &o, root, &used)))
        return itr_fail_context(st, "%s: %sdata.pkl", src, prefix);

    /* storage records and the byte order */
    int big = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) return itr_fail(ITR_E_FORMAT, "%s: zip entry %lld has no name", src, (long long)i);
        if (strncmp(name, prefix, plen) != 0)
            return itr_fail(ITR_E_FORMAT, "%s: zip entry '%.200s' is outside the prefix '%s'", src, name, prefix);
        const char *rest = name + plen;
        if (strcmp(rest, "byteorder") == 0) {
            uint8_t *bo = NULL;
            size_t bl = 0;
            if ((st = read_entry(za, (zip_uint64_t)i, rest, a, src, file_len, &bo, &bl))) return st;
            if (bl >= 3 && memcmp(bo, "big", 3) == 0) big = 1;
            else if (!(bl >= 6 && memcmp(bo, "little", 6) == 0))
                return itr_fail(ITR_E_FORMAT, "%s: zip byteorder record is neither 'little' nor 'big'", src);
            continue;
        }
        if (strncmp(rest, "data/", 5) != 0) continue;
        itr_pyobj *so = itr_storage_find(tab, rest + 5, strlen(rest + 5));
        if (!so) continue;                  /* a record the tree never uses */
        itr_pystorage *s = &so->u.storage;
        if (s->data) return itr_fail(ITR_E_FORMAT, "%s: zip container has two records '%s'", src, name);
        uint8_t *d = NULL;
        size_t dl = 0;
        if ((st = read_entry(za, (zip_uint64_t)i, name, a, src, file_len, &d, &dl))) return st;
        if ((uint64_t)s->numel > dl / s->elem_size)
            return itr_fail(ITR_E_FORMAT, "%s: zip record '%s' has %zu bytes, storage needs %lld x %zu", src, name,
                            dl, (long long)s->numel, s->elem_size);
        s->data = d;
        s->nbytes = dl;
    }
    for (size_t i = 0; i < tab->n; i++) {
        itr_pystorage *s = &tab->roots[i]->u.storage;
        if (!s->data)
            return itr_fail(ITR_E_FORMAT, "%s: zip record '%sdata/%s' of a storage is missing", src, prefix, s->key);
        /* s1.4: only torch >= 2.1 writes 'byteorder'; absent means little (arena bytes are ours) */
        if (big && s->elem_size > 1) byteswap((uint8_t *)(uintptr_t)s->data, s->nbytes, s->elem_size);
    }
    return itr_storage_resolve_views(tab);
}

itr_status itr_ckpt_zip_read(itr_pyarena *a, const uint8_t *buf, size_t len, const char *src, itr_pyobj **root) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *zs = zip_source_buffer_create(buf, len, 0, &err);
    if (!zs) return zip_err(src, "cannot open buffer", &err);
    zip_t *za = zip_open_from_source(zs, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!za) {
        zip_source_free(zs);
        return zip_err(src, "not a valid zip archive", &err);
    }
    zip_error_fini(&err);
    itr_storage_table tab;
    memset(&tab, 0, sizeof tab);
    tab.src = src;
    itr_status st = read_archive(za, len, a, src, &tab, root);
    zip_discard(za);                  /* read-only: nothing to write back */
    itr_storage_table_free(&tab);
    return st;
}
