/* itr/synthetic.h - deterministic synthetic precomp data sets shaped for a
 * loaded checkpoint, so that `itr eval` can be exercised end to end on any
 * checkpoint without the real Flickr30K / COCO features.
 * Layout written (scan_sgraf.md s9.1, formats.md s3.1, s3.2):
 *
 *   <out>/<opt.data_name>/<split>_ims.npy   float32 (rows, img_dim) for
 *                                           per-item families (VSE++), or
 *                                           (rows, R, img_dim) for region ones
 *   <out>/<opt.data_name>/<split>_caps.txt  5 captions per image, one a line
 *   <out>/vocab/<opt.data_name>_vocab.json  SCAN-style JSON vocabulary with
 *                                           exactly embed.weight rows entries:
 *                                           <pad>=0 <start>=1 <end>=2 <unk>=3,
 *                                           then synthetic words
 *
 * rows is n_img (one row per image, im_div 5) or 5 * n_img when
 * one_row_per_caption is set (each image row repeated 5 times, the Flickr30K
 * dev layout, im_div 1). Everything comes from a private 64-bit generator
 * seeded by `seed`: the same checkpoint shape, options and seed give
 * byte-identical files. The five captions of an image draw most of their
 * words from a small per-image topic set, so captions of one image share
 * words with each other. Library code: nothing prints. */
#ifndef ITR_SYNTHETIC_H
#define ITR_SYNTHETIC_H

#include <stdint.h>
#include "itr/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct itr_synth_opts {
    int64_t n_img;              /* images (>= 1); default 10                   */
    uint64_t seed;              /* default 1                                   */
    const char *split;          /* file prefix; default "test"                 */
    int64_t regions;            /* R for region families; 0: 36. Must be 0 for *
                                 * per-item families (they get 2-D features)   */
    int64_t min_words, max_words; /* words per caption; default 4 .. 9        */
    int one_row_per_caption;    /* 1: 5 rows per image (im_div 1)              */
    const char *family;         /* eval family name, or NULL: detected         */
} itr_synth_opts;

void itr_synth_opts_default(itr_synth_opts *o);

typedef struct itr_synth_info {
    char family[32];            /* eval family the data is shaped for          */
    char data_name[128];        /* opt.data_name                               */
    int64_t img_dim;            /* features per row / region                   */
    int64_t regions;            /* R, or 0 for 2-D features                    */
    int64_t vocab_size;         /* embed.weight rows = vocabulary entries      */
    int64_t n_rows, n_lines;    /* rows of the .npy, lines of the captions     */
} itr_synth_info;

/* Writes the data set for checkpoint `ck` under out_dir (created if missing,
 * as are its subfolders). info may be NULL. Errors: ITR_E_ARG for bad options
 * (n_img < 1, word range, regions on a per-item family), ITR_E_KEY /
 * ITR_E_SHAPE when the checkpoint lacks opt.data_name or embed.weight (or has
 * fewer than 5 rows in it), ITR_E_IO when a file cannot be written. */
itr_status itr_synth_write(itr_checkpoint *ck, const itr_synth_opts *o, const char *out_dir,
                           itr_synth_info *info);

#ifdef __cplusplus
}
#endif
#endif
