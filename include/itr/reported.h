/* itr/reported.h - the R@K numbers the papers / READMEs report, read from
 * conformance/reported_numbers.tsv, so that `itr eval` can print them beside
 * its own. The numbers themselves are collected from the specs'
 * "Reported results" sections (vsepp_vseinfty.md s5, scan_sgraf.md s10, ...).
 *
 * File format (tab-separated, UTF-8, one row per line):
 *   - lines starting with '#' and empty lines are skipped;
 *   - the first other line is the header, exactly
 *       model variant dataset i2t_r1 i2t_r5 i2t_r10 t2i_r1 t2i_r5 t2i_r10 rsum source
 *   - every row has those 11 fields; model, variant, dataset and source are
 *     non-empty; dataset is f30k_1k | coco_1k | coco_5k; a number field is
 *     empty (not reported) or a decimal in [0, 100] (rsum: [0, 600]).
 * Library code: errors name the file, line and field. */
#ifndef ITR_REPORTED_H
#define ITR_REPORTED_H

#include <stddef.h>
#include <stdint.h>
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Index of each number in itr_reported_row.v. */
enum {
    ITR_REP_I2T_R1 = 0,
    ITR_REP_I2T_R5,
    ITR_REP_I2T_R10,
    ITR_REP_T2I_R1,
    ITR_REP_T2I_R5,
    ITR_REP_T2I_R10,
    ITR_REP_RSUM,
    ITR_REP_N
};

typedef struct itr_reported_row {
    char model[32];           /* itr eval family name: "sgraf"            */
    char variant[96];         /* "SGR", "t2i AVG", "VSE++ original ..."   */
    char dataset[16];         /* "f30k_1k" | "coco_1k" | "coco_5k"        */
    double v[ITR_REP_N];      /* percentages; meaningful where has[k]     */
    int has[ITR_REP_N];       /* 1 where the source reports the number    */
    char source[192];         /* paper table / README / spec section      */
    int64_t line;             /* 1-based line in the file                 */
} itr_reported_row;

typedef struct itr_reported_table {
    itr_reported_row *rows;
    size_t n;
} itr_reported_table;

/* Column names, in file order ("i2t_r1" ... "rsum") for the numbers. */
extern const char *const itr_reported_number_names[ITR_REP_N];

/* The table path to use: `flag` when non-NULL, else the environment variable
 * ITR_REPORTED when set and non-empty, else the build-time default
 * ITR_REPORTED_TSV (the source tree's conformance/reported_numbers.tsv). */
const char *itr_reported_path(const char *flag);

/* Parses a whole file held in memory; `name` is used in error messages. */
itr_status itr_reported_parse(const char *text, size_t len, const char *name, itr_reported_table *t);
/* Reads and parses a file (ITR_E_IO when it cannot be opened). */
itr_status itr_reported_load(const char *path, itr_reported_table *t);
void itr_reported_free(itr_reported_table *t);

/* Rows matching model (case-insensitive), dataset (exact) and, when non-NULL,
 * variant (case-insensitive). Stores up to `max` pointers into `out` (which
 * may be NULL when max is 0) and returns the number of matches. */
size_t itr_reported_find(const itr_reported_table *t, const char *model, const char *variant, const char *dataset,
                         const itr_reported_row **out, size_t max);

/* The table's dataset key of an evaluation: data_name containing "f30k" or
 * "flickr" -> "f30k_1k"; containing "coco" -> "coco_5k" for 5000 images in
 * one fold, else "coco_1k" (5-fold mean, or one 1K split); otherwise NULL. */
const char *itr_reported_dataset(const char *data_name, int64_t n_images, int folds);

#ifdef __cplusplus
}
#endif
#endif
