/* vseinf.c - VSE-infinity (Chen et al. 2021; woodfrog/vse_infty), eval
 * forward on precomputed region features. Spec: specs/vsepp_vseinfty.md s2.
 *
 *   image (s2.4, 'basic'):  F = fc(R), M = l1( ReLU( BN0( l0(R) ) ) ),
 *                           v = L2Ne( GPO(F + M, L) )
 *   BiGRU (s2.6):           o = (fwd + rev) / 2,  u = L2Ne( GPO(o, L) )
 *   BERT  (s2.7, bert.c):   u = L2Ne( GPO( linear(BERT(ids)), L ) )
 *   sims  (s2.8):           v . u  (float64, as compute_sim on float64 arrays)
 * L2Ne(x) = x / (||x|| + 1e-8). The loss is itr_vseinf_loss (itr/losses.h). */
#include "itr/models/vseinf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *IMG = "0";   /* checkpoint['model'][0] = img_enc state dict */
static const char *TXT = "1";   /* checkpoint['model'][1] = txt_enc state dict */

/* s2.10: a DataParallel-wrapped encoder has every key prefixed "module.". */
static const char *group_prefix(const itr_weights *w, const char *group, const char *probe_key) {
    char k[128];
    snprintf(k, sizeof k, "module.%s", probe_key);
    return itr_weights_has(w, group, k) ? "module." : "";
}

static const float *get(itr_weights *w, const char *group, const char *pfx, const char *name, int ndim,
                        const int64_t *shape) {
    char k[256];
    snprintf(k, sizeof k, "%s%s", pfx, name);
    return itr_weights_f32(w, group, k, ndim, shape);
}

static itr_status load_image(itr_vseinf *m, itr_weights *w) {
    const char *p = group_prefix(w, IMG, "fc.weight");
    char k[256];
    const itr_tensor *t;
    snprintf(k, sizeof k, "%sfc.weight", p);
    if (itr_weights_get(w, IMG, k, 2, (int64_t[]){-1, -1}, &t)) return ITR_E_KEY;
    m->embed_size = t->shape[0];
    m->img_dim = t->shape[1];
    snprintf(k, sizeof k, "%smlp.layers.0.weight", p);
    if (itr_weights_get(w, IMG, k, 2, (int64_t[]){-1, m->img_dim}, &t)) return ITR_E_KEY;
    m->mlp_hidden = t->shape[0];
    int64_t E = m->embed_size, D = m->img_dim, Hm = m->mlp_hidden;
    m->fc_b = get(w, IMG, p, "fc.bias", 1, (int64_t[]){E});
    m->l0_w = itr_f32(t);
    m->l0_b = get(w, IMG, p, "mlp.layers.0.bias", 1, (int64_t[]){Hm});
    m->l1_w = get(w, IMG, p, "mlp.layers.1.weight", 2, (int64_t[]){E, Hm});
    m->l1_b = get(w, IMG, p, "mlp.layers.1.bias", 1, (int64_t[]){E});
    m->bn_w = get(w, IMG, p, "mlp.bns.0.weight", 1, (int64_t[]){Hm});
    m->bn_b = get(w, IMG, p, "mlp.bns.0.bias", 1, (int64_t[]){Hm});
    m->bn_mean = get(w, IMG, p, "mlp.bns.0.running_mean", 1, (int64_t[]){Hm});
    m->bn_var = get(w, IMG, p, "mlp.bns.0.running_var", 1, (int64_t[]){Hm});
    snprintf(k, sizeof k, "%sfc.weight", p);
    m->fc_w = itr_weights_f32(w, IMG, k, 2, (int64_t[]){E, D});
    /* QUIRK(vseinf-mlp-bns1): the MLP owns a second BatchNorm (E channels)
     * that upstream never applies (its last layer is linear only). */
    static const char *unused[] = {"mlp.bns.1.weight", "mlp.bns.1.bias", "mlp.bns.1.running_mean",
                                   "mlp.bns.1.running_var"};
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        snprintf(k, sizeof k, "%s%s", p, unused[i]);
        itr_weights_ignore(w, IMG, k);
    }
    itr_weights_ignore_suffix(w, IMG, "num_batches_tracked");
    snprintf(k, sizeof k, "%sgpool.", p);
    return itr_gpo_load(&m->img_gpo, w, IMG, k);
}

static itr_status load_text(itr_vseinf *m, itr_weights *w, int64_t bert_heads, float ln_eps) {
    char k[256];
    const itr_tensor *t;
    itr_status st = ITR_OK;
    const char *p = group_prefix(w, TXT, "gpool.linear.weight");
    snprintf(k, sizeof k, "%sbert.embeddings.word_embeddings.weight", p);
    if (itr_weights_has(w, TXT, k)) {
        m->text = ITR_VSEINF_BERT;
        snprintf(k, sizeof k, "%sbert.", p);
        st = itr_bert_load(&m->bert, w, TXT, k, bert_heads, ln_eps);   /* keep looking up on failure */
        m->lin_w = get(w, TXT, p, "linear.weight", 2, (int64_t[]){m->embed_size, m->bert.hidden});
        m->lin_b = get(w, TXT, p, "linear.bias", 1, (int64_t[]){m->embed_size});
    } else {
        m->text = ITR_VSEINF_BIGRU;
        snprintf(k, sizeof k, "%sembed.weight", p);
        if (itr_weights_get(w, TXT, k, 2, (int64_t[]){-1, -1}, &t)) return ITR_E_KEY;
        m->vocab_size = t->shape[0];
        m->word_dim = t->shape[1];
        m->embed = itr_f32(t);
        snprintf(k, sizeof k, "%srnn.", p);
        st = itr_gru_load(&m->rnn, w, TXT, k, m->word_dim, m->embed_size, 1, 1);
    }
    snprintf(k, sizeof k, "%sgpool.", p);
    itr_status st_gpo = itr_gpo_load(&m->txt_gpo, w, TXT, k);
    return st ? st : st_gpo;
}

itr_status itr_vseinf_load(itr_vseinf *m, const itr_config *opt, itr_weights *w, int64_t bert_heads,
                           float ln_eps) {
    itr_status st;
    memset(m, 0, sizeof *m);
    itr_weights_begin(w);
    /* Both encoders are looked up before failing, so that one message lists
     * every missing key; a non-lookup failure (e.g. the BERT head count) is
     * returned with its own message when the lookups themselves succeeded. */
    itr_status st_img = load_image(m, w);
    itr_status st_txt = load_text(m, w, bert_heads, ln_eps);
    if ((st = itr_weights_finish(w, ITR_STRICT))) return st;
    if (st_img) return st_img;
    if (st_txt) return st_txt;
    if ((st = itr_config_get_bool(opt, "no_imgnorm", 0, &m->no_imgnorm))) return st;
    if ((st = itr_config_get_bool(opt, "no_txtnorm", 0, &m->no_txtnorm))) return st;
    int64_t e;
    if ((st = itr_config_get_int(opt, "embed_size", m->embed_size, &e))) return st;
    if (e != m->embed_size)
        return itr_fail(ITR_E_SHAPE, "opt.embed_size = %lld but fc.weight has %lld rows", (long long)e,
                        (long long)m->embed_size);
    return ITR_OK;
}

/* Pools each item's first len rows of x (n, K, E) with GPO, writes the
 * optional intermediates and the (normalised) embedding. */
static itr_status pool_all(const itr_gpo *g, float *x, const int64_t *lengths, int64_t n, int64_t K, int64_t E,
                           int norm, float *emb, float *gpo_in, float *theta, float *pooled) {
    for (int64_t i = 0; i < n; i++) {
        float *xi = x + i * K * E;
        int64_t L = lengths[i];
        if (L < 1 || L > K)
            return itr_fail(ITR_E_ARG, "VSE-inf: item %lld has length %lld outside 1..%lld", (long long)i,
                            (long long)L, (long long)K);
        itr_status st = itr_gpo_pool(g, xi, K, E, L, emb + i * E, theta ? theta + i * K : NULL);
        if (st) return st;
        if (theta) memset(theta + i * K + L, 0, (size_t)(K - L) * sizeof *theta);
        if (gpo_in) {
            memcpy(gpo_in + i * K * E, xi, (size_t)(L * E) * sizeof *gpo_in);
            memset(gpo_in + (i * K + L) * E, 0, (size_t)((K - L) * E) * sizeof *gpo_in);
        }
        if (pooled) memcpy(pooled + i * E, emb + i * E, (size_t)E * sizeof *pooled);
    }
    /* vse_infty's l2norm adds 1e-8 to the norm */
    if (norm) itr_l2norm_rows(emb, n, E, ITR_EPS_ADD, 1e-8f);
    return ITR_OK;
}

itr_status itr_vseinf_encode_images(const itr_vseinf *m, const float *images, const int64_t *lengths,
                                    int64_t n, int64_t R, float *img_emb, float *gpo_in, float *theta,
                                    float *pooled) {
    int64_t E = m->embed_size, Hm = m->mlp_hidden, rows = n * R;
    if (n < 1 || R < 1) return itr_fail(ITR_E_SHAPE, "VSE-inf: no images to encode");
    float *z = malloc((size_t)(rows * E) * sizeof *z);
    float *h = malloc((size_t)(rows * Hm) * sizeof *h);
    float *mo = malloc((size_t)(rows * E) * sizeof *mo);
    itr_status st = ITR_OK;
    if (!z || !h || !mo) {
        st = itr_fail(ITR_E_NOMEM, "VSE-inf: out of memory for %lld images of %lld regions", (long long)n,
                      (long long)R);
        goto done;
    }
    /* s2.4: every row independently (BN in eval mode has no batch dependence). */
    itr_linear(images, rows, m->img_dim, m->fc_w, m->fc_b, E, z);
    itr_linear(images, rows, m->img_dim, m->l0_w, m->l0_b, Hm, h);
    itr_batchnorm_eval(h, rows, Hm, 1, m->bn_mean, m->bn_var, m->bn_w, m->bn_b, 1e-5f);
    itr_relu(h, rows * Hm);
    itr_linear(h, rows, Hm, m->l1_w, m->l1_b, E, mo);
    for (int64_t i = 0; i < rows * E; i++) z[i] = mo[i] + z[i];   /* mlp(x) + fc(x) */
    st = pool_all(&m->img_gpo, z, lengths, n, R, E, !m->no_imgnorm, img_emb, gpo_in, theta, pooled);
done:
    free(z);
    free(h);
    free(mo);
    return st;
}

/* s2.6: embeddings, BiGRU over each caption's own length, directions averaged. */
static itr_status bigru_features(const itr_vseinf *m, const int64_t *captions, const int64_t *lengths, int64_t n,
                                 int64_t T, float *feat) {
    int64_t E = m->embed_size, W = m->word_dim;
    float *x = malloc((size_t)(n * T * W) * sizeof *x);
    float *out = malloc((size_t)(n * T * 2 * E) * sizeof *out);
    itr_status st = ITR_OK;
    if (!x || !out) {
        st = itr_fail(ITR_E_NOMEM, "VSE-inf: out of memory for %lld captions", (long long)n);
        goto done;
    }
    if ((st = itr_embedding(m->embed, m->vocab_size, W, captions, n * T, x))) goto done;
    if ((st = itr_gru_forward(&m->rnn, x, lengths, n, T, out, NULL))) goto done;
    for (int64_t r = 0; r < n * T; r++)
        for (int64_t c = 0; c < E; c++) feat[r * E + c] = (out[r * 2 * E + c] + out[r * 2 * E + E + c]) / 2.0f;
done:
    free(x);
    free(out);
    return st;
}

/* s2.7: BERT per caption over its own L ids, then linear (rows >= L are 0). */
static itr_status bert_features(const itr_vseinf *m, const int64_t *captions, const int64_t *lengths, int64_t n,
                                int64_t T, float *feat, float *bert_out) {
    int64_t E = m->embed_size, H = m->bert.hidden;
    float *b = malloc((size_t)(T * H) * sizeof *b);
    if (!b) return itr_fail(ITR_E_NOMEM, "VSE-inf: out of memory for a caption of %lld tokens", (long long)T);
    itr_status st = ITR_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        int64_t L = lengths[i];
        if (L < 1 || L > T) {
            st = itr_fail(ITR_E_ARG, "VSE-inf: caption %lld has length %lld outside 1..%lld", (long long)i,
                          (long long)L, (long long)T);
            break;
        }
        memset(b, 0, (size_t)(T * H) * sizeof *b);
        if ((st = itr_bert_forward(&m->bert, captions + i * T, L, b))) break;
        memset(feat + i * T * E, 0, (size_t)(T * E) * sizeof *feat);
        itr_linear(b, L, H, m->lin_w, m->lin_b, E, feat + i * T * E);
        if (bert_out) memcpy(bert_out + i * T * H, b, (size_t)(T * H) * sizeof *bert_out);
    }
    free(b);
    return st;
}

itr_status itr_vseinf_encode_captions(const itr_vseinf *m, const int64_t *captions, const int64_t *lengths,
                                      int64_t n, int64_t T, float *cap_emb, float *gpo_in, float *theta,
                                      float *pooled, float *bert_out) {
    int64_t E = m->embed_size;
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "VSE-inf: no captions to encode");
    float *feat = malloc((size_t)(n * T * E) * sizeof *feat);
    if (!feat) return itr_fail(ITR_E_NOMEM, "VSE-inf: out of memory for %lld captions", (long long)n);
    itr_status st = m->text == ITR_VSEINF_BERT ? bert_features(m, captions, lengths, n, T, feat, bert_out)
                                               : bigru_features(m, captions, lengths, n, T, feat);
    if (!st) st = pool_all(&m->txt_gpo, feat, lengths, n, T, E, !m->no_txtnorm, cap_emb, gpo_in, theta, pooled);
    free(feat);
    return st;
}

void itr_vseinf_sims(const itr_vseinf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                     int64_t n_cap, double *sims) {
    int64_t E = m->embed_size;
    for (int64_t i = 0; i < n_img; i++)
        for (int64_t j = 0; j < n_cap; j++) {
            double acc = 0.0;   /* float64 dot of float32 values (s3) */
            for (int64_t k = 0; k < E; k++) acc += (double)img_emb[i * E + k] * (double)cap_emb[j * E + k];
            sims[i * n_cap + j] = acc;
        }
}
