/* bench_sims.c - throughput of the cross-attention similarities (SGR, SAF,
 * SCAN t2i LogSumExp) at the models' real default sizes, against the
 * upstream PyTorch figures of shared/upstream_bench/perf_anchors.md.
 *
 *   bench_sims [--quick] [--only SGR|SAF|SCAN] [--threads N]
 *
 * Prints one JSON object per line on stdout (see bench/README.md):
 *   {"bench":"sgemm_peak", ...}                 1-thread 1024^3 SGEMM GFLOP/s
 *   {"bench":"SGR","threads":1,"pairs_per_s":..., "gflops":..., "pct_peak":..., ...}
 * Sizes: R = 36 regions x 2048 features, D = 1024, P = 256, L = 12 words,
 * SGR 3 steps, shard 100 images x 100 captions (--quick: 20 x 20). Weights
 * are random (PyTorch Linear-like init) in an itr_weights store and loaded by
 * the models' own loaders; inputs are random L2-normalised embeddings. Only
 * the similarity call (itr_sgraf_sims / itr_scan_sims_f64) is timed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef ITR_USE_CBLAS
#include <cblas.h>
#endif

#include "itr/models/scan.h"
#include "itr/models/sgraf.h"

#include "bench_sgraf_model.h"

enum { VOCAB = 16 };

/* Upstream 1-thread pairs/s (perf_anchors.md s2, median of 5). SCAN: the
 * float64 evaluation path (what upstream's evalrank runs and what itr
 * computes, QUIRK-S1), not its float32 training-time scorer (17,425). */
static const double UP_SGR = 3157.0, UP_SAF = 5442.0, UP_SCAN = 7471.0;

/* Wall-clock seconds: omp_get_wtime with OpenMP; C99 has no wall clock, so
 * the serial build falls back to clock() (CPU time = wall time on 1 thread). */
static double now_s(void) {
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* n rows of d random values, each L2-normalised (the encoders' output). */
static void random_rows(float *x, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) {
            x[r * d + k] = urand();
            ss += (double)x[r * d + k] * x[r * d + k];
        }
        for (int64_t k = 0; k < d; k++) x[r * d + k] = (float)(x[r * d + k] / sqrt(ss));
    }
}

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef ITR_USE_CBLAS
    openblas_set_num_threads(n);
#endif
    (void)n;
}

/* 1-thread SGEMM 1024^3 GFLOP/s: best of a few runs after a warm-up. */
static double sgemm_peak(int reps) {
    const int64_t n = 1024;
    float *a = malloc((size_t)(n * n) * sizeof *a), *b = malloc((size_t)(n * n) * sizeof *b),
          *c = malloc((size_t)(n * n) * sizeof *c);
    double best = 1e30;
    if (!a || !b || !c) goto done;
    for (int64_t k = 0; k < n * n; k++) {
        a[k] = urand();
        b[k] = urand();
    }
    set_threads(1);
    itr_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        itr_sgemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
done:
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)(n * n * n) / best / 1e9;
}

/* FLOPs of one pair (2 x multiply-adds of its GEMMs; element-wise ops not
 * counted). SGRAF also pays VisualSA once per image and TextSA once per
 * caption (local + global D x D linears), amortised over the shard as in
 * perf_anchors.md (which gives 25.49 / 9.65 MFLOP at 100 x 100). */
static double pair_flops(const char *which, int64_t n_img, int64_t n_cap) {
    const double N = L + 1;
    double attn = 4.0 * R * L * D;                /* S = V T^T and ctx = A^T V */
    if (strcmp(which, "SCAN") == 0) return attn;  /* + cosines, negligible */
    double sa = (2.0 * R * D * D + 2.0 * D * D) / (double)n_cap + (2.0 * L * D * D + 2.0 * D * D) / (double)n_img;
    double nodes = 2.0 * L * D * P + 2.0 * D * P; /* W_loc on L words, W_glo on 1 */
    if (strcmp(which, "SAF") == 0) return sa + attn + nodes + 2.0 * N * P;
    return sa + attn + nodes + STEPS * (6.0 * N * P * P + 4.0 * N * N * P);   /* SGR: Q, K, W_g; QK^T, EX */
}

typedef struct shard {
    int64_t n_img, n_cap;
    float *img, *cap;
    int64_t *len;
    double *sims;
} shard;

/* Process CPU seconds (all threads) since the start of the timed call: on a
 * loaded machine pairs per CPU-second is the fairer 1-thread figure. */
static clock_t cpu_start;
static double start_timers(void) {
    cpu_start = clock();
    return now_s();
}

static void report(const char *which, int threads, const shard *s, double secs, double peak, double upstream,
                   double checksum) {
    double cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;
    double pairs = (double)(s->n_img * s->n_cap), pps = pairs / secs, mf = pair_flops(which, s->n_img, s->n_cap),
           gf = pps * mf / 1e9;
    printf("{\"bench\":\"%s\",\"threads\":%d,\"n_img\":%lld,\"n_cap\":%lld,\"seconds\":%.4f,"
           "\"cpu_seconds\":%.4f,\"pairs_per_cpu_s\":%.1f,\"pairs_per_s\":%.1f,"
           "\"mflop_per_pair\":%.3f,\"gflops\":%.2f,\"pct_peak_1core\":%.1f,\"upstream_1t_pairs_per_s\":%.0f,"
           "\"ratio_vs_upstream_1t\":%.3f,\"checksum\":%.9g}\n",
           which, threads, (long long)s->n_img, (long long)s->n_cap, secs, cpu, pairs / cpu, pps,
           mf / 1e6, gf,
           100.0 * gf / (peak * threads), upstream, pps / upstream, checksum);
    fflush(stdout);
}

static double checksum(const shard *s) {
    double c = 0.0;
    for (int64_t k = 0; k < s->n_img * s->n_cap; k++) c += s->sims[k];
    return c;
}

static int bench_sgraf(itr_sgraf_module module, const shard *s, const int *threads, int n_cfg, double peak) {
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    int bad = sgraf_weights(&w, module, VOCAB, "bench_sims");
    itr_config_init(&opt);
    bad |= itr_config_set_str(&opt, "module_name", module == ITR_SGRAF_SGR ? "SGR" : "SAF") != ITR_OK;
    bad |= itr_config_set_int(&opt, "sgr_step", STEPS) != ITR_OK;
    bad |= itr_config_set_bool(&opt, "bi_gru", 1) != ITR_OK;
    if (bad || itr_sgraf_load(&m, &opt, &w)) {
        fprintf(stderr, "bench_sims: SGRAF load: %s\n", itr_last_error());
        bad = 1;
        goto done;
    }
    const char *name = module == ITR_SGRAF_SGR ? "SGR" : "SAF";
    for (int c = 0; c < n_cfg; c++) {
        set_threads(threads[c]);
        /* warm-up on a 2 x 2 corner of the shard, then the timed full shard */
        if (itr_sgraf_sims(&m, s->img, 2, s->cap, s->len, 2, L, s->sims, NULL, NULL)) goto fail;
        double t0 = start_timers();
        if (itr_sgraf_sims(&m, s->img, s->n_img, s->cap, s->len, s->n_cap, L, s->sims, NULL, NULL)) goto fail;
        report(name, threads[c], s, now_s() - t0, peak, module == ITR_SGRAF_SGR ? UP_SGR : UP_SAF, checksum(s));
    }
    goto done;
fail:
    fprintf(stderr, "bench_sims: %s sims: %s\n", name, itr_last_error());
    bad = 1;
done:
    itr_config_free(&opt);
    itr_weights_free(&w);
    return bad;
}

static int bench_scan(const shard *s, const int *threads, int n_cfg, double peak) {
    itr_weights w;
    itr_config opt;
    itr_scan m;
    int bad = 0;
    itr_weights_init(&w, "bench_sims");
    bad |= add_linear(&w, "0", "fc", D, IMG_DIM);
    bad |= add_filled(&w, "1", "embed.weight", 2, (int64_t[]){VOCAB, WORD}, 0.1f, 0.0f);
    bad |= add_gru(&w, "rnn.", 0);
    itr_config_init(&opt);   /* defaults: t2i, clipped_l2norm, LogSumExp, lambda_lse 6, lambda_softmax 9 */
    if (bad || itr_scan_load(&m, &opt, &w)) {
        fprintf(stderr, "bench_sims: SCAN load: %s\n", itr_last_error());
        bad = 1;
        goto done;
    }
    for (int c = 0; c < n_cfg && !bad; c++) {
        set_threads(threads[c]);
        if (itr_scan_sims_f64(&m, s->img, 2, R, s->cap, s->len, 2, L, s->sims)) bad = 1;
        double t0 = start_timers();
        if (!bad && itr_scan_sims_f64(&m, s->img, s->n_img, R, s->cap, s->len, s->n_cap, L, s->sims)) bad = 1;
        if (bad) fprintf(stderr, "bench_sims: SCAN sims: %s\n", itr_last_error());
        else report("SCAN", threads[c], s, now_s() - t0, peak, UP_SCAN, checksum(s));
    }
    itr_scan_free(&m);
done:
    itr_config_free(&opt);
    itr_weights_free(&w);
    return bad;
}

int main(int argc, char **argv) {
    int quick = 0, only_threads = 0;
    const char *only = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) quick = 1;
        else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc) only = argv[++a];
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) only_threads = atoi(argv[++a]);
        else {
            fprintf(stderr, "usage: bench_sims [--quick] [--only SGR|SAF|SCAN] [--threads N]\n");
            return 2;
        }
    }
    int all = 1;
#ifdef _OPENMP
    all = omp_get_num_procs();
#endif
    int threads[2] = {1, all}, n_cfg = all > 1 ? 2 : 1;
    if (only_threads > 0) {
        threads[0] = only_threads;
        n_cfg = 1;
    }
    shard s;
    s.n_img = s.n_cap = quick ? 20 : 100;
    s.img = malloc((size_t)(s.n_img * R * D) * sizeof *s.img);
    s.cap = malloc((size_t)(s.n_cap * L * D) * sizeof *s.cap);
    s.len = malloc((size_t)s.n_cap * sizeof *s.len);
    s.sims = malloc((size_t)(s.n_img * s.n_cap) * sizeof *s.sims);
    if (!s.img || !s.cap || !s.len || !s.sims) {
        fprintf(stderr, "bench_sims: out of memory\n");
        return 1;
    }
    random_rows(s.img, s.n_img * R, D);
    random_rows(s.cap, s.n_cap * L, D);
    for (int64_t j = 0; j < s.n_cap; j++) s.len[j] = L;

    double peak = sgemm_peak(quick ? 2 : 5);
    printf("{\"bench\":\"sgemm_peak\",\"threads\":1,\"n\":1024,\"gflops\":%.2f,\"max_threads\":%d,\"quick\":%d}\n",
           peak, all, quick);
    fflush(stdout);
    int bad = 0;
    if (!only || strcmp(only, "SGR") == 0) bad |= bench_sgraf(ITR_SGRAF_SGR, &s, threads, n_cfg, peak);
    if (!only || strcmp(only, "SAF") == 0) bad |= bench_sgraf(ITR_SGRAF_SAF, &s, threads, n_cfg, peak);
    if (!only || strcmp(only, "SCAN") == 0) bad |= bench_scan(&s, threads, n_cfg, peak);
    free(s.img);
    free(s.cap);
    free(s.len);
    free(s.sims);
    return bad;
}
