/* gpo.cu - the Generalized Pooling Operator of VSE-infinity on the device
 * (woodfrog/vse_infty lib/modules/aggr/gpo.py). Spec: specs/vsepp_vseinfty.md
 * s2.3; the reference is ref/models/gpo.c. For a set of L valid rows x_k:
 *   P       = sinusoidal encoding of positions 0..L-1 (32 wide, float32 on the host)
 *   h_k     = (fwd_k + rev_k) / 2 of the bidirectional GRU(32 -> 32) over P
 *   a_k     = w_lin . h_k,         theta = softmax(a / 0.1)
 *   pooled  = sum_k theta_k s_k,    s_k[c] = k-th largest of {x_j[c] : j < L}
 * theta depends only on L: it is computed once per distinct length (all the
 * missing lengths of a call in one batched GRU run) and cached in a device
 * table whose row L-1 holds theta for length L (0 beyond L).
 *
 * The per-channel sort is a rank (counting) sort in shared memory: a block
 * owns one item and a tile of ct channels; the rank of x_k[c] is the number of
 * rows holding a larger value plus the number of earlier rows holding an
 * equal one, so equal values keep their order (ties are interchangeable, as
 * for the reference's qsort; +0 and -0 count as equal) and the ranks form a
 * permutation. The weighted
 * sum then runs in sorted order, as the reference accumulates it. */
#include "core/compat.h"
#include "core/device.h"
#include "core/gru.h"
#include "models/vseinf_internal.h"

#include <stdlib.h>
#include <string.h>

#define GPO_PE ITR_GPO_D_PE          /* 32 */
#define GPO_H ITR_GPO_D_HIDDEN       /* 32 */
#define GPO_THREADS 256
#define GPO_SHARED_MAX (48 * 1024)   /* dynamic shared memory without an opt-in */
/* work buffers of one call stay under this many floats (chunks of items) */
#define VSEINF_CHUNK_FLOATS ((int64_t)1 << 27)

struct itr_cuda_gpo {
    itr_cu_gru gru;
    float *lin_w;                    /* (GPO_H)                                   */
    float *table;                    /* (cap, cap): row L-1 = theta of length L   */
    int64_t cap;
    unsigned char *have_host;        /* (cap): row computed                       */
    itr_cu_vseinf_scratch lens;      /* lengths of a host-API call                */
};

/* ---- shared helpers of the three VSE-inf files ------------------------------------ */

itr_status itr_cu_vseinf_scratch_reserve(itr_cu_vseinf_scratch *s, size_t bytes, const char *what) {
    if (s->p && s->bytes >= bytes) return ITR_OK;
    itr_cu_free(s->p);
    s->p = NULL;
    s->bytes = 0;
    itr_status st = itr_cu_alloc(&s->p, bytes ? bytes : 1, what);
    if (!st) s->bytes = bytes;
    return st;
}

void itr_cu_vseinf_scratch_free(itr_cu_vseinf_scratch *s) {
    itr_cu_free(s->p);
    s->p = NULL;
    s->bytes = 0;
}

int64_t itr_cu_vseinf_chunk(int64_t floats_per_item, int64_t n) {
    int64_t c = floats_per_item > 0 ? VSEINF_CHUNK_FLOATS / floats_per_item : n;
    if (c < 1) c = 1;
    return c < n ? c : n;
}

__global__ void itr_cu_vseinf_zero_tail_kernel(float *x, const int64_t *__restrict__ len, int64_t n, int64_t K,
                                               int64_t D) {
    int64_t total = n * K * D;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = idx / (K * D), k = (idx / D) % K;
        if (k >= len[i]) x[idx] = 0.0f;
    }
}

/* Blocks for a grid-stride loop over `total` elements. */
static unsigned stride_blocks(int64_t total) {
    int64_t b = (total + GPO_THREADS - 1) / GPO_THREADS;
    if (b > 65536) b = 65536;
    return (unsigned)(b < 1 ? 1 : b);
}

itr_status itr_cu_vseinf_zero_tail(float *x, const int64_t *lengths_dev, int64_t n, int64_t K, int64_t D) {
    ITR_LAUNCH(itr_cu_vseinf_zero_tail_kernel, stride_blocks(n * K * D), GPO_THREADS, 0, x, lengths_dev, n, K, D);
    return itr_cu_launched("itr_cu_vseinf_zero_tail_kernel");
}

/* ---- theta per length (steps 1-3) ------------------------------------------------- */

/* Block b: the sequence of length L = lens[b] whose GRU outputs are o (B, T,
 * 2H) = [fwd | rev]; fills table row L-1. Step 3 (softmax of a / 0.1) runs in
 * one thread in position order, exactly as the reference's itr_softmax_axis. */
__global__ void itr_cu_gpo_theta_kernel(const float *__restrict__ o, const int64_t *__restrict__ lens, int64_t T,
                                        const float *__restrict__ lin_w, float *table, int64_t cap) {
    int64_t b = blockIdx.x, L = lens[b];
    float *row = table + (L - 1) * cap;
    const float *ob = o + b * T * 2 * GPO_H;
    for (int64_t k = threadIdx.x; k < L; k += blockDim.x) {
        const float *ok = ob + k * 2 * GPO_H;
        float a = 0.0f;
        for (int c = 0; c < GPO_H; c++) {
            float h = (ok[c] + ok[GPO_H + c]) / 2.0f;   /* directions averaged (s2.2) */
            a += lin_w[c] * h;
        }
        row[k] = a / 0.1f;   /* temperature 0.1, a float32 division as upstream */
    }
    for (int64_t k = L + threadIdx.x; k < cap; k += blockDim.x) row[k] = 0.0f;
    __syncthreads();
    if (threadIdx.x == 0) {
        /* padded positions (score -10000) would get exactly 0 weight: the
         * softmax over the L valid positions is the same */
        float mx = -INFINITY, sum = 0.0f;
        for (int64_t k = 0; k < L; k++)
            if (row[k] > mx) mx = row[k];
        for (int64_t k = 0; k < L; k++) {
            row[k] = expf(row[k] - mx);
            sum += row[k];
        }
        for (int64_t k = 0; k < L; k++) row[k] /= sum;
    }
}

/* Grows the table to hold lengths up to lmax (rows are recomputed). */
static itr_status grow_table(itr_cuda_gpo *g, int64_t lmax) {
    if (lmax <= g->cap) return ITR_OK;
    int64_t cap = (lmax + 63) / 64 * 64;
    unsigned char *have = (unsigned char *)calloc((size_t)cap, 1);
    if (!have) return itr_fail(ITR_E_NOMEM, "GPO: out of memory for a length table of %lld", (long long)cap);
    float *table = NULL;
    itr_status st = itr_cu_alloc((void **)&table, (size_t)(cap * cap) * sizeof(float), "GPO theta table");
    if (st) {
        free(have);
        return st;
    }
    itr_cu_free(g->table);
    free(g->have_host);
    g->table = table;
    g->have_host = have;
    g->cap = cap;
    return ITR_OK;
}

/* Computes the table rows of every length of lengths_host not cached yet:
 * one GRU run over B = (number of missing lengths) copies of P. */
static itr_status ensure_theta(itr_cuda_gpo *g, const int64_t *lengths_host, int64_t n) {
    int64_t lmax = 0;
    for (int64_t i = 0; i < n; i++)
        if (lengths_host[i] > lmax) lmax = lengths_host[i];
    itr_status st = grow_table(g, lmax);
    if (st) return st;
    int64_t *missing = (int64_t *)malloc((size_t)lmax * sizeof *missing);
    if (!missing) return itr_fail(ITR_E_NOMEM, "GPO: out of memory");
    int64_t B = 0, T = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t L = lengths_host[i];
        if (g->have_host[L - 1] == 1) continue;
        g->have_host[L - 1] = 1;   /* 1 = being computed in this batch */
        missing[B++] = L;
        if (L > T) T = L;
    }
    if (B == 0) {
        free(missing);
        return ITR_OK;
    }
    float *P = (float *)malloc((size_t)(T * GPO_PE) * sizeof *P);
    float *x_host = (float *)malloc((size_t)(B * T * GPO_PE) * sizeof *x_host);
    float *x = NULL, *o = NULL;
    int64_t *lens = NULL;
    if (!P || !x_host) {
        st = itr_fail(ITR_E_NOMEM, "GPO: out of memory for %lld positional encodings", (long long)B);
        goto done;
    }
    /* step 1 on the host, as upstream builds it on the CPU in float32 */
    itr_gpo_positional(T, GPO_PE, P);
    for (int64_t b = 0; b < B; b++) memcpy(x_host + b * T * GPO_PE, P, (size_t)(T * GPO_PE) * sizeof *P);
    if ((st = itr_cu_upload(&x, x_host, (size_t)(B * T * GPO_PE), "GPO positional encodings")) ||
        (st = itr_cu_upload(&lens, missing, (size_t)B, "GPO lengths")) ||
        (st = itr_cu_alloc((void **)&o, (size_t)(B * T * 2 * GPO_H) * sizeof(float), "GPO GRU output")))
        goto done;
    /* step 2: the BiGRU over each sequence's own length */
    if ((st = itr_cu_gru_forward(&g->gru, x, missing, B, T, o, NULL))) goto done;
    ITR_LAUNCH(itr_cu_gpo_theta_kernel, (unsigned)B, 32, 0, (const float *)o, (const int64_t *)lens, T,
               (const float *)g->lin_w, g->table, g->cap);
    st = itr_cu_launched("itr_cu_gpo_theta_kernel");
done:
    for (int64_t b = 0; b < B; b++) g->have_host[missing[b] - 1] = st ? 0 : 1;
    free(missing);
    free(P);
    free(x_host);
    itr_cu_free(x);
    itr_cu_free(o);
    itr_cu_free(lens);
    return st;
}

/* ---- step 4: per-channel descending sort and weighted sum -------------------------- */

/* 1 when (u, row j) sorts before (v, row k) in the descending order: larger
 * first, equal values in row order; NaN counts as the largest value (as in
 * torch.sort), so that the ranks are a permutation whatever the input. */
static __device__ __forceinline__ int gpo_before(float u, int64_t j, float v, int64_t k) {
    int un = isnan(u), vn = isnan(v);
    if (un || vn) return un && (!vn || j < k);
    return u > v || (u == v && j < k);
}

/* Block (item i, channel tile): ct channels from c0 = blockIdx.y * ct.
 * Dynamic shared memory: vals (lmax, ct), sorted (lmax, ct), w (lmax). */
__global__ void itr_cu_gpo_pool_kernel(const float *__restrict__ x, const int64_t *__restrict__ len, int64_t K,
                                       int64_t D, const float *__restrict__ table, int64_t cap, int ct,
                                       int64_t lmax, float *__restrict__ pooled) {
    ITR_DYNAMIC_SHARED(float, sh);
    float *vals = sh, *sorted = sh + lmax * ct, *w = sorted + lmax * ct;
    int64_t i = blockIdx.x, c0 = (int64_t)blockIdx.y * ct, L = len[i];
    int64_t ncol = D - c0 < ct ? D - c0 : ct;
    const float *xi = x + i * K * D;
    for (int64_t idx = threadIdx.x; idx < L * ct; idx += blockDim.x) {
        int64_t k = idx / ct, c = idx - k * ct;
        vals[idx] = c < ncol ? xi[k * D + c0 + c] : 0.0f;
    }
    for (int64_t k = threadIdx.x; k < L; k += blockDim.x) w[k] = table[(L - 1) * cap + k];
    __syncthreads();
    for (int64_t idx = threadIdx.x; idx < L * ct; idx += blockDim.x) {
        int64_t k = idx / ct, c = idx - k * ct;
        float v = vals[idx];
        int64_t r = 0;   /* descending rank, equal values in row order */
        for (int64_t j = 0; j < L; j++) r += gpo_before(vals[j * ct + c], j, v, k);
        sorted[r * ct + c] = v;
    }
    __syncthreads();
    for (int64_t c = threadIdx.x; c < ncol; c += blockDim.x) {
        float acc = 0.0f;
        for (int64_t r = 0; r < L; r++) acc += sorted[r * ct + c] * w[r];
        pooled[i * D + c0 + c] = acc;
    }
}

/* theta (n, K) = table row of each item's length, 0 beyond it. */
__global__ void itr_cu_gpo_theta_rows_kernel(const float *__restrict__ table, int64_t cap,
                                             const int64_t *__restrict__ len, int64_t n, int64_t K,
                                             float *__restrict__ theta) {
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n * K;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = idx / K, k = idx - i * K, L = len[i];
        theta[idx] = k < L ? table[(L - 1) * cap + k] : 0.0f;
    }
}

itr_status itr_cu_gpo_pool(itr_cuda_gpo *g, const float *x, const int64_t *lengths_host, const int64_t *lengths_dev,
                           int64_t n, int64_t K, int64_t D, float *pooled, float *theta) {
    if (n < 1 || K < 1 || D < 1)
        return itr_fail(ITR_E_SHAPE, "GPO: empty input (%lld sets of %lld x %lld)", (long long)n, (long long)K,
                        (long long)D);
    int64_t lmax = 0;
    for (int64_t i = 0; i < n; i++) {
        if (lengths_host[i] < 1 || lengths_host[i] > K)
            return itr_fail(ITR_E_ARG, "gpo: length %lld outside 1..%lld (set of %lld rows)",
                            (long long)lengths_host[i], (long long)K, (long long)K);
        if (lengths_host[i] > lmax) lmax = lengths_host[i];
    }
    itr_status st = ensure_theta(g, lengths_host, n);
    if (st) return st;
    /* the widest channel tile whose two (lmax, ct) buffers fit in shared memory */
    int ct = 32;
    while (ct > 1 && (size_t)(2 * lmax * ct + lmax) * sizeof(float) > GPO_SHARED_MAX) ct /= 2;
    size_t shmem = (size_t)(2 * lmax * ct + lmax) * sizeof(float);
    if (shmem > GPO_SHARED_MAX)
        return itr_fail(ITR_E_LIMIT, "GPO on CUDA: sets of %lld rows exceed shared memory", (long long)lmax);
    int64_t tiles = (D + ct - 1) / ct;
    if (n > 2147483647LL || tiles > 65535)
        return itr_fail(ITR_E_LIMIT, "GPO on CUDA: %lld sets of %lld channels in one launch", (long long)n,
                        (long long)D);
    dim3 grid((unsigned)n, (unsigned)tiles);
    ITR_LAUNCH(itr_cu_gpo_pool_kernel, grid, GPO_THREADS, shmem, x, lengths_dev, K, D, (const float *)g->table,
               g->cap, ct, lmax, pooled);
    if ((st = itr_cu_launched("itr_cu_gpo_pool_kernel"))) return st;
    if (theta) {
        ITR_LAUNCH(itr_cu_gpo_theta_rows_kernel, stride_blocks(n * K), GPO_THREADS, 0, (const float *)g->table,
                   g->cap, lengths_dev, n, K, theta);
        st = itr_cu_launched("itr_cu_gpo_theta_rows_kernel");
    }
    return st;
}

/* ---- public API ---------------------------------------------------------------------- */

extern "C" itr_status itr_cuda_gpo_create(const itr_gpo *ref, itr_cuda_gpo **out) {
    if (!ref || !out || !ref->lin_w) return itr_fail(ITR_E_ARG, "itr_cuda_gpo_create: no reference GPO");
    *out = NULL;
    if (ref->gru.input_size != GPO_PE || ref->gru.hidden != GPO_H || ref->gru.num_dirs != 2 ||
        ref->gru.num_layers != 1)
        return itr_fail(ITR_E_SHAPE, "GPO: a %d-layer GRU %lld -> %lld with %d directions (expected 1, 32 -> 32, 2)",
                        ref->gru.num_layers, (long long)ref->gru.input_size, (long long)ref->gru.hidden,
                        ref->gru.num_dirs);
    itr_status st = itr_cu_init();
    if (st) return st;
    itr_cuda_gpo *g = (itr_cuda_gpo *)calloc(1, sizeof *g);
    if (!g) return itr_fail(ITR_E_NOMEM, "itr_cuda_gpo_create: out of memory");
    if ((st = itr_cu_gru_upload(&g->gru, &ref->gru)) ||
        (st = itr_cu_upload(&g->lin_w, ref->lin_w, (size_t)GPO_H, "GPO linear weight"))) {
        itr_cuda_gpo_destroy(g);
        return st;
    }
    *out = g;
    return ITR_OK;
}

extern "C" void itr_cuda_gpo_destroy(itr_cuda_gpo *g) {
    if (!g) return;
    itr_cu_gru_free(&g->gru);
    itr_cu_free(g->lin_w);
    itr_cu_free(g->table);
    free(g->have_host);
    itr_cu_vseinf_scratch_free(&g->lens);
    free(g);
}

extern "C" itr_status itr_cuda_gpo_pool(itr_cuda_gpo *g, const float *x, const int64_t *lengths, int64_t n,
                                        int64_t K, int64_t D, float *pooled, float *theta) {
    if (!g || !x || !lengths || !pooled) return itr_fail(ITR_E_ARG, "itr_cuda_gpo_pool: NULL argument");
    if (n < 1 || K < 1 || D < 1)
        return itr_fail(ITR_E_SHAPE, "GPO: empty input (%lld sets of %lld x %lld)", (long long)n, (long long)K,
                        (long long)D);
    float *xd = NULL, *pd = NULL, *td = NULL;
    itr_status st;
    if ((st = itr_cu_vseinf_scratch_reserve(&g->lens, (size_t)n * sizeof(int64_t), "GPO lengths")) ||
        (st = itr_cu_to_device(g->lens.p, lengths, (size_t)n * sizeof(int64_t), "GPO lengths")) ||
        (st = itr_cu_upload(&xd, x, (size_t)(n * K * D), "GPO input")) ||
        (st = itr_cu_alloc((void **)&pd, (size_t)(n * D) * sizeof(float), "GPO pooled")) ||
        (theta && (st = itr_cu_alloc((void **)&td, (size_t)(n * K) * sizeof(float), "GPO theta"))))
        goto done;
    if ((st = itr_cu_gpo_pool(g, xd, lengths, (const int64_t *)g->lens.p, n, K, D, pd, td))) goto done;
    if ((st = itr_cu_to_host(pooled, pd, (size_t)(n * D) * sizeof(float), "GPO pooled"))) goto done;
    if (theta) st = itr_cu_to_host(theta, td, (size_t)(n * K) * sizeof(float), "GPO theta");
done:
    itr_cu_free(xd);
    itr_cu_free(pd);
    itr_cu_free(td);
    return st;
}
