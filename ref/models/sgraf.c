/* sgraf.c - SGRAF (Diao et al. 2021; Paranioar/SGRAF): SGR and SAF at evaluation.
 *
 * Spec: specs/scan_sgraf.md. Notation: R regions (36), D = embed_size,
 * P = sim_dim, L = caption length including <start>/<end>. Everything runs in
 * float32 as upstream does at evaluation (s4.6); the final matrix is stored
 * as float64 holding float32 values.
 *
 *   l2n(x) = x / (||x|| + 1e-8)        l1n(x) = x / (sum|x| + 1e-8)     (s4.1)
 *   image   (s4.2): V = F W_fc^T + b_fc, V_r = l2n(V_r) unless no_imgnorm
 *   caption (s4.3): T_t = (fwd_t + bwd_t)/2 (bi_gru) or h_t, l2n unless no_txtnorm
 *   VisualSA / TextSA, pair network: see the functions below (s4.5). */
#include "itr/models/sgraf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef ITR_USE_CBLAS
#include <cblas.h>
#endif

static const char *IMG = "0";   /* checkpoint['model'][0] = img_enc */
static const char *TXT = "1";   /* checkpoint['model'][1] = txt_enc */
static const char *SIM = "2";   /* checkpoint['model'][2] = sim_enc */

static const float L2_EPS = 1e-8f;   /* s2.3: added after the sqrt */
static const float BN_EPS = 1e-5f;   /* s2.3: PyTorch BatchNorm default */
/* QUIRK(G6): SCAN_attention is called with smooth = 9 and clipped_l2norm,
 * hard-coded; SGRAF's opt has no lambda_softmax / raw_feature_norm. */
static const float ATTN_SMOOTH = 9.0f;
static const float LRELU_SLOPE = 0.1f;

/* ---- loading ------------------------------------------------------------ */

/* A Linear "prefix.weight" (out, in) and "prefix.bias" (out) of group g. */
static void get_linear(itr_weights *w, const char *g, const char *prefix, int64_t out, int64_t in,
                       const float **W, const float **b) {
    char key[160];
    snprintf(key, sizeof key, "%s.weight", prefix);
    *W = itr_weights_f32(w, g, key, 2, (int64_t[]){out, in});
    snprintf(key, sizeof key, "%s.bias", prefix);
    *b = itr_weights_f32(w, g, key, 1, (int64_t[]){out});
}

/* A BatchNorm1d(c) "prefix.{weight,bias,running_mean,running_var}"; its
 * num_batches_tracked (absent in pre-0.4.1 saves, s3) is ignored. */
static void get_bn(itr_weights *w, const char *prefix, int64_t c, itr_sgraf_bn *bn) {
    char key[160];
    const int64_t shape[1] = {c};
    snprintf(key, sizeof key, "%s.weight", prefix);
    bn->gamma = itr_weights_f32(w, SIM, key, 1, shape);
    snprintf(key, sizeof key, "%s.bias", prefix);
    bn->beta = itr_weights_f32(w, SIM, key, 1, shape);
    snprintf(key, sizeof key, "%s.running_mean", prefix);
    bn->mean = itr_weights_f32(w, SIM, key, 1, shape);
    snprintf(key, sizeof key, "%s.running_var", prefix);
    bn->var = itr_weights_f32(w, SIM, key, 1, shape);
    snprintf(key, sizeof key, "%s.num_batches_tracked", prefix);
    itr_weights_ignore(w, SIM, key);
}

/* Sizes inferred from the tensors (s2.4); a size missing here is reported
 * with every other problem by itr_weights_finish. */
static itr_status infer_sizes(itr_sgraf_config *c, itr_weights *w) {
    const itr_tensor *t;
    itr_status st;
    if ((st = itr_weights_get(w, IMG, "fc.weight", 2, (int64_t[]){-1, -1}, &t))) return st;
    c->embed_size = t->shape[0];
    c->img_dim = t->shape[1];
    if ((st = itr_weights_get(w, TXT, "embed.weight", 2, (int64_t[]){-1, -1}, &t))) return st;
    c->vocab_size = t->shape[0];
    c->word_dim = t->shape[1];
    if ((st = itr_weights_get(w, SIM, "sim_tranloc_w.weight", 2, (int64_t[]){-1, c->embed_size}, &t)))
        return st;
    c->sim_dim = t->shape[0];
    /* QUIRK(G3): BatchNorm1d(36) over the region index fixes R. */
    if ((st = itr_weights_get(w, SIM, "v_global_w.embedding_local.1.weight", 1, (int64_t[]){-1}, &t))) return st;
    c->n_regions = t->shape[0];
    c->bi_gru = itr_weights_has(w, TXT, "cap_rnn.weight_ih_l0_reverse");
    /* Defaults for opt fields that the keys also reveal (s2.4): layers =
     * count of weight_ih_l{k}, module from SAF_module.*, steps = count of
     * SGR_module.{k}. opt, when it has them, must agree (read_opt). */
    char key[64];
    for (c->num_layers = 0; c->num_layers < ITR_GRU_MAX_LAYERS; c->num_layers++) {
        snprintf(key, sizeof key, "cap_rnn.weight_ih_l%d", c->num_layers);
        if (!itr_weights_has(w, TXT, key)) break;
    }
    c->module = itr_weights_has(w, SIM, "SAF_module.attn_sim_w.weight") ? ITR_SGRAF_SAF : ITR_SGRAF_SGR;
    for (c->sgr_step = 0; c->sgr_step < ITR_SGRAF_MAX_STEPS; c->sgr_step++) {
        snprintf(key, sizeof key, "SGR_module.%d.graph_query_w.weight", c->sgr_step);
        if (!itr_weights_has(w, SIM, key)) break;
    }
    return ITR_OK;
}

/* Options not inferable from tensors (s2.4), and cross-checks of those that are. */
static itr_status read_opt(itr_sgraf_config *c, const itr_config *opt) {
    itr_status st;
    const char *name;
    int64_t v;
    int b;
    if ((st = itr_config_get_str(opt, "module_name", c->module == ITR_SGRAF_SAF ? "SAF" : "SGR", &name))) return st;
    if (strcmp(name, "SGR") == 0) c->module = ITR_SGRAF_SGR;
    else if (strcmp(name, "SAF") == 0) c->module = ITR_SGRAF_SAF;
    else return itr_fail(ITR_E_UNSUPPORTED, "opt.module_name = '%s' is neither SGR nor SAF", name);
    if ((st = itr_config_get_int(opt, "sgr_step", c->sgr_step, &v))) return st;
    if (c->module == ITR_SGRAF_SGR && (v < 1 || v > ITR_SGRAF_MAX_STEPS))
        return itr_fail(ITR_E_UNSUPPORTED, "opt.sgr_step = %lld outside 1..%d", (long long)v, ITR_SGRAF_MAX_STEPS);
    if (c->module == ITR_SGRAF_SGR && v != c->sgr_step)
        return itr_fail(ITR_E_SHAPE, "opt.sgr_step = %lld but the checkpoint has SGR_module.0..%d", (long long)v,
                        c->sgr_step - 1);
    c->sgr_step = (int)v;
    if ((st = itr_config_get_int(opt, "num_layers", c->num_layers, &v))) return st;
    if (v < 1 || v > ITR_GRU_MAX_LAYERS)
        return itr_fail(ITR_E_UNSUPPORTED, "opt.num_layers = %lld outside 1..%d", (long long)v, ITR_GRU_MAX_LAYERS);
    c->num_layers = (int)v;
    /* QUIRK(G1): upstream's --bi_gru is store_false (default True); opt holds
     * the resulting value, which must agree with the "_reverse" keys. */
    if ((st = itr_config_get_bool(opt, "bi_gru", c->bi_gru, &b))) return st;
    if (b != c->bi_gru)
        return itr_fail(ITR_E_SHAPE, "opt.bi_gru = %d but the checkpoint %s cap_rnn.*_reverse keys", b,
                        c->bi_gru ? "has" : "has no");
    if ((st = itr_config_get_bool(opt, "no_imgnorm", 0, &c->no_imgnorm))) return st;
    if ((st = itr_config_get_bool(opt, "no_txtnorm", 0, &c->no_txtnorm))) return st;
    const char *fields[4] = {"embed_size", "img_dim", "word_dim", "sim_dim"};
    const int64_t sizes[4] = {c->embed_size, c->img_dim, c->word_dim, c->sim_dim};
    for (int i = 0; i < 4; i++)
        if ((st = itr_config_check_size(opt, fields[i], sizes[i]))) return st;
    return ITR_OK;
}

itr_status itr_sgraf_load(itr_sgraf *m, const itr_config *opt, itr_weights *w) {
    itr_status st;
    memset(m, 0, sizeof *m);
    itr_sgraf_config *c = &m->cfg;
    itr_weights_begin(w);
    if ((st = infer_sizes(c, w))) return itr_weights_finish(w, ITR_LENIENT);
    if ((st = read_opt(c, opt))) return st;
    int64_t D = c->embed_size, P = c->sim_dim, R = c->n_regions;

    get_linear(w, IMG, "fc", D, c->img_dim, &m->fc_w, &m->fc_b);
    m->embed = itr_weights_f32(w, TXT, "embed.weight", 2, (int64_t[]){c->vocab_size, c->word_dim});
    itr_gru_load(&m->gru, w, TXT, "cap_rnn.", c->word_dim, D, c->num_layers, c->bi_gru);

    /* VisualSA: embedding_local = Linear, BN(R), Tanh; embedding_global =
     * Linear, BN(D), Tanh; embedding_common = Linear(D, 1). TextSA: no BN. */
    get_linear(w, SIM, "v_global_w.embedding_local.0", D, D, &m->vsa.loc_w, &m->vsa.loc_b);
    get_bn(w, "v_global_w.embedding_local.1", R, &m->vsa.loc_bn);
    get_linear(w, SIM, "v_global_w.embedding_global.0", D, D, &m->vsa.glo_w, &m->vsa.glo_b);
    get_bn(w, "v_global_w.embedding_global.1", D, &m->vsa.glo_bn);
    get_linear(w, SIM, "v_global_w.embedding_common.0", 1, D, &m->vsa.com_w, &m->vsa.com_b);
    get_linear(w, SIM, "t_global_w.embedding_local.0", D, D, &m->tsa.loc_w, &m->tsa.loc_b);
    get_linear(w, SIM, "t_global_w.embedding_global.0", D, D, &m->tsa.glo_w, &m->tsa.glo_b);
    get_linear(w, SIM, "t_global_w.embedding_common.0", 1, D, &m->tsa.com_w, &m->tsa.com_b);

    get_linear(w, SIM, "sim_tranloc_w", P, D, &m->tranloc_w, &m->tranloc_b);
    get_linear(w, SIM, "sim_tranglo_w", P, D, &m->tranglo_w, &m->tranglo_b);
    get_linear(w, SIM, "sim_eval_w", 1, P, &m->eval_w, &m->eval_b);
    if (c->module == ITR_SGRAF_SGR) {
        char prefix[64];
        for (int k = 0; k < c->sgr_step; k++) {
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_query_w", k);
            get_linear(w, SIM, prefix, P, P, &m->q_w[k], &m->q_b[k]);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.graph_key_w", k);
            get_linear(w, SIM, prefix, P, P, &m->k_w[k], &m->k_b[k]);
            snprintf(prefix, sizeof prefix, "SGR_module.%d.sim_graph_w", k);
            get_linear(w, SIM, prefix, P, P, &m->g_w[k], &m->g_b[k]);
        }
    } else {
        get_linear(w, SIM, "SAF_module.attn_sim_w", 1, P, &m->saf_w, &m->saf_b);
        get_bn(w, "SAF_module.bn", 1, &m->saf_bn);
    }
    /* Strict, as load_state_dict: an extra SGR_module.{k} (sgr_step too
     * small) or a leftover key of the other module is reported by name. */
    return itr_weights_finish(w, ITR_STRICT);
}

/* ---- encoders (s4.2, s4.3) ---------------------------------------------- */

itr_status itr_sgraf_encode_images(const itr_sgraf *m, const float *images, int64_t n, float *img_emb) {
    const itr_sgraf_config *c = &m->cfg;
    if (n < 1) return itr_fail(ITR_E_SHAPE, "SGRAF: no images to encode");
    int64_t rows = n * c->n_regions;
    /* QUIRK(C1): the raw region features enter fc unnormalised. */
    itr_linear(images, rows, c->img_dim, m->fc_w, m->fc_b, c->embed_size, img_emb);
    if (!c->no_imgnorm) itr_l2norm_rows(img_emb, rows, c->embed_size, ITR_EPS_ADD, L2_EPS);
    return ITR_OK;
}

itr_status itr_sgraf_encode_captions(const itr_sgraf *m, const int64_t *captions, const int64_t *lengths,
                                     int64_t n, int64_t T, float *cap_emb) {
    const itr_sgraf_config *c = &m->cfg;
    int64_t D = c->embed_size, W = c->word_dim, dirs = c->bi_gru ? 2 : 1;
    if (n < 1 || T < 1) return itr_fail(ITR_E_SHAPE, "SGRAF: no captions to encode");
    float *x = malloc((size_t)(n * T * W) * sizeof *x);
    float *out = malloc((size_t)(n * T * dirs * D) * sizeof *out);
    itr_status st = ITR_OK;
    if (!x || !out) {
        st = itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for %lld captions", (long long)n);
        goto done;
    }
    /* X = embed[ids] (dropout = identity at evaluation); the packed GRU runs
     * over each caption's own L steps. */
    if ((st = itr_embedding(m->embed, c->vocab_size, W, captions, n * T, x))) goto done;
    if ((st = itr_gru_forward(&m->gru, x, lengths, n, T, out, NULL))) goto done;
    for (int64_t i = 0; i < n * T; i++) {
        const float *o = out + i * dirs * D;
        float *e = cap_emb + i * D;
        for (int64_t k = 0; k < D; k++) e[k] = c->bi_gru ? (o[k] + o[D + k]) / 2.0f : o[k];
    }
    /* l2n of each valid word; positions beyond L stay 0 (pad_packed_sequence). */
    if (!c->no_txtnorm)
        for (int64_t i = 0; i < n; i++) itr_l2norm_rows(cap_emb + i * T * D, lengths[i], D, ITR_EPS_ADD, L2_EPS);
done:
    free(x);
    free(out);
    return st;
}

/* ---- global vectors (s4.5 VisualSA / TextSA) ------------------------------
 *   xbar = mean_r X_r
 *   Lx = tanh([BN_r](X W_l^T + b_l))       gx = tanh([BN_f](W_g xbar + b_g))
 *   alpha = softmax_r(w_c . (Lx_r * gx) + b_c)
 *   glo = l2n(sum_r alpha_r X_r)           (pooled over X, not Lx) */
/* Lx_given: X W_l^T + b_l when the caller already has it (itr_sgraf_sims
 * runs the local linear of many images / captions as one GEMM), else NULL. */
static itr_status self_attention(const itr_sgraf_sa *sa, int visual, const float *X, int64_t n, int64_t D,
                                 const float *Lx_given, float *glo) {
    float *Lx = malloc((size_t)(n * D) * sizeof *Lx);
    float *mean = malloc((size_t)D * sizeof *mean);
    float *gx = malloc((size_t)D * sizeof *gx);
    float *alpha = malloc((size_t)n * sizeof *alpha);
    itr_status st = ITR_OK;
    if (!Lx || !mean || !gx || !alpha) {
        st = itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for self-attention over %lld items", (long long)n);
        goto done;
    }
    for (int64_t k = 0; k < D; k++) {
        float s = 0.0f;
        for (int64_t r = 0; r < n; r++) s += X[r * D + k];
        mean[k] = s / (float)n;
    }
    if (Lx_given) memcpy(Lx, Lx_given, (size_t)(n * D) * sizeof *Lx);
    else itr_linear(X, n, D, sa->loc_w, sa->loc_b, D, Lx);
    itr_linear(mean, 1, D, sa->glo_w, sa->glo_b, D, gx);
    if (visual) {
        /* QUIRK(G3): BatchNorm1d(36) on (n_img, 36, D): channel = region r,
         * the same statistics for all D features of row r. */
        const itr_sgraf_bn *b = &sa->loc_bn;
        itr_batchnorm_eval(Lx, 1, n, D, b->mean, b->var, b->gamma, b->beta, BN_EPS);
        b = &sa->glo_bn;   /* BatchNorm1d(D) on (n_img, D): per feature */
        itr_batchnorm_eval(gx, 1, D, 1, b->mean, b->var, b->gamma, b->beta, BN_EPS);
    }
    itr_tanh_inplace(Lx, n * D);
    itr_tanh_inplace(gx, D);
    for (int64_t r = 0; r < n; r++) {
        float e = sa->com_b[0];
        for (int64_t k = 0; k < D; k++) e += sa->com_w[k] * Lx[r * D + k] * gx[k];
        alpha[r] = e;
    }
    itr_softmax_axis(alpha, 1, n, 1);
    for (int64_t k = 0; k < D; k++) {
        float s = 0.0f;
        for (int64_t r = 0; r < n; r++) s += alpha[r] * X[r * D + k];
        glo[k] = s;
    }
    itr_l2norm_rows(glo, 1, D, ITR_EPS_ADD, L2_EPS);
done:
    free(Lx);
    free(mean);
    free(gx);
    free(alpha);
    return st;
}

itr_status itr_sgraf_visual_sa(const itr_sgraf *m, const float *V, float *v_glo) {
    return self_attention(&m->vsa, 1, V, m->cfg.n_regions, m->cfg.embed_size, NULL, v_glo);
}

itr_status itr_sgraf_text_sa(const itr_sgraf *m, const float *T, int64_t L, float *t_glo) {
    if (L < 1) return itr_fail(ITR_E_SHAPE, "SGRAF: TextSA of a caption of length %lld", (long long)L);
    return self_attention(&m->tsa, 0, T, L, m->cfg.embed_size, NULL, t_glo);
}

/* ---- SCAN_attention, t2i with SGRAF's settings (s4.5 pair step 1) ---------
 *   S = V T^T (R, L);  S = lrelu_0.1(S);  S_r = l2n(S_r) across the L words
 *   A_l = softmax_r(9 S[:, l]);  c_l = l2n(sum_r A_{l,r} V_r)
 * QUIRK(G2): the attended context is re-normalised (SCAN does not). */
void itr_sgraf_attention(const float *T, int64_t L, const float *V, int64_t R, int64_t D, float *ctx,
                         float *scratch) {
    float *S = scratch;   /* (R, L) */
    itr_sgemm(0, 1, R, L, D, 1.0f, V, D, T, D, 0.0f, S, L);
    itr_leaky_relu(S, R * L, LRELU_SLOPE);
    itr_l2norm_rows(S, R, L, ITR_EPS_ADD, L2_EPS);
    for (int64_t i = 0; i < R * L; i++) S[i] *= ATTN_SMOOTH;
    /* softmax over regions for each word: axis 0 of (R, L) = (1, R, L) view */
    itr_softmax_axis(S, 1, R, L);
    /* ctx (L, D) = S^T V */
    itr_sgemm(1, 0, L, D, R, 1.0f, S, L, V, D, 0.0f, ctx, D);
    itr_l2norm_rows(ctx, L, D, ITR_EPS_ADD, L2_EPS);
}

/* ---- pair network (s4.5 pair steps 2-7) ---------------------------------- */

int64_t itr_sgraf_pair_scratch(const itr_sgraf *m, int64_t L) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, P = m->cfg.sim_dim, N = L + 1;
    /* S (R L) | ctx (L D) | diff (D) | X, Q, K, EX (N P each) | E (N N) */
    return R * L + L * D + D + 4 * N * P + N * N;
}

/* SGR (QUIRK(G4)): for each step k
 *   Q = X W_q^T + b_q,  K = X W_k^T + b_k,  E = softmax_row(Q K^T)  (no 1/sqrt(P))
 *   X = relu((E X) W_g^T + b_g)          -> v = X[0], the global node */
static void sgr_reason(const itr_sgraf *m, float *X, int64_t N, float *Q, float *K, float *EX, float *E) {
    int64_t P = m->cfg.sim_dim;
    for (int k = 0; k < m->cfg.sgr_step; k++) {
        itr_linear(X, N, P, m->q_w[k], m->q_b[k], P, Q);
        itr_linear(X, N, P, m->k_w[k], m->k_b[k], P, K);
        itr_sgemm(0, 1, N, N, P, 1.0f, Q, P, K, P, 0.0f, E, N);
        itr_softmax_axis(E, N, N, 1);
        itr_sgemm(0, 0, N, P, N, 1.0f, E, N, X, P, 0.0f, EX, P);
        itr_linear(EX, N, P, m->g_w[k], m->g_b[k], P, X);
        itr_relu(X, N * P);
    }
}

/* SAF (QUIRK(G5)): a_j = BN_1(w_a . X_j + b_a);  g = l1n(sigmoid(a)) over
 * all N = L + 1 nodes (global node included);  v = l2n(sum_j g_j X_j). */
static void saf_filter(const itr_sgraf *m, const float *X, int64_t N, float *a, float *v) {
    int64_t P = m->cfg.sim_dim;
    const itr_sgraf_bn *b = &m->saf_bn;
    itr_linear(X, N, P, m->saf_w, m->saf_b, 1, a);
    itr_batchnorm_eval(a, 1, 1, N, b->mean, b->var, b->gamma, b->beta, BN_EPS);
    itr_sigmoid_inplace(a, N);
    itr_l1norm_axis(a, 1, N, 1, ITR_EPS_ADD, L2_EPS);
    for (int64_t p = 0; p < P; p++) {
        float s = 0.0f;
        for (int64_t j = 0; j < N; j++) s += a[j] * X[j * P + p];
        v[p] = s;
    }
    itr_l2norm_rows(v, 1, P, ITR_EPS_ADD, L2_EPS);
}

float itr_sgraf_pair_score(const itr_sgraf *m, const float *V, const float *v_glo, const float *T, int64_t L,
                           const float *t_glo, float *scratch) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, P = m->cfg.sim_dim, N = L + 1;
    float *S = scratch, *ctx = S + R * L, *diff = ctx + L * D, *X = diff + D, *Q = X + N * P, *K = Q + N * P,
          *EX = K + N * P, *E = EX + N * P;
    itr_sgraf_attention(T, L, V, R, D, ctx, S);
    /* QUIRK(G2): alignment features are squared differences.
     * Local nodes s_l = l2n(W_loc (c_l - T_l)^2 + b_loc), rows 1..L of X. */
    for (int64_t i = 0; i < L * D; i++) {
        float d = ctx[i] - T[i];
        ctx[i] = d * d;
    }
    itr_linear(ctx, L, D, m->tranloc_w, m->tranloc_b, P, X + P);
    /* Global node s_g = l2n(W_glo (v_glo - t_glo)^2 + b_glo), row 0 of X. */
    for (int64_t k = 0; k < D; k++) {
        float d = v_glo[k] - t_glo[k];
        diff[k] = d * d;
    }
    itr_linear(diff, 1, D, m->tranglo_w, m->tranglo_b, P, X);
    itr_l2norm_rows(X, N, P, ITR_EPS_ADD, L2_EPS);

    const float *v = X;   /* SGR reads node 0 out of the reasoned graph */
    if (m->cfg.module == ITR_SGRAF_SGR) sgr_reason(m, X, N, Q, K, EX, E);
    else {
        saf_filter(m, X, N, E, Q);   /* E: gate buffer (N), Q: pooled vector (P) */
        v = Q;
    }
    /* score = sigmoid(w_e . v + b_e) */
    float z = m->eval_b[0];
    for (int64_t p = 0; p < P; p++) z += m->eval_w[p] * v[p];
    return itr_sigmoidf(z);
}

/* ---- full matrix (s5.3): batched tiles ------------------------------------
 * Pairs are independent, so v_glo / t_glo are computed once per image /
 * caption instead of once per shard as upstream (identical values).
 *
 * itr_sgraf_pair_score above is the readable one-pair form. For the matrix,
 * one image is scored against a block of up to SGRAF_TILE captions at once so
 * that every weight matrix meets many rows in one GEMM (as upstream, which
 * batches the images of a shard for each caption). The captions' words are
 * packed densely once (no padding: a block's words are one contiguous range
 * of rows, word_off[j] .. word_off[j+1]), so the attention is two
 * (R x words) GEMMs against the one image and W_loc, W_glo and the SGR
 * linears run on all nodes of the block. Node rows of caption b in a tile:
 * its global node at node_off(b) = (word_off[b] - word_off[0]) + b, then its
 * words. The per-pair steps (row norms over a caption's own words,
 * E = softmax(Q K^T), SAF gates) stay per pair.
 *
 * SGR edges through one folded matrix (exact algebra, different rounding):
 *   E_ij = softmax_j( (W_q x_i + b_q) . (W_k x_j + b_k) )
 *        = softmax_j( x_i^T (W_q^T W_k) x_j + (W_k^T b_q) . x_j + [terms constant in j] )
 *        = softmax_j( (x_i^T M + c^T) x_j ),   M = W_q^T W_k (P x P), c = W_k^T b_q,
 * since softmax over j ignores the terms x_i^T W_q^T b_k and b_q . b_k. One
 * P x P GEMM over the nodes replaces two (the query and key linears). */
enum { SGRAF_TILE = 64, SGRAF_IMG_GROUP = 4 };

typedef struct sgraf_fold {
    float *M[ITR_SGRAF_MAX_STEPS];   /* (P, P) W_q^T W_k of step k */
    float *c[ITR_SGRAF_MAX_STEPS];   /* (P)    W_k^T b_q          */
} sgraf_fold;

typedef struct sgraf_tile_ws {
    float *S;            /* (G R, W)   attention logits of the group's images */
    float *ctx;          /* (W, D)     attended contexts, then squared diffs  */
    float *diff;         /* (nb, D)    squared global differences             */
    float *loc, *glo;    /* (W, P), (nb, P)                                   */
    float *X, *Y, *EX;   /* (W + nb, P) node matrices; Y = X M + c            */
    float *E;            /* (Lmax+1, Lmax+1) one pair's edges; SAF: its gates */
    float *v;            /* (P) SAF pooled vector                             */
} sgraf_tile_ws;

/* Floats of one tile workspace: blocks hold at most max_words words. */
static int64_t tile_ws_floats(const itr_sgraf *m, int64_t max_words, int64_t max_len) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, P = m->cfg.sim_dim, W = max_words;
    int64_t nodes = (W + SGRAF_TILE) * P;
    return SGRAF_IMG_GROUP * R * W + W * D + SGRAF_TILE * D + W * P + SGRAF_TILE * P + 3 * nodes +
           (max_len + 1) * (max_len + 1) + P;
}

static sgraf_tile_ws tile_ws_carve(const itr_sgraf *m, int64_t max_words, int64_t max_len, float *base) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, P = m->cfg.sim_dim, W = max_words;
    int64_t nodes = (W + SGRAF_TILE) * P;
    sgraf_tile_ws ws;
    ws.S = base;
    ws.ctx = ws.S + SGRAF_IMG_GROUP * R * W;
    ws.diff = ws.ctx + W * D;
    ws.loc = ws.diff + SGRAF_TILE * D;
    ws.glo = ws.loc + W * P;
    ws.X = ws.glo + SGRAF_TILE * P;
    ws.Y = ws.X + nodes;
    ws.EX = ws.Y + nodes;
    ws.E = ws.EX + nodes;
    ws.v = ws.E + (max_len + 1) * (max_len + 1);
    return ws;
}

/* SGR over the tile's node matrix (sgr_reason with the folded edges). */
static void sgr_reason_tile(const itr_sgraf *m, const sgraf_fold *f, const int64_t *word_off, int64_t nb,
                            int64_t n_nodes, sgraf_tile_ws *ws) {
    int64_t P = m->cfg.sim_dim;
    for (int k = 0; k < m->cfg.sgr_step; k++) {
        /* Y = X M + 1 c^T over every node of the block */
        itr_sgemm(0, 0, n_nodes, P, P, 1.0f, ws->X, P, f->M[k], P, 0.0f, ws->Y, P);
        for (int64_t r = 0; r < n_nodes; r++)
            for (int64_t p = 0; p < P; p++) ws->Y[r * P + p] += f->c[k][p];
        for (int64_t b = 0; b < nb; b++) {
            int64_t N = word_off[b + 1] - word_off[b] + 1, o = (word_off[b] - word_off[0] + b) * P;
            itr_sgemm(0, 1, N, N, P, 1.0f, ws->Y + o, P, ws->X + o, P, 0.0f, ws->E, N);
            itr_softmax_axis(ws->E, N, N, 1);
            itr_sgemm(0, 0, N, P, N, 1.0f, ws->E, N, ws->X + o, P, 0.0f, ws->EX + o, P);
        }
        itr_linear(ws->EX, n_nodes, P, m->g_w[k], m->g_b[k], P, ws->X);
        itr_relu(ws->X, n_nodes * P);
    }
}

/* Image V (R, D) with v_glo against the nb captions whose packed words are
 * rows word_off[0] .. word_off[nb] of `words` (word_off relative to `words`),
 * t_glo (nb, D) -> out[b]. Same steps as itr_sgraf_pair_score. S (R, W)
 * holds the image's raw attention logits V C^T (score_group computes them). */
static void score_tile(const itr_sgraf *m, const sgraf_fold *f, const float *V, const float *vg, float *S,
                       const float *words, const int64_t *word_off, int64_t nb, const float *tg, double *out,
                       sgraf_tile_ws *ws) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, P = m->cfg.sim_dim;
    int64_t w0 = word_off[0], W = word_off[nb] - w0, n_nodes = W + nb;
    const float *C = words + w0 * D;
    /* attention (itr_sgraf_attention) of all the block's words over the one image */
    itr_leaky_relu(S, R * W, LRELU_SLOPE);
    for (int64_t r = 0; r < R; r++)   /* each region's row, over each caption's own words */
        for (int64_t b = 0; b < nb; b++)
            itr_l2norm_rows(S + r * W + (word_off[b] - w0), 1, word_off[b + 1] - word_off[b], ITR_EPS_ADD, L2_EPS);
    for (int64_t i = 0; i < R * W; i++) S[i] *= ATTN_SMOOTH;
    itr_softmax_axis(S, 1, R, W);
    itr_sgemm(1, 0, W, D, R, 1.0f, S, W, V, D, 0.0f, ws->ctx, D);
    itr_l2norm_rows(ws->ctx, W, D, ITR_EPS_ADD, L2_EPS);
    /* QUIRK(G2): squared differences -> local and global nodes */
    for (int64_t i = 0; i < W * D; i++) {
        float d = ws->ctx[i] - C[i];
        ws->ctx[i] = d * d;
    }
    itr_linear(ws->ctx, W, D, m->tranloc_w, m->tranloc_b, P, ws->loc);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t k = 0; k < D; k++) {
            float d = vg[k] - tg[b * D + k];
            ws->diff[b * D + k] = d * d;
        }
    itr_linear(ws->diff, nb, D, m->tranglo_w, m->tranglo_b, P, ws->glo);
    /* node matrix of caption b: its global node, then its words' local nodes */
    for (int64_t b = 0; b < nb; b++) {
        int64_t len = word_off[b + 1] - word_off[b], wb = word_off[b] - w0;
        float *Xb = ws->X + (wb + b) * P;
        memcpy(Xb, ws->glo + b * P, (size_t)P * sizeof *Xb);
        memcpy(Xb + P, ws->loc + wb * P, (size_t)(len * P) * sizeof *Xb);
    }
    itr_l2norm_rows(ws->X, n_nodes, P, ITR_EPS_ADD, L2_EPS);
    if (m->cfg.module == ITR_SGRAF_SGR) sgr_reason_tile(m, f, word_off, nb, n_nodes, ws);
    for (int64_t b = 0; b < nb; b++) {
        const float *v = ws->X + (word_off[b] - w0 + b) * P;   /* SGR: node 0 */
        if (m->cfg.module == ITR_SGRAF_SAF) {
            saf_filter(m, v, word_off[b + 1] - word_off[b] + 1, ws->E, ws->v);
            v = ws->v;
        }
        float z = m->eval_b[0];
        for (int64_t p = 0; p < P; p++) z += m->eval_w[p] * v[p];
        out[b] = (double)itr_sigmoidf(z);
    }
}

/* A group of ng <= SGRAF_IMG_GROUP consecutive images against one caption
 * block: the attention logits of all ng * R regions come from ONE GEMM, so
 * the block's words are packed by OpenBLAS once per group instead of once
 * per 36-row image (with M = 36 that packing costs about as much as the
 * multiply). Image g's logits are rows g*R .. g*R + R - 1 of ws->S. */
static void score_group(const itr_sgraf *m, const sgraf_fold *f, const float *V, int64_t ng, const float *vg,
                        const float *words, const int64_t *word_off, int64_t nb, const float *tg, double *out,
                        int64_t out_stride, sgraf_tile_ws *ws) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, W = word_off[nb] - word_off[0];
    itr_sgemm(0, 1, ng * R, W, D, 1.0f, V, D, words + word_off[0] * D, D, 0.0f, ws->S, W);
    for (int64_t g = 0; g < ng; g++)
        score_tile(m, f, V + g * R * D, vg + g * D, ws->S + g * R * W, words, word_off, nb, tg, out + g * out_stride,
                   ws);
}

/* Parallelism (OpenMP, when built with it): the (image group, caption block) tiles
 * are split across threads, each with its own workspace. A tile's result
 * does not depend on which thread runs it, so the matrix is bit-identical for
 * any thread count. OpenBLAS is held at one thread inside the parallel loop
 * (its own pool would only oversubscribe the cores). */
static void score_all_tiles(const itr_sgraf *m, const sgraf_fold *f, const float *img_emb, int64_t n_img,
                            const float *words, const int64_t *word_off, int64_t n_cap, int64_t max_words,
                            int64_t max_len, const float *vg, const float *tg, double *sims, float *ws_all,
                            int64_t per_thread) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size;
    int64_t n_blocks = (n_cap + SGRAF_TILE - 1) / SGRAF_TILE;
    int64_t n_groups = (n_img + SGRAF_IMG_GROUP - 1) / SGRAF_IMG_GROUP, n_tiles = n_groups * n_blocks;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int64_t t = 0; t < n_tiles; t++) {
        int64_t thread = 0;
#ifdef _OPENMP
        thread = omp_get_thread_num();
#endif
        sgraf_tile_ws ws = tile_ws_carve(m, max_words, max_len, ws_all + thread * per_thread);
        int64_t i = (t / n_blocks) * SGRAF_IMG_GROUP, j0 = (t % n_blocks) * SGRAF_TILE;
        int64_t ng = n_img - i < SGRAF_IMG_GROUP ? n_img - i : SGRAF_IMG_GROUP;
        int64_t nb = n_cap - j0 < SGRAF_TILE ? n_cap - j0 : SGRAF_TILE;
        score_group(m, f, img_emb + i * R * D, ng, vg + i * D, words, word_off + j0, nb, tg + j0 * D,
                    sims + i * n_cap + j0, n_cap, &ws);
    }
}

/* The folded SGR edge matrices of every step (see above); NULL arrays for SAF. */
static itr_status fold_edges(const itr_sgraf *m, sgraf_fold *f) {
    int64_t P = m->cfg.sim_dim;
    memset(f, 0, sizeof *f);
    if (m->cfg.module != ITR_SGRAF_SGR) return ITR_OK;
    for (int k = 0; k < m->cfg.sgr_step; k++) {
        f->M[k] = malloc((size_t)(P * P + P) * sizeof(float));
        if (!f->M[k]) return itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for the folded edge matrices");
        f->c[k] = f->M[k] + P * P;
        /* M = W_q^T W_k, c = W_k^T b_q (W_q, W_k are (P_out, P_in) as nn.Linear stores them) */
        itr_sgemm(1, 0, P, P, P, 1.0f, m->q_w[k], P, m->k_w[k], P, 0.0f, f->M[k], P);
        itr_sgemm(1, 0, P, 1, P, 1.0f, m->k_w[k], P, m->q_b[k], 1, 0.0f, f->c[k], 1);
    }
    return ITR_OK;
}

static void fold_free(sgraf_fold *f) {
    for (int k = 0; k < ITR_SGRAF_MAX_STEPS; k++) free(f->M[k]);
}

/* Packs the captions' words densely: words (sum of lengths, D), word_off
 * (n_cap + 1); returns the most words any SGRAF_TILE block holds. */
static int64_t pack_words(const float *cap_emb, const int64_t *lengths, int64_t n_cap, int64_t T, int64_t D,
                          float *words, int64_t *word_off) {
    int64_t max_words = 0;
    word_off[0] = 0;
    for (int64_t j = 0; j < n_cap; j++) {
        memcpy(words + word_off[j] * D, cap_emb + j * T * D, (size_t)(lengths[j] * D) * sizeof *words);
        word_off[j + 1] = word_off[j] + lengths[j];
    }
    for (int64_t j0 = 0; j0 < n_cap; j0 += SGRAF_TILE) {
        int64_t j1 = j0 + SGRAF_TILE < n_cap ? j0 + SGRAF_TILE : n_cap;
        if (word_off[j1] - word_off[j0] > max_words) max_words = word_off[j1] - word_off[j0];
    }
    return max_words;
}

/* v_glo of every image and t_glo of every caption (itr_sgraf_visual_sa /
 * text_sa), with the (D x D) local linear run over SA_CHUNK images or
 * captions at once: one image alone is a 36-row GEMM that mostly packs W_l. */
enum { SA_CHUNK = 32 };
static itr_status global_vectors(const itr_sgraf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                                 const int64_t *lengths, int64_t n_cap, int64_t T, float *vg, float *tg) {
    int64_t R = m->cfg.n_regions, D = m->cfg.embed_size, rows = SA_CHUNK * (R > T ? R : T);
    float *Lx = malloc((size_t)(rows * D) * sizeof *Lx);
    itr_status st = ITR_OK;
    if (!Lx) return itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for %lld local rows", (long long)rows);
    for (int64_t i0 = 0; i0 < n_img && !st; i0 += SA_CHUNK) {
        int64_t nb = n_img - i0 < SA_CHUNK ? n_img - i0 : SA_CHUNK;
        itr_linear(img_emb + i0 * R * D, nb * R, D, m->vsa.loc_w, m->vsa.loc_b, D, Lx);
        for (int64_t i = 0; i < nb && !st; i++)
            st = self_attention(&m->vsa, 1, img_emb + (i0 + i) * R * D, R, D, Lx + i * R * D, vg + (i0 + i) * D);
    }
    for (int64_t j0 = 0; j0 < n_cap && !st; j0 += SA_CHUNK) {
        int64_t nb = n_cap - j0 < SA_CHUNK ? n_cap - j0 : SA_CHUNK;
        itr_linear(cap_emb + j0 * T * D, nb * T, D, m->tsa.loc_w, m->tsa.loc_b, D, Lx);   /* padding rows unused */
        for (int64_t j = 0; j < nb && !st; j++)
            st = self_attention(&m->tsa, 0, cap_emb + (j0 + j) * T * D, lengths[j0 + j], D, Lx + j * T * D,
                                tg + (j0 + j) * D);
    }
    free(Lx);
    return st;
}

itr_status itr_sgraf_sims(const itr_sgraf *m, const float *img_emb, int64_t n_img, const float *cap_emb,
                          const int64_t *lengths, int64_t n_cap, int64_t T, double *sims, float *img_glo,
                          float *cap_glo) {
    int64_t D = m->cfg.embed_size, max_len = 0, n_words = 0;
    if (n_img < 1 || n_cap < 1) return itr_fail(ITR_E_SHAPE, "SGRAF: sims of %lld images x %lld captions",
                                                (long long)n_img, (long long)n_cap);
    for (int64_t j = 0; j < n_cap; j++) {
        if (lengths[j] < 1 || lengths[j] > T)
            return itr_fail(ITR_E_SHAPE, "SGRAF: caption %lld has length %lld outside [1, %lld]", (long long)j,
                            (long long)lengths[j], (long long)T);
        if (lengths[j] > max_len) max_len = lengths[j];
        n_words += lengths[j];
    }
    int n_threads = 1;
#ifdef _OPENMP
    n_threads = omp_get_max_threads();
#endif
    sgraf_fold fold;
    float *vg = malloc((size_t)(n_img * D) * sizeof *vg);
    float *tg = malloc((size_t)(n_cap * D) * sizeof *tg);
    float *words = malloc((size_t)(n_words * D) * sizeof *words);
    int64_t *word_off = malloc((size_t)(n_cap + 1) * sizeof *word_off);
    float *ws = NULL;
    itr_status st = fold_edges(m, &fold);
    if (!st && (!vg || !tg || !words || !word_off))
        st = itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for %lld x %lld sims", (long long)n_img, (long long)n_cap);
    if (st) goto done;
    int64_t max_words = pack_words(cap_emb, lengths, n_cap, T, D, words, word_off);
    int64_t per_thread = tile_ws_floats(m, max_words, max_len);
    ws = malloc((size_t)(n_threads * per_thread) * sizeof *ws);
    if (!ws) {
        st = itr_fail(ITR_E_NOMEM, "SGRAF: out of memory for %d tile workspaces", n_threads);
        goto done;
    }
    if ((st = global_vectors(m, img_emb, n_img, cap_emb, lengths, n_cap, T, vg, tg))) goto done;
#ifdef ITR_USE_CBLAS
    int blas_threads = openblas_get_num_threads();
    if (n_threads > 1) openblas_set_num_threads(1);
#endif
    score_all_tiles(m, &fold, img_emb, n_img, words, word_off, n_cap, max_words, max_len, vg, tg, sims, ws,
                    per_thread);
#ifdef ITR_USE_CBLAS
    if (n_threads > 1) openblas_set_num_threads(blas_threads);
#endif
    if (img_glo) memcpy(img_glo, vg, (size_t)(n_img * D) * sizeof *vg);
    if (cap_glo) memcpy(cap_glo, tg, (size_t)(n_cap * D) * sizeof *tg);
done:
    fold_free(&fold);
    free(vg);
    free(tg);
    free(words);
    free(word_off);
    free(ws);
    return st;
}
