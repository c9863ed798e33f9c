/* joblib.c - joblib files (itr/joblib.h; specs formats.md s2.3, s5 rule 8).
 *
 * The compression is detected from the first bytes. A zlib stream is
 * inflated whole (bounded by opts->limits.max_bytes) and then read like an
 * uncompressed file: one pickle in which the safe VM (formats/torch) turns
 * each NumpyArrayWrapper + raw payload into an ndarray. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "itr/joblib.h"

/* Inflates a whole zlib stream into a malloc'ed buffer of at most max bytes. */
static itr_status inflate_all(const uint8_t *in, size_t len, size_t max, const char *src, uint8_t **out,
                              size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) return itr_fail(ITR_E_INTERNAL, "%s: zlib initialisation failed", src);
    size_t cap = len < ((size_t)1 << 20) ? ((size_t)1 << 16) : len * 2, n = 0;
    if (cap > max) cap = max ? max : 1;
    uint8_t *buf = malloc(cap);
    itr_status st = ITR_OK;
    if (!buf) {
        inflateEnd(&zs);
        return itr_fail(ITR_E_NOMEM, "%s: out of memory inflating", src);
    }
    size_t in_pos = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (n == cap) {
            if (cap >= max) {
                st = itr_fail(ITR_E_LIMIT, "%s: zlib stream inflates past the limit of %zu bytes", src, max);
                break;
            }
            size_t nc = cap > max / 2 ? max : cap * 2;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                st = itr_fail(ITR_E_NOMEM, "%s: out of memory inflating to %zu bytes", src, nc);
                break;
            }
            buf = nb;
            cap = nc;
        }
        /* zlib counts in uInt: feed and drain in chunks of at most 1 GiB */
        size_t in_chunk = len - in_pos > (1u << 30) ? (1u << 30) : len - in_pos;
        size_t out_chunk = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        zs.next_in = (Bytef *)(uintptr_t)(in + in_pos);
        zs.avail_in = (uInt)in_chunk;
        zs.next_out = buf + n;
        zs.avail_out = (uInt)out_chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        in_pos += in_chunk - zs.avail_in;
        n += out_chunk - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            st = itr_fail(ITR_E_FORMAT, "%s: corrupt zlib stream (%s)", src, zs.msg ? zs.msg : "inflate error");
            break;
        }
        if (rc == Z_BUF_ERROR && in_pos == len && n < cap) {
            st = itr_fail(ITR_E_FORMAT, "%s: truncated zlib stream", src);
            break;
        }
    }
    inflateEnd(&zs);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = n;
    return ITR_OK;
}

itr_status itr_joblib_loads(const uint8_t *buf, size_t len, const itr_pickle_opts *opts, itr_pyobj **out) {
    itr_pickle_opts o;
    if (!out || (!buf && len)) return itr_fail(ITR_E_ARG, "itr_joblib_loads: NULL argument");
    *out = NULL;
    if (opts) o = *opts;
    else itr_pickle_opts_default(&o);
    const char *src = o.source ? o.source : "<joblib>";
    o.source = src;
    if (len == 0) return itr_fail(ITR_E_FORMAT, "%s: empty joblib file", src);
    if (buf[0] == 0x80) return itr_pickle_load(buf, len, &o, out, NULL);
    if (buf[0] == 0x78) {
        uint8_t *raw = NULL;
        size_t n = 0;
        itr_status st = inflate_all(buf, len, o.limits.max_bytes, src, &raw, &n);
        if (st) return st;
        if (n == 0 || raw[0] != 0x80) {
            free(raw);
            return itr_fail(ITR_E_FORMAT, "%s: the inflated joblib stream is not a pickle", src);
        }
        st = itr_pickle_load(raw, n, &o, out, NULL);
        free(raw);
        return st;
    }
    static const struct { const char *magic; size_t n; const char *what; } OTHER[] = {
        {"\x1f\x8b", 2, "gzip"},           {"BZ", 2, "bz2"},   {"\xfd\x37\x7a\x58\x5a", 5, "xz"},
        {"\x5d\x00", 2, "lzma"},           {"\x04\x22\x4d\x18", 4, "lz4"},
        {"ZF", 2, "joblib < 0.9.3 'ZF'"},
    };
    for (size_t i = 0; i < sizeof OTHER / sizeof OTHER[0]; i++)
        if (len >= OTHER[i].n && memcmp(buf, OTHER[i].magic, OTHER[i].n) == 0)
            return itr_fail(ITR_E_UNSUPPORTED, "%s: %s-compressed joblib files are not supported "
                            "(only uncompressed and zlib)", src, OTHER[i].what);
    return itr_fail(ITR_E_FORMAT, "%s: not a joblib file (first byte 0x%02x)", src, buf[0]);
}

itr_status itr_joblib_load(const char *path, const itr_pickle_opts *opts, itr_pyobj **out) {
    itr_pickle_opts o;
    if (!path || !out) return itr_fail(ITR_E_ARG, "itr_joblib_load: NULL argument");
    if (opts) o = *opts;
    else itr_pickle_opts_default(&o);
    if (!o.source) o.source = path;
    uint8_t *buf = NULL;
    size_t len = 0;
    itr_status st = itr_read_file(path, o.limits.max_bytes, &buf, &len);
    if (st) return st;
    st = itr_joblib_loads(buf, len, &o, out);
    free(buf);
    return st;
}
