/* eval.c - the `itr eval` engine (itr/eval.h): precomp data set ->
 * family encoders (reference, or the CUDA twin of eval_accel.c) -> float64
 * scores in shards -> metrics, streamed or through the whole matrix
 * (eval_score.c).
 * Spec: specs/vsepp_vseinfty.md s3, scan_sgraf.md s9.1, formats.md s3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_families.h"
#include "eval_score.h"
#include "itr/cuda/retrieval.h"
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

/* One model of the (ensemble) evaluation: its family hooks, the loaded
 * reference model, its CUDA twin (--backend cuda) and its embeddings. */
typedef struct eval_model {
    const itr_eval_family *fam;
    const itr_eval_xattn *x;    /* cross attention, or NULL   */
    const itr_eval_pooled *p;   /* set pooling, or NULL       */
    const itr_eval_accel *accel; /* NULL: reference backend   */
    void *model, *dev;
    float *img_emb, *cap_emb;
    int64_t Ei, Ec;             /* floats per image / caption embedding */
} eval_model;

/* Image embeddings of the evaluated images, img_dim rows read batch by batch. */
static itr_status encode_images(const itr_eval_opts *o, eval_model *m, eval_data *d, int64_t B) {
    const itr_eval_family *fam = m->fam;
    const itr_npy_header *h = itr_npy_header_of(d->ims);
    int64_t n = d->pair.n_images, R = m->x || m->p ? d->regions : 1;
    int64_t D = fam->img_dim(m->model) * R;   /* floats per row */
    if (!m->x && !m->p && d->regions != 0)
        return itr_fail(ITR_E_SHAPE, "%s: %s takes one vector per image; expected (rows, img_dim), found 3-D",
                        d->ims_path, fam->name);
    if (h->shape[h->ndim - 1] != fam->img_dim(m->model))
        return itr_fail(ITR_E_SHAPE, "%s: image rows have %lld features, the checkpoint expects img_dim %lld",
                        d->ims_path, (long long)h->shape[h->ndim - 1], (long long)fam->img_dim(m->model));
    size_t bytes = (size_t)(B * D) * sizeof(float);
    float *buf = malloc(bytes);
    if (!buf) return itr_fail(ITR_E_NOMEM, "eval: out of memory for %lld image rows", (long long)B);
    itr_status st = ITR_OK;
    for (int64_t i0 = 0; i0 < n && !st; i0 += B) {
        int64_t nb = n - i0 < B ? n - i0 : B;
        float *out = m->img_emb + i0 * m->Ei;
        if (d->pair.im_div == 5) {   /* one row per image: a contiguous block */
            st = itr_npy_read_rows_into(d->ims, i0, nb, ITR_F32, buf, bytes);
        } else {                     /* one row per caption: rows 0, 5, 10, ... */
            for (int64_t j = 0; j < nb && !st; j++)
                st = itr_npy_read_rows_into(d->ims, itr_precomp_image_row(&d->pair, i0 + j), 1, ITR_F32,
                                            buf + j * D, (size_t)D * sizeof(float));
        }
        if (st) break;
        if (m->accel) st = m->accel->encode_images(m->dev, buf, nb, R, out);
        else if (m->x) st = m->x->encode_images(m->model, buf, nb, R, out);
        else if (m->p) st = m->p->encode_images(m->model, buf, nb, R, out);
        else st = fam->encode_images(m->model, buf, nb, out);
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
static itr_status encode_captions(const itr_eval_opts *o, eval_model *m, const itr_vocab *v, eval_data *d,
                                  int64_t B, int64_t *n_unk) {
    const itr_eval_xattn *x = m->x;
    const itr_eval_pooled *p = m->p;
    const void *model = m->model;
    int64_t n = d->pair.n_captions;
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
        float *out = m->cap_emb + c0 * m->Ec;
        if (!st) st = m->accel ? m->accel->encode_captions(m->dev, pad, len, nb, T, out)
                               : m->fam->encode_captions(model, pad, len, nb, T, out);
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

static void model_close(eval_model *m) {
    if (m->dev) m->accel->free(m->dev);
    if (m->model) m->fam->free(m->model);
    free(m->img_emb);
    free(m->cap_emb);
    memset(m, 0, sizeof *m);
}

/* Loads one model of the (ensemble) evaluation - the reference model, then
 * its CUDA twin when m->accel is set - reads its vocabulary and encodes
 * every image and caption. On failure the caller still calls model_close. */
static itr_status model_open(const itr_eval_opts *o, itr_checkpoint *ck, const char *data_name, eval_data *d,
                             eval_model *m, itr_eval_result *r) {
    itr_status st;
    itr_vocab vocab;
    char *vocab_path = NULL;
    const itr_eval_family *fam = m->fam;
    int64_t n_img = d->pair.n_images, n_cap = d->pair.n_captions;
    itr_vocab_init(&vocab);
    if ((st = m->p ? m->p->load(ck, o, &m->model) : fam->load(ck, &m->model))) goto done;
    if (m->accel && (st = m->accel->load(m->model, &m->dev))) {
        st = itr_fail_context(st, "--backend cuda: uploading %s", fam->name);
        goto done;
    }
    if (m->p) {
        /* the family read its own vocabulary / tokenizer (--vocab, --bert-config) */
    } else if (o->vocab) {
        vocab_path = path_join("", o->vocab);
    } else {
        /* upstream: os.path.join(opt.vocab_path, '%s_vocab.pkl' % opt.data_name), from the cwd
         * (SCAN, SGRAF: '%s_vocab.json') */
        const char *vdir = itr_config_str(&ck->opt, "vocab_path", "./vocab/");
        char *name = split_file("", data_name, m->x ? m->x->vocab_suffix : "_vocab.pkl");
        vocab_path = name ? path_join(vdir, name) : NULL;
        free(name);
    }
    if (!m->p && !vocab_path) { st = itr_fail(ITR_E_NOMEM, "eval: out of memory"); goto done; }
    if (!m->p && (st = itr_vocab_load(vocab_path, &vocab))) {
        st = itr_fail_context(st, "vocabulary %s (opt.vocab_path; --vocab overrides)", vocab_path);
        goto done;
    }
    int64_t B = o->batch_size > 0 ? o->batch_size : itr_config_int(&ck->opt, "batch_size", 128);
    if (B < 1) B = 128;
    if (m->x && (st = caption_lengths(&vocab, d))) goto done;
    /* floats per image and per caption: (R, D) and (max_len, D) for cross attention */
    m->Ei = fam->img_emb_size(m->model) * (m->x ? d->regions : 1);
    m->Ec = fam->cap_emb_size(m->model) * (m->x ? d->max_len : 1);
    if ((m->x || m->p) && d->regions == 0) {
        st = itr_fail(ITR_E_SHAPE, "%s: %s scores image regions; expected (rows, regions, img_dim) features, found 2-D",
                      d->ims_path, fam->name);
        goto done;
    }
    m->img_emb = malloc((size_t)(n_img * m->Ei) * sizeof *m->img_emb);
    m->cap_emb = malloc((size_t)(n_cap * m->Ec) * sizeof *m->cap_emb);
    if (!m->img_emb || !m->cap_emb) { st = itr_fail(ITR_E_NOMEM, "eval: out of memory for the embeddings"); goto done; }
    if ((st = encode_images(o, m, d, B))) goto done;
    r->n_unk = 0;
    st = encode_captions(o, m, &vocab, d, B, &r->n_unk);
done:
    itr_vocab_free(&vocab);
    free(vocab_path);
    return st;
}

/* sims[i0.., c0..] (rows, cols) of one model: this block's image embeddings
 * against these captions (cross attention: regions against words). */
static itr_status model_block(const eval_model *m, const eval_data *d, int64_t i0, int64_t rows, int64_t c0,
                              int64_t cols, double *out) {
    const float *img = m->img_emb + i0 * m->Ei, *cap = m->cap_emb + c0 * m->Ec;
    if (m->accel)
        return m->x ? m->accel->sims(m->dev, img, rows, d->regions, cap, d->lengths + c0, cols, d->max_len, out)
                    : m->accel->sims(m->dev, img, rows, 1, cap, NULL, cols, 1, out);
    if (m->x) return m->x->sims(m->model, img, rows, d->regions, cap, d->lengths + c0, cols, d->max_len, out);
    return m->fam->sims(m->model, img, rows, cap, cols, out);
}

/* The block scorer of eval_score.h: one model, or the ensemble average
 * (upstream SCAN / SGRAF: sims = (sims1 + sims2) / 2, per cell). */
typedef struct eval_scorer {
    const eval_data *d;
    const eval_model *m;
    int n_models;
    double *tmp;                /* (shard, n_cap) second model's block */
} eval_scorer;

static itr_status score_block(void *user, int64_t i0, int64_t rows, int64_t c0, int64_t cols, double *out) {
    const eval_scorer *sc = user;
    itr_status st = model_block(&sc->m[0], sc->d, i0, rows, c0, cols, out);
    if (!st && sc->n_models == 2) {
        st = model_block(&sc->m[1], sc->d, i0, rows, c0, cols, sc->tmp);
        for (int64_t k = 0; !st && k < rows * cols; k++) out[k] = (out[k] + sc->tmp[k]) / 2;
    }
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

/* --backend cuda, one model whose scores are the float64 dot of its
 * embeddings (VSE++ cosine, VSE-inf): scores and ranks stay on the device
 * (itr/cuda/retrieval.h: shard GEMMs + rank counts, the canonical tie rule),
 * so nothing of (n_img, n_cap) size reaches the host. It scores the matrix
 * twice (image-to-text ranks, then text-to-image). */
static int device_ranking(const itr_eval_opts *o, const eval_model *m, int n_models) {
    return !o->save_sims && n_models == 1 && m[0].accel && m[0].accel->dot_scores && m[0].Ei == m[0].Ec &&
           m[0].accel->dot_scores(m[0].dev);
}

static itr_status score_on_device(const itr_eval_opts *o, const eval_data *d, const eval_model *m,
                                  itr_eval_result *r) {
    int64_t n_img = d->pair.n_images, n_cap = d->pair.n_captions;
    itr_cuda_retrieval *cr = NULL;
    itr_status st = itr_cuda_retrieval_create(m->img_emb, n_img, m->cap_emb, n_cap, m->Ei, 5, &cr);
    if (!st && o->shard_rows > 0) st = itr_cuda_retrieval_set_shard_rows(cr, o->shard_rows);
    /* per-fold metrics only for COCO folds, as the host paths report them */
    if (!st)
        st = itr_cuda_retrieval_metrics(cr, r->folds, ITR_TIES_CANONICAL, r->folds > 1 ? r->fold_metrics : NULL,
                                        &r->metrics);
    itr_cuda_retrieval_destroy(cr);
    if (st) return itr_fail_context(st, "eval --backend cuda: device ranking");
    r->streamed = 1;
    r->sims_passes = 2;
    return ITR_OK;
}

/* Metrics of the models' scores (eval_score.c): streamed shard by shard,
 * or through the whole matrix when it is to be saved or when a model scores
 * by cross attention. SGRAF batches the images and captions of a block
 * through shared GEMMs, so a pair's score depends on its block and the
 * ground-truth cells cannot be scored ahead: streaming it takes a second
 * scoring pass, which costs more than the matrix's memory (docs/eval.md). */
static itr_status score(const itr_eval_opts *o, const eval_data *d, const eval_model *m, int n_models,
                        itr_eval_result *r) {
    int64_t n_img = d->pair.n_images, n_cap = d->pair.n_captions;
    int64_t rows = o->shard_rows > 0 ? o->shard_rows : 256;
    if (rows > n_img) rows = n_img;
    eval_scorer sc = {d, m, n_models, NULL};
    itr_eval_scoring s = {n_img, n_cap, 5, rows, o->fold5 ? 5 : 1, score_block, &sc, o->progress, o->progress_user};
    double *S = NULL;
    itr_status st = ITR_OK;
    if (n_models == 2 && !(sc.tmp = malloc((size_t)(rows * n_cap) * sizeof *sc.tmp)))
        return itr_fail(ITR_E_NOMEM, "eval: out of memory for a (%lld, %lld) shard", (long long)rows, (long long)n_cap);
    r->folds = s.folds;
    if (device_ranking(o, m, n_models)) {
        free(sc.tmp);
        return score_on_device(o, d, m, r);
    }
    int stream = !o->save_sims;
    for (int k = 0; k < n_models; k++)
        if (m[k].x) stream = 0;
    if (stream) {
        r->streamed = 1;
        st = itr_eval_score_stream(&s, r->fold_metrics, &r->metrics, &r->sims_passes);
    } else if (!(S = malloc((size_t)(n_img * n_cap) * sizeof *S))) {
        st = itr_fail(ITR_E_NOMEM, "eval: out of memory for the (%lld, %lld) float64 matrix", (long long)n_img,
                      (long long)n_cap);
    } else {
        r->sims_passes = 1;
        st = itr_eval_score_full(&s, S);
        if (!st) st = itr_eval_score_metrics(S, n_img, n_cap, 5, s.folds, r->fold_metrics, &r->metrics);
        if (!st && o->save_sims) st = save_sims(o->save_sims, S, n_img, n_cap);
    }
    free(S);
    free(sc.tmp);
    return st;
}

/* The family of model m (--model forces the first) and, for --backend
 * cuda, its accel; fails before anything is loaded when there is none. */
static itr_status pick_family(const itr_eval_opts *o, itr_checkpoint *ck, int m, eval_model *em) {
    itr_status st;
    if (o->model && m == 0) {
        em->fam = itr_eval_family_find(o->model);
        if (!em->fam)
            return itr_fail(ITR_E_UNSUPPORTED, "eval: unknown model family '%s' (known: vsepp, scan, sgraf, vseinf)",
                            o->model);
    } else if ((st = itr_eval_family_detect(ck, &em->fam))) {
        return st;
    }
    em->x = xattn_of(em->fam);
    em->p = pooled_of(em->fam);
    if (o->backend == 0) return ITR_OK;
    if (o->backend != 1) return itr_fail(ITR_E_ARG, "eval: unknown backend %d (0 ref, 1 cuda)", o->backend);
    em->accel = itr_eval_accel_of(em->fam);
    if (!em->accel) {
        const char *have = itr_eval_accel_names();
        return itr_fail(ITR_E_UNSUPPORTED, "eval --backend cuda: this build has no CUDA implementation of %s (%s%s); "
                        "use --backend ref", em->fam->name, *have ? "CUDA eval families: " : "none built",
                        have);
    }
    return ITR_OK;
}

itr_status itr_eval_run(const itr_eval_opts *o, itr_eval_result *r) {
    itr_status st;
    itr_checkpoint *ck[2] = {NULL, NULL};
    eval_model m[2];
    eval_data d;
    memset(r, 0, sizeof *r);
    memset(&d, 0, sizeof d);
    memset(m, 0, sizeof m);
    if (!o || !o->checkpoint) return itr_fail(ITR_E_ARG, "eval: no checkpoint given");
    const char *paths[2] = {o->checkpoint, o->ensemble};
    int n_models = o->ensemble ? 2 : 1;
    /* Each model of an ensemble has its own family (detected; --model forces
     * the first), encoders and vocabulary; only the data are shared. */
    for (int k = 0; k < n_models; k++) {
        if ((st = itr_checkpoint_load(paths[k], &ck[k]))) goto done;
        if ((st = pick_family(o, ck[k], k, &m[k]))) goto done;
    }
    if (n_models == 2 && m[1].fam != m[0].fam)
        snprintf(r->family, sizeof r->family, "%s+%s", m[0].fam->name, m[1].fam->name);
    else
        snprintf(r->family, sizeof r->family, "%s", m[0].fam->name);
    const char *data_name = itr_config_str(&ck[0]->opt, "data_name", NULL);
    if (!data_name) { st = itr_fail(ITR_E_KEY, "%s: opt has no data_name", ck[0]->path); goto done; }
    snprintf(r->data_name, sizeof r->data_name, "%s", data_name);
    const char *data_path = o->data ? o->data : itr_config_str(&ck[0]->opt, "data_path", "./data/");
    /* VSE-inf: data_path is the data set folder itself, files in precomp/ */
    const itr_eval_pooled *p0 = m[0].p;
    if ((st = data_open(data_path, p0 ? p0->data_subdir : data_name, o->split ? o->split : "test",
                        p0 ? p0->caps_flags : 0, &d, r)))
        goto done;
    for (int k = 0; k < n_models && !st; k++) st = model_open(o, ck[k], data_name, &d, &m[k], r);
    if (!st) st = score(o, &d, m, n_models, r);
done:
    for (int k = 0; k < 2; k++) model_close(&m[k]);
    data_close(&d);
    for (int k = 0; k < 2; k++)
        if (ck[k]) itr_checkpoint_free(ck[k]);
    return st;
}
