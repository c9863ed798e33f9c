/* bench_retrieval.c - time of dot-product retrieval (scores + ranks) at
 * COCO 5K size: 5000 images x 25000 captions, d = 1024, random unit vectors
 * (seeded), on the reference (streaming: blocked float64 GEMM + the
 * block-fed ranker, OpenMP / OpenBLAS threads) and on CUDA
 * (itr/cuda/retrieval.h: device dgemm + device rank counts).
 *
 *   bench_retrieval [--quick] [--no-ref] [--no-cuda] [--shard N]
 *
 * --quick: 500 x 2500 at d = 256 (CI smoke test; the emulated CUDA backend
 * is slow at full size). One JSON object per line on stdout:
 *   {"bench":"retrieval_ref", "n_img", "n_cap", "d", "threads", "shard",
 *    "gemm_s" (both passes), "rank_s", "seconds" (all, widening included),
 *    "gemm_gflops", "rsum"}
 *   {"bench":"retrieval_cuda", "device", "emulated", "upload_s", "seconds",
 *    "gflops", "pct_fp64_peak", "rsum", "rank_mismatches", ...}
 * The CUDA line's rank_mismatches counts queries whose rank differs from
 * the reference's (0 expected: random scores have no float64 near-ties);
 * both sides score the matrix twice (GT pass, ranking pass), and their
 * GFLOP/s count both passes (2 x 2 n_img n_cap d). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "itr/cuda.h"
#include "itr/cuda/retrieval.h"
#include "itr/metrics.h"
#include "itr/ops.h"

static double now_s(void) {
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* xorshift64*, seeded: reproducible uniforms in (0, 1) */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand01(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) + 0.5) / 9007199254740992.0;
}

/* n unit vectors of size d (Box-Muller normals, normalised in double). */
static float *unit_vectors(int64_t n, int64_t d) {
    float *x = malloc((size_t)(n * d) * sizeof *x);
    double *v = malloc((size_t)d * sizeof *v);
    if (!x || !v) {
        fprintf(stderr, "bench_retrieval: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t j = 0; j < d; j++) {
            v[j] = sqrt(-2.0 * log(urand01())) * cos(6.283185307179586 * urand01());
            ss += v[j] * v[j];
        }
        for (int64_t j = 0; j < d; j++) x[i * d + j] = (float)(v[j] / sqrt(ss));
    }
    free(v);
    return x;
}

static double *widen(const float *x, int64_t n) {
    double *y = malloc((size_t)n * sizeof *y);
    if (!y) {
        fprintf(stderr, "bench_retrieval: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) y[i] = (double)x[i];
    return y;
}

/* Reference streaming: S blocks (rows, n_cap) = img64 cap64^T (itr_dgemm,
 * OpenBLAS threads), each fed to the block-fed ranker and dropped. The
 * ranker wants the GT scores first, and a BLAS GEMM rounds a (1, k) product
 * differently from the same cells inside a block, so - as eval_score.c does
 * for such scorers - pass 1 takes the GT cells from the blocks, pass 2 ranks. */
static void ref_block(const double *I, const double *C, int64_t n_cap, int64_t d, int64_t i0, int64_t nr,
                      double *blk, double *gemm_s) {
    double a = now_s();
    itr_dgemm(0, 1, nr, n_cap, d, 1.0, I + i0 * d, d, C, d, 0.0, blk, n_cap);
    *gemm_s += now_s() - a;
}

static int bench_ref(const float *img, const float *cap, int64_t n_img, int64_t n_cap, int64_t d, int64_t k,
                     int64_t shard, itr_ranks *ranks) {
    double t0 = now_s();
    double *I = widen(img, n_img * d), *C = widen(cap, n_cap * d);
    double *gt = malloc((size_t)n_cap * sizeof *gt), *blk = malloc((size_t)(shard * n_cap) * sizeof *blk);
    if (!gt || !blk) return 1;
    double gemm_s = 0.0, rank_s = 0.0;
    for (int64_t i0 = 0; i0 < n_img; i0 += shard) {   /* pass 1: GT cells */
        int64_t nr = n_img - i0 < shard ? n_img - i0 : shard;
        ref_block(I, C, n_cap, d, i0, nr, blk, &gemm_s);
        for (int64_t y = 0; y < nr; y++)
            memcpy(gt + (i0 + y) * k, blk + y * n_cap + (i0 + y) * k, (size_t)k * sizeof *gt);
    }
    itr_ranker *r = NULL;
    itr_status st = itr_ranker_create(n_img, n_cap, k, gt, ITR_TIES_CANONICAL, &r);
    for (int64_t i0 = 0; !st && i0 < n_img; i0 += shard) {   /* pass 2: rank */
        int64_t nr = n_img - i0 < shard ? n_img - i0 : shard;
        ref_block(I, C, n_cap, d, i0, nr, blk, &gemm_s);
        double b = now_s();
        st = itr_ranker_add_block(r, i0, nr, 0, n_cap, blk, n_cap);
        rank_s += now_s() - b;
    }
    if (!st) st = itr_ranker_finish(r, ranks);
    double seconds = now_s() - t0;
    itr_ranker_free(r);
    free(I);
    free(C);
    free(gt);
    free(blk);
    if (st) {
        fprintf(stderr, "bench_retrieval: ref: %s\n", itr_last_error());
        return 1;
    }
    itr_metrics m;
    itr_metrics_from_ranks(ranks, &m);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("{\"bench\":\"retrieval_ref\",\"n_img\":%lld,\"n_cap\":%lld,\"d\":%lld,\"threads\":%d,\"shard\":%lld,"
           "\"gemm_s\":%.4f,\"rank_s\":%.4f,\"seconds\":%.4f,\"gemm_gflops\":%.2f,\"rsum\":%.4f}\n",
           (long long)n_img, (long long)n_cap, (long long)d, threads, (long long)shard, gemm_s, rank_s, seconds,
           gemm_s > 0 ? 4.0 * (double)n_img * (double)n_cap * (double)d / gemm_s * 1e-9 : 0.0, m.rsum);
    return 0;
}

static int64_t count_mismatches(const itr_ranks *a, const itr_ranks *b) {
    int64_t bad = 0;
    for (int64_t i = 0; i < a->n_img; i++) bad += a->rank_i2t[i] != b->rank_i2t[i];
    for (int64_t c = 0; c < a->n_cap; c++) bad += a->rank_t2i[c] != b->rank_t2i[c];
    return bad;
}

static int bench_cuda(const float *img, const float *cap, int64_t n_img, int64_t n_cap, int64_t d, int64_t k,
                      int64_t shard, const itr_ranks *ref) {
    itr_cuda_device dev;
    if (!itr_cuda_available() || itr_cuda_device_info(&dev)) {
        printf("{\"bench\":\"retrieval_cuda\",\"skipped\":\"no CUDA device\"}\n");
        return 0;
    }
    itr_cuda_retrieval *r = NULL;
    itr_ranks ranks;
    double t0 = now_s();
    itr_status st = itr_cuda_retrieval_create(img, n_img, cap, n_cap, d, k, &r);
    double t1 = now_s();
    if (!st) st = itr_cuda_retrieval_set_shard_rows(r, shard);
    if (!st) st = itr_cuda_retrieval_ranks(r, 0, n_img, ITR_TIES_CANONICAL, &ranks);   /* warm-up */
    if (!st) {
        itr_ranks_free(&ranks);
        t1 = now_s();
        st = itr_cuda_retrieval_ranks(r, 0, n_img, ITR_TIES_CANONICAL, &ranks);
    }
    double seconds = now_s() - t1;
    itr_cuda_retrieval_destroy(r);
    if (st) {
        fprintf(stderr, "bench_retrieval: cuda: %s\n", itr_last_error());
        return 1;
    }
    itr_metrics m;
    itr_metrics_from_ranks(&ranks, &m);
    double gflops = 4.0 * (double)n_img * (double)n_cap * (double)d / seconds * 1e-9;
    printf("{\"bench\":\"retrieval_cuda\",\"device\":\"%s\",\"emulated\":%d,\"sm_count\":%d,\"clock_khz\":%d,"
           "\"fp64_peak_gflops\":%.1f,\"n_img\":%lld,\"n_cap\":%lld,\"d\":%lld,\"shard\":%lld,\"upload_s\":%.4f,"
           "\"seconds\":%.4f,\"gflops\":%.2f,\"pct_fp64_peak\":%.2f,\"rsum\":%.4f,\"rank_mismatches\":%lld}\n",
           dev.name, dev.emulated, dev.sm_count, dev.clock_khz, dev.fp64_peak_gflops, (long long)n_img,
           (long long)n_cap, (long long)d, (long long)shard, t1 - t0, seconds, gflops,
           dev.fp64_peak_gflops > 0 ? 100.0 * gflops / dev.fp64_peak_gflops : 0.0, m.rsum,
           ref ? (long long)count_mismatches(&ranks, ref) : -1LL);
    itr_ranks_free(&ranks);
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0, do_ref = 1, do_cuda = 1;
    int64_t shard = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--no-ref") == 0) do_ref = 0;
        else if (strcmp(argv[i], "--no-cuda") == 0) do_cuda = 0;
        else if (strcmp(argv[i], "--shard") == 0 && i + 1 < argc) shard = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_retrieval [--quick] [--no-ref] [--no-cuda] [--shard N]\n");
            return 2;
        }
    }
    int64_t n_img = quick ? 500 : 5000, k = 5, n_cap = k * n_img, d = quick ? 256 : 1024;
    if (shard <= 0) shard = quick ? 100 : 256;
    float *img = unit_vectors(n_img, d), *cap = unit_vectors(n_cap, d);
    itr_ranks ref;
    memset(&ref, 0, sizeof ref);
    int bad = 0, have_ref = 0;
    if (do_ref) {
        bad |= bench_ref(img, cap, n_img, n_cap, d, k, shard, &ref);
        have_ref = !bad;
    }
    if (do_cuda) bad |= bench_cuda(img, cap, n_img, n_cap, d, k, quick ? shard : 4 * shard, have_ref ? &ref : NULL);
    itr_ranks_free(&ref);
    free(img);
    free(cap);
    return bad;
}
