/* test_cu_gru.c - the CUDA GRU (cuda/core/gru.h) against the reference
 * itr_gru_forward on seeded random weights: 1-3 layers, uni/bidirectional,
 * with and without biases (and a bias present in one direction only),
 * batches of 1, 3 and 7 sequences of T = 1 and 5 with mixed lengths
 * (1, T and in between, unsorted, with ties), input 11 and hidden 13 (not
 * multiples of anything). Both the per-step outputs (0 beyond each length)
 * and h_n are compared; also out == NULL (h_n only), repeated uploads, and
 * the error paths. Tolerance: |err| <= 1e-5 abs or 1e-4 rel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gru.h"
#include "itr/cuda.h"
#include "itr/ops.h"

#define IN 11
#define HID 13

/* xorshift64*, the same numbers on every platform */
static double rng_uniform(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

static float *random_floats(int64_t n, uint64_t *s, double scale) {
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((2.0 * rng_uniform(s) - 1.0) * scale);
    return p;
}

/* A host GRU with random weights; bias: 0 none, 1 all, 2 only direction 0
 * of each layer has b_ih and only direction 1 has b_hh (mixed). */
typedef struct host_gru {
    itr_gru g;
    float *owned[ITR_GRU_MAX_LAYERS * 8];
    int n_owned;
} host_gru;

static void host_gru_make(host_gru *h, int layers, int bidir, int bias, uint64_t seed) {
    memset(h, 0, sizeof *h);
    uint64_t s = seed;
    itr_gru *g = &h->g;
    g->input_size = IN;
    g->hidden = HID;
    g->num_layers = layers;
    g->num_dirs = bidir ? 2 : 1;
    for (int l = 0; l < layers; l++) {
        int64_t in_l = l == 0 ? IN : g->num_dirs * HID;
        for (int d = 0; d < g->num_dirs; d++) {
            g->w_ih[l][d] = h->owned[h->n_owned++] = random_floats(3 * HID * in_l, &s, 0.5);
            g->w_hh[l][d] = h->owned[h->n_owned++] = random_floats(3 * HID * HID, &s, 0.5);
            if (bias == 1 || (bias == 2 && d == 0)) g->b_ih[l][d] = h->owned[h->n_owned++] = random_floats(3 * HID, &s, 0.5);
            if (bias == 1 || (bias == 2 && d == 1)) g->b_hh[l][d] = h->owned[h->n_owned++] = random_floats(3 * HID, &s, 0.5);
        }
    }
}

static void host_gru_free(host_gru *h) {
    for (int i = 0; i < h->n_owned; i++) free(h->owned[i]);
}

/* Mixed lengths in [1, T]: 1 and T always present when B >= 2. */
static void make_lengths(int64_t *len, int64_t B, int64_t T) {
    static const int64_t pattern[7] = {3, 1, 5, 2, 5, 1, 4};
    for (int64_t b = 0; b < B; b++) {
        int64_t v = B == 1 ? T : pattern[b % 7];
        len[b] = v > T ? T : v;
    }
    if (B >= 2) len[1] = 1, len[B - 1] = T;
}

typedef struct errs {
    double abs, rel;
    int64_t bad;
} errs;

static void compare(errs *e, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)got[i] - (double)want[i]);
        double r = a / (fabs((double)want[i]) > 1e-30 ? fabs((double)want[i]) : 1e-30);
        if (!(a <= e->abs)) e->abs = a;
        if (fabs((double)want[i]) > 1e-6 && !(r <= e->rel)) e->rel = r;
        if (!(a <= 1e-5 || r <= 1e-4)) e->bad++;
        if (want[i] == 0.0f && got[i] != 0.0f) e->bad++;   /* padding must be exactly 0 */
    }
}

/* One configuration: CUDA vs reference, out and h_n. */
static void run_case(int layers, int bidir, int bias, int64_t B, int64_t T, errs *e) {
    host_gru h;
    uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(layers * 1000 + bidir * 100 + bias * 10 + B * 7 + T);
    host_gru_make(&h, layers, bidir, bias, seed);
    int64_t D = bidir ? 2 : 1, len[7];
    make_lengths(len, B, T);
    uint64_t s = seed + 1;
    float *x = random_floats(B * T * IN, &s, 1.0);
    size_t n_out = (size_t)(B * T * D * HID), n_hn = (size_t)(layers * D * B * HID);
    float *out_ref = malloc(n_out * sizeof(float)), *hn_ref = malloc(n_hn * sizeof(float));
    float *out_cu = malloc(n_out * sizeof(float)), *hn_cu = malloc(n_hn * sizeof(float));
    assert_true(out_ref && hn_ref && out_cu && hn_cu);
    for (size_t i = 0; i < n_out; i++) out_cu[i] = NAN;   /* every element must be written */
    for (size_t i = 0; i < n_hn; i++) hn_cu[i] = NAN;
    assert_int_equal(itr_gru_forward(&h.g, x, len, B, T, out_ref, hn_ref), ITR_OK);

    itr_cu_gru cg;
    itr_status st = itr_cu_gru_upload(&cg, &h.g);
    if (st) fail_msg("upload: %s", itr_last_error());
    st = itr_cu_gru_forward_host(&cg, x, len, B, T, out_cu, hn_cu, 1, NULL);
    if (st) fail_msg("forward: %s", itr_last_error());
    errs one = {0, 0, 0};
    compare(&one, out_cu, out_ref, (int64_t)n_out);
    compare(&one, hn_cu, hn_ref, (int64_t)n_hn);
    /* h_n only (the top layer's output is then never written) */
    for (size_t i = 0; i < n_hn; i++) hn_cu[i] = NAN;
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, len, B, T, NULL, hn_cu, 1, NULL), ITR_OK);
    compare(&one, hn_cu, hn_ref, (int64_t)n_hn);
    if (one.bad)
        print_message("  layers %d bidir %d bias %d B %lld T %lld: %lld bad values (max abs %.3e)\n", layers, bidir,
                      bias, (long long)B, (long long)T, (long long)one.bad, one.abs);
    if (one.abs > e->abs) e->abs = one.abs;
    if (one.rel > e->rel) e->rel = one.rel;
    e->bad += one.bad;
    itr_cu_gru_free(&cg);
    host_gru_free(&h);
    free(x);
    free(out_ref);
    free(hn_ref);
    free(out_cu);
    free(hn_cu);
}

static void sweep(int layers) {
    static const int64_t Bs[3] = {1, 3, 7}, Ts[2] = {1, 5};
    errs e = {0, 0, 0};
    for (int bidir = 0; bidir <= 1; bidir++)
        for (int bias = 0; bias <= 2; bias++)
            for (int bi = 0; bi < 3; bi++)
                for (int ti = 0; ti < 2; ti++) run_case(layers, bidir, bias, Bs[bi], Ts[ti], &e);
    printf("  GRU %d layer(s), uni/bi, bias none/all/mixed, B 1/3/7, T 1/5: max abs err %.3e  max rel err %.3e\n",
           layers, e.abs, e.rel);
    assert_int_equal(e.bad, 0);
}

static void test_one_layer(void **state) {
    (void)state;
    sweep(1);
}
static void test_two_layers(void **state) {
    (void)state;
    sweep(2);
}
static void test_three_layers(void **state) {
    (void)state;
    sweep(3);
}

/* The comparison can fail: a perturbed weight after upload changes results. */
static void test_detects_difference(void **state) {
    (void)state;
    host_gru h;
    host_gru_make(&h, 1, 1, 1, 42);
    int64_t len[3] = {2, 1, 3}, B = 3, T = 3;
    uint64_t s = 7;
    float *x = random_floats(B * T * IN, &s, 1.0);
    float out_ref[3 * 3 * 2 * HID], out_cu[3 * 3 * 2 * HID];
    itr_cu_gru cg;
    assert_int_equal(itr_cu_gru_upload(&cg, &h.g), ITR_OK);
    h.owned[3][5] += 0.25f;   /* b_hh of the forward direction, after the upload */
    assert_int_equal(itr_gru_forward(&h.g, x, len, B, T, out_ref, NULL), ITR_OK);
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, len, B, T, out_cu, NULL, 1, NULL), ITR_OK);
    errs e = {0, 0, 0};
    compare(&e, out_cu, out_ref, B * T * 2 * HID);
    assert_true(e.bad > 0);
    itr_cu_gru_free(&cg);
    host_gru_free(&h);
    free(x);
}

static void test_errors(void **state) {
    (void)state;
    host_gru h;
    host_gru_make(&h, 1, 0, 1, 3);
    itr_cu_gru cg;
    assert_int_equal(itr_cu_gru_upload(&cg, &h.g), ITR_OK);
    float x[2 * 2 * IN] = {0}, out[2 * 2 * HID];
    int64_t bad0[2] = {1, 0}, bad3[2] = {3, 1}, ok[2] = {2, 1};
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, bad0, 2, 2, out, NULL, 1, NULL), ITR_E_ARG);
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, bad3, 2, 2, out, NULL, 1, NULL), ITR_E_ARG);
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, ok, 0, 2, out, NULL, 1, NULL), ITR_E_SHAPE);
    assert_int_equal(itr_cu_gru_forward_host(&cg, x, ok, 2, 2, out, NULL, 0, NULL), ITR_E_ARG);
    assert_int_equal(itr_cu_gru_forward(&cg, NULL, ok, 2, 2, NULL, NULL), ITR_E_ARG);
    itr_cu_gru_free(&cg);
    itr_cu_gru_free(&cg);   /* a zeroed GRU frees nothing */
    itr_cu_gru empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(itr_cu_gru_forward(&empty, x, ok, 2, 2, out, NULL), ITR_E_ARG);
    h.g.w_hh[0][0] = NULL;
    assert_int_equal(itr_cu_gru_upload(&cg, &h.g), ITR_E_ARG);
    host_gru_free(&h);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_layer),    cmocka_unit_test(test_two_layers), cmocka_unit_test(test_three_layers),
        cmocka_unit_test(test_detects_difference), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
