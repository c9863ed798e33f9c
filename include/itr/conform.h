/* itr/conform.h - run a golden case and compare every output (conformance/).
 *
 * A case is one .h5 (fixtures/GOLDEN_README.md): the family named by its root
 * attribute `model` computes what it can from /inputs (and the checkpoint the
 * case names), and each /outputs/<name> is compared elementwise:
 *     |got - want| <= atol + rtol * |want|
 * with atol/rtol from the dataset's attributes, else the root's, else the
 * golden defaults (1e-5, 1e-4). NaN passes only where the golden has NaN.
 * Families whose outputs are counts (metrics) compare exactly. */
#ifndef ITR_CONFORM_H
#define ITR_CONFORM_H

#include <stddef.h>
#include <stdint.h>
#include "itr/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITR_DEFAULT_ATOL 1e-5
#define ITR_DEFAULT_RTOL 1e-4

typedef enum itr_row_status {
    ITR_ROW_PASS = 0, ITR_ROW_FAIL, ITR_ROW_NOT_CHECKED, ITR_ROW_SHAPE
} itr_row_status;

typedef struct itr_conform_row {
    char name[128];
    char backend[16];            /* "ref", "cuda", or "cuda-vs-ref" (want = ref's output) */
    int ndim;
    int64_t shape[ITR_MAX_DIMS];
    int64_t got_shape[ITR_MAX_DIMS];
    int got_ndim;
    double max_abs, max_rel;     /* over all elements (rel = abs / |want|, 0/0 = 0) */
    int64_t n_bad, numel;        /* elements outside tolerance */
    int64_t worst_index;         /* flat index of the worst violation (-1 if none) */
    double atol, rtol;
    int exact;
    itr_row_status status;
} itr_conform_row;

/* Which implementation computes the outputs. ALL runs both, compares each
 * with the golden, and compares CUDA with ref directly (same tolerances). */
typedef enum itr_conform_backend {
    ITR_CONFORM_REF = 0, ITR_CONFORM_CUDA = 1, ITR_CONFORM_ALL = 2
} itr_conform_backend;

typedef struct itr_conform_opts {
    const char *checkpoint;      /* override the case's checkpoint path (NULL = as named) */
    int backend;                 /* itr_conform_backend (0 = ref) */
    int ties;                    /* reserved */
} itr_conform_opts;

typedef struct itr_conform_report {
    char case_path[1024];
    char model[64], variant[64], checkpoint[1024];
    itr_conform_row *rows;
    size_t n_rows;
    int n_pass, n_fail, n_not_checked;
    int passed;                  /* 1 iff every row passed */
} itr_conform_report;

/* Runs the case. Returns ITR_OK when the case could be run (rep->passed tells
 * whether every output matched), or an error when it could not be run at all
 * (missing file, unknown family, bad inputs, checkpoint problems). */
itr_status itr_conform_run(const char *case_path, const itr_conform_opts *opts,
                           itr_conform_report *rep);
void itr_conform_report_free(itr_conform_report *rep);

/* The elementwise comparison used by the runner (exposed for tests).
 * want/got are flat arrays of n doubles. */
void itr_compare_arrays(const double *want, const double *got, int64_t n,
                        double atol, double rtol, int exact, itr_conform_row *row);

#ifdef __cplusplus
}
#endif
#endif
