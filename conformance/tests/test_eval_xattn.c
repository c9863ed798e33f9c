/* test_eval_xattn.c - the eval engine on the cross-attention families, end to
 * end: fixtures/eval/{scan_t2i, sgraf_sgr, sgraf_saf, sgraf_ensemble}_f30k_small
 * (numbers must equal upstream's expected.json exactly, sims close to
 * sims.npy), shard / batch independence, a mixed-family ensemble (the exact
 * average of the two matrices), detection and --model, and the shape errors
 * of region data. */
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

#include "eval_test_util.h"

#define SGR_CKPT "f30k_SGR/model_best.pth.tar"
#define SAF_CKPT "f30k_SAF/model_best.pth.tar"
#define SCAN_CKPT EVAL_DIR "scan_t2i_f30k_small/model_best.pth.tar"
#define VOCAB EVAL_DIR "sgraf_sgr_f30k_small/vocab/f30k_precomp_vocab.json"

static void run_case(const char *name, const char *family) {
    printf("%s\n", name);
    enter(name);
    json_error_t err;
    json_t *root = json_load_file("expected.json", 0, &err);
    assert_non_null(root);
    json_t *exp = json_object_get(root, "expected"), *data = json_object_get(root, "data");
    itr_eval_opts o;
    itr_eval_result r;
    char h5[96];
    snprintf(h5, sizeof h5, "%s/%s.h5", g_tmp, name);
    case_opts(root, &o);
    o.save_sims = h5;
    itr_status st = itr_eval_run(&o, &r);
    if (st) printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_string_equal(r.family, family);
    assert_string_equal(r.data_name, "f30k_precomp");
    assert_int_equal(r.n_images, json_integer_value(json_object_get(data, "n_images")));
    assert_int_equal(r.n_captions, json_integer_value(json_object_get(data, "n_captions")));
    assert_int_equal(r.n_unk, json_integer_value(json_object_get(data, "n_unk_tokens")));
    check_recall(json_object_get(exp, "i2t"), &r.metrics.i2t, "i2t");
    check_recall(json_object_get(exp, "t2i"), &r.metrics.t2i, "t2i");
    assert_true(r.metrics.rsum == json_real_value(json_object_get(exp, "rsum")));
    assert_true(r.metrics.ar == json_real_value(json_object_get(exp, "ar")));
    assert_true(r.metrics.ari == json_real_value(json_object_get(exp, "ari")));
    assert_true(sims_err(h5, "sims.npy") < 5e-6);   /* expected.json ties.eps_final */
    json_decref(root);
}

static void test_scan_t2i(void **state) {
    (void)state;
    run_case("scan_t2i_f30k_small", "scan");
}

static void test_sgraf_sgr(void **state) {
    (void)state;
    run_case("sgraf_sgr_f30k_small", "sgraf");
}

static void test_sgraf_saf(void **state) {
    (void)state;
    run_case("sgraf_saf_f30k_small", "sgraf");
}

static void test_sgraf_ensemble(void **state) {
    (void)state;
    run_case("sgraf_ensemble_f30k_small", "sgraf");
}

/* Small loader batches and image shards change no score; --model forces. */
static void test_shards_batches(void **state) {
    (void)state;
    enter("sgraf_sgr_f30k_small");
    itr_eval_opts o;
    itr_eval_result a, b;
    itr_eval_opts_default(&o);
    o.checkpoint = SGR_CKPT;
    o.data = "data";
    assert_int_equal(itr_eval_run(&o, &a), ITR_OK);
    o.batch_size = 7;
    o.shard_rows = 13;
    o.model = "sgraf";
    o.vocab = "vocab/f30k_precomp_vocab.json";
    assert_int_equal(itr_eval_run(&o, &b), ITR_OK);
    assert_memory_equal(&a.metrics, &b.metrics, sizeof a.metrics);
}

static itr_tensor load_sims(const char *h5) {
    itr_h5 *f;
    itr_tensor s;
    assert_int_equal(itr_h5_open(h5, &f), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/sims", ITR_F64, NULL, &s), ITR_OK);
    itr_h5_close(f);
    return s;
}

/* An ensemble of two families (SGR + SCAN on the SGRAF case's data): each
 * model with its own encoders, the matrix exactly (S1 + S2) / 2. */
static void test_mixed_ensemble(void **state) {
    (void)state;
    enter("sgraf_sgr_f30k_small");
    char p1[96], p2[96], pe[96];
    snprintf(p1, sizeof p1, "%s/m1.h5", g_tmp);
    snprintf(p2, sizeof p2, "%s/m2.h5", g_tmp);
    snprintf(pe, sizeof pe, "%s/me.h5", g_tmp);
    itr_eval_opts o;
    itr_eval_result r;
    itr_eval_opts_default(&o);
    o.data = "data";
    o.checkpoint = SGR_CKPT;
    o.save_sims = p1;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    o.checkpoint = SCAN_CKPT;
    o.save_sims = p2;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_string_equal(r.family, "scan");
    o.checkpoint = SGR_CKPT;
    o.ensemble = SCAN_CKPT;
    o.save_sims = pe;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_string_equal(r.family, "sgraf+scan");
    itr_tensor a = load_sims(p1), b = load_sims(p2), e = load_sims(pe);
    double max_abs = 0;
    for (int64_t k = 0; k < 100 * 500; k++) {
        double d = fabs(itr_f64(&e)[k] - (itr_f64(&a)[k] + itr_f64(&b)[k]) / 2);
        if (d > max_abs) max_abs = d;
    }
    printf("  ensemble vs (S_sgr + S_scan) / 2: max abs err %.3g\n", max_abs);
    assert_true(max_abs == 0);
    itr_tensor_free(&a);
    itr_tensor_free(&b);
    itr_tensor_free(&e);
}

/* Detection from the state-dict keys, and the per-item hooks that the
 * cross-attention families refuse. */
static void test_detect(void **state) {
    (void)state;
    const char *paths[3] = {SCAN_CKPT, EVAL_DIR "sgraf_sgr_f30k_small/" SGR_CKPT,
                            EVAL_DIR "sgraf_saf_f30k_small/" SAF_CKPT};
    const char *names[3] = {"scan", "sgraf", "sgraf"};
    for (int k = 0; k < 3; k++) {
        itr_checkpoint *ck;
        const itr_eval_family *fam;
        void *model = NULL;
        assert_int_equal(itr_checkpoint_load(paths[k], &ck), ITR_OK);
        assert_int_equal(itr_eval_family_detect(ck, &fam), ITR_OK);
        assert_ptr_equal(fam, itr_eval_family_find(names[k]));
        assert_int_equal(fam->load(ck, &model), ITR_OK);
        assert_int_equal(fam->img_dim(model), 32);
        assert_int_equal(fam->img_emb_size(model), 32);
        assert_int_equal(fam->cap_emb_size(model), 32);
        float rows[36 * 32], emb[36 * 32];
        for (int i = 0; i < 36 * 32; i++) rows[i] = (float)(i % 5) * 0.25f;
        assert_int_equal(fam->encode_images(model, rows, 36, emb), ITR_OK);   /* 36 regions */
        double s;
        assert_int_equal(fam->sims(model, emb, 1, emb, 1, &s), ITR_E_UNSUPPORTED);
        printf("  %s: %s\n", names[k], itr_last_error());
        if (k == 1) {   /* SGRAF: region rows come in images of 36 */
            assert_int_equal(fam->encode_images(model, rows, 5, emb), ITR_E_SHAPE);
            printf("  %s\n", itr_last_error());
        }
        fam->free(model);
        itr_checkpoint_free(ck);
    }
}

/* A precomp split under dir/f30k_precomp: rows x [regions x] dim features. */
static void write_precomp(const char *dir, int64_t rows, int64_t regions, int64_t dim, int lines) {
    char path[200];
    snprintf(path, sizeof path, "mkdir -p '%s/f30k_precomp'", dir);
    assert_int_equal(system(path), 0);
    itr_tensor t;
    if (regions) assert_int_equal(itr_tensor_alloc_f32(&t, 3, rows, regions, dim, 0), ITR_OK);
    else assert_int_equal(itr_tensor_alloc_f32(&t, 2, rows, dim, 0, 0), ITR_OK);
    for (int64_t k = 0; k < t.shape[0] * t.shape[1] * (regions ? dim : 1); k++) itr_f32(&t)[k] = (float)(k % 7) * 0.1f;
    snprintf(path, sizeof path, "%s/f30k_precomp/test_ims.npy", dir);
    assert_int_equal(itr_npy_save(path, &t), ITR_OK);
    itr_tensor_free(&t);
    snprintf(path, sizeof path, "%s/f30k_precomp/test_caps.txt", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < lines; i++) fprintf(f, "A man rides a horse%s .\r\n", i % 2 ? " fast" : "");
    fclose(f);
}

static void expect_fail(const itr_eval_opts *o, itr_status want, const char *text) {
    itr_eval_result r;
    itr_status st = itr_eval_run(o, &r);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), text));
}

static void test_region_errors(void **state) {
    (void)state;
    enter("sgraf_sgr_f30k_small");
    itr_eval_opts o;
    char dir[128];
    itr_eval_opts_default(&o);
    o.vocab = VOCAB;
    o.checkpoint = SCAN_CKPT;

    snprintf(dir, sizeof dir, "%s/flat", g_tmp);   /* one vector per image */
    write_precomp(dir, 3, 0, 32, 15);
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "scores image regions");
    o.checkpoint = SGR_CKPT;
    expect_fail(&o, ITR_E_SHAPE, "scores image regions");

    snprintf(dir, sizeof dir, "%s/r5", g_tmp);     /* SGRAF's BatchNorm wants 36 regions */
    write_precomp(dir, 3, 5, 32, 15);
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "VisualSA");
    o.checkpoint = SCAN_CKPT;                       /* SCAN takes any number */
    itr_eval_result r;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    assert_int_equal(r.n_images, 3);
    assert_true(r.metrics.i2t.r10 == 100.0);        /* 3 images: every rank < 10 */

    snprintf(dir, sizeof dir, "%s/dim", g_tmp);    /* the checkpoint wants img_dim 32 */
    write_precomp(dir, 3, 5, 9, 15);
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "img_dim 32");

    o.checkpoint = ITR_SOURCE_DIR "/fixtures/eval/vsepp_f30k_small/model_best.pth.tar";
    o.vocab = ITR_SOURCE_DIR "/fixtures/eval/vsepp_f30k_small/vocab/f30k_precomp_vocab.pkl";
    snprintf(dir, sizeof dir, "%s/r5", g_tmp);     /* VSE++ on region features */
    o.data = dir;
    expect_fail(&o, ITR_E_SHAPE, "found 3-D");

    o.checkpoint = SGR_CKPT;                        /* SCAN forced on SGRAF weights */
    o.vocab = VOCAB;
    o.model = "scan";
    expect_fail(&o, ITR_E_KEY, "loading SCAN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_t2i),       cmocka_unit_test(test_sgraf_sgr),
        cmocka_unit_test(test_sgraf_saf),      cmocka_unit_test(test_sgraf_ensemble),
        cmocka_unit_test(test_shards_batches), cmocka_unit_test(test_mixed_ensemble),
        cmocka_unit_test(test_detect),         cmocka_unit_test(test_region_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
