/* test_eval_backend.c - `itr eval --backend cuda` dispatch (itr_eval_opts.
 * backend, conformance/eval_accel.c). No CUDA twin is needed: a test accel
 * (installed with itr_eval_accel_override) runs the reference family hooks
 * behind the itr_eval_accel interface and records every call, so the test
 * sees that load receives the loaded reference model, that every image
 * batch, caption batch and score block goes through the accel with the
 * contract's arguments (per-item: R = T = 1, no lengths; cross attention:
 * regions, lengths, padded width), that each device model is freed once,
 * and that the numbers are the reference's exactly. Also: a family without
 * a twin fails with ITR_E_UNSUPPORTED before anything is loaded, an unknown
 * backend value, and a failing upload; and, where the build has the real
 * VSE++ twin, its numbers equal the reference's. */
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

#include "eval_families.h"
#include "itr/synthetic.h"

#include "eval_test_dir.h"   /* g_tmp, setup/teardown, enter(), EVAL_DIR */

#define FIX ITR_SOURCE_DIR "/fixtures/"

/* ---- a recording accel over the reference hooks --------------------------- */
typedef struct rec {
    int loads, frees, fail_load;
    int64_t img_calls, img_rows, cap_calls, cap_rows, sims_calls, sims_cells;
    int64_t last_R, last_T;
    int lengths_null;   /* 1 while every sims call had lengths == NULL */
} rec;
static rec g_rec;

typedef struct fake_dev {
    const itr_eval_family *fam;
    const void *ref;
    int alive;
} fake_dev;

static const itr_eval_family *g_fam;   /* the family the accel below stands for */

static itr_status fake_load(const void *ref_model, void **dev) {
    g_rec.loads++;
    if (g_rec.fail_load) return itr_fail(ITR_E_CUDA, "fake: no device");
    assert_non_null(ref_model);
    /* the reference model is loaded: its shapes answer */
    assert_true(g_fam->img_dim(ref_model) > 0 && g_fam->img_emb_size(ref_model) > 0);
    fake_dev *d = malloc(sizeof *d);
    assert_non_null(d);
    d->fam = g_fam;
    d->ref = ref_model;
    d->alive = 1;
    *dev = d;
    return ITR_OK;
}

static void fake_free(void *dev) {
    fake_dev *d = dev;
    assert_int_equal(d->alive, 1);
    d->alive = 0;
    g_rec.frees++;
    free(d);
}

/* The reference hooks of a family, as the engine itself would pick them. */
static const itr_eval_xattn *xattn_for(const itr_eval_family *f) {
    return f == &itr_eval_family_scan ? &itr_eval_xattn_scan : f == &itr_eval_family_sgraf ? &itr_eval_xattn_sgraf : NULL;
}

static itr_status fake_encode_images(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb) {
    fake_dev *d = dev;
    assert_int_equal(d->alive, 1);
    g_rec.img_calls++;
    g_rec.img_rows += n;
    g_rec.last_R = R;
    const itr_eval_xattn *x = xattn_for(d->fam);
    if (x) return x->encode_images(d->ref, rows, n, R, img_emb);
    if (d->fam == &itr_eval_family_vseinf) return itr_eval_pooled_vseinf.encode_images(d->ref, rows, n, R, img_emb);
    assert_int_equal(R, 1);
    return d->fam->encode_images(d->ref, rows, n, img_emb);
}

static itr_status fake_encode_captions(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n, int64_t T,
                                       float *cap_emb) {
    fake_dev *d = dev;
    g_rec.cap_calls++;
    g_rec.cap_rows += n;
    return d->fam->encode_captions(d->ref, ids, lengths, n, T, cap_emb);
}

static itr_status fake_sims(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                            const int64_t *lengths, int64_t n_cap, int64_t T, double *sims) {
    fake_dev *d = dev;
    g_rec.sims_calls++;
    g_rec.sims_cells += n_img * n_cap;
    g_rec.last_T = T;
    if (lengths) g_rec.lengths_null = 0;
    const itr_eval_xattn *x = xattn_for(d->fam);
    if (x) return x->sims(d->ref, img_emb, n_img, R, cap_emb, lengths, n_cap, T, sims);
    assert_int_equal(R, 1);
    assert_int_equal(T, 1);
    return d->fam->sims(d->ref, img_emb, n_img, cap_emb, n_cap, sims);
}

static itr_eval_accel g_accel = {NULL, fake_load, fake_free, fake_encode_images, fake_encode_captions, fake_sims, NULL};

static void install(const itr_eval_family *fam) {
    memset(&g_rec, 0, sizeof g_rec);
    g_rec.lengths_null = 1;
    g_fam = fam;
    g_accel.family = fam;
    itr_eval_accel_override(&g_accel);
}

/* ---- runs ---------------------------------------------------------------- */
static void run_ok(itr_eval_opts *o, itr_eval_result *r) {
    itr_status st = itr_eval_run(o, r);
    if (st) printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, ITR_OK);
}

/* Reference run, then the same options on the (fake) CUDA backend. */
static void both(itr_eval_opts *o, const itr_eval_family *fam, int n_models, int64_t B, int64_t shard) {
    itr_eval_result ref, cu;
    o->batch_size = B;
    o->shard_rows = shard;
    o->backend = 0;
    itr_eval_accel_override(NULL);
    run_ok(o, &ref);
    install(fam);
    o->backend = 1;
    run_ok(o, &cu);
    itr_eval_accel_override(NULL);
    int64_t n = ref.n_images, nc = ref.n_captions;
    printf("  %s: %lld images; accel: %d load(s), %lld image batches (R %lld), %lld caption batches, %lld score "
           "blocks (T %lld), %lld cells, streamed %d\n",
           ref.family, (long long)n, g_rec.loads, (long long)g_rec.img_calls, (long long)g_rec.last_R,
           (long long)g_rec.cap_calls, (long long)g_rec.sims_calls, (long long)g_rec.last_T,
           (long long)g_rec.sims_cells, cu.streamed);
    assert_int_equal(g_rec.loads, n_models);
    assert_int_equal(g_rec.frees, n_models);
    assert_int_equal(g_rec.img_rows, n_models * n);
    assert_int_equal(g_rec.img_calls, n_models * ((n + B - 1) / B));
    assert_int_equal(g_rec.cap_rows, n_models * nc);
    assert_int_equal(g_rec.cap_calls, n_models * ((nc + B - 1) / B));
    /* every shard block of every model (streaming adds the (1, 5) GT blocks) */
    int64_t shards = (n + shard - 1) / shard;
    int64_t blocks = shards + (cu.streamed ? n : 0), cells = n * nc + (cu.streamed ? nc : 0);
    assert_int_equal(g_rec.sims_calls, n_models * blocks);
    assert_int_equal(g_rec.sims_cells, n_models * cells);
    assert_memory_equal(&cu.metrics, &ref.metrics, sizeof ref.metrics);
    assert_memory_equal(cu.fold_metrics, ref.fold_metrics, sizeof ref.fold_metrics);
    assert_int_equal(cu.n_unk, ref.n_unk);
}

static void synth(const char *name, const char *ckpt, int coco, itr_eval_opts *o, char *vocab) {
    char dir[128];
    itr_synth_opts so;
    itr_synth_info info;
    itr_synth_opts_default(&so);
    so.n_img = coco ? 25 : 9;
    so.split = coco ? "testall" : "test";
    so.seed = 5;
    snprintf(dir, sizeof dir, "%s/%s_%d", g_tmp, name, coco);
    itr_checkpoint *ck;
    assert_int_equal(itr_checkpoint_load(ckpt, &ck), ITR_OK);
    assert_int_equal(itr_synth_write(ck, &so, dir, &info), ITR_OK);
    itr_checkpoint_free(ck);
    snprintf(vocab, 512, "%s/vocab/%s_vocab.json", dir, info.data_name);
    itr_eval_opts_default(o);
    o->checkpoint = ckpt;
    char *data = malloc(strlen(dir) + 1);
    assert_non_null(data);
    o->data = strcpy(data, dir);
    o->split = so.split;
    o->vocab = vocab;
    o->fold5 = coco;
}

static void test_per_item(void **state) {
    (void)state;
    char vocab[512];
    itr_eval_opts o;
    synth("vsepp", FIX "vsepp/vsepp_small.pth.tar", 0, &o, vocab);
    both(&o, &itr_eval_family_vsepp, 1, 4, 2);
    assert_int_equal(g_rec.last_R, 1);
    assert_int_equal(g_rec.lengths_null, 1);
    o.ensemble = FIX "vsepp/vsepp_small.legacy.pth.tar";   /* both models on the accel */
    both(&o, &itr_eval_family_vsepp, 2, 3, 4);
    free((char *)o.data);
    synth("vsepp", FIX "vsepp/vsepp_small.pth.tar", 1, &o, vocab);
    both(&o, &itr_eval_family_vsepp, 1, 8, 3);   /* COCO 5 folds */
    free((char *)o.data);
}

static void test_pooled(void **state) {
    (void)state;
    enter("vseinf_bigru_f30k_small");
    itr_eval_opts o;
    itr_eval_opts_default(&o);
    o.checkpoint = "model_best.pth";
    o.data = "data/f30k";
    o.vocab = "vocab/f30k_precomp_vocab.json";
    both(&o, &itr_eval_family_vseinf, 1, 64, 50);
    assert_true(g_rec.last_R > 1);   /* pooled images: all regions go to encode_images */
    assert_int_equal(g_rec.last_T, 1);
}

static void test_xattn(void **state) {
    (void)state;
    char vocab[512];
    itr_eval_opts o;
    synth("scan", FIX "scan/scan_t2i_lse_small.pth.tar", 0, &o, vocab);
    both(&o, &itr_eval_family_scan, 1, 4, 4);
    assert_int_equal(g_rec.last_R, 36);
    assert_int_equal(g_rec.lengths_null, 0);
    assert_true(g_rec.last_T > 1);   /* words padded to the split's longest caption */
    free((char *)o.data);
}

static void expect_fail(itr_eval_opts *o, itr_status want, const char *text) {
    itr_eval_result r;
    itr_status st = itr_eval_run(o, &r);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), text));
}

static void test_errors(void **state) {
    (void)state;
    enter("vsepp_f30k_small");
    itr_eval_opts o;
    itr_eval_opts_default(&o);
    o.checkpoint = "model_best.pth.tar";
    o.data = "data";
    o.backend = 1;
    itr_eval_accel_override(NULL);
    if (!itr_eval_accel_of(&itr_eval_family_vsepp)) {   /* this build has no VSE++ twin */
        expect_fail(&o, ITR_E_UNSUPPORTED, "no CUDA implementation of vsepp");
        expect_fail(&o, ITR_E_UNSUPPORTED, "--backend ref");
    }
    install(&itr_eval_family_scan);   /* an accel for another family does not help */
    if (!itr_eval_accel_of(&itr_eval_family_vsepp)) expect_fail(&o, ITR_E_UNSUPPORTED, "vsepp");
    assert_int_equal(g_rec.loads, 0);
    install(&itr_eval_family_vsepp);
    g_rec.fail_load = 1;
    expect_fail(&o, ITR_E_CUDA, "--backend cuda: uploading vsepp: fake: no device");
    assert_int_equal(g_rec.frees, 0);
    o.ensemble = "model_best.pth.tar";   /* the second model fails too: nothing leaks */
    expect_fail(&o, ITR_E_CUDA, "no device");
    o.ensemble = NULL;
    o.backend = 7;
    expect_fail(&o, ITR_E_ARG, "unknown backend 7");
    itr_eval_accel_override(NULL);
    printf("  accel families in this build: '%s'\n", itr_eval_accel_names());
}

/* The real twins this build has (ITR_HAVE_ACCEL_<FAM>): VSE++ on synthetic
 * data, single and 5-fold; skipped (with a note) when there is none. The
 * float32 encoders agree within 1e-5, far from moving a rank here. */
static void test_real_twins(void **state) {
    (void)state;
    itr_eval_accel_override(NULL);
    if (!itr_eval_accel_of(&itr_eval_family_vsepp)) {
        printf("  no VSE++ CUDA twin in this build ('%s'): nothing to run\n", itr_eval_accel_names());
        return;
    }
    char vocab[512];
    itr_eval_opts o;
    for (int coco = 0; coco < 2; coco++) {
        synth("vsepp_twin", FIX "vsepp/vsepp_small.pth.tar", coco, &o, vocab);
        itr_eval_result ref, cu;
        o.shard_rows = 4;
        run_ok(&o, &ref);
        o.backend = 1;
        run_ok(&o, &cu);
        printf("  VSE++ twin, %d fold(s): rsum %.4f (ref %.4f), scored %d time(s), streamed %d\n", cu.folds,
               cu.metrics.rsum, ref.metrics.rsum, cu.sims_passes, cu.streamed);
        assert_memory_equal(&cu.metrics, &ref.metrics, sizeof ref.metrics);
        assert_memory_equal(cu.fold_metrics, ref.fold_metrics, sizeof ref.fold_metrics);
        /* cosine VSE++: scored and ranked on the device (itr/cuda/retrieval.h),
         * one pass per direction */
        assert_int_equal(cu.streamed, 1);
        assert_int_equal(cu.sims_passes, 2);
        free((char *)o.data);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_item),
        cmocka_unit_test(test_pooled),
        cmocka_unit_test(test_xattn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_real_twins),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
