/* scan_sims.c - SCAN's cross-attention score matrix as its ContrastiveLoss
 * builds it (kuanghuei/SCAN model.py func_attention, xattn_score_t2i/i2t;
 * specs/scan_sgraf.md s4.1, s4.4, s6.1), forward and analytic backward.
 *
 * One (image i, caption j) pair, with queries Q (nq x d) and context C
 * (nc x d): t2i: Q = the caption's words, C = the image's regions; i2t the
 * other way round.
 *   A0[r,q] = C_r . Q_q                                  logits (nc x nq)
 *   A2      = first norm of each context row r across the queries q:
 *             clipped_l2norm: A1 = lrelu(A0), A2 = A1 / (||A1_r|| + 1e-8)
 *             l2norm: the same without lrelu; softmax: softmax over q;
 *             clipped: lrelu only; no_norm: A0
 *   P[q,r]  = softmax_r(lambda_softmax * A2[r,q])         attention
 *   a_q     = sum_r P[q,r] C_r                            attended context
 *   c_q     = (Q_q . a_q) / max(||Q_q|| ||a_q||, 1e-8)     cosine
 *   score   = (1/l2) ln sum_q exp(l2 c_q) (no max shift) | mean | max | sum
 * lrelu has slope 0.1; SCAN's l2norm adds eps after the sqrt.
 *
 * Backward, for g = dL/dscore (dq = dL/dc_q):
 *   LSE: dc_q = g softmax_q(l2 c)_q; mean g/nq; sum g; max: g at the first max
 *   cosine (den = max(|w||a|, eps), p = w.a, clamp passes where |w||a| >= eps):
 *     dw = dc (a/den - p/den^2 |a| w/|w|),  da = dc (w/den - p/den^2 |w| a/|a|)
 *   a_q = P C:  dP[q,r] = da_q . C_r,  dC_r += P[q,r] da_q
 *   softmax:    dA2[r,q] = l1 P[q,r] (dP[q,r] - sum_r' P[q,r'] dP[q,r'])
 *   l2norm:     dA1 = dA2/den - (sum_q dA2 A1)/den^2 A1/n   (den = n + eps)
 *   lrelu:      dA0 = dA1 (A0 > 0 ? 1 : 0.1); softmax norm: the usual Jacobian
 *   logits:     dC_r += sum_q dA0[r,q] Q_q,  dQ_q += sum_r dA0[r,q] C_r
 * Everything runs in double; the float API rounds the results once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

#define SCAN_EPS 1e-8          /* l2norm and cosine_similarity eps */
#define SCAN_LRELU_SLOPE 0.1   /* nn.LeakyReLU(0.1) */

void itr_scan_params_default(itr_scan_params *p) {
    p->dir = ITR_SCAN_T2I;
    p->norm = ITR_SCAN_NORM_CLIPPED_L2;
    p->agg = ITR_SCAN_AGG_LSE;
    p->lambda_softmax = 9.0;
    p->lambda_lse = 6.0;
}

itr_status itr_scan_params_parse(itr_scan_params *p, const char *cross_attn,
                                 const char *raw_feature_norm, const char *agg_func) {
    if (!p) return itr_fail(ITR_E_ARG, "itr_scan_params_parse: NULL params");
    if (cross_attn) {
        if (strcmp(cross_attn, "t2i") == 0) p->dir = ITR_SCAN_T2I;
        else if (strcmp(cross_attn, "i2t") == 0) p->dir = ITR_SCAN_I2T;
        else return itr_fail(ITR_E_UNSUPPORTED, "SCAN cross_attn '%s': expected t2i or i2t", cross_attn);
    }
    if (raw_feature_norm) {
        static const char *const names[] = {"clipped_l2norm", "l2norm", "softmax", "clipped", "no_norm"};
        int found = 0;
        for (int k = 0; k < 5; k++) {
            if (strcmp(raw_feature_norm, names[k]) == 0) {
                p->norm = (itr_scan_norm)k;
                found = 1;
            }
        }
        if (!found)
            return itr_fail(ITR_E_UNSUPPORTED,
                            "SCAN raw_feature_norm '%s': expected clipped_l2norm, l2norm, softmax, "
                            "clipped or no_norm (l1norm variants crash upstream, QUIRK-S5)",
                            raw_feature_norm);
    }
    if (agg_func) {
        static const char *const names[] = {"LogSumExp", "Mean", "Max", "Sum"};
        int found = 0;
        for (int k = 0; k < 4; k++) {
            if (strcmp(agg_func, names[k]) == 0) {
                p->agg = (itr_scan_agg)k;
                found = 1;
            }
        }
        if (!found)
            return itr_fail(ITR_E_UNSUPPORTED,
                            "SCAN agg_func '%s': expected LogSumExp, Mean, Max or Sum", agg_func);
    }
    return ITR_OK;
}

/* ---- one pair ------------------------------------------------------------ */

typedef struct xattn_ws {
    double *A0, *A2;      /* (nc, nq) logits and normalised logits    */
    double *nrm;          /* (nc) l2 norm of each context row         */
    double *P, *dP;       /* (nq, nc) attention and its gradient      */
    double *att;          /* (nq, d) attended vectors                 */
    double *cosv, *dc;    /* (nq) cosines and their gradient          */
    double *dA, *da;      /* (nc, nq) logit gradient, (d) scratch     */
} xattn_ws;

static double dot(const double *x, const double *y, int64_t d) {
    double acc = 0.0;
    for (int64_t k = 0; k < d; k++) acc += x[k] * y[k];
    return acc;
}

static double lrelu(double x) { return x > 0.0 ? x : SCAN_LRELU_SLOPE * x; }

static double pair_forward(const itr_scan_params *p, const double *Q, int64_t nq,
                           const double *C, int64_t nc, int64_t d, xattn_ws *w) {
    for (int64_t r = 0; r < nc; r++) {
        double *a0 = w->A0 + r * nq, *a2 = w->A2 + r * nq;
        for (int64_t q = 0; q < nq; q++) a0[q] = dot(C + r * d, Q + q * d, d);
        if (p->norm == ITR_SCAN_NORM_SOFTMAX) {
            double mx = a0[0], z = 0.0;
            for (int64_t q = 1; q < nq; q++) mx = a0[q] > mx ? a0[q] : mx;
            for (int64_t q = 0; q < nq; q++) z += (a2[q] = exp(a0[q] - mx));
            for (int64_t q = 0; q < nq; q++) a2[q] /= z;
            continue;
        }
        int clip = p->norm == ITR_SCAN_NORM_CLIPPED_L2 || p->norm == ITR_SCAN_NORM_CLIPPED;
        for (int64_t q = 0; q < nq; q++) a2[q] = clip ? lrelu(a0[q]) : a0[q];
        if (p->norm == ITR_SCAN_NORM_CLIPPED_L2 || p->norm == ITR_SCAN_NORM_L2) {
            w->nrm[r] = sqrt(dot(a2, a2, nq));
            for (int64_t q = 0; q < nq; q++) a2[q] /= w->nrm[r] + SCAN_EPS;
        }
    }
    for (int64_t q = 0; q < nq; q++) {
        double *pr = w->P + q * nc, mx = p->lambda_softmax * w->A2[q], z = 0.0;
        for (int64_t r = 1; r < nc; r++) {
            double v = p->lambda_softmax * w->A2[r * nq + q];
            mx = v > mx ? v : mx;
        }
        for (int64_t r = 0; r < nc; r++) z += (pr[r] = exp(p->lambda_softmax * w->A2[r * nq + q] - mx));
        double *a = w->att + q * d;
        memset(a, 0, (size_t)d * sizeof *a);
        for (int64_t r = 0; r < nc; r++) {
            pr[r] /= z;
            for (int64_t k = 0; k < d; k++) a[k] += pr[r] * C[r * d + k];
        }
        const double *x = Q + q * d;
        double den = sqrt(dot(x, x, d)) * sqrt(dot(a, a, d));
        w->cosv[q] = dot(x, a, d) / (den > SCAN_EPS ? den : SCAN_EPS);
    }
    double agg = 0.0;
    switch (p->agg) {
    case ITR_SCAN_AGG_LSE:
        for (int64_t q = 0; q < nq; q++) agg += exp(p->lambda_lse * w->cosv[q]);
        return log(agg) / p->lambda_lse;
    case ITR_SCAN_AGG_MAX:
        agg = w->cosv[0];
        for (int64_t q = 1; q < nq; q++) agg = w->cosv[q] > agg ? w->cosv[q] : agg;
        return agg;
    case ITR_SCAN_AGG_MEAN:
    case ITR_SCAN_AGG_SUM:
        for (int64_t q = 0; q < nq; q++) agg += w->cosv[q];
        return p->agg == ITR_SCAN_AGG_MEAN ? agg / (double)nq : agg;
    }
    return agg;
}

/* Accumulates g * dscore/dQ into dQ (nq, d) and g * dscore/dC into dC (nc, d);
 * w holds the forward pass of the same pair. */
static void pair_backward(const itr_scan_params *p, const double *Q, int64_t nq,
                          const double *C, int64_t nc, int64_t d, xattn_ws *w, double g,
                          double *dQ, double *dC) {
    /* aggregation */
    if (p->agg == ITR_SCAN_AGG_LSE) {
        double z = 0.0;
        for (int64_t q = 0; q < nq; q++) z += exp(p->lambda_lse * w->cosv[q]);
        for (int64_t q = 0; q < nq; q++) w->dc[q] = g * exp(p->lambda_lse * w->cosv[q]) / z;
    } else if (p->agg == ITR_SCAN_AGG_MAX) {
        int64_t best = 0;
        for (int64_t q = 1; q < nq; q++) if (w->cosv[q] > w->cosv[best]) best = q;
        for (int64_t q = 0; q < nq; q++) w->dc[q] = q == best ? g : 0.0;
    } else {
        double s = p->agg == ITR_SCAN_AGG_MEAN ? g / (double)nq : g;
        for (int64_t q = 0; q < nq; q++) w->dc[q] = s;
    }
    /* cosine, attended context, attention softmax */
    for (int64_t q = 0; q < nq; q++) {
        const double *x = Q + q * d, *a = w->att + q * d;
        double *gx = dQ + q * d, *pr = w->P + q * nc, *dp = w->dP + q * nc, dcq = w->dc[q];
        double nx = sqrt(dot(x, x, d)), na = sqrt(dot(a, a, d)), pd = dot(x, a, d);
        double qq = nx * na, den = qq > SCAN_EPS ? qq : SCAN_EPS;
        double coef = qq >= SCAN_EPS ? -dcq * pd / (den * den) : 0.0;   /* through the norms */
        for (int64_t k = 0; k < d; k++) {
            gx[k] += dcq * a[k] / den + (nx > 0.0 ? coef * na * x[k] / nx : 0.0);
            w->da[k] = dcq * x[k] / den + (na > 0.0 ? coef * nx * a[k] / na : 0.0);
        }
        double s = 0.0;
        for (int64_t r = 0; r < nc; r++) {
            dp[r] = dot(w->da, C + r * d, d);
            s += pr[r] * dp[r];
            for (int64_t k = 0; k < d; k++) dC[r * d + k] += pr[r] * w->da[k];
        }
        for (int64_t r = 0; r < nc; r++)
            w->dA[r * nq + q] = p->lambda_softmax * pr[r] * (dp[r] - s);
    }
    /* first norm, per context row r (dA holds dA2 and becomes dA0) */
    for (int64_t r = 0; r < nc; r++) {
        double *ga = w->dA + r * nq;
        const double *a0 = w->A0 + r * nq, *a2 = w->A2 + r * nq;
        if (p->norm == ITR_SCAN_NORM_SOFTMAX) {
            double s = 0.0;
            for (int64_t q = 0; q < nq; q++) s += a2[q] * ga[q];
            for (int64_t q = 0; q < nq; q++) ga[q] = a2[q] * (ga[q] - s);
        } else if (p->norm == ITR_SCAN_NORM_CLIPPED_L2 || p->norm == ITR_SCAN_NORM_L2) {
            int clip = p->norm == ITR_SCAN_NORM_CLIPPED_L2;
            double n = w->nrm[r], den = n + SCAN_EPS, s = 0.0;
            for (int64_t q = 0; q < nq; q++) s += ga[q] * (clip ? lrelu(a0[q]) : a0[q]);
            for (int64_t q = 0; q < nq; q++) {
                double a1 = clip ? lrelu(a0[q]) : a0[q];
                /* a zero row has n = 0: the norm term is dropped (autograd: NaN) */
                double v = ga[q] / den - (n > 0.0 ? s / (den * den) * a1 / n : 0.0);
                ga[q] = clip ? v * (a0[q] > 0.0 ? 1.0 : SCAN_LRELU_SLOPE) : v;
            }
        } else if (p->norm == ITR_SCAN_NORM_CLIPPED) {
            for (int64_t q = 0; q < nq; q++) ga[q] *= a0[q] > 0.0 ? 1.0 : SCAN_LRELU_SLOPE;
        }
        /* logits A0[r,q] = C_r . Q_q */
        for (int64_t q = 0; q < nq; q++) {
            double gq = ga[q];
            if (gq == 0.0) continue;
            for (int64_t k = 0; k < d; k++) {
                dC[r * d + k] += gq * Q[q * d + k];
                dQ[q * d + k] += gq * C[r * d + k];
            }
        }
    }
}

/* ---- the whole matrix -------------------------------------------------------- */

static itr_status check_scan(const char *fn, const itr_scan_params *p, const void *im, int64_t R,
                             const void *s, const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d) {
    if (!p || !im || !s || !s_l) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_status st = itr_loss_check_batch(B, fn);
    if (st) return st;
    if (R <= 0 || Lmax <= 0 || d <= 0)
        return itr_fail(ITR_E_SHAPE, "%s: im (%lld, %lld, %lld), s (%lld, %lld, %lld): empty axis", fn,
                        (long long)B, (long long)R, (long long)d, (long long)B, (long long)Lmax,
                        (long long)d);
    for (int64_t j = 0; j < B; j++)
        if (s_l[j] < 1 || s_l[j] > Lmax)
            return itr_fail(ITR_E_SHAPE, "%s: s_l[%lld] = %lld outside [1, Lmax = %lld]", fn,
                            (long long)j, (long long)s_l[j], (long long)Lmax);
    return ITR_OK;
}

/* Forward (S) and, when dS != NULL, backward (dim, ds, both required). */
static itr_status scan_core(const itr_scan_params *p, const double *im, int64_t R,
                            const double *s, const int64_t *s_l, int64_t Lmax, int64_t B,
                            int64_t d, double *S, const double *dS, double *dim, double *ds) {
    int64_t n = R > Lmax ? R : Lmax;     /* upper bound of nq and nc */
    xattn_ws w;
    double *buf = NULL;
    /* one block: A0, A2, P, dP, dA (n x n each) | nrm, cosv, dc (n) | att (n x d) | da (d) */
    itr_status st = itr_loss_alloc_d(&buf, 5 * n * n + 3 * n + n * d + d, "itr_scan_scores");
    if (st) return st;
    w.A0 = buf;
    w.A2 = w.A0 + n * n;
    w.P = w.A2 + n * n;
    w.dP = w.P + n * n;
    w.dA = w.dP + n * n;
    w.nrm = w.dA + n * n;
    w.cosv = w.nrm + n;
    w.dc = w.cosv + n;
    w.att = w.dc + n;
    w.da = w.att + n * d;
    if (dS) {
        memset(dim, 0, (size_t)(B * R * d) * sizeof *dim);
        memset(ds, 0, (size_t)(B * Lmax * d) * sizeof *ds);
    }
    for (int64_t i = 0; i < B; i++) {
        const double *V = im + i * R * d;
        for (int64_t j = 0; j < B; j++) {
            const double *W = s + j * Lmax * d;
            int t2i = p->dir == ITR_SCAN_T2I;
            const double *Q = t2i ? W : V, *C = t2i ? V : W;
            int64_t nq = t2i ? s_l[j] : R, nc = t2i ? R : s_l[j];
            double v = pair_forward(p, Q, nq, C, nc, d, &w);
            if (S) S[i * B + j] = v;
            if (!dS || dS[i * B + j] == 0.0) continue;
            double *dQ = t2i ? ds + j * Lmax * d : dim + i * R * d;
            double *dC = t2i ? dim + i * R * d : ds + j * Lmax * d;
            pair_backward(p, Q, nq, C, nc, d, &w, dS[i * B + j], dQ, dC);
        }
    }
    free(buf);
    return ITR_OK;
}

itr_status itr_scan_scores_f64(const itr_scan_params *p, const double *im, int64_t R,
                               const double *s, const int64_t *s_l, int64_t Lmax,
                               int64_t B, int64_t d, double *S) {
    itr_status st = check_scan("itr_scan_scores", p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_scan_scores: NULL output");
    return scan_core(p, im, R, s, s_l, Lmax, B, d, S, NULL, NULL, NULL);
}

itr_status itr_scan_scores_backward_f64(const itr_scan_params *p, const double *im, int64_t R,
                                        const double *s, const int64_t *s_l, int64_t Lmax,
                                        int64_t B, int64_t d, const double *dS,
                                        double *dim, double *ds) {
    itr_status st = check_scan("itr_scan_scores_backward", p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "itr_scan_scores_backward: NULL dS");
    double *gi = NULL, *gs = NULL;
    if ((st = itr_loss_alloc_d(&gi, B * R * d, "itr_scan_scores_backward")) ||
        (st = itr_loss_alloc_d(&gs, B * Lmax * d, "itr_scan_scores_backward")))
        goto done;
    if ((st = scan_core(p, im, R, s, s_l, Lmax, B, d, NULL, dS, gi, gs))) goto done;
    if (dim) memcpy(dim, gi, (size_t)(B * R * d) * sizeof *dim);
    if (ds) memcpy(ds, gs, (size_t)(B * Lmax * d) * sizeof *ds);
done:
    free(gi);
    free(gs);
    return st;
}

/* Float API: widen, run the double core, narrow once. */
typedef struct scan_f64_inputs { double *im, *s; } scan_f64_inputs;

static itr_status widen(const float *im, int64_t nim, const float *s, int64_t ns,
                        scan_f64_inputs *x, const char *fn) {
    itr_status st;
    x->im = x->s = NULL;
    if ((st = itr_loss_alloc_d(&x->im, nim, fn)) || (st = itr_loss_alloc_d(&x->s, ns, fn))) {
        free(x->im);
        return st;
    }
    itr_loss_f2d(im, nim, x->im);
    itr_loss_f2d(s, ns, x->s);
    return ITR_OK;
}

itr_status itr_scan_scores(const itr_scan_params *p, const float *im, int64_t R,
                           const float *s, const int64_t *s_l, int64_t Lmax,
                           int64_t B, int64_t d, float *S) {
    itr_status st = check_scan("itr_scan_scores", p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_scan_scores: NULL output");
    scan_f64_inputs x;
    double *r = NULL;
    if ((st = widen(im, B * R * d, s, B * Lmax * d, &x, "itr_scan_scores"))) return st;
    if (!(st = itr_loss_alloc_d(&r, B * B, "itr_scan_scores")) &&
        !(st = scan_core(p, x.im, R, x.s, s_l, Lmax, B, d, r, NULL, NULL, NULL)))
        itr_loss_d2f(r, B * B, S);
    free(r);
    free(x.im);
    free(x.s);
    return st;
}

itr_status itr_scan_scores_backward(const itr_scan_params *p, const float *im, int64_t R,
                                    const float *s, const int64_t *s_l, int64_t Lmax,
                                    int64_t B, int64_t d, const float *dS,
                                    float *dim, float *ds) {
    itr_status st = check_scan("itr_scan_scores_backward", p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    if (!dS) return itr_fail(ITR_E_ARG, "itr_scan_scores_backward: NULL dS");
    scan_f64_inputs x;
    double *g = NULL, *gi = NULL, *gs = NULL;
    if ((st = widen(im, B * R * d, s, B * Lmax * d, &x, "itr_scan_scores_backward"))) return st;
    if ((st = itr_loss_alloc_d(&g, B * B, "itr_scan_scores_backward")) ||
        (st = itr_loss_alloc_d(&gi, B * R * d, "itr_scan_scores_backward")) ||
        (st = itr_loss_alloc_d(&gs, B * Lmax * d, "itr_scan_scores_backward")))
        goto done;
    itr_loss_f2d(dS, B * B, g);
    if ((st = scan_core(p, x.im, R, x.s, s_l, Lmax, B, d, NULL, g, gi, gs))) goto done;
    if (dim) itr_loss_d2f(gi, B * R * d, dim);
    if (ds) itr_loss_d2f(gs, B * Lmax * d, ds);
done:
    free(g);
    free(gi);
    free(gs);
    free(x.im);
    free(x.s);
    return st;
}

itr_status itr_scan_loss(const itr_scan_params *p, const float *im, int64_t R,
                         const float *s, const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d,
                         float margin, int hardest, itr_hinge_result *res,
                         float *S, float *dS, float *dim, float *ds) {
    itr_status st = check_scan("itr_scan_loss", p, im, R, s, s_l, Lmax, B, d);
    if (st) return st;
    float *sc = malloc((size_t)(B * B) * sizeof *sc), *g = malloc((size_t)(B * B) * sizeof *g);
    if (!sc || !g) {
        st = itr_fail(ITR_E_NOMEM, "itr_scan_loss: out of memory (B=%lld)", (long long)B);
        goto done;
    }
    if ((st = itr_scan_scores(p, im, R, s, s_l, Lmax, B, d, sc))) goto done;
    if ((st = itr_lmh_loss(sc, B, margin, hardest, res, NULL, NULL, g))) goto done;
    if ((dim || ds) && (st = itr_scan_scores_backward(p, im, R, s, s_l, Lmax, B, d, g, dim, ds)))
        goto done;
    if (S) memcpy(S, sc, (size_t)(B * B) * sizeof *S);
    if (dS) memcpy(dS, g, (size_t)(B * B) * sizeof *dS);
done:
    free(sc);
    free(g);
    return st;
}
