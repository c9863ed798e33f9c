/* test_vsepp.c - VSE++ reference: hand-checked encoders, order-similarity
 * and checkpoint key/shape errors (the loss gradients are tested in
 * ref/losses/tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "itr/models/vsepp.h"

enum { IMG_DIM = 3, E = 2, V = 4, WD = 2 };

static void add(itr_weights *w, const char *g, const char *k, int ndim, const int64_t *shape, const float *v) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    memcpy(t.data, v, itr_tensor_nbytes(&t));
    assert_int_equal(itr_weights_add(w, g, k, &t), ITR_OK);
}

/* A tiny model whose outputs can be computed by hand: the GRU has zero
 * weights and biases chosen so that z = sigmoid(0) = 1/2 and n = tanh(b_in). */
static void tiny_weights(itr_weights *w, int with_bias) {
    static const float fc_w[E * IMG_DIM] = {1, 0, 0, 0, 3, 4};
    static const float fc_b[E] = {0, 0};
    static const float emb[V * WD] = {0, 0, 1, 1, 2, 2, 3, 3};
    float wih[3 * E * WD] = {0}, whh[3 * E * E] = {0}, bih[3 * E] = {0}, bhh[3 * E] = {0};
    bih[4] = 1.0f; /* n-block, unit 0 */
    bih[5] = -1.0f;
    itr_weights_init(w, "tiny");
    add(w, "0", "fc.weight", 2, (int64_t[]){E, IMG_DIM}, fc_w);
    if (with_bias) add(w, "0", "fc.bias", 1, (int64_t[]){E}, fc_b);
    add(w, "1", "embed.weight", 2, (int64_t[]){V, WD}, emb);
    add(w, "1", "rnn.weight_ih_l0", 2, (int64_t[]){3 * E, WD}, wih);
    add(w, "1", "rnn.weight_hh_l0", 2, (int64_t[]){3 * E, E}, whh);
    add(w, "1", "rnn.bias_ih_l0", 1, (int64_t[]){3 * E}, bih);
    add(w, "1", "rnn.bias_hh_l0", 1, (int64_t[]){3 * E}, bhh);
}

static void test_encoders_by_hand(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_vsepp m;
    tiny_weights(&w, 1);
    itr_config_init(&opt);
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(m.cfg.embed_size, E);
    assert_int_equal(m.cfg.img_dim, IMG_DIM);

    /* image f = (1, 1, 1): fc -> (1, 7), L2N -> (1, 7)/sqrt(50) */
    float f[IMG_DIM] = {1, 1, 1}, v[E];
    assert_int_equal(itr_vsepp_encode_images(&m, f, 1, v), ITR_OK);
    assert_float_equal(v[0], 1.0 / sqrt(50.0), 1e-7);
    assert_float_equal(v[1], 7.0 / sqrt(50.0), 1e-7);

    /* caption of length 2: h1 = n/2, h2 = n/2 + h1/2 = 3n/4 with n = tanh(+-1);
     * after L2N: (1, -1)/sqrt(2) */
    int64_t ids[3] = {1, 2, 0}, len[1] = {2};
    float u[E];
    assert_int_equal(itr_vsepp_encode_captions(&m, ids, len, 1, 3, u), ITR_OK);
    assert_float_equal(u[0], 1.0 / sqrt(2.0), 1e-7);
    assert_float_equal(u[1], -1.0 / sqrt(2.0), 1e-7);

    double s;
    itr_vsepp_sims(&m, v, 1, u, 1, &s);
    assert_float_equal(s, (1.0 - 7.0) / sqrt(100.0), 1e-7);

    /* use_abs and order measure */
    itr_config_set_bool(&opt, "use_abs", 1);
    itr_config_set_str(&opt, "measure", "order");
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(itr_vsepp_encode_captions(&m, ids, len, 1, 3, u), ITR_OK);
    assert_float_equal(u[1], 1.0 / sqrt(2.0), 1e-7);
    itr_vsepp_sims(&m, v, 1, u, 1, &s);
    double d0 = 1.0 / sqrt(2.0) - 1.0 / sqrt(50.0);
    assert_float_equal(s, -d0, 1e-7); /* only component 0 violates the order */

    /* no_imgnorm: plain fc output */
    itr_config_set_bool(&opt, "no_imgnorm", 1);
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_OK);
    assert_int_equal(itr_vsepp_encode_images(&m, f, 1, v), ITR_OK);
    assert_float_equal(v[1], 7.0, 1e-6);

    /* bad inputs */
    int64_t bad_len[1] = {0};
    assert_int_not_equal(itr_vsepp_encode_captions(&m, ids, bad_len, 1, 3, u), ITR_OK);
    int64_t bad_ids[3] = {9, 1, 1}, len3[1] = {3};
    assert_int_not_equal(itr_vsepp_encode_captions(&m, bad_ids, len3, 1, 3, u), ITR_OK);
    itr_config_set_str(&opt, "measure", "euclid");
    assert_int_not_equal(itr_vsepp_load(&m, &opt, &w), ITR_OK);
    assert_non_null(strstr(itr_last_error(), "opt.measure"));
    itr_config_free(&opt);
    itr_weights_free(&w);
}

static void test_checkpoint_errors(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_vsepp m;
    itr_config_init(&opt);

    tiny_weights(&w, 0); /* fc.bias missing */
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 0/fc.bias"));
    itr_weights_free(&w);

    tiny_weights(&w, 1); /* an extra key */
    add(&w, "1", "rnn.weight_ih_l1", 2, (int64_t[]){3 * E, E}, (float[3 * E * E]){0});
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "unexpected key 1/rnn.weight_ih_l1"));
    itr_weights_free(&w);

    /* a wrong shape: bias of 3 for an fc of 2 outputs */
    itr_weights_init(&w, "bad");
    add(&w, "0", "fc.weight", 2, (int64_t[]){E, IMG_DIM}, (float[E * IMG_DIM]){0});
    add(&w, "0", "fc.bias", 1, (int64_t[]){3}, (float[3]){0});
    add(&w, "1", "embed.weight", 2, (int64_t[]){V, WD}, (float[V * WD]){0});
    add(&w, "1", "rnn.weight_ih_l0", 2, (int64_t[]){3 * E, WD}, (float[3 * E * WD]){0});
    add(&w, "1", "rnn.weight_hh_l0", 2, (int64_t[]){3 * E, E}, (float[3 * E * E]){0});
    add(&w, "1", "rnn.bias_ih_l0", 1, (int64_t[]){3 * E}, (float[3 * E]){0});
    add(&w, "1", "rnn.bias_hh_l0", 1, (int64_t[]){3 * E}, (float[3 * E]){0});
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "0/fc.bias has shape (3,), expected (2,)"));

    /* opt disagreeing with the tensors */
    itr_config_set_int(&opt, "embed_size", 5);
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "opt.embed_size = 5"));
    itr_weights_free(&w);
    itr_weights_init(&w, "empty");
    assert_int_equal(itr_vsepp_load(&m, &opt, &w), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 0/fc.weight"));
    itr_weights_free(&w);
    itr_config_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders_by_hand),
        cmocka_unit_test(test_checkpoint_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
