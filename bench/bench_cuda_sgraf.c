/* bench_cuda_sgraf.c - end-to-end throughput of SGRAF (SGR, SAF) on CUDA
 * (include/itr/cuda/sgraf.h) at the models' real sizes, checked against the
 * reference on a sample of pairs.
 *
 *   bench_cuda_sgraf [--quick | --full]
 *
 * Sizes: R = 36 regions x 2048 features, D = 1024, P = 256, 12-word
 * captions (L = 12 including <start>/<end>), bi-GRU 300 -> 1024, SGR 3 steps.
 * Default 16 images x 24 captions (384 pairs); --full the Flickr30K test
 * matrix, 1000 x 5000 pairs; --quick 4 x 6 pairs (CI smoke test: the
 * emulated build runs it in seconds). Weights are random (nn.Linear-like
 * uniform init, BatchNorm at its init) loaded by itr_sgraf_load; images
 * random features, captions random ids.
 *
 * One JSON object per line on stdout (bench/README.md):
 *   {"bench":"cuda_sgraf_device", name, emulated, sm_count, clocks, fp32_peak_gflops}
 *   {"bench":"cuda_sgraf","module":"SGR", ..., "pairs_per_s", "end_to_end_pairs_per_s",
 *    "gflops", "pct_fp32_peak", "check_pairs", "max_abs_err", "ok"}
 * Timed (wall clock, after a 2 x 2 warm-up): the encoders of all images and
 * captions (host features / ids in, host embeddings out) and the matrix
 * itr_cuda_sgraf_sims (host embeddings in, host float64 matrix out: uploads,
 * VisualSA/TextSA, every tile, download). pairs_per_s counts the matrix
 * call, end_to_end_pairs_per_s both. GFLOP/s uses the nominal per-pair GEMM
 * FLOPs of specs/scan_sgraf.md s11 (the same count as bench_sims) with
 * VisualSA/TextSA amortised over the matrix. Correctness: CHECK_IMG images x
 * CHECK_CAP captions spread over the matrix (different tiles) through the
 * reference itr_sgraf_sims on the CUDA embeddings, and the embeddings of the
 * first images / captions through the reference encoders; |err| <= 1e-5 abs
 * or 1e-4 rel gives "ok" (the exit status is 1 otherwise). */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itr/cuda.h"
#include "itr/cuda/sgraf.h"
#include "itr/models/sgraf.h"

#include "bench_sgraf_model.h"

enum { VOCAB = 1000 };
enum { CHECK_IMG = 4, CHECK_CAP = 8, CHECK_ENC = 2 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Nominal GEMM FLOPs of one pair (spec s11, as bench_sims.c): attention
 * 4 R L D, W_loc 2 L D P + W_glo 2 D P; SGR per step 6 N P^2 + 4 N^2 P; SAF
 * 2 N P; VisualSA / TextSA amortised over the matrix. */
static double pair_flops(itr_sgraf_module module, int64_t n_img, int64_t n_cap) {
    const double N = L + 1;
    double sa = (2.0 * R * D * D + 2.0 * D * D) / (double)n_cap + (2.0 * L * D * D + 2.0 * D * D) / (double)n_img;
    double base = sa + 4.0 * R * L * D + 2.0 * L * D * P + 2.0 * D * P;
    if (module == ITR_SGRAF_SAF) return base + 2.0 * N * P;
    return base + STEPS * (6.0 * N * P * P + 4.0 * N * N * P);
}

/* ---- one module --------------------------------------------------------------- */

typedef struct inputs {
    int64_t n_img, n_cap;
    float *images;       /* (n_img, R, IMG_DIM) */
    int64_t *ids, *len;  /* (n_cap, L), (n_cap)  */
} inputs;

typedef struct errs {
    double abs;
    int64_t bad;
} errs;

static void compare(errs *e, double got, double want) {
    double a = fabs(got - want);
    if (!(a <= e->abs)) e->abs = a;
    if (!(a <= 1e-5 || a <= 1e-4 * fabs(want))) e->bad++;
}

/* Reference check of a spread sample: encoders of the first CHECK_ENC items,
 * sims of CHECK_IMG x CHECK_CAP pairs from the CUDA embeddings. */
static int check_sample(const itr_sgraf *m, const inputs *in, const float *img_emb, const float *cap_emb,
                        const double *sims, errs *e, int64_t *n_pairs) {
    int64_t ni = in->n_img < CHECK_IMG ? in->n_img : CHECK_IMG, nc = in->n_cap < CHECK_CAP ? in->n_cap : CHECK_CAP;
    int64_t ne_i = in->n_img < CHECK_ENC ? in->n_img : CHECK_ENC, ne_c = in->n_cap < CHECK_ENC ? in->n_cap : CHECK_ENC;
    int64_t img_idx[CHECK_IMG], cap_idx[CHECK_CAP];
    float *V = malloc((size_t)(ni * R * D) * sizeof *V), *C = malloc((size_t)(nc * L * D) * sizeof *C);
    float *ie = malloc((size_t)(ne_i * R * D) * sizeof *ie), *ce = malloc((size_t)(ne_c * L * D) * sizeof *ce);
    double *s = malloc((size_t)(ni * nc) * sizeof *s);
    int64_t lens[CHECK_CAP];
    int bad = !V || !C || !ie || !ce || !s;
    for (int64_t a = 0; a < ni && !bad; a++) {
        img_idx[a] = ni > 1 ? a * (in->n_img - 1) / (ni - 1) : 0;
        memcpy(V + a * R * D, img_emb + img_idx[a] * R * D, (size_t)(R * D) * sizeof *V);
    }
    for (int64_t b = 0; b < nc && !bad; b++) {
        cap_idx[b] = nc > 1 ? b * (in->n_cap - 1) / (nc - 1) : 0;
        memcpy(C + b * L * D, cap_emb + cap_idx[b] * L * D, (size_t)(L * D) * sizeof *C);
        lens[b] = in->len[cap_idx[b]];
    }
    bad = bad || itr_sgraf_sims(m, V, ni, C, lens, nc, L, s, NULL, NULL) ||
          itr_sgraf_encode_images(m, in->images, ne_i, ie) || itr_sgraf_encode_captions(m, in->ids, in->len, ne_c, L, ce);
    for (int64_t a = 0; a < ni && !bad; a++)
        for (int64_t b = 0; b < nc; b++) compare(e, sims[img_idx[a] * in->n_cap + cap_idx[b]], s[a * nc + b]);
    for (int64_t k = 0; k < ne_i * R * D && !bad; k++) compare(e, img_emb[k], ie[k]);
    for (int64_t k = 0; k < ne_c * L * D && !bad; k++) compare(e, cap_emb[k], ce[k]);
    *n_pairs = ni * nc;
    free(V), free(C), free(ie), free(ce), free(s);
    return bad;
}

static int bench_module(itr_sgraf_module module, const inputs *in, const itr_cuda_device *dev) {
    itr_weights w;
    itr_config opt;
    itr_sgraf m;
    itr_cuda_sgraf *cu = NULL;
    const char *name = module == ITR_SGRAF_SGR ? "SGR" : "SAF";
    int64_t n_img = in->n_img, n_cap = in->n_cap;
    float *img_emb = malloc((size_t)(n_img * R * D) * sizeof *img_emb);
    float *cap_emb = malloc((size_t)(n_cap * L * D) * sizeof *cap_emb);
    double *sims = malloc((size_t)(n_img * n_cap) * sizeof *sims);
    int bad = sgraf_weights(&w, module, VOCAB, "bench_cuda_sgraf") || !img_emb || !cap_emb || !sims;
    itr_config_init(&opt);
    bad |= itr_config_set_str(&opt, "module_name", name) != ITR_OK;
    bad |= itr_config_set_int(&opt, "sgr_step", STEPS) != ITR_OK;
    bad |= itr_config_set_bool(&opt, "bi_gru", 1) != ITR_OK;
    if (bad || itr_sgraf_load(&m, &opt, &w) || itr_cuda_sgraf_create(&m, &cu)) goto fail;
    /* warm-up (cuBLAS, allocator) on a 2 x 2 corner */
    int64_t wi = n_img < 2 ? n_img : 2, wc = n_cap < 2 ? n_cap : 2;
    if (itr_cuda_sgraf_encode_images(cu, in->images, wi, img_emb) ||
        itr_cuda_sgraf_encode_captions(cu, in->ids, in->len, wc, L, cap_emb) ||
        itr_cuda_sgraf_sims(cu, img_emb, wi, cap_emb, in->len, wc, L, sims, NULL, NULL))
        goto fail;
    double t0 = now_s();
    if (itr_cuda_sgraf_encode_images(cu, in->images, n_img, img_emb) ||
        itr_cuda_sgraf_encode_captions(cu, in->ids, in->len, n_cap, L, cap_emb))
        goto fail;
    double t1 = now_s();
    if (itr_cuda_sgraf_sims(cu, img_emb, n_img, cap_emb, in->len, n_cap, L, sims, NULL, NULL)) goto fail;
    double t2 = now_s();
    errs e = {0.0, 0};
    int64_t checked = 0;
    if (check_sample(&m, in, img_emb, cap_emb, sims, &e, &checked)) goto fail;
    double pairs = (double)(n_img * n_cap), pps = pairs / (t2 - t1), mf = pair_flops(module, n_img, n_cap);
    double gf = pps * mf / 1e9, checksum = 0.0;
    for (int64_t k = 0; k < n_img * n_cap; k++) checksum += sims[k];
    printf("{\"bench\":\"cuda_sgraf\",\"module\":\"%s\",\"device\":\"%s\",\"emulated\":%d,\"n_img\":%lld,"
           "\"n_cap\":%lld,\"pairs\":%.0f,\"L\":%d,\"sgr_step\":%d,\"encode_s\":%.4f,\"sims_s\":%.4f,"
           "\"pairs_per_s\":%.1f,\"end_to_end_pairs_per_s\":%.1f,\"mflop_per_pair\":%.3f,\"gflops\":%.2f,"
           "\"pct_fp32_peak\":%.2f,\"check_pairs\":%lld,\"max_abs_err\":%.3g,\"ok\":%s,\"checksum\":%.9g}\n",
           name, dev->name, dev->emulated, (long long)n_img, (long long)n_cap, pairs, L,
           module == ITR_SGRAF_SGR ? STEPS : 0, t1 - t0, t2 - t1, pps, pairs / (t2 - t0), mf / 1e6, gf,
           dev->fp32_peak_gflops > 0 ? 100.0 * gf / dev->fp32_peak_gflops : 0.0, (long long)checked, e.abs,
           e.bad ? "false" : "true", checksum);
    fflush(stdout);
    bad = e.bad != 0;
    goto done;
fail:
    fprintf(stderr, "bench_cuda_sgraf: %s: %s\n", name, itr_last_error());
    bad = 1;
done:
    itr_cuda_sgraf_destroy(cu);
    itr_config_free(&opt);
    itr_weights_free(&w);
    free(img_emb), free(cap_emb), free(sims);
    return bad;
}

int main(int argc, char **argv) {
    inputs in = {16, 24, NULL, NULL, NULL};
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) in.n_img = 4, in.n_cap = 6;
        else if (strcmp(argv[a], "--full") == 0) in.n_img = 1000, in.n_cap = 5000;
        else {
            fprintf(stderr, "usage: bench_cuda_sgraf [--quick | --full]\n");
            return 2;
        }
    }
    itr_cuda_device dev;
    if (!itr_cuda_available() || itr_cuda_device_info(&dev)) {
        fprintf(stderr, "bench_cuda_sgraf: no CUDA device: %s\n", itr_last_error());
        return 1;
    }
    printf("{\"bench\":\"cuda_sgraf_device\",\"device\":\"%s\",\"emulated\":%d,\"backend\":\"%s\",\"cc\":\"%d.%d\","
           "\"sm_count\":%d,\"clock_khz\":%d,\"mem_clock_khz\":%d,\"fp32_peak_gflops\":%.1f,\"fast_mode\":%d}\n",
           dev.name, dev.emulated, itr_cuda_backend_kind(), dev.cc_major, dev.cc_minor, dev.sm_count, dev.clock_khz,
           dev.mem_clock_khz, dev.fp32_peak_gflops, itr_cuda_fast());
    fflush(stdout);
    in.images = malloc((size_t)(in.n_img * R * IMG_DIM) * sizeof *in.images);
    in.ids = malloc((size_t)(in.n_cap * L) * sizeof *in.ids);
    in.len = malloc((size_t)in.n_cap * sizeof *in.len);
    if (!in.images || !in.ids || !in.len) {
        fprintf(stderr, "bench_cuda_sgraf: out of memory\n");
        return 1;
    }
    /* features >= 0 like ReLU'd Faster R-CNN outputs; ids <start> w.. <end> */
    for (int64_t k = 0; k < in.n_img * R * IMG_DIM; k++) in.images[k] = urand() + 1.0f;
    for (int64_t k = 0; k < in.n_cap * L; k++) in.ids[k] = (int64_t)((urand() + 1.0f) * 0.5f * (VOCAB - 1));
    for (int64_t j = 0; j < in.n_cap; j++) in.len[j] = L;
    int bad = bench_module(ITR_SGRAF_SGR, &in, &dev);
    bad |= bench_module(ITR_SGRAF_SAF, &in, &dev);
    free(in.images), free(in.ids), free(in.len);
    return bad;
}
