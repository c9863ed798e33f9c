/* nn.c - linear layer, embedding lookup, activations, softmax, BatchNorm. */
#include "itr/ops.h"

#include <math.h>
#include <string.h>

/* y = x W^T + b, PyTorch nn.Linear with W stored (out, in). */
void itr_linear(const float *x, int64_t n, int64_t in, const float *W, const float *b,
                int64_t out, float *y) {
    if (b) {
        for (int64_t i = 0; i < n; i++) memcpy(y + i * out, b, (size_t)out * sizeof *y);
    }
    itr_sgemm(0, 1, n, out, in, 1.0f, x, in, W, in, b ? 1.0f : 0.0f, y, out);
}

itr_status itr_embedding(const float *table, int64_t vocab, int64_t dim,
                         const int64_t *ids, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab)
            return itr_fail(ITR_E_ARG, "word id %lld at position %lld outside the vocabulary [0, %lld)",
                            (long long)ids[i], (long long)i, (long long)vocab);
        memcpy(out + i * dim, table + ids[i] * dim, (size_t)dim * sizeof *out);
    }
    return ITR_OK;
}

float itr_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void itr_relu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] < 0.0f) x[i] = 0.0f;
}

void itr_leaky_relu(float *x, int64_t n, float slope) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] < 0.0f) x[i] *= slope;
}

void itr_tanh_inplace(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

void itr_sigmoid_inplace(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = itr_sigmoidf(x[i]);
}

/* softmax_k x[o, k, i] = exp(x - max) / sum exp(x - max) along the middle axis. */
void itr_softmax_axis(float *x, int64_t outer, int64_t axis, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            float *p = x + o * axis * inner + i;
            float mx = -INFINITY, sum = 0.0f;
            for (int64_t k = 0; k < axis; k++)
                if (p[k * inner] > mx) mx = p[k * inner];
            for (int64_t k = 0; k < axis; k++) {
                p[k * inner] = expf(p[k * inner] - mx);
                sum += p[k * inner];
            }
            for (int64_t k = 0; k < axis; k++) p[k * inner] /= sum;
        }
}

void itr_softmax_axis_f64(double *x, int64_t outer, int64_t axis, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double *p = x + o * axis * inner + i;
            double mx = -INFINITY, sum = 0.0;
            for (int64_t k = 0; k < axis; k++)
                if (p[k * inner] > mx) mx = p[k * inner];
            for (int64_t k = 0; k < axis; k++) {
                p[k * inner] = exp(p[k * inner] - mx);
                sum += p[k * inner];
            }
            for (int64_t k = 0; k < axis; k++) p[k * inner] /= sum;
        }
}

/* BatchNorm in eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta,
 * per channel c of x viewed as (n, c, inner) (BatchNorm1d on (N, C) or (N, C, L)). */
void itr_batchnorm_eval(float *x, int64_t n, int64_t c, int64_t inner,
                        const float *mean, const float *var,
                        const float *gamma, const float *beta, float eps) {
    for (int64_t ch = 0; ch < c; ch++) {
        float scale = 1.0f / sqrtf(var[ch] + eps);
        float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
        for (int64_t s = 0; s < n; s++) {
            float *p = x + (s * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++) p[i] = (p[i] - mean[ch]) * scale * g + b;
        }
    }
}
