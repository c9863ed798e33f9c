/* models/scan_attn.h - private: SCAN's float64 cross attention on the device
 * (scan_attn.cu), used by models/scan.cu. Device pointers unless noted.
 *
 * For a pair (image i, caption j) with queries Q and context C (t2i: the
 * caption's L words attend over the R regions; i2t the reverse), s4.4:
 *   S0[c,q] = C_c . Q_q                     one entry of the tile's DGEMM
 *   S2      = first norm of each context row across the queries
 *   P[q,c]  = softmax_c(lambda_softmax S2[c,q])
 *   a_q     = sum_c P[q,c] C_c              never formed:
 *   Q_q.a_q = sum_c P[q,c] S0[c,q]          (the logits already hold the dots)
 *   |a_q|^2 = P_q^T G P_q                   G = C C^T, the context's Gram matrix
 *   r_q     = Q_q.a_q / max(|Q_q| |a_q|, 1e-8),  score = aggregate_q(r_q)
 * The identities are exact in real arithmetic for every raw_feature_norm (the
 * first norm only changes the attention weights, never the context vectors). */
#ifndef ITR_CUDA_MODELS_SCAN_ATTN_H
#define ITR_CUDA_MODELS_SCAN_ATTN_H

#include <stdint.h>

#include "itr/losses.h"
#include "itr/status.h"

/* Everything the pair kernel reads besides a tile's dots, for n_img images
 * and n_cap captions whose valid words are packed caption after caption. */
typedef struct itr_cu_scan_batch {
    itr_scan_params p;
    int64_t n_img, R, n_cap, D, n_words, max_len;
    const double *V;      /* (n_img, R, D) regions (not owned)                      */
    const double *W;      /* (n_words, D) words (not owned); caption j: rows woff[j].. */
    int64_t *woff;        /* host (n_cap + 1) word offsets                           */
    int64_t *woff_dev;    /* the same on the device                                  */
    int64_t *cols_dev;    /* (n_cap) column of sims that caption j's score goes to    */
    int64_t *goff_dev;    /* i2t: (n_cap) offset of caption j's (L_j, L_j) word Gram  */
    double *qn2;          /* squared norms of the queries: t2i (n_words), i2t (n_img*R) */
    double *gram;         /* context Grams: t2i (n_img, R, R), i2t packed (L_j, L_j)  */
} itr_cu_scan_batch;

/* Computes offsets, query norms and context Grams. lengths: host (n_cap),
 * each >= 1 (the caller validates them), in the order the words are packed;
 * cols: host (n_cap), the sims column of each packed caption (NULL: j). V and
 * W must outlive b. */
itr_status itr_cu_scan_batch_init(itr_cu_scan_batch *b, const itr_scan_params *p, const double *V, int64_t n_img,
                                  int64_t R, const double *W, const int64_t *lengths, const int64_t *cols,
                                  int64_t n_cap, int64_t D);
void itr_cu_scan_batch_free(itr_cu_scan_batch *b);   /* zeroed b ok */

/* Words of captions [j0, j0 + nc). */
int64_t itr_cu_scan_block_words(const itr_cu_scan_batch *b, int64_t j0, int64_t nc);
/* Longest caption of [j0, j0 + nc). */
int64_t itr_cu_scan_block_max_len(const itr_cu_scan_batch *b, int64_t j0, int64_t nc);

/* One tile: images [i0, i0 + ni) x captions [j0, j0 + nc).
 *   X       scratch of ni * R * itr_cu_scan_block_words(b, j0, nc) doubles
 *   sims    score of image i0 + i and packed caption j0 + j at
 *           sims[i * ld_sims + cols[j0 + j]]
 *   attnT   NULL, or per pair p = i * nc + j its (n_ctx, n_query) attention at
 *           attnT + p * attn_stride (attn_stride >= R * longest caption)
 *   row_sim NULL, or per pair its n_query cosines at row_sim + p * r_stride
 * stage: 1 stages each pair's (R, L) dot tile in shared memory when it fits.
 * ITR_E_UNSUPPORTED when a pair's attention rows do not fit in shared memory
 * (n_query * n_context around 6000 doubles). */
itr_status itr_cu_scan_tile(const itr_cu_scan_batch *b, int64_t i0, int64_t ni, int64_t j0, int64_t nc, int stage,
                            double *X, double *sims, int64_t ld_sims, double *attnT, int64_t attn_stride,
                            double *row_sim, int64_t r_stride);

#endif
