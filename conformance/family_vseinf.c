/* family_vseinf.c - VSE-infinity golden cases (fixtures/vseinf/,
 * GOLDEN_README section vseinf/).
 *
 * Inputs images (N, R, img_dim), image_lengths (N), captions (5N, T),
 * lengths (5N), loss_img_index / loss_cap_index (N). Outputs the embeddings,
 * float64 sims, GPO intermediates of both encoders, cap_bert_emb (BERT), and
 * the loss on (img_emb[loss_img_index], cap_emb[loss_cap_index]) in both
 * modes with its gradients. With c->backend == ITR_BACKEND_CUDA every output
 * comes from the CUDA API: the embeddings, every GPO intermediate,
 * cap_bert_emb and sims from itr/cuda/vseinf.h, the loss and its gradients
 * from itr/cuda/losses.h on the CUDA embeddings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "families.h"
#include "itr/cuda/losses.h"
#include "itr/cuda/vseinf.h"
#include "itr/losses.h"
#include "itr/models/vseinf.h"

/* Reads num_attention_heads and layer_norm_eps from the case's bert_config
 * attribute (HF config.json text; no checkpoint stores the head count).
 * Absent fields stay 0 = the model's defaults (hidden / 64 heads, 1e-12). */
static itr_status bert_config(itr_case *c, int64_t *heads, float *eps) {
    const char *text = itr_case_attr_str(c, "bert_config", "");
    *heads = 0;
    *eps = 0.0f;
    if (!text[0]) return ITR_OK;
    json_error_t err;
    json_t *cfg = json_loads(text, 0, &err);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        return itr_fail(ITR_E_FORMAT, "%s: root attribute bert_config is not a JSON object (%s)", c->path, err.text);
    }
    json_t *h = json_object_get(cfg, "num_attention_heads"), *e = json_object_get(cfg, "layer_norm_eps");
    if (json_is_integer(h)) *heads = (int64_t)json_integer_value(h);
    if (json_is_number(e)) *eps = (float)json_number_value(e);
    json_decref(cfg);
    return ITR_OK;
}

static itr_status report_losses(itr_case *c, const itr_vseinf *m, const float *img_emb, const float *cap_emb,
                                int64_t n_img, int64_t n_cap, itr_probe *out) {
    itr_tensor ii = {0}, ci = {0};
    int64_t E = m->embed_size;
    itr_status st = itr_case_input(c, "loss_img_index", ITR_I64, 1, &ii);
    if (!st) st = itr_case_input(c, "loss_cap_index", ITR_I64, 1, &ci);
    if (st) goto done;
    int64_t B = ii.shape[0];
    if (ci.shape[0] != B) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/loss_img_index has %lld entries, loss_cap_index %lld", c->path,
                      (long long)B, (long long)ci.shape[0]);
        goto done;
    }
    float *buf = malloc((size_t)(4 * B * E + 2 * B * B) * sizeof *buf);
    if (!buf) {
        st = itr_fail(ITR_E_NOMEM, "out of memory");
        goto done;
    }
    float *im = buf, *s = im + B * E, *dim = s + B * E, *ds = dim + B * E, *S = ds + B * E, *dS = S + B * B;
    for (int64_t k = 0; k < B && !st; k++) {
        int64_t a = itr_i64(&ii)[k], b = itr_i64(&ci)[k];
        if (a < 0 || a >= n_img || b < 0 || b >= n_cap)
            st = itr_fail(ITR_E_ARG, "%s: loss pair %lld = (image %lld, caption %lld) outside (%lld, %lld)",
                          c->path, (long long)k, (long long)a, (long long)b, (long long)n_img, (long long)n_cap);
        else {
            memcpy(im + k * E, img_emb + a * E, (size_t)E * sizeof *im);
            memcpy(s + k * E, cap_emb + b * E, (size_t)E * sizeof *s);
        }
    }
    double margin = itr_case_attr_f64(c, "margin", ITR_VSEINF_MARGIN_DEFAULT);
    for (int hardest = 0; hardest <= 1 && !st; hardest++) {
        const char *mode = hardest ? "hardest" : "warmup";
        char name[64];
        itr_hinge_result res;
        if (c->backend == ITR_BACKEND_CUDA)
            st = itr_cuda_vseinf_loss(im, s, B, E, (float)margin, hardest, &res, S, dS, dim, ds);
        else
            st = itr_vseinf_loss(im, s, B, E, (float)margin, hardest, &res, S, dS, dim, ds);
        if (st) break;
        float loss = (float)res.loss;
        snprintf(name, sizeof name, "loss_%s", mode);
        if (!st) st = itr_probe_put_raw(out, name, ITR_F32, 0, NULL, &loss);
        if (!st && !hardest) st = itr_probe_put_raw(out, "loss_sims", ITR_F32, 2, (int64_t[]){B, B}, S);
        snprintf(name, sizeof name, "grad_%s_im", mode);
        if (!st) st = itr_probe_put_raw(out, name, ITR_F32, 2, (int64_t[]){B, E}, dim);
        snprintf(name, sizeof name, "grad_%s_s", mode);
        if (!st) st = itr_probe_put_raw(out, name, ITR_F32, 2, (int64_t[]){B, E}, ds);
        snprintf(name, sizeof name, "grad_%s_sims", mode);
        if (!st) st = itr_probe_put_raw(out, name, ITR_F32, 2, (int64_t[]){B, B}, dS);
    }
    free(buf);
done:
    itr_tensor_free(&ii);
    itr_tensor_free(&ci);
    return st;
}

enum { IMG_EMB, CAP_EMB, SIMS, IMG_IN, IMG_W, IMG_P, CAP_IN, CAP_W, CAP_P, BERT };

/* Every tensor of t (allocated by itr_family_vseinf_run; t[BERT] only for
 * BERT models) through the reference. */
static itr_status run_ref(const itr_vseinf *m, const itr_tensor *images, const itr_tensor *img_len,
                          const itr_tensor *captions, const itr_tensor *lengths, itr_tensor *t) {
    int64_t N = images->shape[0], R = images->shape[1], n_cap = captions->shape[0], T = captions->shape[1];
    itr_status st = itr_vseinf_encode_images(m, itr_f32(images), itr_i64(img_len), N, R, itr_f32(&t[IMG_EMB]),
                                             itr_f32(&t[IMG_IN]), itr_f32(&t[IMG_W]), itr_f32(&t[IMG_P]));
    if (!st)
        st = itr_vseinf_encode_captions(m, itr_i64(captions), itr_i64(lengths), n_cap, T, itr_f32(&t[CAP_EMB]),
                                        itr_f32(&t[CAP_IN]), itr_f32(&t[CAP_W]), itr_f32(&t[CAP_P]),
                                        t[BERT].data ? itr_f32(&t[BERT]) : NULL);
    if (!st) itr_vseinf_sims(m, itr_f32(&t[IMG_EMB]), N, itr_f32(&t[CAP_EMB]), n_cap, itr_f64(&t[SIMS]));
    return st;
}

/* The same through the CUDA model built from the loaded reference. */
static itr_status run_cuda(const itr_vseinf *ref, const itr_tensor *images, const itr_tensor *img_len,
                           const itr_tensor *captions, const itr_tensor *lengths, itr_tensor *t) {
    itr_cuda_vseinf *m = NULL;
    itr_status st = itr_cuda_vseinf_create(ref, &m);
    if (st) return itr_fail_context(st, "uploading VSE-inf to CUDA");
    int64_t N = images->shape[0], R = images->shape[1], n_cap = captions->shape[0], T = captions->shape[1];
    st = itr_cuda_vseinf_encode_images(m, itr_f32(images), itr_i64(img_len), N, R, itr_f32(&t[IMG_EMB]),
                                       itr_f32(&t[IMG_IN]), itr_f32(&t[IMG_W]), itr_f32(&t[IMG_P]));
    if (!st)
        st = itr_cuda_vseinf_encode_captions(m, itr_i64(captions), itr_i64(lengths), n_cap, T, itr_f32(&t[CAP_EMB]),
                                             itr_f32(&t[CAP_IN]), itr_f32(&t[CAP_W]), itr_f32(&t[CAP_P]),
                                             t[BERT].data ? itr_f32(&t[BERT]) : NULL);
    if (!st) st = itr_cuda_vseinf_sims(m, itr_f32(&t[IMG_EMB]), N, itr_f32(&t[CAP_EMB]), n_cap, itr_f64(&t[SIMS]));
    itr_cuda_vseinf_destroy(m);
    return st;
}

itr_status itr_family_vseinf_run(itr_case *c, itr_probe *out) {
    itr_vseinf m;
    itr_tensor images = {0}, img_len = {0}, captions = {0}, lengths = {0};
    itr_tensor t[10] = {{0}};
    static const char *names[10] = {"img_emb", "cap_emb", "sims", "img_gpo_features", "img_pool_weights",
                                    "img_pooled_features", "cap_gpo_features", "cap_pool_weights",
                                    "cap_pooled_features", "cap_bert_emb"};
    if (!c->ckpt) return itr_fail(ITR_E_KEY, "%s: VSE-inf case names no checkpoint", c->path);
    int64_t heads;
    float eps;
    itr_status st = bert_config(c, &heads, &eps);
    if (st) return st;
    st = itr_vseinf_load(&m, &c->ckpt->opt, &c->ckpt->weights, heads, eps);
    if (st) return st;
    if (!st) st = itr_case_input(c, "images", ITR_F32, 3, &images);
    if (!st) st = itr_case_input(c, "image_lengths", ITR_I64, 1, &img_len);
    if (!st) st = itr_case_input(c, "captions", ITR_I64, 2, &captions);
    if (!st) st = itr_case_input(c, "lengths", ITR_I64, 1, &lengths);
    if (st) goto done;
    int64_t N = images.shape[0], R = images.shape[1], n_cap = captions.shape[0], T = captions.shape[1];
    int64_t E = m.embed_size, H = m.text == ITR_VSEINF_BERT ? m.bert.hidden : 0;
    if (images.shape[2] != m.img_dim || img_len.shape[0] != N || lengths.shape[0] != n_cap) {
        st = itr_fail(ITR_E_SHAPE,
                      "%s: /inputs/images (%lld, %lld, %lld), image_lengths (%lld), lengths (%lld) do not fit "
                      "img_dim %lld and %lld captions",
                      c->path, (long long)N, (long long)R, (long long)images.shape[2], (long long)img_len.shape[0],
                      (long long)lengths.shape[0], (long long)m.img_dim, (long long)n_cap);
        goto done;
    }
    int64_t shapes[10][3] = {{N, E}, {n_cap, E}, {N, n_cap}, {N, R, E}, {N, R}, {N, E},
                             {n_cap, T, E}, {n_cap, T}, {n_cap, E}, {n_cap, T, H}};
    static const int ndims[10] = {2, 2, 2, 3, 2, 2, 3, 2, 2, 3};
    for (int i = 0; i < 10 && !st; i++)
        if (i != BERT || H > 0) st = itr_tensor_alloc(&t[i], i == SIMS ? ITR_F64 : ITR_F32, ndims[i], shapes[i]);
    if (st) goto done;
    st = c->backend == ITR_BACKEND_CUDA ? run_cuda(&m, &images, &img_len, &captions, &lengths, t)
                                        : run_ref(&m, &images, &img_len, &captions, &lengths, t);
    if (!st) st = report_losses(c, &m, itr_f32(&t[IMG_EMB]), itr_f32(&t[CAP_EMB]), N, n_cap, out);
    for (int i = 0; i < 10 && !st; i++)
        if (t[i].data) st = itr_probe_take(out, names[i], &t[i]);
done:
    itr_tensor_free(&images);
    itr_tensor_free(&img_len);
    itr_tensor_free(&captions);
    itr_tensor_free(&lengths);
    for (int i = 0; i < 10; i++) itr_tensor_free(&t[i]);
    return st;
}
