#include "anondb/builder/cli.hpp"

int main(int argc, char** argv) { return anondb::builder::run_cli(argc, argv); }
