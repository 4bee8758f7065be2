#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "core/config/config.h"

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

/// ConfigWarnings(config), logged at warn level naming `file` (at start
/// and at every reload).
void LogConfigWarnings(const Config& config, const std::string& file);

/// The same for --check-config: one "FILE: warning: ..." line each on `out`.
void PrintConfigWarnings(const Config& config, const std::string& file,
                         std::ostream& out);

/// "NAME, version V (revision R)".
std::string VersionLine(const std::string& program);

}  // namespace drf
