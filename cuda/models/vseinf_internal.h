/* vseinf_internal.h - private to cuda/models/{gpo,bert,vseinf}.cu: the
 * device-level entry points the three files share. Pointers are device
 * pointers unless a name says _host. */
#ifndef ITR_CUDA_MODELS_VSEINF_INTERNAL_H
#define ITR_CUDA_MODELS_VSEINF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "itr/cuda/vseinf.h"

/* A grow-only device work buffer (cudaMalloc once per size class, not once
 * per call). */
typedef struct itr_cu_vseinf_scratch {
    void *p;
    size_t bytes;
} itr_cu_vseinf_scratch;

/* Makes s hold at least `bytes` (contents are not kept). */
itr_status itr_cu_vseinf_scratch_reserve(itr_cu_vseinf_scratch *s, size_t bytes, const char *what);
void itr_cu_vseinf_scratch_free(itr_cu_vseinf_scratch *s);

/* Largest item count of a chunk whose work buffers of `floats_per_item`
 * floats stay within the per-call budget (at least 1). */
int64_t itr_cu_vseinf_chunk(int64_t floats_per_item, int64_t n);

/* x (n, K, D): rows k >= lengths[i] of item i set to 0 (lengths_dev on the
 * device), as the reference reports every *_features intermediate. */
itr_status itr_cu_vseinf_zero_tail(float *x, const int64_t *lengths_dev, int64_t n, int64_t K, int64_t D);

/* GPO of n sets x (n, K, D) with lengths_host (n) in [1, K] -> pooled (n, D),
 * theta (n, K) or NULL (0 beyond a length). lengths_dev: the same lengths
 * already on the device. */
itr_status itr_cu_gpo_pool(itr_cuda_gpo *g, const float *x, const int64_t *lengths_host, const int64_t *lengths_dev,
                           int64_t n, int64_t K, int64_t D, float *pooled, float *theta);

/* BERT of n padded sequences, ids_host (n, T) and lengths_host on the host,
 * into out (n, T, hidden) on the device (0 at t >= length). */
itr_status itr_cu_bert_forward(itr_cuda_bert *b, const int64_t *ids_host, const int64_t *lengths_host, int64_t n,
                               int64_t T, float *out);
int64_t itr_cu_bert_hidden(const itr_cuda_bert *b);

#endif
