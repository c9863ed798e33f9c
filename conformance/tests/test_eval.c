/* test_eval.c - the eval engine end to end on fixtures/eval/vsepp_f30k_small
 * (numbers must equal upstream's expected.json exactly), the fold5 and
 * ensemble paths, --save-sims against sims.npy, and the error messages for
 * missing split files, a mismatched .npy, a missing vocabulary. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "itr/eval.h"
#include "itr/h5.h"
#include "itr/npy.h"

#define CASE ITR_SOURCE_DIR "/fixtures/eval/vsepp_f30k_small"

static char g_tmp[64];

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/itr_eval_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    return chdir(CASE);   /* upstream ran from the case folder: ./vocab/ */
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void base_opts(itr_eval_opts *o) {
    itr_eval_opts_default(o);
    o->checkpoint = "model_best.pth.tar";
    o->data = "data";
    o->split = "test";
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

static void test_matches_expected(void **state) {
    (void)state;
    json_error_t err;
    json_t *root = json_load_file("expected.json", 0, &err);
    assert_non_null(root);
    json_t *exp = json_object_get(root, "expected");
    itr_eval_opts o;
    itr_eval_result r;
    base_opts(&o);
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_string_equal(r.family, "vsepp");
    assert_string_equal(r.data_name, "f30k_precomp");
    json_t *data = json_object_get(root, "data");
    assert_int_equal(r.n_images, json_integer_value(json_object_get(data, "n_images")));
    assert_int_equal(r.n_captions, json_integer_value(json_object_get(data, "n_captions")));
    assert_int_equal(r.n_unk, json_integer_value(json_object_get(data, "n_unk_tokens")));
    assert_int_equal(r.im_div, 5);
    check_recall(json_object_get(exp, "i2t"), &r.metrics.i2t, "i2t");
    check_recall(json_object_get(exp, "t2i"), &r.metrics.t2i, "t2i");
    assert_true(r.metrics.rsum == json_real_value(json_object_get(exp, "rsum")));
    assert_true(fabs(r.metrics.ar - json_real_value(json_object_get(exp, "ar"))) < 1e-12);
    assert_true(fabs(r.metrics.ari - json_real_value(json_object_get(exp, "ari"))) < 1e-12);
    json_decref(root);
}

/* Small batches and shards, a detected-by-name family, an explicit vocab and
 * an ensemble of the checkpoint with itself: the same numbers. --save-sims
 * holds the matrix of sims.npy (images [0,100) x captions [0,500)). */
static void test_batches_ensemble_save(void **state) {
    (void)state;
    itr_eval_opts o;
    itr_eval_result a, b;
    base_opts(&o);
    assert_int_equal(itr_eval_run(&o, &a), ITR_OK);
    char h5[96];
    snprintf(h5, sizeof h5, "%s/sims.h5", g_tmp);
    o.batch_size = 7;
    o.shard_rows = 13;
    o.model = "vsepp";
    o.vocab = "vocab/f30k_precomp_vocab.pkl";
    o.ensemble = "model_best.pth.tar";
    o.save_sims = h5;
    assert_int_equal(itr_eval_run(&o, &b), ITR_OK);
    assert_memory_equal(&a.metrics, &b.metrics, sizeof a.metrics);

    itr_h5 *f;
    itr_tensor s, ref;
    assert_int_equal(itr_h5_open(h5, &f), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/sims", ITR_F64, NULL, &s), ITR_OK);
    itr_h5_close(f);
    assert_int_equal(s.shape[0], 300);
    assert_int_equal(s.shape[1], 1500);
    assert_int_equal(itr_npy_load("sims.npy", NULL, ITR_F64, &ref), ITR_OK);
    double max_abs = 0, max_rel = 0;
    for (int64_t i = 0; i < ref.shape[0]; i++)
        for (int64_t c = 0; c < ref.shape[1]; c++) {
            double g = itr_f64(&s)[i * 1500 + c], w = itr_f64(&ref)[i * ref.shape[1] + c], e = fabs(g - w);
            if (e > max_abs) max_abs = e;
            if (w != 0 && e / fabs(w) > max_rel) max_rel = e / fabs(w);
        }
    printf("  sims vs sims.npy: max abs err %.3g, max rel err %.3g\n", max_abs, max_rel);
    assert_true(max_abs < 5e-6);   /* expected.json ties.eps_final */
    itr_tensor_free(&s);
    itr_tensor_free(&ref);
}

/* fold5: 5 folds of 60 images; the mean is the field-wise mean. */
static void test_fold5(void **state) {
    (void)state;
    itr_eval_opts o;
    itr_eval_result r;
    base_opts(&o);
    o.fold5 = 1;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_int_equal(r.folds, 5);
    double s = 0;
    for (int q = 0; q < 5; q++) s += r.fold_metrics[q].i2t.r1;
    assert_true(fabs(s / 5 - r.metrics.i2t.r1) < 1e-9);
    assert_true(r.metrics.i2t.r1 >= 32.0); /* 60 images per fold rank no worse than 300 */
}

static void expect_fail(const itr_eval_opts *o, itr_status want, const char *text) {
    itr_eval_result r;
    itr_status st = itr_eval_run(o, &r);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), text));
}

static void write_precomp(const char *dir, int64_t rows, int64_t dim, int lines) {
    char path[160];
    snprintf(path, sizeof path, "mkdir -p '%s/f30k_precomp'", dir);
    assert_int_equal(system(path), 0);
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc_f32(&t, 2, rows, dim, 0, 0), ITR_OK);
    for (int64_t k = 0; k < rows * dim; k++) itr_f32(&t)[k] = (float)(k % 7) * 0.1f;
    snprintf(path, sizeof path, "%s/f30k_precomp/test_ims.npy", dir);
    assert_int_equal(itr_npy_save(path, &t), ITR_OK);
    itr_tensor_free(&t);
    snprintf(path, sizeof path, "%s/f30k_precomp/test_caps.txt", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < lines; i++) fprintf(f, "A man rides a horse .\r\n");
    fclose(f);
}

static void test_errors(void **state) {
    (void)state;
    itr_eval_opts o;
    base_opts(&o);
    o.split = "dev";                       /* no dev_*.{npy,txt} in the case */
    expect_fail(&o, ITR_E_IO, "dev_caps.txt");
    base_opts(&o);
    o.vocab = "vocab/missing.pkl";
    expect_fail(&o, ITR_E_IO, "vocab/missing.pkl");
    base_opts(&o);
    o.checkpoint = NULL;
    expect_fail(&o, ITR_E_ARG, "no checkpoint");
    base_opts(&o);
    o.model = "nosuch";
    expect_fail(&o, ITR_E_UNSUPPORTED, "nosuch");
    base_opts(&o);
    o.checkpoint = "nothere.pth.tar";
    expect_fail(&o, ITR_E_IO, "nothere.pth.tar");
    base_opts(&o);   /* a family `itr eval` does not detect */
    o.checkpoint = ITR_SOURCE_DIR "/fixtures/semscene/semscene_triplet_small.pth.tar";
    expect_fail(&o, ITR_E_UNSUPPORTED, "try --model");
    o.checkpoint = ITR_SOURCE_DIR "/fixtures/scan/scan_i2t_avg_small.pth.tar";   /* SCAN: VSE++'s keys, */
    o.model = "vsepp";   /* forced: its bidirectional GRU keys are unexpected */
    {
        itr_eval_result r;
        itr_status st = itr_eval_run(&o, &r);
        printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
        assert_int_not_equal(st, ITR_OK);
        assert_non_null(strstr(itr_last_error(), "loading VSE++"));
        assert_non_null(strstr(itr_last_error(), "rnn.weight_ih_l0_reverse"));
    }

    char dir[96];
    snprintf(dir, sizeof dir, "%s/rows", g_tmp);
    write_precomp(dir, 2, 40, 15);         /* 15 captions need 3 image rows */
    base_opts(&o);
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "test_ims.npy (2 rows)");
    snprintf(dir, sizeof dir, "%s/dim", g_tmp);
    write_precomp(dir, 3, 9, 15);          /* the checkpoint wants img_dim 40 */
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "img_dim 40");
    snprintf(dir, sizeof dir, "%s/ok", g_tmp);
    write_precomp(dir, 15, 40, 15);        /* one row per caption: im_div 1 */
    o.data = dir;
    itr_eval_result r;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_int_equal(r.im_div, 1);
    assert_int_equal(r.n_images, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_expected),
        cmocka_unit_test(test_batches_ensemble_save),
        cmocka_unit_test(test_fold5),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
