/* test_eval_stream_e2e.c - `itr eval` streams the similarity matrix when no
 * --save-sims is asked: the metrics must equal those of the whole-matrix
 * path (--save-sims) exactly - every R@K, medr, meanr, per fold too - on
 * synthetic data sets (itr/synthetic.h) for VSE++ (Flickr and COCO 5-fold,
 * one row per caption), a VSE++ ensemble, and on the VSE-infinity
 * end-to-end case (alone and as an ensemble); small shards that straddle
 * folds. SCAN, SGR and SGR+SAF keep the whole-matrix path (docs/eval.md):
 * checked to say so and to give the same numbers either way. */
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

#include "itr/eval.h"
#include "itr/synthetic.h"

#include "eval_test_util.h"

#define FIX ITR_SOURCE_DIR "/fixtures/"
#define VSEPP FIX "vsepp/vsepp_small.pth.tar"
#define VSEPP_LEGACY FIX "vsepp/vsepp_small.legacy.pth.tar"
#define SCAN FIX "scan/scan_t2i_lse_small.pth.tar"
#define SGR FIX "sgraf/sgr_small.pth.tar"
#define SAF FIX "sgraf/saf_small.pth.tar"

static void print_metrics(const char *what, const itr_metrics *a) {
    printf("    %-9s i2t %6.2f %6.2f %6.2f medr %4.1f meanr %7.3f | t2i %6.2f %6.2f %6.2f medr %4.1f meanr %7.3f\n",
           what, a->i2t.r1, a->i2t.r5, a->i2t.r10, a->i2t.medr, a->i2t.meanr, a->t2i.r1, a->t2i.r5, a->t2i.r10,
           a->t2i.medr, a->t2i.meanr);
}

/* Runs o twice, without and with --save-sims, and compares; without it the
 * per-item families stream, cross-attention ones keep the whole matrix. */
static void compare_paths(itr_eval_opts *o, const char *label, int streams) {
    itr_eval_result full, st;
    char h5[160];
    snprintf(h5, sizeof h5, "%s/%s.h5", g_tmp, label);
    o->save_sims = h5;
    itr_status s = itr_eval_run(o, &full);
    if (s) printf("  -> %s\n", itr_last_error());
    assert_int_equal(s, ITR_OK);
    o->save_sims = NULL;
    s = itr_eval_run(o, &st);
    if (s) printf("  -> %s\n", itr_last_error());
    assert_int_equal(s, ITR_OK);
    printf("  %s (%s, %lld images, %d fold(s), shard %lld): %s, %d scoring pass(es)\n", label, st.family,
           (long long)st.n_images, st.folds, (long long)o->shard_rows, st.streamed ? "streamed" : "whole matrix",
           st.sims_passes);
    print_metrics("full", &full.metrics);
    print_metrics("streamed", &st.metrics);
    assert_int_equal(full.streamed, 0);
    assert_int_equal(st.streamed, streams);
    assert_int_equal(st.sims_passes, 1);   /* the reference scores a pair alike in any block */
    assert_int_equal(st.folds, full.folds);
    assert_int_equal(st.n_unk, full.n_unk);
    assert_memory_equal(&st.metrics, &full.metrics, sizeof st.metrics);
    assert_memory_equal(st.fold_metrics, full.fold_metrics, sizeof st.fold_metrics);
}

/* A synthetic data set for ckpt under g_tmp/name; mode 0 Flickr test,
 * 1 COCO testall (25 images, 5 folds), 2 one row per caption. */
static void synth(const char *name, const char *ckpt, int mode, itr_eval_opts *o, char *dir, char *vocab) {
    itr_synth_opts so;
    itr_synth_info info;
    itr_synth_opts_default(&so);
    so.n_img = mode == 1 ? 25 : 11;
    so.split = mode == 1 ? "testall" : "test";
    so.seed = 11;
    so.regions = 0;
    so.one_row_per_caption = mode == 2;
    snprintf(dir, 128, "%s/%s_%d", g_tmp, name, mode);
    itr_checkpoint *ck;
    assert_int_equal(itr_checkpoint_load(ckpt, &ck), ITR_OK);
    itr_status st = itr_synth_write(ck, &so, dir, &info);
    if (st) printf("  %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    itr_checkpoint_free(ck);
    snprintf(vocab, 256, "%s/vocab/%s_vocab.json", dir, info.data_name);
    itr_eval_opts_default(o);
    o->checkpoint = ckpt;
    o->data = dir;
    o->split = so.split;
    o->vocab = vocab;
    o->fold5 = mode == 1;
    o->batch_size = 4;
    o->shard_rows = 3;   /* shards of 3 images straddle the 5-image folds */
}

static void test_vsepp(void **state) {
    (void)state;
    char dir[128], vocab[256], label[64];
    itr_eval_opts o;
    for (int mode = 0; mode < 3; mode++) {
        synth("vsepp", VSEPP, mode, &o, dir, vocab);
        snprintf(label, sizeof label, "vsepp_mode%d", mode);
        compare_paths(&o, label, 1);
        o.shard_rows = 1;
        compare_paths(&o, label, 1);
        o.shard_rows = 1000;
        compare_paths(&o, label, 1);
        o.shard_rows = 4;
        o.ensemble = VSEPP_LEGACY;   /* per-item ensemble (same weights, other era) */
        snprintf(label, sizeof label, "vsepp_ens_mode%d", mode);
        compare_paths(&o, label, 1);
    }
}

static void test_scan_sgraf(void **state) {
    (void)state;
    char dir[128], vocab[256];
    itr_eval_opts o;
    synth("scan", SCAN, 0, &o, dir, vocab);
    compare_paths(&o, "scan", 0);
    synth("sgr", SGR, 1, &o, dir, vocab);
    compare_paths(&o, "sgr_fold5", 0);
    o.ensemble = SAF;   /* two different models: shard blocks averaged, then ranked */
    compare_paths(&o, "sgr_saf_fold5", 0);
    synth("sgr", SGR, 0, &o, dir, vocab);
    o.ensemble = SAF;
    o.shard_rows = 2;
    compare_paths(&o, "sgr_saf", 0);
}

/* The VSE-inf case (200 images): streamed numbers are upstream's too. */
static void test_vseinf(void **state) {
    (void)state;
    enter("vseinf_bigru_f30k_small");
    json_error_t err;
    json_t *root = json_load_file("expected.json", 0, &err);
    assert_non_null(root);
    itr_eval_opts o;
    case_opts(root, &o);
    o.vocab = json_string_value(json_array_get(json_object_get(json_object_get(root, "itr_eval"), "args"), 7));
    assert_non_null(o.vocab);
    o.shard_rows = 7;
    compare_paths(&o, "vseinf_bigru", 1);
    char h5[160];
    snprintf(h5, sizeof h5, "%s/vseinf_bigru.h5", g_tmp);
    assert_true(sims_err(h5, "sims.npy") < 5e-6);   /* the full path's matrix is upstream's */
    itr_eval_result r;
    assert_int_equal(itr_eval_run(&o, &r), ITR_OK);
    json_t *exp = json_object_get(root, "expected");
    check_recall(json_object_get(exp, "i2t"), &r.metrics.i2t, "i2t");
    check_recall(json_object_get(exp, "t2i"), &r.metrics.t2i, "t2i");
    o.ensemble = o.checkpoint;   /* a pooled ensemble */
    o.shard_rows = 64;
    compare_paths(&o, "vseinf_bigru_ens", 1);
    json_decref(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vsepp),
        cmocka_unit_test(test_scan_sgraf),
        cmocka_unit_test(test_vseinf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
