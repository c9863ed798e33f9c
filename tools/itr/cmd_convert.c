/* cmd_convert.c - `itr convert CKPT -o OUT.h5`: a checkpoint's opt and state
 * dicts into the HDF5 weights layout (formats.md s4.2). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "itr/checkpoint.h"
#include "itr/h5.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itr convert CHECKPOINT -o OUT.h5 [--model NAME] [--variant NAME] [--upstream REPO]\n"
            "\n"
            "Writes the checkpoint's opt (typed attributes under /config, plus /config@_json)\n"
            "and every state dict (/weights/<i>/<key>, keys verbatim) into OUT.h5. Reads\n"
            "both torch serialization eras; executes nothing from the file.\n");
}

static const char *basename_of(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* List-style checkpoints ({'model': [sd, ...]}) name their groups "0", "1", ... */
static int list_style(const itr_weights *w) {
    const char *g = itr_weights_group_name(w, 0);
    return g && g[0] >= '0' && g[0] <= '9';
}

int itr_cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    itr_h5_weights_meta meta;
    memset(&meta, 0, sizeof meta);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            meta.model = argv[++i];
        } else if (strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
            meta.variant = argv[++i];
        } else if (strcmp(argv[i], "--upstream") == 0 && i + 1 < argc) {
            meta.upstream = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "itr convert: unknown option '%s'\n", argv[i]);
            help(stderr);
            return 2;
        } else {
            in = argv[i];
        }
    }
    if (!in || !out) {
        help(stderr);
        return 2;
    }
    itr_checkpoint *ck = NULL;
    itr_status st = itr_checkpoint_load(in, &ck);
    if (!st) {
        meta.checkpoint = basename_of(in);
        meta.container = ck->container == ITR_CONTAINER_ZIP ? "torch-zip" : "torch-legacy";
        meta.state_dict_path = list_style(&ck->weights) ? "model" : "";
        meta.epoch = ck->epoch;
        meta.eiters = ck->eiters;
        meta.best_rsum = ck->best_rsum;
        meta.best_loss = ck->best_loss;
        st = itr_h5_write_weights_file(out, &ck->weights, ck->has_opt ? &ck->opt : NULL, &meta);
    }
    if (st) {
        fprintf(stderr, "itr convert: %s\n", itr_last_error());
        itr_checkpoint_free(ck);
        return itr_status_exit_code(st);
    }
    fprintf(stderr, "itr convert: wrote %s (%zu tensors in %zu state dicts)\n", out, ck->weights.n,
            itr_weights_group_count(&ck->weights));
    itr_checkpoint_free(ck);
    return 0;
}
