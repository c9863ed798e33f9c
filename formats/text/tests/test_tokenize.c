/* test_tokenize.c - nltk word_tokenize reimplementation (formats.md s3.3),
 * caption files (s3.2) and caption -> ids, checked against
 *   - every row of fixtures/formats/nltk_tokenize_cases.tsv (nltk 3.8 output of
 *     both TreebankWordTokenizer and NLTKWordTokenizer),
 *   - extra edge cases whose expected tokens were computed by running nltk
 *     3.8's published rule lists through Python's re (one per rule branch),
 *   - the token ids upstream produced for the eval fixtures (diag.npz cap_ids,
 *     GSMN's precaps file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itr/text.h"
#include "text_test_util.h"

#define SGRAF_VOCAB FIXE "sgraf_sgr_f30k_small/vocab/f30k_precomp_vocab.json"

static char *joined(const char *text, int flags, itr_status *st) {
    itr_tokens t;
    itr_tokens_init(&t);
    *st = (flags & ITR_TOK_NO_SENT_SPLIT) ? itr_treebank_tokenize(text, flags, &t)
                                          : itr_word_tokenize(text, NULL, flags, &t);
    char *s = *st ? NULL : itr_tokens_join(&t);
    itr_tokens_free(&t);
    return s;
}

static int check_tok(const char *text, int flags, const char *want) {
    itr_status st;
    char *got = joined(text, flags, &st);
    int ok = st == ITR_OK && strcmp(got, want) == 0;
    if (!ok) printf("  MISMATCH (%s) \"%s\": got \"%s\", want \"%s\"\n", flags & ITR_TOK_NLTK38 ? "nltk38" : "classic",
                    text, got ? got : itr_last_error(), want);
    free(got);
    return ok;
}

/* Every row of the nltk 3.8 table, both columns. The classic column is the
 * default: the released vocabularies were built with it (COCO's vocab holds
 * "street..", which NLTKWordTokenizer would split; spec s3.3). */
static void test_nltk_tsv(void **state) {
    (void)state;
    char *data;
    FILE *fp = fopen(FIXF "nltk_tokenize_cases.tsv", "rb");
    assert_non_null(fp);
    data = calloc(1 << 16, 1);
    size_t n = fread(data, 1, (1 << 16) - 1, fp);
    fclose(fp);
    data[n] = '\0';
    int rows = 0, bad = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *t1 = strchr(line, '\t');
        assert_non_null(t1);
        char *t2 = strchr(t1 + 1, '\t');
        assert_non_null(t2);
        *t1 = *t2 = '\0';
        rows++;
        bad += !check_tok(line, ITR_TOK_CLASSIC | ITR_TOK_NO_SENT_SPLIT, t1 + 1);
        bad += !check_tok(line, ITR_TOK_NLTK38 | ITR_TOK_NO_SENT_SPLIT, t2 + 1);
    }
    printf("  nltk_tokenize_cases.tsv: %d rows x 2 tokenizers, %d mismatches\n", rows, bad);
    assert_int_equal(rows, 26);
    assert_int_equal(bad, 0);
    free(data);
}

static const struct { const char *in, *classic, *nltk38; } extra[] = {
    {"cannot gimme gonna gotta lemme more'n wanna go d'ye 'tis 'twas",
     "can not gim me gon na got ta lem me more 'n wan na go d 'ye 't is 't was",
     "can not gim me gon na got ta lem me more 'n wan na go d 'ye 't is 't was"},
    {"CANNOT Gonna WANNA. Lemme 'TIS",
     "CAN NOT Gon na WANNA. Lem me 'T IS",
     "CAN NOT Gon na WANNA. Lem me 'T IS"},
    {"she wanna\tgo and wanna",
     "she wan na go and wan na",
     "she wan na go and wan na"},
    {"he said \"stop.\"",
     "he said `` stop . ''",
     "he said `` stop . ''"},
    {"(the end.)",
     "( the end . )",
     "( the end . )"},
    {"the end.' ",
     "the end . '",
     "the end . '"},
    {"hello:",
     "hello :",
     "hello :"},
    {"x:\n",
     "x :",
     "x :"},
    {"a,b a, b 3,000 10:30 ,,a",
     "a , b a , b 3,000 10:30 , ,a",
     "a , b a , b 3,000 10:30 , ,a"},
    {"''quoted'' text ``a''",
     "'' quoted '' text `` a ''",
     "'' quoted '' text `` a ''"},
    {"'a cat' and 'the dog'",
     "'a cat ' and 'the dog '",
     "' a cat ' and 'the dog '"},
    {"rock 'n' roll 'm 'x9",
     "rock 'n ' roll 'm 'x9",
     "rock 'n ' roll 'm 'x9"},
    {"tom's dogs' toys",
     "tom 's dogs ' toys",
     "tom 's dogs ' toys"},
    {"I'M HE'D SHE'LL WE'RE THEY'VE DON'T",
     "I 'M HE 'D SHE 'LL WE 'RE THEY 'VE DO N'T",
     "I 'M HE 'D SHE 'LL WE 'RE THEY 'VE DO N'T"},
    {"a--b---c",
     "a -- b -- -c",
     "a -- b -- -c"},
    {"\xc2""\xab""hi\xc2""\xbb"" \xe2""\x80""\x9c""quoted\xe2""\x80""\x9d"" \xe2""\x80""\x98""single\xe2""\x80""\x99"" \xe2""\x80""\x9e""low\xe2""\x80""\x9c""",
     "\xc2""\xab""hi\xc2""\xbb"" \xe2""\x80""\x9c""quoted\xe2""\x80""\x9d"" \xe2""\x80""\x98""single\xe2""\x80""\x99"" \xe2""\x80""\x9e""low\xe2""\x80""\x9c""",
     "\xc2""\xab"" hi \xc2""\xbb"" \xe2""\x80""\x9c"" quoted \xe2""\x80""\x9d"" \xe2""\x80""\x98"" single \xe2""\x80""\x99"" \xe2""\x80""\x9e"" low \xe2""\x80""\x9c"""},
    {"``hi`` ```x",
     "`` hi `` `` `x",
     "`` hi `` `` ` x"},
    {"a...b....c",
     "a ... b ... .c",
     "a ... b .... c"},
    {"x.. y.",
     "x.. y .",
     "x .. y ."},
    {"end.  \t ",
     "end .",
     "end ."},
    {"a . .",
     "a . .",
     "a . ."},
    {"caf\xc3""\xa9"". na\xc3""\xaf""ve, ok",
     "caf\xc3""\xa9"". na\xc3""\xaf""ve , ok",
     "caf\xc3""\xa9"". na\xc3""\xaf""ve , ok"},
    {"price: $5;50% #tag @user &co",
     "price : $ 5 ; 50 % # tag @ user & co",
     "price : $ 5 ; 50 % # tag @ user & co"},
    {"a*b*c",
     "a*b*c",
     "a * b * c"},
    {"x,\xd9""\xa3"" y,z",
     "x,\xd9""\xa3"" y , z",
     "x,\xd9""\xa3"" y , z"},
    {"end.\xc2""\xa0""",
     "end .",
     "end ."},
    {"what?!",
     "what ? !",
     "what ? !"},
    {"it' s",
     "it ' s",
     "it ' s"},
    {"'''",
     "'' '",
     "'' '"},
    {"a ''b''",
     "a `` b ''",
     "a `` b ''"},
    {"(\"hi\")",
     "( `` hi '' )",
     "( `` hi '' )"},
    {"don't'",
     "do n't '",
     "do n't '"},
    {"' tis",
     "' tis",
     "' tis"},
    {"[x] {y} <z>",
     "[ x ] { y } < z >",
     "[ x ] { y } < z >"},
    {"\"start",
     "`` start",
     "`` start"},
    {"a.",
     "a .",
     "a ."},
    {".",
     ".",
     "."},
    {"",
     "",
     ""},
    {"   ",
     "",
     ""},
    {"x. \xc2""\xbb""",
     "x. \xc2""\xbb""",
     "x . \xc2""\xbb"""},
    {"x.\xe2""\x80""\x9d""",
     "x.\xe2""\x80""\x9d""",
     "x . \xe2""\x80""\x9d"""},
    {"gonna'",
     "gon na '",
     "gon na '"},
    {"cannot_",
     "cannot_",
     "cannot_"},
    {"\xc3""\xa9""cannot",
     "\xc3""\xa9""cannot",
     "\xc3""\xa9""cannot"},
};

static void test_rule_edges(void **state) {
    (void)state;
    int bad = 0, n = (int)(sizeof extra / sizeof extra[0]);
    for (int i = 0; i < n; i++) {
        bad += !check_tok(extra[i].in, ITR_TOK_CLASSIC | ITR_TOK_NO_SENT_SPLIT, extra[i].classic);
        bad += !check_tok(extra[i].in, ITR_TOK_NLTK38 | ITR_TOK_NO_SENT_SPLIT, extra[i].nltk38);
    }
    printf("  %d edge cases x 2 tokenizers, %d mismatches\n", n, bad);
    assert_int_equal(bad, 0);
    itr_tokens t;
    itr_tokens_init(&t);
    assert_int_equal(itr_treebank_tokenize(NULL, 0, &t), ITR_E_ARG);
    assert_int_equal(itr_treebank_tokenize("caf\xc3", 0, &t), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "invalid UTF-8 at byte 3"));
    assert_int_equal(itr_word_tokenize(NULL, NULL, 0, &t), ITR_E_ARG);
    assert_int_equal(itr_word_tokenize("\xff", NULL, 0, &t), ITR_E_FORMAT);
    assert_int_equal(t.n, 0);
}

/* The Punkt approximation (s3.3): where a multi-sentence caption splits. */
static void test_sentence_split(void **state) {
    (void)state;
    itr_vocab v;
    assert_int_equal(itr_vocab_load_json(SGRAF_VOCAB, &v), ITR_OK);
    static const struct { const char *in, *with_vocab, *without; } cases[] = {
        {"two men. one woman.", "two men . one woman .", "two men . one woman ."},
        {"at st. mary's church.", "at st. mary 's church .", "at st . mary 's church ."},
        {"mr. smith and dr. j.p. jones.", "mr. smith and dr. j.p. jones .", "mr . smith and dr . j.p . jones ."},
        {"a. b. c.", "a. b. c .", "a. b. c ."},
        {"version 3.5. next", "version 3.5. next", "version 3.5. next"},
        {"wait.. then... go.", "wait.. then ... go .", "wait.. then ... go ."},
        {"what? yes! \"no.\" (ok.) fine", "what ? yes ! `` no . '' ( ok . ) fine", "what ? yes ! `` no . '' ( ok . ) fine"},
        {"\"hi.\" then", "`` hi . '' then", "`` hi . '' then"},
        {"x . y", "x . y", "x . y"},
        {"  lone.  ", "lone .", "lone ."},
        {"", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int k = 0; k < 2; k++) {
            itr_tokens t;
            itr_tokens_init(&t);
            assert_int_equal(itr_word_tokenize(cases[i].in, k ? NULL : &v, ITR_TOK_CLASSIC, &t), ITR_OK);
            char *s = itr_tokens_join(&t);
            const char *want = k ? cases[i].without : cases[i].with_vocab;
            if (strcmp(s, want) != 0) fail_msg("split \"%s\" (%s vocab): \"%s\" != \"%s\"", cases[i].in, k ? "without" : "with", s, want);
            free(s);
            itr_tokens_free(&t);
        }
    }
    itr_vocab_free(&v);
}

static void test_caption_encode(void **state) {
    (void)state;
    itr_vocab v;
    assert_int_equal(itr_vocab_load_json(SGRAF_VOCAB, &v), ITR_OK);
    int64_t *ids, n;
    /* "A man's dog." -> <start> a man 's dog . <end> */
    assert_int_equal(itr_caption_encode(&v, "A Man's dog.", 0, &ids, &n), ITR_OK);
    int64_t want[] = {1, 3256, itr_vocab_id(&v, "man"), 515, itr_vocab_id(&v, "dog"), 348, 2};
    assert_int_equal(n, 7);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    /* unknown words map to <unk> = 3 */
    assert_int_equal(itr_caption_encode(&v, "zzqx frobnicate", 0, &ids, &n), ITR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 3);
    free(ids);
    /* empty captions are an error unless allowed ([<start>, <end>] upstream) */
    assert_int_equal(itr_caption_encode(&v, "   ", 0, &ids, &n), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "empty caption"));
    assert_null(ids);
    assert_int_equal(itr_caption_encode(&v, "", ITR_TOK_ALLOW_EMPTY, &ids, &n), ITR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    free(ids);
    assert_int_equal(itr_caption_encode(&v, NULL, 0, &ids, &n), ITR_E_ARG);
    assert_int_equal(itr_caption_encode(&v, "bad \xc3\x28", 0, &ids, &n), ITR_E_FORMAT);
    assert_int_equal(itr_caption_encode(&v, "bad \xc3\x28", ITR_TOK_UNICODE_LOWER, &ids, &n), ITR_E_FORMAT);
    itr_vocab_free(&v);

    /* lowercasing variants on a tiny vocabulary */
    itr_vocab_init(&v);
    const char *words[] = {"<pad>", "<start>", "<end>", "<unk>", "caf\xc3\xa9", "cat", "Cat"};
    for (int i = 0; i < 7; i++) assert_int_equal(itr_vocab_set(&v, words[i], i), ITR_OK);
    assert_int_equal(itr_caption_encode(&v, "CAF\xc3\x89 Cat", 0, &ids, &n), ITR_E_KEY);  /* specials not looked up yet */
    itr_vocab_find_specials(&v);
    assert_int_equal(itr_caption_encode(&v, "CAF\xc3\x89 Cat", 0, &ids, &n), ITR_OK);   /* ASCII: "cafÉ" */
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 5);
    free(ids);
    assert_int_equal(itr_caption_encode(&v, "CAF\xc3\x89 Cat", ITR_TOK_UNICODE_LOWER, &ids, &n), ITR_OK);
    assert_int_equal(ids[1], 4);
    free(ids);
    assert_int_equal(itr_caption_encode(&v, "CAF\xc3\x89 Cat", ITR_TOK_NO_LOWER, &ids, &n), ITR_OK);
    assert_int_equal(ids[2], 6);
    free(ids);
    char *low;
    assert_int_equal(itr_lower_unicode("\xc3\x89T\xc3\x89 \xce\xa3", &low), ITR_OK);
    assert_string_equal(low, "\xc3\xa9t\xc3\xa9 \xcf\x83");
    free(low);
    itr_vocab_free(&v);
    /* missing specials are named */
    itr_vocab_init(&v);
    assert_int_equal(itr_vocab_set(&v, "<start>", 0), ITR_OK);
    itr_vocab_find_specials(&v);
    assert_int_equal(itr_caption_encode(&v, "a", 0, &ids, &n), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "no '<end>'"));
    itr_vocab_free(&v);
}

static void test_utf8(void **state) {
    (void)state;
    size_t bad;
    assert_true(itr_utf8_check("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, &bad));
    const char *invalid[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xf8\x88\x80\x80\x80", "\xe0\x80\x80"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_false(itr_utf8_check(invalid[i], strlen(invalid[i]), &bad));
        assert_int_equal(bad, 0);
    }
    assert_false(itr_utf8_check("ok\xc3", 3, NULL));
}

/* ---- caption and id files --------------------------------------------------- */
static void test_caption_files(void **state) {
    (void)state;
    char path[512];
    itr_captions c;
    /* binary mode: \n ends lines, bytes.strip(); CRLF and blanks go, \r inside stays */
    assert_non_null(tt_file(path, sizeof path, "caps", " a dog\r\n\tTwo\vcats \x0c\nx\ry\nlast"));
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.lines[0], "a dog");
    assert_string_equal(c.lines[1], "Two\vcats");
    assert_string_equal(c.lines[2], "x\ry");
    assert_string_equal(c.lines[3], "last");
    itr_captions_free(&c);
    /* text mode: \r is a line break too, str.strip() removes U+00A0 and U+3000 */
    assert_int_equal(itr_captions_load(path, ITR_CAPS_TEXT_MODE, &c), ITR_OK);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.lines[2], "x");
    assert_string_equal(c.lines[3], "y");
    itr_captions_free(&c);
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "caps", "\xc2\xa0" "a\xc2\xa0" "b\xe3\x80\x80\r\n"));
    assert_int_equal(itr_captions_load(path, ITR_CAPS_TEXT_MODE, &c), ITR_OK);
    assert_string_equal(c.lines[0], "a\xc2\xa0" "b");
    itr_captions_free(&c);
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_OK);
    assert_string_equal(c.lines[0], "\xc2\xa0" "a\xc2\xa0" "b\xe3\x80\x80");
    itr_captions_free(&c);
    remove(path);
    /* empty lines, invalid UTF-8, empty files, missing files */
    assert_non_null(tt_file(path, sizeof path, "caps", "one\n  \t\nthree\n"));
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "line 2: empty caption"));
    assert_int_equal(itr_captions_load(path, ITR_CAPS_ALLOW_EMPTY, &c), ITR_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.lines[1], "");
    itr_captions_free(&c);
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "caps", "fine\nbad \xe9t\xe9\n"));
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "line 2: invalid UTF-8 at byte 9"));
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "caps", ""));
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "no captions"));
    remove(path);
    assert_int_equal(itr_captions_load(ITR_SOURCE_DIR "/nope_caps.txt", 0, &c), ITR_E_IO);
    assert_non_null(strstr(itr_last_error(), "nope_caps.txt: cannot open"));
    assert_int_equal(itr_captions_load(NULL, 0, &c), ITR_E_ARG);

    /* {split}_ids.txt and GSMN precaps */
    int64_t *ids, n;
    assert_non_null(tt_file(path, sizeof path, "ids", "10\n -3 \r\n+7\n"));
    assert_int_equal(itr_ids_load(path, &ids, &n), ITR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 10);
    assert_int_equal(ids[1], -3);
    assert_int_equal(ids[2], 7);
    free(ids);
    remove(path);
    const char *bad_ids[] = {"1\n\n2\n", "1\nx\n", "1,2\n", "99999999999999999999\n", "-\n", ""};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        assert_non_null(tt_file(path, sizeof path, "ids", bad_ids[i]));
        assert_int_equal(itr_ids_load(path, &ids, &n), ITR_E_FORMAT);
        assert_null(ids);
        remove(path);
    }
    itr_id_seqs s;
    assert_non_null(tt_file(path, sizeof path, "pre", "1,5, 7,2\n1,2\r\n"));
    assert_int_equal(itr_precaps_load(path, &s), ITR_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.offsets[1], 4);
    assert_int_equal(s.ids[2], 7);
    itr_tensor pad, len;
    assert_int_equal(itr_id_seqs_to_padded(&s, 0, &pad, &len), ITR_OK);
    assert_int_equal(pad.shape[0], 2);
    assert_int_equal(pad.shape[1], 4);
    int64_t want_pad[] = {1, 5, 7, 2, 1, 2, 0, 0};
    assert_memory_equal(pad.data, want_pad, sizeof want_pad);
    assert_int_equal(itr_i64(&len)[1], 2);
    itr_tensor_free(&pad);
    itr_tensor_free(&len);
    itr_id_seqs_free(&s);
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "pre", "1,,2\n"));
    assert_int_equal(itr_precaps_load(path, &s), ITR_E_FORMAT);
    remove(path);
    assert_int_equal(itr_precaps_load(ITR_SOURCE_DIR "/nope.txt", &s), ITR_E_IO);
}

/* scan_sgraf.md s9.1 table: im_div and the dev cut. */
static void test_precomp_pairing(void **state) {
    (void)state;
    itr_precomp_pairing p;
    assert_int_equal(itr_precomp_pairing_get(1000, 5000, "test", &p), ITR_OK);       /* f30k test */
    assert_int_equal(p.im_div, 5);
    assert_int_equal(p.n_images, 1000);
    assert_int_equal(itr_precomp_image_row(&p, 7), 7);
    assert_int_equal(itr_precomp_pairing_get(5070, 5070, "dev", &p), ITR_OK);        /* f30k dev */
    assert_int_equal(p.im_div, 1);
    assert_int_equal(p.n_captions, 5000);
    assert_int_equal(p.n_images, 1000);
    assert_int_equal(itr_precomp_image_row(&p, 7), 35);
    assert_int_equal(itr_precomp_pairing_get(5000, 25000, "dev", &p), ITR_OK);       /* coco dev */
    assert_int_equal(p.im_div, 5);
    assert_int_equal(p.n_captions, 5000);
    assert_int_equal(itr_precomp_pairing_get(5000, 25000, "testall", &p), ITR_OK);
    assert_int_equal(p.n_images, 5000);
    assert_int_equal(itr_precomp_pairing_get(100, 500, NULL, &p), ITR_OK);
    assert_int_equal(itr_precomp_pairing_get(100, 502, "test", &p), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "not 5 per image"));
    assert_int_equal(itr_precomp_pairing_get(90, 500, "test", &p), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "need 100 image rows"));
    assert_int_equal(itr_precomp_pairing_get(0, 500, "test", &p), ITR_E_SHAPE);
}

/* ---- end to end against upstream's ids ------------------------------------------- */

/* GSMN's precaps ids were made from the same caption lines with SCAN-style ids. */
static void test_gsmn_precaps_match(void **state) {
    (void)state;
    itr_vocab v;
    itr_captions c;
    itr_id_seqs mine, theirs;
    const char *dir = FIXE "gsmn_dense_f30k_small/data/f30k_precomp/";
    char path[512];
    assert_int_equal(itr_vocab_load(FIXE "gsmn_dense_f30k_small/vocab/f30k_precomp_vocab.json", &v), ITR_OK);
    snprintf(path, sizeof path, "%stest_caps.txt", dir);
    assert_int_equal(itr_captions_load(path, 0, &c), ITR_OK);
    assert_int_equal(itr_captions_encode(&v, &c, 0, &mine), ITR_OK);
    snprintf(path, sizeof path, "%stest_precaps_stan.txt", dir);
    assert_int_equal(itr_precaps_load(path, &theirs), ITR_OK);
    assert_int_equal(mine.n, theirs.n);
    int64_t same = 0, unk = 0;
    for (int64_t i = 0; i < mine.n; i++) {
        int64_t a = mine.offsets[i + 1] - mine.offsets[i], b = theirs.offsets[i + 1] - theirs.offsets[i];
        int eq = a == b && memcmp(mine.ids + mine.offsets[i], theirs.ids + theirs.offsets[i], (size_t)a * 8) == 0;
        same += eq;
        if (!eq) printf("  caption %lld differs: \"%s\"\n", (long long)i, c.lines[i]);
    }
    for (int64_t k = 0; k < mine.offsets[mine.n]; k++) unk += mine.ids[k] == 3;
    printf("  GSMN precaps: %lld / %lld captions identical, %lld <unk> tokens (expected.json: 96)\n",
           (long long)same, (long long)mine.n, (long long)unk);
    assert_int_equal(same, mine.n);
    assert_int_equal(unk, 96);
    itr_id_seqs_free(&mine);
    itr_id_seqs_free(&theirs);
    itr_captions_free(&c);
    itr_vocab_free(&v);
}

/* VSE-infinity BiGRU: text-mode lines, str.lower(), SCAN's vocab + <mask>. */
static void test_vseinf_bigru_ids(void **state) {
    (void)state;
    size_t nids = 0, nlen = 0;
    const char *npz = FIXE "vseinf_bigru_f30k_small/diag.npz";
    int32_t *want_ids = tt_npz_i32(npz, "cap_ids.npy", &nids);
    int32_t *want_len = tt_npz_i32(npz, "cap_lengths.npy", &nlen);
    assert_non_null(want_ids);
    assert_non_null(want_len);
    itr_vocab v;
    itr_captions c;
    assert_int_equal(itr_vocab_load(FIXE "vseinf_bigru_f30k_small/vocab/f30k_precomp_vocab.json", &v), ITR_OK);
    assert_int_equal(itr_vocab_append(&v, "<mask>", NULL), ITR_OK);
    assert_int_equal(itr_captions_load(FIXE "vseinf_bigru_f30k_small/data/f30k/precomp/test_caps.txt",
                                       ITR_CAPS_TEXT_MODE, &c), ITR_OK);
    assert_int_equal((size_t)c.n, nlen);
    const int modes[] = {ITR_TOK_UNICODE_LOWER, ITR_TOK_UNICODE_LOWER | ITR_TOK_NLTK38 | ITR_TOK_NO_SENT_SPLIT};
    for (int m = 0; m < 2; m++) {
        itr_id_seqs s;
        assert_int_equal(itr_captions_encode(&v, &c, modes[m], &s), ITR_OK);
        size_t off = 0, same = 0;
        for (int64_t i = 0; i < s.n; i++) {
            int64_t len = s.offsets[i + 1] - s.offsets[i];
            int eq = len == want_len[i];
            for (int64_t k = 0; eq && k < len; k++) eq = s.ids[s.offsets[i] + k] == want_ids[off + (size_t)k];
            same += (size_t)eq;
            off += (size_t)want_len[i];
        }
        printf("  VSE-inf BiGRU ids (%s): %zu / %lld captions identical\n", m ? "nltk38" : "classic + split",
               same, (long long)s.n);
        assert_int_equal(off, nids);
        assert_int_equal(same, (size_t)s.n);
        itr_id_seqs_free(&s);
    }
    itr_captions_free(&c);
    itr_vocab_free(&v);
    free(want_ids);
    free(want_len);
}

/* SCAN-family caption files of the eval fixtures: the <unk> count must equal
 * expected.json's n_unk_tokens (what upstream's loader produced). */
static void test_eval_caption_files(void **state) {
    (void)state;
    static const struct { const char *caps, *vocab; int64_t n, unk; } cases[] = {
        {"sgraf_sgr_f30k_small/data/f30k_precomp/test_caps.txt", "sgraf_sgr_f30k_small/vocab/f30k_precomp_vocab.json", 500, 92},
        {"scan_t2i_f30k_small/data/f30k_precomp/test_caps.txt", "scan_t2i_f30k_small/vocab/f30k_precomp_vocab.json", 500, 110},
        {"lhsc_f30k_small/data/f30k_precomp/test_caps.txt", "lhsc_f30k_small/vocab/f30k_precomp_vocab.json", 500, 100},
        {"vsepp_f30k_small/data/f30k_precomp/test_caps.txt", "vsepp_f30k_small/vocab/f30k_precomp_vocab.pkl", 1500, 289},
        {"vsrn_f30k_small/data/f30k_precomp/test_caps.txt", "vsrn_f30k_small/vocab/f30k_precomp_vocab.pkl", 1500, 295},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char a[512], b[512];
        snprintf(a, sizeof a, FIXE "%s", cases[k].caps);
        snprintf(b, sizeof b, FIXE "%s", cases[k].vocab);
        itr_vocab v;
        itr_captions c;
        itr_id_seqs s;
        assert_int_equal(itr_vocab_load(b, &v), ITR_OK);
        assert_int_equal(itr_captions_load(a, 0, &c), ITR_OK);
        assert_int_equal(c.n, cases[k].n);
        assert_int_equal(itr_captions_encode(&v, &c, 0, &s), ITR_OK);
        int64_t unk = 0;
        for (int64_t i = 0; i < s.offsets[s.n]; i++) unk += s.ids[i] == v.unk_id;
        printf("  %s: %lld captions, %lld <unk>\n", cases[k].caps, (long long)s.n, (long long)unk);
        assert_int_equal(unk, cases[k].unk);
        itr_id_seqs_free(&s);
        itr_captions_free(&c);
        itr_vocab_free(&v);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nltk_tsv),
        cmocka_unit_test(test_rule_edges),
        cmocka_unit_test(test_sentence_split),
        cmocka_unit_test(test_caption_encode),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_caption_files),
        cmocka_unit_test(test_precomp_pairing),
        cmocka_unit_test(test_gsmn_precaps_match),
        cmocka_unit_test(test_vseinf_bigru_ids),
        cmocka_unit_test(test_eval_caption_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
