/* families.h - run functions of every family (one conformance/family_<name>.c each). */
#ifndef ITR_CONFORMANCE_FAMILIES_H
#define ITR_CONFORMANCE_FAMILIES_H

#include "family.h"

itr_status itr_family_metrics_run(itr_case *c, itr_probe *out);
itr_status itr_family_vsepp_run(itr_case *c, itr_probe *out);
itr_status itr_family_losses_run(itr_case *c, itr_probe *out);
itr_status itr_family_scan_run(itr_case *c, itr_probe *out);
itr_status itr_family_sgraf_run(itr_case *c, itr_probe *out);
itr_status itr_family_vseinf_run(itr_case *c, itr_probe *out);

#endif
