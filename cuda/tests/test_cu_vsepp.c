/* test_cu_vsepp.c - VSE++ on CUDA (itr/cuda/vsepp.h) against the reference
 * (itr/models/vsepp.h):
 *   - fixtures/vsepp/vsepp_small.pth.tar on the golden's /inputs: img_emb,
 *     cap_emb and sims vs ref and vs the golden /outputs, for the cosine and
 *     the order measure and with use_abs / no_imgnorm switched on;
 *   - a deliberately awkward random model (img_dim 37, E 45 > one k-chunk of
 *     the order kernel, word_dim 7, 2 GRU layers, 1 and 17 images against 33
 *     captions of T 6 with lengths 1..6) with the device batches shrunk so
 *     that every loop has a partial last batch;
 *   - error paths and device-memory leaks.
 * Encoders: |err| <= 1e-5 abs or 1e-4 rel; sims of identical embeddings:
 * 1e-12 (float64 both sides). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/checkpoint.h"
#include "itr/cuda.h"
#include "itr/cuda/vsepp.h"
#include "itr/h5.h"
#include "itr/models/vsepp.h"

#define FIXTURE ITR_SOURCE_DIR "/fixtures/vsepp/vsepp_small"

typedef struct errs {
    double abs, rel;
    int64_t bad;
} errs;

static void err_add(errs *e, double got, double want, double tol_abs, double tol_rel) {
    double a = fabs(got - want), r = a / (fabs(want) > 1e-30 ? fabs(want) : 1e-30);
    if (!(a <= e->abs)) e->abs = a;   /* NaN sticks */
    if (fabs(want) > 1e-6 && !(r <= e->rel)) e->rel = r;
    if (!(a <= tol_abs || r <= tol_rel)) e->bad++;
}

static errs cmp_f32(const char *what, const float *got, const float *want, int64_t n) {
    errs e = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) err_add(&e, got[i], want[i], 1e-5, 1e-4);
    printf("  %-44s max abs err %.3e  max rel err %.3e\n", what, e.abs, e.rel);
    return e;
}

static errs cmp_f64(const char *what, const double *got, const double *want, int64_t n, double tol) {
    errs e = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) err_add(&e, got[i], want[i], tol, tol * 10);
    printf("  %-44s max abs err %.3e  max rel err %.3e\n", what, e.abs, e.rel);
    return e;
}

/* Runs ref and CUDA on the same inputs and compares everything; the golden
 * outputs too when given. Returns the number of values out of tolerance. */
static int64_t compare_model(const char *label, const itr_vsepp *ref, const float *images, int64_t n_img,
                             const int64_t *caps, const int64_t *lens, int64_t n_cap, int64_t T, int64_t batch,
                             const float *gold_img, const float *gold_cap, const double *gold_sims) {
    int64_t E = ref->cfg.embed_size;
    float *ri = malloc((size_t)(n_img * E) * sizeof(float)), *ci = malloc((size_t)(n_img * E) * sizeof(float));
    float *rc = malloc((size_t)(n_cap * E) * sizeof(float)), *cc = malloc((size_t)(n_cap * E) * sizeof(float));
    double *rs = malloc((size_t)(n_img * n_cap) * sizeof(double)), *cs = malloc((size_t)(n_img * n_cap) * sizeof(double));
    double *cs_ref_emb = malloc((size_t)(n_img * n_cap) * sizeof(double));
    assert_true(ri && ci && rc && cc && rs && cs && cs_ref_emb);
    printf(" %s\n", label);
    assert_int_equal(itr_vsepp_encode_images(ref, images, n_img, ri), ITR_OK);
    assert_int_equal(itr_vsepp_encode_captions(ref, caps, lens, n_cap, T, rc), ITR_OK);
    itr_vsepp_sims(ref, ri, n_img, rc, n_cap, rs);

    itr_cuda_vsepp *m = NULL;
    itr_status st = itr_cuda_vsepp_create(ref, &m);
    if (st) fail_msg("create: %s", itr_last_error());
    if (batch) assert_int_equal(itr_cuda_vsepp_set_batching(m, batch, batch - 1, batch - 2), ITR_OK);
    if ((st = itr_cuda_vsepp_encode_images(m, images, n_img, ci))) fail_msg("images: %s", itr_last_error());
    if ((st = itr_cuda_vsepp_encode_captions(m, caps, lens, n_cap, T, cc))) fail_msg("captions: %s", itr_last_error());
    if ((st = itr_cuda_vsepp_sims(m, ci, n_img, cc, n_cap, cs))) fail_msg("sims: %s", itr_last_error());
    assert_int_equal(itr_cuda_vsepp_sims(m, ri, n_img, rc, n_cap, cs_ref_emb), ITR_OK);
    itr_cuda_vsepp_destroy(m);

    int64_t bad = 0;
    bad += cmp_f32("img_emb  CUDA vs ref", ci, ri, n_img * E).bad;
    bad += cmp_f32("cap_emb  CUDA vs ref", cc, rc, n_cap * E).bad;
    bad += cmp_f64("sims     CUDA vs ref", cs, rs, n_img * n_cap, 1e-5).bad;
    bad += cmp_f64("sims     CUDA vs ref, same embeddings", cs_ref_emb, rs, n_img * n_cap, 1e-12).bad;
    if (gold_img) bad += cmp_f32("img_emb  CUDA vs golden", ci, gold_img, n_img * E).bad;
    if (gold_cap) bad += cmp_f32("cap_emb  CUDA vs golden", cc, gold_cap, n_cap * E).bad;
    if (gold_sims) bad += cmp_f64("sims     CUDA vs golden", cs, gold_sims, n_img * n_cap, 1e-5).bad;
    free(ri), free(ci), free(rc), free(cc), free(rs), free(cs), free(cs_ref_emb);
    return bad;
}

static void read_input(itr_h5 *f, const char *name, itr_dtype dt, itr_tensor *t) {
    itr_status st = itr_h5_read(f, name, dt, NULL, t);
    if (st) fail_msg("%s: %s", name, itr_last_error());
}

static void test_fixture(void **state) {
    (void)state;
    itr_checkpoint *ck = NULL;
    itr_h5 *f = NULL;
    if (itr_checkpoint_load(FIXTURE ".pth.tar", &ck)) fail_msg("%s", itr_last_error());
    if (itr_h5_open(FIXTURE ".h5", &f)) fail_msg("%s", itr_last_error());
    itr_tensor images, caps, lens, gi, gc, gs;
    read_input(f, "/inputs/images", ITR_F32, &images);
    read_input(f, "/inputs/captions", ITR_I64, &caps);
    read_input(f, "/inputs/lengths", ITR_I64, &lens);
    read_input(f, "/outputs/img_emb", ITR_F32, &gi);
    read_input(f, "/outputs/cap_emb", ITR_F32, &gc);
    read_input(f, "/outputs/sims", ITR_F64, &gs);
    itr_vsepp ref;
    assert_int_equal(itr_vsepp_load(&ref, &ck->opt, &ck->weights), ITR_OK);
    assert_int_equal(ref.cfg.measure, ITR_MEASURE_COSINE);   /* the golden's measure */
    int64_t n_img = images.shape[0], n_cap = caps.shape[0], T = caps.shape[1], bad = 0;
    bad += compare_model("vsepp_small (cosine)", &ref, itr_f32(&images), n_img, itr_i64(&caps), itr_i64(&lens), n_cap,
                         T, 0, itr_f32(&gi), itr_f32(&gc), itr_f64(&gs));
    itr_vsepp v = ref;
    v.cfg.measure = ITR_MEASURE_ORDER;
    bad += compare_model("vsepp_small, order measure", &v, itr_f32(&images), n_img, itr_i64(&caps), itr_i64(&lens),
                         n_cap, T, 0, NULL, NULL, NULL);
    v.cfg.use_abs = 1;
    bad += compare_model("vsepp_small, order + use_abs", &v, itr_f32(&images), n_img, itr_i64(&caps),
                         itr_i64(&lens), n_cap, T, 0, NULL, NULL, NULL);
    v = ref;
    v.cfg.no_imgnorm = 1;
    bad += compare_model("vsepp_small, no_imgnorm (VSE0)", &v, itr_f32(&images), n_img, itr_i64(&caps),
                         itr_i64(&lens), n_cap, T, 3, NULL, NULL, NULL);
    assert_int_equal(bad, 0);
    itr_tensor *all[] = {&images, &caps, &lens, &gi, &gc, &gs};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) itr_tensor_free(all[i]);
    itr_h5_close(f);
    itr_checkpoint_free(ck);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* ---- an awkward random model ------------------------------------------------ */

enum { A_IMG = 37, A_E = 45, A_WD = 7, A_V = 11, A_LAYERS = 2, A_T = 6, A_NCAP = 33, A_NIMG = 17 };

static double rnd(uint64_t *s) {   /* xorshift64*, uniform in [-1, 1) */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return 2.0 * (double)((*s * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0 - 1.0;
}

static void add_random(itr_weights *w, const char *g, const char *k, int64_t d0, int64_t d1, uint64_t *s) {
    itr_tensor t;
    assert_int_equal(itr_tensor_alloc_f32(&t, d1 ? 2 : 1, d0, d1, 0, 0), ITR_OK);
    for (int64_t i = 0; i < d0 * (d1 ? d1 : 1); i++) itr_f32(&t)[i] = (float)(0.4 * rnd(s));
    assert_int_equal(itr_weights_add(w, g, k, &t), ITR_OK);
}

static void awkward_weights(itr_weights *w, itr_config *opt, const char *measure) {
    uint64_t s = 0x51ed2701;
    char key[64];
    itr_weights_init(w, "awkward");
    add_random(w, "0", "fc.weight", A_E, A_IMG, &s);
    add_random(w, "0", "fc.bias", A_E, 0, &s);
    add_random(w, "1", "embed.weight", A_V, A_WD, &s);
    for (int l = 0; l < A_LAYERS; l++) {
        snprintf(key, sizeof key, "rnn.weight_ih_l%d", l);
        add_random(w, "1", key, 3 * A_E, l ? A_E : A_WD, &s);
        snprintf(key, sizeof key, "rnn.weight_hh_l%d", l);
        add_random(w, "1", key, 3 * A_E, A_E, &s);
        snprintf(key, sizeof key, "rnn.bias_ih_l%d", l);
        add_random(w, "1", key, 3 * A_E, 0, &s);
        snprintf(key, sizeof key, "rnn.bias_hh_l%d", l);
        add_random(w, "1", key, 3 * A_E, 0, &s);
    }
    itr_config_init(opt);
    itr_config_set_int(opt, "num_layers", A_LAYERS);
    itr_config_set_str(opt, "measure", measure);
}

static void awkward_inputs(float *images, int64_t *caps, int64_t *lens) {
    uint64_t s = 0xa11ce;
    for (int64_t i = 0; i < A_NIMG * A_IMG; i++) images[i] = (float)rnd(&s);
    for (int64_t j = 0; j < A_NCAP; j++) {
        lens[j] = 1 + (j * 5) % A_T;   /* 1..6, unsorted, with ties */
        for (int64_t t = 0; t < A_T; t++) caps[j * A_T + t] = t < lens[j] ? (j * 3 + t * 7) % A_V : 0;
    }
}

static void test_awkward(void **state) {
    (void)state;
    static float images[A_NIMG * A_IMG];
    static int64_t caps[A_NCAP * A_T], lens[A_NCAP];
    awkward_inputs(images, caps, lens);
    int64_t bad = 0;
    for (int order = 0; order <= 1; order++) {
        itr_weights w;
        itr_config opt;
        itr_vsepp ref;
        awkward_weights(&w, &opt, order ? "order" : "cosine");
        assert_int_equal(itr_vsepp_load(&ref, &opt, &w), ITR_OK);
        bad += compare_model(order ? "awkward, order, batches 5/4/3" : "awkward, cosine, batches 5/4/3", &ref, images,
                             A_NIMG, caps, lens, A_NCAP, A_T, 5, NULL, NULL, NULL);
        bad += compare_model(order ? "awkward, order, one image" : "awkward, cosine, one image", &ref, images, 1,
                             caps, lens, A_NCAP, A_T, 0, NULL, NULL, NULL);
        ref.cfg.use_abs = 1;
        bad += compare_model("awkward, use_abs, one caption", &ref, images, A_NIMG, caps, lens, 1, A_T, 3, NULL, NULL,
                             NULL);
        itr_config_free(&opt);
        itr_weights_free(&w);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

/* The comparison is able to fail: a weight changed after the upload. */
static void test_detects_difference(void **state) {
    (void)state;
    static float images[A_NIMG * A_IMG];
    static int64_t caps[A_NCAP * A_T], lens[A_NCAP];
    awkward_inputs(images, caps, lens);
    itr_weights w;
    itr_config opt;
    itr_vsepp ref;
    awkward_weights(&w, &opt, "cosine");
    assert_int_equal(itr_vsepp_load(&ref, &opt, &w), ITR_OK);
    itr_cuda_vsepp *m = NULL;
    assert_int_equal(itr_cuda_vsepp_create(&ref, &m), ITR_OK);
    ((float *)ref.gru.w_hh[1][0])[3] += 0.5f;
    float rc[A_NCAP * A_E], cc[A_NCAP * A_E];
    assert_int_equal(itr_vsepp_encode_captions(&ref, caps, lens, A_NCAP, A_T, rc), ITR_OK);
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, caps, lens, A_NCAP, A_T, cc), ITR_OK);
    assert_true(cmp_f32("perturbed GRU (must differ)", cc, rc, A_NCAP * A_E).bad > 0);
    itr_cuda_vsepp_destroy(m);
    itr_config_free(&opt);
    itr_weights_free(&w);
}

static void test_errors(void **state) {
    (void)state;
    itr_weights w;
    itr_config opt;
    itr_vsepp ref;
    awkward_weights(&w, &opt, "cosine");
    assert_int_equal(itr_vsepp_load(&ref, &opt, &w), ITR_OK);
    itr_cuda_vsepp *m = NULL;
    assert_int_equal(itr_cuda_vsepp_create(NULL, &m), ITR_E_ARG);
    assert_int_equal(itr_cuda_vsepp_create(&ref, &m), ITR_OK);
    assert_int_equal(itr_cuda_vsepp_config(m)->embed_size, A_E);
    float img[A_IMG] = {0}, emb[2 * A_E];
    double s;
    int64_t ids[2 * 3] = {1, 2, 0, 1, 1, 1}, ok[2] = {2, 3}, len0[2] = {0, 3}, len4[2] = {2, 4};
    int64_t bad_ids[2 * 3] = {1, 2, 0, 1, A_V, 1}, neg_ids[2 * 3] = {1, 2, -1, 1, 1, 1};
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, ids, ok, 2, 3, emb), ITR_OK);
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, ids, len0, 2, 3, emb), ITR_E_ARG);
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, ids, len4, 2, 3, emb), ITR_E_ARG);
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, bad_ids, ok, 2, 3, emb), ITR_E_ARG);
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, neg_ids, ok, 2, 3, emb), ITR_E_ARG);  /* padding too */
    assert_int_equal(itr_cuda_vsepp_encode_captions(m, ids, ok, 0, 3, emb), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_vsepp_encode_images(m, img, 0, emb), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_vsepp_encode_images(m, NULL, 1, emb), ITR_E_ARG);
    assert_int_equal(itr_cuda_vsepp_sims(m, emb, 0, emb, 1, &s), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_vsepp_set_batching(m, -1, 0, 0), ITR_E_ARG);
    itr_cuda_vsepp_destroy(m);
    itr_cuda_vsepp_destroy(NULL);
    itr_config_free(&opt);
    itr_weights_free(&w);
    assert_int_equal(itr_cuda_bytes_in_use(), 0);
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_awkward),
        cmocka_unit_test(test_detects_difference),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
