/* norms.c - L2 and L1 normalisation with each upstream epsilon convention.
 *
 *   ITR_EPS_NONE  : x / ||x||            VSE++, VSRN (0/0 = NaN, as upstream)
 *   ITR_EPS_ADD   : x / (||x|| + eps)    SCAN, SGRAF l2norm (eps = 1e-8)
 *   ITR_EPS_CLAMP : x / max(||x||, eps)  torch.nn.functional.normalize
 * x is viewed as (outer, axis, inner) and normalised along the middle axis. */
#include "itr/ops.h"

#include <math.h>

static double denominator(double norm, itr_eps_mode mode, double eps) {
    switch (mode) {
    case ITR_EPS_ADD: return norm + eps;
    case ITR_EPS_CLAMP: return norm > eps ? norm : eps;
    case ITR_EPS_NONE: break;
    }
    return norm;
}

void itr_l2norm_axis(float *x, int64_t outer, int64_t axis, int64_t inner,
                     itr_eps_mode mode, float eps) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            float *p = x + o * axis * inner + i;
            float sq = 0.0f;   /* float32 accumulation, as torch sums float32 */
            for (int64_t k = 0; k < axis; k++) sq += p[k * inner] * p[k * inner];
            float d = (float)denominator(sqrtf(sq), mode, eps);
            for (int64_t k = 0; k < axis; k++) p[k * inner] /= d;
        }
}

void itr_l1norm_axis(float *x, int64_t outer, int64_t axis, int64_t inner,
                     itr_eps_mode mode, float eps) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            float *p = x + o * axis * inner + i;
            float s = 0.0f;
            for (int64_t k = 0; k < axis; k++) s += fabsf(p[k * inner]);
            float d = (float)denominator(s, mode, eps);
            for (int64_t k = 0; k < axis; k++) p[k * inner] /= d;
        }
}

/* Sum of squares of a contiguous row in 8 interleaved float32 partial sums
 * (lane k%8), combined pairwise: the lanes are independent, so the compiler
 * can keep them in one vector register instead of waiting on one serial
 * chain of adds (torch's float32 reductions are not serial either). */
static float sum_squares(const float *p, int64_t d) {
    float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    int64_t k = 0;
    for (; k + 8 <= d; k += 8)
        for (int j = 0; j < 8; j++) lane[j] += p[k + j] * p[k + j];
    for (; k < d; k++) lane[k % 8] += p[k] * p[k];
    return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

void itr_l2norm_rows(float *x, int64_t n, int64_t d, itr_eps_mode mode, float eps) {
    for (int64_t r = 0; r < n; r++) {
        float *p = x + r * d;
        float den = (float)denominator(sqrtf(sum_squares(p, d)), mode, eps);
        for (int64_t k = 0; k < d; k++) p[k] /= den;
    }
}

void itr_l2norm_rows_f64(double *x, int64_t n, int64_t d, itr_eps_mode mode, double eps) {
    for (int64_t r = 0; r < n; r++) {
        double *p = x + r * d, sq = 0.0;
        for (int64_t k = 0; k < d; k++) sq += p[k] * p[k];
        double den = denominator(sqrt(sq), mode, eps);
        for (int64_t k = 0; k < d; k++) p[k] /= den;
    }
}
