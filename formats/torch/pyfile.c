/* pyfile.c - whole-file reads for the loaders (checkpoints, pickles, joblib).
 *
 * Files are read in chunks with a growing buffer (no ftell: C99 long offsets
 * are 32-bit on some platforms), up to a caller-given maximum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_internal.h"

itr_status itr_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len) {
    if (!path || !buf || !len) return itr_fail(ITR_E_ARG, "itr_read_file: NULL argument");
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return itr_fail(ITR_E_IO, "%s: cannot open for reading", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        fclose(f);
        return itr_fail(ITR_E_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(b);
                fclose(f);
                return itr_fail(ITR_E_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
            }
            size_t nc = cap * 2;
            uint8_t *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                fclose(f);
                return itr_fail(ITR_E_NOMEM, "%s: out of memory reading %zu bytes", path, nc);
            }
            b = nb;
            cap = nc;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return itr_fail(ITR_E_IO, "%s: read error", path);
    }
    if (n > max_bytes) {
        free(b);
        return itr_fail(ITR_E_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
    }
    *buf = b;
    *len = n;
    return ITR_OK;
}

itr_status itr_pickle_load_file(const char *path, const itr_pickle_opts *opts, itr_pyobj **out) {
    itr_pickle_opts o;
    if (opts) o = *opts;
    else itr_pickle_opts_default(&o);
    if (!o.source) o.source = path;
    uint8_t *buf = NULL;
    size_t len = 0;
    itr_status st = itr_read_file(path, o.limits.max_bytes, &buf, &len);
    if (st) return st;
    st = itr_pickle_load(buf, len, &o, out, NULL);
    free(buf);
    return st;
}
