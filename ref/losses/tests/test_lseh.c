/* test_lseh.c - LSEH: semantic scores, positive map, SeMargin and the loss
 * against the worked vectors of specs/losses_vsl_lseh.md s2.10, the
 * sub-project table, finite differences and the error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "itr/losses.h"
#include "loss_test_util.h"

static const float S0[16] = {0.50f, 0.48f, 0.30f, 0.52f, 0.47f, 0.60f, 0.59f, 0.10f,
                             0.20f, 0.61f, 0.55f, 0.54f, 0.53f, 0.05f, 0.56f, 0.58f};
static const float V[12] = {0.9f, 0.1f, 0.0f, 0.8f, 0.3f, -0.1f, 0.2f, 0.7f, 0.4f, 0.5f, 0.5f, 0.5f};
static const int64_t IDS[4] = {0, 3, 10, 11}, IMG_IDS[4] = {0, 0, 2, 2};

static void test_spec_intermediates(void **state) {
    (void)state;
    float sh[16], mp[16], M[16];
    static const double want_sh[16] = {1, 0.91463415, 0.30487805, 0.60975610,
                                       1, 0.98666667, 0.44, 0.66666667,
                                       0.36231884, 0.47826087, 1, 0.94202899,
                                       0.66666667, 0.66666667, 0.86666667, 1};
    static const double want_map[16] = {0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0};
    static const double want_M[16] = {0, 0, 0.19262195, 0.20024390, 0, 0, 0.196, 0.20166667,
                                      0.19405797, 0.19695652, 0, 0, 0.20166667, 0.20166667, 0, 0};
    assert_int_equal(itr_lseh_semantic_scores(V, 4, 3, sh), ITR_OK);
    assert_true(compare_f("torch_cosine_sim", sh, want_sh, 16, 1e-6, 1e-6));
    assert_int_equal(itr_lseh_positive_map(IDS, IMG_IDS, 4, mp), ITR_OK);
    assert_true(compare_f("map", mp, want_map, 16, 0, 0));
    assert_int_equal(itr_lseh_margins(sh, mp, 4, 0.185f, 0.025f, M), ITR_OK);
    assert_true(compare_f("SeMargin (0.185, 0.025)", M, want_M, 16, 1e-7, 1e-6));
}

static void test_spec_losses(void **state) {
    (void)state;
    itr_hinge_result r;
    float g[16], sh[16], mp[16], M[16];
    static const double g_hard[16] = {-2, 0, 0, 2, 0, -2, 2, 0, 0, 2, -2, 0, 2, 0, 0, -2};
    static const double g_sum[16] = {-2, 0, 0, 2, 0, -2, 2, 0, 0, 2, -3, 0, 2, 0, 1, -2};
    assert_int_equal(itr_lseh_loss(S0, 4, V, 3, IDS, IMG_IDS, 0.185f, 0.025f, 1, &r, g, sh, mp, M), ITR_OK);
    printf("  LSEH hardest %.9g (spec 1.6297341816896)\n", r.loss);
    assert_true(fabs(r.loss - 1.6297341816896) < 2e-6);
    assert_true(compare_f("LSEH hardest dS", g, g_hard, 16, 0, 0));
    assert_int_equal(itr_lseh_loss(S0, 4, V, 3, IDS, IMG_IDS, 0.185f, 0.025f, 0, &r, g, NULL, NULL, NULL), ITR_OK);
    printf("  LSEH sum %.9g (spec 1.6397341816896)\n", r.loss);
    assert_true(fabs(r.loss - 1.6397341816896) < 2e-6);
    assert_true(compare_f("LSEH sum dS", g, g_sum, 16, 0, 0));
    /* GSMN constants (a, b) = (0.07, 0.05) */
    const itr_lseh_config *gsmn = itr_lseh_config_get(ITR_LSEH_GSMN);
    assert_non_null(gsmn);
    assert_int_equal(itr_lseh_loss(S0, 4, V, 3, IDS, IMG_IDS, (float)gsmn->a, (float)gsmn->b, 1, &r, g,
                                   NULL, NULL, NULL), ITR_OK);
    printf("  LSEH GSMN hardest %.9g (spec 0.8194683633793)\n", r.loss);
    assert_true(fabs(r.loss - 0.8194683633793) < 2e-6);
    assert_true(compare_f("LSEH GSMN hardest dS", g, g_hard, 16, 0, 0));
    /* the hinge part equals the generic hinge with M as margins */
    itr_hinge_result r2;
    float g2[16];
    assert_int_equal(itr_lseh_loss(S0, 4, V, 3, IDS, IMG_IDS, 0.185f, 0.025f, 1, &r, g, sh, mp, M), ITR_OK);
    assert_int_equal(itr_hinge_loss(S0, 4, 0.0f, M, 1, &r2, NULL, NULL, g2), ITR_OK);
    assert_true(r.loss == r2.loss && memcmp(g, g2, sizeof g) == 0);
}

/* A zero SVD row (empty TF-IDF caption): row max 0 -> divided by 1 -> 0.
 * Rows are normalised by their own max, so Shat is not symmetric. */
static void test_semantic_scores_edge(void **state) {
    (void)state;
    float v[6] = {0, 0, 1, 2, 3, 0}, sh[9];
    assert_int_equal(itr_lseh_semantic_scores(v, 3, 2, sh), ITR_OK);
    for (int j = 0; j < 3; j++) assert_true(sh[j] == 0.0f);
    /* K = [[0,0,0],[0,5,3],[0,3,9]]: row 1 max 5, row 2 max 9 */
    assert_true(fabsf(sh[1 * 3 + 2] - 3.0f / 5.0f) < 1e-7f);
    assert_true(fabsf(sh[2 * 3 + 1] - 3.0f / 9.0f) < 1e-7f);
    assert_true(sh[4] == 1.0f && sh[8] == 1.0f);
    /* negative similarities give margins below a */
    float w[4] = {1, 0, -1, 0}, s2[4], mp[4], M[4];
    int64_t ids[2] = {0, 5}, img[2] = {0, 1};
    assert_int_equal(itr_lseh_semantic_scores(w, 2, 2, s2), ITR_OK);
    assert_int_equal(itr_lseh_positive_map(ids, img, 2, mp), ITR_OK);
    assert_int_equal(itr_lseh_margins(s2, mp, 2, 0.185f, 0.025f, M), ITR_OK);
    assert_true(fabsf(M[1] - (0.185f - 0.025f)) < 1e-7f && M[0] == 0.0f && M[3] == 0.0f);
    /* QUIRK(Q-LSEH-2): with one caption per image (img_ids = ids) the mask
     * still uses ids // 5 */
    int64_t ids1[2] = {0, 3}, img1[2] = {0, 3};
    assert_int_equal(itr_lseh_positive_map(ids1, img1, 2, mp), ITR_OK);
    assert_true(mp[0] == 0.0f && mp[1] == 0.0f && mp[2] == 1.0f && mp[3] == 1.0f);
}

typedef struct lseh_fd_ctx { const double *M; int64_t B; int hardest; } lseh_fd_ctx;

static double lseh_value(const double *S, void *vctx) {
    lseh_fd_ctx *c = vctx;
    itr_hinge_result r;
    itr_hinge_loss_f64(S, c->B, 0.0, c->M, c->hardest, &r, NULL, NULL, NULL);
    return r.loss;
}

static void test_lseh_fd(void **state) {
    (void)state;
    enum { B = 6, NS = 5 };
    test_rng rng = {4242};
    float v[B * NS], sh[B * B], mp[B * B], M[B * B];
    int64_t ids[B] = {10, 12, 40, 7, 11, 30}, img[B] = {2, 2, 8, 1, 2, 6};
    for (int i = 0; i < B * NS; i++) v[i] = (float)rng_uniform(&rng, -1, 1);
    assert_int_equal(itr_lseh_semantic_scores(v, B, NS, sh), ITR_OK);
    assert_int_equal(itr_lseh_positive_map(ids, img, B, mp), ITR_OK);
    assert_int_equal(itr_lseh_margins(sh, mp, B, 0.185f, 0.025f, M), ITR_OK);
    double Md[B * B], S[B * B], g[B * B], fd[B * B];
    for (int i = 0; i < B * B; i++) Md[i] = M[i];
    rng_fill(&rng, S, B * B, 0.0, 1.0);
    for (int hardest = 0; hardest < 2; hardest++) {
        lseh_fd_ctx c = {Md, B, hardest};
        itr_hinge_result r;
        assert_int_equal(itr_hinge_loss_f64(S, B, 0.0, Md, hardest, &r, NULL, NULL, g), ITR_OK);
        fd_gradient(lseh_value, &c, S, B * B, 1e-7, fd);
        assert_true(compare_d(hardest ? "FD LSEH hardest" : "FD LSEH sum", g, fd, B * B, 1e-6, 1e-6));
    }
}

static void test_config_table(void **state) {
    (void)state;
    static const char *const names[] = {"vsrn", "vseinf", "sgraf", "vsepp", "gsmn"};
    for (int p = 0; p < ITR_LSEH_N_PROJECTS; p++) {
        itr_lseh_project got;
        const itr_lseh_config *c = itr_lseh_config_get((itr_lseh_project)p);
        assert_non_null(c);
        assert_string_equal(c->name, names[p]);
        assert_int_equal(itr_lseh_project_from_name(names[p], &got), ITR_OK);
        assert_int_equal(got, p);
        char full[32];
        snprintf(full, sizeof full, "lseh_%s", names[p]);
        assert_int_equal(itr_lseh_project_from_name(full, &got), ITR_OK);
        assert_int_equal(got, p);
    }
    assert_true(itr_lseh_config_get(ITR_LSEH_VSEINF)->has_sum == 0);
    assert_true(itr_lseh_config_get(ITR_LSEH_SGRAF)->from_embeddings == 0);
    assert_true(itr_lseh_config_get(ITR_LSEH_VSEPP)->returns_triple == 1);
    assert_true(fabs(itr_lseh_config_get(ITR_LSEH_VSRN)->a - 0.185) < 1e-12);
    assert_null(itr_lseh_config_get(ITR_LSEH_N_PROJECTS));
    assert_null(itr_lseh_config_get((itr_lseh_project)-1));
    itr_lseh_project got;
    assert_int_equal(itr_lseh_project_from_name("scan", &got), ITR_E_UNSUPPORTED);
    assert_int_equal(itr_lseh_project_from_name(NULL, &got), ITR_E_ARG);
}

static void test_errors(void **state) {
    (void)state;
    float buf[16] = {0};
    itr_hinge_result r;
    assert_int_equal(itr_lseh_semantic_scores(V, 0, 3, buf), ITR_E_SHAPE);
    assert_int_equal(itr_lseh_semantic_scores(V, 4, 0, buf), ITR_E_SHAPE);
    assert_int_equal(itr_lseh_semantic_scores(NULL, 4, 3, buf), ITR_E_ARG);
    assert_int_equal(itr_lseh_positive_map(IDS, NULL, 4, buf), ITR_E_ARG);
    assert_int_equal(itr_lseh_positive_map(IDS, IMG_IDS, 0, buf), ITR_E_SHAPE);
    assert_int_equal(itr_lseh_margins(buf, NULL, 4, 0.1f, 0.1f, buf), ITR_E_ARG);
    assert_int_equal(itr_lseh_margins(buf, buf, -3, 0.1f, 0.1f, buf), ITR_E_SHAPE);
    assert_int_equal(itr_lseh_loss(NULL, 4, V, 3, IDS, IMG_IDS, 0.1f, 0.1f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_ARG);
    assert_int_equal(itr_lseh_loss(S0, 0, V, 3, IDS, IMG_IDS, 0.1f, 0.1f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_SHAPE);
    assert_int_equal(itr_lseh_loss(S0, 4, NULL, 3, IDS, IMG_IDS, 0.1f, 0.1f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_ARG);
    assert_int_equal(itr_lseh_loss(S0, 4, V, 3, NULL, IMG_IDS, 0.1f, 0.1f, 1, &r, NULL, NULL, NULL, NULL),
                     ITR_E_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_intermediates),
        cmocka_unit_test(test_spec_losses),
        cmocka_unit_test(test_semantic_scores_edge),
        cmocka_unit_test(test_lseh_fd),
        cmocka_unit_test(test_config_table),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
