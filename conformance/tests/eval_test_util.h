/* eval_test_util.h - shared pieces of the end-to-end eval tests: the
 * working folders (eval_test_dir.h), the options of an expected.json, exact
 * recall checks and the sims.npy diff. */
#ifndef ITR_EVAL_TEST_UTIL_H
#define ITR_EVAL_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>

#include "itr/eval.h"
#include "itr/h5.h"
#include "itr/npy.h"

#include "eval_test_dir.h"   /* g_tmp, setup/teardown, enter(), EVAL_DIR */

/* Options from expected.json's itr_eval block (json null -> NULL). */
static void case_opts(json_t *root, itr_eval_opts *o) {
    json_t *ev = json_object_get(root, "itr_eval");
    itr_eval_opts_default(o);
    o->checkpoint = json_string_value(json_object_get(ev, "checkpoint"));
    o->ensemble = json_string_value(json_object_get(ev, "ensemble"));
    o->data = json_string_value(json_object_get(ev, "data"));
    o->split = json_string_value(json_object_get(ev, "split"));
    o->fold5 = json_is_true(json_object_get(ev, "fold5"));
}

static void check_recall(json_t *want, const itr_recall *got, const char *dir) {
    const char *keys[5] = {"r1", "r5", "r10", "medr", "meanr"};
    double vals[5] = {got->r1, got->r5, got->r10, got->medr, got->meanr};
    for (int k = 0; k < 5; k++) {
        double w = json_real_value(json_object_get(want, keys[k]));
        printf("  %s %-5s itr %.17g upstream %.17g abs err %.3g\n", dir, keys[k], vals[k], w, fabs(vals[k] - w));
        assert_true(vals[k] == w);
    }
}

/* Max abs / rel difference of the saved (n_img, n_cap) matrix's leading
 * block from sims.npy. */
static double sims_err(const char *h5, const char *npy) {
    itr_h5 *f;
    itr_tensor s, ref;
    assert_int_equal(itr_h5_open(h5, &f), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/sims", ITR_F64, NULL, &s), ITR_OK);
    itr_h5_close(f);
    assert_int_equal(itr_npy_load(npy, NULL, ITR_F64, &ref), ITR_OK);
    assert_true(s.shape[0] >= ref.shape[0]);
    assert_true(s.shape[1] >= ref.shape[1]);
    double max_abs = 0, max_rel = 0;
    for (int64_t i = 0; i < ref.shape[0]; i++)
        for (int64_t k = 0; k < ref.shape[1]; k++) {
            double g = itr_f64(&s)[i * s.shape[1] + k], w = itr_f64(&ref)[i * ref.shape[1] + k], e = fabs(g - w);
            if (e > max_abs) max_abs = e;
            if (w != 0 && e / fabs(w) > max_rel) max_rel = e / fabs(w);
        }
    printf("  sims vs %s: max abs err %.3g, max rel err %.3g\n", npy, max_abs, max_rel);
    itr_tensor_free(&s);
    itr_tensor_free(&ref);
    return max_abs;
}

#endif
