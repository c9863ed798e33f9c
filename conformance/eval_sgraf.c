/* eval_sgraf.c - SGRAF (Paranioar/SGRAF: SGR, SAF) as an `itr eval` family.
 * Spec: specs/scan_sgraf.md s2.2-2.3 (model), s4.6, s5.3-5.4 (evaluation).
 *
 * Upstream encode_data keeps float32 region (N, 36, D) and word (N,
 * max_n_word, D) embeddings; shard_attn_scores runs sim_enc on 100 x 100
 * shards and stores the float32 scores in a float64 array, which is what
 * itr_sgraf_sims returns. Per-pair scores do not depend on the shard or the
 * loader batch (hard-coded 100 upstream). The ensemble of an SGR and an SAF
 * checkpoint is the engine's --ensemble (the average of the two matrices). */
#include <stdlib.h>
#include <string.h>

#include "eval_families.h"
#include "itr/models/sgraf.h"

static itr_status sgraf_load(itr_checkpoint *ck, void **model) {
    *model = NULL;
    itr_sgraf *m = calloc(1, sizeof *m);
    if (!m) return itr_fail(ITR_E_NOMEM, "sgraf: out of memory");
    itr_status st = itr_sgraf_load(m, &ck->opt, &ck->weights);
    if (st) {
        free(m);
        return itr_fail_context(st, "loading SGRAF");
    }
    *model = m;
    return ITR_OK;
}

static void sgraf_free(void *model) { free(model); }

/* Per region (image side) and per word (caption side). */
static int64_t sgraf_img_dim(const void *model) { return ((const itr_sgraf *)model)->cfg.img_dim; }
static int64_t sgraf_emb_size(const void *model) { return ((const itr_sgraf *)model)->cfg.embed_size; }

/* QUIRK(scan_sgraf.md s2.3): VisualSA's BatchNorm1d(n_regions) fixes the
 * number of regions per image (36 upstream), so the data must have as many. */
static itr_status sgraf_encode_regions(const void *model, const float *rows, int64_t n, int64_t R, float *img_emb) {
    const itr_sgraf *m = model;
    if (R != m->cfg.n_regions)
        return itr_fail(ITR_E_SHAPE, "sgraf: images have %lld regions, the checkpoint's VisualSA BatchNorm expects %lld",
                        (long long)R, (long long)m->cfg.n_regions);
    return itr_sgraf_encode_images(m, rows, n, img_emb);
}

static itr_status sgraf_encode_rows(const void *model, const float *rows, int64_t n, float *img_emb) {
    const itr_sgraf *m = model;
    if (n % m->cfg.n_regions != 0)
        return itr_fail(ITR_E_SHAPE, "sgraf: %lld region rows are not whole images of %lld regions", (long long)n,
                        (long long)m->cfg.n_regions);
    return itr_sgraf_encode_images(m, rows, n / m->cfg.n_regions, img_emb);
}

static itr_status sgraf_encode_captions(const void *model, const int64_t *ids, const int64_t *lengths, int64_t n,
                                        int64_t T, float *cap_emb) {
    return itr_sgraf_encode_captions(model, ids, lengths, n, T, cap_emb);
}

/* Per-item sims need caption lengths, which this hook does not get. */
static itr_status sgraf_sims_unsupported(const void *model, const float *img_emb, int64_t n_img,
                                         const float *cap_emb, int64_t n_cap, double *sims) {
    (void)model, (void)img_emb, (void)n_img, (void)cap_emb, (void)n_cap, (void)sims;
    return itr_fail(ITR_E_UNSUPPORTED, "sgraf: pair sims need word embeddings and lengths (itr_eval_xattn)");
}

static itr_status sgraf_sims_words(const void *model, const float *img_emb, int64_t n_img, int64_t R,
                                   const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T,
                                   double *sims) {
    const itr_sgraf *m = model;
    if (R != m->cfg.n_regions)
        return itr_fail(ITR_E_SHAPE, "sgraf: sims of images with %lld regions, the model has %lld", (long long)R,
                        (long long)m->cfg.n_regions);
    return itr_sgraf_sims(m, img_emb, n_img, cap_emb, lengths, n_cap, T, sims, NULL, NULL);
}

/* A key of `group` that starts with `prefix`. */
static int has_prefix(const itr_weights *w, const char *group, const char *prefix) {
    size_t n = strlen(prefix);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].group, group) == 0 && strncmp(w->entries[i].key, prefix, n) == 0) return 1;
    return 0;
}

/* An SGRAF checkpoint: three state dicts [img_enc, txt_enc, sim_enc], the
 * similarity encoder holding SGR_module.* or SAF_module.* weights. */
int itr_eval_is_sgraf(const itr_checkpoint *ck) {
    const itr_weights *w = &ck->weights;
    return itr_weights_group_count(w) == 3 &&
           (has_prefix(w, "2", "SGR_module.") || has_prefix(w, "2", "SAF_module."));
}

const itr_eval_family itr_eval_family_sgraf = {
    "sgraf",        sgraf_load,        sgraf_free,            sgraf_img_dim,          sgraf_emb_size,
    sgraf_emb_size, sgraf_encode_rows, sgraf_encode_captions, sgraf_sims_unsupported,
};

/* scan_sgraf.md s0, s7: the python3.6 branch reads the hard-coded
 * './vocab/<data_name>_vocab.json', branch main opt.vocab_path; the released
 * opts say './vocab/', so opt.vocab_path serves both (--vocab overrides). */
const itr_eval_xattn itr_eval_xattn_sgraf = {
    &itr_eval_family_sgraf,
    "_vocab.json",
    sgraf_encode_regions,
    sgraf_sims_words,
};
