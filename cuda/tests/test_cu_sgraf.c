/* test_cu_sgraf.c - SGRAF on CUDA (include/itr/cuda/sgraf.h) against the
 * reference (ref/models/sgraf.c) on seeded random models built here, at
 * awkward sizes: D = 37 and P = 45 (not multiples of 32), R = 5 regions,
 * n_img 1 and 3, n_cap 1 and 7, captions of length 1, mixed lengths,
 * sgr_step 1 and 3, SAF, uni/bi GRU with 1 or 2 layers, no_imgnorm /
 * no_txtnorm, default and tiny tilings (partial tiles, one caption per
 * block, one image per tile). Padding rows of the word embeddings are NaN so
 * that any use of them shows. Then both golden fixtures through the CUDA
 * path of the conformance runner, and a CUDA vs ref check on their inputs.
 * Tolerance: |err| <= 1e-5 abs or 1e-4 rel; max errors are printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/checkpoint.h"
#include "itr/conform.h"
#include "itr/cuda.h"
#include "itr/cuda/sgraf.h"
#include "itr/h5.h"
#include "itr/models/sgraf.h"

enum { D = 37, P = 45, R = 5, IMG = 23, WORD = 7, VOCAB = 11, T = 6 };

/* ---- random models ---------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {   /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void add(itr_weights *w, const char *g, const char *key, int ndim, const int64_t *shape, double lo,
                double hi) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc(&t, ITR_F32, ndim, shape), ITR_OK);
    float *v = t.data;
    for (int64_t k = 0; k < itr_tensor_numel(&t); k++) v[k] = (float)(lo + (hi - lo) * (urand() + 1.0) / 2.0);
    assert_int_equal(itr_weights_add(w, g, key, &t), ITR_OK);
}

/* nn.Linear-like U(-a, a), a = gain/sqrt(in), biases non-zero; gain > 1
 * where the default init would leave a stage nearly constant (SGR's edge
 * softmax, SAF's gates, the score head). */
static void add_linear_g(itr_weights *w, const char *g, const char *prefix, int64_t out, int64_t in, double gain) {
    char key[128];
    double s = gain / sqrt((double)in);
    snprintf(key, sizeof key, "%s.weight", prefix);
    add(w, g, key, 2, (int64_t[]){out, in}, -s, s);
    snprintf(key, sizeof key, "%s.bias", prefix);
    add(w, g, key, 1, (int64_t[]){out}, -s, s);
}

static void add_linear(itr_weights *w, const char *g, const char *prefix, int64_t out, int64_t in) {
    add_linear_g(w, g, prefix, out, in, 1.0);
}

/* Non-trivial running statistics and affine parameters (s13). */
static void add_bn(itr_weights *w, const char *prefix, int64_t c) {
    char key[128];
    const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
    const double lo[4] = {0.5, -0.3, -0.2, 0.5}, hi[4] = {1.5, 0.3, 0.2, 1.5};
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "%s.%s", prefix, names[k]);
        add(w, "2", key, 1, (int64_t[]){c}, lo[k], hi[k]);
    }
}

static void add_gru(itr_weights *w, int layers, int bi) {
    char key[128];
    double s = 1.0 / sqrt((double)D);
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < (bi ? 2 : 1); d++) {
            const char *suf = d ? "_reverse" : "";
            int64_t in = l == 0 ? WORD : (bi ? 2 : 1) * D;
            snprintf(key, sizeof key, "cap_rnn.weight_ih_l%d%s", l, suf);
            add(w, "1", key, 2, (int64_t[]){3 * D, in}, -s, s);
            snprintf(key, sizeof key, "cap_rnn.weight_hh_l%d%s", l, suf);
            add(w, "1", key, 2, (int64_t[]){3 * D, D}, -s, s);
            snprintf(key, sizeof key, "cap_rnn.bias_ih_l%d%s", l, suf);
            add(w, "1", key, 1, (int64_t[]){3 * D}, -s, s);
            snprintf(key, sizeof key, "cap_rnn.bias_hh_l%d%s", l, suf);
            add(w, "1", key, 1, (int64_t[]){3 * D}, -s, s);
        }
}

typedef struct model {
    itr_weights w;
    itr_config opt;
    itr_sgraf ref;
    itr_cuda_sgraf *cu;
} model;

/* steps 0: SAF, else SGR with that many steps. */
static void model_make(model *m, int steps, int layers, int bi, int no_imgnorm, int no_txtnorm) {
    char prefix[64];
    itr_weights *w = &m->w;
    itr_weights_init(w, "test_cu_sgraf");
    add_linear(w, "0", "fc", D, IMG);
    add(w, "1", "embed.weight", 2, (int64_t[]){VOCAB, WORD}, -1.0, 1.0);
    add_gru(w, layers, bi);
    add_linear(w, "2", "v_global_w.embedding_local.0", D, D);
    add_bn(w, "v_global_w.embedding_local.1", R);
    add_linear(w, "2", "v_global_w.embedding_global.0", D, D);
    add_bn(w, "v_global_w.embedding_global.1", D);
    add_linear(w, "2", "v_global_w.embedding_common.0", 1, D);
    add_linear(w, "2", "t_global_w.embedding_local.0", D, D);
    add_linear(w, "2", "t_global_w.embedding_global.0", D, D);
    add_linear(w, "2", "t_global_w.embedding_common.0", 1, D);
    add_linear(w, "2", "sim_tranloc_w", P, D);
    add_linear(w, "2", "sim_tranglo_w", P, D);
    add_linear_g(w, "2", "sim_eval_w", 1, P, 6.0);
    for (int k = 0; k < steps; k++) {
        snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_query_w", k);
        add_linear_g(w, "2", prefix, P, P, 4.0);
        snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_key_w", k);
        add_linear_g(w, "2", prefix, P, P, 4.0);
        snprintf(prefix, sizeof prefix, "SGR_module.%d.sim_graph_w", k);
        add_linear(w, "2", prefix, P, P);
    }
    if (!steps) {
        add_linear_g(w, "2", "SAF_module.attn_sim_w", 1, P, 6.0);
        add_bn(w, "SAF_module.bn", 1);
    }
    itr_config_init(&m->opt);
    assert_int_equal(itr_config_set_str(&m->opt, "module_name", steps ? "SGR" : "SAF"), ITR_OK);
    assert_int_equal(itr_config_set_int(&m->opt, "sgr_step", steps ? steps : 3), ITR_OK);
    assert_int_equal(itr_config_set_int(&m->opt, "num_layers", layers), ITR_OK);
    assert_int_equal(itr_config_set_bool(&m->opt, "bi_gru", bi), ITR_OK);
    assert_int_equal(itr_config_set_bool(&m->opt, "no_imgnorm", no_imgnorm), ITR_OK);
    assert_int_equal(itr_config_set_bool(&m->opt, "no_txtnorm", no_txtnorm), ITR_OK);
    if (itr_sgraf_load(&m->ref, &m->opt, w)) fail_msg("load: %s", itr_last_error());
    assert_int_equal(m->ref.cfg.n_regions, R);
    if (itr_cuda_sgraf_create(&m->ref, &m->cu)) fail_msg("create: %s", itr_last_error());
}

static void model_free(model *m) {
    itr_cuda_sgraf_destroy(m->cu);
    itr_config_free(&m->opt);
    itr_weights_free(&m->w);
}

/* ---- inputs and comparison ----------------------------------------------------- */

static float *alloc_f(int64_t n) {
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    return p;
}

/* n rows of d random values, each L2-normalised (the encoders' output). */
static float *unit_rows(int64_t n, int64_t d) {
    float *x = alloc_f(n * d);
    for (int64_t r = 0; r < n; r++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) {
            x[r * d + k] = (float)urand();
            ss += (double)x[r * d + k] * x[r * d + k];
        }
        for (int64_t k = 0; k < d; k++) x[r * d + k] = (float)(x[r * d + k] / sqrt(ss));
    }
    return x;
}

/* Word embeddings (n, T, D) for the lengths; rows beyond a length are NaN. */
static float *words(int64_t n, const int64_t *len) {
    float *x = unit_rows(n * T, D);
    for (int64_t j = 0; j < n; j++)
        for (int64_t t = len[j]; t < T; t++)
            for (int64_t k = 0; k < D; k++) x[(j * T + t) * D + k] = NAN;
    return x;
}

static const int64_t LEN7[7] = {3, 1, 6, 2, 6, 1, 4};   /* unsorted, ties, 1 and T */

typedef struct errs {
    double abs, rel;
    int64_t bad;
} errs;

static void compare_f(errs *e, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)got[i] - (double)want[i]), w = fabs((double)want[i]);
        double r = w > 1e-30 ? a / w : a;
        if (!(a <= e->abs)) e->abs = a;   /* NaN propagates into the max */
        if (w > 1e-6 && !(r <= e->rel)) e->rel = r;
        if (!(a <= 1e-5 || r <= 1e-4)) e->bad++;
    }
}

static void compare_d(errs *e, const double *got, const double *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(got[i] - want[i]), w = fabs(want[i]), r = w > 1e-30 ? a / w : a;
        if (!(a <= e->abs)) e->abs = a;
        if (w > 1e-6 && !(r <= e->rel)) e->rel = r;
        if (!(a <= 1e-5 || r <= 1e-4)) e->bad++;
    }
}

static void report(const char *what, const errs *e) {
    printf("  %-44s max abs %.3g  max rel %.3g  bad %lld\n", what, e->abs, e->rel, (long long)e->bad);
    if (e->bad || isnan(e->abs)) fail_msg("%s: %lld elements outside tolerance (max abs %.3g)", what,
                                          (long long)e->bad, e->abs);
}

/* ---- encoders ---------------------------------------------------------------- */

static void check_encoders(int layers, int bi, int no_imgnorm, int no_txtnorm) {
    model m;
    model_make(&m, 1, layers, bi, no_imgnorm, no_txtnorm);
    for (int n_img = 1; n_img <= 3; n_img += 2) {
        float *img = alloc_f(n_img * R * IMG), *want = alloc_f(n_img * R * D), *got = alloc_f(n_img * R * D);
        for (int64_t k = 0; k < n_img * R * IMG; k++) img[k] = (float)(2.0 * urand());
        assert_int_equal(itr_sgraf_encode_images(&m.ref, img, n_img, want), ITR_OK);
        if (itr_cuda_sgraf_encode_images(m.cu, img, n_img, got)) fail_msg("%s", itr_last_error());
        errs e = {0, 0, 0};
        compare_f(&e, got, want, n_img * R * D);
        char what[96];
        snprintf(what, sizeof what, "img_emb n=%d layers=%d bi=%d norm=%d", n_img, layers, bi, !no_imgnorm);
        report(what, &e);
        free(img), free(want), free(got);
    }
    for (int n = 1; n <= 7; n += 6) {
        const int64_t *len = n == 1 ? (const int64_t[]){1} : LEN7;
        int64_t ids[7 * T];
        for (int64_t k = 0; k < n * T; k++) ids[k] = (int64_t)((urand() + 1.0) * 0.5 * VOCAB) % VOCAB;
        float *want = alloc_f(n * T * D), *got = alloc_f(n * T * D);
        assert_int_equal(itr_sgraf_encode_captions(&m.ref, ids, len, n, T, want), ITR_OK);
        if (itr_cuda_sgraf_encode_captions(m.cu, ids, len, n, T, got)) fail_msg("%s", itr_last_error());
        errs e = {0, 0, 0};
        compare_f(&e, got, want, n * T * D);
        for (int64_t j = 0; j < n; j++)   /* padding exactly 0 */
            for (int64_t k = len[j] * D; k < T * D; k++)
                if (got[j * T * D + k] != 0.0f) e.bad++;
        char what[96];
        snprintf(what, sizeof what, "cap_emb n=%d layers=%d bi=%d norm=%d", n, layers, bi, !no_txtnorm);
        report(what, &e);
        free(want), free(got);
    }
    model_free(&m);
}

static void test_encoders(void **state) {
    (void)state;
    check_encoders(1, 1, 0, 0);
    check_encoders(2, 0, 1, 1);
    check_encoders(2, 1, 0, 1);
}

/* ---- VisualSA / TextSA, attention ---------------------------------------------- */

static void test_global_vectors(void **state) {
    (void)state;
    model m;
    model_make(&m, 1, 1, 1, 0, 0);
    float *V = unit_rows(3 * R, D), *C = words(7, LEN7), *want = alloc_f(7 * D), *got = alloc_f(7 * D);
    errs e = {0, 0, 0};
    for (int i = 0; i < 3; i++) assert_int_equal(itr_sgraf_visual_sa(&m.ref, V + i * R * D, want + i * D), ITR_OK);
    if (itr_cuda_sgraf_visual_sa(m.cu, V, 3, got)) fail_msg("%s", itr_last_error());
    compare_f(&e, got, want, 3 * D);
    report("VisualSA, 3 images", &e);
    e = (errs){0, 0, 0};
    for (int j = 0; j < 7; j++) assert_int_equal(itr_sgraf_text_sa(&m.ref, C + j * T * D, LEN7[j], want + j * D), ITR_OK);
    if (itr_cuda_sgraf_text_sa(m.cu, C, LEN7, 7, T, got)) fail_msg("%s", itr_last_error());
    compare_f(&e, got, want, 7 * D);
    report("TextSA, 7 captions of mixed lengths", &e);
    free(V), free(C), free(want), free(got);
    model_free(&m);
}

static void test_attention(void **state) {
    (void)state;
    model m;
    model_make(&m, 1, 1, 1, 0, 0);
    float *V = unit_rows(3 * R, D), *C = unit_rows(T, D), *want = alloc_f(3 * T * D), *got = alloc_f(3 * T * D);
    float scratch[R * T];
    for (int64_t L = 1; L <= T; L += T - 1)
        for (int n_img = 1; n_img <= 3; n_img += 2) {
            for (int i = 0; i < n_img; i++) itr_sgraf_attention(C, L, V + i * R * D, R, D, want + i * L * D, scratch);
            if (itr_cuda_sgraf_attention(m.cu, C, L, V, n_img, got)) fail_msg("%s", itr_last_error());
            errs e = {0, 0, 0};
            compare_f(&e, got, want, n_img * L * D);
            char what[96];
            snprintf(what, sizeof what, "attention L=%lld over %d images", (long long)L, n_img);
            report(what, &e);
        }
    free(V), free(C), free(want), free(got);
    model_free(&m);
}

/* ---- the matrix ------------------------------------------------------------------- */

/* sims, img_glo and cap_glo of CUDA vs ref for every (n_img, n_cap) in
 * {1, 3} x {1, 7} and three tilings. */
static void check_sims(int steps) {
    static const int64_t tilings[3][2] = {{0, 0}, {3, 8}, {1, 1}};
    model m;
    model_make(&m, steps, 1, 1, 0, 0);
    float *V = unit_rows(3 * R, D);
    for (int n_img = 1; n_img <= 3; n_img += 2)
        for (int n_cap = 1; n_cap <= 7; n_cap += 6) {
            const int64_t *len = n_cap == 1 ? (const int64_t[]){1} : LEN7;
            float *C = words(n_cap, len);
            double want[3 * 7], got[3 * 7];
            float vg_want[3 * D], vg_got[3 * D], tg_want[7 * D], tg_got[7 * D];
            assert_int_equal(itr_sgraf_sims(&m.ref, V, n_img, C, len, n_cap, T, want, vg_want, tg_want), ITR_OK);
            for (int t = 0; t < 3; t++) {
                assert_int_equal(itr_cuda_sgraf_set_tiling(m.cu, tilings[t][0] ? tilings[t][0] : 256,
                                                           tilings[t][1] ? tilings[t][1] : 65536),
                                 ITR_OK);
                for (int k = 0; k < n_img * n_cap; k++) got[k] = NAN;   /* every score must be written */
                if (itr_cuda_sgraf_sims(m.cu, V, n_img, C, len, n_cap, T, got, vg_got, tg_got))
                    fail_msg("%s", itr_last_error());
                errs e = {0, 0, 0}, g = {0, 0, 0};
                compare_d(&e, got, want, n_img * n_cap);
                compare_f(&g, vg_got, vg_want, n_img * D);
                compare_f(&g, tg_got, tg_want, n_cap * D);
                char what[96];
                snprintf(what, sizeof what, "%s%d %dx%d tiling %d sims", steps ? "SGR" : "SAF", steps, n_img, n_cap,
                         t);
                report(what, &e);
                snprintf(what, sizeof what, "%s%d %dx%d tiling %d img_glo+cap_glo", steps ? "SGR" : "SAF", steps,
                         n_img, n_cap, t);
                report(what, &g);
            }
            free(C);
        }
    free(V);
    model_free(&m);
}

static void test_sims_sgr1(void **state) {
    (void)state;
    check_sims(1);
}
static void test_sims_sgr3(void **state) {
    (void)state;
    check_sims(3);
}
static void test_sims_saf(void **state) {
    (void)state;
    check_sims(0);
}

/* The scores must depend on the captions and images (a constant output would
 * pass nothing above only if the reference were constant too). */
static void test_scores_vary(void **state) {
    (void)state;
    model m;
    model_make(&m, 3, 1, 1, 0, 0);
    float *V = unit_rows(3 * R, D), *C = words(7, LEN7);
    double s[3 * 7], lo = 1.0, hi = 0.0;
    if (itr_cuda_sgraf_sims(m.cu, V, 3, C, LEN7, 7, T, s, NULL, NULL)) fail_msg("%s", itr_last_error());
    for (int k = 0; k < 21; k++) {
        lo = s[k] < lo ? s[k] : lo;
        hi = s[k] > hi ? s[k] : hi;
        assert_true(s[k] > 0.0 && s[k] < 1.0);
        assert_true((double)(float)s[k] == s[k]);   /* float64 holding float32 */
    }
    printf("  SGR3 scores in [%.6f, %.6f]\n", lo, hi);
    assert_true(hi - lo > 1e-4);
    free(V), free(C);
    model_free(&m);
}

static void test_errors(void **state) {
    (void)state;
    size_t before = itr_cuda_bytes_in_use();
    model m;
    model_make(&m, 1, 1, 1, 0, 0);
    float *V = unit_rows(R, D), *C = words(7, LEN7);
    double s[7];
    const int64_t bad0[1] = {0}, bad_big[1] = {T + 1}, ids_bad[T] = {0, 1, VOCAB, 0, 0, 0}, one[1] = {T};
    float out[T * D];
    assert_int_not_equal(itr_cuda_sgraf_sims(m.cu, V, 0, C, LEN7, 7, T, s, NULL, NULL), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_sims(m.cu, V, 1, C, bad0, 1, T, s, NULL, NULL), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_sims(m.cu, V, 1, C, bad_big, 1, T, s, NULL, NULL), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_encode_captions(m.cu, ids_bad, one, 1, T, out), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_encode_captions(m.cu, ids_bad, bad0, 1, T, out), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_encode_images(m.cu, V, 0, out), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_text_sa(m.cu, C, bad0, 1, T, out), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_attention(m.cu, C, 0, V, 1, out), ITR_OK);
    assert_int_not_equal(itr_cuda_sgraf_set_tiling(m.cu, -1, 0), ITR_OK);
    free(V), free(C);
    model_free(&m);
    assert_int_equal(itr_cuda_bytes_in_use(), before);   /* no leak on any path */
}

/* ---- the golden fixtures ---------------------------------------------------------- */

static void read_input(itr_h5 *f, const char *name, itr_dtype dt, itr_tensor *t) {
    char path[64];
    snprintf(path, sizeof path, "/inputs/%s", name);
    if (itr_h5_read(f, path, dt, NULL, t)) fail_msg("%s", itr_last_error());
}

/* The fixture's inputs through both backends: CUDA vs ref directly. */
static void fixture_vs_ref(const char *stem) {
    char h5[512], ck[512];
    snprintf(h5, sizeof h5, "%s/fixtures/sgraf/%s.h5", ITR_SOURCE_DIR, stem);
    snprintf(ck, sizeof ck, "%s/fixtures/sgraf/%s.pth.tar", ITR_SOURCE_DIR, stem);
    itr_h5 *f = NULL;
    itr_checkpoint *c = NULL;
    itr_sgraf ref;
    itr_cuda_sgraf *cu = NULL;
    itr_tensor im = {0}, caps = {0}, lens = {0};
    if (itr_h5_open(h5, &f) || itr_checkpoint_load(ck, &c)) fail_msg("%s", itr_last_error());
    read_input(f, "images", ITR_F32, &im);
    read_input(f, "captions", ITR_I64, &caps);
    read_input(f, "lengths", ITR_I64, &lens);
    if (itr_sgraf_load(&ref, &c->opt, &c->weights) || itr_cuda_sgraf_create(&ref, &cu))
        fail_msg("%s", itr_last_error());
    int64_t n_img = im.shape[0], n_cap = caps.shape[0], Tc = caps.shape[1], Dm = ref.cfg.embed_size;
    int64_t Rm = ref.cfg.n_regions;
    float *ie_w = alloc_f(n_img * Rm * Dm), *ie_g = alloc_f(n_img * Rm * Dm);
    float *ce_w = alloc_f(n_cap * Tc * Dm), *ce_g = alloc_f(n_cap * Tc * Dm);
    double *s_w = malloc((size_t)(n_img * n_cap) * sizeof *s_w), *s_g = malloc((size_t)(n_img * n_cap) * sizeof *s_g);
    assert_true(s_w && s_g);
    const int64_t *L = itr_i64(&lens);
    assert_int_equal(itr_sgraf_encode_images(&ref, itr_f32(&im), n_img, ie_w), ITR_OK);
    assert_int_equal(itr_sgraf_encode_captions(&ref, itr_i64(&caps), L, n_cap, Tc, ce_w), ITR_OK);
    assert_int_equal(itr_sgraf_sims(&ref, ie_w, n_img, ce_w, L, n_cap, Tc, s_w, NULL, NULL), ITR_OK);
    if (itr_cuda_sgraf_encode_images(cu, itr_f32(&im), n_img, ie_g) ||
        itr_cuda_sgraf_encode_captions(cu, itr_i64(&caps), L, n_cap, Tc, ce_g) ||
        itr_cuda_sgraf_sims(cu, ie_g, n_img, ce_g, L, n_cap, Tc, s_g, NULL, NULL))
        fail_msg("%s", itr_last_error());
    errs a = {0, 0, 0}, b = {0, 0, 0}, e = {0, 0, 0};
    compare_f(&a, ie_g, ie_w, n_img * Rm * Dm);
    compare_f(&b, ce_g, ce_w, n_cap * Tc * Dm);
    compare_d(&e, s_g, s_w, n_img * n_cap);
    char what[96];
    snprintf(what, sizeof what, "%s CUDA vs ref img_emb", stem);
    report(what, &a);
    snprintf(what, sizeof what, "%s CUDA vs ref cap_emb", stem);
    report(what, &b);
    snprintf(what, sizeof what, "%s CUDA vs ref sims", stem);
    report(what, &e);
    free(ie_w), free(ie_g), free(ce_w), free(ce_g), free(s_w), free(s_g);
    itr_tensor_free(&im), itr_tensor_free(&caps), itr_tensor_free(&lens);
    itr_cuda_sgraf_destroy(cu);
    itr_checkpoint_free(c);
    itr_h5_close(f);
}

/* The golden case through the conformance runner's CUDA path, from the
 * case's checkpoint and from its legacy-era twin. */
static void fixture_conform(const char *stem, int legacy) {
    char h5[512], ck[512];
    snprintf(h5, sizeof h5, "%s/fixtures/sgraf/%s.h5", ITR_SOURCE_DIR, stem);
    snprintf(ck, sizeof ck, "%s/fixtures/sgraf/%s.legacy.pth.tar", ITR_SOURCE_DIR, stem);
    itr_conform_opts o = {legacy ? ck : NULL, 1, 0};
    itr_conform_report rep;
    if (itr_conform_run(h5, &o, &rep)) fail_msg("%s: %s", stem, itr_last_error());
    for (size_t k = 0; k < rep.n_rows; k++)
        printf("  %s%s CUDA vs golden %-22s max abs %.3g  %s\n", stem, legacy ? ".legacy" : "", rep.rows[k].name,
               rep.rows[k].max_abs, rep.rows[k].status == ITR_ROW_PASS ? "pass" : "FAIL");
    int passed = rep.passed && rep.n_rows == 6;
    itr_conform_report_free(&rep);
    assert_true(passed);
}

static void test_fixtures(void **state) {
    (void)state;
    fixture_vs_ref("sgr_small");
    fixture_vs_ref("saf_small");
    for (int legacy = 0; legacy < 2; legacy++) {
        fixture_conform("sgr_small", legacy);
        fixture_conform("saf_small", legacy);
    }
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("test_cu_sgraf: no CUDA device, skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders),  cmocka_unit_test(test_global_vectors), cmocka_unit_test(test_attention),
        cmocka_unit_test(test_sims_sgr1), cmocka_unit_test(test_sims_sgr3),      cmocka_unit_test(test_sims_saf),
        cmocka_unit_test(test_scores_vary), cmocka_unit_test(test_errors),       cmocka_unit_test(test_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
