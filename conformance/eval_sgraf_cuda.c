/* eval_sgraf_cuda.c - SGRAF (SGR, SAF) for `itr eval --backend cuda`: the
 * CUDA twin (include/itr/cuda/sgraf.h) of eval_sgraf.c's cross-attention
 * family. The engine loads the reference model as usual; this uploads it and
 * routes the encoders and the (n_img, n_cap) matrix of each call to the
 * device, which tiles it (docs/cuda-sgraf.md). Scores are float32 held in
 * float64 as upstream (scan_sgraf.md s4.6). */
#include <stdlib.h>

#include "eval_families.h"
#include "itr/cuda/sgraf.h"

/* The CUDA model and the reference model it was uploaded from (its shapes). */
typedef struct sgraf_cuda {
    itr_cuda_sgraf *m;
    const itr_sgraf *ref;
} sgraf_cuda;

static itr_status sgraf_cuda_load(const void *ref_model, void **dev) {
    *dev = NULL;
    sgraf_cuda *d = calloc(1, sizeof *d);
    if (!d) return itr_fail(ITR_E_NOMEM, "sgraf: out of memory");
    itr_status st = itr_cuda_sgraf_create(ref_model, &d->m);
    if (st) {
        free(d);
        return itr_fail_context(st, "uploading SGRAF to CUDA");
    }
    d->ref = ref_model;
    *dev = d;
    return ITR_OK;
}

static void sgraf_cuda_free(void *dev) {
    sgraf_cuda *d = dev;
    if (!d) return;
    itr_cuda_sgraf_destroy(d->m);
    free(d);
}

/* QUIRK(scan_sgraf.md s2.3): VisualSA's BatchNorm1d(n_regions) fixes R. */
static itr_status check_regions(const sgraf_cuda *d, int64_t R) {
    if (R != d->ref->cfg.n_regions)
        return itr_fail(ITR_E_SHAPE, "sgraf: images have %lld regions, the checkpoint's VisualSA BatchNorm expects %lld",
                        (long long)R, (long long)d->ref->cfg.n_regions);
    return ITR_OK;
}

static itr_status sgraf_cuda_encode_images(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb) {
    sgraf_cuda *d = dev;
    itr_status st = check_regions(d, R);
    return st ? st : itr_cuda_sgraf_encode_images(d->m, rows, n, img_emb);
}

static itr_status sgraf_cuda_encode_captions(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n,
                                             int64_t T, float *cap_emb) {
    return itr_cuda_sgraf_encode_captions(((sgraf_cuda *)dev)->m, ids, lengths, n, T, cap_emb);
}

static itr_status sgraf_cuda_sims(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                                  const int64_t *lengths, int64_t n_cap, int64_t T, double *sims) {
    sgraf_cuda *d = dev;
    itr_status st = check_regions(d, R);
    if (st) return st;
    if (!lengths) return itr_fail(ITR_E_ARG, "sgraf: pair sims need word embeddings and lengths");
    return itr_cuda_sgraf_sims(d->m, img_emb, n_img, cap_emb, lengths, n_cap, T, sims, NULL, NULL);
}

const itr_eval_accel itr_eval_accel_sgraf = {
    &itr_eval_family_sgraf,     sgraf_cuda_load, sgraf_cuda_free, sgraf_cuda_encode_images,
    sgraf_cuda_encode_captions, sgraf_cuda_sims, NULL,   /* cross attention: not dot scores */
};
