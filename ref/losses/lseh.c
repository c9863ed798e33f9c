/* lseh.c - LSEH, the semantically-enhanced hard-negative loss
 * (yangong23/VSEnetworksLSEH; specs/losses_vsl_lseh.md s2.2-s2.6, s2.9).
 *
 * The margin of each negative pair grows with the semantic similarity of the
 * two captions, measured on their 400-d SVD description vectors:
 *   K = V V^T,  m_i = max_k K[i,k] (diagonal included; 1 when exactly 0)
 *   Shat[i,j] = K[j,i] / m_i        ("torch_cosine_sim": not a cosine, not
 *                                     symmetric; (c / d).t() in upstream)
 *   map[i,j]  = 0 iff img_ids[i] == ids[j] // 5   (caption j describes the
 *                                     image of item i; diagonal included)
 *   M = ((Shat * b) + a) * map, then M[i,i] = 0   ("SeMargin", float32)
 * and the loss is the hinge of lmh.c with that per-pair margin. M carries no
 * gradient, so dL/dS is exactly the hinge gradient.
 * QUIRK(LSEH-positive-margin): pairs sharing the image get margin 0 but stay
 *   in the hinge ([S_ij - S_ii]_+), unlike VSE++ which gives them the full
 *   margin. */
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

/* Sub-project table (spec s2.5): a, b, where S comes from, what the upstream
 * forward returns. VSRN's a/b are its --a/--b options; the others take a from
 * --margin and hard-code b. */
static const itr_lseh_config lseh_configs[ITR_LSEH_N_PROJECTS] = {
    /* name     a      b      from_emb has_sum triple hardest */
    {"vsrn",   0.185, 0.025, 1,       1,      0,     1},
    {"vseinf", 0.185, 0.025, 1,       0,      1,     1},
    {"sgraf",  0.185, 0.025, 0,       1,      1,     1},
    {"vsepp",  0.185, 0.025, 1,       1,      1,     1},
    {"gsmn",   0.07,  0.05,  0,       1,      0,     1},
};

const itr_lseh_config *itr_lseh_config_get(itr_lseh_project p) {
    if ((int)p < 0 || p >= ITR_LSEH_N_PROJECTS) return NULL;
    return &lseh_configs[p];
}

itr_status itr_lseh_project_from_name(const char *name, itr_lseh_project *out) {
    if (!name || !out) return itr_fail(ITR_E_ARG, "itr_lseh_project_from_name: NULL argument");
    /* accept both "vsrn" and the case variant spelling "lseh_vsrn" */
    const char *n = strncmp(name, "lseh_", 5) == 0 ? name + 5 : name;
    for (int p = 0; p < ITR_LSEH_N_PROJECTS; p++) {
        if (strcmp(n, lseh_configs[p].name) == 0) {
            *out = (itr_lseh_project)p;
            return ITR_OK;
        }
    }
    return itr_fail(ITR_E_UNSUPPORTED,
                    "LSEH sub-project '%s': expected vsrn, vseinf, sgraf, vsepp or gsmn", name);
}

itr_status itr_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat) {
    itr_status st = itr_loss_check_batch(B, "itr_lseh_semantic_scores");
    if (st) return st;
    if (!svd || !Shat) return itr_fail(ITR_E_ARG, "itr_lseh_semantic_scores: NULL argument");
    if (n_svd <= 0)
        return itr_fail(ITR_E_SHAPE, "itr_lseh_semantic_scores: SVD dimension %lld, need >= 1",
                        (long long)n_svd);
    double *K = NULL;
    if ((st = itr_loss_alloc_d(&K, B * B, "itr_lseh_semantic_scores"))) return st;
    /* Gram matrix, float32 GEMM (accumulated in double, rounded once);
     * the same loop order for (i,j) and (j,i) keeps K exactly symmetric. */
    for (int64_t i = 0; i < B; i++) {
        for (int64_t j = 0; j < B; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < n_svd; k++)
                acc += (double)svd[i * n_svd + k] * (double)svd[j * n_svd + k];
            K[i * B + j] = (double)(float)acc;
        }
    }
    for (int64_t i = 0; i < B; i++) {
        double m = K[i * B];
        for (int64_t k = 1; k < B; k++)
            if (K[i * B + k] > m) m = K[i * B + k];
        if (m == 0.0) m = 1.0;   /* torch.where(d == 0, one, d) */
        for (int64_t j = 0; j < B; j++) Shat[i * B + j] = (float)(K[j * B + i] / m);
    }
    free(K);
    return ITR_OK;
}

/* Floor division as Python's `//` (ids are non-negative in practice). */
static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

itr_status itr_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B,
                                 float *map) {
    itr_status st = itr_loss_check_batch(B, "itr_lseh_positive_map");
    if (st) return st;
    if (!ids || !img_ids || !map) return itr_fail(ITR_E_ARG, "itr_lseh_positive_map: NULL argument");
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < B; j++)
            /* QUIRK(Q-LSEH-2): compares with ids[j] // 5 even where a dataset
             * has one caption per image (IAPR TC-12). */
            map[i * B + j] = img_ids[i] == floordiv(ids[j], 5) ? 0.0f : 1.0f;
    return ITR_OK;
}

itr_status itr_lseh_margins(const float *Shat, const float *map, int64_t B,
                            float a, float b, float *M) {
    itr_status st = itr_loss_check_batch(B, "itr_lseh_margins");
    if (st) return st;
    if (!Shat || !map || !M) return itr_fail(ITR_E_ARG, "itr_lseh_margins: NULL argument");
    for (int64_t i = 0; i < B; i++) {
        for (int64_t j = 0; j < B; j++) {
            /* float32 order of upstream: (Shat * b) + a, then * map */
            float v = Shat[i * B + j] * b;
            v = v + a;
            v = v * map[i * B + j];
            M[i * B + j] = i == j ? 0.0f : v;   /* masked_fill_(eye, 0) */
        }
    }
    return ITR_OK;
}

itr_status itr_lseh_loss(const float *S, int64_t B, const float *svd, int64_t n_svd,
                         const int64_t *ids, const int64_t *img_ids, float a, float b,
                         int hardest, itr_hinge_result *res, float *dS,
                         float *Shat, float *map, float *M) {
    itr_status st = itr_loss_check_batch(B, "itr_lseh_loss");
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_lseh_loss: NULL score matrix");
    size_t n = (size_t)(B * B);
    float *sh = malloc(n * sizeof *sh), *mp = malloc(n * sizeof *mp), *mg = malloc(n * sizeof *mg);
    if (!sh || !mp || !mg) {
        st = itr_fail(ITR_E_NOMEM, "itr_lseh_loss: out of memory (B=%lld)", (long long)B);
        goto done;
    }
    if ((st = itr_lseh_semantic_scores(svd, B, n_svd, sh))) goto done;
    if ((st = itr_lseh_positive_map(ids, img_ids, B, mp))) goto done;
    if ((st = itr_lseh_margins(sh, mp, B, a, b, mg))) goto done;
    if ((st = itr_hinge_loss(S, B, 0.0f, mg, hardest, res, NULL, NULL, dS))) goto done;
    if (Shat) memcpy(Shat, sh, n * sizeof *Shat);
    if (map) memcpy(map, mp, n * sizeof *map);
    if (M) memcpy(M, mg, n * sizeof *M);
done:
    free(sh);
    free(mp);
    free(mg);
    return st;
}
