/* itr/cuda/losses.h - every training loss of itr/losses.h on CUDA, forward
 * value and analytic gradient (docs/cuda-losses.md).
 *
 * Each function mirrors the reference entry point of the same name without
 * the `_cuda` (itr_hinge_loss -> itr_cuda_hinge_loss, ...): same arguments,
 * same meaning, same shapes, same NULL rules, host pointers in and out. The
 * data is uploaded, every value, intermediate and gradient is computed on the
 * device, and the results are copied back.
 *
 * Precision: elementwise float32 arithmetic in upstream's order, reductions
 * accumulated in double and rounded once, as the reference; values agree with
 * ref/losses to float rounding (within 1e-5 abs / 1e-4 rel). Hinge decisions
 * (u >= 0, first arg-max), VSL ranks and LUWM's candidate sets are computed
 * with the reference's exact float operations, so on the same score matrix
 * they make the same choices, ties included.
 *
 * What stays on the host: the text statistics (VSL's TF-IDF and its image /
 * caption matrices C, T of itr_vsl_image_cider; LSEH's SVD description
 * vectors) are inputs, computed by the reference code. The hyper-parameter
 * structs, defaults and name parsers are the reference's (itr/losses.h). */
#ifndef ITR_CUDA_LOSSES_H
#define ITR_CUDA_LOSSES_H

#include <stdint.h>

#include "itr/losses.h"
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Score matrices from embeddings (similarity.cu) ======================
 * cosine S = im s^T (cuBLAS sgemm), order S[i,j] = -||max(0, s_j - im_i)||;
 * backward dim = dS s, ds = dS^T im (sgemm) or the order chain rule. */
itr_status itr_cuda_loss_scores(itr_measure m, const float *im, const float *s,
                                int64_t B, int64_t d, float *S);
itr_status itr_cuda_loss_scores_backward(itr_measure m, const float *im, const float *s,
                                         int64_t B, int64_t d, const float *dS,
                                         float *dim, float *ds);

/* ==== Hinge triplet loss: LMH and per-pair margins (lmh.cu) ===============
 * margins == NULL: the scalar `margin` everywhere (LMH: the diagonal holds
 * the margin but is masked after the clamp); otherwise a (B, B) matrix such
 * as LSEH's SeMargin (zero diagonal, zero for same-image pairs). */
itr_status itr_cuda_hinge_loss(const float *S, int64_t B, float margin, const float *margins,
                               int hardest, itr_hinge_result *res,
                               float *cost_s, float *cost_im, float *dS);
itr_status itr_cuda_lmh_loss(const float *S, int64_t B, float margin, int hardest,
                             itr_hinge_result *res, float *cost_s, float *cost_im, float *dS);
/* VSE++ / VSRN ContrastiveLoss(im, s): S = measure(im, s), hinge, back to the
 * embeddings. S, dS (B, B); dim, ds (B, d); any may be NULL. */
itr_status itr_cuda_lmh_embed_loss(itr_measure m, const float *im, const float *s,
                                   int64_t B, int64_t d, float margin, int hardest,
                                   itr_hinge_result *res, float *S, float *dS,
                                   float *dim, float *ds);

/* ==== VSE-infinity (vseinf.cu) ===========================================
 * Cosine LMH; the epoch form applies the warm-up switch
 * hardest = itr_vseinf_use_hardest(epoch, warmup_epochs) (sum of hinges
 * during the warm-up, hardest negative afterwards). */
itr_status itr_cuda_vseinf_loss(const float *im, const float *s, int64_t B, int64_t d,
                                float margin, int hardest, itr_hinge_result *res,
                                float *S, float *dS, float *dim, float *ds);
itr_status itr_cuda_vseinf_epoch_loss(const float *im, const float *s, int64_t B, int64_t d,
                                      float margin, int64_t epoch, int64_t warmup_epochs,
                                      itr_hinge_result *res, float *S, float *dS,
                                      float *dim, float *ds);

/* ==== LSEH (lseh.cu) ======================================================
 * Shat = torch_cosine_sim of the SVD vectors, map = positive mask, M =
 * SeMargin, then the hinge with per-pair margins. */
itr_status itr_cuda_lseh_semantic_scores(const float *svd, int64_t B, int64_t n_svd, float *Shat);
itr_status itr_cuda_lseh_positive_map(const int64_t *ids, const int64_t *img_ids, int64_t B,
                                      float *map);
itr_status itr_cuda_lseh_margins(const float *Shat, const float *map, int64_t B,
                                 float a, float b, float *M);
/* On a score matrix (SGRAF_LSEH, GSMN_LSEH). */
itr_status itr_cuda_lseh_loss(const float *S, int64_t B, const float *svd, int64_t n_svd,
                              const int64_t *ids, const int64_t *img_ids, float a, float b,
                              int hardest, itr_hinge_result *res, float *dS,
                              float *Shat, float *map, float *M);
/* On embeddings, S = measure(im, s) inside the loss (VSRN_LSEH, VSEinfty_LSEH,
 * VSEpp_LSEH). S, dS (B, B), dim, ds (B, d), Shat, map, M (B, B): any NULL. */
itr_status itr_cuda_lseh_embed_loss(itr_measure m, const float *im, const float *s, int64_t B,
                                    int64_t d, const float *svd, int64_t n_svd,
                                    const int64_t *ids, const int64_t *img_ids, float a, float b,
                                    int hardest, itr_hinge_result *res, float *S, float *dS,
                                    float *dim, float *ds, float *Shat, float *map, float *M);

/* One sub-project as upstream trains it: a and b from itr_lseh_config_get(p)
 * and its score source. Projects with from_embeddings (vsrn, vseinf, vsepp)
 * read im, s (B, d) with `measure` and ignore S_in; the others (sgraf, gsmn)
 * read S_in (B, B), the model's scores, and leave dim, ds untouched (their
 * gradient continues through the model, from dS). Upstream's VSEinfty_LSEH
 * only has the hardest-negative branch (has_sum = 0): hardest == 0 is
 * ITR_E_UNSUPPORTED. res, dS, dim, ds may be NULL. */
typedef struct itr_cuda_lseh_scores {
    const float *S_in;       /* (B, B) or NULL               */
    const float *im, *s;     /* (B, d) or NULL               */
    int64_t d;
    itr_measure measure;     /* ITR_MEASURE_COSINE upstream, VSE++ may use order */
} itr_cuda_lseh_scores;

itr_status itr_cuda_lseh_project_loss(itr_lseh_project p, const itr_cuda_lseh_scores *in,
                                      int64_t B, const float *svd, int64_t n_svd,
                                      const int64_t *ids, const int64_t *img_ids, int hardest,
                                      itr_hinge_result *res, float *dS, float *dim, float *ds);

/* ==== SCAN's cross-attention scores inside its loss (scan_scores.cu) ======
 * Same meaning as itr_scan_scores / _backward / itr_scan_loss: im (B, R, d),
 * s (B, Lmax, d), s_l (B) on the host. Evaluated in double on the device and
 * rounded once, as the reference. */
itr_status itr_cuda_scan_scores(const itr_scan_params *p, const float *im, int64_t R,
                                const float *s, const int64_t *s_l, int64_t Lmax,
                                int64_t B, int64_t d, float *S);
itr_status itr_cuda_scan_scores_backward(const itr_scan_params *p, const float *im, int64_t R,
                                         const float *s, const int64_t *s_l, int64_t Lmax,
                                         int64_t B, int64_t d, const float *dS,
                                         float *dim, float *ds);
itr_status itr_cuda_scan_loss(const itr_scan_params *p, const float *im, int64_t R,
                              const float *s, const int64_t *s_l, int64_t Lmax, int64_t B,
                              int64_t d, float margin, int hardest, itr_hinge_result *res,
                              float *S, float *dS, float *dim, float *ds);
/* Pairs are processed in chunks of whole image rows (at most `rows` image
 * rows x B captions per launch; 0 = automatic, bounded by a 256 MiB
 * workspace). Results do not depend on it; tests shrink it. Process-wide. */
void itr_cuda_scan_set_chunk_rows(int64_t rows);

/* ==== VSL (vsl.cu) ========================================================
 * C is the host-computed image-image TF-IDF matrix (itr_vsl_image_cider). */
itr_status itr_cuda_vsl_rank_matrix(const float *X, int64_t B, double temperature,
                                    double exponent_clamp, float *R);
itr_status itr_cuda_vsl_semantic_loss(const float *S, const float *C, int64_t B,
                                      const itr_vsl_params *p, double *loss,
                                      float *Rs, float *Rc, float *dS);
itr_status itr_cuda_vsl_loss(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                             itr_vsl_result *res, float *dS_lmh, float *dS_vsl, float *dS_total);

/* ==== LUWM (luwm.cu) ====================================================== */
itr_status itr_cuda_luwm_loss(const float *S, int64_t B, const itr_luwm_params *p,
                              double *loss, int64_t *n_active, float *dS);

#ifdef __cplusplus
}
#endif
#endif
