#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace drf {

/// The flags both daemons share (SPEC.md §5).
struct CommonFlags {
  std::string config_file;
  std::string listen_address;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool check_config = false;
  bool version = false;
};

/// Registers the common flags on `app`; `default_listen` is e.g. ":9731".
void AddCommonFlags(CLI::App& app, CommonFlags* flags,
                    const std::string& default_listen);

/// "NAME, version V (revision R)".
std::string VersionLine(const std::string& program);

}  // namespace drf
