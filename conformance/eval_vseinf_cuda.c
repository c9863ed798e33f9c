/* eval_vseinf_cuda.c - VSE-infinity for `itr eval --backend cuda`: the CUDA
 * twin (include/itr/cuda/vseinf.h) of eval_vseinf.c's pooled family. The
 * engine loads the reference model (and its caption tokenizer) as usual;
 * this uploads the model and routes both encoders (BiGRU or BERT text side)
 * and the (n_img, n_cap) score matrix to the device. Scores are the float64
 * dot products of the float32 embeddings, as itr_vseinf_sims (s3). */
#include <stdlib.h>

#include "eval_families.h"
#include "itr/cuda/vseinf.h"

/* ref_model is eval_vseinf.c's wrapper, whose first member is the itr_vseinf
 * (eval_families.h), so a pointer to it is a pointer to the model. */
static itr_status vseinf_cuda_load(const void *ref_model, void **dev) {
    *dev = NULL;
    itr_cuda_vseinf *m = NULL;
    itr_status st = itr_cuda_vseinf_create((const itr_vseinf *)ref_model, &m);
    if (st) return itr_fail_context(st, "uploading VSE-inf to CUDA");
    *dev = m;
    return ITR_OK;
}

static void vseinf_cuda_free(void *dev) { itr_cuda_vseinf_destroy(dev); }

/* QUIRK(vsepp_vseinfty.md s3): as the reference eval, every image is pooled
 * over all R rows of the precomp array (collate_fn's zero padding included). */
static itr_status vseinf_cuda_encode_images(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb) {
    if (n < 1 || R < 1) return itr_fail(ITR_E_SHAPE, "VSE-inf: no images to encode");
    int64_t *len = malloc((size_t)n * sizeof *len);
    if (!len) return itr_fail(ITR_E_NOMEM, "vseinf: out of memory for %lld image lengths", (long long)n);
    for (int64_t i = 0; i < n; i++) len[i] = R;
    itr_status st = itr_cuda_vseinf_encode_images(dev, rows, len, n, R, img_emb, NULL, NULL, NULL);
    free(len);
    return st;
}

static itr_status vseinf_cuda_encode_captions(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n,
                                              int64_t T, float *cap_emb) {
    return itr_cuda_vseinf_encode_captions(dev, ids, lengths, n, T, cap_emb, NULL, NULL, NULL, NULL);
}

/* Per-item scores: lengths NULL, R = T = 1. */
static itr_status vseinf_cuda_sims(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                                   const int64_t *lengths, int64_t n_cap, int64_t T, double *sims) {
    (void)lengths;
    if (R != 1 || T != 1)
        return itr_fail(ITR_E_SHAPE, "vseinf: per-item sims need R = T = 1 (got %lld, %lld)", (long long)R,
                        (long long)T);
    return itr_cuda_vseinf_sims(dev, img_emb, n_img, cap_emb, n_cap, sims);
}

/* VSE-infinity scores are always the float64 dot of the L2-normalised embeddings. */
static int vseinf_cuda_dot_scores(const void *dev) {
    (void)dev;
    return 1;
}

const itr_eval_accel itr_eval_accel_vseinf = {
    &itr_eval_family_vseinf,     vseinf_cuda_load, vseinf_cuda_free,       vseinf_cuda_encode_images,
    vseinf_cuda_encode_captions, vseinf_cuda_sims, vseinf_cuda_dot_scores,
};
