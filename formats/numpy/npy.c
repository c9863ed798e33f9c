/* npy.c - NumPy .npy reader/writer. Spec: formats.md s2.1 (layout, header
 * grammar), s2.2 (object arrays), s5 rule 7 (bounds).
 *
 * Reading is split in three steps that every entry point shares:
 *   1. parse the preamble and the header dict (a strict literal grammar;
 *      nothing is evaluated) into an itr_npy_header;
 *   2. check that the data section the header promises lies in the file;
 *   3. read rows through a tiny "source" (a FILE* at 64-bit offsets or a
 *      memory buffer), decoding stored scalars (byte order, widening, bool)
 *      into the in-memory dtype and transposing Fortran order into C order. */
#include "itr/npy.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/pickle.h"

#define NPY_CHUNK_BYTES ((size_t)1 << 20)   /* decode buffer for converted reads */

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static char host_order(void) { return host_is_little() ? '<' : '>'; }

void itr_npy_opts_default(itr_npy_opts *o) {
    o->max_header_len = ITR_NPY_MAX_HEADER_DEFAULT;
    o->allow_pickle = 0;
}

/* ------------------------------------------------------------------------
 * Header dict parser (s2.1 grammar). The cursor walks the header text; byte
 * positions in messages are file offsets.
 * ---------------------------------------------------------------------- */
typedef struct hdr_cursor {
    const char *s;
    size_t n, i;
    size_t base;            /* file offset of s[0] */
    const char *name;
} hdr_cursor;

static itr_status hdr_bad(const hdr_cursor *c, const char *what) {
    return itr_fail(ITR_E_FORMAT, "%s: header: %s at byte %zu", c->name, what, c->base + c->i);
}

static int hdr_peek(const hdr_cursor *c) {
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

/* Python allows any whitespace between tokens of a bracketed literal. */
static void hdr_skip_ws(hdr_cursor *c) {
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f') break;
        c->i++;
    }
}

static itr_status hdr_expect(hdr_cursor *c, char ch, const char *what) {
    hdr_skip_ws(c);
    if (hdr_peek(c) != (unsigned char)ch) return hdr_bad(c, what);
    c->i++;
    return ITR_OK;
}

/* '...' or "..." without escapes (NumPy never writes any). */
static itr_status hdr_string(hdr_cursor *c, char *dst, size_t cap) {
    hdr_skip_ws(c);
    int q = hdr_peek(c);
    if (q != '\'' && q != '"') return hdr_bad(c, "expected a quoted string");
    c->i++;
    size_t len = 0;
    for (;;) {
        int ch = hdr_peek(c);
        if (ch < 0 || ch == '\n') return hdr_bad(c, "unterminated string");
        if (ch == '\\') return hdr_bad(c, "escape sequences in strings are not supported");
        c->i++;
        if (ch == q) break;
        if (len + 1 >= cap) return hdr_bad(c, "string too long");
        dst[len++] = (char)ch;
    }
    dst[len] = '\0';
    return ITR_OK;
}

/* A non-negative Python int literal; Python-2 NumPy may append 'L' (s2.1). */
static itr_status hdr_int(hdr_cursor *c, int64_t *v) {
    hdr_skip_ws(c);
    int ch = hdr_peek(c);
    if (ch == '-') return hdr_bad(c, "negative dimension");
    if (ch < '0' || ch > '9') return hdr_bad(c, "expected a non-negative integer");
    size_t start = c->i;
    int64_t x = 0;
    while ((ch = hdr_peek(c)) >= '0' && ch <= '9') {
        if (x > (INT64_MAX - (ch - '0')) / 10) return hdr_bad(c, "integer overflows int64");
        x = x * 10 + (ch - '0');
        c->i++;
    }
    if (c->s[start] == '0' && c->i - start > 1) return hdr_bad(c, "integer with a leading zero");
    if (hdr_peek(c) == 'L' || hdr_peek(c) == 'l') c->i++;
    *v = x;
    return ITR_OK;
}

static itr_status hdr_bool(hdr_cursor *c, int *v) {
    hdr_skip_ws(c);
    if (c->n - c->i >= 4 && memcmp(c->s + c->i, "True", 4) == 0) { *v = 1; c->i += 4; }
    else if (c->n - c->i >= 5 && memcmp(c->s + c->i, "False", 5) == 0) { *v = 0; c->i += 5; }
    else return hdr_bad(c, "'fortran_order': expected True or False");
    return ITR_OK;
}

/* () | (n,) | (a, b, ...[,]) -- a 1-tuple needs its comma, as in Python. */
static itr_status hdr_shape(hdr_cursor *c, itr_npy_header *h) {
    itr_status st = hdr_expect(c, '(', "'shape': expected a tuple");
    if (st) return st;
    h->ndim = 0;
    hdr_skip_ws(c);
    if (hdr_peek(c) == ')') { c->i++; return ITR_OK; }
    for (;;) {
        int64_t d = 0;
        if ((st = hdr_int(c, &d))) return st;
        if (h->ndim == ITR_MAX_DIMS)
            return itr_fail(ITR_E_LIMIT, "%s: header: 'shape': rank above %d", c->name, ITR_MAX_DIMS);
        h->shape[h->ndim++] = d;
        hdr_skip_ws(c);
        if (hdr_peek(c) == ',') {
            c->i++;
            hdr_skip_ws(c);
            if (hdr_peek(c) == ')') { c->i++; return ITR_OK; }
            continue;
        }
        if (hdr_peek(c) == ')') {
            if (h->ndim == 1) return hdr_bad(c, "'shape': (n) is an int, not a tuple");
            c->i++;
            return ITR_OK;
        }
        return hdr_bad(c, "'shape': expected ',' or ')'");
    }
}

/* "<f4" -> kind, byte order, size. Unsupported kinds are named. */
static itr_status parse_simple_descr(const char *name, const char *d, char *kind, char *order,
                                     size_t *size) {
    const char *p = d;
    *order = '=';
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=') *order = *p++;
    *kind = *p ? *p++ : '\0';
    size_t sz = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) { sz = sz * 10 + (size_t)(*p++ - '0'); digits++; }
    if (*p) return itr_fail(ITR_E_FORMAT, "%s: header: 'descr': malformed dtype '%s'", name, d);
    if (*kind == 'O') {
        if (digits && sz != 8 && sz != 4)
            return itr_fail(ITR_E_FORMAT, "%s: header: 'descr': malformed dtype '%s'", name, d);
        *size = 8;
        *order = '|';
        return ITR_OK;
    }
    int ok = 0;
    switch (*kind) {
    case 'f': ok = sz == 2 || sz == 4 || sz == 8; break;
    case 'i': case 'u': ok = sz == 1 || sz == 2 || sz == 4 || sz == 8; break;
    case 'b': ok = sz == 1; break;
    default: break;
    }
    if (!ok)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: header: 'descr': dtype '%s' is not supported "
                        "(f2/f4/f8, i1-i8, u1-u8, b1, O only)", name, d);
    if (*order == '|' && sz > 1)
        return itr_fail(ITR_E_FORMAT, "%s: header: 'descr': byte order '|' on the %zu-byte type '%s'",
                        name, sz, d);
    if (*order == '=') *order = host_order();
    if (sz == 1) *order = '|';
    *size = sz;
    return ITR_OK;
}

static itr_dtype mem_dtype(char kind, size_t size) {
    switch (kind) {
    case 'f': return size == 2 ? ITR_F16 : size == 4 ? ITR_F32 : ITR_F64;
    case 'i': return size == 1 ? ITR_I8 : size == 2 ? ITR_I16 : size == 4 ? ITR_I32 : ITR_I64;
    case 'u': return size == 1 ? ITR_U8 : size == 2 ? ITR_I32 : ITR_I64;   /* widened */
    default: return ITR_BOOL;
    }
}

static itr_status set_simple_descr(const char *name, const char *d, itr_npy_header *h) {
    itr_status st = parse_simple_descr(name, d, &h->kind, &h->byteorder, &h->field_size);
    if (st) return st;
    snprintf(h->descr, sizeof h->descr, "%s", d);
    h->itemsize = h->field_size;
    h->dtype = mem_dtype(h->kind, h->field_size);
    return ITR_OK;
}

/* [('name', '<f4'), ...]: packed fields of one common simple type (s2.1
 * "optional: a structured descr"). They read as a trailing axis. */
static itr_status hdr_record_descr(hdr_cursor *c, itr_npy_header *h) {
    itr_status st;
    char first[64] = "";
    c->i++;                                          /* '[' */
    h->nfields = 0;
    for (;;) {
        hdr_skip_ws(c);
        if (hdr_peek(c) == ']' && h->nfields > 0) { c->i++; break; }
        char fname[64], fdescr[64];
        if ((st = hdr_expect(c, '(', "'descr': expected a ('name', 'type') field"))) return st;
        if ((st = hdr_string(c, fname, sizeof fname))) return st;
        if ((st = hdr_expect(c, ',', "'descr': expected ',' in a field"))) return st;
        if ((st = hdr_string(c, fdescr, sizeof fdescr))) return st;
        hdr_skip_ws(c);
        if (hdr_peek(c) == ',') { c->i++; hdr_skip_ws(c); }
        if (hdr_peek(c) != ')')
            return itr_fail(ITR_E_UNSUPPORTED, "%s: header: 'descr': field '%s' has a sub-array "
                            "shape or extra items", c->name, fname);
        c->i++;
        if (h->nfields == ITR_NPY_MAX_FIELDS)
            return itr_fail(ITR_E_LIMIT, "%s: header: 'descr': more than %d fields", c->name,
                            ITR_NPY_MAX_FIELDS);
        if (strlen(fname) >= sizeof h->field_names[0] || fname[0] == '\0')
            return itr_fail(ITR_E_UNSUPPORTED, "%s: header: 'descr': field name '%s' is empty or "
                            "too long", c->name, fname);
        for (int k = 0; k < h->nfields; k++)
            if (strcmp(h->field_names[k], fname) == 0)
                return itr_fail(ITR_E_FORMAT, "%s: header: 'descr': duplicate field '%s'", c->name, fname);
        if (h->nfields == 0) {
            if ((st = set_simple_descr(c->name, fdescr, h))) return st;
            if (h->kind == 'O')
                return itr_fail(ITR_E_UNSUPPORTED, "%s: header: 'descr': object field '%s'", c->name, fname);
            snprintf(first, sizeof first, "%s", fdescr);
        } else if (strcmp(first, fdescr) != 0) {
            return itr_fail(ITR_E_UNSUPPORTED, "%s: header: 'descr': fields of different types "
                            "('%s' and '%s') are not supported", c->name, first, fdescr);
        }
        memcpy(h->field_names[h->nfields++], fname, strlen(fname) + 1);
        hdr_skip_ws(c);
        if (hdr_peek(c) == ',') { c->i++; continue; }
        if (hdr_peek(c) == ']') { c->i++; break; }
        return hdr_bad(c, "'descr': expected ',' or ']'");
    }
    h->itemsize = h->field_size * (size_t)h->nfields;
    return ITR_OK;
}

static itr_status hdr_dict(hdr_cursor *c, itr_npy_header *h) {
    itr_status st;
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if ((st = hdr_expect(c, '{', "expected '{'"))) return st;
    for (;;) {
        hdr_skip_ws(c);
        if (hdr_peek(c) == '}') { c->i++; break; }
        char key[32];
        if ((st = hdr_string(c, key, sizeof key))) return st;
        if ((st = hdr_expect(c, ':', "expected ':' after a key"))) return st;
        int *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &seen_descr;
            hdr_skip_ws(c);
            if (hdr_peek(c) == '[') {
                st = hdr_record_descr(c, h);
            } else {
                char d[64];
                st = hdr_string(c, d, sizeof d);
                if (!st) st = set_simple_descr(c->name, d, h);
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &seen_fortran;
            st = hdr_bool(c, &h->fortran_order);
        } else if (strcmp(key, "shape") == 0) {
            seen = &seen_shape;
            st = hdr_shape(c, h);
        } else {
            return itr_fail(ITR_E_FORMAT, "%s: header: unexpected key '%s'", c->name, key);
        }
        if (st) return st;
        if (*seen) return itr_fail(ITR_E_FORMAT, "%s: header: duplicate key '%s'", c->name, key);
        *seen = 1;
        hdr_skip_ws(c);
        if (hdr_peek(c) == ',') { c->i++; continue; }
        if (hdr_peek(c) == '}') { c->i++; break; }
        return hdr_bad(c, "expected ',' or '}'");
    }
    hdr_skip_ws(c);
    if (c->i != c->n) return hdr_bad(c, "unexpected characters after '}'");
    if (!seen_descr) return itr_fail(ITR_E_FORMAT, "%s: header: missing key 'descr'", c->name);
    if (!seen_fortran) return itr_fail(ITR_E_FORMAT, "%s: header: missing key 'fortran_order'", c->name);
    if (!seen_shape) return itr_fail(ITR_E_FORMAT, "%s: header: missing key 'shape'", c->name);
    return ITR_OK;
}

itr_status itr_npy_parse_header(const uint8_t *buf, size_t n, const char *name,
                                const itr_npy_opts *opts, itr_npy_header *h) {
    itr_npy_opts defaults;
    if (!opts) { itr_npy_opts_default(&defaults); opts = &defaults; }
    if (!name) name = "<npy>";
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(buf, npy_magic, 6) != 0)
        return itr_fail(ITR_E_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
    h->major = buf[6];
    h->minor = buf[7];
    size_t pre;
    if (h->major == 1) {
        h->header_len = (uint64_t)buf[8] | (uint64_t)buf[9] << 8;
        pre = 10;
    } else if (h->major == 2 || h->major == 3) {
        if (n < 12) return itr_fail(ITR_E_FORMAT, "%s: truncated preamble (%zu bytes)", name, n);
        h->header_len = (uint64_t)buf[8] | (uint64_t)buf[9] << 8 | (uint64_t)buf[10] << 16 |
                        (uint64_t)buf[11] << 24;
        pre = 12;
    } else {
        return itr_fail(ITR_E_UNSUPPORTED, "%s: .npy format version %d.%d (1.0, 2.0, 3.0 only)",
                        name, h->major, h->minor);
    }
    if (h->minor != 0)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: .npy format version %d.%d (1.0, 2.0, 3.0 only)",
                        name, h->major, h->minor);
    size_t max = opts->max_header_len ? opts->max_header_len : ITR_NPY_MAX_HEADER_DEFAULT;
    if (h->header_len > max)
        return itr_fail(ITR_E_LIMIT, "%s: header length %llu above the bound %zu", name,
                        (unsigned long long)h->header_len, max);
    h->data_offset = pre + h->header_len;
    if (h->data_offset > n)
        return itr_fail(ITR_E_FORMAT, "%s: truncated header: %llu header bytes promised, %zu present",
                        name, (unsigned long long)h->header_len, n - pre);
    hdr_cursor c = {(const char *)buf + pre, (size_t)h->header_len, 0, pre, name};
    itr_status st = hdr_dict(&c, h);
    if (st) return st;
    /* sizes: product and byte count overflow-checked (s5 rule 7) */
    h->numel = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] > 0 && h->numel > INT64_MAX / h->shape[i])
            return itr_fail(ITR_E_LIMIT, "%s: header: 'shape': element count overflows int64", name);
        h->numel *= h->shape[i];
    }
    if (h->nfields && h->ndim + 1 > ITR_MAX_DIMS)
        return itr_fail(ITR_E_LIMIT, "%s: header: record array of rank %d (max %d with the field axis)",
                        name, h->ndim, ITR_MAX_DIMS - 1);
    if (h->kind != 'O') {
        if ((uint64_t)h->numel > UINT64_MAX / h->itemsize)
            return itr_fail(ITR_E_LIMIT, "%s: header: data size overflows", name);
        h->data_bytes = (uint64_t)h->numel * h->itemsize;
    }
    return ITR_OK;
}

int itr_npy_tensor_shape(const itr_npy_header *h, int64_t *shape) {
    for (int i = 0; i < h->ndim; i++) shape[i] = h->shape[i];
    if (h->nfields) { shape[h->ndim] = h->nfields; return h->ndim + 1; }
    return h->ndim;
}

/* ------------------------------------------------------------------------
 * Sources: a FILE* (64-bit offsets through fseek on an LP64 long) or memory.
 * ---------------------------------------------------------------------- */
struct itr_npy_file {
    char *path;
    FILE *fp;
    const uint8_t *mem;
    uint64_t size;              /* bytes in the file / buffer */
    uint64_t pos;               /* current FILE position      */
    itr_npy_header h;
    uint8_t *chunk;             /* NPY_CHUNK_BYTES, allocated on first use */
};

static itr_status src_read(itr_npy_file *f, uint64_t off, void *dst, size_t n) {
    if (off > f->size || n > f->size - off)
        return itr_fail(ITR_E_FORMAT, "%s: read of %zu bytes at offset %llu past the end (%llu bytes)",
                        f->path, n, (unsigned long long)off, (unsigned long long)f->size);
    if (f->mem) { memcpy(dst, f->mem + off, n); return ITR_OK; }
    if (off != f->pos) {
        if (off > (uint64_t)LONG_MAX)
            return itr_fail(ITR_E_LIMIT, "%s: offset %llu beyond this platform's fseek range",
                            f->path, (unsigned long long)off);
        if (fseek(f->fp, (long)off, SEEK_SET) != 0)
            return itr_fail(ITR_E_IO, "%s: cannot seek to offset %llu", f->path, (unsigned long long)off);
    }
    size_t got = fread(dst, 1, n, f->fp);
    f->pos = off + got;
    if (got != n)
        return itr_fail(ITR_E_IO, "%s: short read: %zu of %zu bytes at offset %llu", f->path, got, n,
                        (unsigned long long)off);
    return ITR_OK;
}

static itr_status check_numeric(const itr_npy_file *f) {
    if (f->h.kind == 'O')
        return itr_fail(ITR_E_UNSUPPORTED, "%s: object array ('|O'): a pickle, not numbers; load it "
                        "with itr_npy_load_object and allow_pickle", f->path);
    uint64_t avail = f->size - f->h.data_offset;
    if (f->h.data_bytes > avail) {
        char sh[128];
        return itr_fail(ITR_E_FORMAT, "%s: truncated: header promises %s %s = %llu data bytes at offset "
                        "%llu, the file has %llu bytes", f->path, itr_shape_str(f->h.ndim, f->h.shape, sh,
                        sizeof sh), f->h.descr, (unsigned long long)f->h.data_bytes,
                        (unsigned long long)f->h.data_offset, (unsigned long long)f->size);
    }
    return ITR_OK;
}

/* ------------------------------------------------------------------------
 * Decoding stored scalars into the in-memory dtype.
 * ---------------------------------------------------------------------- */

/* 1 when stored bytes can be copied as they are. */
static int is_plain(const itr_npy_header *h) {
    if (h->kind == 'b') return 0;                       /* normalise to 0/1 */
    if (h->kind == 'u' && h->field_size > 1) return 0;  /* widened          */
    return h->byteorder == '|' || h->byteorder == host_order();
}

/* Decodes `count` stored scalars at src into dst (in-memory dtype), scalar j
 * going to element base + (j / inner) * stride + j % inner of dst. j0 is the
 * index of src[0] within the run (runs are decoded chunk by chunk). */
static itr_status decode(const itr_npy_file *f, const uint8_t *src, size_t count, size_t j0,
                         void *dst, int64_t base, int64_t stride, int64_t inner) {
    const itr_npy_header *h = &f->h;
    size_t fs = h->field_size, es = itr_dtype_size(h->dtype);
    int little = h->byteorder != '>';
    for (size_t k = 0; k < count; k++) {
        const uint8_t *p = src + k * fs;
        uint64_t raw = 0;
        for (size_t b = 0; b < fs; b++)
            raw |= (uint64_t)p[little ? b : fs - 1 - b] << (8 * b);
        size_t j = j0 + k;
        uint8_t *q = (uint8_t *)dst + (size_t)(base + (int64_t)(j / (size_t)inner) * stride +
                                               (int64_t)(j % (size_t)inner)) * es;
        if (h->kind == 'b') { *q = raw != 0; continue; }
        if (h->kind == 'u' && fs == 8 && raw > (uint64_t)INT64_MAX)
            return itr_fail(ITR_E_LIMIT, "%s: uint64 value %llu does not fit int64", f->path,
                            (unsigned long long)raw);
        /* the value is now a host integer; store its low es bytes as that type */
        if (es == 1) { uint8_t v = (uint8_t)raw; memcpy(q, &v, 1); }
        else if (es == 2) { uint16_t v = (uint16_t)raw; memcpy(q, &v, 2); }
        else if (es == 4) { uint32_t v = (uint32_t)raw; memcpy(q, &v, 4); }
        else { memcpy(q, &raw, 8); }
    }
    return ITR_OK;
}

/* Reads `count` stored scalars starting at file offset off (see decode). */
static itr_status read_run(itr_npy_file *f, uint64_t off, size_t count, void *dst, int64_t base,
                           int64_t stride, int64_t inner) {
    size_t fs = f->h.field_size;
    if (is_plain(&f->h) && stride == inner && base == 0)
        return src_read(f, off, dst, count * fs);       /* already native */
    if (!f->chunk && !(f->chunk = malloc(NPY_CHUNK_BYTES)))
        return itr_fail(ITR_E_NOMEM, "%s: out of memory (read buffer)", f->path);
    size_t per = NPY_CHUNK_BYTES / fs;
    for (size_t done = 0; done < count;) {
        size_t k = count - done < per ? count - done : per;
        itr_status st = src_read(f, off + (uint64_t)done * fs, f->chunk, k * fs);
        if (!st) st = decode(f, f->chunk, k, done, dst, base, stride, inner);
        if (st) return st;
        done += k;
    }
    return ITR_OK;
}

/* Rows [row0, row0+rows) of axis 0 into dst (in-memory dtype, C order). A
 * 0-d array is one row of one element. */
static itr_status read_block(itr_npy_file *f, int64_t row0, int64_t rows, void *dst) {
    const itr_npy_header *h = &f->h;
    int64_t inner = h->nfields ? h->nfields : 1;       /* scalars per element */
    int64_t T = 1;                                     /* elements per row    */
    for (int i = 1; i < h->ndim; i++) T *= h->shape[i];
    if (rows == 0 || T == 0) return ITR_OK;
    if (!h->fortran_order || h->ndim <= 1) {
        uint64_t off = h->data_offset + (uint64_t)row0 * (uint64_t)T * h->itemsize;
        size_t count = (size_t)(rows * T * inner);
        return read_run(f, off, count, dst, 0, inner, inner);
    }
    /* Fortran order: axis 0 varies fastest, so for each trailing index t the
     * requested rows are one contiguous run at (t_F * shape[0] + row0). The
     * run is scattered to C positions (r - row0) * T + t_C. */
    int64_t idx[ITR_MAX_DIMS] = {0};
    for (int64_t tF = 0; tF < T; tF++) {
        int64_t tC = 0;
        for (int d = 1; d < h->ndim; d++) tC = tC * h->shape[d] + idx[d];
        uint64_t off = h->data_offset + ((uint64_t)tF * (uint64_t)h->shape[0] + (uint64_t)row0) * h->itemsize;
        itr_status st = read_run(f, off, (size_t)(rows * inner), dst, tC * inner, T * inner, inner);
        if (st) return st;
        for (int d = 1; d < h->ndim; d++) {            /* F-order increment */
            if (++idx[d] < h->shape[d]) break;
            idx[d] = 0;
        }
    }
    return ITR_OK;
}

static itr_status check_want(const char *path, int want) {
    if (want < -1 || want > (int)ITR_BOOL)
        return itr_fail(ITR_E_ARG, "%s: requested dtype %d is not an itr_dtype", path, want);
    return ITR_OK;
}

/* Rows into a fresh tensor, converted to `want` when asked. */
static itr_status read_tensor(itr_npy_file *f, int64_t row0, int64_t rows, int want, itr_tensor *out) {
    int64_t shape[ITR_MAX_DIMS];
    int nd = itr_npy_tensor_shape(&f->h, shape);
    if (f->h.ndim > 0) shape[0] = rows;
    itr_tensor t;
    itr_status st = itr_tensor_alloc(&t, f->h.dtype, nd, shape);
    if (st) return itr_fail_context(st, "%s", f->path);
    if ((st = read_block(f, row0, rows, t.data))) { itr_tensor_free(&t); return st; }
    if (want >= 0 && (itr_dtype)want != t.dtype) {
        itr_tensor c;
        st = itr_tensor_convert(&t, (itr_dtype)want, &c);
        itr_tensor_free(&t);
        if (st) return itr_fail_context(st, "%s", f->path);
        t = c;
    }
    *out = t;
    return ITR_OK;
}

/* ------------------------------------------------------------------------
 * Public entry points.
 * ---------------------------------------------------------------------- */
static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static itr_status open_common(const char *path, const itr_npy_opts *opts, itr_npy_file **out) {
    *out = NULL;
    if (!path) return itr_fail(ITR_E_ARG, "itr_npy_open: NULL path");
    itr_npy_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = copy_str(path))) { free(f); return itr_fail(ITR_E_NOMEM, "%s: out of memory", path); }
    itr_status st = ITR_OK;
    long end;
    f->fp = fopen(path, "rb");
    if (!f->fp) { st = itr_fail(ITR_E_IO, "%s: cannot open file", path); goto fail; }
    if (fseek(f->fp, 0, SEEK_END) != 0 || (end = ftell(f->fp)) < 0 || fseek(f->fp, 0, SEEK_SET) != 0) {
        st = itr_fail(ITR_E_IO, "%s: cannot determine the file size", path);
        goto fail;
    }
    f->size = (uint64_t)end;
    /* the header is bounded, so one bounded prefix read holds it */
    size_t max = opts && opts->max_header_len ? opts->max_header_len : ITR_NPY_MAX_HEADER_DEFAULT;
    size_t want = max + 12 < f->size ? max + 12 : (size_t)f->size;
    uint8_t *pre = malloc(want ? want : 1);
    if (!pre) { st = itr_fail(ITR_E_NOMEM, "%s: out of memory", path); goto fail; }
    st = src_read(f, 0, pre, want);
    if (!st) st = itr_npy_parse_header(pre, want, path, opts, &f->h);
    free(pre);
    if (st) goto fail;
    *out = f;
    return ITR_OK;
fail:
    itr_npy_close(f);
    return st;
}

itr_status itr_npy_open(const char *path, const itr_npy_opts *opts, itr_npy_file **out) {
    itr_status st = open_common(path, opts, out);
    if (!st && (st = check_numeric(*out))) { itr_npy_close(*out); *out = NULL; }
    return st;
}

void itr_npy_close(itr_npy_file *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    free(f->chunk);
    free(f->path);
    free(f);
}

const itr_npy_header *itr_npy_header_of(const itr_npy_file *f) { return &f->h; }
const char *itr_npy_path(const itr_npy_file *f) { return f->path; }

static itr_status check_rows(const itr_npy_file *f, int64_t row0, int64_t rows) {
    if (f->h.ndim < 1)
        return itr_fail(ITR_E_SHAPE, "%s: row read from a 0-d array", f->path);
    if (row0 < 0 || rows < 0 || row0 > f->h.shape[0] - rows)
        return itr_fail(ITR_E_ARG, "%s: rows [%lld, %lld) outside axis 0 of size %lld", f->path,
                        (long long)row0, (long long)row0 + (long long)rows, (long long)f->h.shape[0]);
    return ITR_OK;
}

itr_status itr_npy_read_rows(itr_npy_file *f, int64_t row0, int64_t rows, int want, itr_tensor *out) {
    itr_status st = check_want(f->path, want);
    if (!st) st = check_rows(f, row0, rows);
    if (!st) st = read_tensor(f, row0, rows, want, out);
    return st;
}

itr_status itr_npy_read_rows_into(itr_npy_file *f, int64_t row0, int64_t rows, itr_dtype want,
                                  void *dst, size_t dst_bytes) {
    itr_status st = check_want(f->path, (int)want);
    if (!st) st = check_rows(f, row0, rows);
    if (st) return st;
    int64_t per_row = f->h.nfields ? f->h.nfields : 1;
    for (int i = 1; i < f->h.ndim; i++) per_row *= f->h.shape[i];
    size_t need = (size_t)(rows * per_row) * itr_dtype_size(want);
    if (dst_bytes < need)
        return itr_fail(ITR_E_ARG, "%s: buffer of %zu bytes for %lld rows of %lld %s (%zu bytes)", f->path,
                        dst_bytes, (long long)rows, (long long)per_row, itr_dtype_name(want), need);
    if (want == f->h.dtype) return read_block(f, row0, rows, dst);
    itr_tensor t;
    if ((st = read_tensor(f, row0, rows, (int)want, &t))) return st;
    memcpy(dst, t.data, need);
    itr_tensor_free(&t);
    return ITR_OK;
}

itr_status itr_npy_load(const char *path, const itr_npy_opts *opts, int want, itr_tensor *out) {
    itr_npy_file *f;
    itr_status st = check_want(path ? path : "<npy>", want);
    if (!st) st = itr_npy_open(path, opts, &f);
    if (st) return st;
    st = read_tensor(f, 0, f->h.ndim ? f->h.shape[0] : 1, want, out);
    itr_npy_close(f);
    return st;
}

static void mem_file(itr_npy_file *f, const uint8_t *buf, size_t n, const char *name) {
    memset(f, 0, sizeof *f);
    f->path = (char *)(name ? name : "<npy>");   /* not freed: f lives on the stack */
    f->mem = buf;
    f->size = n;
}

itr_status itr_npy_load_mem(const uint8_t *buf, size_t n, const char *name, const itr_npy_opts *opts,
                            int want, itr_tensor *out) {
    itr_npy_file f;
    mem_file(&f, buf, n, name);
    itr_status st = check_want(f.path, want);
    if (!st) st = itr_npy_parse_header(buf, n, f.path, opts, &f.h);
    if (!st) st = check_numeric(&f);
    if (!st) st = read_tensor(&f, 0, f.h.ndim ? f.h.shape[0] : 1, want, out);
    free(f.chunk);
    return st;
}

/* ---- object arrays ------------------------------------------------------ */
static itr_status unpickle_array(const itr_npy_header *h, const uint8_t *data, size_t len,
                                 const char *name, const itr_npy_opts *opts, itr_pyobj **out) {
    *out = NULL;
    if (h->kind != 'O')
        return itr_fail(ITR_E_DTYPE, "%s: descr '%s' is not an object array", name, h->descr);
    if (!opts || !opts->allow_pickle)
        return itr_fail(ITR_E_UNSUPPORTED, "%s: object array ('|O') is a pickle: refused without "
                        "allow_pickle", name);
    itr_pickle_opts po;
    itr_pickle_opts_default(&po);
    po.source = name;
    itr_pyobj *root = NULL;
    itr_status st = itr_pickle_load(data, len, &po, &root, NULL);
    if (st) return itr_fail_context(st, "%s: object array payload", name);
    char a[128], b[128];
    if (root->kind != ITR_PY_NDARRAY || root->u.ndarray.dtype.kind != 'O' || !root->u.ndarray.objects) {
        st = itr_fail(ITR_E_FORMAT, "%s: object array payload is a %s, not an object ndarray", name,
                      itr_py_type_name(root));
    } else if (!itr_shape_equal(root->u.ndarray.ndim, root->u.ndarray.shape, h->ndim, h->shape) ||
               itr_py_len(root->u.ndarray.objects) != (size_t)h->numel) {
        st = itr_fail(ITR_E_SHAPE, "%s: pickled array has shape %s, header says %s", name,
                      itr_shape_str(root->u.ndarray.ndim, root->u.ndarray.shape, a, sizeof a),
                      itr_shape_str(h->ndim, h->shape, b, sizeof b));
    }
    if (st) { itr_pyobj_free(root); return st; }
    *out = root;
    return ITR_OK;
}

itr_status itr_npy_load_object_mem(const uint8_t *buf, size_t n, const char *name,
                                   const itr_npy_opts *opts, itr_pyobj **out) {
    itr_npy_header h;
    if (!name) name = "<npy>";
    *out = NULL;
    itr_status st = itr_npy_parse_header(buf, n, name, opts, &h);
    if (st) return st;
    return unpickle_array(&h, buf + h.data_offset, n - (size_t)h.data_offset, name, opts, out);
}

itr_status itr_npy_load_object(const char *path, const itr_npy_opts *opts, itr_pyobj **out) {
    itr_npy_file *f;
    *out = NULL;
    itr_status st = open_common(path, opts, &f);
    if (st) return st;
    uint64_t len = f->size - f->h.data_offset;
    uint8_t *data = NULL;
    if (f->h.kind != 'O') {
        st = itr_fail(ITR_E_DTYPE, "%s: descr '%s' is not an object array", path, f->h.descr);
    } else if (len > (uint64_t)SIZE_MAX || !(data = malloc(len ? (size_t)len : 1))) {
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory for a %llu-byte pickle", path, (unsigned long long)len);
    } else {
        st = src_read(f, f->h.data_offset, data, (size_t)len);
        if (!st) st = unpickle_array(&f->h, data, (size_t)len, path, opts, out);
    }
    free(data);
    itr_npy_close(f);
    return st;
}

/* ---- writing ------------------------------------------------------------ */
itr_status itr_npy_save(const char *path, const itr_tensor *t) {
    const char *code;
    switch (t->dtype) {
    case ITR_F32: code = "f4"; break;
    case ITR_F64: code = "f8"; break;
    case ITR_F16: code = "f2"; break;
    case ITR_I8: code = "i1"; break;
    case ITR_I16: code = "i2"; break;
    case ITR_I32: code = "i4"; break;
    case ITR_I64: code = "i8"; break;
    case ITR_U8: code = "u1"; break;
    case ITR_BOOL: code = "b1"; break;
    default:
        return itr_fail(ITR_E_UNSUPPORTED, "%s: NumPy has no %s dtype", path, itr_dtype_name(t->dtype));
    }
    char order = itr_dtype_size(t->dtype) == 1 ? '|' : host_order();
    char shape[256], hdr[512];
    size_t used = 0;
    shape[0] = '\0';
    for (int i = 0; i < t->ndim; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%lld, ", (long long)t->shape[i]);
    if (t->ndim > 1) shape[used - 2] = '\0';           /* "2, 3" ; 1-d keeps "5," */
    else if (t->ndim == 1) shape[used - 1] = '\0';
    int len = snprintf(hdr, sizeof hdr, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%s), }",
                       order, code, shape);
    /* pad with spaces and a final newline so the data starts at a multiple of 64 */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + len, ' ', pad);
    hdr[(size_t)len + pad] = '\n';
    size_t hlen = (size_t)len + pad + 1;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
    FILE *fp = fopen(path, "wb");
    if (!fp) return itr_fail(ITR_E_IO, "%s: cannot create file", path);
    size_t nbytes = itr_tensor_nbytes(t);
    int ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(hdr, 1, hlen, fp) == hlen &&
             (nbytes == 0 || fwrite(t->data, 1, nbytes, fp) == nbytes);
    if (fclose(fp) != 0) ok = 0;
    if (!ok) return itr_fail(ITR_E_IO, "%s: write failed", path);
    return ITR_OK;
}
