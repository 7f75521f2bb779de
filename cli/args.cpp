#include "args.h"

#include <iostream>
#include <sstream>
#include <stdexcept>

#include "longqa/common/parse_number.h"

namespace longqa::cli {

Args& Args::option(const std::string& name, const std::string& help, std::optional<std::string> default_value) {
  order_.push_back(name);
  specs_[name] = {help, false, std::move(default_value)};
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {help, true, std::nullopt};
  return *this;
}

Args& Args::alias(const std::string& alias, const std::string& name) {
  aliases_[alias] = name;
  return *this;
}

Args& Args::describe(const std::string& name, const std::string& help) {
  specs_.at(name).help = help;
  return *this;
}

bool Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help();
      return false;
    }
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument(command_ + ": unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (auto a = aliases_.find(name); a != aliases_.end()) name = a->second;
    auto it = specs_.find(name);
    if (it == specs_.end()) throw std::invalid_argument(command_ + ": unknown option --" + name + " (see --help)");
    if (it->second.is_flag) {
      if (inline_value) throw std::invalid_argument(command_ + ": --" + name + " takes no value");
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) throw std::invalid_argument(command_ + ": --" + name + " needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
  return true;
}

bool Args::has(const std::string& name) const {
  return values_.count(name) || (specs_.count(name) && specs_.at(name).default_value.has_value());
}

std::string Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  auto spec = specs_.find(name);
  if (spec != specs_.end() && spec->second.default_value) return *spec->second.default_value;
  throw std::invalid_argument(command_ + ": --" + name + " is required (see --help)");
}

int64_t Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  if (const auto out = parse_int64(v)) return *out;
  throw std::invalid_argument(command_ + ": --" + name + " expects an integer, got '" + v + "'");
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  if (const auto out = parse_double(v)) return *out;
  throw std::invalid_argument(command_ + ": --" + name + " expects a number, got '" + v + "'");
}

bool Args::is_set(const std::string& name) const { return values_.count(name) != 0; }

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: longqa " << command_ << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " VALUE");
    out << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << s.help;
    if (s.default_value) out << " (default: " << *s.default_value << ")";
    for (const auto& [alias, target] : aliases_)
      if (target == name) out << " (also --" << alias << ")";
    out << "\n";
  }
  out << "  --help                    this text\n";
  return out.str();
}

}  // namespace longqa::cli
