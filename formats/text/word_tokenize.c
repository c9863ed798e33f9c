/* word_tokenize.c - nltk.word_tokenize as the SCAN family calls it, and the
 * caption -> ids mapping (formats.md s3.3, scan_sgraf.md s9.3):
 *
 *   ids = [<start>] + [word2idx.get(t, <unk>) for t in
 *                      word_tokenize(caption.lower())] + [<end>]
 *
 * word_tokenize first splits sentences with Punkt, whose trained English
 * model is not available offline. The approximation of s3.3: a sentence ends
 * after a whitespace-separated word ending in '.', '?' or '!' (before any
 * closing quotes/brackets) when more text follows, unless the word ending in
 * '.' is a vocabulary word with its period ("st.", "mr.", "u.s."), a single
 * letter ("a.", initials), a number, or ends in a run of periods (Punkt does
 * not break after "..", and the COCO vocabulary keeps "street.."). This only
 * changes multi-sentence captions, where "men. one" becomes "men . one". */
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

/* Does the word w[0..n) end a sentence (given more text follows)? */
static int ends_sentence(const char *w, size_t n, const itr_vocab *abbrev) {
    while (n > 0 && strchr(")]}\"'", w[n - 1])) n--;          /* closing quotes/brackets */
    if (n == 0) return 0;
    if (w[n - 1] == '?' || w[n - 1] == '!') return 1;
    if (w[n - 1] != '.') return 0;
    if (n >= 2 && w[n - 2] == '.') return 0;                    /* "..", "..." */
    size_t b = 0;
    while (b < n && strchr("([{<\"'`", w[b])) b++;              /* opening punctuation */
    if (abbrev && itr_vocab_id_n(abbrev, w + b, n - b) >= 0) return 0;
    size_t body = n - 1 - b;                                     /* without the period */
    if (body == 0) return 1;
    int32_t cp;
    size_t len = itr_utf8_decode(w + b, body, &cp);
    if (len == body && cp >= 0 && itr_cp_isword(cp) && !itr_cp_isdigit(cp)) return 0;  /* "a." */
    int digits = 0, other = 0;
    for (size_t i = b; i < n - 1; i++) {
        if (w[i] >= '0' && w[i] <= '9') digits++;
        else if (!strchr(".,-", w[i])) other++;
    }
    return !(digits && !other);                                  /* "3.5." is a number */
}

static itr_status tokenize_span(const char *text, size_t b, size_t e, int flags, itr_tokens *out) {
    char *s = itr_text_strndup(text + b, e - b);
    if (!s) return itr_fail(ITR_E_NOMEM, "word_tokenize: out of memory");
    itr_status st = itr_treebank_tokenize(s, flags, out);
    free(s);
    return st;
}

itr_status itr_word_tokenize(const char *text, const itr_vocab *abbrev, int flags, itr_tokens *out) {
    if (!text) return itr_fail(ITR_E_ARG, "word_tokenize: NULL text");
    if (flags & ITR_TOK_NO_SENT_SPLIT) return itr_treebank_tokenize(text, flags, out);
    size_t n = strlen(text), bad;
    if (!itr_utf8_check(text, n, &bad))
        return itr_fail(ITR_E_FORMAT, "word_tokenize: invalid UTF-8 at byte %zu of \"%.40s\"", bad, text);
    size_t i = 0, w, sent_b = 0, prev_b = 0, prev_e = 0;
    int have_prev = 0;
    itr_status st = ITR_OK;
    for (;;) {
        while (i < n && (w = itr_ws_len(text + i, n - i)) > 0) i += w;
        if (i == n) break;
        size_t wb = i;
        while (i < n && itr_ws_len(text + i, n - i) == 0) i++;
        if (!have_prev) {
            sent_b = wb;
        } else if (ends_sentence(text + prev_b, prev_e - prev_b, abbrev)) {
            if ((st = tokenize_span(text, sent_b, prev_e, flags, out))) return st;
            sent_b = wb;
        }
        prev_b = wb;
        prev_e = i;
        have_prev = 1;
    }
    return have_prev ? tokenize_span(text, sent_b, prev_e, flags, out) : ITR_OK;
}

itr_status itr_caption_encode(const itr_vocab *v, const char *caption, int flags, int64_t **ids, int64_t *n) {
    *ids = NULL;
    *n = 0;
    if (!caption) return itr_fail(ITR_E_ARG, "caption encode: NULL caption");
    itr_status st = itr_vocab_require_specials(v);
    if (st) return st;
    char *low;
    if (flags & ITR_TOK_UNICODE_LOWER) {
        if ((st = itr_lower_unicode(caption, &low))) return st;
    } else {
        if (!(low = itr_text_strndup(caption, strlen(caption)))) return itr_fail(ITR_E_NOMEM, "out of memory");
        /* QUIRK(scan_sgraf.md QUIRK-D3): Python 2 lowercases the byte string,
         * so only ASCII letters change ("CAFÉ" -> "cafÉ"). */
        if (!(flags & ITR_TOK_NO_LOWER)) itr_lower_ascii(low);
    }
    itr_tokens tok;
    itr_tokens_init(&tok);
    st = itr_word_tokenize(low, v, flags, &tok);
    free(low);
    if (!st && tok.n == 0 && !(flags & ITR_TOK_ALLOW_EMPTY))
        st = itr_fail(ITR_E_FORMAT, "empty caption (no tokens in \"%.40s\")", caption);
    if (!st && !(*ids = malloc((tok.n + 2) * sizeof **ids))) st = itr_fail(ITR_E_NOMEM, "out of memory");
    if (!st) {
        int64_t k = 0;
        (*ids)[k++] = v->start_id;
        for (size_t j = 0; j < tok.n; j++) {
            int64_t id = itr_vocab_id(v, tok.tok[j]);
            (*ids)[k++] = id >= 0 ? id : v->unk_id;
        }
        (*ids)[k++] = v->end_id;
        *n = k;
    }
    itr_tokens_free(&tok);
    return st;
}

itr_status itr_captions_encode(const itr_vocab *v, const itr_captions *caps, int flags, itr_id_seqs *out) {
    itr_seq_builder b;
    itr_status st = itr_seqb_begin(&b, out);
    for (int64_t i = 0; !st && i < caps->n; i++) {
        int64_t *ids, n;
        st = itr_caption_encode(v, caps->lines[i], flags, &ids, &n);
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
