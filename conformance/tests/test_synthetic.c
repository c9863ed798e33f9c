/* test_synthetic.c - the synthetic data set generator (itr/synthetic.h):
 * determinism, shapes sized from each checkpoint, option errors, and `itr
 * eval` end to end on generated data for VSE++, SCAN, SGR, SAF and the
 * SGR+SAF ensemble, Flickr-style (10 images) and COCO 5-fold style (25
 * images, testall): the engine's metrics must equal itr/metrics.h on the
 * saved matrix, and sampled matrix entries must equal a direct computation
 * through the model API (itr/models/ headers). */
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
#include "itr/h5.h"
#include "itr/models/scan.h"
#include "itr/models/sgraf.h"
#include "itr/models/vsepp.h"
#include "itr/npy.h"
#include "itr/synthetic.h"

#define FIX ITR_SOURCE_DIR "/fixtures/"
#define VSEPP FIX "vsepp/vsepp_small.pth.tar"
#define SCAN FIX "scan/scan_t2i_lse_small.pth.tar"
#define SGR FIX "sgraf/sgr_small.pth.tar"
#define SAF FIX "sgraf/saf_small.pth.tar"

static char g_tmp[64];

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/itr_synth_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void sub(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_tmp, name); }

/* Whole file into memory (test helper; aborts the test on failure). */
static unsigned char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b) {
    long na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return same;
}

static void gen(const char *ckpt, const itr_synth_opts *o, const char *dir, itr_synth_info *info) {
    itr_checkpoint *ck;
    assert_int_equal(itr_checkpoint_load(ckpt, &ck), ITR_OK);
    itr_status st = itr_synth_write(ck, o, dir, info);
    if (st) printf("  %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    itr_checkpoint_free(ck);
}

/* Same seed -> byte-identical files; another seed -> other files. */
static void test_determinism(void **state) {
    (void)state;
    const char *files[3] = {"f30k_precomp/test_ims.npy", "f30k_precomp/test_caps.txt", "vocab/f30k_precomp_vocab.json"};
    char a[128], b[128], c[128], pa[192], pb[192], pc[192];
    itr_synth_opts o;
    itr_synth_opts_default(&o);
    o.seed = 42;
    sub(a, sizeof a, "det_a");
    sub(b, sizeof b, "det_b");
    sub(c, sizeof c, "det_c");
    gen(SCAN, &o, a, NULL);
    gen(SCAN, &o, b, NULL);
    o.seed = 43;
    gen(SCAN, &o, c, NULL);
    for (int k = 0; k < 3; k++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[k]);
        snprintf(pc, sizeof pc, "%s/%s", c, files[k]);
        assert_true(same_file(pa, pb));
        assert_true(same_file(pa, pc) == (k == 2));   /* the vocabulary does not depend on the seed */
    }
}

/* Shapes follow the checkpoint: img_dim from fc.weight, vocabulary = embed rows. */
static void check_shapes(const char *ckpt, const char *fam, int64_t img_dim, int64_t V, int64_t R, int per_caption) {
    char dir[128], path[192];
    itr_synth_opts o;
    itr_synth_info info;
    itr_synth_opts_default(&o);
    o.n_img = 7;
    o.one_row_per_caption = per_caption;
    snprintf(dir, sizeof dir, "%s/shape_%s_%d", g_tmp, fam, per_caption);
    gen(ckpt, &o, dir, &info);
    assert_string_equal(info.family, fam);
    assert_string_equal(info.data_name, "f30k_precomp");
    assert_int_equal(info.img_dim, img_dim);
    assert_int_equal(info.vocab_size, V);
    assert_int_equal(info.regions, R);
    assert_int_equal(info.n_lines, 35);
    assert_int_equal(info.n_rows, per_caption ? 35 : 7);

    itr_tensor t;
    snprintf(path, sizeof path, "%s/f30k_precomp/test_ims.npy", dir);
    assert_int_equal(itr_npy_load(path, NULL, -1, &t), ITR_OK);
    assert_int_equal(t.dtype, ITR_F32);
    assert_int_equal(t.ndim, R ? 3 : 2);
    assert_int_equal(t.shape[0], info.n_rows);
    assert_int_equal(t.shape[t.ndim - 1], img_dim);
    if (R) assert_int_equal(t.shape[1], R);
    int64_t rowlen = (R ? R : 1) * img_dim;
    if (per_caption)   /* rows 5i..5i+4 repeat image i */
        assert_memory_equal(itr_f32(&t), itr_f32(&t) + 4 * rowlen, sizeof(float) * (size_t)rowlen);
    assert_memory_not_equal(itr_f32(&t), itr_f32(&t) + (per_caption ? 5 : 1) * rowlen,
                            sizeof(float) * (size_t)rowlen);
    itr_tensor_free(&t);

    itr_vocab v;
    itr_vocab_init(&v);
    snprintf(path, sizeof path, "%s/vocab/f30k_precomp_vocab.json", dir);
    assert_int_equal(itr_vocab_load(path, &v), ITR_OK);
    assert_int_equal(v.n, V);
    assert_int_equal(v.pad_id, 0);
    assert_int_equal(v.start_id, 1);
    assert_int_equal(v.end_id, 2);
    assert_int_equal(v.unk_id, 3);
    assert_string_equal(itr_vocab_word(&v, 4), "wa");

    /* captions of one image share words: the 5 captions of image 0 use at
     * most 3 topic words + random ones, so some word repeats across them */
    itr_captions caps;
    snprintf(path, sizeof path, "%s/f30k_precomp/test_caps.txt", dir);
    assert_int_equal(itr_captions_load(path, 0, &caps), ITR_OK);
    assert_int_equal(caps.n, 35);
    int64_t *seq, n, shared = 0, count[64] = {0};
    for (int c = 0; c < 5; c++) {
        int seen[64] = {0};
        assert_int_equal(itr_caption_encode(&v, caps.lines[c], ITR_TOK_NLTK38, &seq, &n), ITR_OK);
        assert_true(n >= 2 + 4 && n <= 2 + 10);
        for (int64_t k = 1; k + 1 < n; k++)
            if (seq[k] < 64 && !seen[seq[k]]) seen[seq[k]] = 1, count[seq[k]]++;
        free(seq);
    }
    for (int w = 4; w < 64; w++) if (count[w] >= 3) shared++;
    printf("  %s: words in >= 3 of image 0's captions: %lld\n", fam, (long long)shared);
    assert_true(shared >= 1);
    itr_captions_free(&caps);
    itr_vocab_free(&v);
}

static void test_shapes(void **state) {
    (void)state;
    check_shapes(VSEPP, "vsepp", 64, 50, 0, 0);
    check_shapes(VSEPP, "vsepp", 64, 50, 0, 1);
    check_shapes(SCAN, "scan", 48, 40, 36, 0);
    check_shapes(SGR, "sgraf", 48, 40, 36, 1);
}

static void expect_fail(itr_checkpoint *ck, const itr_synth_opts *o, const char *dir, itr_status want,
                        const char *text) {
    itr_status st = itr_synth_write(ck, o, dir, NULL);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), text));
}

static void test_bad_options(void **state) {
    (void)state;
    itr_checkpoint *ck;
    itr_synth_opts o;
    char dir[192], file[128];
    sub(dir, sizeof dir, "bad");
    assert_int_equal(itr_checkpoint_load(VSEPP, &ck), ITR_OK);
    itr_synth_opts_default(&o);
    expect_fail(NULL, &o, dir, ITR_E_ARG, "no checkpoint");
    expect_fail(ck, NULL, dir, ITR_E_ARG, "no options");
    expect_fail(ck, &o, "", ITR_E_ARG, "output folder");
    o.n_img = 0;
    expect_fail(ck, &o, dir, ITR_E_ARG, "n_img 0");
    itr_synth_opts_default(&o);
    o.min_words = 5;
    o.max_words = 4;
    expect_fail(ck, &o, dir, ITR_E_ARG, "[5, 4]");
    itr_synth_opts_default(&o);
    o.regions = -1;
    expect_fail(ck, &o, dir, ITR_E_ARG, "regions -1");
    o.regions = 36;
    expect_fail(ck, &o, dir, ITR_E_ARG, "one feature vector per image");
    itr_synth_opts_default(&o);
    o.split = "a/b";
    expect_fail(ck, &o, dir, ITR_E_ARG, "split 'a/b'");
    o.split = NULL;
    expect_fail(ck, &o, dir, ITR_E_ARG, "(null)");
    itr_synth_opts_default(&o);
    o.family = "nope";
    expect_fail(ck, &o, dir, ITR_E_ARG, "unknown model family 'nope'");
    o.family = "sgraf";   /* a VSE++ checkpoint has no SGRAF sim_enc */
    itr_status st = itr_synth_write(ck, &o, dir, NULL);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_not_equal(st, ITR_OK);
    assert_non_null(strstr(itr_last_error(), "sgraf"));
    itr_synth_opts_default(&o);
    assert_int_equal(itr_config_set_str(&ck->opt, "data_name", "../x"), ITR_OK);
    expect_fail(ck, &o, dir, ITR_E_ARG, "not a plain folder name");
    assert_int_equal(itr_config_set_none(&ck->opt, "data_name"), ITR_OK);
    expect_fail(ck, &o, dir, ITR_E_KEY, "opt has no data_name");
    assert_int_equal(itr_config_set_str(&ck->opt, "data_name", "f30k_precomp"), ITR_OK);
    /* an output "folder" below a regular file */
    itr_synth_opts_default(&o);
    sub(file, sizeof file, "plain_file");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/x", file);
    expect_fail(ck, &o, dir, ITR_E_IO, "cannot create folder");
    itr_checkpoint_free(ck);
}

/* ---- end to end ---------------------------------------------------------- */
/* One (image, caption) score computed directly through the model API, one
 * image and one caption at a time (no batching, no split-wide padding). */
static double direct_sim(itr_checkpoint *ck, const char *fam, const float *row, int64_t R, const int64_t *ids,
                         int64_t L) {
    double s = NAN;
    if (strcmp(fam, "vsepp") == 0) {
        itr_vsepp m;
        assert_int_equal(itr_vsepp_load(&m, &ck->opt, &ck->weights), ITR_OK);
        float *ie = malloc(sizeof(float) * (size_t)m.cfg.embed_size), *ce = malloc(sizeof(float) * (size_t)m.cfg.embed_size);
        assert_int_equal(itr_vsepp_encode_images(&m, row, 1, ie), ITR_OK);
        assert_int_equal(itr_vsepp_encode_captions(&m, ids, &L, 1, L, ce), ITR_OK);
        itr_vsepp_sims(&m, ie, 1, ce, 1, &s);
        free(ie);
        free(ce);
    } else if (strcmp(fam, "scan") == 0) {
        itr_scan m;
        assert_int_equal(itr_scan_load(&m, &ck->opt, &ck->weights), ITR_OK);
        int64_t D = m.cfg.embed_size;
        float *ie = malloc(sizeof(float) * (size_t)(R * D)), *ce = malloc(sizeof(float) * (size_t)(L * D));
        assert_int_equal(itr_scan_encode_images(&m, row, 1, R, ie), ITR_OK);
        assert_int_equal(itr_scan_encode_captions(&m, ids, &L, 1, L, ce), ITR_OK);
        assert_int_equal(itr_scan_sims_f64(&m, ie, 1, R, ce, &L, 1, L, &s), ITR_OK);
        itr_scan_free(&m);
        free(ie);
        free(ce);
    } else {
        itr_sgraf m;
        assert_int_equal(itr_sgraf_load(&m, &ck->opt, &ck->weights), ITR_OK);
        int64_t D = m.cfg.embed_size;
        float *ie = malloc(sizeof(float) * (size_t)(R * D)), *ce = malloc(sizeof(float) * (size_t)(L * D));
        assert_int_equal(itr_sgraf_encode_images(&m, row, 1, ie), ITR_OK);
        assert_int_equal(itr_sgraf_encode_captions(&m, ids, &L, 1, L, ce), ITR_OK);
        assert_int_equal(itr_sgraf_sims(&m, ie, 1, ce, &L, 1, L, &s, NULL, NULL), ITR_OK);
        free(ie);
        free(ce);
    }
    return s;
}

static void check_metrics_equal(const itr_metrics *a, const itr_metrics *b) {
    printf("    engine rsum %.4f  metrics.h rsum %.4f\n", a->rsum, b->rsum);
    assert_memory_equal(a, b, sizeof *a);
}

/* mode 0: Flickr-style test split, 1: COCO 5-fold testall, 2: Flickr-style
 * with one image row per caption (im_div 1). */
static void e2e(const char *name, const char *ckpt, const char *ensemble, int mode) {
    int coco = mode == 1;
    char dir[128], h5[160], path[512];
    itr_synth_opts so;
    itr_synth_info info;
    itr_synth_opts_default(&so);
    so.n_img = coco ? 25 : 10;
    so.split = coco ? "testall" : "test";
    so.seed = 7;
    so.one_row_per_caption = mode == 2;
    snprintf(dir, sizeof dir, "%s/e2e_%s_%d", g_tmp, name, mode);
    gen(ckpt, &so, dir, &info);
    snprintf(h5, sizeof h5, "%s/sims.h5", dir);
    snprintf(path, sizeof path, "%s/vocab/%s_vocab.json", dir, info.data_name);

    itr_eval_opts o;
    itr_eval_result r;
    itr_eval_opts_default(&o);
    o.checkpoint = ckpt;
    o.ensemble = ensemble;
    o.data = dir;
    o.split = so.split;
    o.vocab = path;
    o.save_sims = h5;
    o.fold5 = coco;
    o.batch_size = 4;   /* several batches and shards */
    o.shard_rows = 3;
    itr_status st = itr_eval_run(&o, &r);
    if (st) printf("  %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    printf("  %s %s: %lld images, rsum %.2f, <unk> tokens %lld\n", name, coco ? "coco fold5" : "f30k",
           (long long)r.n_images, r.metrics.rsum, (long long)r.n_unk);
    assert_string_equal(r.family, info.family);
    assert_int_equal(r.n_images, so.n_img);
    assert_int_equal(r.n_captions, 5 * so.n_img);
    assert_int_equal(r.folds, coco ? 5 : 1);
    assert_int_equal(r.im_div, mode == 2 ? 1 : 5);

    /* the saved matrix, ranked independently */
    itr_h5 *f;
    itr_tensor S;
    assert_int_equal(itr_h5_open(h5, &f), ITR_OK);
    assert_int_equal(itr_h5_read(f, "/sims", ITR_F64, NULL, &S), ITR_OK);
    itr_h5_close(f);
    int64_t ni = S.shape[0], nc = S.shape[1];
    assert_int_equal(ni, so.n_img);
    assert_int_equal(nc, 5 * so.n_img);
    itr_metrics m, folds[5];
    if (coco) {
        assert_int_equal(itr_eval_folds(itr_f64(&S), ni, nc, nc, 5, 5, ITR_TIES_CANONICAL, folds, &m), ITR_OK);
        for (int q = 0; q < 5; q++) assert_memory_equal(&folds[q], &r.fold_metrics[q], sizeof folds[q]);
    } else {
        itr_ranks rk;
        assert_int_equal(itr_rank_matrix(itr_f64(&S), ni, nc, nc, 5, ITR_TIES_CANONICAL, &rk), ITR_OK);
        itr_metrics_from_ranks(&rk, &m);
        itr_ranks_free(&rk);
    }
    check_metrics_equal(&r.metrics, &m);

    /* a few entries against the model API */
    itr_checkpoint *ck[2] = {NULL, NULL};
    itr_tensor ims;
    itr_vocab v;
    itr_captions caps;
    itr_vocab_init(&v);
    assert_int_equal(itr_checkpoint_load(ckpt, &ck[0]), ITR_OK);
    if (ensemble) assert_int_equal(itr_checkpoint_load(ensemble, &ck[1]), ITR_OK);
    assert_int_equal(itr_vocab_load(path, &v), ITR_OK);
    snprintf(path, sizeof path, "%s/%s/%s_caps.txt", dir, info.data_name, so.split);
    assert_int_equal(itr_captions_load(path, 0, &caps), ITR_OK);
    snprintf(path, sizeof path, "%s/%s/%s_ims.npy", dir, info.data_name, so.split);
    assert_int_equal(itr_npy_load(path, NULL, ITR_F32, &ims), ITR_OK);
    int64_t R = info.regions ? info.regions : 1, rowlen = R * info.img_dim, per = mode == 2 ? 5 : 1;
    const int64_t pairs[4][2] = {{0, 0}, {ni - 1, nc - 1}, {3, 17}, {ni / 2, 2}};
    double max_abs = 0, max_rel = 0;
    for (int p = 0; p < 4; p++) {
        int64_t i = pairs[p][0], c = pairs[p][1], *ids, L;
        assert_int_equal(itr_caption_encode(&v, caps.lines[c], ITR_TOK_NLTK38, &ids, &L), ITR_OK);
        double want = 0;
        for (int k = 0; k < (ensemble ? 2 : 1); k++)
            want += direct_sim(ck[k], info.family, itr_f32(&ims) + i * per * rowlen, R, ids, L);
        if (ensemble) want /= 2;
        free(ids);
        double got = itr_f64(&S)[i * nc + c], e = fabs(got - want);
        if (e > max_abs) max_abs = e;
        if (want != 0 && e / fabs(want) > max_rel) max_rel = e / fabs(want);
    }
    printf("    sims vs direct model API (4 pairs): max abs err %.3g, max rel err %.3g\n", max_abs, max_rel);
    assert_true(max_abs < 1e-5);
    itr_tensor_free(&ims);
    itr_tensor_free(&S);
    itr_captions_free(&caps);
    itr_vocab_free(&v);
    for (int k = 0; k < 2; k++)
        if (ck[k]) itr_checkpoint_free(ck[k]);
}

static void test_e2e_vsepp(void **state) {
    (void)state;
    e2e("vsepp", VSEPP, NULL, 0);
    e2e("vsepp", VSEPP, NULL, 1);
    e2e("vsepp", VSEPP, NULL, 2);
}

static void test_e2e_scan(void **state) {
    (void)state;
    e2e("scan", SCAN, NULL, 0);
    e2e("scan", SCAN, NULL, 1);
    e2e("scan", SCAN, NULL, 2);
}

static void test_e2e_sgraf(void **state) {
    (void)state;
    e2e("sgr", SGR, NULL, 0);
    e2e("sgr", SGR, NULL, 1);
    e2e("saf", SAF, NULL, 0);
    e2e("saf", SAF, NULL, 1);
    e2e("sgr_saf", SGR, SAF, 0);
    e2e("sgr_saf", SGR, SAF, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_e2e_vsepp),
        cmocka_unit_test(test_e2e_scan),
        cmocka_unit_test(test_e2e_sgraf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
