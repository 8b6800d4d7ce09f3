#include "crawler/cli/cli.h"

int main(int argc, char** argv) { return earshot::RunCli(argc, argv); }
