/* itr/losses.h - every training loss of the seed papers (ref/losses).
 *
 * Spec: specs/losses_vsl_lseh.md (VSL, LSEH, LMH, LUWM), specs/vsepp_vseinfty.md
 * s1.7 / s2.8 (VSE++ / VSE-infinity), specs/scan_sgraf.md s6.1 (SCAN / SGRAF).
 * docs/losses.md explains each formula and its gradient.
 *
 * Conventions shared by every loss:
 *  - A score matrix S is (B, B) row-major: S[i*B + j] = score(image of item i,
 *    caption of item j); the diagonal holds the positive pairs.
 *  - Every loss has a forward value and an ANALYTIC backward: dS = dL/dS
 *    (and, for losses built on embeddings, dim = dL/dim, ds = dL/ds). Every
 *    output pointer may be NULL when the caller does not want it.
 *  - The float functions evaluate in float32 the way upstream PyTorch does
 *    (each elementwise op rounded to float; reductions are accumulated in
 *    double and rounded once, which is within torch's own rounding).
 *    The _f64 twins evaluate the same formulas in plain double; they exist
 *    for gradient checks and for callers that want the exact math.
 *  - Scalar results are returned as double; in float mode they hold the
 *    float32 value exactly.
 *  - Hyper-parameters are arguments; the *_DEFAULT macros give upstream's
 *    defaults. */
#ifndef ITR_LOSSES_H
#define ITR_LOSSES_H

#include <stddef.h>
#include <stdint.h>
#include "itr/status.h"
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Shape checks for callers holding tensors (loss_check.c) ============ */

/* S must be 2-D, square and non-empty; *B receives its side. `what` names
 * the input in the message (e.g. "case.h5: /inputs/sims"). */
itr_status itr_loss_check_scores(const itr_tensor *S, const char *what, int64_t *B);
/* im and s must be 2-D (B, d) with equal shapes, B > 0, d > 0. */
itr_status itr_loss_check_embeddings(const itr_tensor *im, const itr_tensor *s,
                                     const char *what, int64_t *B, int64_t *d);

/* ==== Score matrices from embeddings (similarity.c) ======================
 * cosine: S[i,j] = im_i . s_j (the embeddings are already L2-normalised by
 *         the encoders, so the dot product is the cosine; VSE++ cosine_sim,
 *         VSE-infinity get_sim, VSRN cosine_sim).
 * order:  S[i,j] = -|| max(0, s_j - im_i) ||_2   (VSE++ order_sim). */
typedef enum itr_measure { ITR_MEASURE_COSINE = 0, ITR_MEASURE_ORDER = 1 } itr_measure;

/* "cosine" | "order" (upstream treats anything but "order" as cosine; we
 * accept "" as cosine and reject other names). */
itr_status itr_measure_from_name(const char *name, itr_measure *out);

/* im, s: (B, d); S: (B, B). */
itr_status itr_loss_scores(itr_measure m, const float *im, const float *s,
                           int64_t B, int64_t d, float *S);
itr_status itr_loss_scores_f64(itr_measure m, const double *im, const double *s,
                               int64_t B, int64_t d, double *S);
/* Back through S: given dS (B, B), writes dim, ds (B, d) (either may be NULL). */
itr_status itr_loss_scores_backward(itr_measure m, const float *im, const float *s,
                                    int64_t B, int64_t d, const float *dS,
                                    float *dim, float *ds);
itr_status itr_loss_scores_backward_f64(itr_measure m, const double *im, const double *s,
                                        int64_t B, int64_t d, const double *dS,
                                        double *dim, double *ds);

/* ==== Hinge triplet loss: LMH and its per-pair-margin form (lmh.c) =======
 *   u_s[i,j]  = (M[i,j] + S[i,j]) - S[i,i]      image i queries, caption j negative
 *   u_im[i,j] = (M[i,j] + S[i,j]) - S[j,j]      caption j queries, image i negative
 *   cost_s = [u_s]_+, cost_im = [u_im]_+, then both diagonals set to 0
 *   sum:     L = sum_ij cost_s + sum_ij cost_im
 *   hardest: L = sum_i max_j cost_s[i,j] + sum_j max_i cost_im[i,j]
 * M[i,j] = margin (LMH) or a per-pair matrix (LSEH's SeMargin).
 * Every upstream variant (VSE++, VSRN, SCAN, SGRAF, GSMN, VSE-inf, the LSEH
 * copies, VSL) clears the diagonal AFTER the clamp; the gradient follows
 * autograd: clamp(min=0) passes it at exactly 0, max picks the FIRST index
 * among equal values, and a masked diagonal entry receives nothing. */
typedef struct itr_hinge_result {
    double loss;      /* loss_s + loss_im (float32 add in float mode)   */
    double loss_s;    /* sum of cost_s (all, or the per-row maxima)      */
    double loss_im;   /* sum of cost_im (all, or the per-column maxima)  */
} itr_hinge_result;

#define ITR_LMH_MARGIN_DEFAULT 0.2

/* S: (B, B). margins: (B, B) per-pair M or NULL to use `margin` everywhere.
 * hardest: 1 = max_violation, 0 = sum over all negatives.
 * cost_s / cost_im: (B, B) matrices (sum) or (B) maxima (hardest), or NULL.
 * dS: (B, B) dL/dS or NULL. */
itr_status itr_hinge_loss(const float *S, int64_t B, float margin, const float *margins,
                          int hardest, itr_hinge_result *res,
                          float *cost_s, float *cost_im, float *dS);
itr_status itr_hinge_loss_f64(const double *S, int64_t B, double margin, const double *margins,
                              int hardest, itr_hinge_result *res,
                              double *cost_s, double *cost_im, double *dS);

/* LMH on a score matrix (SCAN, SGRAF, GSMN, VSL's triplet term): hinge with a
 * scalar margin. */
itr_status itr_lmh_loss(const float *S, int64_t B, float margin, int hardest,
                        itr_hinge_result *res, float *cost_s, float *cost_im, float *dS);

/* LMH on embeddings (VSE++ / VSRN ContrastiveLoss(im, s)): S = measure(im, s)
 * inside the loss, then the hinge. S, dS: (B, B); dim, ds: (B, d); any NULL. */
itr_status itr_lmh_embed_loss(itr_measure m, const float *im, const float *s,
                              int64_t B, int64_t d, float margin, int hardest,
                              itr_hinge_result *res, float *S, float *dS,
                              float *dim, float *ds);

/* ==== SCAN: cross-attention scores inside ContrastiveLoss (scan_sims.c) ===
 * kuanghuei/SCAN ContrastiveLoss(im, s, s_l) builds S itself with
 * xattn_score_t2i / xattn_score_i2t (specs/scan_sgraf.md s4.4, s6.1):
 *   t2i: queries = the caption's s_l[j] words, context = image i's R regions
 *   i2t: queries = image i's R regions, context = the caption's words
 *   A = context . query^T -> first norm over the query axis -> attention
 *   softmax(lambda_softmax * A) over the context -> attended vectors ->
 *   cosine with each query -> aggregate (LogSumExp(lambda_lse) | Mean | Max
 *   | Sum) over the queries.
 * Computed in double and rounded to float32 at the end (upstream runs it in
 * float32; differences are float rounding, ~1e-7 relative). */
typedef enum itr_scan_direction { ITR_SCAN_T2I = 0, ITR_SCAN_I2T = 1 } itr_scan_direction;
typedef enum itr_scan_norm {
    ITR_SCAN_NORM_CLIPPED_L2 = 0,   /* "clipped_l2norm": LeakyReLU(0.1), then l2norm */
    ITR_SCAN_NORM_L2,               /* "l2norm"                                     */
    ITR_SCAN_NORM_SOFTMAX,          /* "softmax" over the query axis                */
    ITR_SCAN_NORM_CLIPPED,          /* "clipped": LeakyReLU(0.1) only               */
    ITR_SCAN_NORM_NONE              /* "no_norm"                                    */
} itr_scan_norm;
typedef enum itr_scan_agg {
    ITR_SCAN_AGG_LSE = 0, ITR_SCAN_AGG_MEAN, ITR_SCAN_AGG_MAX, ITR_SCAN_AGG_SUM
} itr_scan_agg;

typedef struct itr_scan_params {
    itr_scan_direction dir;     /* t2i                 */
    itr_scan_norm norm;         /* clipped_l2norm      */
    itr_scan_agg agg;           /* LogSumExp           */
    double lambda_softmax;      /* 9                   */
    double lambda_lse;          /* 6                   */
} itr_scan_params;

void itr_scan_params_default(itr_scan_params *p);
/* Upstream option strings (cross_attn, raw_feature_norm, agg_func); NULL
 * keeps the current value. l1norm / clipped_l1norm crash upstream
 * (QUIRK-S5) and are ITR_E_UNSUPPORTED here. */
itr_status itr_scan_params_parse(itr_scan_params *p, const char *cross_attn,
                                 const char *raw_feature_norm, const char *agg_func);

/* im (B, R, d) regions; s (B, Lmax, d) words, only the first s_l[j] rows of
 * caption j are read (1 <= s_l[j] <= Lmax). S (B, B). */
itr_status itr_scan_scores(const itr_scan_params *p, const float *im, int64_t R,
                           const float *s, const int64_t *s_l, int64_t Lmax,
                           int64_t B, int64_t d, float *S);
itr_status itr_scan_scores_f64(const itr_scan_params *p, const double *im, int64_t R,
                               const double *s, const int64_t *s_l, int64_t Lmax,
                               int64_t B, int64_t d, double *S);
/* dS (B, B) -> dim (B, R, d), ds (B, Lmax, d) (0 beyond s_l); either may be NULL. */
itr_status itr_scan_scores_backward(const itr_scan_params *p, const float *im, int64_t R,
                                    const float *s, const int64_t *s_l, int64_t Lmax,
                                    int64_t B, int64_t d, const float *dS,
                                    float *dim, float *ds);
itr_status itr_scan_scores_backward_f64(const itr_scan_params *p, const double *im, int64_t R,
                                        const double *s, const int64_t *s_l, int64_t Lmax,
                                        int64_t B, int64_t d, const double *dS,
                                        double *dim, double *ds);
/* SCAN's ContrastiveLoss: S = scores(im, s, s_l), then LMH. */
itr_status itr_scan_loss(const itr_scan_params *p, const float *im, int64_t R,
                         const float *s, const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d,
                         float margin, int hardest, itr_hinge_result *res,
                         float *S, float *dS, float *dim, float *ds);

/* ==== VSE-infinity (vseinf.c) ============================================
 * woodfrog/vse_infty ContrastiveLoss: cosine LMH, margin 0.2, summed over
 * all negatives during the warm-up epochs (epoch < vse_mean_warmup_epochs),
 * hardest negative afterwards. */
#define ITR_VSEINF_MARGIN_DEFAULT 0.2
#define ITR_VSEINF_WARMUP_EPOCHS_DEFAULT 1

/* 1 when epoch (0-based) has left the warm-up, i.e. hardest negatives. */
int itr_vseinf_use_hardest(int64_t epoch, int64_t warmup_epochs);
itr_status itr_vseinf_loss(const float *im, const float *s, int64_t B, int64_t d,
                           float margin, int hardest, itr_hinge_result *res,
                           float *S, float *dS, float *dim, float *ds);

/* ==== LSEH (lseh.c) ======================================================
 *   K = V V^T (SVD vectors V (B, n_svd)), m_i = max_k K[i,k] (1 if 0)
 *   Shat[i,j] = K[j,i] / m_i                         "torch_cosine_sim"
 *   map[i,j]  = 0 if img_ids[i] == ids[j] / 5 else 1  (5 captions per image)
 *   M[i,j]    = ((Shat[i,j] * b) + a) * map[i,j], M[i,i] = 0   "SeMargin"
 *   L = hinge(S, M) (sum or hardest). */
typedef enum itr_lseh_project {
    ITR_LSEH_VSRN = 0, ITR_LSEH_VSEINF, ITR_LSEH_SGRAF, ITR_LSEH_VSEPP, ITR_LSEH_GSMN,
    ITR_LSEH_N_PROJECTS
} itr_lseh_project;

typedef struct itr_lseh_config {
    const char *name;        /* "vsrn", "vseinf", "sgraf", "vsepp", "gsmn"      */
    double a;                /* base margin (--a, or --margin)                   */
    double b;                /* semantic scale (hard-coded except VSRN's --b)    */
    int from_embeddings;     /* 1: S = measure(im, s) inside the loss            */
    int has_sum;             /* 0: the sum branch raises upstream (VSE-inf)      */
    int returns_triple;      /* 1: upstream returns (L, sum cost_s, sum cost_im) */
    int hardest_default;     /* what upstream training uses by default/README    */
} itr_lseh_config;

const itr_lseh_config *itr_lseh_config_get(itr_lseh_project p);
itr_status itr_lseh_project_from_name(const char *name, itr_lseh_project *out);

/* svd: (B, n_svd) -> Shat (B, B). */
itr_status itr_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat);
/* ids, img_ids: (B) dataset caption / image indices -> map (B, B) of 0/1. */
itr_status itr_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B,
                                 float *map);
/* Shat, map: (B, B) -> M (B, B). */
itr_status itr_lseh_margins(const float *Shat, const float *map, int64_t B,
                            float a, float b, float *M);

/* Everything on a score matrix: intermediates Shat, map, M (each (B, B) or
 * NULL), the hinge result and dS. */
itr_status itr_lseh_loss(const float *S, int64_t B, const float *svd, int64_t n_svd,
                         const int64_t *ids, const int64_t *img_ids, float a, float b,
                         int hardest, itr_hinge_result *res, float *dS,
                         float *Shat, float *map, float *M);

/* ==== VSL: visual semantic loss (vsl.c) ==================================
 * Rank operator (QUIRK Q-VSL-1: column j of X against entry (j,k)):
 *   R(X)[j,k] = 1 + sum_{i != k} phi(X[i,j] - X[j,k]),
 *   phi(x) = 1 / (1 + exp(clamp(-x / tau, -c, c)))
 *   q = min(Rs, Rc) / max(Rs, Rc),  L_VS = w * (1 - sum q / B^2)
 * with Rs = R(S), Rc = R(C) (C = image-image TF-IDF matrix, no gradient).
 * The VSL training loss is  w_lmh * LMH(S; margin, hardest) + L_VS. */
typedef struct itr_vsl_params {
    double margin;           /* LMH margin, 0.2                     */
    int hardest;             /* LMH max_violation, 1                */
    double temperature;      /* tau, 0.001                          */
    double exponent_clamp;   /* c, 50                               */
    double weight_vsl;       /* w, 10                               */
    double weight_lmh;       /* w_lmh, 1                            */
} itr_vsl_params;

void itr_vsl_params_default(itr_vsl_params *p);

/* X: (B, B) -> R (B, B). */
itr_status itr_vsl_rank_matrix(const float *X, int64_t B, double temperature,
                               double exponent_clamp, float *R);
itr_status itr_vsl_rank_matrix_f64(const double *X, int64_t B, double temperature,
                                   double exponent_clamp, double *R);

/* L_VS alone: loss, Rs, Rc (B, B) and dS = dL_VS/dS (any NULL). */
itr_status itr_vsl_semantic_loss(const float *S, const float *C, int64_t B,
                                 const itr_vsl_params *p, double *loss,
                                 float *Rs, float *Rc, float *dS);
itr_status itr_vsl_semantic_loss_f64(const double *S, const double *C, int64_t B,
                                     const itr_vsl_params *p, double *loss,
                                     double *Rs, double *Rc, double *dS);

typedef struct itr_vsl_result {
    double lmh;     /* w_lmh * LMH            */
    double vsl;     /* L_VS                   */
    double total;   /* lmh + vsl (float add)  */
} itr_vsl_result;

/* The full VSL objective; the three gradients (B, B) may each be NULL. */
itr_status itr_vsl_loss(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                        itr_vsl_result *res, float *dS_lmh, float *dS_vsl, float *dS_total);

/* ==== VSL data side: scikit-learn TF-IDF of captions (tfidf.c) ============
 * CountVectorizer() + TfidfTransformer() defaults: each document stripped of
 * ASCII whitespace, lower-cased, tokens = regex (?u)\b\w\w+\b (runs of >= 2
 * word characters), raw counts, idf = ln((1+n)/(1+df)) + 1, rows L2-normed.
 * Columns are the vocabulary sorted by code point (sklearn's order). */

/* Character classes of Python's `str`: lower() and the regex \w. The
 * built-in table is exact for ASCII, Latin-1 and Latin Extended-A and treats
 * other letters approximately; pass a table backed by a Unicode database
 * (e.g. utf8proc) for exact behaviour on any script. */
typedef struct itr_text_class {
    uint32_t (*lower)(uint32_t cp, void *ctx);
    int (*is_word)(uint32_t cp, void *ctx);
    void *ctx;
} itr_text_class;

typedef struct itr_tfidf {
    int64_t n_docs, n_terms;
    char **vocab;            /* n_terms UTF-8 strings, column order     */
    int64_t *row_ptr;        /* n_docs + 1: CSR row starts              */
    int64_t *col;            /* nnz column indices, ascending per row   */
    double *val;             /* nnz float64 TF-IDF weights              */
} itr_tfidf;

/* Tokenises one document, the UTF-8 bytes doc[0 .. len), and calls
 * emit(token, token_len, ctx) for each token in order (token is
 * NUL-terminated); cls NULL = built-in table. A non-OK status from emit
 * stops the scan and is returned; invalid UTF-8 is ITR_E_FORMAT. */
itr_status itr_sklearn_tokenize(const char *doc, size_t len, const itr_text_class *cls,
                                itr_status (*emit)(const char *tok, size_t n, void *ctx),
                                void *ctx);
/* Fits and transforms the whole corpus (docs: n_docs NUL-terminated UTF-8). */
itr_status itr_tfidf_fit_transform(const char *const *docs, int64_t n_docs,
                                   const itr_text_class *cls, itr_tfidf *out);
void itr_tfidf_free(itr_tfidf *t);
/* Row r as a dense float64 vector (n_terms). */
itr_status itr_tfidf_dense_row(const itr_tfidf *t, int64_t r, double *out);

/* ==== VSL intra-modal similarity matrices (vsl_cider.c) ===================
 * Both from float32 copies of the TF-IDF rows (torch.Tensor of the batch).
 * image:   C[a,b] = AvgPool5x5( T_img T_img^T ), T_img = rows
 *          cpi*img_ids[a] .. cpi*img_ids[a]+cpi-1 (cpi = 5 upstream)
 * caption: T[a,b] = t_{ids[a]} . t_{ids[b]}      (unused by the loss). */
#define ITR_VSL_CAPTIONS_PER_IMAGE 5
itr_status itr_vsl_image_cider(const itr_tfidf *t, const int64_t *img_ids, int64_t B,
                               int64_t cpi, float *C);
itr_status itr_vsl_caption_cider(const itr_tfidf *t, const int64_t *ids, int64_t B, float *T);

/* ==== LUWM: polynomial universal weighting loss (luwm.c) ==================
 * For each row query i (and each column query j) with positive p = S[i,i]:
 *   N = { S[i,j], j != i : S[i,j] + margin > p };  skipped when empty
 *   n = max N (first index), l = [P(p)]_+ + [Q(n)]_+
 *   P(x) = p2 x^2 + p1 x + p0 (0.2, -0.7, 0.5), Q likewise (0.9, -0.4, 0.03)
 * L = (sum of l over active queries) / B. A positive p >= 1 - epsilon makes
 * upstream crash (min of an empty set): ITR_E_ARG. */
typedef struct itr_luwm_params {
    double margin;           /* --margin of GSMN_LSEH: 0.07          */
    double epsilon;          /* 1e-5                                  */
    double pos_poly[3];      /* coefficients of x^2, x, 1             */
    double neg_poly[3];
} itr_luwm_params;

void itr_luwm_params_default(itr_luwm_params *p);
/* n_active (may be NULL): number of queries that contributed; 0 means
 * upstream returned a 0-d zero instead of a (1,) tensor. */
itr_status itr_luwm_loss(const float *S, int64_t B, const itr_luwm_params *p,
                         double *loss, int64_t *n_active, float *dS);
itr_status itr_luwm_loss_f64(const double *S, int64_t B, const itr_luwm_params *p,
                             double *loss, int64_t *n_active, double *dS);

#ifdef __cplusplus
}
#endif
#endif
