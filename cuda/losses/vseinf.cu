/* vseinf.cu - the VSE-infinity training loss on the device (woodfrog/vse_infty
 * lib/loss.py; ref/losses/vseinf.c; docs/losses.md s2): VSE++'s cosine hinge
 * (margin 0.2) on S = im s^T, summed over every negative during the warm-up
 * epochs (epoch < vse_mean_warmup_epochs, "VSE0") and hardest negative from
 * then on (train.py calls max_violation_on() once). The switch itself is the
 * reference's itr_vseinf_use_hardest; the loss runs through lmh.cu. */
#include "losses/loss_cu.h"
#include "itr/cuda/losses.h"

extern "C" itr_status itr_cuda_vseinf_loss(const float *im, const float *s, int64_t B, int64_t d, float margin,
                                           int hardest, itr_hinge_result *res, float *S, float *dS, float *dim,
                                           float *ds) {
    itr_status st = itr_cuda_lmh_embed_loss(ITR_MEASURE_COSINE, im, s, B, d, margin, hardest, res, S, dS, dim, ds);
    return st ? itr_fail_context(st, "itr_cuda_vseinf_loss") : ITR_OK;
}

extern "C" itr_status itr_cuda_vseinf_epoch_loss(const float *im, const float *s, int64_t B, int64_t d,
                                                 float margin, int64_t epoch, int64_t warmup_epochs,
                                                 itr_hinge_result *res, float *S, float *dS, float *dim,
                                                 float *ds) {
    if (epoch < 0 || warmup_epochs < 0)
        return itr_fail(ITR_E_ARG, "itr_cuda_vseinf_epoch_loss: epoch %lld, warm-up epochs %lld (need >= 0)",
                        (long long)epoch, (long long)warmup_epochs);
    return itr_cuda_vseinf_loss(im, s, B, d, margin, itr_vseinf_use_hardest(epoch, warmup_epochs), res, S, dS, dim,
                                ds);
}
