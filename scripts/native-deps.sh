#!/usr/bin/env bash
# Native AOT (the kubelet credential provider) links with clang against zlib: installs them when
# missing, on Debian or Ubuntu as root; anywhere else it says what to install.
set -euo pipefail
missing=()
command -v clang >/dev/null || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "Native AOT needs ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} for Native AOT" >&2
apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
