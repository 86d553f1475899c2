#!/usr/bin/env bash
# Installs the Debian packages strata needs to build and test, only when one
# is missing (a second run does nothing slow).
set -euo pipefail

packages=(build-essential cmake pkg-config clang liburing-dev libxxhash-dev libzstd-dev
	  libjemalloc-dev libcmocka-dev libmicrohttpd-dev zlib1g-dev libpcre2-dev libsodium-dev curl python3)
for arg in "$@"; do
	case "$arg" in
	--test) packages+=(influxdb-client python3-influxdb prometheus) ;;   # real clients; promtool checks /metrics
	--bench) packages+=(librocksdb-dev victoria-metrics influxdb) ;;  # peers measured side by side
	esac
done

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
