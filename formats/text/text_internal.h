/* text_internal.h - helpers shared by the files of formats/text (private). */
#ifndef ITR_TEXT_INTERNAL_H
#define ITR_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "itr/text.h"

/* Text files larger than this are refused (vocabularies and caption files
 * are a few MB; COCO train captions ~30 MB). */
#define ITR_TEXT_MAX_FILE ((size_t)1 << 30)

/* A growable byte string, always NUL-terminated once anything is added. */
typedef struct itr_sb {
    char *s;
    size_t len, cap;
    int oom;                  /* an allocation failed: contents are incomplete */
} itr_sb;

void itr_sb_put(itr_sb *b, const char *s, size_t n);
void itr_sb_putc(itr_sb *b, char c);
void itr_sb_puts(itr_sb *b, const char *s);
void itr_sb_free(itr_sb *b);

/* Copy of s[0..n) with a NUL (NULL when out of memory): C99 has no strndup. */
char *itr_text_strndup(const char *s, size_t n);

/* Reads a whole file (NUL appended, not counted in *n). */
itr_status itr_text_read_file(const char *path, char **data, size_t *n);

/* Decodes the UTF-8 sequence at s (n bytes available, n >= 1) into *cp and
 * returns its length. A malformed sequence decodes as one byte, *cp = -1. */
size_t itr_utf8_decode(const char *s, size_t n, int32_t *cp);
/* Appends the UTF-8 encoding of cp. */
void itr_sb_put_cp(itr_sb *b, int32_t cp);

/* Python 3 str predicates on one code point (utf8proc's tables):
 *   isspace: category Zs or bidirectional class WS, B, S (also \s of re);
 *   word:    \w of re = alphanumeric (L*, N*) or '_';
 *   digit:   \d of re = category Nd. */
int itr_cp_isspace(int32_t cp);
int itr_cp_isword(int32_t cp);
int itr_cp_isdigit(int32_t cp);

/* Length in bytes of the whitespace character at s (0 when s[0..n) does not
 * start with one). */
size_t itr_ws_len(const char *s, size_t n);

/* Splits s on runs of whitespace (Python str.split()) and appends the words. */
itr_status itr_split_ws(const char *s, size_t n, itr_tokens *out);

/* Checks that ids 0..n-1 all have a word (JSON and pickle vocabularies). */
itr_status itr_vocab_check_dense(const itr_vocab *v);

/* Builds an itr_id_seqs one sequence at a time (the ids are copied). */
typedef struct itr_seq_builder {
    itr_id_seqs *s;
    int64_t ids_cap, off_cap;
} itr_seq_builder;
itr_status itr_seqb_begin(itr_seq_builder *b, itr_id_seqs *s);
itr_status itr_seqb_add(itr_seq_builder *b, const int64_t *ids, int64_t n);

#endif
