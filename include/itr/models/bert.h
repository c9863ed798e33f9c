/* itr/models/bert.h - a BERT encoder (HuggingFace BertModel, transformers
 * 2.x key names), eval only. Spec: specs/vsepp_vseinfty.md s2.7.
 * Reference: ref/models/bert.c. Any size the checkpoint describes:
 *
 *   E = LN( Word[id] + Pos[t] + Type[0] )
 *   per layer:  E = LN( MHA(E) Wo^T + bo + E )
 *               E = LN( GELU(E W1^T + b1) W2^T + b2 + E )
 * GELU is the exact x/2 (1 + erf(x / sqrt 2)). */
#ifndef ITR_MODELS_BERT_H
#define ITR_MODELS_BERT_H

#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITR_BERT_MAX_LAYERS 48
#define ITR_BERT_LN_EPS_DEFAULT 1e-12f

typedef struct itr_bert_layer {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;  /* (H, H), (H)   */
    const float *ao_w, *ao_b;                        /* (H, H), (H)   */
    const float *ln1_g, *ln1_b;                      /* (H)           */
    const float *ff1_w, *ff1_b;                      /* (F, H), (F)   */
    const float *ff2_w, *ff2_b;                      /* (H, F), (H)   */
    const float *ln2_g, *ln2_b;                      /* (H)           */
} itr_bert_layer;

typedef struct itr_bert {
    int64_t vocab, hidden, ffn, max_pos, n_types, n_heads;
    int n_layers;
    float ln_eps;
    const float *word, *pos, *type;                  /* (V,H) (P,H) (T,H) */
    const float *emb_ln_g, *emb_ln_b;
    itr_bert_layer layers[ITR_BERT_MAX_LAYERS];
} itr_bert;

/* Loads "<prefix>embeddings.*", "<prefix>encoder.layer.<i>.*" (as many
 * layers as present) from group; the pooler and embeddings.position_ids are
 * marked ignored. n_heads 0: hidden / 64. ln_eps <= 0: 1e-12. */
itr_status itr_bert_load(itr_bert *b, itr_weights *w, const char *group, const char *prefix, int64_t n_heads,
                         float ln_eps);
/* ids (L) -> out (L, hidden): the last hidden state of one unpadded sequence
 * (right padding with an additive -10000 key mask gives the same rows). */
itr_status itr_bert_forward(const itr_bert *b, const int64_t *ids, int64_t L, float *out);

/* x (n, d) normalised per row: (x - mean) / sqrt(biased var + eps) * g + b. */
void itr_layernorm_rows(float *x, int64_t n, int64_t d, const float *g, const float *b, float eps);
/* x <- x/2 (1 + erf(x / sqrt 2)), elementwise. */
void itr_gelu_erf(float *x, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
