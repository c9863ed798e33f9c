/* itr/joblib.h - joblib files (LGSGM / SEMScene word2idx, GloVe weights,
 * scene graphs, per-image arrays), read with no Python (formats/numpy).
 * Spec: specs formats.md s2.3, s5 rule 8.
 *
 * A joblib file is a pickle in which every numpy array is a
 * NumpyArrayWrapper followed by the array's raw bytes in the same stream;
 * the result is the plain itr_pyobj tree (itr/pickle.h) with ITR_PY_NDARRAY
 * values in place of the wrappers. Uncompressed files (first byte 0x80) and
 * zlib-compressed ones (0x78, joblib `compress=N`) are read; gzip, bz2, xz,
 * lzma, lz4 and the joblib < 0.9.3 "ZF" format are rejected by name. The
 * inflated size is capped by opts->limits.max_bytes (zip-bomb guard). */
#ifndef ITR_JOBLIB_H
#define ITR_JOBLIB_H

#include <stddef.h>
#include <stdint.h>
#include "itr/pickle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads a joblib file; opts may be NULL (defaults, source = path).
 * Free *out with itr_pyobj_free. */
itr_status itr_joblib_load(const char *path, const itr_pickle_opts *opts, itr_pyobj **out);

/* Same from a buffer (not kept after the call). */
itr_status itr_joblib_loads(const uint8_t *buf, size_t len, const itr_pickle_opts *opts, itr_pyobj **out);

#ifdef __cplusplus
}
#endif
#endif
