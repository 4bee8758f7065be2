#!/usr/bin/env bash
# Checks everything in alerts/, offline:
#   1. promtool check rules   the rule file (syntax, PromQL, templates);
#   2. promtool test rules    the unit tests in alerts/tests/*.yml;
#   3. promtool check config  the example Prometheus config (and the rule
#                             file it loads, by its relative path);
#   4. amtool check-config    the example Alertmanager config;
#   5. amtool config routes test   where that config sends alerts: DR
#                             alerts to dr-actuator (and operators), all
#                             others to operators only.
# Runs every check even after a failure; prints each one and a summary;
# exits 1 if any failed, 2 if a tool is missing.
#
# Tools: promtool (Debian package prometheus) and amtool (Debian package
# prometheus-alertmanager); set PROMTOOL / AMTOOL to use other binaries.
# Works from any directory.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
promtool=${PROMTOOL:-promtool}
amtool=${AMTOOL:-amtool}

for tool in "$promtool" "$amtool"; do
  if ! command -v "$tool" >/dev/null; then
    echo "check.sh: $tool not found (apt-get install prometheus prometheus-alertmanager)" >&2
    exit 2
  fi
done

rules=dr-failover.rules.yml
tests=(tests/*.yml)
prometheus_config=prometheus.example.yml
alertmanager_config=alertmanager.example.yml

passed=0
failed=()

# check DESCRIPTION COMMAND...: runs the command, prints its output and the
# verdict.
check() {
  local what=$1
  shift
  echo "== $what"
  echo "\$ $*"
  if "$@" 2>&1; then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAILED: $what"
    failed+=("$what")
  fi
  echo
}

# route LABELS... -> RECEIVERS: the receivers an alert with these labels
# reaches (comma-separated, in routing order).
route() {
  local expect=${*: -1}
  local labels=("${@:1:$#-2}")
  check "route {${labels[*]}} -> $expect" \
    "$amtool" config routes test --config.file="$alertmanager_config" \
    --verify.receivers="$expect" "${labels[@]}"
}

check "promtool check rules $rules" "$promtool" check rules "$rules"
check "promtool test rules ${tests[*]}" "$promtool" test rules "${tests[@]}"
check "promtool check config $prometheus_config" \
  "$promtool" check config "$prometheus_config"
check "amtool check-config $alertmanager_config" \
  "$amtool" check-config "$alertmanager_config"

route alertname=DRSiteDown site=us-east severity=critical \
  dr_action=traffic_failover -\> dr-actuator,operators
route alertname=DRAllSitesDown severity=critical -\> operators
route alertname=DRReplicationLagHigh severity=warning \
  source_site=us-east target_site=eu-central -\> operators
route alertname=DRActuatorDown severity=critical -\> operators

echo "== summary: $passed passed, ${#failed[@]} failed"
for f in "${failed[@]}"; do
  echo "FAILED: $f"
done
[ ${#failed[@]} -eq 0 ]
