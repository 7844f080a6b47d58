/* qlens plan: see the next commit (this file only keeps the build linking). */
#include "src/commands.h"
int cmd_plan(int argc, char **argv) { (void)argc; (void)argv; return 2; }
