/* gpo.c - Generalized Pooling Operator of VSE-infinity
 * (woodfrog/vse_infty lib/modules/aggr/gpo.py). Spec: specs/vsepp_vseinfty.md s2.3.
 *
 * For a set of L valid vectors x_k (D channels):
 *   P       = sinusoidal encoding of positions 0..L-1 (32 wide)
 *   h_k     = (fwd_k + rev_k) / 2 of a bidirectional GRU(32 -> 32) over P
 *   a_k     = w_lin . h_k,            theta = softmax(a / 0.1)
 *   pooled  = sum_k theta_k s_k,       s_k[c] = k-th largest of {x_j[c]}
 * theta depends only on L, never on the features. */
#include "itr/models/vseinf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

itr_status itr_gpo_load(itr_gpo *g, itr_weights *w, const char *group, const char *prefix) {
    char key[256];
    memset(g, 0, sizeof *g);
    if (strlen(prefix) > 200) return itr_fail(ITR_E_ARG, "gpo: key prefix '%.40s...' too long", prefix);
    snprintf(key, sizeof key, "%sgru.", prefix);
    itr_status st = itr_gru_load(&g->gru, w, group, key, ITR_GPO_D_PE, ITR_GPO_D_HIDDEN, 1, 1);
    snprintf(key, sizeof key, "%slinear.weight", prefix);
    g->lin_w = itr_weights_f32(w, group, key, 2, (int64_t[]){1, ITR_GPO_D_HIDDEN});
    if (!st && !g->lin_w) st = ITR_E_KEY;
    return st;
}

void itr_gpo_positional(int64_t L, int64_t d, float *P) {
    /* QUIRK(vseinf-gpo-pe): upstream builds the encoding on the CPU in float32:
     * div_j = float32 exp(float32(2j) * float32(-ln(1e4)/d)), the argument is the
     * float32 product k * div_j. The scores are later divided by 0.1, so the
     * argument's rounding is visible at 1e-7; reproduce it exactly. */
    const float scale = (float)(-log(10000.0) / (double)d);
    for (int64_t j = 0; 2 * j < d; j++) {
        float div = (float)exp((double)((float)(2 * j) * scale));
        for (int64_t k = 0; k < L; k++) {
            float arg = (float)k * div;
            P[k * d + 2 * j] = (float)sin((double)arg);
            if (2 * j + 1 < d) P[k * d + 2 * j + 1] = (float)cos((double)arg);
        }
    }
}

itr_status itr_gpo_weights(const itr_gpo *g, int64_t L, float *theta) {
    enum { D = ITR_GPO_D_PE, H = ITR_GPO_D_HIDDEN };
    if (L < 1) return itr_fail(ITR_E_ARG, "gpo: set length %lld, must be >= 1", (long long)L);
    float *P = malloc((size_t)(L * D) * sizeof *P);
    float *out = malloc((size_t)(L * 2 * H) * sizeof *out);
    itr_status st = ITR_OK;
    if (!P || !out) {
        st = itr_fail(ITR_E_NOMEM, "gpo: out of memory for a set of %lld", (long long)L);
        goto done;
    }
    itr_gpo_positional(L, D, P);
    /* Step 2: BiGRU over the L encodings, directions averaged (s2.2). */
    st = itr_gru_forward(&g->gru, P, &L, 1, L, out, NULL);
    if (st) goto done;
    for (int64_t k = 0; k < L; k++) {
        const float *o = out + k * 2 * H;
        float a = 0.0f;
        for (int64_t c = 0; c < H; c++) {
            float h = (o[c] + o[H + c]) / 2.0f;
            a += g->lin_w[c] * h;
        }
        /* Step 3: temperature 0.1 (float32 division as upstream's scores / 0.1).
         * Padded positions (score -10000) would get exactly 0 weight, so the
         * softmax over the L valid positions is the same. */
        theta[k] = a / 0.1f;
    }
    itr_softmax_axis(theta, 1, L, 1);
done:
    free(P);
    free(out);
    return st;
}

static int desc_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

itr_status itr_gpo_pool(const itr_gpo *g, const float *x, int64_t K, int64_t D, int64_t L, float *pooled,
                        float *theta) {
    if (L < 1 || L > K)
        return itr_fail(ITR_E_ARG, "gpo: length %lld outside 1..%lld (set of %lld rows)", (long long)L,
                        (long long)K, (long long)K);
    float *w = malloc((size_t)L * sizeof *w);
    float *col = malloc((size_t)L * sizeof *col);
    itr_status st = ITR_OK;
    if (!w || !col) {
        st = itr_fail(ITR_E_NOMEM, "gpo: out of memory for a set of %lld", (long long)L);
        goto done;
    }
    if ((st = itr_gpo_weights(g, L, w))) goto done;
    /* Step 4: each channel sorted descending over the valid rows, then the
     * theta-weighted sum, accumulated in position order in float32. */
    for (int64_t c = 0; c < D; c++) {
        for (int64_t k = 0; k < L; k++) col[k] = x[k * D + c];
        qsort(col, (size_t)L, sizeof *col, desc_float);
        float acc = 0.0f;
        for (int64_t k = 0; k < L; k++) acc += col[k] * w[k];
        pooled[c] = acc;
    }
    if (theta) memcpy(theta, w, (size_t)L * sizeof *theta);
done:
    free(w);
    free(col);
    return st;
}
