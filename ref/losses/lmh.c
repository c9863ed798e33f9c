/* lmh.c - the hinge triplet loss shared by every seed paper: LMH (VSE++ max
 * of hinges, VSE0 sum of hinges) and its per-pair-margin form used by LSEH.
 * Specs: losses_vsl_lseh.md s1.6, s2.4, s2.6, s2.7; vsepp_vseinfty.md s1.7;
 * scan_sgraf.md s6.1.
 *
 * Forward (float32 in upstream, order of operations kept):
 *   u_s[i,j]  = (M[i,j] + S[i,j]) - S[i,i]
 *   u_im[i,j] = (M[i,j] + S[i,j]) - S[j,j]
 *   cost = clamp(u, min=0), then the diagonal is cleared (masked_fill_)
 *   sum:     L_s = sum_ij cost_s,          L_im = sum_ij cost_im
 *   hardest: L_s = sum_i max_j cost_s,     L_im = sum_j max_i cost_im
 *   L = L_s + L_im
 *
 * Backward (what autograd does, derived by hand):
 *   sum:     for i != j with u_s[i,j] >= 0: dS[i,j] += 1, dS[i,i] -= 1,
 *            and with u_im[i,j] >= 0:       dS[i,j] += 1, dS[j,j] -= 1.
 *   hardest: the same, but only for the arg-max entry of each row (cost_s)
 *            and of each column (cost_im).
 * QUIRK(LMH-clamp0): clamp(min=0) passes the gradient where u == 0 exactly
 *   (torch's mask is x >= min), so ">= 0", not "> 0".
 * QUIRK(LMH-argmax-first): among equal maxima torch's max(dim) returns the
 *   first index; when that index is the (masked) diagonal the row or
 *   column contributes no gradient even if another entry has u == 0.
 * QUIRK(LMH-diag-after-clamp): the diagonal is cleared after the clamp, so
 *   it holds 0 and takes part in the max (a row whose hinges are all 0
 *   picks index 0). */
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

/* Hinge value at (i, j): clamp(u, min=0) with the diagonal cleared. */
static inline double hinge_at(const double *u, int64_t B, int64_t i, int64_t j) {
    double v = u[i * B + j];
    return (i == j || v < 0.0) ? 0.0 : v;
}

itr_status itr_hinge_core(const double *S, int64_t B, double margin, const double *margins,
                          int hardest, int f32, itr_hinge_result *res,
                          double *cost_s, double *cost_im, double *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_hinge_loss");
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_hinge_loss: NULL score matrix");
    double *us = NULL, *uim = NULL;
    if ((st = itr_loss_alloc_d(&us, B * B, "itr_hinge_loss"))) return st;
    if ((st = itr_loss_alloc_d(&uim, B * B, "itr_hinge_loss"))) {
        free(us);
        return st;
    }
    /* pre-activations */
    for (int64_t i = 0; i < B; i++) {
        for (int64_t j = 0; j < B; j++) {
            double m = margins ? margins[i * B + j] : margin;
            double ms = itr_rnd(m + S[i * B + j], f32);
            us[i * B + j] = itr_rnd(ms - S[i * B + i], f32);
            uim[i * B + j] = itr_rnd(ms - S[j * B + j], f32);
        }
    }
    if (dS) memset(dS, 0, (size_t)(B * B) * sizeof *dS);
    double sum_s = 0.0, sum_im = 0.0;
    if (!hardest) {
        for (int64_t i = 0; i < B; i++) {
            for (int64_t j = 0; j < B; j++) {
                double hs = hinge_at(us, B, i, j), him = hinge_at(uim, B, i, j);
                sum_s += hs;
                sum_im += him;
                if (cost_s) cost_s[i * B + j] = hs;
                if (cost_im) cost_im[i * B + j] = him;
                if (dS && i != j) {
                    if (us[i * B + j] >= 0.0) {
                        dS[i * B + j] += 1.0;
                        dS[i * B + i] -= 1.0;
                    }
                    if (uim[i * B + j] >= 0.0) {
                        dS[i * B + j] += 1.0;
                        dS[j * B + j] -= 1.0;
                    }
                }
            }
        }
    } else {
        /* image i as query: hardest caption over row i */
        for (int64_t i = 0; i < B; i++) {
            int64_t best = 0;
            for (int64_t j = 1; j < B; j++)
                if (hinge_at(us, B, i, j) > hinge_at(us, B, i, best)) best = j;   /* strict: first max wins */
            double h = hinge_at(us, B, i, best);
            sum_s += h;
            if (cost_s) cost_s[i] = h;
            if (dS && best != i && us[i * B + best] >= 0.0) {
                dS[i * B + best] += 1.0;
                dS[i * B + i] -= 1.0;
            }
        }
        /* caption j as query: hardest image over column j */
        for (int64_t j = 0; j < B; j++) {
            int64_t best = 0;
            for (int64_t i = 1; i < B; i++)
                if (hinge_at(uim, B, i, j) > hinge_at(uim, B, best, j)) best = i;
            double h = hinge_at(uim, B, best, j);
            sum_im += h;
            if (cost_im) cost_im[j] = h;
            if (dS && best != j && uim[best * B + j] >= 0.0) {
                dS[best * B + j] += 1.0;
                dS[j * B + j] -= 1.0;
            }
        }
    }
    if (res) {
        res->loss_s = itr_rnd(sum_s, f32);
        res->loss_im = itr_rnd(sum_im, f32);
        res->loss = itr_rnd(res->loss_s + res->loss_im, f32);
    }
    free(us);
    free(uim);
    return ITR_OK;
}

itr_status itr_hinge_loss_f64(const double *S, int64_t B, double margin, const double *margins,
                              int hardest, itr_hinge_result *res,
                              double *cost_s, double *cost_im, double *dS) {
    return itr_hinge_core(S, B, margin, margins, hardest, 0, res, cost_s, cost_im, dS);
}

itr_status itr_hinge_loss(const float *S, int64_t B, float margin, const float *margins,
                          int hardest, itr_hinge_result *res,
                          float *cost_s, float *cost_im, float *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_hinge_loss");
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_hinge_loss: NULL score matrix");
    int64_t nc = hardest ? B : B * B;
    double *s = NULL, *m = NULL, *cs = NULL, *ci = NULL, *g = NULL;
    if ((st = itr_loss_alloc_d(&s, B * B, "itr_hinge_loss")) ||
        (margins && (st = itr_loss_alloc_d(&m, B * B, "itr_hinge_loss"))) ||
        (st = itr_loss_alloc_d(&cs, nc, "itr_hinge_loss")) ||
        (st = itr_loss_alloc_d(&ci, nc, "itr_hinge_loss")) ||
        (st = itr_loss_alloc_d(&g, B * B, "itr_hinge_loss")))
        goto done;
    itr_loss_f2d(S, B * B, s);
    if (margins) itr_loss_f2d(margins, B * B, m);
    st = itr_hinge_core(s, B, (double)margin, m, hardest, 1, res, cs, ci, dS ? g : NULL);
    if (st) goto done;
    if (cost_s) itr_loss_d2f(cs, nc, cost_s);
    if (cost_im) itr_loss_d2f(ci, nc, cost_im);
    if (dS) itr_loss_d2f(g, B * B, dS);
done:
    free(s);
    free(m);
    free(cs);
    free(ci);
    free(g);
    return st;
}

itr_status itr_lmh_loss(const float *S, int64_t B, float margin, int hardest,
                        itr_hinge_result *res, float *cost_s, float *cost_im, float *dS) {
    return itr_hinge_loss(S, B, margin, NULL, hardest, res, cost_s, cost_im, dS);
}

itr_status itr_embed_hinge_f32(itr_measure m, const float *im, const float *s,
                               int64_t B, int64_t d, float margin, const float *margins,
                               int hardest, itr_hinge_result *res, float *S, float *dS,
                               float *dim, float *ds) {
    itr_status st = itr_loss_check_batch(B, "embedding loss");
    if (st) return st;
    float *sc = malloc((size_t)(B * B) * sizeof *sc);
    float *g = malloc((size_t)(B * B) * sizeof *g);
    if (!sc || !g) {
        st = itr_fail(ITR_E_NOMEM, "embedding loss: out of memory (B=%lld)", (long long)B);
        goto done;
    }
    if ((st = itr_loss_scores(m, im, s, B, d, sc))) goto done;
    if ((st = itr_hinge_loss(sc, B, margin, margins, hardest, res, NULL, NULL, g))) goto done;
    if (dim || ds)
        if ((st = itr_loss_scores_backward(m, im, s, B, d, g, dim, ds))) goto done;
    if (S) memcpy(S, sc, (size_t)(B * B) * sizeof *S);
    if (dS) memcpy(dS, g, (size_t)(B * B) * sizeof *dS);
done:
    free(sc);
    free(g);
    return st;
}

itr_status itr_lmh_embed_loss(itr_measure m, const float *im, const float *s,
                              int64_t B, int64_t d, float margin, int hardest,
                              itr_hinge_result *res, float *S, float *dS,
                              float *dim, float *ds) {
    return itr_embed_hinge_f32(m, im, s, B, d, margin, NULL, hardest, res, S, dS, dim, ds);
}
