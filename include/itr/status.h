/* itr/status.h - status codes and the thread-local last-error message.
 *
 * Every library function that can fail returns an itr_status. On failure it
 * has also stored a one-line message (naming the file, key, dataset and shapes
 * involved) that itr_last_error() returns until the next failure on the same
 * thread. Libraries never print and never exit(); only the CLI does. */
#ifndef ITR_STATUS_H
#define ITR_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum itr_status {
    ITR_OK = 0,
    ITR_E_ARG,          /* invalid argument from the caller                */
    ITR_E_IO,           /* file missing, unreadable, short read            */
    ITR_E_FORMAT,       /* malformed or unsupported file content           */
    ITR_E_KEY,          /* missing / unexpected key, dataset or attribute  */
    ITR_E_SHAPE,        /* wrong rank or shape                             */
    ITR_E_DTYPE,        /* wrong element type                              */
    ITR_E_LIMIT,        /* a size, count or depth over a safety bound      */
    ITR_E_NOMEM,        /* allocation failed                               */
    ITR_E_UNSUPPORTED,  /* valid input that itr does not (yet) handle      */
    ITR_E_MISMATCH,     /* conformance: outputs differ from the goldens    */
    ITR_E_CUDA,         /* CUDA / cuBLAS error                             */
    ITR_E_INTERNAL      /* a bug in itr                                    */
} itr_status;

/* Short stable name of a status, e.g. "ITR_E_SHAPE". */
const char *itr_status_name(itr_status s);

/* Message of the last failure on this thread ("" when none). */
const char *itr_last_error(void);

/* Records a printf-style message for status s and returns s, so that library
 * code can write `return itr_fail(ITR_E_KEY, "%s: no dataset '%s'", f, d);`. */
itr_status itr_fail(itr_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefixes the current message with more context ("loading X: <old msg>")
 * and returns s unchanged. */
itr_status itr_fail_context(itr_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void itr_clear_error(void);

/* Exit code the CLI uses for a status: 0 ok, 1 mismatch, 2 usage/argument,
 * 3 input (io/format/key/shape/dtype/limit), 4 unsupported, 5 resource/internal. */
int itr_status_exit_code(itr_status s);

#ifdef __cplusplus
}
#endif
#endif
