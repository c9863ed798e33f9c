/* test_conform.c - the case runner: comparison rule, NOT CHECKED outputs, and
 * one-line errors for bad cases (each built here as a small .h5). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "itr/conform.h"
#include "itr/h5.h"

static char g_path[256];

/* Writes a metrics case: sims (n_img, n_cap) with a clear diagonal, and the
 * outputs listed (values deliberately as given). */
static void write_metrics_case(const char *path, int64_t n_img, int64_t n_cap, itr_dtype sims_dtype,
                               int with_model_attr) {
    itr_h5 *f;
    itr_tensor s;
    assert_int_equal(itr_h5_create(path, &f), ITR_OK);
    if (with_model_attr) assert_int_equal(itr_h5_set_attr_str(f, "/", "model", "metrics"), ITR_OK);
    assert_int_equal(itr_tensor_alloc(&s, sims_dtype, 2, (int64_t[]){n_img, n_cap}), ITR_OK);
    for (int64_t i = 0; i < n_img; i++)
        for (int64_t c = 0; c < n_cap; c++) {
            double v = (c / 5 == i) ? 1.0 + 0.01 * (double)c : 0.001 * (double)(i * n_cap + c);
            if (sims_dtype == ITR_F32) itr_f32(&s)[i * n_cap + c] = (float)v;
            else if (sims_dtype == ITR_F64) itr_f64(&s)[i * n_cap + c] = v;
            else itr_i64(&s)[i * n_cap + c] = (int64_t)(v * 1000);
        }
    assert_int_equal(itr_h5_write(f, "/inputs/sims", &s), ITR_OK);
    itr_tensor_free(&s);
    /* perfect retrieval: R@K = 100, medr = 1, meanr = 1 */
    itr_tensor r;
    assert_int_equal(itr_tensor_alloc(&r, ITR_F64, 1, (int64_t[]){5}), ITR_OK);
    double want[5] = {100, 100, 100, 1, 1};
    memcpy(r.data, want, sizeof want);
    assert_int_equal(itr_h5_write(f, "/outputs/i2t", &r), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/outputs/t2i", &r), ITR_OK);
    itr_tensor_free(&r);
    itr_h5_close(f);
}

static void test_compare_rule(void **state) {
    (void)state;
    double want[4] = {1.0, -2.0, 0.0, NAN}, got[4] = {1.0 + 1e-5, -2.0, 1e-6, NAN};
    itr_conform_row row;
    memset(&row, 0, sizeof row);
    itr_compare_arrays(want, got, 4, 1e-5, 1e-4, 0, &row);
    assert_int_equal(row.n_bad, 0);
    assert_true(row.max_abs > 9e-6 && row.max_abs < 1.1e-5);
    itr_compare_arrays(want, got, 4, 1e-5, 1e-4, 1, &row);
    assert_int_equal(row.n_bad, 2);
    got[3] = 0.0;
    itr_compare_arrays(want, got, 4, 1e-5, 1e-4, 0, &row);
    assert_int_equal(row.n_bad, 1);
    assert_int_equal(row.worst_index, 3);
    double w2[2] = {INFINITY, 100.0}, g2[2] = {INFINITY, 100.02};
    itr_compare_arrays(w2, g2, 2, 1e-5, 1e-4, 0, &row);
    assert_int_equal(row.n_bad, 1);
    assert_int_equal(row.worst_index, 1);
}

static void test_metrics_case_and_not_checked(void **state) {
    (void)state;
    itr_conform_report rep;
    write_metrics_case(g_path, 2, 10, ITR_F32, 1);
    assert_int_equal(itr_conform_run(g_path, NULL, &rep), ITR_OK);
    assert_true(rep.passed);
    assert_int_equal(rep.n_pass, 2);
    itr_conform_report_free(&rep);

    /* a case that names no family */
    write_metrics_case(g_path, 2, 10, ITR_F32, 0); /* kind-less, model-less: unknown family */
    assert_int_not_equal(itr_conform_run(g_path, NULL, &rep), ITR_OK);
    assert_non_null(strstr(itr_last_error(), "model"));
    itr_conform_report_free(&rep);
}

static void expect_error(const char *what, itr_status want_at_least_nonzero, const char *needle) {
    itr_conform_report rep;
    itr_status st = itr_conform_run(g_path, NULL, &rep);
    (void)want_at_least_nonzero;
    if (st == ITR_OK) fail_msg("%s: expected an error", what);
    if (!strstr(itr_last_error(), needle)) fail_msg("%s: message '%s' lacks '%s'", what, itr_last_error(), needle);
    if (!strstr(itr_last_error(), g_path)) fail_msg("%s: message '%s' does not name the file", what, itr_last_error());
    assert_null(strchr(itr_last_error(), '\n'));
    itr_conform_report_free(&rep);
}

static void test_bad_cases(void **state) {
    (void)state;
    itr_conform_report rep;
    /* missing file */
    snprintf(g_path, sizeof g_path, "/tmp/itr_no_such_case_%d.h5", (int)getpid());
    assert_int_not_equal(itr_conform_run(g_path, NULL, &rep), ITR_OK);
    assert_non_null(strstr(itr_last_error(), g_path));
    itr_conform_report_free(&rep);
    snprintf(g_path, sizeof g_path, "/tmp/itr_test_conform_%d.h5", (int)getpid());

    write_metrics_case(g_path, 2, 9, ITR_F32, 1); /* n_cap != 5 n_img */
    expect_error("n_cap != 5 n_img", ITR_E_SHAPE, "5");
    write_metrics_case(g_path, 2, 10, ITR_I64, 1); /* wrong dtype */
    expect_error("integer sims", ITR_E_DTYPE, "/inputs/sims");
    write_metrics_case(g_path, 0, 0, ITR_F32, 1); /* empty */
    expect_error("empty sims", ITR_E_SHAPE, "/inputs/sims");

    /* wrong rank and missing dataset */
    itr_h5 *f;
    itr_tensor v;
    assert_int_equal(itr_h5_create(g_path, &f), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "model", "metrics"), ITR_OK);
    assert_int_equal(itr_tensor_alloc(&v, ITR_F32, 1, (int64_t[]){10}), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/inputs/sims", &v), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/outputs/rsum", &v), ITR_OK);
    itr_h5_close(f);
    expect_error("rank-1 sims", ITR_E_SHAPE, "/inputs/sims");
    assert_int_equal(itr_h5_create(g_path, &f), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "model", "metrics"), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/outputs/rsum", &v), ITR_OK);
    itr_h5_close(f);
    expect_error("missing /inputs/sims", ITR_E_KEY, "/inputs/sims");
    /* unknown family */
    assert_int_equal(itr_h5_create(g_path, &f), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "model", "no_such_family"), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/outputs/rsum", &v), ITR_OK);
    itr_h5_close(f);
    expect_error("unknown family", ITR_E_UNSUPPORTED, "no_such_family");
    /* a checkpoint that does not exist */
    assert_int_equal(itr_h5_create(g_path, &f), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "model", "vsepp"), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(f, "/", "checkpoint", "nope.pth.tar"), ITR_OK);
    assert_int_equal(itr_h5_write(f, "/outputs/rsum", &v), ITR_OK);
    itr_h5_close(f);
    expect_error("missing checkpoint", ITR_E_IO, "nope.pth.tar");
    itr_tensor_free(&v);
    unlink(g_path);
}

static void test_shape_mismatch_row(void **state) {
    (void)state;
    itr_conform_report rep;
    itr_h5 *g;
    itr_tensor r, s;
    /* rsum golden of shape (2,) where the family reports a 0-d value */
    snprintf(g_path, sizeof g_path, "/tmp/itr_test_conform_shape_%d.h5", (int)getpid());
    assert_int_equal(itr_h5_create(g_path, &g), ITR_OK);
    assert_int_equal(itr_h5_set_attr_str(g, "/", "model", "metrics"), ITR_OK);
    assert_int_equal(itr_tensor_alloc(&s, ITR_F64, 2, (int64_t[]){1, 5}), ITR_OK);
    itr_f64(&s)[0] = 1.0;
    assert_int_equal(itr_tensor_alloc(&r, ITR_F64, 1, (int64_t[]){2}), ITR_OK);
    assert_int_equal(itr_h5_write(g, "/inputs/sims", &s), ITR_OK);
    assert_int_equal(itr_h5_write(g, "/outputs/rsum", &r), ITR_OK);
    assert_int_equal(itr_h5_write(g, "/outputs/zzz_unknown", &r), ITR_OK);
    itr_h5_close(g);
    assert_int_equal(itr_conform_run(g_path, NULL, &rep), ITR_OK);
    assert_false(rep.passed);
    assert_int_equal(rep.n_rows, 2);
    assert_int_equal(rep.rows[0].status, ITR_ROW_SHAPE);
    /* an output no family computes is NOT CHECKED and fails the case */
    assert_int_equal(rep.rows[1].status, ITR_ROW_NOT_CHECKED);
    assert_int_equal(rep.n_not_checked, 1);
    itr_conform_report_free(&rep);
    itr_tensor_free(&r);
    itr_tensor_free(&s);
    unlink(g_path);
}

int main(void) {
    snprintf(g_path, sizeof g_path, "/tmp/itr_test_conform_%d.h5", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_rule),
        cmocka_unit_test(test_metrics_case_and_not_checked),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_shape_mismatch_row),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(g_path);
    return rc;
}
