/* test_eval_vseinf.c - the eval engine on VSE-infinity, end to end:
 * fixtures/eval/vseinf_{bigru,bert}_f30k_small (metrics must equal upstream's
 * expected.json exactly, the saved matrix must match sims.npy, the images
 * [0, 100) x captions [0, 500) block of upstream's), the default vocabulary
 * paths, detection, the per-item family hooks, and the error paths of the
 * vocabulary and --bert-config. */
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
#include "../eval_families.h"   /* the private pooled hooks */

#define BIGRU "vseinf_bigru_f30k_small"
#define BERT "vseinf_bert_f30k_small"

/* The shared options plus the text-side files VSE-inf needs. */
static void vseinf_opts(json_t *root, itr_eval_opts *o) {
    json_t *ev = json_object_get(root, "itr_eval");
    case_opts(root, o);
    o->vocab = json_string_value(json_object_get(ev, "vocab"));
    o->bert_config = json_string_value(json_object_get(ev, "bert_config"));
}

/* with_vocab 0: no --vocab, upstream's default path from the cwd */
static void run_case(const char *name, int with_vocab, int64_t batch) {
    printf("%s (vocab %s, batch %lld)\n", name, with_vocab ? "given" : "default", (long long)batch);
    enter(name);
    json_error_t err;
    json_t *root = json_load_file("expected.json", 0, &err);
    assert_non_null(root);
    json_t *exp = json_object_get(root, "expected"), *data = json_object_get(root, "data");
    itr_eval_opts o;
    itr_eval_result r;
    char h5[96];
    snprintf(h5, sizeof h5, "%s/%s.h5", g_tmp, name);
    vseinf_opts(root, &o);
    if (!with_vocab) o.vocab = NULL;
    o.batch_size = batch;
    o.save_sims = h5;
    itr_status st = itr_eval_run(&o, &r);
    if (st) printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, ITR_OK);
    assert_string_equal(r.family, "vseinf");
    assert_string_equal(r.data_name, json_string_value(json_object_get(data, "data_name")));
    assert_int_equal(r.n_images, json_integer_value(json_object_get(data, "n_images")));
    assert_int_equal(r.n_captions, json_integer_value(json_object_get(data, "n_captions")));
    assert_int_equal(r.im_div, 5);
    assert_int_equal(r.n_unk, json_integer_value(json_object_get(data, "n_unk_tokens")));
    check_recall(json_object_get(exp, "i2t"), &r.metrics.i2t, "i2t");
    check_recall(json_object_get(exp, "t2i"), &r.metrics.t2i, "t2i");
    assert_true(r.metrics.rsum == json_real_value(json_object_get(exp, "rsum")));
    assert_true(r.metrics.ar == json_real_value(json_object_get(exp, "ar")));
    assert_true(r.metrics.ari == json_real_value(json_object_get(exp, "ari")));
    assert_true(sims_err(h5, "sims.npy") < 5e-6);   /* expected.json ties.eps_final */
    json_decref(root);
}

static void test_bigru(void **state) {
    (void)state;
    run_case(BIGRU, 1, 0);
}

static void test_bert(void **state) {
    (void)state;
    run_case(BERT, 1, 0);
}

/* BERT's default vocabulary (bert-base-uncased/vocab.txt in the cwd); an
 * odd batch size changes nothing (per-item encoders) */
static void test_default_vocab_and_batch(void **state) {
    (void)state;
    run_case(BERT, 0, 33);
    run_case(BIGRU, 1, 7);
}

static void test_detect_and_hooks(void **state) {
    (void)state;
    enter(BIGRU);
    itr_checkpoint *ck;
    const itr_eval_family *fam;
    assert_int_equal(itr_checkpoint_load("model_best.pth", &ck), ITR_OK);
    assert_int_equal(itr_eval_family_detect(ck, &fam), ITR_OK);
    assert_string_equal(fam->name, "vseinf");
    assert_ptr_equal(itr_eval_family_find("vseinf"), fam);
    /* the plain load uses upstream's default vocabulary: opt.vocab_path
     * (/tmp/data/vocab in this checkpoint) + f30k_precomp_vocab.json */
    void *model = NULL;
    itr_status st = fam->load(ck, &model);
    printf("  plain load -> %s: %s\n", itr_status_name(st), st ? itr_last_error() : "");
    if (st) {
        assert_int_equal(st, ITR_E_IO);
        assert_non_null(strstr(itr_last_error(), "f30k_precomp_vocab.json"));
    } else {
        fam->free(model);
    }
    /* the pooled load with --vocab; then the per-item hooks, a 2-D row = one region */
    itr_eval_opts o;
    itr_eval_opts_default(&o);
    o.vocab = "vocab/f30k_precomp_vocab.json";
    assert_ptr_equal(itr_eval_pooled_vseinf.family, fam);
    assert_int_equal(itr_eval_pooled_vseinf.load(ck, &o, &model), ITR_OK);
    int64_t D = fam->img_dim(model), E = fam->img_emb_size(model);
    assert_int_equal(D, 40);
    assert_int_equal(E, 24);
    assert_int_equal(fam->cap_emb_size(model), 24);
    float *row = calloc((size_t)D, sizeof *row), *v = malloc((size_t)E * sizeof *v), *u = malloc((size_t)E * sizeof *u);
    assert_non_null(row);
    for (int64_t k = 0; k < D; k++) row[k] = (float)(k % 7) / 7.0f;
    assert_int_equal(fam->encode_images(model, row, 1, v), ITR_OK);
    int64_t ids[4] = {1, 5, 6, 2}, len = 4;
    assert_int_equal(fam->encode_captions(model, ids, &len, 1, 4, u), ITR_OK);
    double s, dot = 0, nv = 0;
    assert_int_equal(fam->sims(model, v, 1, u, 1, &s), ITR_OK);
    for (int64_t k = 0; k < E; k++) {
        dot += (double)v[k] * (double)u[k];
        nv += (double)v[k] * (double)v[k];
    }
    printf("  hooks: s %.17g dot %.17g abs err %.3g, |v| %.9g\n", s, dot, fabs(s - dot), sqrt(nv));
    assert_true(fabs(s - dot) < 1e-12);
    assert_true(fabs(sqrt(nv) - 1.0) < 1e-5);   /* L2Ne */
    fam->free(model);
    free(row);
    free(v);
    free(u);
    itr_checkpoint_free(ck);
}

static itr_status run_with(const char *name, const char *vocab, const char *bert_config, const char *model) {
    enter(name);
    itr_eval_opts o;
    itr_eval_result r;
    itr_eval_opts_default(&o);
    o.checkpoint = "model_best.pth";
    o.data = "data/f30k";
    o.vocab = vocab;
    o.bert_config = bert_config;
    o.model = model;
    itr_status st = itr_eval_run(&o, &r);
    printf("  %s vocab %s config %s -> %s: %s\n", name, vocab ? vocab : "(default)",
           bert_config ? bert_config : "(none)", itr_status_name(st), st ? itr_last_error() : "");
    return st;
}

static void test_errors(void **state) {
    (void)state;
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.json", g_tmp);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("[1, 2", f);
    fclose(f);
    /* missing vocabulary files */
    assert_int_equal(run_with(BIGRU, "vocab/nope.json", NULL, NULL), ITR_E_IO);
    assert_int_equal(run_with(BERT, "bert-base-uncased/nope.txt", "bert-base-uncased/config.json", NULL), ITR_E_IO);
    /* BERT's vocab.txt for the BiGRU: not a JSON vocabulary */
    assert_int_equal(run_with(BIGRU, ITR_SOURCE_DIR "/fixtures/eval/" BERT "/bert-base-uncased/vocab.txt", NULL,
                              NULL),
                     ITR_E_FORMAT);
    /* upstream's default BiGRU vocabulary is opt.vocab_path (/tmp/data/vocab) */
    itr_status st0 = run_with(BIGRU, NULL, NULL, NULL);
    if (st0) assert_non_null(strstr(itr_last_error(), "f30k_precomp_vocab.json"));
    /* --bert-config: unreadable / not JSON */
    assert_int_equal(run_with(BERT, NULL, bad, NULL), ITR_E_FORMAT);
    assert_int_equal(run_with(BERT, NULL, "bert-base-uncased/missing.json", NULL), ITR_E_FORMAT);
    /* no config: hidden / 64 = 0 heads for hidden 24, the model refuses */
    assert_true(run_with(BERT, NULL, NULL, NULL) != ITR_OK);
    /* --model vseinf on a SCAN checkpoint: the weights do not fit */
    enter("scan_t2i_f30k_small");
    itr_eval_opts o;
    itr_eval_result r;
    itr_eval_opts_default(&o);
    o.checkpoint = "model_best.pth.tar";
    o.data = EVAL_DIR BIGRU "/data/f30k";
    o.model = "vseinf";
    itr_status st = itr_eval_run(&o, &r);
    printf("  scan checkpoint as vseinf -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_true(st != ITR_OK);
    assert_non_null(strstr(itr_last_error(), "loading VSE-inf"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bigru),
        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_default_vocab_and_batch),
        cmocka_unit_test(test_detect_and_hooks),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
