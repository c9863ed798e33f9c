/* itr/models/vsepp.h - VSE++ (fartashf/vsepp), precomputed-feature model.
 * Spec: specs/vsepp_vseinfty.md s1. Reference: ref/models/vsepp.c.
 *
 *   v = [|.|] L2N( W_fc f + b_fc )                  image:   f (img_dim)
 *   u = [|.|] L2N( GRU(Embed(ids))[L-1] )            caption: ids (L)
 *   s(v, u) = v . u                        (measure "cosine")
 *   s(v, u) = -|| max(0, u - v) ||_2      (measure "order")            */
#ifndef ITR_MODELS_VSEPP_H
#define ITR_MODELS_VSEPP_H

#include "itr/config.h"
#include "itr/ops.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum itr_vsepp_measure { ITR_MEASURE_COSINE = 0, ITR_MEASURE_ORDER = 1 } itr_vsepp_measure;

typedef struct itr_vsepp_config {
    int64_t img_dim, embed_size, word_dim, vocab_size;
    int num_layers;
    int use_abs, no_imgnorm;
    itr_vsepp_measure measure;
    double margin;
    int max_violation;
} itr_vsepp_config;

typedef struct itr_vsepp {
    itr_vsepp_config cfg;
    const float *fc_w;     /* (E, img_dim) */
    const float *fc_b;     /* (E)          */
    const float *embed;    /* (V, word_dim) */
    itr_gru gru;           /* word_dim -> E, num_layers, unidirectional */
} itr_vsepp;

/* Builds the model from a checkpoint's opt and weights (group "0" = image
 * encoder, "1" = text encoder). Sizes come from the tensors and are
 * cross-checked with opt; every missing/unexpected key or wrong shape is
 * reported (strict). The model points into w, which must outlive it. */
itr_status itr_vsepp_load(itr_vsepp *m, const itr_config *opt, itr_weights *w);

/* images (n, img_dim) -> img_emb (n, E) */
itr_status itr_vsepp_encode_images(const itr_vsepp *m, const float *images, int64_t n, float *img_emb);
/* captions (n, T) ids with lengths (n) in [1, T] -> cap_emb (n, E) */
itr_status itr_vsepp_encode_captions(const itr_vsepp *m, const int64_t *captions, const int64_t *lengths,
                                     int64_t n, int64_t T, float *cap_emb);

/* sims (n_img, n_cap) in float64 (evaluation scores float32 embeddings in
 * float64, s3.3). */
void itr_vsepp_sims(const itr_vsepp *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                    int64_t n_cap, double *sims);
/* The training-path score matrix in float32 (as ContrastiveLoss sees it). */
void itr_vsepp_sims_f32(itr_vsepp_measure measure, const float *img_emb, int64_t n_img, const float *cap_emb,
                        int64_t n_cap, int64_t E, float *sims);

/* Order similarity and its backward, float64 (for gradient checks):
 *   S[i,c] = -sqrt( sum_k max(0, cap[c,k] - img[i,k])^2 )
 * Backward: given G = dL/dS, accumulates dL/dimg (n_img, E) and dL/dcap
 * (n_cap, E) (both overwritten). At S = 0 the sqrt has no derivative; as
 * autograd does, the gradient there is taken as 0 (QUIRK: torch's sqrt
 * backward gives inf*0 = nan at 0; upstream never hits it with real data). */
void itr_order_sim_f64(const double *img, int64_t n_img, const double *cap, int64_t n_cap, int64_t E,
                       double *S);
void itr_order_sim_backward_f64(const double *img, int64_t n_img, const double *cap, int64_t n_cap, int64_t E,
                                const double *S, const double *G, double *d_img, double *d_cap);

#ifdef __cplusplus
}
#endif
#endif
