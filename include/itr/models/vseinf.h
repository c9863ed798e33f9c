/* itr/models/vseinf.h - VSE-infinity (woodfrog/vse_infty), GPO pooling,
 * precomputed region features. Spec: specs/vsepp_vseinfty.md s2.
 * Reference: ref/models/gpo.c, ref/models/vseinf.c, ref/models/bert.c.
 *
 *   image   (s2.4): Z = fc(R) + mlp(R),  v = L2Ne( GPO(Z, L) )
 *   BiGRU   (s2.6): o = (fwd + rev)/2 of BiGRU(Embed(ids)),  u = L2Ne( GPO(o, L) )
 *   BERT    (s2.7): T = linear(BERT(ids)),  u = L2Ne( GPO(T, L) )
 *   score   (s2.8): s(v, u) = v . u
 * L2Ne(x) = x / (||x|| + 1e-8). */
#ifndef ITR_MODELS_VSEINF_H
#define ITR_MODELS_VSEINF_H

#include "itr/config.h"
#include "itr/models/bert.h"
#include "itr/ops.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GPO (s2.3, gpo.c) ---------------------------------------------------- */
#define ITR_GPO_D_PE 32        /* positional-encoding width, GPO(32, 32) upstream */
#define ITR_GPO_D_HIDDEN 32    /* GRU hidden size                                 */

typedef struct itr_gpo {
    itr_gru gru;               /* bidirectional, ITR_GPO_D_PE -> ITR_GPO_D_HIDDEN */
    const float *lin_w;        /* (1, ITR_GPO_D_HIDDEN), no bias                  */
} itr_gpo;

/* Looks up "<prefix>gru.*" (8 tensors) and "<prefix>linear.weight". */
itr_status itr_gpo_load(itr_gpo *g, itr_weights *w, const char *group, const char *prefix);
/* P (L, d): sinusoidal encoding of positions 0..L-1 in float32 as upstream
 * computes it (float32 product k*div_j, then sin/cos). d must be even. */
void itr_gpo_positional(int64_t L, int64_t d, float *P);
/* theta (L): pooling weights for a set of valid length L >= 1. */
itr_status itr_gpo_weights(const itr_gpo *g, int64_t L, float *theta);
/* x (K, D) with valid length L in [1, K] -> pooled (D); theta (L) or NULL
 * receives the weights. */
itr_status itr_gpo_pool(const itr_gpo *g, const float *x, int64_t K, int64_t D, int64_t L,
                        float *pooled, float *theta);

/* ---- The model (vseinf.c) ------------------------------------------------ */
typedef enum itr_vseinf_text { ITR_VSEINF_BIGRU = 0, ITR_VSEINF_BERT = 1 } itr_vseinf_text;

typedef struct itr_vseinf {
    itr_vseinf_text text;
    int64_t img_dim, embed_size, mlp_hidden, word_dim, vocab_size;
    int no_imgnorm, no_txtnorm;
    /* image encoder ('basic'): fc, mlp.layers.0 + mlp.bns.0, mlp.layers.1 */
    const float *fc_w, *fc_b;                       /* (E, img_dim), (E)     */
    const float *l0_w, *l0_b;                       /* (Hm, img_dim), (Hm)   */
    const float *bn_mean, *bn_var, *bn_w, *bn_b;    /* (Hm) each             */
    const float *l1_w, *l1_b;                       /* (E, Hm), (E)          */
    itr_gpo img_gpo, txt_gpo;
    /* BiGRU text */
    const float *embed;                             /* (V, word_dim)         */
    itr_gru rnn;                                    /* word_dim -> E, bidir  */
    /* BERT text */
    itr_bert bert;
    const float *lin_w, *lin_b;                     /* (E, hidden), (E)      */
} itr_vseinf;

/* Builds the model from a checkpoint (group "0" image, "1" text; an optional
 * leading "module." on every key of a group is accepted, s2.10). The text
 * encoder is BERT when the text group holds bert.* keys. bert_heads: the
 * head count (0: hidden / 64); ln_eps <= 0: 1e-12. Strict: every key must be
 * used or be one of the known-unused extras. */
itr_status itr_vseinf_load(itr_vseinf *m, const itr_config *opt, itr_weights *w, int64_t bert_heads,
                           float ln_eps);

/* images (n, R, img_dim), lengths (n) in [1, R] -> img_emb (n, E).
 * Optional (NULL to skip): gpo_in (n, R, E) the GPO input (0 beyond length),
 * theta (n, R) pool weights (0 beyond), pooled (n, E) before L2Ne. */
itr_status itr_vseinf_encode_images(const itr_vseinf *m, const float *images, const int64_t *lengths,
                                    int64_t n, int64_t R, float *img_emb, float *gpo_in, float *theta,
                                    float *pooled);
/* captions (n, T) ids, lengths (n) in [1, T] -> cap_emb (n, E); optional
 * intermediates as for images, plus bert_out (n, T, hidden) (BERT only). */
itr_status itr_vseinf_encode_captions(const itr_vseinf *m, const int64_t *captions, const int64_t *lengths,
                                      int64_t n, int64_t T, float *cap_emb, float *gpo_in, float *theta,
                                      float *pooled, float *bert_out);
/* sims (n_img, n_cap) = v . u in float64. */
void itr_vseinf_sims(const itr_vseinf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                     int64_t n_cap, double *sims);

#ifdef __cplusplus
}
#endif
#endif
