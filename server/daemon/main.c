/* main.c - the cohttpd entry point: the command line, then the daemon. */
#include <stdio.h>
#include <string.h>

#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/run.h"
#include "handlers/cgi_guard.h"

int main(int argc, char *argv[])
{
    struct cli cli;
    struct config cfg = {0};
    int r;

    /* cohttpd started again as the CGI scripts' guard (cgi_guard.h). */
    if (argc == 1 && strcmp(argv[0], CGI_GUARD_ARGV0) == 0)
        return cgi_guard_main();
    r = cli_parse(&cli, argc, argv, stderr);
    if (r != 0)
        return r;
    r = cli_execute(&cli, &cfg, stdout, stderr);
    if (r != CLI_CONTINUE)
        return r;
    return daemon_run(&cfg, cli.root ? NULL : cli_config_path(&cli));
}
