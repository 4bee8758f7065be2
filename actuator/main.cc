// dr-actuator: receives Alertmanager webhooks, confirms with its own probes,
// switches the Linode DNS records and reconfigures the new site's PHP-FPM
// hosts (SPEC.md §6).
#include <iostream>
#include <thread>

#include "actuator/api/http_api.h"
#include "actuator/engine.h"
#include "actuator/intake/alertmanager_pull.h"
#include "core/cli/flags.h"
#include "core/cli/signals.h"
#include "core/config/config.h"
#include "core/http/client.h"
#include "core/http/server.h"
#include "core/linode/client.h"
#include "core/log/log.h"
#include "core/version.h"

namespace {

using drf::Config;

// Everything built from one config: refused whole if any part fails.
struct Parts {
  std::shared_ptr<const Config> config;
  std::unique_ptr<drf::linode::DnsApi> dns;
  std::unique_ptr<drf::actuator::HostReconfigurer> hosts;
  drf::actuator::Tokens tokens;
};

Parts Build(const std::string& path) {
  Parts p;
  p.config = drf::LoadConfigFile(path);
  if (!p.config->actuator) {
    throw std::runtime_error(path + ": actuator: required by dr-actuator");
  }
  drf::LogConfigWarnings(*p.config, path);
  p.dns = std::make_unique<drf::linode::LinodeClient>(
      p.config->dns.api_url, drf::linode::LoadToken(p.config->dns),
      std::chrono::seconds(10));
  p.hosts = std::make_unique<drf::actuator::HostReconfigurer>(
      *p.config->actuator, drf::actuator::kActuatorHostRetry);
  p.tokens = drf::actuator::LoadTokens(*p.config->actuator);
  if (const auto& am = p.config->actuator->alertmanager) {
    drf::actuator::AlertmanagerPuller check(*am);  // its token file reads
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dr-actuator: traffic failover from Alertmanager webhooks",
               "dr-actuator"};
  drf::CommonFlags flags;
  drf::AddCommonFlags(app, &flags, ":9732");
  bool dry_run = false;
  app.add_flag("--dry-run", dry_run,
               "Decide, log and count, but change nothing");
  CLI11_PARSE(app, argc, argv);

  drf::log::Setup(flags.log_level, flags.log_format);
  drf::http::GlobalInit();
  if (flags.check_config) {
    try {
      auto config = drf::LoadConfigFile(flags.config_file);
      if (!config->actuator) {
        throw std::runtime_error(flags.config_file +
                                 ": actuator: required by dr-actuator");
      }
      drf::PrintConfigWarnings(*config, flags.config_file, std::cerr);
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 1;
    }
    std::cout << flags.config_file << ": OK\n";
    return 0;
  }

  drf::ShutdownSignals signals;  // before any thread starts

  try {
    Parts parts = Build(flags.config_file);
    auto journal = std::make_unique<drf::actuator::Journal>(
        parts.config->actuator->state_dir);
    drf::actuator::Engine engine(parts.config, dry_run, std::move(journal),
                                 std::move(parts.dns), std::move(parts.hosts));
    drf::actuator::HttpApi* api_ptr = nullptr;
    auto reload = [&]() -> std::string {
      try {
        Parts next = Build(flags.config_file);
        api_ptr->SetTokens(next.tokens);
        engine.Reload(next.config, std::move(next.dns), std::move(next.hosts));
        engine.metrics().config_reload.Add({}).Set(1);
        return "";
      } catch (const std::exception& e) {
        engine.metrics().config_reload.Add({}).Set(0);
        drf::log::Error("reload failed, keeping the running config",
                        {{"file", flags.config_file}, {"err", e.what()}});
        return e.what();
      }
    };
    drf::actuator::HttpApi api(engine, parts.tokens, reload);
    api_ptr = &api;
    drf::http::Server server(flags.listen_address,
                             drf::actuator::HttpApi::kMaxBody, 64);
    api.Register(server);
    drf::Stopper stop;
    std::thread loop([&] { engine.Run(stop); });
    server.Start();
    drf::log::Info("dr-actuator started",
                   {{"version", drf::kVersion},
                    {"revision", drf::kRevision},
                    {"listen", flags.listen_address},
                    {"config", flags.config_file},
                    {"dry_run", dry_run ? "true" : "false"}});
    signals.Wait([&] { reload(); });
    server.Stop();
    stop.Stop();
    loop.join();
  } catch (const std::exception& e) {
    drf::log::Error("dr-actuator failed", {{"err", e.what()}});
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
