/* sk_tokenize.c - scikit-learn CountVectorizer's default analyzer, in C
 * (specs/losses_vsl_lseh.md s1.2; used by VSL's data side).
 *
 * For one caption line, upstream does:
 *   line.strip()            bytes: ASCII whitespace removed at both ends
 *   .decode('utf-8')        strict: invalid UTF-8 raises
 *   .lower()                Python str.lower()
 *   re.findall(r"(?u)\b\w\w+\b")
 * The regex finds every maximal run of word characters (\w: letters, digits,
 * numerics and '_') that is at least two code points long; shorter runs
 * (e.g. "a") are skipped. Tokens are the lower-cased runs, UTF-8 encoded.
 *
 * Character classes come from an itr_text_class; the built-in one is exact
 * for ASCII, Latin-1 and Latin Extended-A (what English captions contain)
 * and approximate elsewhere (see builtin_is_word). Python's context rule for
 * a final capital sigma is not modelled. */
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

/* ---- built-in character table ---------------------------------------- */

static uint32_t builtin_lower(uint32_t c, void *ctx) {
    (void)ctx;
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0xC0) return c;
    if (c <= 0xDE) return c == 0xD7 ? c : c + 32;          /* Latin-1 capitals */
    if (c >= 0x100 && c <= 0x137) return c | 1u;             /* Ā..ķ pairs, even = upper */
    if (c >= 0x139 && c <= 0x148) return (c & 1u) ? c + 1 : c; /* Ĺ..ň, odd = upper */
    if (c >= 0x14A && c <= 0x177) return c | 1u;
    if (c == 0x178) return 0xFF;                            /* Ÿ -> ÿ */
    if (c >= 0x179 && c <= 0x17E) return (c & 1u) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32; /* Greek capitals */
    if (c >= 0x410 && c <= 0x42F) return c + 32;             /* Cyrillic А..Я */
    if (c >= 0x400 && c <= 0x40F) return c + 80;             /* Ѐ..Џ */
    return c;
}

static int builtin_is_word(uint32_t c, void *ctx) {
    (void)ctx;
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    if (c < 0xC0) /* Latin-1 punctuation and symbols; these few are \w in Python */
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
               (c >= 0xBC && c <= 0xBE);
    if (c < 0x100) return c != 0xD7 && c != 0xF7;           /* letters except x and / */
    /* Approximation beyond Latin-1: everything is a word character except
     * combining marks, spacing symbols and punctuation blocks, format and
     * private-use characters and the symbol / emoji planes. */
    if (c >= 0x2C2 && c <= 0x2C5) return 0;
    if (c >= 0x2D2 && c <= 0x2DF) return 0;
    if (c >= 0x2E5 && c <= 0x2EB) return 0;
    if (c >= 0x300 && c <= 0x36F) return 0;                 /* combining diacritics */
    if (c >= 0x2000 && c <= 0x206F) return 0;               /* general punctuation */
    if (c >= 0x20A0 && c <= 0x20FF) return 0;               /* currency, combining */
    if (c >= 0x2190 && c <= 0x245F) return 0;               /* arrows, math, technical */
    if (c >= 0x2500 && c <= 0x2775) return 0;               /* box, shapes, dingbats */
    if (c >= 0x2794 && c <= 0x2BFF) return 0;
    if (c >= 0x2E00 && c <= 0x2E7F) return 0;               /* supplemental punctuation */
    if (c >= 0x3000 && c <= 0x3004) return 0;               /* CJK space, marks */
    if (c >= 0x3008 && c <= 0x3020) return 0;               /* CJK brackets */
    if (c >= 0xD800 && c <= 0xF8FF) return 0;               /* surrogates, private use */
    if (c >= 0xFE00 && c <= 0xFE0F) return 0;               /* variation selectors */
    if (c >= 0xFE30 && c <= 0xFE4F) return 0;
    if (c >= 0xFF00 && c <= 0xFF0F) return 0;               /* fullwidth punctuation */
    if (c >= 0xFF1A && c <= 0xFF20) return 0;
    if (c >= 0xFF3B && c <= 0xFF40 && c != 0xFF3F) return 0;
    if (c >= 0xFF5B && c <= 0xFF65) return 0;
    if (c >= 0xFFF0 && c <= 0xFFFF) return 0;
    if (c >= 0x1F000 && c <= 0x1FAFF) return 0;             /* emoji and symbols */
    if (c >= 0xE0000) return 0;                             /* tags, private use */
    return 1;
}

static const itr_text_class builtin_class = {builtin_lower, builtin_is_word, NULL};

/* ---- UTF-8 ------------------------------------------------------------ */

/* Decodes one code point at s[*pos] (strict, like Python's 'utf-8' codec:
 * no overlongs, no surrogates, <= U+10FFFF). Returns 0 on error. */
static int utf8_next(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp) {
    size_t i = *pos;
    unsigned char b = s[i];
    int n;
    uint32_t c, min;
    if (b < 0x80) { *cp = b; *pos = i + 1; return 1; }
    if (b >= 0xC2 && b <= 0xDF) { n = 1; c = b & 0x1Fu; min = 0x80; }
    else if (b >= 0xE0 && b <= 0xEF) { n = 2; c = b & 0x0Fu; min = 0x800; }
    else if (b >= 0xF0 && b <= 0xF4) { n = 3; c = b & 0x07u; min = 0x10000; }
    else return 0;
    if (i + (size_t)n >= len) return 0;                     /* truncated sequence */
    for (int k = 1; k <= n; k++) {
        unsigned char t = s[i + (size_t)k];
        if ((t & 0xC0u) != 0x80u) return 0;
        c = (c << 6) | (t & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    *pos = i + (size_t)n + 1;
    return 1;
}

static size_t utf8_put(uint32_t c, char *out) {
    if (c < 0x80) { out[0] = (char)c; return 1; }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* ---- the analyzer ------------------------------------------------------ */

typedef struct token_buf {
    char *text;
    size_t len;       /* bytes   */
    size_t count;     /* code points */
} token_buf;

/* End of a run of word characters: emit it when it has >= 2 code points. */
static itr_status flush_token(token_buf *t,
                              itr_status (*emit)(const char *tok, size_t n, void *ctx),
                              void *ctx) {
    itr_status st = ITR_OK;
    if (t->count >= 2) {
        t->text[t->len] = '\0';
        st = emit(t->text, t->len, ctx);
    }
    t->len = 0;
    t->count = 0;
    return st;
}

itr_status itr_sklearn_tokenize(const char *doc, size_t len, const itr_text_class *cls,
                                itr_status (*emit)(const char *tok, size_t n, void *ctx),
                                void *ctx) {
    if (!doc || !emit) return itr_fail(ITR_E_ARG, "itr_sklearn_tokenize: NULL argument");
    if (!cls) cls = &builtin_class;
    const unsigned char *s = (const unsigned char *)doc;
    while (len > 0 && is_ascii_space(s[0])) { s++; len--; }          /* bytes.strip() */
    while (len > 0 && is_ascii_space(s[len - 1])) len--;
    /* Lower-casing can grow the UTF-8 text (U+0130 becomes two code points,
     * at most 3 bytes per input byte); one token is kept at a time. */
    token_buf t;
    t.text = malloc(3 * len + 8);
    t.len = t.count = 0;
    if (!t.text) return itr_fail(ITR_E_NOMEM, "itr_sklearn_tokenize: out of memory (%zu bytes)", len);
    size_t pos = 0;
    itr_status st = ITR_OK;
    while (pos < len && !st) {
        uint32_t cp, lc[2];
        int nlc = 1;
        size_t at = pos;
        if (!utf8_next(s, len, &pos, &cp)) {
            st = itr_fail(ITR_E_FORMAT,
                          "itr_sklearn_tokenize: invalid UTF-8 at byte %zu of a %zu-byte text "
                          "(upstream's strict decode raises)", at, len);
            break;
        }
        /* str.lower(): U+0130 is the one unconditional two-code-point mapping */
        if (cp == 0x130) { lc[0] = 'i'; lc[1] = 0x307; nlc = 2; }
        else lc[0] = cls->lower(cp, cls->ctx);
        for (int q = 0; q < nlc && !st; q++) {
            if (cls->is_word(lc[q], cls->ctx)) {
                t.len += utf8_put(lc[q], t.text + t.len);
                t.count++;
            } else {
                st = flush_token(&t, emit, ctx);
            }
        }
    }
    if (!st) st = flush_token(&t, emit, ctx);
    free(t.text);
    return st;
}
