/* family.h - how a model family plugs into the conformance runner.
 *
 * A golden case (one .h5, fixtures/GOLDEN_README.md) names its family in the
 * root attribute `model`. The runner opens the case, loads the checkpoint it
 * names (if any), and calls the family's run(): it reads /inputs, builds the
 * model from the checkpoint's opt + weights (or the case's attributes for
 * losses/metrics), computes, and reports every output it can produce by name
 * into the probe. The runner then compares each /outputs/<name> with what was
 * reported; an output nobody reported is NOT CHECKED and fails the case. */
#ifndef ITR_CONFORMANCE_FAMILY_H
#define ITR_CONFORMANCE_FAMILY_H

#include "itr/checkpoint.h"
#include "itr/h5.h"
#include "itr/probe.h"

typedef enum itr_backend { ITR_BACKEND_REF = 0, ITR_BACKEND_CUDA = 1 } itr_backend;

typedef struct itr_case {
    const char *path;          /* the .h5 file                                */
    itr_h5 *h5;
    char *model;               /* root attr `model` (family)                  */
    char *variant;             /* root attr `variant` or ""                   */
    itr_checkpoint *ckpt;      /* NULL when attr `checkpoint` is "" / absent  */
    itr_backend backend;
} itr_case;

typedef struct itr_family {
    const char *name;          /* matches the `model` attribute */
    itr_status (*run)(itr_case *c, itr_probe *out);
    int exact;                 /* 1: outputs are counts/ranks, compared exactly */
} itr_family;

/* Helpers for family runners. */
/* Reads /inputs/<name> converted to dtype (ndim < 0: any rank). */
itr_status itr_case_input(itr_case *c, const char *name, itr_dtype dtype, int ndim, itr_tensor *out);
/* String attribute of the root, or def when absent (never NULL). The string
 * is owned by the case (valid until itr_case_close). */
const char *itr_case_attr_str(itr_case *c, const char *name, const char *def);
double itr_case_attr_f64(itr_case *c, const char *name, double def);
int64_t itr_case_attr_i64(itr_case *c, const char *name, int64_t def);
/* 1 when /outputs/<name> exists (families skip work nobody checks). */
int itr_case_wants(itr_case *c, const char *name);

/* The registry (conformance/families.c). NULL when unknown. */
const itr_family *itr_family_find(const char *name);
/* Comma-separated list of known family names, for messages. */
const char *itr_family_names(void);

#endif
