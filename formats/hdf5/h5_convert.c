/* h5_convert.c - the converted-weights file of formats.md s4.2:
 * provenance attributes, /config (the checkpoint's opt, typed) and
 * /weights/<group>/<key>. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "itr/h5.h"

static itr_status set_opt_str(itr_h5 *f, const char *name, const char *v) {
    return v ? itr_h5_set_attr_str(f, "/", name, v) : ITR_OK;
}

/* One typed attribute per opt field, and the JSON object of all of them. */
static itr_status write_config(itr_h5 *f, const itr_config *opt) {
    itr_status st = itr_h5_make_group(f, "/config");
    json_t *all = json_object();
    for (size_t i = 0; i < opt->n && !st; i++) {
        const itr_cfg_entry *e = &opt->entries[i];
        json_t *jv = NULL;
        switch (e->type) {
        case ITR_CFG_NONE:
            st = itr_h5_set_attr_str(f, "/config", e->name, "None");
            jv = json_null();
            break;
        case ITR_CFG_BOOL:
            st = itr_h5_set_attr_i8(f, "/config", e->name, (int8_t)(e->i != 0));
            jv = json_boolean(e->i);
            break;
        case ITR_CFG_INT:
            st = itr_h5_set_attr_i64(f, "/config", e->name, e->i);
            jv = json_integer(e->i);
            break;
        case ITR_CFG_FLOAT:
            st = itr_h5_set_attr_f64(f, "/config", e->name, e->d);
            jv = isfinite(e->d) ? json_real(e->d) : json_string(isnan(e->d) ? "nan" : e->d > 0 ? "inf" : "-inf");
            break;
        case ITR_CFG_STR:
            st = itr_h5_set_attr_str(f, "/config", e->name, e->s);
            jv = json_string(e->s);
            break;
        case ITR_CFG_LIST:
            st = itr_h5_set_attr_str(f, "/config", e->name, e->s);
            jv = json_loads(e->s, JSON_DECODE_ANY, NULL);
            if (!jv) jv = json_string(e->s);
            break;
        }
        if (jv) json_object_set_new(all, e->name, jv);
    }
    if (!st) {
        char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
        st = text ? itr_h5_set_attr_str(f, "/config", "_json", text) : itr_fail(ITR_E_NOMEM, "out of memory");
        free(text);
    }
    json_decref(all);
    return st;
}

itr_status itr_h5_write_weights_file(const char *path, const itr_weights *w, const itr_config *opt,
                                     const itr_h5_weights_meta *meta) {
    itr_h5 *f;
    itr_status st = itr_h5_create(path, &f);
    if (st) return st;
    st = itr_h5_set_attr_str(f, "/", "itr_kind", "weights");
    if (!st) st = itr_h5_set_attr_i64(f, "/", "itr_version", 1);
    if (!st && meta) {
        st = set_opt_str(f, "model", meta->model);
        if (!st) st = set_opt_str(f, "variant", meta->variant);
        if (!st) st = set_opt_str(f, "upstream", meta->upstream);
        if (!st) st = set_opt_str(f, "checkpoint", meta->checkpoint);
        if (!st) st = set_opt_str(f, "container", meta->container);
        if (!st) st = set_opt_str(f, "state_dict_path", meta->state_dict_path);
        if (!st && meta->epoch >= 0) st = itr_h5_set_attr_i64(f, "/", "epoch", meta->epoch);
        if (!st && meta->eiters >= 0) st = itr_h5_set_attr_i64(f, "/", "Eiters", meta->eiters);
        if (!st && !isnan(meta->best_rsum)) st = itr_h5_set_attr_f64(f, "/", "best_rsum", meta->best_rsum);
        if (!st && !isnan(meta->best_loss)) st = itr_h5_set_attr_f64(f, "/", "best_loss", meta->best_loss);
    }
    if (!st && opt) st = write_config(f, opt);
    if (!st) st = itr_h5_save_weights(f, w);
    itr_h5_close(f);
    if (st) itr_fail_context(st, "writing %s", path);
    return st;
}
