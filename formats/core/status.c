/* status.c - thread-local last-error message. */
#include "itr/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ITR_ERR_LEN 4096

/* __thread: a GCC/Clang storage class accepted in C99 mode; C99 itself has
 * no thread-local storage. */
static __thread char g_last_error[ITR_ERR_LEN];

const char *itr_status_name(itr_status s) {
    switch (s) {
    case ITR_OK: return "ITR_OK";
    case ITR_E_ARG: return "ITR_E_ARG";
    case ITR_E_IO: return "ITR_E_IO";
    case ITR_E_FORMAT: return "ITR_E_FORMAT";
    case ITR_E_KEY: return "ITR_E_KEY";
    case ITR_E_SHAPE: return "ITR_E_SHAPE";
    case ITR_E_DTYPE: return "ITR_E_DTYPE";
    case ITR_E_LIMIT: return "ITR_E_LIMIT";
    case ITR_E_NOMEM: return "ITR_E_NOMEM";
    case ITR_E_UNSUPPORTED: return "ITR_E_UNSUPPORTED";
    case ITR_E_MISMATCH: return "ITR_E_MISMATCH";
    case ITR_E_CUDA: return "ITR_E_CUDA";
    case ITR_E_INTERNAL: return "ITR_E_INTERNAL";
    }
    return "ITR_E_UNKNOWN";
}

const char *itr_last_error(void) { return g_last_error; }

void itr_clear_error(void) { g_last_error[0] = '\0'; }

itr_status itr_fail(itr_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return s;
}

itr_status itr_fail_context(itr_status s, const char *fmt, ...) {
    char prefix[1024];
    char old[ITR_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_last_error, sizeof old);
    /* Built piecewise: the combined message is cut at ITR_ERR_LEN on purpose. */
    size_t n = strlen(prefix);
    if (n > ITR_ERR_LEN - 3) n = ITR_ERR_LEN - 3;
    memcpy(g_last_error, prefix, n);
    g_last_error[n++] = ':';
    g_last_error[n++] = ' ';
    size_t m = strlen(old);
    if (m > ITR_ERR_LEN - 1 - n) m = ITR_ERR_LEN - 1 - n;
    memcpy(g_last_error + n, old, m);
    g_last_error[n + m] = '\0';
    return s;
}

int itr_status_exit_code(itr_status s) {
    switch (s) {
    case ITR_OK: return 0;
    case ITR_E_MISMATCH: return 1;
    case ITR_E_ARG: return 2;
    case ITR_E_IO: case ITR_E_FORMAT: case ITR_E_KEY: case ITR_E_SHAPE:
    case ITR_E_DTYPE: case ITR_E_LIMIT: return 3;
    case ITR_E_UNSUPPORTED: return 4;
    default: return 5;
    }
}
