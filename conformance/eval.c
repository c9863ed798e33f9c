/* eval.c - the `itr eval` engine (itr/eval.h): precomp data set ->
 * family encoders -> float64 similarity matrix in shards -> metrics.
 * Spec: specs/vsepp_vseinfty.md s3, scan_sgraf.md s9.1, formats.md s3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_families.h"
#include "itr/h5.h"
#include "itr/npy.h"
#include "itr/text.h"

static const itr_eval_family *const FAMILIES[] = {
    &itr_eval_family_vsepp,
    &itr_eval_family_scan,
    &itr_eval_family_sgraf,
    &itr_eval_family_vseinf,
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

/* Families scored region x word (eval_families.h) */
static const itr_eval_xattn *const XATTN[] = {
    &itr_eval_xattn_scan,
    &itr_eval_xattn_sgraf,
};
#define N_XATTN (sizeof XATTN / sizeof XATTN[0])

/* The cross-attention hooks of a family, or NULL for a per-item family. */
static const itr_eval_xattn *xattn_of(const itr_eval_family *fam) {
    for (size_t i = 0; i < N_XATTN; i++)
        if (XATTN[i]->family == fam) return XATTN[i];
    return NULL;
}

/* Set-pooling families: per-item scores, own data folder and captions */
static const itr_eval_pooled *const POOLED[] = {
    &itr_eval_pooled_vseinf,
};
#define N_POOLED (sizeof POOLED / sizeof POOLED[0])

static const itr_eval_pooled *pooled_of(const itr_eval_family *fam) {
    for (size_t i = 0; i < N_POOLED; i++)
        if (POOLED[i]->family == fam) return POOLED[i];
    return NULL;
}

const itr_eval_family *itr_eval_family_find(const char *name) {
    for (size_t i = 0; name && i < N_FAMILIES; i++)
        if (strcmp(FAMILIES[i]->name, name) == 0) return FAMILIES[i];
    return NULL;
}

itr_status itr_eval_family_detect(itr_checkpoint *ck, const itr_eval_family **out) {
    *out = NULL;
    /* VSE-inf first: its BiGRU checkpoints also have VSE++'s fc / embed / rnn keys */
    if (itr_eval_is_vseinf(ck)) *out = &itr_eval_family_vseinf;
    else if (itr_eval_is_vsepp(ck)) *out = &itr_eval_family_vsepp;
    else if (itr_eval_is_scan(ck)) *out = &itr_eval_family_scan;
    else if (itr_eval_is_sgraf(ck)) *out = &itr_eval_family_sgraf;
    if (!*out)
        return itr_fail(ITR_E_UNSUPPORTED,
                        "%s: not a checkpoint of a family `itr eval` supports (vsepp, scan, sgraf, vseinf); try --model",
                        ck->path);
    return ITR_OK;
}

void itr_eval_opts_default(itr_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->split = "test";
}

/* a + "/" + b (no separator added when a is empty or ends in '/'), as
 * os.path.join does for relative parts. NULL when out of memory. */
static char *path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    int sep = na > 0 && a[na - 1] != '/';
    char *s = malloc(na + (size_t)sep + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    if (sep) s[na] = '/';
    memcpy(s + na + (size_t)sep, b, nb + 1);
    return s;
}

/* "<split><suffix>" under dir: test_ims.npy, test_caps.txt */
static char *split_file(const char *dir, const char *split, const char *suffix) {
    size_t n = strlen(split) + strlen(suffix) + 1;
    char *name = malloc(n);
    if (!name) return NULL;
    memcpy(name, split, strlen(split));
    memcpy(name + strlen(split), suffix, strlen(suffix) + 1);
    char *p = path_join(dir, name);
    free(name);
    return p;
}

static void progress(const itr_eval_opts *o, const char *stage, int64_t done, int64_t total) {
    if (o->progress) o->progress(o->progress_user, stage, done, total);
}

/* Shared by every model of an ensemble: the data files and the pairing. */
typedef struct eval_data {
    const char *split;
    char *ims_path, *caps_path;
    itr_captions caps;
    itr_npy_file *ims;
    int64_t regions;            /* R of a 3-D (rows, R, img_dim) file; 0 for 2-D */
    int64_t *lengths;           /* cross attention: tokens of every caption */
    int64_t max_len;            /* and the longest (upstream max_n_word)    */
    itr_precomp_pairing pair;
} eval_data;

static itr_status data_open(const char *data_path, const char *data_name, const char *split, int caps_flags,
                            eval_data *d, itr_eval_result *r) {
    itr_status st;
    char *dir = path_join(data_path, data_name);
    d->split = split;
    d->ims_path = dir ? split_file(dir, split, "_ims.npy") : NULL;
    d->caps_path = dir ? split_file(dir, split, "_caps.txt") : NULL;
    free(dir);
    if (!d->ims_path || !d->caps_path) return itr_fail(ITR_E_NOMEM, "eval: out of memory");
    if ((st = itr_captions_load(d->caps_path, caps_flags, &d->caps)))
        return itr_fail_context(st, "split '%s' captions %s", split, d->caps_path);
    if ((st = itr_npy_open(d->ims_path, NULL, &d->ims)))
        return itr_fail_context(st, "split '%s' image features %s", split, d->ims_path);
    const itr_npy_header *h = itr_npy_header_of(d->ims);
    if ((h->ndim != 2 && h->ndim != 3) || h->kind != 'f')
        return itr_fail(ITR_E_SHAPE,
                        "%s: expected float image features (rows, img_dim) or (rows, regions, img_dim), found rank %d '%s'",
                        d->ims_path, h->ndim, h->descr);
    d->regions = h->ndim == 3 ? h->shape[1] : 0;
    r->n_rows = h->shape[0];
    r->n_lines = d->caps.n;
    /* QUIRK(scan_sgraf.md QUIRK-D1, D2): im_div rule and the dev cut */
    if ((st = itr_precomp_pairing_get(h->shape[0], d->caps.n, split, &d->pair)))
        return itr_fail_context(st, "%s (%lld rows) vs %s (%lld lines)", d->ims_path, (long long)h->shape[0],
                                d->caps_path, (long long)d->caps.n);
    r->n_images = d->pair.n_images;
    r->n_captions = d->pair.n_captions;
    r->im_div = d->pair.im_div;
    return ITR_OK;
}

static void data_close(eval_data *d) {
    free(d->ims_path);
    free(d->caps_path);
    free(d->lengths);
    itr_captions_free(&d->caps);
    itr_npy_close(d->ims);
}

/* Image embeddings of the evaluated images, img_dim rows read batch by batch. */
static itr_status encode_images(const itr_eval_opts *o, const itr_eval_family *fam, const void *model,
                                eval_data *d, int64_t B, float *img_emb) {
    const itr_eval_xattn *x = xattn_of(fam);
    const itr_eval_pooled *p = pooled_of(fam);
    const itr_npy_header *h = itr_npy_header_of(d->ims);
    int64_t n = d->pair.n_images, R = x || p ? d->regions : 1;
    int64_t D = fam->img_dim(model) * R, E = fam->img_emb_size(model) * (x ? R : 1);   /* floats per row */
    if (!x && !p && d->regions != 0)
        return itr_fail(ITR_E_SHAPE, "%s: %s takes one vector per image; expected (rows, img_dim), found 3-D",
                        d->ims_path, fam->name);
    if (h->shape[h->ndim - 1] != fam->img_dim(model))
        return itr_fail(ITR_E_SHAPE, "%s: image rows have %lld features, the checkpoint expects img_dim %lld",
                        d->ims_path, (long long)h->shape[h->ndim - 1], (long long)fam->img_dim(model));
    size_t bytes = (size_t)(B * D) * sizeof(float);
    float *buf = malloc(bytes);
    if (!buf) return itr_fail(ITR_E_NOMEM, "eval: out of memory for %lld image rows", (long long)B);
    itr_status st = ITR_OK;
    for (int64_t i0 = 0; i0 < n && !st; i0 += B) {
        int64_t nb = n - i0 < B ? n - i0 : B;
        if (d->pair.im_div == 5) {   /* one row per image: a contiguous block */
            st = itr_npy_read_rows_into(d->ims, i0, nb, ITR_F32, buf, bytes);
        } else {                     /* one row per caption: rows 0, 5, 10, ... */
            for (int64_t j = 0; j < nb && !st; j++)
                st = itr_npy_read_rows_into(d->ims, itr_precomp_image_row(&d->pair, i0 + j), 1, ITR_F32,
                                            buf + j * D, (size_t)D * sizeof(float));
        }
        if (!st) st = x ? x->encode_images(model, buf, nb, R, img_emb + i0 * E)
                        : p ? p->encode_images(model, buf, nb, R, img_emb + i0 * E)
                            : fam->encode_images(model, buf, nb, img_emb + i0 * E);
        progress(o, "images", i0 + nb, n);
    }
    free(buf);
    return st;
}

/* Cross attention: the token count of every caption and the longest, so that
 * word embeddings share one padded width (upstream encode_data allocates
 * (N, max_n_word, D)). Counts do not depend on the vocabulary. */
static itr_status caption_lengths(const itr_vocab *v, eval_data *d) {
    int64_t n = d->pair.n_captions, *seq = NULL;
    if (d->lengths) return ITR_OK;   /* the other model of an ensemble did it */
    if (!(d->lengths = malloc((size_t)n * sizeof *d->lengths)))
        return itr_fail(ITR_E_NOMEM, "eval: out of memory for %lld caption lengths", (long long)n);
    d->max_len = 1;
    for (int64_t k = 0; k < n; k++) {
        itr_status st = itr_caption_encode(v, d->caps.lines[k], ITR_TOK_NLTK38, &seq, &d->lengths[k]);
        free(seq);
        seq = NULL;
        if (st) return itr_fail_context(st, "%s: line %lld", d->caps_path, (long long)(k + 1));
        if (d->lengths[k] > d->max_len) d->max_len = d->lengths[k];
    }
    return ITR_OK;
}

/* Caption embeddings: tokenize, pad a batch, encode. Per-item families pad
 * to the batch's longest caption, cross-attention ones to the split's. */
static itr_status encode_captions(const itr_eval_opts *o, const itr_eval_family *fam, const void *model,
                                  const itr_vocab *v, eval_data *d, int64_t B, float *cap_emb, int64_t *n_unk) {
    const itr_eval_xattn *x = xattn_of(fam);
    const itr_eval_pooled *p = pooled_of(fam);
    int64_t n = d->pair.n_captions, E = fam->cap_emb_size(model) * (x ? d->max_len : 1);
    int64_t **seq = calloc((size_t)B, sizeof *seq), *len = calloc((size_t)B, sizeof *len), *pad = NULL;
    itr_status st = seq && len ? ITR_OK : itr_fail(ITR_E_NOMEM, "eval: out of memory");
    for (int64_t c0 = 0; c0 < n && !st; c0 += B) {
        int64_t nb = n - c0 < B ? n - c0 : B, T = x ? d->max_len : 1;
        for (int64_t j = 0; j < nb && !st; j++) {
            /* QUIRK(vsepp_vseinfty.md s3): [<start>] word_tokenize(lower) [<end>] */
            st = p ? p->caption_ids(model, d->caps.lines[c0 + j], &seq[j], &len[j], n_unk)
                   : itr_caption_encode(v, d->caps.lines[c0 + j], ITR_TOK_NLTK38, &seq[j], &len[j]);
            if (st) st = itr_fail_context(st, "%s: line %lld", d->caps_path, (long long)(c0 + j + 1));
            else if (len[j] > T) T = len[j];
        }
        if (!st) {
            free(pad);
            pad = NULL;
            size_t cells = (size_t)nb * (size_t)T;   /* nb in [1, B], T >= 1 */
            if (cells > ((size_t)1 << 32))
                st = itr_fail(ITR_E_LIMIT, "%s: a (%lld, %lld) caption batch is too large", d->caps_path,
                              (long long)nb, (long long)T);
            else if (!(pad = calloc(cells, sizeof *pad)))
                st = itr_fail(ITR_E_NOMEM, "eval: out of memory for a (%lld, %lld) batch", (long long)nb,
                              (long long)T);
        }
        for (int64_t j = 0; j < nb && !st; j++)
            for (int64_t t = 0; t < len[j]; t++) {
                pad[j * T + t] = seq[j][t];
                if (!p && seq[j][t] == v->unk_id) (*n_unk)++;
            }
        if (!st) st = fam->encode_captions(model, pad, len, nb, T, cap_emb + c0 * E);
        for (int64_t j = 0; j < nb; j++) {
            free(seq[j]);
            seq[j] = NULL;
        }
        progress(o, "captions", c0 + nb, n);
    }
    free(pad);
    free(seq);
    free(len);
    return st;
}

/* One model of the (ensemble) evaluation: its vocabulary, its embeddings and
 * its sims, written (weight 0) or added to the matrix. */
static itr_status run_model(const itr_eval_opts *o, itr_checkpoint *ck, const itr_eval_family *fam,
                            const char *data_name, eval_data *d, int accumulate, double *S, itr_eval_result *r) {
    itr_status st;
    void *model = NULL;
    itr_vocab vocab;
    float *img_emb = NULL, *cap_emb = NULL;
    double *shard = NULL;
    char *vocab_path = NULL;
    int64_t n_img = d->pair.n_images, n_cap = d->pair.n_captions;
    const itr_eval_xattn *x = xattn_of(fam);
    const itr_eval_pooled *p = pooled_of(fam);
    itr_vocab_init(&vocab);
    if ((st = p ? p->load(ck, o, &model) : fam->load(ck, &model))) goto done;
    if (p) {
        /* the family read its own vocabulary / tokenizer (--vocab, --bert-config) */
    } else if (o->vocab) {
        vocab_path = path_join("", o->vocab);
    } else {
        /* upstream: os.path.join(opt.vocab_path, '%s_vocab.pkl' % opt.data_name), from the cwd
         * (SCAN, SGRAF: '%s_vocab.json') */
        const char *vdir = itr_config_str(&ck->opt, "vocab_path", "./vocab/");
        char *name = split_file("", data_name, x ? x->vocab_suffix : "_vocab.pkl");
        vocab_path = name ? path_join(vdir, name) : NULL;
        free(name);
    }
    if (!p && !vocab_path) { st = itr_fail(ITR_E_NOMEM, "eval: out of memory"); goto done; }
    if (!p && (st = itr_vocab_load(vocab_path, &vocab))) {
        st = itr_fail_context(st, "vocabulary %s (opt.vocab_path; --vocab overrides)", vocab_path);
        goto done;
    }
    int64_t B = o->batch_size > 0 ? o->batch_size : itr_config_int(&ck->opt, "batch_size", 128);
    if (B < 1) B = 128;
    if (x && (st = caption_lengths(&vocab, d))) goto done;
    /* floats per image and per caption: (R, D) and (max_len, D) for cross attention */
    int64_t Ei = fam->img_emb_size(model) * (x ? d->regions : 1);
    int64_t Ec = fam->cap_emb_size(model) * (x ? d->max_len : 1);
    if ((x || p) && d->regions == 0) {
        st = itr_fail(ITR_E_SHAPE, "%s: %s scores image regions; expected (rows, regions, img_dim) features, found 2-D",
                      d->ims_path, fam->name);
        goto done;
    }
    img_emb = malloc((size_t)(n_img * Ei) * sizeof *img_emb);
    cap_emb = malloc((size_t)(n_cap * Ec) * sizeof *cap_emb);
    if (!img_emb || !cap_emb) { st = itr_fail(ITR_E_NOMEM, "eval: out of memory for the embeddings"); goto done; }
    if ((st = encode_images(o, fam, model, d, B, img_emb))) goto done;
    r->n_unk = 0;
    if ((st = encode_captions(o, fam, model, &vocab, d, B, cap_emb, &r->n_unk))) goto done;

    /* The matrix in shards of images x all captions; an ensemble model's
     * shard is averaged in (upstream SCAN: sims = (sims1 + sims2) / 2). */
    int64_t rows = o->shard_rows > 0 ? o->shard_rows : 256;
    if (accumulate && !(shard = malloc((size_t)(rows * n_cap) * sizeof *shard))) {
        st = itr_fail(ITR_E_NOMEM, "eval: out of memory for a (%lld, %lld) shard", (long long)rows, (long long)n_cap);
        goto done;
    }
    for (int64_t i0 = 0; i0 < n_img && !st; i0 += rows) {
        int64_t nr = n_img - i0 < rows ? n_img - i0 : rows;
        double *dst = accumulate ? shard : S + i0 * n_cap;
        if (x)   /* cross attention: this shard's regions against every caption's words */
            st = x->sims(model, img_emb + i0 * Ei, nr, d->regions, cap_emb, d->lengths, n_cap, d->max_len, dst);
        else
            st = fam->sims(model, img_emb + i0 * Ei, nr, cap_emb, n_cap, dst);
        if (!st && accumulate)
            for (int64_t k = 0; k < nr * n_cap; k++) S[i0 * n_cap + k] = (S[i0 * n_cap + k] + shard[k]) / 2;
        progress(o, "sims", i0 + nr, n_img);
    }
done:
    if (model) fam->free(model);
    itr_vocab_free(&vocab);
    free(vocab_path);
    free(img_emb);
    free(cap_emb);
    free(shard);
    return st;
}

static itr_status save_sims(const char *path, double *S, int64_t n_img, int64_t n_cap) {
    itr_h5 *f = NULL;
    itr_tensor t = {ITR_F64, 2, {n_img, n_cap}, S, 0};
    itr_status st = itr_h5_create(path, &f);
    if (!st) st = itr_h5_write(f, "/sims", &t);
    if (!st) st = itr_h5_set_attr_str(f, "/", "itr_kind", "sims");
    if (f) itr_h5_close(f);
    return st ? itr_fail_context(st, "--save-sims %s", path) : ITR_OK;
}

itr_status itr_eval_run(const itr_eval_opts *o, itr_eval_result *r) {
    itr_status st;
    itr_checkpoint *ck[2] = {NULL, NULL};
    eval_data d;
    double *S = NULL;
    memset(r, 0, sizeof *r);
    memset(&d, 0, sizeof d);
    if (!o || !o->checkpoint) return itr_fail(ITR_E_ARG, "eval: no checkpoint given");
    const char *paths[2] = {o->checkpoint, o->ensemble};
    int n_models = o->ensemble ? 2 : 1;
    /* Each model of an ensemble has its own family (detected; --model forces
     * the first), encoders and vocabulary; only the data are shared. */
    const itr_eval_family *fam[2] = {NULL, NULL};
    for (int m = 0; m < n_models; m++) {
        if ((st = itr_checkpoint_load(paths[m], &ck[m]))) goto done;
        if (o->model && m == 0) {
            fam[m] = itr_eval_family_find(o->model);
            if (!fam[m]) {
                st = itr_fail(ITR_E_UNSUPPORTED, "eval: unknown model family '%s' (known: vsepp, scan, sgraf, vseinf)",
                              o->model);
                goto done;
            }
        } else if ((st = itr_eval_family_detect(ck[m], &fam[m]))) {
            goto done;
        }
    }
    if (n_models == 2 && fam[1] != fam[0])
        snprintf(r->family, sizeof r->family, "%s+%s", fam[0]->name, fam[1]->name);
    else
        snprintf(r->family, sizeof r->family, "%s", fam[0]->name);
    const char *data_name = itr_config_str(&ck[0]->opt, "data_name", NULL);
    if (!data_name) { st = itr_fail(ITR_E_KEY, "%s: opt has no data_name", ck[0]->path); goto done; }
    snprintf(r->data_name, sizeof r->data_name, "%s", data_name);
    const char *data_path = o->data ? o->data : itr_config_str(&ck[0]->opt, "data_path", "./data/");
    /* VSE-inf: data_path is the data set folder itself, files in precomp/ */
    const itr_eval_pooled *p0 = pooled_of(fam[0]);
    if ((st = data_open(data_path, p0 ? p0->data_subdir : data_name, o->split ? o->split : "test",
                        p0 ? p0->caps_flags : 0, &d, r)))
        goto done;

    int64_t n_img = d.pair.n_images, n_cap = d.pair.n_captions;
    if (!(S = malloc((size_t)(n_img * n_cap) * sizeof *S))) {
        st = itr_fail(ITR_E_NOMEM, "eval: out of memory for the (%lld, %lld) float64 matrix", (long long)n_img,
                      (long long)n_cap);
        goto done;
    }
    for (int m = 0; m < n_models && !st; m++) st = run_model(o, ck[m], fam[m], data_name, &d, m > 0, S, r);
    if (st) goto done;

    if (o->fold5) {
        /* COCO 1K: 5 contiguous folds of n_img / 5 images (s3.8) */
        r->folds = 5;
        st = itr_eval_folds(S, n_img, n_cap, n_cap, 5, 5, ITR_TIES_CANONICAL, r->fold_metrics, &r->metrics);
    } else {
        itr_ranks ranks;
        r->folds = 1;
        st = itr_rank_matrix(S, n_img, n_cap, n_cap, 5, ITR_TIES_CANONICAL, &ranks);
        if (!st) itr_metrics_from_ranks(&ranks, &r->metrics);
        itr_ranks_free(&ranks);
    }
    if (!st && o->save_sims) st = save_sims(o->save_sims, S, n_img, n_cap);
done:
    free(S);
    data_close(&d);
    for (int m = 0; m < 2; m++)
        if (ck[m]) itr_checkpoint_free(ck[m]);
    return st;
}
