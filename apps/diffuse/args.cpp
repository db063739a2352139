#include "args.h"

#include <cstdio>
#include <cstdlib>

#include "runtime/error.h"

namespace diffuse::cli {

void Args::option(const std::string& name, const std::string& help, const std::string& alias,
                  std::optional<std::string> default_value) {
  specs_.push_back({name, help, alias, false, std::move(default_value)});
}

void Args::flag(const std::string& name, const std::string& help, const std::string& alias) {
  specs_.push_back({name, help, alias, true, std::nullopt});
}

void Args::positional(const std::string& name, const std::string& help, bool required) {
  positional_specs_.emplace_back(name, help);
  positional_required_.push_back(required);
}

const Args::Spec* Args::find(const std::string& token) const {
  for (const auto& s : specs_) {
    if (token == "--" + s.name || (!s.alias.empty() && token == s.alias)) return &s;
  }
  return nullptr;
}

bool Args::parse(int argc, char** argv, const std::string& usage_line) {
  for (int i = 1; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok == "--help" || tok == "-h") {
      std::printf("%s", help_text(usage_line).c_str());
      return false;
    }
    if (tok.size() > 1 && tok[0] == '-' && !(tok.size() > 1 && (isdigit(tok[1]) || tok[1] == '.'))) {
      std::string value;
      bool inline_value = false;
      const auto eq = tok.find('=');
      if (tok.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = tok.substr(eq + 1);
        tok = tok.substr(0, eq);
        inline_value = true;
      }
      const Spec* spec = find(tok);
      DIFFUSE_CHECK(spec, "unknown option '", tok, "' (see --help)");
      if (spec->is_flag) {
        DIFFUSE_CHECK(!inline_value, "option --", spec->name, " takes no value");
        values_[spec->name] = "1";
      } else {
        if (!inline_value) {
          DIFFUSE_CHECK(i + 1 < argc, "option --", spec->name, " needs a value");
          value = argv[++i];
        }
        values_[spec->name] = value;
      }
      continue;
    }
    positional_values_.push_back(tok);
  }
  size_t required = 0;
  for (bool r : positional_required_) required += r ? 1 : 0;
  DIFFUSE_CHECK(positional_values_.size() >= required, "missing argument <",
                positional_specs_[positional_values_.size()].first, "> (see --help)");
  DIFFUSE_CHECK(positional_values_.size() <= positional_specs_.size(), "unexpected argument '",
                positional_values_[positional_specs_.size()], "'");
  for (const auto& s : specs_) {
    if (s.default_value && !values_.count(s.name)) values_[s.name] = *s.default_value;
  }
  return true;
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
  auto it = values_.find(name);
  DIFFUSE_CHECK(it != values_.end(), "missing required option --", name);
  return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  char* end = nullptr;
  const long x = std::strtol(v.c_str(), &end, 10);
  DIFFUSE_CHECK(end && *end == '\0' && !v.empty(), "option --", name, " expects an integer, got '", v, "'");
  return static_cast<int>(x);
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  DIFFUSE_CHECK(end && *end == '\0' && !v.empty(), "option --", name, " expects a number, got '", v, "'");
  return x;
}

std::string Args::help_text(const std::string& usage_line) const {
  std::string s = "usage: " + usage_line + "\n";
  if (!positional_specs_.empty()) s += "\narguments:\n";
  for (const auto& [name, help] : positional_specs_) s += "  " + name + "\n      " + help + "\n";
  if (!specs_.empty()) s += "\noptions:\n";
  for (const auto& o : specs_) {
    s += "  " + (o.alias.empty() ? "" : o.alias + ", ") + "--" + o.name + (o.is_flag ? "" : " VALUE");
    s += "\n      " + o.help;
    if (o.default_value) s += " (default: " + *o.default_value + ")";
    s += "\n";
  }
  return s;
}

}  // namespace diffuse::cli
