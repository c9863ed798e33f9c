/* eval_scan.c - SCAN (kuanghuei/SCAN) as an `itr eval` family.
 * Spec: specs/scan_sgraf.md s2.1 (model), s5.1-5.2 (evaluation), s9.1-9.2 (data).
 *
 * Upstream encode_data keeps region embeddings (N, R, D) and word embeddings
 * padded to the longest caption of the split (N, max_n_word, D); evalrank then
 * scores them shard by shard (shard_xattn_t2i / _i2t) in float64 on the
 * float32 encoder outputs (QUIRK-S1), which is what itr_scan_sims_f64 does.
 * Both encoders are per item, so neither the loader batch nor the shard size
 * changes a score. The engine drives the region / word hooks
 * (itr_eval_xattn); the per-item hooks of itr_eval_family are not used. */
#include <stdlib.h>

#include "eval_families.h"
#include "itr/models/scan.h"

static itr_status scan_load(itr_checkpoint *ck, void **model) {
    *model = NULL;
    itr_scan *m = calloc(1, sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "scan: out of memory");
    itr_status st = itr_scan_load(m, &ck->opt, &ck->weights);
    if (st) {
        free(m);
        return itr_fail_context(st, "loading SCAN");
    }
    *model = m;
    return ITR_OK;
}

static void scan_free(void *model) {
    if (!model) return;
    itr_scan_free(model);
    free(model);
}

/* Per region (image side) and per word (caption side). */
static int64_t scan_img_dim(const void *model) { return ((const itr_scan *)model)->cfg.img_dim; }
static int64_t scan_emb_size(const void *model) { return ((const itr_scan *)model)->cfg.embed_size; }

/* The image fc + l2norm is per region: n region rows are n one-region images. */
static itr_status scan_encode_rows(const void *model, const float *rows, int64_t n, float *img_emb) {
    return itr_scan_encode_images(model, rows, n, 1, img_emb);
}

static itr_status scan_encode_regions(const void *model, const float *rows, int64_t n, int64_t R, float *img_emb) {
    return itr_scan_encode_images(model, rows, n, R, img_emb);
}

static itr_status scan_encode_captions(const void *model, const int64_t *ids, const int64_t *lengths, int64_t n,
                                       int64_t T, float *cap_emb) {
    return itr_scan_encode_captions(model, ids, lengths, n, T, cap_emb);
}

/* Per-item sims need caption lengths, which this hook does not get. */
static itr_status scan_sims_unsupported(const void *model, const float *img_emb, int64_t n_img,
                                        const float *cap_emb, int64_t n_cap, double *sims) {
    (void)model, (void)img_emb, (void)n_img, (void)cap_emb, (void)n_cap, (void)sims;
    return itr_fail(ITR_E_UNSUPPORTED, "scan: cross-attention sims need word embeddings and lengths (itr_eval_xattn)");
}

static itr_status scan_sims_words(const void *model, const float *img_emb, int64_t n_img, int64_t R,
                                  const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                                  double *sims) {
    /* QUIRK(scan_sgraf.md QUIRK-S1): float64 cross attention on float32 embeddings */
    return itr_scan_sims_f64(model, img_emb, n_img, R, cap_emb, lengths, n_cap, T, sims);
}

/* A SCAN checkpoint: the two state dicts of VSE++ (image "0" with fc.weight or
 * the weight_norm pair, text "1" with embed + rnn) and an opt naming the cross
 * attention (raw_feature_norm / cross_attn), which VSE++'s has not. */
int itr_eval_is_scan(const itr_checkpoint *ck) {
    const itr_weights *w = &ck->weights;
    int fc = itr_weights_has(w, "0", "fc.weight") || itr_weights_has(w, "0", "fc.weight_v");
    int attn = itr_config_find(&ck->opt, "raw_feature_norm") || itr_config_find(&ck->opt, "cross_attn");
    return itr_weights_group_count(w) == 2 && fc && itr_weights_has(w, "1", "embed.weight") &&
           itr_weights_has(w, "1", "rnn.weight_ih_l0") && attn;
}

const itr_eval_family itr_eval_family_scan = {
    "scan",        scan_load,        scan_free,            scan_img_dim,          scan_emb_size,
    scan_emb_size, scan_encode_rows, scan_encode_captions, scan_sims_unsupported,
};

/* SCAN's evalrank reads opt.vocab_path/<data_name>_vocab.json (deserialize_vocab). */
const itr_eval_xattn itr_eval_xattn_scan = {
    &itr_eval_family_scan,
    "_vocab.json",
    scan_encode_regions,
    scan_sims_words,
};
