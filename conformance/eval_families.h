/* eval_families.h - private: the family adapters of the eval engine
 * (conformance/eval_<family>.c), listed in conformance/eval.c. */
#ifndef ITR_EVAL_FAMILIES_H
#define ITR_EVAL_FAMILIES_H

#include "itr/eval.h"

extern const itr_eval_family itr_eval_family_vsepp;
/* 1 when the checkpoint's weights and opt look like a VSE++ model. */
int itr_eval_is_vsepp(const itr_checkpoint *ck);

#endif
