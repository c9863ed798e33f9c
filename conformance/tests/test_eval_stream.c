/* test_eval_stream.c - the scoring drivers of the eval engine
 * (conformance/eval_score.h) on synthetic score matrices: streaming shard by
 * shard through the block-fed ranker must give exactly the metrics of the
 * whole matrix (itr_rank_matrix / itr_eval_folds), with many exact ties,
 * awkward sizes and shard heights, COCO 5 folds whose boundaries fall inside
 * shards; a scorer whose ground-truth cells depend on the block shape takes
 * the two-pass route and still agrees; a non-reproducible one, a NaN score,
 * a failing scorer and bad folds are reported. The scorer records every
 * block it is asked for: streaming never asks for more than a shard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval_score.h"

/* A deterministic matrix with few distinct values (many exact ties, with
 * the ground truth too) and a bias towards the ground truth so that the
 * recalls are not trivial. */
static double cell(uint64_t seed, int64_t i, int64_t c, int64_t k) {
    uint64_t h = seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull ^ (uint64_t)c * 0x94D049BB133111EBull;
    h ^= h >> 31;
    h *= 0xD6E8FEB86CA6E9B5ull;
    h ^= h >> 29;
    double v = (double)(h % 9) / 8.0;            /* 9 levels: ties everywhere */
    if (c / k == i) v += (double)(h >> 40 & 3) / 8.0;   /* GT a little higher, sometimes */
    return v;
}

typedef struct mock {
    int64_t k;
    uint64_t seed;
    int shape_bias;       /* 1: (1, k) blocks score 1.0 higher (shape-dependent rounding) */
    int drift;            /* 1: every call adds calls * 1e-3 (not reproducible)          */
    int64_t nan_at;       /* image row holding a NaN cell, or -1                         */
    int64_t fail_at;      /* image at which the scorer fails, or -1                      */
    int64_t calls, max_cells, max_rows;
} mock;

static itr_status mock_block(void *user, int64_t i0, int64_t rows, int64_t c0, int64_t cols, double *out) {
    mock *m = user;
    m->calls++;
    if (rows * cols > m->max_cells) m->max_cells = rows * cols;
    if (rows > m->max_rows) m->max_rows = rows;
    if (m->fail_at >= i0 && m->fail_at < i0 + rows) return itr_fail(ITR_E_IO, "mock: image %lld", (long long)m->fail_at);
    for (int64_t y = 0; y < rows; y++)
        for (int64_t x = 0; x < cols; x++) {
            double v = cell(m->seed, i0 + y, c0 + x, m->k);
            if (m->shape_bias && rows == 1 && cols == m->k) v += 1.0;
            if (m->drift) v += (double)m->calls * 1e-3;
            if (i0 + y == m->nan_at && x == 0) v = NAN;
            out[y * cols + x] = v;
        }
    return ITR_OK;
}

static mock mock_new(int64_t k, uint64_t seed) {
    mock m;
    memset(&m, 0, sizeof m);
    m.k = k;
    m.seed = seed;
    m.nan_at = -1;
    m.fail_at = -1;
    return m;
}

static itr_eval_scoring scoring(mock *m, int64_t n_img, int64_t shard, int folds) {
    itr_eval_scoring s = {n_img, n_img * m->k, m->k, shard, folds, mock_block, m, NULL, NULL};
    return s;
}

static void print_metrics(const char *what, const itr_metrics *a) {
    printf("  %-28s i2t %6.2f %6.2f %6.2f medr %4.1f meanr %7.3f | t2i %6.2f %6.2f %6.2f medr %4.1f meanr %7.3f\n",
           what, a->i2t.r1, a->i2t.r5, a->i2t.r10, a->i2t.medr, a->i2t.meanr, a->t2i.r1, a->t2i.r5, a->t2i.r10,
           a->t2i.medr, a->t2i.meanr);
}

/* Full-path metrics of the mock's matrix, straight from itr/metrics.h. */
static void reference(mock *m, int64_t n_img, int folds, itr_metrics *per, itr_metrics *mean) {
    int64_t n_cap = n_img * m->k;
    double *S = malloc((size_t)(n_img * n_cap) * sizeof *S);
    assert_non_null(S);
    assert_int_equal(mock_block(m, 0, n_img, 0, n_cap, S), ITR_OK);
    if (folds > 1) {
        assert_int_equal(itr_eval_folds(S, n_img, n_cap, n_cap, m->k, folds, ITR_TIES_CANONICAL, per, mean), ITR_OK);
    } else {
        itr_ranks r;
        assert_int_equal(itr_rank_matrix(S, n_img, n_cap, n_cap, m->k, ITR_TIES_CANONICAL, &r), ITR_OK);
        printf("  ties: %lld i2t / %lld t2i queries tie with a competitor\n", (long long)r.tied_queries_i2t,
               (long long)r.tied_queries_t2i);
        if (n_img >= 10) assert_true(r.tied_queries_i2t > 0 && r.tied_queries_t2i > 0);   /* ties exercised */
        itr_metrics_from_ranks(&r, mean);
        itr_ranks_free(&r);
    }
    free(S);
}

/* Streaming == the full path == itr/metrics.h on the whole matrix. */
static void check_paths(int64_t n_img, int64_t k, int64_t shard, int folds, int shape_bias) {
    mock m = mock_new(k, (uint64_t)(n_img * 31 + k));
    m.shape_bias = shape_bias;
    printf("%lld images x %lld captions, shard %lld, %d fold(s)%s\n", (long long)n_img, (long long)(n_img * k),
           (long long)shard, folds, shape_bias ? ", shape-dependent GT" : "");
    itr_metrics ref_per[5], ref_mean, full_per[5], full_mean, st_per[5], st_mean;
    memset(ref_per, 0, sizeof ref_per);
    memset(full_per, 0, sizeof full_per);
    memset(st_per, 0, sizeof st_per);
    reference(&m, n_img, folds, ref_per, &ref_mean);

    itr_eval_scoring s = scoring(&m, n_img, shard, folds);
    int64_t n_cap = n_img * k;
    double *S = malloc((size_t)(n_img * n_cap) * sizeof *S);
    assert_non_null(S);
    m.calls = m.max_rows = 0;
    assert_int_equal(itr_eval_score_full(&s, S), ITR_OK);
    assert_int_equal(itr_eval_score_metrics(S, n_img, n_cap, k, folds, full_per, &full_mean), ITR_OK);
    free(S);

    int passes = 0;
    mock z = mock_new(k, m.seed);
    z.shape_bias = shape_bias;
    s.user = &z;
    itr_status st = itr_eval_score_stream(&s, st_per, &st_mean, &passes);
    if (st) printf("  -> %s\n", itr_last_error());
    assert_int_equal(st, ITR_OK);
    printf("  streamed in %d pass(es), %lld blocks, the largest %lld rows\n", passes, (long long)z.calls,
           (long long)z.max_rows);
    print_metrics("whole matrix", &ref_mean);
    print_metrics("streamed", &st_mean);
    assert_memory_equal(&st_mean, &ref_mean, sizeof ref_mean);
    assert_memory_equal(&full_mean, &ref_mean, sizeof ref_mean);
    assert_memory_equal(st_per, ref_per, sizeof ref_per);
    assert_memory_equal(full_per, ref_per, sizeof ref_per);
    assert_int_equal(passes, shape_bias ? 2 : 1);
    /* memory: never more than one shard of rows (or the image's own k captions) */
    int64_t rows = shard < n_img ? shard : n_img;
    assert_true(z.max_rows <= rows);
    assert_true(z.max_cells <= (rows * n_cap > k ? rows * n_cap : k));
    /* (1, k) GT blocks, then each shard once; two passes: the stale first
     * shard, the GT pass and the ranking pass */
    int64_t shards = (n_img + rows - 1) / rows;
    assert_int_equal(z.calls, n_img + (shape_bias ? 1 + 2 * shards : shards));
}

static void test_flickr_sizes(void **state) {
    (void)state;
    check_paths(1, 5, 1, 1, 0);       /* one image */
    check_paths(2, 1, 1, 1, 0);       /* one caption per image */
    check_paths(23, 5, 1, 1, 0);      /* prime, one-row shards */
    check_paths(23, 5, 4, 1, 0);      /* last shard short */
    check_paths(23, 5, 23, 1, 0);     /* one shard */
    check_paths(23, 5, 500, 1, 0);    /* shard taller than the matrix */
    check_paths(37, 3, 8, 1, 0);
}

static void test_fold5(void **state) {
    (void)state;
    check_paths(25, 5, 3, 5, 0);      /* shards straddle fold boundaries */
    check_paths(25, 5, 5, 5, 0);      /* aligned */
    check_paths(35, 5, 13, 5, 0);
    check_paths(5, 5, 2, 5, 0);       /* one image per fold */
}

static void test_shape_dependent_gt(void **state) {
    (void)state;
    check_paths(23, 5, 4, 1, 1);
    check_paths(25, 5, 3, 5, 1);
}

static void expect_fail(mock *m, int64_t n_img, int64_t shard, int folds, itr_status want, const char *text) {
    itr_eval_scoring s = scoring(m, n_img, shard, folds);
    itr_metrics mean;
    itr_status st = itr_eval_score_stream(&s, NULL, &mean, NULL);
    printf("  -> %s: %s\n", itr_status_name(st), itr_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(itr_last_error(), text));
}

static void test_errors(void **state) {
    (void)state;
    mock m = mock_new(5, 3);
    m.drift = 1;
    expect_fail(&m, 10, 4, 1, ITR_E_UNSUPPORTED, "not reproducible");
    m = mock_new(5, 3);
    m.nan_at = 6;
    expect_fail(&m, 10, 4, 1, ITR_E_ARG, "NaN");
    m = mock_new(5, 3);
    m.fail_at = 7;
    expect_fail(&m, 10, 4, 1, ITR_E_IO, "mock: image 7");
    m = mock_new(5, 3);
    expect_fail(&m, 12, 4, 5, ITR_E_SHAPE, "do not split into 5 equal folds");
    expect_fail(&m, 12, 0, 1, ITR_E_ARG, "shard_rows 0");
    itr_eval_scoring s = scoring(&m, 12, 4, 1);
    s.n_cap = 59;
    itr_metrics mean;
    assert_int_equal(itr_eval_score_stream(&s, NULL, &mean, NULL), ITR_E_SHAPE);
    double S[1];
    assert_int_equal(itr_eval_score_full(&s, S), ITR_E_SHAPE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flickr_sizes),
        cmocka_unit_test(test_fold5),
        cmocka_unit_test(test_shape_dependent_gt),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
