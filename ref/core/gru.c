/* gru.c - PyTorch nn.GRU (batch_first) over packed variable-length sequences.
 *
 * Per step, with W_ih, W_hh, b_ih, b_hh stacked as [r; z; n] blocks of H rows:
 *   r  = sigma(W_ir x + b_ir + W_hr h + b_hr)
 *   z  = sigma(W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))      (b_hn inside the r-product)
 *   h' = (1 - z) * n + z * h,        h_{-1} = 0
 * Each sequence b runs over its own length L_b only: the forward direction
 * visits t = 0..L_b-1, the reverse direction t = L_b-1..0 (pack_padded_sequence
 * semantics), and outputs beyond L_b are 0 (pad_packed_sequence). Layer l > 0
 * reads the concatenated [forward, reverse] outputs of layer l-1. */
#include "itr/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

itr_status itr_gru_load(itr_gru *g, itr_weights *w, const char *group, const char *prefix,
                        int64_t input_size, int64_t hidden, int num_layers, int bidirectional) {
    char key[256];
    itr_status first = ITR_OK;
    memset(g, 0, sizeof *g);
    if (num_layers < 1 || num_layers > ITR_GRU_MAX_LAYERS)
        return itr_fail(ITR_E_UNSUPPORTED, "GRU with %d layers (1..%d supported)", num_layers, ITR_GRU_MAX_LAYERS);
    g->input_size = input_size;
    g->hidden = hidden;
    g->num_layers = num_layers;
    g->num_dirs = bidirectional ? 2 : 1;
    int64_t H3 = 3 * hidden;
    for (int l = 0; l < num_layers; l++) {
        int64_t in_l = l == 0 ? input_size : g->num_dirs * hidden;
        for (int d = 0; d < g->num_dirs; d++) {
            const char *sfx = d ? "_reverse" : "";
            const float **slots[4] = {&g->w_ih[l][d], &g->w_hh[l][d], &g->b_ih[l][d], &g->b_hh[l][d]};
            const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            int64_t shapes[4][2] = {{H3, in_l}, {H3, hidden}, {H3, 0}, {H3, 0}};
            /* bias=False GRUs have no bias keys at all; one bias without the
             * other is an error (the missing one is reported by name) */
            snprintf(key, sizeof key, "%sbias_ih_l%d%s", prefix, l, sfx);
            int has_bias = itr_weights_has(w, group, key);
            snprintf(key, sizeof key, "%sbias_hh_l%d%s", prefix, l, sfx);
            has_bias = has_bias || itr_weights_has(w, group, key);
            for (int k = 0; k < 4; k++) {
                if (k >= 2 && !has_bias) continue;
                snprintf(key, sizeof key, "%s%s_l%d%s", prefix, names[k], l, sfx);
                const itr_tensor *t = NULL;
                itr_status st = itr_weights_get(w, group, key, k < 2 ? 2 : 1, shapes[k], &t);
                *slots[k] = st ? NULL : (const float *)t->data;
                if (st && first == ITR_OK) first = st;   /* ITR_E_KEY, _SHAPE or _DTYPE */
            }
        }
    }
    if (first) return itr_fail(first, "%s: GRU weights under '%s/%s': %s", w->source ? w->source : "weights",
                               group, prefix, w->problems ? w->problems : "");
    return ITR_OK;
}

/* One direction of one layer over the whole batch.
 * gi: (B*T, 3H) input projections W_ih x + b_ih of every position;
 * out: (B, T, out_stride) with this direction's H columns at out_off. */
static itr_status run_direction(const itr_gru *g, int l, int d, const float *gi, const int64_t *lengths,
                                int64_t B, int64_t T, float *out, int64_t out_stride, int64_t out_off,
                                float *h_final) {
    int64_t H = g->hidden, H3 = 3 * H;
    float *h = calloc((size_t)(B * H), sizeof *h);
    float *gh = malloc((size_t)(B * H3) * sizeof *gh);
    if (!h || !gh) {
        free(h);
        free(gh);
        return itr_fail(ITR_E_NOMEM, "GRU: out of memory (batch %lld, hidden %lld)", (long long)B, (long long)H);
    }
    int64_t max_len = 0;
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] > max_len) max_len = lengths[b];
    for (int64_t s = 0; s < max_len; s++) {
        /* gh = h W_hh^T + b_hh for every sequence at once (a batched GEMM) */
        for (int64_t b = 0; b < B; b++) {
            if (g->b_hh[l][d]) memcpy(gh + b * H3, g->b_hh[l][d], (size_t)H3 * sizeof *gh);
            else memset(gh + b * H3, 0, (size_t)H3 * sizeof *gh);
        }
        itr_sgemm(0, 1, B, H3, H, 1.0f, h, H, g->w_hh[l][d], H, 1.0f, gh, H3);
        for (int64_t b = 0; b < B; b++) {
            if (s >= lengths[b]) continue;               /* this sequence has ended */
            int64_t t = d ? lengths[b] - 1 - s : s;      /* reverse runs from the end */
            const float *xi = gi + (b * T + t) * H3;
            const float *hh = gh + b * H3;
            float *hb = h + b * H;
            for (int64_t k = 0; k < H; k++) {
                float r = itr_sigmoidf(xi[k] + hh[k]);
                float z = itr_sigmoidf(xi[H + k] + hh[H + k]);
                float n = tanhf(xi[2 * H + k] + r * hh[2 * H + k]);
                hb[k] = (1.0f - z) * n + z * hb[k];
            }
            memcpy(out + (b * T + t) * out_stride + out_off, hb, (size_t)H * sizeof *hb);
        }
    }
    if (h_final) memcpy(h_final, h, (size_t)(B * H) * sizeof *h);
    free(h);
    free(gh);
    return ITR_OK;
}

itr_status itr_gru_forward(const itr_gru *g, const float *x, const int64_t *lengths,
                           int64_t B, int64_t T, float *out, float *h_n) {
    int64_t H = g->hidden, H3 = 3 * H, D = g->num_dirs;
    if (B < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "GRU: empty batch (%lld x %lld)", (long long)B, (long long)T);
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return itr_fail(ITR_E_ARG, "GRU: sequence %lld has length %lld outside [1, %lld]", (long long)b,
                            (long long)lengths[b], (long long)T);
    float *layer_in = NULL;              /* (B, T, D*H) output of the previous layer */
    float *layer_out = calloc((size_t)(B * T * D * H), sizeof *layer_out);
    float *gi = malloc((size_t)(B * T * H3) * sizeof *gi);
    itr_status st = ITR_OK;
    if (!layer_out || !gi) {
        st = itr_fail(ITR_E_NOMEM, "GRU: out of memory");
        goto done;
    }
    for (int l = 0; l < g->num_layers && !st; l++) {
        const float *in = l == 0 ? x : layer_in;
        int64_t in_l = l == 0 ? g->input_size : D * H;
        if (l > 0) memset(layer_out, 0, (size_t)(B * T * D * H) * sizeof *layer_out);
        for (int d = 0; d < D && !st; d++) {
            /* gi = x W_ih^T + b_ih for all B*T positions in one GEMM */
            itr_linear(in, B * T, in_l, g->w_ih[l][d], g->b_ih[l][d], H3, gi);
            st = run_direction(g, l, d, gi, lengths, B, T, layer_out, D * H, d * H,
                               h_n ? h_n + (int64_t)(l * D + d) * B * H : NULL);
        }
        /* the output of this layer is the input of the next */
        float *tmp = layer_in;
        layer_in = layer_out;
        layer_out = tmp;
        if (!layer_out && l + 1 < g->num_layers) {
            layer_out = calloc((size_t)(B * T * D * H), sizeof *layer_out);
            if (!layer_out) st = itr_fail(ITR_E_NOMEM, "GRU: out of memory");
        }
    }
    if (!st) memcpy(out, layer_in, (size_t)(B * T * D * H) * sizeof *out);
done:
    free(layer_in);
    free(layer_out);
    free(gi);
    return st;
}
