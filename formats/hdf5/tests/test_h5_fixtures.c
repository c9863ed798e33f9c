/* test_h5_fixtures.c - reading the sample and golden HDF5 files made by h5py.
 *
 * Expected values were read off with h5dump (-m %.9g) or follow from how the
 * samples were generated (fixtures/formats/README.md: values = arange/8 or
 * arange/16); where a file states an equation (outputs/y = x W^T + b, sims =
 * img_emb cap_emb^T, rsum = sum of the recalls) the test recomputes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "h5_test_util.h"

static itr_h5 *open_ok(const char *path) {
    itr_h5 *f = NULL;
    itr_status st = itr_h5_open(path, &f);
    if (st) print_error("%s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_non_null(f);
    assert_string_equal(itr_h5_path(f), path);
    return f;
}

static void expect_attr_str(itr_h5 *f, const char *obj, const char *name, const char *want) {
    char *s = NULL;
    assert_int_equal(itr_h5_attr_str(f, obj, name, &s), ITR_OK);
    assert_string_equal(s, want);
    free(s);
}

/* formats.md s4.4 sample: a linear forward with its weights and tolerances. */
static void test_fixture_example(void **state) {
    (void)state;
    itr_h5 *f = open_ok(FIXTURE("formats/h5_fixture_example.h5"));
    expect_attr_str(f, "/", "itr_kind", "fixture");
    expect_attr_str(f, "/", "model", "scan");
    expect_attr_str(f, "/", "op", "linear");
    expect_attr_str(f, "/weights/0", "role", "img_enc");
    expect_attr_str(f, "/weights/0/fc.weight", "torch_dtype", "torch.float32");
    int64_t ver = 0;
    assert_int_equal(itr_h5_attr_i64(f, "/", "itr_version", &ver), ITR_OK);   /* stored int32 */
    assert_int_equal(ver, 1);
    double v = 0, rtol = 0, atol = 0;
    assert_int_equal(itr_h5_attr_f64(f, "/", "itr_version", &v), ITR_OK);     /* int -> float ok */
    assert_true(v == 1.0);
    assert_int_equal(itr_h5_attr_f64(f, "/", "rtol", &rtol), ITR_OK);
    assert_int_equal(itr_h5_attr_f64(f, "/outputs/y", "atol", &atol), ITR_OK);
    assert_true(rtol == 1e-5);
    assert_true(atol == 2e-6);
    assert_true(itr_h5_attr_exists(f, "/outputs/y", "atol"));
    assert_false(itr_h5_attr_exists(f, "/outputs/y", "rtol"));
    assert_false(itr_h5_attr_exists(f, "/nothing", "rtol"));
    assert_true(itr_h5_exists(f, "/"));
    assert_true(itr_h5_exists(f, "/weights/0/fc.bias"));
    assert_true(itr_h5_exists(f, "outputs/y"));                 /* relative to the root */
    assert_true(itr_h5_exists(f, "//outputs//y"));
    assert_false(itr_h5_exists(f, "/outputs/y/deeper"));        /* below a dataset */
    assert_false(itr_h5_exists(f, "/outputs/z"));
    assert_false(itr_h5_exists(f, ""));

    char **names = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_list(f, "/", &names, &n), ITR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "inputs");
    assert_string_equal(names[1], "outputs");
    assert_string_equal(names[2], "weights");
    itr_h5_free_names(names, n);
    assert_int_equal(itr_h5_list(f, "/weights/0", &names, &n), ITR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "fc.bias");                  /* name order, dots verbatim */
    assert_string_equal(names[1], "fc.weight");
    itr_h5_free_names(names, n);

    itr_dtype dt;
    int nd = -1;
    int64_t shape[ITR_MAX_DIMS];
    assert_int_equal(itr_h5_info(f, "/inputs/x", &dt, &nd, shape), ITR_OK);
    assert_int_equal(dt, ITR_F32);
    assert_int_equal(nd, 2);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 6);

    itr_tensor x, w, b, y;
    itr_h5_read_opts o2 = {2, (const int64_t[]){3, -1}, 0};
    assert_int_equal(itr_h5_read(f, "/inputs/x", ITR_F64, &o2, &x), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/weights/0/fc.weight", ITR_F64, NULL, &w), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/weights/0/fc.bias", ITR_F64, NULL, &b), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/outputs/y", ITR_F64, NULL, &y), ITR_OK);
    assert_true(itr_f64(&x)[1] == 0.0625 && itr_f64(&x)[17] == 0.5625);
    assert_true(itr_f64(&w)[23] == 2.875);
    assert_true(itr_f64(&b)[3] == 0.375);
    assert_true(itr_f64(&y)[0] == 0.1484375);
    /* y = x W^T + b, recomputed: a check that every element was read in place. */
    double want[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            double s = itr_f64(&b)[j];
            for (int k = 0; k < 6; k++) s += itr_f64(&x)[i * 6 + k] * itr_f64(&w)[j * 6 + k];
            want[i * 4 + j] = s;
        }
    assert_true(close_enough("fixture_example y", itr_f64(&y), want, 12, atol, rtol));
    itr_tensor_free(&x);
    itr_tensor_free(&w);
    itr_tensor_free(&b);
    itr_tensor_free(&y);
    itr_h5_close(f);
}

/* formats.md s4.2 sample: converted checkpoint, config attributes, 0-d int64. */
static void test_weights_example(void **state) {
    (void)state;
    itr_h5 *f = open_ok(FIXTURE("formats/h5_weights_example.h5"));
    expect_attr_str(f, "/", "itr_kind", "weights");
    expect_attr_str(f, "/", "container", "torch-zip");
    expect_attr_str(f, "/config", "raw_feature_norm", "clipped_l2norm");
    int64_t epoch = 0, eiters = 0, embed = 0, maxv = 0;
    double rsum = 0, margin = 0;
    assert_int_equal(itr_h5_attr_i64(f, "/", "epoch", &epoch), ITR_OK);
    assert_int_equal(itr_h5_attr_i64(f, "/", "Eiters", &eiters), ITR_OK);
    assert_int_equal(itr_h5_attr_f64(f, "/", "best_rsum", &rsum), ITR_OK);
    assert_int_equal(itr_h5_attr_i64(f, "/config", "embed_size", &embed), ITR_OK);
    assert_int_equal(itr_h5_attr_i64(f, "/config", "max_violation", &maxv), ITR_OK);   /* int8 */
    assert_int_equal(itr_h5_attr_f64(f, "/config", "margin", &margin), ITR_OK);
    assert_int_equal(epoch, 3);
    assert_int_equal(eiters, 100);
    assert_int_equal(embed, 4);
    assert_int_equal(maxv, 1);
    assert_true(rsum == 500.1);
    assert_true(margin == 0.2);
    char *json = NULL;
    assert_int_equal(itr_h5_attr_str(f, "/config", "_json", &json), ITR_OK);
    assert_non_null(strstr(json, "\"embed_size\": 4"));
    free(json);

    itr_weights w;
    itr_weights_init(&w, NULL);
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_OK);
    assert_int_equal(w.n, 12);
    assert_string_equal(w.source, itr_h5_path(f));
    assert_int_equal(itr_weights_group_count(&w), 2);
    assert_string_equal(itr_weights_group_name(&w, 0), "0");
    assert_string_equal(itr_weights_group_name(&w, 1), "1");
    const itr_weight_entry *e = itr_weights_find(&w, "1", "bn.num_batches_tracked");
    assert_non_null(e);
    assert_int_equal(e->t.dtype, ITR_I64);
    assert_int_equal(e->t.ndim, 0);
    assert_int_equal(itr_i64(&e->t)[0], 7);
    itr_weights_begin(&w);
    const itr_tensor *t = NULL;
    assert_int_equal(itr_weights_get(&w, "1", "rnn.weight_ih_l0", 2, (const int64_t[]){12, 3}, &t), ITR_OK);
    for (int i = 0; i < 36; i++) assert_true(itr_f32(t)[i] == (float)i / 8.0f);   /* arange/8 */
    assert_int_equal(itr_weights_get(&w, "0", "fc.weight", 2, (const int64_t[]){4, 6}, &t), ITR_OK);
    assert_true(itr_f32(t)[23] == 2.875f);
    e = itr_weights_find(&w, "1", "bn.running_var");
    assert_non_null(e);
    assert_true(itr_f32(&e->t)[0] == 1.0f && itr_f32(&e->t)[3] == 1.0f);
    itr_weights_free(&w);
    itr_h5_close(f);
}

/* formats.md s4.3 sample: chunked images read row by row, strings, ragged ids. */
static void test_features_example(void **state) {
    (void)state;
    itr_h5 *f = open_ok(FIXTURE("formats/h5_features_example.h5"));
    expect_attr_str(f, "/", "itr_kind", "features");
    expect_attr_str(f, "/", "split", "test");
    int64_t im_div = 0;
    assert_int_equal(itr_h5_attr_i64(f, "/", "im_div", &im_div), ITR_OK);
    assert_int_equal(im_div, 5);

    itr_tensor row, all;
    assert_int_equal(itr_h5_read_rows(f, "/images", ITR_F32, 1, 1, &row), ITR_OK);
    assert_int_equal(row.ndim, 3);
    assert_int_equal(row.shape[0], 1);
    assert_int_equal(row.shape[1], 36);
    assert_int_equal(row.shape[2], 4);
    assert_true(itr_f32(&row)[0] == 9.0f);               /* images.flat[144] = 144/16 */
    assert_true(itr_f32(&row)[143] == 17.9375f);         /* (1, 35, 3) = 287/16 */
    itr_h5_read_opts o3 = {3, (const int64_t[]){2, 36, 4}, 0};
    assert_int_equal(itr_h5_read(f, "/images", ITR_F32, &o3, &all), ITR_OK);
    for (int i = 0; i < 288; i++) assert_true(itr_f32(&all)[i] == (float)i / 16.0f);
    assert_memory_equal(itr_f32(&all) + 144, itr_f32(&row), 144 * sizeof(float));
    itr_tensor_free(&row);
    assert_int_equal(itr_h5_read_rows(f, "/images", ITR_F64, 0, 2, &row), ITR_OK);
    assert_int_equal(row.shape[0], 2);
    assert_true(itr_f64(&row)[287] == 17.9375);
    itr_tensor_free(&row);
    assert_int_equal(itr_h5_read_rows(f, "/images", ITR_F32, 2, 0, &row), ITR_OK);   /* empty range */
    assert_int_equal(row.shape[0], 0);
    assert_int_equal(itr_tensor_numel(&row), 0);
    itr_tensor_free(&row);
    itr_tensor_free(&all);

    char **text = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_read_strings(f, "/captions/text", &text, &n), ITR_OK);
    assert_int_equal(n, 10);
    assert_string_equal(text[0], "a man in an orange hat .");
    assert_string_equal(text[9], "two dogs play .");
    itr_h5_free_names(text, n);

    itr_tensor ids, off;
    assert_int_equal(itr_h5_read(f, "/captions/token_ids", ITR_I64, NULL, &ids), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/captions/offsets", ITR_I64, NULL, &off), ITR_OK);
    assert_int_equal(off.shape[0], 11);
    assert_int_equal(itr_i64(&off)[10], ids.shape[0]);
    const int64_t cap1[5] = {1, 4, 6, 7, 2};             /* offsets 4..9 */
    assert_int_equal(itr_i64(&off)[1], 4);
    assert_int_equal(itr_i64(&off)[2], 9);
    assert_memory_equal(itr_i64(&ids) + 4, cap1, sizeof cap1);
    itr_tensor_free(&ids);
    itr_tensor_free(&off);
    itr_h5_close(f);
}

/* Golden recall fixture: float64 outputs, a 0-d rsum, ranks stored as float64. */
static void test_metrics_golden(void **state) {
    (void)state;
    itr_h5 *f = open_ok(FIXTURE("metrics/metrics_small.h5"));
    expect_attr_str(f, "/", "kind", "recall");
    expect_attr_str(f, "/", "upstream", "Paranioar/SGRAF evaluation.i2t/t2i");
    itr_tensor sims, i2t, t2i, rsum, ranks;
    itr_h5_read_opts o2 = {2, (const int64_t[]){20, 100}, 0};
    assert_int_equal(itr_h5_read(f, "/inputs/sims", ITR_F32, &o2, &sims), ITR_OK);
    assert_true(itr_f32(&sims)[0] == 3.06036949f);
    assert_true(itr_f32(&sims)[19 * 100 + 96] == 1.38620365f);
    assert_int_equal(itr_h5_read(f, "/outputs/i2t", ITR_F64, NULL, &i2t), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/outputs/t2i", ITR_F64, NULL, &t2i), ITR_OK);
    itr_h5_read_opts scalar = {0, NULL, 0};
    assert_int_equal(itr_h5_read(f, "/outputs/rsum", ITR_F64, &scalar, &rsum), ITR_OK);
    assert_int_equal(rsum.ndim, 0);
    const double want_i2t[5] = {50, 90, 95, 1, 2.95}, want_t2i[5] = {40, 72, 88, 2, 4.33};
    assert_true(close_enough("metrics i2t", itr_f64(&i2t), want_i2t, 5, 0, 0));
    assert_true(close_enough("metrics t2i", itr_f64(&t2i), want_t2i, 5, 0, 0));
    double sum = 0;
    for (int i = 0; i < 3; i++) sum += itr_f64(&i2t)[i] + itr_f64(&t2i)[i];
    assert_true(itr_f64(&rsum)[0] == sum);               /* rsum = R@1+R@5+R@10 both ways */
    /* Integer ranks stored as float64 cannot be read as int64 (float -> int is refused). */
    assert_int_equal(itr_h5_read(f, "/outputs/ranks_t2i", ITR_I64, NULL, &ranks), ITR_E_DTYPE);
    assert_int_equal(itr_h5_read(f, "/outputs/ranks_t2i", ITR_F64, NULL, &ranks), ITR_OK);
    assert_int_equal(ranks.shape[0], 100);
    assert_true(itr_f64(&ranks)[3] == 2.0 && itr_f64(&ranks)[98] == 0.0);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(itr_h5_list(f, "/outputs", &names, &n), ITR_OK);
    assert_int_equal(n, 7);
    assert_string_equal(names[0], "i2t");
    assert_string_equal(names[6], "top1_t2i");
    itr_h5_free_names(names, n);
    itr_weights w;
    itr_weights_init(&w, "metrics");
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_E_KEY);   /* no /weights here */
    assert_true(msg_has("metrics_small.h5") && msg_has("/weights"));
    itr_weights_free(&w);
    itr_tensor_free(&sims);
    itr_tensor_free(&i2t);
    itr_tensor_free(&t2i);
    itr_tensor_free(&rsum);
    itr_tensor_free(&ranks);
    itr_h5_close(f);
}

/* Golden VSE++ case: int64 inputs, float32 0-d losses, weights without torch_dtype. */
static void test_vsepp_golden(void **state) {
    (void)state;
    itr_h5 *f = open_ok(FIXTURE("vsepp/vsepp_small.h5"));
    expect_attr_str(f, "/", "model", "vsepp");
    expect_attr_str(f, "/", "measure", "cosine");
    expect_attr_str(f, "/", "checkpoint", "vsepp_small.pth.tar");
    itr_tensor caps, lens, loss, img, cap, sims;
    assert_int_equal(itr_h5_read(f, "/inputs/captions", ITR_I64, NULL, &caps), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/inputs/lengths", ITR_I32, NULL, &lens), ITR_OK);  /* narrowing int */
    assert_int_equal(caps.shape[0], 20);
    assert_int_equal(caps.shape[1], 10);
    const int64_t cap0[10] = {8, 31, 6, 14, 29, 17, 4, 44, 13, 41};
    assert_memory_equal(itr_i64(&caps), cap0, sizeof cap0);
    assert_int_equal(((int32_t *)lens.data)[0], 10);
    assert_int_equal(((int32_t *)lens.data)[19], 5);
    assert_int_equal(itr_h5_read(f, "/outputs/loss_sum", ITR_F32, NULL, &loss), ITR_OK);
    assert_int_equal(loss.ndim, 0);
    assert_true(itr_f32(&loss)[0] == 5.14768982f);
    itr_tensor_free(&loss);
    assert_int_equal(itr_h5_read(f, "/outputs/loss_max_violation", ITR_F64, NULL, &loss), ITR_OK);
    assert_true((float)itr_f64(&loss)[0] == 2.3294425f);

    /* sims = img_emb cap_emb^T (cosine of l2-normalised embeddings). */
    assert_int_equal(itr_h5_read(f, "/outputs/img_emb", ITR_F64, NULL, &img), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/outputs/cap_emb", ITR_F64, NULL, &cap), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/outputs/sims", ITR_F64, NULL, &sims), ITR_OK);
    int64_t ni = img.shape[0], nc = cap.shape[0], d = img.shape[1];
    assert_int_equal(sims.shape[0], ni);
    assert_int_equal(sims.shape[1], nc);
    double *want = malloc((size_t)(ni * nc) * sizeof *want);
    assert_non_null(want);
    for (int64_t i = 0; i < ni; i++)
        for (int64_t j = 0; j < nc; j++) {
            double s = 0;
            for (int64_t k = 0; k < d; k++) s += itr_f64(&img)[i * d + k] * itr_f64(&cap)[j * d + k];
            want[i * nc + j] = s;
        }
    assert_true(close_enough("vsepp sims = img cap^T", itr_f64(&sims), want, (size_t)(ni * nc), 1e-5, 1e-4));
    free(want);

    itr_weights w;
    itr_weights_init(&w, "vsepp");
    assert_int_equal(itr_h5_load_weights(f, &w), ITR_OK);
    assert_int_equal(w.n, 7);
    itr_weights_begin(&w);
    const float *b = itr_weights_f32(&w, "0", "fc.bias", 1, (const int64_t[]){24});
    assert_non_null(b);
    assert_true(b[0] == 0.0292073246f && b[1] == -0.0209723264f);
    assert_non_null(itr_weights_f32(&w, "0", "fc.weight", 2, (const int64_t[]){24, 64}));
    assert_non_null(itr_weights_f32(&w, "1", "embed.weight", 2, (const int64_t[]){50, 16}));
    assert_non_null(itr_weights_f32(&w, "1", "rnn.weight_ih_l0", 2, (const int64_t[]){72, 16}));
    assert_non_null(itr_weights_f32(&w, "1", "rnn.weight_hh_l0", 2, (const int64_t[]){72, 24}));
    assert_non_null(itr_weights_f32(&w, "1", "rnn.bias_ih_l0", 1, (const int64_t[]){72}));
    assert_non_null(itr_weights_f32(&w, "1", "rnn.bias_hh_l0", 1, (const int64_t[]){72}));
    assert_int_equal(itr_weights_finish(&w, ITR_STRICT), ITR_OK);
    itr_weights_free(&w);
    itr_tensor_free(&caps);
    itr_tensor_free(&lens);
    itr_tensor_free(&loss);
    itr_tensor_free(&img);
    itr_tensor_free(&cap);
    itr_tensor_free(&sims);
    itr_h5_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_example),
        cmocka_unit_test(test_weights_example),
        cmocka_unit_test(test_features_example),
        cmocka_unit_test(test_metrics_golden),
        cmocka_unit_test(test_vsepp_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
