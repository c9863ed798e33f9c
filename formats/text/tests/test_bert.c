/* test_bert.c - BERT basic tokenizer + WordPiece (formats.md s3.4,
 * vsepp_vseinfty.md Appendix B): the spec's worked examples (on a vocab.txt
 * that puts the needed tokens at their bert-base-uncased line numbers),
 * hand-made vocabularies for each branch, and the ids upstream produced for
 * the VSE-infinity / 3SHNet eval fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itr/text.h"
#include "text_test_util.h"

/* Writes a vocab.txt of `lines` lines: given (id, token) pairs, "[unusedK]"
 * elsewhere, and loads it. */
typedef struct { int id; const char *tok; } entry;

static void make_vocab(itr_bert_tokenizer *t, const entry *e, size_t ne, int lines, char *path, size_t np) {
    const char **tab = calloc((size_t)lines, sizeof *tab);
    assert_non_null(tab);
    for (size_t i = 0; i < ne; i++) tab[e[i].id] = e[i].tok;
    tt_tmp_path(path, np, "vocab");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < lines; i++) {
        if (tab[i]) fprintf(fp, "%s\n", tab[i]);
        else fprintf(fp, "[unused%d]\n", i);
    }
    fclose(fp);
    free(tab);
    assert_int_equal(itr_bert_tokenizer_load(path, t), ITR_OK);
}

static char *pieces_of(const itr_bert_tokenizer *t, const char *text, int64_t **ids, int64_t *n) {
    itr_tokens p;
    itr_tokens_init(&p);
    assert_int_equal(itr_bert_tokenize(t, text, 0, &p, ids, n), ITR_OK);
    char *s = itr_tokens_join(&p);
    itr_tokens_free(&p);
    return s;
}

static void test_spec_examples(void **state) {
    (void)state;
    static const entry e[] = {
        {0, "[PAD]"}, {100, "[UNK]"}, {101, "[CLS]"}, {102, "[SEP]"}, {103, "[MASK]"},
        {1005, "'"}, {1011, "-"}, {1012, "."}, {1037, "a"}, {1045, "i"}, {1055, "s"}, {1056, "t"},
        {1996, "the"}, {2064, "can"}, {2066, "like"}, {2158, "man"}, {3139, "covered"}, {3899, "dog"},
        {4220, "yard"}, {4586, "snow"}, {7668, "cafe"}, {9880, "swim"}, {13137, "straw"},
        {13746, "resume"}, {15743, "naive"}, {20968, "##berries"},
        /* tokens whose ids the spec does not give */
        {2000, "two"}, {2001, "kids"}, {2002, "play"}, {2003, "in"}, {2004, "skate"}, {2005, "##board"},
        {2006, "##er"}, {2007, "does"}, {2008, "kick"}, {2009, "##fl"}, {2010, "##ip"}, {2011, "straws"},
    };
    itr_bert_tokenizer t;
    char path[512];
    make_vocab(&t, e, sizeof e / sizeof e[0], 30522, path, sizeof path);
    assert_int_equal(t.vocab.n, 30522);
    assert_int_equal(t.unk_id, 100);
    assert_int_equal(t.cls_id, 101);
    assert_int_equal(t.sep_id, 102);
    assert_int_equal(t.pad_id, 0);
    static const struct { const char *in, *pieces; int64_t ids[16]; int nids, tail; } cases[] = {
        {"i like strawberries", "[CLS] i like straw ##berries [SEP]", {101, 1045, 2066, 13137, 20968, 102}, 6, 0},
        {"A man's dog can't swim.", "[CLS] a man ' s dog can ' t swim . [SEP]",
         {101, 1037, 2158, 1005, 1055, 3899, 2064, 1005, 1056, 9880, 1012, 102}, 12, 0},
        {"Two kids play in the snow-covered yard.", "[CLS] two kids play in the snow - covered yard . [SEP]",
         {1996, 4586, 1011, 3139, 4220, 1012, 102}, 7, 1},
        {"Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9", "[CLS] cafe naive resume [SEP]", {101, 7668, 15743, 13746, 102}, 5, 0},
        {"A skateboarder does a kickflip.", "[CLS] a skate ##board ##er does a kick ##fl ##ip . [SEP]", {0}, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t *ids, n;
        char *s = pieces_of(&t, cases[i].in, &ids, &n);
        if (strcmp(s, cases[i].pieces) != 0) fail_msg("\"%s\": \"%s\" != \"%s\"", cases[i].in, s, cases[i].pieces);
        int64_t off = cases[i].tail ? n - cases[i].nids : 0;
        if (!cases[i].tail && cases[i].nids) assert_int_equal(n, cases[i].nids);
        for (int k = 0; k < cases[i].nids; k++) assert_int_equal(ids[off + k], cases[i].ids[k]);
        free(s);
        free(ids);
    }
    itr_bert_free(&t);
    remove(path);
}

/* Each branch of the basic tokenizer and WordPiece on a tiny vocabulary. */
static void test_branches(void **state) {
    (void)state;
    static const entry e[] = {
        {0, "[PAD]"}, {1, "[UNK]"}, {2, "[CLS]"}, {3, "[SEP]"}, {4, "abc"}, {5, "##d"}, {6, "ab"},
        {7, "##cd"}, {8, "$"}, {9, "<"}, {10, "cls"}, {11, "["}, {12, "]"}, {13, "\xe4\xb8\xad"},
        {14, "\xe6\x96\x87"}, {15, "x"}, {16, "##x"}, {17, "a"}, {18, "e"}, {19, "\xc3\x9f"},
        {20, "\xe0\xa4\x95\xe0\xa4\xbe"}, {21, "\xe2\x80\x94"}, {22, "hello"}, {23, "world"}, {24, "o"},
    };
    itr_bert_tokenizer t;
    char path[512];
    make_vocab(&t, e, sizeof e / sizeof e[0], 25, path, sizeof path);
    char long100[128], long101[128];
    memset(long100, 'x', 100);
    long100[100] = '\0';
    memset(long101, 'x', 101);
    long101[101] = '\0';
    char want100[512] = "[CLS] x";
    for (int i = 1; i < 100; i++) strcat(want100, " ##x");
    strcat(want100, " [SEP]");
    static const struct { const char *in, *want; } cases[] = {
        {"abcd", "[CLS] abc ##d [SEP]"},              /* longest match first: abc + ##d, not ab + ##cd */
        {"abce", "[CLS] [UNK] [SEP]"},                /* no "##e": the whole word is [UNK] */
        {"ABC\tabcd\n", "[CLS] abc abc ##d [SEP]"},   /* lowercase, whitespace */
        {"hello,world!", "[CLS] hello [UNK] world [UNK] [SEP]"},  /* punctuation split; unknown -> [UNK] */
        {"$<[CLS]", "[CLS] $ < [ cls ] [SEP]"},      /* ASCII symbols are punctuation; no never-split list */
        {"\xe4\xb8\xad\xe6\x96\x87" "x", "[CLS] \xe4\xb8\xad \xe6\x96\x87 x [SEP]"},   /* CJK spaced out */
        {"a\xc2\xa0" "e", "[CLS] a e [SEP]"},        /* U+00A0 (Zs) is whitespace */
        {"a\x01\xef\xbf\xbd\xe2\x80\x8b" "e", "[CLS] [UNK] [SEP]"},  /* control, U+FFFD, U+200B (Cf) dropped: "ae" */
        {"\xc3\x89", "[CLS] e [SEP]"},               /* É -> é -> e + U+0301 (Mn dropped) */
        {"\xc3\x9f", "[CLS] \xc3\x9f [SEP]"},        /* ß has no decomposition; lower keeps it */
        {"\xe0\xa4\x95\xe0\xa4\xbe", "[CLS] \xe0\xa4\x95\xe0\xa4\xbe [SEP]"},   /* Mc (U+093E) is kept */
        {"a\xe2\x80\x94" "e", "[CLS] a \xe2\x80\x94 e [SEP]"},  /* em dash (Pd) is punctuation */
        {"\xcc\x81", "[CLS] [SEP]"},                 /* a lone combining accent vanishes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itr_tokens p;
        itr_tokens_init(&p);
        itr_status st = itr_bert_tokenize(&t, cases[i].in, ITR_TOK_ALLOW_EMPTY, &p, NULL, NULL);
        char *s = itr_tokens_join(&p);
        if (st || strcmp(s, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\" (%s), want \"%s\"", i, s, itr_status_name(st), cases[i].want);
        free(s);
        itr_tokens_free(&p);
    }
    /* words longer than max_chars_per_word (100 code points) are one [UNK] */
    int64_t *ids, n;
    char *s = pieces_of(&t, long100, &ids, &n);
    assert_string_equal(s, want100);
    free(s);
    free(ids);
    s = pieces_of(&t, long101, &ids, &n);
    assert_string_equal(s, "[CLS] [UNK] [SEP]");
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 1);
    free(s);
    free(ids);
    t.max_chars_per_word = 3;
    s = pieces_of(&t, "abcd abc", &ids, &n);
    assert_string_equal(s, "[CLS] [UNK] abc [SEP]");
    free(s);
    free(ids);
    /* empty captions and bad input */
    assert_int_equal(itr_bert_tokenize(&t, " \t", 0, NULL, &ids, &n), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "empty caption"));
    assert_int_equal(itr_bert_tokenize(&t, "", ITR_TOK_ALLOW_EMPTY, NULL, &ids, &n), ITR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    free(ids);
    assert_int_equal(itr_bert_tokenize(&t, "a\xff", 0, NULL, &ids, &n), ITR_E_FORMAT);
    assert_int_equal(itr_bert_basic_tokenize(NULL, NULL), ITR_E_ARG);
    itr_bert_free(&t);
    remove(path);
    /* a vocab.txt without [CLS] */
    assert_non_null(tt_file(path, sizeof path, "vocab", "[PAD]\n[UNK]\n[SEP]\n"));
    assert_int_equal(itr_bert_tokenizer_load(path, &t), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "no '[CLS]'"));
    remove(path);
    assert_int_equal(itr_bert_tokenizer_load(ITR_SOURCE_DIR "/nope/vocab.txt", &t), ITR_E_IO);
}

/* The ids upstream's PrecompRegionDataset produced (diag.npz), per caption. */
static void check_fixture(const char *dir, const char *caps_rel, size_t want_unk) {
    char path[512], npz[512];
    snprintf(path, sizeof path, FIXE "%s/bert-base-uncased/vocab.txt", dir);
    itr_bert_tokenizer t;
    assert_int_equal(itr_bert_tokenizer_load(path, &t), ITR_OK);
    assert_int_equal(t.vocab.n, 1118);
    snprintf(path, sizeof path, FIXE "%s/%s", dir, caps_rel);
    itr_captions c;
    assert_int_equal(itr_captions_load(path, ITR_CAPS_TEXT_MODE, &c), ITR_OK);
    itr_id_seqs s;
    assert_int_equal(itr_bert_encode_all(&t, &c, 0, &s), ITR_OK);
    snprintf(npz, sizeof npz, FIXE "%s/diag.npz", dir);
    size_t nids = 0, nlen = 0;
    int32_t *want_ids = tt_npz_i32(npz, "cap_ids.npy", &nids), *want_len = tt_npz_i32(npz, "cap_lengths.npy", &nlen);
    assert_non_null(want_ids);
    assert_non_null(want_len);
    assert_int_equal((size_t)s.n, nlen);
    size_t off = 0, same = 0, unk = 0;
    for (int64_t i = 0; i < s.n; i++) {
        int64_t len = s.offsets[i + 1] - s.offsets[i];
        int eq = len == want_len[i];
        for (int64_t k = 0; eq && k < len; k++) eq = s.ids[s.offsets[i] + k] == want_ids[off + (size_t)k];
        if (!eq) printf("  caption %lld differs: \"%s\"\n", (long long)i, c.lines[i]);
        same += (size_t)eq;
        off += (size_t)want_len[i];
    }
    for (int64_t k = 0; k < s.offsets[s.n]; k++) unk += s.ids[k] == t.unk_id;
    printf("  %s: %zu / %lld captions identical, %zu [UNK]\n", dir, same, (long long)s.n, unk);
    assert_int_equal(off, nids);
    assert_int_equal(same, (size_t)s.n);
    assert_int_equal(unk, want_unk);          /* expected.json n_unk_tokens */
    free(want_ids);
    free(want_len);
    itr_id_seqs_free(&s);
    itr_captions_free(&c);
    itr_bert_free(&t);
}

static void test_fixture_ids(void **state) {
    (void)state;
    check_fixture("vseinf_bert_f30k_small", "data/f30k/precomp/test_caps.txt", 105);
    check_fixture("3shnet_rgn_f30k_small", "data/f30k_precomp/test_caps.txt", 49);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_branches),
        cmocka_unit_test(test_fixture_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
