#!/bin/bash
# run.sh SECONDS BIN...: runs each libFuzzer target for SECONDS over its corpus in
# build-fuzz/corpus-NAME and its committed seeds (tests/fuzz/seeds/NAME), with its
# dictionary (tests/fuzz/NAME.dict) when there is one. Stops at the first target that
# finds a crash, leak or hang; ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:?usage: run.sh SECONDS BIN...}
shift
pass=0 fail=0
for bin in "$@"; do
  n=$(basename "$bin")
  corpus=build-fuzz/corpus-$n
  mkdir -p "$corpus" "build-fuzz/artifacts-$n"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="build-fuzz/artifacts-$n/")
  [ -f "$here/$n.dict" ] && args+=(-dict="$here/$n.dict")
  dirs=("$corpus")
  [ -d "$here/seeds/$n" ] && dirs+=("$here/seeds/$n")
  log=build-fuzz/$n.log
  if "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1; then
    pass=$((pass + 1))
    echo "ok   $n: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs in ${secs}s"
  else
    fail=$((fail + 1))
    echo "FAIL $n (log: $log)"
    tail -n 40 "$log"
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
