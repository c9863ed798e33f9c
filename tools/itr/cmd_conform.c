/* cmd_conform.c - `itr conform CASE.h5...`: run golden cases, print the table. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "itr/conform.h"
#include "itr/cuda.h"
#include "itr/status.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itr conform [options] CASE.h5 [CASE.h5 ...]\n"
            "\n"
            "Runs each golden case: computes every /outputs dataset from /inputs and the\n"
            "checkpoint the case names, and compares elementwise with\n"
            "|got - want| <= atol + rtol*|want| (defaults atol 1e-5, rtol 1e-4; exact\n"
            "for metric families). Outputs itr cannot compute are NOT CHECKED and fail.\n"
            "\n"
            "options:\n"
            "  --checkpoint FILE   use FILE instead of the case's checkpoint attribute\n"
            "                      (e.g. the CASE.legacy.pth.tar of the other era)\n"
            "  --backend B         ref (default), cuda, or all: all runs both, checks each\n"
            "                      against the golden and CUDA against ref directly\n"
            "                      (rows tagged ref / cuda / cuda-vs-ref)\n"
            "  --fast              CUDA fast mode: cuBLAS float32 GEMMs may use TF32\n"
            "                      (default strict FP32; see docs/cuda.md for its error)\n"
            "  --json              one JSON object per case on stdout\n"
            "  -h, --help          this text\n"
            "\n"
            "exit status: 0 all outputs pass, 1 some output fails or is not checked,\n"
            "2 usage, 3 bad input, 4 unsupported family, 5 internal error\n");
}

static const char *row_status_name(itr_row_status s) {
    switch (s) {
    case ITR_ROW_PASS: return "PASS";
    case ITR_ROW_FAIL: return "FAIL";
    case ITR_ROW_SHAPE: return "FAIL (shape)";
    case ITR_ROW_NOT_CHECKED: return "NOT CHECKED";
    }
    return "?";
}

static void print_table(const itr_conform_report *r) {
    char shape[96], got[96];
    printf("case %s\n  model %s%s%s%s%s\n", r->case_path, r->model, r->variant[0] ? "  variant " : "", r->variant,
           r->checkpoint[0] ? "  checkpoint " : "", r->checkpoint);
    printf("  %-36s %-18s %12s %12s  %s\n", "output", "shape", "max_abs_err", "max_rel_err", "result");
    for (size_t i = 0; i < r->n_rows; i++) {
        const itr_conform_row *row = &r->rows[i];
        char label[160];
        if (row->backend[0] && strcmp(row->backend, "ref") != 0)
            snprintf(label, sizeof label, "%s [%s]", row->name, row->backend);
        else
            snprintf(label, sizeof label, "%s", row->name);
        itr_shape_str(row->ndim, row->shape, shape, sizeof shape);
        if (row->status == ITR_ROW_NOT_CHECKED) {
            printf("  %-36s %-18s %12s %12s  %s\n", label, shape, "-", "-", row_status_name(row->status));
        } else if (row->status == ITR_ROW_SHAPE) {
            itr_shape_str(row->got_ndim, row->got_shape, got, sizeof got);
            printf("  %-36s %-18s %12s %12s  %s: got %s\n", label, shape, "-", "-",
                   row_status_name(row->status), got);
        } else {
            printf("  %-36s %-18s %12.3e %12.3e  %s", label, shape, row->max_abs, row->max_rel,
                   row_status_name(row->status));
            if (row->status == ITR_ROW_FAIL)
                printf(" (%lld of %lld outside %s, worst at flat index %lld)", (long long)row->n_bad,
                       (long long)row->numel, row->exact ? "exact" : "tolerance", (long long)row->worst_index);
            printf("\n");
        }
    }
    printf("  %s: %d passed, %d failed, %d not checked\n\n", r->passed ? "PASS" : "FAIL", r->n_pass, r->n_fail,
           r->n_not_checked);
}

static json_t *report_json(const itr_conform_report *r) {
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "case", json_string(r->case_path));
    json_object_set_new(o, "model", json_string(r->model));
    json_object_set_new(o, "variant", json_string(r->variant));
    json_object_set_new(o, "checkpoint", json_string(r->checkpoint));
    for (size_t i = 0; i < r->n_rows; i++) {
        const itr_conform_row *row = &r->rows[i];
        json_t *jr = json_object(), *shape = json_array();
        for (int d = 0; d < row->ndim; d++) json_array_append_new(shape, json_integer(row->shape[d]));
        json_object_set_new(jr, "output", json_string(row->name));
        json_object_set_new(jr, "backend", json_string(row->backend[0] ? row->backend : "ref"));
        json_object_set_new(jr, "shape", shape);
        json_object_set_new(jr, "result", json_string(row_status_name(row->status)));
        if (row->status == ITR_ROW_PASS || row->status == ITR_ROW_FAIL) {
            json_object_set_new(jr, "max_abs_err", json_real(row->max_abs));
            json_object_set_new(jr, "max_rel_err", json_real(row->max_rel));
            json_object_set_new(jr, "n_bad", json_integer(row->n_bad));
            json_object_set_new(jr, "atol", json_real(row->atol));
            json_object_set_new(jr, "rtol", json_real(row->rtol));
            json_object_set_new(jr, "exact", json_boolean(row->exact));
        }
        json_array_append_new(rows, jr);
    }
    json_object_set_new(o, "outputs", rows);
    json_object_set_new(o, "passed", json_boolean(r->passed));
    return o;
}

int itr_cmd_conform(int argc, char **argv) {
    itr_conform_opts opts = {0};
    int json = 0, n_cases = 0, worst = 0, fast = 0;
    const char *cases[256];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--fast") == 0) {
            fast = 1;
        } else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) {
            opts.checkpoint = argv[++i];
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            const char *b = argv[++i];
            if (strcmp(b, "ref") == 0) opts.backend = ITR_CONFORM_REF;
            else if (strcmp(b, "cuda") == 0) opts.backend = ITR_CONFORM_CUDA;
            else if (strcmp(b, "all") == 0) opts.backend = ITR_CONFORM_ALL;
            else {
                fprintf(stderr, "itr conform: unknown backend '%s' (ref, cuda, all)\n", b);
                return 4;
            }
            if (opts.backend != ITR_CONFORM_REF && !itr_cuda_available()) {
                fprintf(stderr, "itr conform: the %s CUDA backend has no device here\n", itr_cuda_backend_kind());
                return 4;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "itr conform: unknown option '%s'\n", argv[i]);
            help(stderr);
            return 2;
        } else if (n_cases < 256) {
            cases[n_cases++] = argv[i];
        }
    }
    if (n_cases == 0) {
        help(stderr);
        return 2;
    }
    if (fast) {
        if (opts.backend == ITR_CONFORM_REF) {
            fprintf(stderr, "itr conform: --fast needs --backend cuda or all\n");
            return 2;
        }
        if (itr_cuda_set_fast(1)) {
            fprintf(stderr, "itr conform: %s\n", itr_last_error());
            return 5;
        }
    }
    for (int k = 0; k < n_cases; k++) {
        itr_conform_report rep;
        itr_status st = itr_conform_run(cases[k], &opts, &rep);
        int code;
        if (st) {
            fprintf(stderr, "itr conform: %s\n", itr_last_error());
            code = itr_status_exit_code(st);
            if (json) {
                json_t *o = json_object();
                json_object_set_new(o, "case", json_string(cases[k]));
                json_object_set_new(o, "error", json_string(itr_last_error()));
                json_object_set_new(o, "status", json_string(itr_status_name(st)));
                json_object_set_new(o, "passed", json_false());
                json_dumpf(o, stdout, JSON_COMPACT);
                printf("\n");
                json_decref(o);
            }
        } else {
            code = rep.passed ? 0 : 1;
            if (json) {
                json_t *o = report_json(&rep);
                json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
                printf("\n");
                json_decref(o);
            } else {
                print_table(&rep);
            }
        }
        itr_conform_report_free(&rep);
        if (code > worst) worst = code;
    }
    return worst;
}
