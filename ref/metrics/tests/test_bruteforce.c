/* test_bruteforce.c - the counting ranker against a literal sort-based
 * reference on seeded random matrices full of exact ties.
 *
 * The reference does what the spec describes (s3.4): a STABLE ascending sort
 * of each query's scores, reversed. For the bounds the sort key gets a second
 * component: optimistic sorts ties with the GT last (first once reversed),
 * pessimistic with the GT first (last once reversed). The rank is the first
 * position holding a GT item; top-1 is position 0. */
#include "metrics_testutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct item { double s; int key2; int64_t idx; int is_gt; } item;

/* Stable insertion sort ascending by (s, key2). */
static void stable_sort(item *a, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        item v = a[i];
        int64_t j = i;
        while (j > 0 && (a[j - 1].s > v.s || (a[j - 1].s == v.s && a[j - 1].key2 > v.key2))) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static int key2_of(itr_tie_rule rule, int is_gt) {
    if (rule == ITR_TIES_OPTIMISTIC) return is_gt;
    if (rule == ITR_TIES_PESSIMISTIC) return !is_gt;
    return 0;
}

/* One query: scores s[0..n) with stride, GT items [lo, hi). Fills rank, top1
 * and the number of competitors tied with the best GT score. */
static void brute_query(const double *s, int64_t n, int64_t stride, int64_t lo, int64_t hi, itr_tie_rule rule,
                        item *buf, int64_t *rank, int64_t *top1, int64_t *tied) {
    double m = s[lo * stride];
    for (int64_t x = 0; x < n; x++) {
        int is_gt = x >= lo && x < hi;
        buf[x].s = s[x * stride];
        buf[x].idx = x;
        buf[x].is_gt = is_gt;
        buf[x].key2 = key2_of(rule, is_gt);
        if (is_gt && buf[x].s > m) m = buf[x].s;
    }
    stable_sort(buf, n);
    *top1 = buf[n - 1].idx; /* reversed: the last is the first */
    *rank = -1;
    for (int64_t p = 0; p < n; p++)
        if (buf[n - 1 - p].is_gt) {
            *rank = p;
            break;
        }
    *tied = 0;
    for (int64_t x = 0; x < n; x++)
        if (!(x >= lo && x < hi) && s[x * stride] == m) (*tied)++;
}

static void brute_ranks(const double *sims, int64_t n_img, int64_t k, itr_tie_rule rule, itr_ranks *out) {
    int64_t n_cap = n_img * k;
    item *buf = malloc((size_t)n_cap * sizeof *buf);
    assert_non_null(buf);
    memset(out, 0, sizeof *out);
    out->n_img = n_img;
    out->n_cap = n_cap;
    out->caps_per_img = k;
    out->rule = rule;
    out->rank_i2t = malloc((size_t)n_img * sizeof(int64_t));
    out->top1_i2t = malloc((size_t)n_img * sizeof(int64_t));
    out->rank_t2i = malloc((size_t)n_cap * sizeof(int64_t));
    out->top1_t2i = malloc((size_t)n_cap * sizeof(int64_t));
    for (int64_t i = 0; i < n_img; i++) {
        int64_t tied;
        brute_query(sims + i * n_cap, n_cap, 1, i * k, (i + 1) * k, rule, buf, &out->rank_i2t[i],
                    &out->top1_i2t[i], &tied);
        out->tied_queries_i2t += tied > 0;
        out->tied_pairs_i2t += tied;
    }
    for (int64_t c = 0; c < n_cap; c++) {
        int64_t tied;
        brute_query(sims + c, n_img, n_cap, c / k, c / k + 1, rule, buf, &out->rank_t2i[c], &out->top1_t2i[c],
                    &tied);
        out->tied_queries_t2i += tied > 0;
        out->tied_pairs_t2i += tied;
    }
    free(buf);
}

/* Invariants between the three rules of one matrix. */
static void check_invariants(const itr_ranks r[3]) {
    const itr_ranks *canon = &r[0], *opt = &r[1], *pess = &r[2];
    for (int64_t i = 0; i < canon->n_img; i++) {
        assert_true(opt->rank_i2t[i] <= canon->rank_i2t[i]);
        assert_true(canon->rank_i2t[i] <= pess->rank_i2t[i]);
        for (int q = 0; q < 3; q++) /* rank 0 <=> top-1 is a GT caption */
            assert_int_equal(r[q].rank_i2t[i] == 0, r[q].top1_i2t[i] / canon->caps_per_img == i);
    }
    for (int64_t c = 0; c < canon->n_cap; c++) {
        assert_true(opt->rank_t2i[c] <= canon->rank_t2i[c]);
        assert_true(canon->rank_t2i[c] <= pess->rank_t2i[c]);
        for (int q = 0; q < 3; q++)
            assert_int_equal(r[q].rank_t2i[c] == 0, r[q].top1_t2i[c] == c / canon->caps_per_img);
    }
    /* With no exact ties every rule agrees. */
    if (canon->tied_queries_i2t == 0 && canon->tied_queries_t2i == 0)
        for (int64_t c = 0; c < canon->n_cap; c++) assert_int_equal(opt->rank_t2i[c], pess->rank_t2i[c]);
}

static void one_case(test_rng *g, int64_t n_img, int64_t k, int levels, int64_t *n_tied) {
    int64_t n_cap = n_img * k;
    double *s = malloc((size_t)(n_img * n_cap) * sizeof *s);
    float *f = malloc((size_t)(n_img * n_cap) * sizeof *f);
    assert_non_null(s);
    assert_non_null(f);
    fill_matrix(g, s, n_img, n_cap, n_cap, levels);
    for (int64_t i = 0; i < n_img * n_cap; i++) f[i] = (float)s[i]; /* exact: levels are k/4 */
    itr_ranks got[3];
    itr_tie_rule rules[3] = {ITR_TIES_CANONICAL, ITR_TIES_OPTIMISTIC, ITR_TIES_PESSIMISTIC};
    for (int q = 0; q < 3; q++) {
        itr_ranks want, got32;
        brute_ranks(s, n_img, k, rules[q], &want);
        assert_int_equal(itr_rank_matrix(s, n_img, n_cap, n_cap, k, rules[q], &got[q]), ITR_OK);
        assert_ranks_equal(&got[q], &want);
        if (levels > 0) {
            assert_int_equal(itr_rank_matrix_f32(f, n_img, n_cap, n_cap, k, rules[q], &got32), ITR_OK);
            assert_ranks_equal(&got32, &want);
            itr_ranks_free(&got32);
        }
        itr_ranks_free(&want);
    }
    check_invariants(got);
    *n_tied += got[0].tied_queries_i2t + got[0].tied_queries_t2i;
    for (int q = 0; q < 3; q++) itr_ranks_free(&got[q]);
    free(s);
    free(f);
}

static void test_random_ties(void **state) {
    (void)state;
    test_rng g = {20240601u};
    int64_t n_tied = 0, cases = 0;
    for (int64_t n_img = 1; n_img <= 7; n_img++)
        for (int64_t k = 1; k <= 5; k++)
            for (int levels = 2; levels <= 6; levels += 2)
                for (int rep = 0; rep < 4; rep++) {
                    one_case(&g, n_img, k, levels, &n_tied);
                    cases++;
                }
    printf("brute force: %lld tie-heavy matrices x 3 rules, %lld tied queries, all ranks/top1/ties identical\n",
           (long long)cases, (long long)n_tied);
    assert_true(n_tied > 1000); /* the ties really were exercised */
}

static void test_random_distinct(void **state) {
    (void)state;
    test_rng g = {77u};
    int64_t n_tied = 0;
    for (int rep = 0; rep < 20; rep++) one_case(&g, 1 + rng_below(&g, 12), 1 + rng_below(&g, 5), 0, &n_tied);
    assert_int_equal(n_tied, 0);
}

/* A larger matrix, so that the OpenMP paths (if enabled) run in parallel. */
static void test_larger(void **state) {
    (void)state;
    test_rng g = {99u};
    int64_t n_tied = 0;
    one_case(&g, 90, 5, 5, &n_tied); /* 40500 cells: above the parallel threshold */
    one_case(&g, 100, 5, 0, &n_tied);
    printf("larger: %lld tied queries\n", (long long)n_tied);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ties),
        cmocka_unit_test(test_random_distinct),
        cmocka_unit_test(test_larger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
