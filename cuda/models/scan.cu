/* scan.cu - SCAN (kuanghuei/SCAN) on CUDA: the C API of itr/cuda/scan.h.
 * Spec: specs/scan_sgraf.md s4.2-4.4, s5.2; reference ref/models/scan.c.
 *
 *   image   (s4.2): V = l2n(F W_fc^T + b_fc) per region (QUIRK-C1: raw F),
 *           no l2n with no_imgnorm; weight_norm is already folded into ref->fc_w
 *   caption (s4.3): embedding, packed GRU (core/gru.h), bi_gru: the mean
 *           (fwd + bwd) / 2, l2n per word unless no_txtnorm; rows beyond the
 *           length stay 0 (0 / (0 + eps))
 *   sims    (s5.2, QUIRK-S1): the float32 embeddings widened to float64 on
 *           the device, words packed without padding (captions sorted by
 *           length, scores written back to their own columns), then tiles
 *           of (image block x caption block) through models/scan_attn.cu.
 * l2n(x) = x / (||x|| + 1e-8) (QUIRK-S4). */
#include "core/compat.h"
#include "core/device.h"
#include "core/gru.h"
#include "core/ops.h"
#include "itr/cuda/scan.h"
#include "models/scan_attn.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_EPS 1e-8f
#define SCAN_THREADS 256
#define SCAN_STAGE_FLOATS ((int64_t)1 << 26)   /* 256 MB of float32 per encoder chunk */

struct itr_cuda_scan {
    itr_scan_config cfg;
    float *fc_w, *fc_b;          /* (D, img_dim), (D) or NULL */
    float *embed;                /* (vocab, word_dim)         */
    itr_cu_gru gru;
    int64_t img_block, word_block;
    int stage;
};

/* ---- model ------------------------------------------------------------------ */

extern "C" itr_status itr_cuda_scan_create(const itr_scan *ref, itr_cuda_scan **out) {
    if (!ref || !out) return itr_fail(ITR_E_ARG, "itr_cuda_scan_create: NULL argument");
    *out = NULL;
    itr_status st = itr_cu_init();
    if (st) return st;
    itr_cuda_scan *m = (itr_cuda_scan *)calloc(1, sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "itr_cuda_scan_create: out of memory");
    const itr_scan_config *c = &ref->cfg;
    m->cfg = *c;
    m->img_block = 256;
    m->word_block = 4096;
    m->stage = 1;
    if ((st = itr_cu_upload(&m->fc_w, ref->fc_w, (size_t)(c->embed_size * c->img_dim), "SCAN fc.weight")) ||
        (st = itr_cu_upload(&m->fc_b, ref->fc_b, (size_t)c->embed_size, "SCAN fc.bias")) ||
        (st = itr_cu_upload(&m->embed, ref->embed, (size_t)(c->vocab_size * c->word_dim), "SCAN embed.weight")) ||
        (st = itr_cu_gru_upload(&m->gru, &ref->gru))) {
        itr_cuda_scan_destroy(m);
        return st;
    }
    *out = m;
    return ITR_OK;
}

extern "C" void itr_cuda_scan_destroy(itr_cuda_scan *m) {
    if (!m) return;
    itr_cu_free(m->fc_w);
    itr_cu_free(m->fc_b);
    itr_cu_free(m->embed);
    itr_cu_gru_free(&m->gru);
    free(m);
}

extern "C" itr_status itr_cuda_scan_set_tiling(itr_cuda_scan *m, int64_t img_block, int64_t word_block, int stage) {
    if (!m || img_block < 0 || word_block < 0)
        return itr_fail(ITR_E_ARG, "itr_cuda_scan_set_tiling: NULL model or negative block");
    if (img_block) m->img_block = img_block;
    if (word_block) m->word_block = word_block;
    m->stage = stage != 0;
    return ITR_OK;
}

/* ---- encoders ------------------------------------------------------------------ */

extern "C" itr_status itr_cuda_scan_encode_images(itr_cuda_scan *m, const float *images, int64_t n, int64_t R,
                                                  float *img_emb) {
    if (!m || !images || !img_emb) return itr_fail(ITR_E_ARG, "itr_cuda_scan_encode_images: NULL argument");
    const itr_scan_config *c = &m->cfg;
    if (n < 1 || R < 1)
        return itr_fail(ITR_E_SHAPE, "SCAN CUDA: images (%lld, %lld, %lld): nothing to encode", (long long)n,
                        (long long)R, (long long)c->img_dim);
    int64_t D = c->embed_size, F = c->img_dim;
    /* chunks of whole regions: a region is independent of every other (s4.2) */
    int64_t rows = n * R, chunk = SCAN_STAGE_FLOATS / (F + D);
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    float *x = NULL, *y = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&x, (size_t)(chunk * F), "SCAN image features")) ||
        (st = itr_cu_alloc_n(&y, (size_t)(chunk * D), "SCAN region embeddings")))
        goto done;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int64_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        if ((st = itr_cu_to_device(x, images + r0 * F, (size_t)(nr * F) * sizeof(float), "SCAN image features")))
            break;
        if ((st = itr_cu_linear(x, nr, F, m->fc_w, m->fc_b, D, y))) break;   /* QUIRK-C1: raw features */
        if (!c->no_imgnorm && (st = itr_cu_l2norm_rows(y, nr, D, ITR_EPS_ADD, SCAN_EPS))) break;
        if ((st = itr_cu_to_host(img_emb + r0 * D, y, (size_t)(nr * D) * sizeof(float), "SCAN region embeddings")))
            break;
    }
done:
    itr_cu_free(x);
    itr_cu_free(y);
    return st;
}

/* emb (n, D) = (out[:, :D] + out[:, D:]) / 2 of the bidirectional output
 * out (n, 2D), exactly the reference's float expression (s4.3). */
__global__ void itr_cu_scan_bi_mean_kernel(const float *__restrict__ out, int64_t n, int64_t D,
                                           float *__restrict__ emb) {
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n * D) return;
    int64_t row = k / D, u = k - row * D;
    emb[k] = (out[row * 2 * D + u] + out[row * 2 * D + D + u]) / 2.0f;
}

extern "C" itr_status itr_cuda_scan_encode_captions(itr_cuda_scan *m, const int64_t *captions,
                                                    const int64_t *lengths, int64_t n, int64_t T, float *cap_emb) {
    if (!m || !captions || !lengths || !cap_emb)
        return itr_fail(ITR_E_ARG, "itr_cuda_scan_encode_captions: NULL argument");
    const itr_scan_config *c = &m->cfg;
    if (n < 1 || T < 1)
        return itr_fail(ITR_E_SHAPE, "SCAN CUDA: captions (%lld, %lld): nothing to encode", (long long)n,
                        (long long)T);
    for (int64_t k = 0; k < n; k++)
        if (lengths[k] < 1 || lengths[k] > T)
            return itr_fail(ITR_E_SHAPE, "SCAN CUDA: lengths[%lld] = %lld outside [1, %lld]", (long long)k,
                            (long long)lengths[k], (long long)T);
    /* every id of the (n, T) array is embedded, as itr_embedding does */
    for (int64_t k = 0; k < n * T; k++)
        if (captions[k] < 0 || captions[k] >= c->vocab_size)
            return itr_fail(ITR_E_ARG, "SCAN CUDA: caption %lld word %lld: id %lld outside [0, %lld)",
                            (long long)(k / T), (long long)(k % T), (long long)captions[k],
                            (long long)c->vocab_size);
    int64_t D = c->embed_size, Wd = c->word_dim, dirs = c->bi_gru ? 2 : 1;
    int64_t per_caption = T * (Wd + dirs * D + D), chunk = SCAN_STAGE_FLOATS / per_caption;
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n;
    int64_t *ids = NULL;
    float *x = NULL, *out = NULL, *emb = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&ids, (size_t)(chunk * T), "SCAN caption ids")) ||
        (st = itr_cu_alloc_n(&x, (size_t)(chunk * T * Wd), "SCAN word vectors")) ||
        (st = itr_cu_alloc_n(&out, (size_t)(chunk * T * dirs * D), "SCAN GRU outputs")))
        goto done;
    emb = out;   /* unidirectional: the GRU output is the embedding */
    if (dirs == 2 && (st = itr_cu_alloc_n(&emb, (size_t)(chunk * T * D), "SCAN word embeddings"))) {
        emb = NULL;
        goto done;
    }
    for (int64_t k0 = 0; k0 < n; k0 += chunk) {
        int64_t nb = n - k0 < chunk ? n - k0 : chunk, rows = nb * T;
        if ((st = itr_cu_to_device(ids, captions + k0 * T, (size_t)rows * sizeof(int64_t), "SCAN caption ids")))
            break;
        if ((st = itr_cu_embedding(m->embed, c->vocab_size, Wd, ids, rows, x))) break;
        /* packed sequences: padding never enters the recurrence, out is 0 beyond */
        if ((st = itr_cu_gru_forward(&m->gru, x, lengths + k0, nb, T, out, NULL))) break;
        if (dirs == 2) {
            ITR_LAUNCH(itr_cu_scan_bi_mean_kernel, itr_cu_blocks(rows * D, SCAN_THREADS), SCAN_THREADS, 0,
                       (const float *)out, rows, D, emb);
            if ((st = itr_cu_launched("itr_cu_scan_bi_mean_kernel"))) break;
        }
        if (!c->no_txtnorm && (st = itr_cu_l2norm_rows(emb, rows, D, ITR_EPS_ADD, SCAN_EPS))) break;
        if ((st = itr_cu_to_host(cap_emb + k0 * T * D, emb, (size_t)(rows * D) * sizeof(float),
                                 "SCAN word embeddings")))
            break;
    }
done:
    itr_cu_free(ids);
    itr_cu_free(x);
    if (emb != out) itr_cu_free(emb);
    itr_cu_free(out);
    return st;
}

/* ---- float64 cross attention --------------------------------------------------- */

/* Device float64 copies: V (n_img, R, D) and the valid words of every caption
 * packed caption after caption (QUIRK-S1: float32 values held in float64). */
typedef struct scan_inputs {
    double *V, *W;
} scan_inputs;

static void inputs_free(scan_inputs *in) {
    itr_cu_free(in->V);
    itr_cu_free(in->W);
    in->V = in->W = NULL;
}

static itr_status widen(const float *host, int64_t n, double **dev, const char *what) {
    float *f = NULL;
    itr_status st = itr_cu_upload(&f, host, (size_t)n, what);
    if (!st) st = itr_cu_alloc_n(dev, (size_t)n, what);
    if (!st) st = itr_cu_f32_to_f64(f, n, *dev);
    itr_cu_free(f);
    return st;
}

/* order (n_cap): the captions sorted by length, stably (counting sort over
 * 1..T), so that a caption block's longest caption, which sizes its shared
 * memory, is close to all of them; sorted (n_cap): their lengths. */
static itr_status sort_by_length(const int64_t *lengths, int64_t n_cap, int64_t T, int64_t *order, int64_t *sorted) {
    int64_t *start = (int64_t *)calloc((size_t)(T + 2), sizeof *start);
    if (!start) return itr_fail(ITR_E_NOMEM, "SCAN CUDA: out of memory sorting %lld captions", (long long)n_cap);
    for (int64_t j = 0; j < n_cap; j++) start[lengths[j] + 1]++;
    for (int64_t l = 1; l <= T + 1; l++) start[l] += start[l - 1];
    for (int64_t j = 0; j < n_cap; j++) {
        int64_t k = start[lengths[j]]++;
        order[k] = j;
        sorted[k] = lengths[j];
    }
    free(start);
    return ITR_OK;
}

/* cap_emb (n_cap, T, D) -> the valid rows of the captions in `order`, packed
 * caption after caption and widened on the device. */
static itr_status upload_words(const float *cap_emb, const int64_t *lengths, const int64_t *order, int64_t n_cap,
                               int64_t T, int64_t D, double **W) {
    int64_t n_words = 0;
    for (int64_t j = 0; j < n_cap; j++) n_words += lengths[j];
    float *packed = (float *)malloc((size_t)(n_words * D) * sizeof *packed);
    if (!packed) return itr_fail(ITR_E_NOMEM, "SCAN CUDA: out of memory packing %lld words", (long long)n_words);
    for (int64_t k = 0, w = 0; k < n_cap; k++) {
        int64_t j = order[k];
        memcpy(packed + w * D, cap_emb + j * T * D, (size_t)(lengths[j] * D) * sizeof *packed);
        w += lengths[j];
    }
    itr_status st = widen(packed, n_words * D, W, "SCAN word embeddings");
    free(packed);
    return st;
}

static itr_status check_sims_args(const itr_cuda_scan *m, int64_t n_img, int64_t R, const int64_t *lengths,
                                  int64_t n_cap, int64_t T) {
    int64_t D = m->cfg.embed_size;
    if (n_img < 1 || n_cap < 1 || R < 1 || T < 1)
        return itr_fail(ITR_E_SHAPE,
                        "SCAN CUDA sims: img_emb (%lld, %lld, %lld), cap_emb (%lld, %lld, %lld): empty",
                        (long long)n_img, (long long)R, (long long)D, (long long)n_cap, (long long)T, (long long)D);
    for (int64_t j = 0; j < n_cap; j++)
        if (lengths[j] < 1 || lengths[j] > T)
            return itr_fail(ITR_E_SHAPE, "SCAN CUDA sims: lengths[%lld] = %lld outside [1, Lmax = %lld]",
                            (long long)j, (long long)lengths[j], (long long)T);
    return ITR_OK;
}

extern "C" itr_status itr_cuda_scan_sims_f64(itr_cuda_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                                             const float *cap_emb, const int64_t *lengths, int64_t n_cap,
                                             int64_t T, double *sims) {
    if (!m || !img_emb || !cap_emb || !lengths || !sims)
        return itr_fail(ITR_E_ARG, "itr_cuda_scan_sims_f64: NULL argument");
    itr_status st = check_sims_args(m, n_img, R, lengths, n_cap, T);
    if (st) return st;
    int64_t D = m->cfg.embed_size;
    int64_t ni_max = m->img_block < n_img ? m->img_block : n_img;
    int64_t wb_max = m->word_block > T ? m->word_block : T;   /* at least one whole caption */
    scan_inputs in = {NULL, NULL};
    itr_cu_scan_batch b;
    memset(&b, 0, sizeof b);
    double *X = NULL, *S = NULL;
    int64_t *order = (int64_t *)malloc((size_t)n_cap * sizeof *order);
    int64_t *sorted = (int64_t *)malloc((size_t)n_cap * sizeof *sorted);
    if (!order || !sorted) {
        st = itr_fail(ITR_E_NOMEM, "SCAN CUDA sims: out of memory for %lld captions", (long long)n_cap);
        goto done;
    }
    if ((st = sort_by_length(lengths, n_cap, T, order, sorted)) ||
        (st = widen(img_emb, n_img * R * D, &in.V, "SCAN region embeddings")) ||
        (st = upload_words(cap_emb, lengths, order, n_cap, T, D, &in.W)) ||
        (st = itr_cu_scan_batch_init(&b, &m->cfg.attn, in.V, n_img, R, in.W, sorted, order, n_cap, D)))
        goto done;
    if ((st = itr_cu_alloc_n(&X, (size_t)(ni_max * R * wb_max), "SCAN tile dots")) ||
        (st = itr_cu_alloc_n(&S, (size_t)(ni_max * n_cap), "SCAN scores")))
        goto done;
    /* image blocks (rows of sims) x caption blocks of at most wb_max words */
    for (int64_t i0 = 0; i0 < n_img && !st; i0 += ni_max) {
        int64_t ni = n_img - i0 < ni_max ? n_img - i0 : ni_max;
        for (int64_t j0 = 0, nc = 0; j0 < n_cap && !st; j0 += nc) {
            nc = 1;   /* as many whole captions as fit in wb_max words */
            while (j0 + nc < n_cap && itr_cu_scan_block_words(&b, j0, nc + 1) <= wb_max) nc++;
            st = itr_cu_scan_tile(&b, i0, ni, j0, nc, m->stage, X, S, n_cap, NULL, 0, NULL, 0);
        }
        if (!st) st = itr_cu_to_host(sims + i0 * n_cap, S, (size_t)(ni * n_cap) * sizeof(double), "SCAN scores");
    }
done:
    free(order);
    free(sorted);
    itr_cu_free(X);
    itr_cu_free(S);
    itr_cu_scan_batch_free(&b);
    inputs_free(&in);
    return st;
}

extern "C" itr_status itr_cuda_scan_caption_f64(itr_cuda_scan *m, const float *img_emb, int64_t n_img, int64_t R,
                                                const float *cap, int64_t L, double *attnT, double *wei,
                                                double *row_sim, double *scores) {
    if (!m || !img_emb || !cap) return itr_fail(ITR_E_ARG, "itr_cuda_scan_caption_f64: NULL argument");
    itr_status st = check_sims_args(m, n_img, R, &L, 1, L);
    if (st) return st;
    int64_t D = m->cfg.embed_size;
    int t2i = m->cfg.attn.dir == ITR_SCAN_T2I;
    int64_t nq = t2i ? L : R, nc = t2i ? R : L;
    scan_inputs in = {NULL, NULL};
    itr_cu_scan_batch b;
    memset(&b, 0, sizeof b);
    double *X = NULL, *S = NULL, *A = NULL, *rs = NULL, *Wc = NULL;
    if ((st = widen(img_emb, n_img * R * D, &in.V, "SCAN region embeddings")) ||
        (st = widen(cap, L * D, &in.W, "SCAN word embeddings")) ||
        (st = itr_cu_scan_batch_init(&b, &m->cfg.attn, in.V, n_img, R, in.W, &L, NULL, 1, D)))
        goto done;
    if ((st = itr_cu_alloc_n(&X, (size_t)(n_img * R * L), "SCAN tile dots")) ||
        (st = itr_cu_alloc_n(&S, (size_t)n_img, "SCAN scores")) ||
        (st = itr_cu_alloc_n(&A, (size_t)(n_img * nc * nq), "SCAN attention")) ||
        (st = itr_cu_alloc_n(&rs, (size_t)(n_img * nq), "SCAN row_sim")))
        goto done;
    /* one tile: every image against the caption; pair p = image p */
    if ((st = itr_cu_scan_tile(&b, 0, n_img, 0, 1, m->stage, X, S, 1, A, nc * nq, rs, nq))) goto done;
    if (wei) {
        /* weiContext_i (nq, D) = P_i C_i = attnT_i^T C_i; the context is the
         * image's regions (t2i) or the one caption's words for every image (i2t) */
        if ((st = itr_cu_alloc_n(&Wc, (size_t)(n_img * nq * D), "SCAN weiContext"))) goto done;
        if ((st = itr_cu_dgemm_batched(1, 0, nq, D, nc, 1.0, A, nq, nc * nq, t2i ? in.V : in.W, D, t2i ? R * D : 0,
                                       0.0, Wc, D, nq * D, n_img)))
            goto done;
        if ((st = itr_cu_to_host(wei, Wc, (size_t)(n_img * nq * D) * sizeof(double), "SCAN weiContext"))) goto done;
    }
    if (attnT && (st = itr_cu_to_host(attnT, A, (size_t)(n_img * nc * nq) * sizeof(double), "SCAN attention")))
        goto done;
    if (row_sim && (st = itr_cu_to_host(row_sim, rs, (size_t)(n_img * nq) * sizeof(double), "SCAN row_sim")))
        goto done;
    if (scores) st = itr_cu_to_host(scores, S, (size_t)n_img * sizeof(double), "SCAN scores");
done:
    itr_cu_free(X);
    itr_cu_free(S);
    itr_cu_free(A);
    itr_cu_free(rs);
    itr_cu_free(Wc);
    itr_cu_scan_batch_free(&b);
    inputs_free(&in);
    return st;
}
