/* test_cu_ops.cu - the basic device ops (cuda/core/ops.h) against their
 * reference counterparts (itr/ops.h) at awkward sizes: 1, primes, sizes just
 * off the 256-thread block, every epsilon convention. Prints the max errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/ops.h"

namespace {

uint64_t g_rng = 0x243F6A8885A308D3ull;
float urand() {   /* xorshift64, uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 4503599627370496.0 - 1.0);
}

std::vector<float> random_vec(size_t n) {
    std::vector<float> v(n);
    for (float &x : v) x = urand();
    return v;
}

template <class T>
T *up(const std::vector<T> &h) {
    T *d = nullptr;
    assert_int_equal(itr_cu_upload(&d, h.data(), h.size(), "test input"), ITR_OK);
    return d;
}

template <class T>
std::vector<T> down(const T *d, size_t n) {
    std::vector<T> h(n);
    assert_int_equal(itr_cu_to_host(h.data(), d, n * sizeof(T), "test output"), ITR_OK);
    return h;
}

/* max |a - b|; every element must be within atol or rtol * |want|. Element-
 * wise ops get 1e-6 / 1e-5; sums of K products (linear) the golden tolerance
 * 1e-5 / 1e-4, since cuBLAS and the reference may add them in any order (the
 * no-BLAS build compares two different plain loops). */
template <class T>
double compare(const std::vector<T> &got, const std::vector<T> &want, const char *what, double atol = 1e-6,
               double rtol = 1e-5) {
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); i++) {
        double a = std::fabs((double)got[i] - (double)want[i]);
        worst = a > worst ? a : worst;
        if (!(a <= atol || a <= rtol * std::fabs((double)want[i]))) {
            printf("  %s: element %zu: got %.9g want %.9g\n", what, i, (double)got[i], (double)want[i]);
            fail();
        }
    }
    return worst;
}

const int64_t kSizes[] = {1, 2, 7, 31, 255, 257, 1031};

void test_l2norm_rows(void **state) {
    (void)state;
    const itr_eps_mode modes[] = {ITR_EPS_NONE, ITR_EPS_ADD, ITR_EPS_CLAMP};
    double worst = 0.0, worst64 = 0.0;
    for (int64_t d : kSizes)
        for (itr_eps_mode mode : modes) {
            const int64_t n = 3;
            std::vector<float> x = random_vec(n * d), want = x;
            if (d == 1) x[1] = want[1] = 0.0f;   /* a zero row: 0/0 (NONE) or 0 */
            if (mode == ITR_EPS_NONE && d == 1) continue;   /* NaN by definition, as upstream */
            itr_l2norm_rows(want.data(), n, d, mode, 1e-8f);
            float *dx = up(x);
            assert_int_equal(itr_cu_l2norm_rows(dx, n, d, mode, 1e-8f), ITR_OK);
            double w = compare(down(dx, x.size()), want, "l2norm_rows");
            worst = w > worst ? w : worst;
            itr_cu_free(dx);
            std::vector<double> x64(x.begin(), x.end()), want64 = x64;
            itr_l2norm_rows_f64(want64.data(), n, d, mode, 1e-8);
            double *dx64 = up(x64);
            assert_int_equal(itr_cu_l2norm_rows_f64(dx64, n, d, mode, 1e-8), ITR_OK);
            w = compare(down(dx64, x64.size()), want64, "l2norm_rows_f64");
            worst64 = w > worst64 ? w : worst64;
            itr_cu_free(dx64);
        }
    printf("  l2norm rows: max abs err float32 %.3g, float64 %.3g\n", worst, worst64);
}

void test_linear_and_bias(void **state) {
    (void)state;
    double worst = 0.0;
    for (int64_t n : {1, 5, 33})
        for (int64_t in : {1, 7, 257})
            for (int64_t out : {1, 3, 129}) {
                std::vector<float> x = random_vec(n * in), W = random_vec(out * in), b = random_vec(out);
                std::vector<float> want(n * out);
                itr_linear(x.data(), n, in, W.data(), b.data(), out, want.data());
                float *dx = up(x), *dW = up(W), *db = up(b), *dy = nullptr;
                assert_int_equal(itr_cu_alloc_n(&dy, want.size(), "y"), ITR_OK);
                assert_int_equal(itr_cu_linear(dx, n, in, dW, db, out, dy), ITR_OK);
                double w = compare(down(dy, want.size()), want, "linear", 1e-5, 1e-4);
                worst = w > worst ? w : worst;
                itr_cu_free(dx), itr_cu_free(dW), itr_cu_free(db), itr_cu_free(dy);
            }
    printf("  linear + bias: max abs err %.3g\n", worst);
}

void test_embedding_abs_widen(void **state) {
    (void)state;
    const int64_t vocab = 11, dim = 13, n = 17;
    std::vector<float> table = random_vec(vocab * dim), want(n * dim);
    std::vector<int64_t> ids(n);
    for (int64_t i = 0; i < n; i++) ids[i] = (i * 7) % vocab;
    assert_int_equal(itr_embedding(table.data(), vocab, dim, ids.data(), n, want.data()), ITR_OK);
    float *dt = up(table), *dout = nullptr;
    int64_t *dids = up(ids);
    assert_int_equal(itr_cu_alloc_n(&dout, want.size(), "out"), ITR_OK);
    assert_int_equal(itr_cu_embedding(dt, vocab, dim, dids, n, dout), ITR_OK);
    std::vector<float> got = down(dout, want.size());
    for (size_t i = 0; i < got.size(); i++) assert_true(got[i] == want[i]);   /* a copy: exact */
    assert_int_equal(itr_cu_abs(dout, n * dim), ITR_OK);
    got = down(dout, want.size());
    for (size_t i = 0; i < got.size(); i++) assert_true(got[i] == std::fabs(want[i]));
    double *dw = nullptr;
    assert_int_equal(itr_cu_alloc_n(&dw, want.size(), "wide"), ITR_OK);
    assert_int_equal(itr_cu_f32_to_f64(dout, n * dim, dw), ITR_OK);
    std::vector<double> wide = down(dw, want.size());
    for (size_t i = 0; i < wide.size(); i++) assert_true(wide[i] == (double)std::fabs(want[i]));
    itr_cu_free(dt), itr_cu_free(dids), itr_cu_free(dout), itr_cu_free(dw);
}

void test_batchnorm_and_activations(void **state) {
    (void)state;
    const int64_t n = 3, c = 5, inner = 7;
    std::vector<float> x = random_vec(n * c * inner), mean = random_vec(c), var = random_vec(c),
                       gamma = random_vec(c), beta = random_vec(c);
    for (float &v : var) v = std::fabs(v) + 0.1f;
    for (int affine = 0; affine <= 1; affine++) {
        std::vector<float> want = x;
        itr_batchnorm_eval(want.data(), n, c, inner, mean.data(), var.data(), affine ? gamma.data() : nullptr,
                           affine ? beta.data() : nullptr, 1e-5f);
        float *dx = up(x), *dm = up(mean), *dv = up(var), *dg = up(gamma), *db = up(beta);
        assert_int_equal(itr_cu_batchnorm_eval(dx, n, c, inner, dm, dv, affine ? dg : nullptr, affine ? db : nullptr,
                                               1e-5f),
                         ITR_OK);
        printf("  batchnorm (affine %d): max abs err %.3g\n", affine, compare(down(dx, x.size()), want, "batchnorm"));
        itr_cu_free(dx), itr_cu_free(dm), itr_cu_free(dv), itr_cu_free(dg), itr_cu_free(db);
    }
    const int64_t m = 1031;
    std::vector<float> a = random_vec(m);
    for (float &v : a) v *= 4.0f;
    for (int kind = ITR_CU_RELU; kind <= ITR_CU_GELU_ERF; kind++) {
        std::vector<float> want = a;
        if (kind == ITR_CU_RELU) itr_relu(want.data(), m);
        else if (kind == ITR_CU_TANH) itr_tanh_inplace(want.data(), m);
        else if (kind == ITR_CU_SIGMOID) itr_sigmoid_inplace(want.data(), m);
        else
            for (float &v : want) v = (float)(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
        float *da = up(a);
        assert_int_equal(itr_cu_activation(da, m, kind), ITR_OK);
        printf("  activation %d: max abs err %.3g\n", kind, compare(down(da, a.size()), want, "activation"));
        itr_cu_free(da);
    }
    float *da = up(a);
    assert_int_equal(itr_cu_activation(da, m, 99), ITR_E_ARG);   /* unknown kind */
    itr_cu_free(da);
}

}  // namespace

int main(void) {
    if (!itr_cuda_available()) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    size_t before = itr_cuda_bytes_in_use();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l2norm_rows),
        cmocka_unit_test(test_linear_and_bias),
        cmocka_unit_test(test_embedding_abs_widen),
        cmocka_unit_test(test_batchnorm_and_activations),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (itr_cuda_bytes_in_use() != before) {
        printf("device memory leak: %zu bytes\n", itr_cuda_bytes_in_use() - before);
        failed++;
    }
    return failed;
}
