/* TEMPORARY stub: being written. */
#include "src/cli.h"
#include "src/commands.h"
int cmd_stats(int argc, char **argv) { (void)argc; (void)argv; return 4; }
int cmd_default(int argc, char **argv) { return cmd_info(argc, argv); }
