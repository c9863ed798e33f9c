/* eval_accel.c - the CUDA twins of the eval families (`itr eval --backend
 * cuda`, eval_families.h). Each entry exists only once its
 * conformance/eval_<fam>_cuda.c does: the build defines ITR_HAVE_ACCEL_<FAM>
 * then (nothing in the sources defines them). */
#include <stddef.h>

#include "eval_families.h"

static const itr_eval_accel *const ACCEL[] = {
#ifdef ITR_HAVE_ACCEL_VSEPP
    &itr_eval_accel_vsepp,
#endif
#ifdef ITR_HAVE_ACCEL_SCAN
    &itr_eval_accel_scan,
#endif
#ifdef ITR_HAVE_ACCEL_SGRAF
    &itr_eval_accel_sgraf,
#endif
#ifdef ITR_HAVE_ACCEL_VSEINF
    &itr_eval_accel_vseinf,
#endif
    NULL,   /* end (keeps the table non-empty when no accel is built) */
};

static const char ACCEL_NAMES[] = ""
#ifdef ITR_HAVE_ACCEL_VSEPP
                                  "vsepp,"
#endif
#ifdef ITR_HAVE_ACCEL_SCAN
                                  "scan,"
#endif
#ifdef ITR_HAVE_ACCEL_SGRAF
                                  "sgraf,"
#endif
#ifdef ITR_HAVE_ACCEL_VSEINF
                                  "vseinf,"
#endif
    ;

static const itr_eval_accel *g_override = NULL;

void itr_eval_accel_override(const itr_eval_accel *a) { g_override = a; }

const itr_eval_accel *itr_eval_accel_of(const itr_eval_family *fam) {
    if (!fam) return NULL;
    if (g_override && g_override->family == fam) return g_override;
    for (size_t i = 0; ACCEL[i]; i++)
        if (ACCEL[i]->family == fam) return ACCEL[i];
    return NULL;
}

/* "vsepp,scan" (the table's trailing comma dropped), or "". */
const char *itr_eval_accel_names(void) {
    static char names[sizeof ACCEL_NAMES];
    size_t n = sizeof ACCEL_NAMES - 1;
    for (size_t i = 0; i < n; i++) names[i] = ACCEL_NAMES[i];
    names[n > 0 ? n - 1 : 0] = '\0';
    return names;
}
