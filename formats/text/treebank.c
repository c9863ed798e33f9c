/* treebank.c - the Treebank word tokenizer of nltk, as ordered string
 * rewrites (formats.md s3.3, vsepp_vseinfty.md Appendix A).
 *
 * Each rule below is one left-to-right pass that replaces non-overlapping
 * matches, exactly like one Python re.sub: a match consumes its context
 * characters too, and scanning resumes after it. Character classes follow
 * Python 3's Unicode `re` (\s = str.isspace, \w = alphanumeric or '_',
 * \d = category Nd; itr_cp_* in text_util.c), so non-ASCII text behaves as
 * it does under nltk. The rules, in order:
 *
 *   starting quotes   [nltk38: pad « “ ‘ „ and backtick runs]; a leading "
 *                     becomes ``; pad ``; a " or '' after space or ( [ { <
 *                     becomes ``; [nltk38: ' before a one-letter word that
 *                     does not begin a clitic is split off]
 *   punctuation       [nltk38: final period, closers incl. space » ” ’];
 *                     , or : before a non-digit; , or : at the end; ...
 *                     (classic) or any run of 2+ periods (nltk38); ; @ # $ % &;
 *                     final period; ? !; ' before a space; [nltk38: *]
 *   brackets, --      padded
 *   ending quotes     (after adding a space at both ends) [nltk38: » ” ’];
 *                     '' and " become ''; clitics 's 'm 'd ' and 'll 're 've n't
 *   contractions      cannot gimme gonna gotta lemme more'n wanna d'ye, 'tis 'twas
 *   split on whitespace. */
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

/* The string a pass reads: s[0..n), NUL-terminated. */
typedef struct tb_text {
    const char *s;
    size_t n;
} tb_text;

static size_t cp_at(const tb_text *t, size_t i, int32_t *cp) {
    if (i >= t->n) { *cp = -1; return 0; }
    return itr_utf8_decode(t->s + i, t->n - i, cp);
}

static int word_at(const tb_text *t, size_t i) {
    int32_t cp;
    cp_at(t, i, &cp);
    return cp >= 0 && itr_cp_isword(cp);
}

static int lower_eq(const char *s, const char *lit, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lit[i]) return 0;
    }
    return 1;
}

static void pad(itr_sb *o, const char *s, size_t n) {
    itr_sb_putc(o, ' ');
    itr_sb_put(o, s, n);
    itr_sb_putc(o, ' ');
}

/* ---- simple padding rules ------------------------------------------------ */

/* Pads every occurrence of any of the ASCII characters in `set`. */
static void r_pad_chars(const tb_text *t, itr_sb *o, const char *set) {
    for (size_t i = 0; i < t->n; i++) {
        if (strchr(set, t->s[i])) pad(o, t->s + i, 1);
        else itr_sb_putc(o, t->s[i]);
    }
}

/* Pads every occurrence of one of the UTF-8 strings in `lits` (NULL-ended). */
static void r_pad_literals(const tb_text *t, itr_sb *o, const char *const *lits) {
    for (size_t i = 0; i < t->n;) {
        size_t m = 0;
        for (const char *const *l = lits; *l && !m; l++) {
            size_t len = strlen(*l);
            if (len <= t->n - i && memcmp(t->s + i, *l, len) == 0) m = len;
        }
        if (m) { pad(o, t->s + i, m); i += m; }
        else itr_sb_putc(o, t->s[i++]);
    }
}

/* Pads each run of `c` of length >= min as one token (min 2: \.{2,}, ``
 * runs), or, with exact > 0, each non-overlapping run of exactly `exact`. */
static void r_pad_runs(const tb_text *t, itr_sb *o, char c, size_t min, size_t exact) {
    for (size_t i = 0; i < t->n;) {
        size_t j = i;
        while (j < t->n && t->s[j] == c && (!exact || j - i < exact)) j++;
        if (j > i && j - i >= (exact ? exact : min)) { pad(o, t->s + i, j - i); i = j; }
        else itr_sb_putc(o, t->s[i++]);
    }
}

/* Replaces every occurrence of `from` by `to`. */
static void r_replace(const tb_text *t, itr_sb *o, const char *from, const char *to) {
    size_t fl = strlen(from);
    for (size_t i = 0; i < t->n;) {
        if (fl <= t->n - i && memcmp(t->s + i, from, fl) == 0) { itr_sb_puts(o, to); i += fl; }
        else itr_sb_putc(o, t->s[i++]);
    }
}

/* ---- starting quotes -------------------------------------------------------- */

/* ^" -> `` */
static void r_leading_dquote(const tb_text *t, itr_sb *o) {
    if (t->n && t->s[0] == '"') { itr_sb_puts(o, "``"); itr_sb_put(o, t->s + 1, t->n - 1); }
    else itr_sb_put(o, t->s, t->n);
}

/* ([ ([{<])("|'') -> "\1 `` " */
static void r_open_dquote(const tb_text *t, itr_sb *o) {
    for (size_t i = 0; i < t->n;) {
        const char *s = t->s + i;
        if (strchr(" ([{<", s[0]) && s[0] && i + 1 < t->n) {
            size_t q = s[1] == '"' ? 1 : (s[1] == '\'' && i + 2 < t->n && s[2] == '\'') ? 2 : 0;
            if (q) { itr_sb_putc(o, s[0]); itr_sb_puts(o, " `` "); i += 1 + q; continue; }
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* nltk38: (?i)(')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2" */
static void r_quote_letter(const tb_text *t, itr_sb *o) {
    static const char *const clitic[] = {"re", "ve", "ll", "m", "t", "s", "d", "n", NULL};
    for (size_t i = 0; i < t->n;) {
        if (t->s[i] == '\'') {
            int excluded = 0;
            for (const char *const *c = clitic; *c && !excluded; c++) {
                size_t len = strlen(*c);
                excluded = len <= t->n - i - 1 && lower_eq(t->s + i + 1, *c, len);
            }
            int32_t cp;
            size_t len = cp_at(t, i + 1, &cp);
            if (!excluded && len && itr_cp_isword(cp) && !word_at(t, i + 1 + len)) {
                itr_sb_puts(o, "' ");
                itr_sb_put(o, t->s + i + 1, len);
                i += 1 + len;
                continue;
            }
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* ---- punctuation --------------------------------------------------------------- */

/* ([:,])([^\d]) -> " \1 \2" */
static void r_colon_comma(const tb_text *t, itr_sb *o) {
    for (size_t i = 0; i < t->n;) {
        if ((t->s[i] == ':' || t->s[i] == ',') && i + 1 < t->n) {
            int32_t cp;
            size_t len = cp_at(t, i + 1, &cp);
            if (!itr_cp_isdigit(cp)) {
                itr_sb_putc(o, ' ');
                itr_sb_putc(o, t->s[i]);
                itr_sb_putc(o, ' ');
                itr_sb_put(o, t->s + i + 1, len);
                i += 1 + len;
                continue;
            }
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* ([:,])$ -> " \1 "  ($: the end, or before a final newline) */
static void r_colon_comma_end(const tb_text *t, itr_sb *o) {
    size_t n = t->n, p = n;
    if (n >= 1 && (t->s[n - 1] == ':' || t->s[n - 1] == ',')) p = n - 1;
    else if (n >= 2 && t->s[n - 1] == '\n' && (t->s[n - 2] == ':' || t->s[n - 2] == ',')) p = n - 2;
    if (p == n) { itr_sb_put(o, t->s, n); return; }
    itr_sb_put(o, t->s, p);
    pad(o, t->s + p, 1);
    itr_sb_put(o, t->s + p + 1, n - p - 1);
}

static int is_closer(const tb_text *t, size_t i, int extended, size_t *len) {
    static const char *const uni[] = {"\xc2\xbb", "\xe2\x80\x9d", "\xe2\x80\x99", NULL};  /* » ” ’ */
    *len = 1;
    if (strchr("])}>\"'", t->s[i])) return 1;
    if (!extended) return 0;
    if (t->s[i] == ' ') return 1;
    for (const char *const *u = uni; *u; u++) {
        *len = strlen(*u);
        if (*len <= t->n - i && memcmp(t->s + i, *u, *len) == 0) return 1;
    }
    return 0;
}

/* ([^.])(\.)([closers]*)\s*$ -> "\1 \2\3 " (classic) or "\1 \2 \3 " (nltk38,
 * whose closers also include space and » ” ’). The match runs to the end of
 * the string, so there is at most one: the period after which only closers
 * and then whitespace follow. */
static void r_final_period(const tb_text *t, itr_sb *o, int extended) {
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (t->s[i + 1] != '.' || t->s[i] == '.') continue;
        size_t j = i + 2, len;
        while (j < t->n && is_closer(t, j, extended, &len)) j += len;
        size_t g3 = j, w;
        while (j < t->n && (w = itr_ws_len(t->s + j, t->n - j)) > 0) j += w;
        if (j != t->n) continue;
        itr_sb_put(o, t->s, i + 1);
        itr_sb_puts(o, extended ? " . " : " .");
        itr_sb_put(o, t->s + i + 2, g3 - (i + 2));
        itr_sb_putc(o, ' ');
        return;
    }
    itr_sb_put(o, t->s, t->n);
}

/* ([^'])' (space) -> "\1 ' " */
static void r_quote_space(const tb_text *t, itr_sb *o) {
    for (size_t i = 0; i < t->n;) {
        if (t->s[i] != '\'' && i + 2 < t->n && t->s[i + 1] == '\'' && t->s[i + 2] == ' ') {
            itr_sb_putc(o, t->s[i]);
            itr_sb_puts(o, " ' ");
            i += 3;
            continue;
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* ---- ending quotes and clitics ---------------------------------------------------- */

/* ([^' ])('[sS]|'[mM]|'[dD]|') -> "\1 \2 "  and
 * ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) -> "\1 \2 " (the second pass). */
static void r_clitics(const tb_text *t, itr_sb *o, int second) {
    static const char *const two[] = {"'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T", NULL};
    for (size_t i = 0; i < t->n;) {
        const char *s = t->s + i;
        size_t left = t->n - i, m = 0;
        if (s[0] != '\'' && s[0] != ' ' && left >= 3) {
            if (!second) {
                if (s[1] == '\'' && left >= 4 && strchr("sSmMdD", s[2]) && s[2] && s[3] == ' ') m = 2;
                else if (s[1] == '\'' && s[2] == ' ') m = 1;
            } else {
                for (const char *const *c = two; *c && !m; c++)
                    if (left >= 5 && memcmp(s + 1, *c, 3) == 0 && s[4] == ' ') m = 3;
            }
        }
        if (m) {
            itr_sb_putc(o, s[0]);
            pad(o, s + 1, m);
            i += 2 + m;
            continue;
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* ---- contractions (MacIntyre's list) ------------------------------------------------ */

/* (?i)\b(a)(b)\b -> " \1 \2 "; ws_after: (?i)\b(a)(b)(?=\s) instead. */
static void r_contraction(const tb_text *t, itr_sb *o, const char *a, const char *b, int ws_after) {
    size_t la = strlen(a), lb = strlen(b);
    int prev_word = 0;
    for (size_t i = 0; i < t->n;) {
        if (!prev_word && la + lb <= t->n - i && lower_eq(t->s + i, a, la) &&
            lower_eq(t->s + i + la, b, lb)) {
            size_t e = i + la + lb;
            int ok = ws_after ? itr_ws_len(t->s + e, t->n - e) > 0 : !word_at(t, e);
            if (ok) {
                itr_sb_putc(o, ' ');
                itr_sb_put(o, t->s + i, la);
                pad(o, t->s + i + la, lb);
                i = e;
                prev_word = 1;
                continue;
            }
        }
        int32_t cp;
        size_t len = cp_at(t, i, &cp);
        itr_sb_put(o, t->s + i, len);
        prev_word = cp >= 0 && itr_cp_isword(cp);
        i += len;
    }
}

/* (?i) ('t)(is)\b and (?i) ('t)(was)\b -> " \1 \2 " */
static void r_tis(const tb_text *t, itr_sb *o, const char *rest) {
    size_t lr = strlen(rest);
    for (size_t i = 0; i < t->n;) {
        if (t->s[i] == ' ' && 3 + lr <= t->n - i && t->s[i + 1] == '\'' && lower_eq(t->s + i + 2, "t", 1) &&
            lower_eq(t->s + i + 3, rest, lr) && !word_at(t, i + 3 + lr)) {
            itr_sb_putc(o, ' ');
            itr_sb_put(o, t->s + i + 1, 2);
            pad(o, t->s + i + 3, lr);
            i += 3 + lr;
            continue;
        }
        itr_sb_putc(o, t->s[i++]);
    }
}

/* ---- driver ---------------------------------------------------------------------------- */
enum {
    R_LEADING_DQUOTE, R_PAD_BACKTICK2, R_OPEN_DQUOTE, R_COLON_COMMA, R_COLON_COMMA_END,
    R_ELLIPSIS3, R_PERIOD_RUNS, R_PAD_SYMBOLS, R_FINAL_PERIOD, R_FINAL_PERIOD_EXT, R_QMARK,
    R_QUOTE_SPACE, R_STAR, R_BRACKETS, R_DASHES, R_WRAP, R_CLOSE_2SQUOTE, R_CLOSE_DQUOTE,
    R_CLITICS1, R_CLITICS2, R_CONTRACTIONS, R_UNI_OPEN, R_BACKTICK_RUNS, R_QUOTE_LETTER,
    R_UNI_CLOSE, R_END
};

static const int classic_rules[] = {
    R_LEADING_DQUOTE, R_PAD_BACKTICK2, R_OPEN_DQUOTE,
    R_COLON_COMMA, R_COLON_COMMA_END, R_ELLIPSIS3, R_PAD_SYMBOLS, R_FINAL_PERIOD, R_QMARK, R_QUOTE_SPACE,
    R_BRACKETS, R_DASHES, R_WRAP,
    R_CLOSE_2SQUOTE, R_CLOSE_DQUOTE, R_CLITICS1, R_CLITICS2, R_CONTRACTIONS, R_END};

static const int nltk38_rules[] = {
    R_UNI_OPEN, R_BACKTICK_RUNS, R_LEADING_DQUOTE, R_PAD_BACKTICK2, R_OPEN_DQUOTE, R_QUOTE_LETTER,
    R_FINAL_PERIOD_EXT, R_COLON_COMMA, R_COLON_COMMA_END, R_PERIOD_RUNS, R_PAD_SYMBOLS, R_FINAL_PERIOD,
    R_QMARK, R_QUOTE_SPACE, R_STAR,
    R_BRACKETS, R_DASHES, R_WRAP,
    R_UNI_CLOSE, R_CLOSE_2SQUOTE, R_CLOSE_DQUOTE, R_CLITICS1, R_CLITICS2, R_CONTRACTIONS, R_END};

static void apply(int rule, const tb_text *t, itr_sb *o) {
    static const char *const uni_open[] = {"\xc2\xab", "\xe2\x80\x9c", "\xe2\x80\x98", "\xe2\x80\x9e", NULL};
    static const char *const uni_close[] = {"\xc2\xbb", "\xe2\x80\x9d", "\xe2\x80\x99", NULL};
    switch (rule) {
    case R_UNI_OPEN: r_pad_literals(t, o, uni_open); break;            /* « “ ‘ „ */
    case R_BACKTICK_RUNS: r_pad_runs(t, o, '`', 1, 0); break;
    case R_LEADING_DQUOTE: r_leading_dquote(t, o); break;
    case R_PAD_BACKTICK2: r_pad_runs(t, o, '`', 0, 2); break;         /* (``) */
    case R_OPEN_DQUOTE: r_open_dquote(t, o); break;
    case R_QUOTE_LETTER: r_quote_letter(t, o); break;
    case R_COLON_COMMA: r_colon_comma(t, o); break;
    case R_COLON_COMMA_END: r_colon_comma_end(t, o); break;
    case R_ELLIPSIS3: r_pad_runs(t, o, '.', 0, 3); break;             /* \.\.\. */
    case R_PERIOD_RUNS: r_pad_runs(t, o, '.', 2, 0); break;           /* \.{2,} */
    case R_PAD_SYMBOLS: r_pad_chars(t, o, ";@#$%&"); break;
    case R_FINAL_PERIOD: r_final_period(t, o, 0); break;
    case R_FINAL_PERIOD_EXT: r_final_period(t, o, 1); break;
    case R_QMARK: r_pad_chars(t, o, "?!"); break;
    case R_QUOTE_SPACE: r_quote_space(t, o); break;
    case R_STAR: r_pad_chars(t, o, "*"); break;
    case R_BRACKETS: r_pad_chars(t, o, "][(){}<>"); break;
    case R_DASHES: r_replace(t, o, "--", " -- "); break;
    case R_WRAP: itr_sb_putc(o, ' '); itr_sb_put(o, t->s, t->n); itr_sb_putc(o, ' '); break;
    case R_UNI_CLOSE: r_pad_literals(t, o, uni_close); break;          /* » ” ’ */
    case R_CLOSE_2SQUOTE: r_replace(t, o, "''", " '' "); break;
    case R_CLOSE_DQUOTE: r_replace(t, o, "\"", " '' "); break;
    case R_CLITICS1: r_clitics(t, o, 0); break;
    case R_CLITICS2: r_clitics(t, o, 1); break;
    default: break;
    }
}

/* The contraction passes, in MacIntyre's order (CONTRACTIONS2, then 3). */
static void contractions(itr_sb *cur, itr_sb *nxt) {
    static const char *const pairs[][2] = {{"can", "not"}, {"d", "'ye"}, {"gim", "me"}, {"gon", "na"},
                                           {"got", "ta"}, {"lem", "me"}, {"more", "'n"}, {"wan", "na"}};
    for (int k = 0; k < 10; k++) {
        tb_text t = {cur->s, cur->len};
        nxt->len = 0;
        itr_sb_put(nxt, "", 0);
        if (k < 8) r_contraction(&t, nxt, pairs[k][0], pairs[k][1], k == 7);
        else r_tis(&t, nxt, k == 8 ? "is" : "was");
        itr_sb tmp = *cur;
        *cur = *nxt;
        *nxt = tmp;
    }
}

itr_status itr_treebank_tokenize(const char *sentence, int flags, itr_tokens *out) {
    if (!sentence) return itr_fail(ITR_E_ARG, "treebank tokenizer: NULL text");
    size_t n = strlen(sentence), bad;
    if (!itr_utf8_check(sentence, n, &bad))
        return itr_fail(ITR_E_FORMAT, "treebank tokenizer: invalid UTF-8 at byte %zu of \"%.40s\"", bad, sentence);
    itr_sb cur = {0}, nxt = {0};
    itr_sb_put(&cur, sentence, n);
    const int *rules = (flags & ITR_TOK_NLTK38) ? nltk38_rules : classic_rules;
    for (const int *r = rules; *r != R_END && !cur.oom && !nxt.oom; r++) {
        if (*r == R_CONTRACTIONS) { contractions(&cur, &nxt); continue; }
        tb_text t = {cur.s, cur.len};
        nxt.len = 0;
        itr_sb_put(&nxt, "", 0);
        apply(*r, &t, &nxt);
        itr_sb tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    itr_status st = ITR_OK;
    if (cur.oom || nxt.oom) st = itr_fail(ITR_E_NOMEM, "treebank tokenizer: out of memory");
    else st = itr_split_ws(cur.s, cur.len, out);
    itr_sb_free(&cur);
    itr_sb_free(&nxt);
    return st;
}
