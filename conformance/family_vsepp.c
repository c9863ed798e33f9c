/* family_vsepp.c - VSE++ golden cases (fixtures/vsepp/).
 *
 * Inputs images (n_img, img_dim), captions (n_cap, T), lengths (n_cap).
 * Outputs img_emb, cap_emb, sims, and ContrastiveLoss on image k paired with
 * caption 5k in both modes: loss_sum (VSE0) and loss_max_violation (VSE++).
 * With c->backend == ITR_BACKEND_CUDA every output comes from the CUDA API:
 * the embeddings and sims from itr/cuda/vsepp.h, the losses from
 * itr/cuda/losses.h on the CUDA embeddings. */
#include <stdlib.h>
#include <string.h>

#include "families.h"
#include "itr/cuda/losses.h"
#include "itr/cuda/vsepp.h"
#include "itr/losses.h"
#include "itr/models/vsepp.h"

/* The training-time loss on the batch {(img_emb[k], cap_emb[5k])}, both modes. */
static itr_status report_losses(itr_case *c, const itr_vsepp *m, const float *img_emb, const float *cap_emb,
                                int64_t n_img, int64_t n_cap, itr_probe *out) {
    int cuda = c->backend == ITR_BACKEND_CUDA;
    int64_t E = m->cfg.embed_size, B = n_img;
    if (n_cap < 5 * (n_img - 1) + 1)
        return itr_fail(ITR_E_SHAPE, "%s: %lld captions cannot pair caption 5k with each of %lld images", c->path,
                        (long long)n_cap, (long long)n_img);
    float *s = malloc((size_t)(B * E) * sizeof *s);
    if (!s) return itr_fail(ITR_E_NOMEM, "out of memory");
    for (int64_t k = 0; k < B; k++)
        memcpy(s + k * E, cap_emb + 5 * k * E, (size_t)E * sizeof *s);
    itr_status st = ITR_OK;
    for (int hardest = 0; hardest <= 1 && !st; hardest++) {
        const char *name = hardest ? "loss_max_violation" : "loss_sum";
        if (!itr_case_wants(c, name)) continue;
        itr_hinge_result res;
        float margin = (float)m->cfg.margin;
        if (cuda)
            st = itr_cuda_lmh_embed_loss(m->cfg.measure, img_emb, s, B, E, margin, hardest, &res, NULL, NULL, NULL,
                                         NULL);
        else
            st = itr_lmh_embed_loss(m->cfg.measure, img_emb, s, B, E, margin, hardest, &res, NULL, NULL, NULL, NULL);
        if (st) break;
        float loss = (float)res.loss;
        st = itr_probe_put_raw(out, name, ITR_F32, 0, NULL, &loss);
    }
    free(s);
    return st;
}

/* img_emb, cap_emb and sims through the CUDA model built from the loaded reference. */
static itr_status run_cuda(const itr_vsepp *ref, const itr_tensor *images, const itr_tensor *captions,
                           const itr_tensor *lengths, itr_tensor *img_emb, itr_tensor *cap_emb, itr_tensor *sims) {
    itr_cuda_vsepp *m = NULL;
    int64_t n_img = images->shape[0], n_cap = captions->shape[0], T = captions->shape[1];
    itr_status st = itr_cuda_vsepp_create(ref, &m);
    if (!st) st = itr_cuda_vsepp_encode_images(m, itr_f32(images), n_img, itr_f32(img_emb));
    if (!st) st = itr_cuda_vsepp_encode_captions(m, itr_i64(captions), itr_i64(lengths), n_cap, T, itr_f32(cap_emb));
    if (!st) st = itr_cuda_vsepp_sims(m, itr_f32(img_emb), n_img, itr_f32(cap_emb), n_cap, itr_f64(sims));
    itr_cuda_vsepp_destroy(m);
    return st;
}

itr_status itr_family_vsepp_run(itr_case *c, itr_probe *out) {
    itr_vsepp m;
    itr_tensor images = {0}, captions = {0}, lengths = {0}, img_emb = {0}, cap_emb = {0}, sims = {0};
    if (!c->ckpt) return itr_fail(ITR_E_KEY, "%s: VSE++ case names no checkpoint", c->path);
    itr_status st = itr_vsepp_load(&m, &c->ckpt->opt, &c->ckpt->weights);
    if (st) return st;
    if (!st) st = itr_case_input(c, "images", ITR_F32, 2, &images);
    if (!st) st = itr_case_input(c, "captions", ITR_I64, 2, &captions);
    if (!st) st = itr_case_input(c, "lengths", ITR_I64, 1, &lengths);
    if (st) goto done;
    int64_t n_img = images.shape[0], n_cap = captions.shape[0], T = captions.shape[1], E = m.cfg.embed_size;
    if (images.shape[1] != m.cfg.img_dim) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/images has %lld features, the checkpoint's fc expects %lld",
                      c->path, (long long)images.shape[1], (long long)m.cfg.img_dim);
        goto done;
    }
    if (lengths.shape[0] != n_cap) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/lengths has %lld entries for %lld captions", c->path,
                      (long long)lengths.shape[0], (long long)n_cap);
        goto done;
    }
    if ((st = itr_tensor_alloc_f32(&img_emb, 2, n_img, E, 0, 0))) goto done;
    if ((st = itr_tensor_alloc_f32(&cap_emb, 2, n_cap, E, 0, 0))) goto done;
    if ((st = itr_tensor_alloc(&sims, ITR_F64, 2, (int64_t[]){n_img, n_cap}))) goto done;
    if (c->backend == ITR_BACKEND_CUDA) {
        if ((st = run_cuda(&m, &images, &captions, &lengths, &img_emb, &cap_emb, &sims))) goto done;
    } else {
        if ((st = itr_vsepp_encode_images(&m, itr_f32(&images), n_img, itr_f32(&img_emb)))) goto done;
        if ((st = itr_vsepp_encode_captions(&m, itr_i64(&captions), itr_i64(&lengths), n_cap, T,
                                            itr_f32(&cap_emb))))
            goto done;
        itr_vsepp_sims(&m, itr_f32(&img_emb), n_img, itr_f32(&cap_emb), n_cap, itr_f64(&sims));
    }
    if ((st = report_losses(c, &m, itr_f32(&img_emb), itr_f32(&cap_emb), n_img, n_cap, out))) goto done;
    if (!st) st = itr_probe_put(out, "img_emb", &img_emb);
    if (!st) st = itr_probe_put(out, "cap_emb", &cap_emb);
    if (!st) st = itr_probe_take(out, "sims", &sims);
done:
    itr_tensor_free(&images);
    itr_tensor_free(&captions);
    itr_tensor_free(&lengths);
    itr_tensor_free(&img_emb);
    itr_tensor_free(&cap_emb);
    itr_tensor_free(&sims);
    return st;
}
