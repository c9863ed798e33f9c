/* test_npy.c - .npy reader (formats.md s2.1, s2.2, s5 rule 7).
 *
 * Ground truth: fixtures/formats/npy_*.npy against expected_contents.json
 * (as numpy 1.24 loads them), plus hand-built files whose values are known
 * by construction, and corrupted / truncated copies that must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <cmocka.h>
#include <jansson.h>

#include "itr/npy.h"
#include "itr/pickle.h"

#define FIX ITR_SOURCE_DIR "/fixtures/formats/"

/* ---- helpers ------------------------------------------------------------ */
static uint8_t *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

/* A unique scratch path: the tests may run concurrently with other helpers. */
static void tmp_path(char *buf, size_t n, const char *tag) {
    static unsigned counter;
    const char *dir = getenv("TMPDIR");
    snprintf(buf, n, "%s/itr_npy_%s_%lu_%lx_%u.npy", dir && *dir ? dir : "/tmp", tag,
             (unsigned long)time(NULL), (unsigned long)(uintptr_t)&counter, counter++);
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* Builds a .npy image: preamble of `version` + dict + '\n' + data. */
static uint8_t *make_npy(int version, const char *dict, const void *data, size_t nbytes, size_t *n) {
    size_t pre = version == 1 ? 10 : 12, hl = strlen(dict) + 1;
    uint8_t *b = calloc(pre + hl + nbytes + 1, 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)version;
    b[7] = 0;
    b[8] = (uint8_t)(hl & 0xff);
    b[9] = (uint8_t)(hl >> 8);
    if (version != 1) { b[10] = (uint8_t)(hl >> 16); b[11] = (uint8_t)(hl >> 24); }
    memcpy(b + pre, dict, hl - 1);
    b[pre + hl - 1] = '\n';
    if (nbytes) memcpy(b + pre + hl, data, nbytes);
    *n = pre + hl + nbytes;
    return b;
}

/* Loads a dict + data from memory; returns the status, tensor in *t. */
static itr_status load_dict(const char *dict, const void *data, size_t nbytes, int want, itr_tensor *t) {
    size_t n;
    uint8_t *b = make_npy(1, dict, data, nbytes, &n);
    itr_status st = itr_npy_load_mem(b, n, "mem.npy", NULL, want, t);
    free(b);
    return st;
}

static itr_status header_of(const char *dict, itr_npy_header *h) {
    size_t n;
    uint8_t *b = make_npy(1, dict, NULL, 0, &n);
    itr_status st = itr_npy_parse_header(b, n, "hdr.npy", NULL, h);
    free(b);
    return st;
}

static json_t *expected(void) {
    json_error_t err;
    json_t *j = json_load_file(FIX "expected_contents.json", 0, &err);
    assert_non_null(j);
    return j;
}

/* ---- fixtures against expected_contents.json ---------------------------- */
static void check_fixture(json_t *exp, const char *file) {
    char path[512];
    snprintf(path, sizeof path, FIX "%s", file);
    json_t *e = json_object_get(json_object_get(exp, file), "");
    assert_non_null(e);
    itr_npy_file *f;
    assert_int_equal(itr_npy_open(path, NULL, &f), ITR_OK);
    const itr_npy_header *h = itr_npy_header_of(f);
    assert_string_equal(h->descr, json_string_value(json_object_get(e, "dtype")));
    json_t *shape = json_object_get(e, "shape");
    assert_int_equal(h->ndim, (int)json_array_size(shape));
    for (int i = 0; i < h->ndim; i++)
        assert_int_equal(h->shape[i], json_integer_value(json_array_get(shape, (size_t)i)));
    itr_npy_close(f);

    itr_tensor t;
    assert_int_equal(itr_npy_load(path, NULL, -1, &t), ITR_OK);
    json_t *vals = json_object_get(e, "values_c_order_first8");
    double max_abs = 0.0;
    for (size_t i = 0; i < json_array_size(vals); i++) {
        double want = json_number_value(json_array_get(vals, i));
        double got = itr_tensor_get(&t, (int64_t)i);
        if (fabs(got - want) > max_abs) max_abs = fabs(got - want);
    }
    printf("  %-26s %-8s %s first values max abs err %.3g\n", file, itr_dtype_name(t.dtype),
           json_string_value(json_object_get(e, "dtype")), max_abs);
    assert_true(max_abs == 0.0);
    itr_tensor_free(&t);
}

static void test_fixtures(void **state) {
    (void)state;
    json_t *exp = expected();
    const char *files[] = {"npy_v1_f32_scan_like.npy", "npy_v2_f32.npy", "npy_fortran_i64.npy",
                           "npy_bigendian_f4.npy", "npy_u1_segmap_like.npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) check_fixture(exp, files[i]);
    json_decref(exp);
}

static void test_fixture_details(void **state) {
    (void)state;
    itr_tensor t;
    /* SCAN layout (2, 36, 4): values arange/16, v1 header of 118 bytes, data at 128 */
    itr_npy_file *f;
    assert_int_equal(itr_npy_open(FIX "npy_v1_f32_scan_like.npy", NULL, &f), ITR_OK);
    assert_int_equal(itr_npy_header_of(f)->major, 1);
    assert_int_equal(itr_npy_header_of(f)->header_len, 118);
    assert_int_equal(itr_npy_header_of(f)->data_offset, 128);
    assert_string_equal(itr_npy_path(f), FIX "npy_v1_f32_scan_like.npy");
    assert_int_equal(itr_npy_read_rows(f, 1, 1, -1, &t), ITR_OK);
    assert_int_equal(t.ndim, 3);
    assert_int_equal(t.shape[0], 1);
    assert_int_equal(t.shape[1], 36);
    for (int i = 0; i < 144; i++) assert_true(itr_f32(&t)[i] == (float)(144 + i) / 16.0f);
    itr_tensor_free(&t);
    float row[144];
    assert_int_equal(itr_npy_read_rows_into(f, 0, 1, ITR_F32, row, sizeof row), ITR_OK);
    assert_true(row[143] == 143.0f / 16.0f);
    double rowd[144];
    assert_int_equal(itr_npy_read_rows_into(f, 1, 1, ITR_F64, rowd, sizeof rowd), ITR_OK);
    assert_true(rowd[0] == 9.0);
    assert_int_equal(itr_npy_read_rows_into(f, 0, 2, ITR_F32, row, sizeof row), ITR_E_ARG);
    assert_int_equal(itr_npy_read_rows(f, 1, 2, -1, &t), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "rows [1, 3) outside axis 0 of size 2"));
    assert_int_equal(itr_npy_read_rows(f, -1, 1, -1, &t), ITR_E_ARG);
    assert_int_equal(itr_npy_read_rows(f, 0, 1, 99, &t), ITR_E_ARG);
    itr_npy_close(f);

    /* v2.0: u32 header length, data still at 128 */
    assert_int_equal(itr_npy_open(FIX "npy_v2_f32.npy", NULL, &f), ITR_OK);
    assert_int_equal(itr_npy_header_of(f)->major, 2);
    assert_int_equal(itr_npy_header_of(f)->data_offset, 128);
    itr_npy_close(f);

    /* Fortran (2, 3) int64 stored column-major 1 4 2 5 3 6 -> C order 1..6 */
    assert_int_equal(itr_npy_load(FIX "npy_fortran_i64.npy", NULL, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_I64);
    for (int i = 0; i < 6; i++) assert_int_equal(itr_i64(&t)[i], i + 1);
    itr_tensor_free(&t);
    assert_int_equal(itr_npy_open(FIX "npy_fortran_i64.npy", NULL, &f), ITR_OK);
    assert_int_equal(itr_npy_read_rows(f, 1, 1, ITR_F32, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 4.0f && itr_f32(&t)[1] == 5.0f && itr_f32(&t)[2] == 6.0f);
    itr_tensor_free(&t);
    itr_npy_close(f);

    /* big-endian float32 */
    assert_int_equal(itr_npy_load(FIX "npy_bigendian_f4.npy", NULL, -1, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 1.0f && itr_f32(&t)[1] == -2.5f && itr_f32(&t)[2] == 3.25f);
    itr_tensor_free(&t);

    /* uint8 class map: value = flat index mod 256, as float32 like torch.Tensor(x) */
    assert_int_equal(itr_npy_load(FIX "npy_u1_segmap_like.npy", NULL, ITR_F32, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_F32);
    for (int i = 0; i < 128; i++) assert_true(itr_f32(&t)[i] == (float)i);
    itr_tensor_free(&t);
}

/* ---- object arrays (s2.2) ------------------------------------------------ */
static void test_object_array(void **state) {
    (void)state;
    const char *path = FIX "npy_object_dicts.npy";
    itr_tensor t;
    itr_pyobj *o = NULL;
    assert_int_equal(itr_npy_load(path, NULL, -1, &t), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "object array"));
    itr_npy_file *f;
    assert_int_equal(itr_npy_open(path, NULL, &f), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_npy_load_object(path, NULL, &o), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "allow_pickle"));
    assert_null(o);
    itr_npy_opts opts;
    itr_npy_opts_default(&opts);
    opts.allow_pickle = 1;
    assert_int_equal(itr_npy_load_object(FIX "npy_v2_f32.npy", &opts, &o), ITR_E_DTYPE);

    json_t *exp = expected();
    json_t *vals = json_object_get(json_object_get(json_object_get(exp, "npy_object_dicts.npy"), ""),
                                   "values_c_order_first8");
    assert_int_equal(itr_npy_load_object(path, &opts, &o), ITR_OK);
    assert_int_equal(o->kind, ITR_PY_NDARRAY);
    assert_int_equal(itr_py_len(o->u.ndarray.objects), 2);
    for (size_t i = 0; i < 2; i++) {
        char buf[256];
        itr_py_repr(itr_py_item(o->u.ndarray.objects, i), buf, sizeof buf);
        assert_string_equal(buf, json_string_value(json_array_get(vals, i)));
    }
    int64_t w;
    assert_int_equal(itr_py_int(itr_py_dict_get(itr_py_item(o->u.ndarray.objects, 1), "image_w"), &w), ITR_OK);
    assert_int_equal(w, 333);
    itr_pyobj_free(o);

    /* the memory variant, and a corrupted pickle payload */
    size_t n;
    uint8_t *b = read_all(path, &n);
    assert_int_equal(itr_npy_load_object_mem(b, n, "obj.npy", &opts, &o), ITR_OK);
    itr_pyobj_free(o);
    assert_int_equal(itr_npy_load_object_mem(b, 100, "obj.npy", &opts, &o), ITR_E_FORMAT); /* cut header */
    assert_true(itr_npy_load_object_mem(b, 200, "obj.npy", &opts, &o) != ITR_OK);           /* cut pickle */
    assert_null(o);
    free(b);
    json_decref(exp);
}

/* ---- dtypes and byte orders ---------------------------------------------- */
static void test_dtypes(void **state) {
    (void)state;
    itr_tensor t;
    /* float16: 1.0 = 0x3c00, -2.0 = 0xc000 */
    const uint8_t f2le[] = {0x00, 0x3c, 0x00, 0xc0}, f2be[] = {0x3c, 0x00, 0xc0, 0x00};
    assert_int_equal(load_dict("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", f2le, 4, ITR_F32, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 1.0f && itr_f32(&t)[1] == -2.0f);
    itr_tensor_free(&t);
    assert_int_equal(load_dict("{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }", f2be, 4, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_F16);
    assert_true(itr_tensor_get(&t, 1) == -2.0);
    itr_tensor_free(&t);
    /* float64 both orders */
    double d = -0.1;
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = ((uint8_t *)&d)[7 - i];   /* little-endian host */
    assert_int_equal(load_dict("{'descr': '>f8', 'fortran_order': False, 'shape': (), }", be, 8, -1, &t), ITR_OK);
    assert_int_equal(t.ndim, 0);
    assert_true(itr_f64(&t)[0] == -0.1);
    itr_tensor_free(&t);
    assert_int_equal(load_dict("{'descr': '=f8', 'fortran_order': False, 'shape': (), }", &d, 8, -1, &t), ITR_OK);
    assert_true(itr_f64(&t)[0] == -0.1);
    itr_tensor_free(&t);
    /* signed ints, both byte orders */
    const uint8_t i1[] = {0xff, 0x7f};
    assert_int_equal(load_dict("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", i1, 2, ITR_I64, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[0], -1);
    assert_int_equal(itr_i64(&t)[1], 127);
    itr_tensor_free(&t);
    const uint8_t i2be[] = {0xff, 0xfe, 0x01, 0x00};
    assert_int_equal(load_dict("{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", i2be, 4, ITR_I64, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[0], -2);
    assert_int_equal(itr_i64(&t)[1], 256);
    itr_tensor_free(&t);
    const uint8_t i4be[] = {0xff, 0xff, 0xff, 0xfd};
    assert_int_equal(load_dict("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", i4be, 4, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_I32);
    assert_int_equal(((int32_t *)t.data)[0], -3);
    itr_tensor_free(&t);
    const uint8_t i8be[] = {0, 0, 0, 1, 0, 0, 0, 2};
    assert_int_equal(load_dict("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", i8be, 8, -1, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[0], ((int64_t)1 << 32) + 2);
    itr_tensor_free(&t);
    /* unsigned: widened so no value changes sign */
    const uint8_t u2[] = {0xff, 0xff}, u4[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(load_dict("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", u2, 2, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_I32);
    assert_int_equal(((int32_t *)t.data)[0], 65535);
    itr_tensor_free(&t);
    assert_int_equal(load_dict("{'descr': '>u4', 'fortran_order': False, 'shape': (1,), }", u4, 4, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_I64);
    assert_int_equal(itr_i64(&t)[0], 4294967295LL);
    itr_tensor_free(&t);
    const uint8_t u8ok[] = {5, 0, 0, 0, 0, 0, 0, 0}, u8big[] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    assert_int_equal(load_dict("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", u8ok, 8, -1, &t), ITR_OK);
    assert_int_equal(itr_i64(&t)[0], 5);
    itr_tensor_free(&t);
    assert_int_equal(load_dict("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", u8big, 8, -1, &t), ITR_E_LIMIT);
    assert_non_null(strstr(itr_last_error(), "does not fit int64"));
    /* bool: any non-zero byte is True */
    const uint8_t b1[] = {0, 1, 2};
    assert_int_equal(load_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b1, 3, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_BOOL);
    assert_int_equal(((uint8_t *)t.data)[2], 1);
    itr_tensor_free(&t);
    /* conversion failure is reported with the file name */
    assert_int_equal(load_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b1, 3, ITR_F16, &t), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "mem.npy"));
}

static void test_records_and_fortran(void **state) {
    (void)state;
    itr_tensor t;
    /* GSMN ims_size as a record array: (2,) of (image_w, image_h) -> (2, 2) */
    const int64_t wh[] = {500, 375, 333, 500};
    assert_int_equal(load_dict("{'descr': [('image_w', '<i8'), ('image_h', '<i8')], 'fortran_order': False, "
                               "'shape': (2,), }", wh, sizeof wh, -1, &t), ITR_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[1], 2);
    assert_int_equal(itr_i64(&t)[2], 333);
    itr_tensor_free(&t);
    itr_npy_header h;
    assert_int_equal(header_of("{'descr': [('w', '<f4'), ('h', '<f4',),], 'fortran_order': False, 'shape': (), }", &h), ITR_OK);
    assert_int_equal(h.nfields, 2);
    assert_string_equal(h.field_names[1], "h");
    assert_int_equal(h.itemsize, 8);
    assert_int_equal(header_of("{'descr': [('w', '<f4'), ('h', '<i4')], 'fortran_order': False, 'shape': (), }", &h), ITR_E_UNSUPPORTED);
    assert_int_equal(header_of("{'descr': [('w', '<f4', (2,))], 'fortran_order': False, 'shape': (), }", &h), ITR_E_UNSUPPORTED);
    assert_int_equal(header_of("{'descr': [('w', '<f4'), ('w', '<f4')], 'fortran_order': False, 'shape': (), }", &h), ITR_E_FORMAT);
    assert_int_equal(header_of("{'descr': [('o', '|O')], 'fortran_order': False, 'shape': (), }", &h), ITR_E_UNSUPPORTED);
    assert_int_equal(header_of("{'descr': [('', '<f4')], 'fortran_order': False, 'shape': (), }", &h), ITR_E_UNSUPPORTED);
    assert_int_equal(header_of("{'descr': [], 'fortran_order': False, 'shape': (), }", &h), ITR_E_FORMAT);
    assert_int_equal(header_of("{'descr': [('a', '<f4') ('b', '<f4')], 'fortran_order': False, 'shape': (), }", &h), ITR_E_FORMAT);
    assert_int_equal(header_of("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1), }", &h), ITR_E_LIMIT);

    /* Fortran 3-D (2, 3, 4): element (i, j, k) = 100 i + 10 j + k stored with i fastest */
    int32_t fdata[24];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) fdata[i + 2 * (j + 3 * k)] = 100 * i + 10 * j + k;
    size_t n;
    uint8_t *b = make_npy(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", fdata, sizeof fdata, &n);
    assert_int_equal(itr_npy_load_mem(b, n, "f.npy", NULL, -1, &t), ITR_OK);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) assert_int_equal(((int32_t *)t.data)[(i * 3 + j) * 4 + k], 100 * i + 10 * j + k);
    itr_tensor_free(&t);
    char path[512];
    tmp_path(path, sizeof path, "fortran");
    write_all(path, b, n);
    itr_npy_file *f;
    assert_int_equal(itr_npy_open(path, NULL, &f), ITR_OK);
    assert_int_equal(itr_npy_read_rows(f, 1, 1, ITR_I64, &t), ITR_OK);
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) assert_int_equal(itr_i64(&t)[j * 4 + k], 100 + 10 * j + k);
    itr_tensor_free(&t);
    itr_npy_close(f);
    remove(path);
    free(b);

    /* Fortran record array (2, 2) of (a, b) int16, big-endian: records in F order */
    uint8_t rec[16];
    int vals[2][2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int fl = 0; fl < 2; fl++) {
                vals[i][j][fl] = 1000 * i + 100 * j + fl;
                int off = ((i + 2 * j) * 2 + fl) * 2;
                rec[off] = (uint8_t)(vals[i][j][fl] >> 8);
                rec[off + 1] = (uint8_t)(vals[i][j][fl] & 0xff);
            }
    assert_int_equal(load_dict("{'descr': [('a', '>i2'), ('b', '>i2')], 'fortran_order': True, 'shape': (2, 2), }",
                               rec, sizeof rec, ITR_I64, &t), ITR_OK);
    assert_int_equal(t.ndim, 3);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int fl = 0; fl < 2; fl++) assert_int_equal(itr_i64(&t)[(i * 2 + j) * 2 + fl], vals[i][j][fl]);
    itr_tensor_free(&t);
}

/* ---- header grammar ------------------------------------------------------ */
static void test_header_grammar(void **state) {
    (void)state;
    itr_npy_header h;
    /* accepted spellings */
    assert_int_equal(header_of("{\"shape\": (5000L, 36L, 2048l), \"fortran_order\": False, \"descr\": \"<f4\"}", &h), ITR_OK);
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.shape[0], 5000);
    assert_int_equal(h.numel, 5000LL * 36 * 2048);
    assert_int_equal(h.data_bytes, 5000ULL * 36 * 2048 * 4);
    assert_int_equal(header_of("  {'descr':'<f4','fortran_order':True,'shape':(3,)}   \t", &h), ITR_OK);
    assert_int_equal(h.fortran_order, 1);
    assert_int_equal(header_of("{'descr': '<f4',\n 'fortran_order': False,\n 'shape': ( 2 , 3 , ), }", &h), ITR_OK);
    assert_int_equal(h.ndim, 2);
    assert_int_equal(header_of("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", &h), ITR_OK);
    assert_int_equal(h.numel, 0);
    assert_int_equal(header_of("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", &h), ITR_OK);
    assert_int_equal(h.kind, 'O');
    assert_int_equal(h.data_bytes, 0);
    assert_int_equal(header_of("{'descr': '|u1', 'fortran_order': False, 'shape': (9223372036854775807,), }", &h), ITR_OK);

    /* rejected: each names what is wrong */
    struct { const char *dict; itr_status st; const char *msg; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False}", ITR_E_FORMAT, "missing key 'shape'"},
        {"{'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "missing key 'descr'"},
        {"{'descr': '<f4', 'shape': ()}", ITR_E_FORMAT, "missing key 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}", ITR_E_FORMAT, "unexpected key 'extra'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "duplicate key 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5)}", ITR_E_FORMAT, "not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-5,)}", ITR_E_FORMAT, "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (05,)}", ITR_E_FORMAT, "leading zero"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5 6)}", ITR_E_FORMAT, "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [5]}", ITR_E_FORMAT, "expected a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}", ITR_E_FORMAT, "non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", ITR_E_FORMAT, "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", ITR_E_LIMIT, "overflows int64"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", ITR_E_LIMIT, "data size"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", ITR_E_LIMIT, "rank above 8"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", ITR_E_FORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", ITR_E_FORMAT, "after '}'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "expected ',' or '}'"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "expected ':'"},
        {"['descr']", ITR_E_FORMAT, "expected '{'"},
        {"{descr: '<f4'}", ITR_E_FORMAT, "quoted string"},
        {"{'descr': '<f4", ITR_E_FORMAT, "unterminated"},
        {"{'de\\scr': '<f4'}", ITR_E_FORMAT, "escape"},
        {"{'descr': '<U5', 'fortran_order': False, 'shape': ()}", ITR_E_UNSUPPORTED, "'<U5' is not supported"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': ()}", ITR_E_UNSUPPORTED, "'<c8'"},
        {"{'descr': '<f3', 'fortran_order': False, 'shape': ()}", ITR_E_UNSUPPORTED, "'<f3'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "byte order '|'"},
        {"{'descr': '<f4x', 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "malformed dtype"},
        {"{'descr': '|O2', 'fortran_order': False, 'shape': ()}", ITR_E_FORMAT, "malformed dtype"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()", ITR_E_FORMAT, "expected ',' or '}'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        itr_status st = header_of(bad[i].dict, &h);
        if (st != bad[i].st || !strstr(itr_last_error(), bad[i].msg))
            fail_msg("header %s: got %s \"%s\", want %s \"%s\"", bad[i].dict, itr_status_name(st),
                     itr_last_error(), itr_status_name(bad[i].st), bad[i].msg);
        assert_non_null(strstr(itr_last_error(), "hdr.npy"));
    }
}

static void test_preamble(void **state) {
    (void)state;
    itr_npy_header h;
    size_t n;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
    uint8_t *b = make_npy(3, dict, "\0\0\x80\x3f", 4, &n);        /* v3.0: UTF-8 header */
    itr_tensor t;
    assert_int_equal(itr_npy_load_mem(b, n, "v3.npy", NULL, -1, &t), ITR_OK);
    assert_true(itr_f32(&t)[0] == 1.0f);
    itr_tensor_free(&t);
    b[6] = 4;
    assert_int_equal(itr_npy_parse_header(b, n, "v.npy", NULL, &h), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "version 4.0"));
    b[6] = 3; b[7] = 1;
    assert_int_equal(itr_npy_parse_header(b, n, "v.npy", NULL, &h), ITR_E_UNSUPPORTED);
    b[7] = 0; b[0] = 'X';
    assert_int_equal(itr_npy_parse_header(b, n, "v.npy", NULL, &h), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "magic"));
    b[0] = 0x93;
    assert_int_equal(itr_npy_parse_header(b, 11, NULL, NULL, &h), ITR_E_FORMAT);   /* v3 needs 12 */
    assert_non_null(strstr(itr_last_error(), "truncated preamble"));
    assert_int_equal(itr_npy_parse_header(b, 40, "v.npy", NULL, &h), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "truncated header"));
    /* header length bound (s5 rule 7): 10000 by default, caller may change it */
    itr_npy_opts o;
    itr_npy_opts_default(&o);
    o.max_header_len = 16;
    assert_int_equal(itr_npy_parse_header(b, n, "v.npy", &o, &h), ITR_E_LIMIT);
    assert_non_null(strstr(itr_last_error(), "above the bound 16"));
    b[10] = 0x01; b[11] = 0x00;  b[8] = 0; b[9] = 0;         /* 65536 > 10000 */
    assert_int_equal(itr_npy_parse_header(b, n, "v.npy", NULL, &h), ITR_E_LIMIT);
    free(b);
    /* truncated data section */
    b = make_npy(1, dict, "\0\0\x80\x3f", 4, &n);
    assert_int_equal(itr_npy_load_mem(b, n - 1, "cut.npy", NULL, -1, &t), ITR_E_FORMAT);
    assert_non_null(strstr(itr_last_error(), "cut.npy: truncated: header promises (1,) <f4 = 4 data bytes"));
    free(b);
}

/* Every prefix of every fixture fails cleanly; bit flips never crash. */
static void test_truncation_and_flips(void **state) {
    (void)state;
    const char *files[] = {"npy_v1_f32_scan_like.npy", "npy_v2_f32.npy", "npy_fortran_i64.npy",
                           "npy_bigendian_f4.npy", "npy_u1_segmap_like.npy", "npy_object_dicts.npy"};
    char path[512], tmp[512];
    tmp_path(tmp, sizeof tmp, "cut");
    int ok = 0, failed = 0;
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        snprintf(path, sizeof path, FIX "%s", files[fi]);
        size_t n;
        uint8_t *b = read_all(path, &n);
        int is_obj = strstr(files[fi], "object") != NULL;
        for (size_t len = 0; len < n; len++) {
            itr_tensor t;
            itr_status st = itr_npy_load_mem(b, len, files[fi], NULL, -1, &t);
            assert_true(st == ITR_E_FORMAT || (is_obj && st == ITR_E_UNSUPPORTED && len >= 128));
            if (len % 37 == 0) {                      /* the same through a file */
                write_all(tmp, b, len);
                assert_true(itr_npy_load(tmp, NULL, -1, &t) != ITR_OK);
            }
        }
        for (size_t pos = 0; pos < 128 && pos < n; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                b[pos] ^= (uint8_t)(1u << bit);
                itr_tensor t;
                if (itr_npy_load_mem(b, n, files[fi], NULL, -1, &t) == ITR_OK) {
                    ok++;
                    itr_tensor_free(&t);
                } else {
                    failed++;
                }
                b[pos] ^= (uint8_t)(1u << bit);
            }
        }
        free(b);
    }
    remove(tmp);
    printf("  bit flips in headers: %d loaded, %d rejected\n", ok, failed);
    assert_true(failed > ok);
}

/* ---- streaming, saving --------------------------------------------------- */
static void test_stream_and_save(void **state) {
    (void)state;
    /* a SCAN-like (N, R, D) feature file, shrunk: N = 50, R = 36, D = 16 */
    itr_tensor t, r;
    assert_int_equal(itr_tensor_alloc_f32(&t, 3, 50, 36, 16, 0), ITR_OK);
    for (int64_t i = 0; i < itr_tensor_numel(&t); i++) itr_f32(&t)[i] = (float)i * 0.5f - 7.0f;
    char path[512];
    tmp_path(path, sizeof path, "feat");
    assert_int_equal(itr_npy_save(path, &t), ITR_OK);
    itr_npy_file *f;
    assert_int_equal(itr_npy_open(path, NULL, &f), ITR_OK);
    const itr_npy_header *h = itr_npy_header_of(f);
    assert_int_equal(h->data_offset % 64, 0);
    assert_string_equal(h->descr, "<f4");
    float *buf = malloc(36 * 16 * sizeof(float));
    for (int64_t img = 49; img >= 0; img -= 7) {          /* out of order on purpose */
        assert_int_equal(itr_npy_read_rows_into(f, img, 1, ITR_F32, buf, 36 * 16 * sizeof(float)), ITR_OK);
        assert_memory_equal(buf, itr_f32(&t) + img * 36 * 16, 36 * 16 * sizeof(float));
    }
    free(buf);
    assert_int_equal(itr_npy_read_rows(f, 10, 5, -1, &r), ITR_OK);
    assert_int_equal(r.shape[0], 5);
    assert_memory_equal(r.data, itr_f32(&t) + 10 * 36 * 16, 5 * 36 * 16 * sizeof(float));
    itr_tensor_free(&r);
    assert_int_equal(itr_npy_read_rows(f, 50, 0, -1, &r), ITR_OK);     /* empty read is fine */
    assert_int_equal(r.shape[0], 0);
    itr_tensor_free(&r);
    itr_npy_close(f);
    itr_tensor_free(&t);

    /* round trip of every savable dtype, including 0-d and 1-d */
    itr_dtype types[] = {ITR_F32, ITR_F64, ITR_F16, ITR_I8, ITR_I16, ITR_I32, ITR_I64, ITR_U8, ITR_BOOL};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        for (int nd = 0; nd <= 2; nd++) {
            int64_t shape[2] = {3, 2};
            assert_int_equal(itr_tensor_alloc(&t, types[k], nd, shape), ITR_OK);
            uint8_t *p = t.data;
            for (size_t i = 0; i < itr_tensor_nbytes(&t); i++) p[i] = (uint8_t)(types[k] == ITR_BOOL ? i % 2 : i * 7 + 1);
            if (types[k] == ITR_F16) memset(p, 0, itr_tensor_nbytes(&t));
            assert_int_equal(itr_npy_save(path, &t), ITR_OK);
            assert_int_equal(itr_npy_load(path, NULL, -1, &r), ITR_OK);
            assert_int_equal(r.dtype, types[k]);
            assert_true(itr_shape_equal(r.ndim, r.shape, t.ndim, t.shape));
            assert_memory_equal(r.data, t.data, itr_tensor_nbytes(&t));
            if (nd == 0) {
                assert_int_equal(itr_npy_open(path, NULL, &f), ITR_OK);
                assert_int_equal(itr_npy_read_rows(f, 0, 1, -1, &r), ITR_E_SHAPE);
                itr_npy_close(f);
            }
            itr_tensor_free(&r);
            itr_tensor_free(&t);
        }
    }
    int64_t s1 = 2;
    assert_int_equal(itr_tensor_alloc(&t, ITR_BF16, 1, &s1), ITR_OK);
    assert_int_equal(itr_npy_save(path, &t), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_npy_save("/nonexistent-dir/x.npy", &t), ITR_E_UNSUPPORTED);
    itr_tensor_free(&t);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 1, &s1), ITR_OK);
    assert_int_equal(itr_npy_save("/nonexistent-dir/x.npy", &t), ITR_E_IO);
    itr_tensor_free(&t);
    remove(path);

    /* missing file, NULL path, bad want */
    assert_int_equal(itr_npy_load(ITR_SOURCE_DIR "/fixtures/formats/nope.npy", NULL, -1, &t), ITR_E_IO);
    assert_non_null(strstr(itr_last_error(), "nope.npy: cannot open"));
    assert_int_equal(itr_npy_open(NULL, NULL, &f), ITR_E_ARG);
    assert_int_equal(itr_npy_load(FIX "npy_v2_f32.npy", NULL, -2, &t), ITR_E_ARG);
    itr_pyobj *o;
    assert_int_equal(itr_npy_load_object(ITR_SOURCE_DIR "/fixtures/formats/nope.npy", NULL, &o), ITR_E_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_fixture_details),
        cmocka_unit_test(test_object_array),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_records_and_fortran),
        cmocka_unit_test(test_header_grammar),
        cmocka_unit_test(test_preamble),
        cmocka_unit_test(test_truncation_and_flips),
        cmocka_unit_test(test_stream_and_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
