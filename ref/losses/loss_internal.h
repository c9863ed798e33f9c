/* loss_internal.h - helpers shared by the files of ref/losses (not public).
 *
 * Every loss is written once, on double buffers, with a flag `f32`. When the
 * flag is set each elementwise result is rounded to float32 with itr_rnd():
 * for +, -, *, / and sqrt of float32 operands, computing in double and
 * rounding once gives exactly the IEEE float32 result (double has more than
 * 2*24+2 bits), so this reproduces PyTorch's float32 arithmetic. Without the
 * flag the same code is plain double math (the public *_f64 functions). */
#ifndef ITR_LOSS_INTERNAL_H
#define ITR_LOSS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "itr/losses.h"

static inline double itr_rnd(double x, int f32) { return f32 ? (double)(float)x : x; }

/* Copies between float and double buffers (n elements). */
void itr_loss_f2d(const float *src, int64_t n, double *dst);
void itr_loss_d2f(const double *src, int64_t n, float *dst);

/* malloc of n doubles / floats with an ITR_E_NOMEM message naming `what`
 * (n == 0 allocates one element so that NULL always means failure). */
itr_status itr_loss_alloc_d(double **out, int64_t n, const char *what);

/* Checks B > 0 and B*B*... below a sane bound; `fn` names the caller. */
itr_status itr_loss_check_batch(int64_t B, const char *fn);

/* Generic cores (double buffers, float32 rounding when f32). */
itr_status itr_hinge_core(const double *S, int64_t B, double margin, const double *margins,
                          int hardest, int f32, itr_hinge_result *res,
                          double *cost_s, double *cost_im, double *dS);
itr_status itr_scores_core(itr_measure m, const double *im, const double *s,
                           int64_t B, int64_t d, int f32, double *S);
itr_status itr_scores_backward_core(itr_measure m, const double *im, const double *s,
                                    int64_t B, int64_t d, const double *dS, int f32,
                                    double *dim, double *ds);

/* Float-API driver of an embedding loss: S = measure(im, s), hinge with
 * scalar margin or per-pair margins (float (B,B) or NULL), back to im, s. */
itr_status itr_embed_hinge_f32(itr_measure m, const float *im, const float *s,
                               int64_t B, int64_t d, float margin, const float *margins,
                               int hardest, itr_hinge_result *res, float *S, float *dS,
                               float *dim, float *ds);

#endif
