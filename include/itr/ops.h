/* itr/ops.h - the reference's core float32 operations (ref/core).
 *
 * Plain functions on raw row-major buffers, shapes in comments llm.c style.
 * GEMM goes through CBLAS when built with ITR_BLAS=ON, else plain C loops;
 * every other op is a readable loop. Layout conventions follow PyTorch:
 * linear weights are (out, in), GRU gate blocks are stacked [r; z; n]. */
#ifndef ITR_OPS_H
#define ITR_OPS_H

#include <stdint.h>
#include "itr/status.h"
#include "itr/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM ---------------------------------------------------------------
 * C(M,N) = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * lda/ldb/ldc are row strides of the matrices as stored. */
void itr_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
               float beta, float *C, int64_t ldc);
void itr_dgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
               double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
               double beta, double *C, int64_t ldc);

/* ---- Linear / embedding -------------------------------------------------
 * y(n, out) = x(n, in) W(out, in)^T + b(out)   (b may be NULL) */
void itr_linear(const float *x, int64_t n, int64_t in, const float *W, const float *b,
                int64_t out, float *y);
/* out(n, dim) = table[ids[i]]; fails (ITR_E_ARG) on an id outside [0, vocab). */
itr_status itr_embedding(const float *table, int64_t vocab, int64_t dim,
                         const int64_t *ids, int64_t n, float *out);

/* ---- Norms ---------------------------------------------------------------
 * Upstream repositories disagree on the epsilon of an L2 norm; each
 * convention is named:
 *   ITR_EPS_NONE  : x / ||x||                 (VSE++, VSRN: 0/0 = NaN as upstream)
 *   ITR_EPS_ADD   : x / (||x|| + eps)         (SCAN, SGRAF: eps = 1e-8)
 *   ITR_EPS_CLAMP : x / max(||x||, eps)       (torch.nn.functional.normalize)
 * x is viewed as (outer, axis, inner) and normalised along `axis`:
 * rows of a (n, d) matrix are (n, d, 1). */
typedef enum itr_eps_mode { ITR_EPS_NONE = 0, ITR_EPS_ADD, ITR_EPS_CLAMP } itr_eps_mode;
void itr_l2norm_axis(float *x, int64_t outer, int64_t axis, int64_t inner,
                     itr_eps_mode mode, float eps);
void itr_l1norm_axis(float *x, int64_t outer, int64_t axis, int64_t inner,
                     itr_eps_mode mode, float eps);
/* Row-wise shortcuts: x (n, d). */
void itr_l2norm_rows(float *x, int64_t n, int64_t d, itr_eps_mode mode, float eps);
void itr_l2norm_rows_f64(double *x, int64_t n, int64_t d, itr_eps_mode mode, double eps);

/* ---- Softmax and activations ------------------------------------------- */
/* Softmax along `axis` of x viewed as (outer, axis, inner), max-shifted. */
void itr_softmax_axis(float *x, int64_t outer, int64_t axis, int64_t inner);
void itr_softmax_axis_f64(double *x, int64_t outer, int64_t axis, int64_t inner);
void itr_relu(float *x, int64_t n);
void itr_leaky_relu(float *x, int64_t n, float slope);
void itr_tanh_inplace(float *x, int64_t n);
void itr_sigmoid_inplace(float *x, int64_t n);
float itr_sigmoidf(float x);

/* ---- BatchNorm (eval: running statistics) -------------------------------
 * x viewed as (n, c, inner): y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c].
 * gamma/beta may be NULL (affine=False). */
void itr_batchnorm_eval(float *x, int64_t n, int64_t c, int64_t inner,
                        const float *mean, const float *var,
                        const float *gamma, const float *beta, float eps);

/* ---- GRU (PyTorch nn.GRU semantics, batch_first) -----------------------
 * Gates per step (rows of W_ih/W_hh/b_* stacked [r; z; n], H rows each):
 *   r = sigma(W_ir x + b_ir + W_hr h + b_hr)
 *   z = sigma(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h,  h_{-1} = 0
 * Each sequence runs over its own length only (packed sequence): the
 * backward direction starts at the sequence's last valid step. */
#define ITR_GRU_MAX_LAYERS 8
typedef struct itr_gru {
    int64_t input_size, hidden;
    int num_layers, num_dirs;                 /* num_dirs: 1 or 2            */
    /* [layer][dir]; dir 1 is the reverse direction ("_reverse" keys).
     * w_ih (3H, in_l), w_hh (3H, H), b_ih/b_hh (3H) or NULL (bias=False);
     * in_l = input_size for layer 0, num_dirs * H above. */
    const float *w_ih[ITR_GRU_MAX_LAYERS][2];
    const float *w_hh[ITR_GRU_MAX_LAYERS][2];
    const float *b_ih[ITR_GRU_MAX_LAYERS][2];
    const float *b_hh[ITR_GRU_MAX_LAYERS][2];
} itr_gru;

/* Looks up "<prefix>weight_ih_l<k>[_reverse]" etc. in weights group `group`
 * with shape checks (prefix e.g. "rnn." or "module.rnn."). Biases are
 * optional only if both are absent. Lookup failures are recorded in w
 * (see itr_weights_finish) and returned. */
itr_status itr_gru_load(itr_gru *g, itr_weights *w, const char *group, const char *prefix,
                        int64_t input_size, int64_t hidden, int num_layers, int bidirectional);

/* x: (B, T, input_size), lengths: (B) each in [1, T] (0 is an error).
 * out: (B, T, num_dirs * H) last layer's per-step outputs, forward half
 *      first, 0 at t >= length (as pad_packed_sequence leaves it).
 * h_n: (num_layers * num_dirs, B, H) final state of every layer/direction
 *      (forward: after step length-1; reverse: after step 0), or NULL. */
itr_status itr_gru_forward(const itr_gru *g, const float *x, const int64_t *lengths,
                           int64_t B, int64_t T, float *out, float *h_n);

#ifdef __cplusplus
}
#endif
#endif
