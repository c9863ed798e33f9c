/* similarity.c - score matrices built inside the embedding losses, and their
 * backward pass (specs/vsepp_vseinfty.md s1.6; losses_vsl_lseh.md s2.6).
 *
 *   cosine: S[i,j] = sum_k im[i,k] s[j,k]
 *           dim = dS s,  ds = dS^T im
 *   order:  S[i,j] = -sqrt( sum_k c_k^2 ),  c_k = max(0, s[j,k] - im[i,k])
 *           with n = sqrt(...), t = -g / (2 n) (g = dS[i,j]):
 *           ds[j,k] += t * 2 c_k,  dim[i,k] -= t * 2 c_k   (c_k >= 0 branch)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

itr_status itr_measure_from_name(const char *name, itr_measure *out) {
    if (!name || !out) return itr_fail(ITR_E_ARG, "itr_measure_from_name: NULL argument");
    if (strcmp(name, "cosine") == 0 || name[0] == '\0') {
        *out = ITR_MEASURE_COSINE;
        return ITR_OK;
    }
    if (strcmp(name, "order") == 0) {
        *out = ITR_MEASURE_ORDER;
        return ITR_OK;
    }
    return itr_fail(ITR_E_UNSUPPORTED, "measure '%s': expected 'cosine' or 'order'", name);
}

static itr_status check_args(const char *fn, const void *im, const void *s, int64_t B, int64_t d) {
    if (!im || !s) return itr_fail(ITR_E_ARG, "%s: NULL embeddings", fn);
    if (d <= 0) return itr_fail(ITR_E_SHAPE, "%s: embedding dimension %lld, need d >= 1", fn, (long long)d);
    return itr_loss_check_batch(B, fn);
}

itr_status itr_scores_core(itr_measure m, const double *im, const double *s,
                           int64_t B, int64_t d, int f32, double *S) {
    itr_status st = check_args("itr_loss_scores", im, s, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_loss_scores: NULL output");
    for (int64_t i = 0; i < B; i++) {
        const double *x = im + i * d;
        for (int64_t j = 0; j < B; j++) {
            const double *y = s + j * d;
            double acc = 0.0;
            if (m == ITR_MEASURE_COSINE) {
                for (int64_t k = 0; k < d; k++) acc += x[k] * y[k];
                S[i * B + j] = itr_rnd(acc, f32);
            } else {
                /* order_sim: clamp(s - im, min=0) ** 2, summed, sqrt, negated */
                for (int64_t k = 0; k < d; k++) {
                    double c = itr_rnd(y[k] - x[k], f32);
                    if (c < 0.0) c = 0.0;
                    acc += itr_rnd(c * c, f32);
                }
                S[i * B + j] = -itr_rnd(sqrt(itr_rnd(acc, f32)), f32);
            }
        }
    }
    return ITR_OK;
}

itr_status itr_scores_backward_core(itr_measure m, const double *im, const double *s,
                                    int64_t B, int64_t d, const double *dS, int f32,
                                    double *dim, double *ds) {
    itr_status st = check_args("itr_loss_scores_backward", im, s, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "itr_loss_scores_backward: NULL dS");
    double *gim = NULL, *gs = NULL;
    if ((st = itr_loss_alloc_d(&gim, B * d, "itr_loss_scores_backward"))) return st;
    if ((st = itr_loss_alloc_d(&gs, B * d, "itr_loss_scores_backward"))) {
        free(gim);
        return st;
    }
    memset(gim, 0, (size_t)(B * d) * sizeof *gim);
    memset(gs, 0, (size_t)(B * d) * sizeof *gs);
    for (int64_t i = 0; i < B; i++) {
        const double *x = im + i * d;
        for (int64_t j = 0; j < B; j++) {
            const double *y = s + j * d;
            double g = dS[i * B + j];
            if (m == ITR_MEASURE_COSINE) {
                for (int64_t k = 0; k < d; k++) {
                    gim[i * d + k] += g * y[k];
                    gs[j * d + k] += g * x[k];
                }
                continue;
            }
            /* order: recompute n = sqrt(sum c^2) exactly as the forward did */
            double acc = 0.0;
            for (int64_t k = 0; k < d; k++) {
                double c = itr_rnd(y[k] - x[k], f32);
                if (c < 0.0) c = 0.0;
                acc += itr_rnd(c * c, f32);
            }
            double n = itr_rnd(sqrt(itr_rnd(acc, f32)), f32);
            /* QUIRK(vsepp-order-sqrt): autograd's sqrt backward is grad/(2*result);
             * a pair with s_j <= im_i in every coordinate has n = 0, so pow's
             * backward gives (+-inf or NaN) * 0 = NaN, which clamp's where()
             * keeps exactly at the coordinates with s_j[k] == im_i[k] and
             * zeroes elsewhere. Reproduced rather than inventing a subgradient. */
            double t = itr_rnd(-g / itr_rnd(2.0 * n, f32), f32);
            for (int64_t k = 0; k < d; k++) {
                double diff = itr_rnd(y[k] - x[k], f32);
                if (diff < 0.0) continue;         /* clamp(min=0) passes at 0 */
                double gk = itr_rnd(t * itr_rnd(2.0 * diff, f32), f32);
                gs[j * d + k] += gk;
                gim[i * d + k] -= gk;
            }
        }
    }
    for (int64_t e = 0; e < B * d; e++) {
        if (dim) dim[e] = itr_rnd(gim[e], f32);
        if (ds) ds[e] = itr_rnd(gs[e], f32);
    }
    free(gim);
    free(gs);
    return ITR_OK;
}

itr_status itr_loss_scores_f64(itr_measure m, const double *im, const double *s,
                               int64_t B, int64_t d, double *S) {
    return itr_scores_core(m, im, s, B, d, 0, S);
}

itr_status itr_loss_scores_backward_f64(itr_measure m, const double *im, const double *s,
                                        int64_t B, int64_t d, const double *dS,
                                        double *dim, double *ds) {
    return itr_scores_backward_core(m, im, s, B, d, dS, 0, dim, ds);
}

/* Float front ends: widen the inputs, run the core in float32 mode, narrow. */
itr_status itr_loss_scores(itr_measure m, const float *im, const float *s,
                           int64_t B, int64_t d, float *S) {
    itr_status st = check_args("itr_loss_scores", im, s, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_loss_scores: NULL output");
    double *x = NULL, *y = NULL, *r = NULL;
    if ((st = itr_loss_alloc_d(&x, B * d, "itr_loss_scores")) ||
        (st = itr_loss_alloc_d(&y, B * d, "itr_loss_scores")) ||
        (st = itr_loss_alloc_d(&r, B * B, "itr_loss_scores")))
        goto done;
    itr_loss_f2d(im, B * d, x);
    itr_loss_f2d(s, B * d, y);
    if ((st = itr_scores_core(m, x, y, B, d, 1, r))) goto done;
    itr_loss_d2f(r, B * B, S);
done:
    free(x);
    free(y);
    free(r);
    return st;
}

itr_status itr_loss_scores_backward(itr_measure m, const float *im, const float *s,
                                    int64_t B, int64_t d, const float *dS,
                                    float *dim, float *ds) {
    itr_status st = check_args("itr_loss_scores_backward", im, s, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "itr_loss_scores_backward: NULL dS");
    double *x = NULL, *y = NULL, *g = NULL, *gx = NULL, *gy = NULL;
    if ((st = itr_loss_alloc_d(&x, B * d, "itr_loss_scores_backward")) ||
        (st = itr_loss_alloc_d(&y, B * d, "itr_loss_scores_backward")) ||
        (st = itr_loss_alloc_d(&g, B * B, "itr_loss_scores_backward")) ||
        (st = itr_loss_alloc_d(&gx, B * d, "itr_loss_scores_backward")) ||
        (st = itr_loss_alloc_d(&gy, B * d, "itr_loss_scores_backward")))
        goto done;
    itr_loss_f2d(im, B * d, x);
    itr_loss_f2d(s, B * d, y);
    itr_loss_f2d(dS, B * B, g);
    if ((st = itr_scores_backward_core(m, x, y, B, d, g, 1, gx, gy))) goto done;
    if (dim) itr_loss_d2f(gx, B * d, dim);
    if (ds) itr_loss_d2f(gy, B * d, ds);
done:
    free(x);
    free(y);
    free(g);
    free(gx);
    free(gy);
    return st;
}
