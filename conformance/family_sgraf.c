/* family_sgraf.c - SGRAF golden cases (fixtures/sgraf/), variant SGR | SAF.
 *
 * Inputs images (n_img, R, img_dim), captions (n_cap, T), lengths (n_cap).
 * Outputs img_emb (n_img, R, D), cap_emb (n_cap, T, D), img_glo (n_img, D)
 * (VisualSA), cap_glo (n_cap, D) (TextSA), cap0_attended_context
 * (n_img, L0, D) (SCAN_attention of caption 0 over each image) and sims
 * (n_img, n_cap) float64.
 *
 * Backend CUDA (c->backend): every output, intermediates included, comes
 * from the CUDA API (include/itr/cuda/sgraf.h) built from the same loaded
 * reference model; nothing is taken from the reference. */
#include <stdlib.h>
#include <string.h>

#include "families.h"
#include "itr/cuda/sgraf.h"
#include "itr/models/sgraf.h"

/* SCAN_attention of caption 0's L0 words over every image's regions
 * (reference, or the CUDA model cu when non-NULL). */
static itr_status report_attention(itr_case *c, const itr_sgraf *m, itr_cuda_sgraf *cu, const float *img_emb,
                                   int64_t n_img, const float *cap_emb, int64_t L0, itr_probe *out) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    if (!itr_case_wants(c, "cap0_attended_context")) return ITR_OK;
    itr_tensor ctx = {0};
    itr_status st = itr_tensor_alloc(&ctx, ITR_F32, 3, (int64_t[]){n_img, L0, D});
    float *scratch = NULL;
    if (!st && cu) st = itr_cuda_sgraf_attention(cu, cap_emb, L0, img_emb, n_img, itr_f32(&ctx));
    else if (!st) {
        scratch = malloc((size_t)(R * L0) * sizeof *scratch);
        if (!scratch) st = itr_fail(ITR_E_NOMEM, "out of memory");
        for (int64_t i = 0; i < n_img && !st; i++)
            itr_sgraf_attention(cap_emb, L0, img_emb + i * R * D, R, D, itr_f32(&ctx) + i * L0 * D, scratch);
    }
    if (!st) st = itr_probe_take(out, "cap0_attended_context", &ctx);
    free(scratch);
    itr_tensor_free(&ctx);
    return st;
}

/* The encoders and the matrix (with the pooled vectors) on the CUDA backend. */
static itr_status run_cuda(itr_cuda_sgraf *cu, const itr_tensor *images, const itr_tensor *captions,
                           const itr_tensor *lengths, itr_tensor *img_emb, itr_tensor *cap_emb, itr_tensor *img_glo,
                           itr_tensor *cap_glo, itr_tensor *sims) {
    int64_t n_img = images->shape[0], n_cap = captions->shape[0], T = captions->shape[1];
    itr_status st = itr_cuda_sgraf_encode_images(cu, itr_f32(images), n_img, itr_f32(img_emb));
    if (!st) st = itr_cuda_sgraf_encode_captions(cu, itr_i64(captions), itr_i64(lengths), n_cap, T, itr_f32(cap_emb));
    if (!st)
        st = itr_cuda_sgraf_sims(cu, itr_f32(img_emb), n_img, itr_f32(cap_emb), itr_i64(lengths), n_cap, T,
                                 itr_f64(sims), itr_f32(img_glo), itr_f32(cap_glo));
    return st;
}

itr_status itr_family_sgraf_run(itr_case *c, itr_probe *out) {
    itr_sgraf m;
    itr_tensor images = {0}, captions = {0}, lengths = {0}, img_emb = {0}, cap_emb = {0}, sims = {0};
    itr_tensor img_glo = {0}, cap_glo = {0};
    itr_cuda_sgraf *cu = NULL;
    if (!c->ckpt) return itr_fail(ITR_E_KEY, "%s: SGRAF case names no checkpoint", c->path);
    itr_status st = itr_sgraf_load(&m, &c->ckpt->opt, &c->ckpt->weights);
    if (st) return st;
    /* The case's `variant` (when present) must agree with opt.module_name. */
    const char *want = m.cfg.module == ITR_SGRAF_SGR ? "SGR" : "SAF";
    if (c->variant && c->variant[0] && strcmp(c->variant, want) != 0)
        return itr_fail(ITR_E_ARG, "%s: variant '%s' but the checkpoint's opt.module_name is %s", c->path,
                        c->variant, want);
    if (!st) st = itr_case_input(c, "images", ITR_F32, 3, &images);
    if (!st) st = itr_case_input(c, "captions", ITR_I64, 2, &captions);
    if (!st) st = itr_case_input(c, "lengths", ITR_I64, 1, &lengths);
    if (st) goto done;
    int64_t n_img = images.shape[0], n_cap = captions.shape[0], T = captions.shape[1];
    int64_t R = m.cfg.n_regions, D = m.cfg.embed_size;
    if (images.shape[1] != R || images.shape[2] != m.cfg.img_dim) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/images is (%lld, %lld, %lld), the checkpoint expects (n, %lld, %lld)",
                      c->path, (long long)n_img, (long long)images.shape[1], (long long)images.shape[2],
                      (long long)R, (long long)m.cfg.img_dim);
        goto done;
    }
    if (lengths.shape[0] != n_cap) {
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/lengths has %lld entries for %lld captions", c->path,
                      (long long)lengths.shape[0], (long long)n_cap);
        goto done;
    }
    if ((st = itr_tensor_alloc(&img_emb, ITR_F32, 3, (int64_t[]){n_img, R, D}))) goto done;
    if ((st = itr_tensor_alloc(&cap_emb, ITR_F32, 3, (int64_t[]){n_cap, T, D}))) goto done;
    if ((st = itr_tensor_alloc(&img_glo, ITR_F32, 2, (int64_t[]){n_img, D}))) goto done;
    if ((st = itr_tensor_alloc(&cap_glo, ITR_F32, 2, (int64_t[]){n_cap, D}))) goto done;
    if ((st = itr_tensor_alloc(&sims, ITR_F64, 2, (int64_t[]){n_img, n_cap}))) goto done;
    if (c->backend == ITR_BACKEND_CUDA) {
        if ((st = itr_cuda_sgraf_create(&m, &cu))) goto done;
        if ((st = run_cuda(cu, &images, &captions, &lengths, &img_emb, &cap_emb, &img_glo, &cap_glo, &sims)))
            goto done;
    } else {
        if ((st = itr_sgraf_encode_images(&m, itr_f32(&images), n_img, itr_f32(&img_emb)))) goto done;
        if ((st = itr_sgraf_encode_captions(&m, itr_i64(&captions), itr_i64(&lengths), n_cap, T,
                                            itr_f32(&cap_emb))))
            goto done;
        if ((st = itr_sgraf_sims(&m, itr_f32(&img_emb), n_img, itr_f32(&cap_emb), itr_i64(&lengths), n_cap, T,
                                 itr_f64(&sims), itr_f32(&img_glo), itr_f32(&cap_glo))))
            goto done;
    }
    if ((st = report_attention(c, &m, cu, itr_f32(&img_emb), n_img, itr_f32(&cap_emb), itr_i64(&lengths)[0], out)))
        goto done;
    if (!st) st = itr_probe_put(out, "img_emb", &img_emb);
    if (!st) st = itr_probe_put(out, "cap_emb", &cap_emb);
    if (!st) st = itr_probe_put(out, "img_glo", &img_glo);
    if (!st) st = itr_probe_put(out, "cap_glo", &cap_glo);
    if (!st) st = itr_probe_take(out, "sims", &sims);
done:
    itr_cuda_sgraf_destroy(cu);
    itr_tensor_free(&images);
    itr_tensor_free(&captions);
    itr_tensor_free(&lengths);
    itr_tensor_free(&img_emb);
    itr_tensor_free(&cap_emb);
    itr_tensor_free(&img_glo);
    itr_tensor_free(&cap_glo);
    itr_tensor_free(&sims);
    return st;
}
