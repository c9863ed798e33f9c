/* config.c - typed key/value hyper-parameters. */
#include "itr/config.h"

#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* True when v is a finite double inside the range of int64_t. */
static int fits_int64(double v) { return v >= -9223372036854775808.0 && v < 9223372036854775808.0; }

void itr_config_init(itr_config *c) { memset(c, 0, sizeof *c); }

void itr_config_free(itr_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].name);
        free(c->entries[i].s);
    }
    free(c->entries);
    memset(c, 0, sizeof *c);
}

const itr_cfg_entry *itr_config_find(const itr_config *c, const char *name) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].name, name) == 0) return &c->entries[i];
    return NULL;
}

/* Returns a fresh (or cleared existing) entry for name. */
static itr_cfg_entry *slot(itr_config *c, const char *name) {
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->entries[i].name, name) == 0) {
            free(c->entries[i].s);
            c->entries[i].s = NULL;
            return &c->entries[i];
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        itr_cfg_entry *e = realloc(c->entries, cap * sizeof *e);
        if (!e) return NULL;
        c->entries = e;
        c->cap = cap;
    }
    itr_cfg_entry *e = &c->entries[c->n];
    memset(e, 0, sizeof *e);
    e->name = dup_str(name);
    if (!e->name) return NULL;
    c->n++;
    return e;
}

#define NOMEM() itr_fail(ITR_E_NOMEM, "out of memory (config)")

itr_status itr_config_set_none(itr_config *c, const char *name) {
    itr_cfg_entry *e = slot(c, name);
    if (!e) return NOMEM();
    e->type = ITR_CFG_NONE;
    return ITR_OK;
}

itr_status itr_config_set_bool(itr_config *c, const char *name, int v) {
    itr_cfg_entry *e = slot(c, name);
    if (!e) return NOMEM();
    e->type = ITR_CFG_BOOL;
    e->i = v != 0;
    e->d = (double)e->i;
    return ITR_OK;
}

itr_status itr_config_set_int(itr_config *c, const char *name, int64_t v) {
    itr_cfg_entry *e = slot(c, name);
    if (!e) return NOMEM();
    e->type = ITR_CFG_INT;
    e->i = v;
    e->d = (double)v;
    return ITR_OK;
}

itr_status itr_config_set_float(itr_config *c, const char *name, double v) {
    itr_cfg_entry *e = slot(c, name);
    if (!e) return NOMEM();
    e->type = ITR_CFG_FLOAT;
    e->d = v;
    e->i = fits_int64(v) ? (int64_t)v : 0;   /* casting out-of-range doubles is UB */
    return ITR_OK;
}

static itr_status set_text(itr_config *c, const char *name, const char *v, itr_cfg_type type) {
    itr_cfg_entry *e = slot(c, name);
    if (!e) return NOMEM();
    e->type = type;
    e->s = dup_str(v);
    if (!e->s) return NOMEM();
    return ITR_OK;
}

itr_status itr_config_set_str(itr_config *c, const char *name, const char *v) {
    return set_text(c, name, v, ITR_CFG_STR);
}

itr_status itr_config_set_list(itr_config *c, const char *name, const char *json) {
    return set_text(c, name, json, ITR_CFG_LIST);
}

itr_status itr_config_get_int(const itr_config *c, const char *name, int64_t def, int64_t *out) {
    const itr_cfg_entry *e = itr_config_find(c, name);
    *out = def;
    if (!e || e->type == ITR_CFG_NONE) return ITR_OK;
    if (e->type == ITR_CFG_INT || e->type == ITR_CFG_BOOL) { *out = e->i; return ITR_OK; }
    if (e->type == ITR_CFG_FLOAT && fits_int64(e->d) && e->d == (double)(int64_t)e->d) {
        *out = (int64_t)e->d;
        return ITR_OK;
    }
    return itr_fail(ITR_E_DTYPE, "opt.%s is not an integer", name);
}

itr_status itr_config_get_float(const itr_config *c, const char *name, double def, double *out) {
    const itr_cfg_entry *e = itr_config_find(c, name);
    *out = def;
    if (!e || e->type == ITR_CFG_NONE) return ITR_OK;
    if (e->type == ITR_CFG_INT || e->type == ITR_CFG_BOOL || e->type == ITR_CFG_FLOAT) { *out = e->d; return ITR_OK; }
    return itr_fail(ITR_E_DTYPE, "opt.%s is not a number", name);
}

itr_status itr_config_get_bool(const itr_config *c, const char *name, int def, int *out) {
    const itr_cfg_entry *e = itr_config_find(c, name);
    *out = def;
    if (!e || e->type == ITR_CFG_NONE) return ITR_OK;
    if (e->type == ITR_CFG_INT || e->type == ITR_CFG_BOOL) { *out = e->i != 0; return ITR_OK; }
    /* argparse store_true fields are bools; a few repos pass 'True'/'False' strings. */
    if (e->type == ITR_CFG_STR && (strcmp(e->s, "True") == 0 || strcmp(e->s, "False") == 0)) {
        *out = strcmp(e->s, "True") == 0;
        return ITR_OK;
    }
    return itr_fail(ITR_E_DTYPE, "opt.%s is not a boolean", name);
}

itr_status itr_config_get_str(const itr_config *c, const char *name, const char *def, const char **out) {
    const itr_cfg_entry *e = itr_config_find(c, name);
    *out = def;
    if (!e || e->type == ITR_CFG_NONE) return ITR_OK;
    if (e->type == ITR_CFG_STR) { *out = e->s; return ITR_OK; }
    return itr_fail(ITR_E_DTYPE, "opt.%s is not a string", name);
}

int64_t itr_config_int(const itr_config *c, const char *name, int64_t def) {
    int64_t v;
    return itr_config_get_int(c, name, def, &v) ? def : v;
}

double itr_config_float(const itr_config *c, const char *name, double def) {
    double v;
    return itr_config_get_float(c, name, def, &v) ? def : v;
}

int itr_config_bool(const itr_config *c, const char *name, int def) {
    int v;
    return itr_config_get_bool(c, name, def, &v) ? def : v;
}

const char *itr_config_str(const itr_config *c, const char *name, const char *def) {
    const char *v;
    return itr_config_get_str(c, name, def, &v) ? def : v;
}

itr_status itr_config_check_size(const itr_config *c, const char *name, int64_t from_weights) {
    int64_t v;
    itr_status st = itr_config_get_int(c, name, from_weights, &v);
    if (st) return st;
    if (v != from_weights)
        return itr_fail(ITR_E_SHAPE, "opt.%s = %lld but the checkpoint's tensors have %lld", name, (long long)v,
                        (long long)from_weights);
    return ITR_OK;
}
