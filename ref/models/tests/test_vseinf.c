/* test_vseinf.c - VSE-infinity reference: GPO pieces by hand (positional
 * encoding, pooling weights, per-channel sort), LayerNorm / exact GELU
 * values, a tiny BERT, a tiny model end to end, and load/length errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/models/vseinf.h"

static void add_fill(itr_weights *w, const char *g, const char *k, int ndim, const int64_t *shape, float v) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    for (int64_t i = 0; i < itr_tensor_numel(&t); i++) itr_f32(&t)[i] = v;
    assert_int_equal(itr_weights_add(w, g, k, &t), ITR_OK);
}

static float *add0(itr_weights *w, const char *g, const char *pfx, const char *name, int ndim, int64_t d0,
                   int64_t d1) {
    char k[256];
    snprintf(k, sizeof k, "%s%s", pfx, name);
    add_fill(w, g, k, ndim, (int64_t[]){d0, d1}, 0.0f);
    return (float *)itr_weights_find(w, g, k)->t.data;
}

/* GPO weights with all-zero GRU except b_in[0] = 1 (so n_0 = tanh 1) and
 * w_lin = e_0 when `peaked`. */
static void add_gpo(itr_weights *w, const char *g, const char *pfx, int peaked) {
    char p[128];
    static const char *dirs[2] = {"", "_reverse"};
    for (int d = 0; d < 2; d++) {
        char k[64];
        snprintf(p, sizeof p, "%sgru.", pfx);
        snprintf(k, sizeof k, "weight_ih_l0%s", dirs[d]);
        add0(w, g, p, k, 2, 96, 32);
        snprintf(k, sizeof k, "weight_hh_l0%s", dirs[d]);
        add0(w, g, p, k, 2, 96, 32);
        snprintf(k, sizeof k, "bias_ih_l0%s", dirs[d]);
        float *b = add0(w, g, p, k, 1, 96, 0);
        if (peaked) b[64] = 1.0f;   /* n-gate block, unit 0 */
        snprintf(k, sizeof k, "bias_hh_l0%s", dirs[d]);
        add0(w, g, p, k, 1, 96, 0);
    }
    float *lin = add0(w, g, pfx, "linear.weight", 2, 1, 32);
    if (peaked) lin[0] = 1.0f;
}

static void test_positional_encoding(void **state) {
    (void)state;
    float P[3 * 32];
    itr_gpo_positional(3, 32, P);
    for (int j = 0; j < 16; j++) {   /* k = 0: sin 0 = 0, cos 0 = 1 */
        assert_float_equal(P[2 * j], 0.0, 0.0);
        assert_float_equal(P[2 * j + 1], 1.0, 0.0);
    }
    /* j = 0: div = 1, so P[k, 0] = sin k, P[k, 1] = cos k */
    assert_float_equal(P[32 + 0], sin(1.0), 1e-7);
    assert_float_equal(P[64 + 1], cos(2.0), 1e-7);
    /* j = 1: div = 10000^(-1/16) */
    double div = pow(10000.0, -2.0 / 32.0);
    printf("pe: |err| at (2, 2) = %.3e\n", fabs(P[64 + 2] - sin(2.0 * div)));
    assert_float_equal(P[64 + 2], sin(2.0 * div), 1e-6);
}

static void test_gpo_weights_and_sort(void **state) {
    (void)state;
    itr_weights w;
    itr_gpo g;
    itr_weights_init(&w, "tiny-gpo");
    add_gpo(&w, "0", "gpool.", 1);
    assert_int_equal(itr_gpo_load(&g, &w, "0", "gpool."), ITR_OK);
    /* z = 1/2, h_t = n/2 + h_{t-1}/2 with n = tanh 1. L = 3: forward n(1/2, 3/4, 7/8),
     * reverse n(7/8, 3/4, 1/2); mean n(11/16, 12/16, 11/16); theta = softmax(10 a). */
    double n = tanh(1.0), a[3] = {11.0 / 16 * n, 12.0 / 16 * n, 11.0 / 16 * n}, z = 0, th[3];
    for (int k = 0; k < 3; k++) z += exp(10 * a[k]);
    for (int k = 0; k < 3; k++) th[k] = exp(10 * a[k]) / z;
    float x[4 * 2] = {1, 5, 3, 4, 2, 6, 100, 100}, pooled[2], theta[3];
    assert_int_equal(itr_gpo_pool(&g, x, 4, 2, 3, pooled, theta), ITR_OK);   /* row 3 is padding */
    double maxerr = 0;
    for (int k = 0; k < 3; k++) maxerr = fmax(maxerr, fabs(theta[k] - th[k]));
    /* channel 0 sorted: 3, 2, 1; channel 1: 6, 5, 4 */
    double p0 = 3 * th[0] + 2 * th[1] + 1 * th[2], p1 = 6 * th[0] + 5 * th[1] + 4 * th[2];
    maxerr = fmax(maxerr, fmax(fabs(pooled[0] - p0), fabs(pooled[1] - p1)));
    printf("gpo: max abs err %.3e\n", maxerr);
    assert_true(maxerr < 1e-6);
    assert_true(theta[1] > theta[0]);
    /* errors: length outside 1..K */
    assert_int_equal(itr_gpo_pool(&g, x, 4, 2, 0, pooled, NULL), ITR_E_ARG);
    assert_int_equal(itr_gpo_pool(&g, x, 4, 2, 5, pooled, NULL), ITR_E_ARG);
    assert_int_equal(itr_gpo_weights(&g, 0, theta), ITR_E_ARG);
    assert_int_equal(itr_gpo_load(&g, &w, "0", "missing."), ITR_E_KEY);
    itr_weights_free(&w);
}

static void test_layernorm_gelu(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 0.5f};
    itr_layernorm_rows(x, 1, 4, g, b, 1e-12f);
    double s = sqrt(1.25);   /* mean 2.5, biased var 1.25 */
    assert_float_equal(x[0], -1.5 / s, 1e-6);
    assert_float_equal(x[2], 2 * 0.5 / s, 1e-6);
    assert_float_equal(x[3], 1.5 / s + 0.5, 1e-6);
    float y[3] = {1, -1, 0};
    itr_gelu_erf(y, 3);
    printf("gelu: err %.3e %.3e\n", fabs(y[0] - 0.8413447460685429), fabs(y[1] + 0.15865525393145707));
    assert_float_equal(y[0], 0.8413447460685429, 1e-7);
    assert_float_equal(y[1], -0.15865525393145707, 1e-7);
    assert_float_equal(y[2], 0.0, 0.0);
}

/* A 1-layer BERT of hidden 2 with zero layer weights: each block adds 0 and
 * re-normalises, so the output is LN(word + pos + type) = (-1, 1) or (1, -1). */
static void add_bert(itr_weights *w, const char *g, const char *p) {
    char k[256];
    float *word = add0(w, g, p, "bert.embeddings.word_embeddings.weight", 2, 4, 2);
    word[2] = 1.0f;   /* id 1 = (1, 0) */
    word[7] = 1.0f;   /* id 3 = (0, 1) */
    add0(w, g, p, "bert.embeddings.position_embeddings.weight", 2, 8, 2);
    add0(w, g, p, "bert.embeddings.token_type_embeddings.weight", 2, 2, 2);
    float *ln = add0(w, g, p, "bert.embeddings.LayerNorm.weight", 1, 2, 0);
    ln[0] = ln[1] = 1.0f;
    add0(w, g, p, "bert.embeddings.LayerNorm.bias", 1, 2, 0);
    static const char *mats[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                 "attention.output.dense"};
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "bert.encoder.layer.0.%s.weight", mats[i]);
        add0(w, g, p, k, 2, 2, 2);
        snprintf(k, sizeof k, "bert.encoder.layer.0.%s.bias", mats[i]);
        add0(w, g, p, k, 1, 2, 0);
    }
    add0(w, g, p, "bert.encoder.layer.0.intermediate.dense.weight", 2, 3, 2);
    add0(w, g, p, "bert.encoder.layer.0.intermediate.dense.bias", 1, 3, 0);
    add0(w, g, p, "bert.encoder.layer.0.output.dense.weight", 2, 2, 3);
    add0(w, g, p, "bert.encoder.layer.0.output.dense.bias", 1, 2, 0);
    static const char *lns[] = {"attention.output.LayerNorm", "output.LayerNorm"};
    for (int i = 0; i < 2; i++) {
        snprintf(k, sizeof k, "bert.encoder.layer.0.%s.weight", lns[i]);
        ln = add0(w, g, p, k, 1, 2, 0);
        ln[0] = ln[1] = 1.0f;
        snprintf(k, sizeof k, "bert.encoder.layer.0.%s.bias", lns[i]);
        add0(w, g, p, k, 1, 2, 0);
    }
    add0(w, g, p, "bert.pooler.dense.weight", 2, 2, 2);
    add0(w, g, p, "bert.pooler.dense.bias", 1, 2, 0);
}

static void test_bert_tiny(void **state) {
    (void)state;
    itr_weights w;
    itr_bert b;
    itr_weights_init(&w, "tiny-bert");
    add_bert(&w, "1", "");
    itr_weights_begin(&w);
    /* hidden 2 has no default head count (2 / 64 = 0) */
    assert_int_equal(itr_bert_load(&b, &w, "1", "bert.", 0, 0), ITR_E_SHAPE);
    assert_int_equal(itr_bert_load(&b, &w, "1", "bert.", 1, 0), ITR_OK);
    assert_int_equal(b.n_layers, 1);
    assert_int_equal(b.ffn, 3);
    int64_t ids[2] = {1, 3};
    float out[4];
    assert_int_equal(itr_bert_forward(&b, ids, 2, out), ITR_OK);
    assert_float_equal(out[0], 1.0, 1e-5);
    assert_float_equal(out[1], -1.0, 1e-5);
    assert_float_equal(out[2], -1.0, 1e-5);
    assert_float_equal(out[3], 1.0, 1e-5);
    assert_int_equal(itr_bert_forward(&b, ids, 9, out), ITR_E_ARG);   /* > 8 positions */
    int64_t bad[1] = {7};
    assert_int_not_equal(itr_bert_forward(&b, bad, 1, out), ITR_OK);   /* id outside vocab */
    assert_int_equal(itr_bert_load(&b, &w, "1", "nothing.", 1, 0), ITR_E_KEY);
    itr_weights_free(&w);
}

/* Image encoder: fc = identity, zero MLP (BN mean 0, var 1, gamma 1), flat GPO
 * (theta = 1/L): v = L2Ne(mean of the per-channel sorted rows). */
static void add_image(itr_weights *w, const char *p) {
    float *fc = add0(w, "0", p, "fc.weight", 2, 2, 2);
    fc[0] = fc[3] = 1.0f;
    add0(w, "0", p, "fc.bias", 1, 2, 0);
    add0(w, "0", p, "mlp.layers.0.weight", 2, 2, 2);
    add0(w, "0", p, "mlp.layers.0.bias", 1, 2, 0);
    add0(w, "0", p, "mlp.layers.1.weight", 2, 2, 2);
    add0(w, "0", p, "mlp.layers.1.bias", 1, 2, 0);
    static const char *bns[] = {"mlp.bns.0.", "mlp.bns.1."};
    for (int i = 0; i < 2; i++) {
        char k[64];
        snprintf(k, sizeof k, "%sweight", bns[i]);
        float *g = add0(w, "0", p, k, 1, 2, 0);
        g[0] = g[1] = 1.0f;
        snprintf(k, sizeof k, "%sbias", bns[i]);
        add0(w, "0", p, k, 1, 2, 0);
        snprintf(k, sizeof k, "%srunning_mean", bns[i]);
        add0(w, "0", p, k, 1, 2, 0);
        snprintf(k, sizeof k, "%srunning_var", bns[i]);
        float *v = add0(w, "0", p, k, 1, 2, 0);
        v[0] = v[1] = 1.0f;
    }
    char k[64];
    snprintf(k, sizeof k, "%sgpool.", p);
    add_gpo(w, "0", k, 0);
}

static void test_model_bigru(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_vseinf m;
    itr_weights_init(&w, "tiny-vseinf");
    itr_config_init(&opt);
    add_image(&w, "module.");   /* prefixed image, unprefixed text (s2.10) */
    add0(&w, "1", "", "embed.weight", 2, 3, 2);
    static const char *rnn[] = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) {
            char k[64];
            snprintf(k, sizeof k, "%s%s", rnn[i], d ? "_reverse" : "");
            add0(&w, "1", "", k, i < 2 ? 2 : 1, 6, 2);
        }
    add_gpo(&w, "1", "gpool.", 0);
    assert_int_equal(itr_vseinf_load(&m, &opt, &w, 0, 0), ITR_OK);
    assert_int_equal(m.text, ITR_VSEINF_BIGRU);
    /* image 0 rows (3, 0), (1, 4): sorted (3, 4), (1, 0) -> mean (2, 2);
     * image 1 has length 1: (0, 5) -> (0, 1) */
    float img[2 * 2 * 2] = {3, 0, 1, 4, 0, 5, 9, 9}, emb[4], gin[8], th[4], pooled[4];
    int64_t il[2] = {2, 1};
    assert_int_equal(itr_vseinf_encode_images(&m, img, il, 2, 2, emb, gin, th, pooled), ITR_OK);
    assert_float_equal(emb[0], 1 / sqrt(2.0), 1e-6);
    assert_float_equal(emb[1], 1 / sqrt(2.0), 1e-6);
    assert_float_equal(emb[2], 0.0, 1e-7);
    assert_float_equal(emb[3], 1.0, 1e-6);
    assert_float_equal(pooled[0], 2.0, 1e-6);
    assert_float_equal(th[2], 1.0, 1e-7);
    assert_float_equal(th[3], 0.0, 0.0);
    assert_float_equal(gin[6], 0.0, 0.0);   /* padded row zeroed */
    int64_t caps[2 * 3] = {1, 2, 0, 2, 1, 1}, cl[2] = {2, 3};
    float cemb[4];
    assert_int_equal(itr_vseinf_encode_captions(&m, caps, cl, 2, 3, cemb, NULL, NULL, NULL, NULL), ITR_OK);
    assert_float_equal(cemb[0], 0.0, 0.0);   /* zero GRU: o = 0, L2Ne(0) = 0 */
    double sims[4];
    itr_vseinf_sims(&m, emb, 2, emb, 2, sims);
    assert_float_equal(sims[1], 1 / sqrt(2.0), 1e-6);
    /* errors */
    il[1] = 3;
    assert_int_equal(itr_vseinf_encode_images(&m, img, il, 2, 2, emb, NULL, NULL, NULL), ITR_E_ARG);
    assert_int_equal(itr_vseinf_encode_images(&m, img, il, 0, 2, emb, NULL, NULL, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_vseinf_encode_captions(&m, caps, cl, 0, 3, cemb, NULL, NULL, NULL, NULL), ITR_E_SHAPE);
    itr_config_free(&opt);
    itr_weights_free(&w);
}

static void test_model_bert_and_errors(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_vseinf m;
    itr_weights_init(&w, "tiny-vseinf-bert");
    itr_config_init(&opt);
    add_image(&w, "module.");
    add_bert(&w, "1", "module.");
    float *lin = add0(&w, "1", "module.", "linear.weight", 2, 2, 2);
    lin[0] = lin[3] = 1.0f;
    add0(&w, "1", "module.", "linear.bias", 1, 2, 0);
    add_gpo(&w, "1", "module.gpool.", 0);
    /* hidden 2 with the default head count (2 / 64 = 0) is refused by name */
    assert_int_equal(itr_vseinf_load(&m, &opt, &w, 0, 0), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "heads"));
    assert_int_equal(itr_vseinf_load(&m, &opt, &w, 1, 0), ITR_OK);
    assert_int_equal(m.text, ITR_VSEINF_BERT);
    /* caption (1, 3): BERT rows (1, -1), (-1, 1); linear = identity; sorted mean (0, 0) */
    int64_t caps[2 * 3] = {1, 3, 0, 1, 0, 0}, cl[2] = {2, 1};
    float cemb[4], pooled[4], bert_out[2 * 3 * 2], gin[12];
    assert_int_equal(itr_vseinf_encode_captions(&m, caps, cl, 2, 3, cemb, gin, NULL, pooled, bert_out), ITR_OK);
    assert_float_equal(pooled[0], 0.0, 1e-5);
    assert_float_equal(bert_out[0], 1.0, 1e-5);
    assert_float_equal(bert_out[4], 0.0, 0.0);   /* beyond length */
    assert_float_equal(cemb[2], 1 / sqrt(2.0), 1e-5);   /* caption 1: (1, -1) / sqrt 2 */
    cl[1] = 4;
    assert_int_equal(itr_vseinf_encode_captions(&m, caps, cl, 2, 3, cemb, NULL, NULL, NULL, NULL), ITR_E_ARG);
    /* embed_size mismatch with opt */
    assert_int_equal(itr_config_set_int(&opt, "embed_size", 7), ITR_OK);
    assert_int_equal(itr_vseinf_load(&m, &opt, &w, 1, 0), ITR_E_SHAPE);
    itr_config_free(&opt);
    /* strict: an unexpected key fails the load, naming it */
    add0(&w, "1", "module.", "extra.weight", 1, 2, 0);
    itr_config_init(&opt);
    assert_int_not_equal(itr_vseinf_load(&m, &opt, &w, 1, 0), ITR_OK);
    assert_non_null(strstr(itr_last_error(), "extra.weight"));
    itr_config_free(&opt);
    itr_weights_free(&w);
    /* an empty store: fc.weight missing */
    itr_weights_init(&w, "empty");
    itr_config_init(&opt);
    assert_int_not_equal(itr_vseinf_load(&m, &opt, &w, 1, 0), ITR_OK);
    itr_config_free(&opt);
    itr_weights_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positional_encoding), cmocka_unit_test(test_gpo_weights_and_sort),
        cmocka_unit_test(test_layernorm_gelu),      cmocka_unit_test(test_bert_tiny),
        cmocka_unit_test(test_model_bigru),         cmocka_unit_test(test_model_bert_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
