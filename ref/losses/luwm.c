/* luwm.c - LUWM, the polynomial "universal weighting" loss
 * (ContrastiveLossPoly.polyloss in yangong23/VSEnetworksLSEH@a6c8bc2:
 * GSMN_LSEH/model.py; specs/losses_vsl_lseh.md s2.8).
 *
 * Every image (row i of S) and then every caption (column j) is a query:
 *   p = S[i,i]; a p >= 1 - eps leaves upstream's positive list empty and
 *              min() of it raises: we return ITR_E_ARG
 *   N = { S[i,j] : j != i, S[i,j] + margin > p }  (strict >); empty: skip
 *   n = max N, the FIRST maximal element (Python's builtin max)
 *   l = [P(p)]_+ + [Q(n)]_+,  P(x) = 0.2x^2 - 0.7x + 0.5, Q(x) = 0.9x^2 - 0.4x + 0.03
 * L = (l_1 + l_2 + ...) / B, summed left to right in float32 (Python's sum
 * over the list of (1,) tensors), rows first, then columns.
 * QUIRK(LUWM-low-negatives): Q <= 0 only on [0.0955, 0.3489]; a hardest
 *   negative below 0.0955 gets a positive loss whose gradient pushes it UP.
 *   Reproduced, not fixed.
 * Gradient of each active query (the clamps pass it at exactly 0):
 *   dL/dp += (2 p2 p + p1) / B when P(p) >= 0,
 *   dL/dn += (2 q2 n + q1) / B when Q(n) >= 0. */
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"

void itr_luwm_params_default(itr_luwm_params *p) {
    p->margin = 0.07;            /* GSMN_LSEH --margin (Q-LSEH-5) */
    p->epsilon = 1e-5;
    p->pos_poly[0] = 0.2;        /* x^2 */
    p->pos_poly[1] = -0.7;       /* x   */
    p->pos_poly[2] = 0.5;        /* 1   */
    p->neg_poly[0] = 0.9;
    p->neg_poly[1] = -0.4;
    p->neg_poly[2] = 0.03;
}

/* c2 x^2 - |c1| x + c0 in upstream's float32 op order:
 * ((c2 * pow(x, 2)) - (|c1| * x)) + c0, with the sign of c1 folded in. */
static double poly_eval(const double c[3], double x, int f32) {
    double x2 = itr_rnd(x * x, f32);
    double t2 = itr_rnd(itr_rnd(c[0], f32) * x2, f32);
    double t1 = itr_rnd(itr_rnd(-c[1], f32) * x, f32);
    return itr_rnd(itr_rnd(t2 - t1, f32) + itr_rnd(c[2], f32), f32);
}

/* One query: its positive p and the B - 1 negatives `neg(k)` of S read
 * along a row (stride 1) or a column (stride B). */
typedef struct luwm_query {
    const double *S;
    int64_t q;                   /* query index (row or column)          */
    int64_t stride_q, stride_k;  /* S[q * stride_q + k * stride_k]       */
} luwm_query;

static double at(const luwm_query *Q, int64_t k) { return Q->S[Q->q * Q->stride_q + k * Q->stride_k]; }

static itr_status luwm_core(const double *S, int64_t B, const itr_luwm_params *p, int f32,
                            double *loss, int64_t *n_active, double *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_luwm_loss");
    if (st) return st;
    if (!S || !p) return itr_fail(ITR_E_ARG, "itr_luwm_loss: NULL argument");
    double thr = itr_rnd(1.0 - p->epsilon, f32), m = itr_rnd(p->margin, f32);
    double inv_b = itr_rnd(1.0 / (double)B, f32);
    double total = 0.0;
    int64_t active = 0;
    if (dS) memset(dS, 0, (size_t)(B * B) * sizeof *dS);
    for (int pass = 0; pass < 2; pass++) {          /* 0: rows (images), 1: columns */
        for (int64_t q = 0; q < B; q++) {
            luwm_query Q = {S, q, pass == 0 ? B : 1, pass == 0 ? 1 : B};
            double pos = at(&Q, q);
            if (!(pos < thr))
                return itr_fail(ITR_E_ARG,
                                "itr_luwm_loss: positive S[%lld,%lld] = %.9g >= 1 - epsilon = %.9g; "
                                "upstream's min() of an empty list raises",
                                (long long)q, (long long)q, pos, thr);
            int64_t best = -1;
            for (int64_t k = 0; k < B; k++) {
                if (k == q) continue;
                double x = at(&Q, k);
                if (!(itr_rnd(x + m, f32) > pos)) continue;
                if (best < 0 || x > at(&Q, best)) best = k;   /* first max */
            }
            if (best < 0) continue;
            double n = at(&Q, best);
            double lp = poly_eval(p->pos_poly, pos, f32), ln = poly_eval(p->neg_poly, n, f32);
            double l = itr_rnd((lp > 0.0 ? lp : 0.0) + (ln > 0.0 ? ln : 0.0), f32);
            total = active == 0 ? l : itr_rnd(total + l, f32);   /* Python sum, left to right */
            active++;
            if (!dS) continue;
            if (lp >= 0.0) dS[q * B + q] += inv_b * (2.0 * p->pos_poly[0] * pos + p->pos_poly[1]);
            if (ln >= 0.0) {
                int64_t e = pass == 0 ? q * B + best : best * B + q;
                dS[e] += inv_b * (2.0 * p->neg_poly[0] * n + p->neg_poly[1]);
            }
        }
    }
    if (dS && f32)
        for (int64_t e = 0; e < B * B; e++) dS[e] = itr_rnd(dS[e], 1);
    if (loss) *loss = active ? itr_rnd(total / (double)B, f32) : 0.0;
    if (n_active) *n_active = active;
    return ITR_OK;
}

itr_status itr_luwm_loss_f64(const double *S, int64_t B, const itr_luwm_params *p,
                             double *loss, int64_t *n_active, double *dS) {
    return luwm_core(S, B, p, 0, loss, n_active, dS);
}

itr_status itr_luwm_loss(const float *S, int64_t B, const itr_luwm_params *p,
                         double *loss, int64_t *n_active, float *dS) {
    itr_status st = itr_loss_check_batch(B, "itr_luwm_loss");
    if (st) return st;
    if (!S) return itr_fail(ITR_E_ARG, "itr_luwm_loss: NULL argument");
    double *s = NULL, *g = NULL;
    if ((st = itr_loss_alloc_d(&s, B * B, "itr_luwm_loss")) ||
        (st = itr_loss_alloc_d(&g, B * B, "itr_luwm_loss")))
        goto done;
    itr_loss_f2d(S, B * B, s);
    if ((st = luwm_core(s, B, p, 1, loss, n_active, dS ? g : NULL))) goto done;
    if (dS) itr_loss_d2f(g, B * B, dS);
done:
    free(s);
    free(g);
    return st;
}
