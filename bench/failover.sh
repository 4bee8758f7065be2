#!/usr/bin/env bash
# Failover time end to end through real Prometheus and Alertmanager.
# Usage: bench/failover.sh [--runs N]   (build first: scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/failover.py "$@"
