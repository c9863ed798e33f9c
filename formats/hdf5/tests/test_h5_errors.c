/* test_h5_errors.c - every failure path: one status and one line naming the
 * file and the object (and both shapes for shape errors). The broken files
 * are made here: a text file, an empty file, a truncated copy of a sample,
 * and an HDF5 file with wrongly typed / shaped / oversized objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hdf5.h>

#include "h5_test_util.h"

static char g_bad[256];   /* the crafted HDF5 file, made once per run */

static void put(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf) {
    hid_t sp = rank < 0 ? H5Screate(H5S_NULL) : rank == 0 ? H5Screate(H5S_SCALAR)
                                                          : H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    if (buf) assert_true(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

static int make_bad_file(void **state) {
    (void)state;
    tmp_h5(g_bad, sizeof g_bad, "bad");
    hid_t fid = H5Fcreate(g_bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (fid < 0) return -1;
    const float f6[6] = {1, 2, 3, 4, 5, 6};
    put(fid, "floats", H5T_IEEE_F32LE, 2, (const hsize_t[]){2, 3}, f6);
    put(fid, "empty", H5T_IEEE_F32LE, 2, (const hsize_t[]){0, 3}, NULL);
    put(fid, "nulls", H5T_IEEE_F32LE, -1, NULL, NULL);
    put(fid, "rank9", H5T_STD_I8LE, 9, (const hsize_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, NULL);
    const double one = 1.0;
    put(fid, "scalar", H5T_IEEE_F64LE, 0, NULL, &one);
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, H5T_VARIABLE);
    const char *words[4] = {"a", "b", "c", "d"};
    put(fid, "words", s, 1, (const hsize_t[]){4}, words);
    put(fid, "words2d", s, 2, (const hsize_t[]){2, 2}, words);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(fid, "name", s, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, s, words);
    H5Aclose(a);
    a = H5Acreate2(fid, "ratio", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &one);
    H5Aclose(a);
    hid_t nsp = H5Screate(H5S_NULL);
    a = H5Acreate2(fid, "nothing", H5T_STD_I64LE, nsp, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(a);
    H5Sclose(nsp);
    H5Sclose(sp);
    H5Tclose(s);
    hid_t c = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(c, "x", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(c, "y", 4, H5T_NATIVE_FLOAT);
    put(fid, "pairs", c, 1, (const hsize_t[]){2}, f6);
    H5Tcommit2(fid, "pair_type", c, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Tclose(c);
    /* 2^22 x 2^22 float32 = 64 TiB, chunked and never written: a tiny file
     * that claims a huge dataset. */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, (const hsize_t[]){1, 16});
    hid_t hsp = H5Screate_simple(2, (const hsize_t[]){(hsize_t)1 << 22, (hsize_t)1 << 22}, NULL);
    hid_t d = H5Dcreate2(fid, "huge", H5T_IEEE_F32LE, hsp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(hsp);
    H5Pclose(dcpl);
    H5Lcreate_soft("/no/where", fid, "dangling", H5P_DEFAULT, H5P_DEFAULT);
    /* Weights layouts that load_weights must refuse. */
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(fid, "/w_dset/weights", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    put(g, "0", H5T_IEEE_F32LE, 1, (const hsize_t[]){6}, f6);
    H5Gclose(g);
    g = H5Gcreate2(fid, "/w_sub/weights/0/nested", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(fid);
    return 0;
}

static int remove_bad_file(void **state) {
    (void)state;
    remove(g_bad);
    return 0;
}

static itr_h5 *open_bad(void) {
    itr_h5 *f = NULL;
    assert_int_equal(itr_h5_open(g_bad, &f), ITR_OK);
    return f;
}

static void test_open_failures(void **state) {
    (void)state;
    itr_h5 *f = (itr_h5 *)1;
    assert_int_equal(itr_h5_open("/nonexistent/dir/x.h5", &f), ITR_E_IO);
    assert_null(f);
    assert_true(msg_has("/nonexistent/dir/x.h5"));
    assert_int_equal(itr_h5_open(NULL, &f), ITR_E_ARG);
    assert_int_equal(itr_h5_open(g_bad, NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_create("/nonexistent/dir/x.h5", &f), ITR_E_IO);
    assert_true(msg_has("/nonexistent/dir/x.h5"));
    assert_int_equal(itr_h5_create(NULL, &f), ITR_E_ARG);
    assert_int_equal(itr_h5_create("x", NULL), ITR_E_ARG);

    char text[256], empty[256], cut[256], ub[256];
    FILE *fp = fopen(tmp_h5(text, sizeof text, "text"), "wb");
    fputs("this is a text file, not HDF5\n", fp);
    fclose(fp);
    assert_int_equal(itr_h5_open(text, &f), ITR_E_FORMAT);
    assert_true(msg_has(text) && msg_has("not an HDF5 file"));
    fp = fopen(tmp_h5(empty, sizeof empty, "empty"), "wb");
    fclose(fp);
    assert_int_equal(itr_h5_open(empty, &f), ITR_E_FORMAT);
    /* A sample cut after 1000 bytes: the signature is there, the rest is not. */
    FILE *in = fopen(FIXTURE("formats/h5_fixture_example.h5"), "rb");
    assert_non_null(in);
    char buf[1000];
    assert_int_equal(fread(buf, 1, sizeof buf, in), sizeof buf);
    fclose(in);
    fp = fopen(tmp_h5(cut, sizeof cut, "cut"), "wb");
    fwrite(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_int_equal(itr_h5_open(cut, &f), ITR_E_FORMAT);
    assert_true(msg_has(cut));
    assert_null(f);
    /* A 512-byte user block moves the signature to offset 512: still HDF5. */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 512);
    hid_t fid = H5Fcreate(tmp_h5(ub, sizeof ub, "userblock"), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    H5Fclose(fid);
    assert_int_equal(itr_h5_open(ub, &f), ITR_OK);
    assert_true(itr_h5_exists(f, "/"));
    itr_h5_close(f);
    remove(text);
    remove(empty);
    remove(cut);
    remove(ub);
    itr_h5_close(NULL);                                  /* a no-op */
    assert_string_equal(itr_h5_path(NULL), "");
}

static void test_missing_objects(void **state) {
    (void)state;
    itr_h5 *f = open_bad();
    itr_tensor t;
    assert_int_equal(itr_h5_read(f, "/outputs/sims", ITR_F32, NULL, &t), ITR_E_KEY);
    assert_true(msg_has(g_bad) && msg_has("/outputs/sims") && msg_has("no such dataset"));
    assert_int_equal(itr_h5_read(f, "/w_sub", ITR_F32, NULL, &t), ITR_E_KEY);
    assert_true(msg_has("/w_sub") && msg_has("group"));
    assert_int_equal(itr_h5_read(f, "/pair_type", ITR_F32, NULL, &t), ITR_E_KEY);
    assert_true(msg_has("named datatype"));
    assert_int_equal(itr_h5_read(f, "/dangling", ITR_F32, NULL, &t), ITR_E_KEY);
    assert_false(itr_h5_exists(f, "/dangling"));
    assert_false(itr_h5_exists(NULL, "/"));
    assert_false(itr_h5_exists(f, NULL));
    assert_false(itr_h5_attr_exists(f, "/", NULL));
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_list(f, "/nope", &names, &n), ITR_E_KEY);
    assert_true(msg_has("/nope"));
    assert_int_equal(itr_h5_list(f, "/floats", &names, &n), ITR_E_KEY);
    assert_true(msg_has("not a group"));
    assert_int_equal(itr_h5_list(f, "/pair_type", &names, &n), ITR_E_KEY);
    assert_int_equal(itr_h5_list(f, "/", NULL, &n), ITR_E_ARG);
    assert_int_equal(itr_h5_list(NULL, "/", &names, &n), ITR_E_ARG);
    assert_int_equal(itr_h5_list(f, NULL, &names, &n), ITR_E_ARG);

    char *s = NULL;
    double d;
    int64_t i;
    assert_int_equal(itr_h5_attr_str(f, "/", "model", &s), ITR_E_KEY);
    assert_true(msg_has(g_bad) && msg_has("model"));
    assert_int_equal(itr_h5_attr_f64(f, "/missing", "rtol", &d), ITR_E_KEY);
    assert_true(msg_has("/missing") && msg_has("rtol"));
    assert_int_equal(itr_h5_attr_i64(f, "/floats", "seed", &i), ITR_E_KEY);
    assert_int_equal(itr_h5_attr_str(f, "/", "model", NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_attr_f64(f, "/", "ratio", NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_attr_i64(f, "/", "ratio", NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_attr_str(f, "/", NULL, &s), ITR_E_ARG);
    assert_int_equal(itr_h5_attr_str(NULL, "/", "x", &s), ITR_E_ARG);
    itr_h5_close(f);
}

static void test_wrong_types(void **state) {
    (void)state;
    itr_h5 *f = open_bad();
    itr_tensor t;
    /* float read as int */
    assert_int_equal(itr_h5_read(f, "/floats", ITR_I64, NULL, &t), ITR_E_DTYPE);
    assert_true(msg_has(g_bad) && msg_has("/floats") && msg_has("float32") && msg_has("int64"));
    assert_null(t.data);
    assert_int_equal(itr_h5_read(f, "/floats", ITR_BOOL, NULL, &t), ITR_E_DTYPE);
    /* string read as number */
    assert_int_equal(itr_h5_read(f, "/words", ITR_F32, NULL, &t), ITR_E_DTYPE);
    assert_true(msg_has("/words") && msg_has("string"));
    assert_int_equal(itr_h5_read(f, "/pairs", ITR_F32, NULL, &t), ITR_E_DTYPE);
    assert_true(msg_has("compound"));
    itr_dtype dt;
    assert_int_equal(itr_h5_info(f, "/words", &dt, NULL, NULL), ITR_E_DTYPE);
    assert_int_equal(itr_h5_info(f, "/nope", &dt, NULL, NULL), ITR_E_KEY);
    assert_int_equal(itr_h5_info(NULL, "/floats", &dt, NULL, NULL), ITR_E_ARG);
    double d;
    int64_t i;
    char *s = NULL;
    assert_int_equal(itr_h5_attr_f64(f, "/", "name", &d), ITR_E_DTYPE);
    assert_true(msg_has("attribute 'name'") && msg_has("string"));
    assert_int_equal(itr_h5_attr_i64(f, "/", "ratio", &i), ITR_E_DTYPE);
    assert_true(msg_has("attribute 'ratio'") && msg_has("float64"));
    assert_int_equal(itr_h5_attr_str(f, "/", "ratio", &s), ITR_E_DTYPE);
    assert_true(msg_has("not as strings"));
    assert_int_equal(itr_h5_attr_i64(f, "/", "nothing", &i), ITR_E_SHAPE);
    assert_true(msg_has("0 values"));
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_read_strings(f, "/floats", &v, &n), ITR_E_DTYPE);
    assert_int_equal(itr_h5_read_strings(f, "/words2d", &v, &n), ITR_E_SHAPE);
    assert_true(msg_has("(2, 2)"));
    assert_int_equal(itr_h5_read_strings(f, "/none", &v, &n), ITR_E_KEY);
    assert_int_equal(itr_h5_read_strings(f, "/words", NULL, &n), ITR_E_ARG);
    assert_int_equal(itr_h5_read_strings(NULL, "/words", &v, &n), ITR_E_ARG);
    itr_h5_close(f);
}

static void test_wrong_shapes(void **state) {
    (void)state;
    itr_h5 *f = open_bad();
    itr_tensor t;
    itr_h5_read_opts rank3 = {3, (const int64_t[]){2, 3, -1}, 0};
    assert_int_equal(itr_h5_read(f, "/floats", ITR_F32, &rank3, &t), ITR_E_SHAPE);
    printf("  message: %s\n", itr_last_error());
    assert_true(msg_has(g_bad) && msg_has("/floats") && msg_has("(2, 3, -1)") && msg_has("(2, 3)"));
    itr_h5_read_opts shape = {2, (const int64_t[]){3, 2}, 0};
    assert_int_equal(itr_h5_read(f, "/floats", ITR_F32, &shape, &t), ITR_E_SHAPE);
    assert_true(msg_has("(3, 2)") && msg_has("(2, 3)"));
    itr_h5_read_opts rank1 = {1, NULL, 0};
    assert_int_equal(itr_h5_read(f, "/scalar", ITR_F64, &rank1, &t), ITR_E_SHAPE);
    assert_true(msg_has("rank 1") && msg_has("rank 0"));
    itr_h5_read_opts silly = {9, NULL, 0};
    assert_int_equal(itr_h5_read(f, "/floats", ITR_F32, &silly, &t), ITR_E_ARG);
    /* empty arrays */
    assert_int_equal(itr_h5_read(f, "/empty", ITR_F32, NULL, &t), ITR_E_SHAPE);
    assert_true(msg_has("/empty") && msg_has("empty") && msg_has("(0, 3)"));
    itr_h5_read_opts ok_empty = {-1, NULL, 1};
    assert_int_equal(itr_h5_read(f, "/empty", ITR_F32, &ok_empty, &t), ITR_OK);
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read(f, "/nulls", ITR_F32, &ok_empty, &t), ITR_E_SHAPE);
    assert_true(msg_has("null dataspace"));
    /* too large, checked before allocating */
    assert_int_equal(itr_h5_read(f, "/huge", ITR_F32, NULL, &t), ITR_E_LIMIT);
    assert_true(msg_has("/huge") && msg_has("(4194304, 4194304)"));
    assert_null(t.data);
    assert_int_equal(itr_h5_read(f, "/rank9", ITR_I64, NULL, &t), ITR_E_LIMIT);
    assert_true(msg_has("rank 9"));
    int nd;
    int64_t dims[ITR_MAX_DIMS];
    assert_int_equal(itr_h5_info(f, "/huge", NULL, &nd, dims), ITR_OK);   /* info is fine */
    assert_int_equal(dims[0], (int64_t)1 << 22);
    /* row ranges */
    /* ... but one row of it (2^22 floats, 16 MiB) is fine: never-written
     * chunks read as the fill value 0. */
    assert_int_equal(itr_h5_read_rows(f, "/huge", ITR_F32, 5, 1, &t), ITR_OK);
    assert_int_equal(t.shape[1], (int64_t)1 << 22);
    assert_true(itr_f32(&t)[((size_t)1 << 22) - 1] == 0.0f);
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read_rows(f, "/floats", ITR_F32, 1, 2, &t), ITR_E_SHAPE);
    assert_true(msg_has("rows [1, 3)") && msg_has("(2, 3)"));
    assert_int_equal(itr_h5_read_rows(f, "/floats", ITR_F32, -1, 1, &t), ITR_E_SHAPE);
    assert_int_equal(itr_h5_read_rows(f, "/floats", ITR_F32, 0, -1, &t), ITR_E_ARG);
    assert_int_equal(itr_h5_read_rows(f, "/scalar", ITR_F64, 0, 1, &t), ITR_E_SHAPE);
    assert_true(msg_has("scalar"));
    assert_int_equal(itr_h5_read_rows(f, "/floats", ITR_I32, 0, 1, &t), ITR_E_DTYPE);
    assert_int_equal(itr_h5_read_rows(f, "/floats", ITR_F32, 1, 1, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 4.0f && itr_f32(&t)[2] == 6.0f);
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read(f, "/floats", ITR_F32, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_read(NULL, "/floats", ITR_F32, NULL, &t), ITR_E_ARG);
    assert_int_equal(itr_h5_read(f, NULL, ITR_F32, NULL, &t), ITR_E_ARG);
    itr_h5_close(f);
}

static void test_writer_failures(void **state) {
    (void)state;
    itr_h5 *f = open_bad();
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 1, (const int64_t[]){2}), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/new", &t), ITR_E_ARG);           /* read-only */
    assert_true(msg_has("read-only"));
    assert_int_equal(itr_h5_set_attr_i64(f, "/", "x", 1), ITR_E_ARG);
    assert_int_equal(itr_h5_make_group(f, "/g"), ITR_E_ARG);
    assert_int_equal(itr_h5_make_group(f, "/w_sub"), ITR_OK);            /* exists: no write */
    itr_weights w;
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_h5_save_weights(f, &w), ITR_E_ARG);
    itr_h5_close(f);

    char path[256];
    assert_int_equal(itr_h5_create(tmp_h5(path, sizeof path, "wfail"), &f), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/a/x", &t), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/a/x", &t), ITR_E_ARG);           /* written once */
    assert_true(msg_has("/a/x") && msg_has("already exists"));
    assert_int_equal(itr_h5_write(f, "/a/x/y", &t), ITR_E_IO);          /* parent is a dataset */
    assert_true(msg_has(path) && msg_has("/a/x/y"));
    assert_int_equal(itr_h5_make_group(f, "/a/x"), ITR_E_ARG);
    assert_int_equal(itr_h5_make_group(f, "/a/x/g"), ITR_E_IO);
    assert_int_equal(itr_h5_make_group(NULL, "/g"), ITR_E_ARG);
    assert_int_equal(itr_h5_set_attr_str(f, "/nope", "k", "v"), ITR_E_KEY);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "k", NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_set_attr_f64(f, "/", NULL, 1.0), ITR_E_ARG);
    assert_int_equal(itr_h5_set_attr_f64(f, "/", "", 1.0), ITR_E_IO);
    assert_int_equal(itr_h5_write(f, "/b", NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_write(NULL, "/b", &t), ITR_E_ARG);
    itr_tensor bad = t;
    bad.ndim = ITR_MAX_DIMS + 1;
    assert_int_equal(itr_h5_write(f, "/b", &bad), ITR_E_ARG);
    bad.ndim = 1;
    bad.shape[0] = -2;
    assert_int_equal(itr_h5_write(f, "/b", &bad), ITR_E_ARG);
    bad.shape[0] = 2;
    bad.data = NULL;
    assert_int_equal(itr_h5_write(f, "/b", &bad), ITR_E_ARG);
    const char *strs[2] = {"x", NULL};
    assert_int_equal(itr_h5_write_strings(f, "/s", strs, 2), ITR_E_ARG);
    assert_int_equal(itr_h5_write_strings(f, "/s", NULL, 2), ITR_E_ARG);
    assert_int_equal(itr_h5_write_strings(f, "/a/x", strs, 1), ITR_E_ARG);
    assert_int_equal(itr_h5_write_strings(NULL, "/s", strs, 1), ITR_E_ARG);

    itr_tensor_free(&t);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 1, (const int64_t[]){2}), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "0", "a/b", &t), ITR_OK);
    assert_int_equal(itr_h5_save_weights(f, &w), ITR_E_ARG);           /* keys never hold '/' */
    assert_true(msg_has("a/b"));
    itr_weights_free(&w);
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 1, (const int64_t[]){2}), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "..", "k", &t), ITR_OK);
    assert_int_equal(itr_h5_save_weights(f, &w), ITR_E_ARG);
    assert_int_equal(itr_h5_save_weights(f, NULL), ITR_E_ARG);
    assert_int_equal(itr_h5_load_weights(NULL, &w), ITR_E_ARG);
    itr_weights_free(&w);
    itr_h5_close(f);
    remove(path);
}

/* Weights layouts the loader refuses: /weights not a group, a group entry
 * that is a dataset, a nested group inside a group. */
static void test_weights_layout_errors(void **state) {
    (void)state;
    char path[256];
    itr_h5 *f = NULL;
    itr_weights w;
    /* Re-root the crafted objects: copy each case into its own file. */
    const char *roots[2] = {"/w_dset", "/w_sub"};
    const itr_status want[2] = {ITR_E_FORMAT, ITR_E_FORMAT};
    const char *needle[2] = {"/weights/0", "/weights/0/nested"};
    for (int k = 0; k < 2; k++) {
        tmp_h5(path, sizeof path, "wlayout");
        hid_t src = H5Fopen(g_bad, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t dst = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        char from[64];
        snprintf(from, sizeof from, "%s/weights", roots[k]);
        assert_true(H5Ocopy(src, from, dst, "weights", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Fclose(dst);
        H5Fclose(src);
        assert_int_equal(itr_h5_open(path, &f), ITR_OK);
        itr_weights_init(&w, NULL);
        assert_int_equal(itr_h5_load_weights(f, &w), want[k]);
        assert_true(msg_has(path) && msg_has(needle[k]));
        itr_weights_free(&w);
        itr_h5_close(f);
        remove(path);
    }
    /* /weights/0/<key> holding strings, and /weights itself a dataset. */
    assert_int_equal(itr_h5_create(tmp_h5(path, sizeof path, "wstr"), &f), ITR_OK);
    const char *s[1] = {"x"};
    assert_int_equal(itr_h5_write_strings(f, "/weights/0/names", s, 1), ITR_OK);
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_E_DTYPE);
    assert_true(msg_has("/weights/0/names"));
    itr_weights_free(&w);
    itr_h5_close(f);
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    assert_int_equal(itr_h5_write_strings(f, "/weights", s, 1), ITR_OK);
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_E_KEY);
    itr_weights_free(&w);
    itr_h5_close(f);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_failures),
        cmocka_unit_test(test_missing_objects),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_writer_failures),
        cmocka_unit_test(test_weights_layout_errors),
    };
    return cmocka_run_group_tests(tests, make_bad_file, remove_bad_file);
}
