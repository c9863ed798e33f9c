/* test_gru.c - itr_gru_load / itr_gru_forward against PyTorch nn.GRU
 * semantics (ops.h): a hand-computed case, and an independent naive
 * float64 GRU on seeded random weights. The naive model is structured
 * differently from gru.c on purpose: one sequence at a time, one step at a
 * time, every gate written out as its own dot product, layer outputs kept
 * per sequence. Also the error paths of loading and running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/ops.h"
#include "ops_testutil.h"

#define GROUP "1"
#define PREFIX "rnn."
/* bounds of the naive reference's fixed arrays */
#define MAXT 8
#define MAXH 8
#define MAXIN 16

typedef struct gru_spec {
    int64_t in, H;
    int layers, bidir, bias;
} gru_spec;

static void key_name(char *buf, size_t n, const char *what, int l, int d) {
    snprintf(buf, n, "%s%s_l%d%s", PREFIX, what, l, d ? "_reverse" : "");
}

/* Adds a float32 tensor (rank 1 when d1 == 0) filled from the generator. */
static void add_tensor(itr_weights *w, const char *key, int64_t d0, int64_t d1, ops_rng *g) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc_f32(&t, d1 ? 2 : 1, d0, d1, 0, 0), ITR_OK);
    float *p = t.data;
    for (int64_t i = 0; i < itr_tensor_numel(&t); i++) p[i] = (float)ops_rng_range(g, -0.6, 0.6);
    assert_int_equal(itr_weights_add(w, GROUP, key, &t), ITR_OK);
}

/* A PyTorch-style GRU state dict. `skip` names a key to leave out and
 * `wide` a key to store with one extra column/element (NULL: none). */
static void build_weights(itr_weights *w, const gru_spec *s, uint64_t seed, const char *skip, const char *wide) {
    const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    ops_rng g = {seed};
    int D = s->bidir ? 2 : 1;
    char key[128];
    itr_weights_init(w, "gru-test.pth");
    for (int l = 0; l < s->layers; l++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < (s->bias ? 4 : 2); k++) {
                key_name(key, sizeof key, names[k], l, d);
                if (skip && strcmp(key, skip) == 0) continue;
                int64_t cols = k == 0 ? (l == 0 ? s->in : D * s->H) : k == 1 ? s->H : 0;
                int64_t extra = wide && strcmp(key, wide) == 0;
                add_tensor(w, key, 3 * s->H + (cols ? 0 : extra), cols ? cols + extra : 0, &g);
            }
}

/* The stored float32 weight `what` of layer l, direction d (NULL if absent). */
static const float *weight(const itr_weights *w, const char *what, int l, int d) {
    char key[128];
    key_name(key, sizeof key, what, l, d);
    const itr_weight_entry *e = itr_weights_find(w, GROUP, key);
    return e ? (const float *)e->t.data : NULL;
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Row `row` of W (cols wide) dotted with v, plus bias[row] when present. */
static double affine(const float *W, const float *bias, int64_t row, int64_t cols, const double *v) {
    double s = bias ? bias[row] : 0.0;
    for (int64_t j = 0; j < cols; j++) s += (double)W[row * cols + j] * v[j];
    return s;
}

/* Naive float64 GRU. out: (B, T, D*H), h_n: (layers*D, B, H). */
static void naive_gru(const itr_weights *w, const gru_spec *s, const float *x, const int64_t *lengths,
                      int64_t B, int64_t T, double *out, double *h_n) {
    int D = s->bidir ? 2 : 1;
    int64_t H = s->H;
    assert_true(T <= MAXT && H <= MAXH && s->in <= MAXIN && D * H <= MAXIN);
    memset(out, 0, (size_t)(B * T * D * H) * sizeof *out);
    for (int64_t b = 0; b < B; b++) {
        int64_t len = lengths[b];
        double seq_in[MAXT][MAXIN], seq_out[MAXT][MAXIN];
        int64_t in_l = s->in;
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < s->in; j++) seq_in[t][j] = x[(b * T + t) * s->in + j];
        for (int l = 0; l < s->layers; l++) {
            memset(seq_out, 0, sizeof seq_out);
            for (int d = 0; d < D; d++) {
                const float *Wih = weight(w, "weight_ih", l, d), *Whh = weight(w, "weight_hh", l, d);
                const float *bih = weight(w, "bias_ih", l, d), *bhh = weight(w, "bias_hh", l, d);
                double h[MAXH] = {0};
                for (int64_t step = 0; step < len; step++) {
                    int64_t t = d == 0 ? step : len - 1 - step;
                    double hnew[MAXH];
                    for (int64_t i = 0; i < H; i++) {
                        /* gate rows: r = i, z = H + i, n = 2H + i */
                        double r = sigmoid(affine(Wih, bih, i, in_l, seq_in[t]) + affine(Whh, bhh, i, H, h));
                        double z = sigmoid(affine(Wih, bih, H + i, in_l, seq_in[t]) +
                                           affine(Whh, bhh, H + i, H, h));
                        double n = tanh(affine(Wih, bih, 2 * H + i, in_l, seq_in[t]) +
                                        r * affine(Whh, bhh, 2 * H + i, H, h));
                        hnew[i] = (1.0 - z) * n + z * h[i];
                    }
                    for (int64_t i = 0; i < H; i++) {
                        h[i] = hnew[i];
                        seq_out[t][d * H + i] = h[i];
                    }
                }
                for (int64_t i = 0; i < H; i++) h_n[((l * D + d) * B + b) * H + i] = h[i];
            }
            in_l = D * H;
            memcpy(seq_in, seq_out, sizeof seq_in);
        }
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < D * H; j++) out[(b * T + t) * D * H + j] = seq_in[t][j];
    }
}

/* One random configuration: itr vs naive, outputs, padding and h_n layout. */
static void compare_random(const gru_spec *s, const int64_t *lengths, int64_t B, int64_t T, uint64_t seed) {
    itr_weights w;
    itr_gru g;
    int D = s->bidir ? 2 : 1;
    int64_t H = s->H, DH = D * H, L = s->layers;
    build_weights(&w, s, seed, NULL, NULL);
    itr_weights_begin(&w);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, s->in, H, s->layers, s->bidir), ITR_OK);
    assert_int_equal(itr_weights_finish(&w, ITR_STRICT), ITR_OK);   /* every key used */
    assert_int_equal(g.num_dirs, D);
    assert_true(s->bias ? g.b_ih[0][0] != NULL : g.b_ih[0][0] == NULL);

    ops_rng r = {seed ^ UINT64_C(0xABCDEF)};
    float *x = malloc((size_t)(B * T * s->in) * sizeof *x);
    float *out = malloc((size_t)(B * T * DH) * sizeof *out), *out2 = malloc((size_t)(B * T * DH) * sizeof *out2);
    float *hn = malloc((size_t)(L * D * B * H) * sizeof *hn);
    double *want = malloc((size_t)(B * T * DH) * sizeof *want), *want_hn = malloc((size_t)(L * D * B * H) * sizeof *want_hn);
    assert_true(x && out && out2 && hn && want && want_hn);
    for (int64_t i = 0; i < B * T * s->in; i++) x[i] = (float)ops_rng_range(&r, -1, 1);
    for (int64_t i = 0; i < B * T * DH; i++) out[i] = out2[i] = NAN;   /* must all be written */

    assert_int_equal(itr_gru_forward(&g, x, lengths, B, T, out, hn), ITR_OK);
    assert_int_equal(itr_gru_forward(&g, x, lengths, B, T, out2, NULL), ITR_OK);
    naive_gru(&w, s, x, lengths, B, T, want, want_hn);

    ops_err e = {0, 0}, eh = {0, 0};
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < DH; j++) {
                float got = out[(b * T + t) * DH + j];
                assert_true(got == out2[(b * T + t) * DH + j]);   /* h_n = NULL changes nothing */
                if (t >= lengths[b]) assert_true(got == 0.0f);     /* pad_packed_sequence zeros */
                ops_err_add(&e, got, want[(b * T + t) * DH + j]);
            }
    for (int64_t i = 0; i < L * D * B * H; i++) ops_err_add(&eh, hn[i], want_hn[i]);
    /* layout of the last layer's h_n: forward = output at length-1, reverse = output at t = 0 */
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < H; i++) {
            assert_true(hn[(((L - 1) * D) * B + b) * H + i] == out[(b * T + lengths[b] - 1) * DH + i]);
            if (D == 2) assert_true(hn[(((L - 1) * D + 1) * B + b) * H + i] == out[(b * T) * DH + H + i]);
        }
    char what[96];
    snprintf(what, sizeof what, "GRU %s L=%d bias=%d B=%lld T=%lld out", s->bidir ? "bi " : "uni", s->layers,
             s->bias, (long long)B, (long long)T);
    ops_err_print(what, &e);
    snprintf(what, sizeof what, "GRU %s L=%d bias=%d B=%lld T=%lld h_n", s->bidir ? "bi " : "uni", s->layers,
             s->bias, (long long)B, (long long)T);
    ops_err_print(what, &eh);
    assert_true(e.max_abs <= 1e-5);
    assert_true(eh.max_abs <= 1e-5);
    free(x);
    free(out);
    free(out2);
    free(hn);
    free(want);
    free(want_hn);
    itr_weights_free(&w);
}

/* in = 1, H = 1, weights chosen so every gate is easy to evaluate:
 *   step 0 (x = 1, h = 0): r = s(0.5 + 0.5) = 0.7310585786,
 *     z = s(-1 + 0.5) = 0.3775406688, n = tanh(2 - 1 + r 0.5) = 0.8776693068,
 *     h = (1 - z) n = 0.5463134497
 *   step 1 (x = -1): h = 0.3016892509 (same formulas with W_hh h = 0.3 h). */
static void test_gru_by_hand(void **state) {
    (void)state;
    const float w_ih[3] = {0.5f, -1.0f, 2.0f}, w_hh[3] = {0.3f, 0.3f, 0.3f};
    const float b_ih[3] = {0.0f, 0.5f, -1.0f}, b_hh[3] = {0.5f, 0.0f, 0.5f};
    const float *src[4] = {w_ih, w_hh, b_ih, b_hh};
    const char *keys[4] = {PREFIX "weight_ih_l0", PREFIX "weight_hh_l0", PREFIX "bias_ih_l0", PREFIX "bias_hh_l0"};
    itr_weights w;
    itr_weights_init(&w, "hand");
    for (int k = 0; k < 4; k++) {
        itr_tensor t;
        assert_int_equal(itr_tensor_alloc_f32(&t, k < 2 ? 2 : 1, 3, k < 2 ? 1 : 0, 0, 0), ITR_OK);
        memcpy(t.data, src[k], 3 * sizeof(float));
        assert_int_equal(itr_weights_add(&w, GROUP, keys[k], &t), ITR_OK);
    }
    itr_gru g;
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 1, 1, 1, 0), ITR_OK);
    /* sequence 0: x = (1, -1), length 2; sequence 1: x = (1, 5), length 1 */
    const float x[4] = {1, -1, 1, 5};
    const int64_t lengths[2] = {2, 1};
    float out[4], hn[2];
    assert_int_equal(itr_gru_forward(&g, x, lengths, 2, 2, out, hn), ITR_OK);
    const double want[4] = {0.5463134497, 0.3016892509, 0.5463134497, 0.0};
    ops_err e = {0, 0};
    for (int i = 0; i < 4; i++) ops_err_add(&e, out[i], want[i]);
    ops_err_add(&e, hn[0], 0.3016892509);
    ops_err_add(&e, hn[1], 0.5463134497);
    ops_err_print("GRU by hand", &e);
    assert_true(e.max_abs < 1e-6);
    assert_true(out[3] == 0.0f);
    itr_weights_free(&w);
}

static void test_gru_random(void **state) {
    (void)state;
    /* mixed lengths: one of length 1, two at the max length T = 5 */
    const int64_t lengths[4] = {3, 1, 5, 5};
    const gru_spec specs[] = {
        {3, 4, 1, 0, 1}, /* unidirectional, 1 layer            */
        {3, 4, 1, 1, 1}, /* bidirectional, 1 layer             */
        {3, 4, 2, 0, 0}, /* unidirectional, 2 layers, no bias  */
        {3, 4, 2, 1, 1}, /* bidirectional, 2 layers            */
        {3, 4, 2, 1, 0}, /* bidirectional, 2 layers, no bias   */
        {5, 3, 3, 1, 1}, /* 3 layers: the layer buffers are reused */
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        compare_random(&specs[i], lengths, 4, 5, UINT64_C(1000) + i);
    /* a batch of one, and all lengths equal */
    const int64_t one[1] = {6}, same[3] = {2, 2, 2};
    compare_random(&specs[3], one, 1, 6, 77);
    compare_random(&specs[1], same, 3, 2, 78);
}

/* ---- error paths ---------------------------------------------------------- */

static void test_gru_load_errors(void **state) {
    (void)state;
    const gru_spec bi2 = {3, 4, 2, 1, 1};
    itr_weights w;
    itr_gru g;

    build_weights(&w, &bi2, 5, NULL, NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 0, 1), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, ITR_GRU_MAX_LAYERS + 1, 1), ITR_E_UNSUPPORTED);
    assert_non_null(strstr(itr_last_error(), "9 layers"));
    /* asking for 3 layers when the dict has 2: layer 2's keys are missing */
    itr_weights_begin(&w);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 3, 1), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 1/rnn.weight_ih_l2"));
    assert_non_null(strstr(itr_last_error(), "gru-test.pth"));
    /* wrong group or prefix */
    itr_weights_begin(&w);
    assert_int_equal(itr_gru_load(&g, &w, "0", PREFIX, 3, 4, 2, 1), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 0/rnn.weight_ih_l0"));
    /* wrong input size: the message names the key and both shapes */
    itr_weights_begin(&w);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 2, 4, 2, 1), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "rnn.weight_ih_l0 has shape (12, 3), expected (12, 2)"));
    itr_weights_free(&w);

    /* one missing weight */
    build_weights(&w, &bi2, 5, PREFIX "weight_hh_l1_reverse", NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 1), ITR_E_KEY);
    printf("  %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "missing key 1/rnn.weight_hh_l1_reverse"));
    itr_weights_free(&w);

    /* one bias without the other */
    build_weights(&w, &bi2, 5, PREFIX "bias_hh_l0", NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 1), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 1/rnn.bias_hh_l0"));
    itr_weights_free(&w);
    build_weights(&w, &bi2, 5, PREFIX "bias_ih_l1_reverse", NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 1), ITR_E_KEY);
    assert_non_null(strstr(itr_last_error(), "missing key 1/rnn.bias_ih_l1_reverse"));
    itr_weights_free(&w);

    /* wrong shapes: layer 1 input is 2H = 8 wide; a bias of 3H + 1 */
    build_weights(&w, &bi2, 5, NULL, PREFIX "weight_ih_l1");
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 1), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "rnn.weight_ih_l1 has shape (12, 9), expected (12, 8)"));
    itr_weights_free(&w);
    build_weights(&w, &bi2, 5, NULL, PREFIX "bias_hh_l0_reverse");
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 1), ITR_E_SHAPE);
    printf("  %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "rnn.bias_hh_l0_reverse has shape (13,), expected (12,)"));
    itr_weights_free(&w);
    /* a bidirectional dict loaded as unidirectional: layer 1 expects H = 4 inputs */
    build_weights(&w, &bi2, 5, NULL, NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 3, 4, 2, 0), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "expected (12, 4)"));
    itr_weights_free(&w);
}

static void test_gru_forward_errors(void **state) {
    (void)state;
    const gru_spec uni = {2, 3, 1, 0, 1};
    itr_weights w;
    itr_gru g;
    build_weights(&w, &uni, 9, NULL, NULL);
    assert_int_equal(itr_gru_load(&g, &w, GROUP, PREFIX, 2, 3, 1, 0), ITR_OK);
    float x[2 * 3 * 2] = {0}, out[2 * 3 * 3], hn[2 * 3];
    const int64_t zero[2] = {3, 0}, too_long[2] = {4, 1}, ok[2] = {3, 1};
    assert_int_equal(itr_gru_forward(&g, x, zero, 2, 3, out, hn), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "sequence 1 has length 0 outside [1, 3]"));
    assert_int_equal(itr_gru_forward(&g, x, too_long, 2, 3, out, hn), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "sequence 0 has length 4 outside [1, 3]"));
    assert_int_equal(itr_gru_forward(&g, x, ok, 0, 3, out, hn), ITR_E_SHAPE);
    assert_non_null(strstr(itr_last_error(), "empty batch"));
    assert_int_equal(itr_gru_forward(&g, x, ok, 2, 0, out, hn), ITR_E_SHAPE);
    assert_int_equal(itr_gru_forward(&g, x, ok, 2, 3, out, hn), ITR_OK);
    itr_weights_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gru_by_hand),
        cmocka_unit_test(test_gru_random),
        cmocka_unit_test(test_gru_load_errors),
        cmocka_unit_test(test_gru_forward_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
