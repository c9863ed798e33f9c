/* test_tfidf.c - VSL's data side: scikit-learn's default analyzer
 * (lower-case, (?u)\b\w\w+\b), TF-IDF with smooth idf and L2 rows, and the
 * image / caption TF-IDF similarity matrices. Expected values were computed
 * with Python's re and the formulas of specs/losses_vsl_lseh.md s1.2-s1.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/losses.h"
#include "loss_test_util.h"

typedef struct tok_list { char buf[512]; size_t used; int n; } tok_list;

static itr_status collect(const char *tok, size_t n, void *ctx) {
    tok_list *t = ctx;
    if (t->used + n + 2 > sizeof t->buf) return itr_fail(ITR_E_LIMIT, "test: token buffer full");
    if (t->n++) t->buf[t->used++] = '|';
    memcpy(t->buf + t->used, tok, n);
    t->used += n;
    t->buf[t->used] = '\0';
    return ITR_OK;
}

static const char *tokens(const char *doc, const itr_text_class *cls, itr_status *st) {
    static tok_list t;
    memset(&t, 0, sizeof t);
    *st = itr_sklearn_tokenize(doc, strlen(doc), cls, collect, &t);
    return t.buf;
}

static void test_tokenizer(void **state) {
    (void)state;
    itr_status st;
    assert_string_equal(tokens("a Man bike tree.", NULL, &st), "man|bike|tree");
    assert_int_equal(st, ITR_OK);
    assert_string_equal(tokens("  Two dogs_2 run; 3x faster!!\n", NULL, &st), "two|dogs_2|run|3x|faster");
    /* Latin-1 / Latin Extended-A lower-casing; a combining mark ends a run */
    assert_string_equal(tokens("\xc5\xb8" "es, \xc3\x89" "COLE \xc3\xbc" "ber x\xcc\x81yz", NULL, &st),
                        "\xc3\xbf" "es|\xc3\xa9" "cole|\xc3\xbc" "ber|yz");
    /* U+0130 lower-cases to "i" + U+0307 (not a word character) */
    assert_string_equal(tokens("\xc4\xb0x ab", NULL, &st), "ab");
    /* superscript two is \w, vulgar one half alone is a 1-character run */
    assert_string_equal(tokens("\xc2\xb2x and \xc2\xbd", NULL, &st), "\xc2\xb2x|and");
    assert_string_equal(tokens("", NULL, &st), "");
    assert_string_equal(tokens("a b c", NULL, &st), "");
    /* strict UTF-8: invalid byte, truncated sequence, overlong, surrogate */
    tokens("\xff abc", NULL, &st);
    assert_int_equal(st, ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "invalid UTF-8"));
    tokens("abc \xc3", NULL, &st);
    assert_int_equal(st, ITR_E_FORMAT);
    tokens("\xc0\xaf", NULL, &st);
    assert_int_equal(st, ITR_E_FORMAT);
    tokens("\xed\xa0\x80", NULL, &st);
    assert_int_equal(st, ITR_E_FORMAT);
    tokens("\xf4\x90\x80\x80", NULL, &st);         /* > U+10FFFF */
    assert_int_equal(st, ITR_E_FORMAT);
    /* 3- and 4-byte characters: CJK letters are \w, an emoji is not */
    assert_string_equal(tokens("\xe7\x8c\xab\xe7\x8b\x97 \xf0\x9f\x98\x80\xf0\x9f\x98\x80", NULL, &st),
                        "\xe7\x8c\xab\xe7\x8b\x97");
    assert_int_equal(itr_sklearn_tokenize(NULL, 0, NULL, collect, NULL), ITR_E_ARG);
}

/* A caller-supplied character table replaces the built-in one. */
static uint32_t upper_only(uint32_t cp, void *ctx) {
    (void)ctx;
    return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
}
static int not_space(uint32_t cp, void *ctx) {
    (*(int *)ctx)++;
    return cp != ' ';
}
static itr_status fail_emit(const char *tok, size_t n, void *ctx) {
    (void)tok;
    (void)n;
    (void)ctx;
    return itr_fail(ITR_E_INTERNAL, "test: emit refuses");
}

static void test_custom_class(void **state) {
    (void)state;
    int calls = 0;
    itr_text_class cls = {upper_only, not_space, &calls};
    itr_status st;
    assert_string_equal(tokens("ab,c d", &cls, &st), "AB,C");
    assert_true(calls == 6);
    assert_int_equal(itr_sklearn_tokenize("xy", 2, NULL, fail_emit, NULL), ITR_E_INTERNAL);
}

static const char *const CORPUS[10] = {
    "A man rides a bike.", "The man and the bike", "a red bike, a red car", "  Man  ", "a . ,",
    "Two dogs run", "dogs run on grass", "a dog and a man", "grass grass grass", "the red dog"};
static const char *const VOCAB[13] = {"and", "bike", "car", "dog", "dogs", "grass", "man",
                                      "on", "red", "rides", "run", "the", "two"};
static const double TFIDF[10][13] = {
    {0, 0.5271685592911145, 0, 0, 0, 0, 0.46869062573158909, 0, 0, 0.70881761225738604, 0, 0, 0},
    {0.39620068528728064, 0.34662878176911699, 0, 0, 0, 0, 0.30817782616324596, 0, 0, 0, 0, 0.79240137057456128, 0},
    {0, 0.35280924391406787, 0.47437845343011981, 0, 0, 0, 0, 0, 0.80653004924183169, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0.5436239518925301, 0, 0, 0, 0, 0, 0.5436239518925301, 0, 0.63948885671096412},
    {0, 0, 0, 0, 0.47761213087812782, 0.47761213087812782, 0, 0.56183623709597297, 0, 0, 0.47761213087812782, 0, 0},
    {0.61957540186839, 0, 0, 0.61957540186839, 0, 0, 0.48192597232276857, 0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0.57735026918962584, 0, 0, 0, 0, 0.57735026918962584, 0, 0, 0.57735026918962584, 0}};

static void test_tfidf_values(void **state) {
    (void)state;
    itr_tfidf t;
    assert_int_equal(itr_tfidf_fit_transform(CORPUS, 10, NULL, &t), ITR_OK);
    assert_int_equal(t.n_docs, 10);
    assert_int_equal(t.n_terms, 13);
    for (int c = 0; c < 13; c++) assert_string_equal(t.vocab[c], VOCAB[c]);
    double row[13];
    int ok = 1;
    for (int r = 0; r < 10; r++) {
        assert_int_equal(itr_tfidf_dense_row(&t, r, row), ITR_OK);
        char label[32];
        snprintf(label, sizeof label, "tfidf row %d", r);
        ok &= compare_d(label, row, TFIDF[r], 13, 1e-15, 1e-14);
    }
    assert_true(ok);
    /* the line without tokens stays a zero row, stored with no entries */
    assert_true(t.row_ptr[4] == t.row_ptr[5]);
    assert_int_equal(itr_tfidf_dense_row(&t, 10, row), ITR_E_ARG);
    assert_int_equal(itr_tfidf_dense_row(&t, -1, row), ITR_E_ARG);
    assert_int_equal(itr_tfidf_dense_row(NULL, 0, row), ITR_E_ARG);

    /* image-image: img_ids (1, 0, 1); caption-caption: ids (3, 7, 0) */
    int64_t img[3] = {1, 0, 1}, ids[3] = {3, 7, 0};
    float C[9], T[9];
    static const double want_C[9] = {0.3083685555239739, 0.08099754963292857, 0.3083685555239739,
                                     0.08099754963292857, 0.2729859267842824, 0.08099754963292857,
                                     0.3083685555239739, 0.08099754963292857, 0.3083685555239739};
    static const double want_T[9] = {1.0, 0.48192597232276857, 0.4686906257315891,
                                     0.48192597232276857, 1.0, 0.2258741855242629,
                                     0.4686906257315891, 0.2258741855242629, 1.0};
    assert_int_equal(itr_vsl_image_cider(&t, img, 3, ITR_VSL_CAPTIONS_PER_IMAGE, C), ITR_OK);
    assert_true(compare_f("image_cider", C, want_C, 9, 1e-7, 1e-6));
    assert_true(C[1] == C[3] && C[0] == C[8]);     /* symmetric; duplicate images equal */
    assert_int_equal(itr_vsl_caption_cider(&t, ids, 3, T), ITR_OK);
    assert_true(compare_f("caption_cider", T, want_T, 9, 1e-7, 1e-6));
    /* errors: an image id past the split, a caption id out of range */
    int64_t bad_img[1] = {2}, bad_id[1] = {10};
    assert_int_equal(itr_vsl_image_cider(&t, bad_img, 1, 5, C), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "Q-VSL-5"));
    assert_int_equal(itr_vsl_image_cider(&t, img, 3, 0, C), ITR_E_ARG);
    assert_int_equal(itr_vsl_image_cider(&t, img, 0, 5, C), ITR_E_SHAPE);
    assert_int_equal(itr_vsl_image_cider(&t, img, 3, 5, NULL), ITR_E_ARG);
    assert_int_equal(itr_vsl_caption_cider(&t, bad_id, 1, T), ITR_E_ARG);
    assert_int_equal(itr_vsl_caption_cider(NULL, ids, 3, T), ITR_E_ARG);
    assert_int_equal(itr_vsl_caption_cider(&t, ids, 3, NULL), ITR_E_ARG);
    itr_tfidf_free(&t);
    itr_tfidf_free(&t);   /* idempotent */
    itr_tfidf_free(NULL);
}

/* Many distinct terms force the vocabulary hash to grow. */
static void test_large_vocabulary(void **state) {
    (void)state;
    enum { N = 600 };
    static char text[N][16];
    const char *docs[N];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "w%d w%d", i, (i * 7) % N);
        docs[i] = text[i];
    }
    itr_tfidf t;
    assert_int_equal(itr_tfidf_fit_transform(docs, N, NULL, &t), ITR_OK);
    assert_int_equal(t.n_terms, N);
    for (int c = 1; c < N; c++) assert_true(strcmp(t.vocab[c - 1], t.vocab[c]) < 0);
    double row[N];
    assert_int_equal(itr_tfidf_dense_row(&t, 0, row), ITR_OK);    /* "w0 w0": one term */
    int nz = 0;
    for (int c = 0; c < N; c++) nz += row[c] != 0.0;
    assert_int_equal(nz, 1);
    itr_tfidf_free(&t);
}

static void test_errors(void **state) {
    (void)state;
    itr_tfidf t;
    const char *empty[2] = {"a .", "b"};
    assert_int_equal(itr_tfidf_fit_transform(empty, 2, NULL, &t), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "empty vocabulary"));
    assert_int_equal(itr_tfidf_fit_transform(empty, 0, NULL, &t), ITR_E_SHAPE);
    assert_int_equal(itr_tfidf_fit_transform(NULL, 2, NULL, &t), ITR_E_ARG);
    const char *with_null[2] = {"ok words", NULL};
    assert_int_equal(itr_tfidf_fit_transform(with_null, 2, NULL, &t), ITR_E_ARG);
    const char *bad[2] = {"fine", "caf\xe9"};
    assert_int_equal(itr_tfidf_fit_transform(bad, 2, NULL, &t), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "caption line 1"));
    assert_null(t.vocab);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer),
        cmocka_unit_test(test_custom_class),
        cmocka_unit_test(test_tfidf_values),
        cmocka_unit_test(test_large_vocabulary),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
