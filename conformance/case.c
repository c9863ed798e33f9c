/* case.c - the conformance runner: case .h5 -> family -> outputs -> compare. */
#include "itr/conform.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"

/* The public itr_case plus the strings handed out by itr_case_attr_str. */
typedef struct case_impl {
    itr_case pub;
    char **strs;
    size_t n_strs;
} case_impl;

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void keep_str(case_impl *ci, char *s) {
    char **v = realloc(ci->strs, (ci->n_strs + 1) * sizeof *v);
    if (!v) {
        free(s);
        return;
    }
    ci->strs = v;
    ci->strs[ci->n_strs++] = s;
}

const char *itr_case_attr_str(itr_case *c, const char *name, const char *def) {
    char *s = NULL;
    if (!itr_h5_attr_exists(c->h5, "/", name)) return def;
    if (itr_h5_attr_str(c->h5, "/", name, &s)) return def;
    keep_str((case_impl *)c, s);
    return s;
}

double itr_case_attr_f64(itr_case *c, const char *name, double def) {
    double v;
    if (!itr_h5_attr_exists(c->h5, "/", name)) return def;
    return itr_h5_attr_f64(c->h5, "/", name, &v) ? def : v;
}

int64_t itr_case_attr_i64(itr_case *c, const char *name, int64_t def) {
    int64_t v;
    if (!itr_h5_attr_exists(c->h5, "/", name)) return def;
    return itr_h5_attr_i64(c->h5, "/", name, &v) ? def : v;
}

int itr_case_wants(itr_case *c, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "/outputs/%s", name);
    return itr_h5_exists(c->h5, path);
}

itr_status itr_case_input(itr_case *c, const char *name, itr_dtype dtype, int ndim, itr_tensor *out) {
    char path[512];
    itr_h5_read_opts o = {ndim, NULL, 0};
    itr_dtype stored;
    int rank;
    int64_t shape[ITR_MAX_DIMS];
    snprintf(path, sizeof path, "/inputs/%s", name);
    itr_status st = itr_h5_info(c->h5, path, &stored, &rank, shape);
    if (st) return st;
    /* Inputs keep their kind: features are floating point, ids and lengths
     * integers; a file that swaps them is not silently converted. */
    if (itr_dtype_is_float(stored) != itr_dtype_is_float(dtype))
        return itr_fail(ITR_E_DTYPE, "%s: %s is %s, expected %s data", c->path, path, itr_dtype_name(stored),
                        itr_dtype_is_float(dtype) ? "floating-point" : "integer");
    return itr_h5_read(c->h5, path, dtype, &o, out);
}

/* Directory part of path ("." when none), into buf. */
static void dir_of(const char *path, char *buf, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, n, ".");
    } else {
        size_t len = (size_t)(slash - path);
        if (len >= n) len = n - 1;
        memcpy(buf, path, len);
        buf[len] = '\0';
        if (len == 0) snprintf(buf, n, "/");
    }
}

static itr_status open_case(const char *path, const itr_conform_opts *opts, case_impl *ci,
                            itr_conform_report *rep) {
    itr_case *c = &ci->pub;
    itr_status st = itr_h5_open(path, &c->h5);
    if (st) return st;
    c->path = path;
    /* The family is the root attribute `model`; the metric goldens predate
     * it and say kind = "recall" instead. */
    const char *model = itr_case_attr_str(c, "model", NULL);
    if (!model) {
        const char *kind = itr_case_attr_str(c, "kind", "");
        if (strcmp(kind, "recall") == 0) model = "metrics";
    }
    if (!model)
        return itr_fail(ITR_E_KEY, "%s: no root attribute 'model' naming the family", path);
    c->model = dup_str(model);
    c->variant = dup_str(itr_case_attr_str(c, "variant", ""));
    if (!c->model || !c->variant) return itr_fail(ITR_E_NOMEM, "out of memory");
    snprintf(rep->model, sizeof rep->model, "%s", c->model);
    snprintf(rep->variant, sizeof rep->variant, "%s", c->variant);

    const char *ck = opts && opts->checkpoint ? opts->checkpoint : itr_case_attr_str(c, "checkpoint", "");
    if (ck[0]) {
        char full[1024];
        if (opts && opts->checkpoint) {
            snprintf(full, sizeof full, "%s", ck);
        } else {
            char dir[512];
            dir_of(path, dir, sizeof dir);
            snprintf(full, sizeof full, "%s/%s", dir, ck);
        }
        snprintf(rep->checkpoint, sizeof rep->checkpoint, "%s", full);
        st = itr_checkpoint_load(full, &c->ckpt);
        if (st) return itr_fail_context(st, "%s: checkpoint", path);
    }
    return ITR_OK;
}

static void close_case(case_impl *ci) {
    itr_case *c = &ci->pub;
    if (c->ckpt) itr_checkpoint_free(c->ckpt);
    if (c->h5) itr_h5_close(c->h5);
    free(c->model);
    free(c->variant);
    for (size_t i = 0; i < ci->n_strs; i++) free(ci->strs[i]);
    free(ci->strs);
    memset(ci, 0, sizeof *ci);
}

/* Tolerance of one output: dataset attribute, else root attribute, else default. */
static double tolerance(itr_h5 *f, const char *dset, const char *name, double def) {
    double v;
    if (itr_h5_attr_exists(f, dset, name) && itr_h5_attr_f64(f, dset, name, &v) == ITR_OK) return v;
    if (itr_h5_attr_exists(f, "/", name) && itr_h5_attr_f64(f, "/", name, &v) == ITR_OK) return v;
    return def;
}

/* A string golden (e.g. a vocabulary): equal count and every string equal. */
static itr_status compare_strings(itr_case *c, const itr_probe *probe, const char *dset, const char *name,
                                  itr_conform_row *row) {
    char **want = NULL;
    size_t n_want = 0, n_got = 0;
    itr_status st = itr_h5_read_strings(c->h5, dset, &want, &n_want);
    if (st) return st;
    row->ndim = 1;
    row->shape[0] = (int64_t)n_want;
    row->exact = 1;
    row->worst_index = -1;
    row->numel = (int64_t)n_want;
    char *const *got = itr_probe_get_strings(probe, name, &n_got);
    if (!got) {
        row->status = ITR_ROW_NOT_CHECKED;
    } else if (n_got != n_want) {
        row->got_ndim = 1;
        row->got_shape[0] = (int64_t)n_got;
        row->status = ITR_ROW_SHAPE;
    } else {
        for (size_t i = 0; i < n_want; i++)
            if (strcmp(want[i], got[i]) != 0) {
                if (row->worst_index < 0) row->worst_index = (int64_t)i;
                row->n_bad++;
            }
        row->max_abs = row->n_bad ? 1.0 : 0.0;
        row->status = row->n_bad ? ITR_ROW_FAIL : ITR_ROW_PASS;
    }
    itr_h5_free_names(want, n_want);
    return ITR_OK;
}

/* Compares what `probe` reported for /outputs/<name> with the golden, or,
 * when ref_probe is given, with what the reference backend reported (the
 * golden's tolerances either way): `--backend all` checks CUDA against ref
 * directly, not only each of them against the golden. */
static itr_status compare_output(itr_case *c, const itr_family *fam, const itr_probe *probe,
                                 const itr_probe *ref_probe, const char *name, itr_conform_row *row) {
    char dset[512];
    itr_tensor want = {0}, got = {0};
    itr_h5_read_opts any = {-1, NULL, 1};
    snprintf(dset, sizeof dset, "/outputs/%s", name);
    snprintf(row->name, sizeof row->name, "%s", name);
    itr_dtype stored;
    int rank;
    int64_t shape[ITR_MAX_DIMS];
    if (itr_h5_info(c->h5, dset, &stored, &rank, shape) == ITR_E_DTYPE)
        return compare_strings(c, probe, dset, name, row);   /* not numeric: strings */
    itr_status st = itr_h5_read(c->h5, dset, ITR_F64, &any, &want);
    if (st) return st;
    if (ref_probe) {
        const itr_tensor *r = itr_probe_get(ref_probe, name);
        itr_tensor_free(&want);
        if (!r) {
            row->ndim = rank;
            memcpy(row->shape, shape, sizeof row->shape);
            row->status = ITR_ROW_NOT_CHECKED;
            return ITR_OK;
        }
        if ((st = itr_tensor_convert(r, ITR_F64, &want))) return st;
    }
    row->ndim = want.ndim;
    memcpy(row->shape, want.shape, sizeof row->shape);
    row->atol = tolerance(c->h5, dset, "atol", ITR_DEFAULT_ATOL);
    row->rtol = tolerance(c->h5, dset, "rtol", ITR_DEFAULT_RTOL);
    row->exact = fam->exact;
    if (itr_h5_attr_exists(c->h5, dset, "compare")) {
        char *mode = NULL;
        if (itr_h5_attr_str(c->h5, dset, "compare", &mode) == ITR_OK && mode) {
            if (strcmp(mode, "exact") == 0) row->exact = 1;
            free(mode);
        }
    }
    row->worst_index = -1;
    const itr_tensor *p = itr_probe_get(probe, name);
    if (!p) {
        row->status = ITR_ROW_NOT_CHECKED;
        itr_tensor_free(&want);
        return ITR_OK;
    }
    row->got_ndim = p->ndim;
    memcpy(row->got_shape, p->shape, sizeof row->got_shape);
    if (!itr_shape_equal(p->ndim, p->shape, want.ndim, want.shape)) {
        row->status = ITR_ROW_SHAPE;
        itr_tensor_free(&want);
        return ITR_OK;
    }
    st = itr_tensor_convert(p, ITR_F64, &got);
    if (st) {
        itr_tensor_free(&want);
        return st;
    }
    itr_compare_arrays(itr_f64(&want), itr_f64(&got), itr_tensor_numel(&want), row->atol, row->rtol,
                       row->exact, row);
    row->status = row->n_bad ? ITR_ROW_FAIL : ITR_ROW_PASS;
    itr_tensor_free(&want);
    itr_tensor_free(&got);
    return ITR_OK;
}

itr_status itr_conform_run(const char *case_path, const itr_conform_opts *opts, itr_conform_report *rep) {
    case_impl ci;
    itr_probe probe, cuda_probe;
    char **names = NULL;
    size_t n_names = 0;
    memset(&ci, 0, sizeof ci);
    memset(rep, 0, sizeof *rep);
    itr_probe_init(&probe);
    itr_probe_init(&cuda_probe);
    snprintf(rep->case_path, sizeof rep->case_path, "%s", case_path);

    itr_status st = open_case(case_path, opts, &ci, rep);
    if (st) goto done;
    int mode = opts ? opts->backend : ITR_CONFORM_REF;
    if (mode < ITR_CONFORM_REF || mode > ITR_CONFORM_ALL) {
        st = itr_fail(ITR_E_ARG, "itr_conform_run: backend %d", mode);
        goto done;
    }
    const itr_family *fam = itr_family_find(ci.pub.model);
    if (!fam) {
        st = itr_fail(ITR_E_UNSUPPORTED, "%s: no family '%s' in itr (known: %s)", case_path,
                      ci.pub.model, itr_family_names());
        goto done;
    }
    st = itr_h5_list(ci.pub.h5, "/outputs", &names, &n_names);
    if (st) goto done;
    if (n_names == 0) {
        st = itr_fail(ITR_E_FORMAT, "%s: /outputs is empty", case_path);
        goto done;
    }
    /* The runs: ref, cuda, or both (then also cuda against ref). */
    int run_ref = mode != ITR_CONFORM_CUDA, run_cuda = mode != ITR_CONFORM_REF;
    if (run_ref) {
        ci.pub.backend = ITR_BACKEND_REF;
        if ((st = fam->run(&ci.pub, &probe))) {
            itr_fail_context(st, "%s: %s", case_path, fam->name);
            goto done;
        }
    }
    if (run_cuda) {
        ci.pub.backend = ITR_BACKEND_CUDA;
        if ((st = fam->run(&ci.pub, &cuda_probe))) {
            itr_fail_context(st, "%s: %s (cuda backend)", case_path, fam->name);
            goto done;
        }
    }
    size_t per_name = (size_t)(run_ref + run_cuda + (run_ref && run_cuda));
    rep->rows = calloc(n_names * per_name, sizeof *rep->rows);
    if (!rep->rows) {
        st = itr_fail(ITR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_names; i++) {
        for (size_t k = 0; k < per_name; k++) {
            itr_conform_row *row = &rep->rows[rep->n_rows++];
            const char *which = "ref";
            if (run_ref && k == 0) {
                st = compare_output(&ci.pub, fam, &probe, NULL, names[i], row);
            } else if (!run_ref || k == 1) {
                which = "cuda";
                st = compare_output(&ci.pub, fam, &cuda_probe, NULL, names[i], row);
            } else {
                which = "cuda-vs-ref";
                st = compare_output(&ci.pub, fam, &cuda_probe, &probe, names[i], row);
            }
            if (st) goto done;
            snprintf(row->backend, sizeof row->backend, "%s", which);
            switch (row->status) {
            case ITR_ROW_PASS: rep->n_pass++; break;
            case ITR_ROW_NOT_CHECKED: rep->n_not_checked++; break;
            default: rep->n_fail++; break;
            }
        }
    }
    rep->passed = rep->n_fail == 0 && rep->n_not_checked == 0;
done:
    if (names) itr_h5_free_names(names, n_names);
    itr_probe_free(&probe);
    itr_probe_free(&cuda_probe);
    close_case(&ci);
    return st;
}

void itr_conform_report_free(itr_conform_report *rep) {
    if (!rep) return;
    free(rep->rows);
    rep->rows = NULL;
    rep->n_rows = 0;
}
