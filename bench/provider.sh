#!/usr/bin/env bash
# make bench, last step: the native kubelet credential provider exec'd as the kubelet does, against
# the Quay stand-in on loopback (bench/QuayAdmission.ProviderBench); its section goes at the end of
# docs/benchmarks.md, after what bench/run.sh wrote.
#   bench/provider.sh <quay-credential-provider> [doc.md]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
bin=${1:?the native quay-credential-provider (make provider)}
doc=${2:-docs/benchmarks.md}
out=artifacts/bench
mkdir -p "$out"

# Peak RSS comes from GNU time's %M (getrusage of the child): install it when missing.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

echo "[bench] credential provider: building the bench" >&2
timeout 240 dotnet build bench/QuayAdmission.ProviderBench -c Release --disable-build-servers -v quiet -nologo >"$out/provider-build.log" 2>&1 \
  || { tail -n 40 "$out/provider-build.log" >&2; echo "[bench] provider bench build failed" >&2; exit 1; }
echo "[bench] credential provider: cold starts and peak RSS" >&2
timeout 300 dotnet bench/QuayAdmission.ProviderBench/bin/Release/net10.0/QuayAdmission.ProviderBench.dll "$bin" "$doc"
