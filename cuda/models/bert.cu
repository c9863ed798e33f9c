/* bert.cu - a BERT encoder (HuggingFace BertModel, eval) on the device, for
 * the VSE-infinity text side. Spec: specs/vsepp_vseinfty.md s2.7; the
 * reference is ref/models/bert.c (one unpadded sequence at a time).
 *
 *   E0 = LN( Word[id_t] + Pos[t] + Type[0] )
 *   per layer:
 *     [Q K V] = E [Wq; Wk; Wv]^T + [bq; bk; bv]          one GEMM (stacked on upload)
 *     A_h     = softmax( Q_h K_h^T / sqrt(dh) + mask ) V_h  batched GEMMs, one per head
 *     E       = LN( A Wo^T + bo + E )
 *     E       = LN( GELU(E W1^T + b1) W2^T + b2 + E )       GELU exact: x/2 (1 + erf(x/sqrt 2))
 * Sequences are batched with right padding to the longest length of the
 * call and upstream's additive key mask: key j of a sequence of length L gets
 * -10000 for j >= L, added after the division by sqrt(dh) (as
 * BertSelfAttention does with the extended attention mask). Masked keys then
 * weigh exactly 0 in float32, so the valid rows equal the reference's
 * unpadded ones; padded rows are computed but reported as 0. The reference
 * masks by length; upstream builds the mask from ids != 0, which is the same
 * for captions whose padding is the ids beyond their length.
 *
 * LayerNorm accumulates mean and biased variance in float64 and GELU runs in
 * float64, as the reference does. */
#include "core/compat.h"
#include "core/device.h"
#include "core/ops.h"
#include "core/reduce.h"
#include "models/vseinf_internal.h"

#include <stdlib.h>
#include <string.h>

#define BERT_THREADS 256
#define BERT_LN_THREADS 128
#define BERT_ALIGN 64                      /* floats: 256-byte aligned segments */
#define BERT_MASK_VALUE (-10000.0f)        /* upstream's (1 - mask) * -10000    */

typedef struct bert_layer_dev {
    float *qkv_w, *qkv_b;                  /* (3H, H) = [Wq; Wk; Wv], (3H) */
    float *ao_w, *ao_b, *ln1_g, *ln1_b;
    float *ff1_w, *ff1_b, *ff2_w, *ff2_b, *ln2_g, *ln2_b;
} bert_layer_dev;

struct itr_cuda_bert {
    int64_t vocab, H, F, max_pos, n_heads;
    int n_layers;
    float eps;
    float *blob;                           /* the one weight allocation            */
    float *word, *pos, *type, *emb_g, *emb_b;
    bert_layer_dev layers[ITR_BERT_MAX_LAYERS];
    itr_cu_vseinf_scratch work, ids;       /* activations; ids + lengths of a chunk */
    int64_t *ids_host;                     /* staging of one chunk's ids           */
    size_t ids_host_n;
};

static int64_t align_up(int64_t n) { return (n + BERT_ALIGN - 1) / BERT_ALIGN * BERT_ALIGN; }

/* ---- kernels ----------------------------------------------------------------------- */

/* x (rows, H) row r: x = LN(add + x) (add NULL: LN(x)):
 * (v - mean) / sqrt(biased var + eps) * g + b, statistics in float64. */
__global__ void itr_cu_bert_add_ln_kernel(float *__restrict__ x, const float *__restrict__ add, int64_t H,
                                          const float *__restrict__ g, const float *__restrict__ b, float eps) {
    float *xr = x + (int64_t)blockIdx.x * H;
    const float *ar = add ? add + (int64_t)blockIdx.x * H : NULL;
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
        float v = ar ? ar[c] + xr[c] : xr[c];   /* the reference's q[j] + out[j] */
        xr[c] = v;
        s += v;
    }
    double mean = itr_cu_block_sum(s) / (double)H;
    double q = 0.0;
    for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
        double d = (double)xr[c] - mean;
        q += d * d;
    }
    double var = itr_cu_block_sum(q) / (double)H;   /* biased variance */
    double inv = 1.0 / sqrt(var + (double)eps);
    for (int64_t c = threadIdx.x; c < H; c += blockDim.x) xr[c] = (float)(((double)xr[c] - mean) * inv) * g[c] + b[c];
}

/* x (n, Te, H) row (i, t) = (Word[ids[i, t]] + Pos[t]) + Type[0]. */
__global__ void itr_cu_bert_embed_kernel(const float *__restrict__ word, const float *__restrict__ pos,
                                         const float *__restrict__ type, const int64_t *__restrict__ ids,
                                         int64_t rows, int64_t Te, int64_t H, float *__restrict__ x) {
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < rows * H;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = idx / H, c = idx - r * H, t = r % Te;
        x[idx] = (word[ids[r] * H + c] + pos[t * H + c]) + type[c];
    }
}

/* One warp per score row (i, head, query t) of S (n, nh, Te, Te):
 * s = s / scale + mask, then a max-shifted softmax over the Te keys. */
__global__ void itr_cu_bert_softmax_kernel(float *__restrict__ S, int64_t rows, int64_t nh, int64_t Te,
                                           const int64_t *__restrict__ len, float scale) {
    int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;   /* whole warps leave together; no block barrier follows */
    int64_t L = len[row / (nh * Te)];
    float *s = S + row * Te;
    float mx = -INFINITY;
    for (int64_t j = lane; j < Te; j += 32) {
        float v = s[j] / scale + (j < L ? 0.0f : BERT_MASK_VALUE);
        s[j] = v;
        mx = fmaxf(mx, v);
    }
    mx = itr_cu_warp_max(mx);
    float sum = 0.0f;
    for (int64_t j = lane; j < Te; j += 32) {
        float e = expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    sum = itr_cu_warp_sum(sum);
    for (int64_t j = lane; j < Te; j += 32) s[j] /= sum;
}

/* x <- x/2 (1 + erf(x / sqrt 2)) in float64, as itr_gelu_erf. */
__global__ void itr_cu_bert_gelu_kernel(float *__restrict__ x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

/* out (n, T, H) row (i, t) = x (n, Te, H) row (i, t) for t < len[i], else 0. */
__global__ void itr_cu_bert_scatter_kernel(const float *__restrict__ x, const int64_t *__restrict__ len, int64_t n,
                                           int64_t Te, int64_t T, int64_t H, float *__restrict__ out) {
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n * T * H;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = idx % H, t = (idx / H) % T, i = idx / (T * H);
        out[idx] = t < len[i] ? x[(i * Te + t) * H + c] : 0.0f;
    }
}

/* LayerNorm block: a warp for narrow rows, up to BERT_LN_THREADS for wide ones */
static unsigned ln_threads(int64_t H) { return H <= 32 ? 32u : H <= 128 ? 64u : (unsigned)BERT_LN_THREADS; }

static unsigned stride_blocks(int64_t total) {
    int64_t b = (total + BERT_THREADS - 1) / BERT_THREADS;
    if (b > 65536) b = 65536;
    return (unsigned)(b < 1 ? 1 : b);
}

/* ---- upload ---------------------------------------------------------------------------- */

/* Floats of the whole weight blob (aligned segments). */
static int64_t blob_floats(const itr_bert *r) {
    int64_t H = r->hidden, F = r->ffn;
    int64_t t = align_up(r->vocab * H) + align_up(r->max_pos * H) + align_up(r->n_types * H) + 2 * align_up(H);
    int64_t per_layer = align_up(3 * H * H) + align_up(3 * H) + align_up(H * H) + 6 * align_up(H) +
                        align_up(F * H) + align_up(F) + align_up(H * F);
    return t + per_layer * r->n_layers;
}

/* Hands out the next aligned segment of n floats and uploads src there. */
static itr_status put(float *blob, int64_t *off, const float *src, int64_t n, float **dst, const char *what) {
    *dst = blob + *off;
    *off += align_up(n);
    if (!src) return itr_fail(ITR_E_ARG, "itr_cuda_bert_create: %s missing", what);
    return itr_cu_to_device(*dst, src, (size_t)n * sizeof(float), what);
}

extern "C" itr_status itr_cuda_bert_create(const itr_bert *ref, itr_cuda_bert **out) {
    if (!ref || !out) return itr_fail(ITR_E_ARG, "itr_cuda_bert_create: NULL argument");
    *out = NULL;
    int64_t H = ref->hidden, F = ref->ffn;
    if (H < 1 || F < 1 || ref->vocab < 1 || ref->max_pos < 1 || ref->n_types < 1 || ref->n_layers < 0 ||
        ref->n_layers > ITR_BERT_MAX_LAYERS || ref->n_heads < 1 || H % ref->n_heads != 0)
        return itr_fail(ITR_E_SHAPE, "itr_cuda_bert_create: BERT of hidden %lld, ffn %lld, %lld heads, %d layers",
                        (long long)H, (long long)F, (long long)ref->n_heads, ref->n_layers);
    itr_status st = itr_cu_init();
    if (st) return st;
    itr_cuda_bert *b = (itr_cuda_bert *)calloc(1, sizeof *b);
    if (!b) return itr_fail(ITR_E_NOMEM, "itr_cuda_bert_create: out of memory");
    b->vocab = ref->vocab;
    b->H = H;
    b->F = F;
    b->max_pos = ref->max_pos;
    b->n_heads = ref->n_heads;
    b->n_layers = ref->n_layers;
    b->eps = ref->ln_eps;
    int64_t off = 0;
    if ((st = itr_cu_alloc((void **)&b->blob, (size_t)blob_floats(ref) * sizeof(float), "BERT weights")) ||
        (st = put(b->blob, &off, ref->word, ref->vocab * H, &b->word, "BERT word embeddings")) ||
        (st = put(b->blob, &off, ref->pos, ref->max_pos * H, &b->pos, "BERT position embeddings")) ||
        (st = put(b->blob, &off, ref->type, ref->n_types * H, &b->type, "BERT token type embeddings")) ||
        (st = put(b->blob, &off, ref->emb_ln_g, H, &b->emb_g, "BERT embedding LayerNorm")) ||
        (st = put(b->blob, &off, ref->emb_ln_b, H, &b->emb_b, "BERT embedding LayerNorm")))
        goto fail;
    for (int i = 0; i < ref->n_layers; i++) {
        const itr_bert_layer *l = &ref->layers[i];
        bert_layer_dev *d = &b->layers[i];
        /* [Wq; Wk; Wv] (3H, H) and [bq; bk; bv]: one projection GEMM per layer */
        d->qkv_w = b->blob + off;
        d->qkv_b = b->blob + off + align_up(3 * H * H);
        off += align_up(3 * H * H) + align_up(3 * H);
        if (!l->q_w || !l->k_w || !l->v_w || !l->q_b || !l->k_b || !l->v_b) {
            st = itr_fail(ITR_E_ARG, "itr_cuda_bert_create: layer %d has no attention weights", i);
            goto fail;
        }
        const float *ws[3] = {l->q_w, l->k_w, l->v_w}, *bs[3] = {l->q_b, l->k_b, l->v_b};
        for (int k = 0; k < 3 && !st; k++) {
            st = itr_cu_to_device(d->qkv_w + k * H * H, ws[k], (size_t)(H * H) * sizeof(float), "BERT Q/K/V");
            if (!st) st = itr_cu_to_device(d->qkv_b + k * H, bs[k], (size_t)H * sizeof(float), "BERT Q/K/V bias");
        }
        if (st || (st = put(b->blob, &off, l->ao_w, H * H, &d->ao_w, "BERT attention output")) ||
            (st = put(b->blob, &off, l->ao_b, H, &d->ao_b, "BERT attention output bias")) ||
            (st = put(b->blob, &off, l->ln1_g, H, &d->ln1_g, "BERT attention LayerNorm")) ||
            (st = put(b->blob, &off, l->ln1_b, H, &d->ln1_b, "BERT attention LayerNorm")) ||
            (st = put(b->blob, &off, l->ff1_w, F * H, &d->ff1_w, "BERT intermediate")) ||
            (st = put(b->blob, &off, l->ff1_b, F, &d->ff1_b, "BERT intermediate bias")) ||
            (st = put(b->blob, &off, l->ff2_w, H * F, &d->ff2_w, "BERT output")) ||
            (st = put(b->blob, &off, l->ff2_b, H, &d->ff2_b, "BERT output bias")) ||
            (st = put(b->blob, &off, l->ln2_g, H, &d->ln2_g, "BERT output LayerNorm")) ||
            (st = put(b->blob, &off, l->ln2_b, H, &d->ln2_b, "BERT output LayerNorm")))
            goto fail;
    }
    *out = b;
    return ITR_OK;
fail:
    itr_cuda_bert_destroy(b);
    return st;
}

extern "C" void itr_cuda_bert_destroy(itr_cuda_bert *b) {
    if (!b) return;
    itr_cu_free(b->blob);
    itr_cu_vseinf_scratch_free(&b->work);
    itr_cu_vseinf_scratch_free(&b->ids);
    free(b->ids_host);
    free(b);
}

int64_t itr_cu_bert_hidden(const itr_cuda_bert *b) { return b->H; }

/* ---- forward ------------------------------------------------------------------------ */

/* Activations of a chunk of nc sequences padded to Te (device). */
typedef struct bert_acts {
    float *x, *qkv, *S, *ctx, *tmp, *ff;
} bert_acts;

static int64_t acts_floats(const itr_cuda_bert *b, int64_t nc, int64_t Te, bert_acts *a, float *base) {
    int64_t R = nc * Te, off = 0;
    float **slots[6] = {&a->x, &a->qkv, &a->S, &a->ctx, &a->tmp, &a->ff};
    int64_t sizes[6] = {R * b->H, R * 3 * b->H, nc * b->n_heads * Te * Te, R * b->H, R * b->H, R * b->F};
    for (int k = 0; k < 6; k++) {
        if (base) *slots[k] = base + off;
        off += align_up(sizes[k]);
    }
    return off;
}

/* One encoder layer over the chunk in a->x (R = nc * Te rows). */
static itr_status run_layer(const itr_cuda_bert *b, const bert_layer_dev *l, const bert_acts *a, int64_t nc,
                            int64_t Te, const int64_t *len) {
    int64_t H = b->H, F = b->F, nh = b->n_heads, dh = H / nh, R = nc * Te, H3 = 3 * H;
    float scale = (float)sqrt((double)dh);   /* upstream divides by math.sqrt(head_size) */
    itr_status st;
    if ((st = itr_cu_linear(a->x, R, H, l->qkv_w, l->qkv_b, H3, a->qkv))) return st;
    for (int64_t h = 0; h < nh; h++) {
        /* S[i, h] (Te, Te) = Q_h K_h^T for every sequence i of the chunk */
        st = itr_cu_sgemm_batched(0, 1, Te, Te, dh, 1.0f, a->qkv + h * dh, H3, Te * H3, a->qkv + H + h * dh, H3,
                                  Te * H3, 0.0f, a->S + h * Te * Te, Te, nh * Te * Te, nc);
        if (st) return itr_fail_context(st, "BERT attention scores, head %lld", (long long)h);
    }
    int64_t rows = nc * nh * Te, warps_per_block = BERT_THREADS / 32;
    ITR_LAUNCH(itr_cu_bert_softmax_kernel, (unsigned)((rows + warps_per_block - 1) / warps_per_block), BERT_THREADS,
               0, a->S, rows, nh, Te, len, scale);
    if ((st = itr_cu_launched("itr_cu_bert_softmax_kernel"))) return st;
    for (int64_t h = 0; h < nh; h++) {
        /* ctx[i][:, h*dh..] (Te, dh) = P[i, h] V_h */
        st = itr_cu_sgemm_batched(0, 0, Te, dh, Te, 1.0f, a->S + h * Te * Te, Te, nh * Te * Te,
                                  a->qkv + 2 * H + h * dh, H3, Te * H3, 0.0f, a->ctx + h * dh, H, Te * H, nc);
        if (st) return itr_fail_context(st, "BERT attention context, head %lld", (long long)h);
    }
    if ((st = itr_cu_linear(a->ctx, R, H, l->ao_w, l->ao_b, H, a->tmp))) return st;
    ITR_LAUNCH(itr_cu_bert_add_ln_kernel, (unsigned)R, ln_threads(H), 0, a->x, (const float *)a->tmp, H,
               (const float *)l->ln1_g, (const float *)l->ln1_b, b->eps);
    if ((st = itr_cu_launched("itr_cu_bert_add_ln_kernel"))) return st;
    if ((st = itr_cu_linear(a->x, R, H, l->ff1_w, l->ff1_b, F, a->ff))) return st;
    ITR_LAUNCH(itr_cu_bert_gelu_kernel, stride_blocks(R * F), BERT_THREADS, 0, a->ff, R * F);
    if ((st = itr_cu_launched("itr_cu_bert_gelu_kernel"))) return st;
    if ((st = itr_cu_linear(a->ff, R, F, l->ff2_w, l->ff2_b, H, a->tmp))) return st;
    ITR_LAUNCH(itr_cu_bert_add_ln_kernel, (unsigned)R, ln_threads(H), 0, a->x, (const float *)a->tmp, H,
               (const float *)l->ln2_g, (const float *)l->ln2_b, b->eps);
    return itr_cu_launched("itr_cu_bert_add_ln_kernel");
}

/* Sequences [i0, i0 + nc) of the call, padded to Te, into out rows i0... */
static itr_status run_chunk(itr_cuda_bert *b, const int64_t *ids_host, const int64_t *lengths_host, int64_t i0,
                            int64_t nc, int64_t T, int64_t Te, float *out) {
    int64_t H = b->H, R = nc * Te;
    size_t need = (size_t)(R + nc);
    itr_status st;
    if (b->ids_host_n < need) {
        int64_t *p = (int64_t *)realloc(b->ids_host, need * sizeof *p);
        if (!p) return itr_fail(ITR_E_NOMEM, "BERT: out of memory for %lld ids", (long long)R);
        b->ids_host = p;
        b->ids_host_n = need;
    }
    /* ids beyond a length are never read upstream's way (they are masked):
     * id 0 stands in for them */
    int64_t *ids = b->ids_host, *len = b->ids_host + R;
    for (int64_t i = 0; i < nc; i++) {
        len[i] = lengths_host[i0 + i];
        for (int64_t t = 0; t < Te; t++) ids[i * Te + t] = t < len[i] ? ids_host[(i0 + i) * T + t] : 0;
    }
    bert_acts a = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    int64_t floats = acts_floats(b, nc, Te, &a, NULL);
    if ((st = itr_cu_vseinf_scratch_reserve(&b->work, (size_t)floats * sizeof(float), "BERT activations")) ||
        (st = itr_cu_vseinf_scratch_reserve(&b->ids, need * sizeof(int64_t), "BERT ids")) ||
        (st = itr_cu_to_device(b->ids.p, ids, need * sizeof(int64_t), "BERT ids")))
        return st;
    acts_floats(b, nc, Te, &a, (float *)b->work.p);
    const int64_t *ids_dev = (const int64_t *)b->ids.p, *len_dev = ids_dev + R;
    ITR_LAUNCH(itr_cu_bert_embed_kernel, stride_blocks(R * H), BERT_THREADS, 0, (const float *)b->word,
               (const float *)b->pos, (const float *)b->type, ids_dev, R, Te, H, a.x);
    if ((st = itr_cu_launched("itr_cu_bert_embed_kernel"))) return st;
    ITR_LAUNCH(itr_cu_bert_add_ln_kernel, (unsigned)R, ln_threads(H), 0, a.x, (const float *)NULL, H,
               (const float *)b->emb_g, (const float *)b->emb_b, b->eps);
    if ((st = itr_cu_launched("itr_cu_bert_add_ln_kernel"))) return st;
    for (int l = 0; l < b->n_layers; l++)
        if ((st = run_layer(b, &b->layers[l], &a, nc, Te, len_dev)))
            return itr_fail_context(st, "BERT layer %d", l);
    ITR_LAUNCH(itr_cu_bert_scatter_kernel, stride_blocks(nc * T * H), BERT_THREADS, 0, (const float *)a.x, len_dev,
               nc, Te, T, H, out + i0 * T * H);
    return itr_cu_launched("itr_cu_bert_scatter_kernel");
}

itr_status itr_cu_bert_forward(itr_cuda_bert *b, const int64_t *ids_host, const int64_t *lengths_host, int64_t n,
                               int64_t T, float *out) {
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "bert: empty batch (%lld x %lld)", (long long)n, (long long)T);
    int64_t Te = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t L = lengths_host[i];
        if (L < 1 || L > T || L > b->max_pos)
            return itr_fail(ITR_E_ARG, "bert: sequence %lld has length %lld outside 1..%lld", (long long)i,
                            (long long)L, (long long)(T < b->max_pos ? T : b->max_pos));
        for (int64_t t = 0; t < L; t++) {
            int64_t id = ids_host[i * T + t];
            if (id < 0 || id >= b->vocab)
                return itr_fail(ITR_E_ARG, "embedding: id %lld outside vocabulary of %lld (sequence %lld, token %lld)",
                                (long long)id, (long long)b->vocab, (long long)i, (long long)t);
        }
        if (L > Te) Te = L;
    }
    bert_acts unused;
    int64_t per_item = acts_floats(b, 1, Te, &unused, NULL);
    int64_t chunk = itr_cu_vseinf_chunk(per_item, n);
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        int64_t nc = n - i0 < chunk ? n - i0 : chunk;
        itr_status st = run_chunk(b, ids_host, lengths_host, i0, nc, T, Te, out);
        if (st) return st;
    }
    return ITR_OK;
}

extern "C" itr_status itr_cuda_bert_forward(itr_cuda_bert *b, const int64_t *ids, const int64_t *lengths, int64_t n,
                                            int64_t T, float *out) {
    if (!b || !ids || !lengths || !out) return itr_fail(ITR_E_ARG, "itr_cuda_bert_forward: NULL argument");
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "bert: empty batch (%lld x %lld)", (long long)n, (long long)T);
    float *od = NULL;
    size_t bytes = (size_t)(n * T * b->H) * sizeof(float);
    itr_status st = itr_cu_alloc((void **)&od, bytes, "BERT output");
    if (!st) st = itr_cu_bert_forward(b, ids, lengths, n, T, od);
    if (!st) st = itr_cu_to_host(out, od, bytes, "BERT output");
    itr_cu_free(od);
    return st;
}
