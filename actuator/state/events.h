#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actuator/intake/alertmanager.h"
#include "actuator/intake/time.h"
#include "actuator/policy/decision.h"

namespace drf::actuator {

/// The journal's events (SPEC.md §9): one struct per `type`, with exactly
/// the fields of the contract (plus a few more; never fewer). A journal line
/// is `{"seq":N,"ts":"RFC 3339","type":"...", fields...}`; the journal
/// assigns seq, Encode writes the rest, Decode reads a whole line back.
/// Lines written by older versions decode too (older field names are read
/// as their successors: dns_failed's `reason` as `error`, switch_abandoned's
/// `to` when it has no `why`).
namespace event {

/// An alert as journaled (the `alerts[]` of webhook and the `changes[]` of
/// alerts_pulled).
struct AlertRecord {
  std::string fingerprint;
  std::string alertname;
  std::string site;
  AlertStatus status = AlertStatus::kFiring;
  TimePoint starts_at;
  TimePoint ends_at;  // TimePoint{}: no end
  std::string summary;

  bool operator==(const AlertRecord&) const = default;
};

struct Started {
  std::string version;
  std::string revision;
  std::string role = "standalone";
  bool dry_run = false;
  bool operator==(const Started&) const = default;
};

/// An Alertmanager notification. `alerts` holds its DR alerts for
/// configured sites, the only ones the state keeps; DR alerts for other
/// sites are journaled in `unknown_site_alerts` (and counted), and the rest
/// only counted in `ignored_alerts`.
struct Webhook {
  std::string receiver;
  std::string status;
  std::string group_key;
  std::vector<AlertRecord> alerts;
  std::vector<AlertRecord> unknown_site_alerts;
  std::uint64_t ignored_alerts = 0;
  bool operator==(const Webhook&) const = default;
};

/// What a pull from Alertmanager (SPEC.md §10) changed: alerts that fire
/// and were not known to, and known firing alerts it no longer lists
/// (status resolved, ends_at the pull's time).
struct AlertsPulled {
  std::string source;
  std::vector<AlertRecord> changes;
  /// When the pull's request was made: the changes are Alertmanager's word
  /// as of then (the reducer applies them at this time, not at `ts`).
  TimePoint pulled_at;
  bool operator==(const AlertsPulled&) const = default;
};

/// A decision that differs from the previous one.
struct Decision {
  std::string decision;
  std::string serving;
  std::string target;
  std::string why;
  bool dry_run = false;
  std::string role = "standalone";
  bool operator==(const Decision&) const = default;
};

/// The intent of a switch, journaled before any step of it.
struct SwitchStarted {
  std::string id;
  std::string from;  // "" when the serving site was unknown
  std::string to;
  Trigger trigger = Trigger::kAlert;
  std::string reason;
  bool force = false;
  std::optional<double> rpo_estimate_seconds;  // null: unknown
  /// The target's hosts to reconfigure (ssh::HostName); absent from
  /// journals of 0.1.0, where nullopt means "every host of the site".
  std::optional<std::vector<std::string>> hosts;
  bool operator==(const SwitchStarted&) const = default;
};

struct DnsUpdated {
  std::string id;
  std::string to;
  int written = 0;
  bool operator==(const DnsUpdated&) const = default;
};

struct DnsFailed {
  std::string id;
  std::string error;
  std::string kind;  // linode::ErrorKindName
  bool operator==(const DnsFailed&) const = default;
};

struct HostReconfigured {
  std::string id;
  std::string site;
  std::string host;
  bool changed = false;
  bool operator==(const HostReconfigured&) const = default;
};

struct HostFailed {
  std::string id;
  std::string site;
  std::string host;
  std::string kind;  // ssh::ErrorKindName
  std::string message;
  int attempts = 0;
  bool operator==(const HostFailed&) const = default;
};

/// DNS verified and every host done.
struct SwitchCompleted {
  std::string id;
  double seconds = 0;  // from switch_started
  bool operator==(const SwitchCompleted&) const = default;
};

struct SwitchAbandoned {
  std::string id;
  std::string why;
  bool operator==(const SwitchAbandoned&) const = default;
};

struct ManualSwitchRefused {
  std::string target;
  std::string reason;
  std::string decision;
  std::string why;
  bool operator==(const ManualSwitchRefused&) const = default;
};

struct Paused {
  std::string reason;
  bool operator==(const Paused&) const = default;
};

struct Resumed {
  bool operator==(const Resumed&) const = default;
};

/// A line of a type this version does not know (written by a later one):
/// listed by the events API, ignored by the state.
struct Unknown {
  std::string type;
  bool operator==(const Unknown&) const = default;
};

}  // namespace event

using Event =
    std::variant<event::Started, event::Webhook, event::AlertsPulled,
                 event::Decision, event::SwitchStarted, event::DnsUpdated,
                 event::DnsFailed, event::HostReconfigured, event::HostFailed,
                 event::SwitchCompleted, event::SwitchAbandoned,
                 event::ManualSwitchRefused, event::Paused, event::Resumed,
                 event::Unknown>;

/// One journal line: the event with its seq and time.
struct Entry {
  std::uint64_t seq = 0;
  TimePoint ts;
  Event event;
};

/// The `type` of an event ("webhook", "switch_started", ...).
std::string_view TypeName(const Event& event);

/// The JSON object of an event without its seq (the journal puts it first):
/// {"ts":...,"type":...,fields...}. Pure.
std::string Encode(const Event& event, TimePoint ts);

/// Reads a journal line. Fails (false, *error naming the field) on a line
/// that is not a JSON object with a `ts` and a `type`, or whose known type
/// lacks a required field; an unknown type decodes as event::Unknown. Pure;
/// never throws.
bool Decode(std::string_view line, Entry* out, std::string* error);

/// The webhook event of a notification: its DR alerts for sites that
/// `configured` accepts in `alerts`, its DR alerts for other sites in
/// `unknown_site_alerts`, and the count of the rest. Pure.
event::Webhook WebhookEvent(
    const Notification& notification,
    const std::function<bool(const std::string&)>& configured);

/// The journaled form of an intake alert.
event::AlertRecord RecordOf(const Alert& alert);
/// The intake alert a journaled one stands for (labels dr_action, site,
/// alertname), as the alert set keys and applies it.
Alert AlertOf(const event::AlertRecord& record);

}  // namespace drf::actuator
