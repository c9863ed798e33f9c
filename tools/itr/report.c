/* report.c - JSON shapes of recall metrics shared by `itr metrics` and `itr eval`. */
#include "report.h"

json_t *itr_cli_recall_json(const itr_recall *r) {
    json_t *o = json_object();
    json_object_set_new(o, "r1", json_real(r->r1));
    json_object_set_new(o, "r5", json_real(r->r5));
    json_object_set_new(o, "r10", json_real(r->r10));
    json_object_set_new(o, "medr", json_real(r->medr));
    json_object_set_new(o, "meanr", json_real(r->meanr));
    return o;
}

json_t *itr_cli_metrics_json(const itr_metrics *m) {
    json_t *o = json_object();
    json_object_set_new(o, "i2t", itr_cli_recall_json(&m->i2t));
    json_object_set_new(o, "t2i", itr_cli_recall_json(&m->t2i));
    json_object_set_new(o, "rsum", json_real(m->rsum));
    json_object_set_new(o, "ar", json_real(m->ar));
    json_object_set_new(o, "ari", json_real(m->ari));
    return o;
}
