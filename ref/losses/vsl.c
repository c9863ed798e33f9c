/* vsl.c - VSL, the visual semantic loss of ZhangXu0963/VSL (model.py,
 * ContrastiveLoss.rank_matrix / visual_semantic_loss; specs/losses_vsl_lseh.md
 * s1.4-s1.7).
 *
 * Smooth rank of a (B, B) matrix X, with a temperature-controlled sigmoid
 *   phi(x) = 1 / (1 + exp(z)),  z = clamp(-x / tau, -c, c)
 *   R(X)[j,k] = 1 + sum_{i != k} phi(X[i,j] - X[j,k])
 * QUIRK(Q-VSL-1): the entry (j,k) is compared with COLUMN j of X (X[i,j]),
 *   as the broadcast X[:,:,None] - X[None,:,:] does; for the symmetric C this
 *   is the row rank, for S it is not. Reproduced.
 *
 * Loss: q = min(Rs, Rc) / max(Rs, Rc),  L_VS = w * (1 - sum_jk q / B^2)
 *
 * Gradient (C is a constant):
 *   G[j,k] = dL/dRs[j,k] = -(w/B^2) / Rc            if Rs < Rc
 *                         = +(w/B^2) Rc / Rs^2       if Rs > Rc
 *                         = 0                        if Rs == Rc
 *   (torch's binary min/max split a tie half/half, which cancels exactly.)
 *   With g[i,j,k] = G[j,k] * dphi/dx at x = S[i,j] - S[j,k], i != k:
 *   dS[i,j] += g[i,j,k] and dS[j,k] -= g[i,j,k].
 *   dphi/dx = phi^2 * exp(z) / tau inside the clamp (-c <= -x/tau <= c,
 *   torch's clamp mask is inclusive) and 0 outside. Computing it from exp(z)
 *   rather than phi (1 - phi) matters in float32: phi rounds to 1.0f long
 *   before exp(z) underflows, and autograd keeps that tiny gradient.
 *
 * float32 mode follows the upstream op order: D = X[i,j] - X[j,k];
 * z = (-D) / (float)tau; clamp; e = exp(z); phi = 1 / (1 + e); sums over i
 * then + 1; ratio; sum / B^2; 1 - that; times w. Exact ties Rs == Rc are
 * common in float32 (phi saturates to 1.0f) and then give G = 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

void itr_vsl_params_default(itr_vsl_params *p) {
    p->margin = 0.2;
    p->hardest = 1;          /* opts.py: --max_violation is store_false */
    p->temperature = 0.001;
    p->exponent_clamp = 50.0;
    p->weight_vsl = 10.0;
    p->weight_lmh = 1.0;
}

/* phi(x) and dphi/dx at x = D (already rounded in float mode). */
typedef struct vsl_sigmoid {
    double tau;      /* temperature (float32 value in float mode) */
    double clamp;    /* exponent clamp */
    int f32;
} vsl_sigmoid;

static double sigmoid_eval(const vsl_sigmoid *sg, double D, double *dphi) {
    double z = itr_rnd(-D / sg->tau, sg->f32);
    int inside = z >= -sg->clamp && z <= sg->clamp;
    if (z < -sg->clamp) z = -sg->clamp;
    if (z > sg->clamp) z = sg->clamp;
    double e = itr_rnd(exp(z), sg->f32);
    double phi = itr_rnd(1.0 / itr_rnd(1.0 + e, sg->f32), sg->f32);
    if (dphi) *dphi = inside ? phi * phi * e / sg->tau : 0.0;
    return phi;
}

static itr_status rank_core(const double *X, int64_t B, const vsl_sigmoid *sg, double *R) {
    for (int64_t j = 0; j < B; j++) {
        for (int64_t k = 0; k < B; k++) {
            double acc = 0.0, xjk = X[j * B + k];
            for (int64_t i = 0; i < B; i++) {
                if (i == k) continue;            /* diag_mask (1 - eye) over (i, k) */
                double D = itr_rnd(X[i * B + j] - xjk, sg->f32);
                acc += sigmoid_eval(sg, D, NULL);
            }
            R[j * B + k] = itr_rnd(itr_rnd(acc, sg->f32) + 1.0, sg->f32);
        }
    }
    return ITR_OK;
}

static itr_status check_params(const itr_vsl_params *p, const char *fn) {
    if (!p) return itr_fail(ITR_E_ARG, "%s: NULL parameters", fn);
    if (!(p->temperature > 0.0))
        return itr_fail(ITR_E_ARG, "%s: temperature %g, need > 0", fn, p->temperature);
    if (!(p->exponent_clamp > 0.0))
        return itr_fail(ITR_E_ARG, "%s: exponent clamp %g, need > 0", fn, p->exponent_clamp);
    return ITR_OK;
}

static vsl_sigmoid make_sigmoid(double tau, double clamp, int f32) {
    vsl_sigmoid sg;
    sg.tau = itr_rnd(tau, f32);
    sg.clamp = clamp;
    sg.f32 = f32;
    return sg;
}

/* L_VS with its intermediates on double buffers. */
static itr_status semantic_core(const double *S, const double *C, int64_t B,
                                const itr_vsl_params *p, int f32, double *loss,
                                double *Rs, double *Rc, double *dS) {
    vsl_sigmoid sg = make_sigmoid(p->temperature, p->exponent_clamp, f32);
    rank_core(S, B, &sg, Rs);
    rank_core(C, B, &sg, Rc);
    double w = itr_rnd(p->weight_vsl, f32), n2 = (double)B * (double)B;
    double qsum = 0.0;
    for (int64_t e = 0; e < B * B; e++) {
        double mn = Rs[e] < Rc[e] ? Rs[e] : Rc[e], mx = Rs[e] < Rc[e] ? Rc[e] : Rs[e];
        qsum += itr_rnd(mn / mx, f32);
    }
    double mean = itr_rnd(itr_rnd(qsum, f32) / n2, f32);
    if (loss) *loss = itr_rnd(w * itr_rnd(1.0 - mean, f32), f32);
    if (!dS) return ITR_OK;

    double *acc = NULL;
    itr_status st = itr_loss_alloc_d(&acc, B * B, "itr_vsl_semantic_loss");
    if (st) return st;
    memset(acc, 0, (size_t)(B * B) * sizeof *acc);
    double gq = -w / n2;                       /* dL/dq for every entry */
    for (int64_t j = 0; j < B; j++) {
        for (int64_t k = 0; k < B; k++) {
            double rs = Rs[j * B + k], rc = Rc[j * B + k], G;
            if (rs < rc) G = gq / rc;
            else if (rs > rc) G = -gq * rc / (rs * rs);
            else continue;                     /* tie: the halves cancel */
            double xjk = S[j * B + k];
            for (int64_t i = 0; i < B; i++) {
                if (i == k) continue;
                double dphi, D = itr_rnd(S[i * B + j] - xjk, f32);
                sigmoid_eval(&sg, D, &dphi);
                double g = G * dphi;
                acc[i * B + j] += g;           /* S[i,j] as the column entry */
                acc[j * B + k] -= g;           /* S[j,k] as the ranked entry */
            }
        }
    }
    for (int64_t e = 0; e < B * B; e++) dS[e] = itr_rnd(acc[e], f32);
    free(acc);
    return ITR_OK;
}

itr_status itr_vsl_rank_matrix_f64(const double *X, int64_t B, double temperature,
                                   double exponent_clamp, double *R) {
    itr_status st = itr_loss_check_batch(B, "itr_vsl_rank_matrix");
    if (st) return st;
    if (!X || !R) return itr_fail(ITR_E_ARG, "itr_vsl_rank_matrix: NULL argument");
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    p.temperature = temperature;
    p.exponent_clamp = exponent_clamp;
    if ((st = check_params(&p, "itr_vsl_rank_matrix"))) return st;
    vsl_sigmoid sg = make_sigmoid(temperature, exponent_clamp, 0);
    return rank_core(X, B, &sg, R);
}

itr_status itr_vsl_rank_matrix(const float *X, int64_t B, double temperature,
                               double exponent_clamp, float *R) {
    itr_status st = itr_loss_check_batch(B, "itr_vsl_rank_matrix");
    if (st) return st;
    if (!X || !R) return itr_fail(ITR_E_ARG, "itr_vsl_rank_matrix: NULL argument");
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    p.temperature = temperature;
    p.exponent_clamp = exponent_clamp;
    if ((st = check_params(&p, "itr_vsl_rank_matrix"))) return st;
    double *x = NULL, *r = NULL;
    if ((st = itr_loss_alloc_d(&x, B * B, "itr_vsl_rank_matrix")) ||
        (st = itr_loss_alloc_d(&r, B * B, "itr_vsl_rank_matrix")))
        goto done;
    itr_loss_f2d(X, B * B, x);
    vsl_sigmoid sg = make_sigmoid(temperature, exponent_clamp, 1);
    rank_core(x, B, &sg, r);
    itr_loss_d2f(r, B * B, R);
done:
    free(x);
    free(r);
    return st;
}

itr_status itr_vsl_semantic_loss_f64(const double *S, const double *C, int64_t B,
                                     const itr_vsl_params *p, double *loss,
                                     double *Rs, double *Rc, double *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_vsl_semantic_loss");
    if (st) return st;
    if (!S || !C) return itr_fail(ITR_E_ARG, "itr_vsl_semantic_loss: NULL S or C");
    if ((st = check_params(p, "itr_vsl_semantic_loss"))) return st;
    double *rs = NULL, *rc = NULL;
    if ((st = itr_loss_alloc_d(&rs, B * B, "itr_vsl_semantic_loss")) ||
        (st = itr_loss_alloc_d(&rc, B * B, "itr_vsl_semantic_loss")))
        goto done;
    if ((st = semantic_core(S, C, B, p, 0, loss, rs, rc, dS))) goto done;
    if (Rs) memcpy(Rs, rs, (size_t)(B * B) * sizeof *Rs);
    if (Rc) memcpy(Rc, rc, (size_t)(B * B) * sizeof *Rc);
done:
    free(rs);
    free(rc);
    return st;
}

itr_status itr_vsl_semantic_loss(const float *S, const float *C, int64_t B,
                                 const itr_vsl_params *p, double *loss,
                                 float *Rs, float *Rc, float *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_vsl_semantic_loss");
    if (st) return st;
    if (!S || !C) return itr_fail(ITR_E_ARG, "itr_vsl_semantic_loss: NULL S or C");
    if ((st = check_params(p, "itr_vsl_semantic_loss"))) return st;
    int64_t n = B * B;
    double *s = NULL, *c = NULL, *rs = NULL, *rc = NULL, *g = NULL;
    if ((st = itr_loss_alloc_d(&s, n, "itr_vsl_semantic_loss")) ||
        (st = itr_loss_alloc_d(&c, n, "itr_vsl_semantic_loss")) ||
        (st = itr_loss_alloc_d(&rs, n, "itr_vsl_semantic_loss")) ||
        (st = itr_loss_alloc_d(&rc, n, "itr_vsl_semantic_loss")) ||
        (st = itr_loss_alloc_d(&g, n, "itr_vsl_semantic_loss")))
        goto done;
    itr_loss_f2d(S, n, s);
    itr_loss_f2d(C, n, c);
    if ((st = semantic_core(s, c, B, p, 1, loss, rs, rc, dS ? g : NULL))) goto done;
    if (Rs) itr_loss_d2f(rs, n, Rs);
    if (Rc) itr_loss_d2f(rc, n, Rc);
    if (dS) itr_loss_d2f(g, n, dS);
done:
    free(s);
    free(c);
    free(rs);
    free(rc);
    free(g);
    return st;
}

itr_status itr_vsl_loss(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                        itr_vsl_result *res, float *dS_lmh, float *dS_vsl, float *dS_total) {
    itr_status st = itr_loss_check_batch(B, "itr_vsl_loss");
    if (st) return st;
    if ((st = check_params(p, "itr_vsl_loss"))) return st;
    size_t n = (size_t)(B * B);
    float *gl = malloc(n * sizeof *gl), *gv = malloc(n * sizeof *gv);
    if (!gl || !gv) {
        st = itr_fail(ITR_E_NOMEM, "itr_vsl_loss: out of memory (B=%lld)", (long long)B);
        goto done;
    }
    itr_hinge_result h;
    double lv = 0.0;
    /* SGRAF's ContrastiveLoss.triplet_loss, unchanged (spec s1.6) */
    if ((st = itr_lmh_loss(S, B, (float)p->margin, p->hardest, &h, NULL, NULL, gl))) goto done;
    if ((st = itr_vsl_semantic_loss(S, C, B, p, &lv, NULL, NULL, gv))) goto done;
    float wl = (float)p->weight_lmh;
    float lmh = wl * (float)h.loss;
    if (res) {
        res->lmh = lmh;
        res->vsl = lv;
        res->total = (float)(lmh + (float)lv);
    }
    for (size_t e = 0; e < n; e++) {
        float a = wl * gl[e];
        if (dS_lmh) dS_lmh[e] = a;
        if (dS_vsl) dS_vsl[e] = gv[e];
        if (dS_total) dS_total[e] = a + gv[e];
    }
done:
    free(gl);
    free(gv);
    return st;
}
