/* test_h5_stored_types.c - files as other writers make them: fixed-length
 * strings of every padding, ASCII and UTF-8, scalar and one-element string
 * spaces, h5py's bool enum, unsigned and half-precision numbers. The files
 * are built here with the raw HDF5 API, then read through itr_h5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hdf5.h>

#include "h5_test_util.h"

/* A fixed-length string type of `size` bytes. */
static hid_t fixed_str(size_t size, H5T_str_t pad, H5T_cset_t cset) {
    hid_t t = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(t, size) >= 0);
    assert_true(H5Tset_strpad(t, pad) >= 0);
    assert_true(H5Tset_cset(t, cset) >= 0);
    return t;
}

/* Attribute `name` on loc with type t, dataspace sp, raw bytes buf. */
static void put_attr(hid_t loc, const char *name, hid_t t, hid_t sp, const void *buf) {
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, t, buf) >= 0);
    H5Aclose(a);
}

static void put_dset(hid_t loc, const char *name, hid_t t, hid_t sp, const void *buf) {
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
}

static void build_file(const char *path) {
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(fid >= 0);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hsize_t one = 1, four = 4, three = 3;
    hid_t sp1 = H5Screate_simple(1, &one, NULL);
    hid_t sp4 = H5Screate_simple(1, &four, NULL);
    hid_t sp3 = H5Screate_simple(1, &three, NULL);

    hid_t t = fixed_str(8, H5T_STR_NULLTERM, H5T_CSET_ASCII);
    put_attr(fid, "nullterm_ascii", t, scalar, "f30k\0\0\0\0");
    H5Tclose(t);
    /* NULLPAD filling the whole slot: no terminator at all ("é" is 2 bytes). */
    t = fixed_str(6, H5T_STR_NULLPAD, H5T_CSET_UTF8);
    put_attr(fid, "nullpad_utf8_full", t, scalar, "caf\xc3\xa9!");
    put_attr(fid, "nullpad_utf8_short", t, scalar, "ab\0\0\0\0");
    H5Tclose(t);
    t = fixed_str(8, H5T_STR_SPACEPAD, H5T_CSET_ASCII);
    put_attr(fid, "spacepad", t, scalar, "t2i     ");
    H5Tclose(t);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);                      /* vlen ASCII, shape (1,) */
    const char *vs[1] = {"one-element"};
    put_attr(fid, "vlen_ascii_1d", t, sp1, vs);
    const char *vs4[4] = {"a", "b", "c", "d"};
    put_attr(fid, "four_strings", t, sp4, vs4);
    put_dset(fid, "vlen_scalar", t, scalar, vs);
    H5Tclose(t);

    t = fixed_str(5, H5T_STR_NULLPAD, H5T_CSET_UTF8);    /* fixed-length dataset */
    put_dset(fid, "fixed_strings", t, sp3, "hello" "hi\0\0\0" "\xe6\x97\xa5\0\0");
    H5Tclose(t);

    /* h5py writes numpy bool as enum {FALSE=0, TRUE=1} over int8. */
    hid_t e = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v0 = 0, v1 = 1;
    H5Tenum_insert(e, "FALSE", &v0);
    H5Tenum_insert(e, "TRUE", &v1);
    const int8_t mask[4] = {1, 0, 0, 1};
    put_dset(fid, "bool_enum", e, sp4, mask);
    put_attr(fid, "flag", e, scalar, &v1);
    H5Tclose(e);

    const uint16_t u16[4] = {0, 1, 65535, 7};
    put_dset(fid, "u16", H5T_NATIVE_UINT16, sp4, u16);
    const uint32_t u32[4] = {0, 1, 4294967295u, 7};
    put_dset(fid, "u32", H5T_NATIVE_UINT32, sp4, u32);
    const int8_t i8 = -5;
    put_attr(fid, "int8", H5T_NATIVE_INT8, scalar, &i8);
    const float f32 = 0.25f;
    put_attr(fid, "float32", H5T_NATIVE_FLOAT, scalar, &f32);

    /* IEEE half, as h5py stores float16: 1 sign, 5 exponent, 10 mantissa bits. */
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    assert_true(H5Tset_fields(h, 15, 10, 5, 0, 10) >= 0);
    assert_true(H5Tset_precision(h, 16) >= 0);
    assert_true(H5Tset_size(h, 2) >= 0);
    assert_true(H5Tset_ebias(h, 15) >= 0);
    const uint16_t half[4] = {0x3C00, 0xC000, 0x3800, 0x0000};   /* 1, -2, 0.5, 0 */
    put_dset(fid, "half", h, sp4, half);
    H5Tclose(h);

    H5Sclose(sp3);
    H5Sclose(sp4);
    H5Sclose(sp1);
    H5Sclose(scalar);
    H5Fclose(fid);
}

static void expect_attr(itr_h5 *f, const char *name, const char *want) {
    char *s = NULL;
    itr_status st = itr_h5_attr_str(f, "/", name, &s);
    if (st) print_error("%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_string_equal(s, want);
    free(s);
}

static void test_stored_types(void **state) {
    (void)state;
    char path[256];
    tmp_h5(path, sizeof path, "stored");
    build_file(path);
    itr_h5 *f = NULL;
    assert_int_equal(itr_h5_open(path, &f), ITR_OK);

    expect_attr(f, "nullterm_ascii", "f30k");
    expect_attr(f, "nullpad_utf8_full", "caf\xc3\xa9!");
    expect_attr(f, "nullpad_utf8_short", "ab");
    expect_attr(f, "spacepad", "t2i");
    expect_attr(f, "vlen_ascii_1d", "one-element");
    char *s = NULL;
    assert_int_equal(itr_h5_attr_str(f, "/", "four_strings", &s), ITR_E_SHAPE);
    assert_true(msg_has("four_strings") && msg_has("4 values"));
    assert_null(s);

    char **v = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_read_strings(f, "/fixed_strings", &v, &n), ITR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "hello");
    assert_string_equal(v[1], "hi");
    assert_string_equal(v[2], "\xe6\x97\xa5");
    itr_h5_free_names(v, n);
    assert_int_equal(itr_h5_read_strings(f, "/vlen_scalar", &v, &n), ITR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "one-element");
    itr_h5_free_names(v, n);

    itr_tensor t;
    itr_dtype dt;
    assert_int_equal(itr_h5_info(f, "/bool_enum", &dt, NULL, NULL), ITR_OK);
    assert_int_equal(dt, ITR_I8);
    assert_int_equal(itr_h5_read(f, "/bool_enum", ITR_BOOL, NULL, &t), ITR_OK);
    const uint8_t mask[4] = {1, 0, 0, 1};
    assert_memory_equal(t.data, mask, 4);
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read(f, "/bool_enum", ITR_F32, NULL, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 1.0f && itr_f32(&t)[1] == 0.0f);
    itr_tensor_free(&t);
    int64_t flag = 0, i8 = 0;
    double x = 0;
    assert_int_equal(itr_h5_attr_i64(f, "/", "flag", &flag), ITR_OK);
    assert_int_equal(flag, 1);
    assert_int_equal(itr_h5_attr_i64(f, "/", "int8", &i8), ITR_OK);
    assert_int_equal(i8, -5);
    assert_int_equal(itr_h5_attr_f64(f, "/", "int8", &x), ITR_OK);
    assert_true(x == -5.0);
    assert_int_equal(itr_h5_attr_f64(f, "/", "float32", &x), ITR_OK);
    assert_true(x == 0.25);

    assert_int_equal(itr_h5_info(f, "/u16", &dt, NULL, NULL), ITR_OK);
    assert_int_equal(dt, ITR_I32);                       /* uint16 widens to int32 */
    assert_int_equal(itr_h5_info(f, "/u32", &dt, NULL, NULL), ITR_OK);
    assert_int_equal(dt, ITR_I64);
    assert_int_equal(itr_h5_read(f, "/u32", ITR_I64, NULL, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[2], 4294967295LL);
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read(f, "/u16", ITR_I64, NULL, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[2], 65535);
    itr_tensor_free(&t);

    assert_int_equal(itr_h5_info(f, "/half", &dt, NULL, NULL), ITR_OK);
    assert_int_equal(dt, ITR_F16);
    assert_int_equal(itr_h5_read(f, "/half", ITR_F32, NULL, &t), ITR_OK);
    const double want[4] = {1.0, -2.0, 0.5, 0.0};
    double got[4];
    for (int i = 0; i < 4; i++) got[i] = itr_f32(&t)[i];
    assert_true(close_enough("float16 -> float32", got, want, 4, 0, 0));
    itr_tensor_free(&t);
    assert_int_equal(itr_h5_read(f, "/half", ITR_F16, NULL, &t), ITR_E_UNSUPPORTED);
    assert_true(msg_has("/half") && msg_has("float16"));

    itr_h5_close(f);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
