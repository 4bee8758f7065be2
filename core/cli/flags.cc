#include "core/cli/flags.h"

#include "core/log/log.h"
#include "core/version.h"

namespace drf {

void AddCommonFlags(CLI::App& app, CommonFlags* flags,
                    const std::string& default_listen) {
  flags->listen_address = default_listen;
  app.add_option("--config.file", flags->config_file, "Configuration file")
      ->required();
  app.add_option("--web.listen-address", flags->listen_address,
                 "Address to listen on for HTTP")
      ->capture_default_str();
  app.add_option("--log.level", flags->log_level, "debug|info|warn|error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log.format", flags->log_format, "logfmt|json")
      ->check(CLI::IsMember({"logfmt", "json"}))
      ->capture_default_str();
  app.add_flag("--check-config", flags->check_config,
               "Validate the configuration file and exit 0 (valid) or 1");
  // --version needs no config file.
  app.set_version_flag("--version", VersionLine(app.get_name()));
}

std::string VersionLine(const std::string& program) {
  return program + ", version " + kVersion + " (revision " + kRevision + ")";
}

void LogConfigWarnings(const Config& config, const std::string& file) {
  for (const std::string& w : ConfigWarnings(config)) {
    log::Warn("config warning", {{"file", file}, {"warning", w}});
  }
}

void PrintConfigWarnings(const Config& config, const std::string& file,
                         std::ostream& out) {
  for (const std::string& w : ConfigWarnings(config)) {
    out << file << ": warning: " << w << "\n";
  }
}

}  // namespace drf
