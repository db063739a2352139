// A small option parser shared by the subcommands: `--name value`, `--name=value`,
// short aliases (`-o`), boolean flags and positional arguments, with clear errors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace diffuse::cli {

class Args {
 public:
  // Declare options before parse(). `alias` is an optional short form like "-o".
  void option(const std::string& name, const std::string& help, const std::string& alias = "",
              std::optional<std::string> default_value = std::nullopt);
  void flag(const std::string& name, const std::string& help, const std::string& alias = "");
  void positional(const std::string& name, const std::string& help, bool required = true);

  // Parses argv (argv[0] is the command name). Throws diffuse::Error on unknown options,
  // missing values or missing positionals. Returns false if --help was given (usage printed).
  bool parse(int argc, char** argv, const std::string& usage_line);

  bool has(const std::string& name) const;  // option given (or defaulted) / flag set
  std::string get(const std::string& name) const;  // throws if absent
  std::string get_or(const std::string& name, const std::string& fallback) const;
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positional_values_; }

  std::string help_text(const std::string& usage_line) const;

 private:
  struct Spec {
    std::string name, help, alias;
    bool is_flag = false;
    std::optional<std::string> default_value;
  };
  const Spec* find(const std::string& token) const;

  std::vector<Spec> specs_;
  std::vector<std::pair<std::string, std::string>> positional_specs_;  // name, help
  std::vector<bool> positional_required_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_values_;
};

}  // namespace diffuse::cli
