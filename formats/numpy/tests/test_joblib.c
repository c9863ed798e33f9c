/* test_joblib.c - joblib files (specs formats.md s2.3, s5 rule 8): the three
 * samples against expected_contents.json, hand-built NumpyArrayWrapper
 * streams (padding, Fortran order, object arrays) and every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/joblib.h"
#include "../../torch/tests/ckpt_build.h"
#include "../../torch/tests/pyexpect.h"

#define FX ITR_SOURCE_DIR "/fixtures/formats/"
#define LIT(s) s, sizeof(s) - 1

static void test_samples(void **state) {
    (void)state;
    json_t *all = pyx_load_expected();
    assert_non_null(all);
    const char *files[] = {"joblib_default_proto.joblib", "joblib_proto3.joblib", "joblib_zlib3.joblib"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, FX "%s", files[i]);
        itr_pyobj *o = NULL;
        itr_status st = itr_joblib_load(path, NULL, &o);
        if (st) fprintf(stderr, "%s\n", itr_last_error());
        assert_int_equal(st, ITR_OK);
        size_t n = 0;
        printf("%s:\n", files[i]);
        int bad = pyx_check_file(o, all, files[i], &n);
        printf("  %zu entries checked, %d mismatches\n", n, bad);
        assert_int_equal(bad, 0);
        assert_int_equal(n, 5);
        /* the array is a real float32 tensor */
        itr_tensor t;
        assert_int_equal(itr_py_to_tensor(itr_py_dict_get(o, "weight"), -1, -1, &t), ITR_OK);
        assert_int_equal(t.dtype, ITR_F32);
        assert_true(itr_f32(&t)[14] == 3.5f);
        itr_tensor_free(&t);
        itr_pyobj_free(o);
    }
    json_decref(all);
}

static void test_truncations(void **state) {
    (void)state;
    const char *files[] = {"joblib_default_proto.joblib", "joblib_proto3.joblib", "joblib_zlib3.joblib"};
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        uint8_t *b = NULL;
        size_t n = 0;
        snprintf(path, sizeof path, FX "%s", files[i]);
        assert_int_equal(itr_read_file(path, 1 << 20, &b, &n), ITR_OK);
        for (size_t len = 0; len < n; len++) {
            itr_pyobj *o = NULL;
            itr_status st = itr_joblib_loads(b, len, NULL, &o);
            if (st == ITR_OK) fprintf(stderr, "%s truncated to %zu loaded\n", files[i], len);
            assert_int_not_equal(st, ITR_OK);
            assert_null(o);
            total++;
        }
        free(b);
    }
    printf("  %zu truncated joblib inputs, all rejected\n", total);
}

/* A NumpyArrayWrapper for a (2, 2) array; order and dtype vary. */
#define W_BEGIN                                                                                           \
    "\x80\x02" "cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(X\x08\x00\x00\x00subclasscnumpy\nndarray\n" \
    "X\x05\x00\x00\x00shapeK\x02K\x02\x86X\x05\x00\x00\x00orderX\x01\x00\x00\x00"
#define W_DTYPE(code)                                                                             \
    "X\x05\x00\x00\x00" "dtypecnumpy\ndtype\nX\x02\x00\x00\x00" code "\x89\x88\x87R(K\x03X\x01\x00\x00\x00" \
    "<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
#define W_ALIGN(n) "X\x1b\x00\x00\x00numpy_array_alignment_bytesK" n

static const float DATA[4] = {1, 2, 3, 4};

static itr_status load_bb(bb *b, const itr_pickle_opts *o, itr_pyobj **out) {
    itr_status st = itr_joblib_loads(b->p, b->n, o, out);
    bb_free(b);
    return st;
}

static void expect_bb(bb *b, const itr_pickle_opts *o, itr_status want, const char *needle) {
    itr_pyobj *r = NULL;
    itr_status st = load_bb(b, o, &r);
    if (st != want || !strstr(itr_last_error(), needle))
        fprintf(stderr, "want %s '%s', got %s: %s\n", itr_status_name(want), needle, itr_status_name(st),
                itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), needle));
}

static void test_wrappers(void **state) {
    (void)state;
    itr_pyobj *o = NULL;
    itr_tensor t;
    /* C order, alignment 16: pad byte 3 and three 0xFF before the data */
    bb b = {0};
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") W_ALIGN("\x10") "ub"));
    bb_put(&b, "\x03\xff\xff\xff", 4);
    bb_put(&b, DATA, 16);
    bb_put(&b, ".", 1);
    assert_int_equal(load_bb(&b, NULL, &o), ITR_OK);
    assert_int_equal(o->kind, ITR_PY_NDARRAY);
    assert_int_equal(itr_py_to_tensor(o, -1, -1, &t), ITR_OK);
    assert_true(itr_f32(&t)[1] == 2.0f);
    itr_tensor_free(&t);
    itr_pyobj_free(o);
    /* Fortran order, no alignment key (joblib < 1.2, all LGSGM files): transposed */
    bb_put(&b, LIT(W_BEGIN "F" W_DTYPE("f4") "ub"));
    bb_put(&b, DATA, 16);
    bb_put(&b, ".", 1);
    assert_int_equal(load_bb(&b, NULL, &o), ITR_OK);
    assert_int_equal(itr_py_to_tensor(o, -1, -1, &t), ITR_OK);
    assert_true(itr_f32(&t)[1] == 3.0f && itr_f32(&t)[2] == 2.0f);
    itr_tensor_free(&t);
    itr_pyobj_free(o);
    /* object array: a nested pickle of the array follows the wrapper */
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("O8") "ub"));
    bb_put(&b, LIT("\x80\x02" "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" "C\x01" "b\x87R"
                   "(K\x01K\x02K\x02\x86" "cnumpy\ndtype\nX\x02\x00\x00\x00O8\x89\x88\x87R"
                   "(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89"
                   "(K\x01K\x02K\x03K\x04ltb."));
    bb_put(&b, ".", 1);
    assert_int_equal(load_bb(&b, NULL, &o), ITR_OK);
    assert_int_equal(itr_py_len(o->u.ndarray.objects), 4);
    itr_pyobj_free(o);

    /* rejections */
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") W_ALIGN("\x10") "ub"));
    bb_put(&b, "\x14", 1);
    expect_bb(&b, NULL, ITR_E_FORMAT, "exceeds the alignment");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") W_ALIGN("\x10") "ub"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "padding length");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") W_ALIGN("\x10") "ub\x05\xff"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "joblib padding");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") W_ALIGN("\x00") "ub"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "alignment_bytes out of range");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") "ub"));
    bb_put(&b, DATA, 10);
    expect_bb(&b, NULL, ITR_E_FORMAT, "joblib array data");
    bb_put(&b, LIT(W_BEGIN "C" "ub"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "without dtype");
    bb_put(&b, LIT(W_BEGIN "X" W_DTYPE("f4") "ub"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "order is not");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") "X\x08\x00\x00\x00subclassK\x01ub"));
    expect_bb(&b, NULL, ITR_E_UNSUPPORTED, "subclass");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") "X\x05\x00\x00\x00shapeK\x01ub"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "joblib array shape");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("f4") "X\x05\x00\x00\x00shape\x8a\x05\x00\x00\x00\x00\x01"
                   "\x8a\x05\x00\x00\x00\x00\x01\x86ub"));
    expect_bb(&b, NULL, ITR_E_LIMIT, "elements");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("O8") "ubK\x01.."));
    expect_bb(&b, NULL, ITR_E_FORMAT, "not the announced array");
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("O8") "ubK\x01"));
    expect_bb(&b, NULL, ITR_E_FORMAT, "joblib object array");
    itr_pickle_opts opts;
    itr_pickle_opts_default(&opts);
    opts.limits.max_nesting = 0;
    bb_put(&b, LIT(W_BEGIN "C" W_DTYPE("O8") "ubK\x01.."));
    expect_bb(&b, &opts, ITR_E_LIMIT, "nested deeper");
}

static void test_compression(void **state) {
    (void)state;
    itr_pyobj *o = NULL;
    const struct { const char *b; size_t n; const char *needle; } bad[] = {
        {LIT("\x1f\x8b\x08\x00"), "gzip"}, {LIT("BZh9"), "bz2"}, {LIT("\xfd" "7zXZ\x00"), "xz"},
        {LIT("\x5d\x00\x00\x80"), "lzma"}, {LIT("\x04\x22\x4d\x18"), "lz4"}, {LIT("ZF\x00\x00"), "'ZF'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(itr_joblib_loads((const uint8_t *)bad[i].b, bad[i].n, NULL, &o), ITR_E_UNSUPPORTED);
        assert_non_null(strstr(itr_last_error(), bad[i].needle));
    }
    assert_int_equal(itr_joblib_loads((const uint8_t *)"hello", 5, NULL, &o), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "not a joblib file"));
    assert_int_equal(itr_joblib_loads((const uint8_t *)"", 0, NULL, &o), ITR_E_FORMAT);
    assert_int_equal(itr_joblib_loads(NULL, 3, NULL, &o), ITR_E_ARG);
    assert_int_equal(itr_joblib_load(NULL, NULL, &o), ITR_E_ARG);
    assert_int_equal(itr_joblib_load(FX "no_such.joblib", NULL, &o), ITR_E_IO);
    /* zlib: corrupt stream, a stream that is not a pickle, and the inflate cap */
    assert_int_equal(itr_joblib_loads((const uint8_t *)"\x78\x9c\xff\xff\xff\xff", 6, NULL, &o), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "zlib"));
    uint8_t z[64];
    uLongf zn = sizeof z;
    assert_int_equal(compress2(z, &zn, (const Bytef *)"hello", 5, 6), Z_OK);
    assert_int_equal(itr_joblib_loads(z, zn, NULL, &o), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "not a pickle"));
    static uint8_t zeros[1 << 16];
    static uint8_t big[1 << 12];
    zn = sizeof big;
    assert_int_equal(compress2(big, &zn, zeros, sizeof zeros, 9), Z_OK);
    itr_pickle_opts opts;
    itr_pickle_opts_default(&opts);
    opts.limits.max_bytes = 1000;
    assert_int_equal(itr_joblib_loads(big, zn, &opts, &o), ITR_E_LIMIT);
    assert_non_null(strstr(itr_last_error(), "past the limit"));
    opts.limits.max_bytes = (size_t)1 << 20;       /* inflates (zeros), then: not a pickle */
    assert_int_equal(itr_joblib_loads(big, zn, &opts, &o), ITR_E_FORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_wrappers),
        cmocka_unit_test(test_compression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
