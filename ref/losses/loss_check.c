/* loss_check.c - argument checks and buffer helpers shared by the losses. */
#include <stdlib.h>

#include "loss_internal.h"

/* A mini-batch larger than this is certainly a caller error: a (B, B)
 * double matrix would already take 32 GiB. */
#define ITR_LOSS_MAX_BATCH ((int64_t)1 << 16)

void itr_loss_f2d(const float *src, int64_t n, double *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = (double)src[i];
}

void itr_loss_d2f(const double *src, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

itr_status itr_loss_alloc_d(double **out, int64_t n, const char *what) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (!*out) return itr_fail(ITR_E_NOMEM, "%s: out of memory (%lld doubles)", what, (long long)n);
    return ITR_OK;
}

itr_status itr_loss_check_batch(int64_t B, const char *fn) {
    if (B <= 0) return itr_fail(ITR_E_SHAPE, "%s: batch size %lld, need B >= 1", fn, (long long)B);
    if (B > ITR_LOSS_MAX_BATCH)
        return itr_fail(ITR_E_LIMIT, "%s: batch size %lld over the limit %lld", fn, (long long)B,
                        (long long)ITR_LOSS_MAX_BATCH);
    return ITR_OK;
}

itr_status itr_loss_check_scores(const itr_tensor *S, const char *what, int64_t *B) {
    char buf[96];
    if (!S) return itr_fail(ITR_E_ARG, "%s: score matrix missing", what);
    if (S->ndim != 2 || S->shape[0] != S->shape[1])
        return itr_fail(ITR_E_SHAPE, "%s: score matrix must be square (B, B), got %s", what,
                        itr_shape_str(S->ndim, S->shape, buf, sizeof buf));
    itr_status st = itr_loss_check_batch(S->shape[0], what);
    if (st) return st;
    if (!S->data) return itr_fail(ITR_E_ARG, "%s: score matrix has no data", what);
    *B = S->shape[0];
    return ITR_OK;
}

itr_status itr_loss_check_embeddings(const itr_tensor *im, const itr_tensor *s,
                                     const char *what, int64_t *B, int64_t *d) {
    char a[96], b[96];
    if (!im || !s)
        return itr_fail(ITR_E_ARG, "%s: embeddings missing", what);
    if (im->ndim != 2 || !itr_shape_equal(im->ndim, im->shape, s->ndim, s->shape))
        return itr_fail(ITR_E_SHAPE, "%s: im %s and s %s must both be (B, d)", what,
                        itr_shape_str(im->ndim, im->shape, a, sizeof a),
                        itr_shape_str(s->ndim, s->shape, b, sizeof b));
    if (im->shape[1] <= 0)
        return itr_fail(ITR_E_SHAPE, "%s: embedding dimension %lld, need d >= 1", what,
                        (long long)im->shape[1]);
    itr_status st = itr_loss_check_batch(im->shape[0], what);
    if (st) return st;
    if (!im->data || !s->data) return itr_fail(ITR_E_ARG, "%s: embeddings have no data", what);
    *B = im->shape[0];
    *d = im->shape[1];
    return ITR_OK;
}
