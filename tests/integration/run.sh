#!/bin/bash
# Runs every tests/integration/tNNNN-*.sh (or those named as arguments) against the programs
# in $ECFS_BIN, each in its own scratch directory (ECFS_TEST_TIMEOUT seconds at most, 600 by
# default), and ends with "N passed, N failed". ECFS_TEST_JOBS tests run at once (1 by
# default); a test's lines are printed when it ends. The tests keep out of each other's way
# (their own scratch directories, ports the kernel picks, mount namespaces for what they
# bind over); those that change one setting of the whole machine take a lock for it
# (machine_lock in lib.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${ECFS_BIN:?set ECFS_BIN to the build directory}"
export ECFS_BIN ECFS_TESTS="$here"
jobs=${ECFS_TEST_JOBS:-1}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "ECFS_TEST_JOBS must be a positive number, not '$jobs'" >&2; exit 2; }
pass=0 fail=0 skip=0 failed=()
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$here"/t[0-9]*.sh)
results=$(mktemp -d /tmp/ecfs-test-results.XXXXXX)
trap 'rm -rf "$results"' EXIT

# run_one TEST: runs it, keeping its output in $results/NAME.log and "RC SECONDS" in NAME.rc.
run_one() {
  local t=$1 name start rc
  name=$(basename "$t" .sh)
  start=$(date +%s)
  timeout --foreground -k 10 "${ECFS_TEST_TIMEOUT:-600}" bash "$t" >"$results/$name.log" 2>&1 </dev/null
  rc=$?
  echo "$rc $(($(date +%s) - start))" >"$results/$name.rc"
}

report() {
  local name=$1 rc secs log=$results/$1.log
  read -r rc secs <"$results/$name.rc"
  case $rc in
    0) pass=$((pass + 1)); echo "ok   $name (${secs}s)";;
    77) skip=$((skip + 1)); echo "skip $name: $(tail -n 1 "$log")";;
    *) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)"; sed 's/^/    /' "$log" | tail -n 300;;
  esac
}

declare -A name_of=()
running=0
reap_one() {
  local pid
  wait -n -p pid
  report "${name_of[$pid]}"
  running=$((running - 1))
}

for t in "${tests[@]}"; do
  [ $running -lt "$jobs" ] || reap_one
  run_one "$t" &
  name_of[$!]=$(basename "$t" .sh)
  running=$((running + 1))
done
while [ $running -gt 0 ]; do reap_one; done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || echo "failed: ${failed[*]}"
[ $fail -eq 0 ]
