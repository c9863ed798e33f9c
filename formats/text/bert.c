/* bert.c - BERT's basic tokenizer and WordPiece for bert-base-uncased
 * (formats.md s3.4, vsepp_vseinfty.md Appendix B), as VSE-infinity calls
 * them: tokenizer.basic_tokenizer.tokenize(caption), then
 * wordpiece_tokenizer.tokenize(token) per word, wrapped in [CLS] ... [SEP]
 * (woodfrog/vse_infty:lib/datasets/image_caption.py).
 *
 * Unicode properties come from utf8proc. Known harmless deviations from
 * Python: str.lower() uses full case mappings (U+0130 -> "i\u0307", final
 * sigma), utf8proc_tolower the simple one; Unicode versions may differ. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_internal.h"

itr_status itr_bert_tokenizer_load(const char *vocab_txt, itr_bert_tokenizer *t) {
    memset(t, 0, sizeof *t);
    itr_status st = itr_vocab_load_txt(vocab_txt, &t->vocab);
    if (st) return st;
    const char *need[3] = {"[UNK]", "[CLS]", "[SEP]"};
    int64_t *ids[3] = {&t->unk_id, &t->cls_id, &t->sep_id};
    for (int i = 0; i < 3; i++) {
        if ((*ids[i] = itr_vocab_id(&t->vocab, need[i])) < 0) {
            itr_vocab_free(&t->vocab);
            return itr_fail(ITR_E_KEY, "%s: vocabulary has no '%s'", vocab_txt, need[i]);
        }
    }
    t->pad_id = itr_vocab_id(&t->vocab, "[PAD]");
    t->max_chars_per_word = 100;
    return ITR_OK;
}

void itr_bert_free(itr_bert_tokenizer *t) {
    if (!t) return;
    itr_vocab_free(&t->vocab);
    memset(t, 0, sizeof *t);
}

/* ---- character classes of the basic tokenizer ------------------------------- */

/* Control: any category C* except \t \n \r, which count as whitespace. */
static int bert_control(int32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
        return 1;
    default:
        return 0;
    }
}

static int bert_space(int32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* ASCII non-alphanumerics count as punctuation (so $ + < = > ^ ` | ~ do). */
static int bert_punct(int32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

/* The CJK Unified Ideographs blocks (not Hangul or kana). */
static int bert_cjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* lower -> NFD -> drop Mn -> split on punctuation, for one whitespace word. */
static itr_status split_word(const char *w, size_t n, itr_tokens *out) {
    itr_sb low = {0};
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += itr_utf8_decode(w + i, n - i, &cp);
        itr_sb_put_cp(&low, utf8proc_tolower(cp));
    }
    if (low.oom) { itr_sb_free(&low); return itr_fail(ITR_E_NOMEM, "BERT tokenizer: out of memory"); }
    utf8proc_ssize_t cap = (utf8proc_ssize_t)low.len * 4 + 16, got;
    utf8proc_int32_t *cps = NULL;
    for (;;) {
        utf8proc_int32_t *p = realloc(cps, (size_t)cap * sizeof *p);
        if (!p) { free(cps); itr_sb_free(&low); return itr_fail(ITR_E_NOMEM, "BERT tokenizer: out of memory"); }
        cps = p;
        got = utf8proc_decompose((const utf8proc_uint8_t *)low.s, (utf8proc_ssize_t)low.len, cps, cap,
                                 UTF8PROC_DECOMPOSE);
        if (got < 0 || got <= cap) break;
        cap = got;
    }
    itr_sb_free(&low);
    if (got < 0) { free(cps); return itr_fail(ITR_E_FORMAT, "BERT tokenizer: %s", utf8proc_errmsg(got)); }
    itr_sb piece = {0};
    itr_status st = ITR_OK;
    for (utf8proc_ssize_t k = 0; k < got && !st; k++) {
        int32_t cp = cps[k];
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN) continue;   /* only Mn (s3.4) */
        if (bert_punct(cp)) {
            if (piece.len) st = itr_tokens_push(out, piece.s, piece.len);
            piece.len = 0;
            itr_sb tmp = {0};
            itr_sb_put_cp(&tmp, cp);
            if (!st) st = tmp.oom ? itr_fail(ITR_E_NOMEM, "out of memory") : itr_tokens_push(out, tmp.s, tmp.len);
            itr_sb_free(&tmp);
        } else {
            itr_sb_put_cp(&piece, cp);
        }
    }
    if (!st && piece.oom) st = itr_fail(ITR_E_NOMEM, "BERT tokenizer: out of memory");
    if (!st && piece.len) st = itr_tokens_push(out, piece.s, piece.len);
    itr_sb_free(&piece);
    free(cps);
    return st;
}

itr_status itr_bert_basic_tokenize(const char *text, itr_tokens *out) {
    if (!text) return itr_fail(ITR_E_ARG, "BERT tokenizer: NULL text");
    size_t n = strlen(text), bad;
    if (!itr_utf8_check(text, n, &bad))
        return itr_fail(ITR_E_FORMAT, "BERT tokenizer: invalid UTF-8 at byte %zu of \"%.40s\"", bad, text);
    /* clean (drop NUL, U+FFFD, controls; whitespace -> ' ') and space out CJK */
    itr_sb clean = {0};
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += itr_utf8_decode(text + i, n - i, &cp);
        if (cp == 0 || cp == 0xFFFD || bert_control(cp)) continue;
        if (bert_space(cp)) { itr_sb_putc(&clean, ' '); continue; }
        if (bert_cjk(cp)) itr_sb_putc(&clean, ' ');
        itr_sb_put_cp(&clean, cp);
        if (bert_cjk(cp)) itr_sb_putc(&clean, ' ');
    }
    itr_sb_put(&clean, "", 0);
    if (clean.oom) { itr_sb_free(&clean); return itr_fail(ITR_E_NOMEM, "BERT tokenizer: out of memory"); }
    itr_tokens words;
    itr_tokens_init(&words);
    itr_status st = itr_split_ws(clean.s, clean.len, &words);
    for (size_t k = 0; !st && k < words.n; k++) st = split_word(words.tok[k], strlen(words.tok[k]), out);
    itr_tokens_free(&words);
    itr_sb_free(&clean);
    return st;
}

itr_status itr_bert_wordpiece(const itr_bert_tokenizer *t, const char *token, itr_tokens *out) {
    size_t n = strlen(token);
    /* code point boundaries: at[k] = byte offset of code point k */
    size_t *at = malloc((n + 1) * sizeof *at), ncp = 0;
    char *key = malloc(n + 3);
    if (!at || !key) { free(at); free(key); return itr_fail(ITR_E_NOMEM, "WordPiece: out of memory"); }
    for (size_t i = 0; i < n;) {
        int32_t cp;
        at[ncp++] = i;
        i += itr_utf8_decode(token + i, n - i, &cp);
    }
    at[ncp] = n;
    size_t first = out->n;
    int bad = ncp > (size_t)t->max_chars_per_word;
    itr_status st = ITR_OK;
    for (size_t start = 0; start < ncp && !bad && !st;) {
        size_t end = ncp, klen = 0;
        for (; end > start; end--) {                     /* longest match first */
            size_t off = start > 0 ? 2 : 0, len = at[end] - at[start];
            memcpy(key, "##", 2);
            memcpy(key + off, token + at[start], len);
            klen = off + len;
            if (itr_vocab_id_n(&t->vocab, key, klen) >= 0) break;
        }
        if (end == start) { bad = 1; break; }
        st = itr_tokens_push(out, key, klen);
        start = end;
    }
    if (bad && !st) {
        /* the whole word becomes one [UNK]; partial pieces are discarded */
        while (out->n > first) free(out->tok[--out->n]);
        st = itr_tokens_push(out, "[UNK]", 5);
    }
    free(at);
    free(key);
    return st;
}

itr_status itr_bert_tokenize(const itr_bert_tokenizer *t, const char *text, int flags,
                             itr_tokens *pieces, int64_t **ids, int64_t *n) {
    if (ids) *ids = NULL;
    if (n) *n = 0;
    itr_tokens words, wp;
    itr_tokens_init(&words);
    itr_tokens_init(&wp);
    itr_status st = itr_bert_basic_tokenize(text, &words);
    for (size_t k = 0; !st && k < words.n; k++) st = itr_bert_wordpiece(t, words.tok[k], &wp);
    itr_tokens_free(&words);
    if (!st && wp.n == 0 && !(flags & ITR_TOK_ALLOW_EMPTY))
        st = itr_fail(ITR_E_FORMAT, "empty caption (no BERT tokens in \"%.40s\")", text);
    if (!st && pieces) {
        st = itr_tokens_push(pieces, "[CLS]", 5);
        for (size_t k = 0; !st && k < wp.n; k++) st = itr_tokens_push(pieces, wp.tok[k], strlen(wp.tok[k]));
        if (!st) st = itr_tokens_push(pieces, "[SEP]", 5);
    }
    if (!st && ids) {
        if (!(*ids = malloc((wp.n + 2) * sizeof **ids))) st = itr_fail(ITR_E_NOMEM, "out of memory");
        else {
            int64_t m = 0;
            (*ids)[m++] = t->cls_id;
            for (size_t k = 0; k < wp.n; k++) {
                int64_t id = itr_vocab_id(&t->vocab, wp.tok[k]);
                (*ids)[m++] = id >= 0 ? id : t->unk_id;
            }
            (*ids)[m++] = t->sep_id;
            if (n) *n = m;
        }
    }
    itr_tokens_free(&wp);
    return st;
}

itr_status itr_bert_encode_all(const itr_bert_tokenizer *t, const itr_captions *caps, int flags,
                               itr_id_seqs *out) {
    itr_seq_builder b;
    itr_status st = itr_seqb_begin(&b, out);
    for (int64_t i = 0; !st && i < caps->n; i++) {
        int64_t *ids, n;
        st = itr_bert_tokenize(t, caps->lines[i], flags, NULL, &ids, &n);
        if (st) {
            itr_fail_context(st, "%s: caption %lld", caps->source ? caps->source : "captions", (long long)i + 1);
            break;
        }
        st = itr_seqb_add(&b, ids, n);
        free(ids);
    }
    if (st) itr_id_seqs_free(out);
    return st;
}
