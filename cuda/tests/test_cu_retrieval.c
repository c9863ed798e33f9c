/* test_cu_retrieval.c - dot-product retrieval ranked on CUDA
 * (itr/cuda/retrieval.h) against the reference ranker (itr/metrics.h):
 *   - embeddings on a grid of eighths with a few coordinates, so every
 *     float64 score is exact whatever the GEMM's summation order and exact
 *     ties abound (with the ground truth too): rank, top1 and the tie counts
 *     must equal itr_rank_matrix on the host matrix under all three tie
 *     rules, at awkward sizes (one image, one caption per image, primes,
 *     sizes off the 256-thread blocks) and shard heights;
 *   - random embeddings: the device scores within 1e-12 of the host's
 *     float64 loop, and the ranks equal itr_rank_matrix on the device's own
 *     scores (itr_cuda_retrieval_sims) exactly;
 *   - ranges (a fold: positions local to it) and COCO 5-fold metrics equal
 *     to itr_eval_folds;
 *   - errors (shapes, ranges, rule, NaN scores) and device-memory leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/cuda.h"
#include "itr/cuda/retrieval.h"
#include "itr/metrics.h"

static uint64_t g_rng = 12345;

static uint64_t next_u64(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return g_rng >> 11;
}

/* uniform in [-1, 1) */
static double uniform(void) { return 2.0 * (double)next_u64() / 9007199254740992.0 - 1.0; }

/* n x d embeddings; grid 1: multiples of 1/8 in [-1, 1] (exact products and
 * sums), else uniform floats. */
static float *embeddings(int64_t n, int64_t d, int grid) {
    float *x = malloc((size_t)(n * d) * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n * d; i++)
        x[i] = grid ? (float)((int)(next_u64() % 17) - 8) / 8.0f : (float)uniform();
    return x;
}

/* S (n_img, n_cap) = float64 dot of the float32 embeddings (as itr_vsepp_sims). */
static double *host_sims(const float *img, int64_t n_img, const float *cap, int64_t n_cap, int64_t d) {
    double *S = malloc((size_t)(n_img * n_cap) * sizeof *S);
    assert_non_null(S);
    for (int64_t i = 0; i < n_img; i++)
        for (int64_t c = 0; c < n_cap; c++) {
            double acc = 0.0;
            for (int64_t j = 0; j < d; j++) acc += (double)img[i * d + j] * (double)cap[c * d + j];
            S[i * n_cap + c] = acc;
        }
    return S;
}

static void assert_ranks_equal(const itr_ranks *got, const itr_ranks *want) {
    assert_int_equal(got->n_img, want->n_img);
    assert_int_equal(got->n_cap, want->n_cap);
    assert_int_equal(got->caps_per_img, want->caps_per_img);
    assert_int_equal(got->rule, want->rule);
    assert_memory_equal(got->rank_i2t, want->rank_i2t, (size_t)want->n_img * sizeof(int64_t));
    assert_memory_equal(got->top1_i2t, want->top1_i2t, (size_t)want->n_img * sizeof(int64_t));
    assert_memory_equal(got->rank_t2i, want->rank_t2i, (size_t)want->n_cap * sizeof(int64_t));
    assert_memory_equal(got->top1_t2i, want->top1_t2i, (size_t)want->n_cap * sizeof(int64_t));
    assert_int_equal(got->tied_queries_i2t, want->tied_queries_i2t);
    assert_int_equal(got->tied_queries_t2i, want->tied_queries_t2i);
    assert_int_equal(got->tied_pairs_i2t, want->tied_pairs_i2t);
    assert_int_equal(got->tied_pairs_t2i, want->tied_pairs_t2i);
}

static itr_cuda_retrieval *create(const float *img, int64_t n, const float *cap, int64_t d, int64_t k) {
    itr_cuda_retrieval *r = NULL;
    itr_status st = itr_cuda_retrieval_create(img, n, cap, n * k, d, k, &r);
    if (st) fail_msg("create: %s", itr_last_error());
    return r;
}

/* Exact scores: CUDA ranks == itr_rank_matrix(host S) under every rule. */
static void check_exact(int64_t n, int64_t k, int64_t d, int64_t shard) {
    float *img = embeddings(n, d, 1), *cap = embeddings(n * k, d, 1);
    double *S = host_sims(img, n, cap, n * k, d);
    itr_cuda_retrieval *r = create(img, n, cap, d, k);
    assert_int_equal(itr_cuda_retrieval_set_shard_rows(r, shard), ITR_OK);
    for (int rule = ITR_TIES_CANONICAL; rule <= ITR_TIES_PESSIMISTIC; rule++) {
        itr_ranks want, got;
        assert_int_equal(itr_rank_matrix(S, n, n * k, n * k, k, (itr_tie_rule)rule, &want), ITR_OK);
        itr_status st = itr_cuda_retrieval_ranks(r, 0, n, (itr_tie_rule)rule, &got);
        if (st) fail_msg("ranks: %s", itr_last_error());
        if (rule == ITR_TIES_CANONICAL)
            printf("  %3lld images x %4lld captions, d %2lld, shard %3lld: ties i2t %lld queries / %lld pairs, t2i "
                   "%lld / %lld\n",
                   (long long)n, (long long)(n * k), (long long)d, (long long)shard, (long long)want.tied_queries_i2t,
                   (long long)want.tied_pairs_i2t, (long long)want.tied_queries_t2i, (long long)want.tied_pairs_t2i);
        assert_ranks_equal(&got, &want);
        itr_ranks_free(&want);
        itr_ranks_free(&got);
    }
    /* the device's scores are the host's, bit for bit, on this grid */
    double *D = malloc((size_t)(n * n * k) * sizeof *D);
    assert_non_null(D);
    assert_int_equal(itr_cuda_retrieval_sims(r, 0, n, D), ITR_OK);
    assert_memory_equal(D, S, (size_t)(n * n * k) * sizeof *D);
    free(D);
    itr_cuda_retrieval_destroy(r);
    free(img);
    free(cap);
    free(S);
}

static void test_exact_ties(void **state) {
    (void)state;
    size_t before = itr_cuda_bytes_in_use();
    check_exact(1, 5, 1, 0);       /* one image: i2t has no competitor */
    check_exact(2, 1, 2, 1);       /* one caption per image */
    check_exact(7, 5, 3, 0);
    check_exact(7, 5, 3, 2);       /* partial last shard */
    check_exact(37, 5, 2, 4);      /* prime; 185 captions < one block of threads */
    check_exact(61, 5, 4, 61);     /* 305 captions: a partial second thread block */
    check_exact(13, 3, 5, 1);      /* one-row shards */
    assert_true(itr_cuda_bytes_in_use() == before);
}

static void test_random(void **state) {
    (void)state;
    int64_t n = 29, k = 5, d = 37;
    float *img = embeddings(n, d, 0), *cap = embeddings(n * k, d, 0);
    double *S = host_sims(img, n, cap, n * k, d), *D = malloc((size_t)(n * n * k) * sizeof *D);
    assert_non_null(D);
    itr_cuda_retrieval *r = create(img, n, cap, d, k);
    assert_int_equal(itr_cuda_retrieval_set_shard_rows(r, 6), ITR_OK);
    assert_int_equal(itr_cuda_retrieval_sims(r, 0, n, D), ITR_OK);
    double max_abs = 0, max_rel = 0;
    for (int64_t i = 0; i < n * n * k; i++) {
        double e = fabs(D[i] - S[i]);
        if (e > max_abs) max_abs = e;
        if (fabs(S[i]) > 1e-6 && e / fabs(S[i]) > max_rel) max_rel = e / fabs(S[i]);
    }
    printf("  random %lld x %lld, d %lld: device vs host float64 scores max abs err %.3e, max rel err %.3e\n",
           (long long)n, (long long)(n * k), (long long)d, max_abs, max_rel);
    assert_true(max_abs <= 1e-12);
    itr_ranks want, got, host;
    assert_int_equal(itr_rank_matrix(D, n, n * k, n * k, k, ITR_TIES_CANONICAL, &want), ITR_OK);
    assert_int_equal(itr_cuda_retrieval_ranks(r, 0, n, ITR_TIES_CANONICAL, &got), ITR_OK);
    assert_ranks_equal(&got, &want);
    /* no near-ties in random data: the host matrix ranks the same */
    assert_int_equal(itr_rank_matrix(S, n, n * k, n * k, k, ITR_TIES_CANONICAL, &host), ITR_OK);
    assert_ranks_equal(&got, &host);
    itr_ranks_free(&want);
    itr_ranks_free(&got);
    itr_ranks_free(&host);
    itr_cuda_retrieval_destroy(r);
    free(img);
    free(cap);
    free(S);
    free(D);
}

/* Ranges are folds: fold-local positions; 5-fold metrics as itr_eval_folds. */
static void test_folds(void **state) {
    (void)state;
    int64_t n = 35, k = 5, d = 3, rows = n / 5;
    float *img = embeddings(n, d, 1), *cap = embeddings(n * k, d, 1);
    double *S = host_sims(img, n, cap, n * k, d);
    itr_cuda_retrieval *r = create(img, n, cap, d, k);
    assert_int_equal(itr_cuda_retrieval_set_shard_rows(r, 3), ITR_OK);   /* shards straddle nothing: per range */
    for (int f = 0; f < 5; f++) {
        itr_ranks want, got;
        const double *blk = S + f * rows * (n * k) + f * rows * k;
        assert_int_equal(itr_rank_matrix(blk, rows, rows * k, n * k, k, ITR_TIES_CANONICAL, &want), ITR_OK);
        assert_int_equal(itr_cuda_retrieval_ranks(r, f * rows, rows, ITR_TIES_CANONICAL, &got), ITR_OK);
        assert_ranks_equal(&got, &want);
        itr_ranks_free(&want);
        itr_ranks_free(&got);
    }
    itr_metrics want_per[5], got_per[5], want_mean, got_mean;
    assert_int_equal(itr_eval_folds(S, n, n * k, n * k, k, 5, ITR_TIES_CANONICAL, want_per, &want_mean), ITR_OK);
    assert_int_equal(itr_cuda_retrieval_metrics(r, 5, ITR_TIES_CANONICAL, got_per, &got_mean), ITR_OK);
    printf("  5 folds of %lld: rsum %.4f (ref %.4f)\n", (long long)rows, got_mean.rsum, want_mean.rsum);
    assert_memory_equal(got_per, want_per, sizeof want_per);
    assert_memory_equal(&got_mean, &want_mean, sizeof want_mean);
    /* one fold = the whole matrix */
    itr_ranks whole;
    assert_int_equal(itr_rank_matrix(S, n, n * k, n * k, k, ITR_TIES_CANONICAL, &whole), ITR_OK);
    itr_metrics m1, g1;
    itr_metrics_from_ranks(&whole, &m1);
    assert_int_equal(itr_cuda_retrieval_metrics(r, 1, ITR_TIES_CANONICAL, NULL, &g1), ITR_OK);
    assert_memory_equal(&g1, &m1, sizeof m1);
    itr_ranks_free(&whole);
    itr_cuda_retrieval_destroy(r);
    free(img);
    free(cap);
    free(S);
}

static void test_errors(void **state) {
    (void)state;
    size_t before = itr_cuda_bytes_in_use();
    float img[6] = {1, 0, 0, 1, 0.5f, 0.5f}, cap[12] = {1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0};
    itr_cuda_retrieval *r = NULL;
    assert_int_equal(itr_cuda_retrieval_create(img, 3, cap, 5, 2, 2, &r), ITR_E_SHAPE);   /* 5 != 2 x 3 */
    assert_null(r);
    assert_int_equal(itr_cuda_retrieval_create(img, 3, cap, 6, 0, 2, &r), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_retrieval_create(NULL, 3, cap, 6, 2, 2, &r), ITR_E_ARG);
    assert_int_equal(itr_cuda_retrieval_create(img, 3, cap, 6, 2, 2, &r), ITR_OK);
    itr_ranks rk;
    assert_int_equal(itr_cuda_retrieval_ranks(r, 2, 2, ITR_TIES_CANONICAL, &rk), ITR_E_ARG);
    printf("  -> %s\n", itr_last_error());
    assert_int_equal(itr_cuda_retrieval_ranks(r, 0, 0, ITR_TIES_CANONICAL, &rk), ITR_E_ARG);
    assert_int_equal(itr_cuda_retrieval_ranks(r, 0, 3, (itr_tie_rule)9, &rk), ITR_E_ARG);
    assert_null(rk.rank_i2t);
    itr_metrics mean;
    assert_int_equal(itr_cuda_retrieval_metrics(r, 2, ITR_TIES_CANONICAL, NULL, &mean), ITR_E_SHAPE);
    assert_int_equal(itr_cuda_retrieval_set_shard_rows(r, -1), ITR_E_ARG);
    itr_cuda_retrieval_destroy(r);
    /* a NaN embedding coordinate makes NaN scores: rejected as the ref does */
    img[3] = NAN;
    assert_int_equal(itr_cuda_retrieval_create(img, 3, cap, 6, 2, 2, &r), ITR_OK);
    assert_int_equal(itr_cuda_retrieval_ranks(r, 0, 3, ITR_TIES_CANONICAL, &rk), ITR_E_ARG);
    printf("  -> %s\n", itr_last_error());
    assert_non_null(strstr(itr_last_error(), "NaN"));
    assert_null(rk.rank_i2t);
    /* the range without the NaN image is fine */
    assert_int_equal(itr_cuda_retrieval_ranks(r, 0, 1, ITR_TIES_CANONICAL, &rk), ITR_OK);
    itr_ranks_free(&rk);
    itr_cuda_retrieval_destroy(r);
    itr_cuda_retrieval_destroy(NULL);
    assert_true(itr_cuda_bytes_in_use() == before);
}

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    itr_cuda_device dev;
    if (itr_cuda_device_info(&dev) == ITR_OK) printf("device: %s\n", dev.name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_ties),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_folds),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
