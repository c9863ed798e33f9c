/* vseinf.c - the VSE-infinity training loss (woodfrog/vse_infty lib/loss.py;
 * specs/vsepp_vseinfty.md s2.8).
 *
 * The loss itself is VSE++'s hinge on S = im s^T (cosine of the normalised
 * GPO embeddings, margin 0.2). What is specific to VSE-infinity is the
 * warm-up switch: during the first `vse_mean_warmup_epochs` epochs the loss
 * sums over every negative (max_violation False, "VSE0"); train.py then calls
 * max_violation_on() and the hardest negative is used from then on. */
#include "loss_internal.h"

int itr_vseinf_use_hardest(int64_t epoch, int64_t warmup_epochs) {
    /* train.py: `if epoch >= opt.vse_mean_warmup_epochs: max_violation_on()` */
    return epoch >= warmup_epochs;
}

itr_status itr_vseinf_loss(const float *im, const float *s, int64_t B, int64_t d,
                           float margin, int hardest, itr_hinge_result *res,
                           float *S, float *dS, float *dim, float *ds) {
    return itr_embed_hinge_f32(ITR_MEASURE_COSINE, im, s, B, d, margin, NULL, hardest, res,
                               S, dS, dim, ds);
}
