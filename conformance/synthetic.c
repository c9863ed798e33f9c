/* synthetic.c - deterministic synthetic precomp data sets (itr/synthetic.h)
 * in the SCAN layout of scan_sgraf.md s9.1, with a SCAN-style JSON
 * vocabulary (formats.md s3.1), shaped for a checkpoint's image fc and
 * word embedding. */
#define _POSIX_C_SOURCE 200809L /* mkdir: creating the output folders is essential here */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "itr/eval.h"
#include "itr/npy.h"
#include "itr/synthetic.h"

#define SYNTH_CAPS_PER_IMG 5   /* the evaluation protocol's k */
#define SYNTH_TOPIC_WORDS 3    /* words every caption of one image leans on */
#define SYNTH_N_SPECIALS 4     /* <pad> <start> <end> <unk> */

void itr_synth_opts_default(itr_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_img = 10;
    o->seed = 1;
    o->split = "test";
    o->min_words = 4;
    o->max_words = 9;
}

/* ---- a private, portable generator (splitmix64) ------------------------- */
typedef struct synth_rng {
    uint64_t s;
} synth_rng;

static uint64_t rng_next(synth_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 24 bits: exact in float32 */
static float rng_unit(synth_rng *r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }

/* uniform in [0, n), n >= 1 (modulo bias is irrelevant here) */
static int64_t rng_below(synth_rng *r, int64_t n) { return (int64_t)(rng_next(r) % (uint64_t)n); }

/* ---- small helpers ------------------------------------------------------ */
static char *join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    int sep = na > 0 && a[na - 1] != '/';
    char *s = malloc(na + (size_t)sep + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    if (sep) s[na] = '/';
    memcpy(s + na + (size_t)sep, b, nb + 1);
    return s;
}

static itr_status make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return ITR_OK;
    return itr_fail(ITR_E_IO, "%s: cannot create folder: %s", path, strerror(errno));
}

/* Synthetic word k (k >= 0): "w" followed by k in base 26 letters, "wa",
 * "wb", ..., "wz", "wba", ...: lowercase ASCII, one nltk token each. */
static void word_name(int64_t k, char *buf, size_t cap) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('a' + k % 26);
        k /= 26;
    } while (k > 0 && n < (int)sizeof tmp);
    size_t j = 0;
    buf[j++] = 'w';
    while (n > 0 && j + 1 < cap) buf[j++] = tmp[--n];
    buf[j] = '\0';
}

static const char *const SPECIALS[SYNTH_N_SPECIALS] = {"<pad>", "<start>", "<end>", "<unk>"};

/* {"idx2word": {"0": "<pad>", ...}, "word2idx": {"<pad>": 0, ...}, "idx": V},
 * the shape of SGRAF's f30k_precomp_vocab.json. */
static itr_status write_vocab(const char *path, int64_t V) {
    FILE *f = fopen(path, "wb");
    char w[32];
    if (!f) return itr_fail(ITR_E_IO, "%s: cannot write the vocabulary: %s", path, strerror(errno));
    for (int part = 0; part < 2; part++) {
        fputs(part == 0 ? "{\"idx2word\": {" : "}, \"word2idx\": {", f);
        for (int64_t id = 0; id < V; id++) {
            if (id < SYNTH_N_SPECIALS) snprintf(w, sizeof w, "%s", SPECIALS[id]);
            else word_name(id - SYNTH_N_SPECIALS, w, sizeof w);
            if (part == 0) fprintf(f, "%s\"%lld\": \"%s\"", id ? ", " : "", (long long)id, w);
            else fprintf(f, "%s\"%s\": %lld", id ? ", " : "", w, (long long)id);
        }
    }
    fprintf(f, "}, \"idx\": %lld}", (long long)V);
    if (fclose(f) != 0) return itr_fail(ITR_E_IO, "%s: write failed", path);
    return ITR_OK;
}

/* Five captions per image. Every word is, with probability 0.6, one of the
 * image's SYNTH_TOPIC_WORDS topic words, else any synthetic word; one caption
 * in eight ends with "unseen", a word outside the vocabulary (-> <unk>). */
static itr_status write_captions(const char *path, const itr_synth_opts *o, int64_t V, synth_rng *rng) {
    FILE *f = fopen(path, "wb");
    int64_t n_syn = V - SYNTH_N_SPECIALS, topic[SYNTH_TOPIC_WORDS];
    char w[32];
    if (!f) return itr_fail(ITR_E_IO, "%s: cannot write the captions: %s", path, strerror(errno));
    for (int64_t i = 0; i < o->n_img; i++) {
        for (int t = 0; t < SYNTH_TOPIC_WORDS; t++) topic[t] = rng_below(rng, n_syn);
        for (int c = 0; c < SYNTH_CAPS_PER_IMG; c++) {
            int64_t len = o->min_words + rng_below(rng, o->max_words - o->min_words + 1);
            for (int64_t k = 0; k < len; k++) {
                int64_t id = rng_unit(rng) < 0.6f ? topic[rng_below(rng, SYNTH_TOPIC_WORDS)] : rng_below(rng, n_syn);
                word_name(id, w, sizeof w);
                fprintf(f, "%s%s", k ? " " : "", w);
            }
            if (rng_below(rng, 8) == 0) fputs(" unseen", f);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) return itr_fail(ITR_E_IO, "%s: write failed", path);
    return ITR_OK;
}

/* Image features: a per-image base vector in [0, 1) plus per-region noise,
 * clamped at 0 like post-ReLU bottom-up features; rows repeated 5 times in
 * the one-row-per-caption layout. */
static itr_status write_images(const char *path, const itr_synth_opts *o, const itr_synth_info *in,
                               synth_rng *rng) {
    int64_t R = in->regions ? in->regions : 1, D = in->img_dim, rep = in->n_rows / o->n_img;
    int64_t shape[3] = {in->n_rows, R, D};
    if (!in->regions) shape[1] = D;
    itr_tensor t;
    itr_status st = itr_tensor_alloc(&t, ITR_F32, in->regions ? 3 : 2, shape);
    if (st) return itr_fail_context(st, "%s: (%lld, %lld, %lld) features", path, (long long)in->n_rows,
                                    (long long)R, (long long)D);
    float *base = malloc((size_t)D * sizeof *base);
    if (!base) {
        itr_tensor_free(&t);
        return itr_fail(ITR_E_NOMEM, "%s: out of memory", path);
    }
    float *x = itr_f32(&t);
    for (int64_t i = 0; i < o->n_img; i++) {
        for (int64_t d = 0; d < D; d++) base[d] = rng_unit(rng);
        float *row = x + i * rep * R * D;
        for (int64_t r = 0; r < R; r++)
            for (int64_t d = 0; d < D; d++) {
                float v = base[d] + 0.5f * (rng_unit(rng) - 0.5f);
                row[r * D + d] = v > 0 ? v : 0;
            }
        for (int64_t k = 1; k < rep; k++) memcpy(row + k * R * D, row, (size_t)(R * D) * sizeof *row);
    }
    free(base);
    st = itr_npy_save(path, &t);
    itr_tensor_free(&t);
    return st;
}

/* embed.weight rows of the text encoder (any state dict that has one). */
static itr_status vocab_size_of(const itr_checkpoint *ck, int64_t *V) {
    for (size_t i = 0; i < ck->weights.n; i++) {
        const itr_weight_entry *e = &ck->weights.entries[i];
        if (strcmp(e->key, "embed.weight") == 0 && e->t.ndim == 2) {
            *V = e->t.shape[0];
            if (*V < SYNTH_N_SPECIALS + 1)
                return itr_fail(ITR_E_SHAPE, "%s: %s/embed.weight has %lld rows; need at least 5 (4 specials + 1 word)",
                                ck->path, e->group, (long long)*V);
            return ITR_OK;
        }
    }
    return itr_fail(ITR_E_KEY, "%s: no 2-D embed.weight in any state dict: cannot size the vocabulary", ck->path);
}

/* Family, data_name, feature and vocabulary sizes of the checkpoint. */
static itr_status shape_for(itr_checkpoint *ck, const itr_synth_opts *o, itr_synth_info *in) {
    const itr_eval_family *fam = NULL;
    itr_status st;
    void *model = NULL;
    if (o->family) {
        if (!(fam = itr_eval_family_find(o->family)))
            return itr_fail(ITR_E_ARG, "synthetic: unknown model family '%s'", o->family);
    } else if ((st = itr_eval_family_detect(ck, &fam))) {
        return st;
    }
    const char *dn = itr_config_str(&ck->opt, "data_name", NULL);
    if (!dn) return itr_fail(ITR_E_KEY, "%s: opt has no data_name", ck->path);
    if (strlen(dn) >= sizeof in->data_name || strchr(dn, '/'))
        return itr_fail(ITR_E_ARG, "%s: opt.data_name '%s' is not a plain folder name", ck->path, dn);
    snprintf(in->family, sizeof in->family, "%s", fam->name);
    snprintf(in->data_name, sizeof in->data_name, "%s", dn);
    if ((st = fam->load(ck, &model))) return itr_fail_context(st, "synthetic: building the %s model", fam->name);
    in->img_dim = fam->img_dim(model);
    fam->free(model);
    /* VSE++ encodes one vector per image; SCAN / SGRAF attend over regions */
    int per_item = strcmp(fam->name, "vsepp") == 0;
    if (per_item && o->regions != 0)
        return itr_fail(ITR_E_ARG, "synthetic: %s takes one feature vector per image; --regions %lld does not apply",
                        fam->name, (long long)o->regions);
    in->regions = per_item ? 0 : (o->regions ? o->regions : 36);
    return vocab_size_of(ck, &in->vocab_size);
}

static itr_status check_opts(const itr_synth_opts *o, const char *out_dir) {
    if (!o || !out_dir || !out_dir[0]) return itr_fail(ITR_E_ARG, "synthetic: no options or output folder");
    if (o->n_img < 1 || o->n_img > 1000000)
        return itr_fail(ITR_E_ARG, "synthetic: n_img %lld is outside [1, 1000000]", (long long)o->n_img);
    if (o->min_words < 1 || o->max_words < o->min_words || o->max_words > 1000)
        return itr_fail(ITR_E_ARG, "synthetic: caption length range [%lld, %lld] is not within [1, 1000]",
                        (long long)o->min_words, (long long)o->max_words);
    if (o->regions < 0 || o->regions > 1000)
        return itr_fail(ITR_E_ARG, "synthetic: regions %lld is outside [0, 1000]", (long long)o->regions);
    if (!o->split || !o->split[0] || strchr(o->split, '/'))
        return itr_fail(ITR_E_ARG, "synthetic: split '%s' is not a plain name", o->split ? o->split : "(null)");
    return ITR_OK;
}

itr_status itr_synth_write(itr_checkpoint *ck, const itr_synth_opts *o, const char *out_dir,
                           itr_synth_info *info) {
    itr_synth_info in;
    itr_status st;
    memset(&in, 0, sizeof in);
    if (info) memset(info, 0, sizeof *info);
    if (!ck) return itr_fail(ITR_E_ARG, "synthetic: no checkpoint");
    if ((st = check_opts(o, out_dir)) || (st = shape_for(ck, o, &in))) return st;
    in.n_lines = o->n_img * SYNTH_CAPS_PER_IMG;
    in.n_rows = o->one_row_per_caption ? in.n_lines : o->n_img;

    char *data_dir = join(out_dir, in.data_name), *vocab_dir = join(out_dir, "vocab");
    size_t ns = strlen(o->split) + 16, nv = strlen(in.data_name) + 16;
    char *ims_name = malloc(ns), *caps_name = malloc(ns), *vocab_name = malloc(nv);
    char *ims = NULL, *caps = NULL, *vocab = NULL;
    if (ims_name && caps_name && vocab_name) {
        snprintf(ims_name, ns, "%s_ims.npy", o->split);
        snprintf(caps_name, ns, "%s_caps.txt", o->split);
        snprintf(vocab_name, nv, "%s_vocab.json", in.data_name);
    }
    if (data_dir && vocab_dir && ims_name && caps_name && vocab_name) {
        ims = join(data_dir, ims_name);
        caps = join(data_dir, caps_name);
        vocab = join(vocab_dir, vocab_name);
    }
    if (!ims || !caps || !vocab) st = itr_fail(ITR_E_NOMEM, "synthetic: out of memory");

    /* one stream, consumed in a fixed order: captions, then features */
    synth_rng rng = {o->seed};
    if (!st) st = make_dir(out_dir);
    if (!st) st = make_dir(data_dir);
    if (!st) st = make_dir(vocab_dir);
    if (!st) st = write_vocab(vocab, in.vocab_size);
    if (!st) st = write_captions(caps, o, in.vocab_size, &rng);
    if (!st) st = write_images(ims, o, &in, &rng);
    if (!st && info) *info = in;
    free(data_dir);
    free(vocab_dir);
    free(ims_name);
    free(caps_name);
    free(vocab_name);
    free(ims);
    free(caps);
    free(vocab);
    return st;
}
