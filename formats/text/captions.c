/* captions.c - caption and id text files (formats.md s3.2, scan_sgraf.md
 * s9.1/9.3) and the two lowercasings of s3.3.
 *
 * SCAN-era loaders open {split}_caps.txt in binary mode and keep
 * line.strip() of every line: lines end at b'\n' only, and bytes.strip()
 * removes ASCII whitespace (so CRLF files load like LF files). Python 3
 * loaders (VSE-infinity, 3SHNet) open it in text mode: universal newlines and
 * str.strip(), which also removes Unicode whitespace such as U+00A0. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_internal.h"

static int ascii_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims [*b, *e) by bytes.strip() or, in text mode, str.strip(). */
static void strip_span(const char *s, size_t *b, size_t *e, int text_mode) {
    if (!text_mode) {
        while (*b < *e && ascii_ws(s[*b])) (*b)++;
        while (*e > *b && ascii_ws(s[*e - 1])) (*e)--;
        return;
    }
    size_t w;
    while (*b < *e && (w = itr_ws_len(s + *b, *e - *b)) > 0) *b += w;
    /* from the right: find the last non-space character by a forward scan */
    size_t last_end = *b;
    for (size_t i = *b; i < *e;) {
        int32_t cp;
        size_t len = itr_utf8_decode(s + i, *e - i, &cp);
        if (!(cp >= 0 && itr_cp_isspace(cp))) last_end = i + len;
        i += len;
    }
    *e = last_end;
}

/* Calls fn(ctx, line_no, begin, end) for every line of data (without its
 * terminator). Text mode ends lines at \r\n, \r or \n; binary mode at \n. */
typedef itr_status (*line_fn)(void *ctx, int64_t line_no, const char *s, size_t b, size_t e);

static itr_status for_lines(const char *data, size_t n, int text_mode, line_fn fn, void *ctx) {
    int64_t line = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && data[j] != '\n' && !(text_mode && data[j] == '\r')) j++;
        itr_status st = fn(ctx, ++line, data, i, j);
        if (st) return st;
        if (j < n && data[j] == '\r' && j + 1 < n && data[j + 1] == '\n') j++;
        i = j + 1;
    }
    return ITR_OK;
}

static itr_status read_utf8(const char *path, char **data, size_t *n) {
    itr_status st = itr_text_read_file(path, data, n);
    if (st) return st;
    size_t bad;
    if (!itr_utf8_check(*data, *n, &bad)) {
        int64_t line = 1;
        for (size_t i = 0; i < bad; i++) line += (*data)[i] == '\n';
        free(*data);
        *data = NULL;
        return itr_fail(ITR_E_FORMAT, "%s: line %lld: invalid UTF-8 at byte %zu", path, (long long)line, bad);
    }
    return ITR_OK;
}

/* ---- {split}_caps.txt ------------------------------------------------------ */
typedef struct caps_ctx {
    itr_captions *c;
    int64_t cap;
    int flags;
    const char *path;
} caps_ctx;

static itr_status add_caption(void *vctx, int64_t line_no, const char *s, size_t b, size_t e) {
    caps_ctx *x = vctx;
    strip_span(s, &b, &e, x->flags & ITR_CAPS_TEXT_MODE);
    if (b == e && !(x->flags & ITR_CAPS_ALLOW_EMPTY))
        return itr_fail(ITR_E_FORMAT, "%s: line %lld: empty caption", x->path, (long long)line_no);
    if (x->c->n == x->cap) {
        int64_t cap = x->cap ? x->cap * 2 : 1024;
        char **p = realloc(x->c->lines, (size_t)cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "%s: out of memory", x->path);
        x->c->lines = p;
        x->cap = cap;
    }
    char *line = itr_text_strndup(s + b, e - b);
    if (!line) return itr_fail(ITR_E_NOMEM, "%s: out of memory", x->path);
    x->c->lines[x->c->n++] = line;
    return ITR_OK;
}

itr_status itr_captions_load(const char *path, int flags, itr_captions *out) {
    memset(out, 0, sizeof *out);
    char *data;
    size_t n;
    itr_status st = read_utf8(path, &data, &n);
    if (st) return st;
    caps_ctx x = {out, 0, flags, path};
    st = for_lines(data, n, flags & ITR_CAPS_TEXT_MODE, add_caption, &x);
    free(data);
    if (!st && out->n == 0) st = itr_fail(ITR_E_FORMAT, "%s: no captions", path);
    if (!st && !(out->source = itr_text_strndup(path, strlen(path)))) st = itr_fail(ITR_E_NOMEM, "out of memory");
    if (st) itr_captions_free(out);
    return st;
}

void itr_captions_free(itr_captions *c) {
    if (!c) return;
    for (int64_t i = 0; i < c->n; i++) free(c->lines[i]);
    free(c->lines);
    free(c->source);
    memset(c, 0, sizeof *c);
}

/* ---- integers ------------------------------------------------------------------ */
/* Parses s[b..e) (already stripped) as a decimal int64 like Python int(). */
static int parse_i64(const char *s, size_t b, size_t e, int64_t *v) {
    char buf[32];
    if (e <= b || e - b >= sizeof buf) return 0;
    memcpy(buf, s + b, e - b);
    buf[e - b] = '\0';
    const char *p = buf + (buf[0] == '+' || buf[0] == '-');
    if (!*p) return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno == ERANGE || *end) return 0;
    *v = (int64_t)x;
    return 1;
}

typedef struct ids_ctx {
    itr_seq_builder sb;
    int per_line;              /* 1: one id per line; 0: comma-separated */
    const char *path;
    int64_t buf[4096];
} ids_ctx;

static itr_status add_ids(void *vctx, int64_t line_no, const char *s, size_t b, size_t e) {
    ids_ctx *x = vctx;
    strip_span(s, &b, &e, 0);
    if (b == e) return itr_fail(ITR_E_FORMAT, "%s: line %lld: empty line", x->path, (long long)line_no);
    int64_t n = 0;
    for (size_t i = b; i <= e;) {
        size_t j = i;
        while (j < e && !(s[j] == ',' && !x->per_line)) j++;
        size_t pb = i, pe = j;
        strip_span(s, &pb, &pe, 0);
        if (n == (int64_t)(sizeof x->buf / sizeof x->buf[0]))
            return itr_fail(ITR_E_LIMIT, "%s: line %lld: more than %zu ids", x->path, (long long)line_no,
                            sizeof x->buf / sizeof x->buf[0]);
        if (!parse_i64(s, pb, pe, &x->buf[n]))
            return itr_fail(ITR_E_FORMAT, "%s: line %lld: '%.*s' is not an integer", x->path, (long long)line_no,
                            (int)(pe - pb > 40 ? 40 : pe - pb), s + pb);
        n++;
        i = j + 1;
    }
    return itr_seqb_add(&x->sb, x->buf, n);
}

static itr_status load_ids(const char *path, int per_line, itr_id_seqs *out) {
    char *data;
    size_t n;
    memset(out, 0, sizeof *out);
    itr_status st = read_utf8(path, &data, &n);
    if (st) return st;
    ids_ctx *x = malloc(sizeof *x);
    if (!x) { free(data); return itr_fail(ITR_E_NOMEM, "out of memory"); }
    x->per_line = per_line;
    x->path = path;
    st = itr_seqb_begin(&x->sb, out);
    if (!st) st = for_lines(data, n, 0, add_ids, x);
    if (!st && out->n == 0) st = itr_fail(ITR_E_FORMAT, "%s: no lines", path);
    free(x);
    free(data);
    if (st) itr_id_seqs_free(out);
    return st;
}

itr_status itr_ids_load(const char *path, int64_t **ids, int64_t *n) {
    itr_id_seqs s;
    itr_status st = load_ids(path, 1, &s);
    *ids = NULL;
    *n = 0;
    if (st) return st;
    *ids = s.ids;
    *n = s.n;
    free(s.offsets);
    return ITR_OK;
}

itr_status itr_precaps_load(const char *path, itr_id_seqs *out) { return load_ids(path, 0, out); }

/* ---- caption <-> image rows ------------------------------------------------------ */
itr_status itr_precomp_pairing_get(int64_t n_rows, int64_t n_lines, const char *split,
                                   itr_precomp_pairing *out) {
    memset(out, 0, sizeof *out);
    if (n_rows <= 0 || n_lines <= 0)
        return itr_fail(ITR_E_SHAPE, "precomp data: %lld image rows, %lld caption lines", (long long)n_rows,
                        (long long)n_lines);
    /* QUIRK(scan_sgraf.md QUIRK-D1): one row per caption when the counts match */
    out->im_div = n_rows != n_lines ? 5 : 1;
    out->n_captions = n_lines;
    /* QUIRK(scan_sgraf.md QUIRK-D2): the dev split is cut to 5000 captions */
    if (split && strcmp(split, "dev") == 0 && n_lines > 5000) out->n_captions = 5000;
    if (out->n_captions % 5)
        return itr_fail(ITR_E_SHAPE, "precomp data: %lld captions is not 5 per image", (long long)out->n_captions);
    if ((out->n_captions - 1) / out->im_div >= n_rows)
        return itr_fail(ITR_E_SHAPE, "precomp data: %lld captions need %lld image rows (im_div %lld), the .npy has %lld",
                        (long long)out->n_captions, (long long)((out->n_captions - 1) / out->im_div + 1),
                        (long long)out->im_div, (long long)n_rows);
    out->n_images = out->n_captions / 5;
    return ITR_OK;
}

int64_t itr_precomp_image_row(const itr_precomp_pairing *p, int64_t image) { return 5 * image / p->im_div; }

/* ---- lowercasing ------------------------------------------------------------------- */
void itr_lower_ascii(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

itr_status itr_lower_unicode(const char *s, char **out) {
    size_t n = strlen(s), bad;
    *out = NULL;
    if (!itr_utf8_check(s, n, &bad)) return itr_fail(ITR_E_FORMAT, "invalid UTF-8 at byte %zu of \"%.40s\"", bad, s);
    itr_sb b = {0};
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += itr_utf8_decode(s + i, n - i, &cp);
        /* Known deviation (formats.md s3.4): utf8proc's simple case mapping;
         * Python's str.lower() uses the full one (U+0130 -> "i\u0307"). */
        itr_sb_put_cp(&b, utf8proc_tolower(cp));
    }
    itr_sb_put(&b, "", 0);
    if (b.oom) { itr_sb_free(&b); return itr_fail(ITR_E_NOMEM, "out of memory"); }
    *out = b.s;
    return ITR_OK;
}
