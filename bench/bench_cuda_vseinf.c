/* bench_cuda_vseinf.c - throughput of the VSE-infinity encoders on CUDA
 * (include/itr/cuda/vseinf.h) and in the reference, at the released model
 * sizes, with a correctness check of CUDA against ref.
 *
 *   bench_cuda_vseinf [--quick] [--ref-only]
 *
 * One JSON object per line on stdout (bench/README.md):
 *   {"bench":"cuda_vseinf","part":"images","backend":"cuda","items_per_s":...,"pct_fp32_peak":...,"ok":true,...}
 * Parts (full sizes):
 *   images  36 regions x 2048 -> 1024, MLP 2048 -> 512 -> 1024 (BN, ReLU), GPO, L2Ne
 *   bigru   captions of 32 tokens, word 300 -> BiGRU 1024 (directions averaged), GPO
 *   bert    captions of 32 tokens through BERT-base (hidden 768, 12 layers, 12
 *           heads, FFN 3072, vocab 30522), linear 768 -> 1024, GPO
 * --quick: small models for CI (the emulated build runs it in seconds).
 * Timed: whole host-API calls (upload, every kernel, download) on n items,
 * CUDA the best of `repeats` after a warm-up call, ref one call on n_ref
 * items (the reference is per item, so its rate does not depend on n).
 * Correctness: the first n_ref embeddings of CUDA vs ref, |err| <= 1e-5 abs
 * or 1e-4 rel ("ok"). Weights are random (PyTorch-like uniform init, BN
 * near its init); inputs are random features / ids. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itr/cuda.h"
#include "itr/cuda/vseinf.h"

typedef struct sizes {
    int64_t R, img_dim, E, Hm;                 /* images                */
    int64_t V, W, T;                           /* BiGRU text, tokens     */
    int64_t bV, bH, bF, bP, bheads;            /* BERT                   */
    int blayers;
    int64_t n_img, n_cap, n_bert, n_ref;       /* items per timed call   */
    int repeats;
} sizes;

static const sizes FULL = {36, 2048, 1024, 512, 10000, 300, 32, 30522, 768, 3072, 512, 12, 12,
                           1024, 1024, 512, 8, 3};
static const sizes QUICK = {6, 48, 32, 16, 41, 16, 8, 110, 32, 64, 16, 2, 2, 12, 12, 12, 4, 2};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(void) {   /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (float)((double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* Every array the random model owns (freed at exit). */
static float **g_owned;
static int g_n_owned, g_cap_owned;

static float *filled(int64_t n, float scale, float offset) {
    if (g_n_owned == g_cap_owned) {
        int cap = g_cap_owned ? 2 * g_cap_owned : 256;
        float **p = realloc(g_owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        g_owned = p;
        g_cap_owned = cap;
    }
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return NULL;
    for (int64_t i = 0; i < n; i++) x[i] = offset + scale * urand();
    g_owned[g_n_owned++] = x;
    return x;
}

#define NEED(p)                                                  \
    do {                                                         \
        if (!(p)) {                                              \
            fprintf(stderr, "bench_cuda_vseinf: out of memory\n"); \
            exit(1);                                             \
        }                                                        \
    } while (0)

static void make_gru(itr_gru *g, int64_t in, int64_t H) {
    memset(g, 0, sizeof *g);
    g->input_size = in, g->hidden = H, g->num_layers = 1, g->num_dirs = 2;
    float k = 1.0f / sqrtf((float)H);
    for (int d = 0; d < 2; d++) {
        NEED(g->w_ih[0][d] = filled(3 * H * in, k, 0));
        NEED(g->w_hh[0][d] = filled(3 * H * H, k, 0));
        NEED(g->b_ih[0][d] = filled(3 * H, k, 0));
        NEED(g->b_hh[0][d] = filled(3 * H, k, 0));
    }
}

static void make_gpo(itr_gpo *g) {
    make_gru(&g->gru, ITR_GPO_D_PE, ITR_GPO_D_HIDDEN);
    NEED(g->lin_w = filled(ITR_GPO_D_HIDDEN, 1.0f / sqrtf(ITR_GPO_D_HIDDEN), 0));
}

static void make_bert(itr_bert *b, const sizes *s) {
    int64_t H = s->bH, F = s->bF;
    memset(b, 0, sizeof *b);
    b->vocab = s->bV, b->hidden = H, b->ffn = F, b->max_pos = s->bP, b->n_types = 2, b->n_heads = s->bheads;
    b->n_layers = s->blayers, b->ln_eps = 1e-12f;
    NEED(b->word = filled(s->bV * H, 0.05f, 0));
    NEED(b->pos = filled(s->bP * H, 0.05f, 0));
    NEED(b->type = filled(2 * H, 0.05f, 0));
    NEED(b->emb_ln_g = filled(H, 0.1f, 1.0f));
    NEED(b->emb_ln_b = filled(H, 0.05f, 0));
    float kh = 1.0f / sqrtf((float)H), kf = 1.0f / sqrtf((float)F);
    for (int i = 0; i < s->blayers; i++) {
        itr_bert_layer *l = &b->layers[i];
        NEED(l->q_w = filled(H * H, kh, 0)); NEED(l->q_b = filled(H, kh, 0));
        NEED(l->k_w = filled(H * H, kh, 0)); NEED(l->k_b = filled(H, kh, 0));
        NEED(l->v_w = filled(H * H, kh, 0)); NEED(l->v_b = filled(H, kh, 0));
        NEED(l->ao_w = filled(H * H, kh, 0)); NEED(l->ao_b = filled(H, kh, 0));
        NEED(l->ln1_g = filled(H, 0.1f, 1.0f)); NEED(l->ln1_b = filled(H, 0.05f, 0));
        NEED(l->ff1_w = filled(F * H, kh, 0)); NEED(l->ff1_b = filled(F, kh, 0));
        NEED(l->ff2_w = filled(H * F, kf, 0)); NEED(l->ff2_b = filled(H, kf, 0));
        NEED(l->ln2_g = filled(H, 0.1f, 1.0f)); NEED(l->ln2_b = filled(H, 0.05f, 0));
    }
}

/* The image encoder and a BiGRU (bert = 0) or BERT (bert = 1) text side. */
static void make_model(itr_vseinf *m, const sizes *s, int bert) {
    int64_t D = s->img_dim, E = s->E, Hm = s->Hm;
    memset(m, 0, sizeof *m);
    m->text = bert ? ITR_VSEINF_BERT : ITR_VSEINF_BIGRU;
    m->img_dim = D, m->embed_size = E, m->mlp_hidden = Hm, m->word_dim = s->W, m->vocab_size = s->V;
    float kd = 1.0f / sqrtf((float)D), km = 1.0f / sqrtf((float)Hm);
    NEED(m->fc_w = filled(E * D, kd, 0)); NEED(m->fc_b = filled(E, kd, 0));
    NEED(m->l0_w = filled(Hm * D, kd, 0)); NEED(m->l0_b = filled(Hm, kd, 0));
    NEED(m->bn_mean = filled(Hm, 0.1f, 0)); NEED(m->bn_var = filled(Hm, 0.1f, 1.0f));
    NEED(m->bn_w = filled(Hm, 0.1f, 1.0f)); NEED(m->bn_b = filled(Hm, 0.1f, 0));
    NEED(m->l1_w = filled(E * Hm, km, 0)); NEED(m->l1_b = filled(E, km, 0));
    make_gpo(&m->img_gpo);
    make_gpo(&m->txt_gpo);
    if (bert) {
        make_bert(&m->bert, s);
        float kh = 1.0f / sqrtf((float)s->bH);
        NEED(m->lin_w = filled(E * s->bH, kh, 0)); NEED(m->lin_b = filled(E, kh, 0));
    } else {
        NEED(m->embed = filled(s->V * s->W, 1.0f, 0));
        make_gru(&m->rnn, s->W, E);
    }
}

/* GEMM FLOPs of one item (element-wise work not counted). */
static double item_flops(const sizes *s, const char *part) {
    double T = (double)s->T, E = (double)s->E;
    if (!strcmp(part, "images"))
        return 2.0 * s->R * ((double)s->img_dim * E + (double)s->img_dim * s->Hm + (double)s->Hm * E);
    if (!strcmp(part, "bigru")) return 2.0 * 2.0 * T * 3.0 * E * ((double)s->W + E);
    double H = (double)s->bH, F = (double)s->bF;
    return s->blayers * (2.0 * T * H * 3.0 * H + 4.0 * T * T * H + 2.0 * T * H * H + 4.0 * T * H * F) + 2.0 * T * H * E;
}

typedef struct run_result {
    double seconds;
    int ran;
} run_result;

/* Encodes n items of `part` with CUDA (cm) or ref (m) into emb. */
static itr_status encode(const char *part, const itr_vseinf *m, itr_cuda_vseinf *cm, const float *img,
                         const int64_t *ids, const int64_t *len, int64_t n, const sizes *s, float *emb) {
    if (!strcmp(part, "images"))
        return cm ? itr_cuda_vseinf_encode_images(cm, img, len, n, s->R, emb, NULL, NULL, NULL)
                  : itr_vseinf_encode_images(m, img, len, n, s->R, emb, NULL, NULL, NULL);
    return cm ? itr_cuda_vseinf_encode_captions(cm, ids, len, n, s->T, emb, NULL, NULL, NULL, NULL)
              : itr_vseinf_encode_captions(m, ids, len, n, s->T, emb, NULL, NULL, NULL, NULL);
}

static void print_row(const char *part, const char *backend, const itr_cuda_device *dev, const sizes *s, int64_t n,
                      double sec, double max_abs, double max_rel, int ok) {
    double rate = sec > 0 ? (double)n / sec : 0.0, gflops = rate * item_flops(s, part) / 1e9;
    double pct = dev->fp32_peak_gflops > 0 && !strcmp(backend, "cuda") ? 100.0 * gflops / dev->fp32_peak_gflops : 0.0;
    printf("{\"bench\":\"cuda_vseinf\",\"part\":\"%s\",\"backend\":\"%s\",\"device\":\"%s\",\"cuda_kind\":\"%s\","
           "\"sm_clock_mhz\":%d,\"n\":%lld,\"R\":%lld,\"img_dim\":%lld,\"embed\":%lld,\"T\":%lld,",
           part, backend, !strcmp(backend, "cuda") ? dev->name : "cpu", itr_cuda_backend_kind(), dev->clock_khz / 1000,
           (long long)n, (long long)s->R, (long long)s->img_dim, (long long)s->E, (long long)s->T);
    if (!strcmp(part, "bert"))
        printf("\"bert_hidden\":%lld,\"bert_layers\":%d,\"bert_heads\":%lld,", (long long)s->bH, s->blayers,
               (long long)s->bheads);
    printf("\"seconds\":%.6f,\"items_per_s\":%.2f,\"mflop_per_item\":%.2f,\"gflops\":%.2f,\"pct_fp32_peak\":%.2f,"
           "\"fast_mode\":%d,\"check_items\":%lld,\"max_abs_err\":%.3e,\"max_rel_err\":%.3e,\"ok\":%s}\n",
           sec, rate, item_flops(s, part) / 1e6, gflops, pct, itr_cuda_fast(), (long long)s->n_ref, max_abs, max_rel,
           ok ? "true" : "false");
    fflush(stdout);
}

static int bench_part(const char *part, const sizes *s, const itr_cuda_device *dev, int ref_only) {
    itr_vseinf m;
    int bert = !strcmp(part, "bert");
    make_model(&m, s, bert);
    int images = !strcmp(part, "images");
    int64_t n = images ? s->n_img : bert ? s->n_bert : s->n_cap, E = s->E, nref = s->n_ref < n ? s->n_ref : n;
    int64_t vocab = bert ? s->bV : s->V;
    float *img = images ? malloc((size_t)(n * s->R * s->img_dim) * sizeof(float)) : NULL;
    int64_t *ids = images ? NULL : malloc((size_t)(n * s->T) * sizeof(int64_t));
    int64_t *len = malloc((size_t)n * sizeof(int64_t));
    float *emb = malloc((size_t)(n * E) * sizeof(float)), *ref = malloc((size_t)(nref * E) * sizeof(float));
    NEED(len && emb && ref && (images ? img != NULL : ids != NULL));
    for (int64_t i = 0; i < n; i++) len[i] = images ? s->R : s->T;
    if (images)
        for (int64_t i = 0; i < n * s->R * s->img_dim; i++) img[i] = urand();
    else
        for (int64_t i = 0; i < n * s->T; i++) ids[i] = 1 + (int64_t)((urand() + 1.0f) * 0.5f * (float)(vocab - 2));
    itr_cuda_vseinf *cm = NULL;
    int rc = 1;
    double best = 0.0;
    if (ref_only) {   /* the reference alone (e.g. its full-size rates on a machine without a GPU) */
        double t0 = now_s();
        if (encode(part, &m, NULL, img, ids, len, nref, s, ref)) goto fail;
        print_row(part, "ref", dev, s, nref, now_s() - t0, 0.0, 0.0, 1);
        rc = 0;
        goto done;
    }
    if (itr_cuda_vseinf_create(&m, &cm) || encode(part, &m, cm, img, ids, len, n, s, emb)) goto fail;
    for (int r = 0; r < s->repeats; r++) {
        double t0 = now_s();
        if (encode(part, &m, cm, img, ids, len, n, s, emb)) goto fail;
        double dt = now_s() - t0;
        if (r == 0 || dt < best) best = dt;
    }
    double t0 = now_s();
    if (encode(part, &m, NULL, img, ids, len, nref, s, ref)) goto fail;
    double ref_sec = now_s() - t0, max_abs = 0.0, max_rel = 0.0;
    int ok = 1;
    for (int64_t i = 0; i < nref * E; i++) {
        double a = fabs((double)emb[i] - ref[i]), r = a / (fabs(ref[i]) > 1e-30 ? fabs(ref[i]) : 1e-30);
        if (!(a <= max_abs)) max_abs = a;
        if (fabs(ref[i]) > 1e-6 && !(r <= max_rel)) max_rel = r;
        if (!(a <= 1e-5 || r <= 1e-4)) ok = 0;
    }
    print_row(part, "cuda", dev, s, n, best, max_abs, max_rel, ok);
    print_row(part, "ref", dev, s, nref, ref_sec, 0.0, 0.0, 1);
    rc = ok ? 0 : 2;
    goto done;
fail:
    fprintf(stderr, "bench_cuda_vseinf: %s: %s\n", part, itr_last_error());
done:
    itr_cuda_vseinf_destroy(cm);
    free(img), free(ids), free(len), free(emb), free(ref);
    for (int i = 0; i < g_n_owned; i++) free(g_owned[i]);
    g_n_owned = 0;
    return rc;
}

int main(int argc, char **argv) {
    int quick = 0, ref_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--ref-only")) ref_only = 1;
        else {
            fprintf(stderr, "usage: bench_cuda_vseinf [--quick] [--ref-only]\n");
            return 2;
        }
    }
    itr_cuda_device dev;
    memset(&dev, 0, sizeof dev);
    if (!ref_only && !itr_cuda_available()) {
        fprintf(stderr, "bench_cuda_vseinf: no CUDA device\n");
        return 77;
    }
    if (!ref_only && itr_cuda_device_info(&dev)) {
        fprintf(stderr, "bench_cuda_vseinf: %s\n", itr_last_error());
        return 1;
    }
    const sizes *s = quick ? &QUICK : &FULL;
    int rc = 0;
    static const char *parts[3] = {"images", "bigru", "bert"};
    for (int p = 0; p < 3; p++) {
        int r = bench_part(parts[p], s, &dev, ref_only);
        if (r > rc) rc = r;
    }
    free(g_owned);
    return rc;
}
