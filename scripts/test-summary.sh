#!/usr/bin/env bash
# Sums the TRX result files under $1 into one line: "tests: N passed, N failed[, N skipped]".
# Counting from the results (not the runner's exit code) makes a run that executed nothing visible.
set -euo pipefail
dir=${1:?results directory}
passed=0 failed=0 skipped=0
shopt -s nullglob globstar
for trx in "$dir"/**/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" || true)
  get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
line="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
