/* main.c - the cohttpd entry point: the command line, then the daemon. */
#include <stdio.h>

#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/run.h"

int main(int argc, char *argv[])
{
    struct cli cli;
    struct config cfg = {0};
    int r = cli_parse(&cli, argc, argv, stderr);

    if (r != 0)
        return r;
    r = cli_execute(&cli, &cfg, stdout, stderr);
    if (r != CLI_CONTINUE)
        return r;
    return daemon_run(&cfg, cli.root ? NULL : cli_config_path(&cli));
}
