/* bench_cuda_gru.c - throughput of the CUDA GRU (cuda/core/gru.h) at the
 * text encoder size of SCAN / SGRAF / VSE-inf: a bidirectional GRU 300 -> 1024
 * over batches of 128 captions of 12 tokens, checked against the reference.
 *
 *   bench_cuda_gru [--quick]
 *
 * One JSON object per line on stdout (bench/README.md):
 *   {"bench":"cuda_gru","device":...,"lengths":"full","captions_per_s":...,"pct_fp32_peak":...,...}
 * Rows: every caption of length T ("full"), and lengths uniform in
 * [T/3, T] ("mixed", packed sequences skip the finished ones). Timed: the mean
 * of `repeats` calls of itr_cu_gru_forward on device-resident input (CUDA
 * events; upload/download excluded, per-call work buffers included).
 * Correctness: the first CHECK_ROWS sequences against itr_gru_forward (the
 * GRU is per-sequence, so a sub-batch gives the same rows), all outputs and
 * h_n, |err| <= 1e-5 abs or 1e-4 rel ("ok"). --quick: a small GRU for CI
 * (the emulated build runs it in about a second). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gru.h"
#include "itr/cuda.h"
#include "itr/ops.h"

#define CHECK_ROWS 4
/* upstream PyTorch BiGRU 300->1024, batch 128, L 12, 1 CPU thread
 * (shared/upstream_bench/perf_anchors.md s3) */
static const double UPSTREAM_1T_CAPTIONS_PER_S = 525.0;

typedef struct gru_size {
    int64_t B, T, in, H;
    int dirs, layers, repeats;
} gru_size;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(void) {   /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (float)((double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static float *filled(int64_t n, float scale) {
    float *p = malloc((size_t)n * sizeof *p);
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = scale * urand();
    return p;
}

/* A GRU with PyTorch's init U(-1/sqrt(H), 1/sqrt(H)); the arrays are owned by the caller's list. */
static int make_gru(itr_gru *g, const gru_size *s, float **owned, int *n_owned) {
    memset(g, 0, sizeof *g);
    g->input_size = s->in;
    g->hidden = s->H;
    g->num_layers = s->layers;
    g->num_dirs = s->dirs;
    float k = 1.0f / sqrtf((float)s->H);
    for (int l = 0; l < s->layers; l++)
        for (int d = 0; d < s->dirs; d++) {
            int64_t in_l = l == 0 ? s->in : s->dirs * s->H;
            float *w[4] = {filled(3 * s->H * in_l, k), filled(3 * s->H * s->H, k), filled(3 * s->H, k),
                           filled(3 * s->H, k)};
            for (int i = 0; i < 4; i++) {
                if (!w[i]) return 1;
                owned[(*n_owned)++] = w[i];
            }
            g->w_ih[l][d] = w[0], g->w_hh[l][d] = w[1], g->b_ih[l][d] = w[2], g->b_hh[l][d] = w[3];
        }
    return 0;
}

/* GEMM FLOPs of one forward: the input projections of all B*T positions and
 * every active sequence's recurrent product (element-wise gates not counted). */
static double forward_flops(const gru_size *s, const int64_t *len) {
    double f = 0.0;
    for (int l = 0; l < s->layers; l++) {
        int64_t in_l = l == 0 ? s->in : s->dirs * s->H;
        f += 2.0 * (double)(s->B * s->T) * (double)in_l * 3.0 * (double)s->H * s->dirs;
    }
    int64_t steps = 0;
    for (int64_t b = 0; b < s->B; b++) steps += len[b];
    f += 2.0 * (double)steps * 3.0 * (double)s->H * (double)s->H * s->dirs * s->layers;
    return f;
}

/* CUDA vs ref on the first CHECK_ROWS sequences; returns 0 on a failure to run. */
static int check_rows(const itr_gru *g, const gru_size *s, const float *x, const int64_t *len,
                      const float *out_cu, const float *hn_cu, double *max_abs, double *max_rel, int *ok) {
    int64_t R = s->B < CHECK_ROWS ? s->B : CHECK_ROWS, DH = s->dirs * s->H, LD = (int64_t)s->layers * s->dirs;
    float *out = malloc((size_t)(R * s->T * DH) * sizeof *out), *hn = malloc((size_t)(LD * R * s->H) * sizeof *hn);
    if (!out || !hn || itr_gru_forward(g, x, len, R, s->T, out, hn)) {
        free(out);
        free(hn);
        return 0;
    }
    *max_abs = *max_rel = 0.0;
    *ok = 1;
    for (int64_t e = 0; e < R * s->T * DH + LD * R * s->H; e++) {
        int64_t o = e - R * s->T * DH;   /* >= 0: h_n element (layer-dir, row, unit) */
        double want = o < 0 ? out[e] : hn[o];
        double got = o < 0 ? out_cu[e] : hn_cu[(o / (R * s->H)) * s->B * s->H + o % (R * s->H)];
        double a = fabs(got - want), r = a / (fabs(want) > 1e-30 ? fabs(want) : 1e-30);
        if (!(a <= *max_abs)) *max_abs = a;
        if (fabs(want) > 1e-6 && !(r <= *max_rel)) *max_rel = r;
        if (!(a <= 1e-5 || r <= 1e-4)) *ok = 0;
    }
    free(out);
    free(hn);
    return 1;
}

static int run(const gru_size *s, const itr_cuda_device *dev, int mixed) {
    float *owned[ITR_GRU_MAX_LAYERS * 8];
    int n_owned = 0, rc = 1, ok = 0;
    itr_gru g;
    itr_cu_gru cg;
    memset(&cg, 0, sizeof cg);
    int64_t DH = s->dirs * s->H, LD = (int64_t)s->layers * s->dirs;
    float *x = filled(s->B * s->T * s->in, 1.0f);
    float *out = malloc((size_t)(s->B * s->T * DH) * sizeof *out), *hn = malloc((size_t)(LD * s->B * s->H) * sizeof *hn);
    int64_t *len = malloc((size_t)s->B * sizeof *len);
    double ms = 0.0, max_abs = 0.0, max_rel = 0.0;
    if (!x || !out || !hn || !len || make_gru(&g, s, owned, &n_owned)) {
        fprintf(stderr, "bench_cuda_gru: out of memory\n");
        goto done;
    }
    for (int64_t b = 0; b < s->B; b++) {
        int64_t lo = s->T / 3 > 0 ? s->T / 3 : 1;
        len[b] = mixed ? lo + (int64_t)((urand() + 1.0f) * 0.5f * (float)(s->T - lo + 1)) : s->T;
        if (len[b] > s->T) len[b] = s->T;
    }
    if (itr_cu_gru_upload(&cg, &g) || itr_cu_gru_forward_host(&cg, x, len, s->B, s->T, out, hn, 1, NULL) ||
        itr_cu_gru_forward_host(&cg, x, len, s->B, s->T, out, NULL, s->repeats, &ms)) {
        fprintf(stderr, "bench_cuda_gru: %s\n", itr_last_error());
        goto done;
    }
    if (!check_rows(&g, s, x, len, out, hn, &max_abs, &max_rel, &ok)) {
        fprintf(stderr, "bench_cuda_gru: reference failed: %s\n", itr_last_error());
        goto done;
    }
    double flops = forward_flops(s, len), sec = ms / 1000.0, gflops = sec > 0 ? flops / sec / 1e9 : 0.0;
    printf("{\"bench\":\"cuda_gru\",\"device\":\"%s\",\"backend\":\"%s\",\"sm_clock_mhz\":%d,\"B\":%lld,\"T\":%lld,"
           "\"input\":%lld,\"hidden\":%lld,\"dirs\":%d,\"layers\":%d,\"lengths\":\"%s\",\"repeats\":%d,"
           "\"ms_per_forward\":%.4f,\"captions_per_s\":%.1f,\"mflop_per_caption\":%.1f,\"gflops\":%.1f,"
           "\"pct_fp32_peak\":%.2f,\"fast_mode\":%d,\"check_rows\":%d,\"max_abs_err\":%.3e,\"max_rel_err\":%.3e,"
           "\"ok\":%s,\"upstream_cpu_1t_captions_per_s\":%.0f}\n",
           dev->name, itr_cuda_backend_kind(), dev->clock_khz / 1000, (long long)s->B, (long long)s->T,
           (long long)s->in, (long long)s->H, s->dirs, s->layers, mixed ? "mixed" : "full", s->repeats, ms,
           sec > 0 ? (double)s->B / sec : 0.0, flops / (double)s->B / 1e6, gflops,
           dev->fp32_peak_gflops > 0 ? 100.0 * gflops / dev->fp32_peak_gflops : 0.0, itr_cuda_fast(),
           (int)(s->B < CHECK_ROWS ? s->B : CHECK_ROWS), max_abs, max_rel, ok ? "true" : "false",
           UPSTREAM_1T_CAPTIONS_PER_S);
    rc = ok ? 0 : 1;
done:
    itr_cu_gru_free(&cg);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(x);
    free(out);
    free(hn);
    free(len);
    return rc;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc > 2 || (argc == 2 && !quick)) {
        fprintf(stderr, "usage: bench_cuda_gru [--quick]\n");
        return 2;
    }
    itr_cuda_device dev;
    if (!itr_cuda_available() || itr_cuda_device_info(&dev)) {
        fprintf(stderr, "bench_cuda_gru: no CUDA device (%s)\n", itr_last_error());
        return 77;
    }
    gru_size full = {128, 12, 300, 1024, 2, 1, 20};
    gru_size small = {8, 5, 16, 24, 2, 2, 2};
    const gru_size *s = quick ? &small : &full;
    int rc = run(s, &dev, 0);
    rc |= run(s, &dev, 1);
    return rc;
}
