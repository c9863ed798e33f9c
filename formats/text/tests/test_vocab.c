/* test_vocab.c - vocabulary files (formats.md s3.1): SGRAF's real JSON,
 * the VSE++/VSRN Python-2 pickles, BERT vocab.txt, and their error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itr/text.h"
#include "text_test_util.h"

#define SGRAF_VOCAB FIXE "sgraf_sgr_f30k_small/vocab/f30k_precomp_vocab.json"

static void test_json_vocab(void **state) {
    (void)state;
    itr_vocab v;
    assert_int_equal(itr_vocab_load_json(SGRAF_VOCAB, &v), ITR_OK);
    /* scan_sgraf.md s9.2: 8481 words, a -> 3256, . -> 348, , -> 4313 */
    assert_int_equal(v.n, 8481);
    assert_int_equal(itr_vocab_id(&v, "a"), 3256);
    assert_int_equal(itr_vocab_id(&v, "."), 348);
    assert_int_equal(itr_vocab_id(&v, ","), 4313);
    assert_int_equal(itr_vocab_id(&v, "st."), 3346);
    assert_int_equal(itr_vocab_id(&v, "n't"), 5083);
    assert_int_equal(itr_vocab_id(&v, "``"), 614);
    assert_int_equal(itr_vocab_id(&v, "nosuchword"), -1);
    assert_int_equal(itr_vocab_id_n(&v, "a.b", 1), 3256);
    assert_int_equal(v.pad_id, 0);
    assert_int_equal(v.start_id, 1);
    assert_int_equal(v.end_id, 2);
    assert_int_equal(v.unk_id, 3);
    assert_string_equal(itr_vocab_word(&v, 4), "raining");
    assert_null(itr_vocab_word(&v, 8481));
    assert_null(itr_vocab_word(&v, -1));
    for (int64_t i = 0; i < v.n; i++) assert_int_equal(itr_vocab_id(&v, itr_vocab_word(&v, i)), i);
    /* VSE-infinity appends <mask> = idx */
    int64_t mask;
    assert_int_equal(itr_vocab_append(&v, "<mask>", &mask), ITR_OK);
    assert_int_equal(mask, 8481);
    assert_int_equal(itr_vocab_id(&v, "<mask>"), 8481);
    itr_vocab_free(&v);
    /* the dispatcher picks JSON by its first byte */
    assert_int_equal(itr_vocab_load(SGRAF_VOCAB, &v), ITR_OK);
    assert_int_equal(v.n, 8481);
    itr_vocab_free(&v);
}

static void test_pickle_vocab(void **state) {
    (void)state;
    itr_vocab v, j;
    /* the spec sample: GLOBAL vocab.Vocabulary, SHORT_BINSTRING words */
    assert_int_equal(itr_vocab_load_pickle(FIXF "vocab_py27_vsepp_style.pkl", &v), ITR_OK);
    assert_int_equal(v.n, 8);
    assert_int_equal(itr_vocab_id(&v, "<unk>"), 3);
    assert_int_equal(itr_vocab_id(&v, "dog"), 6);
    assert_int_equal(itr_vocab_id(&v, "."), 7);
    assert_int_equal(v.start_id, 1);
    itr_vocab_free(&v);
    /* VSE++ and VSRN's real-layout vocab.pkl (__main__.Vocabulary) hold the
     * same words and ids as SGRAF's JSON (expected.json vocab notes) */
    const char *pkls[] = {FIXE "vsepp_f30k_small/vocab/f30k_precomp_vocab.pkl",
                          FIXE "vsrn_f30k_small/vocab/f30k_precomp_vocab.pkl"};
    assert_int_equal(itr_vocab_load_json(SGRAF_VOCAB, &j), ITR_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(itr_vocab_load(pkls[k], &v), ITR_OK);
        assert_int_equal(v.n, 8481);
        int64_t same = 0;
        for (int64_t i = 0; i < v.n; i++) same += strcmp(itr_vocab_word(&v, i), itr_vocab_word(&j, i)) == 0;
        printf("  %s: %lld of %lld words agree with the JSON\n", pkls[k] + strlen(FIXE), (long long)same,
               (long long)v.n);
        assert_int_equal(same, v.n);
        itr_vocab_free(&v);
    }
    itr_vocab_free(&j);
    /* a pickle that is not a vocabulary */
    assert_int_equal(itr_vocab_load_pickle(FIXF "npy_object_dicts.npy", &v), ITR_E_FORMAT);
    assert_int_equal(itr_vocab_load_pickle(FIXF "ckpt_py27_torch03_style.pth.tar", &v), ITR_E_FORMAT);
    assert_int_equal(itr_vocab_load_pickle(FIXF "nope.pkl", &v), ITR_E_IO);
}

/* Hand-written protocol-2 pickles of a Vocabulary-like state. */
static void pickle_case(const char *bytes, size_t n, itr_status want, const char *msg) {
    char path[512];
    tt_tmp_path(path, sizeof path, "pkl");
    assert_true(tt_write(path, bytes, n));
    itr_vocab v;
    itr_status st = itr_vocab_load_pickle(path, &v);
    if (st != want || (msg && !strstr(itr_last_error(), msg)))
        fail_msg("pickle case: got %s \"%s\", want %s \"%s\"", itr_status_name(st), itr_last_error(),
                 itr_status_name(want), msg ? msg : "");
    if (!st) itr_vocab_free(&v);
    remove(path);
}

static void test_pickle_errors(void **state) {
    (void)state;
    /* {'word2idx': {'<start>': 0, '<end>': 1, '<unk>': 2}} as a bare dict: fine */
    static const char ok[] = "\x80\x02}q\x00U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02us.";
    pickle_case(ok, sizeof ok - 1, ITR_OK, NULL);
    static const char no_w2i[] = "\x80\x02}q\x00U\x03" "fooK\x01s.";
    pickle_case(no_w2i, sizeof no_w2i - 1, ITR_E_KEY, "no 'word2idx'");
    static const char not_dict[] = "\x80\x02}q\x00U\x08word2idx]s.";
    pickle_case(not_dict, sizeof not_dict - 1, ITR_E_FORMAT, "not a dict");
    static const char bad_entry[] = "\x80\x02}q\x00U\x08word2idx}U\x01" "aU\x01" "bss.";
    pickle_case(bad_entry, sizeof bad_entry - 1, ITR_E_FORMAT, "not str -> int");
    static const char empty[] = "\x80\x02}q\x00U\x08word2idx}s.";
    pickle_case(empty, sizeof empty - 1, ITR_E_FORMAT, "empty");
    static const char hole[] = "\x80\x02}U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x02us.";
    pickle_case(hole, sizeof hole - 1, ITR_E_FORMAT, "no word has id 1");
    static const char no_unk[] = "\x80\x02}U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01us.";
    pickle_case(no_unk, sizeof no_unk - 1, ITR_E_KEY, "no '<unk>'");
    static const char bad_idx[] = "\x80\x02}(U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02u"
                                  "U\x03idxK\x05u.";
    pickle_case(bad_idx, sizeof bad_idx - 1, ITR_E_FORMAT, "'idx'");
    static const char bad_i2w[] = "\x80\x02}(U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02u"
                                  "U\x08idx2word}(K\x00U\x07<start>K\x01U\x05<unk>K\x02U\x05<end>uu.";
    pickle_case(bad_i2w, sizeof bad_i2w - 1, ITR_E_FORMAT, "idx2word[1]");
    static const char short_i2w[] = "\x80\x02}(U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02u"
                                    "U\x08idx2word}(K\x00U\x07<start>uu.";
    pickle_case(short_i2w, sizeof short_i2w - 1, ITR_E_FORMAT, "idx2word has 1 entries");
    static const char i2w_list[] = "\x80\x02}(U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02u"
                                   "U\x08idx2word]u.";
    pickle_case(i2w_list, sizeof i2w_list - 1, ITR_E_FORMAT, "not a dict");
    static const char i2w_bad[] = "\x80\x02}(U\x08word2idx}(U\x07<start>K\x00U\x05<end>K\x01U\x05<unk>K\x02u"
                                  "U\x08idx2word}U\x01" "aK\x00su.";
    pickle_case(i2w_bad, sizeof i2w_bad - 1, ITR_E_FORMAT, "not int -> str");
    static const char evil[] = "\x80\x02\x63os\nsystem\n(U\x02lstR.";
    pickle_case(evil, sizeof evil - 1, ITR_E_UNSUPPORTED, NULL);
    static const char list_root[] = "\x80\x02].";
    pickle_case(list_root, sizeof list_root - 1, ITR_E_FORMAT, "not a Vocabulary");
}

/* JSON files with one defect each. */
static void json_case(const char *json, itr_status want, const char *msg) {
    char path[512];
    assert_non_null(tt_file(path, sizeof path, "json", json));
    itr_vocab v;
    itr_status st = itr_vocab_load(path, &v);
    if (st != want || (msg && !strstr(itr_last_error(), msg)))
        fail_msg("json %s: got %s \"%s\", want %s \"%s\"", json, itr_status_name(st), itr_last_error(),
                 itr_status_name(want), msg ? msg : "");
    if (!st) itr_vocab_free(&v);
    remove(path);
}

static void test_json_errors(void **state) {
    (void)state;
    const char *sp = "\"<pad>\": 0, \"<start>\": 1, \"<end>\": 2, \"<unk>\": 3";
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx\": 4, \"idx2word\": {\"0\": \"<pad>\", \"1\": \"<start>\", "
             "\"2\": \"<end>\", \"3\": \"<unk>\"}}", sp);
    json_case(buf, ITR_OK, NULL);
    json_case("  {\"word2idx\": {\"<start>\": 0, \"<end>\": 1, \"<unk>\": 2}}", ITR_OK, NULL);
    json_case("{\"word2idx\": {\"<start>\": 0, \"<end>\": 1, \"<unk>\": 2, \"<pad>\": 3}}", ITR_E_FORMAT, "'<pad>' has id 3");
    json_case("{\"word2idx\": {\"<start>\": 0, \"<end>\": 1}}", ITR_E_KEY, "no '<unk>'");
    json_case("{\"word2idx\": {\"<end>\": 0, \"<unk>\": 1}}", ITR_E_KEY, "no '<start>'");
    json_case("{\"word2idx\": {\"<start>\": 0, \"<unk>\": 1}}", ITR_E_KEY, "no '<end>'");
    json_case("{\"idx\": 4}", ITR_E_KEY, "no 'word2idx'");
    json_case("[1, 2]", ITR_E_FORMAT, "neither");
    json_case("{\"word2idx\": [1]}", ITR_E_FORMAT, "word2idx is not an object");
    json_case("{\"word2idx\": {}}", ITR_E_FORMAT, "empty");
    json_case("{\"word2idx\": {\"a\": \"0\"}}", ITR_E_FORMAT, "not an integer");
    json_case("{\"word2idx\": {\"a\": -1}}", ITR_E_LIMIT, "outside");
    json_case("{\"word2idx\": {\"a\": 99999999999}}", ITR_E_LIMIT, "outside");
    json_case("{\"word2idx\": {\"a\": 0, \"b\": 0}}", ITR_E_FORMAT, "id 0 given to both");
    json_case("{\"word2idx\": {\"a\": 0, \"b\": 2}}", ITR_E_FORMAT, "no word has id 1");
    json_case("{\"word2idx\": {\"a\": 0, \"a\": 1}}", ITR_E_FORMAT, "duplicate");
    json_case("{\"word2idx\": {\"a\": 0", ITR_E_FORMAT, "invalid JSON");
    json_case("{\"word2idx\": {\"\xff\": 0}}", ITR_E_FORMAT, "invalid JSON");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx\": 5}", sp);
    json_case(buf, ITR_E_FORMAT, "'idx'");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx\": \"4\"}", sp);
    json_case(buf, ITR_E_FORMAT, "not an integer");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx2word\": [1]}", sp);
    json_case(buf, ITR_E_FORMAT, "idx2word is not an object");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx2word\": {\"01\": \"<start>\"}}", sp);
    json_case(buf, ITR_E_FORMAT, "not a decimal id");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx2word\": {\"1\": 5}}", sp);
    json_case(buf, ITR_E_FORMAT, "not a string");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx2word\": {\"1\": \"<end>\"}}", sp);
    json_case(buf, ITR_E_FORMAT, "idx2word['1'] = '<end>'");
    snprintf(buf, sizeof buf, "{\"word2idx\": {%s}, \"idx2word\": {\"1\": \"<start>\"}}", sp);
    json_case(buf, ITR_E_FORMAT, "idx2word has 1 entries");
    json_case("", ITR_E_FORMAT, "neither");
    itr_vocab v;
    assert_int_equal(itr_vocab_load(ITR_SOURCE_DIR "/nope.json", &v), ITR_E_IO);
    assert_int_equal(itr_vocab_load(NULL, &v), ITR_E_IO);
    assert_int_equal(itr_vocab_load_json(ITR_SOURCE_DIR "/nope.json", &v), ITR_E_IO);
}

static void test_vocab_txt_and_table(void **state) {
    (void)state;
    char path[512];
    itr_vocab v;
    /* id = line number; only '\n' is removed; a repeated token keeps its later id */
    assert_non_null(tt_file(path, sizeof path, "txt", "[PAD]\nhello\r\n##lo\nhello\n\ncaf\xc3\xa9\n"));
    assert_int_equal(itr_vocab_load_txt(path, &v), ITR_OK);
    assert_int_equal(v.n, 6);
    assert_int_equal(itr_vocab_id(&v, "hello\r"), 1);
    assert_int_equal(itr_vocab_id(&v, "hello"), 3);
    assert_int_equal(itr_vocab_id(&v, ""), 4);
    assert_int_equal(itr_vocab_id(&v, "caf\xc3\xa9"), 5);
    assert_int_equal(itr_vocab_require_specials(&v), ITR_E_KEY);
    itr_vocab_free(&v);
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "txt", "ok\n\xc3(\n"));
    assert_int_equal(itr_vocab_load_txt(path, &v), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "invalid UTF-8 at byte 3"));
    remove(path);
    assert_non_null(tt_file(path, sizeof path, "txt", ""));
    assert_int_equal(itr_vocab_load_txt(path, &v), ITR_E_FORMAT);
    remove(path);
    assert_int_equal(itr_vocab_load_txt(ITR_SOURCE_DIR "/nope.txt", &v), ITR_E_IO);

    /* a big table exercises rehashing; sparse ids leave holes */
    itr_vocab_init(&v);
    char w[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(itr_vocab_set(&v, w, 2 * i), ITR_OK);
    }
    assert_int_equal(v.n, 9999);
    assert_int_equal(itr_vocab_id(&v, "w4321"), 8642);
    assert_null(itr_vocab_word(&v, 1));
    assert_int_equal(itr_vocab_set(&v, NULL, 1), ITR_E_ARG);
    assert_int_equal(itr_vocab_set(&v, "x", ITR_VOCAB_MAX_IDS), ITR_E_LIMIT);
    itr_vocab_free(&v);
    itr_vocab_init(&v);
    assert_int_equal(itr_vocab_id(&v, "anything"), -1);     /* empty table */
    itr_vocab_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_vocab),
        cmocka_unit_test(test_pickle_vocab),
        cmocka_unit_test(test_pickle_errors),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_vocab_txt_and_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
