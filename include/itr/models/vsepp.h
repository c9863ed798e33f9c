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
#include "itr/losses.h"
#include "itr/ops.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_vsepp_config {
    int64_t img_dim, embed_size, word_dim, vocab_size;
    int num_layers;
    int use_abs, no_imgnorm;
    itr_measure measure;       /* cosine | order (itr/losses.h) */
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
/* The training loss (ContrastiveLoss) on aligned pairs (im[k], s[k]) and its
 * gradients is itr_lmh_embed_loss in itr/losses.h, with cfg.measure,
 * cfg.margin and cfg.max_violation. */

#ifdef __cplusplus
}
#endif
#endif
