/* family_losses.c - golden cases of the training losses (fixtures/losses/,
 * contract in fixtures/GOLDEN_README.md section `losses/`).
 *
 * Root attribute `variant` names the loss; the hyper-parameters are root
 * attributes too (upstream defaults when absent). Every output is reported
 * under its /outputs name, computed by ref/losses (itr/losses.h):
 *   lmh_sgraf            S -> loss_<v>, grad_<v>, cost_s_<v>, cost_im_<v>
 *   lmh_vsepp            im, s -> sims, loss_<v>, grad_<v>_{im,s,sims}
 *   lmh_scan             im (B,R,d), s (B,L,d), s_l -> the same via SCAN's
 *                        cross attention (ref/losses/scan_sims.c)
 *   vseinf               im, s -> as lmh_vsepp with <v> = warmup | hardest
 *   lseh_<project>       S or (im, s), svd, ids, img_ids -> torch_cosine_sim,
 *                        map, SeMargin, loss_<v>[_s|_im], gradients
 *   vsl                  S, captions_text, ids, img_ids -> tfidf, cider
 *                        matrices, rank matrices, loss/grad of lmh|vsl|total
 *   luwm                 S -> loss_luwm ((1,) or 0-d), grad_luwm
 * with <v> = sum (max_violation False) | max_violation.
 * Backends: with c->backend == ITR_BACKEND_CUDA every loss value, gradient
 * and intermediate (score matrices, hinge costs, LSEH's torch_cosine_sim /
 * map / SeMargin, VSL's rank matrices) comes from the CUDA API
 * (itr/cuda/losses.h, same signatures as the reference). Only the text
 * statistics stay on the reference, because they are host-side inputs of
 * the CUDA losses: VSL's TF-IDF (tfidf, tfidf_for_*) and its image /
 * caption matrices (image_cider, caption_cider). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "itr/cuda/losses.h"
#include "itr/losses.h"
#include "families.h"

/* ---- the loss functions of a backend -------------------------------------- */

typedef struct loss_api {
    itr_status (*hinge)(const float *S, int64_t B, float margin, const float *margins, int hardest,
                        itr_hinge_result *res, float *cost_s, float *cost_im, float *dS);
    itr_status (*scores)(itr_measure m, const float *im, const float *s, int64_t B, int64_t d, float *S);
    itr_status (*scores_backward)(itr_measure m, const float *im, const float *s, int64_t B, int64_t d,
                                  const float *dS, float *dim, float *ds);
    itr_status (*scan_scores)(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                              const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, float *S);
    itr_status (*scan_backward)(const itr_scan_params *p, const float *im, int64_t R, const float *s,
                                const int64_t *s_l, int64_t Lmax, int64_t B, int64_t d, const float *dS,
                                float *dim, float *ds);
    itr_status (*lseh_semantic_scores)(const float *svd, int64_t B, int64_t n_svd, float *Shat);
    itr_status (*lseh_positive_map)(const int64_t *ids, const int64_t *img_ids, int64_t B, float *map);
    itr_status (*lseh_margins)(const float *Shat, const float *map, int64_t B, float a, float b, float *M);
    itr_status (*luwm)(const float *S, int64_t B, const itr_luwm_params *p, double *loss, int64_t *n_active,
                       float *dS);
    itr_status (*vsl_semantic)(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                               double *loss, float *Rs, float *Rc, float *dS);
    itr_status (*vsl_loss)(const float *S, const float *C, int64_t B, const itr_vsl_params *p,
                           itr_vsl_result *res, float *dS_lmh, float *dS_vsl, float *dS_total);
} loss_api;

static const loss_api REF_API = {
    itr_hinge_loss, itr_loss_scores, itr_loss_scores_backward, itr_scan_scores,
    itr_scan_scores_backward, itr_lseh_semantic_scores, itr_lseh_positive_map, itr_lseh_margins,
    itr_luwm_loss, itr_vsl_semantic_loss, itr_vsl_loss,
};

static const loss_api CUDA_API = {
    itr_cuda_hinge_loss, itr_cuda_loss_scores, itr_cuda_loss_scores_backward, itr_cuda_scan_scores,
    itr_cuda_scan_scores_backward, itr_cuda_lseh_semantic_scores, itr_cuda_lseh_positive_map,
    itr_cuda_lseh_margins, itr_cuda_luwm_loss, itr_cuda_vsl_semantic_loss, itr_cuda_vsl_loss,
};

static const loss_api *api_of(const itr_case *c) {
    return c->backend == ITR_BACKEND_CUDA ? &CUDA_API : &REF_API;
}

/* ---- reporting --------------------------------------------------------- */

static itr_status put_f32(itr_case *c, itr_probe *out, const char *name, int ndim,
                          const int64_t *shape, const float *v) {
    if (!itr_case_wants(c, name)) return ITR_OK;
    return itr_probe_put_raw(out, name, ITR_F32, ndim, shape, v);
}

static itr_status put_matrix(itr_case *c, itr_probe *out, const char *name, int64_t B,
                             const float *v) {
    int64_t shape[2] = {B, B};
    return put_f32(c, out, name, 2, shape, v);
}

/* A loss as upstream returns it: float32, 0-d. */
static itr_status put_loss(itr_case *c, itr_probe *out, const char *name, double v) {
    float f = (float)v;
    return put_f32(c, out, name, 0, NULL, &f);
}

/* name = base + "_" + suffix (suffix may be ""). */
static const char *join(char *buf, size_t n, const char *base, const char *suffix) {
    snprintf(buf, n, suffix[0] ? "%s_%s" : "%s", base, suffix);
    return buf;
}

/* 1 when any output of reduction v (loss_<v>, grad_<v>..., cost_*_<v>) is wanted. */
static int wants_any(itr_case *c, const char *v) {
    static const char *const pats[] = {"loss_%s", "grad_%s", "grad_%s_sims", "grad_%s_im",
                                       "grad_%s_s", "cost_s_%s", "cost_im_%s", "loss_%s_s",
                                       "loss_%s_im"};
    char name[128];
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        snprintf(name, sizeof name, pats[i], v);
        if (itr_case_wants(c, name)) return 1;
    }
    return 0;
}

/* The two reductions of every hinge loss and their output suffixes. */
typedef struct variant_names {
    const char *sum_name;        /* max_violation False */
    const char *hard_name;       /* max_violation True  */
} variant_names;

static const variant_names LMH_NAMES = {"sum", "max_violation"};
static const variant_names VSEINF_NAMES = {"warmup", "hardest"};

/* ---- reading inputs ---------------------------------------------------- */

static itr_status read_scores(itr_case *c, itr_tensor *S, int64_t *B) {
    char what[600];
    itr_status st = itr_case_input(c, "sims", ITR_F32, 2, S);
    if (st) return st;
    snprintf(what, sizeof what, "%s: /inputs/sims", c->path);
    return itr_loss_check_scores(S, what, B);
}

static itr_status read_embeddings(itr_case *c, itr_tensor *im, itr_tensor *s, int64_t *B,
                                  int64_t *d) {
    char what[600];
    itr_status st = itr_case_input(c, "im", ITR_F32, 2, im);
    if (!st) st = itr_case_input(c, "s", ITR_F32, 2, s);
    if (st) return st;
    snprintf(what, sizeof what, "%s: /inputs/im, /inputs/s", c->path);
    return itr_loss_check_embeddings(im, s, what, B, d);
}

/* int64 vector of length B. */
static itr_status read_ids(itr_case *c, const char *name, int64_t B, itr_tensor *t) {
    char buf[96];
    itr_status st = itr_case_input(c, name, ITR_I64, 1, t);
    if (st) return st;
    if (t->shape[0] != B)
        return itr_fail(ITR_E_SHAPE, "%s: /inputs/%s has shape %s, expected (%lld,)", c->path, name,
                        itr_shape_str(t->ndim, t->shape, buf, sizeof buf), (long long)B);
    return ITR_OK;
}

static itr_status read_measure(itr_case *c, itr_measure *m) {
    itr_status st = itr_measure_from_name(itr_case_attr_str(c, "measure", "cosine"), m);
    return st ? itr_fail_context(st, "%s: root attribute 'measure'", c->path) : ITR_OK;
}

/* ---- hinge losses on a score matrix or on embeddings -------------------- */

/* Reports one reduction of a hinge loss on a score matrix. */
static itr_status report_hinge_scores(itr_case *c, itr_probe *out, const char *v, int64_t B,
                                      const itr_hinge_result *r, const float *dS,
                                      const float *cost_s, const float *cost_im, int hardest) {
    char name[128];
    int64_t vec[1] = {B};
    itr_status st = put_loss(c, out, join(name, sizeof name, "loss", v), r->loss);
    if (!st) {
        snprintf(name, sizeof name, "loss_%s_s", v);
        st = put_loss(c, out, name, r->loss_s);
    }
    if (!st) {
        snprintf(name, sizeof name, "loss_%s_im", v);
        st = put_loss(c, out, name, r->loss_im);
    }
    if (!st && dS) st = put_matrix(c, out, join(name, sizeof name, "grad", v), B, dS);
    if (!st && cost_s) {
        snprintf(name, sizeof name, "cost_s_%s", v);
        st = hardest ? put_f32(c, out, name, 1, vec, cost_s) : put_matrix(c, out, name, B, cost_s);
    }
    if (!st && cost_im) {
        snprintf(name, sizeof name, "cost_im_%s", v);
        st = hardest ? put_f32(c, out, name, 1, vec, cost_im) : put_matrix(c, out, name, B, cost_im);
    }
    return st;
}

/* Hinge on the score matrix S with scalar margin or per-pair margins M. */
static itr_status run_hinge_on_scores(itr_case *c, itr_probe *out, const float *S, int64_t B,
                                      float margin, const float *M, const variant_names *vn) {
    size_t n = (size_t)(B * B);
    float *dS = malloc(n * sizeof *dS), *cs = malloc(n * sizeof *cs), *ci = malloc(n * sizeof *ci);
    itr_status st = ITR_OK;
    if (!dS || !cs || !ci) st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
    for (int hardest = 0; hardest < 2 && !st; hardest++) {
        const char *v = hardest ? vn->hard_name : vn->sum_name;
        if (!wants_any(c, v)) continue;
        itr_hinge_result r;
        st = api_of(c)->hinge(S, B, margin, M, hardest, &r, cs, ci, dS);
        if (!st) st = report_hinge_scores(c, out, v, B, &r, dS, cs, ci, hardest);
    }
    free(dS);
    free(cs);
    free(ci);
    return st;
}

/* Hinge on S = measure(im, s) (given as S_in when already built, e.g. by
 * SCAN), reporting sims, grad_<v>_sims and, through `back`, grad_<v>_im/_s. */
typedef itr_status (*scores_backward_fn)(void *ctx, const float *dS, float *dim, float *ds);

typedef struct measure_back {
    const loss_api *api;
    itr_measure m;
    const float *im, *s;
    int64_t B, d;
} measure_back;

static itr_status measure_backward(void *ctx, const float *dS, float *dim, float *ds) {
    measure_back *mb = ctx;
    return mb->api->scores_backward(mb->m, mb->im, mb->s, mb->B, mb->d, dS, dim, ds);
}

static itr_status run_hinge_on_embeddings(itr_case *c, itr_probe *out, const float *S, int64_t B,
                                          float margin, const float *M, const variant_names *vn,
                                          int ndim_e, const int64_t *shape_im,
                                          const int64_t *shape_s, scores_backward_fn back,
                                          void *back_ctx) {
    size_t n = (size_t)(B * B);
    int64_t nim = 1, ns = 1;
    for (int k = 0; k < ndim_e; k++) {
        nim *= shape_im[k];
        ns *= shape_s[k];
    }
    float *dS = malloc(n * sizeof *dS);
    float *gim = malloc((size_t)nim * sizeof *gim), *gs = malloc((size_t)ns * sizeof *gs);
    itr_status st = ITR_OK;
    if (!dS || !gim || !gs) st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
    if (!st) st = put_matrix(c, out, "sims", B, S);
    for (int hardest = 0; hardest < 2 && !st; hardest++) {
        const char *v = hardest ? vn->hard_name : vn->sum_name;
        if (!wants_any(c, v)) continue;
        itr_hinge_result r;
        char name[128];
        st = api_of(c)->hinge(S, B, margin, M, hardest, &r, NULL, NULL, dS);
        if (!st) st = report_hinge_scores(c, out, v, B, &r, NULL, NULL, NULL, hardest);
        if (!st) {
            snprintf(name, sizeof name, "grad_%s_sims", v);
            st = put_matrix(c, out, name, B, dS);
        }
        if (!st) st = back(back_ctx, dS, gim, gs);
        if (!st) {
            snprintf(name, sizeof name, "grad_%s_im", v);
            st = put_f32(c, out, name, ndim_e, shape_im, gim);
        }
        if (!st) {
            snprintf(name, sizeof name, "grad_%s_s", v);
            st = put_f32(c, out, name, ndim_e, shape_s, gs);
        }
    }
    free(dS);
    free(gim);
    free(gs);
    return st;
}

/* Builds S = measure(im, s) and runs the hinge with margins M (or scalar). */
static itr_status run_measure_hinge(itr_case *c, itr_probe *out, const itr_tensor *im,
                                    const itr_tensor *s, int64_t B, int64_t d, itr_measure m,
                                    float margin, const float *M, const variant_names *vn) {
    float *S = malloc((size_t)(B * B) * sizeof *S);
    if (!S) return itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
    itr_status st = api_of(c)->scores(m, itr_f32(im), itr_f32(s), B, d, S);
    measure_back mb = {api_of(c), m, itr_f32(im), itr_f32(s), B, d};
    if (!st)
        st = run_hinge_on_embeddings(c, out, S, B, margin, M, vn, 2, im->shape, s->shape,
                                     measure_backward, &mb);
    free(S);
    return st;
}

/* ---- variants ------------------------------------------------------------ */

static itr_status run_lmh_scores(itr_case *c, itr_probe *out) {
    itr_tensor S = {0};
    int64_t B;
    itr_status st = read_scores(c, &S, &B);
    float margin = (float)itr_case_attr_f64(c, "margin", ITR_LMH_MARGIN_DEFAULT);
    if (!st) st = run_hinge_on_scores(c, out, itr_f32(&S), B, margin, NULL, &LMH_NAMES);
    itr_tensor_free(&S);
    return st;
}

static itr_status run_lmh_embed(itr_case *c, itr_probe *out, const variant_names *vn,
                                double default_margin) {
    itr_tensor im = {0}, s = {0};
    int64_t B, d;
    itr_measure m = ITR_MEASURE_COSINE;
    itr_status st = read_embeddings(c, &im, &s, &B, &d);
    if (!st) st = read_measure(c, &m);
    float margin = (float)itr_case_attr_f64(c, "margin", default_margin);
    if (!st) st = run_measure_hinge(c, out, &im, &s, B, d, m, margin, NULL, vn);
    itr_tensor_free(&im);
    itr_tensor_free(&s);
    return st;
}

static itr_status run_lmh_vsepp(itr_case *c, itr_probe *out) {
    return run_lmh_embed(c, out, &LMH_NAMES, ITR_LMH_MARGIN_DEFAULT);
}

static itr_status run_vseinf(itr_case *c, itr_probe *out) {
    return run_lmh_embed(c, out, &VSEINF_NAMES, ITR_VSEINF_MARGIN_DEFAULT);
}

typedef struct scan_back {
    const loss_api *api;
    const itr_scan_params *p;
    const itr_tensor *im, *s, *s_l;
} scan_back;

static itr_status scan_backward(void *ctx, const float *dS, float *dim, float *ds) {
    scan_back *sb = ctx;
    return sb->api->scan_backward(sb->p, itr_f32(sb->im), sb->im->shape[1], itr_f32(sb->s),
                                    itr_i64(sb->s_l), sb->s->shape[1], sb->im->shape[0],
                                    sb->im->shape[2], dS, dim, ds);
}

static itr_status run_lmh_scan(itr_case *c, itr_probe *out) {
    itr_tensor im = {0}, s = {0}, s_l = {0};
    float *S = NULL;
    char a[96], b[96];
    itr_scan_params p;
    itr_scan_params_default(&p);
    itr_status st = itr_scan_params_parse(&p, itr_case_attr_str(c, "cross_attn", "t2i"),
                                          itr_case_attr_str(c, "raw_feature_norm", "clipped_l2norm"),
                                          itr_case_attr_str(c, "agg_func", "LogSumExp"));
    if (st) return itr_fail_context(st, "%s: root attributes", c->path);
    p.lambda_softmax = itr_case_attr_f64(c, "lambda_softmax", p.lambda_softmax);
    p.lambda_lse = itr_case_attr_f64(c, "lambda_lse", p.lambda_lse);
    float margin = (float)itr_case_attr_f64(c, "margin", ITR_LMH_MARGIN_DEFAULT);
    if (!(st = itr_case_input(c, "im", ITR_F32, 3, &im))) st = itr_case_input(c, "s", ITR_F32, 3, &s);
    if (!st && (im.shape[0] != s.shape[0] || im.shape[2] != s.shape[2]))
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/im %s and /inputs/s %s must be (B, R, d) and (B, Lmax, d)",
                      c->path, itr_shape_str(im.ndim, im.shape, a, sizeof a),
                      itr_shape_str(s.ndim, s.shape, b, sizeof b));
    int64_t B = im.shape[0];
    if (!st) st = read_ids(c, "s_l", B, &s_l);
    if (!st && !(S = malloc((size_t)(B > 0 ? B * B : 1) * sizeof *S)))
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
    if (!st) {
        st = api_of(c)->scan_scores(&p, itr_f32(&im), im.shape[1], itr_f32(&s), itr_i64(&s_l), s.shape[1],
                                    B, im.shape[2], S);
        if (st) itr_fail_context(st, "%s: /inputs/im, /inputs/s, /inputs/s_l", c->path);
    }
    scan_back sb = {api_of(c), &p, &im, &s, &s_l};
    if (!st)
        st = run_hinge_on_embeddings(c, out, S, B, margin, NULL, &LMH_NAMES, 3, im.shape, s.shape,
                                     scan_backward, &sb);
    free(S);
    itr_tensor_free(&im);
    itr_tensor_free(&s);
    itr_tensor_free(&s_l);
    return st;
}

static itr_status run_lseh(itr_case *c, itr_probe *out) {
    itr_lseh_project proj;
    itr_status st = itr_lseh_project_from_name(c->variant, &proj);
    if (st) return itr_fail_context(st, "%s: variant", c->path);
    const itr_lseh_config *cfg = itr_lseh_config_get(proj);
    int from_emb = itr_h5_exists(c->h5, "/inputs/im");
    itr_tensor S = {0}, im = {0}, s = {0}, svd = {0}, ids = {0}, img_ids = {0};
    float *sh = NULL, *mp = NULL, *M = NULL;
    int64_t B = 0, d = 0;
    st = from_emb ? read_embeddings(c, &im, &s, &B, &d) : read_scores(c, &S, &B);
    if (!st) st = itr_case_input(c, "svd", ITR_F32, 2, &svd);
    if (!st && svd.shape[0] != B) {
        char buf[96];
        st = itr_fail(ITR_E_SHAPE, "%s: /inputs/svd has shape %s, expected (%lld, n_svd)", c->path,
                      itr_shape_str(svd.ndim, svd.shape, buf, sizeof buf), (long long)B);
    }
    if (!st) st = read_ids(c, "ids", B, &ids);
    if (!st) st = read_ids(c, "img_ids", B, &img_ids);
    if (st) goto done;
    size_t n = (size_t)(B * B);
    sh = malloc(n * sizeof *sh);
    mp = malloc(n * sizeof *mp);
    M = malloc(n * sizeof *M);
    if (!sh || !mp || !M) {
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
        goto done;
    }
    float a = (float)itr_case_attr_f64(c, "a", cfg->a), b = (float)itr_case_attr_f64(c, "b", cfg->b);
    const loss_api *api = api_of(c);
    if ((st = api->lseh_semantic_scores(itr_f32(&svd), B, svd.shape[1], sh)) ||
        (st = api->lseh_positive_map(itr_i64(&ids), itr_i64(&img_ids), B, mp)) ||
        (st = api->lseh_margins(sh, mp, B, a, b, M)))
        goto done;
    if ((st = put_matrix(c, out, "torch_cosine_sim", B, sh)) ||
        (st = put_matrix(c, out, "map", B, mp)) || (st = put_matrix(c, out, "SeMargin", B, M)))
        goto done;
    if (from_emb) {
        itr_measure m = ITR_MEASURE_COSINE;
        if (!(st = read_measure(c, &m)))
            st = run_measure_hinge(c, out, &im, &s, B, d, m, 0.0f, M, &LMH_NAMES);
    } else {
        st = run_hinge_on_scores(c, out, itr_f32(&S), B, 0.0f, M, &LMH_NAMES);
    }
done:
    free(sh);
    free(mp);
    free(M);
    itr_tensor_free(&S);
    itr_tensor_free(&im);
    itr_tensor_free(&s);
    itr_tensor_free(&svd);
    itr_tensor_free(&ids);
    itr_tensor_free(&img_ids);
    return st;
}

static itr_status run_luwm(itr_case *c, itr_probe *out) {
    itr_tensor S = {0};
    int64_t B, active = 0;
    itr_luwm_params p;
    itr_luwm_params_default(&p);
    p.margin = itr_case_attr_f64(c, "margin", p.margin);
    p.epsilon = itr_case_attr_f64(c, "epsilon", p.epsilon);
    itr_status st = read_scores(c, &S, &B);
    float *dS = NULL;
    double loss = 0.0;
    if (!st && !(dS = malloc((size_t)(B * B) * sizeof *dS)))
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
    if (!st) st = api_of(c)->luwm(itr_f32(&S), B, &p, &loss, &active, dS);
    if (st) st = itr_fail_context(st, "%s: /inputs/sims", c->path);
    if (!st) {
        /* upstream returns sum(list) / size, a (1,) tensor, or a 0-d zero
         * when no query was active */
        float f = (float)loss;
        int64_t one[1] = {1};
        st = put_f32(c, out, "loss_luwm", active ? 1 : 0, one, &f);
    }
    if (!st) st = put_matrix(c, out, "grad_luwm", B, dS);
    free(dS);
    itr_tensor_free(&S);
    return st;
}

/* ---- VSL ------------------------------------------------------------------ */

/* Python str semantics from utf8proc's Unicode tables (exact where the
 * built-in table of ref/losses is only approximate). */
static uint32_t u8p_lower(uint32_t cp, void *ctx) {
    (void)ctx;
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

static int u8p_is_word(uint32_t cp, void *ctx) {
    (void)ctx;
    if (cp == '_') return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

static itr_status report_tfidf(itr_case *c, itr_probe *out, const itr_tfidf *tf,
                               const int64_t *ids, const int64_t *img_ids, int64_t B, int64_t cpi) {
    int64_t V = tf->n_terms;
    itr_status st = ITR_OK;
    double *row = malloc((size_t)V * sizeof *row);
    if (!row) return itr_fail(ITR_E_NOMEM, "%s: out of memory (V=%lld)", c->path, (long long)V);
    if (itr_case_wants(c, "tfidf")) {
        itr_tensor t;
        int64_t shape[2] = {tf->n_docs, V};
        if (!(st = itr_tensor_alloc(&t, ITR_F64, 2, shape))) {
            for (int64_t r = 0; r < tf->n_docs && !st; r++)
                st = itr_tfidf_dense_row(tf, r, itr_f64(&t) + r * V);
            if (!st) st = itr_probe_take(out, "tfidf", &t);
            itr_tensor_free(&t);
        }
    }
    if (!st && (itr_case_wants(c, "tfidf_for_image") || itr_case_wants(c, "tfidf_for_caption"))) {
        float *fi = malloc((size_t)(B * cpi * V) * sizeof *fi), *fc = malloc((size_t)(B * V) * sizeof *fc);
        if (!fi || !fc) st = itr_fail(ITR_E_NOMEM, "%s: out of memory (tfidf batch)", c->path);
        for (int64_t a = 0; a < B && !st; a++) {
            for (int64_t p = 0; p < cpi && !st; p++) {
                if (!(st = itr_tfidf_dense_row(tf, cpi * img_ids[a] + p, row)))
                    for (int64_t k = 0; k < V; k++) fi[(a * cpi + p) * V + k] = (float)row[k];
            }
            if (!st && !(st = itr_tfidf_dense_row(tf, ids[a], row)))
                for (int64_t k = 0; k < V; k++) fc[a * V + k] = (float)row[k];
        }
        int64_t si[3] = {B, cpi, V}, sc[2] = {B, V};
        if (!st) st = put_f32(c, out, "tfidf_for_image", 3, si, fi);
        if (!st) st = put_f32(c, out, "tfidf_for_caption", 2, sc, fc);
        free(fi);
        free(fc);
    }
    free(row);
    return st;
}

static itr_status run_vsl(itr_case *c, itr_probe *out) {
    itr_tensor S = {0}, ids = {0}, img_ids = {0};
    itr_tfidf tf;
    char **lines = NULL;
    size_t n_lines = 0;
    float *C = NULL, *T = NULL, *Rs = NULL, *Rc = NULL, *g[3] = {NULL, NULL, NULL};
    int64_t B = 0;
    itr_text_class cls = {u8p_lower, u8p_is_word, NULL};
    itr_vsl_params p;
    itr_vsl_params_default(&p);
    p.margin = itr_case_attr_f64(c, "margin", p.margin);
    p.hardest = (int)itr_case_attr_i64(c, "max_violation", p.hardest);
    p.temperature = itr_case_attr_f64(c, "temperature", p.temperature);
    p.exponent_clamp = itr_case_attr_f64(c, "exponent_clamp", p.exponent_clamp);
    p.weight_vsl = itr_case_attr_f64(c, "weight_vsl", p.weight_vsl);
    p.weight_lmh = itr_case_attr_f64(c, "weight_lmh", p.weight_lmh);
    int64_t cpi = itr_case_attr_i64(c, "captions_per_image", ITR_VSL_CAPTIONS_PER_IMAGE);
    memset(&tf, 0, sizeof tf);

    itr_status st = read_scores(c, &S, &B);
    if (!st) st = read_ids(c, "ids", B, &ids);
    if (!st) st = read_ids(c, "img_ids", B, &img_ids);
    if (!st) st = itr_h5_read_strings(c->h5, "/inputs/captions_text", &lines, &n_lines);
    if (st) goto done;
    if ((st = itr_tfidf_fit_transform((const char *const *)lines, (int64_t)n_lines, &cls, &tf))) {
        itr_fail_context(st, "%s: /inputs/captions_text", c->path);
        goto done;
    }
    if ((st = report_tfidf(c, out, &tf, itr_i64(&ids), itr_i64(&img_ids), B, cpi))) {
        itr_fail_context(st, "%s: /inputs/ids, /inputs/img_ids", c->path);
        goto done;
    }
    size_t n = (size_t)(B * B);
    C = malloc(n * sizeof *C);
    T = malloc(n * sizeof *T);
    Rs = malloc(n * sizeof *Rs);
    Rc = malloc(n * sizeof *Rc);
    for (int k = 0; k < 3; k++) g[k] = malloc(n * sizeof *g[k]);
    if (!C || !T || !Rs || !Rc || !g[0] || !g[1] || !g[2]) {
        st = itr_fail(ITR_E_NOMEM, "%s: out of memory (B=%lld)", c->path, (long long)B);
        goto done;
    }
    /* host-side text statistics: the reference on both backends */
    if ((st = itr_vsl_image_cider(&tf, itr_i64(&img_ids), B, cpi, C)) ||
        (st = itr_vsl_caption_cider(&tf, itr_i64(&ids), B, T))) {
        itr_fail_context(st, "%s: /inputs/ids, /inputs/img_ids", c->path);
        goto done;
    }
    itr_vsl_result r;
    double lv;
    const loss_api *api = api_of(c);
    if ((st = api->vsl_semantic(itr_f32(&S), C, B, &p, &lv, Rs, Rc, NULL)) ||
        (st = api->vsl_loss(itr_f32(&S), C, B, &p, &r, g[0], g[1], g[2])))
        goto done;
    if ((st = put_matrix(c, out, "image_cider", B, C)) ||
        (st = put_matrix(c, out, "caption_cider", B, T)) ||
        (st = put_matrix(c, out, "rank_matrix_sims", B, Rs)) ||
        (st = put_matrix(c, out, "rank_matrix_image_cider", B, Rc)) ||
        (st = put_loss(c, out, "loss_lmh", r.lmh)) || (st = put_loss(c, out, "loss_vsl", r.vsl)) ||
        (st = put_loss(c, out, "loss_total", r.total)) ||
        (st = put_matrix(c, out, "grad_lmh", B, g[0])) ||
        (st = put_matrix(c, out, "grad_vsl", B, g[1])) ||
        (st = put_matrix(c, out, "grad_total", B, g[2])))
        goto done;
    if (itr_case_wants(c, "tfidf_vocab"))
        st = itr_probe_put_strings(out, "tfidf_vocab", (const char *const *)tf.vocab, (size_t)tf.n_terms);
done:
    free(C);
    free(T);
    free(Rs);
    free(Rc);
    for (int k = 0; k < 3; k++) free(g[k]);
    if (lines) itr_h5_free_names(lines, n_lines);
    itr_tfidf_free(&tf);
    itr_tensor_free(&S);
    itr_tensor_free(&ids);
    itr_tensor_free(&img_ids);
    return st;
}

/* ---- dispatch -------------------------------------------------------------- */

typedef struct loss_variant {
    const char *name;            /* root attr `variant`; "lseh_" matches a prefix */
    itr_status (*run)(itr_case *c, itr_probe *out);
} loss_variant;

static const loss_variant VARIANTS[] = {
    {"lmh_sgraf", run_lmh_scores},
    {"lmh_vsepp", run_lmh_vsepp},
    {"lmh_scan", run_lmh_scan},
    {"vseinf", run_vseinf},
    {"vsl", run_vsl},
    {"luwm", run_luwm},
    {"lseh_", run_lseh},
};

itr_status itr_family_losses_run(itr_case *c, itr_probe *out) {
    const char *v = c->variant ? c->variant : "";
    for (size_t i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++) {
        const char *name = VARIANTS[i].name;
        size_t len = strlen(name);
        int prefix = name[len - 1] == '_';
        if (prefix ? strncmp(v, name, len) == 0 : strcmp(v, name) == 0) return VARIANTS[i].run(c, out);
    }
    return itr_fail(ITR_E_UNSUPPORTED,
                    "%s: unknown loss variant '%s' (known: lmh_sgraf, lmh_vsepp, lmh_scan, vseinf, "
                    "vsl, luwm, lseh_<vsrn|vseinf|sgraf|vsepp|gsmn>)",
                    c->path, v);
}
