/* eval_vsepp_cuda.c - VSE++ for `itr eval --backend cuda`: the CUDA twin
 * (include/itr/cuda/vsepp.h) of eval_vsepp.c's per-item family. The engine
 * loads the reference model as usual; this uploads it and routes the two
 * encoders and the (n_img, n_cap) score matrix to the device. Scores are the
 * float64 dot (cosine) or float64 order violation of the float32 embeddings,
 * as itr_vsepp_sims (specs/vsepp_vseinfty.md s3.3). */
#include <stddef.h>

#include "eval_families.h"
#include "itr/cuda/vsepp.h"

static itr_status vsepp_cuda_load(const void *ref_model, void **dev) {
    *dev = NULL;
    itr_cuda_vsepp *m = NULL;
    itr_status st = itr_cuda_vsepp_create(ref_model, &m);
    if (st) return itr_fail_context(st, "uploading VSE++ to CUDA");
    *dev = m;
    return ITR_OK;
}

static void vsepp_cuda_free(void *dev) { itr_cuda_vsepp_destroy(dev); }

/* VSE++ precomp images are one feature vector each (R == 1). */
static itr_status vsepp_cuda_encode_images(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb) {
    if (R != 1) return itr_fail(ITR_E_SHAPE, "vsepp: images have %lld rows each, expected one vector", (long long)R);
    return itr_cuda_vsepp_encode_images(dev, rows, n, img_emb);
}

static itr_status vsepp_cuda_encode_captions(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n,
                                             int64_t T, float *cap_emb) {
    return itr_cuda_vsepp_encode_captions(dev, ids, lengths, n, T, cap_emb);
}

/* Per-item family: lengths NULL, R = T = 1. */
static itr_status vsepp_cuda_sims(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                                  const int64_t *lengths, int64_t n_cap, int64_t T, double *sims) {
    (void)lengths;
    if (R != 1 || T != 1)
        return itr_fail(ITR_E_SHAPE, "vsepp: per-item sims need R = T = 1 (got %lld, %lld)", (long long)R,
                        (long long)T);
    return itr_cuda_vsepp_sims(dev, img_emb, n_img, cap_emb, n_cap, sims);
}

/* Cosine scores are the float64 dot of the embeddings; order scores are not. */
static int vsepp_cuda_dot_scores(const void *dev) {
    return itr_cuda_vsepp_config(dev)->measure == ITR_MEASURE_COSINE;
}

const itr_eval_accel itr_eval_accel_vsepp = {
    &itr_eval_family_vsepp,     vsepp_cuda_load, vsepp_cuda_free,       vsepp_cuda_encode_images,
    vsepp_cuda_encode_captions, vsepp_cuda_sims, vsepp_cuda_dot_scores,
};
