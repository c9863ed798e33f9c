/* bert.c - a readable BERT encoder (HuggingFace BertModel), eval forward.
 * Spec: specs/vsepp_vseinfty.md s2.7. Sizes come from the checkpoint; the
 * head count is not stored there and is passed in (default hidden / 64).
 *
 *   E0 = LN_emb( Word[id_t] + Pos[t] + Type[0] )
 *   per layer:
 *     A = concat_h softmax( Q_h K_h^T / sqrt(dh) ) V_h
 *     E = LN_att( A Wo^T + bo + E )
 *     E = LN_out( GELU(E W1^T + b1) W2^T + b2 + E )
 * One unpadded sequence at a time: padded keys get weight exactly 0 in float32
 * upstream (additive -10000 mask), so the valid rows are identical. */
#include "itr/models/bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itr/ops.h"

void itr_layernorm_rows(float *x, int64_t n, int64_t d, const float *g, const float *b, float eps) {
    for (int64_t i = 0; i < n; i++) {
        float *r = x + i * d;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < d; c++) mean += r[c];
        mean /= (double)d;
        for (int64_t c = 0; c < d; c++) var += ((double)r[c] - mean) * ((double)r[c] - mean);
        var /= (double)d;   /* biased variance */
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int64_t c = 0; c < d; c++) r[c] = (float)(((double)r[c] - mean) * inv) * g[c] + b[c];
    }
}

void itr_gelu_erf(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

static const float *get(itr_weights *w, const char *group, const char *pfx, const char *name, int ndim,
                        const int64_t *shape) {
    char k[320];   /* prefixes are at most 256 bytes (itr_bert_load) */
    snprintf(k, sizeof k, "%s%s", pfx, name);
    return itr_weights_f32(w, group, k, ndim, shape);
}

static void load_layer(itr_bert_layer *l, itr_weights *w, const char *group, const char *pfx, int64_t H,
                       int64_t F) {
    l->q_w = get(w, group, pfx, "attention.self.query.weight", 2, (int64_t[]){H, H});
    l->q_b = get(w, group, pfx, "attention.self.query.bias", 1, (int64_t[]){H});
    l->k_w = get(w, group, pfx, "attention.self.key.weight", 2, (int64_t[]){H, H});
    l->k_b = get(w, group, pfx, "attention.self.key.bias", 1, (int64_t[]){H});
    l->v_w = get(w, group, pfx, "attention.self.value.weight", 2, (int64_t[]){H, H});
    l->v_b = get(w, group, pfx, "attention.self.value.bias", 1, (int64_t[]){H});
    l->ao_w = get(w, group, pfx, "attention.output.dense.weight", 2, (int64_t[]){H, H});
    l->ao_b = get(w, group, pfx, "attention.output.dense.bias", 1, (int64_t[]){H});
    l->ln1_g = get(w, group, pfx, "attention.output.LayerNorm.weight", 1, (int64_t[]){H});
    l->ln1_b = get(w, group, pfx, "attention.output.LayerNorm.bias", 1, (int64_t[]){H});
    l->ff1_w = get(w, group, pfx, "intermediate.dense.weight", 2, (int64_t[]){F, H});
    l->ff1_b = get(w, group, pfx, "intermediate.dense.bias", 1, (int64_t[]){F});
    l->ff2_w = get(w, group, pfx, "output.dense.weight", 2, (int64_t[]){H, F});
    l->ff2_b = get(w, group, pfx, "output.dense.bias", 1, (int64_t[]){H});
    l->ln2_g = get(w, group, pfx, "output.LayerNorm.weight", 1, (int64_t[]){H});
    l->ln2_b = get(w, group, pfx, "output.LayerNorm.bias", 1, (int64_t[]){H});
}

itr_status itr_bert_load(itr_bert *b, itr_weights *w, const char *group, const char *prefix, int64_t n_heads,
                         float ln_eps) {
    char k[256], pfx[256];
    const itr_tensor *t;
    memset(b, 0, sizeof *b);
    if (strlen(prefix) > 180) return itr_fail(ITR_E_ARG, "bert: key prefix '%.40s...' too long", prefix);
    snprintf(k, sizeof k, "%sembeddings.word_embeddings.weight", prefix);
    if (itr_weights_get(w, group, k, 2, (int64_t[]){-1, -1}, &t)) return ITR_E_KEY;
    b->vocab = t->shape[0];
    b->hidden = t->shape[1];
    b->word = itr_f32(t);
    int64_t H = b->hidden;
    snprintf(k, sizeof k, "%sembeddings.position_embeddings.weight", prefix);
    if (itr_weights_get(w, group, k, 2, (int64_t[]){-1, H}, &t)) return ITR_E_KEY;
    b->max_pos = t->shape[0];
    b->pos = itr_f32(t);
    snprintf(k, sizeof k, "%sembeddings.token_type_embeddings.weight", prefix);
    if (itr_weights_get(w, group, k, 2, (int64_t[]){-1, H}, &t)) return ITR_E_KEY;
    b->n_types = t->shape[0];
    b->type = itr_f32(t);
    b->emb_ln_g = get(w, group, prefix, "embeddings.LayerNorm.weight", 1, (int64_t[]){H});
    b->emb_ln_b = get(w, group, prefix, "embeddings.LayerNorm.bias", 1, (int64_t[]){H});
    /* transformers 3.x-4.30 re-saves add the int64 buffer 0..max_pos-1: unused. */
    snprintf(k, sizeof k, "%sembeddings.position_ids", prefix);
    itr_weights_ignore(w, group, k);
    /* The pooler (tanh on [CLS]) is in the checkpoint but VSE-inf never uses it. */
    snprintf(k, sizeof k, "%spooler.dense.weight", prefix);
    itr_weights_ignore(w, group, k);
    snprintf(k, sizeof k, "%spooler.dense.bias", prefix);
    itr_weights_ignore(w, group, k);

    snprintf(k, sizeof k, "%sencoder.layer.0.intermediate.dense.weight", prefix);
    if (itr_weights_get(w, group, k, 2, (int64_t[]){-1, H}, &t)) return ITR_E_KEY;
    b->ffn = t->shape[0];
    for (int i = 0;; i++) {
        snprintf(k, sizeof k, "%sencoder.layer.%d.attention.self.query.weight", prefix, i);
        if (!itr_weights_has(w, group, k)) break;
        if (i >= ITR_BERT_MAX_LAYERS)
            return itr_fail(ITR_E_LIMIT, "bert: %s: more than %d layers", w->source ? w->source : "weights",
                            ITR_BERT_MAX_LAYERS);
        snprintf(pfx, sizeof pfx, "%sencoder.layer.%d.", prefix, i);
        load_layer(&b->layers[i], w, group, pfx, H, b->ffn);
        b->n_layers = i + 1;
    }
    b->n_heads = n_heads > 0 ? n_heads : H / 64;
    if (b->n_heads < 1 || H % b->n_heads != 0)
        return itr_fail(ITR_E_SHAPE, "bert: hidden size %lld is not divisible into %lld heads", (long long)H,
                        (long long)b->n_heads);
    b->ln_eps = ln_eps > 0 ? ln_eps : ITR_BERT_LN_EPS_DEFAULT;
    return b->emb_ln_g && b->emb_ln_b ? ITR_OK : ITR_E_KEY;
}

/* Multi-head self-attention of x (L, H) into ctx (L, H); q/k/v scratch (L, H),
 * s scratch (L, L). */
static void self_attention(const itr_bert *b, const itr_bert_layer *l, const float *x, int64_t L, float *q,
                           float *k, float *v, float *s, float *ctx) {
    int64_t H = b->hidden, nh = b->n_heads, dh = H / nh;
    float scale = (float)sqrt((double)dh);
    itr_linear(x, L, H, l->q_w, l->q_b, H, q);
    itr_linear(x, L, H, l->k_w, l->k_b, H, k);
    itr_linear(x, L, H, l->v_w, l->v_b, H, v);
    for (int64_t h = 0; h < nh; h++) {
        /* s = Q_h K_h^T, then / sqrt(dh) (upstream divides after the matmul) */
        itr_sgemm(0, 1, L, L, dh, 1.0f, q + h * dh, H, k + h * dh, H, 0.0f, s, L);
        for (int64_t i = 0; i < L * L; i++) s[i] /= scale;
        itr_softmax_axis(s, L, L, 1);
        itr_sgemm(0, 0, L, dh, L, 1.0f, s, L, v + h * dh, H, 0.0f, ctx + h * dh, H);
    }
}

itr_status itr_bert_forward(const itr_bert *b, const int64_t *ids, int64_t L, float *out) {
    int64_t H = b->hidden, F = b->ffn;
    if (L < 1 || L > b->max_pos)
        return itr_fail(ITR_E_ARG, "bert: sequence length %lld outside 1..%lld", (long long)L,
                        (long long)b->max_pos);
    float *q = malloc((size_t)(4 * L * H + L * L + L * F) * sizeof *q);
    if (!q) return itr_fail(ITR_E_NOMEM, "bert: out of memory for a sequence of %lld", (long long)L);
    float *k = q + L * H, *v = k + L * H, *ctx = v + L * H, *s = ctx + L * H, *ff = s + L * L;
    itr_status st = itr_embedding(b->word, b->vocab, H, ids, L, out);
    if (st) goto done;
    for (int64_t t = 0; t < L; t++)
        for (int64_t c = 0; c < H; c++) out[t * H + c] = (out[t * H + c] + b->pos[t * H + c]) + b->type[c];
    itr_layernorm_rows(out, L, H, b->emb_ln_g, b->emb_ln_b, b->ln_eps);
    for (int i = 0; i < b->n_layers; i++) {
        const itr_bert_layer *l = &b->layers[i];
        self_attention(b, l, out, L, q, k, v, s, ctx);
        itr_linear(ctx, L, H, l->ao_w, l->ao_b, H, q);
        for (int64_t j = 0; j < L * H; j++) out[j] = q[j] + out[j];
        itr_layernorm_rows(out, L, H, l->ln1_g, l->ln1_b, b->ln_eps);
        itr_linear(out, L, H, l->ff1_w, l->ff1_b, F, ff);
        itr_gelu_erf(ff, L * F);
        itr_linear(ff, L, F, l->ff2_w, l->ff2_b, H, q);
        for (int64_t j = 0; j < L * H; j++) out[j] = q[j] + out[j];
        itr_layernorm_rows(out, L, H, l->ln2_g, l->ln2_b, b->ln_eps);
    }
done:
    free(q);
    return st;
}
