/* report.h - JSON output helpers shared by the CLI commands. */
#ifndef ITR_CLI_REPORT_H
#define ITR_CLI_REPORT_H

#include <jansson.h>

#include "itr/metrics.h"

/* {"r1", "r5", "r10", "medr", "meanr"} */
json_t *itr_cli_recall_json(const itr_recall *r);
/* {"i2t": {...}, "t2i": {...}, "rsum", "ar", "ari"} */
json_t *itr_cli_metrics_json(const itr_metrics *m);

#endif
