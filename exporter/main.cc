// dr-exporter: probes sites, DynamoDB regions and the DNS record, and
// serves the results as Prometheus metrics (SPEC.md §5).
#include <iostream>

#include "core/cli/flags.h"
#include "core/cli/signals.h"
#include "core/config/config.h"
#include "core/http/client.h"
#include "core/http/server.h"
#include "core/log/log.h"
#include "core/version.h"
#include "exporter/exporter.h"

int main(int argc, char** argv) {
  CLI::App app{"dr-exporter: disaster-recovery metrics for Prometheus",
               "dr-exporter"};
  drf::CommonFlags flags;
  drf::AddCommonFlags(app, &flags, ":9731");
  CLI11_PARSE(app, argc, argv);

  drf::log::Setup(flags.log_level, flags.log_format);
  std::shared_ptr<const drf::Config> config;
  try {
    drf::http::GlobalInit();
    config = drf::LoadConfigFile(flags.config_file);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  if (flags.check_config) {
    drf::PrintConfigWarnings(*config, flags.config_file, std::cerr);
    std::cout << flags.config_file << ": OK\n";
    return 0;
  }
  drf::LogConfigWarnings(*config, flags.config_file);

  drf::ShutdownSignals signals;  // before any thread starts

  try {
    drf::exporter::Exporter exporter(flags.config_file, config);
    // Each kept-alive scraper holds a thread (CivetWeb); 16 leaves room
    // for several Prometheus servers plus probes.
    drf::http::Server server(flags.listen_address, 64 << 10, 16);
    exporter.Register(server);
    exporter.Start();
    server.Start();
    drf::log::Info("dr-exporter started", {{"version", drf::kVersion},
                                           {"revision", drf::kRevision},
                                           {"listen", flags.listen_address},
                                           {"config", flags.config_file}});
    signals.Wait([&] { exporter.Reload(); });
    server.Stop();
    exporter.Stop();
  } catch (const std::exception& e) {
    drf::log::Error("dr-exporter failed", {{"err", e.what()}});
    return 1;
  }
  return 0;
}
