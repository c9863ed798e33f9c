/* vsepp.cu - VSE++ (Faghri et al. 2018; fartashf/vsepp) on the device, with
 * the arithmetic of ref/models/vsepp.c (spec: specs/vsepp_vseinfty.md s1):
 *   image   (s1.4):  v = W_fc f + b_fc,  v = L2N(v) unless no_imgnorm,  |v| if use_abs
 *   caption (s1.5):  u = h_{L-1} of GRU(Embed(ids)),  u = L2N(u),  |u| if use_abs
 *   score   (s1.6):  cosine s = v . u   |   order s = -|| max(0, u - v) ||_2
 * L2N has NO epsilon (x / ||x||, 0/0 = NaN as upstream).
 *
 * Caption state: upstream gathers the padded output at index length-1; for a
 * unidirectional GRU that is the final state of the top layer, which
 * itr_cu_gru_forward returns in h_n (bit-identical: the same value is stored
 * in both), so the (n, T, E) output is never materialised.
 * Scores are float64 of float32 embeddings (s3.3): cosine widens both sides to
 * double on the device and runs one dgemm per tile of image rows; order is a
 * tiled kernel summing max(0, u_k - v_k)^2 in double over k in the reference's
 * order. */
#include "core/compat.h"
#include "core/device.h"
#include "core/gru.h"
#include "core/ops.h"
#include "itr/cuda/vsepp.h"

#include <stdlib.h>
#include <string.h>

struct itr_cuda_vsepp {
    itr_vsepp_config cfg;
    float *fc_w, *fc_b, *embed;    /* (E, img_dim), (E), (V, word_dim) */
    itr_cu_gru gru;                /* word_dim -> E, unidirectional      */
    int64_t batch_images, batch_captions, sim_rows;
};

/* ---- order similarity kernel ----------------------------------------------- */

#define ORDER_TILE 16   /* 16 x 16 (image, caption) pairs per block          */
#define ORDER_KCHUNK 32 /* embedding coordinates staged in shared memory      */

/* sims[i, j] = -sqrt( sum_k max(0, (double)u_j[k] - (double)v_i[k])^2 ) for
 * images i of img (n_img, E) and captions j of cap (n_cap, E); thread (x, y)
 * of block (bx, by) scores caption bx*16+x against image by*16+y. Coordinates
 * are visited in increasing k, as the reference's order_score does.
 * Out-of-range rows are staged as zeros (u - v = 0 adds nothing). */
__global__ void itr_cu_vsepp_order_kernel(const float *__restrict__ img, int64_t n_img,
                                          const float *__restrict__ cap, int64_t n_cap, int64_t E,
                                          double *__restrict__ sims) {
    __shared__ float sv[ORDER_TILE][ORDER_KCHUNK + 1];
    __shared__ float su[ORDER_TILE][ORDER_KCHUNK + 1];
    int tx = (int)threadIdx.x, ty = (int)threadIdx.y, tid = ty * ORDER_TILE + tx;
    int64_t i0 = (int64_t)blockIdx.y * ORDER_TILE, j0 = (int64_t)blockIdx.x * ORDER_TILE;
    double acc = 0.0;
    for (int64_t k0 = 0; k0 < E; k0 += ORDER_KCHUNK) {
        /* 256 threads stage 16 x 32 values of each side, two per thread */
        for (int e = tid; e < ORDER_TILE * ORDER_KCHUNK; e += ORDER_TILE * ORDER_TILE) {
            int r = e / ORDER_KCHUNK, c = e % ORDER_KCHUNK;
            int64_t k = k0 + c;
            sv[r][c] = (i0 + r < n_img && k < E) ? img[(i0 + r) * E + k] : 0.0f;
            su[r][c] = (j0 + r < n_cap && k < E) ? cap[(j0 + r) * E + k] : 0.0f;
        }
        __syncthreads();
        int kn = E - k0 < ORDER_KCHUNK ? (int)(E - k0) : ORDER_KCHUNK;
        for (int c = 0; c < kn; c++) {
            double d = (double)su[tx][c] - (double)sv[ty][c];
            if (d > 0) acc += d * d;              /* clamp(u - v, min=0)^2 */
        }
        __syncthreads();
    }
    if (i0 + ty < n_img && j0 + tx < n_cap) sims[(i0 + ty) * n_cap + j0 + tx] = -sqrt(acc);
}

/* ---- model ------------------------------------------------------------------ */

extern "C" itr_status itr_cuda_vsepp_create(const itr_vsepp *ref, itr_cuda_vsepp **out) {
    if (!ref || !out) return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_create: NULL argument");
    *out = NULL;
    const itr_vsepp_config *c = &ref->cfg;
    if (!ref->fc_w || !ref->fc_b || !ref->embed)
        return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_create: the reference model is not loaded");
    if (ref->gru.num_dirs != 1 || ref->gru.hidden != c->embed_size || ref->gru.input_size != c->word_dim)
        return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_create: GRU %lld -> %lld (%d directions) does not fit word_dim %lld, "
                        "embed_size %lld", (long long)ref->gru.input_size, (long long)ref->gru.hidden,
                        ref->gru.num_dirs, (long long)c->word_dim, (long long)c->embed_size);
    itr_status st = itr_cu_init();
    if (st) return st;
    itr_cuda_vsepp *m = (itr_cuda_vsepp *)calloc(1, sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "itr_cuda_vsepp_create: out of memory");
    m->cfg = *c;
    m->batch_images = 8192;
    m->batch_captions = 2048;
    m->sim_rows = 4096;
    int64_t E = c->embed_size;
    if ((st = itr_cu_upload(&m->fc_w, ref->fc_w, (size_t)(E * c->img_dim), "VSE++ fc.weight")) ||
        (st = itr_cu_upload(&m->fc_b, ref->fc_b, (size_t)E, "VSE++ fc.bias")) ||
        (st = itr_cu_upload(&m->embed, ref->embed, (size_t)(c->vocab_size * c->word_dim), "VSE++ embed.weight")) ||
        (st = itr_cu_gru_upload(&m->gru, &ref->gru))) {
        itr_cuda_vsepp_destroy(m);
        return st;
    }
    *out = m;
    return ITR_OK;
}

extern "C" void itr_cuda_vsepp_destroy(itr_cuda_vsepp *m) {
    if (!m) return;
    itr_cu_free(m->fc_w);
    itr_cu_free(m->fc_b);
    itr_cu_free(m->embed);
    itr_cu_gru_free(&m->gru);
    free(m);
}

extern "C" const itr_vsepp_config *itr_cuda_vsepp_config(const itr_cuda_vsepp *m) { return m ? &m->cfg : NULL; }

extern "C" itr_status itr_cuda_vsepp_set_batching(itr_cuda_vsepp *m, int64_t images, int64_t captions,
                                                  int64_t sim_rows) {
    if (!m || images < 0 || captions < 0 || sim_rows < 0)
        return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_set_batching: NULL model or negative size");
    if (images) m->batch_images = images;
    if (captions) m->batch_captions = captions;
    if (sim_rows) m->sim_rows = sim_rows;
    return ITR_OK;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

extern "C" itr_status itr_cuda_vsepp_encode_images(itr_cuda_vsepp *m, const float *images, int64_t n,
                                                   float *img_emb) {
    if (!m || !images || !img_emb) return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_encode_images: NULL argument");
    if (n < 1) return itr_fail(ITR_E_SHAPE, "VSE++: no images to encode");
    const itr_vsepp_config *c = &m->cfg;
    int64_t E = c->embed_size, F = c->img_dim, nb = min64(n, m->batch_images);
    float *x = NULL, *y = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&x, (size_t)(nb * F), "VSE++ image batch")) ||
        (st = itr_cu_alloc_n(&y, (size_t)(nb * E), "VSE++ image embeddings")))
        goto done;
    for (int64_t i0 = 0; i0 < n; i0 += nb) {
        int64_t b = min64(nb, n - i0);
        if ((st = itr_cu_to_device(x, images + i0 * F, (size_t)(b * F) * sizeof(float), "VSE++ images"))) goto done;
        if ((st = itr_cu_linear(x, b, F, m->fc_w, m->fc_b, E, y))) goto done;      /* W_fc f + b_fc */
        if (!c->no_imgnorm && (st = itr_cu_l2norm_rows(y, b, E, ITR_EPS_NONE, 0.0f))) goto done;
        if (c->use_abs && (st = itr_cu_abs(y, b * E))) goto done;
        if ((st = itr_cu_to_host(img_emb + i0 * E, y, (size_t)(b * E) * sizeof(float), "VSE++ img_emb"))) goto done;
    }
done:
    itr_cu_free(x);
    itr_cu_free(y);
    return st;
}

extern "C" itr_status itr_cuda_vsepp_encode_captions(itr_cuda_vsepp *m, const int64_t *captions,
                                                     const int64_t *lengths, int64_t n, int64_t T,
                                                     float *cap_emb) {
    if (!m || !captions || !lengths || !cap_emb)
        return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_encode_captions: NULL argument");
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "VSE++: no captions to encode");
    const itr_vsepp_config *c = &m->cfg;
    int64_t E = c->embed_size, W = c->word_dim, L = c->num_layers, nb = min64(n, m->batch_captions);
    /* the device embedding does not check ids: every id, padding included, is
     * checked here as itr_embedding does; lengths as itr_gru_forward does */
    for (int64_t i = 0; i < n * T; i++)
        if (captions[i] < 0 || captions[i] >= c->vocab_size)
            return itr_fail(ITR_E_ARG, "embedding: id %lld at position %lld outside [0, %lld)", (long long)captions[i],
                            (long long)i, (long long)c->vocab_size);
    for (int64_t i = 0; i < n; i++)
        if (lengths[i] < 1 || lengths[i] > T)
            return itr_fail(ITR_E_ARG, "GRU: sequence %lld has length %lld outside [1, %lld]", (long long)i,
                            (long long)lengths[i], (long long)T);
    int64_t *ids = NULL;
    float *x = NULL, *h_n = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&ids, (size_t)(nb * T), "VSE++ caption ids")) ||
        (st = itr_cu_alloc_n(&x, (size_t)(nb * T * W), "VSE++ word embeddings")) ||
        (st = itr_cu_alloc_n(&h_n, (size_t)(L * nb * E), "VSE++ GRU states")))
        goto done;
    for (int64_t i0 = 0; i0 < n; i0 += nb) {
        int64_t b = min64(nb, n - i0);
        float *u = h_n + (L - 1) * b * E;     /* top layer's final state = output at length-1 */
        if ((st = itr_cu_to_device(ids, captions + i0 * T, (size_t)(b * T) * sizeof(int64_t), "VSE++ captions")))
            goto done;
        if ((st = itr_cu_embedding(m->embed, c->vocab_size, W, ids, b * T, x))) goto done;   /* X_t = Embed[id_t] */
        if ((st = itr_cu_gru_forward(&m->gru, x, lengths + i0, b, T, NULL, h_n))) goto done;
        if ((st = itr_cu_l2norm_rows(u, b, E, ITR_EPS_NONE, 0.0f))) goto done;
        if (c->use_abs && (st = itr_cu_abs(u, b * E))) goto done;
        if ((st = itr_cu_to_host(cap_emb + i0 * E, u, (size_t)(b * E) * sizeof(float), "VSE++ cap_emb"))) goto done;
    }
done:
    itr_cu_free(ids);
    itr_cu_free(x);
    itr_cu_free(h_n);
    return st;
}

/* One tile of score rows: img (rows, E) against every caption. */
static itr_status sims_tile(const itr_cuda_vsepp *m, const float *img, const double *img64, int64_t rows,
                            const float *cap, const double *cap64, int64_t n_cap, double *tile) {
    int64_t E = m->cfg.embed_size;
    if (m->cfg.measure == ITR_MEASURE_COSINE)   /* numpy float64 dot of float32 values (s3.3) */
        return itr_cu_dgemm(0, 1, rows, n_cap, E, 1.0, img64, E, cap64, E, 0.0, tile, n_cap);
    dim3 grid((unsigned)((n_cap + ORDER_TILE - 1) / ORDER_TILE), (unsigned)((rows + ORDER_TILE - 1) / ORDER_TILE));
    dim3 block(ORDER_TILE, ORDER_TILE);
    ITR_LAUNCH(itr_cu_vsepp_order_kernel, grid, block, 0, img, rows, cap, n_cap, E, tile);
    return itr_cu_launched("itr_cu_vsepp_order_kernel");
}

extern "C" itr_status itr_cuda_vsepp_sims(itr_cuda_vsepp *m, const float *img_emb, int64_t n_img,
                                          const float *cap_emb, int64_t n_cap, double *sims) {
    if (!m || !img_emb || !cap_emb || !sims) return itr_fail(ITR_E_ARG, "itr_cuda_vsepp_sims: NULL argument");
    if (n_img < 1 || n_cap < 1)
        return itr_fail(ITR_E_SHAPE, "VSE++ sims: %lld images x %lld captions", (long long)n_img, (long long)n_cap);
    int64_t E = m->cfg.embed_size, rows = min64(n_img, m->sim_rows);
    int cosine = m->cfg.measure == ITR_MEASURE_COSINE;
    float *img = NULL, *cap = NULL;
    double *img64 = NULL, *cap64 = NULL, *tile = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&img, (size_t)(rows * E), "VSE++ sims images")) ||
        (st = itr_cu_alloc_n(&cap, (size_t)(n_cap * E), "VSE++ sims captions")) ||
        (st = itr_cu_alloc_n(&tile, (size_t)(rows * n_cap), "VSE++ sims tile")))
        goto done;
    if (cosine && ((st = itr_cu_alloc_n(&img64, (size_t)(rows * E), "VSE++ sims images f64")) ||
                   (st = itr_cu_alloc_n(&cap64, (size_t)(n_cap * E), "VSE++ sims captions f64"))))
        goto done;
    if ((st = itr_cu_to_device(cap, cap_emb, (size_t)(n_cap * E) * sizeof(float), "VSE++ cap_emb"))) goto done;
    if (cosine && (st = itr_cu_f32_to_f64(cap, n_cap * E, cap64))) goto done;
    for (int64_t i0 = 0; i0 < n_img; i0 += rows) {
        int64_t b = min64(rows, n_img - i0);
        if ((st = itr_cu_to_device(img, img_emb + i0 * E, (size_t)(b * E) * sizeof(float), "VSE++ img_emb")))
            goto done;
        if (cosine && (st = itr_cu_f32_to_f64(img, b * E, img64))) goto done;
        if ((st = sims_tile(m, img, img64, b, cap, cap64, n_cap, tile))) goto done;
        if ((st = itr_cu_to_host(sims + i0 * n_cap, tile, (size_t)(b * n_cap) * sizeof(double), "VSE++ sims")))
            goto done;
    }
done:
    itr_cu_free(img);
    itr_cu_free(cap);
    itr_cu_free(img64);
    itr_cu_free(cap64);
    itr_cu_free(tile);
    return st;
}
