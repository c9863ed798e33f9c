/* vseinf.cu - VSE-infinity (woodfrog/vse_infty) encoders on the device.
 * Spec: specs/vsepp_vseinfty.md s2; the reference is ref/models/vseinf.c.
 *
 *   image (s2.4 'basic'):  Z = fc(R) + l1( ReLU( BN0( l0(R) ) ) ),  v = L2Ne( GPO(Z, L) )
 *   image (s2.5 grid agg): Z = fc(R)                                 (no MLP: ref l0_w NULL)
 *   BiGRU (s2.6):          o = (fwd + rev) / 2 of BiGRU(Embed(ids)), u = L2Ne( GPO(o, L) )
 *   BERT  (s2.7):          u = L2Ne( GPO( linear(BERT(ids)), L ) )   (bert.cu)
 *   sims  (s2.8):          v . u in float64 (dgemm of the float32 values widened)
 * L2Ne(x) = x / (||x|| + 1e-8). Every row is independent, so a call is split
 * into chunks of items whose work buffers stay bounded; the GPO of a chunk
 * runs all its items in one launch (gpo.cu). Rows at or beyond an item's
 * length are set to 0 in the GPO input, as the reference reports it. */
#include "core/compat.h"
#include "core/device.h"
#include "core/gru.h"
#include "core/ops.h"
#include "models/vseinf_internal.h"

#include <stdlib.h>
#include <string.h>

#define VSEINF_THREADS 256
#define VSEINF_ALIGN 64
#define VSEINF_L2_EPS 1e-8f     /* vse_infty's l2norm adds 1e-8 to the norm */
#define VSEINF_BN_EPS 1e-5f     /* BatchNorm1d default                       */

struct itr_cuda_vseinf {
    itr_vseinf_text text;
    int64_t img_dim, E, Hm, word_dim, vocab;
    int no_imgnorm, no_txtnorm, has_mlp;
    float *fc_w, *fc_b, *l0_w, *l0_b, *bn_mean, *bn_var, *bn_w, *bn_b, *l1_w, *l1_b;
    float *embed, *lin_w, *lin_b;
    itr_cuda_gpo *img_gpo, *txt_gpo;
    itr_cu_gru rnn;
    itr_cuda_bert *bert;
    itr_cu_vseinf_scratch work, ids;   /* activations; ids + lengths of a chunk */
    int64_t max_chunk;                 /* 0: automatic                           */
};

static int64_t align_up(int64_t n) { return (n + VSEINF_ALIGN - 1) / VSEINF_ALIGN * VSEINF_ALIGN; }

/* z = mo + z (the reference's mlp(x) + fc(x), in that order) */
__global__ void itr_cu_vseinf_add_kernel(const float *__restrict__ mo, float *__restrict__ z, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        z[i] = mo[i] + z[i];
}

/* feat (rows, E) = (out[:, :E] + out[:, E:]) / 2: the BiGRU directions averaged */
__global__ void itr_cu_vseinf_mean_dirs_kernel(const float *__restrict__ out, int64_t rows, int64_t E,
                                               float *__restrict__ feat) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < rows * E;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / E, c = i - r * E;
        feat[i] = (out[r * 2 * E + c] + out[r * 2 * E + E + c]) / 2.0f;
    }
}

static unsigned stride_blocks(int64_t total) {
    int64_t b = (total + VSEINF_THREADS - 1) / VSEINF_THREADS;
    if (b > 65536) b = 65536;
    return (unsigned)(b < 1 ? 1 : b);
}

/* ---- create / destroy -------------------------------------------------------------- */

extern "C" itr_status itr_cuda_vseinf_create(const itr_vseinf *ref, itr_cuda_vseinf **out) {
    if (!ref || !out) return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_create: NULL argument");
    *out = NULL;
    if (!ref->fc_w || ref->embed_size < 1 || ref->img_dim < 1)
        return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_create: the reference model is not loaded");
    itr_status st = itr_cu_init();
    if (st) return st;
    itr_cuda_vseinf *m = (itr_cuda_vseinf *)calloc(1, sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "itr_cuda_vseinf_create: out of memory");
    int64_t E = ref->embed_size, D = ref->img_dim, Hm = ref->mlp_hidden;
    m->text = ref->text;
    m->img_dim = D;
    m->E = E;
    m->Hm = Hm;
    m->word_dim = ref->word_dim;
    m->vocab = ref->vocab_size;
    m->no_imgnorm = ref->no_imgnorm;
    m->no_txtnorm = ref->no_txtnorm;
    m->has_mlp = ref->l0_w != NULL;
    if ((st = itr_cu_upload(&m->fc_w, ref->fc_w, (size_t)(E * D), "VSE-inf fc.weight")) ||
        (st = itr_cu_upload(&m->fc_b, ref->fc_b, (size_t)E, "VSE-inf fc.bias")))
        goto fail;
    if (m->has_mlp) {
        if (!ref->l0_b || !ref->l1_w || !ref->l1_b || !ref->bn_mean || !ref->bn_var || Hm < 1) {
            st = itr_fail(ITR_E_ARG, "itr_cuda_vseinf_create: the image MLP is incomplete");
            goto fail;
        }
        if ((st = itr_cu_upload(&m->l0_w, ref->l0_w, (size_t)(Hm * D), "VSE-inf mlp.layers.0.weight")) ||
            (st = itr_cu_upload(&m->l0_b, ref->l0_b, (size_t)Hm, "VSE-inf mlp.layers.0.bias")) ||
            (st = itr_cu_upload(&m->bn_mean, ref->bn_mean, (size_t)Hm, "VSE-inf mlp.bns.0")) ||
            (st = itr_cu_upload(&m->bn_var, ref->bn_var, (size_t)Hm, "VSE-inf mlp.bns.0")) ||
            (st = itr_cu_upload(&m->bn_w, ref->bn_w, (size_t)Hm, "VSE-inf mlp.bns.0")) ||
            (st = itr_cu_upload(&m->bn_b, ref->bn_b, (size_t)Hm, "VSE-inf mlp.bns.0")) ||
            (st = itr_cu_upload(&m->l1_w, ref->l1_w, (size_t)(E * Hm), "VSE-inf mlp.layers.1.weight")) ||
            (st = itr_cu_upload(&m->l1_b, ref->l1_b, (size_t)E, "VSE-inf mlp.layers.1.bias")))
            goto fail;
    }
    if ((st = itr_cuda_gpo_create(&ref->img_gpo, &m->img_gpo)) ||
        (st = itr_cuda_gpo_create(&ref->txt_gpo, &m->txt_gpo)))
        goto fail;
    if (ref->text == ITR_VSEINF_BERT) {
        if ((st = itr_cuda_bert_create(&ref->bert, &m->bert)) ||
            (st = itr_cu_upload(&m->lin_w, ref->lin_w, (size_t)(E * ref->bert.hidden), "VSE-inf linear.weight")) ||
            (st = itr_cu_upload(&m->lin_b, ref->lin_b, (size_t)E, "VSE-inf linear.bias")))
            goto fail;
    } else {
        if (!ref->embed || m->vocab < 1 || m->word_dim < 1) {
            st = itr_fail(ITR_E_ARG, "itr_cuda_vseinf_create: the BiGRU text encoder is not loaded");
            goto fail;
        }
        if ((st = itr_cu_upload(&m->embed, ref->embed, (size_t)(m->vocab * m->word_dim), "VSE-inf embed.weight")) ||
            (st = itr_cu_gru_upload(&m->rnn, &ref->rnn)))
            goto fail;
    }
    *out = m;
    return ITR_OK;
fail:
    itr_cuda_vseinf_destroy(m);
    return st;
}

extern "C" void itr_cuda_vseinf_destroy(itr_cuda_vseinf *m) {
    if (!m) return;
    float *bufs[] = {m->fc_w, m->fc_b,  m->l0_w,  m->l0_b,  m->bn_mean, m->bn_var, m->bn_w,
                     m->bn_b, m->l1_w,  m->l1_b,  m->embed, m->lin_w,   m->lin_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) itr_cu_free(bufs[i]);
    itr_cuda_gpo_destroy(m->img_gpo);
    itr_cuda_gpo_destroy(m->txt_gpo);
    itr_cu_gru_free(&m->rnn);
    itr_cuda_bert_destroy(m->bert);
    itr_cu_vseinf_scratch_free(&m->work);
    itr_cu_vseinf_scratch_free(&m->ids);
    free(m);
}

extern "C" itr_status itr_cuda_vseinf_set_chunk(itr_cuda_vseinf *m, int64_t max_items) {
    if (!m || max_items < 0) return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_set_chunk: bad arguments");
    m->max_chunk = max_items;
    return ITR_OK;
}

static int64_t chunk_items(const itr_cuda_vseinf *m, int64_t floats_per_item, int64_t n) {
    int64_t c = itr_cu_vseinf_chunk(floats_per_item, n);
    return m->max_chunk > 0 && m->max_chunk < c ? m->max_chunk : c;
}

/* Uploads lengths[i0 .. i0+nc) (and ids rows when non-NULL, nc * T) into
 * m->ids; *len_dev / *ids_dev point there. */
static itr_status upload_chunk_ids(itr_cuda_vseinf *m, const int64_t *lengths, const int64_t *ids, int64_t nc,
                                   int64_t T, const int64_t **len_dev, const int64_t **ids_dev) {
    size_t n_ids = ids ? (size_t)(nc * T) : 0;
    itr_status st = itr_cu_vseinf_scratch_reserve(&m->ids, (n_ids + (size_t)nc) * sizeof(int64_t), "VSE-inf ids");
    if (st) return st;
    int64_t *base = (int64_t *)m->ids.p;
    if (ids && (st = itr_cu_to_device(base, ids, n_ids * sizeof(int64_t), "VSE-inf ids"))) return st;
    if ((st = itr_cu_to_device(base + n_ids, lengths, (size_t)nc * sizeof(int64_t), "VSE-inf lengths"))) return st;
    *len_dev = base + n_ids;
    if (ids_dev) *ids_dev = base;
    return ITR_OK;
}

/* GPO of the chunk's features feat (nc, K, E) (rows beyond the lengths
 * zeroed first), the optional host intermediates of rows [i0, i0 + nc), and
 * the embedding emb (nc, E) on the device, normalised unless no_norm. */
static itr_status pool_chunk(itr_cuda_gpo *g, float *feat, const int64_t *lengths_host, const int64_t *len_dev,
                             int64_t i0, int64_t nc, int64_t K, int64_t E, int no_norm, float *emb, float *theta_dev,
                             float *emb_out, float *gpo_in, float *theta, float *pooled) {
    itr_status st;
    if ((st = itr_cu_vseinf_zero_tail(feat, len_dev, nc, K, E))) return st;
    if (gpo_in && (st = itr_cu_to_host(gpo_in + i0 * K * E, feat, (size_t)(nc * K * E) * sizeof(float),
                                       "VSE-inf GPO input")))
        return st;
    if ((st = itr_cu_gpo_pool(g, feat, lengths_host + i0, len_dev, nc, K, E, emb, theta ? theta_dev : NULL)))
        return st;
    if (theta &&
        (st = itr_cu_to_host(theta + i0 * K, theta_dev, (size_t)(nc * K) * sizeof(float), "VSE-inf pool weights")))
        return st;
    if (pooled &&
        (st = itr_cu_to_host(pooled + i0 * E, emb, (size_t)(nc * E) * sizeof(float), "VSE-inf pooled features")))
        return st;
    if (!no_norm && (st = itr_cu_l2norm_rows(emb, nc, E, ITR_EPS_ADD, VSEINF_L2_EPS))) return st;
    return itr_cu_to_host(emb_out + i0 * E, emb, (size_t)(nc * E) * sizeof(float), "VSE-inf embeddings");
}

static itr_status check_lengths(const int64_t *lengths, int64_t n, int64_t K, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (lengths[i] < 1 || lengths[i] > K)
            return itr_fail(ITR_E_ARG, "VSE-inf: %s %lld has length %lld outside 1..%lld", what, (long long)i,
                            (long long)lengths[i], (long long)K);
    return ITR_OK;
}

/* ---- images (s2.4, s2.5) ------------------------------------------------------------------ */

extern "C" itr_status itr_cuda_vseinf_encode_images(itr_cuda_vseinf *m, const float *images, const int64_t *lengths,
                                                    int64_t n, int64_t R, float *img_emb, float *gpo_in,
                                                    float *theta, float *pooled) {
    if (!m || !images || !lengths || !img_emb) return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_encode_images: NULL argument");
    if (n < 1 || R < 1) return itr_fail(ITR_E_SHAPE, "VSE-inf: no images to encode");
    itr_status st = check_lengths(lengths, n, R, "item");
    if (st) return st;
    int64_t D = m->img_dim, E = m->E, Hm = m->has_mlp ? m->Hm : 0;
    /* per item: images, z, h, mo, theta, emb */
    int64_t per_item = align_up(R * D) + align_up(R * E) + align_up(R * Hm) + align_up(R * E) + align_up(R) + align_up(E);
    int64_t chunk = chunk_items(m, per_item, n);
    if ((st = itr_cu_vseinf_scratch_reserve(&m->work, (size_t)(per_item * chunk) * sizeof(float), "VSE-inf images")))
        return st;
    float *base = (float *)m->work.p;
    float *x = base, *z = x + align_up(chunk * R * D), *h = z + align_up(chunk * R * E);
    float *mo = h + align_up(chunk * R * Hm), *th = mo + align_up(chunk * R * E), *emb = th + align_up(chunk * R);
    for (int64_t i0 = 0; i0 < n && !st; i0 += chunk) {
        int64_t nc = n - i0 < chunk ? n - i0 : chunk, rows = nc * R;
        const int64_t *len_dev;
        if ((st = upload_chunk_ids(m, lengths + i0, NULL, nc, 0, &len_dev, NULL)) ||
            (st = itr_cu_to_device(x, images + i0 * R * D, (size_t)(rows * D) * sizeof(float), "VSE-inf images")))
            break;
        /* every row independently (BN in eval mode has no batch dependence) */
        if ((st = itr_cu_linear(x, rows, D, m->fc_w, m->fc_b, E, z))) break;
        if (m->has_mlp) {
            if ((st = itr_cu_linear(x, rows, D, m->l0_w, m->l0_b, Hm, h)) ||
                (st = itr_cu_batchnorm_eval(h, rows, Hm, 1, m->bn_mean, m->bn_var, m->bn_w, m->bn_b, VSEINF_BN_EPS)) ||
                (st = itr_cu_activation(h, rows * Hm, ITR_CU_RELU)) ||
                (st = itr_cu_linear(h, rows, Hm, m->l1_w, m->l1_b, E, mo)))
                break;
            /* QUIRK(vseinf-mlp-bns1): mlp.bns.1 is never applied upstream */
            ITR_LAUNCH(itr_cu_vseinf_add_kernel, stride_blocks(rows * E), VSEINF_THREADS, 0, (const float *)mo, z,
                       rows * E);
            if ((st = itr_cu_launched("itr_cu_vseinf_add_kernel"))) break;
        }
        st = pool_chunk(m->img_gpo, z, lengths, len_dev, i0, nc, R, E, m->no_imgnorm, emb, th, img_emb, gpo_in,
                        theta, pooled);
    }
    return st;
}

/* ---- captions (s2.6, s2.7) ------------------------------------------------------------------ */

/* BiGRU features of a chunk: ids_dev (nc, T) -> feat (nc, T, E). */
static itr_status bigru_chunk(itr_cuda_vseinf *m, const int64_t *ids_dev, const int64_t *lengths_host, int64_t nc,
                              int64_t T, float *x, float *out, float *feat) {
    int64_t E = m->E, rows = nc * T;
    itr_status st;
    if ((st = itr_cu_embedding(m->embed, m->vocab, m->word_dim, ids_dev, rows, x)) ||
        (st = itr_cu_gru_forward(&m->rnn, x, lengths_host, nc, T, out, NULL)))
        return st;
    ITR_LAUNCH(itr_cu_vseinf_mean_dirs_kernel, stride_blocks(rows * E), VSEINF_THREADS, 0, (const float *)out, rows,
               E, feat);
    return itr_cu_launched("itr_cu_vseinf_mean_dirs_kernel");
}

extern "C" itr_status itr_cuda_vseinf_encode_captions(itr_cuda_vseinf *m, const int64_t *captions,
                                                      const int64_t *lengths, int64_t n, int64_t T, float *cap_emb,
                                                      float *gpo_in, float *theta, float *pooled, float *bert_out) {
    if (!m || !captions || !lengths || !cap_emb)
        return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_encode_captions: NULL argument");
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "VSE-inf: no captions to encode");
    int bert = m->text == ITR_VSEINF_BERT;
    itr_status st = check_lengths(lengths, n, T, "caption");
    if (st) return st;
    if (!bert) /* as itr_embedding, every id of the padded matrix must be a word */
        for (int64_t i = 0; i < n * T; i++)
            if (captions[i] < 0 || captions[i] >= m->vocab)
                return itr_fail(ITR_E_ARG, "word id %lld at position %lld outside the vocabulary [0, %lld)",
                                (long long)captions[i], (long long)i, (long long)m->vocab);
    int64_t E = m->E, H = bert ? itr_cu_bert_hidden(m->bert) : 0;
    /* per item: BiGRU x (T, W) + out (T, 2E), or BERT out (T, H); feat, theta, emb */
    int64_t a_floats = bert ? T * H : T * m->word_dim, b_floats = bert ? 0 : 2 * T * E;
    int64_t per_item = align_up(a_floats) + align_up(b_floats) + align_up(T * E) + align_up(T) + align_up(E);
    int64_t chunk = chunk_items(m, per_item, n);
    if ((st = itr_cu_vseinf_scratch_reserve(&m->work, (size_t)(per_item * chunk) * sizeof(float), "VSE-inf captions")))
        return st;
    float *a = (float *)m->work.p, *b = a + align_up(chunk * a_floats), *feat = b + align_up(chunk * b_floats);
    float *th = feat + align_up(chunk * T * E), *emb = th + align_up(chunk * T);
    for (int64_t i0 = 0; i0 < n && !st; i0 += chunk) {
        int64_t nc = n - i0 < chunk ? n - i0 : chunk;
        const int64_t *len_dev, *ids_dev;
        if ((st = upload_chunk_ids(m, lengths + i0, bert ? NULL : captions + i0 * T, nc, T, &len_dev, &ids_dev)))
            break;
        if (bert) {
            /* BERT rows beyond a length come back as 0; linear then GPO (s2.7) */
            if ((st = itr_cu_bert_forward(m->bert, captions + i0 * T, lengths + i0, nc, T, a))) break;
            if (bert_out && (st = itr_cu_to_host(bert_out + i0 * T * H, a, (size_t)(nc * T * H) * sizeof(float),
                                                 "VSE-inf BERT output")))
                break;
            if ((st = itr_cu_linear(a, nc * T, H, m->lin_w, m->lin_b, E, feat))) break;
        } else if ((st = bigru_chunk(m, ids_dev, lengths + i0, nc, T, a, b, feat))) {
            break;
        }
        st = pool_chunk(m->txt_gpo, feat, lengths, len_dev, i0, nc, T, E, m->no_txtnorm, emb, th, cap_emb, gpo_in,
                        theta, pooled);
    }
    return st;
}

/* ---- similarity (s2.8) ------------------------------------------------------------------------ */

extern "C" itr_status itr_cuda_vseinf_sims(itr_cuda_vseinf *m, const float *img_emb, int64_t n_img,
                                           const float *cap_emb, int64_t n_cap, double *sims) {
    if (!m || !img_emb || !cap_emb || !sims) return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_sims: NULL argument");
    if (n_img < 1 || n_cap < 1) return ITR_OK;
    int64_t E = m->E;
    /* images in blocks so that the float64 block of scores stays bounded */
    int64_t blk = itr_cu_vseinf_chunk(E + n_cap, n_img);
    float *f = NULL;
    double *cd = NULL, *id = NULL, *sd = NULL;
    itr_status st;
    if ((st = itr_cu_alloc_n(&f, (size_t)((n_cap > blk ? n_cap : blk) * E), "VSE-inf sims staging")) ||
        (st = itr_cu_alloc_n(&cd, (size_t)(n_cap * E), "VSE-inf caption embeddings")) ||
        (st = itr_cu_alloc_n(&id, (size_t)(blk * E), "VSE-inf image embeddings")) ||
        (st = itr_cu_alloc_n(&sd, (size_t)(blk * n_cap), "VSE-inf sims")) ||
        (st = itr_cu_to_device(f, cap_emb, (size_t)(n_cap * E) * sizeof(float), "VSE-inf caption embeddings")) ||
        (st = itr_cu_f32_to_f64(f, n_cap * E, cd)))
        goto done;
    for (int64_t i0 = 0; i0 < n_img && !st; i0 += blk) {
        int64_t nb = n_img - i0 < blk ? n_img - i0 : blk;
        if ((st = itr_cu_to_device(f, img_emb + i0 * E, (size_t)(nb * E) * sizeof(float), "VSE-inf image embeddings")) ||
            (st = itr_cu_f32_to_f64(f, nb * E, id)) ||
            (st = itr_cu_dgemm(0, 1, nb, n_cap, E, 1.0, id, E, cd, E, 0.0, sd, n_cap)))
            break;
        st = itr_cu_to_host(sims + i0 * n_cap, sd, (size_t)(nb * n_cap) * sizeof(double), "VSE-inf sims");
    }
done:
    itr_cu_free(f);
    itr_cu_free(cd);
    itr_cu_free(id);
    itr_cu_free(sd);
    return st;
}
