// The anondb command line; main() only calls run_cli.
#pragma once

namespace anondb::builder {

// Parses argv, runs one command, returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace anondb::builder
