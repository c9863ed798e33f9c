/* vsl.cu - VSL, the visual semantic loss of ZhangXu0963/VSL, on the device
 * (ref/losses/vsl.c; specs/losses_vsl_lseh.md s1.4-s1.7; docs/losses.md s4).
 *
 * Smooth rank with the clamped, temperature-scaled sigmoid
 *   phi(x) = 1 / (1 + exp(z)),  z = clamp(-x / tau, -c, c)
 *   R(X)[j,k] = 1 + sum_{i != k} phi(X[i,j] - X[j,k])
 * QUIRK(Q-VSL-1): entry (j,k) is compared with COLUMN j of X (reproduced).
 *   q = min(Rs, Rc) / max(Rs, Rc),  L_VS = w (1 - sum q / B^2)
 * Rs = R(S); Rc = R(C), with C the image-image TF-IDF matrix computed on the
 * host (itr_vsl_image_cider) and passed in; it carries no gradient.
 *
 * Gradient: G[j,k] = dL/dRs[j,k] = -(w/B^2)/Rc (Rs < Rc), +(w/B^2) Rc/Rs^2
 * (Rs > Rc), 0 on a tie (torch's min/max split it half/half, which cancels);
 * with phi' = phi^2 exp(z) / tau inside the clamp (inclusive) and 0 outside:
 *   dL/dS[a,b] =  sum_{k != a} G[b,k] phi'(S[a,b] - S[b,k])     (S[a,b] as X[i,j])
 *               - G[a,b] sum_{i != b} phi'(S[i,a] - S[a,b])     (S[a,b] as X[j,k])
 * Threads: one per (j,k) for the ranks, one per (a,b) for the gradient (two
 * loops of B, spec s1.7), one block for the sum of q.
 * Float32 exactly as the reference: the subtraction, z = (-D) / (float)tau,
 * exp evaluated in double and rounded (the reference's exp), phi in float,
 * sums of phi in double in increasing i (the reference's order) rounded
 * once. Rank ties Rs == Rc are common in float32 (phi saturates to 1.0f) and
 * come out identical to the reference, so the same entries get no gradient. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

typedef struct vsl_sigmoid {
    float tau;       /* the temperature as float32 */
    double clamp;    /* exponent clamp c           */
} vsl_sigmoid;

/* phi(D) and, when dphi != NULL, dphi/dx at D. */
static __device__ __forceinline__ float vsl_phi(vsl_sigmoid sg, float D, double *dphi) {
    float z = -D / sg.tau;
    double zc = (double)z;
    int inside = zc >= -sg.clamp && zc <= sg.clamp;
    if (zc < -sg.clamp) zc = -sg.clamp;
    if (zc > sg.clamp) zc = sg.clamp;
    float e = (float)exp(zc);
    float phi = 1.0f / (1.0f + e);
    if (dphi) *dphi = inside ? (double)phi * (double)phi * (double)e / (double)sg.tau : 0.0;
    return phi;
}

/* R[j,k] for the thread's element e = j * B + k. */
static __global__ void itr_cu_loss_vsl_rank_kernel(const float *X, int64_t B, vsl_sigmoid sg, float *R) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    int64_t j = e / B, k = e % B;
    float xjk = X[e];
    double acc = 0.0;
    for (int64_t i = 0; i < B; i++) {
        if (i == k) continue;                        /* diag_mask (1 - eye) over (i, k) */
        acc += (double)vsl_phi(sg, X[i * B + j] - xjk, nullptr);
    }
    R[e] = (float)acc + 1.0f;
}

/* One block: q = min/max ratios summed in double; out[0] = L_VS (float32
 * steps of upstream); G (B, B) = dL/dRs in double when G != NULL. */
static __global__ void itr_cu_loss_vsl_value_kernel(const float *Rs, const float *Rc, int64_t B, float w,
                                                    double *G, float *out) {
    __shared__ double red[32];
    double n2 = (double)B * (double)B, gq = -(double)w / n2, qsum = 0.0;
    for (int64_t e = threadIdx.x; e < B * B; e += blockDim.x) {
        float rs = Rs[e], rc = Rc[e];
        float mn = rs < rc ? rs : rc, mx = rs < rc ? rc : rs;
        qsum += (double)(mn / mx);
        if (G) {
            double rsd = rs, rcd = rc;
            G[e] = rs < rc ? gq / rcd : rs > rc ? -gq * rcd / (rsd * rsd) : 0.0;
        }
    }
    qsum = itr_cu_block_sum(qsum, red);
    if (threadIdx.x == 0) {
        float mean = (float)((double)(float)qsum / n2);
        out[0] = w * (1.0f - mean);
    }
}

static __global__ void itr_cu_loss_vsl_grad_kernel(const float *S, int64_t B, vsl_sigmoid sg, const double *G,
                                                   float *dS) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= B * B) return;
    int64_t a = e / B, b = e % B;
    float sab = S[e];
    double acc = 0.0, dphi;
    for (int64_t k = 0; k < B; k++) {                /* S[a,b] = X[i,j] with i = a, j = b */
        double g = G[b * B + k];
        if (k == a || g == 0.0) continue;
        vsl_phi(sg, sab - S[b * B + k], &dphi);
        acc += g * dphi;
    }
    double gab = G[e];
    if (gab != 0.0) {
        for (int64_t i = 0; i < B; i++) {            /* S[a,b] = X[j,k] with j = a, k = b */
            if (i == b) continue;
            vsl_phi(sg, S[i * B + a] - sab, &dphi);
            acc -= gab * dphi;
        }
    }
    dS[e] = (float)acc;
}

/* dS_lmh = w_lmh * g_lmh, dS_vsl = g_vsl, dS_total = their float sum. */
static __global__ void itr_cu_loss_vsl_combine_kernel(const float *gl, const float *gv, int64_t n, float wl,
                                                      float *d_lmh, float *d_vsl, float *d_total) {
    int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    float a = wl * gl[e];
    if (d_lmh) d_lmh[e] = a;
    if (d_vsl) d_vsl[e] = gv[e];
    if (d_total) d_total[e] = a + gv[e];
}

static itr_status check_params(const itr_vsl_params *p, const char *fn) {
    if (!p) return itr_fail(ITR_E_ARG, "%s: NULL parameters", fn);
    if (!(p->temperature > 0.0)) return itr_fail(ITR_E_ARG, "%s: temperature %g, need > 0", fn, p->temperature);
    if (!(p->exponent_clamp > 0.0))
        return itr_fail(ITR_E_ARG, "%s: exponent clamp %g, need > 0", fn, p->exponent_clamp);
    return ITR_OK;
}

static vsl_sigmoid make_sigmoid(double temperature, double exponent_clamp) {
    vsl_sigmoid sg;
    sg.tau = (float)temperature;
    sg.clamp = exponent_clamp;
    return sg;
}

itr_status itr_cu_loss_vsl_rank(const float *X, int64_t B, double temperature, double exponent_clamp, float *R) {
    const char *fn = "itr_cuda_vsl_rank_matrix";
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    p.temperature = temperature;
    p.exponent_clamp = exponent_clamp;
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (!st) st = check_params(&p, fn);
    if (st) return st;
    if (!X || !R) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    ITR_LAUNCH(itr_cu_loss_vsl_rank_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0, X, B,
               make_sigmoid(temperature, exponent_clamp), R);
    return itr_cu_launched("itr_cu_loss_vsl_rank_kernel");
}

itr_status itr_cu_loss_vsl_semantic(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                                    double *loss, float *Rs, float *Rc, float *dS) {
    const char *fn = "itr_cuda_vsl_semantic_loss";
    itr_status st = itr_cu_loss_check_batch(B, fn);
    if (!st) st = check_params(p, fn);
    if (st) return st;
    if (!S || !C) return itr_fail(ITR_E_ARG, "%s: NULL S or C", fn);
    size_t n = (size_t)(B * B);
    itr_cu_scratch sc;
    float *rs = Rs, *rc = Rc, *out;
    double *G = nullptr;
    if ((!rs && (st = sc.alloc(&rs, n, fn))) || (!rc && (st = sc.alloc(&rc, n, fn))) ||
        (st = sc.alloc(&out, 1, fn)) || (dS && (st = sc.alloc(&G, n, fn))))
        return st;
    if ((st = itr_cu_loss_vsl_rank(S, B, p->temperature, p->exponent_clamp, rs)) ||
        (st = itr_cu_loss_vsl_rank(C, B, p->temperature, p->exponent_clamp, rc)))
        return st;
    ITR_LAUNCH(itr_cu_loss_vsl_value_kernel, 1, ITR_CU_LOSS_THREADS, 0, (const float *)rs, (const float *)rc, B,
               (float)p->weight_vsl, G, out);
    if ((st = itr_cu_launched("itr_cu_loss_vsl_value_kernel"))) return st;
    if (dS) {
        ITR_LAUNCH(itr_cu_loss_vsl_grad_kernel, itr_cu_blocks(B * B, ITR_CU_LOSS_THREADS), ITR_CU_LOSS_THREADS, 0,
                   S, B, make_sigmoid(p->temperature, p->exponent_clamp), (const double *)G, dS);
        if ((st = itr_cu_launched("itr_cu_loss_vsl_grad_kernel"))) return st;
    }
    if (loss) {
        float v;
        if ((st = itr_cu_to_host(&v, out, sizeof v, fn))) return st;
        *loss = v;
    }
    return itr_cu_sync(fn);
}

/* ---- host API ------------------------------------------------------------- */

extern "C" itr_status itr_cuda_vsl_rank_matrix(const float *X, int64_t B, double temperature,
                                               double exponent_clamp, float *R) {
    const char *fn = "itr_cuda_vsl_rank_matrix";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (st) return st;
    if (!X || !R) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_cu_scratch sc;
    float *x, *r;
    size_t n = (size_t)(B * B);
    if ((st = sc.upload(&x, X, n, fn)) || (st = sc.alloc(&r, n, fn)) ||
        (st = itr_cu_loss_vsl_rank(x, B, temperature, exponent_clamp, r)))
        return st;
    return itr_cu_download(R, r, n, fn);
}

extern "C" itr_status itr_cuda_vsl_semantic_loss(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                                                 double *loss, float *Rs, float *Rc, float *dS) {
    const char *fn = "itr_cuda_vsl_semantic_loss";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (!st) st = check_params(p, fn);
    if (st) return st;
    if (!S || !C) return itr_fail(ITR_E_ARG, "%s: NULL S or C", fn);
    itr_cu_scratch sc;
    float *ds, *dc, *rs, *rc, *g;
    size_t n = (size_t)(B * B);
    if ((st = sc.upload(&ds, S, n, fn)) || (st = sc.upload(&dc, C, n, fn)) || (st = sc.output(&rs, Rs, n, fn)) ||
        (st = sc.output(&rc, Rc, n, fn)) || (st = sc.output(&g, dS, n, fn)) ||
        (st = itr_cu_loss_vsl_semantic(ds, dc, B, p, loss, rs, rc, g)))
        return st;
    if ((st = itr_cu_download(Rs, rs, n, fn)) || (st = itr_cu_download(Rc, rc, n, fn))) return st;
    return itr_cu_download(dS, g, n, fn);
}

extern "C" itr_status itr_cuda_vsl_loss(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                                        itr_vsl_result *res, float *dS_lmh, float *dS_vsl, float *dS_total) {
    const char *fn = "itr_cuda_vsl_loss";
    itr_status st = itr_cu_init();
    if (!st) st = itr_cu_loss_check_batch(B, fn);
    if (!st) st = check_params(p, fn);
    if (st) return st;
    if (!S || !C) return itr_fail(ITR_E_ARG, "%s: NULL S or C", fn);
    itr_cu_scratch sc;
    float *ds, *dc, *gl, *gv, *ol, *ov, *ot;
    size_t n = (size_t)(B * B);
    if ((st = sc.upload(&ds, S, n, fn)) || (st = sc.upload(&dc, C, n, fn)) || (st = sc.alloc(&gl, n, fn)) ||
        (st = sc.alloc(&gv, n, fn)) || (st = sc.output(&ol, dS_lmh, n, fn)) || (st = sc.output(&ov, dS_vsl, n, fn)) ||
        (st = sc.output(&ot, dS_total, n, fn)))
        return st;
    itr_hinge_result h;
    double lv = 0.0;
    /* SGRAF's ContrastiveLoss.triplet_loss, unchanged (spec s1.6) */
    if ((st = itr_cu_loss_hinge(ds, B, (float)p->margin, nullptr, p->hardest, &h, nullptr, nullptr, gl)) ||
        (st = itr_cu_loss_vsl_semantic(ds, dc, B, p, &lv, nullptr, nullptr, gv)))
        return st;
    float wl = (float)p->weight_lmh;
    if (ol || ov || ot) {
        ITR_LAUNCH(itr_cu_loss_vsl_combine_kernel, itr_cu_blocks((int64_t)n, ITR_CU_LOSS_THREADS),
                   ITR_CU_LOSS_THREADS, 0, (const float *)gl, (const float *)gv, (int64_t)n, wl, ol, ov, ot);
        if ((st = itr_cu_launched("itr_cu_loss_vsl_combine_kernel"))) return st;
    }
    if (res) {
        float lmh = wl * (float)h.loss;
        res->lmh = lmh;
        res->vsl = lv;
        res->total = (float)(lmh + (float)lv);
    }
    if ((st = itr_cu_download(dS_lmh, ol, n, fn)) || (st = itr_cu_download(dS_vsl, ov, n, fn))) return st;
    return itr_cu_download(dS_total, ot, n, fn);
}
