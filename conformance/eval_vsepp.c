/* eval_vsepp.c - VSE++ (fartashf/vsepp) as an `itr eval` family.
 * Spec: specs/vsepp_vseinfty.md s1 (model), s3 (evaluation).
 *
 * Upstream encode_data runs img_enc / txt_enc on test-loader batches and keeps
 * float32 embeddings; i2t/t2i score them with numpy.dot in float64, which is
 * what itr_vsepp_sims does. Both encoders are per-item, so the batch size
 * changes nothing but memory. */
#include <stdlib.h>

#include "eval_families.h"
#include "itr/models/vsepp.h"

static itr_status vsepp_load(itr_checkpoint *ck, void **model) {
    *model = NULL;
    itr_vsepp *m = malloc(sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "vsepp: out of memory");
    itr_status st = itr_vsepp_load(m, &ck->opt, &ck->weights);
    if (st) {
        free(m);
        return itr_fail_context(st, "loading VSE++");
    }
    *model = m;
    return ITR_OK;
}

static void vsepp_free(void *model) { free(model); }

static int64_t vsepp_img_dim(const void *model) { return ((const itr_vsepp *)model)->cfg.img_dim; }
static int64_t vsepp_emb_size(const void *model) { return ((const itr_vsepp *)model)->cfg.embed_size; }

static itr_status vsepp_encode_images(const void *model, const float *rows, int64_t n, float *img_emb) {
    return itr_vsepp_encode_images(model, rows, n, img_emb);
}

static itr_status vsepp_encode_captions(const void *model, const int64_t *ids, const int64_t *lengths, int64_t n,
                                        int64_t T, float *cap_emb) {
    return itr_vsepp_encode_captions(model, ids, lengths, n, T, cap_emb);
}

static itr_status vsepp_sims(const void *model, const float *img_emb, int64_t n_img, const float *cap_emb,
                             int64_t n_cap, double *sims) {
    itr_vsepp_sims(model, img_emb, n_img, cap_emb, n_cap, sims);
    return ITR_OK;
}

/* A VSE++ checkpoint: exactly two state dicts, image encoder "0" with
 * fc.weight and text encoder "1" with embed.weight and a GRU
 * (rnn.weight_ih_l0). SCAN has the same keys but its opt names a
 * raw_feature_norm; SGRAF adds a third state dict (the similarity encoder). */
int itr_eval_is_vsepp(const itr_checkpoint *ck) {
    return itr_weights_group_count(&ck->weights) == 2 && itr_weights_has(&ck->weights, "0", "fc.weight") && itr_weights_has(&ck->weights, "1", "embed.weight") &&
           itr_weights_has(&ck->weights, "1", "rnn.weight_ih_l0") && !itr_config_find(&ck->opt, "raw_feature_norm");
}

const itr_eval_family itr_eval_family_vsepp = {
    "vsepp",          vsepp_load,         vsepp_free,          vsepp_img_dim, vsepp_emb_size,
    vsepp_emb_size,   vsepp_encode_images, vsepp_encode_captions, vsepp_sims,
};
