/* ckpt_model.c - the checkpoint object model (itr/checkpoint.h; specs
 * formats.md s0 "What the pickled object tree looks like", s1.3.4-s1.3.5).
 *
 *   {'epoch', 'model': [sd0, sd1, ...], 'best_rsum', 'opt': Namespace, 'Eiters'}
 *       -> groups "0", "1", ... (a `model` dict gives its keys as groups)
 *   {'epoch', '<part>_state_dict': sd, ..., 'optimizer_state_dict', 'best_loss'}
 *       -> one group per *_state_dict key, optimizer state skipped
 *   a bare state dict (every value a tensor) -> group "0"
 * Tensors: floating types -> float32, integers and bool -> int64. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"

/* ---------------------------------------------------------------- opt */

static itr_status set_field(itr_config *cfg, const char *name, const itr_pyobj *v) {
    switch (v->kind) {
    case ITR_PY_NONE: return itr_config_set_none(cfg, name);
    case ITR_PY_BOOL: return itr_config_set_bool(cfg, name, (int)v->u.i);
    case ITR_PY_INT: return itr_config_set_int(cfg, name, v->u.i);
    case ITR_PY_FLOAT: return itr_config_set_float(cfg, name, v->u.f);
    case ITR_PY_SCALAR:
        if (v->u.scalar.dtype.kind == 'f') return itr_config_set_float(cfg, name, v->u.scalar.f);
        if (v->u.scalar.dtype.kind == 'b') return itr_config_set_bool(cfg, name, v->u.scalar.i != 0);
        return itr_config_set_int(cfg, name, v->u.scalar.i);
    case ITR_PY_STR: case ITR_PY_PY2STR: return itr_config_set_str(cfg, name, v->u.bytes.text);
    default: {
        /* lists, tuples, dicts (and anything else, as a quoted repr) as JSON */
        char *json = NULL;
        itr_status st = itr_py_to_json(v, &json);
        if (st) return itr_fail_context(st, "opt.%s", name);
        st = itr_config_set_list(cfg, name, json);
        free(json);
        return st;
    }
    }
}

static itr_status load_opt(itr_checkpoint *c, const itr_pyobj *opt) {
    const itr_pyobj *fields = opt->kind == ITR_PY_OBJECT ? opt->u.object.attrs : opt;
    if (!fields || fields->kind != ITR_PY_DICT)
        return itr_fail(ITR_E_FORMAT, "%s: 'opt' is a %s, not an argparse.Namespace", c->path, itr_py_type_name(opt));
    for (size_t i = 0; i < fields->u.dict.n; i++) {
        const char *name = itr_py_str(fields->u.dict.keys[i]);
        if (!name) return itr_fail(ITR_E_FORMAT, "%s: opt field %zu has a non-string name", c->path, i);
        itr_status st = set_field(&c->opt, name, fields->u.dict.vals[i]);
        if (st) return itr_fail_context(st, "%s: opt.%s", c->path, name);
    }
    c->has_opt = 1;
    return ITR_OK;
}

/* ---------------------------------------------------------------- state dicts */

/* Records the entry just added to the weights store. */
static itr_status add_tensor_info(itr_checkpoint *c, const itr_pyobj *t) {
    const itr_weight_entry *e = &c->weights.entries[c->weights.n - 1];
    itr_ckpt_tensor_info *ti = realloc(c->tensors, (c->n_tensors + 1) * sizeof *ti);
    if (!ti) return itr_fail(ITR_E_NOMEM, "%s: out of memory", c->path);
    c->tensors = ti;
    ti[c->n_tensors].group = e->group;    /* strings owned by the weights store */
    ti[c->n_tensors].key = e->key;
    ti[c->n_tensors].orig_dtype = t->u.tensor.storage->u.storage.dtype;
    ti[c->n_tensors].node = t;
    c->n_tensors++;
    return ITR_OK;
}

static itr_status load_state_dict(itr_checkpoint *c, const char *group, const itr_pyobj *sd) {
    if (sd->kind != ITR_PY_DICT)
        return itr_fail(ITR_E_FORMAT, "%s: state dict '%s' is a %s, not a dict", c->path, group, itr_py_type_name(sd));
    for (size_t i = 0; i < sd->u.dict.n; i++) {
        const char *key = itr_py_str(sd->u.dict.keys[i]);
        const itr_pyobj *v = sd->u.dict.vals[i];
        if (!key) return itr_fail(ITR_E_FORMAT, "%s: state dict '%s' entry %zu has a non-string key", c->path, group, i);
        if (v->kind != ITR_PY_TENSOR) continue;     /* e.g. _extra_state: not a weight */
        itr_tensor t;
        itr_status st = itr_py_to_tensor(v, ITR_F32, ITR_I64, &t);
        if (st) return itr_fail_context(st, "%s: %s/%s", c->path, group, key);
        if ((st = itr_weights_add(&c->weights, group, key, &t))) {
            itr_tensor_free(&t);
            return itr_fail_context(st, "%s", c->path);
        }
        if ((st = add_tensor_info(c, v))) return st;
    }
    return ITR_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int any_tensor(const itr_pyobj *d) {
    for (size_t i = 0; d->kind == ITR_PY_DICT && i < d->u.dict.n; i++)
        if (d->u.dict.vals[i]->kind == ITR_PY_TENSOR) return 1;
    return 0;
}

static int all_tensors(const itr_pyobj *d) {
    if (d->kind != ITR_PY_DICT || d->u.dict.n == 0) return 0;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.vals[i]->kind != ITR_PY_TENSOR || !itr_py_str(d->u.dict.keys[i])) return 0;
    return 1;
}

static itr_status load_weights(itr_checkpoint *c, const itr_pyobj *root) {
    itr_status st = ITR_OK;
    const itr_pyobj *model = itr_py_dict_get(root, "model");
    if (model && (model->kind == ITR_PY_LIST || model->kind == ITR_PY_TUPLE)) {
        for (size_t i = 0; i < model->u.seq.n; i++) {
            char g[32];
            snprintf(g, sizeof g, "%zu", i);
            if ((st = load_state_dict(c, g, model->u.seq.items[i]))) return st;
        }
    } else if (model && model->kind == ITR_PY_DICT && !any_tensor(model)) {
        for (size_t i = 0; i < model->u.dict.n; i++) {
            const char *g = itr_py_str(model->u.dict.keys[i]);
            if (!g) return itr_fail(ITR_E_FORMAT, "%s: 'model' dict has a non-string key", c->path);
            if ((st = load_state_dict(c, g, model->u.dict.vals[i]))) return st;
        }
    } else if (model && model->kind == ITR_PY_DICT) {
        if ((st = load_state_dict(c, "model", model))) return st;     /* {'model': state_dict} */
    } else if (model) {
        return itr_fail(ITR_E_FORMAT, "%s: 'model' is a %s", c->path, itr_py_type_name(model));
    }
    /* flat checkpoints (LGSGM / SEMScene): '<part>_state_dict' keys */
    for (size_t i = 0; i < root->u.dict.n; i++) {
        const char *k = itr_py_str(root->u.dict.keys[i]);
        if (!k || (!ends_with(k, "_state_dict") && strcmp(k, "state_dict") != 0)) continue;
        if (strstr(k, "optimizer") || strstr(k, "scheduler")) continue;     /* training state */
        if ((st = load_state_dict(c, k, root->u.dict.vals[i]))) return st;
    }
    if (!model && itr_weights_group_count(&c->weights) == 0 && all_tensors(root))
        return load_state_dict(c, "0", root);                             /* a bare state dict */
    return ITR_OK;
}

/* ---------------------------------------------------------------- scalars */

static void get_int(const itr_pyobj *root, const char *key, int64_t *out) {
    const itr_pyobj *v = itr_py_dict_get(root, key);
    int64_t i = 0;
    if (v && itr_py_int(v, &i) == ITR_OK) *out = i;
}

static void get_float(const itr_pyobj *root, const char *key, double *out) {
    const itr_pyobj *v = itr_py_dict_get(root, key);
    double d = 0;
    if (v && v->kind != ITR_PY_NONE && itr_py_float(v, &d) == ITR_OK) *out = d;
}

itr_status itr_ckpt_build_model(itr_checkpoint *c) {
    const itr_pyobj *root = c->root;
    c->epoch = c->eiters = -1;
    c->best_rsum = c->best_loss = NAN;
    if (root->kind != ITR_PY_DICT)
        return itr_fail(ITR_E_FORMAT, "%s: checkpoint root is a %s, not a dict", c->path, itr_py_type_name(root));
    const itr_pyobj *opt = itr_py_dict_get(root, "opt");
    itr_status st = ITR_OK;
    if (opt && opt->kind != ITR_PY_NONE && (st = load_opt(c, opt))) return st;
    get_int(root, "epoch", &c->epoch);
    get_int(root, "Eiters", &c->eiters);
    get_float(root, "best_rsum", &c->best_rsum);
    get_float(root, "best_loss", &c->best_loss);
    return load_weights(c, root);
}
