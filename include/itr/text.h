/* itr/text.h - the text side of the retrieval models (formats/text).
 * Spec: specs formats.md s3 (3.1 vocabularies, 3.2 caption and id files,
 * 3.3 nltk word_tokenize and its C approximation, 3.4 BERT WordPiece),
 * vsepp_vseinfty.md Appendix A/B, scan_sgraf.md s9.
 *
 * Pipeline of the SCAN family (SCAN, SGRAF, VSE++, VSRN, VSL, LSEH):
 *     itr_captions_load("test_caps.txt")        one caption per line, stripped
 *     itr_vocab_load("f30k_precomp_vocab.json") word <-> id (or the VSE++ pickle)
 *     itr_caption_encode(vocab, line, flags)    ASCII-lowercase, nltk-style
 *                                               tokens, [<start>] ids [<end>]
 * and of the BERT models (VSE-infinity, 3SHNet):
 *     itr_bert_tokenizer_load("vocab.txt"); itr_bert_encode(...)  [CLS] pieces [SEP]
 *
 * All strings are UTF-8. Invalid UTF-8 in a file is an error naming the file,
 * line and byte. Nothing here prints or exits. */
#ifndef ITR_TEXT_H
#define ITR_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- token lists and ragged id sequences -------------------------------- */
typedef struct itr_tokens {
    char **tok;               /* n owned NUL-terminated strings */
    size_t n, cap;
} itr_tokens;
void itr_tokens_init(itr_tokens *t);
void itr_tokens_free(itr_tokens *t);
itr_status itr_tokens_push(itr_tokens *t, const char *s, size_t len);
/* "a man 's dog" (tokens joined by single spaces) into a fresh string. */
char *itr_tokens_join(const itr_tokens *t);

/* n sequences of ids: sequence i is ids[offsets[i] .. offsets[i+1]). */
typedef struct itr_id_seqs {
    int64_t *ids;
    int64_t *offsets;         /* n + 1 entries, offsets[0] = 0 */
    int64_t n;
} itr_id_seqs;
void itr_id_seqs_free(itr_id_seqs *s);
/* Padded (n, max_len) int64 matrix (pad_id beyond each length, in file order,
 * not sorted) and (n) int64 lengths, the layout of /inputs/captions. */
itr_status itr_id_seqs_to_padded(const itr_id_seqs *s, int64_t pad_id, itr_tensor *ids,
                                 itr_tensor *lengths);

/* ---- vocabularies (s3.1) ------------------------------------------------- */
#define ITR_VOCAB_MAX_IDS ((int64_t)1 << 24)

typedef struct itr_vocab {
    char **words;             /* id -> word; NULL for an id without a word */
    int64_t n;                /* ids are 0 .. n-1                          */
    int64_t cap;
    int64_t *slots;           /* private: open-addressing hash word -> id  */
    size_t nslots, used;
    /* Caption specials looked up by name after loading (-1 when absent):
     * SCAN/VSE++ files <pad>=0 <start>=1 <end>=2 <unk>=3; LGSGM's joblib
     * dicts <pad>=0 <unk>=1 <start>=2 <end>=3. */
    int64_t pad_id, start_id, end_id, unk_id;
    char *source;             /* file name for messages */
} itr_vocab;

void itr_vocab_init(itr_vocab *v);
void itr_vocab_free(itr_vocab *v);
/* Gives `word` the id `id` (0 <= id < ITR_VOCAB_MAX_IDS). A word added
 * twice keeps the later id for lookups (as a Python dict built line by line
 * does with a repeated vocab.txt line); an id given twice is ITR_E_FORMAT. */
itr_status itr_vocab_set(itr_vocab *v, const char *word, int64_t id);
/* Appends `word` with id n (VSE-infinity appends "<mask>" = idx). */
itr_status itr_vocab_append(itr_vocab *v, const char *word, int64_t *id);
int64_t itr_vocab_id(const itr_vocab *v, const char *word);        /* -1: absent */
int64_t itr_vocab_id_n(const itr_vocab *v, const char *word, size_t len);
const char *itr_vocab_word(const itr_vocab *v, int64_t id);        /* NULL: none */
/* Refreshes pad_id/start_id/end_id/unk_id from the words. */
void itr_vocab_find_specials(itr_vocab *v);
/* ITR_E_KEY naming the first missing one of <start>, <end>, <unk>;
 * ITR_E_FORMAT when <pad> exists with an id other than 0. */
itr_status itr_vocab_require_specials(const itr_vocab *v);

/* SCAN-family JSON {"idx2word": {"0": w, ...}, "word2idx": {w: id}, "idx": n}.
 * word2idx is authoritative; ids must be exactly 0..n-1, idx2word (when
 * present) its inverse, idx (when present) = n; specials are required. */
itr_status itr_vocab_load_json(const char *path, itr_vocab *v);
/* VSE++/VSRN vocab.pkl: a pickled vocab.Vocabulary / __main__.Vocabulary
 * (Python 2, protocol 2) read by the safe pickle reader; same checks. */
itr_status itr_vocab_load_pickle(const char *path, itr_vocab *v);
/* Either of the two, chosen by the first byte ('{' JSON, 0x80 pickle). */
itr_status itr_vocab_load(const char *path, itr_vocab *v);
/* BERT vocab.txt: one token per line, id = 0-based line number (only the
 * '\n' is removed, as transformers' load_vocab does). No specials checked. */
itr_status itr_vocab_load_txt(const char *path, itr_vocab *v);

/* ---- caption and id files (s3.2) ---------------------------------------- */
enum {
    /* Text mode (VSE-infinity, 3SHNet: Python 3 open(..., 'r')): lines end at
     * \n, \r\n or \r, and str.strip() removes Unicode whitespace. Default:
     * binary mode (SCAN era): lines end at \n, bytes.strip() removes ASCII
     * whitespace " \t\n\r\v\f". */
    ITR_CAPS_TEXT_MODE = 1,
    /* Keep lines that are empty after stripping (upstream tokenizes them to
     * [<start>, <end>]); by default they are an error naming the line. */
    ITR_CAPS_ALLOW_EMPTY = 2
};

typedef struct itr_captions {
    char **lines;             /* n stripped captions (not lowercased) */
    int64_t n;
    char *source;
} itr_captions;
itr_status itr_captions_load(const char *path, int flags, itr_captions *out);
void itr_captions_free(itr_captions *c);

/* {split}_ids.txt: one integer per line (blank lines are an error). */
itr_status itr_ids_load(const char *path, int64_t **ids, int64_t *n);
/* GSMN {split}_precaps_stan.txt: per line comma-separated word ids, used as
 * given (they already hold <start> ... <end>). */
itr_status itr_precaps_load(const char *path, itr_id_seqs *out);

/* How a precomp loader pairs caption lines with .npy image rows
 * (scan_sgraf.md s9.1; also VSE++, VSRN, GSMN, VSE-infinity, 3SHNet):
 *   QUIRK-D1: im_div = 5 when the .npy has a different number of rows than
 *     there are caption lines (counted before any cut), else 1 -- Flickr30K
 *     dev stores one image row per caption (5070 rows, 5070 lines);
 *     caption k uses image row k / im_div;
 *   QUIRK-D2: split "dev" uses only the first 5000 captions (1000 images;
 *     upstream would fail on fewer lines, itr keeps them all).
 * Evaluation pairs image i with captions 5i..5i+4 and takes its features
 * from row itr_precomp_image_row(p, i) = 5i / im_div. */
typedef struct itr_precomp_pairing {
    int64_t im_div;           /* 5 or 1 */
    int64_t n_captions;       /* captions used, after the dev cut */
    int64_t n_images;         /* n_captions / 5 */
} itr_precomp_pairing;
itr_status itr_precomp_pairing_get(int64_t n_rows, int64_t n_lines, const char *split,
                                   itr_precomp_pairing *out);
int64_t itr_precomp_image_row(const itr_precomp_pairing *p, int64_t image);

/* Lowercasing in place: ASCII letters only (Python 2 str.lower(), bytes.lower();
 * what SCAN/SGRAF/VSE++/VSRN do), or Python 3 str.lower() with utf8proc's
 * simple case mapping into a fresh string (VSE-infinity BiGRU). */
void itr_lower_ascii(char *s);
itr_status itr_lower_unicode(const char *s, char **out);
/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF);
 * else 0 with *bad = offset of the first bad byte (bad may be NULL). */
int itr_utf8_check(const char *s, size_t n, size_t *bad);

/* ---- nltk word_tokenize (s3.3, vsepp_vseinfty Appendix A) --------------- */
enum {
    ITR_TOK_CLASSIC = 0,        /* classic TreebankWordTokenizer rules (default) */
    ITR_TOK_NLTK38 = 1,         /* NLTKWordTokenizer of nltk 3.5-3.8             */
    ITR_TOK_NO_SENT_SPLIT = 2,  /* skip the Punkt sentence-split approximation   */
    ITR_TOK_UNICODE_LOWER = 4,  /* caption encode: Python 3 str.lower()          */
    ITR_TOK_NO_LOWER = 8,       /* caption encode: no lowercasing (LGSGM)        */
    ITR_TOK_ALLOW_EMPTY = 16    /* caption encode: a caption without tokens is   *
                                 * [<start>, <end>] instead of an error          */
};

/* The Treebank word tokenizer on one sentence (no lowercasing, no sentence
 * split): ordered rewrites, then a split on whitespace. */
itr_status itr_treebank_tokenize(const char *sentence, int flags, itr_tokens *out);
/* word_tokenize: the Punkt approximation of s3.3 (a sentence ends after a
 * word ending in . ? ! unless it is a vocabulary word with its period, a
 * single letter, a number or a run of periods; `abbrev` may be NULL), then
 * the Treebank tokenizer per sentence. */
itr_status itr_word_tokenize(const char *text, const itr_vocab *abbrev, int flags, itr_tokens *out);
/* [<start>] + [id(t) or <unk> for t in word_tokenize(lower(caption))] + [<end>]
 * (kuanghuei/SCAN:data.py). The vocabulary must have the specials. */
itr_status itr_caption_encode(const itr_vocab *v, const char *caption, int flags,
                              int64_t **ids, int64_t *n);
/* Every caption of a file, in order. */
itr_status itr_captions_encode(const itr_vocab *v, const itr_captions *caps, int flags,
                               itr_id_seqs *out);

/* ---- BERT basic tokenizer + WordPiece (s3.4, vsepp_vseinfty Appendix B) -- */
typedef struct itr_bert_tokenizer {
    itr_vocab vocab;
    int64_t unk_id, cls_id, sep_id, pad_id;   /* [UNK] [CLS] [SEP] [PAD]; pad -1 if absent */
    int max_chars_per_word;                    /* 100 */
} itr_bert_tokenizer;

/* Loads vocab.txt; [UNK], [CLS] and [SEP] are required. */
itr_status itr_bert_tokenizer_load(const char *vocab_txt, itr_bert_tokenizer *t);
void itr_bert_free(itr_bert_tokenizer *t);
/* BasicTokenizer(do_lower_case=True).tokenize(text) without a never-split
 * list: clean, CJK spacing, whitespace split, lowercase + NFD + drop Mn,
 * punctuation split. */
itr_status itr_bert_basic_tokenize(const char *text, itr_tokens *out);
/* WordPiece of one basic token, appended to out ("##" continuation pieces;
 * the whole token becomes [UNK] when it cannot be covered or is longer than
 * max_chars_per_word code points). */
itr_status itr_bert_wordpiece(const itr_bert_tokenizer *t, const char *token, itr_tokens *out);
/* [CLS] + pieces + [SEP] as tokens and/or ids (either output may be NULL). */
itr_status itr_bert_tokenize(const itr_bert_tokenizer *t, const char *text, int flags,
                             itr_tokens *pieces, int64_t **ids, int64_t *n);
itr_status itr_bert_encode_all(const itr_bert_tokenizer *t, const itr_captions *caps, int flags,
                               itr_id_seqs *out);

#ifdef __cplusplus
}
#endif
#endif
