#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, and runs the
# local demo (scripts/demo.py) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec /usr/bin/python3 scripts/demo.py "$@"
