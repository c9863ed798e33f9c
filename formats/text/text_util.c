/* text_util.c - strings, UTF-8, Python character classes, token lists and
 * ragged id sequences for formats/text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_internal.h"

/* ---- string builder ------------------------------------------------------ */
static int sb_reserve(itr_sb *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) { b->oom = 1; return 0; }
    b->s = p;
    b->cap = cap;
    return 1;
}

void itr_sb_put(itr_sb *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void itr_sb_putc(itr_sb *b, char c) { itr_sb_put(b, &c, 1); }
void itr_sb_puts(itr_sb *b, const char *s) { itr_sb_put(b, s, strlen(s)); }

void itr_sb_free(itr_sb *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

char *itr_text_strndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

itr_status itr_text_read_file(const char *path, char **data, size_t *n) {
    *data = NULL;
    *n = 0;
    if (!path) return itr_fail(ITR_E_ARG, "text file: NULL path");
    FILE *fp = fopen(path, "rb");
    if (!fp) return itr_fail(ITR_E_IO, "%s: cannot open file", path);
    itr_sb b = {0};
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) {
        if (b.len + got > ITR_TEXT_MAX_FILE) {
            fclose(fp);
            itr_sb_free(&b);
            return itr_fail(ITR_E_LIMIT, "%s: text file larger than %zu bytes", path, ITR_TEXT_MAX_FILE);
        }
        itr_sb_put(&b, buf, got);
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) { itr_sb_free(&b); return itr_fail(ITR_E_IO, "%s: read error", path); }
    itr_sb_put(&b, "", 0);
    if (b.oom || !b.s) { itr_sb_free(&b); return itr_fail(ITR_E_NOMEM, "%s: out of memory", path); }
    *data = b.s;
    *n = b.len;
    return ITR_OK;
}

/* ---- UTF-8 ---------------------------------------------------------------- */
size_t itr_utf8_decode(const char *s, size_t n, int32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    size_t len;
    int32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = -1; return 1; }
    if (n < len) { *cp = -1; return 1; }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) { *cp = -1; return 1; }
        v = (v << 6) | (u[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) { *cp = -1; return 1; }
    *cp = v;
    return len;
}

int itr_utf8_check(const char *s, size_t n, size_t *bad) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t len = itr_utf8_decode(s + i, n - i, &cp);
        if (cp < 0) { if (bad) *bad = i; return 0; }
        i += len;
    }
    return 1;
}

void itr_sb_put_cp(itr_sb *b, int32_t cp) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    itr_sb_put(b, (const char *)buf, (size_t)n);
}

/* ---- Python character classes --------------------------------------------- */
int itr_cp_isspace(int32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f)) return 1;
    if (cp < 0x80) return 0;
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

int itr_cp_isword(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

int itr_cp_isdigit(int32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_ND;
}

size_t itr_ws_len(const char *s, size_t n) {
    if (n == 0) return 0;
    int32_t cp;
    size_t len = itr_utf8_decode(s, n, &cp);
    return cp >= 0 && itr_cp_isspace(cp) ? len : 0;
}

itr_status itr_split_ws(const char *s, size_t n, itr_tokens *out) {
    size_t i = 0;
    while (i < n) {
        size_t w;
        while (i < n && (w = itr_ws_len(s + i, n - i)) > 0) i += w;
        size_t start = i;
        while (i < n && itr_ws_len(s + i, n - i) == 0) i++;
        if (i > start) {
            itr_status st = itr_tokens_push(out, s + start, i - start);
            if (st) return st;
        }
    }
    return ITR_OK;
}

/* ---- token lists ------------------------------------------------------------ */
void itr_tokens_init(itr_tokens *t) { memset(t, 0, sizeof *t); }

void itr_tokens_free(itr_tokens *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->tok[i]);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

itr_status itr_tokens_push(itr_tokens *t, const char *s, size_t len) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->tok, cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "out of memory (tokens)");
        t->tok = p;
        t->cap = cap;
    }
    char *c = itr_text_strndup(s, len);
    if (!c) return itr_fail(ITR_E_NOMEM, "out of memory (tokens)");
    t->tok[t->n++] = c;
    return ITR_OK;
}

char *itr_tokens_join(const itr_tokens *t) {
    itr_sb b = {0};
    for (size_t i = 0; i < t->n; i++) {
        if (i) itr_sb_putc(&b, ' ');
        itr_sb_puts(&b, t->tok[i]);
    }
    itr_sb_put(&b, "", 0);
    if (b.oom) { itr_sb_free(&b); return NULL; }
    return b.s;
}

/* ---- ragged id sequences ------------------------------------------------------ */
void itr_id_seqs_free(itr_id_seqs *s) {
    if (!s) return;
    free(s->ids);
    free(s->offsets);
    memset(s, 0, sizeof *s);
}

itr_status itr_seqb_begin(itr_seq_builder *b, itr_id_seqs *s) {
    memset(s, 0, sizeof *s);
    b->s = s;
    b->ids_cap = 0;
    b->off_cap = 16;
    s->offsets = malloc((size_t)b->off_cap * sizeof *s->offsets);
    if (!s->offsets) return itr_fail(ITR_E_NOMEM, "out of memory (id sequences)");
    s->offsets[0] = 0;
    return ITR_OK;
}

itr_status itr_seqb_add(itr_seq_builder *b, const int64_t *ids, int64_t n) {
    itr_id_seqs *s = b->s;
    int64_t used = s->offsets[s->n];
    if (s->n + 2 > b->off_cap) {
        int64_t cap = b->off_cap * 2;
        int64_t *p = realloc(s->offsets, (size_t)cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "out of memory (id sequences)");
        s->offsets = p;
        b->off_cap = cap;
    }
    if (used + n > b->ids_cap) {
        int64_t cap = b->ids_cap ? b->ids_cap : 256;
        while (cap < used + n) cap *= 2;
        int64_t *p = realloc(s->ids, (size_t)cap * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "out of memory (id sequences)");
        s->ids = p;
        b->ids_cap = cap;
    }
    if (n) memcpy(s->ids + used, ids, (size_t)n * sizeof *ids);
    s->offsets[++s->n] = used + n;
    return ITR_OK;
}

itr_status itr_id_seqs_to_padded(const itr_id_seqs *s, int64_t pad_id, itr_tensor *ids,
                                 itr_tensor *lengths) {
    int64_t maxlen = 0;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t len = s->offsets[i + 1] - s->offsets[i];
        if (len > maxlen) maxlen = len;
    }
    int64_t shape[2] = {s->n, maxlen};
    itr_status st = itr_tensor_alloc(ids, ITR_I64, 2, shape);
    if (st) return st;
    if ((st = itr_tensor_alloc(lengths, ITR_I64, 1, shape))) { itr_tensor_free(ids); return st; }
    for (int64_t i = 0; i < s->n; i++) {
        int64_t len = s->offsets[i + 1] - s->offsets[i];
        int64_t *row = itr_i64(ids) + i * maxlen;
        for (int64_t j = 0; j < maxlen; j++) row[j] = j < len ? s->ids[s->offsets[i] + j] : pad_id;
        itr_i64(lengths)[i] = len;
    }
    return ITR_OK;
}
