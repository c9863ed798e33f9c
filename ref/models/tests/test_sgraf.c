/* test_sgraf.c - SGRAF reference: hand-checked pieces (attention, VisualSA,
 * TextSA, SGR and SAF on nodes of known value, encoders) and load/shape
 * errors. The full model against upstream is the conformance case
 * fixtures/sgraf/{sgr,saf}_small.h5. Tiny sizes: D = P = R = img_dim =
 * word_dim = 2, vocab 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/models/sgraf.h"

enum { D = 2, P = 2, R = 2, VOC = 3 };

static void add(itr_weights *w, const char *g, const char *k, int ndim, const int64_t *shape, const float *v) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    memcpy(t.data, v, itr_tensor_nbytes(&t));
    assert_int_equal(itr_weights_add(w, g, k, &t), ITR_OK);
}

static void add_linear(itr_weights *w, const char *g, const char *prefix, int64_t out, int64_t in, const float *W,
                       const float *b) {
    char key[128];
    snprintf(key, sizeof key, "%s.weight", prefix);
    add(w, g, key, 2, (int64_t[]){out, in}, W);
    snprintf(key, sizeof key, "%s.bias", prefix);
    add(w, g, key, 1, (int64_t[]){out}, b);
}

static void add_bn(itr_weights *w, const char *prefix, int64_t c, const float *mean, const float *var,
                   const float *gamma, const float *beta) {
    char key[128];
    snprintf(key, sizeof key, "%s.weight", prefix);
    add(w, "2", key, 1, (int64_t[]){c}, gamma);
    snprintf(key, sizeof key, "%s.bias", prefix);
    add(w, "2", key, 1, (int64_t[]){c}, beta);
    snprintf(key, sizeof key, "%s.running_mean", prefix);
    add(w, "2", key, 1, (int64_t[]){c}, mean);
    snprintf(key, sizeof key, "%s.running_var", prefix);
    add(w, "2", key, 1, (int64_t[]){c}, var);
}

static const float ZERO4[4] = {0, 0, 0, 0}, ID2[4] = {1, 0, 0, 1}, ONE2[2] = {1, 1};
static const float VAR1[2] = {1.0f - 1e-5f, 1.0f - 1e-5f};   /* sqrt(var + eps) = 1 */
static const float VIS_BETA_LOC[R] = {0.5f, -0.5f};   /* Lv_r = tanh(beta_r) */
static const float VIS_BETA_GLO[D] = {0.3f, 0.2f};    /* gv_k = tanh(beta_k) */

/* Weights whose outputs are computable by hand (see each test). */
static void tiny_weights(itr_weights *w, itr_sgraf_module module, int steps, int bi) {
    float gru_b[3 * D] = {0, 0, 0, 0, 1.0f, -1.0f};   /* n = tanh(+-1), z = 1/2 */
    float gru_w[3 * D * D] = {0};
    itr_weights_init(w, "tiny");
    add_linear(w, "0", "fc", D, 2, ID2, ZERO4);
    add(w, "1", "embed.weight", 2, (int64_t[]){VOC, 2}, (float[]){0, 0, 1, 1, 2, 2});
    for (int d = 0; d < (bi ? 2 : 1); d++) {
        const char *suf = d ? "_reverse" : "";
        char key[64];
        snprintf(key, sizeof key, "cap_rnn.weight_ih_l0%s", suf);
        add(w, "1", key, 2, (int64_t[]){3 * D, 2}, gru_w);
        snprintf(key, sizeof key, "cap_rnn.weight_hh_l0%s", suf);
        add(w, "1", key, 2, (int64_t[]){3 * D, D}, gru_w);
        snprintf(key, sizeof key, "cap_rnn.bias_ih_l0%s", suf);
        add(w, "1", key, 1, (int64_t[]){3 * D}, gru_b);
        snprintf(key, sizeof key, "cap_rnn.bias_hh_l0%s", suf);
        add(w, "1", key, 1, (int64_t[]){3 * D}, gru_w);
    }
    /* VisualSA: local/global linears 0, BN gamma 0 so only beta remains. */
    add_linear(w, "2", "v_global_w.embedding_local.0", D, D, ZERO4, ZERO4);
    add_bn(w, "v_global_w.embedding_local.1", R, ZERO4, VAR1, ZERO4, VIS_BETA_LOC);
    add(w, "2", "v_global_w.embedding_local.1.num_batches_tracked", 0, NULL, ZERO4);
    add_linear(w, "2", "v_global_w.embedding_global.0", D, D, ZERO4, ZERO4);
    add_bn(w, "v_global_w.embedding_global.1", D, ZERO4, VAR1, ZERO4, VIS_BETA_GLO);
    add_linear(w, "2", "v_global_w.embedding_common.0", 1, D, ONE2, ZERO4);
    /* TextSA: Lt = tanh(T), gt = tanh(1), e_l = tanh(1) (tanh T_l0 + tanh T_l1) */
    add_linear(w, "2", "t_global_w.embedding_local.0", D, D, ID2, ZERO4);
    add_linear(w, "2", "t_global_w.embedding_global.0", D, D, ZERO4, ONE2);
    add_linear(w, "2", "t_global_w.embedding_common.0", 1, D, ONE2, ZERO4);
    /* Nodes independent of the inputs: s_l = (1, 0), s_g = (0, 1). */
    add_linear(w, "2", "sim_tranloc_w", P, D, ZERO4, (float[]){1, 0});
    add_linear(w, "2", "sim_tranglo_w", P, D, ZERO4, (float[]){0, 1});
    add_linear(w, "2", "sim_eval_w", 1, P, (float[]){2, 0}, ZERO4);
    if (module == ITR_SGRAF_SGR) {
        for (int k = 0; k < steps; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_query_w", k);
            add_linear(w, "2", prefix, P, P, ZERO4, ZERO4);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_key_w", k);
            add_linear(w, "2", prefix, P, P, ZERO4, ZERO4);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.sim_graph_w", k);
            add_linear(w, "2", prefix, P, P, ID2, ZERO4);
        }
    } else {
        /* a_j = X_j[0] -> BN (mean 0.5, var 1) -> +-0.5 */
        add_linear(w, "2", "SAF_module.attn_sim_w", 1, P, (float[]){1, 0}, ZERO4);
        add_bn(w, "SAF_module.bn", 1, (float[]){0.5f}, VAR1, ONE2, ZERO4);
    }
}

static void tiny_opt(itr_config *opt, const char *module, int bi) {
    itr_config_init(opt);
    assert_int_equal(itr_config_set_str(opt, "module_name", module), ITR_OK);
    assert_int_equal(itr_config_set_int(opt, "sgr_step", 2), ITR_OK);
    assert_int_equal(itr_config_set_bool(opt, "bi_gru", bi), ITR_OK);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* t2i attention, one word e1 over regions e1, e2:
 * S = (1, 0) -> l2n per region row (one word): (1, 0) -> softmax(9 S) over
 * regions: a = (e^9, 1)/(e^9 + 1) -> ctx = l2n(a). */
static void test_attention_by_hand(void **state) {
    (void)state;
    const float V[R * D] = {1, 0, 0, 1}, T[D] = {1, 0};
    float ctx[D], scratch[R];
    itr_sgraf_attention(T, 1, V, R, D, ctx, scratch);
    double a0 = exp(9.0) / (exp(9.0) + 1.0), a1 = 1.0 / (exp(9.0) + 1.0), n = sqrt(a0 * a0 + a1 * a1);
    printf("attention: max abs err %.3g\n", fmax(fabs(ctx[0] - a0 / n), fabs(ctx[1] - a1 / n)));
    assert_float_equal(ctx[0], a0 / n, 1e-6);
    assert_float_equal(ctx[1], a1 / n, 1e-6);
}

static void test_global_vectors_by_hand(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    tiny_weights(&w, ITR_SGRAF_SGR, 2, 0);
    tiny_opt(&opt, "SGR", 0);
    assert_int_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.n_regions, R);
    assert_int_equal(m.cfg.sim_dim, P);
    assert_int_equal(m.cfg.sgr_step, 2);

    /* VisualSA: e_r = tanh(beta_r) (tanh .3 + tanh .2), alpha = softmax(e) */
    const float V[R * D] = {0.6f, 0.8f, 1.0f, 0.0f};
    float g[D];
    assert_int_equal(itr_sgraf_visual_sa(&m, V, g), ITR_OK);
    double s = tanh(0.3) + tanh(0.2), e0 = tanh(0.5) * s, e1 = tanh(-0.5) * s;
    double a0 = exp(e0) / (exp(e0) + exp(e1)), a1 = 1.0 - a0;
    double x = a0 * 0.6 + a1 * 1.0, y = a0 * 0.8, n = sqrt(x * x + y * y);
    printf("VisualSA: max abs err %.3g\n", fmax(fabs(g[0] - x / n), fabs(g[1] - y / n)));
    assert_float_equal(g[0], x / n, 1e-6);
    assert_float_equal(g[1], y / n, 1e-6);

    /* TextSA over 2 words */
    const float T[2 * D] = {1.0f, 0.0f, 0.0f, -1.0f};
    assert_int_equal(itr_sgraf_text_sa(&m, T, 2, g), ITR_OK);
    double t1 = tanh(1.0), f0 = t1 * tanh(1.0), f1 = t1 * tanh(-1.0);
    double b0 = exp(f0) / (exp(f0) + exp(f1)), b1 = 1.0 - b0;
    n = sqrt(b0 * b0 + b1 * b1);
    assert_float_equal(g[0], b0 / n, 1e-6);
    assert_float_equal(g[1], -b1 / n, 1e-6);
    assert_int_not_equal(itr_sgraf_text_sa(&m, T, 0, g), ITR_OK);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

/* SGR with zero query/key weights: E = 1/N everywhere, W_g = I, so after any
 * step every node is relu(mean X) = (L, 1)/(L + 1), and the score is
 * sigmoid(2 L / (L + 1)). End to end through itr_sgraf_sims. */
static void test_sgr_end_to_end(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    tiny_weights(&w, ITR_SGRAF_SGR, 2, 1);
    tiny_opt(&opt, "SGR", 1);
    assert_int_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.bi_gru, 1);
    const float images[1 * R * 2] = {3, 4, 1, 0};
    const int64_t caps[2 * 3] = {1, 2, 1, 2, 0, 0}, lens[2] = {3, 1};
    float img_emb[R * D], cap_emb[2 * 3 * D], ig[D], cg[2 * D];
    double sims[2];
    assert_int_equal(itr_sgraf_encode_images(&m, images, 1, img_emb), ITR_OK);
    assert_float_equal(img_emb[0], 0.6, 1e-7);   /* l2n of (3, 4) */
    assert_float_equal(img_emb[1], 0.8, 1e-7);
    assert_int_equal(itr_sgraf_encode_captions(&m, caps, lens, 2, 3, cap_emb), ITR_OK);
    assert_float_equal(cap_emb[(1 * 3 + 1) * D], 0.0, 0.0);   /* padding stays 0 */
    assert_int_equal(itr_sgraf_sims(&m, img_emb, 1, cap_emb, lens, 2, 3, sims, ig, cg), ITR_OK);
    double want0 = sigmoid(2.0 * 3 / 4), want1 = sigmoid(2.0 * 1 / 2);
    printf("SGR: abs err %.3g %.3g\n", fabs(sims[0] - want0), fabs(sims[1] - want1));
    assert_float_equal(sims[0], want0, 1e-6);
    assert_float_equal(sims[1], want1, 1e-6);
    /* errors: no images, bad length */
    assert_int_not_equal(itr_sgraf_sims(&m, img_emb, 0, cap_emb, lens, 2, 3, sims, NULL, NULL), ITR_OK);
    const int64_t bad[2] = {0, 1};
    assert_int_not_equal(itr_sgraf_sims(&m, img_emb, 1, cap_emb, bad, 2, 3, sims, NULL, NULL), ITR_OK);
    assert_int_not_equal(itr_sgraf_encode_images(&m, images, 0, img_emb), ITR_OK);
    assert_int_not_equal(itr_sgraf_encode_captions(&m, caps, lens, 0, 3, cap_emb), ITR_OK);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

/* SAF: a = (0, 1, .., 1) - 0.5 -> g = sigmoid(-+0.5), l1n, v = l2n(sum g_j X_j)
 * = (L sig(.5), sig(-.5)) / norm; score = sigmoid(2 v_0). The unidirectional
 * GRU with no_txtnorm gives h_1 = n/2, h_2 = 3n/4, n = tanh((1, -1)). */
static void test_saf_by_hand(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    tiny_weights(&w, ITR_SGRAF_SAF, 0, 0);
    tiny_opt(&opt, "SAF", 0);
    assert_int_equal(itr_config_set_bool(&opt, "no_txtnorm", 1), ITR_OK);
    assert_int_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    const int64_t caps[2] = {1, 2}, lens[1] = {2};
    float T[2 * D];
    assert_int_equal(itr_sgraf_encode_captions(&m, caps, lens, 1, 2, T), ITR_OK);
    assert_float_equal(T[2], 0.75 * tanh(1.0), 1e-6);
    assert_float_equal(T[3], -0.75 * tanh(1.0), 1e-6);
    const float V[R * D] = {1, 0, 0, 1}, vg[D] = {1, 0}, tg[D] = {0, 1};
    float scratch[64];
    assert_true(itr_sgraf_pair_scratch(&m, 2) <= 64);
    float s = itr_sgraf_pair_score(&m, V, vg, T, 2, tg, scratch);
    double x = 2 * sigmoid(0.5), y = sigmoid(-0.5), want = sigmoid(2 * x / sqrt(x * x + y * y));
    printf("SAF: abs err %.3g\n", fabs(s - want));
    assert_float_equal(s, want, 1e-6);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

/* Each malformed checkpoint/opt is refused with an error. */
static void expect_load_fails(const char *module, itr_sgraf_module stored, int steps, int bi_opt,
                              const char *set_key, int64_t set_val) {
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    tiny_weights(&w, stored, steps, 0);
    tiny_opt(&opt, module, bi_opt);
    if (set_key) assert_int_equal(itr_config_set_int(&opt, set_key, set_val), ITR_OK);
    assert_int_not_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

static void test_load_errors(void **state) {
    (void)state;
    expect_load_fails("XYZ", ITR_SGRAF_SGR, 2, 0, NULL, 0);           /* unknown module */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 3, 0, NULL, 0);           /* unused SGR_module.2 */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 1, 0, NULL, 0);           /* missing SGR_module.1 */
    expect_load_fails("SAF", ITR_SGRAF_SGR, 2, 0, NULL, 0);           /* SAF keys missing */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 2, 1, NULL, 0);           /* opt.bi_gru vs keys */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 2, 0, "embed_size", 5);   /* size mismatch */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 2, 0, "sgr_step", 0);     /* step out of range */
    expect_load_fails("SGR", ITR_SGRAF_SGR, 2, 0, "num_layers", 0);   /* layers out of range */

    /* an empty store: the first inferred size is missing */
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    itr_weights_init(&w, "empty");
    tiny_opt(&opt, "SGR", 0);
    assert_int_not_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    itr_weights_free(&w);
    /* an empty opt: module, sgr_step, num_layers, bi_gru come from the keys */
    itr_config_free(&opt);
    itr_config_init(&opt);
    tiny_weights(&w, ITR_SGRAF_SAF, 0, 1);
    assert_int_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.module, ITR_SGRAF_SAF);
    assert_int_equal(m.cfg.num_layers, 1);
    assert_int_equal(m.cfg.bi_gru, 1);
    itr_weights_free(&w);
    tiny_weights(&w, ITR_SGRAF_SGR, 3, 0);
    assert_int_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.module, ITR_SGRAF_SGR);
    assert_int_equal(m.cfg.sgr_step, 3);
    itr_weights_free(&w);
    /* opt fields of the wrong type */
    tiny_weights(&w, ITR_SGRAF_SGR, 2, 0);
    assert_int_equal(itr_config_set_int(&opt, "module_name", 1), ITR_OK);
    assert_int_not_equal(itr_sgraf_load(&m, &opt, &w), ITR_OK);
    itr_weights_free(&w);
    itr_config_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_by_hand), cmocka_unit_test(test_global_vectors_by_hand),
        cmocka_unit_test(test_sgr_end_to_end),    cmocka_unit_test(test_saf_by_hand),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
