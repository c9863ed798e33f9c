/* eval_vseinf.c - VSE-infinity (woodfrog/vse_infty) as an `itr eval` family,
 * BiGRU (branch bigru) and BERT (master) text encoders.
 * Spec: specs/vsepp_vseinfty.md s2 (model), s3 (evaluation).
 *
 * Upstream evalrank reads <data_path>/precomp/{split}_ims.npy (n, R, img_dim)
 * and {split}_caps.txt in text mode; every image is pooled over all R regions
 * and every caption over all its tokens, so both encoders are per item and
 * the engine drives them through the itr_eval_pooled hooks. Scores are the
 * float64 dot products of the float32 embeddings (itr_vseinf_sims).
 *
 * Captions: BiGRU = [<start>] word_tokenize(str.lower(line)) [<end>] over
 * SCAN's vocabulary JSON plus the appended <mask>; BERT = [CLS] WordPiece
 * pieces [SEP] over vocab.txt. The BERT head count is not in the checkpoint:
 * it comes from the HF config.json (--bert-config). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eval_families.h"
#include "itr/models/vseinf.h"

typedef struct vseinf_eval {
    itr_vseinf m;
    itr_vocab vocab;              /* BiGRU */
    itr_bert_tokenizer tok;       /* BERT  */
    int has_tok;
} vseinf_eval;

/* num_attention_heads and layer_norm_eps of an HF config.json; absent
 * fields keep the model defaults (0: hidden / 64 heads, 1e-12). */
static itr_status read_bert_config(const char *path, int64_t *heads, float *eps) {
    json_error_t err;
    *heads = 0;
    *eps = 0.0f;
    if (!path) return ITR_OK;
    json_t *cfg = json_load_file(path, 0, &err);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        return itr_fail(ITR_E_FORMAT, "%s: --bert-config is not a JSON object (%s, line %d)", path, err.text,
                        err.line);
    }
    json_t *h = json_object_get(cfg, "num_attention_heads"), *e = json_object_get(cfg, "layer_norm_eps");
    if (json_is_integer(h)) *heads = (int64_t)json_integer_value(h);
    if (json_is_number(e)) *eps = (float)json_number_value(e);
    json_decref(cfg);
    return ITR_OK;
}

/* Copy of a + b (no strdup in C99); NULL when out of memory. */
static char *concat(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* The caption vocabulary: --vocab, else upstream's default. BiGRU: the
 * vocab_path folder + {coco|f30k}_precomp_vocab.json ('coco' in data_name
 * picks COCO's), then <mask> appended as evalrank does. BERT: vocab.txt of
 * the bert-base-uncased folder in the cwd (from_pretrained by name). */
static itr_status load_text_side(vseinf_eval *e, const itr_checkpoint *ck, const char *vocab) {
    itr_status st;
    char *path = NULL;
    if (vocab) {
        path = concat(vocab, "");
    } else if (e->m.text == ITR_VSEINF_BERT) {
        path = concat("bert-base-uncased/vocab.txt", "");
    } else {
        const char *dir = itr_config_str(&ck->opt, "vocab_path", "./vocab");
        const char *dn = itr_config_str(&ck->opt, "data_name", "");
        const char *file = strstr(dn, "coco") ? "coco_precomp_vocab.json" : "f30k_precomp_vocab.json";
        size_t n = strlen(dir);
        path = concat(dir, n > 0 && dir[n - 1] != '/' ? "/" : "");
        char *full = path ? concat(path, file) : NULL;
        free(path);
        path = full;
    }
    if (!path) return itr_fail(ITR_E_NOMEM, "vseinf: out of memory");
    if (e->m.text == ITR_VSEINF_BERT) {
        st = itr_bert_tokenizer_load(path, &e->tok);
        if (!st) e->has_tok = 1;
    } else {
        int64_t mask_id;
        st = itr_vocab_load(path, &e->vocab);
        if (!st) st = itr_vocab_require_specials(&e->vocab);
        /* QUIRK(vsepp_vseinfty.md s3): evalrank appends <mask> = len(vocab) */
        if (!st) st = itr_vocab_append(&e->vocab, "<mask>", &mask_id);
    }
    if (st) st = itr_fail_context(st, "VSE-inf vocabulary %s (--vocab overrides)", path);
    free(path);
    return st;
}

static void vseinf_free(void *model) {
    vseinf_eval *e = model;
    if (!e) return;
    itr_vocab_free(&e->vocab);
    if (e->has_tok) itr_bert_free(&e->tok);
    free(e);
}

static itr_status vseinf_load_opts(itr_checkpoint *ck, const itr_eval_opts *o, void **model) {
    int64_t heads;
    float eps;
    *model = NULL;
    vseinf_eval *e = calloc(1, sizeof *e);
    if (!e) return itr_fail(ITR_E_NOMEM, "vseinf: out of memory");
    itr_vocab_init(&e->vocab);
    itr_status st = read_bert_config(o ? o->bert_config : NULL, &heads, &eps);
    if (!st && (st = itr_vseinf_load(&e->m, &ck->opt, &ck->weights, heads, eps)))
        st = itr_fail_context(st, "loading VSE-inf");
    if (!st) st = load_text_side(e, ck, o ? o->vocab : NULL);
    if (st) {
        vseinf_free(e);
        return st;
    }
    *model = e;
    return ITR_OK;
}

static itr_status vseinf_load(itr_checkpoint *ck, void **model) { return vseinf_load_opts(ck, NULL, model); }

static int64_t vseinf_img_dim(const void *model) { return ((const vseinf_eval *)model)->m.img_dim; }
static int64_t vseinf_emb_size(const void *model) { return ((const vseinf_eval *)model)->m.embed_size; }

/* QUIRK(vsepp_vseinfty.md s3): collate_fn gives every image R regions, the
 * all-zero padding rows included (their fc + mlp biases join the GPO sort). */
static itr_status vseinf_encode_regions(const void *model, const float *rows, int64_t n, int64_t R,
                                        float *img_emb) {
    int64_t *len = malloc((size_t)(n > 0 ? n : 1) * sizeof *len);
    if (!len) return itr_fail(ITR_E_NOMEM, "vseinf: out of memory for %lld image lengths", (long long)n);
    for (int64_t i = 0; i < n; i++) len[i] = R;
    itr_status st = itr_vseinf_encode_images(&((const vseinf_eval *)model)->m, rows, len, n, R, img_emb, NULL,
                                             NULL, NULL);
    free(len);
    return st;
}

/* Per-item families are asked for one region per row only through the
 * pooled hook; a 2-D row is a one-region image. */
static itr_status vseinf_encode_images(const void *model, const float *rows, int64_t n, float *img_emb) {
    return vseinf_encode_regions(model, rows, n, 1, img_emb);
}

static itr_status vseinf_encode_captions(const void *model, const int64_t *ids, const int64_t *lengths, int64_t n,
                                         int64_t T, float *cap_emb) {
    return itr_vseinf_encode_captions(&((const vseinf_eval *)model)->m, ids, lengths, n, T, cap_emb, NULL, NULL,
                                      NULL, NULL);
}

static itr_status vseinf_sims(const void *model, const float *img_emb, int64_t n_img, const float *cap_emb,
                              int64_t n_cap, double *sims) {
    itr_vseinf_sims(&((const vseinf_eval *)model)->m, img_emb, n_img, cap_emb, n_cap, sims);
    return ITR_OK;
}

/* One caption line -> ids. BiGRU: QUIRK(vsepp_vseinfty.md s3) Python 3
 * str.lower() (Unicode) and one sentence per line (the harness ran nltk's
 * NLTKWordTokenizer without Punkt); an empty line is [<start>, <end>].
 * BERT: [CLS] pieces [SEP]. */
static itr_status vseinf_caption_ids(const void *model, const char *line, int64_t **ids, int64_t *n,
                                     int64_t *unk) {
    const vseinf_eval *e = model;
    itr_status st;
    int64_t unk_id;
    if (e->m.text == ITR_VSEINF_BERT) {
        st = itr_bert_tokenize(&e->tok, line, ITR_TOK_ALLOW_EMPTY, NULL, ids, n);
        unk_id = e->tok.unk_id;
    } else {
        st = itr_caption_encode(&e->vocab, line,
                                ITR_TOK_NLTK38 | ITR_TOK_NO_SENT_SPLIT | ITR_TOK_UNICODE_LOWER | ITR_TOK_ALLOW_EMPTY,
                                ids, n);
        unk_id = e->vocab.unk_id;
    }
    for (int64_t t = 0; !st && t < *n; t++)
        if ((*ids)[t] == unk_id) (*unk)++;
    return st;
}

/* Two state dicts; image encoder fc.* + mlp.layers.0.* (+ gpool.*), with or
 * without DataParallel's "module."; text encoder embed + rnn (BiGRU) or bert.*. */
int itr_eval_is_vseinf(const itr_checkpoint *ck) {
    const itr_weights *w = &ck->weights;
    if (itr_weights_group_count(w) != 2) return 0;
    int img = (itr_weights_has(w, "0", "fc.weight") && itr_weights_has(w, "0", "mlp.layers.0.weight")) ||
              (itr_weights_has(w, "0", "module.fc.weight") && itr_weights_has(w, "0", "module.mlp.layers.0.weight"));
    int txt = (itr_weights_has(w, "1", "embed.weight") && itr_weights_has(w, "1", "rnn.weight_ih_l0")) ||
              (itr_weights_has(w, "1", "module.embed.weight") && itr_weights_has(w, "1", "module.rnn.weight_ih_l0")) ||
              itr_weights_has(w, "1", "bert.embeddings.word_embeddings.weight") ||
              itr_weights_has(w, "1", "module.bert.embeddings.word_embeddings.weight");
    return img && txt;
}

const itr_eval_family itr_eval_family_vseinf = {
    "vseinf",        vseinf_load,          vseinf_free,            vseinf_img_dim, vseinf_emb_size,
    vseinf_emb_size, vseinf_encode_images, vseinf_encode_captions, vseinf_sims,
};

const itr_eval_pooled itr_eval_pooled_vseinf = {
    &itr_eval_family_vseinf,
    "precomp",
    ITR_CAPS_TEXT_MODE | ITR_CAPS_ALLOW_EMPTY,
    vseinf_load_opts,
    vseinf_encode_regions,
    vseinf_caption_ids,
};
