/* family_scan.c - SCAN golden cases (fixtures/scan/, GOLDEN_README "scan/").
 *
 * Inputs images (n_img, R, img_dim), captions (n_cap, T), lengths (n_cap).
 * Outputs img_emb, cap_emb, sims (float64, evaluation), sims_f32, the
 * caption-0 intermediates attn_cap0_img0 / weiContext_cap0 / row_sim_cap0,
 * and ContrastiveLoss(img_emb, cap_emb[::5], lengths[::5]) with its
 * gradients grad_contrastive_im / grad_contrastive_s.
 *
 * Backend CUDA (c->backend): every output comes from the CUDA API built from
 * the same loaded reference model: the encoders, sims and the caption-0
 * intermediates from itr/cuda/scan.h, the loss and its gradients from
 * itr/cuda/losses.h (itr_cuda_scan_loss) on the CUDA embeddings. */
#include <stdlib.h>
#include <string.h>

#include "families.h"
#include "itr/cuda/losses.h"
#include "itr/cuda/scan.h"
#include "itr/models/scan.h"

/* Caption 0 against every image, in float64 as evaluation runs (s4.4), by
 * the reference, or the CUDA model cu when non-NULL. */
static itr_status report_cap0(itr_case *c, const itr_scan *m, itr_cuda_scan *cu, const float *img_emb, int64_t n_img,
                              int64_t R, const float *cap_emb, int64_t L0, itr_probe *out) {
    int64_t D = m->cfg.embed_size;
    int t2i = m->cfg.attn.dir == ITR_SCAN_T2I;
    int64_t nq = t2i ? L0 : R, nc = t2i ? R : L0;
    itr_tensor attn = {0}, wei = {0}, rs = {0};
    double *attn_all = NULL;
    double *im = malloc((size_t)(R * D) * sizeof *im), *cap = malloc((size_t)(L0 * D) * sizeof *cap);
    itr_status st = ITR_OK;
    if (!im || !cap) {
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory", c->path);
        goto done;
    }
    for (int64_t k = 0; k < L0 * D; k++) cap[k] = cap_emb[k];
    if ((st = itr_tensor_alloc(&attn, ITR_F64, 2, (int64_t[]){nc, nq}))) goto done;
    if ((st = itr_tensor_alloc(&wei, ITR_F64, 3, (int64_t[]){n_img, nq, D}))) goto done;
    if ((st = itr_tensor_alloc(&rs, ITR_F64, 2, (int64_t[]){n_img, nq}))) goto done;
    if (cu) {   /* one call for every image; attn_cap0_img0 is image 0's attention */
        if (!(attn_all = malloc((size_t)(n_img * nc * nq) * sizeof *attn_all))) {
            st = itr_fail(ITR_E_NOMEM, "%s: out of memory", c->path);
            goto done;
        }
        st = itr_cuda_scan_caption_f64(cu, img_emb, n_img, R, cap_emb, L0, attn_all, itr_f64(&wei), itr_f64(&rs), NULL);
        if (!st) memcpy(itr_f64(&attn), attn_all, (size_t)(nc * nq) * sizeof *attn_all);
    }
    for (int64_t i = 0; i < n_img && !st && !cu; i++) {
        for (int64_t k = 0; k < R * D; k++) im[k] = img_emb[i * R * D + k];
        double score;
        st = itr_scan_pair_f64(&m->cfg.attn, t2i ? cap : im, nq, t2i ? im : cap, nc, D, i == 0 ? itr_f64(&attn) : NULL,
                               itr_f64(&wei) + i * nq * D, itr_f64(&rs) + i * nq, &score);
    }
    if (!st) st = itr_probe_take(out, "attn_cap0_img0", &attn);
    if (!st) st = itr_probe_take(out, "weiContext_cap0", &wei);
    if (!st) st = itr_probe_take(out, "row_sim_cap0", &rs);
done:
    free(im);
    free(cap);
    free(attn_all);
    itr_tensor_free(&attn);
    itr_tensor_free(&wei);
    itr_tensor_free(&rs);
    return st;
}

/* The training loss on the batch {(image k, caption 5k)} (s6.1), float32,
 * by the reference or (cuda) itr_cuda_scan_loss. */
static itr_status report_loss(itr_case *c, const itr_scan *m, int cuda, const float *img_emb, int64_t n_img,
                              int64_t R, const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                              itr_probe *out) {
    int64_t D = m->cfg.embed_size, B = n_img;
    if (n_cap < 5 * (n_img - 1) + 1)
        return itr_fail(ITR_E_SHAPE, "%s: %lld captions cannot pair caption 5k with each of %lld images", c->path,
                        (long long)n_cap, (long long)n_img);
    itr_tensor gim = {0}, gs = {0};
    float *s = malloc((size_t)(B * T * D) * sizeof *s);
    int64_t *sl = malloc((size_t)B * sizeof *sl);
    itr_status st = ITR_OK;
    if (!s || !sl) {
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory", c->path);
        goto done;
    }
    for (int64_t k = 0; k < B; k++) {
        memcpy(s + k * T * D, cap_emb + 5 * k * T * D, (size_t)(T * D) * sizeof *s);
        sl[k] = lengths[5 * k];
    }
    if ((st = itr_tensor_alloc_f32(&gim, 3, B, R, D, 0))) goto done;
    if ((st = itr_tensor_alloc_f32(&gs, 3, B, T, D, 0))) goto done;
    itr_hinge_result res;
    float margin = (float)m->cfg.margin;
    if (cuda)
        st = itr_cuda_scan_loss(&m->cfg.attn, img_emb, R, s, sl, T, B, D, margin, m->cfg.max_violation, &res, NULL,
                                NULL, itr_f32(&gim), itr_f32(&gs));
    else
        st = itr_scan_loss(&m->cfg.attn, img_emb, R, s, sl, T, B, D, margin, m->cfg.max_violation, &res, NULL, NULL,
                           itr_f32(&gim), itr_f32(&gs));
    if (st) goto done;
    float loss = (float)res.loss;
    if ((st = itr_probe_put_raw(out, "loss_contrastive", ITR_F32, 0, NULL, &loss))) goto done;
    if ((st = itr_probe_take(out, "grad_contrastive_im", &gim))) goto done;
    st = itr_probe_take(out, "grad_contrastive_s", &gs);
done:
    free(s);
    free(sl);
    itr_tensor_free(&gim);
    itr_tensor_free(&gs);
    return st;
}

itr_status itr_family_scan_run(itr_case *c, itr_probe *out) {
    itr_scan m;
    itr_cuda_scan *cu = NULL;
    itr_tensor images = {0}, captions = {0}, lengths = {0}, img_emb = {0}, cap_emb = {0}, sims = {0}, s32 = {0};
    if (!c->ckpt) return itr_fail(ITR_E_KEY, "%s: SCAN case names no checkpoint", c->path);
    itr_status st = itr_scan_load(&m, &c->ckpt->opt, &c->ckpt->weights);
    if (st) return st;
    if (!st) st = itr_case_input(c, "images", ITR_F32, 3, &images);
    if (!st) st = itr_case_input(c, "captions", ITR_I64, 2, &captions);
    if (!st) st = itr_case_input(c, "lengths", ITR_I64, 1, &lengths);
    if (st) goto done;
    int64_t n_img = images.shape[0], R = images.shape[1], n_cap = captions.shape[0], T = captions.shape[1];
    int64_t D = m.cfg.embed_size;
    if (images.shape[2] != m.cfg.img_dim) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/images has %lld features, the checkpoint's fc expects %lld", c->path,
                      (long long)images.shape[2], (long long)m.cfg.img_dim);
        goto done;
    }
    if (lengths.shape[0] != n_cap) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/lengths has %lld entries for %lld captions", c->path,
                      (long long)lengths.shape[0], (long long)n_cap);
        goto done;
    }
    for (int64_t k = 0; k < n_cap; k++)
        if (itr_i64(&lengths)[k] < 1 || itr_i64(&lengths)[k] > T) {
            st = itr_fail(ITR_E_SHAPE, "%s: /inputs/lengths[%lld] = %lld outside [1, %lld]", c->path, (long long)k,
                          (long long)itr_i64(&lengths)[k], (long long)T);
            goto done;
        }
    if ((st = itr_tensor_alloc_f32(&img_emb, 3, n_img, R, D, 0))) goto done;
    if ((st = itr_tensor_alloc_f32(&cap_emb, 3, n_cap, T, D, 0))) goto done;
    if ((st = itr_tensor_alloc(&sims, ITR_F64, 2, (int64_t[]){n_img, n_cap}))) goto done;
    if ((st = itr_tensor_alloc_f32(&s32, 2, n_img, n_cap, 0, 0))) goto done;
    if (c->backend == ITR_BACKEND_CUDA) {
        if ((st = itr_cuda_scan_create(&m, &cu))) goto done;
        if ((st = itr_cuda_scan_encode_images(cu, itr_f32(&images), n_img, R, itr_f32(&img_emb)))) goto done;
        if ((st = itr_cuda_scan_encode_captions(cu, itr_i64(&captions), itr_i64(&lengths), n_cap, T,
                                                itr_f32(&cap_emb))))
            goto done;
        if ((st = itr_cuda_scan_sims_f64(cu, itr_f32(&img_emb), n_img, R, itr_f32(&cap_emb), itr_i64(&lengths), n_cap,
                                         T, itr_f64(&sims))))
            goto done;
    } else {
        if ((st = itr_scan_encode_images(&m, itr_f32(&images), n_img, R, itr_f32(&img_emb)))) goto done;
        if ((st = itr_scan_encode_captions(&m, itr_i64(&captions), itr_i64(&lengths), n_cap, T, itr_f32(&cap_emb))))
            goto done;
        if ((st = itr_scan_sims_f64(&m, itr_f32(&img_emb), n_img, R, itr_f32(&cap_emb), itr_i64(&lengths), n_cap, T,
                                    itr_f64(&sims))))
            goto done;
    }
    /* sims_f32: xattn_score_* in float32; the scorer computes in double and
     * rounds once (itr/losses.h), which is the float64 result rounded. */
    for (int64_t k = 0; k < n_img * n_cap; k++) itr_f32(&s32)[k] = (float)itr_f64(&sims)[k];
    if (itr_case_wants(c, "attn_cap0_img0") || itr_case_wants(c, "weiContext_cap0") ||
        itr_case_wants(c, "row_sim_cap0"))
        if ((st = report_cap0(c, &m, cu, itr_f32(&img_emb), n_img, R, itr_f32(&cap_emb), itr_i64(&lengths)[0],
                              out)))
            goto done;
    if (itr_case_wants(c, "loss_contrastive") || itr_case_wants(c, "grad_contrastive_im") ||
        itr_case_wants(c, "grad_contrastive_s"))
        if ((st = report_loss(c, &m, cu != NULL, itr_f32(&img_emb), n_img, R, itr_f32(&cap_emb), itr_i64(&lengths),
                              n_cap, T, out)))
            goto done;
    if (!st) st = itr_probe_put(out, "img_emb", &img_emb);
    if (!st) st = itr_probe_put(out, "cap_emb", &cap_emb);
    if (!st) st = itr_probe_take(out, "sims", &sims);
    if (!st) st = itr_probe_take(out, "sims_f32", &s32);
done:
    itr_cuda_scan_destroy(cu);
    itr_scan_free(&m);
    itr_tensor_free(&images);
    itr_tensor_free(&captions);
    itr_tensor_free(&lengths);
    itr_tensor_free(&img_emb);
    itr_tensor_free(&cap_emb);
    itr_tensor_free(&sims);
    itr_tensor_free(&s32);
    return st;
}
