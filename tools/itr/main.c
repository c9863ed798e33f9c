/* main.c - the `itr` command line: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const itr_cli_command COMMANDS[] = {
    {"conform", "run a golden case .h5 and compare every output", itr_cmd_conform},
    {"metrics", "recall metrics of a similarity matrix file", itr_cmd_metrics},
    {"inspect", "describe a checkpoint, .npy or joblib file (keys, opt, tensors)", itr_cmd_inspect},
    {"convert", "checkpoint -> HDF5 weights layout", itr_cmd_convert},
    {"eval", "evaluate a checkpoint on its precomp data set (R@K, medr, meanr, rsum)", itr_cmd_eval},
    {"make-synthetic", "synthetic precomp data + vocabulary shaped for a checkpoint", itr_cmd_make_synthetic},
};

static void usage(FILE *f) {
    fprintf(f, "usage: itr <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n'itr <command> --help' describes each command.\n"
               "exit codes: 0 ok, 1 mismatch/fail, 2 usage, 3 bad input, 4 unsupported, 5 internal\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("itr 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "itr: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
