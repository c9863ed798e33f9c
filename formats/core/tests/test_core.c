/* test_core.c - status, tensor, weights store and config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/config.h"
#include "itr/tensor.h"
#include "itr/weights.h"

static void test_status_message(void **state) {
    (void)state;
    itr_status st = itr_fail(ITR_E_KEY, "file %s: no key '%s'", "a.h5", "fc.weight");
    assert_int_equal(st, ITR_E_KEY);
    assert_string_equal(itr_last_error(), "file a.h5: no key 'fc.weight'");
    itr_fail_context(st, "loading %s", "model");
    assert_string_equal(itr_last_error(), "loading model: file a.h5: no key 'fc.weight'");
    assert_string_equal(itr_status_name(ITR_E_SHAPE), "ITR_E_SHAPE");
    assert_int_equal(itr_status_exit_code(ITR_OK), 0);
    assert_int_equal(itr_status_exit_code(ITR_E_MISMATCH), 1);
    assert_int_equal(itr_status_exit_code(ITR_E_SHAPE), 3);
    itr_clear_error();
    assert_string_equal(itr_last_error(), "");
}

static void test_tensor_alloc_views(void **state) {
    (void)state;
    itr_tensor t, v, r;
    assert_int_equal(itr_tensor_alloc_f32(&t, 3, 2, 3, 4, 0), ITR_OK);
    assert_int_equal(itr_tensor_numel(&t), 24);
    assert_int_equal(itr_tensor_nbytes(&t), 96);
    for (int i = 0; i < 24; i++) itr_f32(&t)[i] = (float)i;
    assert_int_equal(itr_tensor_index0(&t, 1, &v), ITR_OK);
    assert_int_equal(v.ndim, 2);
    assert_int_equal(v.shape[0], 3);
    assert_float_equal(itr_f32(&v)[0], 12.0f, 0);
    assert_int_equal(itr_tensor_slice0(&t, 1, 1, &v), ITR_OK);
    assert_int_equal(v.shape[0], 1);
    assert_float_equal(itr_f32(&v)[1], 13.0f, 0);
    assert_int_equal(itr_tensor_slice0(&t, 1, 2, &v), ITR_E_ARG);
    assert_int_equal(itr_tensor_slice0(&t, -1, 1, &v), ITR_E_ARG);
    assert_int_equal(itr_tensor_reshape(&t, 2, (int64_t[]){-1, 8}, &r), ITR_OK);
    assert_int_equal(r.shape[0], 3);
    assert_int_equal(itr_tensor_reshape(&t, 2, (int64_t[]){5, 5}, &r), ITR_E_SHAPE);
    assert_int_equal(itr_tensor_reshape(&t, 2, (int64_t[]){-1, 7}, &r), ITR_E_SHAPE);
    itr_tensor d;
    assert_int_equal(itr_tensor_convert(&t, ITR_F64, &d), ITR_OK);
    assert_true(itr_f64(&d)[23] == 23.0);
    itr_tensor i64;
    assert_int_equal(itr_tensor_convert(&d, ITR_I64, &i64), ITR_OK);
    assert_int_equal(itr_i64(&i64)[5], 5);
    char buf[64];
    assert_string_equal(itr_shape_str(t.ndim, t.shape, buf, sizeof buf), "(2, 3, 4)");
    assert_string_equal(itr_shape_str(1, t.shape, buf, sizeof buf), "(2,)");
    itr_tensor_free(&i64);
    itr_tensor_free(&d);
    itr_tensor_free(&t);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 2, (int64_t[]){-1, 2}), ITR_E_SHAPE);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 2, (int64_t[]){INT64_C(1) << 40, INT64_C(1) << 20}), ITR_E_LIMIT);
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}), ITR_E_LIMIT);
    assert_int_equal(itr_dtype_size(ITR_BF16), 2);
    assert_string_equal(itr_dtype_name(ITR_BOOL), "bool");
}

static void test_half_conversion(void **state) {
    (void)state;
    itr_tensor h;
    assert_int_equal(itr_tensor_alloc(&h, ITR_F16, 1, (int64_t[]){3}), ITR_OK);
    uint16_t *p = h.data;
    p[0] = 0x3c00; /* 1.0 */
    p[1] = 0xc000; /* -2.0 */
    p[2] = 0x0001; /* smallest subnormal 2^-24 */
    assert_true(itr_tensor_get(&h, 0) == 1.0);
    assert_true(itr_tensor_get(&h, 1) == -2.0);
    assert_true(itr_tensor_get(&h, 2) == 5.9604644775390625e-08);
    itr_tensor_free(&h);
    assert_int_equal(itr_tensor_alloc(&h, ITR_BF16, 1, (int64_t[]){1}), ITR_OK);
    ((uint16_t *)h.data)[0] = 0x3fc0; /* 1.5 */
    assert_true(itr_tensor_get(&h, 0) == 1.5);
    itr_tensor_free(&h);
}

static void test_weights_lookup_and_strict(void **state) {
    (void)state;
    itr_weights w;
    itr_tensor t;
    itr_weights_init(&w, "ckpt.pth.tar");
    assert_int_equal(itr_tensor_alloc_f32(&t, 2, 4, 3, 0, 0), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "0", "fc.weight", &t), ITR_OK);
    assert_null(t.data);
    assert_int_equal(itr_tensor_alloc_f32(&t, 1, 4, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "0", "fc.bias", &t), ITR_OK);
    assert_int_equal(itr_tensor_alloc_f32(&t, 1, 4, 0, 0, 0), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "0", "fc.bias", &t), ITR_E_FORMAT);
    itr_tensor_free(&t);
    assert_int_equal(itr_tensor_alloc(&t, ITR_I64, 0, NULL), ITR_OK);
    assert_int_equal(itr_weights_add(&w, "1", "bn.num_batches_tracked", &t), ITR_OK);
    assert_int_equal(itr_weights_group_count(&w), 2);
    assert_string_equal(itr_weights_group_name(&w, 1), "1");
    assert_null(itr_weights_group_name(&w, 2));

    itr_weights_begin(&w);
    const itr_tensor *out;
    assert_int_equal(itr_weights_get(&w, "0", "fc.weight", 2, (int64_t[]){4, 3}, &out), ITR_OK);
    assert_int_equal(itr_weights_get(&w, "0", "fc.weight", 2, (int64_t[]){4, 5}, &out), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "(4, 3)"));
    assert_non_null(strstr(itr_last_error(), "(4, 5)"));
    assert_int_equal(itr_weights_get(&w, "0", "fc.missing", 1, (int64_t[]){4}, &out), ITR_E_KEY);
    assert_int_equal(itr_weights_get(&w, "1", "bn.num_batches_tracked", -1, NULL, &out), ITR_E_DTYPE);
    assert_int_equal(itr_weights_finish(&w, ITR_STRICT), ITR_E_KEY);
    const char *msg = itr_last_error();
    assert_non_null(strstr(msg, "missing key 0/fc.missing"));
    assert_non_null(strstr(msg, "unexpected key 0/fc.bias"));
    assert_non_null(strstr(msg, "ckpt.pth.tar"));

    itr_weights_begin(&w);
    assert_non_null(itr_weights_f32(&w, "0", "fc.weight", 2, (int64_t[]){-1, 3}));
    assert_non_null(itr_weights_f32(&w, "0", "fc.bias", -1, NULL));
    itr_weights_ignore_suffix(&w, "1", "num_batches_tracked");
    assert_int_equal(itr_weights_finish(&w, ITR_STRICT), ITR_OK);
    itr_weights_begin(&w);
    assert_non_null(itr_weights_f32(&w, "0", "fc.weight", 2, (int64_t[]){-1, 3}));
    assert_int_equal(itr_weights_finish(&w, ITR_LENIENT), ITR_OK);
    assert_int_equal(itr_weights_finish(&w, ITR_STRICT), ITR_E_KEY);
    itr_weights_free(&w);
}

static void test_config(void **state) {
    (void)state;
    itr_config c;
    itr_config_init(&c);
    assert_int_equal(itr_config_set_int(&c, "num_layers", 2), ITR_OK);
    assert_int_equal(itr_config_set_float(&c, "margin", 0.2), ITR_OK);
    assert_int_equal(itr_config_set_bool(&c, "use_abs", 1), ITR_OK);
    assert_int_equal(itr_config_set_str(&c, "measure", "cosine"), ITR_OK);
    assert_int_equal(itr_config_set_none(&c, "resume"), ITR_OK);
    assert_int_equal(itr_config_set_list(&c, "lr_update", "[15, 30]"), ITR_OK);
    assert_int_equal(itr_config_set_str(&c, "measure", "order"), ITR_OK);
    assert_int_equal(c.n, 6);
    assert_int_equal(itr_config_int(&c, "num_layers", 1), 2);
    assert_int_equal(itr_config_int(&c, "absent", 7), 7);
    assert_true(itr_config_float(&c, "margin", 0) == 0.2);
    assert_true(itr_config_float(&c, "num_layers", 0) == 2.0);
    assert_int_equal(itr_config_bool(&c, "use_abs", 0), 1);
    assert_string_equal(itr_config_str(&c, "measure", "x"), "order");
    assert_string_equal(itr_config_str(&c, "resume", "dflt"), "dflt");
    int64_t v;
    assert_int_equal(itr_config_get_int(&c, "measure", 0, &v), ITR_E_DTYPE);
    assert_non_null(strstr(itr_last_error(), "opt.measure"));
    double d;
    assert_int_equal(itr_config_get_float(&c, "measure", 0, &d), ITR_E_DTYPE);
    const char *s;
    assert_int_equal(itr_config_get_str(&c, "margin", NULL, &s), ITR_E_DTYPE);
    int b;
    assert_int_equal(itr_config_get_bool(&c, "margin", 0, &b), ITR_E_DTYPE);
    assert_int_equal(itr_config_set_float(&c, "huge", 1e155), ITR_OK);
    assert_int_equal(itr_config_get_int(&c, "huge", 0, &v), ITR_E_DTYPE);
    assert_int_equal(itr_config_set_float(&c, "three", 3.0), ITR_OK);
    assert_int_equal(itr_config_int(&c, "three", 0), 3);
    assert_int_equal(itr_config_set_str(&c, "flag", "True"), ITR_OK);
    assert_int_equal(itr_config_bool(&c, "flag", 0), 1);
    itr_config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_message),
        cmocka_unit_test(test_tensor_alloc_views),
        cmocka_unit_test(test_half_conversion),
        cmocka_unit_test(test_weights_lookup_and_strict),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
