/* test_stream.c - the streaming ranker fed in random block partitions, in
 * random order, gives exactly the whole-matrix result; and its errors. */
#include "metrics_testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct blk { int64_t i0, rows, c0, cols; } blk;

/* Random cut points of [0, n): sorted, starting with 0, ending at n. */
static int64_t random_cuts(test_rng *g, int64_t n, int64_t *cuts) {
    int64_t m = 0;
    cuts[m++] = 0;
    for (int64_t x = 1; x < n; x++)
        if (rng_below(g, 3) == 0) cuts[m++] = x;
    cuts[m++] = n;
    return m;
}

/* A partition of the (n_img, n_cap) matrix into blocks: mode 0 a grid of
 * random row and column cuts, mode 1 strips of one row with their own
 * column cuts, mode 2 single cells. Then shuffled. */
static int64_t make_partition(test_rng *g, int64_t n_img, int64_t n_cap, int mode, blk *b) {
    int64_t nb = 0, rc[64], cc[256];
    if (mode == 0) {
        int64_t nr = random_cuts(g, n_img, rc), nc = random_cuts(g, n_cap, cc);
        for (int64_t y = 0; y + 1 < nr; y++)
            for (int64_t x = 0; x + 1 < nc; x++) b[nb++] = (blk){rc[y], rc[y + 1] - rc[y], cc[x], cc[x + 1] - cc[x]};
    } else if (mode == 1) {
        for (int64_t i = 0; i < n_img; i++) {
            int64_t nc = random_cuts(g, n_cap, cc);
            for (int64_t x = 0; x + 1 < nc; x++) b[nb++] = (blk){i, 1, cc[x], cc[x + 1] - cc[x]};
        }
    } else {
        for (int64_t i = 0; i < n_img; i++)
            for (int64_t c = 0; c < n_cap; c++) b[nb++] = (blk){i, 1, c, 1};
    }
    for (int64_t p = nb - 1; p > 0; p--) { /* Fisher-Yates */
        int64_t q = rng_below(g, p + 1);
        blk t = b[p];
        b[p] = b[q];
        b[q] = t;
    }
    return nb;
}

/* Feeds every block from a private copy with a padded row stride. */
static void stream(const double *s, int64_t n_img, int64_t k, itr_tie_rule rule, const blk *b, int64_t nb,
                   int use_f32, int add_empty, itr_ranks *out) {
    int64_t n_cap = n_img * k;
    double *gt = malloc((size_t)n_cap * sizeof *gt);
    assert_non_null(gt);
    for (int64_t c = 0; c < n_cap; c++) gt[c] = s[(c / k) * n_cap + c];
    itr_ranker *r = NULL;
    assert_int_equal(itr_ranker_create(n_img, n_cap, k, gt, rule, &r), ITR_OK);
    free(gt);
    for (int64_t p = 0; p < nb; p++) {
        int64_t ld = b[p].cols + 3;
        double *d = calloc((size_t)(b[p].rows * ld), sizeof *d);
        float *f = calloc((size_t)(b[p].rows * ld), sizeof *f);
        assert_non_null(d);
        assert_non_null(f);
        for (int64_t y = 0; y < b[p].rows; y++)
            for (int64_t x = 0; x < b[p].cols; x++) {
                d[y * ld + x] = s[(b[p].i0 + y) * n_cap + b[p].c0 + x];
                f[y * ld + x] = (float)d[y * ld + x];
            }
        if (use_f32)
            assert_int_equal(itr_ranker_add_block_f32(r, b[p].i0, b[p].rows, b[p].c0, b[p].cols, f, ld), ITR_OK);
        else
            assert_int_equal(itr_ranker_add_block(r, b[p].i0, b[p].rows, b[p].c0, b[p].cols, d, ld), ITR_OK);
        if (add_empty) { /* empty blocks are no-ops */
            assert_int_equal(itr_ranker_add_block(r, b[p].i0, 0, b[p].c0, b[p].cols, NULL, 0), ITR_OK);
            assert_int_equal(itr_ranker_add_block_f32(r, b[p].i0, b[p].rows, b[p].c0, 0, NULL, 0), ITR_OK);
        }
        free(d);
        free(f);
    }
    assert_int_equal(itr_ranker_finish(r, out), ITR_OK);
    itr_ranker_free(r);
}

static void test_random_partitions(void **state) {
    (void)state;
    test_rng g = {4242u};
    blk *b = malloc(8 * 40 * sizeof *b);
    assert_non_null(b);
    int64_t runs = 0;
    for (int rep = 0; rep < 60; rep++) {
        int64_t n_img = 1 + rng_below(&g, 8), k = 1 + rng_below(&g, 5), n_cap = n_img * k;
        double *s = malloc((size_t)(n_img * n_cap) * sizeof *s);
        assert_non_null(s);
        fill_matrix(&g, s, n_img, n_cap, n_cap, rep % 3 == 2 ? 0 : 2 + rep % 4);
        for (int q = 0; q < 3; q++) {
            itr_ranks whole, part;
            assert_int_equal(itr_rank_matrix(s, n_img, n_cap, n_cap, k, (itr_tie_rule)q, &whole), ITR_OK);
            for (int mode = 0; mode < 3; mode++) {
                int64_t nb = make_partition(&g, n_img, n_cap, mode, b);
                /* f32 blocks only where the levels are exact in float */
                int f32 = rep % 3 != 2 && (rep + mode) % 2;
                stream(s, n_img, k, (itr_tie_rule)q, b, nb, f32, rep % 5 == 0, &part);
                assert_ranks_equal(&part, &whole);
                itr_ranks_free(&part);
                runs++;
            }
            itr_ranks_free(&whole);
        }
        free(s);
    }
    free(b);
    printf("streaming: %lld random partitions identical to the whole-matrix ranks\n", (long long)runs);
}

/* Big enough blocks for the OpenMP branches and the f32 chunking. */
static void test_large_blocks(void **state) {
    (void)state;
    test_rng g = {5u};
    int64_t n_img = 200, k = 5, n_cap = 1000;
    double *s = malloc((size_t)(n_img * n_cap) * sizeof *s);
    assert_non_null(s);
    fill_matrix(&g, s, n_img, n_cap, n_cap, 7);
    blk b[4] = {{100, 100, 0, 1000}, {0, 100, 500, 500}, {0, 100, 0, 500}, {0, 0, 0, 0}};
    itr_ranks whole, part;
    assert_int_equal(itr_rank_matrix(s, n_img, n_cap, n_cap, k, ITR_TIES_CANONICAL, &whole), ITR_OK);
    stream(s, n_img, k, ITR_TIES_CANONICAL, b, 3, 0, 0, &part);
    assert_ranks_equal(&part, &whole);
    itr_ranks_free(&part);
    stream(s, n_img, k, ITR_TIES_CANONICAL, b, 3, 1, 0, &part);
    assert_ranks_equal(&part, &whole);
    itr_ranks_free(&part);
    printf("200x1000: %lld i2t / %lld t2i tied queries\n", (long long)whole.tied_queries_i2t,
           (long long)whole.tied_queries_t2i);
    itr_ranks_free(&whole);
    free(s);
}

static void test_create_errors(void **state) {
    (void)state;
    double gt[4] = {1, 1, 1, 1};
    itr_ranker *r = (itr_ranker *)&gt; /* must be reset to NULL on failure */
    assert_int_equal(itr_ranker_create(2, 4, 2, gt, ITR_TIES_CANONICAL, NULL), ITR_E_ARG);
    assert_int_equal(itr_ranker_create(2, 5, 2, gt, ITR_TIES_CANONICAL, &r), ITR_E_SHAPE);
    assert_null(r);
    assert_non_null(strstr(itr_last_error(), "itr_ranker_create: sims (2, 5)"));
    assert_int_equal(itr_ranker_create(0, 0, 2, gt, ITR_TIES_CANONICAL, &r), ITR_E_SHAPE);
    assert_int_equal(itr_ranker_create(2, 4, 2, NULL, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_int_equal(itr_ranker_create(2, 4, 2, gt, (itr_tie_rule)-1, &r), ITR_E_ARG);
    gt[3] = NAN;
    assert_int_equal(itr_ranker_create(2, 4, 2, gt, ITR_TIES_CANONICAL, &r), ITR_E_ARG);
    assert_string_equal(itr_last_error(), "itr_ranker_create: gt[3] (sims[1, 3]) is NaN");
    assert_null(r);
    itr_ranker_free(NULL);
}

/* 2 images x 1 caption: gt = diagonal {1, 4}. */
static itr_ranker *small_ranker(void) {
    const double gt[2] = {1, 4};
    itr_ranker *r = NULL;
    assert_int_equal(itr_ranker_create(2, 2, 1, gt, ITR_TIES_CANONICAL, &r), ITR_OK);
    return r;
}

static void test_block_errors(void **state) {
    (void)state;
    const double row0[2] = {1, 2}, row1[2] = {3, 4}, bad_gt[2] = {1.5, 2}, nan_row[2] = {NAN, 4};
    const float row0f[2] = {1, 2}, nanf_row[2] = {NAN, 4};
    itr_ranks out;
    itr_ranker *r = small_ranker();
    assert_int_equal(itr_ranker_add_block(NULL, 0, 1, 0, 2, row0, 2), ITR_E_ARG);
    assert_int_equal(itr_ranker_add_block_f32(NULL, 0, 1, 0, 2, row0f, 2), ITR_E_ARG);
    /* each failure poisons: use a fresh ranker per case */
    struct { int64_t i0, rows, c0, cols, ld; const double *p; const char *msg; } cases[] = {
        {-1, 1, 0, 2, 2, row0, "outside sims (2, 2)"},
        {1, 2, 0, 2, 2, row0, "rows [1, 3) x cols [0, 2) outside"},
        {0, 1, 1, 2, 2, row0, "cols [1, 3)"},
        {0, -1, 0, 2, 2, row0, "outside"},
        {0, 1, -1, 1, 2, row0, "outside"},
        {0, 1, 0, -1, 2, row0, "outside"},
        {0, 1, 0, 2, 1, row0, "row stride 1 < 2 columns"},
        {0, 1, 0, 2, 2, NULL, "block (1, 2) is NULL"},
        {0, 1, 0, 2, 2, bad_gt, "sims[0, 0] = 1.5 differs from the ground-truth score 1"},
        {1, 1, 0, 2, 2, nan_row, "sims[1, 0] is NaN"},
    };
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        if (!r) r = small_ranker();
        assert_int_equal(itr_ranker_add_block(r, cases[q].i0, cases[q].rows, cases[q].c0, cases[q].cols, cases[q].p,
                                              cases[q].ld),
                         ITR_E_ARG);
        if (!strstr(itr_last_error(), cases[q].msg)) fail_msg("case %zu: '%s'", q, itr_last_error());
        assert_int_equal(itr_ranker_add_block(r, 1, 1, 0, 2, row1, 2), ITR_E_ARG); /* poisoned */
        assert_non_null(strstr(itr_last_error(), "an earlier block failed"));
        assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
        assert_non_null(strstr(itr_last_error(), "an earlier block failed"));
        assert_null(out.rank_i2t);
        itr_ranker_free(r);
        r = NULL;
    }
    /* f32: argument errors, NaN, poisoned */
    r = small_ranker();
    assert_int_equal(itr_ranker_add_block_f32(r, 0, 1, 0, 2, row0f, 1), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "itr_ranker_add_block_f32: block (1, 2): row stride 1"));
    assert_int_equal(itr_ranker_add_block_f32(r, 0, 1, 0, 2, row0f, 2), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "itr_ranker_add_block_f32: an earlier block failed"));
    itr_ranker_free(r);
    r = small_ranker();
    assert_int_equal(itr_ranker_add_block_f32(r, 1, 1, 0, 2, nanf_row, 2), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "sims[1, 0] is NaN"));
    assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
    itr_ranker_free(r);
    r = small_ranker();
    assert_int_equal(itr_ranker_add_block_f32(r, 0, 1, 0, 2, NULL, 2), ITR_E_ARG);
    itr_ranker_free(r);
}

static void test_finish_errors(void **state) {
    (void)state;
    const double row0[2] = {1, 2}, row1[2] = {3, 4}, cell00[1] = {1};
    itr_ranks out;
    itr_ranker *r = small_ranker();
    assert_int_equal(itr_ranker_finish(r, NULL), ITR_E_ARG);
    assert_int_equal(itr_ranker_finish(NULL, &out), ITR_E_ARG);
    /* nothing added */
    assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
    assert_string_equal(itr_last_error(), "itr_ranker_finish: sims (2, 2): row 0 received 0 of 2 cells");
    /* row 1 missing */
    assert_int_equal(itr_ranker_add_block(r, 0, 1, 0, 2, row0, 2), ITR_OK);
    assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "row 1 received 0 of 2"));
    /* complete: finish works, and can be called again */
    assert_int_equal(itr_ranker_add_block(r, 1, 1, 0, 2, row1, 2), ITR_OK);
    assert_int_equal(itr_ranker_finish(r, &out), ITR_OK);
    assert_int_equal(out.rank_i2t[0], 1); /* 2 > 1 */
    assert_int_equal(out.rank_i2t[1], 0);
    assert_int_equal(out.rank_t2i[0], 1); /* 3 > 1 */
    assert_int_equal(out.rank_t2i[1], 0);
    assert_int_equal(out.top1_t2i[0], 1);
    itr_ranks_free(&out);
    assert_int_equal(itr_ranker_finish(r, &out), ITR_OK);
    itr_ranks_free(&out);
    /* a repeated row */
    assert_int_equal(itr_ranker_add_block(r, 1, 1, 0, 2, row1, 2), ITR_OK);
    assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
    assert_non_null(strstr(itr_last_error(), "row 1 received 4 of 2"));
    itr_ranker_free(r);
    /* rows complete but columns not: cell (0,0) twice, (0,1) never */
    r = small_ranker();
    assert_int_equal(itr_ranker_add_block(r, 0, 1, 0, 1, cell00, 1), ITR_OK);
    assert_int_equal(itr_ranker_add_block(r, 0, 1, 0, 1, cell00, 1), ITR_OK);
    assert_int_equal(itr_ranker_add_block(r, 1, 1, 0, 2, row1, 2), ITR_OK);
    assert_int_equal(itr_ranker_finish(r, &out), ITR_E_ARG);
    assert_string_equal(itr_last_error(), "itr_ranker_finish: sims (2, 2): column 0 received 3 of 2 cells");
    itr_ranker_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_partitions),
        cmocka_unit_test(test_large_blocks),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_block_errors),
        cmocka_unit_test(test_finish_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
