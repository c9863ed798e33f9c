/* luwm.cu - LUWM, the polynomial "universal weighting" loss, on the device
 * (ContrastiveLossPoly of yangong23/VSEnetworksLSEH@a6c8bc2:GSMN_LSEH/model.py;
 * ref/losses/luwm.c; specs/losses_vsl_lseh.md s2.8; docs/losses.md s5).
 *
 * Query q = row q (image) for blocks 0..B-1, column q (caption) for blocks
 * B..2B-1, positive p = S[q,q]:
 *   p >= 1 - eps: upstream's min() of an empty list raises -> ITR_E_ARG
 *   N = { x = negative of the query : x + margin > p }  (strict; empty: skip)
 *   n = max N, the FIRST maximal element (Python's max)
 *   l = [P(p)]_+ + [Q(n)]_+,  P(x) = 0.2x^2 - 0.7x + 0.5,  Q(x) = 0.9x^2 - 0.4x + 0.03
 *   L = (l_1 + l_2 + ...) / B
 * QUIRK(LUWM-sum-order): upstream adds the (1,) tensors with Python's sum,
 *   left to right in float32, rows first, then columns. That running sum is
 *   sequential by nature; one thread does those <= 2B additions at the end.
 * QUIRK(LUWM-low-negatives): Q > 0 below 0.0955, so such hardest negatives
 *   get a gradient that pushes them UP. Reproduced.
 * Gradient of each active query (the clamps pass it at exactly 0):
 *   dS[q,q] += (2 p2 p + p1) / B when P(p) >= 0,
 *   dS[n's entry] += (2 q2 n + q1) / B when Q(n) >= 0   (double, rounded once). */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

/* Polynomials as float32 (x^2, x, 1) coefficients plus the double originals
 * for the gradient, as the reference uses them. */
typedef struct luwm_dev {
    float pos_f[3], neg_f[3];
    double pos_d[3], neg_d[3];
    float margin, thr, inv_b;
} luwm_dev;

/* c2 x^2 - |c1| x + c0 in upstream's float32 op order:
 * ((c2 * pow(x, 2)) - (-c1 * x)) + c0. */
static __device__ __forceinline__ float poly_eval(const float c[3], float x) {
    float x2 = x * x;
    float t2 = c[0] * x2;
    float t1 = -c[1] * x;
    return (t2 - t1) + c[2];
}

/* Per query: q_loss (l), q_ok (1 when the positive is < 1 - eps),
 * q_best (n's index along the query, -1 when skipped), q_gpos, q_gneg
 * (the gradient terms). */
static __global__ void itr_cu_loss_luwm_query_kernel(const float *S, int64_t B, luwm_dev c, float *q_loss,
                                                     int *q_ok, int *q_best, double *q_gpos, double *q_gneg) {
    __shared__ float rv[32];
    __shared__ int ri[32];
    int64_t slot = blockIdx.x, q = slot % B;
    int by_col = slot >= B;
    float pos = S[q * B + q];
    itr_cu_argmax best = {0.0f, -1};
    for (int64_t k = threadIdx.x; k < B; k += blockDim.x) {
        if (k == q) continue;
        float x = by_col ? S[k * B + q] : S[q * B + k];
        if (!(x + c.margin > pos)) continue;
        itr_cu_argmax cand = {x, (int)k};
        best = itr_cu_argmax_pick(best, cand);
    }
    best = itr_cu_block_argmax(best, rv, ri);
    if (threadIdx.x != 0) return;                    /* no barrier below */
    q_ok[slot] = pos < c.thr;
    q_best[slot] = best.idx;
    q_loss[slot] = 0.0f;
    q_gpos[slot] = q_gneg[slot] = 0.0;
    if (best.idx < 0) return;
    float lp = poly_eval(c.pos_f, pos), ln = poly_eval(c.neg_f, best.v);
    q_loss[slot] = (lp > 0.0f ? lp : 0.0f) + (ln > 0.0f ? ln : 0.0f);
    if (lp >= 0.0f) q_gpos[slot] = (double)c.inv_b * (2.0 * c.pos_d[0] * pos + c.pos_d[1]);
    if (ln >= 0.0f) q_gneg[slot] = (double)c.inv_b * (2.0 * c.neg_d[0] * best.v + c.neg_d[1]);
}

/* out[0] = the loss, out[1] = active count, out[2] = first failing query
 * slot (rows first) or -1. */
static __global__ void itr_cu_loss_luwm_total_kernel(const float *q_loss, const int *q_ok, const int *q_best,
                                                     int64_t B, double *out) {
    if (threadIdx.x != 0) return;
    float total = 0.0f;
    int64_t active = 0, bad = -1;
    for (int64_t slot = 0; slot < 2 * B; slot++) {   /* QUIRK(LUWM-sum-order) */
        if (!q_ok[slot]) {
            bad = slot;
            break;
        }
        if (q_best[slot] < 0) continue;
        total = active == 0 ? q_loss[slot] : total + q_loss[slot];
        active++;
    }
    out[0] = active ? (double)(float)((double)total / (double)B) : 0.0;
    out[1] = (double)active;
    out[2] = (double)bad;
}

/* dS[i,j]: row i's and column j's contributions (positive on the diagonal,
 * hardest negative off it), added in the reference's order. */
static __global__ void itr_cu_loss_luwm_grad_kernel(const int *q_best, const double *q_gpos, const double *q_gneg,
                                                    int64_t B, float *dS) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    int64_t i = e / B, j = e % B;
    double g = 0.0;
    if (i == j) {
        g = q_gpos[i] + q_gpos[B + i];
    } else {
        if (q_best[i] == j) g += q_gneg[i];              /* row query i: n = S[i,j] */
        if (q_best[B + j] == i) g += q_gneg[B + j];      /* column query j: n = S[i,j] */
    }
    dS[e] = (float)g;
}

itr_status itr_cu_loss_luwm(const float *S, int64_t B, const itr_luwm_params *p, double *loss, int64_t *n_active,
                            float *dS) {
    const char *fn = "itr_cuda_luwm_loss";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!S || !p) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    luwm_dev c;
    for (int k = 0; k < 3; k++) {
        c.pos_f[k] = (float)p->pos_poly[k];
        c.neg_f[k] = (float)p->neg_poly[k];
        c.pos_d[k] = p->pos_poly[k];
        c.neg_d[k] = p->neg_poly[k];
    }
    c.margin = (float)p->margin;
    c.thr = (float)(1.0 - p->epsilon);
    c.inv_b = (float)(1.0 / (double)B);
    itr_cu_scratch sc;
    float *q_loss;
    int *q_int;
    double *q_g, *out;
    if ((st = sc.alloc(&q_loss, (size_t)(2 * B), fn)) || (st = sc.alloc(&q_int, (size_t)(4 * B), fn)) ||
        (st = sc.alloc(&q_g, (size_t)(4 * B), fn)) || (st = sc.alloc(&out, 3, fn)))
        return st;
    int *q_ok = q_int, *q_best = q_int + 2 * B;
    double *q_gpos = q_g, *q_gneg = q_g + 2 * B;
    ITR_LAUNCH(itr_cu_loss_luwm_query_kernel, (unsigned)(2 * B), ITR_CU_LOSS_THREADS, 0, S, B, c, q_loss, q_ok,
               q_best, q_gpos, q_gneg);
    if ((st = itr_cu_launched("itr_cu_loss_luwm_query_kernel"))) return st;
    ITR_LAUNCH(itr_cu_loss_luwm_total_kernel, 1, 32, 0, (const float *)q_loss, (const int *)q_ok,
               (const int *)q_best, B, out);
    double h[3];
    if ((st = itr_cu_launched("itr_cu_loss_luwm_total_kernel")) || (st = itr_cu_to_host(h, out, sizeof h, fn)))
        return st;
    if (h[2] >= 0.0) {
        int64_t q = (int64_t)h[2] % B;
        float pos;
        if ((st = itr_cu_to_host(&pos, S + q * B + q, sizeof pos, fn))) return st;
        return itr_fail(ITR_E_ARG,
                        "%s: positive S[%lld,%lld] = %.9g >= 1 - epsilon = %.9g; upstream's min() of an empty "
                        "list raises",
                        fn, (long long)q, (long long)q, pos, (double)c.thr);
    }
    if (dS) {
        ITR_LAUNCH(itr_cu_loss_luwm_grad_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0,
                   (const int *)q_best, (const double *)q_gpos, (const double *)q_gneg, B, dS);
        if ((st = itr_cu_launched("itr_cu_loss_luwm_grad_kernel"))) return st;
    }
    if (loss) *loss = h[0];
    if (n_active) *n_active = (int64_t)h[1];
    return itr_cu_sync(fn);
}

extern "C" itr_status itr_cuda_luwm_loss(const float *S, int64_t B, const itr_luwm_params *p, double *loss,
                                         int64_t *n_active, float *dS) {
    const char *fn = "itr_cuda_luwm_loss";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!S || !p) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_cu_scratch sc;
    float *ds, *g;
    size_t n = (size_t)(B * B);
    if ((st = sc.upload(&ds, S, n, fn)) || (st = sc.output(&g, dS, n, fn)) ||
        (st = itr_cu_loss_luwm(ds, B, p, loss, n_active, g)))
        return st;
    return itr_cu_download(dS, g, n, fn);
}
