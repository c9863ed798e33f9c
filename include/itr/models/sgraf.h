/* itr/models/sgraf.h - SGRAF (Paranioar/SGRAF): SGR and SAF, evaluation forward.
 * Spec: specs/scan_sgraf.md s2.2, s2.3, s3.1-3.3, s4.1-4.6, s5.3.
 * Reference: ref/models/sgraf.c; notes: docs/models/sgraf.md.
 *
 *   image   V = [l2n] (F W_fc^T + b_fc)                        (R, D) per image
 *   caption T = [l2n] mean_dirs(GRU(Embed(ids)))                (L, D) per caption
 *   v_glo = VisualSA(V), t_glo = TextSA(T)                      (D)
 *   pair    nodes [s_g; s_1..s_L] -> SGR (graph reasoning) | SAF (filtration)
 *           score = sigmoid(w_e . v + b_e)                      in (0, 1)
 * l2n(x) = x / (||x|| + 1e-8) everywhere (s4.1). */
#ifndef ITR_MODELS_SGRAF_H
#define ITR_MODELS_SGRAF_H

#include "itr/config.h"
#include "itr/ops.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITR_SGRAF_MAX_STEPS 16   /* sgr_step upper bound (upstream default 3) */

typedef enum itr_sgraf_module { ITR_SGRAF_SGR = 0, ITR_SGRAF_SAF = 1 } itr_sgraf_module;

typedef struct itr_sgraf_config {
    int64_t img_dim, embed_size, word_dim, vocab_size;
    int64_t sim_dim;          /* P, from sim_tranloc_w.weight                      */
    int64_t n_regions;        /* R, channels of VisualSA's BatchNorm1d (36)        */
    int num_layers, bi_gru, no_imgnorm, no_txtnorm;
    itr_sgraf_module module;  /* opt.module_name                                   */
    int sgr_step;             /* SGR only                                          */
} itr_sgraf_config;

/* BatchNorm at evaluation: running statistics + affine (eps 1e-5). */
typedef struct itr_sgraf_bn {
    const float *mean, *var, *gamma, *beta;
} itr_sgraf_bn;

/* VisualSA / TextSA (s4.5): local, global, common linears; the visual one has
 * BatchNorms after its local (per region) and global (per feature) linears. */
typedef struct itr_sgraf_sa {
    const float *loc_w, *loc_b;   /* (D, D), (D) */
    const float *glo_w, *glo_b;   /* (D, D), (D) */
    const float *com_w, *com_b;   /* (1, D), (1) */
    itr_sgraf_bn loc_bn, glo_bn;  /* visual only; NULL pointers on the text side */
} itr_sgraf_sa;

typedef struct itr_sgraf {
    itr_sgraf_config cfg;
    const float *fc_w, *fc_b;     /* (D, img_dim), (D)   model[0] */
    const float *embed;           /* (V, word_dim)       model[1] */
    itr_gru gru;                  /* "cap_rnn.", word_dim -> D    */
    itr_sgraf_sa vsa, tsa;        /* v_global_w, t_global_w       */
    const float *tranloc_w, *tranloc_b;   /* (P, D), (P) */
    const float *tranglo_w, *tranglo_b;   /* (P, D), (P) */
    const float *eval_w, *eval_b;         /* (1, P), (1) */
    /* SGR_module.{k}: graph_query_w, graph_key_w, sim_graph_w, each (P, P), (P) */
    const float *q_w[ITR_SGRAF_MAX_STEPS], *q_b[ITR_SGRAF_MAX_STEPS];
    const float *k_w[ITR_SGRAF_MAX_STEPS], *k_b[ITR_SGRAF_MAX_STEPS];
    const float *g_w[ITR_SGRAF_MAX_STEPS], *g_b[ITR_SGRAF_MAX_STEPS];
    /* SAF_module: attn_sim_w (1, P), (1) and bn (1 channel) */
    const float *saf_w, *saf_b;
    itr_sgraf_bn saf_bn;
} itr_sgraf;

/* Builds the model from opt + weights (groups "0" image encoder, "1" text
 * encoder, "2" sim_enc). Sizes come from the tensors; bi_gru is inferred from
 * the presence of "_reverse" keys and checked against opt; num_layers,
 * module_name, sgr_step, no_imgnorm, no_txtnorm are read from opt. Strict:
 * every unused key is an error (num_batches_tracked is ignored, present or
 * not). The model points into w, which must outlive it. */
itr_status itr_sgraf_load(itr_sgraf *m, const itr_config *opt, itr_weights *w);

/* images (n, R, img_dim) -> img_emb (n, R, D) */
itr_status itr_sgraf_encode_images(const itr_sgraf *m, const float *images, int64_t n, float *img_emb);
/* captions (n, T) with lengths in [1, T] -> cap_emb (n, T, D), 0 beyond each length */
itr_status itr_sgraf_encode_captions(const itr_sgraf *m, const int64_t *captions, const int64_t *lengths,
                                     int64_t n, int64_t T, float *cap_emb);

/* VisualSA of one image V (R, D) -> v_glo (D). */
itr_status itr_sgraf_visual_sa(const itr_sgraf *m, const float *V, float *v_glo);
/* TextSA of one caption T (L, D) -> t_glo (D). */
itr_status itr_sgraf_text_sa(const itr_sgraf *m, const float *T, int64_t L, float *t_glo);

/* SGRAF's SCAN_attention (lambda 9, clipped_l2norm, context re-normalised):
 * words T (L, D) over regions V (R, D) -> ctx (L, D). scratch: R*L floats. */
void itr_sgraf_attention(const float *T, int64_t L, const float *V, int64_t R, int64_t D, float *ctx,
                         float *scratch);

/* Floats of scratch needed by itr_sgraf_pair_score for a caption of length L. */
int64_t itr_sgraf_pair_scratch(const itr_sgraf *m, int64_t L);
/* Score of one (image, caption) pair, s4.5 steps 1-7. */
float itr_sgraf_pair_score(const itr_sgraf *m, const float *V, const float *v_glo, const float *T, int64_t L,
                           const float *t_glo, float *scratch);

/* Full matrix sims (n_img, n_cap), float64 holding float32 scores (s4.6).
 * img_emb (n_img, R, D), cap_emb (n_cap, T, D) with lengths (n_cap).
 * img_glo (n_img, D) / cap_glo (n_cap, D) receive the pooled vectors when non-NULL. */
itr_status itr_sgraf_sims(const itr_sgraf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                          const int64_t *lengths, int64_t n_cap, int64_t T, double *sims, float *img_glo,
                          float *cap_glo);

#ifdef __cplusplus
}
#endif
#endif
