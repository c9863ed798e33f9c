/* h5_test_util.h - small helpers shared by the formats/hdf5 tests. */
#ifndef ITR_H5_TEST_UTIL_H
#define ITR_H5_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "itr/h5.h"

#define FIXTURE(rel) ITR_SOURCE_DIR "/fixtures/" rel

/* A fresh file name under /tmp, unique per call within a process and (by
 * the clock and a stack address, which ASLR varies) across processes. C99
 * has no mkstemp; the tests remove their files when done. */
static inline const char *tmp_h5(char *buf, size_t n, const char *tag) {
    static unsigned counter = 0;
    int local = 0;
    snprintf(buf, n, "/tmp/itr_h5_%s_%lx_%lx_%u.h5", tag, (unsigned long)time(NULL),
             (unsigned long)(uintptr_t)&local, counter++);
    return buf;
}

/* Max |got - want| and max |got - want| / |want| over n values, printed;
 * returns 1 when every element meets |got - want| <= atol + rtol * |want|. */
static inline int close_enough(const char *what, const double *got, const double *want, size_t n,
                               double atol, double rtol) {
    double max_abs = 0.0, max_rel = 0.0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (d > max_abs) max_abs = d;
        if (want[i] != 0.0 && d / fabs(want[i]) > max_rel) max_rel = d / fabs(want[i]);
        if (!(d <= atol + rtol * fabs(want[i]))) ok = 0;
    }
    printf("  %-28s n=%zu max_abs=%.3g max_rel=%.3g %s\n", what, n, max_abs, max_rel, ok ? "ok" : "FAIL");
    return ok;
}

/* The last error message mentions `needle` (file name, object, shapes). */
static inline int msg_has(const char *needle) { return strstr(itr_last_error(), needle) != NULL; }

#endif
