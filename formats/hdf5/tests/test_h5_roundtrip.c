/* test_h5_roundtrip.c - what the writers store, read back by the readers and
 * checked with the raw HDF5 API (types, dataspaces, libver bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hdf5.h>

#include "h5_internal.h"   /* struct itr_h5, to ask the open file for its fapl */
#include "h5_test_util.h"

/* A tensor of dtype d, shape (2, 3), element i = i - 2 (so signed types see negatives). */
static void make_tensor(itr_tensor *t, itr_dtype d) {
    itr_tensor f;
    assert_int_equal(itr_tensor_alloc(&f, ITR_F64, 2, (const int64_t[]){2, 3}), ITR_OK);
    for (int i = 0; i < 6; i++) itr_f64(&f)[i] = d == ITR_U8 || d == ITR_BOOL ? i % 2 * (i + 1) : i - 2.0;
    if (d == ITR_F64) {
        *t = f;
        return;
    }
    if (d == ITR_F16 || d == ITR_BF16) {
        /* itr_tensor_convert cannot produce half types: write their bits by hand.
         * -2, -1, 0, 1, 2, 3 in IEEE half and in bfloat16. */
        static const uint16_t half[6] = {0xC000, 0xBC00, 0x0000, 0x3C00, 0x4000, 0x4200};
        static const uint16_t bf16[6] = {0xC000, 0xBF80, 0x0000, 0x3F80, 0x4000, 0x4040};
        assert_int_equal(itr_tensor_alloc(t, d, 2, (const int64_t[]){2, 3}), ITR_OK);
        memcpy(t->data, d == ITR_F16 ? half : bf16, sizeof half);
        itr_tensor_free(&f);
        return;
    }
    assert_int_equal(itr_tensor_convert(&f, d, t), ITR_OK);
    itr_tensor_free(&f);
}

/* Stored HDF5 type of a dataset, via the raw API. */
static int stored_is(const char *path, const char *dset, hid_t want) {
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t did = H5Dopen2(fid, dset, H5P_DEFAULT);
    hid_t t = H5Dget_type(did);
    int eq = H5Tequal(t, want) > 0;
    H5Tclose(t);
    H5Dclose(did);
    H5Fclose(fid);
    return eq;
}

static void test_tensors_every_dtype(void **state) {
    (void)state;
    char path[256];
    tmp_h5(path, sizeof path, "dtypes");
    const itr_dtype all[] = {ITR_F32, ITR_F64, ITR_F16, ITR_BF16, ITR_I8, ITR_I16,
                             ITR_I32, ITR_I64, ITR_U8, ITR_BOOL};
    const hid_t file_types[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_IEEE_F32LE, H5T_IEEE_F32LE,
                                H5T_STD_I8LE, H5T_STD_I16LE, H5T_STD_I32LE, H5T_STD_I64LE,
                                H5T_STD_U8LE, H5T_STD_I8LE};
    const itr_dtype stored_as[] = {ITR_F32, ITR_F64, ITR_F32, ITR_F32, ITR_I8, ITR_I16,
                                   ITR_I32, ITR_I64, ITR_U8, ITR_I8};
    const size_t n_types = sizeof all / sizeof all[0];
    itr_h5 *f = NULL;
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    for (size_t k = 0; k < n_types; k++) {
        char dset[64];
        itr_tensor t;
        make_tensor(&t, all[k]);
        snprintf(dset, sizeof dset, "/deep/er/%s", itr_dtype_name(all[k]));   /* intermediate groups */
        assert_int_equal(itr_h5_write(f, dset, &t), ITR_OK);
        itr_tensor_free(&t);
    }
    itr_tensor s;
    assert_int_equal(itr_tensor_alloc(&s, ITR_F64, 0, NULL), ITR_OK);
    itr_f64(&s)[0] = -0.125;
    assert_int_equal(itr_h5_write(f, "/scalar", &s), ITR_OK);
    itr_tensor_free(&s);
    itr_tensor e;
    assert_int_equal(itr_tensor_alloc(&e, ITR_I64, 2, (const int64_t[]){0, 5}), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/empty", &e), ITR_OK);
    itr_tensor_free(&e);
    hid_t fapl = H5Fget_access_plist(f->fid);
    H5F_libver_t lo, hi;
    assert_true(H5Pget_libver_bounds(fapl, &lo, &hi) >= 0);
    assert_int_equal(lo, H5F_LIBVER_EARLIEST);
    assert_int_equal(hi, H5F_LIBVER_V18);
    H5Pclose(fapl);
    itr_h5_close(f);

    assert_int_equal(itr_h5_open(path, &f), ITR_OK);
    for (size_t k = 0; k < n_types; k++) {
        char dset[64];
        snprintf(dset, sizeof dset, "/deep/er/%s", itr_dtype_name(all[k]));
        assert_true(stored_is(path, dset, file_types[k]));
        itr_dtype dt;
        int nd;
        int64_t shape[ITR_MAX_DIMS];
        assert_int_equal(itr_h5_info(f, dset, &dt, &nd, shape), ITR_OK);
        assert_int_equal(dt, stored_as[k]);
        assert_int_equal(nd, 2);
        assert_int_equal(shape[1], 3);
        /* Back in the dtype it was written from (floats widened from half stay float32). */
        itr_dtype back = all[k] == ITR_F16 || all[k] == ITR_BF16 ? ITR_F32 : all[k];
        itr_tensor got, want;
        make_tensor(&want, all[k]);
        assert_int_equal(itr_h5_read(f, dset, back, NULL, &got), ITR_OK);
        assert_int_equal(got.dtype, back);
        for (int i = 0; i < 6; i++) assert_true(itr_tensor_get(&got, i) == itr_tensor_get(&want, i));
        itr_tensor_free(&got);
        /* And as float64: every stored type converts to float. */
        assert_int_equal(itr_h5_read(f, dset, ITR_F64, NULL, &got), ITR_OK);
        for (int i = 0; i < 6; i++) assert_true(itr_f64(&got)[i] == itr_tensor_get(&want, i));
        itr_tensor_free(&got);
        itr_tensor_free(&want);
    }
    itr_tensor got;
    assert_int_equal(itr_h5_read(f, "/deep/er/int64", ITR_BOOL, NULL, &got), ITR_OK);
    const uint8_t nonzero[6] = {1, 1, 0, 1, 1, 1};        /* -2 -1 0 1 2 3 */
    assert_memory_equal(got.data, nonzero, 6);
    itr_tensor_free(&got);
    assert_int_equal(itr_h5_read_rows(f, "/deep/er/int32", ITR_I64, 1, 1, &got), ITR_OK);
    assert_int_equal(got.shape[0], 1);
    assert_int_equal(itr_i64(&got)[0], 1);
    assert_int_equal(itr_i64(&got)[2], 3);
    itr_tensor_free(&got);
    itr_h5_read_opts scalar = {0, NULL, 0};
    assert_int_equal(itr_h5_read(f, "/scalar", ITR_F32, &scalar, &got), ITR_OK);
    assert_int_equal(got.ndim, 0);
    assert_true(itr_f32(&got)[0] == -0.125f);
    itr_tensor_free(&got);
    itr_h5_read_opts empty_ok = {2, (const int64_t[]){0, 5}, 1};
    assert_int_equal(itr_h5_read(f, "/empty", ITR_I64, &empty_ok, &got), ITR_OK);
    assert_int_equal(itr_tensor_numel(&got), 0);
    itr_tensor_free(&got);
    itr_h5_close(f);

    /* formats.md s4.1: written with libver bounds earliest..v18, so the file
     * has superblock version 0 (byte 8 after the signature), like h5py's
     * libver='earliest' samples. The bounds are an access property and are
     * not recorded in the file, so the on-disk version is what can be checked. */
    unsigned char head[9] = {0};
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(head, 1, sizeof head, fp), sizeof head);
    fclose(fp);
    assert_memory_equal(head, "\x89HDF\r\n\x1a\n", 8);
    assert_int_equal(head[8], 0);
    remove(path);
}

static void test_strings_and_attrs(void **state) {
    (void)state;
    char path[256];
    tmp_h5(path, sizeof path, "strings");
    const char *words[] = {"a man in an orange hat .", "", "caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac"};
    itr_h5 *f = NULL;
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    assert_int_equal(itr_h5_write_strings(f, "/captions/text", words, 3), ITR_OK);
    assert_int_equal(itr_h5_write_strings(f, "/captions/none", NULL, 0), ITR_OK);
    assert_int_equal(itr_h5_make_group(f, "/config/sub"), ITR_OK);
    assert_int_equal(itr_h5_make_group(f, "/config/sub"), ITR_OK);   /* idempotent */
    assert_int_equal(itr_h5_set_attr_str(f, "/", "itr_kind", "fixture"), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "note", words[2]), ITR_OK);
    assert_int_equal(itr_h5_set_attr_i64(f, "/", "itr_version", 1), ITR_OK);
    assert_int_equal(itr_h5_set_attr_i64(f, "/config", "seed", -9007199254740993LL), ITR_OK);
    assert_int_equal(itr_h5_set_attr_f64(f, "/", "rtol", 1e-4), ITR_OK);
    assert_int_equal(itr_h5_set_attr_f64(f, "/", "rtol", 2e-4), ITR_OK);    /* replaces */
    assert_int_equal(itr_h5_set_attr_str(f, "/captions/text", "tokenizer", "nltk-treebank-classic"), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/config/sub", "empty", ""), ITR_OK);
    itr_h5_close(f);

    assert_int_equal(itr_h5_open(path, &f), ITR_OK);
    char **s = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_read_strings(f, "/captions/text", &s, &n), ITR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) assert_string_equal(s[i], words[i]);
    itr_h5_free_names(s, n);
    assert_int_equal(itr_h5_read_strings(f, "/captions/none", &s, &n), ITR_OK);
    assert_int_equal(n, 0);
    itr_h5_free_names(s, n);
    char *v = NULL;
    assert_int_equal(itr_h5_attr_str(f, "/", "note", &v), ITR_OK);
    assert_string_equal(v, words[2]);
    free(v);
    assert_int_equal(itr_h5_attr_str(f, "/config/sub", "empty", &v), ITR_OK);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(itr_h5_attr_str(f, "/captions/text", "tokenizer", &v), ITR_OK);
    assert_string_equal(v, "nltk-treebank-classic");
    free(v);
    int64_t seed = 0, ver = 0;
    double rtol = 0;
    assert_int_equal(itr_h5_attr_i64(f, "/config", "seed", &seed), ITR_OK);
    assert_true(seed == -9007199254740993LL);               /* not through a double */
    assert_int_equal(itr_h5_attr_i64(f, "/", "itr_version", &ver), ITR_OK);
    assert_int_equal(ver, 1);
    assert_int_equal(itr_h5_attr_f64(f, "/", "rtol", &rtol), ITR_OK);
    assert_true(rtol == 2e-4);
    assert_true(itr_h5_exists(f, "/config/sub"));
    itr_h5_close(f);

    /* Attribute strings are variable-length UTF-8 (formats.md s4.1). */
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t aid = H5Aopen_by_name(fid, "/", "itr_kind", H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Aget_type(aid);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_int_equal(H5Tget_cset(t), H5T_CSET_UTF8);
    H5Tclose(t);
    H5Aclose(aid);
    H5Fclose(fid);
    remove(path);
}

static void test_weights_roundtrip(void **state) {
    (void)state;
    char path[256];
    tmp_h5(path, sizeof path, "weights");
    itr_weights w;
    itr_weights_init(&w, "memory");
    itr_tensor t;
    make_tensor(&t, ITR_F32);
    assert_int_equal(itr_weights_add(&w, "0", "fc.weight", &t), ITR_OK);
    make_tensor(&t, ITR_F64);
    assert_int_equal(itr_weights_add(&w, "0", "module.rnn.weight_ih_l0", &t), ITR_OK);
    make_tensor(&t, ITR_I32);
    assert_int_equal(itr_weights_add(&w, "10", "ids", &t), ITR_OK);
    make_tensor(&t, ITR_BOOL);
    assert_int_equal(itr_weights_add(&w, "2", "mask", &t), ITR_OK);
    assert_int_equal(itr_tensor_alloc(&t, ITR_I64, 0, NULL), ITR_OK);
    itr_i64(&t)[0] = 7;
    assert_int_equal(itr_weights_add(&w, "2", "bn.num_batches_tracked", &t), ITR_OK);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 1, (const int64_t[]){0}), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "sent_model_state_dict", "empty", &t), ITR_OK);

    itr_h5 *f = NULL;
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    assert_int_equal(itr_h5_save_weights(f, &w), ITR_OK);
    itr_weights_free(&w);
    itr_h5_close(f);

    assert_int_equal(itr_h5_open(path, &f), ITR_OK);
    char *dt = NULL;
    assert_int_equal(itr_h5_attr_str(f, "/weights/0/fc.weight", "torch_dtype", &dt), ITR_OK);
    assert_string_equal(dt, "torch.float32");
    free(dt);
    assert_false(itr_h5_attr_exists(f, "/weights/0/fc.weight", "orig_dtype"));
    assert_int_equal(itr_h5_attr_str(f, "/weights/0/module.rnn.weight_ih_l0", "orig_dtype", &dt), ITR_OK);
    assert_string_equal(dt, "torch.float64");                 /* stored as float32 */
    free(dt);
    assert_int_equal(itr_h5_attr_str(f, "/weights/10/ids", "torch_dtype", &dt), ITR_OK);
    assert_string_equal(dt, "torch.int64");
    free(dt);
    assert_int_equal(itr_h5_attr_str(f, "/weights/2/mask", "torch_dtype", &dt), ITR_OK);
    assert_string_equal(dt, "torch.bool");
    free(dt);
    assert_true(stored_is(path, "/weights/0/module.rnn.weight_ih_l0", H5T_IEEE_F32LE));
    assert_true(stored_is(path, "/weights/10/ids", H5T_STD_I64LE));
    assert_true(stored_is(path, "/weights/2/mask", H5T_STD_I8LE));

    itr_weights r;
    itr_weights_init(&r, NULL);
    assert_int_equal(itr_h5_load_weights(f, &r), ITR_OK);
    assert_int_equal(r.n, 6);
    /* Groups: list positions in numeric order, then named groups. */
    assert_int_equal(itr_weights_group_count(&r), 4);
    assert_string_equal(itr_weights_group_name(&r, 0), "0");
    assert_string_equal(itr_weights_group_name(&r, 1), "2");
    assert_string_equal(itr_weights_group_name(&r, 2), "10");
    assert_string_equal(itr_weights_group_name(&r, 3), "sent_model_state_dict");
    const itr_weight_entry *e = itr_weights_find(&r, "0", "module.rnn.weight_ih_l0");
    assert_non_null(e);
    assert_int_equal(e->t.dtype, ITR_F32);
    assert_true(itr_f32(&e->t)[0] == -2.0f && itr_f32(&e->t)[5] == 3.0f);
    e = itr_weights_find(&r, "10", "ids");
    assert_int_equal(e->t.dtype, ITR_I64);
    assert_int_equal(itr_i64(&e->t)[0], -2);
    e = itr_weights_find(&r, "2", "mask");
    assert_int_equal(e->t.dtype, ITR_I64);                   /* integers load as int64 */
    assert_int_equal(itr_i64(&e->t)[1], 1);
    assert_int_equal(itr_i64(&e->t)[2], 0);
    e = itr_weights_find(&r, "2", "bn.num_batches_tracked");
    assert_int_equal(e->t.ndim, 0);
    assert_int_equal(itr_i64(&e->t)[0], 7);
    e = itr_weights_find(&r, "sent_model_state_dict", "empty");
    assert_int_equal(e->t.ndim, 1);
    assert_int_equal(e->t.shape[0], 0);
    itr_weights_free(&r);
    itr_h5_close(f);

    /* An empty store still writes /weights, which then loads as nothing. */
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    assert_int_equal(itr_h5_save_weights(f, &w), ITR_OK);
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_OK);
    assert_int_equal(w.n, 0);
    itr_weights_free(&w);
    itr_h5_close(f);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensors_every_dtype),
        cmocka_unit_test(test_strings_and_attrs),
        cmocka_unit_test(test_weights_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
