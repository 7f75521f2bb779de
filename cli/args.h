// A small command-line parser: declared options with help text, `--name value` or
// `--name=value`, boolean flags, and a generated --help.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace longqa::cli {

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}

  Args& option(const std::string& name, const std::string& help, std::optional<std::string> default_value = {});
  Args& flag(const std::string& name, const std::string& help);
  // `--alias` is another name of the option `name` (declared before).
  Args& alias(const std::string& alias, const std::string& name);
  // New help text for an option declared before (a shared option that means more here).
  Args& describe(const std::string& name, const std::string& help);

  // Parses argv (after the subcommand words). Returns false when --help was asked for
  // (the help text is printed). Throws std::invalid_argument on unknown or malformed options.
  bool parse(const std::vector<std::string>& argv);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // throws if required and absent
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool is_set(const std::string& name) const;  // flags
  std::string help() const;

 private:
  struct Spec {
    std::string help;
    bool is_flag = false;
    std::optional<std::string> default_value;
  };
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> aliases_;  // alias -> option
};

}  // namespace longqa::cli
