// Subcommand registry: each apps/diffuse/cmd_*.cpp registers one subcommand with a
// static Command object, so adding a command touches no other file.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace diffuse::cli {

// argv[0] is the subcommand name. Returns the process exit code.
using CommandFn = std::function<int(int argc, char** argv)>;

struct CommandInfo {
  std::string name;
  std::string summary;  // one line for `diffuse --help`
  CommandFn run;
};

std::vector<CommandInfo>& commands();

struct Command {
  Command(std::string name, std::string summary, CommandFn run) {
    commands().push_back({std::move(name), std::move(summary), std::move(run)});
  }
};

}  // namespace diffuse::cli
