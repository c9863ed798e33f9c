/* sgraf_internal.h - private to cuda/models/sgraf_*.cu: the device copy of an
 * SGRAF model and the device-level stages shared by the encoder file
 * (sgraf_encode.cu) and the pair pipeline (sgraf_pairs.cu).
 * All pointers here are device pointers unless a name says _host. */
#ifndef ITR_CUDA_MODELS_SGRAF_INTERNAL_H
#define ITR_CUDA_MODELS_SGRAF_INTERNAL_H

#include "core/gru.h"
#include "itr/cuda/sgraf.h"

/* s2.3 constants, as ref/models/sgraf.c */
#define ITR_SGRAF_L2_EPS 1e-8f
#define ITR_SGRAF_BN_EPS 1e-5f
#define ITR_SGRAF_SMOOTH 9.0f      /* QUIRK(G6): SCAN_attention(smooth=9) */
#define ITR_SGRAF_LRELU 0.1f       /* clipped_l2norm's LeakyReLU slope    */
#define ITR_SGRAF_MAX_SHARED (48 * 1024)   /* dynamic shared memory without an opt-in */

typedef struct itr_cu_sgraf_bn {
    float *mean, *var, *gamma, *beta;
} itr_cu_sgraf_bn;

typedef struct itr_cu_sgraf_sa {
    float *loc_w, *loc_b, *glo_w, *glo_b, *com_w, *com_b;   /* (D,D) (D) (D,D) (D) (1,D) (1) */
    itr_cu_sgraf_bn loc_bn, glo_bn;                          /* visual only */
    int visual;
} itr_cu_sgraf_sa;

struct itr_cuda_sgraf {
    itr_sgraf_config cfg;
    float *weights;               /* the one allocation every float pointer below points into */
    float *fc_w, *fc_b, *embed;
    itr_cu_gru gru;
    itr_cu_sgraf_sa vsa, tsa;
    float *tranloc_w, *tranloc_b, *tranglo_w, *tranglo_b, *eval_w, *eval_b;
    /* SGR step k: [W_q; W_k] stacked (2P, P) with [b_q; b_k] (2P) so that the
     * query and key projections of all nodes are one GEMM; W_g (P, P), b_g. */
    float *qk_w[ITR_SGRAF_MAX_STEPS], *qk_b[ITR_SGRAF_MAX_STEPS];
    float *g_w[ITR_SGRAF_MAX_STEPS], *g_b[ITR_SGRAF_MAX_STEPS];
    float *saf_w, *saf_b;
    itr_cu_sgraf_bn saf_bn;
    int64_t caps_per_block, word_rows;   /* tiling of the sims (itr_cuda_sgraf_set_tiling) */
};

#ifdef __cplusplus
extern "C" {
#endif

/* VisualSA (sa->visual) or TextSA of n items -> glo (n, D). Item i owns rows
 * off_dev[i] .. off_dev[i+1]-1 of X (rows, D); max_rows bounds an item's rows. */
itr_status itr_cu_sgraf_self_attention(const itr_cuda_sgraf *m, const itr_cu_sgraf_sa *sa, const float *X,
                                       int64_t rows, const int64_t *off_dev, int64_t n, int64_t max_rows,
                                       float *glo);
/* VisualSA of n device images V (n, R, D) -> v_glo (n, D). */
itr_status itr_cu_sgraf_visual_sa_dev(const itr_cuda_sgraf *m, const float *V, int64_t n, float *v_glo);
/* Packs the valid words of host cap_emb (n, T, D), captions in `order` (NULL:
 * as given): caption k at rows off[k] .. off[k+1]-1 of the new device array
 * *words_dev; off (n + 1, host) is filled and uploaded as *off_dev. */
itr_status itr_cu_sgraf_pack_words(const float *cap_emb, const int64_t *lengths, const int64_t *order, int64_t n,
                                   int64_t T, int64_t D, int64_t *off, float **words_dev, int64_t **off_dev);

/* ---- the pair pipeline (sgraf_pairs.cu) ---------------------------------- */

/* One tile: nI images x nC captions (a block of the length-sorted captions). */
typedef struct itr_cu_sgraf_tile_args {
    const float *V, *vg;          /* (nI, R, D) images, (nI, D) their v_glo          */
    const float *C, *tg;          /* (Wc, D) the block's compact words, (nC, D) t_glo */
    const int64_t *off;           /* (nC + 1) global word offsets of the block's captions */
    int64_t w0, Wc, nI, nC;       /* first word (= off[0] on the host), word count    */
    int64_t n_max;                /* 1 + the block's longest caption (nodes per pair) */
    const int64_t *col;           /* (nC) column of each caption in sims              */
    double *sims;                 /* row of the tile's first image in sims (n_img, n_cap) */
    int64_t n_cap;
} itr_cu_sgraf_tile_args;

/* Workspace of a tile, sized for pairs = nI*nC, words = nI*Wc, nodes = words + pairs. */
typedef struct itr_cu_sgraf_ws {
    float *S;     /* (nI*R, Wc)   attention logits / weights  */
    float *ctx;   /* (words, D)   contexts, then squared diffs; then (pairs, D) global diffs */
    float *loc;   /* (words, P)   local alignments; SGR: (pairs, P) last-step EX row 0 */
    float *glo;   /* (pairs, P)   global alignments; SGR: last-step W_g output      */
    float *X;     /* (nodes, P)   graph nodes  */
    float *QK;    /* (nodes, 2P)  SGR query | key projections */
    float *EX;    /* (nodes, P)   SGR aggregated nodes */
} itr_cu_sgraf_ws;

/* Pair steps 1-3 of nC captions' words C (Wc, D) over nI images V -> ctx
 * (nI*Wc, D) re-normalised; diff: then (ctx - C)^2 (step 4). S (nI*R, Wc). */
itr_status itr_cu_sgraf_attend(const itr_cuda_sgraf *m, const float *V, int64_t nI, const float *C, int64_t Wc,
                               int64_t nC, const int64_t *off_dev, int64_t w0, int diff, float *S, float *ctx);
/* All pair steps of a tile; writes the nI x nC scores into t->sims. */
itr_status itr_cu_sgraf_tile(const itr_cuda_sgraf *m, const itr_cu_sgraf_tile_args *t, const itr_cu_sgraf_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
