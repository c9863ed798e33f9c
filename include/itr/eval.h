/* itr/eval.h - the `itr eval` engine: a released checkpoint and its precomp
 * data set -> encoders -> similarity matrix (built in shards) -> metrics.
 * Spec: specs/vsepp_vseinfty.md s3 (evaluation protocol), scan_sgraf.md s9.1
 * (precomp data layout and pairing), formats.md s3 (vocabularies, captions).
 *
 * What it reproduces (upstream evaluation.evalrank):
 *   data      DATA/<opt.data_name>/{split}_ims.npy and {split}_caps.txt
 *   vocab     <opt.vocab_path>/<opt.data_name>_vocab.pkl relative to the cwd
 *             (or an explicit file)
 *   captions  bytes.strip(), ASCII-lowercased, word_tokenize,
 *             [<start>] ids [<end>]
 *   pairing   image i <-> captions 5i..5i+4, features from row 5i / im_div
 *   scores    float64 (n_img, n_cap); an ensemble averages the two matrices
 *   metrics   itr/metrics.h (canonical ties), COCO 5-fold via itr_eval_folds
 *
 * Scores are computed in shards of shard_rows images x all captions. Without
 * save_sims each shard goes straight to the block-fed ranker and is dropped
 * (memory O(shard_rows x n_cap), the matrix is never held); with save_sims
 * the whole matrix is built, saved and ranked. Both give identical metrics
 * (docs/eval.md, "Streaming"). backend 1 runs the encoders and the scores
 * through the family's CUDA twin (conformance/eval_accel.c).
 *
 * Families plug in through a table of itr_eval_family (conformance/eval_*.c):
 * load a model from a checkpoint, encode image rows and captions in batches,
 * score a block of images against all captions: VSE++, SCAN and SGRAF (the
 * cross-attention ones keep region and word embeddings and score through the
 * private itr_eval_xattn hooks of conformance/eval_families.h), and
 * VSE-infinity (set pooling over all regions / tokens, its own data folder
 * <data>/precomp/ and tokenizers: the itr_eval_pooled hooks).
 * Library code: nothing prints; progress goes through a callback. */
#ifndef ITR_EVAL_H
#define ITR_EVAL_H

#include <stdint.h>
#include "itr/checkpoint.h"
#include "itr/metrics.h"
#include "itr/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- family table -------------------------------------------------------- */
typedef struct itr_eval_family {
    const char *name;                   /* "vsepp"                                */
    /* Builds a model from a loaded checkpoint (which outlives it). */
    itr_status (*load)(itr_checkpoint *ck, void **model);
    void (*free)(void *model);
    int64_t (*img_dim)(const void *model);      /* floats per image row        */
    int64_t (*img_emb_size)(const void *model); /* floats per image embedding  */
    int64_t (*cap_emb_size)(const void *model); /* floats per caption embedding */
    /* rows (n, img_dim) -> img_emb (n, img_emb_size) */
    itr_status (*encode_images)(const void *model, const float *rows, int64_t n, float *img_emb);
    /* padded ids (n, T) + lengths (n) -> cap_emb (n, cap_emb_size) */
    itr_status (*encode_captions)(const void *model, const int64_t *ids, const int64_t *lengths, int64_t n,
                                  int64_t T, float *cap_emb);
    /* sims (n_img, n_cap) row-major, float64 */
    itr_status (*sims)(const void *model, const float *img_emb, int64_t n_img, const float *cap_emb,
                       int64_t n_cap, double *sims);
} itr_eval_family;

/* The family called `name`, or NULL. */
const itr_eval_family *itr_eval_family_find(const char *name);
/* The family a checkpoint belongs to (from its opt / weight keys), or NULL
 * with ITR_E_UNSUPPORTED. */
itr_status itr_eval_family_detect(itr_checkpoint *ck, const itr_eval_family **out);

/* ---- one evaluation ------------------------------------------------------ */
typedef void (*itr_eval_progress_fn)(void *user, const char *stage, int64_t done, int64_t total);

typedef struct itr_eval_opts {
    const char *checkpoint;     /* required                                   */
    const char *ensemble;       /* second checkpoint or NULL: sims averaged   */
    const char *data;           /* data_path holding <data_name>/; NULL: opt.data_path */
    const char *split;          /* "test", "testall", "dev" ... (NULL: test)  */
    const char *vocab;          /* vocabulary file or NULL (see above)        */
    const char *model;          /* family name or NULL (detected)             */
    const char *bert_config;    /* VSE-inf BERT: HF config.json (heads, eps) or NULL */
    const char *save_sims;      /* write /sims (float64) to this .h5, or NULL */
    int fold5;                  /* COCO 1K: 5 folds, metrics averaged         */
    int64_t batch_size;         /* 0: opt.batch_size (default 128)            */
    int64_t shard_rows;         /* images per sims shard; 0: 256              */
    int backend;                /* 0 reference, 1 CUDA (ITR_E_UNSUPPORTED when
                                 * the build has no CUDA twin of the family)  */
    itr_eval_progress_fn progress;  /* may be NULL */
    void *progress_user;
} itr_eval_opts;

void itr_eval_opts_default(itr_eval_opts *o);

typedef struct itr_eval_result {
    char family[32];
    char data_name[128];
    int64_t n_rows;             /* rows in {split}_ims.npy                    */
    int64_t n_lines;            /* lines in {split}_caps.txt                  */
    int64_t n_images, n_captions, im_div;
    int64_t n_unk;              /* caption tokens that mapped to <unk>        */
    int folds;                  /* 1 or 5                                     */
    int streamed;               /* 1: ranked shard by shard (no save_sims)    */
    int sims_passes;            /* times the matrix was scored: 1, or 2 when a
                                 * scorer's GT cells depended on the block
                                 * shape (eval_score.c)                       */
    itr_metrics metrics;        /* whole matrix, or the fold mean             */
    itr_metrics fold_metrics[5];
} itr_eval_result;

itr_status itr_eval_run(const itr_eval_opts *o, itr_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif
