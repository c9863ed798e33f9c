/* cmd_eval.c - `itr eval`: evaluate a released checkpoint on its precomp data
 * set, as upstream evaluation.evalrank does (specs/vsepp_vseinfty.md s3). */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno: progress only on a terminal */
#include <jansson.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "itr/eval.h"
#include "itr/reported.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itr eval --checkpoint CKPT --data DIR [options]\n"
            "\n"
            "Encodes DIR/<opt.data_name>/{split}_ims.npy and {split}_caps.txt with the\n"
            "checkpoint's model, scores every image against every caption (float64) and\n"
            "prints i2t / t2i R@1/5/10, medr, meanr and rsum (percentages).\n"
            "\n"
            "options:\n"
            "  --checkpoint CKPT   the model (.pth / .pth.tar)\n"
            "  --ensemble CKPT2    a second model: the two matrices are averaged\n"
            "  --data DIR          upstream's data_path, holding <data_name>/ (default opt.data_path)\n"
            "  --split NAME        test (default), testall, dev\n"
            "  --fold5             COCO 1K protocol: 5 folds, metrics averaged\n"
            "  --vocab FILE        vocabulary (default <opt.vocab_path>/<data_name>_vocab.pkl for VSE++,\n"
            "                      <opt.vocab_path>/<data_name>_vocab.json for SCAN/SGRAF, from the cwd;\n"
            "                      VSE-inf: SCAN's vocab JSON (BiGRU) or BERT's vocab.txt)\n"
            "  --bert-config FILE  VSE-inf BERT: HF config.json (num_attention_heads, layer_norm_eps)\n"
            "  --model FAMILY      model family (default: detected from the state-dict keys; vsepp, scan,\n"
            "                      sgraf, vseinf)\n"
            "  --backend ref|cuda  encoders and scores on the reference (default) or the CUDA backend\n"
            "                      (fails when this build has no CUDA version of the family)\n"
            "  --shard-rows N      images per block of scores (default 256); without --save-sims each\n"
            "                      block is ranked and dropped, so memory is N x captions doubles\n"
            "  --save-sims FILE    write the matrix as /sims (float64) to an .h5 file (holds the whole\n"
            "                      matrix in memory)\n"
            "  --reported FILE     paper numbers to print beside ours (default $ITR_REPORTED,\n"
            "                      else the source tree's conformance/reported_numbers.tsv)\n"
            "  --json              machine-readable output\n"
            "  -h, --help          this text\n");
}

/* A one-line progress bar with ETA on stderr (only when stderr is a TTY). */
static void on_progress(void *user, const char *stage, int64_t done, int64_t total) {
    static const char *cur_stage = NULL;
    static time_t t0;
    (void)user;
    if (stage != cur_stage) {
        cur_stage = stage;
        t0 = time(NULL);
    }
    double frac = total > 0 ? (double)done / (double)total : 1.0;
    double elapsed = difftime(time(NULL), t0);
    double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    char bar[31];
    int filled = (int)(frac * 30.0);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-8s [%s] %lld/%lld  %3.0f%%  elapsed %.0fs  eta %.0fs ", stage, bar, (long long)done,
            (long long)total, 100.0 * frac, elapsed, eta);
    if (done >= total) fprintf(stderr, "\n");
}

/* ---- reported numbers (include/itr/reported.h) ---------------------------- */
#define MAX_REPORTED 16

/* The rows of the paper / README table for this family and data set; 0 (and
 * a note on stderr) when the table is missing or holds no row. */
static size_t reported_rows(const char *path, const itr_eval_result *r, itr_reported_table *t,
                            const itr_reported_row **rows) {
    const char *ds = itr_reported_dataset(r->data_name, r->n_images, r->folds);
    if (!ds) {
        fprintf(stderr, "itr eval: note: no reported numbers for data set '%s'\n", r->data_name);
        return 0;
    }
    if (itr_reported_load(path, t)) {
        fprintf(stderr, "itr eval: note: reported numbers not shown: %s\n", itr_last_error());
        return 0;
    }
    size_t n = itr_reported_find(t, r->family, NULL, ds, rows, MAX_REPORTED);
    if (n == 0) fprintf(stderr, "itr eval: note: %s has no reported row for %s on %s\n", path, r->family, ds);
    return n < MAX_REPORTED ? n : MAX_REPORTED;
}

/* Our number k (ITR_REP_* order) */
static double ours(const itr_metrics *m, int k) {
    const double v[ITR_REP_N] = {m->i2t.r1, m->i2t.r5, m->i2t.r10, m->t2i.r1, m->t2i.r5, m->t2i.r10, m->rsum};
    return v[k];
}

/* {"i2t": {r1, r5, r10}, "t2i": {...}, "rsum"}: the reported values, or
 * ours - reported when m is given; null where the source has no number. */
static json_t *reported_json(const itr_reported_row *row, const itr_metrics *m) {
    static const char *const dir[2] = {"i2t", "t2i"}, *const key[3] = {"r1", "r5", "r10"};
    json_t *o = json_object();
    if (!m) {
        json_object_set_new(o, "model", json_string(row->model));
        json_object_set_new(o, "variant", json_string(row->variant));
        json_object_set_new(o, "dataset", json_string(row->dataset));
        json_object_set_new(o, "source", json_string(row->source));
    } else {
        json_object_set_new(o, "variant", json_string(row->variant));
    }
    for (int d = 0; d < 2; d++) {
        json_t *r = json_object();
        for (int k = 0; k < 3; k++) {
            int i = 3 * d + k;
            json_object_set_new(r, key[k], !row->has[i] ? json_null()
                                                        : json_real(m ? ours(m, i) - row->v[i] : row->v[i]));
        }
        json_object_set_new(o, dir[d], r);
    }
    int i = ITR_REP_RSUM;
    json_object_set_new(o, "rsum", !row->has[i] ? json_null() : json_real(m ? ours(m, i) - row->v[i] : row->v[i]));
    return o;
}

/* One line of three numbers, "-" where not reported; sign shown for diffs. */
static void print_triple(const char *label, const char *dir, const itr_reported_row *row, int k0,
                         const itr_metrics *m) {
    printf("%-8s %-4s", label, dir);
    for (int k = k0; k < k0 + 3; k++) {
        if (!row->has[k]) printf(" %7s", "-");
        else if (m) printf(" %+7.2f", ours(m, k) - row->v[k]);
        else printf(" %7.2f", row->v[k]);
    }
    printf("\n");
}

static void print_reported(const itr_reported_row *row, const itr_metrics *m) {
    printf("\nreported: %s (%s, %s)\n", row->variant, row->dataset, row->source);
    for (int pass = 0; pass < 2; pass++) {
        const itr_metrics *d = pass ? m : NULL;
        const char *label = pass ? "diff" : "paper";
        print_triple(label, "i2t", row, ITR_REP_I2T_R1, d);
        print_triple("", "t2i", row, ITR_REP_T2I_R1, d);
        if (!row->has[ITR_REP_RSUM]) printf("%-8s rsum -\n", "");
        else if (d) printf("%-8s rsum %+.2f\n", "", ours(d, ITR_REP_RSUM) - row->v[ITR_REP_RSUM]);
        else printf("%-8s rsum %.2f\n", "", row->v[ITR_REP_RSUM]);
    }
}

static void print_row(const char *label, const itr_metrics *m) {
    printf("%-8s %-4s %7.2f %7.2f %7.2f %7.1f %8.2f\n", label, "i2t", m->i2t.r1, m->i2t.r5, m->i2t.r10,
           m->i2t.medr, m->i2t.meanr);
    printf("%-8s %-4s %7.2f %7.2f %7.2f %7.1f %8.2f\n", "", "t2i", m->t2i.r1, m->t2i.r5, m->t2i.r10, m->t2i.medr,
           m->t2i.meanr);
    printf("%-8s rsum %.2f\n", "", m->rsum);
}

int itr_cmd_eval(int argc, char **argv) {
    itr_eval_opts o;
    int json = 0;
    const char *reported = NULL;
    itr_eval_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--fold5") == 0) {
            o.fold5 = 1;
        } else if (strcmp(a, "--checkpoint") == 0 && has) {
            o.checkpoint = argv[++i];
        } else if (strcmp(a, "--ensemble") == 0 && has) {
            o.ensemble = argv[++i];
        } else if (strcmp(a, "--data") == 0 && has) {
            o.data = argv[++i];
        } else if (strcmp(a, "--split") == 0 && has) {
            o.split = argv[++i];
        } else if (strcmp(a, "--vocab") == 0 && has) {
            o.vocab = argv[++i];
        } else if (strcmp(a, "--bert-config") == 0 && has) {
            o.bert_config = argv[++i];
        } else if (strcmp(a, "--model") == 0 && has) {
            o.model = argv[++i];
        } else if (strcmp(a, "--reported") == 0 && has) {
            reported = argv[++i];
        } else if (strcmp(a, "--save-sims") == 0 && has) {
            o.save_sims = argv[++i];
        } else if (strcmp(a, "--backend") == 0 && has) {
            const char *b = argv[++i];
            if (strcmp(b, "ref") == 0) o.backend = 0;
            else if (strcmp(b, "cuda") == 0) o.backend = 1;
            else {
                fprintf(stderr, "itr eval: --backend must be ref or cuda, not '%s'\n", b);
                return 2;
            }
        } else if (strcmp(a, "--shard-rows") == 0 && has) {
            char *end;
            long long v = strtoll(argv[++i], &end, 10);
            if (*end || v < 1) {
                fprintf(stderr, "itr eval: --shard-rows must be a positive integer, not '%s'\n", argv[i]);
                return 2;
            }
            o.shard_rows = (int64_t)v;
        } else {
            fprintf(stderr, "itr eval: unknown option or missing value '%s'\n", a);
            help(stderr);
            return 2;
        }
    }
    if (!o.checkpoint) {
        fprintf(stderr, "itr eval: --checkpoint is required\n");
        help(stderr);
        return 2;
    }
    if (isatty(fileno(stderr))) o.progress = on_progress;

    itr_eval_result r;
    itr_status st = itr_eval_run(&o, &r);
    if (st) {
        fprintf(stderr, "itr eval: %s\n", itr_last_error());
        return itr_status_exit_code(st);
    }
    itr_reported_table table = {NULL, 0};
    const itr_reported_row *rows[MAX_REPORTED];
    size_t n_rep = reported_rows(itr_reported_path(reported), &r, &table, rows);
    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "checkpoint", json_string(o.checkpoint));
        json_object_set_new(root, "family", json_string(r.family));
        json_object_set_new(root, "backend", json_string(o.backend ? "cuda" : "ref"));
        json_object_set_new(root, "data_name", json_string(r.data_name));
        json_object_set_new(root, "split", json_string(o.split));
        json_object_set_new(root, "n_images", json_integer(r.n_images));
        json_object_set_new(root, "n_captions", json_integer(r.n_captions));
        json_object_set_new(root, "im_div", json_integer(r.im_div));
        json_object_set_new(root, "n_unk_tokens", json_integer(r.n_unk));
        json_object_set_new(root, "folds", json_integer(r.folds));
        json_object_set_new(root, "metrics", itr_cli_metrics_json(&r.metrics));
        if (r.folds > 1) {
            json_t *arr = json_array();
            for (int q = 0; q < r.folds; q++) json_array_append_new(arr, itr_cli_metrics_json(&r.fold_metrics[q]));
            json_object_set_new(root, "per_fold", arr);
        }
        json_t *rep = json_array(), *diff = json_array();
        for (size_t k = 0; k < n_rep; k++) {
            json_array_append_new(rep, reported_json(rows[k], NULL));
            json_array_append_new(diff, reported_json(rows[k], &r.metrics));
        }
        json_object_set_new(root, "reported", rep);
        json_object_set_new(root, "diff", diff);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        printf("\n");
        json_decref(root);
        itr_reported_free(&table);
        return 0;
    }
    printf("%s (%s) on %s/%s: %lld images, %lld captions (im_div %lld)%s%s\n", o.checkpoint, r.family,
           r.data_name, o.split, (long long)r.n_images, (long long)r.n_captions, (long long)r.im_div,
           r.folds > 1 ? ", 5-fold mean" : "", o.backend ? ", CUDA backend" : "");
    printf("%-8s %-4s %7s %7s %7s %7s %8s\n", "", "", "R@1", "R@5", "R@10", "medr", "meanr");
    for (int q = 0; q < r.folds && r.folds > 1; q++) {
        char lab[16];
        snprintf(lab, sizeof lab, "fold %d", q);
        print_row(lab, &r.fold_metrics[q]);
    }
    print_row(r.folds > 1 ? "mean" : "all", &r.metrics);
    /* The papers evaluate whole test sets: 1000 images (per fold) or 5000. */
    int64_t want = n_rep && strcmp(rows[0]->dataset, "coco_5k") == 0 ? 5000 : 1000 * (int64_t)r.folds;
    if (n_rep && r.n_images != want)
        printf("\nnote: the reported numbers are for %lld images, this run has %lld\n", (long long)want,
               (long long)r.n_images);
    for (size_t k = 0; k < n_rep; k++) print_reported(rows[k], &r.metrics);
    itr_reported_free(&table);
    return 0;
}
