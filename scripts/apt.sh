# Sourced by the scripts that install Debian packages.
#   apt_install_missing LABEL PACKAGE...
# installs the packages that are not installed yet (as root, or with sudo),
# saying so under LABEL; does nothing when all are there.
apt_install_missing() {
  local label=$1 p
  shift
  local sudo_cmd=() missing=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$label: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}
