/* itr/config.h - typed key/value hyper-parameters (a checkpoint's `opt`).
 *
 * Upstream evaluation rebuilds every model from the argparse.Namespace saved
 * in the checkpoint; itr does the same. The checkpoint reader fills an
 * itr_config from that Namespace; models read fields with defaults. */
#ifndef ITR_CONFIG_H
#define ITR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "itr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum itr_cfg_type {
    ITR_CFG_NONE = 0, ITR_CFG_BOOL, ITR_CFG_INT, ITR_CFG_FLOAT, ITR_CFG_STR,
    ITR_CFG_LIST          /* a list/tuple, kept as its JSON text in s */
} itr_cfg_type;

typedef struct itr_cfg_entry {
    char *name;
    itr_cfg_type type;
    int64_t i;            /* BOOL (0/1) and INT */
    double d;             /* FLOAT (and INT/BOOL converted) */
    char *s;              /* STR (UTF-8), LIST (JSON) */
} itr_cfg_entry;

typedef struct itr_config {
    itr_cfg_entry *entries;
    size_t n, cap;
} itr_config;

void itr_config_init(itr_config *c);
void itr_config_free(itr_config *c);

/* Setters replace an existing entry of the same name. */
itr_status itr_config_set_none(itr_config *c, const char *name);
itr_status itr_config_set_bool(itr_config *c, const char *name, int v);
itr_status itr_config_set_int(itr_config *c, const char *name, int64_t v);
itr_status itr_config_set_float(itr_config *c, const char *name, double v);
itr_status itr_config_set_str(itr_config *c, const char *name, const char *v);
itr_status itr_config_set_list(itr_config *c, const char *name, const char *json);

const itr_cfg_entry *itr_config_find(const itr_config *c, const char *name);

/* Getters: return `def` when the field is absent or None. A field of the
 * wrong type (a string where a number is wanted) is not silently defaulted:
 * the *_checked variants return ITR_E_DTYPE naming the field. */
int64_t     itr_config_int(const itr_config *c, const char *name, int64_t def);
double      itr_config_float(const itr_config *c, const char *name, double def);
int         itr_config_bool(const itr_config *c, const char *name, int def);
const char *itr_config_str(const itr_config *c, const char *name, const char *def);

itr_status itr_config_get_int(const itr_config *c, const char *name, int64_t def, int64_t *out);
itr_status itr_config_get_float(const itr_config *c, const char *name, double def, double *out);
itr_status itr_config_get_bool(const itr_config *c, const char *name, int def, int *out);
itr_status itr_config_get_str(const itr_config *c, const char *name, const char *def, const char **out);

/* A size a model inferred from its tensors must agree with the opt field of
 * the same meaning (upstream builds the modules from opt, then loads the
 * tensors): OK when the field is absent/None or equal, else ITR_E_SHAPE
 * "opt.<name> = A but the checkpoint's tensors have B". */
itr_status itr_config_check_size(const itr_config *c, const char *name, int64_t from_weights);

#ifdef __cplusplus
}
#endif
#endif
