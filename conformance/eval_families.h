/* eval_families.h - private: the family adapters of the eval engine
 * (conformance/eval_<family>.c), listed in conformance/eval.c. */
#ifndef ITR_EVAL_FAMILIES_H
#define ITR_EVAL_FAMILIES_H

#include "itr/eval.h"

extern const itr_eval_family itr_eval_family_vsepp;
/* 1 when the checkpoint's weights and opt look like a VSE++ model. */
int itr_eval_is_vsepp(const itr_checkpoint *ck);

extern const itr_eval_family itr_eval_family_scan;
extern const itr_eval_family itr_eval_family_sgraf;
/* 1 for SCAN: VSE++'s two state dicts plus opt.raw_feature_norm / cross_attn. */
int itr_eval_is_scan(const itr_checkpoint *ck);
/* 1 for SGRAF: three state dicts, sim_enc ("2") with SGR_module.* / SAF_module.*. */
int itr_eval_is_sgraf(const itr_checkpoint *ck);

/* Cross-attention families (SCAN, SGRAF) score regions against words, so the
 * engine keeps image embeddings (n_img, R, D) with R from the 3-D
 * {split}_ims.npy, and word embeddings (n_cap, T, D) padded to the longest
 * caption of the split with their lengths, as upstream encode_data does. For
 * them the family's img_dim / img_emb_size / cap_emb_size count floats per
 * region and per word, and these hooks replace encode_images and sims. */
typedef struct itr_eval_xattn {
    const itr_eval_family *family;
    const char *vocab_suffix;   /* "_vocab.json" after opt.vocab_path/<data_name> */
    /* rows (n, R, img_dim) -> img_emb (n, R, D) */
    itr_status (*encode_images)(const void *model, const float *rows, int64_t n, int64_t R, float *img_emb);
    /* img_emb (n_img, R, D) x cap_emb (n_cap, T, D) with lengths -> sims (n_img, n_cap) */
    itr_status (*sims)(const void *model, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                       const int64_t *lengths, int64_t n_cap, int64_t T, double *sims);
} itr_eval_xattn;

extern const itr_eval_xattn itr_eval_xattn_scan;
extern const itr_eval_xattn itr_eval_xattn_sgraf;

/* Set-pooling families (VSE-infinity): one embedding per image from all R
 * regions of the 3-D {split}_ims.npy and one per caption, scored per item
 * through the family's own hooks; they read <data>/<data_subdir>/ instead of
 * <data>/<data_name>/, and bring their own caption reader (vocab + tokenizer
 * chosen by the text encoder), loaded with the options (--vocab,
 * --bert-config). For them fam->img_dim counts floats per region. */
typedef struct itr_eval_pooled {
    const itr_eval_family *family;
    const char *data_subdir;    /* "precomp" (VSE-inf data/f30k/precomp/) */
    int caps_flags;             /* itr_captions_load flags                */
    /* replaces fam->load: model + its caption tokenizer */
    itr_status (*load)(itr_checkpoint *ck, const itr_eval_opts *o, void **model);
    /* rows (n, R, img_dim) -> img_emb (n, img_emb_size) */
    itr_status (*encode_images)(const void *model, const float *rows, int64_t n, int64_t R, float *img_emb);
    /* one caption line -> ids (malloc'd) and their count; *unk += <unk> tokens */
    itr_status (*caption_ids)(const void *model, const char *line, int64_t **ids, int64_t *n, int64_t *unk);
} itr_eval_pooled;

extern const itr_eval_family itr_eval_family_vseinf;
extern const itr_eval_pooled itr_eval_pooled_vseinf;
/* 1 for VSE-infinity: two state dicts, image encoder with fc.* and mlp.*
 * (optionally "module."-prefixed), text encoder embed/rnn or bert.*. */
int itr_eval_is_vseinf(const itr_checkpoint *ck);

/* ---- CUDA acceleration (itr eval --backend cuda) ---------------------------
 * A family's CUDA twin, built from its already loaded reference model: the
 * engine loads the reference model as usual (it also supplies the caption
 * tokenizer and the shapes: img_dim, img_emb_size, cap_emb_size), calls load
 * with the pointer the family's load returned (VSE-inf: the eval_vseinf.c
 * wrapper, whose first member is the itr_vseinf), and routes every
 * encode_images / encode_captions / sims call of every shard through these
 * hooks. All pointers are host pointers; outputs have the reference layout. */
typedef struct itr_eval_accel {
    const itr_eval_family *family;      /* the ref family it accelerates */
    itr_status (*load)(const void *ref_model, void **dev);   /* upload from the loaded ref model */
    void (*free)(void *dev);
    /* per-item families: R == 1 and rows (n, img_dim); xattn/pooled: rows (n, R, img_dim) */
    itr_status (*encode_images)(void *dev, const float *rows, int64_t n, int64_t R, float *img_emb);
    itr_status (*encode_captions)(void *dev, const int64_t *ids, const int64_t *lengths, int64_t n, int64_t T,
                                  float *cap_emb);
    /* per-item: lengths NULL, R = T = 1; xattn: as itr_eval_xattn.sims */
    itr_status (*sims)(void *dev, const float *img_emb, int64_t n_img, int64_t R, const float *cap_emb,
                       const int64_t *lengths, int64_t n_cap, int64_t T, double *sims);
    /* Optional (NULL: no): 1 when sims is exactly the float64 dot of the
     * float32 embeddings, so a single model's streamed metrics can come from
     * the device-side GEMM + ranking of itr/cuda/retrieval.h. */
    int (*dot_scores)(const void *dev);
} itr_eval_accel;

/* Defined by conformance/eval_<fam>_cuda.c; listed in eval_accel.c under
 * ITR_HAVE_ACCEL_<FAM> (defined by the build once the file exists). */
extern const itr_eval_accel itr_eval_accel_vsepp, itr_eval_accel_scan, itr_eval_accel_sgraf, itr_eval_accel_vseinf;

/* The accel of a family in this build, or NULL. */
const itr_eval_accel *itr_eval_accel_of(const itr_eval_family *fam);
/* Comma-separated names of the families with an accel ("" when none). */
const char *itr_eval_accel_names(void);
/* Tests only: an accel consulted before the built-in table (for its
 * family), NULL to remove it. Not thread-safe. */
void itr_eval_accel_override(const itr_eval_accel *a);

#endif
