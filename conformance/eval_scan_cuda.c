/* eval_scan_cuda.c - SCAN for `itr eval --backend cuda`: the CUDA twin
 * (include/itr/cuda/scan.h) of eval_scan.c's cross-attention family. The
 * engine loads the reference model as usual; this uploads it and routes the
 * encoders and the (n_img, n_cap) matrix of each shard to the device, which
 * tiles it (docs/cuda-scan.md). Scores are float64 on the float32 embeddings,
 * as upstream's evaluation (QUIRK-S1, scan_sgraf.md s4.6). */
#include "eval_families.h"
#include "itr/cuda/scan.h"

static itr_status scan_cuda_load(const void *ref_model, void **dev) {
    *dev = NULL;
    itr_cuda_scan *m = NULL;
    itr_status st = itr_cuda_scan_create(ref_model, &m);
    if (st) return itr_fail_context(st, "uploading SCAN to CUDA");
    *dev = m;
    return ITR_OK;
}

static void scan_cuda_free(void *dev) { itr_cuda_scan_destroy(dev); }

/* rows (n, R, img_dim): fc + l2n per region */
static itr_status scan_cuda_encode_images(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb) {
    return itr_cuda_scan_encode_images(dev, rows, n, R, img_emb);
}

static itr_status scan_cuda_encode_captions(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n,
                                            int64_t T, float *cap_emb) {
    return itr_cuda_scan_encode_captions(dev, ids, lengths, n, T, cap_emb);
}

static itr_status scan_cuda_sims(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                                 const int64_t *lengths, int64_t n_cap, int64_t T, double *sims) {
    if (!lengths) return itr_fail(ITR_E_ARG, "scan: cross-attention sims need word embeddings and lengths");
    return itr_cuda_scan_sims_f64(dev, img_emb, n_img, R, cap_emb, lengths, n_cap, T, sims);
}

const itr_eval_accel itr_eval_accel_scan = {
    &itr_eval_family_scan,     scan_cuda_load, scan_cuda_free, scan_cuda_encode_images,
    scan_cuda_encode_captions, scan_cuda_sims, NULL,   /* cross attention: not dot scores */
};
