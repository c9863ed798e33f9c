/* vsepp.c - VSE++ (Faghri et al. 2018; fartashf/vsepp), precomputed features.
 *
 * Spec: specs/vsepp_vseinfty.md s1. The model is two encoders into a joint
 * space of size E and a similarity between them:
 *   image   (s1.4):  v = W_fc f + b_fc,  v = L2N(v) unless no_imgnorm,  |v| if use_abs
 *   caption (s1.5):  u = h_{L-1} of GRU(Embed(ids)),  u = L2N(u),  |u| if use_abs
 *   score   (s1.6):  cosine s = v . u   |   order s = -|| max(0, u - v) ||_2
 * L2N here has NO epsilon (x / ||x||), as upstream's l2norm. */
#include "itr/models/vsepp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *IMG = "0";   /* checkpoint['model'][0] = img_enc state dict */
static const char *TXT = "1";   /* checkpoint['model'][1] = txt_enc state dict */

itr_status itr_vsepp_load(itr_vsepp *m, const itr_config *opt, itr_weights *w) {
    itr_status st;
    const itr_tensor *t;
    memset(m, 0, sizeof *m);
    itr_vsepp_config *c = &m->cfg;

    /* Sizes from the tensors: fc.weight (E, img_dim), embed.weight (V, word_dim). */
    itr_weights_begin(w);
    if ((st = itr_weights_get(w, IMG, "fc.weight", 2, (int64_t[]){-1, -1}, &t))) return itr_weights_finish(w, ITR_LENIENT);
    c->embed_size = t->shape[0];
    c->img_dim = t->shape[1];
    if ((st = itr_weights_get(w, TXT, "embed.weight", 2, (int64_t[]){-1, -1}, &t))) return itr_weights_finish(w, ITR_LENIENT);
    c->vocab_size = t->shape[0];
    c->word_dim = t->shape[1];

    const char *measure;
    if ((st = itr_config_get_str(opt, "measure", "cosine", &measure))) return st;
    if ((st = itr_measure_from_name(measure, &c->measure))) return itr_fail_context(st, "opt.measure");
    int64_t layers;
    if ((st = itr_config_get_int(opt, "num_layers", 1, &layers))) return st;
    if (layers < 1 || layers > ITR_GRU_MAX_LAYERS)
        return itr_fail(ITR_E_UNSUPPORTED, "opt.num_layers = %lld outside 1..%d", (long long)layers, ITR_GRU_MAX_LAYERS);
    c->num_layers = (int)layers;
    if ((st = itr_config_get_bool(opt, "use_abs", 0, &c->use_abs))) return st;
    if ((st = itr_config_get_bool(opt, "no_imgnorm", 0, &c->no_imgnorm))) return st;
    if ((st = itr_config_get_bool(opt, "max_violation", 0, &c->max_violation))) return st;
    if ((st = itr_config_get_float(opt, "margin", 0.2, &c->margin))) return st;
    if ((st = itr_config_check_size(opt, "embed_size", c->embed_size))) return st;
    if ((st = itr_config_check_size(opt, "img_dim", c->img_dim))) return st;
    if ((st = itr_config_check_size(opt, "word_dim", c->word_dim))) return st;
    if ((st = itr_config_check_size(opt, "vocab_size", c->vocab_size))) return st;

    int64_t E = c->embed_size;
    m->fc_w = itr_weights_f32(w, IMG, "fc.weight", 2, (int64_t[]){E, c->img_dim});
    m->fc_b = itr_weights_f32(w, IMG, "fc.bias", 1, (int64_t[]){E});
    m->embed = itr_weights_f32(w, TXT, "embed.weight", 2, (int64_t[]){c->vocab_size, c->word_dim});
    itr_gru_load(&m->gru, w, TXT, "rnn.", c->word_dim, E, c->num_layers, 0);
    /* Every key the checkpoint has must have been used: strict, as
     * load_state_dict is upstream. */
    return itr_weights_finish(w, ITR_STRICT);
}

/* |x| elementwise (s1.4 step 3, order embeddings). */
static void abs_inplace(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = fabsf(x[i]);
}

itr_status itr_vsepp_encode_images(const itr_vsepp *m, const float *images, int64_t n, float *img_emb) {
    const itr_vsepp_config *c = &m->cfg;
    if (n < 1) return itr_fail(ITR_E_SHAPE, "VSE++: no images to encode");
    itr_linear(images, n, c->img_dim, m->fc_w, m->fc_b, c->embed_size, img_emb);
    if (!c->no_imgnorm) itr_l2norm_rows(img_emb, n, c->embed_size, ITR_EPS_NONE, 0.0f);
    if (c->use_abs) abs_inplace(img_emb, n * c->embed_size);
    return ITR_OK;
}

itr_status itr_vsepp_encode_captions(const itr_vsepp *m, const int64_t *captions, const int64_t *lengths,
                                     int64_t n, int64_t T, float *cap_emb) {
    const itr_vsepp_config *c = &m->cfg;
    int64_t E = c->embed_size, W = c->word_dim;
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "VSE++: no captions to encode");
    float *x = malloc((size_t)(n * T * W) * sizeof *x);
    float *out = malloc((size_t)(n * T * E) * sizeof *out);
    itr_status st = ITR_OK;
    if (!x || !out) {
        st = itr_fail(ITR_E_NOMEM, "VSE++: out of memory for %lld captions", (long long)n);
        goto done;
    }
    /* X_t = Embed[id_t]; padding ids are embedded too but never enter the
     * recurrence (packed sequence). */
    st = itr_embedding(m->embed, c->vocab_size, W, captions, n * T, x);
    if (st) goto done;
    st = itr_gru_forward(&m->gru, x, lengths, n, T, out, NULL);
    if (st) goto done;
    /* u = top-layer output at the caption's last token (<end>) */
    for (int64_t i = 0; i < n; i++)
        memcpy(cap_emb + i * E, out + (i * T + lengths[i] - 1) * E, (size_t)E * sizeof *cap_emb);
    itr_l2norm_rows(cap_emb, n, E, ITR_EPS_NONE, 0.0f);
    if (c->use_abs) abs_inplace(cap_emb, n * E);
done:
    free(x);
    free(out);
    return st;
}

/* Order violation score of one pair, accumulated in double. */
static double order_score(const float *v, const float *u, int64_t E) {
    double acc = 0.0;
    for (int64_t k = 0; k < E; k++) {
        double d = (double)u[k] - (double)v[k];
        if (d > 0) acc += d * d;
    }
    return -sqrt(acc);
}

void itr_vsepp_sims(const itr_vsepp *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                    int64_t n_cap, double *sims) {
    int64_t E = m->cfg.embed_size;
    for (int64_t i = 0; i < n_img; i++) {
        const float *v = img_emb + i * E;
        for (int64_t j = 0; j < n_cap; j++) {
            const float *u = cap_emb + j * E;
            if (m->cfg.measure == ITR_MEASURE_ORDER) {
                sims[i * n_cap + j] = order_score(v, u, E);
            } else {
                double acc = 0.0;   /* numpy float64 dot of float32 values (s3.3) */
                for (int64_t k = 0; k < E; k++) acc += (double)v[k] * (double)u[k];
                sims[i * n_cap + j] = acc;
            }
        }
    }
}
