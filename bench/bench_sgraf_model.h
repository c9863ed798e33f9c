/* bench_sgraf_model.h - a random SGRAF / SCAN-shaped checkpoint at the real
 * default sizes, shared by bench_sims.c (reference) and bench_cuda_sgraf.c
 * (CUDA): PyTorch-like uniform init, BatchNorm at its init, stored in an
 * itr_weights store so the models' own loaders read it. Static functions
 * for the bench programs only (each includes it once). */
#ifndef ITR_BENCH_SGRAF_MODEL_H
#define ITR_BENCH_SGRAF_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "itr/models/sgraf.h"
#include "itr/weights.h"

/* Real sizes: 36 regions x 2048 features, embed 1024, sim 256, 12-word
 * captions, word_dim 300, SGR 3 steps. */
enum { R = 36, IMG_DIM = 2048, D = 1024, P = 256, L = 12, WORD = 300, STEPS = 3 };

/* xorshift64*: reproducible uniform numbers in [-1, 1). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float urand(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    return (float)((double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static int add_filled(itr_weights *w, const char *g, const char *key, int ndim, const int64_t *shape, float scale,
                      float constant) {
    itr_tensor t;
    if (itr_tensor_alloc(&t, ITR_F32, ndim, shape)) return 1;
    float *v = t.data;
    for (int64_t k = 0; k < itr_tensor_numel(&t); k++) v[k] = constant + scale * urand();
    return itr_weights_add(w, g, key, &t) != ITR_OK;
}

/* Linear(in, out): U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
static int add_linear(itr_weights *w, const char *g, const char *prefix, int64_t out, int64_t in) {
    char key[128];
    float s = 1.0f / sqrtf((float)in);
    int bad = 0;
    snprintf(key, sizeof key, "%s.weight", prefix);
    bad |= add_filled(w, g, key, 2, (int64_t[]){out, in}, s, 0.0f);
    snprintf(key, sizeof key, "%s.bias", prefix);
    bad |= add_filled(w, g, key, 1, (int64_t[]){out}, s, 0.0f);
    return bad;
}

/* BatchNorm at its init: mean 0, var 1, gamma 1, beta 0. */
static int add_bn(itr_weights *w, const char *prefix, int64_t c) {
    const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
    const float values[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    char key[128];
    int bad = 0;
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "%s.%s", prefix, names[k]);
        bad |= add_filled(w, "2", key, 1, (int64_t[]){c}, 0.0f, values[k]);
    }
    return bad;
}

/* GRU "prefix" word_dim -> D, one layer, forward (+ reverse when bi). */
static int add_gru(itr_weights *w, const char *prefix, int bi) {
    char key[128];
    float s = 1.0f / sqrtf((float)D);
    int bad = 0;
    for (int d = 0; d < (bi ? 2 : 1); d++) {
        const char *suf = d ? "_reverse" : "";
        snprintf(key, sizeof key, "%sweight_ih_l0%s", prefix, suf);
        bad |= add_filled(w, "1", key, 2, (int64_t[]){3 * D, WORD}, s, 0.0f);
        snprintf(key, sizeof key, "%sweight_hh_l0%s", prefix, suf);
        bad |= add_filled(w, "1", key, 2, (int64_t[]){3 * D, D}, s, 0.0f);
        snprintf(key, sizeof key, "%sbias_ih_l0%s", prefix, suf);
        bad |= add_filled(w, "1", key, 1, (int64_t[]){3 * D}, s, 0.0f);
        snprintf(key, sizeof key, "%sbias_hh_l0%s", prefix, suf);
        bad |= add_filled(w, "1", key, 1, (int64_t[]){3 * D}, s, 0.0f);
    }
    return bad;
}

/* The whole SGRAF checkpoint (groups "0" image encoder, "1" text encoder,
 * "2" sim_enc) for `module`, vocabulary of `vocab` words; weights named `name`. */
static int sgraf_weights(itr_weights *w, itr_sgraf_module module, int64_t vocab, const char *name) {
    int bad = 0;
    char prefix[64];
    itr_weights_init(w, name);
    bad |= add_linear(w, "0", "fc", D, IMG_DIM);
    bad |= add_filled(w, "1", "embed.weight", 2, (int64_t[]){vocab, WORD}, 0.1f, 0.0f);
    bad |= add_gru(w, "cap_rnn.", 1);
    bad |= add_linear(w, "2", "v_global_w.embedding_local.0", D, D);
    bad |= add_bn(w, "v_global_w.embedding_local.1", R);
    bad |= add_linear(w, "2", "v_global_w.embedding_global.0", D, D);
    bad |= add_bn(w, "v_global_w.embedding_global.1", D);
    bad |= add_linear(w, "2", "v_global_w.embedding_common.0", 1, D);
    bad |= add_linear(w, "2", "t_global_w.embedding_local.0", D, D);
    bad |= add_linear(w, "2", "t_global_w.embedding_global.0", D, D);
    bad |= add_linear(w, "2", "t_global_w.embedding_common.0", 1, D);
    bad |= add_linear(w, "2", "sim_tranloc_w", P, D);
    bad |= add_linear(w, "2", "sim_tranglo_w", P, D);
    bad |= add_linear(w, "2", "sim_eval_w", 1, P);
    if (module == ITR_SGRAF_SGR) {
        for (int k = 0; k < STEPS; k++) {
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_query_w", k);
            bad |= add_linear(w, "2", prefix, P, P);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_key_w", k);
            bad |= add_linear(w, "2", prefix, P, P);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.sim_graph_w", k);
            bad |= add_linear(w, "2", prefix, P, P);
        }
    } else {
        bad |= add_linear(w, "2", "SAF_module.attn_sim_w", 1, P);
        bad |= add_bn(w, "SAF_module.bn", 1);
    }
    return bad;
}

#endif
