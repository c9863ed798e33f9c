/* vsl_cider.c - VSL's intra-modal similarity matrices ("ComputCider" in
 * ZhangXu0963/VSL model.py; specs/losses_vsl_lseh.md s1.3). Despite the name
 * they are plain TF-IDF cosines: no n-grams, no length penalty.
 *
 * The loader hands the batch float32 copies of the TF-IDF rows (torch.Tensor
 * of the float64 arrays):
 *   tfidf_for_image (B, cpi, V): rows cpi*g .. cpi*g + cpi - 1 of the image
 *                                 g = img_ids[a] (cpi = 5, hard-coded)
 *   tfidf_for_caption (B, V):     row ids[a]
 * image:   G = T T^T over the (B*cpi, V) stack (float32 GEMM), then a
 *          cpi x cpi average pool with stride cpi: C[a,b] = mean of the
 *          cpi*cpi caption pairs of images a and b (float sum in row-major
 *          order of the window, divided by cpi*cpi, as torch's CPU kernel).
 * caption: T[a,b] = t_{ids[a]} . t_{ids[b]} (float32 GEMM).
 * The GEMMs accumulate sparse products in double and round once. */
#include <stdlib.h>

#include "loss_internal.h"

/* Dot product of two TF-IDF rows after rounding every weight to float32. */
static float row_dot_f32(const itr_tfidf *t, int64_t r1, int64_t r2) {
    int64_t a = t->row_ptr[r1], ae = t->row_ptr[r1 + 1];
    int64_t b = t->row_ptr[r2], be = t->row_ptr[r2 + 1];
    double acc = 0.0;
    while (a < ae && b < be) {
        if (t->col[a] < t->col[b]) a++;
        else if (t->col[a] > t->col[b]) b++;
        else {
            acc += (double)(float)t->val[a] * (double)(float)t->val[b];
            a++;
            b++;
        }
    }
    return (float)acc;
}

static itr_status check_rows(const itr_tfidf *t, const int64_t *rows, int64_t B, int64_t cpi,
                             const char *fn, const char *what) {
    if (!t || !rows) return itr_fail(ITR_E_ARG, "%s: NULL argument", fn);
    itr_status st = itr_loss_check_batch(B, fn);
    if (st) return st;
    for (int64_t a = 0; a < B; a++) {
        if (rows[a] < 0 || (rows[a] + 1) * cpi > t->n_docs)
            return itr_fail(ITR_E_ARG,
                            "%s: %s[%lld] = %lld needs caption rows up to %lld, the split has %lld "
                            "(QUIRK Q-VSL-5: %lld consecutive captions per image)",
                            fn, what, (long long)a, (long long)rows[a],
                            (long long)((rows[a] + 1) * cpi - 1), (long long)t->n_docs,
                            (long long)cpi);
    }
    return ITR_OK;
}

itr_status itr_vsl_image_cider(const itr_tfidf *t, const int64_t *img_ids, int64_t B,
                               int64_t cpi, float *C) {
    if (cpi <= 0) return itr_fail(ITR_E_ARG, "itr_vsl_image_cider: %lld captions per image", (long long)cpi);
    itr_status st = check_rows(t, img_ids, B, cpi, "itr_vsl_image_cider", "img_ids");
    if (st) return st;
    if (!C) return itr_fail(ITR_E_ARG, "itr_vsl_image_cider: NULL output");
    const float div = (float)(cpi * cpi);
    for (int64_t a = 0; a < B; a++) {
        for (int64_t b = 0; b < B; b++) {
            float sum = 0.0f;
            for (int64_t p = 0; p < cpi; p++)
                for (int64_t q = 0; q < cpi; q++)
                    sum += row_dot_f32(t, cpi * img_ids[a] + p, cpi * img_ids[b] + q);
            C[a * B + b] = sum / div;
        }
    }
    return ITR_OK;
}

itr_status itr_vsl_caption_cider(const itr_tfidf *t, const int64_t *ids, int64_t B, float *T) {
    itr_status st = check_rows(t, ids, B, 1, "itr_vsl_caption_cider", "ids");
    if (st) return st;
    if (!T) return itr_fail(ITR_E_ARG, "itr_vsl_caption_cider: NULL output");
    for (int64_t a = 0; a < B; a++)
        for (int64_t b = 0; b < B; b++) T[a * B + b] = row_dot_f32(t, ids[a], ids[b]);
    return ITR_OK;
}
