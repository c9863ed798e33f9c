/* cmd_metrics.c - `itr metrics FILE`: recall metrics of a similarity matrix. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "itr/h5.h"
#include "itr/metrics.h"
#include "itr/npy.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itr metrics [options] SIMS.h5|SIMS.npy\n"
            "\n"
            "Image-text retrieval metrics of a similarity matrix (images on rows,\n"
            "captions on columns, caption c belongs to image c / k): R@1/5/10, medr,\n"
            "meanr for i2t and t2i, and rsum.\n"
            "\n"
            "options:\n"
            "  --dataset PATH      dataset holding the matrix (default: /sims, else /inputs/sims)\n"
            "  --caps-per-image K  captions per image (default 5)\n"
            "  --fold5             COCO 1K protocol: 5 contiguous folds, metrics averaged\n"
            "  --folds N           the same with N folds\n"
            "  --ties RULE         canonical (default: larger index first), optimistic, pessimistic\n"
            "  --bounds            also report the optimistic and pessimistic bounds under ties\n"
            "  --json              machine-readable output\n"
            "  -h, --help          this text\n");
}

static void print_metrics(const char *label, const itr_metrics *m) {
    printf("%-14s %-4s %7.2f %7.2f %7.2f %7.1f %8.2f\n", label, "i2t", m->i2t.r1, m->i2t.r5, m->i2t.r10,
           m->i2t.medr, m->i2t.meanr);
    printf("%-14s %-4s %7.2f %7.2f %7.2f %7.1f %8.2f\n", "", "t2i", m->t2i.r1, m->t2i.r5, m->t2i.r10, m->t2i.medr,
           m->t2i.meanr);
    printf("%-14s rsum %.2f\n", "", m->rsum);
}

static int parse_rule(const char *s, itr_tie_rule *rule) {
    if (strcmp(s, "canonical") == 0) *rule = ITR_TIES_CANONICAL;
    else if (strcmp(s, "optimistic") == 0) *rule = ITR_TIES_OPTIMISTIC;
    else if (strcmp(s, "pessimistic") == 0) *rule = ITR_TIES_PESSIMISTIC;
    else return 0;
    return 1;
}

int itr_cmd_metrics(int argc, char **argv) {
    const char *file = NULL, *dataset = NULL;
    int64_t k = 5;
    int folds = 1, json = 0, bounds = 0;
    itr_tie_rule rule = ITR_TIES_CANONICAL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--bounds") == 0) {
            bounds = 1;
        } else if (strcmp(argv[i], "--fold5") == 0) {
            folds = 5;
        } else if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc) {
            folds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--dataset") == 0 && i + 1 < argc) {
            dataset = argv[++i];
        } else if (strcmp(argv[i], "--caps-per-image") == 0 && i + 1 < argc) {
            k = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--ties") == 0 && i + 1 < argc) {
            if (!parse_rule(argv[++i], &rule)) {
                fprintf(stderr, "itr metrics: unknown tie rule '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "itr metrics: unknown option '%s'\n", argv[i]);
            help(stderr);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file || k < 1 || folds < 1) {
        help(stderr);
        return 2;
    }

    itr_h5 *f = NULL;
    itr_tensor sims = {0};
    itr_status st;
    size_t flen = strlen(file);
    if (flen > 4 && strcmp(file + flen - 4, ".npy") == 0) {
        /* a matrix saved by numpy (e.g. upstream's sims.npy) */
        st = itr_npy_load(file, NULL, ITR_F64, &sims);
        if (!st && sims.ndim != 2) st = itr_fail(ITR_E_SHAPE, "%s: expected a 2-D matrix, found rank %d", file, sims.ndim);
    } else if (!(st = itr_h5_open(file, &f))) {
        if (!dataset) dataset = itr_h5_exists(f, "/sims") ? "/sims" : "/inputs/sims";
        itr_h5_read_opts o = {2, NULL, 0};
        st = itr_h5_read(f, dataset, ITR_F64, &o, &sims);
        itr_h5_close(f);
    }
    if (st) {
        fprintf(stderr, "itr metrics: %s\n", itr_last_error());
        return itr_status_exit_code(st);
    }
    int64_t n_img = sims.shape[0], n_cap = sims.shape[1];
    const double *S = itr_f64(&sims);
    itr_tie_rule rules[3] = {rule, ITR_TIES_OPTIMISTIC, ITR_TIES_PESSIMISTIC};
    const char *labels[3] = {"", "optimistic", "pessimistic"};
    int n_rules = bounds ? 3 : 1;
    json_t *root = json ? json_object() : NULL;
    if (json) {
        json_object_set_new(root, "file", json_string(file));
        json_object_set_new(root, "n_img", json_integer(n_img));
        json_object_set_new(root, "n_cap", json_integer(n_cap));
        json_object_set_new(root, "folds", json_integer(folds));
    } else {
        printf("%s: %lld images x %lld captions%s\n", file, (long long)n_img, (long long)n_cap,
               folds > 1 ? ", fold-averaged" : "");
        printf("%-14s %-4s %7s %7s %7s %7s %8s\n", "", "", "R@1", "R@5", "R@10", "medr", "meanr");
    }
    int code = 0;
    for (int r = 0; r < n_rules && !code; r++) {
        itr_metrics m;
        itr_ranks ranks = {0};
        itr_metrics *per_fold = NULL;
        if (folds > 1) {
            per_fold = calloc((size_t)folds, sizeof *per_fold);
            st = per_fold ? itr_eval_folds(S, n_img, n_cap, n_cap, k, folds, rules[r], per_fold, &m)
                          : itr_fail(ITR_E_NOMEM, "out of memory");
        } else {
            st = itr_rank_matrix(S, n_img, n_cap, n_cap, k, rules[r], &ranks);
            if (!st) itr_metrics_from_ranks(&ranks, &m);
        }
        if (st) {
            fprintf(stderr, "itr metrics: %s: %s\n", file, itr_last_error());
            code = itr_status_exit_code(st);
        } else if (json) {
            json_t *jm = itr_cli_metrics_json(&m);
            if (folds > 1) {
                json_t *arr = json_array();
                for (int q = 0; q < folds; q++) json_array_append_new(arr, itr_cli_metrics_json(&per_fold[q]));
                json_object_set_new(jm, "per_fold", arr);
            } else {
                json_t *ties = json_object();
                json_object_set_new(ties, "i2t_queries", json_integer(ranks.tied_queries_i2t));
                json_object_set_new(ties, "t2i_queries", json_integer(ranks.tied_queries_t2i));
                json_object_set_new(ties, "i2t_pairs", json_integer(ranks.tied_pairs_i2t));
                json_object_set_new(ties, "t2i_pairs", json_integer(ranks.tied_pairs_t2i));
                json_object_set_new(jm, "ties", ties);
            }
            const char *key = r == 0 ? "metrics" : labels[r];
            json_object_set_new(root, key, jm);
        } else {
            if (folds > 1)
                for (int q = 0; q < folds; q++) {
                    char lab[32];
                    snprintf(lab, sizeof lab, "fold %d%s%s", q, r ? " " : "", r ? labels[r] : "");
                    print_metrics(lab, &per_fold[q]);
                }
            print_metrics(r ? labels[r] : (folds > 1 ? "mean" : "all"), &m);
            if (folds == 1 && r == 0)
                printf("ties: %lld i2t and %lld t2i queries have a ground-truth score tied with a competitor "
                       "(%lld / %lld tied pairs)\n",
                       (long long)ranks.tied_queries_i2t, (long long)ranks.tied_queries_t2i,
                       (long long)ranks.tied_pairs_i2t, (long long)ranks.tied_pairs_t2i);
        }
        free(per_fold);
        itr_ranks_free(&ranks);
    }
    if (json && !code) {
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        printf("\n");
    }
    json_decref(root);
    itr_tensor_free(&sims);
    return code;
}
