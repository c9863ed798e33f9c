/* bench_cuda_scan.c - throughput of SCAN's float64 evaluation scores on CUDA
 * (itr_cuda_scan_sims_f64, docs/cuda-scan.md) at the model's real sizes.
 *
 *   bench_cuda_scan [--quick]
 *
 * One JSON object per line on stdout:
 *   {"bench":"device", "name":..., "emulated":..., "clock_khz":..., "fp64_peak_gflops":..., ...}
 *   {"bench":"scan_sims_cuda", "dir":"t2i", "n_img":..., "n_cap":..., "pairs_per_s":...,
 *    "gflops":..., "pct_fp64_peak":..., "check_max_abs_err":..., "check_ok":...}
 * Sizes: R = 36 regions, D = 1024 (regions after the fc), captions of 12
 * words; a shard of 256 images x 1280 captions and the Flickr30K 1K test
 * (1000 x 5000); --quick (and always on the emulated backend): 4 images x 6
 * captions with D = 64.
 * Inputs are random unit rows (encoder outputs). The timed call is the whole
 * host API call (upload, widening, tiles, download), best of `reps`.
 * GFLOP/s counts the work executed: the dots 2 R L D of the tile DGEMM plus
 * the Gram quadratic forms (upper triangle: t2i L R^2, i2t R L^2) per pair and the Gram
 * matrices themselves (t2i 2 R^2 D per image, i2t 2 L^2 D per caption);
 * "upstream_gflops" counts upstream's 4 R L D per pair (s11) for comparison.
 * Correctness: the first 2 images x 8 captions (all of them with --quick)
 * against itr_scan_sims_f64; check_ok says whether every score is within
 * 1e-10 (abs or rel). */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itr/cuda.h"
#include "itr/cuda/scan.h"
#include "itr/models/scan.h"

enum { R = 36, L = 12, IMG_DIM = 16, WORD = 8, VOCAB = 4 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float urand(void) {   /* xorshift64*, [-1, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static int add_random(itr_weights *w, const char *g, const char *key, int ndim, const int64_t *shape, float scale) {
    itr_tensor t;
    if (itr_tensor_alloc(&t, ITR_F32, ndim, shape)) return 1;
    for (int64_t k = 0; k < itr_tensor_numel(&t); k++) ((float *)t.data)[k] = scale * urand();
    return itr_weights_add(w, g, key, &t) != ITR_OK;
}

/* A SCAN model of embed size D (the encoders are not timed: tiny fc / vocab). */
static int make_model(itr_weights *w, itr_config *opt, itr_scan *m, int64_t D) {
    int bad = 0;
    float s = 1.0f / sqrtf((float)D);
    itr_weights_init(w, "bench");
    itr_config_init(opt);
    bad |= add_random(w, "0", "fc.weight", 2, (int64_t[]){D, IMG_DIM}, 0.25f);
    bad |= add_random(w, "0", "fc.bias", 1, (int64_t[]){D}, 0.1f);
    bad |= add_random(w, "1", "embed.weight", 2, (int64_t[]){VOCAB, WORD}, 0.5f);
    bad |= add_random(w, "1", "rnn.weight_ih_l0", 2, (int64_t[]){3 * D, WORD}, s);
    bad |= add_random(w, "1", "rnn.weight_hh_l0", 2, (int64_t[]){3 * D, D}, s);
    bad |= add_random(w, "1", "rnn.bias_ih_l0", 1, (int64_t[]){3 * D}, s);
    bad |= add_random(w, "1", "rnn.bias_hh_l0", 1, (int64_t[]){3 * D}, s);
    return bad || itr_scan_load(m, opt, w) != ITR_OK;
}

static void unit_fill(float *x, int64_t rows, int64_t d) {
    for (int64_t r = 0; r < rows; r++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) {
            x[r * d + k] = urand();
            ss += (double)x[r * d + k] * x[r * d + k];
        }
        for (int64_t k = 0; k < d; k++) x[r * d + k] = (float)(x[r * d + k] / sqrt(ss));
    }
}

static void print_device(void) {
    itr_cuda_device dev;
    if (itr_cuda_device_info(&dev)) {
        printf("{\"bench\":\"device\",\"error\":\"%s\"}\n", itr_last_error());
        return;
    }
    printf("{\"bench\":\"device\",\"name\":\"%s\",\"backend\":\"%s\",\"emulated\":%d,\"cc\":\"%d.%d\",\"sm_count\":%d,"
           "\"clock_khz\":%d,\"mem_clock_khz\":%d,\"fp32_peak_gflops\":%.1f,\"fp64_peak_gflops\":%.1f}\n",
           dev.name, itr_cuda_backend_kind(), dev.emulated, dev.cc_major, dev.cc_minor, dev.sm_count, dev.clock_khz,
           dev.mem_clock_khz, dev.fp32_peak_gflops, dev.fp64_peak_gflops);
}

/* One configuration: n_img x n_cap pairs in direction dir, best of reps. */
static int run(itr_scan *m, const char *dir, int64_t n_img, int64_t n_cap, int64_t D, int reps, double fp64_peak) {
    int64_t ni = n_img * R * D, nw = n_cap * L * D, n_chk_i = n_img < 2 ? n_img : 2, n_chk_c = n_cap < 8 ? n_cap : 8;
    float *img = malloc((size_t)ni * sizeof *img), *cap = malloc((size_t)nw * sizeof *cap);
    float *ci = malloc((size_t)(n_chk_i * R * D) * sizeof *ci), *cc = malloc((size_t)(n_chk_c * L * D) * sizeof *cc);
    int64_t *len = malloc((size_t)n_cap * sizeof *len);
    double *sims = malloc((size_t)(n_img * n_cap) * sizeof *sims);
    double *want = malloc((size_t)(n_chk_i * n_chk_c) * sizeof *want);
    itr_cuda_scan *g = NULL;
    int bad = 1, printed = 0;
    if (!img || !cap || !ci || !cc || !len || !sims || !want) goto done;
    unit_fill(img, n_img * R, D);
    unit_fill(cap, n_cap * L, D);
    for (int64_t j = 0; j < n_cap; j++) len[j] = L;
    if (itr_scan_params_parse(&m->cfg.attn, dir, "clipped_l2norm", "LogSumExp")) goto done;
    if (itr_cuda_scan_create(m, &g)) goto done;
    double best = INFINITY;
    for (int k = 0; k < reps + 1; k++) {   /* the first call warms up (cuBLAS, allocator) */
        double t0 = now_s();
        if (itr_cuda_scan_sims_f64(g, img, n_img, R, cap, len, n_cap, L, sims)) goto done;
        double t = now_s() - t0;
        if (k > 0 && t < best) best = t;
    }
    /* check: a corner of the matrix against the reference */
    memcpy(ci, img, (size_t)(n_chk_i * R * D) * sizeof *ci);
    memcpy(cc, cap, (size_t)(n_chk_c * L * D) * sizeof *cc);
    if (itr_scan_sims_f64(m, ci, n_chk_i, R, cc, len, n_chk_c, L, want)) goto done;
    double err = 0.0;
    int ok = 1;
    for (int64_t i = 0; i < n_chk_i; i++)
        for (int64_t j = 0; j < n_chk_c; j++) {
            double e = fabs(sims[i * n_cap + j] - want[i * n_chk_c + j]);
            if (!(e <= 1e-10 || e <= 1e-10 * fabs(want[i * n_chk_c + j]))) ok = 0;
            err = e > err || e != e ? e : err;
        }
    int t2i = strcmp(dir, "t2i") == 0;
    double pairs = (double)n_img * (double)n_cap;
    double per_pair = 2.0 * R * L * D + (t2i ? 1.0 * L * R * R : 1.0 * R * L * L);
    double grams = t2i ? 2.0 * R * R * D * (double)n_img : 2.0 * L * L * D * (double)n_cap;
    double gflops = (pairs * per_pair + grams) / best * 1e-9, up = pairs * 4.0 * R * L * D / best * 1e-9;
    printf("{\"bench\":\"scan_sims_cuda\",\"dir\":\"%s\",\"norm\":\"clipped_l2norm\",\"agg\":\"LogSumExp\","
           "\"R\":%d,\"L\":%d,\"D\":%lld,\"n_img\":%lld,\"n_cap\":%lld,\"reps\":%d,\"seconds\":%.6g,"
           "\"pairs_per_s\":%.6g,\"gflops\":%.6g,\"upstream_gflops\":%.6g,\"pct_fp64_peak\":%.3g,"
           "\"check_pairs\":%lld,\"check_max_abs_err\":%.3g,\"check_ok\":%s}\n",
           dir, R, L, (long long)D, (long long)n_img, (long long)n_cap, reps, best, pairs / best, gflops, up,
           fp64_peak > 0 ? 100.0 * gflops / fp64_peak : 0.0, (long long)(n_chk_i * n_chk_c), err,
           ok ? "true" : "false");
    bad = !ok;
    printed = 1;
done:
    if (!printed) printf("{\"bench\":\"scan_sims_cuda\",\"dir\":\"%s\",\"error\":\"%s\"}\n", dir, itr_last_error());
    itr_cuda_scan_destroy(g);
    free(img), free(cap), free(ci), free(cc), free(len), free(sims), free(want);
    return bad;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (!itr_cuda_available()) {
        printf("{\"bench\":\"scan_sims_cuda\",\"skipped\":\"no CUDA device\"}\n");
        return 0;
    }
    print_device();
    itr_cuda_device dev;
    memset(&dev, 0, sizeof dev);
    double peak = itr_cuda_device_info(&dev) ? 0.0 : dev.fp64_peak_gflops;
    if (!quick && dev.emulated) {   /* the real sizes take hours on the CPU emulation */
        printf("{\"bench\":\"scan_sims_cuda\",\"note\":\"emulated backend: --quick sizes\"}\n");
        quick = 1;
    }
    int64_t D = quick ? 64 : 1024;
    itr_weights w;
    itr_config opt;
    itr_scan m;
    if (make_model(&w, &opt, &m, D)) {
        printf("{\"bench\":\"scan_sims_cuda\",\"error\":\"model: %s\"}\n", itr_last_error());
        return 1;
    }
    static const int64_t sizes[2][2] = {{256, 1280}, {1000, 5000}};
    int bad = 0;
    for (int d = 0; d < 2; d++) {
        const char *dir = d ? "i2t" : "t2i";
        if (quick) bad |= run(&m, dir, 4, 6, D, 1, peak);
        else
            for (int s = 0; s < 2; s++) bad |= run(&m, dir, sizes[s][0], sizes[s][1], D, 3, peak);
    }
    itr_scan_free(&m);
    itr_weights_free(&w);
    itr_config_free(&opt);
    return bad;
}
