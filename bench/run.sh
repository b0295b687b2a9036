#!/usr/bin/env bash
# make bench: publishes the native webhook and floor (make publish-native publish-floor: nothing to do
# when they are up to date, 5 to 15 minutes each when not), builds Release, runs the BenchmarkDotNet
# micro-benchmarks in short mode, the refresher at scale (the webhook against 10,000 managed Secrets
# and 100,000 Pods in the API stand-in), then drives the real webhook and a bare Kestrel floor over
# HTTPS (bench/QuayAdmission.LoadBench), the JIT build and the native one, each against its own
# floor; prints the report as markdown and writes it to docs/benchmarks.md. Only 127.0.0.1 is ever
# contacted.
#   bench/run.sh            the full run (about 12 minutes on 2 cores once published)
#   bench/run.sh --quick    a short run to check the bench itself; numbers meaningless, docs untouched
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

quick=""
doc=docs/benchmarks.md
if [ "${1:-}" = "--quick" ]; then
  quick="--quick"
  doc=artifacts/bench/benchmarks-quick.md
fi

out=artifacts/bench
pids="$out/pids"
started=$(date +%s)
bench_pid=""

# Stops what this script started: the load generator (which stops its own children on SIGTERM),
# then any child it or the scale step recorded (in $pids and scale/pids) that is still there,
# checked by its command line so a reused pid is never touched.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$bench_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$bench_pid" 2>/dev/null || true
  fi
  local left=()
  if [ -f "$pids" ]; then
    while read -r pid dll; do
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$dll"; then
        kill -TERM "$pid" 2>/dev/null || true
        left+=("$pid")
      fi
    done < <(cat "$pids" "$out/scale/pids" 2>/dev/null)
    for pid in "${left[@]}"; do
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$out"
mkdir -p "$out" "$out/scale" "$(dirname "$doc")"
: > "$pids"

echo "[bench] Native AOT publishes (make publish-native publish-floor)" >&2
make -s publish-native publish-floor >"$out/publish.log" 2>&1 \
  || { tail -n 40 "$out/publish.log" >&2; echo "[bench] native publish failed" >&2; exit 1; }

echo "[bench] building Release" >&2
# No build servers: nothing may outlive the script.
timeout 240 dotnet build bench/bench.slnf -c Release --disable-build-servers -v quiet -nologo >"$out/build.log" 2>&1 \
  || { tail -n 40 "$out/build.log" >&2; echo "[bench] build failed" >&2; exit 1; }

echo "[bench] micro-benchmarks (BenchmarkDotNet, short job, in-process)" >&2
micro_args=(--filter '*' --job short --warmupCount 6 --inProcess --join --iterationTime 100 --artifacts "$out/micro")
[ -n "$quick" ] && micro_args=(--filter '*' --job dry --inProcess --join --artifacts "$out/micro")
# A fixed 8 MiB gen0: BenchmarkDotNet forces a collection between iterations, and with the GC's own
# gen0 budget an iteration can then run entirely on freshly faulted-in memory, which doubled the
# Decode benchmark's time from one run to the next.
DOTNET_GCgen0size=0x800000 \
  timeout 150 dotnet bench/QuayAdmission.Benchmarks/bin/Release/net10.0/QuayAdmission.Benchmarks.dll "${micro_args[@]}" >"$out/micro.log" 2>&1 \
  || { tail -n 40 "$out/micro.log" >&2; echo "[bench] micro-benchmarks failed" >&2; exit 1; }
micro_report=$(ls "$out"/micro/results/*-report-github.md 2>/dev/null | head -n 1 || true)
[ -n "$micro_report" ] || { tail -n 40 "$out/micro.log" >&2; echo "[bench] the micro-benchmarks wrote no report" >&2; exit 1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!docs/benchmarks.md' 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi

echo "[bench] refresher at scale" >&2
scale_args=()
[ -n "$quick" ] && scale_args=(--quick)
timeout --signal=TERM --kill-after=30 420 \
  dotnet bench/QuayAdmission.LoadBench/bin/Release/net10.0/QuayAdmission.LoadBench.dll scale "${scale_args[@]}" \
    --webhook src/QuayAdmission/bin/Release/net10.0/QuayAdmission.dll \
    --out "$out/scale" --section "$out/scale/section.md" >"$out/scale/run.log" 2>&1 &
bench_pid=$!
wait "$bench_pid" || { tail -n 40 "$out/scale/run.log" >&2; echo "[bench] the refresher scale scenario failed" >&2; exit 1; }
bench_pid=""

echo "[bench] load runs" >&2
timeout --signal=TERM --kill-after=30 600 \
  dotnet bench/QuayAdmission.LoadBench/bin/Release/net10.0/QuayAdmission.LoadBench.dll run $quick \
    --webhook src/QuayAdmission/bin/Release/net10.0/QuayAdmission.dll \
    --floor bench/QuayAdmission.Floor/bin/Release/net10.0/QuayAdmission.Floor.dll \
    --native-webhook artifacts/native/quay-admission/QuayAdmission \
    --native-floor artifacts/native/floor/QuayAdmission.Floor \
    --out "$out" --doc "$doc" --micro "$micro_report" --scale "$out/scale/section.md" --notes bench/notes.md \
    --command "make bench" --sdk "$(dotnet --version)" --commit "$commit" \
    --elapsed-before "$(( $(date +%s) - started ))" &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
echo "[bench] done in $(( $(date +%s) - started )) s" >&2
