#!/usr/bin/env bash
# Sums the TRX result files under each directory given into one line:
# "tests: N passed, N failed[, N skipped]". Counted from each test's result in the TRX (not the runner's
# exit code, nor the file's Counters, which the TRX logger leaves at notExecuted="0" for skipped xunit
# tests), so a run that executed nothing, or skipped everything, is visible. A file whose run ended
# Failed, Error or Aborted with no failed test in it (a crashed test host) counts one failure.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 RESULTS_DIR..." >&2; exit 2; }
passed=0 failed=0 skipped=0
shopt -s nullglob globstar
for dir in "$@"; do
  for trx in "$dir"/**/*.trx; do
    outcomes=$(grep -o '<UnitTestResult [^>]*>' "$trx" | grep -o ' outcome="[A-Za-z]*"' | cut -d'"' -f2 || true)
    p=0 f=0 s=0
    while read -r outcome; do
      case "$outcome" in
        "") ;;
        Passed) p=$((p + 1)) ;;
        NotExecuted) s=$((s + 1)) ;;
        *) f=$((f + 1)) ;;
      esac
    done <<<"$outcomes"
    run=$(grep -o '<ResultSummary outcome="[A-Za-z]*"' "$trx" | cut -d'"' -f2 || true)
    if [ "$f" -eq 0 ] && [[ "$run" =~ ^(Failed|Error|Aborted|Timeout)$ ]]; then f=1; fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  done
done
line="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
