/* families.c - the registry of model families the conformance runner knows. */
#include <string.h>

#include "family.h"
#include "families.h"

static const itr_family FAMILIES[] = {
    {"metrics", itr_family_metrics_run, 1},
    {"vsepp", itr_family_vsepp_run, 0},
    {"losses", itr_family_losses_run, 0},
    {"scan", itr_family_scan_run, 0},
    {"sgraf", itr_family_sgraf_run, 0},
    {"vseinf", itr_family_vseinf_run, 0},
};

#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

const itr_family *itr_family_find(const char *name) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (strcmp(FAMILIES[i].name, name) == 0) return &FAMILIES[i];
    return NULL;
}

const char *itr_family_names(void) {
    static char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_FAMILIES && used + 2 < sizeof buf; i++) {
        size_t len = strlen(FAMILIES[i].name);
        if (used + len + 3 >= sizeof buf) break;
        if (i) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, FAMILIES[i].name, len + 1);
        used += len;
    }
    return buf;
}
