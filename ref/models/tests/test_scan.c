/* test_scan.c - SCAN reference: hand-checked encoders (basic and weight_norm
 * fc, bi-GRU direction mean), hand-checked pair scores for every
 * aggregation, agreement of the intermediates path with the loss-side scorer
 * for every raw_feature_norm x agg_func x direction, and the error paths.
 * The golden comparison itself is the conformance suite (fixtures/scan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/models/scan.h"

enum { IMG_DIM = 3, E = 2, V = 4, WD = 2 };

static void add(itr_weights *w, const char *g, const char *k, int ndim, const int64_t *shape, const float *v) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    memcpy(t.data, v, itr_tensor_nbytes(&t));
    assert_int_equal(itr_weights_add(w, g, k, &t), ITR_OK);
}

static void add_gru_dir(itr_weights *w, const char *suffix, float b_n0, float b_n1) {
    float wih[3 * E * WD] = {0}, whh[3 * E * E] = {0}, bih[3 * E] = {0}, bhh[3 * E] = {0};
    char key[64];
    bih[4] = b_n0;   /* n-block: n = tanh(b_in), r and z = sigmoid(0) = 1/2 */
    bih[5] = b_n1;
    snprintf(key, sizeof key, "rnn.weight_ih_l0%s", suffix);
    add(w, "1", key, 2, (int64_t[]){3 * E, WD}, wih);
    snprintf(key, sizeof key, "rnn.weight_hh_l0%s", suffix);
    add(w, "1", key, 2, (int64_t[]){3 * E, E}, whh);
    snprintf(key, sizeof key, "rnn.bias_ih_l0%s", suffix);
    add(w, "1", key, 1, (int64_t[]){3 * E}, bih);
    snprintf(key, sizeof key, "rnn.bias_hh_l0%s", suffix);
    add(w, "1", key, 1, (int64_t[]){3 * E}, bhh);
}

/* fc W = [[1,0,0],[0,3,4]]; weight_norm stores V = 2W and g = ||W||_F = sqrt(26)
 * so that g V / ||V||_F = W again. */
static void tiny_weights(itr_weights *w, int weight_norm, int bi) {
    static const float fc_w[E * IMG_DIM] = {1, 0, 0, 0, 3, 4};
    static const float fc_v[E * IMG_DIM] = {2, 0, 0, 0, 6, 8};
    static const float fc_b[E] = {0, 0};
    static const float emb[V * WD] = {0, 0, 1, 1, 2, 2, 3, 3};
    float g = (float)sqrt(26.0);
    itr_weights_init(w, "tiny");
    if (weight_norm) {
        add(w, "0", "fc.bias", 1, (int64_t[]){E}, fc_b);
        add(w, "0", "fc.weight_g", 0, NULL, &g);
        add(w, "0", "fc.weight_v", 2, (int64_t[]){E, IMG_DIM}, fc_v);
    } else {
        add(w, "0", "fc.weight", 2, (int64_t[]){E, IMG_DIM}, fc_w);
        add(w, "0", "fc.bias", 1, (int64_t[]){E}, fc_b);
    }
    add(w, "1", "embed.weight", 2, (int64_t[]){V, WD}, emb);
    add_gru_dir(w, "", 1.0f, -1.0f);
    if (bi) add_gru_dir(w, "_reverse", 0.5f, 2.0f);
}

static void check_image(int weight_norm) {
    itr_weights w;
    itr_config opt;
    itr_scan m;
    tiny_weights(&w, weight_norm, 0);
    itr_config_init(&opt);
    if (weight_norm) itr_config_set_str(&opt, "precomp_enc_type", "weight_norm");
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.weight_norm, weight_norm);
    assert_int_equal(m.cfg.embed_size, E);
    assert_int_equal(m.cfg.img_dim, IMG_DIM);
    /* two regions: f = (1,1,1) -> (1, 7) / (sqrt(50) + 1e-8); f = 0 -> 0 */
    float f[2 * IMG_DIM] = {1, 1, 1, 0, 0, 0}, v[2 * E];
    assert_int_equal(itr_scan_encode_images(&m, f, 1, 2, v), ITR_OK);
    double e0 = fabs(v[0] - 1.0 / (sqrt(50.0) + 1e-8)), e1 = fabs(v[1] - 7.0 / (sqrt(50.0) + 1e-8));
    printf("image (weight_norm %d): max abs err %.3g\n", weight_norm, e0 > e1 ? e0 : e1);
    assert_true(e0 < 1e-6 && e1 < 1e-6);
    assert_true(v[2] == 0.0f && v[3] == 0.0f);   /* 0 / (0 + eps): no NaN */
    itr_scan_free(&m);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

static void test_image_basic_and_weight_norm(void **state) {
    (void)state;
    check_image(0);
    check_image(1);
}

/* With zero GRU weights h_t = (1 - 1/2) n + h_{t-1}/2: after k steps
 * h = n (1 - 2^-k). The forward direction at t has seen t+1 steps, the
 * reverse one L-t steps; bi_gru averages them. no_txtnorm shows raw values. */
static void test_caption_bigru_mean(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_scan m;
    tiny_weights(&w, 0, 1);
    itr_config_init(&opt);
    itr_config_set_bool(&opt, "bi_gru", 1);
    itr_config_set_bool(&opt, "no_txtnorm", 1);
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_OK);
    int64_t ids[2 * 3] = {1, 2, 0, 3, 1, 2}, len[2] = {2, 3};
    float out[2 * 3 * E];
    assert_int_equal(itr_scan_encode_captions(&m, ids, len, 2, 3, out), ITR_OK);
    double nf[2] = {tanh(1.0), tanh(-1.0)}, nb[2] = {tanh(0.5), tanh(2.0)}, worst = 0.0;
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < 3; t++)
            for (int u = 0; u < E; u++) {
                double want = 0.0;
                if (t < len[c]) {
                    double fw = nf[u] * (1.0 - pow(2.0, -(t + 1))), bw = nb[u] * (1.0 - pow(2.0, -(len[c] - t)));
                    want = (fw + bw) / 2.0;
                }
                double err = fabs(out[(c * 3 + t) * E + u] - want);
                worst = err > worst ? err : worst;
            }
    printf("bi-GRU mean: max abs err %.3g\n", worst);
    assert_true(worst < 1e-6);
    /* with the norm: unit rows */
    itr_config_set_bool(&opt, "no_txtnorm", 0);
    itr_scan_free(&m);
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(itr_scan_encode_captions(&m, ids, len, 2, 3, out), ITR_OK);
    assert_float_equal(hypot(out[0], out[1]), 1.0, 1e-6);
    assert_true(out[2 * E] == 0.0f && out[2 * E + 1] == 0.0f);   /* padding stays 0 */
    /* bad id / bad length come back from the ops */
    int64_t bad[3] = {1, 9, 0};
    assert_int_equal(itr_scan_encode_captions(&m, bad, len, 1, 3, out), ITR_E_ARG);
    assert_int_not_equal(itr_scan_encode_captions(&m, ids, (int64_t[]){0}, 1, 3, out), ITR_OK);
    assert_int_equal(itr_scan_encode_captions(&m, ids, len, 0, 3, out), ITR_E_SHAPE);
    float f[IMG_DIM] = {0};
    assert_int_equal(itr_scan_encode_images(&m, f, 0, 1, out), ITR_E_SHAPE);
    itr_scan_free(&m);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

/* Two queries (1,0), (0,1) against one context item (3,4): the attention is
 * 1, every attended vector is (3,4), row_sim = (0.6, 0.8). */
static void test_pair_by_hand(void **state) {
    (void)state;
    const double Q[4] = {1, 0, 0, 1}, C[2] = {3, 4};
    itr_scan_params p;
    itr_scan_params_default(&p);
    double attn[2], wei[4], rs[2], score;
    const char *aggs[4] = {"LogSumExp", "Mean", "Max", "Sum"};
    double want[4] = {log(exp(6 * 0.6) + exp(6 * 0.8)) / 6, 0.7, 0.8, 1.4};
    for (int a = 0; a < 4; a++) {
        assert_int_equal(itr_scan_params_parse(&p, NULL, NULL, aggs[a]), ITR_OK);
        assert_int_equal(itr_scan_pair_f64(&p, Q, 2, C, 1, 2, attn, wei, rs, &score), ITR_OK);
        printf("pair %s: got %.17g want %.17g\n", aggs[a], score, want[a]);
        assert_float_equal(score, want[a], 1e-12);
    }
    assert_float_equal(attn[0], 1.0, 1e-15);
    assert_float_equal(attn[1], 1.0, 1e-15);
    assert_float_equal(wei[2], 3.0, 1e-12);
    assert_float_equal(wei[3], 4.0, 1e-12);
    assert_float_equal(rs[0], 0.6, 1e-12);
    assert_float_equal(rs[1], 0.8, 1e-12);
    /* zero attended vector: the cosine clamps the denominator, 0 not NaN */
    const double Z[2] = {0, 0};
    assert_int_equal(itr_scan_pair_f64(&p, Q, 1, Z, 1, 2, NULL, NULL, rs, &score), ITR_OK);
    assert_true(rs[0] == 0.0);
    assert_int_equal(itr_scan_pair_f64(&p, Q, 0, C, 1, 2, NULL, NULL, NULL, &score), ITR_E_SHAPE);
    assert_int_equal(itr_scan_pair_f64(&p, Q, 1, C, 1, 2, NULL, NULL, NULL, NULL), ITR_E_ARG);
}

static double frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* The intermediates path and the loss-side scorer (ref/losses/scan_sims.c)
 * are independent codings of s4.4: they must agree everywhere; the
 * attention must be a softmax over the context. */
static void test_pair_matches_scorer(void **state) {
    (void)state;
    enum { R = 5, L = 4, D = 3 };
    double im[R * D], s[L * D], attn[R * L], score, want, worst = 0.0;
    unsigned seed = 7;
    for (int k = 0; k < R * D; k++) im[k] = frand(&seed);
    for (int k = 0; k < L * D; k++) s[k] = frand(&seed);
    const char *norms[5] = {"clipped_l2norm", "l2norm", "softmax", "clipped", "no_norm"};
    const char *aggs[4] = {"LogSumExp", "Mean", "Max", "Sum"};
    const char *dirs[2] = {"t2i", "i2t"};
    int64_t len = 3;   /* only the first 3 words of the caption */
    for (int di = 0; di < 2; di++)
        for (int n = 0; n < 5; n++)
            for (int a = 0; a < 4; a++) {
                itr_scan_params p;
                itr_scan_params_default(&p);
                assert_int_equal(itr_scan_params_parse(&p, dirs[di], norms[n], aggs[a]), ITR_OK);
                p.lambda_softmax = 4.0;
                p.lambda_lse = 5.0;
                int t2i = di == 0;
                int64_t nq = t2i ? len : R, nc = t2i ? R : len;
                assert_int_equal(itr_scan_pair_f64(&p, t2i ? s : im, nq, t2i ? im : s, nc, D, attn, NULL, NULL, &score),
                                 ITR_OK);
                assert_int_equal(itr_scan_scores_f64(&p, im, R, s, &len, L, 1, D, &want), ITR_OK);
                double err = fabs(score - want);
                worst = err > worst ? err : worst;
                for (int64_t q = 0; q < nq; q++) {
                    double z = 0.0;
                    for (int64_t c = 0; c < nc; c++) z += attn[c * nq + q];
                    assert_float_equal(z, 1.0, 1e-12);
                }
            }
    printf("pair vs itr_scan_scores_f64 (40 settings): max abs err %.3g\n", worst);
    assert_true(worst < 1e-12);
}

/* itr_scan_sims_f64 is rectangular and slices each caption to its length. */
static void test_sims_rectangular(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_scan m;
    tiny_weights(&w, 0, 0);
    itr_config_init(&opt);
    itr_config_set_str(&opt, "cross_attn", "i2t");
    itr_config_set_str(&opt, "agg_func", "Mean");
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_OK);
    enum { NI = 2, R = 2, NC = 3, T = 3 };
    float img[NI * R * E], cap[NC * T * E] = {0};
    int64_t len[NC] = {1, 3, 2};
    unsigned seed = 3;
    for (int k = 0; k < NI * R * E; k++) img[k] = (float)frand(&seed);
    for (int j = 0; j < NC; j++)
        for (int k = 0; k < len[j] * E; k++) cap[j * T * E + k] = (float)frand(&seed);
    double sims[NI * NC], worst = 0.0;
    assert_int_equal(itr_scan_sims_f64(&m, img, NI, R, cap, len, NC, T, sims), ITR_OK);
    for (int i = 0; i < NI; i++)
        for (int j = 0; j < NC; j++) {
            double Q[R * E], C[T * E], score;
            for (int k = 0; k < R * E; k++) Q[k] = img[i * R * E + k];
            for (int k = 0; k < T * E; k++) C[k] = cap[j * T * E + k];
            assert_int_equal(itr_scan_pair_f64(&m.cfg.attn, Q, R, C, len[j], E, NULL, NULL, NULL, &score), ITR_OK);
            double err = fabs(score - sims[i * NC + j]);
            worst = err > worst ? err : worst;
        }
    printf("sims vs per-pair: max abs err %.3g\n", worst);
    assert_true(worst < 1e-12);
    assert_int_equal(itr_scan_sims_f64(&m, img, 0, R, cap, len, NC, T, sims), ITR_E_SHAPE);
    len[0] = 4;   /* longer than T */
    assert_int_equal(itr_scan_sims_f64(&m, img, NI, R, cap, len, NC, T, sims), ITR_E_SHAPE);
    itr_scan_free(&m);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

static itr_status load_with(int weight_norm, int bi, const char *field, const char *sval, int64_t ival) {
    itr_weights w;
    itr_config opt;
    itr_scan m;
    tiny_weights(&w, weight_norm, bi);
    itr_config_init(&opt);
    if (field && sval) itr_config_set_str(&opt, field, sval);
    if (field && !sval) itr_config_set_int(&opt, field, ival);
    itr_status st = itr_scan_load(&m, &opt, &w);
    if (!st) itr_scan_free(&m);
    itr_weights_free(&w);
    itr_config_free(&opt);
    return st;
}

static void test_checkpoint_errors(void **state) {
    (void)state;
    assert_int_equal(load_with(0, 0, "embed_size", NULL, 5), ITR_E_SHAPE);
    assert_int_equal(load_with(0, 0, "vocab_size", NULL, 7), ITR_E_SHAPE);
    assert_int_equal(load_with(0, 0, "num_layers", NULL, 0), ITR_E_UNSUPPORTED);
    assert_int_equal(load_with(0, 0, "agg_func", "Median", 0), ITR_E_UNSUPPORTED);
    assert_int_equal(load_with(0, 0, "raw_feature_norm", "l1norm", 0), ITR_E_UNSUPPORTED);   /* QUIRK-S5 */
    assert_int_equal(load_with(0, 0, "precomp_enc_type", "weight_norm", 0), ITR_E_KEY);
    assert_int_equal(load_with(1, 0, "precomp_enc_type", "basic", 0), ITR_E_KEY);
    assert_int_equal(load_with(0, 0, "margin", "wide", 0), ITR_E_DTYPE);
    /* reverse tensors present but opt.bi_gru False: unused keys (strict) */
    assert_int_not_equal(load_with(0, 1, NULL, NULL, 0), ITR_OK);
    assert_true(strstr(itr_last_error(), "_reverse") != NULL);
    /* bi_gru True without the reverse tensors: missing keys */
    assert_int_not_equal(load_with(0, 0, "bi_gru", NULL, 1), ITR_OK);

    /* missing fc.weight: reported by name */
    itr_weights w;
    itr_config opt;
    itr_scan m;
    itr_config_init(&opt);
    itr_weights_init(&w, "empty");
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_E_KEY);
    assert_true(strstr(itr_last_error(), "fc.weight") != NULL);
    itr_weights_free(&w);
    /* weight_g that is not a scalar */
    itr_weights_init(&w, "badg");
    float g2[2] = {1, 1}, v[E * IMG_DIM] = {1, 0, 0, 0, 1, 0};
    add(&w, "0", "fc.weight_g", 1, (int64_t[]){2}, g2);
    add(&w, "0", "fc.weight_v", 2, (int64_t[]){E, IMG_DIM}, v);
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_E_SHAPE);
    assert_true(strstr(itr_last_error(), "fc.weight_g") != NULL);
    itr_weights_free(&w);
    /* weight_g without weight_v */
    itr_weights_init(&w, "nov");
    add(&w, "0", "fc.weight_g", 0, NULL, g2);
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_E_KEY);
    assert_true(strstr(itr_last_error(), "fc.weight_v") != NULL);
    itr_weights_free(&w);
    /* no embed.weight */
    itr_weights_init(&w, "noembed");
    add(&w, "0", "fc.weight", 2, (int64_t[]){E, IMG_DIM}, v);
    assert_int_equal(itr_scan_load(&m, &opt, &w), ITR_E_KEY);
    assert_true(strstr(itr_last_error(), "embed.weight") != NULL);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_basic_and_weight_norm),
        cmocka_unit_test(test_caption_bigru_mean),
        cmocka_unit_test(test_pair_by_hand),
        cmocka_unit_test(test_pair_matches_scorer),
        cmocka_unit_test(test_sims_rectangular),
        cmocka_unit_test(test_checkpoint_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
