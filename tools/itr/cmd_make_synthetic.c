/* cmd_make_synthetic.c - `itr make-synthetic`: a deterministic synthetic
 * precomp data set and vocabulary shaped for a checkpoint (itr/synthetic.h),
 * so that `itr eval` can run end to end without the real features. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itr/synthetic.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itr make-synthetic --checkpoint CKPT --out DIR [options]\n"
            "\n"
            "Writes DIR/<opt.data_name>/{split}_ims.npy and {split}_caps.txt (5 captions per\n"
            "image) and DIR/vocab/<opt.data_name>_vocab.json, shaped for the checkpoint:\n"
            "img_dim from its image fc, vocabulary size from embed.weight, (rows, R, img_dim)\n"
            "features for region models (SCAN, SGRAF), (rows, img_dim) for VSE++.\n"
            "The same seed gives byte-identical files. Then:\n"
            "  itr eval --checkpoint CKPT --data DIR --vocab DIR/vocab/<data_name>_vocab.json\n"
            "\n"
            "options:\n"
            "  --checkpoint CKPT   the model (.pth / .pth.tar)\n"
            "  --out DIR           output folder (created)\n"
            "  --n-img N           images (default 10; 25 with --split testall for --fold5)\n"
            "  --seed S            generator seed (default 1)\n"
            "  --split NAME        file prefix (default test)\n"
            "  --regions R         regions per image for region models (default 36)\n"
            "  --words MIN:MAX     words per caption (default 4:9)\n"
            "  --one-row-per-caption  repeat each image row 5 times (im_div 1 layout)\n"
            "  --model FAMILY      model family (default: detected)\n"
            "  -h, --help          this text\n");
}

/* A whole decimal integer in [lo, hi], or -1 on failure (lo >= 0). */
static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int itr_cmd_make_synthetic(int argc, char **argv) {
    itr_synth_opts o;
    const char *ckpt = NULL, *out = NULL;
    long long v = 0, w = 0;
    itr_synth_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc, bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help(stdout);
            return 0;
        } else if (strcmp(a, "--checkpoint") == 0 && has) {
            ckpt = argv[++i];
        } else if (strcmp(a, "--out") == 0 && has) {
            out = argv[++i];
        } else if (strcmp(a, "--split") == 0 && has) {
            o.split = argv[++i];
        } else if (strcmp(a, "--model") == 0 && has) {
            o.family = argv[++i];
        } else if (strcmp(a, "--one-row-per-caption") == 0) {
            o.one_row_per_caption = 1;
        } else if (strcmp(a, "--n-img") == 0 && has) {
            bad = parse_int(argv[++i], 1, 1000000, &v);
            o.n_img = v;
        } else if (strcmp(a, "--seed") == 0 && has) {
            bad = parse_int(argv[++i], 0, 0x7fffffffffffffffLL, &v);
            o.seed = (uint64_t)v;
        } else if (strcmp(a, "--regions") == 0 && has) {
            bad = parse_int(argv[++i], 1, 1000, &v);
            o.regions = v;
        } else if (strcmp(a, "--words") == 0 && has) {
            char buf[48];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            char *colon = strchr(buf, ':');
            if (colon) *colon = '\0';
            bad = !colon || parse_int(buf, 1, 1000, &v) || parse_int(colon + 1, 1, 1000, &w);
            o.min_words = v;
            o.max_words = w;
        } else {
            fprintf(stderr, "itr make-synthetic: unknown option or missing value '%s'\n", a);
            help(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "itr make-synthetic: bad value '%s' for %s\n", argv[i], a);
            return 2;
        }
    }
    if (!ckpt || !out) {
        fprintf(stderr, "itr make-synthetic: --checkpoint and --out are required\n");
        help(stderr);
        return 2;
    }
    itr_checkpoint *ck = NULL;
    itr_synth_info info;
    itr_status st = itr_checkpoint_load(ckpt, &ck);
    if (!st) st = itr_synth_write(ck, &o, out, &info);
    if (ck) itr_checkpoint_free(ck);
    if (st) {
        fprintf(stderr, "itr make-synthetic: %s\n", itr_last_error());
        return itr_status_exit_code(st);
    }
    printf("%s: %s family, %lld images, %lld rows of ", out, info.family, (long long)o.n_img, (long long)info.n_rows);
    if (info.regions) printf("(%lld, %lld)", (long long)info.regions, (long long)info.img_dim);
    else printf("%lld", (long long)info.img_dim);
    printf(" features, %lld captions, vocabulary of %lld\n", (long long)info.n_lines, (long long)info.vocab_size);
    printf("  %s/%s/%s_ims.npy\n  %s/%s/%s_caps.txt\n  %s/vocab/%s_vocab.json\n", out, info.data_name, o.split,
           out, info.data_name, o.split, out, info.data_name);
    return 0;
}
