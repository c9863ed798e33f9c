/* cli.h - subcommand table of the `itr` CLI. */
#ifndef ITR_CLI_H
#define ITR_CLI_H

typedef struct itr_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);   /* argv[0] = command name */
} itr_cli_command;

int itr_cmd_conform(int argc, char **argv);
int itr_cmd_metrics(int argc, char **argv);
int itr_cmd_convert(int argc, char **argv);
int itr_cmd_inspect(int argc, char **argv);
int itr_cmd_eval(int argc, char **argv);
int itr_cmd_make_synthetic(int argc, char **argv);

#endif
