/* gru.cu - PyTorch nn.GRU (batch_first) over packed variable-length sequences
 * on the device; the same arithmetic as ref/core/gru.c:
 *   r  = sigma(W_ir x + b_ir + W_hr h + b_hr)
 *   z  = sigma(W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))      (b_hn inside the r-product)
 *   h' = (1 - z) * n + z * h,        h_{-1} = 0
 *
 * Per layer:
 *   1. gi (B*T, D*3H) = x W_ih^T + b_ih for every position and BOTH directions
 *      in one GEMM (the directions' W_ih are contiguous on the device, gru.h).
 *   2. per step s: gh (D, active, 3H) = h W_hh^T, one (batched over D) GEMM,
 *      then one fused gate kernel for both directions that adds b_hh, applies
 *      sigmoid/tanh, updates h and writes out[t].
 * Packed sequences: the batch is sorted by decreasing length (stably) on the
 * host, so the sequences still running at step s are exactly the first
 * `active` rows of h (as in PyTorch's packed batch_sizes); the recurrent GEMM
 * and the gate kernel only touch those. The reverse direction of sequence b
 * visits t = L_b-1-s. Rows of h stay in sorted order; h_n is scattered back
 * to the caller's order at the end of each layer. */
#include "core/compat.h"
#include "core/device.h"
#include "core/gru.h"
#include "core/ops.h"

#include <stdlib.h>
#include <string.h>

#define GRU_THREADS 256
/* device segments of different kinds start on 256-byte boundaries */
#define GRU_ALIGN_FLOATS 64

static int64_t align_up(int64_t n) { return (n + GRU_ALIGN_FLOATS - 1) / GRU_ALIGN_FLOATS * GRU_ALIGN_FLOATS; }

/* 1 / (1 + exp(-x)), written as the reference's itr_sigmoidf. */
static __device__ __forceinline__ float gru_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One recurrent step, every direction (blockIdx.y = d) of one layer.
 * Thread (i, k): row i < active of the sorted batch (sequence b = order[i],
 * length len[i]), hidden unit k. gi rows are positions b*T + t with direction
 * d's 3H gate pre-activations at column d*3H; gh (D, B, 3H) and h (D, B, H)
 * rows are in sorted order. out may be NULL (only h_n wanted). */
__global__ void itr_cu_gru_step_kernel(const float *__restrict__ gi, const float *__restrict__ gh,
                                       const float *__restrict__ b_hh, const int64_t *__restrict__ order,
                                       const int64_t *__restrict__ len, int64_t step, int64_t active, int64_t B,
                                       int64_t T, int64_t H, int D, float *__restrict__ h, float *__restrict__ out) {
    int d = (int)blockIdx.y;
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= active * H) return;
    int64_t i = idx / H, k = idx - i * H, H3 = 3 * H;
    int64_t b = order[i];
    int64_t t = d ? len[i] - 1 - step : step;          /* reverse runs from the sequence's end */
    const float *xi = gi + (b * T + t) * (D * H3) + d * H3;
    const float *hh = gh + ((int64_t)d * B + i) * H3;
    float hr = hh[k], hz = hh[H + k], hn = hh[2 * H + k];
    if (b_hh) {                                        /* gh = W_hh h + b_hh, as the reference's GEMM */
        const float *bb = b_hh + d * H3;
        hr = hr + bb[k];
        hz = hz + bb[H + k];
        hn = hn + bb[2 * H + k];
    }
    float r = gru_sigmoid(xi[k] + hr);
    float z = gru_sigmoid(xi[H + k] + hz);
    float n = tanhf(xi[2 * H + k] + r * hn);           /* b_hn inside r * (...) */
    float *hp = h + ((int64_t)d * B + i) * H + k;
    float hv = (1.0f - z) * n + z * *hp;
    *hp = hv;
    if (out) out[(b * T + t) * (D * H) + d * H + k] = hv;
}

/* h_n[d, order[i], :] = h[d, i, :] for every direction of one layer. */
__global__ void itr_cu_gru_unsort_kernel(const float *__restrict__ h, const int64_t *__restrict__ order, int64_t B,
                                         int64_t H, float *__restrict__ h_n) {
    int64_t d = blockIdx.y;
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * H) return;
    int64_t i = idx / H, k = idx - i * H;
    h_n[(d * B + order[i]) * H + k] = h[(d * B + i) * H + k];
}

/* ---- upload ---------------------------------------------------------------- */

/* Floats of each per-layer segment (all directions), before alignment. */
typedef struct gru_layer_sizes {
    int64_t in_l, wih, whh, bih, bhh;   /* bih/bhh 0 when the layer has no such bias */
} gru_layer_sizes;

static gru_layer_sizes layer_sizes(const itr_gru *g, int l) {
    gru_layer_sizes s;
    int64_t H3 = 3 * g->hidden, D = g->num_dirs;
    int has_bih = 0, has_bhh = 0;
    for (int d = 0; d < g->num_dirs; d++) {
        has_bih |= g->b_ih[l][d] != NULL;
        has_bhh |= g->b_hh[l][d] != NULL;
    }
    s.in_l = l == 0 ? g->input_size : D * g->hidden;
    s.wih = D * H3 * s.in_l;
    s.whh = D * H3 * g->hidden;
    s.bih = has_bih ? D * H3 : 0;
    s.bhh = has_bhh ? D * H3 : 0;
    return s;
}

/* Copies n floats of src (NULL: zeros) to host staging at off. */
static void stage(float *staging, int64_t off, const float *src, int64_t n) {
    if (src) memcpy(staging + off, src, (size_t)n * sizeof *staging);
    else memset(staging + off, 0, (size_t)n * sizeof *staging);
}

extern "C" itr_status itr_cu_gru_upload(itr_cu_gru *g, const itr_gru *host) {
    if (!g || !host) return itr_fail(ITR_E_ARG, "itr_cu_gru_upload: NULL argument");
    memset(g, 0, sizeof *g);
    itr_status st = itr_cu_init();
    if (st) return st;
    if (host->num_layers < 1 || host->num_layers > ITR_GRU_MAX_LAYERS || host->num_dirs < 1 || host->num_dirs > 2 ||
        host->hidden < 1 || host->input_size < 1)
        return itr_fail(ITR_E_ARG, "itr_cu_gru_upload: GRU of %d layers, %d directions, input %lld, hidden %lld",
                        host->num_layers, host->num_dirs, (long long)host->input_size, (long long)host->hidden);
    int64_t total = 0;
    for (int l = 0; l < host->num_layers; l++) {
        gru_layer_sizes s = layer_sizes(host, l);
        for (int d = 0; d < host->num_dirs; d++)
            if (!host->w_ih[l][d] || !host->w_hh[l][d])
                return itr_fail(ITR_E_ARG, "itr_cu_gru_upload: layer %d direction %d has no weights", l, d);
        total += align_up(s.wih) + align_up(s.whh) + align_up(s.bih) + align_up(s.bhh);
    }
    float *staging = (float *)malloc((size_t)total * sizeof(float));
    if (!staging) return itr_fail(ITR_E_NOMEM, "itr_cu_gru_upload: out of memory for %lld floats", (long long)total);
    float *dev = NULL;
    st = itr_cu_alloc((void **)&dev, (size_t)total * sizeof(float), "GRU weights");
    if (st) {
        free(staging);
        return st;
    }
    g->shape = *host;
    int64_t off = 0, H3 = 3 * host->hidden;
    for (int l = 0; l < host->num_layers; l++) {
        gru_layer_sizes s = layer_sizes(host, l);
        int64_t wih = off, whh = wih + align_up(s.wih), bih = whh + align_up(s.whh), bhh = bih + align_up(s.bih);
        off = bhh + align_up(s.bhh);
        for (int d = 0; d < host->num_dirs; d++) {
            stage(staging, wih + d * H3 * s.in_l, host->w_ih[l][d], H3 * s.in_l);
            stage(staging, whh + d * H3 * host->hidden, host->w_hh[l][d], H3 * host->hidden);
            g->shape.w_ih[l][d] = dev + wih + d * H3 * s.in_l;
            g->shape.w_hh[l][d] = dev + whh + d * H3 * host->hidden;
            g->shape.b_ih[l][d] = NULL;
            g->shape.b_hh[l][d] = NULL;
            if (s.bih) {
                stage(staging, bih + d * H3, host->b_ih[l][d], H3);
                g->shape.b_ih[l][d] = dev + bih + d * H3;
            }
            if (s.bhh) {
                stage(staging, bhh + d * H3, host->b_hh[l][d], H3);
                g->shape.b_hh[l][d] = dev + bhh + d * H3;
            }
        }
    }
    st = itr_cu_to_device(dev, staging, (size_t)total * sizeof(float), "GRU weights");
    free(staging);
    if (st) itr_cu_gru_free(g);
    return st;
}

extern "C" void itr_cu_gru_free(itr_cu_gru *g) {
    if (!g) return;
    if (g->shape.num_layers >= 1) itr_cu_free((void *)g->shape.w_ih[0][0]);   /* the one allocation */
    memset(g, 0, sizeof *g);
}

/* ---- forward --------------------------------------------------------------- */

typedef struct len_index {
    int64_t len, idx;
} len_index;

/* decreasing length, ties in batch order (a stable sort) */
static int by_length_desc(const void *a, const void *b) {
    const len_index *x = (const len_index *)a, *y = (const len_index *)b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Work buffers of one forward call, carved out of ONE device allocation
 * (base) so that a call costs one cudaMalloc / cudaFree. */
typedef struct gru_work {
    void *base;
    float *gi, *gh, *h, *layer[2];
    int64_t *order, *len;               /* sorted batch: sequence index and its length (adjacent) */
} gru_work;

/* Lays out the buffers from w->base (NULL base: only sizes) and returns the bytes needed. */
static size_t work_layout(gru_work *w, int64_t B, int64_t T, int64_t D, int64_t H, int n_layer_bufs) {
    int64_t sizes[5] = {B * T * D * 3 * H, D * B * 3 * H, D * B * H, n_layer_bufs > 0 ? B * T * D * H : 0,
                        n_layer_bufs > 1 ? B * T * D * H : 0};
    float **slots[5] = {&w->gi, &w->gh, &w->h, &w->layer[0], &w->layer[1]};
    int64_t off = 0;   /* floats */
    for (int k = 0; k < 5; k++) {
        *slots[k] = sizes[k] && w->base ? (float *)w->base + off : NULL;
        off += align_up(sizes[k]);
    }
    /* 64-float alignment keeps the int64 arrays 8-byte aligned */
    w->order = w->base ? (int64_t *)((float *)w->base + off) : NULL;
    w->len = w->order ? w->order + B : NULL;
    return (size_t)off * sizeof(float) + (size_t)(2 * B) * sizeof(int64_t);
}

/* The recurrence of layer l (both directions) over gi; out_l may be NULL. */
static itr_status run_layer(const itr_gru *g, int l, gru_work *w, const int64_t *sorted_len, int64_t B, int64_t T,
                            float *out_l, float *h_n) {
    int64_t H = g->hidden, H3 = 3 * H, D = g->num_dirs, max_len = sorted_len[0];
    itr_status st;
    if ((st = itr_cu_zero(w->h, (size_t)(D * B * H) * sizeof(float), "GRU h_0 = 0"))) return st;
    int64_t active = B;
    for (int64_t s = 0; s < max_len; s++) {
        while (active > 0 && sorted_len[active - 1] <= s) active--;   /* sequences that have ended */
        /* gh[d] (active, 3H) = h[d] W_hh[d]^T; the directions' W_hh are equally strided */
        if (D == 1)
            st = itr_cu_sgemm(0, 1, active, H3, H, 1.0f, w->h, H, g->w_hh[l][0], H, 0.0f, w->gh, H3);
        else
            st = itr_cu_sgemm_batched(0, 1, active, H3, H, 1.0f, w->h, H, B * H, g->w_hh[l][0], H, H3 * H, 0.0f,
                                      w->gh, H3, B * H3, D);
        if (st) return itr_fail_context(st, "GRU layer %d step %lld", l, (long long)s);
        dim3 grid((unsigned)((active * H + GRU_THREADS - 1) / GRU_THREADS), (unsigned)D);
        ITR_LAUNCH(itr_cu_gru_step_kernel, grid, GRU_THREADS, 0, w->gi, w->gh, g->b_hh[l][0], w->order, w->len, s,
                   active, B, T, H, (int)D, w->h, out_l);
        if ((st = itr_cu_launched("itr_cu_gru_step_kernel"))) return st;
    }
    if (h_n) {
        dim3 grid((unsigned)((B * H + GRU_THREADS - 1) / GRU_THREADS), (unsigned)D);
        ITR_LAUNCH(itr_cu_gru_unsort_kernel, grid, GRU_THREADS, 0, w->h, w->order, B, H, h_n + l * D * B * H);
        if ((st = itr_cu_launched("itr_cu_gru_unsort_kernel"))) return st;
    }
    return ITR_OK;
}

extern "C" itr_status itr_cu_gru_forward(const itr_cu_gru *cg, const float *x, const int64_t *lengths, int64_t B,
                                         int64_t T, float *out, float *h_n) {
    if (!cg || !x || !lengths) return itr_fail(ITR_E_ARG, "itr_cu_gru_forward: NULL argument");
    const itr_gru *g = &cg->shape;
    if (g->num_layers < 1) return itr_fail(ITR_E_ARG, "itr_cu_gru_forward: GRU not uploaded");
    if (B < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "GRU: empty batch (%lld x %lld)", (long long)B, (long long)T);
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return itr_fail(ITR_E_ARG, "GRU: sequence %lld has length %lld outside [1, %lld]", (long long)b,
                            (long long)lengths[b], (long long)T);
    int64_t H = g->hidden, D = g->num_dirs, L = g->num_layers;
    len_index *li = (len_index *)malloc((size_t)B * sizeof *li);
    int64_t *host_sorted = (int64_t *)malloc((size_t)(2 * B) * sizeof *host_sorted);
    if (!li || !host_sorted) {
        free(li);
        free(host_sorted);
        return itr_fail(ITR_E_NOMEM, "GRU: out of memory (batch %lld)", (long long)B);
    }
    for (int64_t b = 0; b < B; b++) li[b].len = lengths[b], li[b].idx = b;
    qsort(li, (size_t)B, sizeof *li, by_length_desc);
    int64_t *h_order = host_sorted, *h_len = host_sorted + B;
    for (int64_t i = 0; i < B; i++) h_order[i] = li[i].idx, h_len[i] = li[i].len;
    free(li);

    gru_work w;
    memset(&w, 0, sizeof w);
    int n_layer_bufs = L > 2 ? 2 : (int)(L - 1);
    size_t layer_bytes = (size_t)(B * T * D * H) * sizeof(float);
    itr_status st = itr_cu_alloc(&w.base, work_layout(&w, B, T, D, H, n_layer_bufs), "GRU work buffers");
    if (st) goto done;
    work_layout(&w, B, T, D, H, n_layer_bufs);
    /* host_sorted is [order; len] like the device arrays: one copy */
    if ((st = itr_cu_to_device(w.order, host_sorted, (size_t)(2 * B) * sizeof(int64_t), "GRU order")))
        goto done;
    for (int l = 0; l < L; l++) {
        /* layer l reads x or layer l-1's output, writes `out` (top) or a ping-pong buffer */
        const float *in = l == 0 ? x : w.layer[(l - 1) % 2];
        int64_t in_l = l == 0 ? g->input_size : D * H;
        float *dst = l == L - 1 ? out : w.layer[l % 2];
        if (dst && (st = itr_cu_zero(dst, layer_bytes, "GRU output = 0"))) goto done;
        /* gi = in W_ih^T + b_ih, both directions: W_ih[l][0..D-1] is one (D*3H, in_l) matrix */
        if ((st = itr_cu_linear(in, B * T, in_l, g->w_ih[l][0], g->b_ih[l][0], D * 3 * H, w.gi))) goto done;
        if ((st = run_layer(g, l, &w, h_len, B, T, dst, h_n))) goto done;
    }
done:
    itr_cu_free(w.base);
    free(host_sorted);
    return st;
}

/* ---- host front end ------------------------------------------------------- */

extern "C" itr_status itr_cu_gru_forward_host(const itr_cu_gru *g, const float *x, const int64_t *lengths, int64_t B,
                                              int64_t T, float *out, float *h_n, int repeats, double *forward_ms) {
    if (!g || !x || !lengths || repeats < 1) return itr_fail(ITR_E_ARG, "itr_cu_gru_forward_host: bad argument");
    if (B < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "GRU: empty batch (%lld x %lld)", (long long)B, (long long)T);
    itr_status st = itr_cu_init();
    if (st) return st;
    const itr_gru *s = &g->shape;
    int64_t D = s->num_dirs, H = s->hidden;
    size_t x_bytes = (size_t)(B * T * s->input_size) * sizeof(float);
    size_t out_bytes = (size_t)(B * T * D * H) * sizeof(float);
    size_t hn_bytes = (size_t)(s->num_layers * D * B * H) * sizeof(float);
    float *dx = NULL, *dout = NULL, *dhn = NULL;
    cudaEvent_t ev[2] = {NULL, NULL};
    float ms = 0.0f;
    if ((st = itr_cu_alloc((void **)&dx, x_bytes, "GRU input")) ||
        (out && (st = itr_cu_alloc((void **)&dout, out_bytes, "GRU output"))) ||
        (h_n && (st = itr_cu_alloc((void **)&dhn, hn_bytes, "GRU h_n"))) ||
        (st = itr_cu_to_device(dx, x, x_bytes, "GRU input")))
        goto done;
    if (forward_ms && ((st = itr_cu_check(cudaEventCreate(&ev[0]), "cudaEventCreate")) ||
                       (st = itr_cu_check(cudaEventCreate(&ev[1]), "cudaEventCreate")) ||
                       (st = itr_cu_check(cudaEventRecord(ev[0]), "cudaEventRecord"))))
        goto done;
    for (int r = 0; r < repeats && !st; r++) st = itr_cu_gru_forward(g, dx, lengths, B, T, dout, dhn);
    if (st) goto done;
    if (forward_ms) {
        if ((st = itr_cu_check(cudaEventRecord(ev[1]), "cudaEventRecord")) ||
            (st = itr_cu_check(cudaEventSynchronize(ev[1]), "cudaEventSynchronize")) ||
            (st = itr_cu_check(cudaEventElapsedTime(&ms, ev[0], ev[1]), "cudaEventElapsedTime")))
            goto done;
        *forward_ms = (double)ms / repeats;
    }
    if ((out && (st = itr_cu_to_host(out, dout, out_bytes, "GRU output"))) ||
        (h_n && (st = itr_cu_to_host(h_n, dhn, hn_bytes, "GRU h_n"))))
        goto done;
    st = itr_cu_sync("GRU forward");
done:
    if (ev[0]) cudaEventDestroy(ev[0]);
    if (ev[1]) cudaEventDestroy(ev[1]);
    itr_cu_free(dx);
    itr_cu_free(dout);
    itr_cu_free(dhn);
    return st;
}
